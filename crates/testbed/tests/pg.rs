//! Real PostgreSQL servers: start, query, parallel servers, and that nothing is
//! left behind after a drop, a panic, or the test process being killed.

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testbed::{Cluster, PgOptions, PgServer, TestbedError, process_alive};

fn refuses(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_secs(1)).is_err()
}

/// Waits up to `timeout` for the server's process, port and directory to be gone.
fn assert_gone(port: u16, pid: u32, base: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let alive = process_alive(pid);
        let listening = !refuses(port);
        let dir = base.exists();
        if !alive && !listening && !dir {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server not gone after {timeout:?}: process alive {alive}, port {port} listening {listening}, {} exists {dir}",
            base.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn starts_with_logical_wal_and_answers_queries() {
    let server = PgServer::start_with(PgOptions::new("basic").setting("work_mem", "8MB")).unwrap();
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.superuser(), "postgres");
    assert!(server.port() > 0);
    assert!(process_alive(server.pid()));

    assert_eq!(server.psql("postgres", "SELECT 1").unwrap(), "1");
    assert_eq!(server.psql("postgres", "SHOW wal_level").unwrap(), "logical");
    let settings = server
        .psql(
            "postgres",
            "SELECT current_setting('max_replication_slots')::int >= 20, \
                    current_setting('max_wal_senders')::int >= 20, \
                    current_setting('max_logical_replication_workers')::int >= 20, \
                    current_setting('fsync'), current_setting('synchronous_commit'), \
                    current_setting('shared_preload_libraries'), current_setting('work_mem'), \
                    current_setting('server_version_num')::int / 10000",
        )
        .unwrap();
    assert_eq!(settings, "t|t|t|off|off||8MB|15");
    // Several statements, several rows.
    assert_eq!(
        server
            .psql("postgres", "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2); SELECT n FROM t ORDER BY n;")
            .unwrap(),
        "1\n2"
    );

    // Errors come back with PostgreSQL's message, never the password.
    let err = server.psql("postgres", "SELECT * FROM missing_table").unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TestbedError::Psql { .. }), "{message}");
    assert!(message.contains("missing_table"), "{message}");
    assert!(!message.contains(server.password()));
    assert!(!format!("{server:?}").contains(server.password()));

    // The server log carries the server's name.
    assert!(server.log_tail(50).contains("basic"), "{}", server.log_tail(50));
}

#[test]
fn creates_databases_and_requires_the_password_over_tcp() {
    let server = PgServer::start_with(PgOptions::new("databases")).unwrap();
    server.create_database("app-db").unwrap();
    assert_eq!(server.psql("app-db", "SELECT current_database()").unwrap(), "app-db");
    assert!(server.create_database("app-db").is_err());

    let conninfo = server.connection_string("app-db");
    assert!(conninfo.contains(&format!("port='{}'", server.port())), "{conninfo}");
    assert!(conninfo.contains("dbname='app-db'"), "{conninfo}");

    // The connection string works as is; a wrong password is refused.
    let psql = testbed::bindir().unwrap().join("psql");
    let run = |conninfo: &str| {
        Command::new(&psql)
            .args(["-X", "-A", "-t", "-c", "SELECT current_user", "-d", conninfo])
            .env_remove("PGPASSWORD")
            .output()
            .unwrap()
    };
    let ok = run(&conninfo);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "postgres");
    let wrong = run(&conninfo.replace(server.password(), "wrong"));
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}

#[test]
fn servers_run_in_parallel_on_different_ports() {
    let cluster = Cluster::start_with(vec![PgOptions::new("eu"), PgOptions::new("us")]).unwrap();
    assert_eq!(cluster.len(), 2);
    assert_ne!(cluster[0].port(), cluster[1].port());
    assert_ne!(cluster[0].password(), cluster[1].password());
    for server in &cluster {
        let name = server.name().to_owned();
        server.psql("postgres", &format!("CREATE TABLE region AS SELECT '{name}' AS name")).unwrap();
    }
    assert_eq!(cluster.by_name("eu").unwrap().psql("postgres", "SELECT name FROM region").unwrap(), "eu");
    assert_eq!(cluster.by_name("us").unwrap().psql("postgres", "SELECT name FROM region").unwrap(), "us");
    let gone: Vec<(u16, u32, PathBuf)> = cluster.iter().map(|s| (s.port(), s.pid(), s.base_dir().to_owned())).collect();
    cluster.stop();
    for (port, pid, base) in gone {
        assert_gone(port, pid, &base, Duration::ZERO);
    }
}

#[test]
fn a_stopped_server_is_gone() {
    let server = PgServer::start_with(PgOptions::new("stopped")).unwrap();
    let (port, pid, base) = (server.port(), server.pid(), server.base_dir().to_owned());
    assert!(!refuses(port));
    drop(server);
    assert_gone(port, pid, &base, Duration::ZERO);
}

#[test]
fn a_panicking_test_still_stops_its_server() {
    let seen = Mutex::new(None);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let server = PgServer::start_with(PgOptions::new("panics")).unwrap();
        *seen.lock().unwrap() = Some((server.port(), server.pid(), server.base_dir().to_owned()));
        panic!("the test fails while the server runs");
    }));
    assert!(result.is_err());
    let (port, pid, base) = seen.into_inner().unwrap().expect("the server started");
    assert_gone(port, pid, &base, Duration::ZERO);
}

#[test]
fn a_killed_test_process_leaves_no_server() {
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_pg-hold")).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, ready)) = line.split_once("READY ") {
                let _ = tx.send(ready.to_owned());
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(30));
    // SIGKILL: no destructor runs in the child.
    child.kill().unwrap();
    child.wait().unwrap();
    let ready = ready.expect("the helper process reports its server");
    let mut fields = ready.split(' ');
    let port: u16 = fields.next().unwrap().parse().unwrap();
    let pid: u32 = fields.next().unwrap().parse().unwrap();
    let base = PathBuf::from(fields.next().unwrap());
    assert!(process_alive(pid), "the server outlives the helper until the watchdog acts");
    assert_gone(port, pid, &base, Duration::from_secs(10));
}

#[test]
fn a_server_that_cannot_start_reports_its_log_and_leaves_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let parent_path = parent.path().to_owned();
    // The unprivileged user PostgreSQL runs as (when we are root) must reach it.
    std::fs::set_permissions(&parent_path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let err =
        PgServer::start_with(PgOptions::new("broken").setting("wal_level", "bogus").data_dir_parent(&parent_path))
            .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TestbedError::Start { .. }), "{message}");
    assert!(message.contains("broken"), "{message}");
    assert!(message.contains("invalid value for parameter \"wal_level\""), "{message}");
    assert_eq!(std::fs::read_dir(&parent_path).unwrap().count(), 0, "the server directory is removed");

    let err = PgServer::start_with(PgOptions::new("x").setting("bad name", "1")).unwrap_err();
    assert!(matches!(err, TestbedError::InvalidOption(_)), "{err}");
}

#[test]
fn missing_binaries_are_an_error_naming_the_package() {
    let message = TestbedError::BinariesNotFound { detail: "/nowhere lacks initdb".to_owned() }.to_string();
    assert!(message.contains("apt-get install postgresql-15"), "{message}");
    assert!(message.contains("REGIONSTACK_PG_BINDIR"), "{message}");
}
