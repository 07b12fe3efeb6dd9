//! Documents on a matter: streamed, sealed uploads; versions; downloads with ranges.
//!
//! An upload checks the caller's access, then receives the file without holding a database
//! transaction (a large upload must not block the firm's writers); `crate::app::documents`
//! checks access again in the transaction that records it. Reading the multipart form and
//! answering ranges of a download are HTTP's, and stay here.

use std::ops::Range;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use ringfence_core::document::sanitize_file_name;
use ringfence_core::ids::{DocumentId, MatterId};
use ringfence_store::StoreError;
use ringfence_store::firm::access::{ReadContent, WriteContent};
use ringfence_store::firm::documents::{Content, Upload, Uploaded};
use serde::Deserialize;

use crate::AppState;
use crate::app::access::On;
use crate::app::documents::{self, DocumentList, DocumentView, Reading, Received, VersionList};
use crate::app::{self, AppError, Ctx};
use crate::error::{ApiError, ApiQuery};

/// Bytes read, opened and sent at a time when streaming a download.
const SEND_LEN: u64 = 1024 * 1024;
/// The most bytes any part of an upload form other than `file` may have: they are held in
/// memory whole.
const MAX_FIELD_BYTES: u64 = 16 * 1024;
/// The parts an upload form may have, each at most once.
const PARTS: [&str; 3] = ["file", "title", "privileged"];

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

/// Reads a multipart upload: `file` is sealed and stored as it streams in; `title` and
/// `privileged` may come before or after it. Nothing is left stored on any error.
async fn receive(state: &AppState, ctx: &Ctx, headers: &HeaderMap, body: Body) -> Result<Received, ApiError> {
    let firm = ctx.actor.firm;
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
                    upload = Some((Upload::start(&state.blobs, &ctx.actor.store)?, name));
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
            done.discard(&state.blobs, firm).await;
        }
        return Err(e);
    }
    let uploaded: Uploaded =
        stored.ok_or_else(|| ApiError::invalid("file: a multipart part named `file` is required"))?;
    Ok(Received { uploaded, title, privileged })
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

/// Uploads a document to the matter: a multipart form with the `file`, and optionally its
/// `title` (the file's name if left out) and whether it is `privileged`.
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/documents",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The matter")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document kept", body = DocumentView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 503, response = crate::openapi::Unavailable),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn upload(
    on: On<WriteContent, MatterId>,
    ctx: Ctx,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    // Refused before anything is received, and again when it is recorded.
    documents::may_upload(&ctx, on).await?;
    let received = receive(&state, &ctx, &headers, body).await?;
    let document = documents::upload(&ctx, &state, on, received).await?;
    Ok((StatusCode::CREATED, Json(document)))
}

// Only its schema is used: `receive` reads the form part by part.
/// The multipart form of an upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    /// At most 500 characters; the file's name if left out.
    title: Option<String>,
    /// `true` or `false` (also `1`/`0`, `on`/`off`); false if left out.
    privileged: Option<bool>,
}

/// Uploads a new version of the document, which becomes its current one: a multipart
/// form with the `file`.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/versions",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document with its new version", body = DocumentView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 503, response = crate::openapi::Unavailable),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn add_version(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    documents::may_add_version(&ctx, on).await?;
    let received = receive(&state, &ctx, &headers, body).await?;
    let document = documents::add_version(&ctx, &state, on, received).await?;
    Ok((StatusCode::CREATED, Json(document)))
}

/// A matter's documents.
#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/documents",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The matter")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The matter's documents", body = DocumentList),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(on: On<ReadContent, MatterId>, ctx: Ctx) -> Result<Json<DocumentList>, ApiError> {
    Ok(Json(documents::list(&ctx, on).await?))
}

/// One document: its current version's facts.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The document", body = DocumentView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get(on: On<ReadContent, DocumentId>, ctx: Ctx) -> Result<Json<DocumentView>, ApiError> {
    Ok(Json(documents::view(&ctx, on).await?))
}

/// A document's versions, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}/versions",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn versions(on: On<ReadContent, DocumentId>, ctx: Ctx) -> Result<Json<VersionList>, ApiError> {
    Ok(Json(documents::versions(&ctx, on).await?))
}

/// Deletes a document with all its versions.
#[utoipa::path(
    delete,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The document is deleted"),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn delete(on: On<WriteContent, DocumentId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    app::documents::delete(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// The version to read; the current one if left out.
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
    ctx: Ctx,
    matter: MatterId,
    document: DocumentId,
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
                    documents::record_integrity_failure(&self.ctx, self.matter, self.document).await;
                }
                // Ending the stream with an error aborts the response: the client sees a
                // cut-off download, never unauthenticated bytes.
                Some(Err(std::io::Error::other(e.to_string())))
            }
        }
    }
}

/// A stored file that failed its integrity check is answered as such; the rest as usual.
fn download_error(error: AppError) -> ApiError {
    match error {
        AppError::Store(StoreError::BlobIntegrity) => integrity_error(),
        other => other.into(),
    }
}

/// A document's bytes (a version's, with `version`), whole or the single byte range asked
/// for with `Range`.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}/content",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document"), ContentQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The whole file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The byte range asked for", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 416, response = crate::openapi::RangeNotSatisfiable),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn content(
    on: On<ReadContent, DocumentId>,
    ctx: Ctx,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ContentQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let opened = documents::download(&ctx, &state, on, query.version, Reading::Download)
        .await
        .map_err(download_error)?;
    send(opened, ctx, &headers, Reading::Download).await
}

/// Which version and, for a PDF, which page to preview.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// The version to read; the current one if left out.
    version: Option<i64>,
    /// A PDF's page, from 1 (the first if left out).
    page: Option<u32>,
}

/// A document to show in the browser, inline, under a policy of its own: a sandbox, nothing
/// loaded but itself, never framed. A raster image (PNG, JPEG, GIF, WebP) is sent as it is;
/// a PDF's page is drawn as a PNG on the server (never handed to the browser's PDF viewer),
/// with the number of pages in `X-Page-Count`. Anything else is refused (`409
/// not_previewable`), as is a PDF that cannot be drawn; SVG and the rest are downloaded.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}/preview",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document"), PreviewQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The image, or the PDF's page as a PNG", content_type = "image/*", body = Vec<u8>),
        (status = 206, description = "The byte range asked for, of an image", content_type = "image/*", body = Vec<u8>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 416, response = crate::openapi::RangeNotSatisfiable),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn preview(
    on: On<ReadContent, DocumentId>,
    ctx: Ctx,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PreviewQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let page = documents::page_asked(query.page)?;
    let opened = documents::download(&ctx, &state, on, query.version, Reading::Preview)
        .await
        .map_err(download_error)?;
    if ringfence_core::document::shown_as_it_is(&opened.content_type) {
        if query.page.is_some() {
            return Err(AppError::invalid("page", "only a PDF has pages").into());
        }
        return send(opened, ctx, &headers, Reading::Preview).await;
    }
    let drawn = documents::draw_page(&ctx, &state, opened, page).await?;
    let png = drawn.png.map(|png| Bytes::copy_from_slice(&png)).unwrap_or_default();
    let mut response = Response::new(Body::from(png));
    response.extensions_mut().insert(crate::middleware::security_headers::OwnPolicy);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PREVIEW_POLICY));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    headers.insert(HeaderName::from_static("x-page-count"), HeaderValue::from(drawn.pages));
    Ok(response)
}

/// The policy a preview is shown under, in place of the pages' own.
const PREVIEW_POLICY: &str = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Streams an opened version of a document (or the byte range asked for), as an attachment
/// or, for a preview, inline under [`PREVIEW_POLICY`].
async fn send(
    opened: documents::Download,
    ctx: Ctx,
    headers: &HeaderMap,
    reading: Reading,
) -> Result<Response, ApiError> {
    let documents::Download { content, name, content_type, matter, document } = opened;
    let size = content.size();
    let (status, range) = match wanted(headers, size) {
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
            documents::record_integrity_failure(&ctx, matter, document).await;
            return Err(integrity_error());
        }
        Err(e) => return Err(e.into()),
    };
    let end = range.end;
    let sending = Sending { content, ctx, matter, document, next: Some(first_end), end };
    let rest = futures_util::stream::unfold(sending, |mut sending| async move {
        let chunk = sending.next_span().await?;
        Some((chunk, sending))
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) }).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    if reading == Reading::Preview {
        response.extensions_mut().insert(crate::middleware::security_headers::OwnPolicy);
    }
    let headers = response.headers_mut();
    match reading {
        Reading::Download => headers.insert(header::CONTENT_DISPOSITION, attachment(&name)),
        Reading::Preview => {
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PREVIEW_POLICY));
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"))
        }
    };
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
