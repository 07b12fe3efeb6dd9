//! Building a full export, in constant memory whatever the size of the firm: the records
//! are read (a page or a matter at a time, document bytes a span at a time) and handed
//! through a bounded channel to a blocking thread that writes the ZIP (the `zip` crate
//! writes synchronously), whose output comes back through another bounded channel to be
//! sealed and stored as it arrives. No plaintext touches the disk: the ZIP exists only as
//! a sealed blob, under a data key of its own that the export's row keeps sealed.
//!
//! Layout of the ZIP (every file is listed in `manifest.json` with its size and SHA-256):
//! `clients.jsonl`, `matters.jsonl`, `memberships.jsonl`, `walls.jsonl`;
//! `matters/<number>/notes.jsonl` (every version of every note, the current one marked),
//! `matters/<number>/documents.jsonl` and `matters/<number>/documents/<name>` (every
//! version under its own name, made safe and unique); `audit/audit.jsonl` and
//! `audit/audit.csv` (the firm's whole log, or the matter's own entries, each with its
//! hash and the one before it), `audit/checkpoints.jsonl` and `audit/keys.json` (the signed
//! checkpoints and the public keys that check them: `ringfence audit verify --export`).

use std::collections::HashSet;
use std::io::Write;

use ringfence_core::ids::FirmId;
use ringfence_mail::{Mail, Mailer};
use ringfence_store::Storage;
use ringfence_store::blobs::BlobStore;
use ringfence_store::firm::documents::{Content, Upload, Uploaded};
use ringfence_store::firm::exports::{ExportGrant, ExportRecord, ExportScope, ToBuild};
use ringfence_store::{FirmStore, StoreError};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;
use zeroize::Zeroizing;
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

use super::AppError;
use super::exports::EXPORT_LIFETIME;

/// Pieces in flight to the ZIP writer, and ZIP output in flight back: with the spans below,
/// what bounds the memory a build takes.
const PIECES_IN_FLIGHT: usize = 8;
const OUTPUT_IN_FLIGHT: usize = 8;
/// Document bytes are read and handed on a span at a time.
const SPAN: u64 = 1024 * 1024;
/// ZIP output is handed back in pieces of about this size.
const OUTPUT_PIECE: usize = 256 * 1024;
/// Audit entries read per page.
const AUDIT_PAGE: i64 = 1000;
/// The format the manifest names.
pub const FORMAT: &str = "ringfence-export/1";

/// What goes to the ZIP writer.
enum Piece {
    /// A new file; `stored` leaves it uncompressed (documents), `large` allows ZIP64.
    File {
        path: String,
        stored: bool,
        large: bool,
    },
    Bytes(Vec<u8>),
    /// Everything is written: the manifest's head, to which the writer adds the files.
    Finish(serde_json::Value),
}

#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error("the ZIP writer failed")]
    Zip(#[from] zip::result::ZipError),
    #[error("the ZIP writer failed to write")]
    Io(#[from] std::io::Error),
    #[error("the records ended before the export was finished")]
    CutShort,
    #[error("the ZIP writer stopped")]
    WriterGone,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not encode a record")]
    Json(#[from] serde_json::Error),
    #[error("could not encode the audit log as CSV")]
    Csv(#[from] csv::Error),
    #[error("the ZIP writer's thread failed")]
    Thread(#[from] tokio::task::JoinError),
}

/// ZIP output handed back to the async side in pieces.
struct Output {
    to: mpsc::Sender<Vec<u8>>,
    pending: Vec<u8>,
}

impl Output {
    fn send(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.pending, Vec::with_capacity(OUTPUT_PIECE));
        self.to.blocking_send(piece).map_err(|_| std::io::Error::other("the export's store stopped"))
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= OUTPUT_PIECE {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A file as the manifest lists it.
#[derive(Serialize)]
struct Listed {
    path: String,
    size: u64,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ZIP writer, on its blocking thread: takes pieces until `Finish`, hashing each file
/// as it goes, then writes the manifest and ends the ZIP.
fn write_zip(
    mut pieces: mpsc::Receiver<Piece>,
    output: mpsc::Sender<Vec<u8>>,
    passphrase: Option<Zeroizing<String>>,
) -> Result<(), BuildError> {
    let mut zip = ZipWriter::new_stream(Output { to: output, pending: Vec::with_capacity(OUTPUT_PIECE) });
    let options = |stored: bool, large: bool| {
        let options = SimpleFileOptions::default()
            .compression_method(if stored { CompressionMethod::Stored } else { CompressionMethod::Deflated })
            .large_file(large);
        match passphrase.as_deref() {
            Some(passphrase) => options.with_aes_encryption(AesMode::Aes256, passphrase),
            None => options,
        }
    };
    let mut listed: Vec<Listed> = Vec::new();
    let mut current: Option<(String, Sha256, u64)> = None;
    let close = |current: &mut Option<(String, Sha256, u64)>, listed: &mut Vec<Listed>| {
        if let Some((path, hasher, size)) = current.take() {
            listed.push(Listed { path, size, sha256: hex(&hasher.finalize()) });
        }
    };
    loop {
        match pieces.blocking_recv().ok_or(BuildError::CutShort)? {
            Piece::File { path, stored, large } => {
                close(&mut current, &mut listed);
                zip.start_file(path.as_str(), options(stored, large))?;
                current = Some((path, Sha256::new(), 0));
            }
            Piece::Bytes(bytes) => {
                let (_, hasher, size) = current.as_mut().ok_or(BuildError::CutShort)?;
                zip.write_all(&bytes)?;
                hasher.update(&bytes);
                *size += bytes.len() as u64;
            }
            Piece::Finish(mut head) => {
                close(&mut current, &mut listed);
                head["files"] = serde_json::to_value(&listed)?;
                zip.start_file("manifest.json", options(false, false))?;
                zip.write_all(&serde_json::to_vec_pretty(&head)?)?;
                let mut output = zip.finish()?.into_inner();
                output.flush()?;
                return Ok(());
            }
        }
    }
}

/// Hands pieces to the ZIP writer, counting what the manifest reports.
struct Feed {
    to: mpsc::Sender<Piece>,
}

impl Feed {
    async fn send(&self, piece: Piece) -> Result<(), BuildError> {
        self.to.send(piece).await.map_err(|_| BuildError::WriterGone)
    }

    async fn file(&self, path: String, bytes: Vec<u8>) -> Result<(), BuildError> {
        self.send(Piece::File { path, stored: false, large: false }).await?;
        self.send(Piece::Bytes(bytes)).await
    }

    /// A file of one JSON record per line.
    async fn json_lines<T: Serialize>(&self, path: String, records: &[T]) -> Result<(), BuildError> {
        self.send(Piece::File { path, stored: false, large: false }).await?;
        for chunk in records.chunks(200) {
            let mut bytes = Vec::new();
            for record in chunk {
                serde_json::to_writer(&mut bytes, record)?;
                bytes.push(b'\n');
            }
            self.send(Piece::Bytes(bytes)).await?;
        }
        Ok(())
    }
}

/// A name made safe as one component of a ZIP path: no separators, control or reserved
/// characters, no leading dots, not a name Windows keeps for devices, at most 120 bytes.
pub fn safe_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut name = cleaned.trim().trim_start_matches('.').trim_end_matches(['.', ' ']).to_owned();
    while name.len() > 120 {
        name.pop();
    }
    let stem = name.split('.').next().unwrap_or_default().to_ascii_uppercase();
    let reserved = ["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if name.is_empty() {
        "document".to_owned()
    } else if reserved {
        format!("_{name}")
    } else {
        name
    }
}

/// `name` with `suffix` before its extension: `brief (v1).pdf`.
fn with_suffix(name: &str, suffix: &str) -> String {
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{}{suffix}{}", &name[..dot], &name[dot..]),
        _ => format!("{name}{suffix}"),
    }
}

/// A name no other file in the folder has (compared without case, as most file systems
/// do): the name itself, else the name with ` (2)`, ` (3)`….
pub fn unique_name(taken: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 1;
    while !taken.insert(candidate.to_lowercase()) {
        n += 1;
        candidate = with_suffix(name, &format!(" ({n})"));
    }
    candidate
}

/// Counts for the manifest.
#[derive(Default, Serialize)]
struct Counts {
    clients: usize,
    matters: usize,
    memberships: usize,
    walls: usize,
    notes: usize,
    note_versions: usize,
    documents: usize,
    document_versions: usize,
    audit_entries: usize,
    checkpoints: usize,
    audit_keys: usize,
    /// Matters a wall screens the requester from, left out.
    withheld_matters: usize,
}

/// A document version as `documents.jsonl` lists it, with its place in the ZIP.
#[derive(Serialize)]
struct DocumentLine<'a> {
    document_id: Uuid,
    title: &'a str,
    privileged: bool,
    version: i64,
    current: bool,
    name: &'a str,
    path: &'a str,
    content_type: &'a str,
    size: u64,
    sha256: &'a str,
    uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    uploaded_at: OffsetDateTime,
}

/// Reads everything the grant covers and feeds it to the ZIP writer.
async fn produce(
    store: &FirmStore,
    blobs: &BlobStore,
    grant: &ExportGrant,
    head: serde_json::Value,
    feed: Feed,
) -> Result<(), BuildError> {
    let mut counts = Counts { withheld_matters: grant.withheld_matters(), ..Counts::default() };
    let clients = store.export_clients(grant).await?;
    counts.clients = clients.len();
    feed.json_lines("clients.jsonl".to_owned(), &clients).await?;
    drop(clients);
    let matters = store.export_matters(grant).await?;
    counts.matters = matters.len();
    feed.json_lines("matters.jsonl".to_owned(), &matters).await?;
    let memberships = store.export_memberships(grant).await?;
    counts.memberships = memberships.len();
    feed.json_lines("memberships.jsonl".to_owned(), &memberships).await?;
    drop(memberships);
    let walls = store.export_walls(grant).await?;
    counts.walls = walls.len();
    feed.json_lines("walls.jsonl".to_owned(), &walls).await?;
    drop(walls);

    let mut folders = HashSet::new();
    for matter in &matters {
        let folder = format!("matters/{}", unique_name(&mut folders, &safe_name(&matter.number)));
        let notes = store.export_notes(grant, matter.id).await?;
        counts.note_versions += notes.len();
        counts.notes += notes.iter().filter(|n| n.current).count();
        feed.json_lines(format!("{folder}/notes.jsonl"), &notes).await?;
        drop(notes);

        let versions = store.export_documents(grant, matter.id).await?;
        counts.document_versions += versions.len();
        counts.documents += versions.iter().filter(|v| v.current).count();
        let mut taken = HashSet::new();
        let paths: Vec<String> = versions
            .iter()
            .map(|v| {
                let name = safe_name(&v.version.name);
                let name =
                    if v.current { name } else { with_suffix(&name, &format!(" (v{})", v.version.version)) };
                format!("{folder}/documents/{}", unique_name(&mut taken, &name))
            })
            .collect();
        let lines: Vec<DocumentLine<'_>> = versions
            .iter()
            .zip(&paths)
            .map(|(v, path)| DocumentLine {
                document_id: v.document_id,
                title: &v.title,
                privileged: v.privileged,
                version: v.version.version,
                current: v.current,
                name: &v.version.name,
                path,
                content_type: &v.version.content_type,
                size: v.version.size,
                sha256: &v.version.sha256,
                uploaded_by: v.version.uploaded_by.to_string(),
                uploaded_at: v.version.uploaded_at,
            })
            .collect();
        feed.json_lines(format!("{folder}/documents.jsonl"), &lines).await?;
        drop(lines);
        for (version, path) in versions.iter().zip(paths) {
            let content = Content::open(blobs, store, &version.readable).await?;
            let large = content.size() >= u64::from(u32::MAX) - SPAN;
            feed.send(Piece::File { path, stored: true, large }).await?;
            let mut at = 0;
            while at < content.size() {
                let end = (at + SPAN).min(content.size());
                feed.send(Piece::Bytes(content.read(at..end).await?)).await?;
                at = end;
            }
        }
    }
    drop(matters);

    // The log twice, as JSON lines then as CSV, a page at a time.
    feed.send(Piece::File { path: "audit/audit.jsonl".to_owned(), stored: false, large: false }).await?;
    let mut after = 0;
    loop {
        let page = store.export_audit_page(grant, after, AUDIT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.entry.seq;
        counts.audit_entries += page.len();
        let mut bytes = Vec::new();
        for entry in &page {
            serde_json::to_writer(&mut bytes, entry)?;
            bytes.push(b'\n');
        }
        feed.send(Piece::Bytes(bytes)).await?;
    }
    feed.send(Piece::File { path: "audit/audit.csv".to_owned(), stored: false, large: false }).await?;
    let mut after = 0;
    let mut first = true;
    loop {
        let page = store.export_audit_page(grant, after, AUDIT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.entry.seq;
        let entries: Vec<_> = page.into_iter().map(|e| e.entry).collect();
        feed.send(Piece::Bytes(super::audit::csv_page(&entries, first)?)).await?;
        first = false;
    }
    if first {
        feed.send(Piece::Bytes(super::audit::csv_page(&[], true)?)).await?;
    }
    let (checkpoints, keys) = store.export_audit_keys().await?;
    counts.checkpoints = checkpoints.len();
    counts.audit_keys = keys.keys.len();
    feed.json_lines("audit/checkpoints.jsonl".to_owned(), &checkpoints).await?;
    feed.file("audit/keys.json".to_owned(), serde_json::to_vec_pretty(&keys)?).await?;

    let mut head = head;
    head["counts"] = serde_json::to_value(&counts)?;
    feed.send(Piece::Finish(head)).await
}

/// Writes the export's ZIP into the blob store, sealed, and returns what was stored.
async fn write(
    store: &FirmStore,
    blobs: &BlobStore,
    grant: &ExportGrant,
    head: serde_json::Value,
    passphrase: Option<Zeroizing<String>>,
) -> Result<Uploaded, BuildError> {
    let (pieces_to, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
    let (output_to, mut output) = mpsc::channel::<Vec<u8>>(OUTPUT_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || write_zip(pieces, output_to, passphrase));
    let mut upload = Upload::start(blobs, store)?;
    let storing = async {
        while let Some(bytes) = output.recv().await {
            upload.push(&bytes).await?;
        }
        Ok::<_, StoreError>(())
    };
    let (produced, stored) =
        tokio::join!(produce(store, blobs, grant, head, Feed { to: pieces_to }), storing);
    let written = writer.await;
    match (produced, stored, written) {
        (Ok(()), Ok(()), Ok(Ok(()))) => Ok(upload.finish("export.zip".to_owned()).await?),
        (produced, stored, written) => {
            upload.abort().await;
            // The first failure is the cause; the others follow from it.
            stored?;
            produced?;
            written??;
            Err(BuildError::WriterGone)
        }
    }
}

/// Builds one queued export (the job `export.build`): the ZIP into the blob store, then its
/// record, then mail to the firm's administrators and the requester. An export no longer
/// queued (built, or failed) is left as it is; a requester no longer entitled gets it failed.
pub async fn build(
    storage: &Storage,
    blobs: &BlobStore,
    mailer: &Mailer,
    firm: FirmId,
    export: Uuid,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let store = storage.firm(firm).await?;
    let Some((to_build, grant)) = store.export_to_build(export, now).await? else { return Ok(()) };
    let ToBuild { record, passphrase, matter_number } = to_build;
    let head = json!({
        "format": FORMAT,
        // The id its audit entries and their signatures are bound to (a copy's original's).
        "firm": store.sealed_as().to_string(),
        "scope": match record.scope { ExportScope::Firm => "firm", ExportScope::Matter(_) => "matter" },
        "matter": record.scope.matter().map(|id| json!({ "id": id.to_string(), "number": matter_number })),
        "export": record.id.to_string(),
        "requested_by": record.requested_by.to_string(),
        "created_at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "encrypted": passphrase.is_some(),
    });
    // The log is exported up to a signed checkpoint of its head, so that every entry in
    // the export is covered by a signature.
    store.flush_audit().await?;
    store.checkpoint_audit(now).await?;
    match write(&store, blobs, &grant, head, passphrase).await {
        Ok(zip) => {
            let expires_at = now + EXPORT_LIFETIME;
            store.export_built(&record, &zip, now, expires_at).await?;
            tell(&store, mailer, &record, matter_number.as_deref(), expires_at).await;
            Ok(())
        }
        Err(e) => {
            tracing::error!(%firm, %export, error = %crate::error::ErrorChain(&e), "an export failed to build");
            store.export_failed(&record, "the export could not be built; ask for a new one", now).await?;
            Ok(())
        }
    }
}

/// Mails the firm's administrators and the requester that an export is ready. A mail that
/// cannot be sent is logged: the export is there all the same, shown where it was asked for.
async fn tell(
    store: &FirmStore,
    mailer: &Mailer,
    record: &ExportRecord,
    matter_number: Option<&str>,
    expires_at: OffsetDateTime,
) {
    let what = match matter_number {
        Some(number) => format!("A full export of matter {number}"),
        None => "A full export of the whole firm".to_owned(),
    };
    let notice = match store.export_notice(record).await {
        Ok(notice) => notice,
        Err(e) => {
            tracing::warn!(export = %record.id, error = %crate::error::ErrorChain(&e), "could not find whom to tell of a built export");
            return;
        }
    };
    let asker = match &notice.requester {
        Some(requester) => format!("{} ({})", requester.display_name(), requester.email),
        None => format!("user {}", record.requested_by),
    };
    let expires = notice.zone.in_words(expires_at);
    for to in &notice.recipients {
        let body = format!(
            "Dear {},\n\n{what} was built (export {}), asked for by {asker}.\n\
             It can be downloaded once, by the person who asked for it, until {expires}; then it is removed.\n\
             If nobody at the firm asked for it, tell your administrators at once.\n",
            to.display_name(),
            record.id,
        );
        let subject = "Ringfence: a full export is ready";
        let mail = Mail { to: to.email.as_str(), to_name: to.name.as_deref(), subject, body };
        if let Err(e) = mailer.send(mail).await {
            tracing::warn!(export = %record.id, error = %crate::error::ErrorChain(&e), "could not mail that an export is ready");
        }
    }
}

/// Expires one firm's exports past their day and removes the files of those that are over
/// (the job `export.expire`).
pub async fn expire(
    storage: &Storage,
    blobs: &BlobStore,
    firm: FirmId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let store = storage.firm(firm).await?;
    for (export, blob) in store.expire_exports(now).await? {
        blobs.delete(firm, blob).await?;
        store.forget_export_blob(export).await?;
    }
    Ok(())
}
