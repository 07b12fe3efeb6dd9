//! Text extraction in a child process. Parsing an uploaded PDF or DOCX is the one place the
//! server feeds attacker-chosen bytes to a complex parser, so it never happens in the
//! server's own process: each file goes to a fresh `ringfence extract-text` on its standard
//! input, with a cleared environment (no master key, no database URL), limits on address
//! space, CPU time, core dumps, file writes and processes (it can start none) set by this
//! side before a byte is sent, in a process group of its own that is killed whole after a
//! wall-clock deadline, and its output read only up to the text cap. (Root is exempt from
//! the process limit: the server runs as an ordinary user.) Whatever happens to the child,
//! the server answers; the document is just not indexed. A PDF's pages are drawn for
//! previews the same way (see [`crate::pdf_pages`]).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ringfence_core::extract::{self, MAX_SOURCE, MAX_TEXT_BYTES, MAX_TEXT_CHARS};

use ringfence_core::document::DRAWN_AS_PAGES as PDF;

use crate::pdf_pages::{self, DrawnPage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

/// The `ringfence` subcommand that is the child's side.
pub const SUBCOMMAND: &str = "extract-text";
/// The child's exit status for a file that has no readable text (not a failure).
const NO_TEXT: u8 = 3;
/// The most a drawn page may come to, count and PNG together.
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

/// What one extraction may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space of the child (`RLIMIT_AS`), in bytes.
    pub memory_bytes: u64,
    /// CPU time of the child (`RLIMIT_CPU`), in seconds.
    pub cpu_seconds: u64,
    /// Time from start to the last byte of text, after which the child and anything it
    /// started are killed.
    pub wall: Duration,
    /// Whether the child may start processes of its own (`RLIMIT_NPROC` is left as it is
    /// rather than set to 0). The extractor never needs to; only tests of the process
    /// group allow it.
    pub may_fork: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 1024 * 1024 * 1024,
            cpu_seconds: 20,
            wall: Duration::from_secs(30),
            may_fork: false,
        }
    }
}

/// One of the extractor's slots, held from before the file is read back until its child
/// is gone, so waiting uploads hold no plaintext.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
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
    #[error("the extractor wrote more than it may and was killed")]
    TooMuchOutput,
    #[error("the extractor failed ({0})")]
    Failed(ExitStatus),
    #[error("the exchange with the extractor failed")]
    Pipe(#[source] std::io::Error),
    #[error("the extractor's answer was not in the form asked for")]
    Malformed,
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

    /// Waits for a free slot: at most one child per core runs at a time.
    pub async fn slot(&self) -> Result<Slot, ExtractError> {
        let permit = Arc::clone(&self.running).acquire_owned().await;
        permit.map(|_permit| Slot { _permit }).map_err(|e| ExtractError::Start(std::io::Error::other(e)))
    }

    /// The text of a file of `content_type`, or `None` when it has none or extraction
    /// failed; a failure is logged (never the content) and costs only the index entry.
    pub async fn text_of(&self, slot: Slot, content_type: &str, bytes: &[u8]) -> Option<String> {
        match self.run_in(slot, content_type, bytes).await {
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

    /// Runs one child on `bytes` once a slot is free: its text, `None` when the file has
    /// no readable text.
    pub async fn run(&self, content_type: &str, bytes: &[u8]) -> Result<Option<String>, ExtractError> {
        self.run_in(self.slot().await?, content_type, bytes).await
    }

    /// Runs one child on `bytes` in `slot`.
    pub async fn run_in(
        &self,
        slot: Slot,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Option<String>, ExtractError> {
        let out = self.child_in(slot, &["--content-type", content_type], bytes, MAX_TEXT_BYTES).await?;
        Ok(out.map(|out| String::from_utf8_lossy(&out).chars().take(MAX_TEXT_CHARS).collect()))
    }

    /// Page `page` (from 1) of a PDF drawn as a PNG, with the number of pages (0 asks for
    /// the number alone); `None` when the file cannot be read as a PDF.
    pub async fn pdf_page(
        &self,
        slot: Slot,
        bytes: &[u8],
        page: u32,
    ) -> Result<Option<DrawnPage>, ExtractError> {
        let page = page.to_string();
        let args = ["--content-type", PDF, "--page", page.as_str()];
        let Some(out) = self.child_in(slot, &args, bytes, MAX_PAGE_BYTES).await? else {
            return Ok(None);
        };
        let (count, png) = out.split_first_chunk::<4>().ok_or(ExtractError::Malformed)?;
        let png = (!png.is_empty()).then(|| Zeroizing::new(png.to_vec()));
        Ok(Some(DrawnPage { pages: u32::from_be_bytes(*count), png }))
    }

    /// Runs one child with `args` on `bytes` in `slot`: what it wrote (at most `cap`
    /// bytes), or `None` when it said the file holds nothing for it.
    async fn child_in(
        &self,
        slot: Slot,
        args: &[&str],
        bytes: &[u8],
        cap: usize,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ExtractError> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .args(args)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut group = Group { child: command.spawn().map_err(ExtractError::Start)?, _slot: slot };
        // The child only waits for its input until now: the limits hold before it parses.
        confine(&group.child, &self.limits).map_err(ExtractError::Limits)?;
        let outcome = tokio::time::timeout(self.limits.wall, exchange(&mut group.child, bytes, cap)).await;
        // On failure the whole group is killed as `group` is dropped.
        outcome.unwrap_or(Err(ExtractError::TimedOut(self.limits.wall)))
    }
}

/// A child in its own process group, and the slot it runs in. Dropped before the child has
/// been waited for (a failure, a timeout, a cancelled upload), it kills the whole group:
/// the child is then at worst a zombie, so its process group id is not yet anyone else's.
struct Group {
    child: tokio::process::Child,
    _slot: Slot,
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(id) = self.child.id() {
            kill_group(id);
        }
    }
}

#[cfg(target_os = "linux")]
fn kill_group(id: u32) {
    use rustix::process::{Pid, Signal, kill_process_group};
    if let Some(pid) = i32::try_from(id).ok().and_then(Pid::from_raw) {
        // Fails only when nothing of the group is left.
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

#[cfg(not(target_os = "linux"))]
fn kill_group(_: u32) {}

/// Sends the file, reads the answer up to `cap`, and waits for the child's verdict.
async fn exchange(
    child: &mut tokio::process::Child,
    bytes: &[u8],
    cap: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, ExtractError> {
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ExtractError::Pipe(std::io::Error::other("the child's pipes are missing")));
    };
    let feed = async move {
        stdin.write_all(bytes).await?;
        stdin.shutdown().await
    };
    let collect = async move {
        let mut out = Zeroizing::new(Vec::new());
        stdout.take(cap as u64 + 1).read_to_end(&mut out).await.map(|_| out)
    };
    let (fed, out) = tokio::join!(feed, collect);
    let out = out.map_err(ExtractError::Pipe)?;
    if out.len() > cap {
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
    Ok(Some(out))
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
    // No core dump (it would hold plaintext), no file written, and no process started:
    // `RLIMIT_NPROC` counts the user's processes, so 0 stops every fork (but root's).
    let processes = (!limits.may_fork).then_some((Resource::Nproc, 0));
    for (resource, value) in [
        (Resource::As, limits.memory_bytes),
        (Resource::Cpu, limits.cpu_seconds),
        (Resource::Core, 0),
        (Resource::Fsize, 0),
    ]
    .into_iter()
    .chain(processes)
    {
        prlimit(Some(pid), resource, Rlimit { current: Some(value), maximum: Some(value) })?;
    }
    Ok(())
}

/// Elsewhere the limits cannot be set from outside: nothing is extracted.
#[cfg(not(target_os = "linux"))]
fn confine(_: &tokio::process::Child, _: &Limits) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "child limits need Linux"))
}

/// The child's side: the file on standard input, its text on standard output — or, with
/// `page`, a PDF's page count (four bytes, big-endian) and that page drawn as a PNG. Exits
/// with [`NO_TEXT`] for a file without readable text (or pages), and fails on anything
/// unexpected.
pub fn child(content_type: &str, page: Option<u32>) -> ExitCode {
    let mut bytes = Zeroizing::new(Vec::new());
    let read = std::io::stdin().lock().take(MAX_SOURCE + 1).read_to_end(&mut bytes);
    if read.is_err() || bytes.len() as u64 > MAX_SOURCE {
        return ExitCode::FAILURE;
    }
    let answer = match page {
        None => extract::text_of(content_type, &bytes).map(|text| Zeroizing::new(text.into_bytes())),
        Some(_) if content_type != PDF => return ExitCode::FAILURE,
        Some(page) => pdf_pages::draw(std::mem::take(&mut *bytes), page).map(|drawn| {
            let mut answer = Zeroizing::new(drawn.pages.to_be_bytes().to_vec());
            answer.extend(drawn.png.as_deref().map_or(&[][..], Vec::as_slice));
            answer
        }),
    };
    let Some(answer) = answer else { return ExitCode::from(NO_TEXT) };
    drop(bytes);
    let mut out = std::io::stdout().lock();
    match out.write_all(&answer).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
