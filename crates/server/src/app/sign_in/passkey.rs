//! Signing in with a passkey: as the second factor after the password, or alone
//! (passwordless). A passkey verifies its user with a PIN or biometric, so on its own it
//! is still two factors, and it cannot be guessed: a passwordless attempt is reserved
//! against the source address only, and the account's password lock does not stop it —
//! a flood of password guesses cannot keep a passkey's owner out. Ceremonies in flight are
//! bounded per address and in all (see [`start`]).

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::auth::SecondFactor;
use ringfence_core::ids::UserId;
use ringfence_core::principal::Principal;
use ringfence_core::throttle;
use ringfence_store::firm::passkeys::CEREMONY_LIFETIME;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{challenges, passkeys, sign_in_policy};
use ringfence_store::{FirmTx, ThrottleKey};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{AuthenticationResult, PublicKeyCredential};

use super::{AppError, ChallengeId, PublicCtx, Refusal, SignedIn, challenge_dead, open_session};
use crate::audit;
use crate::auth::attempts::{self, Attempt, Guess};
use crate::auth::passkey::{self as ceremonies, RelyingParty};

/// Notes a passkey's use and keeps its signature counter current (a counter that goes
/// backwards is how a cloned authenticator shows, and the verification refuses it).
pub(super) async fn record_use(
    tx: &mut FirmTx,
    user: UserId,
    result: &AuthenticationResult,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let stored = passkeys::by_credential(tx, user, result.cred_id().as_ref())
        .await?
        .ok_or_else(ceremonies::refused)?;
    let mut record = ceremonies::decode(&stored.record)?;
    let changed = record.update_credential(result) == Some(true);
    let updated = if changed { Some(ceremonies::encode(&record)?) } else { None };
    passkeys::record_use(tx, stored.id, updated.as_deref(), now).await?;
    Ok(())
}

/// The options of a passkey check, for `navigator.credentials.get()`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyCheckOptions {
    /// The WebAuthn `PublicKeyCredentialRequestOptions`, as JSON.
    #[schema(value_type = Object)]
    pub(super) options: Value,
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
pub async fn second_factor_options(
    ctx: &PublicCtx,
    challenge: Option<ChallengeId>,
) -> Result<PasskeyCheckOptions, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    attempts::check_ip(state, client, now).await?;
    let ChallengeId { firm, challenge } = challenge.ok_or_else(challenge_dead)?;
    if !state.storage.firm_exists(firm).await? {
        return Err(challenge_dead());
    }
    let store = state.storage.firm(firm).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let Some(user) = challenges::live_user(&mut tx, challenge, now).await? else {
        drop(tx);
        audit::anonymous_refusal(&store, AuditAction::AuthChallengeRefused, client, now).await?;
        return Err(challenge_dead());
    };
    let records = passkeys::records(&mut tx, user).await?;
    if records.is_empty() {
        return Err(AppError::invalid("factor", "no passkey is set up for this sign-in"));
    }
    let registered = records.iter().map(|r| ceremonies::decode(&r.record)).collect::<Result<Vec<_>, _>>()?;
    let ceremony = RelyingParty::of(&state.settings)?.start_check(&registered)?;
    if !challenges::set_passkey_state(&mut tx, challenge, &ceremony.state, now).await? {
        return Err(challenge_dead());
    }
    tx.commit().await?;
    Ok(PasskeyCheckOptions { options: ceremony.options })
}

/// Live passwordless ceremonies the control store keeps at most, from everyone together.
pub const MAX_PASSKEY_SIGN_INS: i64 = 10_000;

/// Starts a passwordless sign-in. Anyone may ask, so what it keeps is bounded: each start
/// is counted against the source address, an IPv6 one by its /64
/// ([`throttle::PASSKEY_STARTS`]), ceremonies expire
/// after five minutes and are swept, and at most [`MAX_PASSKEY_SIGN_INS`] live at once.
pub async fn start(ctx: &PublicCtx) -> Result<PasswordlessStart, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    attempts::check_ip(state, client, now).await?;
    if let Some(ip) = &client.source {
        attempts::reserve(state, ThrottleKey::PasskeyStarts(ip), &throttle::PASSKEY_STARTS, now).await??;
    }
    let ceremony = RelyingParty::of(&state.settings)?.start_passwordless()?;
    let id = state
        .storage
        .start_passkey_sign_in(&ceremony.state, now, MAX_PASSKEY_SIGN_INS)
        .await?
        .ok_or_else(|| attempts::throttled(CEREMONY_LIFETIME))?;
    Ok(PasswordlessStart { ceremony_id: id, options: ceremony.options })
}

/// Finishes a passwordless sign-in: the passkey names its user and proves them. Attempts
/// are counted against the source address only.
pub async fn finish(
    ctx: &PublicCtx,
    ceremony_id: Uuid,
    credential: &PublicKeyCredential,
) -> Result<SignedIn, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    let attempt = Attempt::reserve(state, Guess::SecondFactor, None, client, now).await?;
    let ceremony = state.storage.take_passkey_sign_in(ceremony_id, now).await?.ok_or_else(challenge_dead)?;
    let relying_party = RelyingParty::of(&state.settings)?;
    // Until the passkey names a user of some firm, a failure is the source address's alone.
    let owner = match relying_party.identify(credential) {
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
        return Err(ceremonies::refused());
    };
    let outcome = async {
        if user.status != UserStatus::Active {
            return Err(ceremonies::refused());
        }
        let registered = ceremonies::decode(&stored.record)?;
        let result = relying_party.finish_passwordless(credential, &ceremony, &registered)?;
        let mut tx = store.begin(&Principal::Anonymous).await?;
        let credentials =
            users::credentials_by_email(&mut tx, &user.email).await?.ok_or_else(ceremonies::refused)?;
        let policy = sign_in_policy::get(&mut tx).await?;
        if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&SecondFactor::Passkey) {
            return Err(AppError::Forbidden("your firm's policy does not allow signing in with a passkey"));
        }
        record_use(&mut tx, user.id, &result, now).await?;
        let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
        open_session(ctx, tx, firm, &user, must_enrol).await
    }
    .await;
    match &outcome {
        Ok(_) => attempt.release(state).await?,
        Err(refusal) => {
            let (action, kind) = match refusal {
                AppError::Forbidden(_) => (AuditAction::AuthPasskeyNotAllowed, Outcome::Denied),
                _ => (AuditAction::AuthPasskeyFailed, Outcome::Failure),
            };
            let refused = Refusal { user: user.id, email: &user.email, client, now };
            refused.record(&store, action, kind, false).await?;
        }
    }
    outcome
}
