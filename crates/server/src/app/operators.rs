//! The operator plane: the hosting provider's staff sign in with a password and an
//! authenticator code, see every firm's health in counts and sizes, create firms, and
//! suspend, resume, terminate and reinstate them. None of it reads a firm's content: an
//! operator's principal opens no firm transaction, the health is counted by the store, and
//! a new firm's invitation goes by mail to its administrator, never through the operator.
//! Every action is in the operator log, and every action on a firm in the firm's log too.

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::firm::{Firm, FirmName, FirmSlug, FirmStanding, RetentionDays};
use ringfence_core::ids::FirmId;
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::user::{Email, person_name};
use ringfence_crypto::password::Verdict;
use ringfence_crypto::token::{self, SecretToken};
use ringfence_mail::Mail;
use ringfence_store::NewFirm;
use ringfence_store::firm::invitations::INVITATION_LIFETIME;
use ringfence_store::operators::{FirmHealth, operator_entry};
use time::OffsetDateTime;

use super::termination::{self, Notices, OperatorCtx};
use super::{AppError, PublicCtx};
use crate::auth::attempts::{Attempt, Guess};
use crate::auth::operator::OperatorActor;
use crate::client::Client;
use crate::{AppState, passwords};

/// An operator's request: who, from where, on which deployment.
pub struct OperatorRequest {
    pub state: AppState,
    pub actor: OperatorActor,
    pub client: Client,
}

impl OperatorRequest {
    fn termination_ctx(&self) -> OperatorCtx<'_> {
        OperatorCtx { storage: &self.state.storage, principal: self.actor.principal(), now: self.actor.at }
    }
}

/// A session just opened: the token is the credential, shown to no one but its holder.
pub struct OperatorSignedIn {
    pub token: SecretToken,
    pub name: String,
}

/// Signs an operator in with password and authenticator code together. Every failure
/// answers alike, is counted against the account and the source address before anything
/// is checked, and is in the operator log; a code is taken once.
pub async fn sign_in(
    ctx: &PublicCtx,
    email: &str,
    password: &str,
    code: &str,
) -> Result<OperatorSignedIn, AppError> {
    let PublicCtx { state, client, now } = ctx;
    let email = Email::parse(email).ok();
    let attempt = Attempt::reserve(state, Guess::Operator, email.as_ref(), client, *now).await?;
    let account = match &email {
        Some(email) => state.storage.operator_for_sign_in(email).await?,
        None => None,
    };
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let verdict = passwords::verify(state, password, stored).await?;
    let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let proven = match (&account, verdict) {
        (Some(account), Verdict::Match { .. }) => match state.storage.operator_totp(account) {
            Ok(totp) => match totp.matching_step(code.trim(), unix).map_err(AppError::internal)? {
                Some(step) => state.storage.take_operator_step(account.id, step).await?,
                None => false,
            },
            // Refused as any failure (a master key rotated but not yet restarted with,
            // a damaged row): the answer tells no one the account exists.
            Err(e) => {
                tracing::error!(error = %crate::error::ErrorChain(&e), "an operator's authenticator secret does not open");
                false
            }
        },
        _ => false,
    };
    // A failure names the account it was against, when there is one (never a typed address).
    let target = account.as_ref().map(|a| ("operator", a.id.to_string()));
    let Some(account) = account.filter(|_| proven) else {
        let entry = operator_entry(
            &ringfence_core::principal::Principal::Anonymous,
            AuditAction::OperatorSignInFailed,
            target,
            Outcome::Failure,
            client.origin(),
            *now,
        );
        state.storage.append_operator_audit(&entry).await?;
        return Err(AppError::Unauthenticated {
            code: "sign_in_failed",
            reason: "the address, password or authenticator code is wrong".to_owned(),
        });
    };
    attempt.release(state).await?;
    let token = SecretToken::generate().map_err(AppError::internal)?;
    let operator = ringfence_core::principal::Operator { id: account.id, email: account.email };
    let principal = ringfence_core::principal::Principal::Operator(operator);
    state.storage.open_operator_session(&principal, account.id, &token.hash(), client.origin(), *now).await?;
    Ok(OperatorSignedIn { token, name: account.name })
}

/// Ends the operator's session.
pub async fn sign_out(req: &OperatorRequest) -> Result<(), AppError> {
    let storage = &req.state.storage;
    storage
        .end_operator_session(&req.actor.principal(), &req.actor.session, req.client.origin(), req.actor.at)
        .await?;
    Ok(())
}

/// One firm as the operator sees it.
pub struct FirmOverview {
    pub firm: Firm,
    pub standing: FirmStanding,
    pub health: FirmHealth,
}

/// Every firm, with its standing and health; the viewing is in the operator log.
pub async fn firms(req: &OperatorRequest) -> Result<Vec<FirmOverview>, AppError> {
    let storage = &req.state.storage;
    let mut overview = Vec::new();
    for firm in storage.list_firms().await? {
        let standing = storage.firm_standing(firm.id).await?;
        let health = storage.firm_health(firm.id).await?;
        overview.push(FirmOverview { firm, standing, health });
    }
    let entry = operator_entry(
        &req.actor.principal(),
        AuditAction::OperatorFirmsViewed,
        None,
        Outcome::Success,
        req.client.origin(),
        req.actor.at,
    );
    storage.append_operator_audit(&entry).await?;
    Ok(overview)
}

/// A firm to create, as the operator gives it.
pub struct NewFirmInput {
    pub name: String,
    pub slug: String,
    pub admin_email: String,
    pub admin_name: String,
}

/// Creates a firm and mails its first administrator the invitation: the operator never
/// holds the link, so cannot take the administrator's place.
pub async fn create_firm(req: &OperatorRequest, input: &NewFirmInput) -> Result<Firm, AppError> {
    let name = FirmName::parse(&input.name).map_err(|e| AppError::invalid("name", e.to_string()))?;
    let slug = FirmSlug::parse(&input.slug).map_err(|e| AppError::invalid("slug", e.to_string()))?;
    let admin_email =
        Email::parse(&input.admin_email).map_err(|e| AppError::invalid("admin_email", e.to_string()))?;
    let admin_name =
        person_name(&input.admin_name).map_err(|e| AppError::invalid("admin_name", e.to_string()))?;
    let storage = &req.state.storage;
    let new = NewFirm {
        slug,
        name,
        admin_email: admin_email.clone(),
        admin_name: Some(&admin_name),
        admin_password_hash: None,
    };
    let created = storage.create_firm_by(new, &req.actor.principal(), req.actor.at).await?;
    if let Some(invitation) = &created.invitation {
        mail_invitation(&req.state, &created.firm, &admin_email, &admin_name, invitation, req.actor.at)
            .await?;
    }
    Ok(created.firm)
}

async fn mail_invitation(
    state: &AppState,
    firm: &Firm,
    to: &Email,
    name: &str,
    invitation: &SecretToken,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let link = token::scoped(&firm.id.simple(), invitation);
    let firm_name = firm.name.as_str();
    let subject = format!("{firm_name} is ready on Ringfence");
    let body = format!(
        "Dear {name},\n\n{firm_name}'s Ringfence is ready, and you are its first administrator.\n\n\
         Set your password with this link. It works once, until {expires}:\n\n{url}/invite#{link}\n\n\
         Then sign in at {url} with {to}, and invite your colleagues. If you did not expect this, ignore it.\n",
        // A new firm's clock is UTC until its administrator sets its time zone.
        expires = FirmTimeZone::utc().in_words(now + INVITATION_LIFETIME),
        url = state.settings.public_url,
        link = link.as_str(),
    );
    state.mailer.send(Mail { to: to.as_str(), to_name: Some(name), subject: &subject, body }).await?;
    Ok(())
}

async fn firm(req: &OperatorRequest, id: FirmId) -> Result<Firm, AppError> {
    match req.state.storage.firm_by_id(id).await {
        Err(ringfence_store::StoreError::UnknownFirm(_)) => Err(AppError::NotFound),
        found => Ok(found?),
    }
}

/// A store's refusal of a state change the firm's standing does not allow, as a conflict.
fn refusal(error: ringfence_store::StoreError) -> AppError {
    use ringfence_store::StoreError;
    let code = match &error {
        StoreError::AlreadyTerminated { .. } => "already_terminated",
        StoreError::NotSuspended => "not_suspended",
        StoreError::AlreadySuspended { .. } => "already_suspended",
        _ => return error.into(),
    };
    AppError::conflict(code, error.to_string())
}

/// Suspends the firm and tells its administrators.
pub async fn suspend(req: &OperatorRequest, id: FirmId) -> Result<Notices, AppError> {
    let firm = firm(req, id).await?;
    let storage = &req.state.storage;
    storage
        .suspend_firm(id, &req.actor.principal(), req.client.origin(), req.actor.at)
        .await
        .map_err(refusal)?;
    let body = format!(
        "The Ringfence service of {} was suspended by your hosting provider on {} (UTC). Nobody can \
         sign in until it is resumed; nothing of the firm's data is changed or removed.\n\n\
         Ask your provider why, and when it will be resumed.\n",
        firm.name.as_str(),
        req.actor.at.date(),
    );
    let ctx = req.termination_ctx();
    termination::tell_admins(
        &ctx,
        &req.state.mailer,
        &firm,
        "Ringfence: your firm's service is suspended",
        &body,
    )
    .await
}

/// Resumes the suspended firm and tells its administrators.
pub async fn resume(req: &OperatorRequest, id: FirmId) -> Result<Notices, AppError> {
    let firm = firm(req, id).await?;
    let storage = &req.state.storage;
    storage
        .resume_firm(id, &req.actor.principal(), req.client.origin(), req.actor.at)
        .await
        .map_err(refusal)?;
    let body = format!(
        "The Ringfence service of {} was resumed on {} (UTC): its people can sign in and work as before.\n",
        firm.name.as_str(),
        req.actor.at.date(),
    );
    let ctx = req.termination_ctx();
    termination::tell_admins(
        &ctx,
        &req.state.mailer,
        &firm,
        "Ringfence: your firm is in service again",
        &body,
    )
    .await
}

/// Terminates the firm (see `termination::terminate`), shredded after `retain_days`.
pub async fn terminate(req: &OperatorRequest, id: FirmId, retain_days: i64) -> Result<Notices, AppError> {
    let retain =
        RetentionDays::parse(retain_days).map_err(|e| AppError::invalid("retain_days", e.to_string()))?;
    let firm = firm(req, id).await?;
    let done = termination::terminate(&req.termination_ctx(), &req.state.mailer, &firm.slug, retain).await?;
    Ok(done.notices)
}

/// Reinstates the terminated firm (see `termination::reinstate`).
pub async fn reinstate(req: &OperatorRequest, id: FirmId) -> Result<Notices, AppError> {
    let firm = firm(req, id).await?;
    let done = termination::reinstate(&req.termination_ctx(), &req.state.mailer, &firm.slug).await?;
    Ok(done.notices)
}

/// The operator log's newest entries, newest first.
pub async fn log(
    req: &OperatorRequest,
    limit: i64,
) -> Result<Vec<ringfence_core::audit::StoredAuditEntry>, AppError> {
    Ok(req.state.storage.operator_log(limit).await?)
}

/// How an entry names its actor, for the operator pages.
pub fn actor_words(kind: &str, email: Option<&str>) -> String {
    match (kind, email) {
        (_, Some(email)) => email.to_owned(),
        ("cli", None) => "the command line".to_owned(),
        ("anonymous", None) => "someone not signed in".to_owned(),
        (kind, None) => kind.to_owned(),
    }
}
