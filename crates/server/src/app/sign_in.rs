//! Getting in before anyone is signed in: signing in (a password, then a second factor,
//! then a session; or a passkey alone) and accepting an invitation, which sets a user's
//! first password. Every use case here runs in a [`PublicCtx`] and begins its transactions
//! as `Principal::Anonymous`.
//!
//! - Unknown email, wrong password and disabled account answer alike, after the same work:
//!   the same reads and the same Argon2id (see `check_password`).
//! - Every attempt is reserved — counted against the account and the source address, in
//!   the control store — before it is checked (see [`crate::auth::attempts`]); one over the
//!   rule is refused unchecked, with `Retry-After`. A right password gives its reservation
//!   back, and mailed codes are counted per account, so a known password floods no mailbox.
//! - Code attempts are counted atomically before the code is compared; the sixth attempt
//!   on a challenge is refused unchecked, and a challenge completes once.

mod locked;
pub mod passkey;
pub mod recovery;

use std::fmt;
use std::sync::Arc;

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Outcome};
use ringfence_core::auth::{EMAIL_CODE_LIFETIME, MAX_CODE_ATTEMPTS, SecondFactor};
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::principal::Principal;
use ringfence_core::user::Email;
use ringfence_crypto::otp::{EmailCode, hashes_equal};
use ringfence_crypto::password::Verdict;
use ringfence_crypto::secret::SecretText;
use ringfence_crypto::token::{self, SecretToken, TokenHash};
use ringfence_mail::Mail;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{audit as audit_log, challenges, invitations, sessions, sign_in_policy};
use ringfence_store::{FirmStore, FirmTx, StoreError, ThrottleKey};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use super::users::UserView;
use super::{AppError, PublicCtx};
use crate::auth::attempts::{self, Attempt, Guess, check_ip};
use crate::auth::passkey::{self as ceremonies, RelyingParty};
use crate::auth::totp::{self, TotpOutcome};
use crate::client::Client;
use crate::{AppState, audit, passwords};

/// A sign-in's first step: who, their password and, for when the account's password step
/// is throttled, a current authenticator code (see [`locked`]).
pub struct SignInInput {
    pub email: Email,
    pub password: SecretText,
    pub totp_code: Option<SecretText>,
}

impl SignInInput {
    /// The input as sent; a malformed address is refused naming the field.
    pub fn parse(email: &str, password: &str, totp_code: Option<&str>) -> Result<Self, AppError> {
        let email = Email::parse(email).map_err(|e| AppError::invalid("email", e.to_string()))?;
        let secret = |text: &str| SecretText::new(zeroize::Zeroizing::new(text.to_owned()));
        Ok(Self { email, password: secret(password), totp_code: totp_code.map(secret) })
    }
}

/// The challenge a sign-in's second step answers, as its id names it: the firm and the
/// challenge there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeId {
    firm: FirmId,
    challenge: Uuid,
}

impl ChallengeId {
    /// The challenge `text` names, if it names one at all.
    pub fn parse(text: &str) -> Option<Self> {
        let (firm, challenge) = text.split_once('.')?;
        Some(Self { firm: firm.parse().ok()?, challenge: challenge.parse().ok()? })
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.firm.simple(), self.challenge.simple())
    }
}

/// A sign-in whose password was right: the challenge its second factor answers, and the
/// factors it may be answered with (a code was mailed when `email` is one of them).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = LoginResponse)]
pub struct Challenge {
    pub challenge_id: String,
    #[schema(value_type = Vec<crate::openapi::SecondFactorSchema>)]
    pub factors: Vec<SecondFactor>,
}

/// A completed sign-in: the new session's token, which does not print, and its facts.
pub struct SignedIn {
    /// The session's own token (what its CSRF token is derived from).
    pub token: SecretToken,
    /// The token as the client sends it back: scoped to the user's firm.
    pub scoped: SecretText,
    /// When the session ends at the latest.
    pub expires_at: OffsetDateTime,
    pub user: UserView,
    /// The firm's policy wants a stronger second factor set up.
    pub must_enrol_strong_factor: bool,
}

/// What a sign-in's first step comes to: a challenge for the second factor or, when the
/// password step was throttled and a current authenticator code came with it, a session.
pub enum Started {
    Challenge(Challenge),
    SignedIn(SignedIn),
}

/// A sign-in's second step: the challenge and the second factor's answer.
pub struct SecondFactorAnswer {
    /// `None` when the id sent names no challenge at all.
    pub challenge: Option<ChallengeId>,
    pub factor: SecondFactor,
    /// The emailed or TOTP code.
    pub code: Option<SecretText>,
    /// The passkey's answer to the challenge of [`passkey::second_factor_options`].
    pub credential: Option<PublicKeyCredential>,
}

fn invalid_credentials() -> AppError {
    AppError::unauthenticated("invalid_credentials", "the email address or password is wrong")
}

fn challenge_dead() -> AppError {
    AppError::unauthenticated(
        "challenge_expired",
        "this sign-in has expired or used up its attempts; sign in again",
    )
}

/// Checks the email address and password, and opens a challenge for the second factor
/// (mailing a code when emailed codes are among the factors). While the account's password
/// step is throttled, a sign-in carrying a current authenticator code is checked as
/// password and code together and comes to a session, or is refused whichever was wrong.
pub async fn start(ctx: &PublicCtx, input: &SignInInput) -> Result<Started, AppError> {
    match challenge(ctx, input).await {
        Err(AppError::Throttled { code: "throttled", .. }) if input.totp_code.is_some() => {
            locked::password_and_code(ctx, input).await.map(Started::SignedIn)
        }
        started => started.map(Started::Challenge),
    }
}

/// Checks the password and opens a challenge for the second factor (mailing a code when
/// the email factor is allowed).
async fn challenge(ctx: &PublicCtx, input: &SignInInput) -> Result<Challenge, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let (now, email) = (*now, &input.email);
    let attempt = match Attempt::reserve(state, Guess::Password, Some(email), client, now).await {
        Ok(attempt) => attempt,
        Err(refused) => {
            note_throttled(state, email, client, now).await?;
            return Err(refused);
        }
    };
    let password = input.password.expose();
    let Some(PasswordAccepted { store, rehash }) = check_password(ctx, email, password, &attempt).await?.1
    else {
        return Err(invalid_credentials());
    };
    // The password was right: that was no failure.
    attempt.release(state).await?;
    let firm = store.id();
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let credentials = users::credentials_by_email(&mut tx, email).await?.ok_or_else(invalid_credentials)?;
    let policy = sign_in_policy::get(&mut tx).await?;
    tx.commit().await?;
    let mut factors = policy.factors_for(&credentials.roles, credentials.enrolled);
    if factors.is_empty() {
        return Err(AppError::NotPermitted {
            code: "second_factor_required",
            reason: "your firm's policy allows no second factor you have set up; ask an administrator",
        });
    }
    // Mailed codes are counted per account: once they are spent, the sign-in goes on with
    // the user's other factors, or waits.
    if factors.contains(&SecondFactor::Email)
        && let Err(refused) = attempts::reserve_code_mail(state, email, now).await?
    {
        factors.retain(|factor| *factor != SecondFactor::Email);
        if factors.is_empty() {
            return Err(refused);
        }
    }
    let new_hash = if rehash { Some(passwords::hash_raw(state, password).await?) } else { None };
    let mut tx = store.begin(&Principal::Anonymous).await?;
    if let Some(hash) = &new_hash {
        users::set_password_hash(&mut tx, credentials.id, hash).await?;
    }
    let challenge = challenges::create(&mut tx, credentials.id, now).await?;
    let user = (credentials.id, email);
    let target = ("user", credentials.id.to_string());
    record_step(ctx, &mut tx, user, AuditAction::AuthPasswordAccepted, target.clone()).await?;
    let code = if factors.contains(&SecondFactor::Email) {
        record_step(ctx, &mut tx, user, AuditAction::AuthCodeSent, target).await?;
        let person = users::get(&mut tx, credentials.id).await?.ok_or_else(invalid_credentials)?;
        Some((person, new_email_code(&store, &mut tx, challenge, now).await?))
    } else {
        None
    };
    tx.commit().await?;
    if let Some((person, code)) = code {
        send_code(state, firm, &person, &code).await?;
    }
    Ok(Challenge { challenge_id: ChallengeId { firm, challenge }.to_string(), factors })
}

/// Records a step of `user`'s that succeeded in `tx`, the transaction that made it.
async fn record_step(
    ctx: &PublicCtx,
    tx: &mut FirmTx,
    user: (UserId, &Email),
    action: AuditAction,
    resource: (&'static str, String),
) -> Result<(), AppError> {
    let (id, email) = user;
    let entry =
        audit::record(audit::user(id, email), action, Some(resource), Outcome::Success, &ctx.client, ctx.now);
    audit_log::append(tx, &entry).await?;
    Ok(())
}

/// A right password of an active user.
struct PasswordAccepted {
    store: Arc<FirmStore>,
    rehash: bool,
}

/// The password step, the same work whatever the address: one directory read that names
/// the firm store to look in (the user's, or a stand-in firm's for an address nobody has),
/// one read there, and Argon2id against the stored hash or a dummy. Nothing before the
/// answer depends on whether the address is known: a known user's failure is queued for
/// the firm's log and written after it (readers of the log write the queue out first).
/// Also names the firm store it read (the user's, or the stand-in's), whatever the
/// verdict, for steps that must go on doing the same work either way.
async fn check_password(
    ctx: &PublicCtx,
    email: &Email,
    password: &str,
    attempt: &Attempt,
) -> Result<(Option<Arc<FirmStore>>, Option<PasswordAccepted>), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    let (firm, user) = state.storage.sign_in_lookup(email).await?;
    let (store, found) = match firm {
        Some(firm) => {
            let store = state.storage.firm(firm).await?;
            let mut tx = store.begin_read(&Principal::Anonymous).await?;
            let found = users::password_by_email(&mut tx, email).await?;
            tx.commit().await?;
            (Some(store), found)
        }
        None => (None, None),
    };
    // Only the user the directory names counts (the stand-in firm never has the address).
    let found = found.filter(|(id, _, _)| Some(*id) == user);
    let stored = found.as_ref().and_then(|(_, _, hash)| hash.clone());
    let verdict = passwords::verify(state, password, stored).await?;
    match (&store, found, verdict) {
        // Told only to someone who knows the password, before any code is mailed.
        (Some(store), Some((_, UserStatus::Active, _)), Verdict::Match { .. })
            if matches!(store.standing(), FirmStanding::Suspended { .. }) =>
        {
            Err(StoreError::FirmSuspended.into())
        }
        (Some(store), Some((_, UserStatus::Active, _)), Verdict::Match { rehash }) => {
            Ok((Some(store.clone()), Some(PasswordAccepted { store: store.clone(), rehash })))
        }
        (Some(known), Some((id, _, _)), _) => {
            let refusal = Refusal { user: id, email, client, now };
            refusal.queue(known, AuditAction::AuthLoginFailed, Outcome::Failure, attempt.locked());
            Ok((store, None))
        }
        _ => Ok((store, None)),
    }
}

/// Puts a refused (throttled) password step on the record of the account's firm, queued
/// like a failure so that a known address costs no more than an unknown one.
async fn note_throttled(
    state: &AppState,
    email: &Email,
    client: &Client,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if let (Some(firm), Some(user)) = state.storage.sign_in_lookup(email).await? {
        let store = state.storage.firm(firm).await?;
        let entry = audit::record(
            audit::user(user, email),
            AuditAction::AuthLoginThrottled,
            Some(("user", user.to_string())),
            Outcome::Denied,
            client,
            now,
        );
        store.queue_audit(entry);
    }
    Ok(())
}

/// A refused sign-in step of a known user, for the firm's log (with the lock, when this
/// failure caused one).
struct Refusal<'a> {
    user: UserId,
    email: &'a Email,
    client: &'a Client,
    now: OffsetDateTime,
}

impl Refusal<'_> {
    /// Records the refusal now.
    async fn record(
        &self,
        store: &FirmStore,
        action: AuditAction,
        outcome: Outcome,
        locked: bool,
    ) -> Result<(), AppError> {
        let mut tx = store.begin(&Principal::Anonymous).await?;
        for entry in self.entries(action, outcome, locked) {
            audit_log::append(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues the refusal, written after the answer like a wrong password's, for steps
    /// whose refusals must cost the same.
    fn queue(&self, store: &Arc<FirmStore>, action: AuditAction, outcome: Outcome, locked: bool) {
        for entry in self.entries(action, outcome, locked) {
            store.queue_audit(entry);
        }
    }

    fn entries(&self, action: AuditAction, outcome: Outcome, locked: bool) -> Vec<AuditRecord> {
        let Self { user, email, client, now } = *self;
        let target = Some(("user", user.to_string()));
        let mut entries =
            vec![audit::record(audit::user(user, email), action, target.clone(), outcome, client, now)];
        if locked {
            entries.push(audit::record(
                AuditActor::System,
                AuditAction::AuthAccountLocked,
                target,
                Outcome::Success,
                client,
                now,
            ));
        }
        entries
    }
}

async fn new_email_code(
    store: &FirmStore,
    tx: &mut FirmTx,
    challenge: Uuid,
    now: OffsetDateTime,
) -> Result<EmailCode, AppError> {
    let code = EmailCode::generate().map_err(AppError::internal)?;
    let hash = store.code_hash(&[challenge.as_bytes(), code.expose().as_bytes()]);
    if !challenges::set_code(tx, challenge, &hash, now + EMAIL_CODE_LIFETIME).await? {
        return Err(AppError::Throttled {
            code: "too_many_codes",
            reason: "this sign-in has mailed all the codes it may; sign in again".to_owned(),
            retry_after: 1,
        });
    }
    Ok(code)
}

async fn send_code(
    state: &AppState,
    firm: FirmId,
    to: &users::User,
    code: &EmailCode,
) -> Result<(), AppError> {
    let firm = state.storage.firm_name(firm).await?;
    let body = format!(
        "Dear {},\n\nYour Ringfence sign-in code is {}\n\nIt signs you in to {}'s Ringfence; it works once and \
         expires in 10 minutes.\nIf you did not try to sign in, someone knows your password: change it now.\n",
        to.display_name(),
        code.expose(),
        firm.as_str()
    );
    let mail = Mail {
        to: to.email.as_str(),
        to_name: to.name.as_deref(),
        subject: "Your Ringfence sign-in code",
        body,
    };
    state.mailer.send(mail).await?;
    Ok(())
}

/// Mails a fresh code for a live challenge; the previous code stops working.
pub async fn resend_code(ctx: &PublicCtx, challenge: Option<ChallengeId>) -> Result<(), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    check_ip(state, client, now).await?;
    let ChallengeId { firm, challenge } = challenge.ok_or_else(challenge_dead)?;
    if !state.storage.firm_exists(firm).await? {
        return Err(challenge_dead());
    }
    let store = state.storage.firm(firm).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let user = match challenges::live_user(&mut tx, challenge, now).await? {
        Some(user) => users::get(&mut tx, user).await?,
        None => None,
    };
    let Some(user) = user.filter(|u| u.status == UserStatus::Active) else {
        drop(tx);
        audit::anonymous_refusal(&store, AuditAction::AuthChallengeRefused, client, now).await?;
        return Err(challenge_dead());
    };
    let policy = sign_in_policy::get(&mut tx).await?;
    let credentials = users::credentials_by_email(&mut tx, &user.email).await?.ok_or_else(challenge_dead)?;
    if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&SecondFactor::Email) {
        return Err(AppError::invalid("factor", "emailed codes are not available for this sign-in"));
    }
    attempts::reserve_code_mail(state, &user.email, now).await??;
    let code = new_email_code(&store, &mut tx, challenge, now).await?;
    let target = ("user", user.id.to_string());
    record_step(ctx, &mut tx, (user.id, &user.email), AuditAction::AuthCodeSent, target).await?;
    tx.commit().await?;
    send_code(state, firm, &user, &code).await?;
    Ok(())
}

/// Checks the second factor of a challenge and opens a session. Every refusal is counted
/// against the challenge (the sixth is refused unchecked), the account and the address,
/// and recorded.
pub async fn verify(ctx: &PublicCtx, answer: &SecondFactorAnswer) -> Result<SignedIn, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let now = *now;
    let ChallengeId { firm, challenge } = answer.challenge.ok_or_else(challenge_dead)?;
    if !state.storage.firm_exists(firm).await? {
        check_ip(state, client, now).await?;
        return Err(challenge_dead());
    }
    let store = state.storage.firm(firm).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let owner = match challenges::owner(&mut tx, challenge).await? {
        Some(user) => users::get(&mut tx, user).await?,
        None => None,
    };
    tx.commit().await?;
    let Some(owner) = owner else {
        audit::anonymous_refusal(&store, AuditAction::AuthChallengeRefused, client, now).await?;
        check_ip(state, client, now).await?;
        return Err(challenge_dead());
    };
    let mut locked = false;
    let outcome = check_code(ctx, &store, ChallengeId { firm, challenge }, &owner, answer, &mut locked).await;
    if let Err(refusal) = &outcome {
        let (action, kind) = match refusal {
            AppError::Unauthenticated { code: "code_reused", .. } => {
                (AuditAction::AuthTotpReplayed, Outcome::Failure)
            }
            AppError::Unauthenticated { code: "passkey_refused", .. } => {
                (AuditAction::AuthPasskeyFailed, Outcome::Failure)
            }
            AppError::Throttled { code: "throttled", .. } => {
                (AuditAction::AuthLoginThrottled, Outcome::Denied)
            }
            _ => (AuditAction::AuthCodeFailed, Outcome::Failure),
        };
        let refused = Refusal { user: owner.id, email: &owner.email, client, now };
        refused.record(&store, action, kind, locked).await?;
    }
    outcome
}

async fn check_code(
    ctx: &PublicCtx,
    store: &Arc<FirmStore>,
    id: ChallengeId,
    user: &users::User,
    answer: &SecondFactorAnswer,
    locked: &mut bool,
) -> Result<SignedIn, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let (now, challenge) = (*now, id.challenge);
    check_ip(state, client, now).await?;
    // The attempt is counted, and committed, before the code is looked at: once against the
    // challenge, then against the account's second factor and the address.
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let attempt = challenges::count_attempt(&mut tx, challenge, now).await?;
    tx.commit().await?;
    let Some(attempt) = attempt else { return Err(challenge_dead()) };
    if user.status != UserStatus::Active {
        return Err(challenge_dead());
    }
    let reserved = Attempt::reserve(state, Guess::SecondFactor, Some(&user.email), client, now).await?;
    *locked = reserved.locked();

    let mut tx = store.begin(&Principal::Anonymous).await?;
    let credentials = users::credentials_by_email(&mut tx, &user.email).await?.ok_or_else(challenge_dead)?;
    let policy = sign_in_policy::get(&mut tx).await?;
    if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&answer.factor) {
        return Err(AppError::invalid("factor", "not available for this sign-in"));
    }
    let code = || {
        answer
            .code
            .as_ref()
            .map(|code| code.expose().trim())
            .ok_or_else(|| AppError::invalid("code", "required for this factor"))
    };
    let outcome = match answer.factor {
        SecondFactor::Email => match (attempt.code_hash, attempt.code_expires_at) {
            (Some(_), Some(expires)) if now >= expires => CodeOutcome::Expired,
            (Some(stored), Some(_)) => {
                let given = store.code_hash(&[challenge.as_bytes(), code()?.as_bytes()]);
                if hashes_equal(&stored, &given) { CodeOutcome::Accepted } else { CodeOutcome::Wrong }
            }
            _ => CodeOutcome::Wrong,
        },
        SecondFactor::Totp => totp_outcome(&mut tx, user.id, code()?, now).await?,
        SecondFactor::Passkey => {
            let offered = attempt.passkey_state.as_deref();
            passkey_outcome(state, &mut tx, user.id, answer.credential.as_ref(), offered, now).await?
        }
    };
    if outcome != CodeOutcome::Accepted {
        tx.commit().await?;
        return Err(refused_factor(state, user, outcome, attempt.attempts).await?);
    }
    if !challenges::complete(&mut tx, challenge, now).await? {
        return Err(challenge_dead());
    }
    let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
    let signed_in = open_session(ctx, tx, id.firm, user, must_enrol).await?;
    // Given back once the transaction is over: on PostgreSQL both take pooled connections,
    // and holding one while asking for another lets a flood of sign-ins exhaust the pool.
    reserved.release(state).await?;
    Ok(signed_in)
}

/// Opens a session for a user who has just proved who they are, in the transaction that
/// recorded the proof, and clears the account's failure and mail counts.
async fn open_session(
    ctx: &PublicCtx,
    mut tx: FirmTx,
    firm: FirmId,
    user: &users::User,
    must_enrol_strong_factor: bool,
) -> Result<SignedIn, AppError> {
    let PublicCtx { state, client, now } = ctx;
    // Told only to someone who proved who they are: a stranger learns nothing of the firm.
    if let FirmStanding::Suspended { .. } = state.storage.firm(firm).await?.standing() {
        return Err(StoreError::FirmSuspended.into());
    }
    let token = SecretToken::generate().map_err(AppError::internal)?;
    let TokenHash(hash) = token.hash();
    let session = sessions::create(
        &mut tx,
        sessions::NewSession {
            token_hash: &hash,
            user: user.id,
            now: *now,
            limits: state.settings.session_limits,
            source_ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
        },
    )
    .await?;
    let target = ("session", session.id.to_string());
    record_step(ctx, &mut tx, (user.id, &user.email), AuditAction::AuthLoginSucceeded, target).await?;
    tx.commit().await?;
    // The owner is in: the failures before were not consecutive with what follows.
    for key in [
        ThrottleKey::Account(user.email.as_str()),
        ThrottleKey::SecondFactor(user.email.as_str()),
        ThrottleKey::CodeMails(user.email.as_str()),
    ] {
        state.storage.clear_sign_in_failures(key).await?;
    }
    let scoped = SecretText::new(token::scoped(&firm.simple(), &token));
    Ok(SignedIn {
        token,
        scoped,
        expires_at: session.expires_at,
        user: UserView::from(user),
        must_enrol_strong_factor,
    })
}

/// An authenticator code checked for `user` (and, when right, its step used up).
async fn totp_outcome(
    tx: &mut FirmTx,
    user: UserId,
    code: &str,
    now: OffsetDateTime,
) -> Result<CodeOutcome, AppError> {
    Ok(match totp::check(tx, user, code, now).await? {
        TotpOutcome::Accepted => CodeOutcome::Accepted,
        TotpOutcome::Replayed => CodeOutcome::Replayed,
        TotpOutcome::Wrong | TotpOutcome::NotEnrolled => CodeOutcome::Wrong,
    })
}

/// A passkey's answer to the check `offered` (serialised) checked for `user`; a right
/// one's use is noted.
async fn passkey_outcome(
    state: &AppState,
    tx: &mut FirmTx,
    user: UserId,
    credential: Option<&PublicKeyCredential>,
    offered: Option<&str>,
    now: OffsetDateTime,
) -> Result<CodeOutcome, AppError> {
    let credential = credential.ok_or_else(|| AppError::invalid("credential", "required for a passkey"))?;
    let relying_party = RelyingParty::of(&state.settings)?;
    match offered.map(|ceremony| relying_party.finish_check(credential, ceremony)) {
        Some(Ok(result)) => {
            passkey::record_use(tx, user, &result, now).await?;
            Ok(CodeOutcome::Accepted)
        }
        _ => Ok(CodeOutcome::PasskeyRefused),
    }
}

/// The refusal of a second factor that was not accepted, on the `attempts`-th attempt; a
/// replayed authenticator code is also mailed to the owner.
async fn refused_factor(
    state: &AppState,
    user: &users::User,
    outcome: CodeOutcome,
    attempts: i64,
) -> Result<AppError, AppError> {
    if outcome == CodeOutcome::Replayed {
        warn_of_replay(state, user).await?;
    }
    let left = MAX_CODE_ATTEMPTS - attempts;
    Ok(match outcome {
        CodeOutcome::Expired => {
            AppError::unauthenticated("code_expired", "this code has expired; ask for a new one")
        }
        CodeOutcome::Replayed => {
            AppError::unauthenticated("code_reused", "this code was already used; wait for the next one")
        }
        CodeOutcome::PasskeyRefused => ceremonies::refused(),
        _ => AppError::unauthenticated("invalid_code", format!("wrong code; {left} attempt(s) left")),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeOutcome {
    Accepted,
    Wrong,
    Expired,
    Replayed,
    PasskeyRefused,
}

async fn warn_of_replay(state: &AppState, user: &users::User) -> Result<(), AppError> {
    tracing::warn!("a TOTP code was replayed");
    let body = format!(
        "Dear {},\n\nSomeone just tried to sign in to Ringfence with an authenticator code of yours that \
         had already been used.\n\nIf it was not you, your password and a recent code are known \
         to someone else: change your password and tell your firm's administrator.\n",
        user.display_name()
    );
    state
        .mailer
        .send(Mail {
            to: user.email.as_str(),
            to_name: user.name.as_deref(),
            subject: "Ringfence: a used sign-in code was tried again",
            body,
        })
        .await?;
    Ok(())
}

fn invalid_token() -> AppError {
    AppError::invalid("token", "this invitation link is invalid, used or expired; ask for a new one")
}

/// Sets an invited user's first password with the token of their invitation link. Only an
/// invited user may: a user disabled before accepting stays out. A refused token is on the
/// firm's record.
pub async fn accept_invitation(ctx: &PublicCtx, invitation: &str, password: &str) -> Result<(), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let (firm_hex, secret) = token::parse_scoped(invitation).ok_or_else(invalid_token)?;
    let firm = firm_hex.parse().map_err(|_| invalid_token())?;
    if !state.storage.firm_exists(firm).await? {
        return Err(invalid_token());
    }
    let store = state.storage.firm(firm).await?;
    // The password is checked before the token is spent, so a refused password does not
    // use up the invitation.
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let pending = invitations::peek(&mut tx, &secret, *now).await?;
    tx.commit().await?;
    let Some(user) = pending else {
        audit::anonymous_refusal(&store, AuditAction::AuthInvitationRefused, client, *now).await?;
        return Err(invalid_token());
    };
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let user = users::get(&mut tx, user).await?.ok_or_else(invalid_token)?;
    tx.commit().await?;
    if user.status != UserStatus::Invited {
        audit::anonymous_refusal(&store, AuditAction::AuthInvitationRefused, client, *now).await?;
        return Err(invalid_token());
    }
    // A suspended firm's invitation waits for its resumption (told only to its holder).
    if let FirmStanding::Suspended { .. } = store.standing() {
        return Err(StoreError::FirmSuspended.into());
    }
    let firm = state.storage.firm_by_id(firm).await?;
    let known = passwords::KnownWords { email: &user.email, name: user.name.as_deref(), firm: &firm };
    let password = passwords::strong(password, &known)?;
    let hash = passwords::hash(state, &password).await?;
    // Hashing may have waited its turn: the invitation must still be valid now.
    let mut tx = store.begin(&Principal::Anonymous).await?;
    if invitations::redeem(&mut tx, &secret, state.clock.now()).await? != Some(user.id) {
        return Err(invalid_token());
    }
    // Checked again where the password is set: a user disabled meanwhile stays out.
    let still = users::get(&mut tx, user.id).await?;
    if still.is_none_or(|u| u.status != UserStatus::Invited) {
        return Err(invalid_token());
    }
    users::set_password_hash(&mut tx, user.id, &hash).await?;
    let target = ("user", user.id.to_string());
    record_step(ctx, &mut tx, (user.id, &user.email), AuditAction::UserInvitationAccepted, target).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ChallengeId;

    #[test]
    fn a_challenge_id_reads_back_as_written_and_anything_else_names_none() {
        let text = format!("{}.{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let id = ChallengeId::parse(&text).expect("a well-formed id");
        assert_eq!(id.to_string(), text);
        for junk in ["", ".", "abc.def", &text.replace('.', ""), &format!("{text}.x")] {
            assert_eq!(ChallengeId::parse(junk), None, "{junk:?}");
        }
    }
}
