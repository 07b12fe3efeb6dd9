//! Signing in while the account's password step is throttled or locked.
//!
//! A flood of password guesses must not keep the owner out (NIST SP 800-63B §5.2.2). So
//! when the password step refuses, a sign-in that also carries a current authenticator code
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
use ringfence_store::ThrottleKey;
use ringfence_store::firm::{sign_in_policy, users};

use super::{
    AppError, PasswordAccepted, PublicCtx, Refusal, SignInInput, SignedIn, check_password,
    invalid_credentials, open_session, record_step,
};
use crate::auth::attempts::{Attempt, Guess};
use crate::auth::totp::{self, TotpOutcome};

/// Password and authenticator code in one step: a session, or 401 `invalid_credentials`.
pub(super) async fn password_and_code(ctx: &PublicCtx, input: &SignInInput) -> Result<SignedIn, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let (now, email) = (*now, &input.email);
    let code = input.totp_code.as_ref().map(|code| code.expose().trim()).unwrap_or_default();
    let attempt = Attempt::reserve(state, Guess::PasswordAndCode, Some(email), client, now).await?;
    let (store, accepted) = check_password(ctx, email, input.password.expose(), &attempt).await?;
    // The same read whatever the verdict, in the store the password step read.
    let secret = match &store {
        Some(store) => {
            let mut tx = store.begin_read(&Principal::Anonymous).await?;
            let secret = users::totp_secret_by_email(&mut tx, email).await?;
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
        Refusal { user: user_id, email, client, now }.queue(&store, action, outcome, locked);
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
    let credentials = users::credentials_by_email(&mut tx, email).await?.ok_or_else(invalid_credentials)?;
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
    let target = ("user", user.id.to_string());
    record_step(ctx, &mut tx, (user.id, email), AuditAction::AuthPasswordAccepted, target).await?;
    let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
    let signed_in = open_session(ctx, tx, store.id(), &user, must_enrol).await?;
    // Given back once the transaction is over (see `check_code`); the account's counts
    // were cleared by the sign-in.
    attempt.release(state).await?;
    Ok(signed_in)
}
