//! Real PostgreSQL servers for regionstack's tests and demo (DESIGN §8).
//!
//! [`PgServer::start`] runs `initdb` into a fresh temporary directory and starts
//! `postgres` on a free `127.0.0.1` port with `wal_level=logical` and room for
//! logical replication (32 slots and WAL senders, 32 logical replication workers),
//! `fsync=off`, and a random password for the superuser `postgres` (scram-sha-256
//! over TCP; trust on the server's private Unix socket). Dropping the server, also
//! while a test panics, stops it and removes the directory; a watchdog process does
//! the same if the test process dies without running destructors.
//!
//! ```no_run
//! let server = testbed::PgServer::start()?;
//! server.create_database("app")?;
//! assert_eq!(server.psql("app", "SHOW wal_level")?, "logical");
//! let conninfo = server.connection_string("app"); // for tokio-postgres
//! # let _ = conninfo;
//! let regions = testbed::Cluster::start(3)?;      // three servers, started in parallel
//! # let _ = regions;
//! # Ok::<(), testbed::TestbedError>(())
//! ```
//!
//! The binaries come from `$REGIONSTACK_PG_BINDIR`, `/usr/lib/postgresql/15/bin`,
//! `pg_config --bindir` or the highest `/usr/lib/postgresql/*/bin`; without them
//! starting fails (tests never skip). PostgreSQL refuses to run as root: when the
//! tests run as root, `initdb`, `pg_ctl` and `postgres` run as the `postgres` system
//! user (`$REGIONSTACK_PG_USER` to choose another) through `runuser`.
//!
//! [`topology`] builds the multi-region seed topology on top: per region an emulated
//! Kubernetes cluster, a PII and a telemetry server, Secrets, a CloudNativePG
//! stand-in and the region's `regionstack run` operator process (the demo and the
//! end-to-end tests run on it).

mod bin;
mod cluster;
mod error;
pub mod poll;
mod process;
mod scan;
mod server;
pub mod topology;
mod util;

pub use bin::{BINDIR_ENV, bindir};
pub use cluster::Cluster;
pub use error::TestbedError;
pub use process::{USER_ENV, process_alive};
pub use server::{HOST, PgOptions, PgServer, SUPERUSER};
