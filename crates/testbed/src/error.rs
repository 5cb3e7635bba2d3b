//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while starting, using or stopping a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestbedError {
    /// No directory with the PostgreSQL server binaries was found.
    #[error(
        "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found: {detail}. \
         Install the PostgreSQL 15 server binaries (`apt-get install postgresql-15`) \
         or set REGIONSTACK_PG_BINDIR to the directory that holds them"
    )]
    BinariesNotFound {
        /// Where the search looked and why each place was rejected.
        detail: String,
    },

    /// A file-system or process-spawning operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A helper program (initdb, pg_ctl, id, ...) exited unsuccessfully.
    #[error("{command} failed ({status}): {output}")]
    Command {
        /// The program and what it was doing.
        command: String,
        /// Its exit status.
        status: String,
        /// The tail of its combined stdout and stderr.
        output: String,
    },

    /// The server did not come up.
    #[error(
        "PostgreSQL server `{name}` did not start: {reason}\n\
         --- tail of the server log {log} ---\n{log_tail}"
    )]
    Start {
        /// The server's name (from [`crate::PgOptions::new`]).
        name: String,
        /// Why starting was given up.
        reason: String,
        /// The server log.
        log: PathBuf,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// `psql` reported an error.
    #[error("psql against server `{name}`, database `{db}` failed: {stderr}")]
    Psql {
        /// The server's name.
        name: String,
        /// The database the statement ran in.
        db: String,
        /// What psql printed on stderr.
        stderr: String,
    },

    /// An option passed to [`crate::PgOptions`] is unusable.
    #[error("invalid PostgreSQL test server option: {0}")]
    InvalidOption(String),

    /// Running as root, but there is no unprivileged user to run PostgreSQL as.
    #[error(
        "running as root, and PostgreSQL refuses to run as root; the unprivileged user \
         `{user}` to run it as is unusable: {reason} (set REGIONSTACK_PG_USER to another user)"
    )]
    NoUnprivilegedUser {
        /// The user that was tried.
        user: String,
        /// Why it is unusable.
        reason: String,
    },
}

impl TestbedError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
