//! Step 2, pure: the database layer's desired state for this operator's side, from
//! the replica, the Regions and the credentials read from Secrets.
//!
//! **Replica id.** Every name the database layer generates (publications, slots,
//! subscriptions, export tables, the mark on each object) derives from one replica
//! id, which both sides must compute alike. It is `<namespace>/<name>`: the same
//! manifest is applied to every cluster (DESIGN §3), so both sides see the same
//! namespace and name, and `/` cannot occur in either, so two replicas never share an
//! id (`a-b`/`c` and `a`/`b-c` would collide with a `-`). The generated PostgreSQL
//! names sanitize it and add a hash suffix.
//!
//! **Footprint.** What this operator has built for a replica is recorded in the
//! annotation [`BUILT_ANNOTATION`] *before* it builds it, so that a later spec (a
//! refused one, another source database, fewer tables) or a deletion can still tear
//! it down: the database layer's teardown is driven by names, and those derive from
//! the spec that built them, not from the current one.

use std::collections::BTreeSet;

use regionstack_api::region::SslMode as ApiSslMode;
use regionstack_api::telemetry::{ReplicaSide, TableExport};
use regionstack_api::{Region, SecretReference, TelemetryReplica};
use regionstack_sql::telemetry::BOUNDARY_DB;
use regionstack_sql::telemetry::export::ExportSpec;
use regionstack_sql::telemetry::handoff::HandoffMode;
use regionstack_sql::telemetry::import::ImportSpec;
use regionstack_sql::{ConnParams, Password, SslMode};
use serde::{Deserialize, Serialize};

use crate::controller::ErrorCategory;

/// Annotation holding the [`Footprint`] (JSON) of what this cluster's operator built.
pub const BUILT_ANNOTATION: &str = "regionstack.io/built";

/// Errors of the build step: a Region lacks what this side needs. Not transient: a
/// change to the Region re-queues its replicas.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Region has no telemetry connection Secret.
    #[error("region {region:?} declares no telemetry connection secret (spec.telemetry.connectionSecretRef)")]
    NoTelemetrySecret {
        /// Region name.
        region: String,
    },
    /// The source Region has no publisher endpoint for targets to subscribe to.
    #[error("source region {region:?} declares no publisher endpoint (spec.telemetry.publisherEndpoint)")]
    NoPublisherEndpoint {
        /// Region name.
        region: String,
    },
    /// The publisher endpoint's port is not a TCP port.
    #[error("publisher endpoint port {port} of region {region:?} is not a TCP port")]
    InvalidPort {
        /// Region name.
        region: String,
        /// The port given.
        port: i32,
    },
    /// A Region the replica needs is not in the store.
    #[error("region {0:?} is not known")]
    UnknownRegion(String),
}

impl ErrorCategory for BuildError {
    fn category(&self) -> &'static str {
        "InvalidSpec"
    }
    fn is_transient(&self) -> bool {
        false
    }
}

/// The replication login of a replica (Secret keys `username`, `password`, optional
/// `ca.crt` for a `verify-full` publisher endpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Login name.
    pub username: String,
    /// Its password (never printed).
    pub password: Password,
    /// CA bundle that signed the source's boundary server certificate.
    pub ca_cert_pem: Option<String>,
}

/// The stable id of a replica on every side: `<namespace>/<name>`.
pub fn replica_id(obj: &TelemetryReplica) -> String {
    let ns = obj.metadata.namespace.as_deref().unwrap_or("default");
    let name = obj.metadata.name.as_deref().unwrap_or_default();
    format!("{ns}/{name}")
}

/// The Secret with a Region's telemetry administrative connection.
pub fn admin_secret_ref(region: &Region) -> Result<&SecretReference, BuildError> {
    region
        .spec
        .telemetry
        .as_ref()
        .and_then(|t| t.connection_secret_ref.as_ref())
        .ok_or_else(|| BuildError::NoTelemetrySecret { region: region.metadata.name.clone().unwrap_or_default() })
}

/// The source side's export (hop 1 and hop 2).
pub fn export_spec(obj: &TelemetryReplica, creds: &Credentials) -> ExportSpec {
    ExportSpec {
        replica: replica_id(obj),
        source_database: obj.spec.source.database.clone(),
        tables: obj.spec.tables.clone(),
        login: creds.username.clone(),
        password: creds.password.clone(),
        handoff: HandoffMode::Auto,
    }
}

/// This target region's import: the source boundary database reached at the source
/// Region's publisher endpoint with the replication login; rows routed into this
/// target's `destination` when set. A missing `sslMode` means `require`: regionstack
/// never falls back to plain text on its own.
pub fn import_spec(
    obj: &TelemetryReplica,
    own_region: &str,
    source: &Region,
    creds: &Credentials,
) -> Result<ImportSpec, BuildError> {
    let source_name = source.metadata.name.clone().unwrap_or_default();
    let endpoint = source
        .spec
        .telemetry
        .as_ref()
        .and_then(|t| t.publisher_endpoint.as_ref())
        .ok_or_else(|| BuildError::NoPublisherEndpoint { region: source_name.clone() })?;
    let port = u16::try_from(endpoint.port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or(BuildError::InvalidPort { region: source_name, port: endpoint.port })?;
    let ssl_mode = match endpoint.ssl_mode {
        Some(ApiSslMode::Disable) => SslMode::Disable,
        Some(ApiSslMode::Require) | None => SslMode::Require,
        Some(ApiSslMode::VerifyFull) => SslMode::VerifyFull,
    };
    let mut params =
        ConnParams::new(&endpoint.host, port, &creds.username, creds.password.clone(), BOUNDARY_DB, ssl_mode);
    params.ca_cert_pem.clone_from(&creds.ca_cert_pem);
    Ok(ImportSpec {
        replica: replica_id(obj),
        target_region: own_region.to_owned(),
        source: params,
        tables: table_names(&obj.spec.tables).into_iter().collect(),
        destination: obj.spec.targets.iter().find(|t| t.region == own_region).and_then(|t| t.destination.clone()),
    })
}

fn table_names(tables: &[TableExport]) -> BTreeSet<(String, String)> {
    tables.iter().map(|t| (t.schema.clone(), t.name.clone())).collect()
}

/// What this operator built for a replica, as far as teardown needs to know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "side", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Footprint {
    /// The boundary export in the source region.
    Source {
        /// Database holding the source tables (the hop-1 publication lives there).
        source_database: String,
        /// The hop-2 replication login.
        login: String,
        /// Source tables `(schema, table)` exported.
        tables: BTreeSet<(String, String)>,
        /// Target regions whose hop-2 slots may exist in the boundary database.
        targets: BTreeSet<String>,
    },
    /// The import in a target region.
    Target {
        /// Source tables `(schema, table)` imported.
        tables: BTreeSet<(String, String)>,
    },
}

impl Footprint {
    /// The footprint of a source side about to build `spec` for `targets`.
    pub fn source(spec: &ExportSpec, targets: &[String]) -> Self {
        Footprint::Source {
            source_database: spec.source_database.clone(),
            login: spec.login.clone(),
            tables: table_names(&spec.tables),
            targets: targets.iter().cloned().collect(),
        }
    }

    /// The footprint of a target side about to build `spec`.
    pub fn target(spec: &ImportSpec) -> Self {
        Footprint::Target { tables: spec.tables.iter().cloned().collect() }
    }

    /// The side it was built on.
    pub fn side(&self) -> ReplicaSide {
        match self {
            Footprint::Source { .. } => ReplicaSide::Source,
            Footprint::Target { .. } => ReplicaSide::Target,
        }
    }

    /// Read it from an object's annotation (`None`: none recorded, or unreadable).
    pub fn recorded(obj: &TelemetryReplica) -> Option<Self> {
        let text = obj.metadata.annotations.as_ref()?.get(BUILT_ANNOTATION)?;
        serde_json::from_str(text).ok()
    }

    /// The annotation value.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a footprint always serializes")
    }

    /// What to record before building `self` when `old` was built: the union when the
    /// database layer converges from `old` to `self` on its own (it drops the objects
    /// of tables removed from the spec; the controller drops the slots of removed
    /// targets), `None` when `old` must be torn down first (other side, other source
    /// database, other login).
    pub fn extend(&self, old: &Footprint) -> Option<Footprint> {
        match (old, self) {
            (
                Footprint::Source { source_database: d0, login: l0, tables: t0, targets: g0 },
                Footprint::Source { source_database: d1, login: l1, tables: t1, targets: g1 },
            ) if d0 == d1 && l0 == l1 => Some(Footprint::Source {
                source_database: d1.clone(),
                login: l1.clone(),
                tables: t0.union(t1).cloned().collect(),
                targets: g0.union(g1).cloned().collect(),
            }),
            (Footprint::Target { tables: t0 }, Footprint::Target { tables: t1 }) => {
                Some(Footprint::Target { tables: t0.union(t1).cloned().collect() })
            }
            _ => None,
        }
    }
}

/// A teardown-only export spec for `footprint` (teardown reads names only: no rule,
/// no password).
pub fn teardown_export_spec(replica: &str, footprint: &Footprint) -> Option<(ExportSpec, Vec<String>)> {
    let Footprint::Source { source_database, login, tables, targets } = footprint else { return None };
    let tables = tables
        .iter()
        .map(|(schema, name)| TableExport {
            schema: schema.clone(),
            name: name.clone(),
            row_filter: None,
            columns: vec![],
        })
        .collect();
    let spec = ExportSpec {
        replica: replica.to_owned(),
        source_database: source_database.clone(),
        tables,
        login: login.clone(),
        password: Password::new(""),
        handoff: HandoffMode::Auto,
    };
    Some((spec, targets.iter().cloned().collect()))
}

/// A teardown-only import spec for `footprint` in `own_region` (teardown reaches the
/// source only through the subscription's own connection; `admin` fills the unused
/// source parameters).
pub fn teardown_import_spec(
    replica: &str,
    own_region: &str,
    admin: &ConnParams,
    footprint: &Footprint,
) -> Option<ImportSpec> {
    let Footprint::Target { tables } = footprint else { return None };
    Some(ImportSpec {
        replica: replica.to_owned(),
        target_region: own_region.to_owned(),
        source: admin.clone(),
        tables: tables.iter().cloned().collect(),
        destination: None,
    })
}

#[cfg(test)]
mod tests {
    use regionstack_api::fixtures::{RegionBuilder, TelemetryReplicaBuilder, device_telemetry_table};

    use super::*;

    fn creds() -> Credentials {
        Credentials { username: "rs_repl".into(), password: Password::new("pw"), ca_cert_pem: None }
    }

    fn replica() -> TelemetryReplica {
        TelemetryReplicaBuilder::new("metrics", "eu-west-1")
            .namespace("telemetry")
            .target_into("eu-west-3", "public.global_metrics")
            .target("us-east-1")
            .source_database("tsdb")
            .table(device_telemetry_table())
            .build()
    }

    #[test]
    fn ids_are_stable_and_unambiguous() {
        let a = TelemetryReplicaBuilder::new("b-c", "x").namespace("a").build();
        let b = TelemetryReplicaBuilder::new("c", "x").namespace("a-b").build();
        assert_eq!(replica_id(&a), "a/b-c");
        assert_ne!(replica_id(&a), replica_id(&b));
    }

    #[test]
    fn export_spec_from_replica_and_secret() {
        let e = export_spec(&replica(), &creds());
        assert_eq!(
            (e.replica.as_str(), e.source_database.as_str(), e.login.as_str()),
            ("telemetry/metrics", "tsdb", "rs_repl")
        );
        assert_eq!(e.tables, replica().spec.tables);
        assert_eq!(e.handoff, HandoffMode::Auto);
    }

    #[test]
    fn import_spec_table() {
        let endpoint = |mode: Option<ApiSslMode>, port: i32| {
            RegionBuilder::new("eu-west-1")
                .publisher_endpoint("boundary.eu-west-1", port)
                .edit(|s| s.telemetry.as_mut().unwrap().publisher_endpoint.as_mut().unwrap().ssl_mode = mode)
                .build()
        };
        let cases = [
            (
                endpoint(Some(ApiSslMode::Disable), 5433),
                "eu-west-3",
                Ok((SslMode::Disable, 5433, Some("public.global_metrics"))),
            ),
            (endpoint(None, 5432), "us-east-1", Ok((SslMode::Require, 5432, None))),
            (endpoint(Some(ApiSslMode::VerifyFull), 5432), "us-east-1", Ok((SslMode::VerifyFull, 5432, None))),
            (endpoint(None, 70000), "us-east-1", Err("not a TCP port")),
            (endpoint(None, 0), "us-east-1", Err("not a TCP port")),
            (RegionBuilder::new("eu-west-1").build(), "us-east-1", Err("no publisher endpoint")),
        ];
        for (source, region, want) in cases {
            let got = import_spec(&replica(), region, &source, &creds());
            match (got, want) {
                (Ok(s), Ok((mode, port, dest))) => {
                    assert_eq!((s.source.ssl_mode, s.source.port, s.destination.as_deref()), (mode, port, dest));
                    assert_eq!((s.source.dbname.as_str(), s.source.user.as_str()), (BOUNDARY_DB, "rs_repl"));
                    assert_eq!((s.replica.as_str(), s.target_region.as_str()), ("telemetry/metrics", region));
                    assert_eq!(s.tables, [("public".to_owned(), "device_metrics".to_owned())]);
                }
                (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{e}"),
                (got, want) => panic!("{region}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn footprints_extend_or_demand_teardown() {
        let spec = export_spec(&replica(), &creds());
        let fp = Footprint::source(&spec, &["eu-west-3".into()]);
        let mut fewer = spec.clone();
        fewer.tables.clear();
        let union = Footprint::source(&fewer, &["us-east-1".into()]).extend(&fp).unwrap();
        let Footprint::Source { tables, targets, .. } = &union else { panic!() };
        assert_eq!(tables.len(), 1);
        assert_eq!(targets.len(), 2);
        let mut other_db = spec.clone();
        other_db.source_database = "other".into();
        assert!(Footprint::source(&other_db, &[]).extend(&fp).is_none());
        let mut other_login = spec;
        other_login.login = "rs_other".into();
        assert!(Footprint::source(&other_login, &[]).extend(&fp).is_none());
        let target = Footprint::Target { tables: BTreeSet::new() };
        assert!(target.extend(&fp).is_none());
        assert_eq!(target.extend(&target), Some(target.clone()));
        // Round trip through the annotation.
        let mut obj = replica();
        obj.metadata.annotations = Some([(BUILT_ANNOTATION.to_owned(), union.to_annotation())].into());
        assert_eq!(Footprint::recorded(&obj), Some(union));
        let (teardown, targets) = teardown_export_spec("telemetry/metrics", &fp).unwrap();
        assert_eq!((teardown.tables.len(), targets), (1, vec!["eu-west-3".to_owned()]));
        assert!(teardown_export_spec("x", &target).is_none());
    }
}
