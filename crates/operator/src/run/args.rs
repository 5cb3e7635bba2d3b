//! The command line of `regionstack run` (fixed by the issue 5 brief so that the demo
//! and the e2e harness can spawn operators): every flag can also come from the
//! environment, which is how the Helm chart passes the Pod's name and namespace.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::controller::Config;

/// Arguments of `regionstack run`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// The region this operator serves: it provisions only what belongs to this region
    /// and reports everything else as not its own.
    #[arg(long, env = "REGIONSTACK_REGION")]
    pub region: String,
    /// Kubeconfig file of the regional cluster (default: in-cluster configuration, or
    /// the usual kubeconfig lookup).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Where `/live`, `/ready` and `/metrics` are served.
    #[arg(long, env = "REGIONSTACK_HEALTH_ADDR", default_value = "0.0.0.0:8080")]
    pub health_addr: SocketAddr,
    /// Log format on stderr.
    #[arg(long, env = "REGIONSTACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Seconds between audits of a PII database when no notification arrives.
    #[arg(long, env = "REGIONSTACK_AUDIT_INTERVAL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_interval: u64,
    /// Seconds between visits of a healthy TelemetryReplica (lag, pruning, drift).
    #[arg(long, env = "REGIONSTACK_RESYNC_INTERVAL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub resync_interval: u64,
    /// Milliseconds between drift checks of a served database: one cheap catalog
    /// digest query (slots, guardrails, publications) that starts an audit only when
    /// it changed; 0 turns it off (drift no notification reports then waits for the
    /// scheduled audit or resync).
    #[arg(long, env = "REGIONSTACK_DRIFT_POLL_MS", default_value_t = 250)]
    pub drift_poll_ms: u64,
    /// Namespace of the leader-election Lease `regionstack-<region>`.
    #[arg(long, env = "POD_NAMESPACE", default_value = "regionstack-system")]
    pub lease_namespace: String,
    /// This process's identity: Lease holder and Events' reporting instance
    /// (default: hostname-pid).
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,
    /// Countries (ISO 3166-1 alpha-2) to which India restricts transfers under DPDP
    /// section 16, comma-separated.
    #[arg(long, value_delimiter = ',', env = "REGIONSTACK_DPDP_RESTRICTED")]
    pub dpdp_restricted: Vec<String>,
    /// Lease duration in seconds: a standby takes over at most this long after the
    /// leader stopped renewing. The leader renews every third of it.
    #[arg(long, hide = true, env = "REGIONSTACK_LEASE_DURATION", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub lease_duration: u32,
}

/// Log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, with the reconcile span's fields.
    Json,
    /// Human-readable lines.
    Text,
}

impl RunArgs {
    /// Arguments for `region` with every default (what tests start from).
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            kubeconfig: None,
            health_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            log_format: LogFormat::Json,
            audit_interval: 10,
            resync_interval: 15,
            drift_poll_ms: 250,
            lease_namespace: "regionstack-system".to_owned(),
            instance: None,
            dpdp_restricted: Vec::new(),
            lease_duration: 15,
        }
    }

    /// The instance identity: `--instance`, else `<hostname>-<pid>`.
    pub fn instance(&self) -> String {
        self.instance.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|h| h.trim().to_owned())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "regionstack".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }

    /// The controllers' settings.
    pub fn config(&self) -> Config {
        let mut config = Config::new(&self.region);
        config.audit_interval = Duration::from_secs(self.audit_interval);
        config.resync_interval = Duration::from_secs(self.resync_interval);
        config.drift_poll = (self.drift_poll_ms > 0).then(|| Duration::from_millis(self.drift_poll_ms));
        config.catalogue = regionstack_policy::Catalogue::new()
            .with_dpdp_restricted(self.dpdp_restricted.iter().map(|c| c.trim().to_uppercase()));
        config.instance = self.instance();
        config
    }

    /// The Lease duration.
    pub fn lease_duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.lease_duration))
    }
}
