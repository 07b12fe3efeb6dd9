//! Sign-in: password, then a second factor, then a session.
//!
//! - Unknown email, wrong password and disabled account answer alike, after the same work:
//!   the same reads and the same Argon2id (see [`check_password`]).
//! - Every attempt is reserved — counted against the account and the source address, in
//!   the control store — before it is checked (see [`crate::auth::attempts`]); one over the
//!   rule is refused unchecked, with `Retry-After`. A right password gives its reservation
//!   back, and mailed codes are counted per account, so a known password floods no mailbox.
//! - Code attempts are counted atomically before the code is compared; the sixth attempt
//!   on a challenge is refused unchecked, and a challenge completes once.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Outcome};
use ringfence_core::auth::{EMAIL_CODE_LIFETIME, MAX_CODE_ATTEMPTS, SecondFactor};
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::principal::Principal;
use ringfence_core::user::Email;
use ringfence_crypto::otp::{EmailCode, hashes_equal};
use ringfence_crypto::password::Verdict;
use ringfence_crypto::token::{self, SecretToken, TokenHash};
use ringfence_mail::Mail;
use ringfence_store::ThrottleKey;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{audit as audit_log, challenges, sessions, sign_in_policy};
use ringfence_store::{FirmStore, FirmTx};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::api::users::UserJson;
use crate::api::{passkey_sign_in, sign_in_locked};
use crate::auth::attempts::{self, Attempt, Guess, check_ip};
use crate::auth::cookie;
use crate::auth::passkey::{self, RelyingParty};
use crate::auth::totp::{self, TotpOutcome};
use crate::client::Client;
use crate::error::{ApiError, ApiJson};
use crate::{AppState, audit, passwords};

/// A sign-in's first step.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub(crate) email: String,
    pub(crate) password: String,
    /// A current authenticator code, for when the account's password step is throttled
    /// (see [`sign_in_locked`]).
    #[serde(default)]
    pub(crate) totp_code: Option<String>,
    /// With `totp_code`, browsers: set the session cookie as `verify` does.
    #[serde(default)]
    pub(crate) cookie: bool,
}

/// A sign-in whose password was right: the challenge its second factor answers, and the
/// factors it may be answered with (a code was mailed when `email` is one of them).
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub(crate) challenge_id: String,
    #[schema(value_type = Vec<crate::openapi::SecondFactorSchema>)]
    pub(crate) factors: Vec<SecondFactor>,
}

/// What a login answers: a challenge for the second factor or, when the password step was
/// throttled and a `totp_code` came with it, a completed sign-in.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Challenge(LoginResponse),
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
    user: UserJson,
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

pub(crate) fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the email address or password is wrong")
}

pub(crate) fn challenge_dead() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "challenge_expired",
        "this sign-in has expired or used up its attempts; sign in again",
    )
}

/// Records a refused sign-in step of a known user in the firm's log (and the lock, when
/// this failure caused one).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit_refusal(
    store: &FirmStore,
    user: UserId,
    email: &Email,
    action: AuditAction,
    outcome: Outcome,
    locked: bool,
    client: &Client,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let mut tx = store.begin(&Principal::Anonymous).await?;
    for entry in refusal_entries(user, email, action, outcome, locked, client, now) {
        audit_log::append(&mut tx, &entry).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Queues a refused sign-in step of a known user for the firm's log (written after the
/// answer, like a wrong password's), for steps whose refusals must cost the same.
#[allow(clippy::too_many_arguments)]
pub(crate) fn queue_refusal(
    store: &FirmStore,
    user: UserId,
    email: &Email,
    action: AuditAction,
    outcome: Outcome,
    locked: bool,
    client: &Client,
    now: OffsetDateTime,
) {
    for entry in refusal_entries(user, email, action, outcome, locked, client, now) {
        store.queue_audit(entry);
    }
}

#[allow(clippy::too_many_arguments)]
fn refusal_entries(
    user: UserId,
    email: &Email,
    action: AuditAction,
    outcome: Outcome,
    locked: bool,
    client: &Client,
    now: OffsetDateTime,
) -> Vec<AuditRecord> {
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
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    match start_sign_in(&state, &client, &body).await {
        Err(refused) if refused.code == "throttled" && body.totp_code.is_some() => {
            let signed_in = sign_in_locked::password_and_code(&state, &client, &body).await?;
            signed_in_response(&state, &signed_in, body.cookie, LoginAnswer::SignedIn)
        }
        started => started.map(|started| Json(LoginAnswer::Challenge(started)).into_response()),
    }
}

/// Checks the password and opens a challenge for the second factor (mailing a code when
/// the email factor is allowed). Shared by the API and the sign-in page.
pub(crate) async fn start_sign_in(
    state: &AppState,
    client: &Client,
    body: &LoginRequest,
) -> Result<LoginResponse, ApiError> {
    let (state, client) = (state.clone(), client.clone());
    let now = state.clock.now();
    let email = Email::parse(&body.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let attempt = match Attempt::reserve(&state, Guess::Password, Some(&email), &client, now).await {
        Ok(attempt) => attempt,
        Err(refused) => {
            note_throttled(&state, &email, &client, now).await?;
            return Err(refused);
        }
    };
    let Some(PasswordAccepted { store, rehash }) =
        check_password(&state, &email, &body.password, &attempt, &client, now).await?
    else {
        return Err(invalid_credentials());
    };
    // The password was right: that was no failure.
    attempt.release(&state).await?;
    let firm = store.id();
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let credentials = users::credentials_by_email(&mut tx, &email).await?.ok_or_else(invalid_credentials)?;
    let policy = sign_in_policy::get(&mut tx).await?;
    tx.commit().await?;
    let mut factors = policy.factors_for(&credentials.roles, credentials.enrolled);
    if factors.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "second_factor_required",
            "your firm's policy allows no second factor you have set up; ask an administrator",
        ));
    }
    // Mailed codes are counted per account: once they are spent, the sign-in goes on with
    // the user's other factors, or waits.
    if factors.contains(&SecondFactor::Email)
        && let Err(refused) = attempts::reserve_code_mail(&state, &email, now).await?
    {
        factors.retain(|factor| *factor != SecondFactor::Email);
        if factors.is_empty() {
            return Err(refused);
        }
    }
    let new_hash = if rehash { Some(passwords::hash_raw(&state, &body.password).await?) } else { None };
    let mut tx = store.begin(&Principal::Anonymous).await?;
    if let Some(hash) = &new_hash {
        users::set_password_hash(&mut tx, credentials.id, hash).await?;
    }
    let challenge = challenges::create(&mut tx, credentials.id, now).await?;
    let actor = audit::user(credentials.id, &email);
    let target = Some(("user", credentials.id.to_string()));
    let accepted = audit::record(
        actor.clone(),
        AuditAction::AuthPasswordAccepted,
        target.clone(),
        Outcome::Success,
        &client,
        now,
    );
    audit_log::append(&mut tx, &accepted).await?;
    let code = if factors.contains(&SecondFactor::Email) {
        audit_log::append(
            &mut tx,
            &audit::record(actor, AuditAction::AuthCodeSent, target, Outcome::Success, &client, now),
        )
        .await?;
        Some(new_email_code(&store, &mut tx, challenge, now).await?)
    } else {
        None
    };
    tx.commit().await?;
    if let Some(code) = code {
        send_code(&state, &email, &code).await?;
    }
    Ok(LoginResponse { challenge_id: challenge_id(firm, challenge), factors })
}

/// A right password of an active user.
pub(crate) struct PasswordAccepted {
    pub(crate) store: Arc<FirmStore>,
    rehash: bool,
}

/// The password step, the same work whatever the address: one directory read that names
/// the firm store to look in (the user's, or a stand-in firm's for an address nobody has),
/// one read there, and Argon2id against the stored hash or a dummy. Nothing before the
/// answer depends on whether the address is known: a known user's failure is queued for
/// the firm's log and written after it (readers of the log write the queue out first).
pub(crate) async fn check_password(
    state: &AppState,
    email: &Email,
    password: &str,
    attempt: &Attempt,
    client: &Client,
    now: OffsetDateTime,
) -> Result<Option<PasswordAccepted>, ApiError> {
    Ok(check_password_in(state, email, password, attempt, client, now).await?.1)
}

/// [`check_password`], also naming the firm store it read (the user's, or the stand-in's),
/// whatever the verdict, for steps that must go on doing the same work either way.
pub(crate) async fn check_password_in(
    state: &AppState,
    email: &Email,
    password: &str,
    attempt: &Attempt,
    client: &Client,
    now: OffsetDateTime,
) -> Result<(Option<Arc<FirmStore>>, Option<PasswordAccepted>), ApiError> {
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
        (Some(store), Some((_, UserStatus::Active, _)), Verdict::Match { rehash }) => {
            Ok((Some(store.clone()), Some(PasswordAccepted { store: store.clone(), rehash })))
        }
        (Some(known), Some((id, _, _)), _) => {
            let locked = attempt.locked();
            queue_refusal(
                known,
                id,
                email,
                AuditAction::AuthLoginFailed,
                Outcome::Failure,
                locked,
                client,
                now,
            );
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
) -> Result<(), ApiError> {
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

pub(crate) fn challenge_id(firm: FirmId, challenge: Uuid) -> String {
    format!("{}.{}", firm.simple(), challenge.simple())
}

pub(crate) fn parse_challenge_id(text: &str) -> Option<(FirmId, Uuid)> {
    let (firm, challenge) = text.split_once('.')?;
    Some((firm.parse().ok()?, challenge.parse().ok()?))
}

async fn new_email_code(
    store: &ringfence_store::FirmStore,
    tx: &mut ringfence_store::FirmTx,
    challenge: Uuid,
    now: OffsetDateTime,
) -> Result<EmailCode, ApiError> {
    let code = EmailCode::generate().map_err(|e| ApiError::internal(&e))?;
    let hash = store.code_hash(&[challenge.as_bytes(), code.expose().as_bytes()]);
    if !challenges::set_code(tx, challenge, &hash, now + EMAIL_CODE_LIFETIME).await? {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_codes",
            "this sign-in has mailed all the codes it may; sign in again",
        )
        .with_retry_after(1));
    }
    Ok(code)
}

async fn send_code(state: &AppState, email: &Email, code: &EmailCode) -> Result<(), ApiError> {
    let body = format!(
        "Your Ringfence sign-in code is {}\n\nIt works once and expires in 10 minutes.\n\
         If you did not try to sign in, someone knows your password: change it now.\n",
        code.expose()
    );
    state.mailer.send(Mail { to: email.as_str(), subject: "Your Ringfence sign-in code", body }).await?;
    Ok(())
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
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<ResendRequest>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    check_ip(&state, &client, now).await?;
    let (firm, challenge) = parse_challenge_id(&body.challenge_id).ok_or_else(challenge_dead)?;
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
        audit::anonymous_refusal(&store, AuditAction::AuthChallengeRefused, &client, now).await?;
        return Err(challenge_dead());
    };
    let policy = sign_in_policy::get(&mut tx).await?;
    let credentials = users::credentials_by_email(&mut tx, &user.email).await?.ok_or_else(challenge_dead)?;
    if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&SecondFactor::Email) {
        return Err(ApiError::invalid("factor: emailed codes are not available for this sign-in"));
    }
    attempts::reserve_code_mail(&state, &user.email, now).await??;
    let code = new_email_code(&store, &mut tx, challenge, now).await?;
    let sent = audit::record(
        audit::user(user.id, &user.email),
        AuditAction::AuthCodeSent,
        Some(("user", user.id.to_string())),
        Outcome::Success,
        &client,
        now,
    );
    audit_log::append(&mut tx, &sent).await?;
    tx.commit().await?;
    send_code(&state, &user.email, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A sign-in's second step: the challenge and the second factor's answer.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    pub(crate) challenge_id: String,
    #[schema(value_type = crate::openapi::SecondFactorSchema)]
    pub(crate) factor: SecondFactor,
    /// The emailed or TOTP code.
    #[serde(default)]
    pub(crate) code: Option<String>,
    /// The passkey's answer to the challenge from `/auth/passkey-options` (a WebAuthn
    /// `AuthenticationResponseJSON`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub(crate) credential: Option<PublicKeyCredential>,
    /// Browsers: set the session cookie and answer the CSRF token instead of the token.
    #[serde(default)]
    pub(crate) cookie: bool,
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
pub async fn verify(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let signed_in = finish_sign_in(&state, &client, &body).await?;
    signed_in_response(&state, &signed_in, body.cookie, |json| json)
}

/// The answer to a completed sign-in (as `answer` wraps it): the token for API clients;
/// for browsers, the session cookie and the CSRF token.
pub(crate) fn signed_in_response<T: Serialize>(
    state: &AppState,
    signed_in: &SignedIn,
    browser: bool,
    answer: impl FnOnce(SignedInJson) -> T,
) -> Result<Response, ApiError> {
    let (token, csrf_token) = if browser {
        (None, Some(cookie::csrf_token(&signed_in.token)))
    } else {
        (Some(signed_in.scoped.to_string()), None)
    };
    let body = SignedInJson {
        expires_at: signed_in.expires_at,
        user: UserJson::from(&signed_in.user),
        must_enrol_strong_factor: signed_in.must_enrol,
        token,
        csrf_token,
    };
    let mut response = Json(answer(body)).into_response();
    if browser
        && let Some(value) = cookie::set_session(&signed_in.scoped, state.settings.session_limits.absolute)
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A completed sign-in: the new session's token (plain and firm-scoped) and facts.
pub(crate) struct SignedIn {
    pub(crate) token: SecretToken,
    pub(crate) scoped: zeroize::Zeroizing<String>,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) user: users::User,
    pub(crate) must_enrol: bool,
}

/// Checks the second factor of a challenge and opens a session. Shared by the API and
/// the sign-in page; every refusal is counted and recorded.
pub(crate) async fn finish_sign_in(
    state: &AppState,
    client: &Client,
    body: &VerifyRequest,
) -> Result<SignedIn, ApiError> {
    let (state, client) = (state.clone(), client.clone());
    let now = state.clock.now();
    let (firm, challenge) = parse_challenge_id(&body.challenge_id).ok_or_else(challenge_dead)?;
    if !state.storage.firm_exists(firm).await? {
        check_ip(&state, &client, now).await?;
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
        audit::anonymous_refusal(&store, AuditAction::AuthChallengeRefused, &client, now).await?;
        check_ip(&state, &client, now).await?;
        return Err(challenge_dead());
    };
    let mut locked = false;
    let outcome = check_code(&state, &client, &store, firm, challenge, &owner, body, &mut locked, now).await;
    if let Err(refusal) = &outcome {
        let (action, kind) = match refusal.code {
            "code_reused" => (AuditAction::AuthTotpReplayed, Outcome::Failure),
            "passkey_refused" => (AuditAction::AuthPasskeyFailed, Outcome::Failure),
            "throttled" => (AuditAction::AuthLoginThrottled, Outcome::Denied),
            _ => (AuditAction::AuthCodeFailed, Outcome::Failure),
        };
        audit_refusal(&store, owner.id, &owner.email, action, kind, locked, &client, now).await?;
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn check_code(
    state: &AppState,
    client: &Client,
    store: &ringfence_store::FirmStore,
    firm: FirmId,
    challenge: Uuid,
    user: &users::User,
    body: &VerifyRequest,
    locked: &mut bool,
    now: OffsetDateTime,
) -> Result<SignedIn, ApiError> {
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
    if !policy.factors_for(&credentials.roles, credentials.enrolled).contains(&body.factor) {
        return Err(ApiError::invalid("factor: not available for this sign-in"));
    }
    let code = || {
        body.code.as_deref().map(str::trim).ok_or_else(|| ApiError::invalid("code: required for this factor"))
    };
    let outcome = match body.factor {
        SecondFactor::Email => match (attempt.code_hash, attempt.code_expires_at) {
            (Some(_), Some(expires)) if now >= expires => CodeOutcome::Expired,
            (Some(stored), Some(_)) => {
                let given = store.code_hash(&[challenge.as_bytes(), code()?.as_bytes()]);
                if hashes_equal(&stored, &given) { CodeOutcome::Accepted } else { CodeOutcome::Wrong }
            }
            _ => CodeOutcome::Wrong,
        },
        SecondFactor::Totp => match totp::check(&mut tx, user.id, code()?, now).await? {
            TotpOutcome::Accepted => CodeOutcome::Accepted,
            TotpOutcome::Replayed => CodeOutcome::Replayed,
            TotpOutcome::Wrong | TotpOutcome::NotEnrolled => CodeOutcome::Wrong,
        },
        SecondFactor::Passkey => {
            let credential = body
                .credential
                .as_ref()
                .ok_or_else(|| ApiError::invalid("credential: required for a passkey"))?;
            let relying_party = RelyingParty::of(&state.settings)?;
            let offered = attempt.passkey_state.as_deref();
            match offered.map(|ceremony| relying_party.finish_check(credential, ceremony)) {
                Some(Ok(result)) => {
                    passkey_sign_in::record_use(&mut tx, user.id, &result, now).await?;
                    CodeOutcome::Accepted
                }
                _ => CodeOutcome::PasskeyRefused,
            }
        }
    };
    if outcome != CodeOutcome::Accepted {
        tx.commit().await?;
        if outcome == CodeOutcome::Replayed {
            warn_of_replay(state, &user.email).await?;
        }
        let left = MAX_CODE_ATTEMPTS - attempt.attempts;
        return Err(match outcome {
            CodeOutcome::Expired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "code_expired",
                "this code has expired; ask for a new one",
            ),
            CodeOutcome::Replayed => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "code_reused",
                "this code was already used; wait for the next one",
            ),
            CodeOutcome::PasskeyRefused => passkey::refused(),
            _ => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_code",
                format!("wrong code; {left} attempt(s) left"),
            ),
        });
    }
    if !challenges::complete(&mut tx, challenge, now).await? {
        return Err(challenge_dead());
    }
    let must_enrol = policy.must_enrol_strong_factor(&credentials.roles, credentials.enrolled);
    let signed_in = open_session(state, client, tx, firm, user, must_enrol, now).await?;
    // Given back once the transaction is over: on PostgreSQL both take pooled connections,
    // and holding one while asking for another lets a flood of sign-ins exhaust the pool.
    reserved.release(state).await?;
    Ok(signed_in)
}

/// Opens a session for a user who has just proved who they are, in the transaction that
/// recorded the proof, and clears the account's failure and mail counts.
pub(crate) async fn open_session(
    state: &AppState,
    client: &Client,
    mut tx: FirmTx,
    firm: FirmId,
    user: &users::User,
    must_enrol: bool,
    now: OffsetDateTime,
) -> Result<SignedIn, ApiError> {
    let token = SecretToken::generate().map_err(|e| ApiError::internal(&e))?;
    let TokenHash(hash) = token.hash();
    let session = sessions::create(
        &mut tx,
        sessions::NewSession {
            token_hash: &hash,
            user: user.id,
            now,
            limits: state.settings.session_limits,
            source_ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
        },
    )
    .await?;
    let signed_in = audit::record(
        audit::user(user.id, &user.email),
        AuditAction::AuthLoginSucceeded,
        Some(("session", session.id.to_string())),
        Outcome::Success,
        client,
        now,
    );
    audit_log::append(&mut tx, &signed_in).await?;
    tx.commit().await?;
    // The owner is in: the failures before were not consecutive with what follows.
    for key in [
        ThrottleKey::Account(user.email.as_str()),
        ThrottleKey::SecondFactor(user.email.as_str()),
        ThrottleKey::CodeMails(user.email.as_str()),
    ] {
        state.storage.clear_sign_in_failures(key).await?;
    }

    let scoped = token::scoped(&firm.simple(), &token);
    Ok(SignedIn { token, scoped, expires_at: session.expires_at, user: user.clone(), must_enrol })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeOutcome {
    Accepted,
    Wrong,
    Expired,
    Replayed,
    PasskeyRefused,
}

async fn warn_of_replay(state: &AppState, email: &Email) -> Result<(), ApiError> {
    tracing::warn!("a TOTP code was replayed");
    let body = "Someone just tried to sign in to Ringfence with an authenticator code of yours that \
                had already been used.\n\nIf it was not you, your password and a recent code are known \
                to someone else: change your password and tell your firm's administrator.\n"
        .to_owned();
    state
        .mailer
        .send(Mail { to: email.as_str(), subject: "Ringfence: a used sign-in code was tried again", body })
        .await?;
    Ok(())
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
    Ok(crate::api::me::signed_out(StatusCode::NO_CONTENT.into_response()))
}
