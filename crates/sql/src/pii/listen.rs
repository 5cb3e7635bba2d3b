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
    client: Client,
}

impl Stream for Notifications {
    type Item = Result<Notification, SqlError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx)
    }
}

/// One query over the catalog state the audit covers, reduced to a digest: logical
/// and physical slots, event triggers (name, enabled state, function), publications
/// (options and table count), subscriptions (never `subconninfo`), foreign servers and
/// walsenders. Slots, event-trigger DDL and walsenders fire no event trigger, so no
/// notification reports them; a change of this digest is the cue to audit now.
/// `pg_hba.conf` is not covered (a file, read by the scheduled audit).
const FINGERPRINT_SQL: &str = "SELECT md5(concat_ws('|',
  (SELECT string_agg(slot_name || ':' || slot_type || ':' || coalesce(database::text, ''), ',' ORDER BY slot_name)
     FROM pg_catalog.pg_replication_slots),
  (SELECT string_agg(evtname || ':' || evtenabled::text || ':' || evtfoid::text || ':' || evtevent, ',' ORDER BY evtname)
     FROM pg_catalog.pg_event_trigger),
  (SELECT string_agg(oid::text || ':' || pubname || ':' || puballtables::text || pubinsert::text || pubupdate::text
          || pubdelete::text || pubtruncate::text, ',' ORDER BY oid) FROM pg_catalog.pg_publication),
  (SELECT count(*)::text FROM pg_catalog.pg_publication_rel),
  (SELECT count(*)::text FROM pg_catalog.pg_publication_namespace),
  (SELECT string_agg(oid::text || ':' || subenabled::text, ',' ORDER BY oid) FROM pg_catalog.pg_subscription),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_catalog.pg_foreign_server),
  (SELECT count(*)::text FROM pg_catalog.pg_stat_replication)))";

impl Notifications {
    /// A digest of the replication-relevant catalog state (see `FINGERPRINT_SQL`),
    /// read on the listening connection: one cheap query, meant to be polled often so
    /// that drift no notification reports (a hand-made slot, a dropped or disabled
    /// guardrail) is audited within the polling interval instead of the audit
    /// schedule's.
    pub async fn fingerprint(&self) -> Result<String, SqlError> {
        let row = self.client.query_one(FINGERPRINT_SQL, &[]).await.map_err(SqlError::query("catalog fingerprint"))?;
        Ok(row.get(0))
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
    Ok(Notifications { rx, client })
}
