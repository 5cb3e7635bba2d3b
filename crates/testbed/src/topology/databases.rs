//! What each region's PostgreSQL servers hold before the operator arrives: the
//! application's databases and tables, as a platform team would have them.

use crate::{PgServer, TestbedError};

/// The PII database on each region's PII server (what `customers-<region>-admin`
/// Secrets name).
pub const PII_DATABASE: &str = "customers";

/// The telemetry database on each region's telemetry server (the replicas' source
/// database and the import database).
pub const TELEMETRY_DATABASE: &str = "telemetry";

/// The application table the seed replicas export (`examples/telemetry-replicas.yaml`).
pub const SOURCE_TABLE: &str = "public.device_metrics";

/// The import destination the seed replicas name in every target region.
pub const DESTINATION_TABLE: &str = "public.device_metrics_global";

/// The PII application: one table of customers.
const PII_SCHEMA: &str = "
CREATE TABLE public.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    full_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.customers (email, full_name) VALUES
    ('ada@example.com', 'Ada Lovelace'),
    ('alan@example.com', 'Alan Turing');
";

/// The telemetry application: the raw table with the columns every replica rule of
/// the seed names, and the destination of imported (anonymized) rows: the export's
/// shape (hashed identifiers as text, `email` dropped, generalized quasi-identifiers
/// in their own types) plus when the row arrived.
const TELEMETRY_SCHEMA: &str = "
CREATE TABLE public.device_metrics (
    ts timestamptz NOT NULL DEFAULT now(),
    device_id text NOT NULL,
    user_id text,
    email text,
    client_ip inet,
    latitude double precision,
    longitude double precision,
    firmware text,
    temperature double precision,
    battery double precision
);
CREATE TABLE public.device_metrics_global (
    ts timestamptz,
    device_id text,
    user_id text,
    client_ip inet,
    latitude double precision,
    longitude double precision,
    firmware text,
    temperature double precision,
    battery double precision,
    received timestamptz NOT NULL DEFAULT now()
);
";

/// Creates the PII database and its table.
pub fn prepare_pii(server: &PgServer) -> Result<(), TestbedError> {
    server.create_database(PII_DATABASE)?;
    server.psql(PII_DATABASE, PII_SCHEMA).map(drop)
}

/// Creates the telemetry database and its tables.
pub fn prepare_telemetry(server: &PgServer) -> Result<(), TestbedError> {
    server.create_database(TELEMETRY_DATABASE)?;
    server.psql(TELEMETRY_DATABASE, TELEMETRY_SCHEMA).map(drop)
}
