//! The signed-in user's own account: profile, sessions, password, TOTP.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::firm::{FirmName, FirmSlug};
use ringfence_core::ids::FirmId;
use ringfence_core::user::FirmRole;
use ringfence_crypto::otp::TotpSecret;
use ringfence_crypto::password::Verdict;
use ringfence_mail::Mail;
use ringfence_store::firm::{audit as audit_log, challenges, sessions, users};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::users::UserJson;
use crate::auth::attempts::{Attempt, Guess};
use crate::auth::{Actor, cookie};
use crate::client::Client;
use crate::error::{ApiError, ApiJson};
use crate::{AppState, audit, passwords};

pub(crate) fn rfc3339(at: OffsetDateTime) -> Result<String, ApiError> {
    at.format(&Rfc3339).map_err(|e| ApiError::internal(&e))
}

/// The signed-in user, their firm and the second factors they have set up.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Me)]
pub struct MeJson {
    user: UserJson,
    firm: FirmJson,
    #[schema(value_type = BTreeSet<crate::openapi::FirmRoleSchema>)]
    roles: BTreeSet<FirmRole>,
    pub(crate) totp_enrolled: bool,
    passkey_enrolled: bool,
}

/// The firm a user belongs to.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Firm)]
pub struct FirmJson {
    #[schema(value_type = uuid::Uuid)]
    id: FirmId,
    /// The firm's short name, as it appears in URLs.
    #[schema(value_type = String)]
    slug: FirmSlug,
    #[schema(value_type = String)]
    name: FirmName,
}

/// The signed-in user's own account.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = MeJson),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn me(State(state): State<AppState>, actor: Actor) -> Result<Json<MeJson>, ApiError> {
    let mut tx = actor.begin().await?;
    let user = users::get(&mut tx, actor.user).await?.ok_or_else(ApiError::not_found)?;
    let credentials =
        users::credentials_by_email(&mut tx, &actor.email).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    Ok(Json(MeJson {
        user: UserJson::from(&user),
        firm: FirmJson { id: firm.id, slug: firm.slug, name: firm.name },
        roles: user.roles,
        totp_enrolled: credentials.enrolled.totp,
        passkey_enrolled: credentials.enrolled.passkey,
    }))
}

/// One live session of the signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionJson {
    pub(crate) id: uuid::Uuid,
    #[schema(format = DateTime)]
    pub(crate) created_at: String,
    #[schema(format = DateTime)]
    pub(crate) last_seen_at: String,
    #[schema(format = DateTime)]
    pub(crate) expires_at: String,
    /// The address the session was signed in from.
    #[schema(required = true)]
    pub(crate) ip: Option<String>,
    #[schema(required = true)]
    pub(crate) user_agent: Option<String>,
    /// Whether this is the session the request came with.
    pub(crate) current: bool,
}

/// The signed-in user's live sessions: all of them, in one page.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SessionList)]
pub struct SessionListJson {
    pub(crate) items: Vec<SessionJson>,
    /// Always null: the list is never split into pages.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// The signed-in user's live sessions, this one marked `current`.
#[utoipa::path(
    get,
    path = "/api/v1/me/sessions",
    tag = "account",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The live sessions", body = SessionListJson),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<SessionListJson>, ApiError> {
    let mut tx = actor.begin().await?;
    let live = sessions::list_live(&mut tx, actor.user, state.clock.now()).await?;
    tx.commit().await?;
    let items = live
        .iter()
        .map(|s| {
            Ok(SessionJson {
                id: s.id,
                created_at: rfc3339(s.created_at)?,
                last_seen_at: rfc3339(s.last_seen_at)?,
                expires_at: rfc3339(s.expires_at)?,
                ip: s.source_ip.clone(),
                user_agent: s.user_agent.clone(),
                current: s.id == actor.session.as_uuid(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(SessionListJson { items, next_cursor: None }))
}

/// Signs out everywhere, this session included.
pub async fn end_all_sessions(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    sessions::revoke_all(&mut tx, actor.user, None, now).await?;
    let target = Some(("user", actor.user.to_string()));
    actor.record(&mut tx, &client, AuditAction::SessionRevokedAll, target).await?;
    tx.commit().await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie::clear_session());
    Ok(response)
}

pub async fn end_session(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: uuid::Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    if !sessions::revoke(&mut tx, actor.user, id, now).await? {
        return Err(ApiError::not_found());
    }
    let target = Some(("session", id.to_string()));
    actor.record(&mut tx, &client, AuditAction::SessionRevoked, target).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ChangePassword {
    pub(crate) current_password: String,
    pub(crate) new_password: String,
}

/// Changes the password and ends every other session, and every sign-in in progress.
pub async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let target = Some(("user", actor.user.to_string()));
    let mut tx = actor.begin().await?;
    let credentials =
        users::credentials_by_email(&mut tx, &actor.email).await?.ok_or_else(ApiError::not_found)?;
    let user = users::get(&mut tx, actor.user).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    confirm_password(&state, &actor, &client, &body.current_password, credentials.password_hash, now).await?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    let known = passwords::KnownWords { email: &actor.email, name: user.name.as_deref(), firm: &firm };
    let password = passwords::strong(&body.new_password, &known)?;
    let hash = passwords::hash(&state, &password).await?;
    let mut tx = actor.begin().await?;
    users::set_password_hash(&mut tx, actor.user, &hash).await?;
    sessions::revoke_all(&mut tx, actor.user, Some(actor.session.as_uuid()), now).await?;
    // A sign-in whose password step passed under the old password ends here too.
    challenges::end_all(&mut tx, actor.user, now).await?;
    actor.record(&mut tx, &client, AuditAction::UserPasswordChanged, target).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolTotp {
    pub(crate) current_password: String,
}

/// Starts TOTP enrolment: a new secret, sealed at rest, confirmed by the first code. Setting
/// up an authenticator — the first one or a replacement — needs the password as well as
/// the session, and its owner is mailed once it is confirmed (as for passkeys): a stolen
/// session alone cannot plant a second factor, which for admins and auditors would also
/// turn emailed codes off. The old authenticator keeps working until the new one is confirmed.
pub async fn enrol_totp(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<EnrolTotp>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    let credentials =
        users::credentials_by_email(&mut tx, &actor.email).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    confirm_password(&state, &actor, &client, &body.current_password, credentials.password_hash, now).await?;
    let secret = TotpSecret::generate().map_err(|e| ApiError::internal(&e))?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    let issuer = format!("Ringfence ({})", firm.name.as_str());
    let (base32, uri) =
        secret.provisioning(&issuer, actor.email.as_str()).map_err(|e| ApiError::internal(&e))?;
    let mut tx = actor.begin().await?;
    users::set_pending_totp(&mut tx, actor.user, secret.expose()).await?;
    let target = Some(("user", actor.user.to_string()));
    actor.record(&mut tx, &client, AuditAction::UserTotpEnrolmentStarted, target).await?;
    tx.commit().await?;
    Ok(Json(json!({ "secret": base32.as_str(), "otpauth_uri": uri.as_str() })))
}

#[derive(Deserialize)]
pub struct ConfirmTotp {
    pub(crate) code: String,
}

pub async fn confirm_totp(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<ConfirmTotp>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    let Some(pending) = users::pending_totp(&mut tx, actor.user).await? else {
        return Err(ApiError::invalid("code: start TOTP enrolment first"));
    };
    let secret = TotpSecret::from_bytes(&pending)
        .ok_or_else(|| ApiError::internal(&ringfence_crypto::CryptoError::Malformed))?;
    let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let Some(step) = secret.matching_step(body.code.trim(), unix).map_err(|e| ApiError::internal(&e))? else {
        return Err(ApiError::invalid("code: wrong code; check the device's clock"));
    };
    users::activate_totp(&mut tx, actor.user, secret.expose(), i64::try_from(step).unwrap_or(i64::MAX), now)
        .await?;
    let target = Some(("user", actor.user.to_string()));
    actor.record(&mut tx, &client, AuditAction::UserTotpEnrolled, target).await?;
    tx.commit().await?;
    let notice = "An authenticator app was set up for your Ringfence account; sign-in codes now \
                  come from it.\n\nIf it was not you, tell your firm's administrator now: they can \
                  reset your second factor.\n"
        .to_owned();
    state
        .mailer
        .send(Mail {
            to: actor.email.as_str(),
            subject: "Ringfence: an authenticator app was set up",
            body: notice,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the signed-in user's password, under the same throttle as sign-in: a stolen
/// session cannot be used to guess it. A wrong one is counted and recorded.
pub(crate) async fn confirm_password(
    state: &AppState,
    actor: &Actor,
    client: &Client,
    password: &str,
    stored: Option<String>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let attempt = Attempt::reserve(state, Guess::Password, Some(&actor.email), client, now).await?;
    if passwords::verify(state, password, stored).await? == Verdict::Mismatch {
        let mut tx = actor.begin().await?;
        let target = Some(("user", actor.user.to_string()));
        let entry = audit::record(
            actor.audit_actor(),
            AuditAction::UserPasswordCheckFailed,
            target,
            Outcome::Failure,
            client,
            now,
        );
        audit_log::append(&mut tx, &entry).await?;
        tx.commit().await?;
        return Err(ApiError::invalid("current_password: wrong password"));
    }
    attempt.release(state).await
}
