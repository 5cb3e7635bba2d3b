//! Shared by the figures: the operator's `/metrics` and `/proc` readings, and polling.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The body of `GET path` on `addr` (HTTP/1.1, connection closed by the server).
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), exchange).await.context("no answer in 5 s")??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    // The health server answers with a length or chunks; chunk sizes are hex lines.
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).context("chunk size")?;
            if n == 0 {
                break;
            }
            out.push_str(tail.get(..n).context("short chunk")?);
            rest = tail.get(n + 2..).unwrap_or_default();
        }
        return Ok(out);
    }
    Ok(body.to_owned())
}

/// Sum of the samples of `metric` whose labels include every `(name, value)`.
pub fn sum_samples(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A counter of the operator at `addr`, summed over the samples matching `labels`.
pub async fn counter(addr: SocketAddr, metric: &str, labels: &[(&str, &str)]) -> anyhow::Result<u64> {
    let text = http_get(addr, "/metrics").await?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(sum_samples(&text, metric, labels) as u64)
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
pub fn memory_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc/<pid>/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Polls `probe` every `every` until it returns `Some`, or fails at `timeout` with
/// `what` and the last probe's note.
pub async fn poll<T, F, Fut>(what: &str, every: Duration, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e.context(format!("{what}: not within {timeout:?}"))),
            Ok(None) | Err(_) => {}
        }
        if Instant::now() >= deadline {
            bail!("{what}: not within {timeout:?}");
        }
        tokio::time::sleep(every).await;
    }
}
