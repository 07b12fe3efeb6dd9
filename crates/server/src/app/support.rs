//! Support grants: an operator asks one firm for access, naming the reason, the scope (the
//! firm's settings and users, or reading named matters; never sign-in secrets) and at most
//! four hours; one of the firm's administrators approves or refuses it, told first of any
//! wall or legal hold on a matter it names; the operator then reads the firm's pages within
//! the scope, every page saying so and every read in both logs, until an administrator
//! ends it or it runs out.

use std::collections::BTreeSet;

use ringfence_core::ids::{FirmId, MatterId, SupportGrantId};
use ringfence_core::principal::SupportScope;
use ringfence_crypto::token::SecretToken;
use ringfence_store::StoreError;
use ringfence_store::control::support_grants::SupportGrant;
use ringfence_store::operators::GrantRequest;

use super::operators::OperatorRequest;
use super::termination::{self, OperatorCtx};
use super::{AppError, Ctx};
use crate::AppState;

/// The longest a grant runs.
pub const MAX_GRANT_MINUTES: i64 = 240;
/// The most matters one grant names.
const MAX_GRANT_MATTERS: usize = 20;

/// A request as the operator's form gives it.
pub struct GrantInput {
    pub reason: String,
    /// `settings` or `matters`.
    pub scope: String,
    /// Matter ids, separated by commas, spaces or lines.
    pub matters: String,
    pub minutes: String,
    /// For a security or infrastructure incident: approved by a second operator.
    pub emergency: bool,
}

fn parse(input: &GrantInput) -> Result<(String, SupportScope, i64), AppError> {
    let reason = input.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > 500
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::invalid("reason", "say why, in 1 to 500 characters"));
    }
    let minutes =
        input.minutes.trim().parse::<i64>().ok().filter(|m| (1..=MAX_GRANT_MINUTES).contains(m)).ok_or_else(
            || AppError::invalid("minutes", format!("a whole number of minutes, 1 to {MAX_GRANT_MINUTES}")),
        )?;
    let scope = match input.scope.as_str() {
        "settings" => SupportScope::Settings,
        "matters" => {
            let ids = input
                .matters
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .map(|part| {
                    ringfence_core::ids::parse_id(part)
                        .map(MatterId::from)
                        .ok_or_else(|| AppError::invalid("matters", "give each matter by its id"))
                })
                .collect::<Result<BTreeSet<_>, _>>()?;
            if ids.is_empty() || ids.len() > MAX_GRANT_MATTERS {
                return Err(AppError::invalid("matters", format!("name 1 to {MAX_GRANT_MATTERS} matters")));
            }
            SupportScope::Matters(ids)
        }
        _ => return Err(AppError::invalid("scope", "settings, or matters")),
    };
    Ok((reason.to_owned(), scope, minutes))
}

/// The scope in words, for mails and pages.
pub fn scope_words(scope: &SupportScope) -> String {
    match scope {
        SupportScope::Settings => "reading the firm's settings and its users".to_owned(),
        SupportScope::Matters(ids) if ids.len() == 1 => {
            "reading one matter, its documents and notes".to_owned()
        }
        SupportScope::Matters(ids) => format!("reading {} matters, their documents and notes", ids.len()),
    }
}

fn refusal(error: StoreError) -> AppError {
    match error {
        StoreError::UnknownGrant => AppError::NotFound,
        StoreError::UnknownMatter(id) => AppError::invalid("matters", format!("the firm has no matter {id}")),
        StoreError::GrantNotWaiting | StoreError::GrantNotLive => {
            AppError::conflict("grant_not_open", error.to_string())
        }
        StoreError::FirmNotInService => AppError::conflict("firm_not_in_service", error.to_string()),
        StoreError::TooManyWaitingGrants => AppError::conflict("too_many_waiting", error.to_string()),
        other => other.into(),
    }
}

/// Asks the firm for support access, and mails its administrators to decide.
pub async fn request(
    req: &OperatorRequest,
    firm: FirmId,
    input: &GrantInput,
) -> Result<SupportGrantId, AppError> {
    let (reason, scope, minutes) = parse(input)?;
    let storage = &req.state.storage;
    let found = storage.firm_by_id(firm).await.map_err(|_| AppError::NotFound)?;
    let asked = GrantRequest { firm, reason: &reason, scope: &scope, minutes, emergency: input.emergency };
    let id = storage
        .request_support(asked, &req.actor.operator, req.client.origin(), req.actor.at)
        .await
        .map_err(refusal)?;
    // An emergency is the operators' to approve: the firm is told when access begins.
    if input.emergency {
        return Ok(id);
    }
    let body = format!(
        "{name} of your hosting provider asks for support access to {firm}: {scope}, for {minutes} minutes \
         from your approval.\n\nTheir reason: {reason}\n\nNothing is opened until one of the firm's \
         administrators approves it, at {url}/admin/support, where you can also refuse it, or end it at any \
         time. Everything they open is in the firm's audit log.\n",
        name = req.actor.name,
        firm = found.name.as_str(),
        scope = scope_words(&scope),
        url = req.state.settings.public_url,
    );
    let ctx = OperatorCtx { storage, principal: req.actor.principal(), now: req.actor.at };
    termination::tell_admins(
        &ctx,
        &req.state.mailer,
        &found,
        "Ringfence: your hosting provider asks for support access",
        &body,
    )
    .await?;
    Ok(id)
}

/// A second operator approves an emergency request; the firm's administrators are
/// mailed at once, with the reason, and its audit log shows it until one acknowledges it.
pub async fn approve_emergency(req: &OperatorRequest, id: SupportGrantId) -> Result<(), AppError> {
    let storage = &req.state.storage;
    let grant = storage
        .approve_emergency(id, &req.actor.operator, req.client.origin(), req.actor.at)
        .await
        .map_err(|e| match e {
        StoreError::SameOperator => AppError::conflict("same_operator", e.to_string()),
        other => refusal(other),
    })?;
    let firm = storage.firm_by_id(grant.firm).await?;
    let until = grant
        .ends_at
        .map(|t| ringfence_core::local_time::FirmTimeZone::utc().in_words(t))
        .unwrap_or_default();
    let body = format!(
        "EMERGENCY ACCESS to {firm} began on {now} (UTC), for a security or infrastructure incident.\n\n\
         {asker} <{email}> of your hosting provider asked for it, and a second operator, {second}, approved it: \
         {scope}, until {until} (UTC).\n\nTheir reason: {reason}\n\nIt is shown at the top of the firm's \
         audit log, {url}/audit, until an administrator acknowledges it; you can end it at once at \
         {url}/admin/support. Everything they open is in the firm's audit log.\n",
        firm = firm.name.as_str(),
        now = ringfence_core::local_time::FirmTimeZone::utc().in_words(req.actor.at),
        asker = grant.operator_name,
        email = grant.operator_email,
        second = req.actor.name,
        scope = scope_words(&grant.scope),
        reason = grant.reason,
        url = req.state.settings.public_url,
    );
    let ctx = OperatorCtx { storage, principal: req.actor.principal(), now: req.actor.at };
    termination::tell_admins(
        &ctx,
        &req.state.mailer,
        &firm,
        "Ringfence: EMERGENCY access to your firm",
        &body,
    )
    .await?;
    Ok(())
}

/// Emergency requests of every firm waiting for a second operator.
pub async fn waiting_emergencies(req: &OperatorRequest) -> Result<Vec<SupportGrant>, AppError> {
    Ok(req.state.storage.waiting_emergencies().await?)
}

/// The firm's emergency grants no administrator has acknowledged yet.
pub async fn unacknowledged(ctx: &Ctx, state: &AppState) -> Result<Vec<SupportGrant>, AppError> {
    Ok(state.storage.unacknowledged_emergencies(ctx.actor.firm).await?)
}

/// An administrator acknowledges the firm's emergency grant.
pub async fn acknowledge(ctx: &Ctx, state: &AppState, id: SupportGrantId) -> Result<(), AppError> {
    state
        .storage
        .acknowledge_emergency(ctx.actor.firm, id, &ctx.actor.principal(), ctx.client.origin(), ctx.actor.at)
        .await
        .map_err(refusal)
}

/// The grants the operator asked for.
pub async fn of_operator(req: &OperatorRequest) -> Result<Vec<SupportGrant>, AppError> {
    Ok(req.state.storage.support_grants_of_operator(req.actor.operator.id).await?)
}

/// Opens a support session for the operator under its live grant: the token for the
/// support cookie, and the page to begin on.
pub async fn enter(req: &OperatorRequest, id: SupportGrantId) -> Result<(SecretToken, String), AppError> {
    let token = SecretToken::generate().map_err(AppError::internal)?;
    let grant = req
        .state
        .storage
        .enter_support(
            id,
            &req.actor.operator,
            (&token.hash(), &req.actor.session),
            req.client.origin(),
            req.actor.at,
        )
        .await
        .map_err(refusal)?;
    let first = match &grant.scope {
        SupportScope::Settings => "/admin/users".to_owned(),
        SupportScope::Matters(ids) => {
            ids.iter().next().map_or_else(|| "/".to_owned(), |id| format!("/matters/{id}"))
        }
    };
    Ok((token, first))
}

/// Ends the operator's own grant.
pub async fn end_own(req: &OperatorRequest, id: SupportGrantId) -> Result<(), AppError> {
    let storage = &req.state.storage;
    let grant = storage
        .support_grant(id)
        .await?
        .filter(|g| g.operator == req.actor.operator.id)
        .ok_or(AppError::NotFound)?;
    storage
        .end_support(grant.firm, id, &req.actor.principal(), req.client.origin(), req.actor.at)
        .await
        .map_err(refusal)
}

/// A grant as the firm's administrators see it, with what they must know of each matter.
pub struct GrantShown {
    pub grant: SupportGrant,
    /// Each matter named: how many people walls screen from it, and whether it is held.
    pub warnings: Vec<(MatterId, i64, bool)>,
}

/// The firm's support grants, newest first.
pub async fn of_firm(ctx: &Ctx, state: &AppState) -> Result<Vec<GrantShown>, AppError> {
    let grants = state.storage.support_grants_of_firm(ctx.actor.firm).await?;
    let mut shown = Vec::with_capacity(grants.len());
    for grant in grants {
        let warnings = match &grant.scope {
            SupportScope::Matters(ids) => {
                ctx.actor.store.support_warnings(&ids.iter().copied().collect::<Vec<_>>()).await?
            }
            SupportScope::Settings => Vec::new(),
        };
        shown.push(GrantShown { grant, warnings });
    }
    Ok(shown)
}

/// Whether a matter the firm's grant `id` names is behind a wall or under a legal hold,
/// as the matters stand now.
pub async fn warned(ctx: &Ctx, state: &AppState, id: SupportGrantId) -> Result<bool, AppError> {
    let grant = state
        .storage
        .support_grant(id)
        .await?
        .filter(|g| g.firm == ctx.actor.firm)
        .ok_or(AppError::NotFound)?;
    let SupportScope::Matters(ids) = &grant.scope else { return Ok(false) };
    let warnings = ctx.actor.store.support_warnings(&ids.iter().copied().collect::<Vec<_>>()).await?;
    Ok(warnings.iter().any(|(_, walls, held)| *walls > 0 || *held))
}

/// Approves or refuses a waiting grant.
pub async fn decide(ctx: &Ctx, state: &AppState, id: SupportGrantId, approve: bool) -> Result<(), AppError> {
    state
        .storage
        .decide_support(
            ctx.actor.firm,
            id,
            approve,
            &ctx.actor.principal(),
            ctx.client.origin(),
            ctx.actor.at,
        )
        .await
        .map_err(refusal)
}

/// Ends a grant, waiting or in force.
pub async fn end(ctx: &Ctx, state: &AppState, id: SupportGrantId) -> Result<(), AppError> {
    state
        .storage
        .end_support(ctx.actor.firm, id, &ctx.actor.principal(), ctx.client.origin(), ctx.actor.at)
        .await
        .map_err(refusal)
}
