//! Data subjects' requests (POPIA ss 23-25, GDPR arts 15-17): the firm's register of them,
//! and for a subject who is a client, the report of what the firm holds on them, its
//! correction and its erasure.
//!
//! - **Who.** The register's handlers (`policy::DATA_SUBJECT_HANDLERS`: administrators; the
//!   firm has no information-officer role). They reach a client's details through a
//!   registered request only, by `access::check_subject`, which refuses a handler a wall
//!   screens from the client or any of its matters: another handler must take it. Such a
//!   refusal reads as not found and is recorded, as for any client.
//! - **What the report holds.** The client record (name, kind, email, phone, address,
//!   identity number opened) and the number, status and dates of every matter held on the client, deleted
//!   ones included. Never a matter's title, description, notes or documents: those are case
//!   content sealed under the ring-fence, which an administrator reads only through a
//!   matter role, and often privileged or about others (PAIA ss 40 and 67, GDPR art.
//!   15(4)); the matter's lead answers for them under those rules.
//! - **Erasure** is refused, with the reason recorded, while a duty to keep the client's
//!   records stands (see [`erasure_bar`]); otherwise the client's name becomes a placeholder
//!   and its email, phone, address and sealed identity number are removed, irreversibly.
//! - **The log** names the request (and through it the client), never the person: free
//!   text (a non-client's name and email, an outcome's reason) is sealed in the register.

use std::collections::{BTreeMap, BTreeSet};

use ringfence_core::audit::AuditAction;
use ringfence_core::data_subject::{
    self, RequestKind, RequestStatus, ResponseDays, format_day, overdue, parse_day, parse_received,
};
use ringfence_core::ids::{ClientId, SubjectRequestId, UserId};
use ringfence_core::reason::Reason;
use ringfence_store::FirmTx;
use ringfence_store::firm::access::{self, ClientAccess, EditDetails, Erase, ReadDetails};
use ringfence_store::firm::clients::{self, ClientFields};
use ringfence_store::firm::data_subjects::{
    self as register, HeldMatter, NewRequest, NewSubject, RegisterAfter, RegisterFilter, Subject,
    SubjectRequest,
};
use ringfence_store::firm::{legal_holds, preferences, users};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::clients::{ClientView, address, client_name, email, id_number, phone, text};
use super::{AppError, Ctx};

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// A request as received, for the register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewDataSubjectRequest)]
pub struct NewRequestInput {
    /// The client the request is about; or leave it out and give `subject_name`.
    pub client_id: Option<String>,
    /// Someone who is not a client (a client's contact person, say), as they name
    /// themselves: 1 to 200 characters. Sealed at rest.
    pub subject_name: Option<String>,
    /// Their email address, when they gave one. Sealed at rest.
    pub subject_email: Option<String>,
    /// `access`, `correction`, `erasure` or `objection`.
    pub kind: String,
    /// The day it was received (`YYYY-MM-DD`, on the firm's clock): today when left out;
    /// never after today nor more than a year before it.
    pub received_on: Option<String>,
}

/// How a request is closed by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DataSubjectRequestOutcome)]
pub struct CloseInput {
    /// `completed` or `refused`.
    pub outcome: String,
    /// Why: 1 to 2000 characters, sealed at rest.
    pub reason: String,
}

/// A correction of a client's record: each field left out stays as it is; an empty
/// `email`, `phone`, `address` or `id_number` removes it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DataSubjectCorrection)]
pub struct CorrectionInput {
    /// 1 to 200 characters.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Digits, spaces and `+ - ( )`, 6 to 32 characters.
    pub phone: Option<String>,
    /// Up to 10 lines, 500 characters in all.
    pub address: Option<String>,
    /// 1 to 64 characters, sealed at rest.
    pub id_number: Option<String>,
}

/// How many days after receipt the firm answers a request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DataSubjectResponseDays)]
pub struct ResponseDaysSetting {
    #[schema(minimum = 1, maximum = 90)]
    pub days: i64,
}

/// Which page of the register to read.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// `open`, or `closed` (completed or refused); every request when left out.
    pub status: Option<String>,
    /// 1 to 500; 50 when not given.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Whom a request is about.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataSubject)]
pub struct SubjectView {
    /// The client, when the subject is one; null for someone who is not.
    pub client_id: Option<Uuid>,
    /// The client's name as it stands (a placeholder once erased), or the person's as given.
    pub name: String,
    /// The email address a non-client subject gave; a client's is in its report.
    pub email: Option<String>,
}

/// A request on the register.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataSubjectRequest)]
pub struct RequestView {
    pub id: Uuid,
    /// `access`, `correction`, `erasure` or `objection`.
    pub kind: String,
    pub subject: SubjectView,
    /// `YYYY-MM-DD`, on the firm's clock.
    pub received_on: String,
    /// `YYYY-MM-DD`: the day the answer is due.
    pub due_on: String,
    /// Still open after its due day.
    pub overdue: bool,
    /// `open`, `completed` or `refused`.
    pub status: String,
    /// Why it was closed as it was.
    pub outcome: Option<String>,
    /// Who registered it (email address).
    pub registered_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    /// Who closed it (email address).
    pub handled_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// A page of the register, the earliest due first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataSubjectRegister)]
pub struct RegisterPage {
    pub items: Vec<RequestView>,
    /// Where the next page starts, or null after the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A matter held on the subject, by number: no title or other content.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HeldMatter)]
pub struct HeldMatterView {
    pub number: String,
    /// `open`, `closed`, or `deleted` (kept until purged).
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl From<HeldMatter> for HeldMatterView {
    fn from(matter: HeldMatter) -> Self {
        let status = if matter.deleted_at.is_some() { "deleted".to_owned() } else { matter.status };
        Self {
            number: matter.number,
            status,
            opened_at: matter.opened_at,
            closed_at: matter.closed_at,
            deleted_at: matter.deleted_at,
        }
    }
}

/// What the report leaves out, and why, in its own words.
pub const REPORT_LEAVES_OUT: &str = "Matter titles, descriptions, notes and documents are not in this report: \
    they are case content, sealed per matter, often privileged or about other people, and are answered for \
    by the matter's lead under the rules for privileged records.";

/// The personal information the firm holds on a client, for the data subject.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataSubjectReport)]
pub struct Report {
    pub request_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub produced_at: OffsetDateTime,
    pub client: ClientView,
    /// Every matter held on the client, by number.
    pub matters: Vec<HeldMatterView>,
    pub not_included: &'static str,
}

fn kind(raw: &str) -> Result<RequestKind, AppError> {
    raw.parse().map_err(|e: data_subject::RequestKindError| AppError::invalid("kind", e.to_string()))
}

/// Today on the firm's clock.
async fn today(ctx: &Ctx, tx: &mut FirmTx) -> Result<Date, AppError> {
    Ok(preferences::time_zone(tx).await?.local(ctx.now()).date())
}

/// Email addresses of the users a page of requests names.
async fn emails_of(
    tx: &mut FirmTx,
    requests: &[SubjectRequest],
) -> Result<BTreeMap<UserId, String>, AppError> {
    let named: BTreeSet<UserId> =
        requests.iter().flat_map(|r| [Some(r.registered_by), r.handled_by]).flatten().collect();
    let mut emails = BTreeMap::new();
    for id in named {
        if let Some(user) = users::get(tx, id).await? {
            emails.insert(id, user.email.to_string());
        }
    }
    Ok(emails)
}

fn view(request: SubjectRequest, today: Date, emails: &BTreeMap<UserId, String>) -> RequestView {
    let subject = match request.subject {
        Subject::Client { id, name, .. } => SubjectView { client_id: Some(id), name, email: None },
        Subject::Person { name, email } => SubjectView { client_id: None, name, email },
    };
    RequestView {
        id: request.id,
        kind: request.kind.as_str().to_owned(),
        subject,
        received_on: format_day(request.received_on),
        due_on: format_day(request.due_on),
        overdue: overdue(request.status, request.due_on, today),
        status: request.status.as_str().to_owned(),
        outcome: request.outcome,
        registered_by: emails.get(&request.registered_by).cloned(),
        registered_at: request.registered_at,
        handled_by: request.handled_by.and_then(|id| emails.get(&id).cloned()),
        closed_at: request.closed_at,
    }
}

async fn view_in(ctx: &Ctx, tx: &mut FirmTx, request: SubjectRequest) -> Result<RequestView, AppError> {
    let today = today(ctx, tx).await?;
    let emails = emails_of(tx, std::slice::from_ref(&request)).await?;
    Ok(view(request, today, &emails))
}

fn resource(id: Uuid) -> Option<(&'static str, String)> {
    Some(("data_subject_request", id.to_string()))
}

/// Whom a new request is about, once its fields are checked.
enum Who {
    Client(ClientId),
    Person { name: String, email: Option<String> },
}

fn who(input: &NewRequestInput) -> Result<Who, AppError> {
    match (&input.client_id, &input.subject_name, &input.subject_email) {
        (Some(raw), None, None) => ClientId::parse(raw)
            .map(Who::Client)
            .ok_or_else(|| AppError::invalid("client_id", "no such client")),
        (Some(_), _, _) => Err(AppError::invalid(
            "subject_name",
            "a request about a client takes no subject_name or subject_email",
        )),
        (None, Some(name), given_email) => Ok(Who::Person {
            name: text("subject_name", name, 200)?,
            email: given_email.as_deref().map(|e| email("subject_email", e)).transpose()?,
        }),
        (None, None, _) => Err(AppError::invalid(
            "client_id",
            "give the client, or the subject_name of someone who is not one",
        )),
    }
}

/// Registers a request, due the firm's number of days after receipt. Any handler may
/// register one, about any client: it records that the request came.
pub async fn register(ctx: &Ctx, input: NewRequestInput) -> Result<RequestView, AppError> {
    let kind = kind(&input.kind)?;
    let who = who(&input)?;
    let mut tx = ctx.actor.begin().await?;
    let today = today(ctx, &mut tx).await?;
    let received_on = match &input.received_on {
        Some(raw) => {
            parse_received(raw, today).map_err(|e| AppError::invalid("received_on", e.to_string()))?
        }
        None => today,
    };
    let subject = match &who {
        Who::Client(client) => {
            if clients::summary_held(&mut tx, client.as_uuid()).await?.is_none() {
                return Err(AppError::invalid("client_id", "no such client"));
            }
            NewSubject::Client(client.as_uuid())
        }
        Who::Person { name, email } => NewSubject::Person { name, email: email.as_deref() },
    };
    let due_on = register::response_days(&mut tx).await?.due_on(received_on);
    let new = NewRequest { subject, kind, received_on, due_on };
    let id = register::register(&mut tx, &new, ctx.actor.user, ctx.now()).await?;
    ctx.record(&mut tx, AuditAction::SubjectRequestRegistered, resource(id)).await?;
    let request = register::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let view = view_in(ctx, &mut tx, request).await?;
    tx.commit().await?;
    Ok(view)
}

fn cursor_of(request: &RequestView) -> String {
    format!("{}.{}", request.due_on, request.id.simple())
}

/// Reads a cursor given back: only one this module made is taken.
fn parse_cursor(raw: &str) -> Result<RegisterAfter, AppError> {
    let bad = || AppError::invalid("cursor", "use next_cursor from the previous page");
    let (due_on, id) = raw.split_once('.').ok_or_else(bad)?;
    let after = RegisterAfter {
        due_on: parse_day(due_on).ok_or_else(bad)?,
        id: Uuid::try_parse(id).map_err(|_| bad())?,
    };
    if format!("{}.{}", format_day(after.due_on), after.id.simple()) != raw {
        return Err(bad());
    }
    Ok(after)
}

/// A page of the register, the earliest due first.
pub async fn list(ctx: &Ctx, query: RegisterQuery) -> Result<RegisterPage, AppError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 500"));
    }
    let filter = match query.status.as_deref() {
        None => RegisterFilter::All,
        Some("open") => RegisterFilter::Open,
        Some("closed") => RegisterFilter::Closed,
        Some(_) => return Err(AppError::invalid("status", "open or closed")),
    };
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut tx = ctx.actor.begin_read().await?;
    let mut found =
        register::list(&mut tx, filter, after, i64::try_from(limit + 1).unwrap_or(i64::MAX)).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let today = today(ctx, &mut tx).await?;
    let emails = emails_of(&mut tx, &found).await?;
    ctx.record_read(tx, AuditAction::SubjectRegisterViewed, None).await?;
    let items: Vec<RequestView> = found.into_iter().map(|r| view(r, today, &emails)).collect();
    let next_cursor = more.then(|| items.last().map(cursor_of)).flatten();
    Ok(RegisterPage { items, next_cursor })
}

/// One request.
pub async fn get(ctx: &Ctx, id: SubjectRequestId) -> Result<RequestView, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let request = register::get(&mut tx, id.as_uuid()).await?.ok_or(AppError::NotFound)?;
    let view = view_in(ctx, &mut tx, request).await?;
    ctx.record_read(tx, AuditAction::SubjectRequestViewed, resource(id.as_uuid())).await?;
    Ok(view)
}

/// The request, when it is about a client: the client's id. A request about someone who is
/// not a client has nothing in the client register to report, correct or erase.
fn client_of(request: &SubjectRequest) -> Result<ClientId, AppError> {
    match request.subject {
        Subject::Client { id, .. } => Ok(ClientId::from(id)),
        Subject::Person { .. } => Err(AppError::conflict(
            "not_a_client",
            "the subject is not a client: the firm's client records hold nothing on them; close the request with its outcome",
        )),
    }
}

/// The client the open request `id` of kind `kind` is about.
async fn open_request(
    tx: &mut FirmTx,
    id: SubjectRequestId,
    kind: RequestKind,
) -> Result<ClientId, AppError> {
    let request = register::get(tx, id.as_uuid()).await?.ok_or(AppError::NotFound)?;
    let client = client_of(&request)?;
    if request.kind != kind {
        return Err(AppError::conflict(
            "wrong_kind",
            format!("this is a request for {}, not {kind}", request.kind),
        ));
    }
    if request.status != RequestStatus::Open {
        return Err(AppError::conflict("request_closed", "the request is closed already"));
    }
    Ok(client)
}

/// The handler's proof on the request's client, or the recorded, concealed refusal once
/// `tx` has ended (the log's writer must not wait for it).
async fn subject_access<A: access::ClientDetails>(
    ctx: &Ctx,
    mut tx: FirmTx,
    id: SubjectRequestId,
    client: ClientId,
) -> Result<(FirmTx, ClientAccess<A>), AppError> {
    match access::check_subject::<A>(&mut tx, ctx.actor.user, &ctx.actor.roles, id.as_uuid()).await? {
        Some(access) => Ok((tx, access)),
        None => {
            drop(tx);
            Err(super::clients::refuse(ctx, client).await?)
        }
    }
}

/// The report of what the firm holds on the client a request is about; its production is
/// recorded. Any request about a client may be reported on, open or closed.
pub async fn report(ctx: &Ctx, id: SubjectRequestId) -> Result<Report, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let request = register::get(&mut tx, id.as_uuid()).await?.ok_or(AppError::NotFound)?;
    let client = client_of(&request)?;
    let (mut tx, access) = subject_access::<ReadDetails>(ctx, tx, id, client).await?;
    let record = clients::details(&mut tx, &access).await?;
    let matters = register::held_matters(&mut tx, &access).await?;
    ctx.record_read(tx, AuditAction::SubjectReportProduced, resource(id.as_uuid())).await?;
    Ok(Report {
        request_id: id.as_uuid(),
        produced_at: ctx.now(),
        client: record.into(),
        matters: matters.into_iter().map(Into::into).collect(),
        not_included: REPORT_LEAVES_OUT,
    })
}

/// Corrects the client's record as a correction request asks, and completes the request
/// (its outcome names the fields changed, never their values).
pub async fn correct(
    ctx: &Ctx,
    id: SubjectRequestId,
    input: CorrectionInput,
) -> Result<RequestView, AppError> {
    // Each field: None to leave it, Some(None) to remove it, Some(Some(value)) to set it.
    let optional = |value: Option<String>, parse: &dyn Fn(String) -> Result<String, AppError>| {
        value.map(|v| if v.trim().is_empty() { Ok(None) } else { parse(v).map(Some) }).transpose()
    };
    let name = input.name.as_deref().map(client_name).transpose()?;
    let new_email = optional(input.email, &|e| email("email", &e))?;
    let new_phone = optional(input.phone, &phone)?;
    let new_address = optional(input.address, &address)?;
    let new_id_number = optional(input.id_number, &|n| id_number(&n))?;
    let mut tx = ctx.actor.begin().await?;
    let client = open_request(&mut tx, id, RequestKind::Correction).await?;
    let (mut tx, access) = subject_access::<EditDetails>(ctx, tx, id, client).await?;
    let current = clients::details(&mut tx, &access).await?;
    let corrected_name = name.unwrap_or_else(|| current.name.clone());
    let corrected_email = new_email.unwrap_or_else(|| current.email.clone());
    let corrected_phone = new_phone.unwrap_or_else(|| current.phone.clone());
    let corrected_address = new_address.unwrap_or_else(|| current.address.clone());
    let corrected_id_number = new_id_number.unwrap_or_else(|| current.id_number.clone());
    let changed: Vec<&str> = [
        ("name", corrected_name != current.name),
        ("email", corrected_email != current.email),
        ("phone", corrected_phone != current.phone),
        ("address", corrected_address != current.address),
        ("identity number", corrected_id_number != current.id_number),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect();
    if changed.is_empty() {
        return Err(AppError::invalid("correction", "the record reads so already: nothing to correct"));
    }
    let fields = ClientFields {
        kind: &current.kind,
        name: &corrected_name,
        email: corrected_email.as_deref(),
        phone: corrected_phone.as_deref(),
        address: corrected_address.as_deref(),
        id_number: corrected_id_number.as_deref(),
    };
    clients::update(&mut tx, &access, &fields).await?;
    let reason = format!("corrected: {}", changed.join(", "));
    finish(ctx, tx, id, RequestStatus::Completed, &reason, AuditAction::SubjectCorrected).await
}

/// What keeps the firm from erasing a client's personal information now, as the reason
/// recorded with the refusal; `None` when nothing does.
///
/// A legal hold on the client or on any of its matters (`on_hold`) bars it whatever else.
/// So does a retention duty: every matter held on the client, open, closed or
/// soft-deleted, is a record the firm must keep (and the client's identity with it) until
/// the matter is disposed of; a purged matter is no longer held and bars nothing.
fn erasure_bar(on_hold: bool, matters: &[HeldMatter]) -> Option<String> {
    if on_hold {
        return Some("legal hold: the client or one of its matters is on legal hold".to_owned());
    }
    if matters.is_empty() {
        return None;
    }
    let numbers: Vec<&str> = matters.iter().map(|m| m.number.as_str()).collect();
    Some(format!(
        "retention duty: matters {} are records the firm keeps until they are disposed of",
        numbers.join(", ")
    ))
}

/// The name an erased client keeps: nothing of the person, enough to tell records apart.
fn erased_name(client: ClientId) -> String {
    format!("Erased data subject {}", &client.simple()[..8])
}

/// Answers an erasure request: erases the client's personal information when nothing bars
/// it (see [`erasure_bar`]), otherwise refuses the request with the reason. Either way the
/// request is closed with its outcome, and the log names only the request.
pub async fn erase(ctx: &Ctx, id: SubjectRequestId) -> Result<RequestView, AppError> {
    let mut tx = ctx.actor.begin().await?;
    let client = open_request(&mut tx, id, RequestKind::Erasure).await?;
    // The check locks the client's row: no matter can be opened for it until this ends.
    let (mut tx, access) = subject_access::<Erase>(ctx, tx, id, client).await?;
    let matters = register::held_matters(&mut tx, &access).await?;
    let on_hold = legal_holds::holds_client(&mut tx, client.as_uuid()).await?;
    match erasure_bar(on_hold, &matters) {
        Some(reason) => {
            finish(ctx, tx, id, RequestStatus::Refused, &reason, AuditAction::SubjectErasureRefused).await
        }
        None => {
            if !register::erase(&mut tx, &access, &erased_name(client)).await? {
                return Err(AppError::NotFound);
            }
            let reason = "erased: the name was replaced and the email address, phone number, address and identity number removed";
            finish(ctx, tx, id, RequestStatus::Completed, reason, AuditAction::SubjectErased).await
        }
    }
}

/// Closes a request by hand with its outcome: an access request once its report is sent,
/// an objection, or any request refused for a reason of the firm's. A correction or erasure
/// request about a client is completed only by correcting or erasing.
pub async fn close(ctx: &Ctx, id: SubjectRequestId, input: CloseInput) -> Result<RequestView, AppError> {
    let status = match input.outcome.as_str() {
        "completed" => RequestStatus::Completed,
        "refused" => RequestStatus::Refused,
        _ => return Err(AppError::invalid("outcome", "completed or refused")),
    };
    let reason = Reason::parse(&input.reason).map_err(|e| AppError::invalid("reason", e.to_string()))?;
    let mut tx = ctx.actor.begin().await?;
    let request = register::get(&mut tx, id.as_uuid()).await?.ok_or(AppError::NotFound)?;
    if request.status != RequestStatus::Open {
        return Err(AppError::conflict("request_closed", "the request is closed already"));
    }
    let done_by_its_action = matches!(request.kind, RequestKind::Correction | RequestKind::Erasure);
    if status == RequestStatus::Completed && done_by_its_action && client_of(&request).is_ok() {
        return Err(AppError::conflict(
            "use_the_action",
            format!("a {} request about a client is completed by its action, not by hand", request.kind),
        ));
    }
    finish(ctx, tx, id, status, reason.as_str(), AuditAction::SubjectRequestClosed).await
}

/// Closes the open request `id` with its outcome in `tx`, records `action` and commits.
async fn finish(
    ctx: &Ctx,
    mut tx: FirmTx,
    id: SubjectRequestId,
    status: RequestStatus,
    reason: &str,
    action: AuditAction,
) -> Result<RequestView, AppError> {
    if !register::close(&mut tx, id.as_uuid(), status, reason, ctx.actor.user, ctx.now()).await? {
        return Err(AppError::conflict("request_closed", "the request is closed already"));
    }
    ctx.record(&mut tx, action, resource(id.as_uuid())).await?;
    let request = register::get(&mut tx, id.as_uuid()).await?.ok_or(AppError::NotFound)?;
    let view = view_in(ctx, &mut tx, request).await?;
    tx.commit().await?;
    Ok(view)
}

/// How many days after receipt the firm answers a request.
pub async fn response_days(ctx: &Ctx) -> Result<ResponseDaysSetting, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let days = register::response_days(&mut tx).await?;
    tx.commit().await?;
    Ok(ResponseDaysSetting { days: i64::from(days.get()) })
}

/// Sets how many days after receipt the firm answers requests registered from now on; the
/// due days of those registered already stay.
pub async fn set_response_days(
    ctx: &Ctx,
    asked: ResponseDaysSetting,
) -> Result<ResponseDaysSetting, AppError> {
    let days = ResponseDays::new(asked.days).map_err(|e| AppError::invalid("days", e.to_string()))?;
    let mut tx = ctx.actor.begin().await?;
    register::set_response_days(&mut tx, days).await?;
    ctx.record(
        &mut tx,
        AuditAction::FirmSubjectResponseDaysChanged,
        Some(("firm", ctx.actor.firm.to_string())),
    )
    .await?;
    tx.commit().await?;
    Ok(asked)
}
