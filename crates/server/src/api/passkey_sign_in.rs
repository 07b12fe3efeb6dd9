//! Signing in with a passkey: as the second factor after the password, or alone
//! (passwordless). A passkey verifies its user with a PIN or biometric, so on its own it
//! is still two factors, and it cannot be guessed: a passwordless attempt is reserved
//! against the source address only, and the account's password lock does not stop it —
//! a flood of password guesses cannot keep a passkey's owner out. Ceremonies in flight are
//! bounded per address and in all (see `start`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::auth::SecondFactor;
use ringfence_core::ids::UserId;
use ringfence_core::principal::Principal;
use ringfence_core::throttle;
use ringfence_store::firm::passkeys::CEREMONY_LIFETIME;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{challenges, passkeys, sign_in_policy};
use ringfence_store::{FirmTx, ThrottleKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{AuthenticationResult, PublicKeyCredential};

use crate::api::sign_in::{self, SignedIn};
use crate::auth::attempts::{self, Attempt, Guess};
use crate::auth::passkey::{self, RelyingParty};
use crate::client::Client;
use crate::error::{ApiError, ApiJson};
use crate::{AppState, audit};

/// Notes a passkey's use and keeps its signature counter current (a counter that goes
/// backwards is how a cloned authenticator shows, and the verification refuses it).
pub(crate) async fn record_use(
    tx: &mut FirmTx,
    user: UserId,
    result: &AuthenticationResult,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let stored =
        passkeys::by_credential(tx, user, result.cred_id().as_ref()).await?.ok_or_else(passkey::refused)?;
    let mut record = passkey::decode(&stored.record)?;
    let changed = record.update_credential(result) == Some(true);
    let updated = if changed { Some(passkey::encode(&record)?) } else { None };
    passkeys::record_use(tx, stored.id, updated.as_deref(), now).await?;
    Ok(())
}

/// The sign-in whose second factor will be a passkey.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OptionsRequest {
    challenge_id: String,
}

/// The options of a passkey check, for `navigator.credentials.get()`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyCheckOptions {
    /// The WebAuthn `PublicKeyCredentialRequestOptions`, as JSON.
    #[schema(value_type = Object)]
    options: Value,
}

/// A passwordless sign-in begun: its ceremony and the options of the passkey check.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordlessStart {
    /// Names this sign-in when finishing it.
    ceremony_id: Uuid,
    /// The WebAuthn `PublicKeyCredentialRequestOptions`, as JSON.
    #[schema(value_type = Object)]
    options: Value,
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
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<OptionsRequest>,
) -> Result<Json<PasskeyCheckOptions>, ApiError> {
    let now = state.clock.now();
    attempts::check_ip(&state, &client, now).await?;
    let (firm, challenge) =
        sign_in::parse_challenge_id(&body.challenge_id).ok_or_else(sign_in::challenge_dead)?;
    if !state.storage.firm_exists(firm).await? {
        return Err(sign_in::challenge_dead());
    }
    let store = state.storage.firm(firm).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let Some(user) = challenges::live_user(&mut tx, challenge, now).await? else {
        drop(tx);
        audit::anonymous_refusal(&store, AuditAction::AuthChallengeRefused, &client, now).await?;
        return Err(sign_in::challenge_dead());
    };
    let records = passkeys::records(&mut tx, user).await?;
    if records.is_empty() {
        return Err(ApiError::invalid("factor: no passkey is set up for this sign-in"));
    }
    let registered = records.iter().map(|r| passkey::decode(&r.record)).collect::<Result<Vec<_>, _>>()?;
    let ceremony = RelyingParty::of(&state.settings)?.start_check(&registered)?;
    if !challenges::set_passkey_state(&mut tx, challenge, &ceremony.state, now).await? {
        return Err(sign_in::challenge_dead());
    }
    tx.commit().await?;
    Ok(Json(PasskeyCheckOptions { options: ceremony.options }))
}

/// Starts a passwordless sign-in.
/// Live passwordless ceremonies the control store keeps at most, from everyone together.
pub const MAX_PASSKEY_SIGN_INS: i64 = 10_000;

/// Starts a passwordless sign-in. Anyone may ask, so what it keeps is bounded: each start
/// is counted against the source address, an IPv6 one by its /64
/// ([`throttle::PASSKEY_STARTS`]), ceremonies expire
/// after five minutes and are swept, and at most [`MAX_PASSKEY_SIGN_INS`] live at once.
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
pub async fn start(
    State(state): State<AppState>,
    client: Client,
) -> Result<Json<PasswordlessStart>, ApiError> {
    let now = state.clock.now();
    attempts::check_ip(&state, &client, now).await?;
    if let Some(ip) = &client.source {
        attempts::reserve(&state, ThrottleKey::PasskeyStarts(ip), &throttle::PASSKEY_STARTS, now).await??;
    }
    let ceremony = RelyingParty::of(&state.settings)?.start_passwordless()?;
    let id = state
        .storage
        .start_passkey_sign_in(&ceremony.state, now, MAX_PASSKEY_SIGN_INS)
        .await?
        .ok_or_else(|| attempts::throttled(CEREMONY_LIFETIME))?;
    Ok(Json(PasswordlessStart { ceremony_id: id, options: ceremony.options }))
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
pub async fn finish(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<FinishRequest>,
) -> Result<Response, ApiError> {
    let signed_in = finish_passwordless(&state, &client, &body).await?;
    sign_in::signed_in_response(&state, &signed_in, body.cookie, |json| json)
}

async fn finish_passwordless(
    state: &AppState,
    client: &Client,
    body: &FinishRequest,
) -> Result<SignedIn, ApiError> {
    let now = state.clock.now();
    let attempt = Attempt::reserve(state, Guess::SecondFactor, None, client, now).await?;
    let ceremony = state
        .storage
        .take_passkey_sign_in(body.ceremony_id, now)
        .await?
        .ok_or_else(sign_in::challenge_dead)?;
    let relying_party = RelyingParty::of(&state.settings)?;
    // Until the passkey names a user of some firm, a failure is the source address's alone.
    let owner = match relying_party.identify(&body.credential) {
        Some((user, credential_id)) => match state.storage.firm_of_user(user).await? {
            Some(firm) => {
                let store = state.storage.firm(firm).await?;
                let mut tx = store.begin(&Principal::Anonymous).await?;
                let found = users::get(&mut tx, user).await?;
                let stored = passkeys::by_credential(&mut tx, user, credential_id).await?;
                tx.commit().await?;
                found.zip(stored).map(|(user, stored)| (firm, store, user, stored))
            }
            None => None,
        },
        None => None,
    };
    let Some((firm, store, user, stored)) = owner else {
        return Err(passkey::refused());
    };
    let outcome = async {
        if user.status != UserStatus::Active {
            return Err(passkey::refused());
        }
        let registered = passkey::decode(&stored.record)?;
        let result = relying_party.finish_passwordless(&body.credential, &ceremony, &registered)?;
        let mut tx = store.begin(&Principal::Anonymous).await?;
        let credentials =
            users::credentials_by_email(&mut tx, &user.email).await?.ok_or_else(passkey::refused)?;
        let policy = sign_in_policy::get(&mut tx).await?;
        if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&SecondFactor::Passkey) {
            return Err(ApiError::forbidden("your firm's policy does not allow signing in with a passkey"));
        }
        record_use(&mut tx, user.id, &result, now).await?;
        let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
        sign_in::open_session(state, client, tx, firm, &user, must_enrol, now).await
    }
    .await;
    match &outcome {
        Ok(_) => attempt.release(state).await?,
        Err(refusal) => {
            let (action, kind) = match refusal.code {
                "forbidden" => (AuditAction::AuthPasskeyNotAllowed, Outcome::Denied),
                _ => (AuditAction::AuthPasskeyFailed, Outcome::Failure),
            };
            sign_in::audit_refusal(&store, user.id, &user.email, action, kind, false, client, now).await?;
        }
    }
    outcome
}
