//! Connections to PostgreSQL. Parameters are structured (a Kubernetes Secret fills them
//! in the operator); TLS is rustls (`sslmode` disable / require / verify-full with a
//! CA); every session has `application_name=regionstack` and a statement timeout. The
//! password lives in [`Password`], whose `Debug` prints `****` and which has no
//! `Display`, so it cannot reach an error, a log line or a status by accident.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::SslMode as PgSslMode;

use crate::error::SqlError;

/// A password that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wrap a password.
    pub fn new(p: impl Into<String>) -> Self {
        Self(p.into())
    }

    /// The secret itself, for the driver and for `CREATE ROLE ... PASSWORD`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// TLS modes regionstack supports (libpq `sslmode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (loopback and tests).
    Disable,
    /// TLS, server certificate not verified.
    #[default]
    Require,
    /// TLS, certificate verified against the CA and the host name.
    VerifyFull,
}

impl SslMode {
    /// Parse a libpq `sslmode` value (`prefer` and `allow` are treated as `require`:
    /// regionstack never silently downgrades to plain text).
    pub fn parse(s: &str) -> Result<Self, SqlError> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "require" | "prefer" | "allow" => Ok(SslMode::Require),
            "verify-full" | "verify-ca" => Ok(SslMode::VerifyFull),
            other => Err(SqlError::Invalid(format!("unsupported sslmode {other:?}"))),
        }
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Everything needed to open a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnParams {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login role.
    pub user: String,
    /// Its password.
    pub password: Password,
    /// Database.
    pub dbname: String,
    /// TLS mode.
    pub ssl_mode: SslMode,
    /// PEM CA bundle for `verify-full` (the system roots are not used).
    pub ca_cert_pem: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// `statement_timeout` of every session.
    pub statement_timeout: Duration,
}

impl ConnParams {
    /// Parameters with regionstack's default timeouts (5 s connect, 30 s statements).
    pub fn new(host: &str, port: u16, user: &str, password: Password, dbname: &str, ssl_mode: SslMode) -> Self {
        Self {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            password,
            dbname: dbname.to_owned(),
            ssl_mode,
            ca_cert_pem: None,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }

    /// The same server and login, another database.
    #[must_use]
    pub fn with_dbname(&self, dbname: &str) -> Self {
        Self { dbname: dbname.to_owned(), ..self.clone() }
    }

    /// Read a connection Secret's data: keys `host`, `port`, `user`, `password`,
    /// `dbname`, optional `sslmode` (default `require`) and `ca.crt`. Errors name the
    /// missing or malformed key, never a value.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, SqlError> {
        let text = |key: &str| -> Result<Option<String>, SqlError> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone())
                        .map_err(|_| SqlError::Invalid(format!("secret key {key:?} is not UTF-8")))
                })
                .transpose()
        };
        let required = |key: &str| text(key)?.ok_or_else(|| SqlError::Invalid(format!("secret has no {key:?} key")));
        let port = match text("port")? {
            Some(p) => {
                p.trim().parse().map_err(|_| SqlError::Invalid("secret key \"port\" is not a port number".into()))?
            }
            None => 5432,
        };
        let ssl_mode = match text("sslmode")? {
            Some(m) => SslMode::parse(m.trim())?,
            None => SslMode::Require,
        };
        let mut p = Self::new(
            &required("host")?,
            port,
            &required("user")?,
            Password::new(required("password")?),
            &required("dbname")?,
            ssl_mode,
        );
        p.ca_cert_pem = text("ca.crt")?;
        Ok(p)
    }

    /// A libpq connection string for `CREATE SUBSCRIPTION ... CONNECTION`, every value
    /// single-quoted with `\` and `'` escaped. It contains the password: pass it to the
    /// server only, never to a log or an error.
    pub fn libpq_conninfo(&self) -> String {
        let q = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut parts = vec![
            format!("host={}", q(&self.host)),
            format!("port={}", self.port),
            format!("user={}", q(&self.user)),
            format!("password={}", q(self.password.expose())),
            format!("dbname={}", q(&self.dbname)),
            format!("sslmode={}", self.ssl_mode.as_str()),
            "application_name='regionstack'".to_owned(),
        ];
        parts.push(format!("connect_timeout={}", self.connect_timeout.as_secs().max(1)));
        parts.join(" ")
    }

    pub(crate) fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(self.password.expose())
            .dbname(&self.dbname)
            .application_name("regionstack")
            .connect_timeout(self.connect_timeout)
            .options(format!("-c statement_timeout={}", self.statement_timeout.as_millis()))
            .ssl_mode(match self.ssl_mode {
                SslMode::Disable => PgSslMode::Disable,
                SslMode::Require | SslMode::VerifyFull => PgSslMode::Require,
            });
        c
    }

    fn connect_error(&self, reason: impl fmt::Display) -> SqlError {
        SqlError::Connect {
            host: self.host.clone(),
            port: self.port,
            dbname: self.dbname.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Accepts any server certificate: `sslmode=require` encrypts without verifying, as
/// libpq does.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub(crate) fn tls_config(params: &ConnParams) -> Result<rustls::ClientConfig, SqlError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SqlError::Tls(e.to_string()))?;
    match params.ssl_mode {
        SslMode::VerifyFull => {
            let pem = params.ca_cert_pem.as_deref().ok_or_else(|| {
                SqlError::Tls("sslmode verify-full needs a CA certificate (secret key ca.crt)".into())
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
                let cert = cert.map_err(|e| SqlError::Tls(format!("cannot read CA certificate: {e}")))?;
                roots.add(cert).map_err(|e| SqlError::Tls(format!("cannot use CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(SqlError::Tls("the CA bundle holds no certificate".into()));
            }
            Ok(builder.with_root_certificates(roots).with_no_client_auth())
        }
        _ => Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()),
    }
}

/// An error with its chain of causes: tokio-postgres says "error performing TLS
/// handshake" and keeps why (unknown issuer, wrong host name) in its source. Neither
/// carries connection parameters, so no password can appear here.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Run a connection's I/O in the background until its client is dropped.
fn drive(conn: impl std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "database connection ended");
        }
    });
}

/// Open a session; the connection task runs in the background until the client drops.
pub async fn connect(params: &ConnParams) -> Result<tokio_postgres::Client, SqlError> {
    let config = params.pg_config();
    let client = if params.ssl_mode == SslMode::Disable {
        let (client, conn) =
            config.connect(tokio_postgres::NoTls).await.map_err(|e| params.connect_error(with_causes(&e)))?;
        drive(conn);
        client
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(params)?);
        let (client, conn) = config.connect(tls).await.map_err(|e| params.connect_error(with_causes(&e)))?;
        drive(conn);
        client
    };
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ConnParams {
        ConnParams::new("db.example", 5432, "admin", Password::new("hunter2"), "app", SslMode::Require)
    }

    #[test]
    fn passwords_never_print() {
        let p = params();
        assert!(!format!("{p:?}").contains("hunter2"));
        let e = p.connect_error("refused");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn conninfo_quotes_every_value() {
        let mut p = params();
        p.password = Password::new("it's a \\ pass");
        let info = p.libpq_conninfo();
        assert!(info.contains(r"password='it\'s a \\ pass'"), "{info}");
        assert!(info.contains("host='db.example'"));
    }

    #[test]
    fn secret_data_is_parsed_and_errors_name_keys_only() {
        let mut data: BTreeMap<String, Vec<u8>> =
            [("host", "h"), ("user", "u"), ("password", "secretvalue"), ("dbname", "d")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
                .collect();
        let p = ConnParams::from_secret_data(&data).unwrap();
        assert_eq!((p.port, p.ssl_mode), (5432, SslMode::Require));
        data.insert("sslmode".into(), b"bogus".to_vec());
        assert!(ConnParams::from_secret_data(&data).is_err());
        data.remove("sslmode");
        data.remove("host");
        let e = ConnParams::from_secret_data(&data).unwrap_err().to_string();
        assert!(e.contains("\"host\"") && !e.contains("secretvalue"), "{e}");
    }

    #[test]
    fn verify_full_needs_a_ca() {
        let mut p = params();
        p.ssl_mode = SslMode::VerifyFull;
        assert!(matches!(tls_config(&p), Err(SqlError::Tls(_))));
    }
}
