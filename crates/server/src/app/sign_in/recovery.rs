//! Account recovery: a forgotten password is reset with a link mailed to the account's
//! address, and — because a mailbox alone is one factor — the link works only with a
//! second factor the account holds: its authenticator app or a passkey. An account with
//! neither is reset by an administrator, who sends it a link that needs no second factor
//! (see `app::users::send_password_reset`): the administrator vouches for the person.
//!
//! - Asking costs the same whether or not the address is an account's: the same reads, one
//!   job queued, the same answer. The job does the rest (mints the link, mails it), so
//!   nothing an asker can time depends on the address.
//! - Asks are counted per address ([`throttle::RESET_MAILS`]), so a stranger cannot flood
//!   a mailbox; second factors tried against a link are counted on the link (the sixth is
//!   refused unchecked) and against the account, as a sign-in's are.
//! - A new password ends every session and sign-in of the account, and is mailed about.

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::auth::{Enrolment, SecondFactor};
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::principal::Principal;
use ringfence_core::throttle;
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::secret::SecretText;
use ringfence_crypto::token::{self, SecretToken};
use ringfence_mail::{Mail, Mailer};
use ringfence_store::firm::password_resets::{self, Reset};
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{audit as audit_log, challenges, decoys, passkeys, preferences, sessions};
use ringfence_store::{FirmStore, Storage, ThrottleKey};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;
use webauthn_rs::prelude::PublicKeyCredential;

use super::passkey::PasskeyCheckOptions;
use super::{
    AppError, CodeOutcome, PublicCtx, Refusal, passkey_outcome, record_step, refused_factor, totp_outcome,
};
use crate::auth::attempts::{self, Attempt, Guess, check_ip};
use crate::auth::passkey::{self as ceremonies, RelyingParty};
use crate::client::Client;
use crate::jobs::Job;
use crate::{AppState, audit, passwords};

fn invalid_link() -> AppError {
    AppError::invalid("token", "this password reset link is invalid, used or expired; ask for a new one")
}

/// Asks for a password reset link for `email`. The answer is the same whether or not the
/// address is an account's; a link is mailed only to an active account that holds an
/// authenticator app or passkey, and an account without tells its owner to ask an
/// administrator. Asks are counted per source address and per address asked about.
pub async fn request(ctx: &PublicCtx, email: &str) -> Result<(), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    let email = Email::parse(email).map_err(|e| AppError::invalid("email", e.to_string()))?;
    check_ip(state, client, now).await?;
    if let Some(source) = &client.source {
        counted_ask(ctx, ThrottleKey::ResetAsks(source), &throttle::RESET_ASKS, "from this address").await?;
    }
    counted_ask(ctx, ThrottleKey::ResetMails(email.as_str()), &throttle::RESET_MAILS, "for this account")
        .await?;
    let (firm, user) = state.storage.sign_in_lookup(&email).await?;
    let Some(firm) = firm else { return Ok(()) };
    let from = client.ip.as_deref().and_then(|ip| ip.parse().ok());
    state.storage.enqueue_job(&Job::RecoverAccount { firm, user, from }.once_at(now), now).await?;
    Ok(())
}

/// Counts one ask against `key`, or refuses it once `rule` allows no more.
async fn counted_ask(
    ctx: &PublicCtx,
    key: ThrottleKey<'_>,
    rule: &throttle::ThrottleRule,
    whose: &str,
) -> Result<(), AppError> {
    match attempts::reserve(&ctx.state, key, rule, ctx.now).await? {
        Ok(_) => Ok(()),
        Err(refused) => Err(AppError::Throttled {
            code: "too_many_resets",
            reason: format!("password reset links were asked for too often {whose}; try again later"),
            retry_after: match refused {
                AppError::Throttled { retry_after, .. } => retry_after,
                _ => 1,
            },
        }),
    }
}

/// What mailing a reset link needs, in the background job that does it.
pub struct Mailing<'a> {
    pub storage: &'a Storage,
    pub mailer: &'a Mailer,
    pub public_url: &'a str,
    pub now: OffsetDateTime,
}

/// The job queued by [`request`]: puts the ask on the record and mails an active account a
/// link (when it holds a factor the link can be completed with) or word to ask an
/// administrator. Nothing for anyone else.
pub async fn mail_link(
    m: &Mailing<'_>,
    firm: FirmId,
    user: UserId,
    from: Option<IpAddr>,
) -> Result<(), AppError> {
    let store = m.storage.firm(firm).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let Some(user) = users::get(&mut tx, user).await? else { return Ok(()) };
    let target = ("user", user.id.to_string());
    let client = Client { ip: from.map(|ip| ip.to_string()), ..Client::default() };
    let record = |action| {
        audit::record(
            audit::user(user.id, &user.email),
            action,
            Some(target.clone()),
            Outcome::Success,
            &client,
            m.now,
        )
    };
    audit_log::append(&mut tx, &record(AuditAction::AuthRecoveryRequested)).await?;
    // A decoy is mailed nothing: the ask is on the record, and that raises the alarm.
    let decoy = decoys::tripwire_set(&mut tx).await?.contains(&user.id.to_string());
    if user.status != UserStatus::Active || decoy {
        tx.commit().await?;
        return Ok(());
    }
    let credentials = users::credentials_by_email(&mut tx, &user.email).await?.ok_or(AppError::NotFound)?;
    let zone = preferences::time_zone(&mut tx).await?;
    let firm = m.storage.firm_by_id(firm).await?;
    let firm_name = firm.name.as_str();
    let name = user.display_name();
    let (subject, body) = if let Some(factor) = factor_words(credentials.enrolled) {
        let token =
            password_resets::create(&mut tx, user.id, None, m.now, password_resets::ASKED_LIFETIME).await?;
        audit_log::append(&mut tx, &record(AuditAction::AuthRecoveryLinkSent)).await?;
        let link = token::scoped(&firm.id.simple(), &token);
        let body = format!(
            "Dear {name},\n\nSomeone, we hope you, asked to reset the password of your account at {firm_name}'s Ringfence.\n\nSet a new password with this link. It works once, until {expires}, and asks for {factor}:\n\n{url}/reset#{link}\n\nIf you did not ask, ignore this message: your password stays as it is. Nobody can use the link without {factor}.\n",
            expires = zone.in_words(m.now + password_resets::ASKED_LIFETIME),
            url = m.public_url,
            link = link.as_str(),
        );
        ("Reset your Ringfence password".to_owned(), body)
    } else {
        audit_log::append(&mut tx, &record(AuditAction::AuthRecoveryReferred)).await?;
        let admins: Vec<String> = users::list(&mut tx)
            .await?
            .into_iter()
            .filter(|u| {
                u.status == UserStatus::Active && u.roles.contains(&FirmRole::Admin) && u.id != user.id
            })
            .map(|u| u.display_name())
            .collect();
        let ask =
            if admins.is_empty() { "an administrator of your firm".to_owned() } else { admins.join(" or ") };
        let body = format!(
            "Dear {name},\n\nSomeone, we hope you, asked to reset the password of your account at {firm_name}'s Ringfence.\n\nYour account has no authenticator app or passkey, and a link in an email alone is not enough to prove it is you. Ask {ask} to send you a password reset link from the users page.\n\nIf you did not ask, ignore this message: your password stays as it is.\n"
        );
        ("Resetting your Ringfence password".to_owned(), body)
    };
    tx.commit().await?;
    let mail = Mail { to: user.email.as_str(), to_name: user.name.as_deref(), subject: &subject, body };
    m.mailer.send(mail).await?;
    Ok(())
}

/// How a mail or a refusal names the factors a link asks for; `None` when it asks for none.
pub(crate) fn factor_words(enrolled: Enrolment) -> Option<&'static str> {
    match (enrolled.totp, enrolled.passkey) {
        (true, true) => Some("a code from your authenticator app or your passkey"),
        (true, false) => Some("a code from your authenticator app"),
        (false, true) => Some("your passkey"),
        (false, false) => None,
    }
}

/// What a reset link asks for besides the new password: the second factors it can be
/// completed with, none for a link an administrator sent to an account that holds none.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetFactors {
    #[schema(value_type = Vec<crate::openapi::SecondFactorSchema>)]
    pub factors: Vec<SecondFactor>,
}

/// A live link's firm store, reset and user; a dead one is refused, and on the record.
async fn live(
    ctx: &PublicCtx,
    link: &str,
) -> Result<(Arc<FirmStore>, SecretToken, Reset, users::User), AppError> {
    let PublicCtx { state, client, now } = ctx;
    check_ip(state, client, *now).await?;
    let (firm_hex, secret) = token::parse_scoped(link).ok_or_else(invalid_link)?;
    let firm: FirmId = firm_hex.parse().map_err(|_| invalid_link())?;
    if !state.storage.firm_exists(firm).await? {
        return Err(invalid_link());
    }
    let store = state.storage.firm(firm).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let reset = password_resets::peek(&mut tx, &secret, *now).await?;
    let user = match &reset {
        Some(reset) => users::get(&mut tx, reset.user).await?,
        None => None,
    };
    tx.commit().await?;
    match (reset, user) {
        // A suspended firm's people set no password until it is resumed (told only to the
        // holder of a live link).
        (Some(_), Some(user))
            if user.status == UserStatus::Active
                && matches!(store.standing(), ringfence_core::firm::FirmStanding::Suspended { .. }) =>
        {
            Err(ringfence_store::StoreError::FirmSuspended.into())
        }
        (Some(reset), Some(user)) if user.status == UserStatus::Active => Ok((store, secret, reset, user)),
        _ => {
            audit::anonymous_refusal(&store, AuditAction::AuthRecoveryRefused, client, *now).await?;
            Err(invalid_link())
        }
    }
}

/// The second factors a link must be completed with: those `user` holds. A link the user
/// asked for while holding one is refused once they hold none (an administrator's may do
/// without).
async fn asked_factors(store: &FirmStore, user: &users::User, reset: &Reset) -> Result<Enrolment, AppError> {
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let credentials = users::credentials_by_email(&mut tx, &user.email).await?.ok_or_else(invalid_link)?;
    tx.commit().await?;
    let held = credentials.enrolled;
    if factor_words(held).is_none() && reset.sent_by.is_none() {
        return Err(AppError::NotPermitted {
            code: "second_factor_required",
            reason: "your account no longer has an authenticator app or passkey; ask an administrator to send you a reset link",
        });
    }
    Ok(held)
}

/// What the link `link` asks for; a dead link is refused.
pub async fn factors(ctx: &PublicCtx, link: &str) -> Result<ResetFactors, AppError> {
    let (store, _, reset, user) = live(ctx, link).await?;
    Ok(ResetFactors { factors: asked_factors(&store, &user, &reset).await?.factors() })
}

/// The WebAuthn challenge for completing a link with a passkey. Asking again replaces the
/// challenge; it does not count as an attempt.
pub async fn passkey_options(ctx: &PublicCtx, link: &str) -> Result<PasskeyCheckOptions, AppError> {
    let (store, secret, _, user) = live(ctx, link).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let records = passkeys::records(&mut tx, user.id).await?;
    if records.is_empty() {
        return Err(AppError::invalid("factor", "no passkey is set up for this account"));
    }
    let registered = records.iter().map(|r| ceremonies::decode(&r.record)).collect::<Result<Vec<_>, _>>()?;
    let ceremony = RelyingParty::of(&ctx.state.settings)?.start_check(&registered)?;
    if !password_resets::set_passkey_state(&mut tx, &secret, &ceremony.state, ctx.now).await? {
        return Err(invalid_link());
    }
    tx.commit().await?;
    Ok(PasskeyCheckOptions { options: ceremony.options })
}

/// A link completed: its token, the new password and the second factor's answer.
pub struct ResetAnswer {
    pub link: String,
    pub password: SecretText,
    /// `None` only for a link that asks for no second factor.
    pub factor: Option<SecondFactor>,
    /// The authenticator code.
    pub code: Option<SecretText>,
    /// The passkey's answer to the challenge of [`passkey_options`].
    pub credential: Option<PublicKeyCredential>,
}

/// Sets a new password with a link and the second factor it asks for, ends every session
/// and sign-in of the account, and mails its owner. The password is judged and the answer's
/// form checked before anything is counted, so neither a weak password nor a missing code
/// spends an attempt; the attempt is then counted against the account and on the link, and
/// the factor is checked in the transaction that uses the link and sets the password.
pub async fn complete(ctx: &PublicCtx, answer: &ResetAnswer) -> Result<(), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    let (store, secret, reset, user) = live(ctx, &answer.link).await?;
    let firm = state.storage.firm_by_id(store.id()).await?;
    let known = passwords::KnownWords { email: &user.email, name: user.name.as_deref(), firm: &firm };
    let password = passwords::strong(answer.password.expose(), &known)?;
    let held = asked_factors(&store, &user, &reset).await?;
    let factor = if let Some(needed) = factor_words(held) {
        let factor = answer
            .factor
            .filter(|f| held.factors().contains(f))
            .ok_or_else(|| AppError::invalid("factor", format!("this link needs {needed}")))?;
        match factor {
            SecondFactor::Totp if answer.code.is_none() => {
                return Err(AppError::invalid("code", "required for this factor"));
            }
            SecondFactor::Passkey if answer.credential.is_none() => {
                return Err(AppError::invalid("credential", "required for a passkey"));
            }
            _ => Some(factor),
        }
    } else {
        None
    };
    let counted = match factor {
        Some(_) => Some(count_attempt(ctx, &store, &secret, &user).await?),
        None => None,
    };
    let hash = passwords::hash(state, &password).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    password_resets::lock_user(&mut tx, user.id).await?;
    if let (Some(factor), Some((reset, _))) = (factor, &counted) {
        let outcome = match factor {
            SecondFactor::Passkey => {
                let offered = reset.passkey_state.as_deref();
                passkey_outcome(state, &mut tx, user.id, answer.credential.as_ref(), offered, now).await?
            }
            _ => {
                let code = answer.code.as_ref().map_or("", |code| code.expose().trim());
                totp_outcome(&mut tx, user.id, code, now).await?
            }
        };
        if outcome != CodeOutcome::Accepted {
            tx.commit().await?;
            let locked = counted.as_ref().is_some_and(|(_, reserved)| reserved.locked());
            let refused = Refusal { user: user.id, email: &user.email, client, now };
            refused.record(&store, AuditAction::AuthRecoveryFailed, Outcome::Failure, locked).await?;
            return Err(refused_factor(state, &user, outcome, reset.attempts).await?);
        }
    }
    if password_resets::redeem(&mut tx, &secret, state.clock.now()).await? != Some(user.id) {
        return Err(invalid_link());
    }
    // Checked again where the password is set: a user disabled meanwhile stays out.
    if users::get(&mut tx, user.id).await?.is_none_or(|u| u.status != UserStatus::Active) {
        return Err(invalid_link());
    }
    users::set_password_hash(&mut tx, user.id, &hash).await?;
    challenges::end_all(&mut tx, user.id, now).await?;
    sessions::revoke_all(&mut tx, user.id, None, now).await?;
    let target = ("user", user.id.to_string());
    record_step(ctx, &mut tx, (user.id, &user.email), AuditAction::UserPasswordReset, target).await?;
    tx.commit().await?;
    // The password is set: what follows must not make it look as if it were not.
    if let Err(error) = after_reset(state, &user, &firm, counted.map(|(_, reserved)| reserved)).await {
        tracing::warn!(error = %crate::error::ErrorChain(&error), "a password was reset, but clearing its account's sign-in failures or mailing its owner failed");
    }
    Ok(())
}

/// Gives the attempt back, clears the account's sign-in failures (its owner proved who they
/// are) and tells the owner.
async fn after_reset(
    state: &AppState,
    user: &users::User,
    firm: &ringfence_core::firm::Firm,
    reserved: Option<Attempt>,
) -> Result<(), AppError> {
    if let Some(reserved) = reserved {
        reserved.release(state).await?;
    }
    for key in [ThrottleKey::Account(user.email.as_str()), ThrottleKey::SecondFactor(user.email.as_str())] {
        state.storage.clear_sign_in_failures(key).await?;
    }
    let body = format!(
        "Dear {},\n\nThe password of your account at {}'s Ringfence was just reset with a link mailed to you, and every session of yours was signed out.\n\nIf this was not you, tell your firm's administrator now.\n",
        user.display_name(),
        firm.name.as_str()
    );
    let mail = Mail {
        to: user.email.as_str(),
        to_name: user.name.as_deref(),
        subject: "Your Ringfence password was reset",
        body,
    };
    state.mailer.send(mail).await?;
    Ok(())
}

/// Counts a second-factor attempt: against the account's reset factors (a throttled one is
/// refused, and on the record), then on the link (committed before the factor is looked at;
/// a link out of attempts is refused unchecked). The link as counted, and the reservation.
async fn count_attempt(
    ctx: &PublicCtx,
    store: &Arc<FirmStore>,
    secret: &SecretToken,
    user: &users::User,
) -> Result<(Reset, Attempt), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let reserved = match Attempt::reserve(state, Guess::ResetFactor, Some(&user.email), client, *now).await {
        Ok(reserved) => reserved,
        Err(refused) => {
            let throttled = Refusal { user: user.id, email: &user.email, client, now: *now };
            throttled.record(store, AuditAction::AuthLoginThrottled, Outcome::Denied, false).await?;
            return Err(refused);
        }
    };
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let counted = password_resets::count_attempt(&mut tx, secret, *now).await?;
    tx.commit().await?;
    match counted {
        Some(reset) => Ok((reset, reserved)),
        None => {
            // Nothing was guessed: the link was spent already.
            reserved.release(state).await?;
            Err(invalid_link())
        }
    }
}
