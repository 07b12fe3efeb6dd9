//! Resetting a forgotten password over the JSON API; the rules are
//! [`crate::app::sign_in::recovery`]'s.

use axum::Json;
use http::StatusCode;
use ringfence_core::auth::SecondFactor;
use ringfence_crypto::secret::SecretText;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::app::PublicCtx;
use crate::app::sign_in::passkey::PasskeyCheckOptions;
use crate::app::sign_in::recovery::{self, ResetAnswer, ResetFactors};
use crate::error::{ApiError, ApiJson};

/// Whose password is forgotten.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    email: String,
}

/// Asks for a link to reset a forgotten password. The answer is the same whether or not
/// the address is an account's; the link is mailed to an active account that holds an
/// authenticator app or passkey, and an account without is told to ask an administrator.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset",
    tag = "sign-in",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "If the address is an account's, its owner is mailed"),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn request(ctx: PublicCtx, ApiJson(body): ApiJson<ResetRequest>) -> Result<StatusCode, ApiError> {
    recovery::request(&ctx, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A reset link's token, as its fragment holds it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetLink {
    token: String,
}

/// What a reset link asks for besides the new password: the second factors the account
/// holds (none only for a link an administrator sent to an account with none).
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/factors",
    tag = "sign-in",
    request_body = ResetLink,
    responses(
        (status = 200, description = "The factors the link can be completed with", body = ResetFactors),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn factors(
    ctx: PublicCtx,
    ApiJson(body): ApiJson<ResetLink>,
) -> Result<Json<ResetFactors>, ApiError> {
    Ok(Json(recovery::factors(&ctx, &body.token).await?))
}

/// The WebAuthn challenge for completing a reset link with a passkey. Asking again
/// replaces the challenge; it does not count as an attempt.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/passkey-options",
    tag = "sign-in",
    request_body = ResetLink,
    responses(
        (status = 200, description = "The options of the passkey check", body = PasskeyCheckOptions),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn passkey_options(
    ctx: PublicCtx,
    ApiJson(body): ApiJson<ResetLink>,
) -> Result<Json<PasskeyCheckOptions>, ApiError> {
    Ok(Json(recovery::passkey_options(&ctx, &body.token).await?))
}

/// A reset link completed: the new password and the second factor it asks for.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CompleteReset {
    token: String,
    password: String,
    /// `totp` or `passkey`; left out only when the link asks for no second factor.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::SecondFactorSchema>)]
    factor: Option<SecondFactor>,
    /// The authenticator code.
    #[serde(default)]
    code: Option<String>,
    /// The passkey's answer to the challenge from `/auth/password-reset/passkey-options`
    /// (a WebAuthn `AuthenticationResponseJSON`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    credential: Option<PublicKeyCredential>,
}

/// Sets a new password with a reset link and the second factor it asks for. Every session
/// and sign-in of the account ends, and its owner is mailed. Wrong factors are counted on
/// the link (the sixth is refused unchecked) and against the account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/complete",
    tag = "sign-in",
    request_body = CompleteReset,
    responses(
        (status = 204, description = "The password is set; the user may sign in"),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn complete(ctx: PublicCtx, ApiJson(body): ApiJson<CompleteReset>) -> Result<StatusCode, ApiError> {
    let secret = |text: String| SecretText::new(zeroize::Zeroizing::new(text));
    let answer = ResetAnswer {
        link: body.token,
        password: secret(body.password),
        factor: body.factor,
        code: body.code.map(secret),
        credential: body.credential,
    };
    recovery::complete(&ctx, &answer).await?;
    Ok(StatusCode::NO_CONTENT)
}
