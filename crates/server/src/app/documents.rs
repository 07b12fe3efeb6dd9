//! Documents on a matter: sealed uploads, their versions, reading and deleting them.
//!
//! An upload is checked before it is received ([`may_upload`], [`may_add_version`]); the
//! edge then stores the file as it streams in, holding no transaction, and hands it over
//! as [`Received`]. Recording it checks access again, in the transaction that records it:
//! access lost meanwhile discards the stored bytes, as does any other failure.

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::Outcome;
use ringfence_core::document::Scan;
use ringfence_core::ids::{DocumentId, MatterId, UserId};
use ringfence_store::firm::access::{MatterAccess, ReadContent, WriteContent};
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::documents::{self, Content, Document, Uploaded, Version};
use ringfence_store::{FirmTx, StoreError};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{self, On};
use super::legal_holds::refuse_if_held;
use super::{AppError, Ctx};
use crate::AppState;
use crate::audit;
use crate::malware::Verdict;
use crate::pdf_pages::DrawnPage;

const MAX_TITLE_CHARS: usize = 500;

/// A document as its readers see it: its current version's facts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Document)]
pub struct DocumentView {
    pub id: Uuid,
    pub matter_id: Uuid,
    pub title: String,
    pub privileged: bool,
    /// The current version's file name.
    pub name: String,
    pub size: u64,
    /// The SHA-256 of the current version's bytes, in hex.
    pub sha256: String,
    pub content_type: String,
    pub version: i64,
    /// `unscanned`, `clean` or `infected` (quarantined: not downloadable).
    pub scan: &'static str,
    #[schema(value_type = Uuid)]
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the current version was uploaded.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        Self {
            id: d.id,
            matter_id: d.matter_id,
            title: d.title,
            privileged: d.privileged,
            name: d.current.name,
            size: d.current.size,
            sha256: d.current.sha256,
            content_type: d.current.content_type,
            version: d.current.version,
            scan: d.current.scan.as_str(),
            created_by: d.created_by,
            created_at: d.created_at,
            updated_at: d.current.uploaded_at,
        }
    }
}

/// One version of a document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DocumentVersion)]
pub struct VersionView {
    pub version: i64,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    /// `unscanned`, `clean` or `infected`.
    pub scan: &'static str,
    #[schema(value_type = Uuid)]
    pub uploaded_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
}

impl From<Version> for VersionView {
    fn from(v: Version) -> Self {
        Self {
            version: v.version,
            name: v.name,
            content_type: v.content_type,
            size: v.size,
            sha256: v.sha256,
            scan: v.scan.as_str(),
            uploaded_by: v.uploaded_by,
            uploaded_at: v.uploaded_at,
        }
    }
}

/// A matter's documents, in one page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DocumentList)]
pub struct DocumentList {
    pub items: Vec<DocumentView>,
    /// Always null: the list is never split into pages.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A document's versions, oldest first, in one page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DocumentVersionList)]
pub struct VersionList {
    pub items: Vec<VersionView>,
    /// Always null: the list is never split into pages.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A matter's documents inside a read the caller holds (also for a page showing the
/// matter whole).
pub async fn listed_within(
    tx: &mut FirmTx,
    access: &MatterAccess<ReadContent>,
) -> Result<Vec<DocumentView>, AppError> {
    Ok(documents::list(tx, access).await?.into_iter().map(DocumentView::from).collect())
}

/// A document's versions, oldest first, inside a read the caller holds.
pub async fn versions_within(
    tx: &mut FirmTx,
    access: &MatterAccess<ReadContent>,
    document: Uuid,
) -> Result<Vec<VersionView>, AppError> {
    Ok(documents::versions(tx, access, document).await?.into_iter().map(VersionView::from).collect())
}

/// A matter's documents, their listing on the record.
pub async fn list(ctx: &Ctx, on: On<ReadContent, MatterId>) -> Result<DocumentList, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let items = listed_within(&mut tx, &access).await?;
    access::note_read(tx, ctx, &access, AuditAction::DocumentListed, ("matter", on.id().to_string())).await?;
    Ok(DocumentList { items, next_cursor: None })
}

/// One document, its reading on the record.
pub async fn view(ctx: &Ctx, on: On<ReadContent, DocumentId>) -> Result<DocumentView, AppError> {
    let (mut tx, access) =
        access::record(ctx, ctx.actor.begin_read().await?, on, documents::matter_of).await?;
    let found = documents::get(&mut tx, &access, on.id().as_uuid()).await?.ok_or(AppError::NotFound)?;
    access::note_read(tx, ctx, &access, AuditAction::DocumentViewed, ("document", on.id().to_string()))
        .await?;
    Ok(found.into())
}

/// A document's versions, their listing on the record.
pub async fn versions(ctx: &Ctx, on: On<ReadContent, DocumentId>) -> Result<VersionList, AppError> {
    let (mut tx, access) =
        access::record(ctx, ctx.actor.begin_read().await?, on, documents::matter_of).await?;
    let items = versions_within(&mut tx, &access, on.id().as_uuid()).await?;
    access::note_read(
        tx,
        ctx,
        &access,
        AuditAction::DocumentVersionsListed,
        ("document", on.id().to_string()),
    )
    .await?;
    Ok(VersionList { items, next_cursor: None })
}

/// Deletes a document (all its versions); answers the matter it was on. Not while a legal
/// hold keeps the matter.
pub async fn delete(ctx: &Ctx, on: On<WriteContent, DocumentId>) -> Result<MatterId, AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
    refuse_if_held(&mut tx, access.matter()).await?;
    if !documents::delete(&mut tx, &access, on.id().as_uuid(), ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::DocumentDeleted, ("document", on.id().to_string()))
        .await?;
    tx.commit().await?;
    Ok(MatterId::from(access.matter()))
}

/// A version of a document, opened for reading, its download on the record.
pub struct Download {
    pub content: Content,
    pub name: String,
    pub content_type: String,
    /// What a stored file that fails its integrity check while being read is recorded on.
    pub matter: MatterId,
    pub document: DocumentId,
}

/// Why a document's content is read: to save it, or to show it in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Download,
    /// Only raster images and PDFs (`document::previewable`); anything else is refused.
    Preview,
}

/// Opens a version of a document (the current one without `version`) for download. An
/// infected version is refused; a stored file that fails its integrity check is recorded
/// and answered as [`StoreError::BlobIntegrity`].
pub async fn download(
    ctx: &Ctx,
    state: &AppState,
    on: On<ReadContent, DocumentId>,
    version: Option<i64>,
    reading: Reading,
) -> Result<Download, AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
    let readable =
        documents::readable(&mut tx, &access, on.id().as_uuid(), version).await?.ok_or(AppError::NotFound)?;
    if !readable.version.scan.downloadable() {
        return Err(AppError::conflict(
            "not_downloadable",
            "this version was found infected and is quarantined",
        ));
    }
    if reading == Reading::Preview && !ringfence_core::document::previewable(&readable.version.content_type) {
        return Err(AppError::conflict(
            "not_previewable",
            "only PDFs and PNG, JPEG, GIF and WebP images are shown in the browser; download this file instead",
        ));
    }
    let action = match reading {
        Reading::Download => AuditAction::DocumentDownloaded,
        Reading::Preview => AuditAction::DocumentPreviewed,
    };
    access::note_done(&mut tx, ctx, &access, action, ("document", on.id().to_string())).await?;
    tx.commit().await?;
    let matter = MatterId::from(access.matter());
    let content = match Content::open(&state.blobs, &ctx.actor.store, &readable).await {
        Ok(content) => content,
        Err(StoreError::BlobIntegrity) => {
            record_integrity_failure(ctx, matter, on.id()).await;
            return Err(StoreError::BlobIntegrity.into());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Download {
        content,
        name: readable.version.name,
        content_type: readable.version.content_type,
        matter,
        document: on.id(),
    })
}

/// How long a preview waits for one of the extractor's slots before it is refused: drawing
/// shares them with the text extraction of uploads, which must not queue behind previews.
const PREVIEW_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The page of a PDF a preview asks for (the first when none is named), checked before the
/// file is opened.
pub fn page_asked(page: Option<u32>) -> Result<u32, AppError> {
    match page {
        Some(0) => Err(AppError::invalid("page", "pages are numbered from 1")),
        page => Ok(page.unwrap_or(1)),
    }
}

/// Page `page` (from 1, see [`page_asked`]) of a PDF opened for preview, drawn as a PNG in
/// the extractor's child process (never here: the file is attacker-chosen), with the number
/// of pages. The file is read only once a slot is free, so previews waiting their turn hold
/// no plaintext; one that waits too long is refused, to be asked again. A file that cannot
/// be drawn is refused, to be downloaded instead; a page it does not have names how many it
/// has.
pub async fn draw_page(
    ctx: &Ctx,
    state: &AppState,
    opened: Download,
    page: u32,
) -> Result<DrawnPage, AppError> {
    let cannot =
        |why: &str| AppError::conflict("not_previewable", format!("this PDF {why}; download it instead"));
    if opened.content_type != ringfence_core::document::DRAWN_AS_PAGES {
        return Err(AppError::invalid("page", "only a PDF has pages"));
    }
    let size = opened.content.size();
    if size > ringfence_core::extract::MAX_SOURCE {
        return Err(cannot("is too large to draw"));
    }
    let extractor = &state.settings.extractor;
    let slot = match tokio::time::timeout(PREVIEW_WAIT, extractor.slot()).await {
        Ok(slot) => slot.map_err(AppError::internal)?,
        Err(_) => {
            return Err(AppError::Throttled {
                code: "previews_busy",
                reason: "the server is drawing other pages; try again in a few seconds".to_owned(),
                retry_after: 5,
            });
        }
    };
    let bytes = match opened.content.read(0..size).await {
        Ok(bytes) => zeroize::Zeroizing::new(bytes),
        Err(StoreError::BlobIntegrity) => {
            record_integrity_failure(ctx, opened.matter, opened.document).await;
            return Err(StoreError::BlobIntegrity.into());
        }
        Err(e) => return Err(e.into()),
    };
    let drawn = extractor.pdf_page(slot, &bytes, page).await.map_err(|e| {
        tracing::warn!(error = %crate::error::ErrorChain(&e), size, "a PDF page could not be drawn");
        cannot("could not be drawn")
    })?;
    match drawn {
        None => Err(cannot("cannot be read")),
        Some(DrawnPage { pages, png: None }) => {
            Err(AppError::invalid("page", format!("the document has {pages} page(s)")))
        }
        Some(drawn) => Ok(drawn),
    }
}

/// Records that a stored file failed authentication, in a transaction of its own (the
/// download's own has ended; this may run while the file is being sent).
pub async fn record_integrity_failure(ctx: &Ctx, matter: MatterId, document: DocumentId) {
    let result = async {
        let mut tx = ctx.actor.begin().await?;
        let mut entry = audit::record(
            ctx.actor.audit_actor(),
            AuditAction::DocumentIntegrityFailed,
            Some(("document", document.to_string())),
            Outcome::Failure,
            &ctx.client,
            ctx.now(),
        );
        entry.matter_id = Some(matter.to_string());
        audit_log::append(&mut tx, &entry).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = ?e, "could not record a document integrity failure");
    }
    tracing::error!(%document, "a stored document failed its integrity check");
}

/// Refuses an upload to the matter before anything of it is received.
pub async fn may_upload(ctx: &Ctx, on: On<WriteContent, MatterId>) -> Result<(), AppError> {
    let (tx, _) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    tx.commit().await?;
    Ok(())
}

/// Refuses a new version of the document before anything of it is received.
pub async fn may_add_version(ctx: &Ctx, on: On<WriteContent, DocumentId>) -> Result<(), AppError> {
    let (tx, _) = access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
    tx.commit().await?;
    Ok(())
}

/// An upload as the edge received it: the file stored (sealed) as it streamed in, and the
/// form's other fields.
pub struct Received {
    pub uploaded: Uploaded,
    pub title: Option<String>,
    pub privileged: bool,
}

/// A received upload, checked, its text extracted and its bytes scanned.
struct Checked {
    uploaded: Uploaded,
    title: Option<String>,
    privileged: bool,
    scan: Scan,
    /// The malware signature found in it, if any.
    signature: Option<String>,
}

/// Records a received upload as a new document on the matter.
pub async fn upload(
    ctx: &Ctx,
    state: &AppState,
    on: On<WriteContent, MatterId>,
    received: Received,
) -> Result<DocumentView, AppError> {
    let mut checked = check(ctx, state, received).await?;
    let recorded = async {
        prepare(ctx, state, &mut checked).await?;
        let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
        let title = checked.title.as_deref().unwrap_or(&checked.uploaded.name);
        let id = documents::create(
            &mut tx,
            &access,
            title,
            checked.privileged,
            &checked.uploaded,
            checked.scan,
            ctx.now(),
        )
        .await?;
        record_upload(&mut tx, ctx, &access, AuditAction::DocumentUploaded, id, &checked).await?;
        let document = documents::get(&mut tx, &access, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(document)
    }
    .await;
    kept_or_discarded(ctx, state, checked, recorded).await
}

/// Records a received upload as the document's new current version.
pub async fn add_version(
    ctx: &Ctx,
    state: &AppState,
    on: On<WriteContent, DocumentId>,
    received: Received,
) -> Result<DocumentView, AppError> {
    let mut checked = check(ctx, state, received).await?;
    let recorded = async {
        prepare(ctx, state, &mut checked).await?;
        let (mut tx, access) =
            access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
        let document = on.id().as_uuid();
        documents::add_version(&mut tx, &access, document, &checked.uploaded, checked.scan, ctx.now())
            .await?
            .ok_or(AppError::NotFound)?;
        record_upload(&mut tx, ctx, &access, AuditAction::DocumentVersionAdded, document, &checked).await?;
        let document = documents::get(&mut tx, &access, document).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(document)
    }
    .await;
    kept_or_discarded(ctx, state, checked, recorded).await
}

/// Its terms are found and hashed before the transaction that records it. A long upload
/// may have outlived a key rotation: the keyring is brought up to date first.
async fn prepare(ctx: &Ctx, state: &AppState, checked: &mut Checked) -> Result<(), AppError> {
    let store = state.storage.firm(ctx.actor.firm).await?;
    checked.uploaded.blind_terms(&store).await?;
    Ok(())
}

/// Checks the title, extracts the text for the index and scans the bytes. Nothing is left
/// stored on any error.
async fn check(ctx: &Ctx, state: &AppState, received: Received) -> Result<Checked, AppError> {
    let Received { mut uploaded, title, privileged } = received;
    let firm = ctx.actor.firm;
    let title = title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if title.as_ref().is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control))
    {
        uploaded.discard(&state.blobs, firm).await;
        return Err(AppError::invalid("title", "at most 500 characters, no control characters"));
    }
    // The slot first: waiting uploads hold no plaintext, only the running ones do.
    let extractor = &state.settings.extractor;
    let slot = if uploaded.has_text_source() { extractor.slot().await.ok() } else { None };
    if let Some(slot) = slot {
        match uploaded.text_source(&state.blobs, &ctx.actor.store).await {
            Ok(Some(bytes)) => {
                if let Some(text) = extractor.text_of(slot, uploaded.content_type, &bytes).await {
                    uploaded.set_text(&text);
                }
            }
            Ok(None) => {}
            Err(e) => {
                drop(slot);
                uploaded.discard(&state.blobs, firm).await;
                return Err(e.into());
            }
        }
    }
    match scan(state, ctx, &uploaded).await {
        Ok((scan, signature)) => Ok(Checked { uploaded, title, privileged, scan, signature }),
        Err(e) => {
            uploaded.discard(&state.blobs, firm).await;
            Err(e)
        }
    }
}

/// Scans a stored upload when a scanner is configured: the verdict, and the signature
/// found, if any. A scanner that cannot answer refuses the upload: nothing unscanned may
/// become downloadable where scanning is required.
async fn scan(state: &AppState, ctx: &Ctx, uploaded: &Uploaded) -> Result<(Scan, Option<String>), AppError> {
    let Some(scanner) = &state.settings.malware_scanner else { return Ok((Scan::Unscanned, None)) };
    let content = uploaded.content(&state.blobs, &ctx.actor.store).await?;
    match scanner.scan(&content).await {
        Ok(Verdict::Clean) => Ok((Scan::Clean, None)),
        Ok(Verdict::Infected(signature)) => Ok((Scan::Infected, Some(signature))),
        Err(e) => {
            tracing::error!(error = %e, "malware scan failed");
            Err(AppError::unavailable(
                "scanner_unavailable",
                "the malware scanner is unavailable; the document was not kept, try again later",
            ))
        }
    }
}

/// Records an upload; an infected one also as quarantined, naming the signature.
async fn record_upload(
    tx: &mut FirmTx,
    ctx: &Ctx,
    access: &MatterAccess<WriteContent>,
    action: AuditAction,
    document: Uuid,
    checked: &Checked,
) -> Result<(), AppError> {
    let document = document.to_string();
    access::note_done(tx, ctx, access, action, ("document", document.clone())).await?;
    if let Some(signature) = &checked.signature {
        tracing::warn!(%document, %signature, "an uploaded document is infected and was quarantined");
        let mut entry = audit::record(
            ctx.actor.audit_actor(),
            AuditAction::DocumentQuarantined,
            Some(("document", document)),
            Outcome::Failure,
            &ctx.client,
            ctx.now(),
        );
        entry.matter_id = Some(access.matter().to_string());
        audit_log::append(tx, &entry).await?;
    }
    Ok(())
}

/// The recorded document, or the error once the stored bytes that could not be recorded
/// are removed.
async fn kept_or_discarded(
    ctx: &Ctx,
    state: &AppState,
    checked: Checked,
    recorded: Result<Document, AppError>,
) -> Result<DocumentView, AppError> {
    match recorded {
        Ok(document) => Ok(document.into()),
        Err(e) => {
            checked.uploaded.discard(&state.blobs, ctx.actor.firm).await;
            Err(e)
        }
    }
}
