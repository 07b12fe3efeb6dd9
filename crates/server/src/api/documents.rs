//! Documents on a matter: streamed, sealed uploads; versions; downloads with ranges.
//!
//! An upload checks the caller's access, then receives the file without holding a database
//! transaction (a large upload must not block the firm's writers), and checks access again
//! in the transaction that records it: access lost meanwhile discards the stored bytes.

use std::ops::Range;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::document::{Scan, sanitize_file_name};
use ringfence_core::ids::DocumentId;
use ringfence_store::StoreError;
use ringfence_store::firm::access::{ReadContent, WriteContent};
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::documents::{self, Content, Document, Upload, Uploaded, Version};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::app::access::On;
use crate::app::{self, Ctx};
use crate::audit;
use crate::auth::Actor;
use crate::client::Client;
use crate::error::ApiError;
use crate::malware::Verdict;
use crate::matter_access::{record, record_read, require, require_for};

/// Bytes read, opened and sent at a time when streaming a download.
const SEND_LEN: u64 = 1024 * 1024;
const MAX_TITLE_CHARS: usize = 500;
/// The most bytes any part of an upload form other than `file` may have: they are held in
/// memory whole.
const MAX_FIELD_BYTES: u64 = 16 * 1024;
/// The parts an upload form may have, each at most once.
const PARTS: [&str; 3] = ["file", "title", "privileged"];

fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn version_json(v: &Version) -> Value {
    json!({
        "version": v.version,
        "name": v.name,
        "content_type": v.content_type,
        "size": v.size,
        "sha256": v.sha256,
        "scan": v.scan.as_str(),
        "uploaded_by": v.uploaded_by,
        "uploaded_at": time(v.uploaded_at),
    })
}

fn document_json(d: &Document) -> Value {
    json!({
        "id": d.id,
        "matter_id": d.matter_id,
        "title": d.title,
        "privileged": d.privileged,
        "name": d.current.name,
        "size": d.current.size,
        "sha256": d.current.sha256,
        "content_type": d.current.content_type,
        "version": d.current.version,
        "scan": d.current.scan.as_str(),
        "created_by": d.created_by,
        "created_at": time(d.created_at),
        "updated_at": time(d.current.uploaded_at),
    })
}

fn field_too_large(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("`{name}` may be at most {MAX_FIELD_BYTES} bytes"),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("a document may be at most {limit} bytes"),
    )
}

/// The multipart form of an upload, with the file already stored.
struct Received {
    uploaded: Uploaded,
    title: Option<String>,
    privileged: bool,
    scan: Scan,
    /// The malware signature found in it, if any.
    signature: Option<String>,
}

/// Reads a multipart upload: `file` is sealed and stored as it streams in; `title` and
/// `privileged` may come before or after it. Nothing is left stored on any error.
async fn receive(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    body: Body,
) -> Result<Received, ApiError> {
    let limit = state.settings.max_upload_bytes;
    // The form's own fields and boundaries add a little to the file's size.
    let slack = 64 * 1024;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit + slack) {
        return Err(too_large(limit));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::invalid("the body must be multipart/form-data with a `file` part"))?;
    // Every part's size is capped as it arrives: the file at the upload limit, the
    // others small. Names are checked below, before any part's content is read.
    let mut sizes = multer::SizeLimit::new().whole_stream(limit + slack).per_field(MAX_FIELD_BYTES);
    sizes = sizes.for_field("file", limit);
    let constraints = multer::Constraints::new().size_limit(sizes);
    let mut form = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);

    let mut upload: Option<(Upload, String)> = None;
    let mut stored: Option<Uploaded> = None;
    let mut title = None;
    let mut privileged = false;
    let mut seen: Vec<&'static str> = Vec::new();
    let outcome = async {
        while let Some(mut field) = form.next_field().await.map_err(|e| form_error(&e, limit))? {
            let name = part_name(&field)?;
            if seen.contains(&name) {
                return Err(ApiError::invalid(format!(
                    "`{name}` was sent twice; each part may be sent once"
                )));
            }
            seen.push(name);
            match name {
                "file" => {
                    let name = sanitize_file_name(field.file_name().unwrap_or_default());
                    upload = Some((Upload::start(&state.blobs, actor.firm)?, name));
                    while let Some(bytes) = field.chunk().await.map_err(|e| form_error(&e, limit))? {
                        let (receiving, _) = upload.as_mut().ok_or_else(ApiError::not_found)?;
                        if receiving.size() + bytes.len() as u64 > limit {
                            return Err(too_large(limit));
                        }
                        receiving.push(&bytes).await?;
                    }
                    let (done, name) = upload.take().ok_or_else(ApiError::not_found)?;
                    stored = Some(done.finish(name).await?);
                }
                "title" => title = Some(field_text(field, name, limit).await?),
                // `privileged`, the last of the parts `part_name` lets through.
                _ => {
                    privileged = match field_text(field, name, limit).await?.trim() {
                        "true" | "1" | "on" => true,
                        "false" | "0" | "off" | "" => false,
                        _ => return Err(ApiError::invalid("privileged: true or false")),
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        if let Some((receiving, _)) = upload {
            receiving.abort().await;
        }
        if let Some(done) = stored {
            done.discard(&state.blobs, actor.firm).await;
        }
        return Err(e);
    }
    let mut uploaded =
        stored.ok_or_else(|| ApiError::invalid("file: a multipart part named `file` is required"))?;
    let title = title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if title.as_ref().is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control))
    {
        uploaded.discard(&state.blobs, actor.firm).await;
        return Err(ApiError::invalid("title: at most 500 characters, no control characters"));
    }
    // The slot first: waiting uploads hold no plaintext, only the running ones do.
    let extractor = &state.settings.extractor;
    let slot = if uploaded.has_text_source() { extractor.slot().await.ok() } else { None };
    if let Some(slot) = slot {
        match uploaded.text_source(&state.blobs, actor.firm).await {
            Ok(Some(bytes)) => {
                if let Some(text) = extractor.text_of(slot, uploaded.content_type, &bytes).await {
                    uploaded.set_text(&text);
                }
            }
            Ok(None) => {}
            Err(e) => {
                drop(slot);
                uploaded.discard(&state.blobs, actor.firm).await;
                return Err(e.into());
            }
        }
    }
    match scan(state, actor, &uploaded).await {
        Ok((scan, signature)) => Ok(Received { uploaded, title, privileged, scan, signature }),
        Err(e) => {
            uploaded.discard(&state.blobs, actor.firm).await;
            Err(e)
        }
    }
}

/// Which of [`PARTS`] a part is; anything else is refused before its content is read.
fn part_name(field: &multer::Field<'_>) -> Result<&'static str, ApiError> {
    // multer reads a name or file name that is not UTF-8 as absent: say what is wrong.
    let disposition = field.headers().get(header::CONTENT_DISPOSITION).map(HeaderValue::as_bytes);
    if disposition.is_some_and(|d| std::str::from_utf8(d).is_err()) {
        return Err(ApiError::invalid("a part's name and file name must be UTF-8"));
    }
    let Some(name) = field.name() else {
        return Err(ApiError::invalid("every part needs a name: `file`, `title` or `privileged`"));
    };
    PARTS.into_iter().find(|known| *known == name).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown part `{}`: only `file`, `title` and `privileged` may be sent",
            name.chars().take(64).collect::<String>().escape_default()
        ))
    })
}

/// A text part's value, which must be UTF-8 (no character is silently replaced).
async fn field_text(field: multer::Field<'_>, name: &str, limit: u64) -> Result<String, ApiError> {
    let bytes = field.bytes().await.map_err(|e| form_error(&e, limit))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid(format!("`{name}` must be UTF-8 text")))
}

fn form_error(e: &multer::Error, limit: u64) -> ApiError {
    match e {
        multer::Error::FieldSizeExceeded { field_name: Some(name), .. } if name != "file" => {
            field_too_large(name)
        }
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(limit)
        }
        _ => ApiError::invalid("the multipart body is malformed or was cut off"),
    }
}

/// Scans a stored upload when a scanner is configured: the verdict, and the signature
/// found, if any. A scanner that cannot answer refuses the upload: nothing unscanned may
/// become downloadable where scanning is required.
async fn scan(
    state: &AppState,
    actor: &Actor,
    uploaded: &Uploaded,
) -> Result<(Scan, Option<String>), ApiError> {
    let Some(scanner) = &state.settings.malware_scanner else { return Ok((Scan::Unscanned, None)) };
    let content = uploaded.content(&state.blobs, actor.firm).await?;
    match scanner.scan(&content).await {
        Ok(Verdict::Clean) => Ok((Scan::Clean, None)),
        Ok(Verdict::Infected(signature)) => Ok((Scan::Infected, Some(signature))),
        Err(e) => {
            tracing::error!(error = %e, "malware scan failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "scanner_unavailable",
                "the malware scanner is unavailable; the document was not kept, try again later",
            ))
        }
    }
}

/// Records an upload; an infected one also as quarantined, naming the signature.
async fn record_upload<A: ringfence_store::firm::access::Action>(
    tx: &mut ringfence_store::FirmTx,
    actor: &Actor,
    client: &Client,
    access: &ringfence_store::firm::access::MatterAccess<A>,
    action: AuditAction,
    document: String,
    received: &Received,
) -> Result<(), ApiError> {
    record(tx, actor, client, access, action, ("document", document.clone())).await?;
    if let Some(signature) = &received.signature {
        tracing::warn!(%document, %signature, "an uploaded document is infected and was quarantined");
        let mut entry = audit::record(
            actor.audit_actor(),
            AuditAction::DocumentQuarantined,
            Some(("document", document)),
            Outcome::Failure,
            client,
            actor.at,
        );
        entry.matter_id = Some(access.matter().to_string());
        audit_log::append(tx, &entry).await?;
    }
    Ok(())
}

/// The answer to an upload: the recorded document, or the error after the stored bytes that
/// could not be recorded are removed.
async fn created_or_discarded(
    state: &AppState,
    actor: &Actor,
    received: Received,
    recorded: Result<Document, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match recorded {
        Ok(document) => Ok((StatusCode::CREATED, Json(document_json(&document)))),
        Err(e) => {
            received.uploaded.discard(&state.blobs, actor.firm).await;
            Err(e)
        }
    }
}

pub async fn upload(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(matter): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Refuse before receiving anything, then again in the transaction that records it.
    let (tx, _) = require::<WriteContent>(&actor, &client, actor.begin().await?, &matter).await?;
    tx.commit().await?;
    let mut received = receive(&state, &actor, &headers, body).await?;
    // A long upload may have outlived a key rotation: bring the keyring up to date first.
    let store = state.storage.firm(actor.firm).await?;
    let recorded = async {
        // Its terms are found and hashed before the transaction that records it.
        received.uploaded.blind_terms(&store).await?;
        let (mut tx, access) =
            require::<WriteContent>(&actor, &client, actor.begin().await?, &matter).await?;
        let title = received.title.as_deref().unwrap_or(&received.uploaded.name);
        let id = documents::create(
            &mut tx,
            &access,
            title,
            received.privileged,
            &received.uploaded,
            received.scan,
            state.clock.now(),
        )
        .await?;
        record_upload(
            &mut tx,
            &actor,
            &client,
            &access,
            AuditAction::DocumentUploaded,
            id.to_string(),
            &received,
        )
        .await?;
        let document = documents::get(&mut tx, &access, id).await?.ok_or_else(ApiError::not_found)?;
        tx.commit().await?;
        Ok::<_, ApiError>(document)
    }
    .await;
    created_or_discarded(&state, &actor, received, recorded).await
}

pub async fn add_version(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (tx, _, _) =
        require_for::<WriteContent, _>(&actor, &client, actor.begin().await?, &id, documents::matter_of)
            .await?;
    tx.commit().await?;
    let mut received = receive(&state, &actor, &headers, body).await?;
    // A long upload may have outlived a key rotation: bring the keyring up to date first.
    let store = state.storage.firm(actor.firm).await?;
    let recorded = async {
        // Its terms are found and hashed before the transaction that records it.
        received.uploaded.blind_terms(&store).await?;
        let (mut tx, access, document) =
            require_for::<WriteContent, _>(&actor, &client, actor.begin().await?, &id, documents::matter_of)
                .await?;
        documents::add_version(
            &mut tx,
            &access,
            document,
            &received.uploaded,
            received.scan,
            state.clock.now(),
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
        record_upload(
            &mut tx,
            &actor,
            &client,
            &access,
            AuditAction::DocumentVersionAdded,
            id.clone(),
            &received,
        )
        .await?;
        let document = documents::get(&mut tx, &access, document).await?.ok_or_else(ApiError::not_found)?;
        tx.commit().await?;
        Ok::<_, ApiError>(document)
    }
    .await;
    created_or_discarded(&state, &actor, received, recorded).await
}

pub async fn list(actor: Actor, client: Client, Path(matter): Path<String>) -> Result<Json<Value>, ApiError> {
    let (mut tx, access) =
        require::<ReadContent>(&actor, &client, actor.begin_read().await?, &matter).await?;
    let all = documents::list(&mut tx, &access).await?;
    record_read(tx, &actor, &client, &access, AuditAction::DocumentListed, ("matter", matter)).await?;
    let items: Vec<Value> = all.iter().map(document_json).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

pub async fn get(actor: Actor, client: Client, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (mut tx, access, document) =
        require_for::<ReadContent, _>(&actor, &client, actor.begin_read().await?, &id, documents::matter_of)
            .await?;
    let found = documents::get(&mut tx, &access, document).await?.ok_or_else(ApiError::not_found)?;
    record_read(tx, &actor, &client, &access, AuditAction::DocumentViewed, ("document", id)).await?;
    Ok(Json(document_json(&found)))
}

pub async fn versions(actor: Actor, client: Client, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (mut tx, access, document) =
        require_for::<ReadContent, _>(&actor, &client, actor.begin_read().await?, &id, documents::matter_of)
            .await?;
    let all = documents::versions(&mut tx, &access, document).await?;
    record_read(tx, &actor, &client, &access, AuditAction::DocumentVersionsListed, ("document", id)).await?;
    let items: Vec<Value> = all.iter().map(version_json).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

pub async fn delete(on: On<WriteContent, DocumentId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    app::documents::delete(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentQuery {
    version: Option<i64>,
}

/// What a `Range` header asks of a file of `size` bytes. Only single byte ranges are
/// honoured; anything else gets the whole file, as RFC 9110 allows.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

fn wanted(headers: &HeaderMap, size: u64) -> Wanted {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()?.strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Wanted::Whole };
    let parsed = |s: &str| s.trim().parse::<u64>().ok();
    let range = match (first.trim().is_empty(), parsed(first), parsed(last)) {
        // "-n": the last n bytes.
        (true, _, Some(n)) if n > 0 => size.saturating_sub(n)..size,
        (false, Some(start), None) if last.trim().is_empty() => start..size,
        (false, Some(start), Some(end)) if end >= start => start..end.saturating_add(1).min(size),
        (true, _, Some(_)) => return Wanted::Unsatisfiable,
        _ => return Wanted::Whole,
    };
    if range.start >= size || range.is_empty() { Wanted::Unsatisfiable } else { Wanted::Part(range) }
}

/// `attachment` with a plain ASCII name for old clients and the exact name (RFC 8187).
fn attachment(name: &str) -> HeaderValue {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || " ._-()".contains(c) { c } else { '_' })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Records that a stored file failed authentication, in a transaction of its own (the
/// download's own has ended; this may run while the response is streaming).
async fn record_integrity_failure(actor: &Actor, client: &Client, matter: uuid::Uuid, document: &str) {
    let result = async {
        let mut tx = actor.begin().await?;
        let mut entry = audit::record(
            actor.audit_actor(),
            AuditAction::DocumentIntegrityFailed,
            Some(("document", document.to_owned())),
            Outcome::Failure,
            client,
            actor.at,
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

fn integrity_error() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "integrity_failure",
        "the stored file failed its integrity check and was not served",
    )
}

/// The rest of a download after its first span.
struct Sending {
    content: Content,
    actor: Actor,
    client: Client,
    id: String,
    matter: uuid::Uuid,
    next: Option<u64>,
    end: u64,
}

impl Sending {
    async fn next_span(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        let start = self.next.take()?;
        if start >= self.end {
            return None;
        }
        let end = (start + SEND_LEN).min(self.end);
        match self.content.read(start..end).await {
            Ok(bytes) => {
                self.next = Some(end);
                Some(Ok(Bytes::from(bytes)))
            }
            Err(e) => {
                if matches!(e, StoreError::BlobIntegrity) {
                    record_integrity_failure(&self.actor, &self.client, self.matter, &self.id).await;
                }
                // Ending the stream with an error aborts the response: the client sees a
                // cut-off download, never unauthenticated bytes.
                Some(Err(std::io::Error::other(e.to_string())))
            }
        }
    }
}

pub async fn content(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    Query(query): Query<ContentQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (mut tx, access, document) =
        require_for::<ReadContent, _>(&actor, &client, actor.begin().await?, &id, documents::matter_of)
            .await?;
    let readable = documents::readable(&mut tx, &access, document, query.version)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !readable.version.scan.downloadable() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_downloadable",
            "this version was found infected and is quarantined",
        ));
    }
    let matter = access.matter();
    record(&mut tx, &actor, &client, &access, AuditAction::DocumentDownloaded, ("document", id.clone()))
        .await?;
    tx.commit().await?;

    let content = match Content::open(&state.blobs, actor.firm, &readable).await {
        Ok(content) => content,
        Err(StoreError::BlobIntegrity) => {
            record_integrity_failure(&actor, &client, matter, &id).await;
            return Err(integrity_error());
        }
        Err(e) => return Err(e.into()),
    };
    let size = content.size();
    let (status, range) = match wanted(&headers, size) {
        Wanted::Whole => (StatusCode::OK, 0..size),
        Wanted::Part(range) => (StatusCode::PARTIAL_CONTENT, range),
        Wanted::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                "range not satisfiable",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    // The first span is opened before the answer starts, so a damaged file gets an error
    // status rather than a cut-off body in the common case.
    let first_end = (range.start + SEND_LEN).min(range.end);
    let first = match content.read(range.start..first_end).await {
        Ok(bytes) => bytes,
        Err(StoreError::BlobIntegrity) => {
            record_integrity_failure(&actor, &client, matter, &id).await;
            return Err(integrity_error());
        }
        Err(e) => return Err(e.into()),
    };
    let name = readable.version.name.clone();
    let content_type = readable.version.content_type.clone();
    let end = range.end;
    let sending = Sending { content, actor, client, id, matter, next: Some(first_end), end };
    let rest = futures_util::stream::unfold(sending, |mut sending| async move {
        let chunk = sending.next_span().await?;
        Some((chunk, sending))
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) }).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_DISPOSITION, attachment(&name));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", range.start, range.end - 1))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(range: &str, size: u64) -> Wanted {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap_or(HeaderValue::from_static("")));
        wanted(&headers, size)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(asked("bytes=0-0", 10), Wanted::Part(0..1));
        assert_eq!(asked("bytes=2-", 10), Wanted::Part(2..10));
        assert_eq!(asked("bytes=-3", 10), Wanted::Part(7..10));
        assert_eq!(asked("bytes=-30", 10), Wanted::Part(0..10));
        assert_eq!(asked("bytes=5-100", 10), Wanted::Part(5..10));
        assert_eq!(asked("bytes=10-", 10), Wanted::Unsatisfiable);
        assert_eq!(asked("bytes=-0", 10), Wanted::Unsatisfiable);
        assert_eq!(asked("bytes=0-", 0), Wanted::Unsatisfiable);
        assert_eq!(asked("bytes=0-1,4-5", 10), Wanted::Whole);
        assert_eq!(asked("bytes=5-2", 10), Wanted::Whole);
        assert_eq!(asked("items=0-1", 10), Wanted::Whole);
        assert_eq!(wanted(&HeaderMap::new(), 10), Wanted::Whole);
    }

    #[test]
    fn download_names_are_safe_in_the_header() {
        let value = attachment("Brief \"final\";\r\n Müller.pdf");
        let text = value.to_str().unwrap_or_default();
        assert!(text.starts_with("attachment; filename=\"Brief _final____ M_ller.pdf\""));
        assert!(text.ends_with("filename*=UTF-8''Brief%20%22final%22%3B%0D%0A%20M%C3%BCller.pdf"));
    }
}
