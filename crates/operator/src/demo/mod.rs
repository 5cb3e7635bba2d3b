//! `regionstack demo`: the seed topology for real on one machine (DESIGN §8) and a
//! script that shows the residency promises holding, step by step.
//!
//! - [`script`]: the command itself (start, print, run the steps, keep running or exit).
//! - [`cluster`]: a regional cluster as the steps see it (kube client + Secrets), so
//!   the steps also run against real clusters (the end-to-end suite does).
//! - [`settled`]: what "ready" means for each object in each cluster.
//! - [`telemetry`], [`pii`], [`canary`]: the steps; each returns a [`report::StepReport`].
//!
//! The topology itself (emulated clusters, PostgreSQL servers, Secrets, the
//! CloudNativePG stand-in, operator processes) is `testbed::topology`.

pub mod canary;
pub mod cluster;
pub mod pii;
pub mod report;
pub mod script;
pub mod settled;
pub mod telemetry;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use cluster::RegionCluster;
pub use report::StepReport;
pub use script::main;

const SETTLE_TITLE: &str = "every Region, PiiDatabase and TelemetryReplica settled in every cluster";

/// The field manager of what the demo writes itself.
pub const FIELD_MANAGER: &str = "regionstack-demo";

/// Arguments of `regionstack demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Directory for kubeconfigs (`<dir>/<region>/kubeconfig`), operator logs
    /// (`<dir>/<region>/operator.log`) and the applied manifests. Default: a new
    /// temporary directory, removed when the demo stops.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Run the script once and exit: status 0 when every step held, 1 otherwise.
    #[arg(long)]
    pub once: bool,
    /// How long each step may wait for the operators, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub step_timeout: u64,
}

/// The clients of every region of a running topology.
pub fn clusters(topology: &testbed::topology::Topology) -> Vec<RegionCluster> {
    topology
        .regions()
        .iter()
        .map(|node| RegionCluster {
            region: node.name().to_owned(),
            client: node.client(),
            kubeconfig: Some(node.kubeconfig()),
        })
        .collect()
}

/// Waits until every object of every cluster is in its expected state
/// ([`settled`]); the report lists each object.
pub async fn settle(clusters: &[RegionCluster], timeout: Duration) -> StepReport {
    let started = Instant::now();
    let mut report = StepReport::new(SETTLE_TITLE);
    let (states, done) = settled::wait_settled(clusters, timeout).await;
    for state in &states {
        report.say(state.to_string());
    }
    if done {
        report.check(true, format!("settled after {:.1} s", started.elapsed().as_secs_f64()));
    } else {
        report.fail(format!("not settled after {} s (WAIT lines above)", timeout.as_secs()));
    }
    report
}

/// One step of the script (after the start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// [`settle`].
    Settle,
    /// [`telemetry::replicate`] from one region to another.
    Replicate {
        /// Source region.
        from: String,
        /// Target region.
        to: String,
    },
    /// [`pii::rogue_publication`].
    RoguePublication,
    /// [`pii::rogue_slot`].
    RogueSlot,
    /// [`pii::planned_region_refuses`].
    PlannedRegion,
    /// [`canary::canary_scan`].
    CanaryScan,
}

impl Step {
    /// The seed topology's script, in order.
    pub fn script() -> Vec<Step> {
        let replicate = |from: &str, to: &str| Step::Replicate { from: from.to_owned(), to: to.to_owned() };
        vec![
            Step::Settle,
            replicate("eu-west-1", "eu-west-3"),
            replicate("eu-west-3", "eu-west-1"),
            Step::RoguePublication,
            Step::RogueSlot,
            Step::PlannedRegion,
            Step::CanaryScan,
        ]
    }

    /// What the step shows, in plain words (its report's title).
    pub fn title(&self) -> String {
        match self {
            Step::Settle => SETTLE_TITLE.to_owned(),
            Step::Replicate { from, to } => telemetry::title(from, to),
            Step::RoguePublication => pii::ROGUE_PUBLICATION_TITLE.to_owned(),
            Step::RogueSlot => pii::ROGUE_SLOT_TITLE.to_owned(),
            Step::PlannedRegion => pii::PLANNED_TITLE.to_owned(),
            Step::CanaryScan => canary::TITLE.to_owned(),
        }
    }

    /// An empty report for a step that is not run.
    pub fn run_skipped(&self) -> StepReport {
        StepReport::new(self.title())
    }

    /// Runs the step; waits are bounded by `timeout`. The report's `took` is set.
    pub async fn run(&self, clusters: &[RegionCluster], timeout: Duration) -> StepReport {
        let started = Instant::now();
        let report = match self {
            Step::Settle => settle(clusters, timeout).await,
            Step::Replicate { from, to } => telemetry::replicate(clusters, from, to, timeout).await,
            Step::RoguePublication => pii::rogue_publication(clusters).await,
            Step::RogueSlot => pii::rogue_slot(clusters, timeout).await,
            Step::PlannedRegion => pii::planned_region_refuses(clusters, timeout).await,
            Step::CanaryScan => canary::canary_scan(clusters, timeout).await,
        };
        StepReport { took: started.elapsed(), ..report }
    }
}
