//! CPU accounting of the replication processes of one measurement: which PostgreSQL
//! process (walsender, apply worker) on which server spent how much CPU time while the
//! rows went through. It explains the throughput ratio of scenario 2: on a machine
//! with few cores, end-to-end throughput is bounded by the CPU the whole path needs
//! per row, not only by its slowest stage.
//!
//! Times come from `/proc/<pid>/stat` (user + system clock ticks) of the backends
//! `pg_stat_activity` lists as `walsender` or `logical replication worker`, read
//! before the load starts and after the last row arrived; the difference is what the
//! load cost. Linux only, like the testbed.

#[allow(clippy::wildcard_imports)] // the bench's imports and constants
use super::*;

/// One replication process: where it runs and what it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Process {
    /// `source` or `target`.
    server: &'static str,
    /// The database it serves.
    database: String,
    /// `walsender` or `logical replication worker`.
    kind: String,
    pid: i32,
}

impl Process {
    fn label(&self) -> String {
        let kind = if self.kind == "walsender" { "walsender" } else { "apply worker" };
        format!("{} {}/{}", kind, self.server, self.database)
    }
}

/// CPU seconds per process at one moment.
pub(crate) struct Snapshot(Vec<(Process, f64)>);

fn ticks_per_second() -> f64 {
    // USER_HZ: 100 on every mainstream Linux architecture; `getconf` says for sure.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds of `pid` so far, `None` once it has exited.
fn cpu_seconds(pid: i32, hz: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after `)`.
    let (utime, stime): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some((utime + stime) / hz)
}

async fn processes(c: &Client, server: &'static str) -> Vec<Process> {
    let rows = c
        .query(
            "SELECT pid, coalesce(datname, ''), backend_type FROM pg_stat_activity
             WHERE backend_type IN ('walsender', 'logical replication worker')",
            &[],
        )
        .await
        .expect("pg_stat_activity");
    rows.iter().map(|r| Process { server, database: r.get(1), kind: r.get(2), pid: r.get(0) }).collect()
}

/// The replication processes of both servers and their CPU time now.
pub(crate) async fn snapshot(source: &Client, target: &Client) -> Snapshot {
    let hz = ticks_per_second();
    let mut all = processes(source, "source").await;
    all.extend(processes(target, "target").await);
    all.sort();
    Snapshot(all.into_iter().filter_map(|p| cpu_seconds(p.pid, hz).map(|s| (p, s))).collect())
}

/// CPU seconds each process spent between `before` and `after`, and their sum.
pub(crate) fn spent(before: &Snapshot, after: &Snapshot) -> (Vec<(String, f64)>, f64) {
    let per: Vec<(String, f64)> = after
        .0
        .iter()
        .map(|(p, s)| {
            let start = before.0.iter().find(|(b, _)| b == p).map_or(0.0, |(_, s)| *s);
            (p.label(), s - start)
        })
        .collect();
    let total = per.iter().map(|(_, s)| s).sum();
    (per, total)
}

/// One line per process, then the total per row.
pub(crate) fn print(label: &str, per: &[(String, f64)], total: f64, rows: usize) {
    let parts: Vec<String> = per.iter().map(|(name, s)| format!("{name} {s:.2} s")).collect();
    #[allow(clippy::cast_precision_loss)] // row counts are far below 2^52
    let per_row = total * 1e6 / rows as f64;
    println!("   {label:<20} replication CPU {total:.2} s = {per_row:.1} µs/row: {}", parts.join(", "));
}
