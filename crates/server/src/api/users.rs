//! Firm users, managed by the firm's administrators. Creating a user mails an invitation;
//! disabling one ends all of its sessions at once; the last enabled admin stays. Clearing
//! a sign-in lock and resetting a second factor are audited and mailed to the user.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::ids::UserId;
use ringfence_core::throttle;
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::token;
use ringfence_mail::Mail;
use ringfence_store::ThrottleKey;
use ringfence_store::firm::users::{self, NewUser, User, UserStatus};
use ringfence_store::firm::{audit as audit_log, challenges, invitations, sessions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::{AppState, audit};

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserJson {
    #[schema(format = Uuid)]
    id: String,
    email: String,
    name: Option<String>,
    #[schema(value_type = BTreeSet<crate::openapi::FirmRoleSchema>)]
    roles: BTreeSet<FirmRole>,
    /// `invited`, `active` or `disabled`.
    status: &'static str,
}

impl From<&User> for UserJson {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            name: user.name.clone(),
            roles: user.roles.clone(),
            status: match user.status {
                UserStatus::Invited => "invited",
                UserStatus::Active => "active",
                UserStatus::Disabled => "disabled",
            },
        }
    }
}

fn parse_roles(roles: &[String]) -> Result<BTreeSet<FirmRole>, ApiError> {
    let parsed = roles
        .iter()
        .map(|r| r.parse::<FirmRole>().map_err(|e| ApiError::invalid(format!("roles: {e}"))))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if parsed.is_empty() {
        return Err(ApiError::invalid("roles: give at least one role"));
    }
    Ok(parsed)
}

fn parse_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name: 1 to 200 characters, no control characters"));
    }
    Ok(name.to_owned())
}

#[derive(Deserialize)]
pub struct CreateUser {
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
}

pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let name = parse_name(&body.name)?;
    let roles = parse_roles(&body.roles)?;
    let now = state.clock.now();
    let (user, token) = state
        .storage
        .create_user(actor.firm, &email, async |id, tx| {
            let new = NewUser {
                id,
                email: &email,
                name: Some(&name),
                roles: &roles,
                status: UserStatus::Invited,
                password_hash: None,
                created_at: now,
            };
            users::insert(tx, new).await?;
            let token = invitations::create(tx, id, now).await?;
            let target = Some(("user", id.to_string()));
            let entry = audit::record(
                actor.audit_actor(),
                AuditAction::UserCreated,
                target,
                Outcome::Success,
                &client,
                now,
            );
            audit_log::append(tx, &entry).await?;
            let user = users::get(tx, id).await?;
            Ok((user, token))
        })
        .await?;
    let user = user.ok_or_else(ApiError::not_found)?;
    let link = token::scoped(&actor.firm.simple(), &token);
    let expires =
        (now + invitations::INVITATION_LIFETIME).format(&Rfc3339).map_err(|e| ApiError::internal(&e))?;
    let body = format!(
        "You have been invited to your firm's Ringfence.\n\nSet your password here (the link works once, until {expires}):\n{}/invite#{}\n",
        state.settings.public_url,
        link.as_str()
    );
    state.mailer.send(Mail { to: email.as_str(), subject: "Your Ringfence invitation", body }).await?;
    Ok((StatusCode::CREATED, Json(UserJson::from(&user))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub(crate) limit: Option<usize>,
    pub(crate) cursor: Option<String>,
}

/// Lists users by email; the cursor is the last email of the previous page.
pub async fn list(actor: Actor, ApiQuery(query): ApiQuery<ListQuery>) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 500"));
    }
    let mut tx = actor.begin_read().await?;
    let all = users::list(&mut tx).await?;
    tx.commit().await?;
    let after = query.cursor.unwrap_or_default();
    let page: Vec<&User> = all.iter().filter(|u| u.email.as_str() > after.as_str()).take(limit + 1).collect();
    let next = (page.len() > limit).then(|| page[limit - 1].email.to_string());
    let items: Vec<UserJson> = page.into_iter().take(limit).map(UserJson::from).collect();
    Ok(Json(json!({ "items": items, "next_cursor": next })))
}

fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

async fn load(actor: &Actor, id: UserId) -> Result<User, ApiError> {
    let mut tx = actor.begin_read().await?;
    let user = users::get(&mut tx, id).await?;
    tx.commit().await?;
    user.ok_or_else(ApiError::not_found)
}

pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = load(&actor, parse_user_id(&id)?).await?;
    let now = state.clock.now();
    // The longer of the locks on password and on second-factor attempts.
    let mut lock = Value::Null;
    let mut longest = time::Duration::ZERO;
    for key in [ThrottleKey::Account(user.email.as_str()), ThrottleKey::SecondFactor(user.email.as_str())] {
        let record = state.storage.sign_in_failures(key).await?;
        if let (Err(wait), Some(record)) = (throttle::ACCOUNT.check(record.as_ref(), now), record)
            && wait > longest
        {
            longest = wait;
            lock = json!({ "failures": record.failures, "retry_after_seconds": wait.whole_seconds().max(1) });
        }
    }
    Ok(Json(json!({ "user": UserJson::from(&user), "lock": lock })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) disabled: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<UserJson>, ApiError> {
    let id = parse_user_id(&id)?;
    let roles = body.roles.as_deref().map(parse_roles).transpose()?;
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    let user = users::get(&mut tx, id).await?.ok_or_else(ApiError::not_found)?;
    let mut changes: Vec<(AuditAction, String)> = Vec::new();
    if let Some(roles) = &roles {
        users::set_roles(&mut tx, id, roles).await?;
        changes.extend(
            roles.difference(&user.roles).map(|r| (AuditAction::UserRoleGranted, r.as_str().to_owned())),
        );
        changes.extend(
            user.roles.difference(roles).map(|r| (AuditAction::UserRoleRevoked, r.as_str().to_owned())),
        );
    }
    if let Some(disabled) = body.disabled {
        users::set_disabled(&mut tx, id, disabled).await?;
        if disabled {
            sessions::revoke_all(&mut tx, id, None, now).await?;
        }
        let was_disabled = user.status == UserStatus::Disabled;
        if disabled != was_disabled {
            changes.push((
                if disabled { AuditAction::UserDisabled } else { AuditAction::UserEnabled },
                String::new(),
            ));
        }
    }
    for (action, role) in &changes {
        // The role is part of the action's meaning, so it goes in the resource id.
        let target = Some(("user", if role.is_empty() { id.to_string() } else { format!("{id}#{role}") }));
        actor.record(&mut tx, &client, *action, target).await?;
    }
    // Checked inside the transaction, after the change: the firm keeps an enabled admin.
    if user.roles.contains(&FirmRole::Admin) && users::count_enabled_admins(&mut tx).await? == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_admin",
            "the firm's last enabled administrator cannot be disabled or lose the admin role",
        ));
    }
    let updated = users::get(&mut tx, id).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(UserJson::from(&updated)))
}

/// The account keys a sign-in lock can be on: password guesses, second-factor guesses.
fn lock_keys(email: &Email) -> [ThrottleKey<'_>; 3] {
    [
        ThrottleKey::Account(email.as_str()),
        ThrottleKey::SecondFactor(email.as_str()),
        ThrottleKey::CodeMails(email.as_str()),
    ]
}

/// Clears a user's sign-in lock and failure counts; the user is told by mail.
pub async fn unlock(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = load(&actor, parse_user_id(&id)?).await?;
    for key in lock_keys(&user.email) {
        state.storage.clear_sign_in_failures(key).await?;
    }
    let mut tx = actor.begin().await?;
    let target = Some(("user", user.id.to_string()));
    actor.record(&mut tx, &client, AuditAction::UserLockCleared, target).await?;
    tx.commit().await?;
    let body = format!(
        "An administrator ({}) cleared the sign-in lock on your Ringfence account, which many \
         failed attempts had set.\n\nIf you did not ask for this, tell your firm's administrator.\n",
        actor.email
    );
    state
        .mailer
        .send(Mail { to: user.email.as_str(), subject: "Ringfence: your sign-in lock was cleared", body })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resets a user's second factors, for a lost phone or key or a factor someone else set up:
/// the authenticator app and every passkey are removed, the user's sign-ins in progress and
/// sessions end (the admin's own current session excepted), and the user is told by mail.
/// The user then signs in with an emailed code, where the firm allows it, and sets up anew.
pub async fn reset_second_factor(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_user_id(&id)?;
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    let user = users::get(&mut tx, id).await?.ok_or_else(ApiError::not_found)?;
    users::clear_second_factors(&mut tx, id).await?;
    challenges::end_all(&mut tx, id, now).await?;
    let keep = (id == actor.user).then_some(actor.session.as_uuid());
    sessions::revoke_all(&mut tx, id, keep, now).await?;
    actor
        .record(&mut tx, &client, AuditAction::UserSecondFactorReset, Some(("user", id.to_string())))
        .await?;
    tx.commit().await?;
    state.storage.clear_sign_in_failures(ThrottleKey::SecondFactor(user.email.as_str())).await?;
    let body = format!(
        "An administrator ({}) removed the authenticator app and passkeys from your Ringfence \
         account. Sign in with a code mailed to you and set up a new one under Account.\n\n\
         If you did not ask for this, tell your firm's administrator now.\n",
        actor.email
    );
    state
        .mailer
        .send(Mail { to: user.email.as_str(), subject: "Ringfence: your second factor was reset", body })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
