//! Running PostgreSQL programs (as an unprivileged user when we are root), watching
//! and signalling the postmaster, and the watchdog that stops it when this process
//! dies without running destructors.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use rustix::process::{Pid, Signal};

use crate::TestbedError;

/// Environment variable naming the unprivileged user PostgreSQL runs as when the
/// tests run as root (default `postgres`).
pub const USER_ENV: &str = "REGIONSTACK_PG_USER";

/// The unprivileged user PostgreSQL programs run as when we are root.
#[derive(Debug)]
pub(crate) struct RunAs {
    pub(crate) user: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// `runuser` or `setpriv`.
    switcher: Switcher,
}

#[derive(Debug)]
enum Switcher {
    Runuser(PathBuf),
    Setpriv(PathBuf),
}

/// `None` when we are not root (programs run as ourselves).
pub(crate) fn run_as() -> Result<Option<&'static RunAs>, TestbedError> {
    static RUN_AS: OnceLock<Result<Option<RunAs>, (String, String)>> = OnceLock::new();
    match RUN_AS.get_or_init(find_run_as) {
        Ok(run_as) => Ok(run_as.as_ref()),
        Err((user, reason)) => Err(TestbedError::NoUnprivilegedUser { user: user.clone(), reason: reason.clone() }),
    }
}

fn find_run_as() -> Result<Option<RunAs>, (String, String)> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let user = std::env::var(USER_ENV).ok().filter(|user| !user.is_empty()).unwrap_or_else(|| "postgres".to_owned());
    let id = |flag: &str| -> Result<u32, (String, String)> {
        let output = Command::new("id")
            .args([flag, &user])
            .output()
            .map_err(|err| (user.clone(), format!("running `id`: {err}")))?;
        if !output.status.success() {
            return Err((user.clone(), String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|err| (user.clone(), format!("`id {flag}` printed no number: {err}")))
    };
    let uid = id("-u")?;
    let gid = id("-g")?;
    if uid == 0 {
        return Err((user, "it is root too".to_owned()));
    }
    let switcher = if let Some(path) = find_program("runuser") {
        Switcher::Runuser(path)
    } else if let Some(path) = find_program("setpriv") {
        Switcher::Setpriv(path)
    } else {
        return Err((user, "neither `runuser` nor `setpriv` (util-linux) is installed".to_owned()));
    };
    Ok(Some(RunAs { user, uid, gid, switcher }))
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A command running `program` as the PostgreSQL user: ourselves, or the
/// unprivileged user when we are root.
pub(crate) fn pg_command(program: &Path, run_as: Option<&RunAs>) -> Command {
    let mut command = match run_as {
        None => Command::new(program),
        Some(RunAs { switcher: Switcher::Runuser(runuser), user, .. }) => {
            let mut command = Command::new(runuser);
            command.args([OsStr::new("-u"), OsStr::new(user), OsStr::new("--")]);
            command.arg(program);
            command
        }
        Some(RunAs { switcher: Switcher::Setpriv(setpriv), uid, gid, .. }) => {
            let mut command = Command::new(setpriv);
            command
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            command
        }
    };
    // The unprivileged user may not be able to enter our working directory.
    command.current_dir("/").env("LC_ALL", "C").stdin(Stdio::null());
    command
}

/// Runs `command` to completion; a non-zero exit is an error carrying its output.
pub(crate) fn run(mut command: Command, what: &str) -> Result<Output, TestbedError> {
    let output = command.output().map_err(|err| TestbedError::io(format!("running {what}"), err))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(TestbedError::Command {
            command: what.to_owned(),
            status: output.status.to_string(),
            output: combined_output(&output),
        })
    }
}

/// stdout and stderr of `output`, trimmed, at most the last 4 KiB.
pub(crate) fn combined_output(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    if !stderr.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stderr);
    }
    tail_chars(&text, 4096).to_owned()
}

/// The last `max` bytes of `text` (on a character boundary).
pub(crate) fn tail_chars(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Whether process `pid` exists and is not a zombie (the postmaster is reparented
/// to PID 1, which does not reap everywhere, e.g. in containers).
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')'.
    let state = stat.rfind(')').and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z" | "X" | "x"))
}

/// Whether `pid` is alive and is the postmaster serving `data_dir` (guards against
/// signalling a recycled pid).
pub(crate) fn is_postmaster_of(pid: u32, data_dir: &Path) -> bool {
    if !process_alive(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let data_dir = data_dir.as_os_str().as_encoded_bytes();
    cmdline.split(|byte| *byte == 0).any(|arg| arg == data_dir)
}

/// Sends `signal` to `pid`, ignoring errors (the process may be gone already).
pub(crate) fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Polls until `pid` is gone; `true` when it went within `timeout`.
pub(crate) fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !process_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops the postmaster `pid` of `data_dir` with signals: immediate shutdown
/// (SIGQUIT), then SIGKILL. `true` when it is gone.
pub(crate) fn kill_postmaster(pid: u32, data_dir: &Path) -> bool {
    if !is_postmaster_of(pid, data_dir) {
        return true;
    }
    signal(pid, Signal::QUIT);
    if wait_gone(pid, Duration::from_secs(3)) {
        return true;
    }
    if is_postmaster_of(pid, data_dir) {
        signal(pid, Signal::KILL);
    }
    wait_gone(pid, Duration::from_secs(2))
}

/// Shell script run detached next to each server: once the test process is gone
/// (killed, or exited without dropping the server), stop the postmaster and remove
/// the server's directory. Arguments: test pid, postmaster pid, data dir, base dir.
const WATCHDOG_SCRIPT: &str = r#"
parent="$1"; pm="$2"; data="$3"; base="$4"
alive() {
  line=""
  read -r line < "/proc/$1/stat" 2>/dev/null || return 1
  rest="${line##*) }"
  state="${rest%% *}"
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
ours() {
  alive "$pm" && tr '\000' '\n' < "/proc/$pm/cmdline" 2>/dev/null | grep -qxF -- "$data"
}
while alive "$parent"; do sleep 0.5; done
if ours; then kill -QUIT "$pm" 2>/dev/null; fi
i=0
while ours && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if ours; then kill -KILL "$pm" 2>/dev/null; fi
rm -rf -- "$base"
"#;

/// Starts the watchdog for postmaster `pid` in its own process group, so a Ctrl-C
/// at the terminal or a test runner killing our process group leaves it to clean up.
pub(crate) fn spawn_watchdog(pid: u32, data_dir: &Path, base: &Path) -> Result<Child, TestbedError> {
    let args = [pid.to_string().into(), data_dir.as_os_str().to_owned(), base.as_os_str().to_owned()];
    spawn_sh_watchdog(WATCHDOG_SCRIPT, "regionstack-pg-watchdog", &args)
        .map_err(|err| TestbedError::io("starting the postmaster watchdog (/bin/sh)", err))
}

/// Runs `script` with `/bin/sh` as `$0 = name`, `$1` = our pid, then `args`: detached
/// from every standard stream, in `/` and in its own process group, so that it outlives
/// a test runner that kills our group and can clean up after us.
pub(crate) fn spawn_sh_watchdog(script: &str, name: &str, args: &[std::ffi::OsString]) -> std::io::Result<Child> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg(name)
        .arg(std::process::id().to_string())
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}
