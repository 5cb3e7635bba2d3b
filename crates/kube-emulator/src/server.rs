//! The listener: an accept loop serving the router over HTTP/1.1 and HTTP/2 (h2c),
//! which can be paused (listener closed, open connections dropped, new connections
//! refused) and resumed on the same port.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Commands for the accept loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Accept and serve.
    Serving,
    /// Close the listener and every connection; accept nothing.
    Paused,
    /// Stop for good.
    Stopped,
}

/// Serve `router` on `addr` until the mode becomes `Stopped`. `actual` reports the mode
/// in effect: `Paused` once the listener and connections are closed, `Serving` once the
/// port is bound again.
pub async fn run(
    first: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    mut mode: watch::Receiver<Mode>,
    actual: watch::Sender<Mode>,
) {
    let mut listener = Some(first);
    loop {
        let Some(l) = listener.take() else {
            // Paused: wait for a change, then re-bind the same port.
            if mode.changed().await.is_err() {
                return;
            }
            match *mode.borrow() {
                Mode::Stopped => return,
                Mode::Paused => continue,
                Mode::Serving => {}
            }
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::error!(%addr, error = %e, "cannot re-bind after resume");
                    return;
                }
            }
            actual.send_replace(Mode::Serving);
            continue;
        };
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                changed = mode.changed() => {
                    if changed.is_err() || *mode.borrow() != Mode::Serving {
                        break;
                    }
                }
                accepted = l.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(router.clone());
                    connections.spawn(async move {
                        let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(l);
        connections.abort_all();
        if *mode.borrow() == Mode::Stopped {
            return;
        }
        actual.send_replace(Mode::Paused);
    }
}
