//! Text extraction in a child process. Parsing an uploaded PDF or DOCX is the one place the
//! server feeds attacker-chosen bytes to a complex parser, so it never happens in the
//! server's own process: each file goes to a fresh `ringfence extract-text` on its standard
//! input, with a cleared environment (no master key, no database URL), limits on address
//! space, CPU time, core dumps and file writes set by this side before a byte is sent, a
//! wall-clock deadline after which it is killed, and its output read only up to the text
//! cap. Whatever happens to the child, the server answers; the document is just not indexed.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ringfence_core::extract::{self, MAX_SOURCE, MAX_TEXT_BYTES, MAX_TEXT_CHARS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// The `ringfence` subcommand that is the child's side.
pub const SUBCOMMAND: &str = "extract-text";
/// The child's exit status for a file that has no readable text (not a failure).
const NO_TEXT: u8 = 3;

/// What one extraction may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space of the child (`RLIMIT_AS`), in bytes.
    pub memory_bytes: u64,
    /// CPU time of the child (`RLIMIT_CPU`), in seconds.
    pub cpu_seconds: u64,
    /// Time from start to the last byte of text, after which the child is killed.
    pub wall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_bytes: 1024 * 1024 * 1024, cpu_seconds: 20, wall: Duration::from_secs(30) }
    }
}

/// How to run the extractor: a program, the arguments that make it the child's side, and
/// its limits. At most one child per core runs at a time.
#[derive(Debug, Clone)]
pub struct Extractor {
    program: PathBuf,
    args: Vec<OsString>,
    limits: Limits,
    running: Arc<Semaphore>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the extractor could not be started")]
    Start(#[source] std::io::Error),
    #[error("the extractor's limits could not be set")]
    Limits(#[source] std::io::Error),
    #[error("the extractor ran longer than {0:?} and was killed")]
    TimedOut(Duration),
    #[error("the extractor wrote more than {MAX_TEXT_BYTES} bytes and was killed")]
    TooMuchOutput,
    #[error("the extractor failed ({0})")]
    Failed(ExitStatus),
    #[error("the exchange with the extractor failed")]
    Pipe(#[source] std::io::Error),
}

impl Extractor {
    /// This very program, run as `ringfence extract-text`.
    pub fn this_program() -> std::io::Result<Self> {
        Ok(Self::new(std::env::current_exe()?, [SUBCOMMAND]))
    }

    /// `program` with `args`, which must behave like `ringfence extract-text`.
    pub fn new<A: Into<OsString>>(program: impl Into<PathBuf>, args: impl IntoIterator<Item = A>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            limits: Limits::default(),
            running: Arc::new(Semaphore::new(cores.max(1))),
        }
    }

    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The text of a file of `content_type`, or `None` when it has none or extraction
    /// failed; a failure is logged (never the content) and costs only the index entry.
    pub async fn text_of(&self, content_type: &str, bytes: &[u8]) -> Option<String> {
        match self.run(content_type, bytes).await {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(
                    error = %crate::error::ErrorChain(&e),
                    content_type,
                    size = bytes.len(),
                    "text extraction failed; the document is kept without text in the search index"
                );
                None
            }
        }
    }

    /// Runs one child on `bytes`: its text, `None` when the file has no readable text.
    pub async fn run(&self, content_type: &str, bytes: &[u8]) -> Result<Option<String>, ExtractError> {
        let _permit =
            self.running.acquire().await.map_err(|e| ExtractError::Start(std::io::Error::other(e)))?;
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .arg("--content-type")
            .arg(content_type)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(ExtractError::Start)?;
        // The child only waits for its input until now: the limits hold before it parses.
        if let Err(e) = confine(&child, &self.limits) {
            let _ = child.kill().await;
            return Err(ExtractError::Limits(e));
        }
        let outcome = tokio::time::timeout(self.limits.wall, exchange(&mut child, bytes)).await;
        let outcome = outcome.unwrap_or(Err(ExtractError::TimedOut(self.limits.wall)));
        if outcome.is_err() {
            let _ = child.kill().await;
        }
        outcome
    }
}

/// Sends the file, reads the text up to the cap, and waits for the child's verdict.
async fn exchange(child: &mut tokio::process::Child, bytes: &[u8]) -> Result<Option<String>, ExtractError> {
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ExtractError::Pipe(std::io::Error::other("the child's pipes are missing")));
    };
    let feed = async move {
        stdin.write_all(bytes).await?;
        stdin.shutdown().await
    };
    let collect = async move {
        let mut out = Zeroizing::new(Vec::new());
        stdout.take(MAX_TEXT_BYTES as u64 + 1).read_to_end(&mut out).await.map(|_| out)
    };
    let (fed, out) = tokio::join!(feed, collect);
    let out = out.map_err(ExtractError::Pipe)?;
    if out.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooMuchOutput);
    }
    let status = child.wait().await.map_err(ExtractError::Pipe)?;
    if status.code() == Some(NO_TEXT.into()) {
        return Ok(None);
    }
    if !status.success() {
        return Err(ExtractError::Failed(status));
    }
    fed.map_err(ExtractError::Pipe)?;
    Ok(Some(String::from_utf8_lossy(&out).chars().take(MAX_TEXT_CHARS).collect()))
}

/// Sets the child's limits from this side, so they hold whatever the program does.
#[cfg(target_os = "linux")]
fn confine(child: &tokio::process::Child, limits: &Limits) -> std::io::Result<()> {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("the child has no process id"))?;
    // No core dump (it would hold plaintext) and no file written.
    for (resource, value) in [
        (Resource::As, limits.memory_bytes),
        (Resource::Cpu, limits.cpu_seconds),
        (Resource::Core, 0),
        (Resource::Fsize, 0),
    ] {
        prlimit(Some(pid), resource, Rlimit { current: Some(value), maximum: Some(value) })?;
    }
    Ok(())
}

/// Elsewhere the limits cannot be set from outside: nothing is extracted.
#[cfg(not(target_os = "linux"))]
fn confine(_: &tokio::process::Child, _: &Limits) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "child limits need Linux"))
}

/// The child's side: the file on standard input, its text on standard output. Exits with
/// [`NO_TEXT`] for a file without readable text, and fails on anything unexpected.
pub fn child(content_type: &str) -> ExitCode {
    let mut bytes = Zeroizing::new(Vec::new());
    let read = std::io::stdin().lock().take(MAX_SOURCE + 1).read_to_end(&mut bytes);
    if read.is_err() || bytes.len() as u64 > MAX_SOURCE {
        return ExitCode::FAILURE;
    }
    let Some(text) = extract::text_of(content_type, &bytes).map(Zeroizing::new) else {
        return ExitCode::from(NO_TEXT);
    };
    drop(bytes);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
