//! Several servers at once, for multi-region tests.

use std::ops::Index;

use crate::{PgOptions, PgServer, TestbedError};

/// Several [`PgServer`]s started in parallel; dropping the cluster stops them all.
#[derive(Debug)]
pub struct Cluster {
    servers: Vec<PgServer>,
}

impl Cluster {
    /// Starts `n` servers named `pg0`, `pg1`, … in parallel threads.
    pub fn start(n: usize) -> Result<Self, TestbedError> {
        Self::start_with((0..n).map(|i| PgOptions::new(format!("pg{i}"))).collect())
    }

    /// Starts one server per entry of `options`, in parallel threads, in that order.
    /// If any fails, the others are stopped and the first error is returned.
    pub fn start_with(options: Vec<PgOptions>) -> Result<Self, TestbedError> {
        let results: Vec<Result<PgServer, TestbedError>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                options.into_iter().map(|opts| scope.spawn(move || PgServer::start_with(opts))).collect();
            handles
                .into_iter()
                .map(|handle| match handle.join() {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        // Collecting drops the servers that did start when one failed.
        let servers = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(Self { servers })
    }

    /// The servers, in the order they were asked for.
    pub fn servers(&self) -> &[PgServer] {
        &self.servers
    }

    /// The server at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&PgServer> {
        self.servers.get(index)
    }

    /// The server called `name`, if any.
    pub fn by_name(&self, name: &str) -> Option<&PgServer> {
        self.servers.iter().find(|server| server.name() == name)
    }

    /// How many servers there are.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The servers, one by one.
    pub fn iter(&self) -> std::slice::Iter<'_, PgServer> {
        self.servers.iter()
    }

    /// The servers themselves, to be stopped one by one.
    pub fn into_servers(self) -> Vec<PgServer> {
        self.servers
    }

    /// Stops all servers (in parallel) and removes their directories.
    pub fn stop(self) {
        std::thread::scope(|scope| {
            for server in self.servers {
                scope.spawn(move || server.stop());
            }
        });
    }
}

impl Index<usize> for Cluster {
    type Output = PgServer;

    fn index(&self, index: usize) -> &PgServer {
        &self.servers[index]
    }
}

impl<'a> IntoIterator for &'a Cluster {
    type Item = &'a PgServer;
    type IntoIter = std::slice::Iter<'a, PgServer>;

    fn into_iter(self) -> Self::IntoIter {
        self.servers.iter()
    }
}
