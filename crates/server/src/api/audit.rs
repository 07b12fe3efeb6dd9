//! Reading the audit log: auditors and admins only. The rules are in `crate::app::audit`;
//! here the log is answered as JSON, or as CSV streamed page by page.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use http::header;
use ringfence_core::audit::{AuditAction, StoredAuditEntry, words_for};
use time::format_description::well_known::Rfc3339;

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

/// Makes a cell safe to open in a spreadsheet: text that would start a formula is
/// prefixed with an apostrophe (OWASP's CSV injection advice).
fn safe_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}").into() } else { text.into() }
}

/// The stored columns in their place, then the action as a person reads it: its words (the
/// stored name when no table describes it), category and severity (blank when unknown).
const CSV_HEADER: [&str; 16] = [
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_email",
    "action",
    "resource_type",
    "resource_id",
    "matter",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "words",
    "category",
    "severity",
];

fn csv_page(entries: &[StoredAuditEntry], header: bool) -> Result<Bytes, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if header {
        writer.write_record(CSV_HEADER)?;
    }
    for e in entries {
        let seq = e.seq.to_string();
        let at = e.at.format(&Rfc3339).unwrap_or_default();
        let optional = |v: &Option<String>| v.clone().unwrap_or_default();
        let action = AuditAction::from_name(&e.action);
        let cells = [
            seq,
            at,
            e.actor_kind.clone(),
            optional(&e.actor_id),
            optional(&e.actor_email),
            e.action.clone(),
            optional(&e.resource_type),
            optional(&e.resource_id),
            optional(&e.matter_id),
            e.outcome.clone(),
            optional(&e.ip),
            optional(&e.user_agent),
            optional(&e.request_id),
            words_for(&e.action).to_owned(),
            action.map(|a| a.category().as_str().to_owned()).unwrap_or_default(),
            action.map(|a| a.severity().as_str().to_owned()).unwrap_or_default(),
        ];
        writer.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))?;
    }
    writer.into_inner().map(Bytes::from).map_err(|e| e.into_error().into())
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
    let csv = pages
        .map_err(std::io::Error::other)
        .enumerate()
        .map(|(n, page)| page.and_then(|entries| csv_page(&entries, n == 0).map_err(std::io::Error::other)));
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
