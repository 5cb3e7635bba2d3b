//! TLS against real PostgreSQL servers with certificates made by the `openssl` CLI:
//! `require` encrypts, `verify-full` accepts the right CA and host name only (the
//! failure is a [`SqlError::Connect`] without the password), `disable` stays plain.

use std::path::Path;
use std::process::Command;

use regionstack_sql::{ConnParams, Password, SqlError, SslMode, connect};
use testbed::{PgOptions, PgServer};

/// Runs `openssl` in `dir`, panicking with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("/usr/bin/openssl").current_dir(dir).args(args).output().expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("reading {file}: {e}"))
}

/// A self-signed CA `<name>.crt` / `<name>.key` in `dir`; returns the certificate PEM.
fn make_ca(dir: &Path, name: &str) -> String {
    let conf = format!("{name}.cnf");
    std::fs::write(
        dir.join(&conf),
        "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n[dn]\nCN = regionstack test CA\n\
         [v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-config",
            &conf,
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
    read(dir, &format!("{name}.crt"))
}

/// A server certificate `<name>.crt` / `<name>.key` signed by CA `ca` for the
/// subject alternative names `san` (e.g. `IP:127.0.0.1,DNS:localhost`); returns
/// (certificate PEM, key PEM).
fn make_server_cert(dir: &Path, ca: &str, name: &str, san: &str) -> (String, String) {
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = {san}\n"
        ),
    )
    .unwrap();
    let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=regionstack test server",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ],
    );
    (read(dir, &crt), read(dir, &key))
}

/// A server with `ssl=on` and the given certificate and key in its data directory.
async fn tls_server(name: &str, cert: String, key: String) -> PgServer {
    let opts = PgOptions::new(name)
        .data_file("server.crt", cert)
        .data_file("server.key", key)
        .setting("ssl", "on")
        .setting("ssl_cert_file", "server.crt")
        .setting("ssl_key_file", "server.key");
    tokio::task::spawn_blocking(move || PgServer::start_with(opts)).await.unwrap().unwrap()
}

fn params(server: &PgServer, ssl_mode: SslMode, ca: Option<&str>) -> ConnParams {
    let mut p = ConnParams::new(
        server.host(),
        server.port(),
        server.superuser(),
        Password::new(server.password()),
        "postgres",
        ssl_mode,
    );
    p.ca_cert_pem = ca.map(str::to_owned);
    p
}

/// Whether the session runs over TLS, as the server sees it.
async fn session_ssl(p: &ConnParams) -> bool {
    let client = connect(p).await.unwrap_or_else(|e| panic!("{:?} should connect: {e}", p.ssl_mode));
    client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0)
}

/// A verify-full failure: a connect error that names the server but not the password.
fn assert_rejected(result: Result<tokio_postgres::Client, SqlError>, server: &PgServer, what: &str, cause: &str) {
    let Err(err) = result else { panic!("{what}: verify-full should fail") };
    let message = err.to_string();
    assert!(message.contains("TLS handshake"), "{what}: {message}");
    // The reason rustls refused, not only the handshake failure.
    assert!(message.contains(cause), "{what}: {message}");
    assert!(matches!(err, SqlError::Connect { .. }), "{what}: {err:?}");
    assert!(message.contains(&server.port().to_string()), "{what}: {message}");
    assert!(!message.contains(server.password()), "{what}: the password leaked: {message}");
    assert!(!format!("{err:?}").contains(server.password()), "{what}: the password leaked: {err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmodes_against_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "ca");
    let other_ca = make_ca(dir.path(), "other-ca");
    let (cert, key) = make_server_cert(dir.path(), "ca", "server", "IP:127.0.0.1, DNS:localhost");
    let (wrong_cert, wrong_key) = make_server_cert(dir.path(), "ca", "elsewhere", "DNS:db.elsewhere.example");
    let (server, elsewhere) =
        tokio::join!(tls_server("tls", cert, key), tls_server("tls-elsewhere", wrong_cert, wrong_key));
    assert_eq!(server.psql("postgres", "SHOW ssl").unwrap(), "on");

    // require: encrypted, certificate not checked.
    assert!(session_ssl(&params(&server, SslMode::Require, None)).await, "require runs over TLS");
    assert!(session_ssl(&params(&elsewhere, SslMode::Require, None)).await, "require ignores the host name");

    // verify-full with the CA that signed the certificate for 127.0.0.1.
    assert!(session_ssl(&params(&server, SslMode::VerifyFull, Some(&ca))).await, "verify-full runs over TLS");

    // verify-full with another CA.
    assert_rejected(
        connect(&params(&server, SslMode::VerifyFull, Some(&other_ca))).await,
        &server,
        "another CA",
        "invalid peer certificate",
    );

    // verify-full, right CA, certificate for another host name.
    assert_rejected(
        connect(&params(&elsewhere, SslMode::VerifyFull, Some(&ca))).await,
        &elsewhere,
        "another host",
        "not valid for name",
    );

    // disable: plain TCP even though the server offers TLS.
    assert!(!session_ssl(&params(&server, SslMode::Disable, None)).await, "disable stays plain");
}
