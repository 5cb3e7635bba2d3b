//! Reconcile-scoped session reuse: within one [`scope`], the high-level functions of
//! this crate share logins instead of each opening its own.
//!
//! **Why.** One source-side reconcile of the operator calls about ten of them, each of
//! which used to log in again (TCP connect, SCRAM-SHA-256, backend start: ~14 ms each
//! on the development machine against ~0.16 ms per query on an open session), while
//! they only ever talk to three databases (the source database, the admin database and
//! `regionstack_boundary`).
//!
//! **Why a scope and not a long-lived pool.** Idle pooled sessions would make
//! `DROP DATABASE` fail for platform teams and tests (PostgreSQL refuses to drop a
//! database that has other sessions) and would hold backends on every server the
//! operator ever touched. A cache that lives for one reconcile gets most of the win
//! and closes everything when the reconcile ends.
//!
//! **Rules.** Outside a scope [`session`] simply connects (the behaviour of
//! [`crate::connect`]). Inside one it hands out an idle session opened earlier in the
//! same scope for the same parameters (host, port, database, user, TLS mode, a
//! SHA-256 of the CA and of the password — never the password itself, timeouts), or
//! connects. A session handed out is exclusive; dropping the [`Session`] returns it,
//! and the scope keeps at most [`MAX_IDLE_PER_KEY`] idle per key. Everything closes
//! when the scope's future completes (or is dropped). [`evict_database`] runs before
//! `DROP DATABASE … WITH (FORCE)`, which terminates that database's sessions.
//!
//! **What a user of [`session`] must not do** (the next user would inherit it):
//! session-level `SET` (use `SET LOCAL` or `set_config(…, true)`), temporary tables,
//! session advisory locks, `LISTEN`, named `PREPARE`. This crate does none of these on
//! these paths: it uses `SET LOCAL`, single simple-query batches (one implicit
//! transaction each) and `tokio_postgres::Transaction`, whose `Drop` queues a
//! `ROLLBACK` ahead of any later query. A transaction left open or failed (a manual
//! `BEGIN`) is still detected when the session is reused: `transaction_timestamp()`
//! equals `statement_timestamp()` only for a transaction that the checking statement
//! itself started, and an aborted transaction refuses the check; either way the
//! session is rolled back before it is handed out. Dedicated connections (`LISTEN`,
//! drift pollers, tests) keep using [`crate::connect`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, Weak};

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::conn::{ConnParams, connect};
use crate::error::SqlError;

/// Idle sessions a scope keeps per key: one is what sequential code needs, a second
/// covers two nested users of the same database.
pub const MAX_IDLE_PER_KEY: usize = 2;

tokio::task_local! {
    static CACHE: Arc<Cache>;
}

/// What identifies a login. `Debug` shows no secret: the password is only a digest.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    host: String,
    port: u16,
    dbname: String,
    user: String,
    ssl_mode: &'static str,
    ca: Option<[u8; 32]>,
    password: [u8; 32],
    connect_timeout_ms: u128,
    statement_timeout_ms: u128,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}/{} ({})", self.user, self.host, self.port, self.dbname, self.ssl_mode)
    }
}

fn sha256(data: &str) -> [u8; 32] {
    Sha256::digest(data.as_bytes()).into()
}

impl Key {
    fn of(p: &ConnParams) -> Self {
        Self {
            host: p.host.clone(),
            port: p.port,
            dbname: p.dbname.clone(),
            user: p.user.clone(),
            ssl_mode: p.ssl_mode.as_str(),
            ca: p.ca_cert_pem.as_deref().map(sha256),
            password: sha256(p.password.expose()),
            connect_timeout_ms: p.connect_timeout.as_millis(),
            statement_timeout_ms: p.statement_timeout.as_millis(),
        }
    }

    fn database(&self) -> (String, u16, String) {
        (self.host.clone(), self.port, self.dbname.clone())
    }
}

#[derive(Default)]
struct State {
    idle: HashMap<Key, Vec<Client>>,
    /// Bumped by [`evict_database`]: a session checked out before is closed on return.
    epochs: HashMap<(String, u16, String), u64>,
    /// Logins this scope performed (for tests and measurements).
    logins: u64,
}

#[derive(Default)]
struct Cache {
    state: Mutex<State>,
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves only a map of clients behind.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Run `f` with a session cache: calls of this crate inside it share logins. The
/// sessions close when `f` completes.
pub async fn scope<F: Future>(f: F) -> F::Output {
    let cache = Arc::new(Cache::default());
    let out = CACHE.scope(cache.clone(), f).await;
    // Sessions still checked out hold only a Weak and close when their user drops them.
    let idle = std::mem::take(&mut cache.lock().idle);
    drop(idle);
    out
}

/// Logins performed so far by the current scope (`None` outside a scope).
pub fn scope_logins() -> Option<u64> {
    CACHE.try_with(|c| c.lock().logins).ok()
}

/// Forget the idle sessions of one database of the current scope (no-op outside one),
/// and make sessions to it that are checked out now close when returned. Call it
/// before `DROP DATABASE … WITH (FORCE)`, which terminates them.
pub fn evict_database(params: &ConnParams) {
    let _ = CACHE.try_with(|c| {
        let db = (params.host.clone(), params.port, params.dbname.clone());
        let mut state = c.lock();
        state.idle.retain(|k, _| k.database() != db);
        *state.epochs.entry(db).or_default() += 1;
    });
}

/// A session from the current scope's cache, or a new one (always new outside a
/// scope). Exclusive while held; returned to the scope when dropped. See the module
/// documentation for what its user must not do. The operator's own database work
/// uses it too; dedicated connections use [`crate::connect`].
pub async fn session(params: &ConnParams) -> Result<Session, SqlError> {
    let Ok(cache) = CACHE.try_with(Arc::clone) else {
        return Ok(Session { client: Some(connect(params).await?), home: None });
    };
    let key = Key::of(params);
    loop {
        let (candidate, epoch) = {
            let mut state = cache.lock();
            let epoch = state.epochs.get(&key.database()).copied().unwrap_or(0);
            (state.idle.get_mut(&key).and_then(Vec::pop), epoch)
        };
        let home = Some(Home { cache: Arc::downgrade(&cache), key: key.clone(), epoch });
        match candidate {
            Some(client) if !client.is_closed() => {
                if clean(&client).await {
                    return Ok(Session { client: Some(client), home });
                }
            }
            Some(_) => {}
            None => {
                let client = connect(params).await?;
                cache.lock().logins += 1;
                return Ok(Session { client: Some(client), home });
            }
        }
    }
}

/// Make a reused session fit for its next user: end a transaction its previous user
/// left open or failed. `false` when the session is unusable (it is then dropped).
async fn clean(client: &Client) -> bool {
    // One simple query, so its implicit transaction starts with this very statement.
    match client.simple_query("SELECT transaction_timestamp() = statement_timestamp()").await {
        Ok(messages) => {
            let fresh = messages.iter().any(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0) == Some("t"),
                _ => false,
            });
            fresh || client.batch_execute("ROLLBACK").await.is_ok()
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION) => {
            client.batch_execute("ROLLBACK").await.is_ok()
        }
        Err(_) => false,
    }
}

struct Home {
    cache: Weak<Cache>,
    key: Key,
    epoch: u64,
}

/// An exclusive session: derefs to the [`Client`]; dropping it returns the session to
/// its scope (or closes it outside one).
pub struct Session {
    client: Option<Client>,
    home: Option<Home>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("key", &self.home.as_ref().map(|h| &h.key)).finish_non_exhaustive()
    }
}

impl Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a session holds its client until dropped")
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a session holds its client until dropped")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let (Some(client), Some(home)) = (self.client.take(), self.home.take()) else { return };
        let Some(cache) = home.cache.upgrade() else { return };
        if client.is_closed() {
            return;
        }
        let mut state = cache.lock();
        if state.epochs.get(&home.key.database()).copied().unwrap_or(0) != home.epoch {
            return;
        }
        let idle = state.idle.entry(home.key).or_default();
        if idle.len() < MAX_IDLE_PER_KEY {
            idle.push(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Password, SslMode};

    #[test]
    fn keys_separate_logins_and_never_print_the_password() {
        let p = ConnParams::new("db", 5432, "admin", Password::new("hunter2"), "app", SslMode::Require);
        let k = Key::of(&p);
        assert!(!format!("{k:?}").contains("hunter2"));
        assert_eq!(k, Key::of(&p.clone()));
        assert_ne!(k, Key::of(&ConnParams { password: Password::new("other"), ..p.clone() }));
        assert_ne!(k, Key::of(&p.with_dbname("postgres")));
        assert_ne!(k, Key::of(&ConnParams { ca_cert_pem: Some("pem".into()), ..p.clone() }));
    }
}
