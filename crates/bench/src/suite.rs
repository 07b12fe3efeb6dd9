//! One backend's whole run: seed, start the real server, measure each scenario a few
//! times, and answer the figures as JSON for the report.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringfence_store::{Backend, StorageLocation};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::documents::{self, Generated};
use crate::load::{self, Job, Run, closed_loop, closed_loop_until, median, quantile, run_json};
use crate::report;
use crate::seed::{self, Firm, Sizes};
use crate::server::{self, RssSampler, Server, ServerCommand};
use crate::{BenchResult, fail, http, raw};

mod backups;
mod key_rotation;
mod two_servers;

/// A part of the suite that can be run alone.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// One server against two on the same PostgreSQL database.
    TwoServers,
    /// Rotating the firm's key and re-sealing its values under the new one.
    KeyRotation,
    /// Backing the firm up, verifying the backup, and restoring it in place.
    Backups,
}

pub struct Options {
    pub backend: Backend,
    pub server_binary: PathBuf,
    pub work_dir: PathBuf,
    /// Where to create (and afterwards drop) the bench database, for PostgreSQL.
    pub pg_admin_url: String,
    pub pg_database: String,
    pub quick: bool,
    pub seconds: f64,
    pub runs: usize,
    pub clock_ticks: f64,
    /// Seed and serve as usual, then measure only this part.
    pub only: Option<Part>,
}

struct Plan {
    sizes: Sizes,
    point: Duration,
    warmup: Duration,
    runs: usize,
    concurrency: [usize; 3],
    write_clients: usize,
    document_bytes: u64,
    storm_signins: usize,
    storm_readers: usize,
    export_limit: Duration,
}

impl Plan {
    fn new(options: &Options) -> Self {
        let runs = options.runs.max(1);
        let storm_signins = if options.quick { 20 } else { 50 };
        let sizes = if options.quick {
            Sizes {
                users: 120,
                matters: 2_000,
                bench_matters: 50,
                notes_per_matter: 5,
                clients: 200,
                audit_entries: 50_000,
                storm_users: storm_signins * runs,
                vocabulary: 5_000,
                words_per_note: 12,
                documents: 8,
                document_bytes: 512 << 10,
            }
        } else {
            Sizes {
                users: 500,
                matters: 20_000,
                bench_matters: 50,
                notes_per_matter: 5,
                clients: 2_000,
                audit_entries: 1_000_000,
                storm_users: storm_signins * runs,
                vocabulary: 5_000,
                words_per_note: 12,
                // 1 GiB of documents.
                documents: 256,
                document_bytes: 4 << 20,
            }
        };
        Plan {
            sizes,
            point: Duration::from_secs_f64(options.seconds),
            warmup: Duration::from_secs_f64((options.seconds / 4.0).min(1.0)),
            runs,
            concurrency: [1, 16, 64],
            write_clients: 16,
            document_bytes: if options.quick { 64 << 20 } else { 1 << 30 },
            storm_signins,
            storm_readers: 16,
            export_limit: Duration::from_secs(if options.quick { 120 } else { 150 }),
        }
    }
}

/// A PostgreSQL database made for the run, dropped (with the firm's roles) afterwards.
struct BenchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl BenchDatabase {
    async fn create(admin_url: &str, name: &str) -> BenchResult<Self> {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(fail("the bench database name may hold only letters, digits and _"));
        }
        let mut admin = PgConnection::connect(admin_url).await?;
        admin.execute(AssertSqlSafe(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))).await?;
        admin.execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#))).await?;
        admin.close().await?;
        let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
        let without_path = base.rsplit_once('/').map_or(base, |(b, _)| b);
        let url = match query {
            Some(q) => format!("{without_path}/{name}?{q}"),
            None => format!("{without_path}/{name}"),
        };
        Ok(Self { admin_url: admin_url.to_owned(), name: name.to_owned(), url })
    }

    async fn drop_all(&self) -> BenchResult<()> {
        let mut conn = PgConnection::connect(&self.url).await?;
        let schemas: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'firm\\_%'")
                .fetch_all(&mut conn)
                .await?;
        conn.close().await?;
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        admin
            .execute(AssertSqlSafe(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name)))
            .await?;
        for schema in schemas {
            let hex = schema.trim_start_matches("firm_");
            if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            for role in [format!("rf_{hex}"), format!("rf_{hex}_owner")] {
                admin.execute(AssertSqlSafe(format!(r#"DROP ROLE IF EXISTS "{role}""#))).await?;
            }
        }
        Ok(())
    }
}

pub async fn run(options: &Options) -> BenchResult<Value> {
    let name = match options.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    if options.only == Some(Part::TwoServers) && options.backend != Backend::Postgres {
        return Err(fail("two servers share one database only on PostgreSQL"));
    }
    let data_dir = options.work_dir.join(format!("{name}-data"));
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)?;
    }
    std::fs::create_dir_all(&options.work_dir)?;
    let database = match options.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(BenchDatabase::create(&options.pg_admin_url, &options.pg_database).await?),
    };
    let outcome = Box::pin(measure(options, name, &data_dir, database.as_ref())).await;
    if let Some(database) = &database
        && let Err(err) = database.drop_all().await
    {
        eprintln!("could not drop the bench database {}: {err}", database.name);
    }
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    outcome
}

fn log(message: &str) {
    eprintln!("[bench] {message}");
}

async fn measure(
    options: &Options,
    name: &str,
    data_dir: &std::path::Path,
    database: Option<&BenchDatabase>,
) -> BenchResult<Value> {
    let plan = Plan::new(options);
    let location = match database {
        Some(db) => StorageLocation::postgres(db.url.clone()),
        None => StorageLocation::Sqlite,
    };
    log(&format!("{name}: seeding"));
    let seeded_at = Instant::now();
    let parallel = if database.is_some() { 4 } else { 1 };
    let firm = seed::seed(&location, data_dir, plan.sizes, parallel).await?;
    let seed_seconds = seeded_at.elapsed().as_secs_f64();

    let command = ServerCommand {
        binary: options.server_binary.clone(),
        data_dir: data_dir.to_owned(),
        database_url: database.map(|db| db.url.clone()),
        log: options.work_dir.join(format!("{name}-server.log")),
    };
    log(&format!("{name}: cold starts"));
    let mut cold_ms = Vec::new();
    let mut started = None;
    for run in 0..plan.runs {
        let server = command.start().await?;
        cold_ms.push(server.cold_start.as_secs_f64() * 1000.0);
        if run + 1 < plan.runs {
            server.stop().await?;
        } else {
            started = Some(server);
        }
    }
    let server = started.ok_or_else(|| fail("no server"))?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server::status_kib(server.pid(), "VmRSS:");

    let mut figures = json!({
        "backend": name,
        "blob_store": "local (DATA/blobs)",
        "sizes": {
            "users": plan.sizes.users,
            "matters": plan.sizes.matters,
            "bench_matters": plan.sizes.bench_matters,
            "notes": plan.sizes.matters * plan.sizes.notes_per_matter,
            "audit_entries": plan.sizes.audit_entries,
            "document_bytes": plan.document_bytes,
            "seeded_documents": plan.sizes.documents,
            "seeded_document_bytes": plan.sizes.documents as u64 * plan.sizes.document_bytes,
        },
        "point_seconds": plan.point.as_secs_f64(),
        "runs": plan.runs,
        "seed_seconds": seed_seconds,
        "seed_steps": firm.timings.iter().map(|(k, v)| json!({ "step": k, "seconds": v })).collect::<Vec<_>>(),
    });
    let outcome = scenarios(options, &plan, &firm, &server, &command, &mut figures).await;
    let binary_bytes = server::file_size(&options.server_binary);
    figures["footprint"]["idle_rss_kib"] = json!(idle_rss);
    figures["footprint"]["binary_bytes"] = json!(binary_bytes);
    figures["footprint"]["cold_start_ms"] = json!({ "runs": cold_ms, "median": median(&cold_ms) });
    server.stop().await?;
    outcome?;
    if options.only.is_none_or(|part| part == Part::KeyRotation) {
        let alone = options.only.is_some();
        figures["key_rotation"] = key_rotation::measure(&location, data_dir, firm.id, alone).await?;
    }
    // Last: the restore replaces the firm's store with the backup's.
    if options.only.is_none_or(|part| part == Part::Backups) {
        let alone = options.only.is_some();
        if alone {
            // The full run fills the log for the audit export; alone, it is filled here.
            let target = plan.sizes.audit_entries;
            log(&format!("{name}: filling the audit log to {target} entries"));
            firm.fill_audit_log(target).await?;
        }
        let target_dir = options.work_dir.join(format!("{name}-backups"));
        figures["backups"] = backups::measure(&location, data_dir, &target_dir, firm.id, alone).await?;
    }
    Ok(figures)
}

struct Ctx<'a> {
    options: &'a Options,
    data_dir: PathBuf,
    database_url: Option<String>,
    plan: &'a Plan,
    server: &'a Server,
    clients: Arc<Vec<reqwest::Client>>,
    token: Arc<str>,
}

impl Ctx<'_> {
    /// Runs `job` at `clients` for the plan's point duration, with the server's CPU use.
    async fn point(&self, clients: usize, job: Job) -> (Run, f64) {
        self.point_on(&[self.server], clients, job).await
    }

    /// [`Ctx::point`] against several servers: their CPU time is added up (2 cores = 200%).
    async fn point_on(&self, servers: &[&Server], clients: usize, job: Job) -> (Run, f64) {
        let cpu = || -> f64 {
            servers.iter().map(|s| server::cpu_seconds(s.pid(), self.options.clock_ticks)).sum()
        };
        let cpu_before = cpu();
        let run = closed_loop(clients, self.plan.point, job).await;
        let share = (cpu() - cpu_before) / run.elapsed.as_secs_f64().max(1e-9);
        (run, share)
    }

    /// GETs `paths` on the server, in turn.
    fn get_job(&self, paths: &[String]) -> Job {
        get_job(self.clients.clone(), self.token.clone(), &[self.server], paths)
    }
}

/// The URLs of `paths` on each server. Client `c` of a load point sends every request to
/// server `c % servers.len()`, so each client keeps its one connection to one server.
fn urls_on(servers: &[&Server], paths: &[String]) -> Arc<Vec<Vec<String>>> {
    Arc::new(servers.iter().map(|s| paths.iter().map(|p| s.url(p)).collect()).collect())
}

/// GETs `paths` in turn, each client on its own server (see [`urls_on`]).
fn get_job(
    clients: Arc<Vec<reqwest::Client>>,
    token: Arc<str>,
    servers: &[&Server],
    paths: &[String],
) -> Job {
    let urls = urls_on(servers, paths);
    Arc::new(move |client, iteration| {
        let on_server = &urls[client % urls.len()];
        let request = clients.get(client).map(|c| {
            let url = &on_server[(client + iteration as usize * 7) % on_server.len()];
            c.get(url).bearer_auth(&*token)
        });
        Box::pin(async move {
            let Some(request) = request else { return false };
            match request.send().await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    response.bytes().await.is_ok() && ok
                }
                Err(_) => false,
            }
        })
    })
}

/// The paths of the bench user's matters, which `{id}` cycles through.
fn matter_paths(firm: &Firm, suffix: &str) -> Vec<String> {
    firm.bench_matters.iter().map(|m| format!("/api/v1/matters/{m}{suffix}")).collect()
}

/// Note bodies of the plan's length, in the firm's vocabulary.
fn note_bodies(plan: &Plan, firm: &Firm) -> Vec<String> {
    let mut rng = crate::words::Rng::new(0xb0d1e5);
    (0..256).map(|_| firm.vocabulary.sentence(&mut rng, plan.sizes.words_per_note)).collect()
}

/// POSTs a note to the bench matters in turn, each client on its own server (see [`urls_on`]).
fn note_job(
    clients: Arc<Vec<reqwest::Client>>,
    token: Arc<str>,
    servers: &[&Server],
    firm: &Firm,
    bodies: Arc<Vec<String>>,
) -> Job {
    let urls = urls_on(servers, &matter_paths(firm, "/notes"));
    Arc::new(move |client, iteration| {
        let i = client + iteration as usize * 7;
        let body = json!({ "kind": "note", "body": bodies[i % bodies.len()], "privileged": false });
        let on_server = &urls[client % urls.len()];
        let request = clients
            .get(client)
            .map(|c| c.post(&on_server[i % on_server.len()]).bearer_auth(&*token).json(&body));
        Box::pin(async move {
            let Some(request) = request else { return false };
            match request.send().await {
                Ok(response) => {
                    response.status() == reqwest::StatusCode::CREATED && response.bytes().await.is_ok()
                }
                Err(_) => false,
            }
        })
    })
}

async fn scenarios(
    options: &Options,
    plan: &Plan,
    firm: &Firm,
    server: &Server,
    command: &ServerCommand,
    figures: &mut Value,
) -> BenchResult<()> {
    let base = server.url("");
    let max_clients = plan.concurrency.iter().copied().max().unwrap_or(1);
    let clients: Vec<reqwest::Client> =
        (0..max_clients).map(|_| http::client(&server.cert)).collect::<BenchResult<_>>()?;
    let token: Arc<str> =
        http::sign_in(&clients[0], &base, &firm.bench_user.email, &firm.bench_user.totp).await?.into();
    // Every client's connection is made (TLS handshake and all) before anything is timed.
    for client in &clients {
        client.get(server.url("/healthz")).send().await?.bytes().await?;
    }
    let ctx = Ctx {
        options,
        data_dir: command.data_dir.clone(),
        database_url: command.database_url.clone(),
        plan,
        server,
        clients: Arc::new(clients),
        token,
    };

    match options.only {
        Some(Part::TwoServers) => return two_servers::measure(&ctx, firm, command, figures).await,
        // Measured in `measure`, once the server has stopped.
        Some(Part::KeyRotation | Part::Backups) => return Ok(()),
        None => {}
    }
    // The storm goes last of these (key rotation and backups follow, once the server has
    // stopped): the memory its Argon2id work leaves behind would otherwise be the floor of
    // every peak measured after it.
    reads(&ctx, firm, figures).await?;
    search(&ctx, firm, figures).await?;
    writes(&ctx, firm, figures).await?;
    if options.backend == Backend::Postgres {
        two_servers::measure(&ctx, firm, command, figures).await?;
    }
    documents(&ctx, firm, figures).await?;
    export(&ctx, firm, figures).await?;
    storm(&ctx, firm, figures).await?;
    Ok(())
}

async fn reads(ctx: &Ctx<'_>, firm: &Firm, figures: &mut Value) -> BenchResult<()> {
    let server = ctx.server;
    let page_paths: Vec<String> = firm.bench_matters.iter().map(|m| format!("/matters/{m}")).collect();
    let endpoints: [(&str, Vec<String>); 5] = [
        ("GET /healthz", vec!["/healthz".to_owned()]),
        ("GET /api/v1/matters", vec!["/api/v1/matters".to_owned()]),
        (report::MATTER_READ, matter_paths(firm, "")),
        (report::PAGE_HOME, vec!["/home".to_owned()]),
        (report::PAGE_MATTER, page_paths),
    ];
    // Sanity: the list holds exactly the bench user's matters.
    let listed: Value = ctx.clients[0]
        .get(server.url("/api/v1/matters"))
        .bearer_auth(&*ctx.token)
        .send()
        .await?
        .json()
        .await?;
    let listed = listed["items"].as_array().map_or(0, Vec::len);
    if listed != firm.bench_matters.len() {
        return Err(fail(format!("the bench user lists {listed} matters, not {}", firm.bench_matters.len())));
    }
    let mut points = Vec::new();
    let mut load_rss = 0u64;
    for clients in ctx.plan.concurrency {
        log(&format!("reads at {clients} clients"));
        let _ = closed_loop(clients, ctx.plan.warmup, ctx.get_job(&endpoints[2].1)).await;
        let mut runs: Vec<Vec<Value>> = vec![Vec::new(); endpoints.len()];
        for _ in 0..ctx.plan.runs {
            for (i, (_, paths)) in endpoints.iter().enumerate() {
                let sampler = (clients == 64).then(|| RssSampler::start(server.pid()));
                let (run, cpu) = ctx.point(clients, ctx.get_job(paths)).await;
                if let Some(sampler) = sampler {
                    load_rss = load_rss.max(sampler.finish().await);
                }
                runs[i].push(run_json(&run, cpu));
            }
        }
        for (i, (endpoint, _)) in endpoints.iter().enumerate() {
            points.push(json!({
                "endpoint": endpoint,
                "clients": clients,
                "runs": runs[i],
                "median": load::medians(&runs[i], &["rps", "p50_ms", "p99_ms", "server_cpu", "errors"]),
            }));
        }
    }
    figures["reads"] = json!(points);
    figures["footprint"] = json!({ "load_rss_kib": load_rss, "load_clients": 64 });
    Ok(())
}

async fn search(ctx: &Ctx<'_>, firm: &Firm, figures: &mut Value) -> BenchResult<()> {
    log("search");
    let queries = firm.vocabulary.queries(20);
    let urls: Vec<String> = queries
        .iter()
        .map(|q| ctx.server.url(&format!("/api/v1/search?q={}", q.replace(' ', "+"))))
        .collect();
    let hits = Arc::new(AtomicU64::new(0));
    let (clients, token, shared, counted) =
        (ctx.clients.clone(), ctx.token.clone(), Arc::new(urls), hits.clone());
    let job: Job = Arc::new(move |client, iteration| {
        let url = shared[iteration as usize % shared.len()].clone();
        let request = clients.get(client).map(|c| c.get(url).bearer_auth(&*token));
        let counted = counted.clone();
        Box::pin(async move {
            let Some(request) = request else { return false };
            let Ok(response) = request.send().await else { return false };
            let ok = response.status().is_success();
            match response.json::<Value>().await {
                Ok(body) => {
                    counted.fetch_add(body["items"].as_array().map_or(0, Vec::len) as u64, Ordering::Relaxed);
                    ok
                }
                Err(_) => false,
            }
        })
    });
    let mut runs = Vec::new();
    let mut requests = 0u64;
    for _ in 0..ctx.plan.runs {
        let (run, cpu) = ctx.point(1, job.clone()).await;
        requests += run.ok;
        runs.push(run_json(&run, cpu));
    }
    figures["search"] = json!({
        "clients": 1,
        "queries": queries,
        "hits_per_query": hits.load(Ordering::Relaxed) as f64 / requests.max(1) as f64,
        "runs": runs,
        "median": load::medians(&runs, &["rps", "p50_ms", "p99_ms", "server_cpu", "errors"]),
    });
    Ok(())
}

async fn storm(ctx: &Ctx<'_>, firm: &Firm, figures: &mut Value) -> BenchResult<()> {
    log("sign-in storm");
    let server = ctx.server;
    let reads = ctx.get_job(&matter_paths(firm, ""));
    let quiet = ctx.plan.point;
    let base = server.url("");
    let rss_before = server::status_kib(server.pid(), "VmRSS:");
    let mut runs = Vec::new();
    for run in 0..ctx.plan.runs {
        let users: Vec<seed::SeedUser> = firm
            .storm_users
            .iter()
            .skip(run * ctx.plan.storm_signins)
            .take(ctx.plan.storm_signins)
            .cloned()
            .collect();
        if users.len() < ctx.plan.storm_signins {
            return Err(fail("not enough fresh users for the sign-in storm"));
        }
        // Fresh clients: each sign-in makes its own connection, as a browser would, from an
        // address of its own in 127.0.0.0/8 (sign-in attempts are counted per address, and
        // twenty people do not sign in from one address in the same instant).
        let storm_clients: Vec<reqwest::Client> = (0..users.len())
            .map(|i| {
                let local = std::net::Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 2 + (i % 250) as u8);
                http::client_from(&server.cert, Some(local.into()))
            })
            .collect::<BenchResult<_>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let began = Instant::now();
        let readers = tokio::spawn(closed_loop_until(
            ctx.plan.storm_readers,
            quiet + Duration::from_secs(300),
            stop.clone(),
            reads.clone(),
        ));
        tokio::time::sleep(quiet).await;
        let storm_start = began.elapsed();
        let signins: Vec<_> = users
            .into_iter()
            .zip(storm_clients)
            .map(|(user, client)| {
                let base = base.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let ok = http::sign_in(&client, &base, &user.email, &user.totp).await;
                    (ok.map_err(|e| e.to_string()), t.elapsed().as_secs_f64() * 1000.0)
                })
            })
            .collect();
        let mut signin_ms = Vec::new();
        let mut failures = Vec::new();
        for signin in signins {
            let (ok, ms) = signin.await?;
            signin_ms.push(ms);
            if let Err(e) = ok {
                failures.push(e);
            }
        }
        let storm_end = began.elapsed();
        stop.store(true, Ordering::Relaxed);
        let readers = readers.await?;
        if let Some(first) = failures.first() {
            return Err(fail(format!("{} sign-ins failed in the storm, e.g. {first}", failures.len())));
        }
        // Quiet: the readers' first `quiet` seconds; storm: requests begun while sign-ins ran.
        let us = |d: Duration| d.as_micros() as u64;
        let quiet_ms = readers.sorted_ms(Some((0, us(storm_start))));
        let storm_ms = readers.sorted_ms(Some((us(storm_start), us(storm_end))));
        signin_ms.sort_by(f64::total_cmp);
        runs.push(json!({
            "quiet_p99_ms": quantile(&quiet_ms, 0.99),
            "quiet_p50_ms": quantile(&quiet_ms, 0.50),
            "quiet_requests": quiet_ms.len(),
            "storm_p99_ms": quantile(&storm_ms, 0.99),
            "storm_p50_ms": quantile(&storm_ms, 0.50),
            "storm_requests": storm_ms.len(),
            "storm_seconds": (storm_end - storm_start).as_secs_f64(),
            "signin_p50_ms": quantile(&signin_ms, 0.5),
            "signin_max_ms": quantile(&signin_ms, 1.0),
            "reader_errors": readers.errors,
        }));
    }
    figures["storm"] = json!({
        "rss_before_kib": rss_before,
        "rss_after_kib": server::status_kib(server.pid(), "VmRSS:"),
        "signins": ctx.plan.storm_signins,
        "readers": ctx.plan.storm_readers,
        "runs": runs,
        "median": load::medians(&runs, &[
            "quiet_p99_ms", "quiet_p50_ms", "storm_p99_ms", "storm_p50_ms", "storm_seconds",
            "signin_p50_ms", "signin_max_ms", "reader_errors",
        ]),
    });
    Ok(())
}

async fn writes(ctx: &Ctx<'_>, firm: &Firm, figures: &mut Value) -> BenchResult<()> {
    log("audited writes");
    let bodies = note_bodies(ctx.plan, firm);
    let mean_body = bodies.iter().map(String::len).sum::<usize>() / bodies.len().max(1);
    let job = note_job(ctx.clients.clone(), ctx.token.clone(), &[ctx.server], firm, Arc::new(bodies));
    let clients = ctx.plan.write_clients;
    let mut notes = Vec::new();
    for _ in 0..ctx.plan.runs {
        let (run, cpu) = ctx.point(clients, job.clone()).await;
        notes.push(run_json(&run, cpu));
    }

    log("raw inserts");
    let (backend, url) = match &ctx.database_url {
        None => {
            let path = ctx.data_dir.join("firms").join(firm.id.to_string()).join("firm.db");
            (Backend::Sqlite, format!("sqlite://{}", path.display()))
        }
        Some(url) => (Backend::Postgres, url.clone()),
    };
    let pool = raw::open(backend, &url).await?;
    // About the size of a sealed note body: the text, a 5-byte header, nonce and tag.
    let row_len = mean_body + 5 + 12 + 16;
    let matter = firm.bench_matters.first().copied().ok_or_else(|| fail("no bench matter"))?;
    let insert = raw::insert_job(pool.clone(), backend, row_len, matter);
    let mut raws = Vec::new();
    for _ in 0..ctx.plan.runs {
        let (run, cpu) = ctx.point(clients, insert.clone()).await;
        raws.push(run_json(&run, cpu));
    }
    pool.close().await;
    let fields = ["rps", "p50_ms", "p99_ms", "server_cpu", "errors"];
    figures["writes"] = json!({
        "clients": clients,
        "notes": { "runs": notes, "median": load::medians(&notes, &fields) },
        "raw": { "row_bytes": row_len, "runs": raws, "median": load::medians(&raws, &fields) },
    });
    Ok(())
}

async fn documents(ctx: &Ctx<'_>, firm: &Firm, figures: &mut Value) -> BenchResult<()> {
    log("documents");
    let server = ctx.server;
    let pid = server.pid();
    let client = &ctx.clients[0];
    let matter = firm.bench_matters.first().ok_or_else(|| fail("no bench matter"))?;
    let size = ctx.plan.document_bytes;
    let upload_url = server.url(&format!("/api/v1/matters/{matter}/documents"));
    let mut uploads = Vec::new();
    let mut downloads = Vec::new();
    let (mut upload_rss, mut download_rss) = (0u64, 0u64);
    let mut first = None;
    let rss_before = server::status_kib(pid, "VmRSS:");
    for _ in 0..ctx.plan.runs {
        server::reset_peak(pid);
        let sampler = RssSampler::start(pid);
        let (id, seconds) = documents::upload(client, &upload_url, &ctx.token, Generated::new(size)).await?;
        upload_rss = upload_rss.max(sampler.finish().await).max(server::status_kib(pid, "VmHWM:"));
        uploads.push(size as f64 / seconds);
        first.get_or_insert(id);
    }
    let rss_between = server::status_kib(pid, "VmRSS:");
    let id = first.ok_or_else(|| fail("no document uploaded"))?;
    let download_url = server.url(&format!("/api/v1/documents/{id}/content"));
    for _ in 0..ctx.plan.runs {
        server::reset_peak(pid);
        let sampler = RssSampler::start(pid);
        let seconds = documents::download(client, &download_url, &ctx.token, size).await?;
        download_rss = download_rss.max(sampler.finish().await).max(server::status_kib(pid, "VmHWM:"));
        downloads.push(size as f64 / seconds);
    }
    figures["documents"] = json!({
        "bytes": size,
        "upload": {
            "runs": uploads,
            "median": median(&uploads),
            "peak_rss_kib": upload_rss,
            "rss_before_kib": rss_before,
        },
        "download": {
            "runs": downloads,
            "median": median(&downloads),
            "peak_rss_kib": download_rss,
            "rss_before_kib": rss_between,
        },
    });
    Ok(())
}

async fn export(ctx: &Ctx<'_>, firm: &Firm, figures: &mut Value) -> BenchResult<()> {
    let target = ctx.plan.sizes.audit_entries;
    log(&format!("filling the audit log to {target} entries"));
    let filled_at = Instant::now();
    let reached = firm.fill_audit_log(target).await?;
    let fill_seconds = filled_at.elapsed().as_secs_f64();
    log(&format!("audit log at {reached} entries after {fill_seconds:.1} s; exporting"));
    let server = ctx.server;
    let pid = server.pid();
    let client = &ctx.clients[0];
    let token = http::sign_in(client, &server.url(""), &firm.auditor.email, &firm.auditor.totp).await?;
    let url = server.url("/api/v1/audit.csv");
    let mut runs = Vec::new();
    let mut peak = 0u64;
    let mut rows = 0u64;
    let mut bytes = 0u64;
    let mut finished = true;
    let rss_before = server::status_kib(pid, "VmRSS:");
    for _ in 0..ctx.plan.runs {
        server::reset_peak(pid);
        let sampler = RssSampler::start(pid);
        let started = Instant::now();
        let counted = tokio::time::timeout(ctx.plan.export_limit, count_csv(client, &url, &token)).await;
        let seconds = started.elapsed().as_secs_f64();
        peak = peak.max(sampler.finish().await).max(server::status_kib(pid, "VmHWM:"));
        runs.push(seconds);
        match counted {
            Ok(result) => (rows, bytes) = result?,
            Err(_) => {
                finished = false;
                break;
            }
        }
        // A long export is not repeated: the run has a time budget.
        if seconds > 60.0 {
            break;
        }
    }
    figures["export"] = json!({
        "entries": reached,
        "fill_seconds": fill_seconds,
        "rows": rows,
        "bytes": bytes,
        "finished": finished,
        "limit_seconds": ctx.plan.export_limit.as_secs_f64(),
        "runs": runs,
        "median": median(&runs),
        "peak_rss_kib": peak,
        "rss_before_kib": rss_before,
    });
    Ok(())
}

/// Streams the CSV export, counting data rows (CRLF-terminated lines after the header).
async fn count_csv(client: &reqwest::Client, url: &str, token: &str) -> BenchResult<(u64, u64)> {
    use futures_util::StreamExt;
    let response = client.get(url).bearer_auth(token).send().await?;
    if !response.status().is_success() {
        return Err(fail(format!("audit export: {}", response.status())));
    }
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((lines.saturating_sub(1), bytes))
}
