//! Objects a scenario creates for itself, so that the shared seed objects keep working
//! whatever order scenarios run in (and on real clusters other runs share): a scratch
//! PII database with its connection Secret, and a dedicated TelemetryReplica with its
//! own source table, destination table and replication Secret. Names carry a random
//! tag and the label `regionstack.io/e2e=true`; `cleanup` removes everything (it is
//! also safe after a failure halfway).

use anyhow::Context as _;
use kube::Api;
use kube::api::ListParams;
use regionstack_api::PiiDatabase;
use regionstack_sql::ident::quote_ident;
use regionstack_sql::{ConnParams, connect};
use serde_json::{Value, json};

use crate::RegionCluster;
use crate::kubectl::Kubectl;

/// A random lower-case tag for names.
pub fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// The label on everything the suite creates.
pub fn labels() -> Value {
    json!({"regionstack.io/e2e": "true"})
}

/// The superuser connection to `cluster`'s own PII server, through the first
/// PiiDatabase of its region whose connection Secret answers.
pub async fn pii_server_admin(cluster: &RegionCluster) -> anyhow::Result<ConnParams> {
    let dbs = Api::<PiiDatabase>::all(cluster.client.clone()).list(&ListParams::default()).await?;
    for db in dbs.items.iter().filter(|db| db.spec.region == cluster.region) {
        if let Ok(params) = cluster.pii_admin(db).await
            && connect(&params).await.is_ok()
        {
            return Ok(params);
        }
    }
    anyhow::bail!("[{}] no PiiDatabase of the region whose connection Secret reaches its PII server", cluster.region)
}

fn secret_manifest(namespace: &str, name: &str, type_: &str, data: &Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": type_,
        "metadata": {"name": name, "namespace": namespace, "labels": labels()},
        "stringData": data,
    })
}

/// A scratch database on a region's PII server, an application table
/// `public.accounts` with two rows, and the Secret `customers/<name>-admin` (applied
/// with kubectl) that an `external` PiiDatabase can name.
#[derive(Debug)]
pub struct ScratchPii {
    /// Base name (PiiDatabase names derive from it).
    pub name: String,
    /// The connection Secret in namespace `customers`.
    pub secret: String,
    /// The scratch database's connection (superuser).
    pub params: ConnParams,
    admin: ConnParams,
    kubectl: Kubectl,
}

impl ScratchPii {
    /// Creates the database on `cluster`'s PII server and the Secret in `cluster`.
    pub async fn create(cluster: &RegionCluster, purpose: &str) -> anyhow::Result<Self> {
        let name = format!("e2e-{purpose}-{}", tag());
        let database = name.replace('-', "_");
        let admin = pii_server_admin(cluster).await?;
        connect(&admin)
            .await?
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&database)))
            .await
            .with_context(|| format!("creating database {database}"))?;
        let params = admin.with_dbname(&database);
        connect(&params)
            .await?
            .batch_execute(
                "CREATE TABLE public.accounts (id int PRIMARY KEY, email text NOT NULL, full_name text NOT NULL);
                 INSERT INTO public.accounts VALUES (1, 'grace@example.com', 'Grace Hopper'), (2, 'edsger@example.com', 'Edsger Dijkstra')",
            )
            .await?;
        let secret = format!("{name}-admin");
        let mut data = json!({
            "host": params.host, "port": params.port.to_string(), "user": params.user,
            "password": params.password.expose(), "dbname": database, "sslmode": params.ssl_mode.as_str(),
        });
        if let Some(ca) = &params.ca_cert_pem {
            data["ca.crt"] = json!(ca);
        }
        let kubectl = Kubectl::of(cluster)?;
        let scratch = Self { name, secret, params, admin, kubectl };
        scratch.kubectl.apply(&secret_manifest("customers", &scratch.secret, "Opaque", &data)).await?;
        Ok(scratch)
    }

    /// An `external` PiiDatabase manifest over this database.
    pub fn manifest(&self, name: &str, region: &str, compliance: &[&str], enforcement: &str) -> Value {
        json!({
            "apiVersion": regionstack_api::API_VERSION, "kind": "PiiDatabase",
            "metadata": {"name": name, "namespace": "customers", "labels": labels()},
            "spec": {"region": region, "compliance": compliance, "enforcement": enforcement,
                     "external": {"connectionSecretRef": {"name": self.secret}}},
        })
    }

    /// Rows of the application table.
    pub async fn accounts(&self) -> anyhow::Result<i64> {
        crate::db::count(&self.params, "public.accounts").await
    }

    /// Deletes the PiiDatabases named `objects` (kubectl, waiting for finalizers), the
    /// Secret and the database.
    pub async fn cleanup(&self, objects: &[&str]) -> anyhow::Result<()> {
        for object in objects {
            self.kubectl.delete("piidatabase", "customers", object).await?;
        }
        self.kubectl.delete("secret", "customers", &self.secret).await?;
        let database = &self.params.dbname;
        connect(&self.admin)
            .await?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(database)))
            .await
            .with_context(|| format!("dropping database {database}"))?;
        Ok(())
    }
}

/// A dedicated TelemetryReplica from one region to another over its own tables.
#[derive(Debug)]
pub struct ScratchReplica {
    /// The replica's name (namespace `telemetry`).
    pub name: String,
    /// Source region.
    pub from: String,
    /// Target region.
    pub to: String,
    /// Source table `public.<table>` in the source database.
    pub table: String,
    /// Destination table `public.<destination>` in the target's telemetry database.
    pub destination: String,
    /// The source database (the source region's telemetry database).
    pub source_database: String,
    /// The replication Secret (same name in both clusters).
    pub secret: String,
    /// Whether `email` (an identifier) is kept raw: a replica the policy refuses.
    pub raw_email: bool,
    source_admin: ConnParams,
    target_admin: ConnParams,
    kubectl: [Kubectl; 2],
}

/// Namespace of the scratch replicas.
pub const REPLICA_NAMESPACE: &str = "telemetry";

impl ScratchReplica {
    /// Creates the source table (in `from`'s telemetry database), the destination
    /// table (in `to`'s) and the replication Secret in both clusters.
    pub async fn create(
        from: &RegionCluster,
        to: &RegionCluster,
        purpose: &str,
        raw_email: bool,
    ) -> anyhow::Result<Self> {
        let name = format!("e2e-{purpose}-{}", tag());
        let table = name.replace('-', "_");
        let (source_admin, target_admin) = (from.telemetry_admin().await?, to.telemetry_admin().await?);
        let replica = Self {
            destination: format!("{table}_global"),
            secret: format!("{name}-replication"),
            source_database: source_admin.dbname.clone(),
            name,
            table,
            from: from.region.clone(),
            to: to.region.clone(),
            raw_email,
            source_admin,
            target_admin,
            kubectl: [Kubectl::of(from)?, Kubectl::of(to)?],
        };
        let (t, d) = (quote_ident(&replica.table), quote_ident(&replica.destination));
        connect(&replica.source_admin)
            .await?
            .batch_execute(&format!(
                "CREATE TABLE public.{t} (ts timestamptz NOT NULL DEFAULT now(), device_id text NOT NULL, email text,
                 client_ip inet, reading double precision, note text)"
            ))
            .await
            .context("creating the scratch source table")?;
        connect(&replica.target_admin)
            .await?
            .batch_execute(&format!(
                "CREATE TABLE public.{d} (ts timestamptz, device_id text, email text, client_ip inet,
                 reading double precision, note text)"
            ))
            .await
            .context("creating the scratch destination table")?;
        let login = format!("rs_e2e_{}", replica.table.rsplit('_').next().unwrap_or_default());
        let password = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let data = json!({"username": login, "password": password});
        for kubectl in &replica.kubectl {
            kubectl
                .apply(&secret_manifest(REPLICA_NAMESPACE, &replica.secret, "kubernetes.io/basic-auth", &data))
                .await?;
        }
        Ok(replica)
    }

    /// `telemetry/<name>`, what the operator derives names from.
    pub fn id(&self) -> String {
        format!("{REPLICA_NAMESPACE}/{}", self.name)
    }

    /// The replica manifest (applied to both clusters, as a GitOps tool would).
    pub fn manifest(&self) -> Value {
        let email = if self.raw_email { "keep" } else { "drop" };
        json!({
            "apiVersion": regionstack_api::API_VERSION, "kind": "TelemetryReplica",
            "metadata": {"name": self.name, "namespace": REPLICA_NAMESPACE, "labels": labels()},
            "spec": {
                "source": {"region": self.from, "database": self.source_database},
                "targets": [{"region": self.to, "destination": format!("public.{}", self.destination)}],
                "replicationCredentials": {"name": self.secret},
                "tables": [{"schema": "public", "name": self.table, "columns": [
                    {"name": "ts", "class": "quasi", "transform": "truncateTime", "unit": "minute"},
                    {"name": "device_id", "class": "identifier", "transform": "hash"},
                    {"name": "email", "class": "identifier", "transform": email},
                    {"name": "client_ip", "class": "quasi", "transform": "ipPrefix", "ipv4Bits": 24, "ipv6Bits": 48},
                    {"name": "reading", "class": "none", "transform": "keep"},
                    {"name": "note", "class": "none", "transform": "keep"},
                ]}],
            },
        })
    }

    /// `kubectl apply` of the replica to the source and the target cluster.
    pub async fn apply(&self) -> anyhow::Result<()> {
        for kubectl in &self.kubectl {
            kubectl.apply(&self.manifest()).await?;
        }
        Ok(())
    }

    /// Waits until both sides report `Ready=True, Reconciled` (kubectl's view).
    pub async fn wait_ready(&self, timeout: std::time::Duration) -> anyhow::Result<()> {
        for kubectl in &self.kubectl {
            kubectl
                .wait_condition(
                    "telemetryreplica",
                    REPLICA_NAMESPACE,
                    &self.name,
                    "Ready",
                    ("True", "Reconciled"),
                    timeout,
                )
                .await?;
        }
        Ok(())
    }

    /// kubectl of the source (`0`) or target (`1`) cluster.
    pub fn kubectl(&self, side: usize) -> &Kubectl {
        &self.kubectl[side]
    }

    /// The source server's admin connection (the source database).
    pub fn source_admin(&self) -> &ConnParams {
        &self.source_admin
    }

    /// The target server's admin connection (its telemetry database).
    pub fn target_admin(&self) -> &ConnParams {
        &self.target_admin
    }

    /// Inserts a row with personal data, tagged `note`, into the source table.
    pub async fn insert(&self, note: &str) -> anyhow::Result<()> {
        let sql = format!(
            "INSERT INTO public.{} (device_id, email, client_ip, reading, note) VALUES ($1, $2, '198.51.100.23', 1.5, $3)",
            quote_ident(&self.table)
        );
        let device = format!("device-{note}");
        let email = format!("{note}@example.com");
        connect(&self.source_admin).await?.execute(&sql, &[&device, &email, &note]).await?;
        Ok(())
    }

    /// Rows tagged `note` in the source table (`false`) or the destination table (`true`).
    pub async fn rows(&self, destination: bool, note: &str) -> anyhow::Result<i64> {
        let (params, table) =
            if destination { (&self.target_admin, &self.destination) } else { (&self.source_admin, &self.table) };
        let sql = format!("SELECT count(*) FROM public.{} WHERE note = $1", quote_ident(table));
        Ok(connect(params).await?.query_one(&sql, &[&note]).await?.get(0))
    }

    /// Deletes the replica in both clusters (source first; kubectl waits for the
    /// finalizers), the Secrets, and both tables.
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        for kubectl in &self.kubectl {
            kubectl.delete("telemetryreplica", REPLICA_NAMESPACE, &self.name).await?;
        }
        for kubectl in &self.kubectl {
            kubectl.delete("secret", REPLICA_NAMESPACE, &self.secret).await?;
        }
        let drop_source = format!("DROP TABLE IF EXISTS public.{}", quote_ident(&self.table));
        connect(&self.source_admin).await?.batch_execute(&drop_source).await?;
        let drop_destination = format!("DROP TABLE IF EXISTS public.{}", quote_ident(&self.destination));
        connect(&self.target_admin).await?.batch_execute(&drop_destination).await?;
        Ok(())
    }
}
