//! Signing in while the account's password step is throttled or locked.
//!
//! A flood of password guesses must not keep the owner out (NIST SP 800-63B §5.2.2). So
//! when the password step refuses, a login that also carries a current authenticator code
//! is checked — password and code together, both needed, and the answer never says which
//! was wrong, so it tells a guesser nothing about the password alone. It is counted as a
//! second-factor attempt (and against the address), which only someone who knows the
//! password can make fail for a reason other than the password: a stranger's flood of
//! password guesses does not use it up.

use ringfence_core::audit::Outcome;
use ringfence_core::auth::SecondFactor;
use ringfence_core::user::Email;
use ringfence_store::firm::{audit as audit_log, sign_in_policy, users};

use crate::api::sign_in::{self, LoginRequest, PasswordAccepted, SignedIn, invalid_credentials};
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
    let attempt = Attempt::reserve(state, Guess::SecondFactor, Some(&email), client, now).await?;
    let Some(PasswordAccepted { store, .. }) =
        sign_in::check_password(state, &email, &body.password, &attempt, client, now).await?
    else {
        return Err(invalid_credentials());
    };
    let mut tx = store.begin().await?;
    let credentials = users::credentials_by_email(&mut tx, &email).await?.ok_or_else(invalid_credentials)?;
    let user = users::get(&mut tx, credentials.id).await?.ok_or_else(invalid_credentials)?;
    let policy = sign_in_policy::get(&mut tx).await?;
    let allowed = policy.factors_for(&credentials.roles, credentials.enrolled).contains(&SecondFactor::Totp);
    let outcome =
        if allowed { totp::check(&mut tx, user.id, code, now).await? } else { TotpOutcome::NotEnrolled };
    if outcome != TotpOutcome::Accepted {
        tx.commit().await?;
        let action = if outcome == TotpOutcome::Replayed { "auth.totp.replayed" } else { "auth.code.failed" };
        sign_in::audit_refusal(
            &store,
            user.id,
            &email,
            action,
            Outcome::Failure,
            attempt.locked(),
            client,
            now,
        )
        .await?;
        return Err(invalid_credentials());
    }
    let target = Some(("user", user.id.to_string()));
    let accepted = audit::record(
        audit::user(user.id, &email),
        "auth.password.accepted",
        target,
        Outcome::Success,
        client,
        now,
    );
    audit_log::append(&mut tx, &accepted).await?;
    attempt.release(state).await?;
    let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
    sign_in::open_session(state, client, tx, store.id(), &user, must_enrol, now).await
}
