//! Legal holds over the use cases of `crate::app::legal_holds`: placed and lifted on a
//! matter or a client by administrators, each with a reason, and listed for them.

use axum::Json;
use http::StatusCode;
use ringfence_core::ids::{ClientId, MatterId};
use ringfence_store::firm::access::Hold;

use crate::app::Ctx;
use crate::app::access::On;
use crate::app::legal_holds::{self, Change, HoldList, HoldReason, HoldView};
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson};

/// Places a legal hold on a matter: it cannot be deleted, disposed of or purged, nor
/// anything on it, until the hold is lifted. Firm administrators only.
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/legal-hold",
    operation_id = "place_matter_legal_hold",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    request_body = HoldReason,
    responses(
        (status = 201, description = "The hold stands", body = HoldView),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn place_on_matter(
    on: On<Hold, MatterId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<HoldReason>,
) -> Result<(StatusCode, Json<HoldView>), ApiError> {
    Ok((StatusCode::CREATED, Json(legal_holds::change_on_matter(&ctx, on, body, Change::Place).await?)))
}

/// Lifts a matter's own legal hold, for a reason (a hold on its client stays).
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/legal-hold/lift",
    operation_id = "lift_matter_legal_hold",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    request_body = HoldReason,
    responses(
        (status = 200, description = "The hold, lifted", body = HoldView),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn lift_on_matter(
    on: On<Hold, MatterId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<HoldReason>,
) -> Result<Json<HoldView>, ApiError> {
    Ok(Json(legal_holds::change_on_matter(&ctx, on, body, Change::Lift).await?))
}

/// Places a legal hold on a client: every matter it has or will have is kept, and its
/// personal information cannot be erased. Firm administrators only.
#[utoipa::path(
    post,
    path = "/api/v1/clients/{id}/legal-hold",
    operation_id = "place_client_legal_hold",
    tag = "clients",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The client")),
    request_body = HoldReason,
    responses(
        (status = 201, description = "The hold stands", body = HoldView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn place_on_client(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<HoldReason>,
) -> Result<(StatusCode, Json<HoldView>), ApiError> {
    Ok((StatusCode::CREATED, Json(legal_holds::change_on_client(&ctx, id, body, Change::Place).await?)))
}

/// Lifts a client's legal hold, for a reason (holds on its matters stay).
#[utoipa::path(
    post,
    path = "/api/v1/clients/{id}/legal-hold/lift",
    operation_id = "lift_client_legal_hold",
    tag = "clients",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The client")),
    request_body = HoldReason,
    responses(
        (status = 200, description = "The hold, lifted", body = HoldView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn lift_on_client(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<HoldReason>,
) -> Result<Json<HoldView>, ApiError> {
    Ok(Json(legal_holds::change_on_client(&ctx, id, body, Change::Lift).await?))
}

/// The firm's legal holds with their reasons, standing ones first, then lifted ones; none
/// on a matter or client the caller is walled from.
#[utoipa::path(
    get,
    path = "/api/v1/firm/legal-holds",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The holds", body = HoldList),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx) -> Result<Json<HoldList>, ApiError> {
    Ok(Json(legal_holds::list(&ctx).await?))
}
