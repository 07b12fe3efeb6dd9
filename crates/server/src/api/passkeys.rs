//! The signed-in user's passkeys: add (with the password, so a stolen session alone cannot
//! plant a way back in), list, remove. The rules are in [`crate::app::account`].

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use ringfence_core::ids::PasskeyId;
use serde::Deserialize;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use crate::AppState;
use crate::app::Ctx;
use crate::app::account::{self, NewPasskeyView, PasskeyList, RegistrationOptions};
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson};

/// The current password, to add a passkey.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRegistration {
    current_password: String,
}

/// Starts adding a passkey: the options for `navigator.credentials.create()`. The current
/// password is checked under the sign-in throttle.
#[utoipa::path(
    post,
    path = "/api/v1/me/passkeys/options",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = StartRegistration,
    responses(
        (status = 200, description = "The registration's options", body = RegistrationOptions),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn start_registration(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<StartRegistration>,
) -> Result<Json<RegistrationOptions>, ApiError> {
    Ok(Json(account::start_passkey(&ctx, &state, &body.current_password).await?))
}

/// The authenticator's answer to a registration.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FinishRegistration {
    /// As `/api/v1/me/passkeys/options` answered it.
    ceremony_id: Uuid,
    /// Up to 60 characters; "Passkey" when absent.
    #[serde(default)]
    name: Option<String>,
    /// The WebAuthn `RegistrationResponseJSON` of `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// Checks the authenticator's answer and keeps the new passkey; the owner is told by mail.
#[utoipa::path(
    post,
    path = "/api/v1/me/passkeys",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = FinishRegistration,
    responses(
        (status = 201, description = "The passkey is added", body = NewPasskeyView),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn finish_registration(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<FinishRegistration>,
) -> Result<(StatusCode, Json<NewPasskeyView>), ApiError> {
    let name = account::passkey_name(body.name.as_deref())?;
    let added = account::finish_passkey(&ctx, &state, body.ceremony_id, name, &body.credential).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// The signed-in user's passkeys.
#[utoipa::path(
    get,
    path = "/api/v1/me/passkeys",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The passkeys", body = PasskeyList),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx) -> Result<Json<PasskeyList>, ApiError> {
    Ok(Json(account::passkeys(&ctx).await?))
}

/// Removes a passkey, unless that would leave no second factor the firm allows
/// (409 `would_lock_out`).
#[utoipa::path(
    delete,
    path = "/api/v1/me/passkeys/{id}",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "The passkey")),
    responses(
        (status = 204, description = "The passkey is removed"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn remove(ctx: Ctx, PathId(id): PathId<PasskeyId>) -> Result<StatusCode, ApiError> {
    account::remove_passkey(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
