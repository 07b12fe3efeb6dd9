//! Firm users, managed by the firm's administrators. The rules are in `crate::app::users`.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use ringfence_core::ids::UserId;

use crate::AppState;
use crate::app::Ctx;
pub use crate::app::users::UserView as UserJson;
use crate::app::users::{self, NewUserInput, UserChanges, UserList, UserListQuery, UserView, UserWithLock};
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson, ApiQuery};

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewUserInput>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    Ok((StatusCode::CREATED, Json(users::create(&ctx, &state, body).await?)))
}

/// Lists users by email; the cursor is the last email of the previous page.
pub async fn list(ctx: Ctx, ApiQuery(query): ApiQuery<UserListQuery>) -> Result<Json<UserList>, ApiError> {
    Ok(Json(users::list(&ctx, query).await?))
}

pub async fn get(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<Json<UserWithLock>, ApiError> {
    Ok(Json(users::get(&ctx, &state, id).await?))
}

pub async fn update(
    PathId(id): PathId<UserId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<UserChanges>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(users::update(&ctx, id, body).await?))
}

/// Clears a user's sign-in lock and failure counts; the user is told by mail.
pub async fn unlock(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    users::unlock(&ctx, &state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resets a user's second factors (see `app::users::reset_second_factor`).
pub async fn reset_second_factor(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    users::reset_second_factor(&ctx, &state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
