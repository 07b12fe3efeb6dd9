//! Closed-loop load: N clients, each sending its next request as soon as the previous one
//! is answered, for a fixed time. Every request's latency is kept (no sampling, no
//! histogram buckets), with its start time, so a window inside the run can be cut out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub type Job = Arc<dyn Fn(usize, u64) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// One request: when it started (µs after the run began) and how long it took (µs).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub start_us: u64,
    pub latency_us: u64,
}

#[derive(Debug, Default)]
pub struct Run {
    pub samples: Vec<Sample>,
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Run {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latencies in ms, sorted.
    pub fn sorted_ms(&self, window: Option<(u64, u64)>) -> Vec<f64> {
        let mut ms: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| window.is_none_or(|(from, to)| s.start_us >= from && s.start_us < to))
            .map(|s| s.latency_us as f64 / 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        ms
    }
}

/// The value at quantile `q` of sorted data (nearest rank); 0 for no data.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.5)
}

/// Runs `clients` loops of `job(client, iteration)` until `duration` has passed. A job
/// answers whether its request succeeded.
pub async fn closed_loop(clients: usize, duration: Duration, job: Job) -> Run {
    closed_loop_until(clients, duration, Arc::new(AtomicBool::new(false)), job).await
}

/// As [`closed_loop`], also stopping early once `stop` is set.
pub async fn closed_loop_until(clients: usize, duration: Duration, stop: Arc<AtomicBool>, job: Job) -> Run {
    let began = Instant::now();
    let deadline = began + duration;
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (job, stop) = (job.clone(), stop.clone());
            tokio::spawn(async move {
                let mut part = Run::default();
                let mut iteration = 0u64;
                loop {
                    let start = Instant::now();
                    if start >= deadline || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let ok = job(client, iteration).await;
                    part.samples.push(Sample {
                        start_us: start.duration_since(began).as_micros() as u64,
                        latency_us: start.elapsed().as_micros() as u64,
                    });
                    if ok {
                        part.ok += 1;
                    } else {
                        part.errors += 1;
                    }
                    iteration += 1;
                }
                part
            })
        })
        .collect();
    let mut run = Run::default();
    for worker in workers {
        if let Ok(part) = worker.await {
            run.samples.extend(part.samples);
            run.ok += part.ok;
            run.errors += part.errors;
        }
    }
    run.elapsed = began.elapsed();
    run
}

/// What one run of a load point is reported as.
pub fn run_json(run: &Run, server_cpu: f64) -> Value {
    let sorted = run.sorted_ms(None);
    json!({
        "rps": run.rps(),
        "p50_ms": quantile(&sorted, 0.50),
        "p99_ms": quantile(&sorted, 0.99),
        "requests": run.ok,
        "errors": run.errors,
        "server_cpu": server_cpu,
    })
}

/// The median of each field over runs (each figure the median of its own values).
pub fn medians(runs: &[Value], fields: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for field in fields {
        let values: Vec<f64> = runs.iter().filter_map(|r| r[*field].as_f64()).collect();
        out.insert((*field).to_owned(), json!(median(&values)));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let data: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&data, 0.5), 50.0);
        assert_eq!(quantile(&data, 0.99), 99.0);
        assert_eq!(quantile(&data, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }
}
