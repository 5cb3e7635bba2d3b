//! Small helpers of the server module: configuration lines, quoting, passwords,
//! ports, and files written for (and read from) the server.

use crate::TestbedError;
use crate::process::RunAs;
use std::fs;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Instant;

pub(crate) fn validate_settings(settings: &[(String, String)]) -> Result<(), TestbedError> {
    for (key, value) in settings {
        let key_ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !key_ok {
            return Err(TestbedError::InvalidOption(format!("setting name `{key}`")));
        }
        if value.contains(['\n', '\r', '\0']) {
            return Err(TestbedError::InvalidOption(format!("value of setting `{key}` contains a line break or NUL")));
        }
    }
    Ok(())
}

/// A file name without a directory part (for [`crate::PgOptions::data_file`]).
pub(crate) fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// `key = 'value'` for postgresql.conf.
pub(crate) fn conf_line(key: &str, value: &str) -> String {
    format!("{key} = '{}'\n", value.replace('\'', "''"))
}

/// A libpq connection-string value: single-quoted, `\` and `'` escaped.
pub(crate) fn conninfo_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// An SQL identifier, double-quoted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The name as it may appear in a directory name (short: Unix socket paths are
/// limited to 107 bytes).
pub(crate) fn short_name(name: &str) -> String {
    let short: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(16)
        .collect();
    if short.is_empty() { "pg".to_owned() } else { short }
}

pub(crate) fn random_password() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// A loopback port nobody listens on right now (another process may take it before
/// the server binds it; starting retries then).
pub(crate) fn free_port() -> Result<u16, TestbedError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|err| TestbedError::io("binding a free loopback port", err))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|err| TestbedError::io("reading a bound port", err))
}

/// Whether a failed start's log says the port was taken (by a server another test
/// started after we picked the port).
pub(crate) fn port_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not create any TCP/IP sockets")
}

pub(crate) fn remaining_secs(deadline: Instant) -> u64 {
    deadline.saturating_duration_since(Instant::now()).as_secs().max(1)
}

/// Writes `content` to a new file only its owner can read, owned by the
/// PostgreSQL user.
pub(crate) fn write_private(path: &Path, content: &str, run_as: Option<&RunAs>) -> Result<(), TestbedError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(content.as_bytes()))
        .map_err(|err| TestbedError::io(format!("writing {}", path.display()), err))?;
    if let Some(run_as) = run_as {
        chown(path, run_as)?;
    }
    Ok(())
}

pub(crate) fn chown(path: &Path, run_as: &RunAs) -> Result<(), TestbedError> {
    std::os::unix::fs::chown(path, Some(run_as.uid), Some(run_as.gid))
        .map_err(|err| TestbedError::io(format!("handing {} to user `{}`", path.display(), run_as.user), err))
}

/// The postmaster pid from `postmaster.pid` (first line).
pub(crate) fn read_postmaster_pid(data_dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_ok() {
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    text
}

pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    if text.is_empty() {
        return "(empty or missing)".to_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_values_are_quoted_and_escaped() {
        assert_eq!(conninfo_quote("plain"), "'plain'");
        assert_eq!(conninfo_quote(r"it's a \ path"), r"'it\'s a \\ path'");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("app-db"), "\"app-db\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn data_file_names_have_no_path() {
        assert!(is_plain_file_name("server.key"));
        for bad in ["", ".", "..", "../x", "a/b", "a\\b"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn settings_are_validated() {
        assert!(validate_settings(&[("work_mem".into(), "64MB".into())]).is_ok());
        assert!(validate_settings(&[("x = 1\nfsync".into(), "on".into())]).is_err());
        assert!(validate_settings(&[("work_mem".into(), "1\nfsync = on".into())]).is_err());
        assert_eq!(conf_line("application_name", "it's"), "application_name = 'it''s'\n");
    }

    #[test]
    fn a_taken_port_is_recognised_in_the_log() {
        let log = "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n\
                   HINT:  Is another postmaster already running on port 47811?\n\
                   FATAL:  could not create any TCP/IP sockets\n";
        assert!(port_taken(log));
        assert!(!port_taken("FATAL:  invalid value for parameter \"wal_level\": \"bogus\""));
    }

    #[test]
    fn names_are_shortened_for_paths() {
        assert_eq!(short_name("eu-west/primary replica"), "eu-west_primary_");
        assert_eq!(short_name(""), "pg");
    }
}
