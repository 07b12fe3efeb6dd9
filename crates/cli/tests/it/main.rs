//! End-to-end tests of the `ringfence` binary: each starts the real program against a fresh
//! data dir (and, for PostgreSQL, a fresh database).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acme;
mod api;
mod audit;
mod backups;
mod blobs;
mod config;
mod crash;
mod exports;
mod extract;
mod firms;
mod jobs;
mod keys;
mod large;
mod newcomer;
mod outage;
mod plaintext;
mod postgres;
mod serve;
mod termination;
mod two_servers;
mod upgrades;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ringfence_store::blobs::BlobLocation;
use ringfence_testkit::TestEnv;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

pub const BIN: &str = env!("CARGO_BIN_EXE_ringfence");

/// What an S3 blob store reads from the environment: the test object store's endpoint and
/// credentials.
const S3_VARS: [&str; 5] =
    ["AWS_ENDPOINT", "AWS_ALLOW_HTTP", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

/// `ringfence` pointed at the test's data dir and database (and able to reach the test's
/// S3 store, when one is named with `--blob-store`).
pub fn ringfence(env: &TestEnv) -> Command {
    ringfence_at(env.data_dir(), env.database_url())
}

/// `ringfence` pointed at `data_dir` and, when given, a PostgreSQL database.
pub fn ringfence_at(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("RUST_LOG", "warn");
    for var in S3_VARS {
        if let Ok(value) = std::env::var(var) {
            command.env(var, value);
        }
    }
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    command
}

pub fn run(mut command: Command, stdin: Option<&str>) -> Output {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn ringfence");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("ringfence runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn create_firm(env: &TestEnv, slug: &str, email: &str, extra: &[&str]) -> Output {
    let mut command = ringfence(env);
    command
        .args(["firm", "create", "--name", "Test Firm", "--slug", slug, "--admin-email", email])
        .args(extra);
    run(command, None)
}

/// The `--blob-store` setting naming `location`.
pub fn blob_store_setting(location: &BlobLocation) -> String {
    match location {
        BlobLocation::Local(dir) => format!("local:{}", dir.display()),
        BlobLocation::S3(url) => url.clone(),
    }
}

/// The id of the firm `slug`, as `ringfence firm list` prints it.
pub fn firm_id(env: &TestEnv, slug: &str) -> String {
    let mut list = ringfence(env);
    list.args(["firm", "list"]);
    stdout(&run(list, None))
        .lines()
        .find(|l| l.starts_with(&format!("{slug}\t")))
        .and_then(|l| l.split('\t').nth(1))
        .expect("firm listed")
        .to_owned()
}

/// A direct connection to the control store's tables.
pub async fn raw_control(env: &TestEnv) -> AnyConnection {
    sqlx::any::install_default_drivers();
    match env.database_url() {
        None => {
            let path = env.data_dir().join("control.db");
            AnyConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap()
        }
        Some(url) => {
            let mut conn = AnyConnection::connect(url).await.unwrap();
            conn.execute("SET search_path TO control").await.unwrap();
            conn
        }
    }
}

/// A direct connection to a firm's tables: the SQLite file, or PostgreSQL as the test's
/// superuser with the firm's schema on the search path.
pub async fn raw_firm_connection(env: &TestEnv, firm: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    match env.database_url() {
        None => {
            let path = env.data_dir().join("firms").join(firm).join("firm.db");
            AnyConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap()
        }
        Some(url) => {
            let mut conn = AnyConnection::connect(url).await.unwrap();
            let schema = format!("firm_{}", firm.replace('-', ""));
            conn.execute(AssertSqlSafe(format!(r#"SET search_path TO "{schema}""#))).await.unwrap();
            conn
        }
    }
}

pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running `ringfence serve` on free ports.
pub struct Server {
    child: Child,
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub cert: PathBuf,
    pub banner: String,
}

impl Server {
    pub fn start(env: &TestEnv, extra: &[&str]) -> Server {
        Self::start_on(env, "127.0.0.1:0", extra)
    }

    /// Started with HTTPS on the given address (a port fixed in advance).
    pub fn start_on(env: &TestEnv, listen: &str, extra: &[&str]) -> Server {
        Self::spawn(ringfence(env), env.data_dir(), listen, extra)
    }

    /// Runs `command` (`ringfence` with its global flags) as a server with HTTPS on
    /// `listen`, plain HTTP on a free port and the `extra` serve flags, its self-signed
    /// certificate in `data_dir`, and waits until it is ready.
    pub fn spawn(mut command: Command, data_dir: &Path, listen: &str, extra: &[&str]) -> Server {
        command.args(["serve", "--listen", listen, "--http-listen", "127.0.0.1:0"]).args(extra);
        command.stdout(Stdio::piped()).stderr(Stdio::inherit()).stdin(Stdio::null());
        let mut child = command.spawn().expect("spawn ringfence serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut https, mut http, mut banner) = (None, None, String::new());
        loop {
            let line = lines.next().expect("server printed its banner before exiting").expect("read line");
            if line == "ringfence: ready" {
                break;
            }
            banner.push_str(&line);
            banner.push('\n');
            if let Some(rest) = line.strip_prefix("ringfence: listening on https://") {
                https = Some(rest.trim().parse().expect("https address"));
            }
            if let Some(rest) = line.strip_prefix("ringfence: plain HTTP on http://") {
                http = Some(rest.split_whitespace().next().expect("address").parse().expect("http address"));
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        let tail = std::thread::spawn(move || lines.map_while(Result::ok).count());
        drop(tail);
        let cert = data_dir.join("tls").join("localhost-cert.pem");
        Server { child, https: https.expect("https"), http: http.expect("http"), cert, banner }
    }

    pub fn still_running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https.port())
    }

    pub fn client(&self) -> reqwest::Client {
        install_crypto_provider();
        ringfence_testkit::https_client(&self.cert, None)
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not stop within 10 s of SIGTERM");
    }

    /// Kills the server with SIGKILL, as a crash or the OOM killer would: no shutdown
    /// work runs.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        let status = self.child.wait().expect("wait for the killed server");
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
