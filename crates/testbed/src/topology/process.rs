//! Long-running child processes of the topology (the per-region operators): spawned
//! with their output in a log file, probed for readiness over HTTP, killed or
//! terminated on request, and always reaped: on drop (also while a test panics) and,
//! through a small watchdog, when this process dies without running destructors.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rustix::process::{Pid, Signal};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Environment variable naming the `regionstack` binary the topology spawns; it
/// overrides [`locate_binary`]'s search next to the running executable.
pub const BIN_ENV: &str = "REGIONSTACK_BIN";

/// How long a terminated process may take to exit before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(10);

/// How to start a supervised process.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
    /// File that receives stdout and stderr (appended: a restarted process continues
    /// the same log).
    pub log: PathBuf,
    /// Address of its HTTP health endpoint.
    pub health_addr: SocketAddr,
    /// Path answered with 200 once the process is ready (`/ready` for the operator).
    pub ready_path: String,
}

/// A running child process; dropping it terminates (SIGTERM, then SIGKILL after a
/// grace period) and reaps it.
#[derive(Debug)]
pub struct Supervised {
    spec: ProcessSpec,
    child: Child,
    watchdog: Option<Child>,
}

impl Supervised {
    /// Starts `spec.program` in its own process group (a Ctrl-C at the terminal
    /// reaches only the demo, which then stops its children in order), with a watchdog
    /// that terminates it if this process dies first.
    pub fn spawn(spec: ProcessSpec) -> anyhow::Result<Self> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .with_context(|| format!("opening the log {}", spec.log.display()))?;
        let stderr = log.try_clone().context("duplicating the log file handle")?;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .process_group(0);
        let child = command.spawn().with_context(|| format!("starting {}", spec.program.display()))?;
        let watchdog = spawn_watchdog(child.id(), &spec.program)
            .inspect_err(|err| tracing::warn!(%err, "no watchdog for the child process"))
            .ok();
        tracing::debug!(program = %spec.program.display(), pid = child.id(), "child process started");
        Ok(Self { spec, child, watchdog })
    }

    /// What the process was started with.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while running, else its exit status (reaping it).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL (no graceful shutdown, as a crash or an OOM kill), then reap.
    pub fn kill(mut self) -> ExitStatus {
        self.kill_and_reap()
    }

    /// SIGTERM (graceful shutdown), wait up to `grace`, then SIGKILL; reaped either way.
    pub fn terminate(mut self, grace: Duration) -> ExitStatus {
        self.terminate_and_reap(grace)
    }

    /// Polls `GET <ready_path>` until it answers 200. Fails at `deadline`, or as soon as
    /// the process exits, with the tail of its log.
    pub async fn wait_ready(&mut self, deadline: Instant) -> anyhow::Result<()> {
        loop {
            if let Some(status) = self.exit_status() {
                bail!(
                    "{} exited ({status}) before it was ready; tail of {}:\n{}",
                    self.spec.program.display(),
                    self.spec.log.display(),
                    log_tail(&self.spec.log, 30)
                );
            }
            match http_status(self.spec.health_addr, &self.spec.ready_path).await {
                Ok(200) => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {}
                last => bail!(
                    "{} not ready at http://{}{} by the deadline (last answer: {}); tail of {}:\n{}",
                    self.spec.program.display(),
                    self.spec.health_addr,
                    self.spec.ready_path,
                    match last {
                        Ok(code) => format!("HTTP {code}"),
                        Err(err) => format!("{err:#}"),
                    },
                    self.spec.log.display(),
                    log_tail(&self.spec.log, 30)
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn kill_and_reap(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        let status = self.child.wait().expect("waiting for a killed child");
        self.stop_watchdog();
        status
    }

    fn terminate_and_reap(&mut self, grace: Duration) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.stop_watchdog();
            return status;
        }
        signal(self.child.id(), Signal::TERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stop_watchdog();
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(pid = self.child.id(), "child did not stop after SIGTERM; killing it");
        self.kill_and_reap()
    }

    fn stop_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.watchdog.is_some() || matches!(self.child.try_wait(), Ok(None)) {
            self.terminate_and_reap(TERM_GRACE);
        }
    }
}

/// The binary `name` of this workspace: `$REGIONSTACK_BIN` when `env_override` is
/// set and names it, else next to the running executable, as cargo lays out
/// `target/<profile>/`: a test executable runs from `target/<profile>/deps/`, the
/// binaries sit one level up (assert_cmd's `cargo_bin` looks there too).
pub fn locate_binary(name: &str, package: &str, env_override: Option<&str>) -> anyhow::Result<PathBuf> {
    if let Some(var) = env_override
        && let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty())
    {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{var}={} names no file", path.display());
        }
        return Ok(path);
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    bail!(
        "the `{name}` binary is not built ({} is missing): run `cargo build -p {package}` first{}",
        path.display(),
        env_override.map(|var| format!(", or set {var} to the binary")).unwrap_or_default()
    )
}

/// [`locate_binary`], building the binary first when it is missing: `cargo build -p
/// <package> --bin <name>` into the target directory the running executable lives in
/// (the `cargo` that runs the tests, `$CARGO`, else `cargo` on the PATH). For test
/// suites run alone (`cargo test -p regionstack-e2e` does not build other packages'
/// binaries; `cargo test --workspace` does).
pub fn ensure_binary(name: &str, package: &str, env_override: Option<&str>) -> anyhow::Result<PathBuf> {
    if let Ok(path) = locate_binary(name, package, env_override) {
        return Ok(path);
    }
    if let Some(var) = env_override
        && std::env::var_os(var).is_some_and(|p| !p.is_empty())
    {
        return locate_binary(name, package, env_override);
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut profile_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir.pop();
    }
    let target_dir = profile_dir.parent().context("no target directory above the executable")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command.args(["build", "-p", package, "--bin", name, "--target-dir"]).arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    tracing::info!(?command, "building a missing binary");
    let output = command.output().with_context(|| format!("running {}", Path::new(&cargo).display()))?;
    if !output.status.success() {
        bail!(
            "`cargo build -p {package} --bin {name}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    locate_binary(name, package, env_override)
}

/// A free loopback address (another process may take it before the child binds it;
/// the readiness wait then reports the child's failure).
pub fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("binding a free loopback port")?;
    Ok(listener.local_addr()?)
}

/// The status code of `GET path` on `addr` (HTTP/1.1, connection closed after).
pub async fn http_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 256];
        while !head.contains(&b'\n') {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .context("no answer within 2 s")?
        .with_context(|| format!("GET http://{addr}{path}"))?;
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP status line: {:?}", line.lines().next().unwrap_or_default()))
}

/// The last `lines` lines of a log file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Shell script run detached next to each child: once this process is gone without
/// having stopped the child, SIGTERM it, then SIGKILL after 10 s. The child's
/// command line must start with the program it was spawned as (guards against a
/// recycled pid). Arguments: our pid, the child's pid, the program.
const WATCHDOG_SCRIPT: &str = r#"
parent="$1"; child="$2"; program="$3"
alive() {
  line=""
  read -r line < "/proc/$1/stat" 2>/dev/null || return 1
  rest="${line##*) }"
  state="${rest%% *}"
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
ours() {
  alive "$child" && [ "$(tr '\000' '\n' < "/proc/$child/cmdline" 2>/dev/null | head -n 1)" = "$program" ]
}
while alive "$parent"; do sleep 0.5; done
if ours; then kill -TERM "$child" 2>/dev/null; fi
i=0
while ours && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if ours; then kill -KILL "$child" 2>/dev/null; fi
"#;

fn spawn_watchdog(child: u32, program: &Path) -> anyhow::Result<Child> {
    let args = [child.to_string().into(), program.as_os_str().to_owned()];
    crate::process::spawn_sh_watchdog(WATCHDOG_SCRIPT, "regionstack-child-watchdog", &args)
        .context("starting the child watchdog (/bin/sh)")
}
