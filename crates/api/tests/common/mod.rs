//! Helpers shared by the integration tests of `regionstack-api`: where the committed
//! CRDs live, the generated schemas as JSON, and sample manifests of each kind.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use regionstack_api::crd;
use serde_json::Value;

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/api lives two levels below the workspace root")
        .to_path_buf()
}

/// `<workspace>/crds`, where `cargo run -p xtask -- gen-crds` writes the CRDs.
pub fn crds_dir() -> PathBuf {
    workspace_root().join("crds")
}

/// The generated CRD of `kind` (as listed by [`crd::all`]).
pub fn crd_of(kind: &str) -> CustomResourceDefinition {
    crd::all()
        .into_iter()
        .map(|(_, crd)| crd)
        .find(|crd| crd.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("crd::all() has no CRD of kind {kind}"))
}

/// The `openAPIV3Schema` of the only version of `kind`, as JSON.
pub fn schema_of(kind: &str) -> Value {
    let crd = crd_of(kind);
    assert_eq!(crd.spec.versions.len(), 1, "{kind}: expected exactly one version");
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .unwrap_or_else(|| panic!("{kind}: the CRD has no openAPIV3Schema"));
    serde_json::to_value(schema).expect("a schema serializes to JSON")
}

/// The schema node at a dotted path below `schema`: each segment descends through
/// `properties`; a trailing `[]` on a segment then descends into `items`.
/// `node(&s, "spec.tables[].columns[].ipv4Bits")`.
pub fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
    let mut current = schema;
    for segment in path.split('.') {
        let (name, items) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        current = current
            .get("properties")
            .and_then(|p| p.get(name))
            .unwrap_or_else(|| panic!("schema has no property {name:?} on the way to {path}"));
        if items {
            current = current
                .get("items")
                .unwrap_or_else(|| panic!("schema property {name:?} has no items on the way to {path}"));
        }
    }
    current
}

/// A YAML manifest as JSON.
pub fn yaml_to_json(yaml: &str) -> Value {
    serde_norway::from_str(yaml).expect("sample manifest is valid YAML")
}

/// A Region with every field set (spec and status).
pub const REGION_FULL: &str = r#"
apiVersion: regionstack.io/v1alpha1
kind: Region
metadata:
  name: eu-west-1
spec:
  displayName: Europe (Ireland)
  location:
    country: IE
    cloud: aws
    cloudRegion: eu-west-1
  jurisdictions:
  - GDPR
  lifecycle: Active
  telemetry:
    connectionSecretRef:
      namespace: regionstack-system
      name: telemetry-admin
    publisherEndpoint:
      host: boundary.eu-west-1.example.com
      port: 5433
      sslMode: verify-full
status:
  observedGeneration: 2
  conditions:
  - type: Ready
    status: "True"
    reason: Ready
    message: region is active
    lastTransitionTime: "2026-01-02T03:04:05Z"
    observedGeneration: 2
  local: true
  piiDatabases: 1
  telemetryReplicas: 2
"#;

/// A Region with only the required fields and a defaulted publisher port.
pub const REGION_MINIMAL: &str = r"
apiVersion: regionstack.io/v1alpha1
kind: Region
metadata:
  name: ap-south-1
spec:
  location:
    country: IN
  jurisdictions:
  - DPDP
  lifecycle: Planned
  telemetry:
    publisherEndpoint:
      host: boundary.ap-south-1.example.com
";

/// A managed PiiDatabase with every field set (spec and status).
pub const PII_FULL: &str = r#"
apiVersion: regionstack.io/v1alpha1
kind: PiiDatabase
metadata:
  name: orders
  namespace: shop
spec:
  region: eu-west-1
  compliance:
  - GDPR
  managed:
    instances: 2
    imageName: ghcr.io/cloudnative-pg/postgresql:17
    storage:
      size: 20Gi
      storageClass: gp3
    backup:
      objectStore:
        region: eu-west-1
        destinationPath: s3://pii-backups-eu-west-1/orders
        endpointURL: https://s3.eu-west-1.amazonaws.com
        credentialsSecretRef:
          name: backup-creds
      retentionPolicy: 30d
    replicaClusters:
    - name: orders-dr
      region: eu-west-1
  enforcement: Audit
status:
  observedGeneration: 3
  conditions:
  - type: Ready
    status: "True"
    reason: Ready
    message: database is ready
    lastTransitionTime: "2026-01-02T03:04:05Z"
    observedGeneration: 3
  - type: ResidencyCompliant
    status: "False"
    reason: RogueReplication
    message: a publication was found
    lastTransitionTime: "2026-01-02T03:05:00Z"
  violations:
  - code: RogueReplication
    object: publication/leak
    detail: publication leak publishes table users
    firstSeen: "2026-01-02T03:05:00Z"
  lastAuditTime: "2026-01-02T03:06:00Z"
  endpoint: orders-rw.shop.svc:5432/app
"#;

/// A managed PiiDatabase relying on every default (instances, enforcement).
pub const PII_MINIMAL: &str = r"
apiVersion: regionstack.io/v1alpha1
kind: PiiDatabase
metadata:
  name: orders
  namespace: shop
spec:
  region: eu-west-1
  compliance:
  - GDPR
  managed:
    storage:
      size: 10Gi
";

/// An external PiiDatabase relying on the default enforcement.
pub const PII_EXTERNAL: &str = r"
apiVersion: regionstack.io/v1alpha1
kind: PiiDatabase
metadata:
  name: legacy
  namespace: shop
spec:
  region: ap-south-1
  compliance:
  - DPDP
  external:
    connectionSecretRef:
      name: legacy-db
";

/// A TelemetryReplica with every field set (spec and status) and one column per
/// transform.
pub const REPLICA_FULL: &str = r#"
apiVersion: regionstack.io/v1alpha1
kind: TelemetryReplica
metadata:
  name: page-views
  namespace: analytics
spec:
  source:
    region: eu-west-1
    database: metrics
  targets:
  - region: us-east-1
    destination: analytics.page_views
  - region: ap-south-1
  tables:
  - schema: web
    name: page_views
    rowFilter: "status_code < 500 AND country IS NOT NULL"
    columns:
    - name: user_id
      class: identifier
      transform: hash
    - name: email
      class: identifier
      transform: drop
    - name: viewed_at
      class: quasi
      transform: truncateTime
      unit: hour
    - name: client_ip
      class: quasi
      transform: ipPrefix
      ipv4Bits: 24
      ipv6Bits: 48
    - name: latitude
      class: quasi
      transform: round
      digits: 1
    - name: postcode
      class: quasi
      transform: prefix
      characters: 2
    - name: duration_ms
      class: none
      transform: keep
  transferBasis: StandardContractualClauses
  replicationCredentials:
    name: page-views-replication
status:
  observedGeneration: 1
  conditions:
  - type: Ready
    status: "True"
    reason: Ready
    message: publication is live
    lastTransitionTime: "2026-01-02T03:04:05Z"
    observedGeneration: 1
  side: Source
  dataClass: pseudonymous
  publication: regionstack_page_views
  targets:
  - region: us-east-1
    permitted: true
    transferBasis: StandardContractualClauses
    subscription: regionstack_page_views_eu_west_1
    lagBytes: 4096
"#;

/// A TelemetryReplica relying on every default (source database, table schema).
pub const REPLICA_MINIMAL: &str = r"
apiVersion: regionstack.io/v1alpha1
kind: TelemetryReplica
metadata:
  name: page-views
  namespace: analytics
spec:
  source:
    region: eu-west-1
  targets:
  - region: us-east-1
  tables:
  - name: page_views
    columns:
    - name: duration_ms
      class: none
      transform: keep
  replicationCredentials:
    name: page-views-replication
";
