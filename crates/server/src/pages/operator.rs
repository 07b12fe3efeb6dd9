//! The operator's pages, under `/operator`: sign-in, the firms with their health and the
//! actions on them, and the operator log. Only an operator's session reaches them (see
//! `auth::operator`); what they show of a firm is counts and sizes.

use super::*;
use ringfence_core::document::readable_size;
use ringfence_store::control::backups::BackupState;

use crate::app::PublicCtx;
use crate::app::operators::{self, FirmOverview, NewFirmInput, OperatorRequest};
use crate::app::support::{self, GrantInput};
use crate::app::termination::Notices;
use crate::auth::support::SUPPORT_COOKIE;
use ringfence_core::ids::SupportGrantId;
use ringfence_store::control::support_grants::{GrantState, SupportGrant};

use super::support::grant_state;
use crate::auth::operator::{OPERATOR_SESSION_LIMITS, OperatorActor};
use crate::client::Client;
use ringfence_core::ids::FirmId;

/// Who the operator page is for, as its layout shows it.
pub struct SignedInOperator {
    pub name: String,
    pub email: String,
    pub csrf: String,
}

fn shown(actor: &OperatorActor) -> SignedInOperator {
    SignedInOperator {
        name: actor.name.clone(),
        email: actor.operator.email.to_string(),
        csrf: actor.csrf.clone(),
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OperatorRequest
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let actor = OperatorActor::from_request_parts(parts, state).await?;
        let client = Client::read(&parts.extensions, &parts.headers);
        Ok(OperatorRequest { state: <AppState as axum::extract::FromRef<S>>::from_ref(state), actor, client })
    }
}

#[derive(Template)]
#[template(path = "operator_message.html")]
struct OperatorMessage<'a> {
    operator: Option<SignedInOperator>,
    heading: &'a str,
    message: &'a str,
    problem: bool,
}

fn operator_failure(error: AppError, operator: Option<SignedInOperator>) -> Response {
    let Failure { status, heading, message } = failure(error);
    render(&OperatorMessage { operator, heading, message: &message, problem: true }, status)
}

#[derive(Template)]
#[template(path = "operator_sign_in.html")]
struct OperatorSignInPage {
    operator: Option<SignedInOperator>,
    problem: Option<String>,
    email: String,
}

pub async fn operator_sign_in_page() -> Response {
    render(&OperatorSignInPage { operator: None, problem: None, email: String::new() }, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct OperatorSignInForm {
    email: String,
    password: String,
    code: String,
}

pub async fn operator_sign_in(
    ctx: PublicCtx,
    headers: HeaderMap,
    PageForm(form): PageForm<OperatorSignInForm>,
) -> Response {
    if !same_site(&headers) {
        return operator_failure(AppError::Forbidden("cross-site form"), None);
    }
    match operators::sign_in(&ctx, &form.email, &form.password, &form.code).await {
        Ok(signed_in) => {
            let mut response = Redirect::to("/operator").into_response();
            if let Some(cookie) =
                cookie::set_operator_session(&signed_in.token.expose(), OPERATOR_SESSION_LIMITS.absolute)
            {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            let Failure { status, message, .. } = failure(error);
            render(&OperatorSignInPage { operator: None, problem: Some(message), email: form.email }, status)
        }
    }
}

pub async fn operator_sign_out(req: OperatorRequest) -> Response {
    match operators::sign_out(&req).await {
        Ok(()) => {
            let mut response = Redirect::to("/operator/sign-in").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie::clear_operator_session());
            response
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

/// A firm, as a row of the operator's list.
struct FirmRow {
    id: String,
    name: String,
    slug: String,
    state: String,
    unreachable: bool,
    schema: String,
    users: String,
    documents: String,
    stored: String,
    backup: String,
    backup_failed: bool,
    failing_jobs: i64,
    suspendable: bool,
    resumable: bool,
    terminable: bool,
    reinstatable: bool,
}

fn count(value: Option<i64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
}

fn utc(at: time::OffsetDateTime) -> String {
    FirmTimeZone::utc().in_words(at)
}

fn firm_row(overview: FirmOverview) -> FirmRow {
    let FirmOverview { firm, standing, health } = overview;
    let state = match standing {
        FirmStanding::Active => "In service".to_owned(),
        FirmStanding::Suspended { since } => format!("Suspended since {}", utc(since)),
        FirmStanding::Terminated(t) => {
            format!("Terminated: read-only, shredded after {}", utc(t.shred_after))
        }
    };
    let (backup, backup_failed) = match &health.last_backup {
        None => ("Never backed up".to_owned(), false),
        Some(b) => match b.state {
            BackupState::Verified => (format!("{}, verified by a restore", utc(b.taken_at)), false),
            BackupState::Made => (format!("{}, not yet verified", utc(b.taken_at)), false),
            BackupState::Rotated => (format!("{}, rotated away", utc(b.taken_at)), false),
            BackupState::Failed => (
                format!(
                    "FAILED {}: {}",
                    utc(b.taken_at),
                    b.problem.as_deref().unwrap_or("no reason recorded")
                ),
                true,
            ),
        },
    };
    FirmRow {
        id: firm.id.to_string(),
        name: firm.name.as_str().to_owned(),
        slug: firm.slug.to_string(),
        suspendable: standing == FirmStanding::Active,
        resumable: matches!(standing, FirmStanding::Suspended { .. }),
        // A suspended firm is resumed before it is terminated (the store refuses otherwise).
        terminable: standing == FirmStanding::Active,
        reinstatable: matches!(standing, FirmStanding::Terminated(_)),
        state,
        unreachable: health.unreachable,
        schema: count(health.schema_version),
        users: count(health.users),
        documents: count(health.documents),
        stored: health.stored_bytes.map_or_else(|| "unknown".to_owned(), |b| readable_size(b.max(0) as u64)),
        backup,
        backup_failed,
        failing_jobs: health.failing_jobs,
    }
}

#[derive(Template)]
#[template(path = "operator_firms.html")]
struct OperatorFirmsPage {
    operator: Option<SignedInOperator>,
    op_csrf: String,
    firms: Vec<FirmRow>,
    grants: Vec<OperatorGrantRow>,
    /// Other operators' emergency requests, for this one to approve as the second.
    emergencies: Vec<OperatorGrantRow>,
    max_minutes: i64,
}

/// One of the operator's support grants, as a row.
struct OperatorGrantRow {
    id: String,
    firm: String,
    /// Who asked, and why (for a second operator to weigh).
    asker: String,
    reason: String,
    emergency: bool,
    scope: String,
    state: String,
    live: bool,
    endable: bool,
}

pub async fn operator_firms(req: OperatorRequest) -> Response {
    let loaded = async {
        let firms = operators::firms(&req).await?;
        let mine = support::of_operator(&req).await?;
        let emergencies = support::waiting_emergencies(&req).await?;
        Ok::<_, AppError>((firms, mine, emergencies))
    }
    .await;
    match loaded {
        Ok((firms, grants, emergencies)) => {
            let now = req.actor.at;
            let name_of = |id| {
                firms
                    .iter()
                    .find(|f| f.firm.id == id)
                    .map_or_else(|| id.to_string(), |f| f.firm.name.as_str().to_owned())
            };
            let row = |g: &SupportGrant| OperatorGrantRow {
                id: g.id.to_string(),
                firm: name_of(g.firm),
                asker: format!("{} <{}>", g.operator_name, g.operator_email),
                reason: g.reason.clone(),
                emergency: g.emergency,
                scope: support::scope_words(&g.scope),
                state: grant_state(g, now, utc),
                live: g.live_at(now),
                endable: g.state == GrantState::Requested || g.live_at(now),
            };
            let grants = grants.iter().map(row).collect();
            let emergencies =
                emergencies.iter().filter(|g| g.operator != req.actor.operator.id).map(row).collect();
            let page = OperatorFirmsPage {
                operator: Some(shown(&req.actor)),
                op_csrf: req.actor.csrf.clone(),
                firms: firms.into_iter().map(firm_row).collect(),
                grants,
                emergencies,
                max_minutes: support::MAX_GRANT_MINUTES,
            };
            render(&page, StatusCode::OK)
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

#[derive(Deserialize)]
pub struct GrantForm {
    reason: String,
    scope: String,
    #[serde(default)]
    matters: String,
    minutes: String,
    #[serde(default)]
    emergency: String,
}

pub async fn operator_request_support(
    req: OperatorRequest,
    PathId(id): PathId<FirmId>,
    PageForm(form): PageForm<GrantForm>,
) -> Response {
    let input = GrantInput {
        reason: form.reason,
        scope: form.scope,
        matters: form.matters,
        minutes: form.minutes,
        emergency: form.emergency == "yes",
    };
    match support::request(&req, id, &input).await {
        Ok(_) if input.emergency => done(
            &req,
            "Emergency access asked for",
            "Nothing opens until a second operator approves it; then the firm's administrators are mailed at once."
                .to_owned(),
        ),
        Ok(_) => done(
            &req,
            "Support access asked for",
            "The firm's administrators were mailed. Nothing opens until one of them approves.".to_owned(),
        ),
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

pub async fn operator_enter_support(req: OperatorRequest, PathId(id): PathId<SupportGrantId>) -> Response {
    match support::enter(&req, id).await {
        Ok((token, first)) => {
            let mut response = Redirect::to(&first).into_response();
            if let Some(cookie) =
                cookie::set_named_session(SUPPORT_COOKIE, &token.expose(), OPERATOR_SESSION_LIMITS.absolute)
            {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

pub async fn operator_approve_emergency(
    req: OperatorRequest,
    PathId(id): PathId<SupportGrantId>,
) -> Response {
    match support::approve_emergency(&req, id).await {
        Ok(()) => done(
            &req,
            "Emergency access approved",
            "It is in force now; the firm's administrators were mailed the reason.".to_owned(),
        ),
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

pub async fn operator_end_support(req: OperatorRequest, PathId(id): PathId<SupportGrantId>) -> Response {
    match support::end_own(&req, id).await {
        Ok(()) => {
            done(&req, "Support access ended", "The grant is over; its pages are closed to you.".to_owned())
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

#[derive(Deserialize)]
pub struct NewFirmForm {
    name: String,
    slug: String,
    admin_email: String,
    admin_name: String,
}

pub async fn operator_create_firm(req: OperatorRequest, PageForm(form): PageForm<NewFirmForm>) -> Response {
    let input = NewFirmInput {
        name: form.name,
        slug: form.slug,
        admin_email: form.admin_email,
        admin_name: form.admin_name,
    };
    match operators::create_firm(&req, &input).await {
        Ok(firm) => done(
            &req,
            "Firm created",
            format!("{} is created; its first administrator was mailed an invitation.", firm.name.as_str()),
        ),
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

fn done(req: &OperatorRequest, heading: &str, message: String) -> Response {
    render(
        &OperatorMessage { operator: Some(shown(&req.actor)), heading, message: &message, problem: false },
        StatusCode::OK,
    )
}

fn told(notices: &Notices) -> String {
    match (notices.sent.len(), notices.failed.len()) {
        (0, 0) => "The firm has no active administrator to tell.".to_owned(),
        (sent, 0) => format!("Its administrators ({sent}) were mailed."),
        (sent, failed) => format!("{sent} of its administrators were mailed; {failed} could not be reached."),
    }
}

#[derive(Deserialize)]
pub struct ConfirmedForm {
    #[serde(default)]
    confirmed: String,
}

fn unconfirmed() -> AppError {
    AppError::invalid("confirmed", "tick the box to confirm")
}

pub async fn operator_suspend(
    req: OperatorRequest,
    PathId(id): PathId<FirmId>,
    PageForm(form): PageForm<ConfirmedForm>,
) -> Response {
    if form.confirmed != "yes" {
        return operator_failure(unconfirmed(), Some(shown(&req.actor)));
    }
    match operators::suspend(&req, id).await {
        Ok(notices) => done(
            &req,
            "Firm suspended",
            format!("Nobody can sign in to it until you resume it. {}", told(&notices)),
        ),
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

pub async fn operator_resume(req: OperatorRequest, PathId(id): PathId<FirmId>) -> Response {
    match operators::resume(&req, id).await {
        Ok(notices) => {
            done(&req, "Firm resumed", format!("Its people can sign in again. {}", told(&notices)))
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

#[derive(Deserialize)]
pub struct TerminateForm {
    #[serde(default)]
    confirmed: String,
    retain_days: String,
}

pub async fn operator_terminate(
    req: OperatorRequest,
    PathId(id): PathId<FirmId>,
    PageForm(form): PageForm<TerminateForm>,
) -> Response {
    if form.confirmed != "yes" {
        return operator_failure(unconfirmed(), Some(shown(&req.actor)));
    }
    let Ok(days) = form.retain_days.trim().parse::<i64>() else {
        return operator_failure(
            AppError::invalid("retain_days", "a whole number of days"),
            Some(shown(&req.actor)),
        );
    };
    match operators::terminate(&req, id, days).await {
        Ok(notices) => {
            done(&req, "Firm terminated", format!("It is read-only until it is shredded. {}", told(&notices)))
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

pub async fn operator_reinstate(req: OperatorRequest, PathId(id): PathId<FirmId>) -> Response {
    match operators::reinstate(&req, id).await {
        Ok(notices) => done(
            &req,
            "Firm reinstated",
            format!("It is in service again, and will not be shredded. {}", told(&notices)),
        ),
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}

/// An entry of the operator log, as a row.
struct LogRow {
    seq: i64,
    at: String,
    who: String,
    what: String,
    on: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "operator_log.html")]
struct OperatorLogPage {
    operator: Option<SignedInOperator>,
    entries: Vec<LogRow>,
}

pub async fn operator_log(req: OperatorRequest) -> Response {
    match operators::log(&req, 200).await {
        Ok(entries) => {
            let entries = entries
                .into_iter()
                .map(|e| LogRow {
                    seq: e.seq,
                    at: utc(e.at),
                    who: operators::actor_words(&e.actor_kind, e.actor_email.as_deref()),
                    what: words_for(&e.action).to_owned(),
                    on: match (&e.resource_type, &e.resource_id) {
                        (Some(kind), Some(id)) => format!("{kind} {id}"),
                        _ => String::new(),
                    },
                    outcome: e.outcome,
                })
                .collect();
            render(&OperatorLogPage { operator: Some(shown(&req.actor)), entries }, StatusCode::OK)
        }
        Err(error) => operator_failure(error, Some(shown(&req.actor))),
    }
}
