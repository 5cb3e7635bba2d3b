//! One PostgreSQL server in a temporary directory.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestbedError;
use crate::bin::{bindir, program};
use crate::process::{self, RunAs, pg_command, run};
#[allow(clippy::wildcard_imports)]
use crate::util::*;

/// The superuser every server is initialised with.
pub const SUPERUSER: &str = "postgres";

/// The loopback address servers listen on.
pub const HOST: &str = "127.0.0.1";

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a start is retried when the chosen port was taken meanwhile.
const PORT_ATTEMPTS: u32 = 5;

/// The settings every server gets, before [`PgOptions::setting`]s (which win).
const BASE_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", HOST),
    ("wal_level", "logical"),
    ("max_replication_slots", "32"),
    ("max_wal_senders", "32"),
    ("max_worker_processes", "40"),
    ("max_logical_replication_workers", "32"),
    ("max_sync_workers_per_subscription", "2"),
    ("shared_preload_libraries", ""),
    ("password_encryption", "scram-sha-256"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("shared_buffers", "32MB"),
    ("logging_collector", "off"),
];

const PG_HBA: &str = "\
# regionstack-testbed: trust on the private socket, passwords over TCP.
local   all          all                     trust
local   replication  all                     trust
host    all          all       127.0.0.1/32  scram-sha-256
host    replication  all       127.0.0.1/32  scram-sha-256
";

/// [`PG_HBA`] without the physical-replication lines ([`PgOptions::no_replication_hba`]).
const PG_HBA_NO_REPLICATION: &str = "\
# regionstack-testbed: trust on the private socket, passwords over TCP; no
# replication connections (a PII server: regionstack's audit flags any rule that
# would allow them).
local   all          all                     trust
host    all          all       127.0.0.1/32  scram-sha-256
";

/// How to start a [`PgServer`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    name: String,
    settings: Vec<(String, String)>,
    data_files: Vec<(String, String)>,
    data_dir_parent: Option<PathBuf>,
    replication_hba: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self::new("pg")
    }
}

impl PgOptions {
    /// Options for a server called `name` (shown in its log lines, directory name
    /// and errors; e.g. the region it plays).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            settings: Vec::new(),
            data_files: Vec::new(),
            data_dir_parent: None,
            replication_hba: true,
        }
    }

    /// An extra `postgresql.conf` setting, applied after (and winning over) the
    /// testbed's own.
    #[must_use]
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// A file written into the data directory after `initdb` and before the server
    /// starts, with mode 0600 and owned by the PostgreSQL user (e.g. `server.key` and
    /// `server.crt` for `ssl_key_file` / `ssl_cert_file`, which PostgreSQL resolves
    /// relative to the data directory). `name` is a plain file name, no path.
    #[must_use]
    pub fn data_file(mut self, name: impl Into<String>, content: impl Into<String>) -> Self {
        self.data_files.push((name.into(), content.into()));
        self
    }

    /// Create the server's temporary directory under `parent` instead of the
    /// system temporary directory (`/tmp` when running as root). When running as
    /// root, the PostgreSQL user must be able to traverse `parent`.
    #[must_use]
    pub fn data_dir_parent(mut self, parent: impl Into<PathBuf>) -> Self {
        self.data_dir_parent = Some(parent.into());
        self
    }

    /// Write a `pg_hba.conf` without the `replication` lines: no physical replication
    /// or base-backup connections, as a PII database's server should be (logical
    /// replication over ordinary connections still works).
    #[must_use]
    pub fn no_replication_hba(mut self) -> Self {
        self.replication_hba = false;
        self
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A running PostgreSQL server in a temporary directory, listening on a free
/// loopback port. Dropping it (also while unwinding from a panic) stops the server
/// and removes the directory; a watchdog process does the same if this process dies
/// without running destructors.
pub struct PgServer {
    name: String,
    port: u16,
    password: String,
    base: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    pid: Option<u32>,
    bindir: &'static Path,
    run_as: Option<&'static RunAs>,
    watchdog: Option<Child>,
    dir: Option<tempfile::TempDir>,
    stopped: bool,
}

impl fmt::Debug for PgServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgServer")
            .field("name", &self.name)
            .field("host", &HOST)
            .field("port", &self.port)
            .field("superuser", &SUPERUSER)
            .field("password", &"<redacted>")
            .field("data_dir", &self.data_dir)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl PgServer {
    /// Starts a server with default options: `initdb` into a fresh temporary
    /// directory, then `postgres` on a free `127.0.0.1` port with
    /// `wal_level=logical`; returns once it accepts connections.
    pub fn start() -> Result<Self, TestbedError> {
        Self::start_with(PgOptions::default())
    }

    /// Starts a server with `opts`. Blocking (from async code, use
    /// `spawn_blocking`); takes about a second, mostly `initdb`.
    pub fn start_with(opts: PgOptions) -> Result<Self, TestbedError> {
        let started = Instant::now();
        let PgOptions { name, settings, data_files, data_dir_parent, replication_hba } = opts;
        validate_settings(&settings)?;
        if let Some((bad, _)) = data_files.iter().find(|(file, _)| !is_plain_file_name(file)) {
            return Err(TestbedError::InvalidOption(format!("data file name `{bad}` (a plain file name, no path)")));
        }
        let bindir = bindir()?;
        let run_as = process::run_as()?;
        let parent = match data_dir_parent {
            Some(parent) => parent,
            // The PostgreSQL user must be able to reach the directory.
            None if run_as.is_some() => PathBuf::from("/tmp"),
            None => std::env::temp_dir(),
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("regionstack-pg-{}-", short_name(&name)))
            .tempdir_in(&parent)
            .map_err(|err| TestbedError::io(format!("creating a temporary directory in {}", parent.display()), err))?;
        // pg_ctl passes the data directory on as given; the canonical form is what
        // the postmaster's command line shows and what the pid checks look for.
        let base = fs::canonicalize(dir.path())
            .map_err(|err| TestbedError::io(format!("resolving {}", dir.path().display()), err))?;

        // From here on, dropping `server` cleans up whatever was started.
        let mut server = Self {
            name,
            port: 0,
            password: random_password(),
            data_dir: base.join("data"),
            log_path: base.join("postgres.log"),
            base,
            pid: None,
            bindir,
            run_as,
            watchdog: None,
            dir: Some(dir),
            stopped: false,
        };
        server.init(&settings, &data_files, replication_hba)?;
        let initialised = started.elapsed();
        server.launch()?;
        tracing::info!(
            name = %server.name,
            port = server.port,
            pid = server.pid,
            data_dir = %server.data_dir.display(),
            initdb_ms = initialised.as_millis(),
            total_ms = started.elapsed().as_millis(),
            "PostgreSQL test server started"
        );
        Ok(server)
    }

    /// initdb, `pg_hba.conf`, `postgresql.conf`, [`PgOptions::data_file`]s.
    fn init(
        &self,
        settings: &[(String, String)],
        data_files: &[(String, String)],
        replication_hba: bool,
    ) -> Result<(), TestbedError> {
        if let Some(run_as) = self.run_as {
            chown(&self.base, run_as)?;
        }
        let pwfile = self.base.join("pwfile");
        write_private(&pwfile, &self.password, self.run_as)?;
        let mut initdb = pg_command(&self.bindir.join("initdb"), self.run_as);
        initdb
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-U")
            .arg(SUPERUSER)
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]);
        let result = run(initdb, &format!("initdb for server `{}`", self.name));
        let _ = fs::remove_file(&pwfile);
        result?;

        // Both files exist and belong to the PostgreSQL user; rewriting them in
        // place keeps their owner.
        for (file, content) in data_files {
            write_private(&self.data_dir.join(file), content, self.run_as)?;
        }
        let hba = self.data_dir.join("pg_hba.conf");
        let hba_text = if replication_hba { PG_HBA } else { PG_HBA_NO_REPLICATION };
        fs::write(&hba, hba_text).map_err(|err| TestbedError::io(format!("writing {}", hba.display()), err))?;

        let mut conf = String::from("\n# regionstack-testbed\n");
        let socket_dir = self.base.display().to_string();
        let prefix = format!("%m [%p] {} ", self.name.replace(['\n', '\r'], " ").replace('%', "%%"));
        let own = [("unix_socket_directories", socket_dir.as_str()), ("log_line_prefix", prefix.as_str())];
        for (key, value) in BASE_SETTINGS.iter().chain(own.iter()) {
            conf.push_str(&conf_line(key, value));
        }
        if !settings.is_empty() {
            conf.push_str("# PgOptions::setting\n");
            for (key, value) in settings {
                conf.push_str(&conf_line(key, value));
            }
        }
        let conf_path = self.data_dir.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf_path)
            .and_then(|mut file| file.write_all(conf.as_bytes()))
            .map_err(|err| TestbedError::io(format!("writing {}", conf_path.display()), err))
    }

    /// `pg_ctl start` on a free port (retried when the port was taken meanwhile),
    /// then waits until the server accepts TCP connections.
    fn launch(&mut self) -> Result<(), TestbedError> {
        let deadline = Instant::now() + START_TIMEOUT;
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port()?;
            let log_offset = fs::metadata(&self.log_path).map_or(0, |meta| meta.len());
            let mut pg_ctl = pg_command(&self.bindir.join("pg_ctl"), self.run_as);
            pg_ctl
                .arg("start")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&self.log_path)
                .args(["-w", "-s", "-t"])
                .arg(remaining_secs(deadline).to_string())
                .arg("-o")
                .arg(format!("-p {port}"));
            let output = pg_ctl.output().map_err(|err| TestbedError::io("running pg_ctl start", err))?;
            if output.status.success() {
                self.port = port;
                self.pid = read_postmaster_pid(&self.data_dir);
                let Some(pid) = self.pid else {
                    return Err(self.start_error("pg_ctl reported success, but postmaster.pid names no process"));
                };
                self.watchdog = Some(process::spawn_watchdog(pid, &self.data_dir, &self.base)?);
                return self.wait_accepting(pid, deadline);
            }
            let new_log = read_from(&self.log_path, log_offset);
            // A postmaster that did start (pg_ctl timed out) must not survive.
            if let Some(pid) = read_postmaster_pid(&self.data_dir) {
                process::kill_postmaster(pid, &self.data_dir);
            }
            if port_taken(&new_log) && attempt < PORT_ATTEMPTS && Instant::now() < deadline {
                tracing::debug!(name = %self.name, port, attempt, "port taken meanwhile, retrying");
                continue;
            }
            return Err(self.start_error(&format!(
                "pg_ctl start on port {port} failed ({}): {}",
                output.status,
                process::combined_output(&output)
            )));
        }
        Err(self.start_error(&format!("no free port after {PORT_ATTEMPTS} attempts")))
    }

    fn wait_accepting(&self, pid: u32, deadline: Instant) -> Result<(), TestbedError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if !process::process_alive(pid) {
                return Err(self.start_error("the postmaster exited"));
            }
            if Instant::now() >= deadline {
                return Err(self
                    .start_error(&format!("not accepting connections on {addr} after {}s", START_TIMEOUT.as_secs())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn start_error(&self, reason: &str) -> TestbedError {
        TestbedError::Start {
            name: self.name.clone(),
            reason: reason.to_owned(),
            log: self.log_path.clone(),
            log_tail: log_tail(&self.log_path, 40),
        }
    }

    /// The server's name (from [`PgOptions::new`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on: `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The superuser: `postgres`.
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// The superuser's password (random per server; TCP connections need it).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.pid.unwrap_or(0)
    }

    /// The server's temporary directory: the data directory, the server log and
    /// the Unix socket live in it.
    pub fn base_dir(&self) -> &Path {
        &self.base
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The Unix socket directory (connections through it need no password).
    pub fn socket_dir(&self) -> &Path {
        &self.base
    }

    /// The server log.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// A libpq key=value connection string for the superuser and database `db`,
    /// values quoted: `host='127.0.0.1' port='5433' user='postgres' password='…' dbname='db'`.
    /// `tokio-postgres` parses it too.
    pub fn connection_string(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} password={} dbname={}",
            conninfo_quote(HOST),
            conninfo_quote(&self.port.to_string()),
            conninfo_quote(SUPERUSER),
            conninfo_quote(&self.password),
            conninfo_quote(db),
        )
    }

    /// Runs `sql` (one or more statements) in database `db` through
    /// `psql -X -A -t -q -v ON_ERROR_STOP=1` over TCP as the superuser, and returns
    /// what it printed: unaligned rows, one per line, `|` between columns, without
    /// the trailing newline. The password goes through `PGPASSWORD`, never the
    /// command line.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, TestbedError> {
        let conninfo = format!(
            "host={} port={} user={} dbname={} sslmode=disable",
            conninfo_quote(HOST),
            conninfo_quote(&self.port.to_string()),
            conninfo_quote(SUPERUSER),
            conninfo_quote(db),
        );
        let mut command = Command::new(program(self.bindir, "psql"));
        command
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", "-d"])
            .arg(conninfo)
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "10")
            .env("LC_ALL", "C");
        for var in ["PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGOPTIONS", "PGSSLMODE", "PSQLRC"] {
            command.env_remove(var);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| TestbedError::io("running psql", err))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let sql = sql.to_owned();
        // Written from a thread so a large script cannot deadlock against output.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(sql.as_bytes());
        });
        let output = child.wait_with_output().map_err(|err| TestbedError::io("waiting for psql", err))?;
        let _ = writer.join();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(TestbedError::Psql {
                name: self.name.clone(),
                db: db.to_owned(),
                stderr: if stderr.is_empty() { format!("exit status {}", output.status) } else { stderr },
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.trim_end_matches(['\n', '\r']).to_owned())
    }

    /// `CREATE DATABASE "<name>"` (the name is quoted as an identifier).
    pub fn create_database(&self, name: &str) -> Result<(), TestbedError> {
        self.psql(SUPERUSER, &format!("CREATE DATABASE {};", quote_ident(name))).map(drop)
    }

    /// Stops the server (fast shutdown, then signals if that fails) and removes its
    /// directory. Dropping does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let started = Instant::now();
        if let Some(pid) = self.pid.or_else(|| read_postmaster_pid(&self.data_dir))
            && process::is_postmaster_of(pid, &self.data_dir)
        {
            let mut pg_ctl = pg_command(&self.bindir.join("pg_ctl"), self.run_as);
            pg_ctl.arg("stop").arg("-D").arg(&self.data_dir).args(["-m", "fast", "-w", "-s", "-t", "15"]);
            let stopped = match pg_ctl.output() {
                Ok(output) if output.status.success() => true,
                Ok(output) => {
                    tracing::warn!(name = %self.name, output = %process::combined_output(&output), "pg_ctl stop failed");
                    false
                }
                Err(err) => {
                    tracing::warn!(name = %self.name, %err, "running pg_ctl stop failed");
                    false
                }
            };
            // pg_ctl returns once postmaster.pid is gone, a moment before the
            // process exits.
            let gone = stopped && process::wait_gone(pid, Duration::from_secs(5));
            if !gone && !process::kill_postmaster(pid, &self.data_dir) {
                tracing::error!(name = %self.name, pid, "PostgreSQL test server survived SIGKILL");
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(dir) = self.dir.take()
            && let Err(err) = dir.close()
        {
            tracing::warn!(name = %self.name, dir = %self.base.display(), %err, "removing the server directory failed");
        }
        tracing::debug!(name = %self.name, ms = started.elapsed().as_millis(), "PostgreSQL test server stopped");
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
