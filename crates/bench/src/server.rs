//! The server under test: the real `ringfence serve` binary on loopback ports of its own,
//! with what the kernel says about its memory and CPU time.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{BenchResult, fail};

#[derive(Clone)]
pub struct ServerCommand {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub log: PathBuf,
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub cert: PathBuf,
    /// From spawning the process to the first 200 from `/readyz`.
    pub cold_start: Duration,
}

impl ServerCommand {
    /// Starts the server and waits until `/readyz` answers 200.
    pub async fn start(&self) -> BenchResult<Server> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.binary);
        command.env("RUST_LOG", "warn").arg("--data-dir").arg(&self.data_dir);
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        command.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--max-upload-mib",
            "2048",
        ]);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(log));
        let spawned = Instant::now();
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| fail("no stdout from the server"))?;
        // The banner is read on a thread of its own, which then keeps draining stdout.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut addr = None;
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("ringfence: listening on https://") {
                    addr = rest.trim().parse::<SocketAddr>().ok();
                }
                if line == "ringfence: ready" {
                    break;
                }
            }
            let _ = tx.send(addr);
            lines.map_while(Result::ok).count()
        });
        let addr = match tokio::time::timeout(Duration::from_secs(120), rx).await {
            Ok(Ok(Some(addr))) => addr,
            _ => {
                let _ = child.kill();
                return Err(fail(format!("the server did not start; see {}", self.log.display())));
            }
        };
        let cert = self.data_dir.join("tls").join("localhost-cert.pem");
        let client = crate::http::client(&cert)?;
        let url = format!("https://{addr}/readyz");
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                break;
            }
            if spawned.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                return Err(fail("the server never became ready"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let cold_start = spawned.elapsed();
        Ok(Server { child, addr, cert, cold_start })
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// SIGTERM, then wait for the drain to finish.
    pub async fn stop(mut self) -> BenchResult<()> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        if !status.success() {
            return Err(fail("could not signal the server"));
        }
        for _ in 0..600 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.child.kill()?;
        self.child.wait()?;
        Err(fail("the server did not stop within 30 s of SIGTERM"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `Vm…:` line of `/proc/<pid>/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak-RSS mark (`VmHWM`) so the next reading covers only what follows.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User plus system CPU time of the whole process, in seconds.
pub fn cpu_seconds(pid: u32, clock_ticks: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks
}

/// Samples VmRSS every 50 ms until stopped, keeping the largest value.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { stop, max, task }
    }

    /// The largest VmRSS seen, in KiB.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.max.load(Ordering::Relaxed)
    }
}

pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
