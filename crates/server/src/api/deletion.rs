//! Restoring what was deleted, deleting single document versions and clients, the list of
//! what was recently deleted and the firm's grace period, over `crate::app::deletion`.

use axum::Json;
use http::StatusCode;
use ringfence_core::ids::{ClientId, DocumentId, NoteId};
use ringfence_store::firm::access::WriteContent;

use crate::app::Ctx;
use crate::app::access::On;
use crate::app::deletion::{self, DeletedList, DeletionGrace};
use crate::edge::{PathId, PathVersion};
use crate::error::{ApiError, ApiJson};

/// Restores a deleted note within the firm's grace period.
#[utoipa::path(
    post,
    path = "/api/v1/notes/{id}/restore",
    tag = "notes",
    params(("id" = Uuid, Path, description = "The note")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The note is back"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::Gone),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn restore_note(on: On<WriteContent, NoteId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    deletion::restore_note(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted document within the firm's grace period.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/restore",
    tag = "documents",
    params(("id" = Uuid, Path, description = "The document")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The document is back, with its versions"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::Gone),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn restore_document(on: On<WriteContent, DocumentId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    deletion::restore_document(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one version of a document; the newest version left becomes current.
#[utoipa::path(
    delete,
    path = "/api/v1/documents/{id}/versions/{version}",
    tag = "documents",
    params(
        ("id" = Uuid, Path, description = "The document"),
        ("version" = i64, Path, description = "The version's number"),
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The version is deleted; it can be restored for the grace period"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn delete_version(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    PathVersion(version): PathVersion,
) -> Result<StatusCode, ApiError> {
    deletion::delete_version(&ctx, on, version).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted version of a document within the firm's grace period.
#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/versions/{version}/restore",
    tag = "documents",
    params(
        ("id" = Uuid, Path, description = "The document"),
        ("version" = i64, Path, description = "The version's number"),
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The version is back; the newest version is current"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::Gone),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn restore_version(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    PathVersion(version): PathVersion,
) -> Result<StatusCode, ApiError> {
    deletion::restore_version(&ctx, on, version).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a client that no matter and no data subject's request refers to.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = Uuid, Path, description = "The client")),
    security(("bearer" = ["admin", "attorney", "paralegal", "secretary"]), ("session_cookie" = ["admin", "attorney", "paralegal", "secretary"], "csrf_token" = [])),
    responses(
        (status = 204, description = "The client is deleted; it can be restored for the grace period"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn delete_client(PathId(id): PathId<ClientId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    deletion::delete_client(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted client within the firm's grace period.
#[utoipa::path(
    post,
    path = "/api/v1/clients/{id}/restore",
    tag = "clients",
    params(("id" = Uuid, Path, description = "The client")),
    security(("bearer" = ["admin", "attorney", "paralegal", "secretary"]), ("session_cookie" = ["admin", "attorney", "paralegal", "secretary"], "csrf_token" = [])),
    responses(
        (status = 204, description = "The client is back"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::Gone),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn restore_client(PathId(id): PathId<ClientId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    deletion::restore_client(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What was deleted within the grace period: on the matters the caller leads, or for an
/// administrator everything no wall screens it from. Ids, numbers and dates only.
#[utoipa::path(
    get,
    path = "/api/v1/deleted",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Recently deleted things, newest first", body = DeletedList),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx) -> Result<Json<DeletedList>, ApiError> {
    Ok(Json(deletion::list(&ctx).await?))
}

/// How many days deleted things can be restored before they are purged.
#[utoipa::path(
    get,
    path = "/api/v1/firm/deletion-grace",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The grace period", body = DeletionGrace),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_grace(ctx: Ctx) -> Result<Json<DeletionGrace>, ApiError> {
    Ok(Json(deletion::grace(&ctx).await?))
}

/// Sets the grace period: 30 to 3650 days.
#[utoipa::path(
    put,
    path = "/api/v1/firm/deletion-grace",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = DeletionGrace,
    responses(
        (status = 200, description = "The grace period set", body = DeletionGrace),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_grace(
    ctx: Ctx,
    ApiJson(body): ApiJson<DeletionGrace>,
) -> Result<Json<DeletionGrace>, ApiError> {
    Ok(Json(deletion::set_grace(&ctx, body).await?))
}
