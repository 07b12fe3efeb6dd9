//! The signed-in user's own account: profile, sessions, password, TOTP. The rules are in
//! [`crate::app::account`]; these handlers read the request and answer the view.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use ringfence_core::ids::SessionId;
use serde::Deserialize;

use crate::AppState;
use crate::app::Ctx;
use crate::app::account::{self, MeView, SessionList, TotpEnrolment};
use crate::auth::cookie;
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson};

/// The signed-in user's own account.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = MeView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn me(State(state): State<AppState>, ctx: Ctx) -> Result<Json<MeView>, ApiError> {
    Ok(Json(account::me(&ctx, &state).await?))
}

/// The signed-in user's live sessions, this one marked `current`.
#[utoipa::path(
    get,
    path = "/api/v1/me/sessions",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The live sessions", body = SessionList),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list_sessions(ctx: Ctx) -> Result<Json<SessionList>, ApiError> {
    Ok(Json(account::sessions(&ctx).await?))
}

/// Signs out everywhere, this session included; a browser's session cookie is cleared.
#[utoipa::path(
    delete,
    path = "/api/v1/me/sessions",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "Every session of the user has ended"),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn end_all_sessions(ctx: Ctx) -> Result<Response, ApiError> {
    account::end_all_sessions(&ctx).await?;
    Ok(cookie::signed_out(StatusCode::NO_CONTENT.into_response()))
}

/// Ends one of the signed-in user's sessions.
#[utoipa::path(
    delete,
    path = "/api/v1/me/sessions/{id}",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "The session")),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn end_session(ctx: Ctx, PathId(id): PathId<SessionId>) -> Result<StatusCode, ApiError> {
    account::end_session(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new password, with the current one.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// Changes the password and ends every other session, and every sign-in in progress. The
/// current password is checked under the sign-in throttle.
#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "The password is changed"),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    account::change_password(&ctx, &state, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current password, to set up a second factor.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolTotp {
    current_password: String,
}

/// Starts TOTP enrolment: the secret for the authenticator app, shown once. The current
/// password is checked under the sign-in throttle; the old authenticator keeps working
/// until the new one is confirmed.
#[utoipa::path(
    post,
    path = "/api/v1/me/totp",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = EnrolTotp,
    responses(
        (status = 200, description = "The new secret, pending confirmation", body = TotpEnrolment),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn enrol_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<EnrolTotp>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    Ok(Json(account::enrol_totp(&ctx, &state, &body.current_password).await?))
}

/// The first code of the authenticator being set up.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConfirmTotp {
    code: String,
}

/// Confirms TOTP enrolment with the authenticator's current code; its owner is mailed.
#[utoipa::path(
    post,
    path = "/api/v1/me/totp/confirm",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = ConfirmTotp,
    responses(
        (status = 204, description = "The authenticator is set up"),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn confirm_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ConfirmTotp>,
) -> Result<StatusCode, ApiError> {
    account::confirm_totp(&ctx, &state, &body.code).await?;
    Ok(StatusCode::NO_CONTENT)
}
