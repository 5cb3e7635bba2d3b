//! `pg-hold`: start one PostgreSQL server, print `READY <port> <pid> <dir>`, and wait
//! (up to a minute) to be killed. The testbed's tests kill it with SIGKILL to prove the
//! watchdog stops an orphaned server; it is also handy for poking at a server by hand.

fn main() {
    let server = testbed::PgServer::start_with(testbed::PgOptions::new("orphan")).expect("start PostgreSQL");
    println!("READY {} {} {}", server.port(), server.pid(), server.base_dir().display());
    std::thread::sleep(std::time::Duration::from_secs(60));
}
