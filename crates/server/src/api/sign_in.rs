//! Sign-in over the JSON API: password, then a second factor, then a session (the rules
//! are [`crate::app::sign_in`]'s). A completed sign-in answers the session token to API
//! clients, and to browsers (`cookie: true`) the session cookie and its CSRF token.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use ringfence_core::auth::SecondFactor;
use ringfence_crypto::secret::SecretText;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::AppState;
use crate::app::PublicCtx;
use crate::app::sign_in::{self, Challenge, ChallengeId, SecondFactorAnswer, SignInInput, SignedIn, Started};
use crate::app::users::UserView;
use crate::auth::cookie;
use crate::error::{ApiError, ApiJson};

/// A sign-in's first step.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// A current authenticator code, for when the account's password step is throttled:
    /// password and code are then checked together.
    #[serde(default)]
    totp_code: Option<String>,
    /// With `totp_code`, browsers: set the session cookie as `verify` does.
    #[serde(default)]
    cookie: bool,
}

/// What a login answers: a challenge for the second factor or, when the password step was
/// throttled and a `totp_code` came with it, a completed sign-in.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Challenge(Challenge),
    SignedIn(SignedInJson),
}

/// A completed sign-in.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SignedIn)]
pub struct SignedInJson {
    /// When the session ends at the latest.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    user: UserView,
    /// The firm's policy wants a stronger second factor set up (an authenticator app or a
    /// passkey).
    must_enrol_strong_factor: bool,
    /// API clients: the session token, sent as `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Browsers (`cookie: true`): the CSRF token of the session cookie set alongside.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

/// Checks the email address and password, and opens a challenge for the second factor
/// (mailing a code when emailed codes are among the factors). While the account's password
/// step is throttled, a login carrying a current `totp_code` is checked as password and
/// code together and answers a completed sign-in, or 401 whichever was wrong.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "sign-in",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A challenge for the second factor, or (with `totp_code`) \
                                      a completed sign-in", body = LoginAnswer),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn login(ctx: PublicCtx, ApiJson(body): ApiJson<LoginRequest>) -> Result<Response, ApiError> {
    let input = SignInInput::parse(&body.email, &body.password, body.totp_code.as_deref())?;
    Ok(match sign_in::start(&ctx, &input).await? {
        Started::Challenge(challenge) => Json(LoginAnswer::Challenge(challenge)).into_response(),
        Started::SignedIn(signed_in) => {
            signed_in_response(&ctx.state, signed_in, body.cookie, LoginAnswer::SignedIn)
        }
    })
}

/// The sign-in to mail a new code for.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResendRequest {
    challenge_id: String,
}

/// Mails a fresh code for a live challenge; the previous code stops working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/resend-code",
    tag = "sign-in",
    request_body = ResendRequest,
    responses(
        (status = 204, description = "A new code is mailed"),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn resend_code(
    ctx: PublicCtx,
    ApiJson(body): ApiJson<ResendRequest>,
) -> Result<StatusCode, ApiError> {
    sign_in::resend_code(&ctx, ChallengeId::parse(&body.challenge_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A sign-in's second step: the challenge and the second factor's answer.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    challenge_id: String,
    #[schema(value_type = crate::openapi::SecondFactorSchema)]
    factor: SecondFactor,
    /// The emailed or TOTP code.
    #[serde(default)]
    code: Option<String>,
    /// The passkey's answer to the challenge from `/auth/passkey-options` (a WebAuthn
    /// `AuthenticationResponseJSON`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    credential: Option<PublicKeyCredential>,
    /// Browsers: set the session cookie and answer the CSRF token instead of the token.
    #[serde(default)]
    cookie: bool,
}

/// Checks the second factor of a challenge and opens a session. Every refusal is counted
/// against the challenge (the sixth is refused unchecked), the account and the address.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify",
    tag = "sign-in",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Signed in; browsers also get the session cookie", body = SignedInJson),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn verify(ctx: PublicCtx, ApiJson(body): ApiJson<VerifyRequest>) -> Result<Response, ApiError> {
    let answer = SecondFactorAnswer {
        challenge: ChallengeId::parse(&body.challenge_id),
        factor: body.factor,
        code: body.code.map(|code| SecretText::new(zeroize::Zeroizing::new(code))),
        credential: body.credential,
    };
    let signed_in = sign_in::verify(&ctx, &answer).await?;
    Ok(signed_in_response(&ctx.state, signed_in, body.cookie, |json| json))
}

/// The answer to a completed sign-in (as `answer` wraps it): the token for API clients;
/// for browsers, the session cookie and the CSRF token.
pub(crate) fn signed_in_response<T: Serialize>(
    state: &AppState,
    signed_in: SignedIn,
    browser: bool,
    answer: impl FnOnce(SignedInJson) -> T,
) -> Response {
    let (token, csrf_token) = if browser {
        (None, Some(cookie::csrf_token(&signed_in.token)))
    } else {
        (Some(signed_in.scoped.expose().to_owned()), None)
    };
    let body = SignedInJson {
        expires_at: signed_in.expires_at,
        user: signed_in.user,
        must_enrol_strong_factor: signed_in.must_enrol_strong_factor,
        token,
        csrf_token,
    };
    let mut response = Json(answer(body)).into_response();
    if browser
        && let Some(value) =
            cookie::set_session(signed_in.scoped.expose(), state.settings.session_limits.absolute)
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Signs this session out; a browser's session cookie is cleared.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "sign-in",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn logout(ctx: crate::app::Ctx) -> Result<Response, ApiError> {
    crate::app::account::sign_out(&ctx).await?;
    Ok(cookie::signed_out(StatusCode::NO_CONTENT.into_response()))
}
