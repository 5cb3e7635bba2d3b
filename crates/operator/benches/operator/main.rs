//! Benchmark: the operator's DESIGN §9 targets, on the emulated seed topology with
//! real `regionstack run` processes, real PostgreSQL servers and real `kubectl`.
//!
//! ```sh
//! cargo bench -p regionstack --bench operator [-- [settle] [drift] [scale] [--rounds N] [--objects N] [--quick]]
//! ```
//!
//! - `settle` ([`settle`]): `kubectl apply` of the whole seed (`examples/*.yaml`) to every
//!   region → every object settled in every cluster (the demo's `Step::Settle`
//!   criterion, `regionstack::demo::settled`). Each round first deletes the
//!   PiiDatabases and TelemetryReplicas everywhere and waits until their finalizers
//!   have torn everything down. Target p95 < 2 s.
//! - `drift` ([`drift`]): in a settled topology, a rogue publication (guard disabled
//!   and the publication created in one transaction), a dropped guardrail event
//!   trigger, a hand-made logical slot (PII database), and an altered export (a column
//!   added to the hop-1 publication of the source telemetry database), each timed from
//!   the statement's commit until the catalog shows it repaired (polled every 5 ms).
//!   Target p95 < 1 s.
//! - `scale` ([`scale`]): one emulator, one operator process, `--objects` (default
//!   1,000) PiiDatabases and TelemetryReplicas that need no database (foreign, not
//!   involved or refused): time until all are reconciled, reconciles per second, RSS
//!   after settling, status writes per minute when idle (60 s, or 15 s scaled with
//!   `--quick`), and the throughput of a forced re-queue of all of them (every
//!   Region's spec changed). Targets: RSS < 32 MiB, ≥ 500 reconciles/s, 0 idle
//!   status writes.
//!
//! `--rounds N` (default 10) sets the rounds of `settle` and `drift`. The table at the
//! end prints each figure, its target, the measurement and PASS/MISS; figures without
//! a target are context. Percentiles are nearest-rank.

mod drift;
mod scale;
mod settle;
mod support;

use std::time::Duration;

/// One row of the result table.
pub struct Row {
    figure: String,
    target: String,
    measured: String,
    pass: Option<bool>,
}

/// The result table, printed at the end (and as rows are added, so a long run shows
/// progress).
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// A figure with a target: PASS when `pass`.
    pub fn target(&mut self, figure: impl Into<String>, target: &str, measured: String, pass: bool) {
        self.push(Row { figure: figure.into(), target: target.into(), measured, pass: Some(pass) });
    }

    /// A figure without a target (context).
    pub fn info(&mut self, figure: impl Into<String>, measured: String) {
        self.push(Row { figure: figure.into(), target: "-".into(), measured, pass: None });
    }

    fn push(&mut self, row: Row) {
        let mark = row.pass.map_or("", |p| if p { "PASS" } else { "MISS" });
        println!("  {}: {} (target {}) {mark}", row.figure, row.measured, row.target);
        self.rows.push(row);
    }

    fn print(&self) {
        let w0 = self.rows.iter().map(|r| r.figure.chars().count()).max().unwrap_or(6).max(6);
        let w1 = self.rows.iter().map(|r| r.target.chars().count()).max().unwrap_or(6).max(6);
        let w2 = self.rows.iter().map(|r| r.measured.chars().count()).max().unwrap_or(8).max(8);
        println!();
        println!("| {:<w0$} | {:<w1$} | {:<w2$} | result |", "figure", "target", "measured");
        println!("| {} | {} | {} | ------ |", "-".repeat(w0), "-".repeat(w1), "-".repeat(w2));
        for r in &self.rows {
            let mark = r.pass.map_or("", |p| if p { "PASS" } else { "MISS" });
            println!("| {:<w0$} | {:<w1$} | {:<w2$} | {mark:<6} |", r.figure, r.target, r.measured);
        }
    }
}

/// Command-line options (after `--`).
#[derive(Clone, Debug)]
pub struct Options {
    /// Rounds of `settle` and `drift`.
    pub rounds: usize,
    /// Objects of `scale`.
    pub objects: usize,
    /// Shorter idle window in `scale`.
    pub quick: bool,
}

fn parse() -> (Vec<String>, Options) {
    let mut only = Vec::new();
    let mut options = Options { rounds: 10, objects: 1_000, quick: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--rounds" => options.rounds = number("--rounds").max(1),
            "--objects" => options.objects = number("--objects").max(2),
            "--quick" => options.quick = true,
            // `cargo bench` passes `--bench`; other harness flags mean nothing here.
            a if a.starts_with('-') => {}
            a => only.push(a.to_owned()),
        }
    }
    (only, options)
}

fn main() {
    let (only, options) = parse();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_regionstack"));
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("regionstack operator benchmarks (DESIGN §9): {cpus} CPU(s); operator binary {}", binary.display());
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average before the run: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let mut table = Table::default();
    let result = rt.block_on(async {
        if run("settle") || run("drift") {
            settle::topology_figures(&binary, &options, run("settle"), run("drift"), &mut table).await?;
        }
        if run("scale") {
            scale::run(&binary, &options, &mut table).await?;
        }
        anyhow::Ok(())
    });
    table.print();
    if let Err(err) = result {
        eprintln!("benchmark failed: {err:#}");
        std::process::exit(1);
    }
}

/// Nearest-rank percentile `q` (0 < q ≤ 1) of `samples`.
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `1.23 s` or `456 ms`.
pub fn show(d: Duration) -> String {
    if d >= Duration::from_secs(1) { format!("{:.2} s", d.as_secs_f64()) } else { format!("{} ms", d.as_millis()) }
}

/// Adds the p50 and p95 rows of `samples` (p95 against `target`).
pub fn percentiles(table: &mut Table, figure: &str, samples: &[Duration], target: Duration, failures: usize) {
    let (p50, p95) = (percentile(samples, 0.5), percentile(samples, 0.95));
    let note = if failures > 0 { format!(" ({failures} of {} timed out)", samples.len()) } else { String::new() };
    table.info(format!("{figure} p50"), format!("{}{note}", show(p50)));
    table.target(
        format!("{figure} p95"),
        &format!("< {}", show(target)),
        format!("{} (n={})", show(p95), samples.len()),
        p95 < target && failures == 0,
    );
}
