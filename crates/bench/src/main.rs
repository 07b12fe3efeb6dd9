//! `ringfence-bench`: the load generator and harness behind `bench/run`.
//!
//! - `suite` seeds a bench firm through the store library, starts the real `ringfence
//!   serve`, measures every scenario over HTTPS on loopback, and writes the figures as JSON;
//! - `baseline` measures the yardsticks (a loopback TCP copy, Ringfence's own blob cipher);
//! - `report` turns those JSON files into the Markdown tables of `bench/RESULTS.md`;
//! - `merge` puts the section of a part run alone (`suite --only`) into an existing
//!   `bench/RESULTS.md`, in place of its old version.

mod audit_fill;
mod baseline;
mod documents;
mod http;
mod load;
mod pg_rls;
mod raw;
mod report;
mod seed;
mod server;
mod suite;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ringfence_store::Backend;

pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
pub type BenchResult<T> = Result<T, BenchError>;

pub fn fail(message: impl Into<String>) -> BenchError {
    message.into().into()
}

#[derive(Parser)]
#[command(name = "ringfence-bench", about = "Benchmarks of a real Ringfence server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
enum Command {
    /// Seed, serve and measure one backend; write the figures as JSON.
    Suite {
        #[arg(long, value_enum)]
        backend: BackendArg,
        /// The `ringfence` binary to serve with.
        #[arg(long)]
        server: PathBuf,
        /// Scratch space for the data dir and the server's log.
        #[arg(long)]
        work_dir: PathBuf,
        /// A PostgreSQL URL whose login may create databases (for the bench database).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        pg_admin_url: String,
        #[arg(long, default_value = "ringfence_bench")]
        pg_database: String,
        /// Small sizes and short points: checks the harness end to end in a minute or two.
        #[arg(long)]
        quick: bool,
        /// Seconds per load point.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Runs of each figure (the report gives the median).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The kernel's clock ticks per second (`getconf CLK_TCK`), for CPU time.
        #[arg(long, default_value_t = 100.0)]
        clock_ticks: f64,
        /// Seed and serve as usual, then measure only this part.
        #[arg(long, value_enum)]
        only: Option<suite::Part>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure the yardsticks: loopback TCP copy and the blob cipher on one core.
    Baseline {
        #[arg(long, default_value_t = 1 << 30)]
        copy_bytes: u64,
        #[arg(long, default_value_t = 256 << 20)]
        cipher_bytes: u64,
        /// Where to write the file-write yardstick (the filesystem the data dirs are on).
        #[arg(long)]
        disk_dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Render the Markdown tables from the JSON of `baseline` and `suite`.
    Report {
        #[arg(long)]
        baseline: PathBuf,
        /// openssl's AES-256-GCM speed, bytes per second, one value per run.
        #[arg(long, value_delimiter = ',', required = true)]
        aes: Vec<f64>,
        /// The JSON of each backend's suite.
        #[arg(required = true)]
        results: Vec<PathBuf>,
    },
    /// Render the section of a part run alone from its suites' JSON and put it into a
    /// results file in place of its old version (or at the end), keeping the rest.
    Merge {
        #[arg(long, value_enum)]
        part: suite::Part,
        /// Which run the section comes from, said under its heading.
        #[arg(long)]
        provenance: String,
        /// The results file (made if missing).
        #[arg(long)]
        into: PathBuf,
        /// The JSON of each backend's suite.
        #[arg(required = true)]
        results: Vec<PathBuf>,
    },
}

fn read_json(path: &PathBuf) -> BenchResult<serde_json::Value> {
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

async fn run(cli: Cli) -> BenchResult<()> {
    match cli.command {
        Command::Suite {
            backend,
            server,
            work_dir,
            pg_admin_url,
            pg_database,
            quick,
            seconds,
            runs,
            clock_ticks,
            only,
            out,
        } => {
            http::install_crypto_provider();
            let options = suite::Options {
                backend: match backend {
                    BackendArg::Sqlite => Backend::Sqlite,
                    BackendArg::Postgres => Backend::Postgres,
                },
                server_binary: server,
                work_dir,
                pg_admin_url,
                pg_database,
                quick,
                seconds,
                runs,
                clock_ticks,
                only,
            };
            let figures = suite::run(&options).await?;
            std::fs::write(out, serde_json::to_vec_pretty(&figures)?)?;
        }
        Command::Baseline { copy_bytes, cipher_bytes, disk_dir, runs, out } => {
            let figures = baseline::measure(copy_bytes, cipher_bytes, &disk_dir, runs).await?;
            std::fs::write(out, serde_json::to_vec_pretty(&figures)?)?;
        }
        Command::Report { baseline, aes, results } => {
            let baselines = report::Baselines { aes, measured: read_json(&baseline)? };
            let results = results.iter().map(read_json).collect::<BenchResult<Vec<_>>>()?;
            print!("{}", report::render(&baselines, &results));
        }
        Command::Merge { part, provenance, into, results } => {
            let results = results.iter().map(read_json).collect::<BenchResult<Vec<_>>>()?;
            let section = report::section(part, &results, Some(&provenance));
            let document = match std::fs::read_to_string(&into) {
                Ok(document) => document,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(err) => return Err(err.into()),
            };
            let written = into.with_extension("md.tmp");
            std::fs::write(&written, report::merge(&document, part, &section))?;
            std::fs::rename(written, into)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ringfence-bench: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ringfence-bench: {err}");
            ExitCode::FAILURE
        }
    }
}
