//! Clients: persons and organisations. The rules are in `crate::app::clients`: names for
//! everyone, details through the client access check, refusals concealed and recorded.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use ringfence_core::ids::{ClientId, UserId};

use crate::AppState;
use crate::app::Ctx;
use crate::app::clients::{self, ClientInput, ClientList, ClientShown, ClientView};
use crate::edge::{PathId, PathIds};
use crate::error::{ApiError, ApiJson};

/// Takes a client in; its taker keeps its details until a matter is opened for it.
#[utoipa::path(
    post,
    path = "/api/v1/clients",
    operation_id = "create_client",
    tag = "clients",
    security(("bearer" = ["admin", "attorney", "paralegal", "secretary"]), ("session_cookie" = ["admin", "attorney", "paralegal", "secretary"], "csrf_token" = [])),
    request_body = ClientInput,
    responses(
        (status = 201, description = "The client with its details", body = ClientView),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn create(
    ctx: Ctx,
    ApiJson(body): ApiJson<ClientInput>,
) -> Result<(StatusCode, Json<ClientView>), ApiError> {
    Ok((StatusCode::CREATED, Json(clients::create(&ctx, body).await?)))
}

/// Every client's name and kind: no personal details in a list.
#[utoipa::path(
    get,
    path = "/api/v1/clients",
    operation_id = "list_clients",
    tag = "clients",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every client", body = ClientList),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx) -> Result<Json<ClientList>, ApiError> {
    Ok(Json(clients::list(&ctx).await?))
}

/// One client: its details where the client access check allows, else its name and kind.
/// The read is recorded; a refusal reads as a 404 and is recorded too.
#[utoipa::path(
    get,
    path = "/api/v1/clients/{id}",
    operation_id = "get_client",
    tag = "clients",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The client")),
    responses(
        (status = 200, description = "The client", body = ClientShown),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get(PathId(id): PathId<ClientId>, ctx: Ctx) -> Result<Json<ClientShown>, ApiError> {
    Ok(Json(clients::view(&ctx, id).await?))
}

/// Changes a client's details, for those the client access check allows.
#[utoipa::path(
    patch,
    path = "/api/v1/clients/{id}",
    operation_id = "change_client",
    tag = "clients",
    security(("bearer" = ["admin", "attorney", "paralegal", "secretary"]), ("session_cookie" = ["admin", "attorney", "paralegal", "secretary"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The client")),
    request_body = ClientInput,
    responses(
        (status = 200, description = "The client as changed", body = ClientView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn update(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ClientInput>,
) -> Result<Json<ClientView>, ApiError> {
    Ok(Json(clients::update(&ctx, id, body).await?))
}

/// Screens a user from a client and every one of its matters. Firm administrators only.
#[utoipa::path(
    put,
    path = "/api/v1/clients/{id}/walls/{user_id}",
    operation_id = "place_client_wall",
    tag = "clients",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The client"), ("user_id" = Uuid, Path, description = "The user screened")),
    responses(
        (status = 204, description = "The wall stands"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn place_wall(
    PathIds(id, user): PathIds<ClientId, UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    clients::place_wall(&ctx, &state.mailer, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a wall on a client; it stays on record for access history.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}/walls/{user_id}",
    operation_id = "lift_client_wall",
    tag = "clients",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The client"), ("user_id" = Uuid, Path, description = "The user screened")),
    responses(
        (status = 204, description = "The wall is lifted"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn lift_wall(
    PathIds(id, user): PathIds<ClientId, UserId>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    clients::lift_wall(&ctx, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
