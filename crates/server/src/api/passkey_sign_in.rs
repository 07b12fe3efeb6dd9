//! Signing in with a passkey over the JSON API: as the second factor after the password,
//! or alone (passwordless); the rules are [`crate::app::sign_in::passkey`]'s.

use axum::Json;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::api::sign_in;
use crate::app::PublicCtx;
use crate::app::sign_in::ChallengeId;
use crate::app::sign_in::passkey::{self, PasskeyCheckOptions, PasswordlessStart};
use crate::error::{ApiError, ApiJson};

/// The sign-in whose second factor will be a passkey.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OptionsRequest {
    challenge_id: String,
}

/// The WebAuthn challenge for a sign-in whose second factor will be a passkey. Asking
/// again replaces the challenge; it does not count as an attempt.
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkey-options",
    tag = "sign-in",
    request_body = OptionsRequest,
    responses(
        (status = 200, description = "The options of the passkey check", body = PasskeyCheckOptions),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn second_factor_options(
    ctx: PublicCtx,
    ApiJson(body): ApiJson<OptionsRequest>,
) -> Result<Json<PasskeyCheckOptions>, ApiError> {
    Ok(Json(passkey::second_factor_options(&ctx, ChallengeId::parse(&body.challenge_id)).await?))
}

/// Starts a passwordless sign-in. Anyone may ask, so what it keeps is bounded: starts are
/// counted against the source address (an IPv6 one by its /64), ceremonies expire after
/// five minutes, and only so many are live at once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkey/start",
    tag = "sign-in",
    responses(
        (status = 200, description = "The ceremony and its options", body = PasswordlessStart),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn start(ctx: PublicCtx) -> Result<Json<PasswordlessStart>, ApiError> {
    Ok(Json(passkey::start(&ctx).await?))
}

/// The passkey's answer to a passwordless sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FinishRequest {
    /// As `/api/v1/auth/passkey/start` answered it.
    ceremony_id: Uuid,
    /// The WebAuthn `AuthenticationResponseJSON` of `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
    /// Browsers: set the session cookie and answer the CSRF token instead of the token.
    #[serde(default)]
    cookie: bool,
}

/// Finishes a passwordless sign-in: the passkey names its user and proves them. Attempts
/// are counted against the source address only.
#[utoipa::path(
    post,
    path = "/api/v1/auth/passkey/finish",
    tag = "sign-in",
    request_body = FinishRequest,
    responses(
        (status = 200, description = "Signed in; browsers also get the session cookie", body = sign_in::SignedInJson),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn finish(ctx: PublicCtx, ApiJson(body): ApiJson<FinishRequest>) -> Result<Response, ApiError> {
    let signed_in = passkey::finish(&ctx, body.ceremony_id, &body.credential).await?;
    Ok(sign_in::signed_in_response(&ctx.state, signed_in, body.cookie, |json| json))
}
