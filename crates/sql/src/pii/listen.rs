//! `LISTEN regionstack_pii` on a dedicated connection, as a [`Stream`].

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::{AsyncMessage, Client, Connection, Notification};

use crate::conn::{ConnParams, SslMode, tls_config};
use crate::error::SqlError;

/// The notification channel the guardrail triggers use.
pub const CHANNEL: &str = "regionstack_pii";

/// The JSON payload of a guardrail notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DdlNotice {
    /// The database where the DDL ran.
    pub database: String,
    /// `ddl_command_end` or `sql_drop`.
    pub event: String,
    /// The command tag, e.g. `CREATE PUBLICATION`.
    pub tag: String,
    /// Up to 20 `object_type identity` labels (e.g. `publication leak`).
    pub objects: Vec<String>,
    /// How many objects the command touched.
    pub count: i64,
}

impl DdlNotice {
    /// Parse a notification payload; `None` when it is not a guardrail notice.
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

/// Notifications of the `regionstack_pii` channel. The connection stays open while
/// the stream lives; a connection error ends the stream after one `Err` item.
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::UnboundedReceiver<Result<Notification, SqlError>>,
    _client: Client,
}

impl Stream for Notifications {
    type Item = Result<Notification, SqlError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx)
    }
}

type Sender = mpsc::UnboundedSender<Result<Notification, SqlError>>;

/// Drive the connection, forwarding notifications until the stream or the connection
/// goes away.
async fn forward<S, T>(mut conn: Connection<S, T>, tx: Sender)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(n)) => {
                if tx.unbounded_send(Ok(n)).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx
                    .unbounded_send(Err(SqlError::Query { context: "listening for notifications".into(), source: e }));
                break;
            }
        }
    }
}

/// Open a dedicated connection and `LISTEN regionstack_pii` on it.
pub async fn listen(params: &ConnParams) -> Result<Notifications, SqlError> {
    let config = params.pg_config();
    let (tx, rx) = mpsc::unbounded();
    let connect_error = |e: tokio_postgres::Error| SqlError::Connect {
        host: params.host.clone(),
        port: params.port,
        dbname: params.dbname.clone(),
        reason: e.to_string(),
    };
    let client = if params.ssl_mode == SslMode::Disable {
        let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(connect_error)?;
        tokio::spawn(forward(conn, tx));
        client
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(params)?);
        let (client, conn) = config.connect(tls).await.map_err(connect_error)?;
        tokio::spawn(forward(conn, tx));
        client
    };
    client
        .batch_execute(&format!("LISTEN {}", crate::ident::quote_ident(CHANNEL)))
        .await
        .map_err(SqlError::query("LISTEN regionstack_pii"))?;
    Ok(Notifications { rx, _client: client })
}
