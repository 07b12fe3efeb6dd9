//! One server against two on the same PostgreSQL database: the main read and the note
//! write at the load points of the single-server tables, with half the clients on each
//! server. The second server shares the first one's data dir, so the same `master.key` and
//! TLS certificate; it is started once the first is up, so only the seeding ever created
//! the key. Both servers, PostgreSQL and the load generator share the machine's cores: the
//! figure shows what a second server costs or gains on one box, not horizontal scale.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Ctx, get_job, log, matter_paths, note_bodies, note_job};
use crate::load::{self, Job, closed_loop, run_json};
use crate::report;
use crate::seed::{self, Firm};
use crate::server::{Server, ServerCommand};
use crate::{BenchResult, fail, http};

/// The read is measured at the concurrencies of the read table's last two columns.
const READ_CLIENTS: [usize; 2] = [16, 64];

#[derive(Clone, Copy)]
enum Load {
    Read,
    NoteWrite,
}

pub async fn measure(
    ctx: &Ctx<'_>,
    firm: &Firm,
    command: &ServerCommand,
    figures: &mut Value,
) -> BenchResult<()> {
    log("two servers: starting a second server on the same database and data dir");
    let second = ServerCommand { log: command.log.with_extension("2.log"), ..command.clone() };
    let second = second.start().await?;
    let outcome = Box::pin(compare(ctx, firm, &second)).await;
    // Stopping writes the audit entries it still holds, so the chain below is complete.
    second.stop().await?;
    let mut comparison = outcome?;
    comparison["audit_verify"] = json!(verify_audit_chain(ctx)?);
    figures["two_servers"] = comparison;
    Ok(())
}

async fn compare(ctx: &Ctx<'_>, firm: &Firm, second: &Server) -> BenchResult<Value> {
    let pair = [ctx.server, second];
    let most = READ_CLIENTS.into_iter().chain([ctx.plan.write_clients]).max().unwrap_or(1);
    // Client `c` on server `c % 2`, its connection made before anything is timed.
    let spread: Vec<reqwest::Client> =
        (0..most).map(|_| http::client(&second.cert)).collect::<BenchResult<_>>()?;
    for (c, client) in spread.iter().enumerate() {
        client.get(pair[c % pair.len()].url("/healthz")).send().await?.bytes().await?;
    }
    // The session was made on the first server; the second must honour it from the database.
    let listed = spread[1].get(second.url("/api/v1/matters")).bearer_auth(&*ctx.token).send().await?;
    if !listed.status().is_success() {
        return Err(fail(format!("the second server refused the first one's session: {}", listed.status())));
    }
    let listed: Value = listed.json().await?;
    if listed["items"].as_array().map_or(0, Vec::len) != firm.bench_matters.len() {
        return Err(fail("the second server lists other matters than the first"));
    }

    let one: (&[&Server], Arc<Vec<reqwest::Client>>) = (&pair[..1], ctx.clients.clone());
    let two: (&[&Server], Arc<Vec<reqwest::Client>>) = (&pair[..], Arc::new(spread));
    let read_paths = matter_paths(firm, "");
    let bodies = Arc::new(note_bodies(ctx.plan, firm));
    let job = |(servers, clients): &(&[&Server], Arc<Vec<reqwest::Client>>), load: Load| -> Job {
        match load {
            Load::Read => get_job(clients.clone(), ctx.token.clone(), servers, &read_paths),
            Load::NoteWrite => note_job(clients.clone(), ctx.token.clone(), servers, firm, bodies.clone()),
        }
    };
    let points: Vec<(Load, usize)> = READ_CLIENTS
        .into_iter()
        .map(|clients| (Load::Read, clients))
        .chain([(Load::NoteWrite, ctx.plan.write_clients)])
        .collect();

    // The second server has yet to fill its connection pool and statement caches.
    for setup in [&one, &two] {
        for (load, clients) in &points {
            let _ = closed_loop(*clients, ctx.plan.warmup, job(setup, *load)).await;
        }
    }
    // One and two servers take turns within each run, so drifting load from other work on
    // the machine falls on both alike.
    let mut runs = vec![vec![Vec::new(); points.len()]; 2];
    for run in 0..ctx.plan.runs {
        log(&format!("two servers: run {} of {}", run + 1, ctx.plan.runs));
        for (setup, by_point) in [&one, &two].into_iter().zip(runs.iter_mut()) {
            for ((load, clients), point_runs) in points.iter().zip(by_point.iter_mut()) {
                let (measured, cpu) = ctx.point_on(setup.0, *clients, job(setup, *load)).await;
                point_runs.push(run_json(&measured, cpu));
            }
        }
    }
    let mut out = Vec::new();
    for ((load, clients), (on_one, on_two)) in points.iter().zip(runs[0].iter().zip(&runs[1])) {
        for (servers, point_runs) in [(1, on_one), (2, on_two)] {
            out.push(json!({
                "endpoint": match load {
                    Load::Read => report::MATTER_READ,
                    Load::NoteWrite => report::NOTE_WRITE,
                },
                "clients": clients,
                "servers": servers,
                "runs": point_runs,
                "median": load::medians(point_runs, &["rps", "p50_ms", "p99_ms", "server_cpu", "errors"]),
            }));
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    Ok(json!({ "points": out, "cores": cores }))
}

/// Walks the firm's audit chain, which both servers appended to at once, with the
/// server's own `audit verify`; a fork or a gap fails the run. Answers what it printed.
fn verify_audit_chain(ctx: &Ctx<'_>) -> BenchResult<String> {
    log("two servers: verifying the audit chain both servers wrote to");
    let started = Instant::now();
    let mut command = Command::new(&ctx.options.server_binary);
    command.env("RUST_LOG", "warn").arg("--data-dir").arg(&ctx.data_dir);
    if let Some(url) = &ctx.database_url {
        command.arg("--database-url").arg(url);
    }
    let output = command.args(["audit", "verify", "--firm", seed::FIRM_SLUG]).output()?;
    if !output.status.success() {
        return Err(fail(format!(
            "the audit chain does not verify after two servers wrote to it: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    log(&format!("two servers: {said} ({:.1} s)", started.elapsed().as_secs_f64()));
    Ok(said)
}
