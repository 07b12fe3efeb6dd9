//! Firm users, managed by the firm's administrators. Creating a user mails an invitation;
//! disabling one ends all of its sessions at once; the last enabled admin stays. Clearing
//! a sign-in lock and resetting a second factor are audited and mailed to the user.

use std::collections::BTreeSet;

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::Outcome;
use ringfence_core::ids::UserId;
use ringfence_core::throttle;
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::token;
use ringfence_mail::Mail;
use ringfence_store::firm::users::{self, NewUser, User, UserStatus};
use ringfence_store::firm::{
    audit as audit_log, challenges, decoys, invitations, password_resets, preferences, sessions,
};
use ringfence_store::{FirmTx, ThrottleKey};
use serde::{Deserialize, Serialize};

use super::sign_in::recovery;
use super::{AppError, Ctx};
use crate::{AppState, audit};

const STATUSES: [UserStatus; 3] = [UserStatus::Invited, UserStatus::Active, UserStatus::Disabled];

fn status_name(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Invited => "invited",
        UserStatus::Active => "active",
        UserStatus::Disabled => "disabled",
    }
}

/// A firm user as administrators (and the user itself) see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    #[schema(format = Uuid)]
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    #[schema(value_type = BTreeSet<crate::openapi::FirmRoleSchema>)]
    pub roles: BTreeSet<FirmRole>,
    /// `invited`, `active` or `disabled`.
    pub status: &'static str,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            name: user.name.clone(),
            roles: user.roles.clone(),
            status: status_name(user.status),
        }
    }
}

fn parse_roles(roles: &[String]) -> Result<BTreeSet<FirmRole>, AppError> {
    let parsed = roles
        .iter()
        .map(|r| r.parse::<FirmRole>().map_err(|e| AppError::invalid("roles", e.to_string())))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if parsed.is_empty() {
        return Err(AppError::invalid("roles", "give at least one role"));
    }
    Ok(parsed)
}

pub(crate) fn parse_name(name: &str) -> Result<String, AppError> {
    ringfence_core::user::person_name(name).map_err(|e| AppError::invalid("name", e.to_string()))
}

/// A user to invite.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUserInput {
    pub email: String,
    /// 1 to 200 characters.
    pub name: String,
    /// At least one.
    #[schema(value_type = Vec<crate::openapi::FirmRoleSchema>)]
    pub roles: Vec<String>,
}

/// What an invitation mail needs from the transaction that makes it.
struct Invited {
    token: token::SecretToken,
    zone: ringfence_core::local_time::FirmTimeZone,
}

/// Creates a user, invited: the invitation is mailed with a link that works once.
pub async fn create(ctx: &Ctx, state: &AppState, input: NewUserInput) -> Result<UserView, AppError> {
    let email = Email::parse(&input.email).map_err(|e| AppError::invalid("email", e.to_string()))?;
    let name = parse_name(&input.name)?;
    let roles = parse_roles(&input.roles)?;
    let now = ctx.now();
    let (user, invited) = state
        .storage
        .create_user(ctx.actor.firm, &ctx.actor.principal(), &email, async |id, tx| {
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
            let zone = preferences::time_zone(tx).await?;
            let target = Some(("user", id.to_string()));
            let entry = audit::record(
                ctx.actor.audit_actor(),
                AuditAction::UserCreated,
                target,
                Outcome::Success,
                &ctx.client,
                now,
            );
            audit_log::append(tx, &entry).await?;
            let user = users::get(tx, id).await?;
            Ok((user, Invited { token, zone }))
        })
        .await?;
    let user = user.ok_or(AppError::NotFound)?;
    mail_invitation(ctx, state, &user, &invited, now).await?;
    Ok(UserView::from(&user))
}

/// Mails a user's invitation: who invites them to which firm, and the link, once.
async fn mail_invitation(
    ctx: &Ctx,
    state: &AppState,
    user: &User,
    invited: &Invited,
    now: time::OffsetDateTime,
) -> Result<(), AppError> {
    let firm = ctx.actor.firm_name.as_str();
    let inviter = ctx.actor.display_name();
    let name = user.display_name();
    let link = token::scoped(&ctx.actor.firm.simple(), &invited.token);
    let subject = format!("{inviter} invited you to {firm} on Ringfence");
    let body = format!(
        "Dear {name},\n\n{inviter} has invited you to {firm}'s Ringfence, where the firm keeps its matters, documents and notes.\n\nSet your password with this link. It works once, until {expires}:\n\n{url}/invite#{link}\n\nThen sign in at {url} with {email}. If you did not expect this invitation, ignore it.\n",
        expires = invited.zone.in_words(now + invitations::INVITATION_LIFETIME),
        url = state.settings.public_url,
        link = link.as_str(),
        email = user.email,
    );
    let to = Mail { to: user.email.as_str(), to_name: user.name.as_deref(), subject: &subject, body };
    state.mailer.send(to).await?;
    Ok(())
}

/// Sends an invited user a new invitation: the links sent before stop working. Only for a
/// user who has not yet accepted one (a disabled user is enabled first).
pub async fn resend_invitation(ctx: &Ctx, state: &AppState, id: UserId) -> Result<(), AppError> {
    let (mut tx, user) = ending_invitations(ctx, id).await?;
    let token = invitations::create(&mut tx, id, ctx.now()).await?;
    let zone = preferences::time_zone(&mut tx).await?;
    ctx.record(&mut tx, AuditAction::UserInvitationResent, Some(("user", id.to_string()))).await?;
    tx.commit().await?;
    mail_invitation(ctx, state, &user, &Invited { token, zone }, ctx.now()).await
}

/// Withdraws an invitation not yet accepted: every link sent stops working and the account
/// is disabled (enabling it and sending a new invitation brings the person back).
pub async fn revoke_invitation(ctx: &Ctx, id: UserId) -> Result<(), AppError> {
    let (mut tx, _) = ending_invitations(ctx, id).await?;
    users::set_disabled(&mut tx, id, true).await?;
    ctx.record(&mut tx, AuditAction::UserInvitationRevoked, Some(("user", id.to_string()))).await?;
    ctx.record(&mut tx, AuditAction::UserDisabled, Some(("user", id.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Begins a change to the invitation of a user who has not accepted one yet: every link
/// sent so far ends in it. The links are ended first, which waits for an acceptance under
/// way (it holds them) and stops any later one; only then is the user's state read, so an
/// invitation accepted meanwhile is seen as accepted.
async fn ending_invitations(ctx: &Ctx, id: UserId) -> Result<(FirmTx, User), AppError> {
    let mut tx = ctx.actor.begin().await?;
    invitations::end_live(&mut tx, id, ctx.now()).await?;
    let user = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if user.status != UserStatus::Invited {
        return Err(not_invited(&user));
    }
    Ok((tx, user))
}

fn not_invited(user: &User) -> AppError {
    let why = match user.status {
        UserStatus::Active => "has already accepted the invitation and set a password",
        UserStatus::Disabled => "is disabled; enable the account first",
        UserStatus::Invited => "is invited",
    };
    AppError::conflict("not_invited", format!("{} {why}", user.display_name()))
}

/// Which users to list, as asked: a page after a cursor, optionally one role or status.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// 1 to 500; 50 when not given.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only users holding this role.
    #[param(value_type = Option<crate::openapi::FirmRoleSchema>)]
    pub role: Option<String>,
    /// Only users in this state: `invited`, `active` or `disabled`.
    pub status: Option<String>,
}

/// A page of users, by email.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
    /// The cursor for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Lists users by email; the cursor is the last email of the previous page.
pub async fn list(ctx: &Ctx, query: UserListQuery) -> Result<UserList, AppError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 500"));
    }
    let role = query
        .role
        .as_deref()
        .map(|r| r.parse::<FirmRole>().map_err(|e| AppError::invalid("role", e.to_string())))
        .transpose()?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            STATUSES
                .into_iter()
                .find(|status| status_name(*status) == s)
                .ok_or_else(|| AppError::invalid("status", "one of invited, active, disabled"))
        })
        .transpose()?;
    let mut tx = ctx.actor.begin_read().await?;
    let all = users::list(&mut tx).await?;
    tx.commit().await?;
    let after = query.cursor.unwrap_or_default();
    let page: Vec<&User> = all
        .iter()
        .filter(|u| u.email.as_str() > after.as_str())
        .filter(|u| role.is_none_or(|role| u.roles.contains(&role)))
        .filter(|u| status.is_none_or(|status| u.status == status))
        .take(limit + 1)
        .collect();
    let next_cursor = (page.len() > limit).then(|| page[limit - 1].email.to_string());
    Ok(UserList { items: page.into_iter().take(limit).map(UserView::from).collect(), next_cursor })
}

async fn load(ctx: &Ctx, id: UserId) -> Result<User, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let user = users::get(&mut tx, id).await?;
    tx.commit().await?;
    user.ok_or(AppError::NotFound)
}

/// A sign-in lock on a user's account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignInLock {
    pub failures: i64,
    pub retry_after_seconds: i64,
}

/// A user with the sign-in lock on its account, if any.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserWithLock {
    pub user: UserView,
    /// The longer of the locks on password and on second-factor attempts; null when none.
    pub lock: Option<SignInLock>,
}

/// One user, with the longer of the locks on its password and second-factor attempts.
pub async fn get(ctx: &Ctx, state: &AppState, id: UserId) -> Result<UserWithLock, AppError> {
    let user = load(ctx, id).await?;
    let mut lock = None;
    let mut longest = time::Duration::ZERO;
    for key in [ThrottleKey::Account(user.email.as_str()), ThrottleKey::SecondFactor(user.email.as_str())] {
        let record = state.storage.sign_in_failures(key).await?;
        if let (Err(wait), Some(record)) = (throttle::ACCOUNT.check(record.as_ref(), ctx.now()), record)
            && wait > longest
        {
            longest = wait;
            lock = Some(SignInLock {
                failures: record.failures,
                retry_after_seconds: wait.whole_seconds().max(1),
            });
        }
    }
    Ok(UserWithLock { user: UserView::from(&user), lock })
}

/// A change to a user: its roles, or whether it is disabled.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    /// The user's roles from now on; at least one.
    #[schema(value_type = Option<Vec<crate::openapi::FirmRoleSchema>>)]
    pub roles: Option<Vec<String>>,
    /// Disabling a user ends all of its sessions.
    pub disabled: Option<bool>,
}

/// Changes a user's roles or disables it; the firm keeps an enabled administrator.
pub async fn update(ctx: &Ctx, id: UserId, changes: UserChanges) -> Result<UserView, AppError> {
    let roles = changes.roles.as_deref().map(parse_roles).transpose()?;
    // Disabling one's own account would end the session making the change, and leave the
    // firm to find out why: another administrator does it.
    if id == ctx.actor.user && changes.disabled == Some(true) {
        return Err(AppError::conflict(
            "own_account",
            "you cannot disable your own account; another administrator can",
        ));
    }
    let mut tx = ctx.actor.begin().await?;
    let user = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let mut recorded: Vec<(AuditAction, String)> = Vec::new();
    if let Some(roles) = &roles {
        users::set_roles(&mut tx, id, roles).await?;
        recorded.extend(
            roles.difference(&user.roles).map(|r| (AuditAction::UserRoleGranted, r.as_str().to_owned())),
        );
        recorded.extend(
            user.roles.difference(roles).map(|r| (AuditAction::UserRoleRevoked, r.as_str().to_owned())),
        );
    }
    if let Some(disabled) = changes.disabled {
        if disabled {
            // A link already mailed must not bring a disabled account back. Its rows are
            // locked before the user's, in the order accepting an invitation takes them.
            invitations::end_live(&mut tx, id, ctx.now()).await?;
        }
        users::set_disabled(&mut tx, id, disabled).await?;
        if disabled {
            sessions::revoke_all(&mut tx, id, None, ctx.now()).await?;
            password_resets::end_open(&mut tx, id, ctx.now()).await?;
        }
        let was_disabled = user.status == UserStatus::Disabled;
        if disabled != was_disabled {
            recorded.push((
                if disabled { AuditAction::UserDisabled } else { AuditAction::UserEnabled },
                String::new(),
            ));
        }
    }
    for (action, role) in recorded {
        // The role is part of the action's meaning, so it goes in the resource id.
        let target = Some(("user", if role.is_empty() { id.to_string() } else { format!("{id}#{role}") }));
        ctx.record(&mut tx, action, target).await?;
    }
    // Checked inside the transaction, after the change: the firm keeps an enabled admin.
    if user.roles.contains(&FirmRole::Admin) && users::count_enabled_admins(&mut tx).await? == 0 {
        return Err(AppError::conflict(
            "last_admin",
            "the firm's last enabled administrator cannot be disabled or lose the admin role",
        ));
    }
    let updated = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(UserView::from(&updated))
}

/// The account keys a sign-in lock can be on: password guesses, second-factor guesses,
/// codes mailed, and second factors given to reset links.
fn lock_keys(email: &Email) -> [ThrottleKey<'_>; 4] {
    [
        ThrottleKey::Account(email.as_str()),
        ThrottleKey::SecondFactor(email.as_str()),
        ThrottleKey::CodeMails(email.as_str()),
        ThrottleKey::ResetFactors(email.as_str()),
    ]
}

/// Refuses what would make a decoy an account someone can sign in with (a reset link, a
/// lock cleared, its second factors reset): 409 `decoy`, and on the record, where the watcher
/// finds the touch.
async fn refuse_for_decoy(ctx: &Ctx, id: UserId) -> Result<(), AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let decoy = decoys::tripwire_set(&mut tx).await?.contains(&id.to_string());
    tx.commit().await?;
    if !decoy {
        return Ok(());
    }
    let entry = audit::record(
        ctx.actor.audit_actor(),
        AuditAction::RequestRefused,
        Some(("user", id.to_string())),
        Outcome::Denied,
        &ctx.client,
        ctx.now(),
    );
    ctx.actor.store.append_audit(entry).await?;
    Err(AppError::conflict("decoy", "this account is a decoy: nobody is ever to sign in with it"))
}

/// Clears a user's sign-in lock and failure counts; the user is told by mail.
pub async fn unlock(ctx: &Ctx, state: &AppState, id: UserId) -> Result<(), AppError> {
    refuse_for_decoy(ctx, id).await?;
    let user = load(ctx, id).await?;
    for key in lock_keys(&user.email) {
        state.storage.clear_sign_in_failures(key).await?;
    }
    let mut tx = ctx.actor.begin().await?;
    ctx.record(&mut tx, AuditAction::UserLockCleared, Some(("user", user.id.to_string()))).await?;
    tx.commit().await?;
    let body = format!(
        "Dear {},\n\nAn administrator ({}) cleared the sign-in lock on your Ringfence account, which \
         many failed attempts had set.\n\nIf you did not ask for this, tell your firm's administrator.\n",
        user.display_name(),
        ctx.actor.display_name()
    );
    state
        .mailer
        .send(Mail {
            to: user.email.as_str(),
            to_name: user.name.as_deref(),
            subject: "Ringfence: your sign-in lock was cleared",
            body,
        })
        .await?;
    Ok(())
}

/// Resets a user's second factors, for a lost phone or key or a factor someone else set up:
/// the authenticator app and every passkey are removed, the user's sign-ins in progress and
/// sessions end (the admin's own current session excepted), and the user is told by mail.
/// The user then signs in with an emailed code, where the firm allows it, and sets up anew.
pub async fn reset_second_factor(ctx: &Ctx, state: &AppState, id: UserId) -> Result<(), AppError> {
    refuse_for_decoy(ctx, id).await?;
    let now = ctx.now();
    let mut tx = ctx.actor.begin().await?;
    let user = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    users::clear_second_factors(&mut tx, id).await?;
    challenges::end_all(&mut tx, id, now).await?;
    // A link sent while the account had an authenticator would need none from now on.
    password_resets::end_open(&mut tx, id, now).await?;
    let keep = (id == ctx.actor.user).then_some(ctx.actor.session.as_uuid());
    sessions::revoke_all(&mut tx, id, keep, now).await?;
    ctx.record(&mut tx, AuditAction::UserSecondFactorReset, Some(("user", id.to_string()))).await?;
    tx.commit().await?;
    state.storage.clear_sign_in_failures(ThrottleKey::SecondFactor(user.email.as_str())).await?;
    let body = format!(
        "Dear {},\n\nAn administrator ({}) removed the authenticator app and passkeys from your Ringfence \
         account. Sign in with a code mailed to you and set up a new one under Account.\n\n\
         If you did not ask for this, tell your firm's administrator now.\n",
        user.display_name(),
        ctx.actor.display_name()
    );
    state
        .mailer
        .send(Mail {
            to: user.email.as_str(),
            to_name: user.name.as_deref(),
            subject: "Ringfence: your second factor was reset",
            body,
        })
        .await?;
    Ok(())
}

/// Sends an active user a link to set a new password: how an account with no
/// authenticator app or passkey gets back in, since it cannot reset its own. The link still
/// asks for any such factor the account holds, so an administrator cannot take over an
/// account with one. Earlier links stop working; the password stays until the link is used.
/// Not for one's own account (changed under Account), nor an invited or disabled user.
pub async fn send_password_reset(ctx: &Ctx, state: &AppState, id: UserId) -> Result<(), AppError> {
    if id == ctx.actor.user {
        return Err(AppError::conflict("own_account", "change your own password on your account page"));
    }
    refuse_for_decoy(ctx, id).await?;
    let now = ctx.now();
    let mut tx = ctx.actor.begin().await?;
    let user = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let why = match user.status {
        UserStatus::Active => None,
        UserStatus::Invited => Some("has not accepted the invitation yet; send the invitation again instead"),
        UserStatus::Disabled => Some("is disabled; enable the account first"),
    };
    if let Some(why) = why {
        return Err(AppError::conflict("not_active", format!("{} {why}", user.display_name())));
    }
    let held = users::credentials_by_email(&mut tx, &user.email).await?.ok_or(AppError::NotFound)?.enrolled;
    let token =
        password_resets::create(&mut tx, id, Some(ctx.actor.user), now, password_resets::SENT_LIFETIME)
            .await?;
    let zone = preferences::time_zone(&mut tx).await?;
    ctx.record(&mut tx, AuditAction::UserPasswordResetSent, Some(("user", id.to_string()))).await?;
    tx.commit().await?;
    let (firm, admin) = (ctx.actor.firm_name.as_str(), ctx.actor.display_name());
    let body = format!(
        "Dear {name},\n\n{admin}, an administrator of {firm}'s Ringfence, sent you this link to set a new password. It works once, until {expires}{asks}:\n\n{url}/reset#{link}\n\nThen sign in at {url} with {email}. If you did not ask for this, tell {admin}: your password stays as it is until the link is used.\n",
        name = user.display_name(),
        expires = zone.in_words(now + password_resets::SENT_LIFETIME),
        asks =
            recovery::factor_words(held).map(|factor| format!(", and asks for {factor}")).unwrap_or_default(),
        url = state.settings.public_url,
        link = token::scoped(&ctx.actor.firm.simple(), &token).as_str(),
        email = user.email,
    );
    let subject = format!("{admin} sent you a link to reset your Ringfence password");
    let mail = Mail { to: user.email.as_str(), to_name: user.name.as_deref(), subject: &subject, body };
    state.mailer.send(mail).await?;
    Ok(())
}

/// The ids of the active users who sign in with emailed codes alone (no authenticator app,
/// no passkey): whom a sign-in policy without emailed codes would keep out.
pub async fn relying_on_emailed_codes(ctx: &Ctx) -> Result<Vec<String>, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let ids = users::relying_on_emailed_codes(&mut tx).await?;
    tx.commit().await?;
    Ok(ids.iter().map(ToString::to_string).collect())
}

/// The firm user with this email address. An unknown address gives a user that does not
/// exist: the matter check still comes first, so the answer tells nothing to someone who
/// may not manage the matter.
pub async fn named(ctx: &Ctx, email: &str) -> Result<UserId, AppError> {
    let email = Email::parse(email).map_err(|e| AppError::invalid("email", e.to_string()))?;
    let mut tx = ctx.actor.begin_read().await?;
    let user = users::credentials_by_email(&mut tx, &email).await?;
    tx.commit().await?;
    Ok(user.map_or_else(|| UserId::from(uuid::Uuid::nil()), |u| u.id))
}
