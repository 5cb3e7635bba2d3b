//! Errors of the database layer. Messages name the server and database but never a
//! password or a connection string; [`SqlError::category`] is a bounded label for
//! metrics and event reasons.

/// What went wrong talking to a database.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {host}:{port}/{dbname}: {reason}")]
    Connect {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Database.
        dbname: String,
        /// Why (from the driver; contains no password).
        reason: String,
    },
    /// A statement failed.
    #[error("{context}: {source}")]
    Query {
        /// What was being done.
        context: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The desired state or the connection settings are invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// TLS configuration (CA certificate) could not be used.
    #[error("TLS: {0}")]
    Tls(String),
}

impl SqlError {
    /// A bounded category for metric labels and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            SqlError::Connect { .. } => "connect",
            SqlError::Query { .. } => "query",
            SqlError::Invalid(_) => "invalid",
            SqlError::Tls(_) => "tls",
        }
    }

    /// Attach context to a driver error.
    pub fn query(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |source| SqlError::Query { context, source }
    }

    /// The SQLSTATE of a failed statement, if any.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            SqlError::Query { source, .. } => source.code().map(tokio_postgres::error::SqlState::code),
            _ => None,
        }
    }
}
