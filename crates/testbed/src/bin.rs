//! Finding the PostgreSQL server binaries.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::TestbedError;

/// Environment variable naming the directory that holds `initdb`, `postgres` and
/// `pg_ctl`; it overrides the search.
pub const BINDIR_ENV: &str = "REGIONSTACK_PG_BINDIR";

/// The programs a directory must hold to be used.
const SERVER_PROGRAMS: [&str; 3] = ["initdb", "postgres", "pg_ctl"];

/// Where the Debian/Ubuntu packages install the server binaries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding the PostgreSQL server binaries (`initdb`, `postgres`,
/// `pg_ctl`), found once per process.
///
/// Search order: `$REGIONSTACK_PG_BINDIR` (used alone when set),
/// `/usr/lib/postgresql/15/bin` (the supported version), `pg_config --bindir`,
/// then the highest `/usr/lib/postgresql/*/bin`. A directory is used only when the
/// three programs are really there: `pg_config --bindir` may name `/usr/bin`, which
/// holds only client wrappers.
pub fn bindir() -> Result<&'static Path, TestbedError> {
    static BINDIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BINDIR.get_or_init(find_bindir) {
        Ok(dir) => Ok(dir),
        Err(detail) => Err(TestbedError::BinariesNotFound { detail: detail.clone() }),
    }
}

/// A program in [`bindir`], falling back to `$PATH` for client programs the
/// directory lacks.
pub(crate) fn program(bindir: &Path, name: &str) -> PathBuf {
    let path = bindir.join(name);
    if is_executable(&path) { path } else { PathBuf::from(name) }
}

fn find_bindir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        return match missing_programs(&dir) {
            None => Ok(dir),
            Some(missing) => Err(format!("{BINDIR_ENV}={} lacks {missing}", dir.display())),
        };
    }

    let mut candidates = vec![Path::new(DEBIAN_ROOT).join("15").join("bin")];
    if let Some(dir) = pg_config_bindir() {
        candidates.push(dir);
    }
    candidates.extend(debian_bindirs_highest_first());

    let mut looked = String::new();
    for dir in candidates {
        match missing_programs(&dir) {
            None => return Ok(dir),
            Some(missing) => {
                let _ =
                    write!(looked, "{}{} lacks {missing}", if looked.is_empty() { "" } else { "; " }, dir.display());
            }
        }
    }
    if looked.is_empty() {
        return Err("no candidate directory".to_owned());
    }
    Err(looked)
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `/usr/lib/postgresql/<version>/bin`, highest version first.
fn debian_bindirs_highest_first() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(DEBIAN_ROOT) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.split('.').map(str::parse::<u32>).collect::<Result<Vec<_>, _>>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// `None` when all server programs are present, else the missing ones.
fn missing_programs(dir: &Path) -> Option<String> {
    let missing: Vec<&str> = SERVER_PROGRAMS.into_iter().filter(|program| !is_executable(&dir.join(program))).collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
