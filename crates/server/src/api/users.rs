//! Firm users, managed by the firm's administrators. The rules are in `crate::app::users`.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use ringfence_core::ids::UserId;

use crate::AppState;
use crate::app::Ctx;
use crate::app::users::{self, NewUserInput, UserChanges, UserList, UserListQuery, UserView, UserWithLock};
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// Invites a user: the invitation is mailed with a link that works once.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "invite_user",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = NewUserInput,
    responses(
        (status = 201, description = "The user, invited", body = UserView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewUserInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    Ok((StatusCode::CREATED, Json(users::create(&ctx, &state, body).await?)))
}

/// Lists users by email; the cursor is the last email of the previous page.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "list_users",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx, ApiQuery(query): ApiQuery<UserListQuery>) -> Result<Json<UserList>, ApiError> {
    Ok(Json(users::list(&ctx, query).await?))
}

/// One user, with the sign-in lock on its account if any.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    operation_id = "get_user",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserWithLock),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<Json<UserWithLock>, ApiError> {
    Ok(Json(users::get(&ctx, &state, id).await?))
}

/// Changes a user's roles, or disables or enables it. Disabling ends all of its sessions;
/// the firm's last enabled administrator stays (409 `last_admin`).
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    operation_id = "change_user",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    request_body = UserChanges,
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn update(
    PathId(id): PathId<UserId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<UserChanges>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(users::update(&ctx, id, body).await?))
}

/// Clears a user's sign-in lock and failure counts; the user is told by mail.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/lock",
    operation_id = "clear_user_lock",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "The lock is cleared"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn unlock(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    users::unlock(&ctx, &state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resets a user's second factors (see `app::users::reset_second_factor`).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/second-factor",
    operation_id = "reset_user_second_factor",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "The second factors are removed"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn reset_second_factor(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    users::reset_second_factor(&ctx, &state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends an invited user a new invitation; the links sent before stop working.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/invitation",
    operation_id = "resend_user_invitation",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "The new invitation is mailed"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn resend_invitation(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    users::resend_invitation(&ctx, &state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraws an invitation not yet accepted: its links stop working and the user is disabled.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/invitation",
    operation_id = "revoke_user_invitation",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "The invitation is withdrawn and the user disabled"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn revoke_invitation(PathId(id): PathId<UserId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    users::revoke_invitation(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends an active user a link to set a new password (see
/// `app::users::send_password_reset`): how an account with no authenticator app or passkey
/// gets back in. The link still asks for any such factor the account holds.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/password-reset",
    operation_id = "send_user_password_reset",
    tag = "users",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "The link is mailed; earlier links stop working"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn send_password_reset(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    users::send_password_reset(&ctx, &state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
