//! A PostgreSQL server of one test's own, for tests that stop and start it while a server
//! uses it: the shared one serves every other test at the same time. Made with Debian's
//! `initdb` and `pg_ctl` (run as the `postgres` user when the tests run as root), on a
//! free port, with its sockets and files in a temporary directory that goes with it.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

/// Where Debian keeps each installed PostgreSQL version's server binaries.
const DEBIAN_SERVER_BINARIES: &str = "/usr/lib/postgresql";

pub struct PrivatePostgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl PrivatePostgres {
    /// A fresh cluster, started. `None` (with a note) outside CI when PostgreSQL's server
    /// binaries are not installed; under `CI=true` that fails the test.
    pub fn start() -> Option<Self> {
        let Some(bin) = newest_server_binaries() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL's server binaries (initdb, pg_ctl) must be installed under CI=true: \
                 scripts/test installs them"
            );
            eprintln!(
                "note: no {DEBIAN_SERVER_BINARIES}/*/bin/initdb; skipping a test that stops its own PostgreSQL"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory for PostgreSQL");
        let as_postgres_user = running_as_root();
        if as_postgres_user {
            // initdb refuses to run as root; the cluster belongs to the postgres user.
            let owned = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status();
            assert!(owned.is_ok_and(|s| s.success()), "chown the PostgreSQL directory to postgres");
        }
        let port = crate::free_port();
        let postgres = Self { dir, bin, port, as_postgres_user };
        let data = postgres.data_dir();
        let initdb = ["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"];
        postgres.run("initdb", &initdb.map(str::to_owned)).unwrap_or_else(|failure| panic!("{failure}"));
        postgres.start_again();
        Some(postgres)
    }

    /// The superuser's URL, on TCP.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash would: no connection is closed politely.
    pub fn stop(&self) {
        self.run("pg_ctl", &self.stop_args()).unwrap_or_else(|failure| panic!("{failure}"));
    }

    fn stop_args(&self) -> [String; 6] {
        ["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"].map(str::to_owned)
    }

    /// Starts the (stopped) server again on the same port, and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let args = ["-D", &self.data_dir(), "-l", &log, "-w", "-t", "120", "-o", &options, "start"];
        self.run("pg_ctl", &args.map(str::to_owned)).unwrap_or_else(|failure| panic!("{failure}"));
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[String]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output =
            command.args(args).output().map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{program} {args:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Stopped by the test already, perhaps: then this fails, and that is fine.
        let _ = self.run("pg_ctl", &self.stop_args());
    }
}

fn newest_server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_SERVER_BINARIES)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
