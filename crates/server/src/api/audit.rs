//! Reading the audit log: auditors and admins only. The rules are in `crate::app::audit`;
//! here the log is answered as JSON, or as CSV streamed page by page.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use http::header;

use crate::app::Ctx;
use crate::app::audit::{self, AuditEntries, AuditQuery, CheckpointView};
use crate::error::{ApiError, ApiQuery};

/// The filtered log, newest first, a page at a time. The reading is itself recorded.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit_entries",
    tag = "audit",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditEntries),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx, ApiQuery(query): ApiQuery<AuditQuery>) -> Result<Json<AuditEntries>, ApiError> {
    Ok(Json(audit::list(&ctx, &query).await?))
}

/// The filtered log as CSV (RFC 4180), newest first, streamed a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/audit.csv",
    operation_id = "export_audit_csv",
    tag = "audit",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The filtered log as CSV, newest first", content_type = "text/csv", body = String),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn export_csv(ctx: Ctx, ApiQuery(query): ApiQuery<AuditQuery>) -> Result<Response, ApiError> {
    let pages = audit::export(&ctx, &query).await?;
    let csv = pages.map_err(std::io::Error::other).enumerate().map(|(n, page)| {
        page.and_then(|entries| {
            audit::csv_page(&entries, n == 0).map(Bytes::from).map_err(std::io::Error::other)
        })
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        ],
        Body::from_stream(csv),
    )
        .into_response())
}

/// The latest signed checkpoint (signing one for the current head if needed), with the
/// public key that checks it: what a firm keeps to prove later that the log only grew.
#[utoipa::path(
    get,
    path = "/api/v1/audit/checkpoint",
    operation_id = "audit_checkpoint",
    tag = "audit",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    responses(
        (status = 200, description = "The latest signed checkpoint", body = CheckpointView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn checkpoint(ctx: Ctx) -> Result<Json<CheckpointView>, ApiError> {
    Ok(Json(audit::checkpoint(&ctx).await?))
}
