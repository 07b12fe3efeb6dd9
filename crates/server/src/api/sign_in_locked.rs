//! Signing in while the account's password step is throttled or locked.
//!
//! A flood of password guesses must not keep the owner out (NIST SP 800-63B §5.2.2). So
//! when the password step refuses, a login that also carries a current authenticator code
//! is checked — password and code together, both needed — and it must tell a guesser
//! nothing about the password alone:
//!
//! - The answer is the same whichever was wrong, and so is the work before it: one read of
//!   the authenticator secret, one counting statement, the refusal queued for the log.
//! - The attempt is reserved, before Argon2id runs, per account *and source address*, and
//!   given back only when the whole attempt succeeds: so its limit says nothing about which
//!   part was wrong, and a stranger's flood from elsewhere does not use up the owner's.
//! - A wrong password is then counted on its own account key (kept for the record; it
//!   refuses nothing, since anyone could fill it). Only a right password reserves a
//!   second-factor attempt — the count the challenge's codes share, which only someone who
//!   knows the password can fill — before the code is compared.

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::auth::SecondFactor;
use ringfence_core::principal::Principal;
use ringfence_core::throttle;
use ringfence_core::user::Email;
use ringfence_store::ThrottleKey;
use ringfence_store::firm::{audit as audit_log, sign_in_policy, users};

use crate::api::sign_in::{
    self, LoginRequest, PasswordAccepted, SignedIn, invalid_credentials, queue_refusal,
};
use crate::auth::attempts::{Attempt, Guess};
use crate::auth::totp::{self, TotpOutcome};
use crate::client::Client;
use crate::error::ApiError;
use crate::{AppState, audit};

/// Password and authenticator code in one step: a session, or 401 `invalid_credentials`.
pub(crate) async fn password_and_code(
    state: &AppState,
    client: &Client,
    body: &LoginRequest,
) -> Result<SignedIn, ApiError> {
    let now = state.clock.now();
    let email = Email::parse(&body.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let code = body.totp_code.as_deref().unwrap_or_default().trim();
    let attempt = Attempt::reserve(state, Guess::PasswordAndCode, Some(&email), client, now).await?;
    let (store, accepted) =
        sign_in::check_password_in(state, &email, &body.password, &attempt, client, now).await?;
    // The same read whatever the verdict, in the store the password step read.
    let secret = match &store {
        Some(store) => {
            let mut tx = store.begin_read(&Principal::Anonymous).await?;
            let secret = users::totp_secret_by_email(&mut tx, &email).await?;
            tx.commit().await?;
            secret
        }
        None => None,
    };
    // One counting statement either way, the same one on different keys.
    let Some(PasswordAccepted { store, .. }) = accepted else {
        let key = ThrottleKey::PasswordsWithCode(email.as_str());
        state.storage.reserve_sign_in_attempt(key, &throttle::ACCOUNT, now).await?;
        return Err(invalid_credentials());
    };
    let key = ThrottleKey::SecondFactor(email.as_str());
    let factor = state.storage.reserve_sign_in_attempt(key, &throttle::ACCOUNT, now).await?;
    let Some((user_id, secret)) = secret else { return Err(invalid_credentials()) };
    let refuse = |action: AuditAction, outcome: Outcome, locked: bool| {
        queue_refusal(&store, user_id, &email, action, outcome, locked, client, now);
        invalid_credentials()
    };
    let Some(factor) = factor else {
        // Second-factor attempts are over their rule: refused unchecked, answered as any
        // other failure here.
        return Err(refuse(AuditAction::AuthLoginThrottled, Outcome::Denied, false));
    };
    let locked = factor.failures == throttle::ACCOUNT.lock_after;
    let step = match secret {
        Some((secret, true)) => totp::matching_step(&secret, code, now)?,
        _ => None,
    };
    let Some(step) = step else { return Err(refuse(AuditAction::AuthCodeFailed, Outcome::Failure, locked)) };

    // Password and a current code: only now is anything written.
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let credentials = users::credentials_by_email(&mut tx, &email).await?.ok_or_else(invalid_credentials)?;
    let user = users::get(&mut tx, credentials.id).await?.ok_or_else(invalid_credentials)?;
    let policy = sign_in_policy::get(&mut tx).await?;
    if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&SecondFactor::Totp) {
        drop(tx);
        return Err(refuse(AuditAction::AuthCodeFailed, Outcome::Failure, locked));
    }
    if totp::claim(&mut tx, user.id, step, now).await? != TotpOutcome::Accepted {
        drop(tx);
        return Err(refuse(AuditAction::AuthTotpReplayed, Outcome::Failure, locked));
    }
    let target = Some(("user", user.id.to_string()));
    let accepted = audit::record(
        audit::user(user.id, &email),
        AuditAction::AuthPasswordAccepted,
        target,
        Outcome::Success,
        client,
        now,
    );
    audit_log::append(&mut tx, &accepted).await?;
    let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
    let signed_in = sign_in::open_session(state, client, tx, store.id(), &user, must_enrol, now).await?;
    // Given back once the transaction is over (see `sign_in::check_code`); the account's
    // counts were cleared by the sign-in.
    attempt.release(state).await?;
    Ok(signed_in)
}
