//! The `regionstack demo` command: start the topology, print how to look at it, run
//! the steps printing PASS/FAIL, then keep running until Ctrl-C (or, with `--once`,
//! exit 0 when every step held and 1 otherwise). Everything started is stopped on
//! the way out, also after a failure or a Ctrl-C in the middle.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use testbed::topology::{ApplyMode, Topology, TopologyOptions};

use super::{DemoArgs, Step, StepReport, clusters};

fn say(line: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line.as_ref());
    let _ = out.flush();
}

/// Runs the demo; the process exit status.
pub fn main(args: &DemoArgs) -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("regionstack demo: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            say(format!("FAIL regionstack demo: {err:#}"));
            ExitCode::from(1)
        }
    }
}

/// Whether every step held (`--once`), or `true` after a clean Ctrl-C.
async fn run(args: &DemoArgs) -> anyhow::Result<bool> {
    // A temporary state directory lives as long as this function.
    let (state_dir, _temp) = if let Some(dir) = &args.state_dir {
        (dir.clone(), None)
    } else {
        let temp =
            tempfile::Builder::new().prefix("regionstack-demo-").tempdir().context("creating a state directory")?;
        (temp.path().to_path_buf(), Some(temp))
    };
    let timeout = Duration::from_secs(args.step_timeout);
    say("regionstack demo: the seed topology (DESIGN §1) on this machine");
    say(format!(
        "state directory: {}{}",
        state_dir.display(),
        if args.state_dir.is_none() { " (temporary: removed when the demo stops; --state-dir keeps one)" } else { "" }
    ));

    say("\n== start: per region an emulated Kubernetes cluster, PostgreSQL for PII and telemetry, the operator");
    let started = Instant::now();
    let binary = std::env::current_exe().context("locating the regionstack binary")?;
    let options = TopologyOptions::new(&state_dir).operator_binary(binary).apply(ApplyMode::Auto);
    let mut topology = tokio::select! {
        topology = Topology::start(options) => topology.context("starting the topology")?,
        _ = tokio::signal::ctrl_c() => { say("interrupted"); return Ok(true); }
    };
    print_topology(&topology, &state_dir);
    let ready = tokio::select! {
        ready = topology.wait_operators_ready(Instant::now() + timeout) => ready,
        _ = tokio::signal::ctrl_c() => { say("interrupted; stopping everything"); topology.shutdown().await; return Ok(true); }
    };
    let mut start = StepReport::new("the topology is up and every operator reports /ready");
    start.took = started.elapsed();
    if let Err(err) = ready {
        start.fail(format!("{err:#}"));
    }
    say(start.to_string());

    let clusters = clusters(&topology);
    let mut reports = vec![start];
    let script = async {
        for step in Step::script() {
            // Once the topology failed to come up or settle, the later steps could only
            // time out one after the other.
            let report = if reports.iter().any(|r| !r.passed) {
                let mut report = step.run_skipped();
                report.fail("not run: an earlier step failed");
                report
            } else {
                step.run(&clusters, timeout).await
            };
            say(format!("\n== {}", report.title));
            say(report.to_string());
            reports.push(report);
        }
    };
    let interrupted = tokio::select! {
        () = script => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        say("\ninterrupted; stopping everything");
        topology.shutdown().await;
        return Ok(true);
    }

    let failed: Vec<&StepReport> = reports.iter().filter(|r| !r.passed).collect();
    say(format!("\n== summary: {} of {} steps held", reports.len() - failed.len(), reports.len()));
    for report in &reports {
        say(format!("  {} {}", report.verdict(), report.title));
    }
    if !failed.is_empty() {
        say(format!("operator logs: {}/<region>/operator.log", topology.state_dir().display()));
    }
    if !args.once {
        say("\nEverything keeps running. Inspect each region with:");
        for node in topology.regions() {
            say(format!("  kubectl --kubeconfig {} get regionstack -A", node.kubeconfig().display()));
        }
        say("Ctrl-C stops everything.");
        let _ = tokio::signal::ctrl_c().await;
        say("stopping everything");
    }
    topology.shutdown().await;
    Ok(failed.is_empty())
}

fn print_topology(topology: &Topology, state_dir: &std::path::Path) {
    let manifests = topology.state_dir().join("manifests");
    if topology.applied_with() == ApplyMode::Kubectl {
        say("examples/ applied to every region's cluster:");
        for node in topology.regions() {
            say(format!("  kubectl --kubeconfig {} apply -f {}", node.kubeconfig().display(), manifests.display()));
        }
    } else {
        say(format!(
            "examples/ ({}) applied to every region's cluster by server-side apply (kubectl not found on the PATH)",
            manifests.display()
        ));
    }
    say(
        "each Region's publisherEndpoint was pointed at its local telemetry server (127.0.0.1, sslMode disable) under field manager regionstack-demo",
    );
    for node in topology.regions() {
        let kubeconfig: PathBuf = node.kubeconfig();
        say(format!("\n  region {}", node.name()));
        say(format!("    inspect:      kubectl --kubeconfig {} get regionstack -A", kubeconfig.display()));
        say(format!("    operator log: {}", node.operator_log().display()));
        say(format!(
            "    PostgreSQL:   PII 127.0.0.1:{} (log {}), telemetry 127.0.0.1:{} (log {})",
            node.pii().port(),
            node.pii().log_path().display(),
            node.telemetry().port(),
            node.telemetry().log_path().display()
        ));
        if let Some(addr) = node.health_addr() {
            say(format!("    operator:     http://{addr}/ready, /metrics"));
        }
    }
    say(format!(
        "  (passwords are in the clusters' Secrets, e.g. kubectl --kubeconfig {}/<region>/kubeconfig -n regionstack-system get secret telemetry-admin -o yaml)",
        state_dir.display()
    ));
}
