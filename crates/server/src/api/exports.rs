//! Full exports of a matter (its lead) or of the firm (administrators), over the use cases
//! of `crate::app::exports`: ask, see, and download once, streamed.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use ringfence_core::ids::MatterId;
use ringfence_store::firm::access::Export;
use uuid::Uuid;

use crate::AppState;
use crate::app::Ctx;
use crate::app::access::On;
use crate::app::exports::{self, Download, ExportList, ExportRequest, ExportView, Place};
use crate::edge::{PathExport, PathId};
use crate::error::{ApiError, ApiJson};

/// Asks for a full export of the matter as one ZIP (its leads only): built in the
/// background, then downloadable once for 24 hours.
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/exports",
    tag = "exports",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    request_body = ExportRequest,
    responses(
        (status = 202, description = "Asked for; it is being built", body = ExportView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn request_matter(
    on: On<Export, MatterId>,
    ctx: Ctx,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, Json<ExportView>), ApiError> {
    let view = exports::request_matter(&ctx, &state.storage, on, body).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// The caller's own exports of the matter, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/exports",
    tag = "exports",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 200, description = "The caller's exports of the matter", body = ExportList),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list_matter(on: On<Export, MatterId>, ctx: Ctx) -> Result<Json<ExportList>, ApiError> {
    Ok(Json(exports::list_matter(&ctx, on).await?))
}

/// One of the caller's own exports of the matter.
#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/exports/{export_id}",
    tag = "exports",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The matter"), ("export_id" = Uuid, Path, description = "The export")),
    responses(
        (status = 200, description = "The export", body = ExportView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_matter(
    on: On<Export, MatterId>,
    ctx: Ctx,
    PathExport(export): PathExport,
) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(exports::get(&ctx, Place::Matter(on), export).await?))
}

/// Downloads the matter's export, once: the ZIP is removed as the download ends.
#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/exports/{export_id}/download",
    tag = "exports",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The matter"), ("export_id" = Uuid, Path, description = "The export")),
    responses(
        (status = 200, description = "The ZIP", content_type = "application/zip", body = Vec<u8>),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::Gone),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn download_matter(
    on: On<Export, MatterId>,
    ctx: Ctx,
    State(state): State<AppState>,
    PathExport(export): PathExport,
) -> Result<Response, ApiError> {
    let download = exports::download(&ctx, &state.blobs, Place::Matter(on), export).await?;
    Ok(streamed(ctx, state, download))
}

/// Asks for a full export of the whole firm as one ZIP (administrators): built in the
/// background, then downloadable once for 24 hours.
#[utoipa::path(
    post,
    path = "/api/v1/firm/exports",
    tag = "exports",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = ExportRequest,
    responses(
        (status = 202, description = "Asked for; it is being built", body = ExportView),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn request_firm(
    ctx: Ctx,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, Json<ExportView>), ApiError> {
    let view = exports::request_firm(&ctx, &state.storage, body).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// The caller's own exports of the firm, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/firm/exports",
    tag = "exports",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The caller's exports of the firm", body = ExportList),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list_firm(ctx: Ctx) -> Result<Json<ExportList>, ApiError> {
    Ok(Json(exports::list_firm(&ctx).await?))
}

/// One of the caller's own exports of the firm.
#[utoipa::path(
    get,
    path = "/api/v1/firm/exports/{id}",
    tag = "exports",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(("id" = Uuid, Path, description = "The export")),
    responses(
        (status = 200, description = "The export", body = ExportView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_firm(ctx: Ctx, PathId(export): PathId<Uuid>) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(exports::get(&ctx, Place::Firm, export).await?))
}

/// Downloads the firm's export, once: the ZIP is removed as the download ends.
#[utoipa::path(
    get,
    path = "/api/v1/firm/exports/{id}/download",
    tag = "exports",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(("id" = Uuid, Path, description = "The export")),
    responses(
        (status = 200, description = "The ZIP", content_type = "application/zip", body = Vec<u8>),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::Gone),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn download_firm(
    ctx: Ctx,
    State(state): State<AppState>,
    PathId(export): PathId<Uuid>,
) -> Result<Response, ApiError> {
    let download = exports::download(&ctx, &state.blobs, Place::Firm, export).await?;
    Ok(streamed(ctx, state, download))
}

/// Bytes of the export read per chunk of the answer.
const SEND_LEN: u64 = 1024 * 1024;

/// Streams a taken export a span at a time, then removes its file. A client that goes away
/// midway has had its one download all the same: the expiry job removes the file then.
fn streamed(ctx: Ctx, state: AppState, download: Download) -> Response {
    let size = download.content.size();
    let file_name = download.file_name.clone();
    let sending = Some((download, ctx, state, 0u64));
    let body = futures_util::stream::unfold(sending, move |sending| async move {
        let (download, ctx, state, at) = sending?;
        if at >= size {
            exports::finish_download(&ctx, &state.blobs, &download).await;
            return None;
        }
        let end = (at + SEND_LEN).min(size);
        match download.content.read(at..end).await {
            Ok(bytes) => Some((Ok(Bytes::from(bytes)), Some((download, ctx, state, end)))),
            Err(e) => {
                exports::finish_download(&ctx, &state.blobs, &download).await;
                // Ending with an error aborts the response: a cut-off download, never
                // unauthenticated bytes.
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
