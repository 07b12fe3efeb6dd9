//! Full exports as one ZIP: a matter's, by its lead (`Export` in the permission table), or
//! the whole firm's, by an administrator. Asking records the export and queues its build
//! (`crate::app::export_build`, a job); the requester alone sees it (anyone else's is a
//! 404), and downloads it once, within a day of its build: after that, or a day unread,
//! it is gone (410). Every step is on the record: requested, built, downloaded, expired.
//!
//! A passphrase makes the ZIP AES-256 encrypted (WinZip AE-2, which 7-Zip opens). It is
//! never logged; it is kept sealed under the firm key in the export's row only until the
//! build has used it, and wiped from the row in the statement that records the build.

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::ids::MatterId;
use ringfence_store::Storage;
use ringfence_store::blobs::BlobStore;
use ringfence_store::firm::access::Export;
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::documents::Content;
use ringfence_store::firm::exports::{self, ExportRecord, ExportScope, ExportStatus, Taken};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::access::{self, On};
use super::{AppError, Ctx};
use crate::jobs::Job;

pub use super::export_build::{FORMAT, build, expire};

/// How long a built export waits for its one download.
pub const EXPORT_LIFETIME: time::Duration = time::Duration::hours(24);
/// Bounds of a passphrase, in characters.
pub const PASSPHRASE_MIN: usize = 12;
pub const PASSPHRASE_MAX: usize = 128;

/// What an export is asked for with.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Encrypts the ZIP with AES-256 under this passphrase (12 to 128 characters); the
    /// server keeps it only until the ZIP is built. Without it the ZIP is not encrypted.
    #[schema(min_length = 12, max_length = 128)]
    pub passphrase: Option<String>,
}

/// An export as its requester sees it.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ExportView {
    pub id: Uuid,
    /// `matter` or `firm`.
    pub scope: &'static str,
    pub matter_id: Option<Uuid>,
    /// `queued`, `ready`, `failed`, `downloaded` or `expired`.
    pub status: &'static str,
    /// Whether the ZIP is encrypted with a passphrase.
    pub encrypted: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub built_at: Option<OffsetDateTime>,
    /// Until when the ready ZIP can be downloaded (once).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub downloaded_at: Option<OffsetDateTime>,
    /// The ZIP's size in bytes and SHA-256 (hex), once built.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// Why the build failed.
    pub failure: Option<String>,
    /// Where to download it, while it is ready.
    pub download: Option<String>,
}

/// The requester's exports, newest first (the latest 50).
#[derive(Serialize, ToSchema)]
pub struct ExportList {
    pub items: Vec<ExportView>,
}

impl From<ExportRecord> for ExportView {
    fn from(record: ExportRecord) -> Self {
        let base = match record.scope {
            ExportScope::Firm => "/api/v1/firm/exports".to_owned(),
            ExportScope::Matter(matter) => format!("/api/v1/matters/{matter}/exports"),
        };
        let ready = record.status == ExportStatus::Ready;
        Self {
            id: record.id,
            scope: match record.scope {
                ExportScope::Firm => "firm",
                ExportScope::Matter(_) => "matter",
            },
            matter_id: record.scope.matter(),
            status: record.status.as_str(),
            encrypted: record.encrypted,
            requested_at: record.requested_at,
            built_at: record.built_at,
            expires_at: record.expires_at,
            downloaded_at: record.downloaded_at,
            size: record.size,
            sha256: record.sha256,
            failure: record.failure,
            download: ready.then(|| format!("{base}/{}/download", record.id)),
        }
    }
}

/// A passphrase as given, checked: none, or 12 to 128 characters without control
/// characters. It is held in memory that is wiped when dropped.
pub fn passphrase(given: Option<String>) -> Result<Option<Zeroizing<String>>, AppError> {
    let Some(given) = given.map(Zeroizing::new) else { return Ok(None) };
    let length = given.chars().count();
    if !(PASSPHRASE_MIN..=PASSPHRASE_MAX).contains(&length) {
        return Err(AppError::invalid(
            "passphrase",
            format!("must be {PASSPHRASE_MIN} to {PASSPHRASE_MAX} characters long"),
        ));
    }
    if given.chars().any(char::is_control) {
        return Err(AppError::invalid("passphrase", "must not contain control characters"));
    }
    Ok(Some(given))
}

/// Queues the build of a recorded export. The export's row commits first (the firm store
/// and the queue are two databases); a queue that cannot take the job fails the export at
/// once rather than leave it waiting for nothing.
async fn queue_build(ctx: &Ctx, storage: &Storage, record: &ExportRecord) -> Result<(), AppError> {
    let job = Job::BuildExport { firm: ctx.actor.firm, export: record.id };
    if let Err(e) = storage.enqueue_job(&job.once_at(ctx.now()), ctx.now()).await {
        ctx.actor.store.export_failed(record, "the export could not be queued; ask again", ctx.now()).await?;
        return Err(e.into());
    }
    Ok(())
}

async fn requested(ctx: &Ctx, id: Uuid) -> Result<ExportRecord, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let record = exports::get(&mut tx, ctx.actor.user, id).await?;
    tx.commit().await?;
    record.ok_or(AppError::NotFound)
}

/// Asks for an export of a matter the caller leads.
pub async fn request_matter(
    ctx: &Ctx,
    storage: &Storage,
    on: On<Export, MatterId>,
    asked: ExportRequest,
) -> Result<ExportView, AppError> {
    let passphrase = passphrase(asked.passphrase)?;
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let id = Uuid::now_v7();
    exports::request_matter(&mut tx, &access, id, passphrase.as_ref().map(|p| p.as_str()), ctx.now()).await?;
    access::note_done(&mut tx, ctx, &access, AuditAction::ExportRequested, ("export", id.to_string()))
        .await?;
    tx.commit().await?;
    let record = requested(ctx, id).await?;
    queue_build(ctx, storage, &record).await?;
    Ok(record.into())
}

/// Asks for an export of the whole firm (the route admits administrators only).
pub async fn request_firm(
    ctx: &Ctx,
    storage: &Storage,
    asked: ExportRequest,
) -> Result<ExportView, AppError> {
    let passphrase = passphrase(asked.passphrase)?;
    let mut tx = ctx.actor.begin().await?;
    let id = Uuid::now_v7();
    exports::request_firm(&mut tx, ctx.actor.user, id, passphrase.as_ref().map(|p| p.as_str()), ctx.now())
        .await?;
    ctx.record(&mut tx, AuditAction::ExportRequested, Some(("export", id.to_string()))).await?;
    tx.commit().await?;
    let record = requested(ctx, id).await?;
    queue_build(ctx, storage, &record).await?;
    Ok(record.into())
}

/// The caller's own exports of a matter it leads.
pub async fn list_matter(ctx: &Ctx, on: On<Export, MatterId>) -> Result<ExportList, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let items = exports::list(&mut tx, ctx.actor.user, ExportScope::Matter(access.matter())).await?;
    tx.commit().await?;
    Ok(ExportList { items: items.into_iter().map(Into::into).collect() })
}

/// The caller's own exports of the firm.
pub async fn list_firm(ctx: &Ctx) -> Result<ExportList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let items = exports::list(&mut tx, ctx.actor.user, ExportScope::Firm).await?;
    tx.commit().await?;
    Ok(ExportList { items: items.into_iter().map(Into::into).collect() })
}

/// Where an export is asked for: on a matter (with the caller's proof it may export it),
/// or the firm's.
pub enum Place {
    Matter(On<Export, MatterId>),
    Firm,
}

impl Place {
    /// Checks the caller's access for a matter's place, and gives the scope it names.
    async fn scope(&self, ctx: &Ctx) -> Result<ExportScope, AppError> {
        match self {
            Place::Firm => Ok(ExportScope::Firm),
            Place::Matter(on) => {
                let (tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, *on).await?;
                tx.commit().await?;
                Ok(ExportScope::Matter(access.matter()))
            }
        }
    }
}

/// One of the caller's own exports, asked for at `place`; anyone else's is not found.
pub async fn get(ctx: &Ctx, place: Place, id: Uuid) -> Result<ExportView, AppError> {
    let scope = place.scope(ctx).await?;
    let record = requested(ctx, id).await?;
    if record.scope != scope {
        return Err(AppError::NotFound);
    }
    Ok(record.into())
}

/// An export being downloaded: its bytes, opened as they are read.
pub struct Download {
    pub content: Content,
    pub file_name: String,
    /// The blob to remove once the download is over ([`finish_download`]).
    pub blob: Uuid,
    pub export: Uuid,
}

/// Takes the caller's ready export for its one download, and records it. An export that
/// was downloaded already or whose day has passed is gone (410); one still being built is
/// a conflict; anyone else's, or another place's, is not found.
pub async fn download(ctx: &Ctx, blobs: &BlobStore, place: Place, id: Uuid) -> Result<Download, AppError> {
    let scope = place.scope(ctx).await?;
    let mut tx = ctx.actor.begin().await?;
    let file = match exports::take(&mut tx, ctx.actor.user, id, ctx.now()).await? {
        Taken::File(file) if file.record.scope == scope => file,
        Taken::NotReady(record) if record.scope == scope => {
            tx.commit().await?;
            return Err(match record.status {
                ExportStatus::Queued => {
                    AppError::conflict("export_not_ready", "the export is still being built")
                }
                ExportStatus::Failed => AppError::Gone {
                    code: "export_failed",
                    reason: "the export failed to build; ask for a new one".to_owned(),
                },
                ExportStatus::Ready | ExportStatus::Downloaded | ExportStatus::Expired => AppError::Gone {
                    code: "export_gone",
                    reason: "the export was downloaded already or its day has passed; ask for a new one"
                        .to_owned(),
                },
            });
        }
        Taken::File(_) | Taken::NotReady(_) | Taken::Missing => {
            tx.commit().await?;
            return Err(AppError::NotFound);
        }
    };
    let mut entry = crate::audit::record(
        ctx.actor.audit_actor(),
        AuditAction::ExportDownloaded,
        Some(("export", id.to_string())),
        Outcome::Success,
        &ctx.client,
        ctx.now(),
    );
    entry.matter_id = scope.matter().map(|m| m.to_string());
    audit_log::append(&mut tx, &entry).await?;
    tx.commit().await?;
    let content = file.open(blobs, &ctx.actor.store).await?;
    let kind = match scope {
        ExportScope::Firm => "firm",
        ExportScope::Matter(_) => "matter",
    };
    let file_name = format!("ringfence-{kind}-export-{}.zip", ctx.now().date());
    Ok(Download { content, file_name, blob: file.blob(), export: id })
}

/// Removes a downloaded export's file: called when its download ends, however it ended
/// (it was taken once). What cannot be removed now is removed by the expiry job.
pub async fn finish_download(ctx: &Ctx, blobs: &BlobStore, download: &Download) {
    let removed = async {
        blobs.delete(ctx.actor.firm, download.blob).await?;
        ctx.actor.store.forget_export_blob(download.export).await
    };
    if let Err(e) = removed.await {
        tracing::warn!(export = %download.export, error = %crate::error::ErrorChain(&e), "could not remove a downloaded export yet; the expiry job will");
    }
}
