//! One's own account: the profile, live sessions, the password, the authenticator app and
//! passkeys. Setting up a second factor needs the password as well as the session (a
//! stolen session alone cannot plant a way back in), and the password is checked under
//! the same throttle as sign-in.

use std::collections::BTreeSet;

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::Outcome;
use ringfence_core::firm::{FirmName, FirmSlug};
use ringfence_core::ids::{FirmId, PasskeyId, SessionId};
use ringfence_core::user::FirmRole;
use ringfence_crypto::SecretText;
use ringfence_crypto::otp::TotpSecret;
use ringfence_crypto::password::Verdict;
use ringfence_mail::Mail;
use ringfence_store::firm::{
    audit as audit_log, challenges, passkeys, password_resets, sessions, sign_in_policy, users,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::{AppError, Ctx};
use crate::app::users::UserView;
use crate::auth::attempts::{Attempt, Guess};
use crate::auth::passkey::{self, RelyingParty};
use crate::{AppState, audit, passwords};

/// Longest passkey name, in characters.
const MAX_NAME_CHARS: usize = 60;

/// The signed-in user, their firm and the second factors they have set up.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Me)]
pub struct MeView {
    user: UserView,
    firm: FirmView,
    #[schema(value_type = BTreeSet<crate::openapi::FirmRoleSchema>)]
    roles: BTreeSet<FirmRole>,
    pub totp_enrolled: bool,
    passkey_enrolled: bool,
}

/// The firm a user belongs to.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Firm)]
pub struct FirmView {
    #[schema(value_type = uuid::Uuid)]
    id: FirmId,
    /// The firm's short name, as it appears in URLs.
    #[schema(value_type = String)]
    slug: FirmSlug,
    #[schema(value_type = String)]
    name: FirmName,
}

/// One live session of the signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The address the session was signed in from.
    #[schema(required = true)]
    pub ip: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// Whether this is the session the request came with.
    pub current: bool,
}

/// The signed-in user's live sessions: all of them, in one page.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SessionList)]
pub struct SessionList {
    pub items: Vec<SessionView>,
    /// Always null: the list is never split into pages.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// One of the signed-in user's passkeys.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Passkey)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it last signed its owner in; null if never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_used_at: Option<OffsetDateTime>,
}

/// The signed-in user's passkeys: all of them, in one page.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PasskeyList)]
pub struct PasskeyList {
    pub items: Vec<PasskeyView>,
    /// Always null: the list is never split into pages.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A passkey just added.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = NewPasskey)]
pub struct NewPasskeyView {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The options of a passkey registration, for `navigator.credentials.create()`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PasskeyRegistrationOptions)]
pub struct RegistrationOptions {
    /// Names this registration when finishing it.
    pub ceremony_id: Uuid,
    /// The WebAuthn `PublicKeyCredentialCreationOptions`, as JSON.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// A TOTP enrolment begun: what the authenticator app is given, shown once. Neither field
/// prints; only the answer to its owner reads them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TotpEnrolment)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into the app.
    #[serde(serialize_with = "reveal")]
    #[schema(value_type = String)]
    pub secret: SecretText,
    /// The `otpauth://` URI holding the secret, for the app to scan as a QR code.
    #[serde(serialize_with = "reveal")]
    #[schema(value_type = String)]
    pub otpauth_uri: SecretText,
}

fn reveal<S: serde::Serializer>(secret: &SecretText, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// The signed-in user's own account.
pub async fn me(ctx: &Ctx, state: &AppState) -> Result<MeView, AppError> {
    let actor = &ctx.actor;
    let mut tx = actor.begin().await?;
    let user = users::get(&mut tx, actor.user).await?.ok_or(AppError::NotFound)?;
    let credentials = users::credentials_by_email(&mut tx, &actor.email).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    Ok(MeView {
        user: UserView::from(&user),
        firm: FirmView { id: firm.id, slug: firm.slug, name: firm.name },
        roles: user.roles,
        totp_enrolled: credentials.enrolled.totp,
        passkey_enrolled: credentials.enrolled.passkey,
    })
}

/// The signed-in user's live sessions, this one marked `current`.
pub async fn sessions(ctx: &Ctx) -> Result<SessionList, AppError> {
    let mut tx = ctx.actor.begin().await?;
    let live = sessions::list_live(&mut tx, ctx.actor.user, ctx.now()).await?;
    tx.commit().await?;
    let items = live
        .into_iter()
        .map(|s| SessionView {
            current: s.id == ctx.actor.session.as_uuid(),
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip: s.source_ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(SessionList { items, next_cursor: None })
}

/// Signs out everywhere, this session included.
pub async fn end_all_sessions(ctx: &Ctx) -> Result<(), AppError> {
    let mut tx = ctx.actor.begin().await?;
    sessions::revoke_all(&mut tx, ctx.actor.user, None, ctx.now()).await?;
    ctx.record(&mut tx, AuditAction::SessionRevokedAll, Some(("user", ctx.actor.user.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends one of the signed-in user's sessions; another user's is not found.
pub async fn end_session(ctx: &Ctx, id: SessionId) -> Result<(), AppError> {
    let mut tx = ctx.actor.begin().await?;
    if !sessions::revoke(&mut tx, ctx.actor.user, id.as_uuid(), ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    ctx.record(&mut tx, AuditAction::SessionRevoked, Some(("session", id.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Signs this session out.
pub async fn sign_out(ctx: &Ctx) -> Result<(), AppError> {
    let session = ctx.actor.session;
    let mut tx = ctx.actor.begin().await?;
    sessions::revoke(&mut tx, ctx.actor.user, session.as_uuid(), ctx.now()).await?;
    ctx.record(&mut tx, AuditAction::AuthLogout, Some(("session", session.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes the password and ends every other session, and every sign-in in progress.
pub async fn change_password(
    ctx: &Ctx,
    state: &AppState,
    current_password: &str,
    new_password: &str,
) -> Result<(), AppError> {
    let actor = &ctx.actor;
    let user = confirm_password(ctx, state, current_password).await?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    let known = passwords::KnownWords { email: &actor.email, name: user.name.as_deref(), firm: &firm };
    let password = passwords::strong(new_password, &known)?;
    let hash = passwords::hash(state, &password).await?;
    let mut tx = actor.begin().await?;
    users::set_password_hash(&mut tx, actor.user, &hash).await?;
    sessions::revoke_all(&mut tx, actor.user, Some(actor.session.as_uuid()), ctx.now()).await?;
    // A sign-in whose password step passed under the old password ends here too.
    challenges::end_all(&mut tx, actor.user, ctx.now()).await?;
    password_resets::end_open(&mut tx, actor.user, ctx.now()).await?;
    ctx.record(&mut tx, AuditAction::UserPasswordChanged, Some(("user", actor.user.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Starts TOTP enrolment: a new secret, sealed at rest, confirmed by the first code. Setting
/// up an authenticator — the first one or a replacement — needs the password as well as
/// the session, and its owner is mailed once it is confirmed (as for passkeys): a stolen
/// session alone cannot plant a second factor, which for admins and auditors would also
/// turn emailed codes off. The old authenticator keeps working until the new one is confirmed.
pub async fn enrol_totp(
    ctx: &Ctx,
    state: &AppState,
    current_password: &str,
) -> Result<TotpEnrolment, AppError> {
    let actor = &ctx.actor;
    confirm_password(ctx, state, current_password).await?;
    let secret = TotpSecret::generate().map_err(AppError::internal)?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    let issuer = format!("Ringfence ({})", firm.name.as_str());
    let (base32, uri) = secret.provisioning(&issuer, actor.email.as_str()).map_err(AppError::internal)?;
    let mut tx = actor.begin().await?;
    users::set_pending_totp(&mut tx, actor.user, secret.expose()).await?;
    ctx.record(&mut tx, AuditAction::UserTotpEnrolmentStarted, Some(("user", actor.user.to_string())))
        .await?;
    tx.commit().await?;
    Ok(TotpEnrolment { secret: SecretText::new(base32), otpauth_uri: SecretText::new(uri) })
}

/// Confirms the pending authenticator with its first code; its owner is told by mail.
pub async fn confirm_totp(ctx: &Ctx, state: &AppState, code: &str) -> Result<(), AppError> {
    let actor = &ctx.actor;
    let now = ctx.now();
    let mut tx = actor.begin().await?;
    let Some(pending) = users::pending_totp(&mut tx, actor.user).await? else {
        return Err(AppError::invalid("code", "start TOTP enrolment first"));
    };
    let secret = TotpSecret::from_bytes(&pending)
        .ok_or_else(|| AppError::internal(ringfence_crypto::CryptoError::Malformed))?;
    let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let Some(step) = secret.matching_step(code.trim(), unix).map_err(AppError::internal)? else {
        return Err(AppError::invalid("code", "wrong code; check the device's clock"));
    };
    users::activate_totp(&mut tx, actor.user, secret.expose(), i64::try_from(step).unwrap_or(i64::MAX), now)
        .await?;
    ctx.record(&mut tx, AuditAction::UserTotpEnrolled, Some(("user", actor.user.to_string()))).await?;
    tx.commit().await?;
    let notice = format!(
        "Dear {},\n\nAn authenticator app was set up for your Ringfence account; sign-in codes now \
         come from it.\n\nIf it was not you, tell your firm's administrator now: they can reset \
         your second factor.\n",
        actor.display_name()
    );
    state
        .mailer
        .send(Mail {
            to: actor.email.as_str(),
            to_name: actor.name.as_deref(),
            subject: "Ringfence: an authenticator app was set up",
            body: notice,
        })
        .await?;
    Ok(())
}

/// The signed-in user's passkeys.
pub async fn passkeys(ctx: &Ctx) -> Result<PasskeyList, AppError> {
    let mut tx = ctx.actor.begin().await?;
    let listed = passkeys::list(&mut tx, ctx.actor.user).await?;
    tx.commit().await?;
    let items = listed
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
        .collect();
    Ok(PasskeyList { items, next_cursor: None })
}

/// Starts adding a passkey: the options for `navigator.credentials.create()`.
pub async fn start_passkey(
    ctx: &Ctx,
    state: &AppState,
    current_password: &str,
) -> Result<RegistrationOptions, AppError> {
    let actor = &ctx.actor;
    let user = confirm_password(ctx, state, current_password).await?;
    let mut tx = actor.begin().await?;
    let existing = passkeys::records(&mut tx, actor.user).await?;
    let existing = existing.iter().map(|r| passkey::decode(&r.record)).collect::<Result<Vec<_>, _>>()?;
    let display_name = user.name.as_deref().unwrap_or(actor.email.as_str());
    let ceremony = RelyingParty::of(&state.settings)?.start_registration(
        actor.user,
        actor.email.as_str(),
        display_name,
        &existing,
    )?;
    let ceremony_id = passkeys::start_registration(&mut tx, actor.user, &ceremony.state, ctx.now()).await?;
    tx.commit().await?;
    Ok(RegistrationOptions { ceremony_id, options: ceremony.options })
}

/// A passkey's name as given (trimmed; "Passkey" when none), checked.
pub fn passkey_name(given: Option<&str>) -> Result<String, AppError> {
    let name = given.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Passkey");
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            format!("up to {MAX_NAME_CHARS} characters, no control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Checks the authenticator's answer to registration `ceremony_id` and keeps the new
/// passkey under `name` (see [`passkey_name`]); the owner is told by mail.
pub async fn finish_passkey(
    ctx: &Ctx,
    state: &AppState,
    ceremony_id: Uuid,
    name: String,
    credential: &RegisterPublicKeyCredential,
) -> Result<NewPasskeyView, AppError> {
    let actor = &ctx.actor;
    let now = ctx.now();
    let mut tx = actor.begin().await?;
    let ceremony = passkeys::take_registration(&mut tx, actor.user, ceremony_id, now)
        .await?
        .ok_or_else(|| AppError::invalid("ceremony_id", "this registration has expired; start again"))?;
    let known = passkeys::is_registered(&mut tx, &credential.raw_id).await?;
    // The registration is used up whatever the answer.
    tx.commit().await?;
    if known {
        return Err(passkey::already_registered());
    }
    let registered = RelyingParty::of(&state.settings)?.finish_registration(credential, &ceremony)?;
    let record = passkey::encode(&registered)?;
    let mut tx = actor.begin().await?;
    let id = passkeys::add(&mut tx, actor.user, registered.cred_id().as_ref(), &name, &record, now)
        .await?
        .ok_or_else(passkey::already_registered)?;
    ctx.record(&mut tx, AuditAction::UserPasskeyAdded, Some(("passkey", id.to_string()))).await?;
    tx.commit().await?;
    let notice = format!(
        "Dear {},\n\nA passkey named \"{name}\" was added to your Ringfence account.\n\n\
         If it was not you, remove it under Account and tell your firm's administrator.\n",
        actor.display_name()
    );
    state
        .mailer
        .send(Mail {
            to: actor.email.as_str(),
            to_name: actor.name.as_deref(),
            subject: "Ringfence: a passkey was added",
            body: notice,
        })
        .await?;
    Ok(NewPasskeyView { id, name, created_at: now })
}

/// Removes a passkey, unless that would leave no second factor the firm allows.
pub async fn remove_passkey(ctx: &Ctx, id: PasskeyId) -> Result<(), AppError> {
    let actor = &ctx.actor;
    let mut tx = actor.begin().await?;
    if !passkeys::remove(&mut tx, actor.user, id.as_uuid()).await? {
        return Err(AppError::NotFound);
    }
    let credentials = users::credentials_by_email(&mut tx, &actor.email).await?.ok_or(AppError::NotFound)?;
    if sign_in_policy::get(&mut tx).await?.factors_for(&credentials.roles, credentials.enrolled).is_empty() {
        return Err(AppError::conflict(
            "would_lock_out",
            "this is your only way to sign in that the firm allows: set up another first",
        ));
    }
    ctx.record(&mut tx, AuditAction::UserPasskeyRemoved, Some(("passkey", id.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the signed-in user's password, under the same throttle as sign-in: a stolen
/// session cannot be used to guess it. A wrong one is counted and recorded. Answers the user.
async fn confirm_password(ctx: &Ctx, state: &AppState, password: &str) -> Result<users::User, AppError> {
    let actor = &ctx.actor;
    let mut tx = actor.begin().await?;
    let credentials = users::credentials_by_email(&mut tx, &actor.email).await?.ok_or(AppError::NotFound)?;
    let user = users::get(&mut tx, actor.user).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let stored = credentials.password_hash;
    let attempt =
        Attempt::reserve(state, Guess::Password, Some(&actor.email), &ctx.client, ctx.now()).await?;
    if passwords::verify(state, password, stored).await? == Verdict::Mismatch {
        let mut tx = actor.begin().await?;
        let entry = audit::record(
            actor.audit_actor(),
            AuditAction::UserPasswordCheckFailed,
            Some(("user", actor.user.to_string())),
            Outcome::Failure,
            &ctx.client,
            ctx.now(),
        );
        audit_log::append(&mut tx, &entry).await?;
        tx.commit().await?;
        return Err(AppError::invalid("current_password", "wrong password"));
    }
    attempt.release(state).await?;
    Ok(user)
}
