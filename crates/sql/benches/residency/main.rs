//! Benchmarks of the residency data path on real PostgreSQL 15 (DESIGN §9, issue 4).
//!
//! Run with `cargo bench -p regionstack-sql --bench residency`. Every measurement
//! starts fresh servers from `testbed` (stopped and removed when it ends) and prints
//! figures measured side by side in this one run on this machine; nothing is asserted
//! about time, only about correctness (every row arrives, the audit sees every object).
//! `cargo bench -p regionstack-sql --bench residency -- lag audit` runs only the named
//! scenarios (`hop1`, `e2e`, `lag`, `audit`).
//!
//! "Application throughput" is what the application sees: [`WRITERS`] concurrent
//! connections, each sending prepared multi-row `INSERT`s of [`BATCH`] rows
//! (autocommit, one transaction per statement) into `public.device_metrics`, rows
//! generated beforehand; throughput = rows / (last commit − start), all writers
//! connected and prepared before the clock starts.
//!
//! 1. hop-1 overhead: application throughput without the export path and with it
//!    attached (same server, same table, truncated before each load; the order
//!    alternates between rounds; the export is torn down and re-applied each round).
//!    Hop 1 falls behind a full-speed writer, so its own delivery rate is sampled for
//!    [`HOP1_SAMPLE`] after the last commit and printed next to the ratio.
//! 2. anonymized end-to-end (hop 1, transform, hop 2, import routed into a destination
//!    table on a second server) vs raw single-hop logical replication (publication →
//!    subscription between the two servers) of the same rows: rows / (time from the
//!    start of the load until a marker row, inserted after the last commit, is
//!    visible at the target). Logical replication applies in commit order, so the
//!    marker arrives last; a partial index on the marker keeps the polling cheap.
//!    Each run also prints the CPU time each walsender and apply worker spent on the
//!    load (`cpu.rs`), which is what the ratio is made of on a small machine.
//! 3. end-to-end lag at a steady rate: one writer inserts [`LAG_RATE`] rows/s
//!    carrying `sent_at` (the client's clock when the statement is sent; class
//!    `none`, `keep`), the target's destination table stamps `received` with
//!    `clock_timestamp()` (column default) as the apply worker inserts the row. Both
//!    servers run on this machine, so the clocks agree.
//! 4. `pii::audit()` on a PII database holding [`AUDIT_OBJECTS`] publications and as
//!    many logical slots (created with the guard trigger disabled, then re-enabled).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use regionstack_api::fixtures::{device_telemetry_table, measurement};
use regionstack_api::telemetry::{TableExport, TimeUnit};
use regionstack_sql::ident::quote_literal;
use regionstack_sql::pii::{self, PiiContext};
use regionstack_sql::telemetry::export::{ExportSpec, apply_export, teardown_export};
use regionstack_sql::telemetry::import::{ImportSpec, apply_import};
use regionstack_sql::telemetry::{BOUNDARY_DB, IMPORT_SCHEMA, Names};
use regionstack_sql::{ConnParams, Password, SslMode, connect};
use testbed::{Cluster, PgOptions, PgServer};
use tokio::runtime::Runtime;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

/// Rows per application load in scenario 1 (about a second of writing here).
const HOP1_ROWS: usize = 300_000;
/// Rows per replication run in scenario 2.
const ROWS: usize = 100_000;
/// Concurrent application connections.
const WRITERS: usize = 4;
/// Rows per multi-row `INSERT`.
const BATCH: usize = 100;
/// Rounds of scenario 1 (each: one load without, one with the export).
const HOP1_ROUNDS: usize = 3;
/// After a load with the export attached, hop 1's delivery rate is sampled this long.
const HOP1_SAMPLE: Duration = Duration::from_secs(2);
/// Rounds of scenario 2 (each: one raw and one anonymized run, fresh servers each).
const E2E_ROUNDS: usize = 2;
/// Steady insert rate of scenario 3, rows per second.
const LAG_RATE: usize = 5_000;
/// Duration of the steady load.
const LAG_SECS: usize = 10;
/// The steady writer sends one batch every tick.
const LAG_TICK_MS: usize = 10;
/// Publications and slots in the audited PII database.
const AUDIT_OBJECTS: usize = 100;
/// Timed audits (after one untimed warm-up).
const AUDIT_RUNS: usize = 20;
/// Polling interval while waiting for rows at a target.
const POLL: Duration = Duration::from_millis(5);
/// Give up waiting for rows after this long (a broken path, not a slow one).
const TIMEOUT: Duration = Duration::from_secs(180);

const _: () = assert!(ROWS.is_multiple_of(WRITERS * BATCH) && HOP1_ROWS.is_multiple_of(WRITERS * BATCH));
const _: () = assert!((LAG_RATE * LAG_TICK_MS).is_multiple_of(1000) && 1000_usize.is_multiple_of(LAG_TICK_MS));

const DB: &str = "telemetry";
const REPLICA: &str = "device-metrics-eu-west-1";
const TARGET_REGION: &str = "eu-west-3";
const LOGIN: &str = "rs_repl_device_metrics";
const LOGIN_PW: &str = "bench-password";
const COLUMNS: &str = "ts, device_id, user_id, email, client_ip, latitude, longitude, firmware, temperature";
const MARKER: &str = "marker";
/// Destination of the anonymized import on the target server.
const GLOBAL: &str = "device_metrics_global";

mod cpu;
mod rows;
mod servers;

use rows::{Rng, Row, insert_sql, load, make_rows, params};
use servers::{
    Path, admin, batch, export_spec, insert_marker, scalar, source_ddl, start_path, wait_markers, wait_ready,
};

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("regionstack-sql residency benchmarks (DESIGN §9): {cpus} CPU(s) shared by writers, servers and bench");
    println!(
        "application load: {WRITERS} connections, prepared {BATCH}-row INSERTs (autocommit), rows generated \
         beforehand; testbed servers (fsync=off, synchronous_commit=off, shared_buffers=32MB)"
    );
    // Anything else running on the machine shares the same CPUs.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average before the run: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    }
    let rows = Arc::new(make_rows(&mut Rng(0x5eed), HOP1_ROWS.max(ROWS), 0));
    if run("hop1") {
        hop1_overhead(&rt, &Arc::new(rows[..HOP1_ROWS].to_vec()));
    }
    if run("e2e") {
        end_to_end(&rt, &Arc::new(rows[..ROWS].to_vec()));
    }
    if run("lag") {
        lag(&rt);
    }
    if run("audit") {
        audit(&rt);
    }
}

// ---------------------------------------------------------------------------------
// Figures

fn rate(rows: usize, d: Duration) -> f64 {
    f64::from(u32::try_from(rows).expect("row count fits u32")) / d.as_secs_f64()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { f64::midpoint(v[n / 2 - 1], v[n / 2]) }
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    sorted[(pct * sorted.len()).div_ceil(100).max(1) - 1]
}

fn verdict(value: f64, target: f64, higher_is_better: bool) -> &'static str {
    if (value >= target) == higher_is_better { "meets target" } else { "BELOW TARGET" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------
// 1. hop-1 overhead

fn hop1_overhead(rt: &Runtime, rows: &Arc<Vec<Row>>) {
    println!(
        "\n1. hop-1 overhead: application insert throughput, {} rows into public.device_metrics, without vs with \
         the export attached (same server, table truncated before each load)",
        rows.len()
    );
    let server = PgServer::start_with(PgOptions::new("hop1")).expect("start PostgreSQL");
    server.create_database(DB).expect("create database");
    let version = server.psql(DB, "SHOW server_version").expect("version");
    println!("   PostgreSQL {version}");
    let (mut without, mut with, mut delivered) = (Vec::new(), Vec::new(), Vec::new());
    rt.block_on(async {
        let src = admin(&server, DB);
        let c = connect(&src).await.expect("connect");
        batch(&c, &source_ddl(false)).await;
        load(&src, rows).await; // warm-up, untimed
        let spec = export_spec(false);
        let names = Names::new(REPLICA);
        let count =
            format!("SELECT count(*) FROM {IMPORT_SCHEMA}.\"{}\"", names.export_table("public", "device_metrics"));
        for round in 1..=HOP1_ROUNDS {
            let order = if round % 2 == 1 { [false, true] } else { [true, false] };
            for attached in order {
                batch(&c, "TRUNCATE device_metrics").await;
                if !attached {
                    let (start, end) = load(&src, rows).await;
                    let r = rate(rows.len(), end - start);
                    println!("   round {round}  without export {r:>9.0} rows/s");
                    without.push(r);
                    continue;
                }
                apply_export(&admin(&server, "postgres"), &spec).await.expect("apply export");
                let b = connect(&admin(&server, BOUNDARY_DB)).await.expect("connect boundary");
                wait_ready(&b, &names.hop1()).await;
                let (start, end) = load(&src, rows).await;
                let r = rate(rows.len(), end - start);
                // How far hop 1 got during the load, and how fast it delivers once the
                // writers are done (it has the machine to itself then).
                let (t0, n0) = (Instant::now(), scalar(&b, &count).await);
                tokio::time::sleep(HOP1_SAMPLE).await;
                let (t1, n1) = (Instant::now(), scalar(&b, &count).await);
                let hop1 = rate(usize::try_from(n1 - n0).expect("rows"), t1 - t0);
                println!(
                    "   round {round}  with export    {r:>9.0} rows/s   (hop 1 had delivered {n0} rows at the last \
                     commit, then delivered {hop1:.0} rows/s)"
                );
                with.push(r);
                delivered.push(hop1);
                drop(b);
                teardown_export(&admin(&server, "postgres"), &spec).await.expect("teardown export");
            }
        }
    });
    server.stop();
    let (w, x) = (median(&with), median(&without));
    let ratio = w / x;
    println!(
        "   median: without {x:.0} rows/s, with {w:.0} rows/s → ratio with/without = {ratio:.2} (target ≥ 0.70: {})",
        verdict(ratio, 0.7, true)
    );
    println!(
        "   hop 1 (decode, apply, transform trigger) delivers {:.0} rows/s (median): {:.0}% of the application's rate",
        median(&delivered),
        100.0 * median(&delivered) / x
    );
}

// ---------------------------------------------------------------------------------
// 2. anonymized end to end vs raw single hop

/// One run: end-to-end rows/s and the replication processes' CPU seconds.
fn e2e_run(rt: &Runtime, path: Path, rows: &Arc<Vec<Row>>) -> (f64, f64) {
    let (cluster, target) = start_path(rt, path, false);
    let (a, b) = (&cluster[0], &cluster[1]);
    let (writes, e2e, at_target, cpu) = rt.block_on(async {
        let src = admin(a, DB);
        let marker = connect(&src).await.expect("connect A");
        let dst = connect(&admin(b, DB)).await.expect("connect B");
        batch(&dst, "SET enable_seqscan = off").await;
        let before = cpu::snapshot(&marker, &dst).await;
        let (start, end) = load(&src, rows).await;
        insert_marker(&marker).await;
        let seen = wait_markers(&dst, target, 2).await;
        let cpu = cpu::spent(&before, &cpu::snapshot(&marker, &dst).await);
        let n =
            scalar(&dst, &format!("SELECT count(*) FROM {target} WHERE firmware <> {}", quote_literal(MARKER))).await;
        (rate(rows.len(), end - start), seen - start, n, cpu)
    });
    assert_eq!(at_target, i64::try_from(rows.len()).expect("fits"), "{}: rows missing at the target", path.label());
    let r = rate(rows.len(), e2e);
    println!(
        "   {:<20} writers {writes:>9.0} rows/s; last row visible at the target after {:.2} s → {r:>9.0} rows/s end to end",
        path.label(),
        e2e.as_secs_f64()
    );
    cpu::print(path.label(), &cpu.0, cpu.1, rows.len());
    cluster.stop();
    (r, cpu.1)
}

fn end_to_end(rt: &Runtime, rows: &Arc<Vec<Row>>) {
    println!(
        "\n2. replication throughput, start of load → last row visible on the second server (fresh servers per run)"
    );
    let (mut raw, mut anon) = (Vec::new(), Vec::new());
    let (mut raw_cpu, mut anon_cpu) = (Vec::new(), Vec::new());
    for round in 0..E2E_ROUNDS {
        let order = if round % 2 == 0 { [Path::Raw, Path::Anonymized] } else { [Path::Anonymized, Path::Raw] };
        for path in order {
            let (r, cpu) = e2e_run(rt, path, rows);
            if path == Path::Raw {
                raw.push(r);
                raw_cpu.push(cpu);
            } else {
                anon.push(r);
                anon_cpu.push(cpu);
            }
        }
    }
    let (r, a) = (median(&raw), median(&anon));
    let ratio = a / r;
    println!(
        "   raw {r:.0} rows/s, anonymized {a:.0} rows/s → ratio anonymized/raw = {ratio:.2} (target ≥ 0.70: {})",
        verdict(ratio, 0.7, true)
    );
    // What the ratio is made of: CPU per row of the replication processes alone (the
    // writers' share is the same for both paths).
    #[allow(clippy::cast_precision_loss)] // row counts are far below 2^52
    let per_row = |v: &[f64]| median(v) * 1e6 / rows.len() as f64;
    let (rc, ac) = (per_row(&raw_cpu), per_row(&anon_cpu));
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "   replication CPU per row (median): raw {rc:.1} µs, anonymized {ac:.1} µs ({:.1}×); with all {cpus} CPU(s) \
         given to replication alone, the anonymized path could not exceed {:.0} rows/s",
        ac / rc,
        f64::from(u32::try_from(cpus).unwrap_or(1)) * 1e6 / ac
    );
}

// ---------------------------------------------------------------------------------
// 3. end-to-end lag at a steady rate

/// One writer, one batch every tick, `sent_at` = the client's clock when sent.
async fn steady(app: &ConnParams) -> (usize, Duration) {
    let per_tick = LAG_RATE * LAG_TICK_MS / 1000;
    let ticks = LAG_SECS * 1000 / LAG_TICK_MS;
    let client = connect(app).await.expect("connect writer");
    let stmt = client.prepare(&insert_sql(per_tick, true)).await.expect("prepare");
    let mut rng = Rng(42);
    let mut tick = tokio::time::interval(Duration::from_millis(u64::try_from(LAG_TICK_MS).expect("fits")));
    let start = Instant::now();
    for i in 0..ticks {
        tick.tick().await;
        let rows = make_rows(&mut rng, per_tick, u64::try_from(i * per_tick).expect("fits"));
        let now = SystemTime::now();
        client.execute(&stmt, &params(&rows, Some(&now))).await.expect("INSERT");
    }
    (ticks * per_tick, start.elapsed())
}

fn lag_run(rt: &Runtime, path: Path) -> f64 {
    let (cluster, target) = start_path(rt, path, true);
    let (a, b) = (&cluster[0], &cluster[1]);
    let (sent, took, stats) = rt.block_on(async {
        let src = admin(a, DB);
        let marker = connect(&src).await.expect("connect A");
        let dst = connect(&admin(b, DB)).await.expect("connect B");
        batch(&dst, "SET enable_seqscan = off").await;
        let (sent, took) = steady(&src).await;
        insert_marker(&marker).await;
        wait_markers(&dst, target, 2).await;
        let q = format!(
            "SELECT count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY l), percentile_disc(0.99) WITHIN GROUP (ORDER BY l), max(l)
             FROM (SELECT extract(epoch FROM received - sent_at)::float8 * 1000 AS l FROM {target} WHERE sent_at IS NOT NULL) x"
        );
        let row = dst.query_one(&q, &[]).await.expect("lag statistics");
        (sent, took, (row.get::<_, i64>(0), row.get::<_, f64>(1), row.get::<_, f64>(2), row.get::<_, f64>(3)))
    });
    cluster.stop();
    let (n, p50, p99, max) = stats;
    assert_eq!(n, i64::try_from(sent).expect("fits"), "{}: rows missing at the target", path.label());
    println!(
        "   {:<20} {sent} rows at {:.0} rows/s: lag p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        path.label(),
        rate(sent, took)
    );
    p99
}

fn lag(rt: &Runtime) {
    println!(
        "\n3. end-to-end lag (sent_at on the writer → clock_timestamp() as the row is applied on the second server), \
         {LAG_RATE} rows/s for {LAG_SECS} s"
    );
    let p99 = lag_run(rt, Path::Anonymized);
    println!("   anonymized p99 {p99:.1} ms (target < 1000 ms: {})", verdict(p99, 1000.0, false));
    lag_run(rt, Path::Raw);
}

// ---------------------------------------------------------------------------------
// 4. audit duration

async fn time_audits(c: &Client, ctx: &PiiContext) -> (Vec<Duration>, usize) {
    let warm = pii::audit(c, ctx).await.expect("audit");
    let mut times = Vec::with_capacity(AUDIT_RUNS);
    for _ in 0..AUDIT_RUNS {
        let t = Instant::now();
        let findings = pii::audit(c, ctx).await.expect("audit");
        times.push(t.elapsed());
        assert_eq!(findings.len(), warm.len());
    }
    times.sort();
    (times, warm.len())
}

fn audit(rt: &Runtime) {
    println!("\n4. pii::audit() duration ({AUDIT_RUNS} runs after one warm-up, one connection)");
    let server =
        PgServer::start_with(PgOptions::new("pii").setting("max_replication_slots", "128")).expect("start PostgreSQL");
    server.create_database("pii").expect("create database");
    rt.block_on(async {
        let c = connect(&admin(&server, "pii")).await.expect("connect");
        let ctx = PiiContext::new("pii", "eu-west-1");
        pii::install_guardrails(&c, &ctx).await.expect("install guardrails");
        let report = |label: &str, (times, findings): (Vec<Duration>, usize)| {
            println!(
                "   {label:<38} median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({findings} findings)",
                ms(percentile(&times, 50)),
                ms(percentile(&times, 95)),
                ms(times[times.len() - 1])
            );
            percentile(&times, 95)
        };
        report("guardrails only", time_audits(&c, &ctx).await);

        batch(&c, &format!("ALTER EVENT TRIGGER {} DISABLE", pii::GUARD_TRIGGER)).await;
        for i in 0..AUDIT_OBJECTS {
            batch(
                &c,
                &format!("CREATE TABLE customers_{i} (id bigint, email text); CREATE PUBLICATION leak_{i} FOR TABLE customers_{i}"),
            )
            .await;
        }
        for i in 0..AUDIT_OBJECTS {
            batch(&c, &format!("SELECT pg_create_logical_replication_slot('leak_{i}', 'pgoutput')")).await;
        }
        batch(&c, &format!("ALTER EVENT TRIGGER {} ENABLE ALWAYS", pii::GUARD_TRIGGER)).await;
        let findings = pii::audit(&c, &ctx).await.expect("audit");
        let count = |prefix: &str| findings.iter().filter(|f| f.object.starts_with(prefix)).count();
        assert_eq!((count("publication/"), count("slot/")), (AUDIT_OBJECTS, AUDIT_OBJECTS), "audit missed objects");
        assert!(!findings.iter().any(|f| f.object.starts_with("event-trigger/")), "guardrail reported missing");
        let p95 = report(
            &format!("{AUDIT_OBJECTS} publications + {AUDIT_OBJECTS} slots"),
            time_audits(&c, &ctx).await,
        );
        println!("   (an audit every few seconds costs {:.2} ms at p95 per PII database)", ms(p95));
    });
    server.stop();
}
