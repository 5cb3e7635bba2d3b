//! Benchmark: `regionstack check` over 10,000 manifests (DESIGN §9 target: < 1 s).
//!
//! Run with `cargo bench -p regionstack --bench check`. Generates one file per manifest
//! (3 Regions, the rest half PiiDatabases and half TelemetryReplicas with a realistic
//! nine-column telemetry table and a row filter) in a temporary directory, then times
//! the library entry point and the real binary on it, best and median of 5 runs.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const MANIFESTS: usize = 10_000;
const RUNS: usize = 5;

const REGIONS: &str = "apiVersion: regionstack.io/v1alpha1
kind: Region
metadata: {name: eu-west-1}
spec: {location: {country: IE}, jurisdictions: [GDPR], lifecycle: Active}
---
apiVersion: regionstack.io/v1alpha1
kind: Region
metadata: {name: eu-west-3}
spec: {location: {country: FR}, jurisdictions: [GDPR, FDPA], lifecycle: Active}
---
apiVersion: regionstack.io/v1alpha1
kind: Region
metadata: {name: ap-south-1}
spec: {location: {country: IN}, jurisdictions: [DPDP], lifecycle: Planned}
";

fn pii(i: usize) -> String {
    format!(
        "apiVersion: regionstack.io/v1alpha1
kind: PiiDatabase
metadata: {{name: customers-{i}, namespace: team-{t}}}
spec:
  region: eu-west-1
  compliance: [GDPR]
  managed:
    instances: 3
    storage: {{size: 20Gi}}
    backup:
      objectStore: {{region: eu-west-1, destinationPath: 's3://pii-{i}/', credentialsSecretRef: {{name: s3}}}}
",
        t = i % 50
    )
}

fn replica(i: usize) -> String {
    format!(
        "apiVersion: regionstack.io/v1alpha1
kind: TelemetryReplica
metadata: {{name: devices-{i}, namespace: team-{t}}}
spec:
  source: {{region: eu-west-1}}
  targets: [{{region: eu-west-3}}]
  replicationCredentials: {{name: repl}}
  tables:
  - name: device_metrics_{i}
    rowFilter: \"firmware LIKE 'v2.%' AND temperature BETWEEN -40 AND 125\"
    columns:
    - {{name: ts, class: quasi, transform: truncateTime, unit: hour}}
    - {{name: device_id, class: identifier, transform: hash}}
    - {{name: user_id, class: identifier, transform: hash}}
    - {{name: email, class: identifier, transform: drop}}
    - {{name: client_ip, class: quasi, transform: ipPrefix, ipv4Bits: 24, ipv6Bits: 48}}
    - {{name: latitude, class: quasi, transform: round, digits: 1}}
    - {{name: longitude, class: quasi, transform: round, digits: 1}}
    - {{name: firmware, class: none, transform: keep}}
    - {{name: temperature, class: none, transform: keep}}
",
        t = i % 50
    )
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[0], samples[samples.len() / 2])
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("regions.yaml"), REGIONS).expect("write regions");
    let rest = MANIFESTS - 3;
    for i in 0..rest {
        let body = if i % 2 == 0 { pii(i) } else { replica(i) };
        std::fs::write(dir.path().join(format!("m{i:05}.yaml")), body).expect("write manifest");
    }
    let paths = vec![dir.path().to_path_buf()];
    let catalogue = regionstack_policy::Catalogue::new();

    let mut lib = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let outcome = regionstack::check::run(&paths, &catalogue);
        lib.push(start.elapsed());
        assert_eq!(outcome.exit_code(), 0, "{}", regionstack::check::render_text(&outcome));
    }

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_regionstack"));
    let mut proc = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(&bin).arg("check").arg(dir.path()).output().expect("run regionstack check");
        proc.push(start.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }

    let (lib_best, lib_median) = stats(lib);
    let (bin_best, bin_median) = stats(proc);
    let mut report = String::new();
    let _ = writeln!(report, "check over {MANIFESTS} manifests ({MANIFESTS} objects, {} files):", rest + 1);
    let _ = writeln!(report, "  library  check::run        best {lib_best:>10.1?}  median {lib_median:>10.1?}");
    let _ = writeln!(report, "  binary   regionstack check best {bin_best:>10.1?}  median {bin_median:>10.1?}");
    let _ = writeln!(
        report,
        "  target < 1 s: {} (median binary run {:.2} of the budget)",
        if bin_median < Duration::from_secs(1) { "met" } else { "NOT met" },
        bin_median.as_secs_f64()
    );
    print!("{report}");
}
