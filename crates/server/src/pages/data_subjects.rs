//! For the register's handlers: data subjects' requests, and a request's page with the
//! report of what is held on a client subject and the forms that answer it.

use super::*;
use crate::app::data_subjects::{
    self as requests, CloseInput, CorrectionInput, NewRequestInput, RegisterQuery, Report, RequestView,
    ResponseDaysSetting,
};
use ringfence_core::ids::SubjectRequestId;

/// A request as a row of the register or the head of its page.
struct RequestRow {
    id: String,
    kind: String,
    subject: String,
    /// Only for someone who is not a client.
    subject_email: Option<String>,
    is_client: bool,
    received_on: String,
    due_on: String,
    overdue: bool,
    status: String,
    outcome: Option<String>,
    registered: String,
    handled: Option<String>,
}

impl RequestRow {
    fn of(request: RequestView, dates: &Dates) -> Self {
        let by = |who: Option<String>| who.unwrap_or_else(|| "a former user".to_owned());
        Self {
            id: request.id.to_string(),
            kind: request.kind,
            subject: request.subject.name,
            subject_email: request.subject.email,
            is_client: request.subject.client_id.is_some(),
            received_on: request.received_on,
            due_on: request.due_on,
            overdue: request.overdue,
            status: request.status,
            outcome: request.outcome,
            registered: format!("{} by {}", dates.moment(request.registered_at), by(request.registered_by)),
            handled: request
                .closed_at
                .map(|at| format!("{} by {}", dates.moment(at), by(request.handled_by))),
        }
    }
}

#[derive(Template)]
#[template(path = "data_subjects.html")]
struct RegisterPage {
    signed_in: Option<SignedInUser>,
    notice: Option<&'static str>,
    problem: Option<String>,
    requests: Vec<RequestRow>,
    /// (id, name) of every client, for the form.
    clients: Vec<(String, String)>,
    kinds: Vec<&'static str>,
    response_days: i64,
}

async fn register_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    notice: Option<&'static str>,
    problem: Option<AppError>,
) -> Response {
    let loaded = async {
        let query = RegisterQuery { limit: Some(500), ..RegisterQuery::default() };
        let listed = requests::list(ctx, query).await?;
        let clients = app::clients::list(ctx).await?;
        let days = requests::response_days(ctx).await?;
        Ok::<_, AppError>((listed, clients, days, Dates::of(ctx).await?))
    }
    .await;
    let (listed, clients, days, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let problem = problem.map(Problem::from);
    let page = RegisterPage {
        signed_in: signed_in(&ctx.actor, csrf),
        notice,
        problem: problem.as_ref().map(|p| p.message.clone()),
        requests: listed.items.into_iter().map(|r| RequestRow::of(r, &dates)).collect(),
        clients: clients.items.into_iter().map(|c| (c.id.to_string(), c.name)).collect(),
        kinds: RequestKind::ALL.iter().map(|k| k.as_str()).collect(),
        response_days: days.days,
    };
    render_with(&page, problem.as_ref())
}

#[derive(Deserialize)]
pub struct RegisterQueryForm {
    done: Option<String>,
}

/// The register, with the forms to register a request and to set the firm's days.
pub async fn subject_register(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<RegisterQueryForm>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("days") => Some("Saved: requests registered from now on are due after that many days."),
        _ => None,
    };
    register_page(&ctx, &csrf, notice, None).await
}

#[derive(Deserialize)]
pub struct NewRequestForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    subject_name: String,
    #[serde(default)]
    subject_email: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    received_on: String,
}

/// A form's text field, `None` when left blank.
fn given(value: String) -> Option<String> {
    Some(value).filter(|v| !v.trim().is_empty())
}

pub async fn register_subject_request(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<NewRequestForm>,
) -> Response {
    let input = NewRequestInput {
        client_id: given(form.client_id),
        subject_name: given(form.subject_name),
        subject_email: given(form.subject_email),
        kind: form.kind,
        received_on: given(form.received_on),
    };
    match requests::register(&ctx, input).await {
        Ok(request) => Redirect::to(&format!("/admin/data-subjects/{}", request.id)).into_response(),
        Err(error) => register_page(&ctx, &csrf, None, Some(error)).await,
    }
}

#[derive(Deserialize)]
pub struct ResponseDaysForm {
    #[serde(default)]
    days: String,
}

pub async fn set_subject_response_days(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ResponseDaysForm>,
) -> Response {
    let set = async {
        let days = form
            .days
            .trim()
            .parse::<i64>()
            .map_err(|_| AppError::invalid("days", "a whole number, 1 to 90"))?;
        requests::set_response_days(&ctx, ResponseDaysSetting { days }).await
    }
    .await;
    match set {
        Ok(_) => Redirect::to("/admin/data-subjects?done=days").into_response(),
        Err(error) => register_page(&ctx, &csrf, None, Some(error)).await,
    }
}

/// What the page shows of the client a request is about.
enum Held {
    /// The subject is not a client: nothing in the client records.
    NotAClient,
    /// A wall screens the handler from the client or one of its matters.
    Screened,
    Report(Box<Report>),
}

#[derive(Template)]
#[template(path = "data_subject.html")]
struct RequestPage {
    signed_in: Option<SignedInUser>,
    request: RequestRow,
    held: Held,
    /// (number, status, opened, closed, deleted)
    matters: Vec<(String, String, String, String, String)>,
    open: bool,
}

/// One request: its facts, the report of what is held on a client subject (its production
/// recorded), and the forms that answer it.
pub async fn subject_request(
    PathId(id): PathId<SubjectRequestId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let shown = async {
        let request = requests::get(&ctx, id).await?;
        let dates = Dates::of(&ctx).await?;
        let held = match requests::report(&ctx, id).await {
            Ok(report) => Held::Report(Box::new(report)),
            Err(AppError::Concealed) => Held::Screened,
            Err(AppError::Conflict { code: "not_a_client", .. }) => Held::NotAClient,
            Err(error) => return Err(error),
        };
        let matters = match &held {
            Held::Report(report) => report
                .matters
                .iter()
                .map(|m| {
                    let day =
                        |at: Option<time::OffsetDateTime>| at.map(|at| dates.day(at)).unwrap_or_default();
                    (
                        m.number.clone(),
                        m.status.clone(),
                        dates.day(m.opened_at),
                        day(m.closed_at),
                        day(m.deleted_at),
                    )
                })
                .collect(),
            Held::NotAClient | Held::Screened => Vec::new(),
        };
        let open = request.status == RequestStatus::Open.as_str();
        Ok::<_, AppError>(RequestPage {
            signed_in: signed_in(&ctx.actor, &csrf),
            request: RequestRow::of(request, &dates),
            held,
            matters,
            open,
        })
    }
    .await;
    match shown {
        Ok(page) => render(&page, StatusCode::OK),
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

#[derive(Deserialize)]
pub struct CorrectionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    id_number: String,
}

/// Saves the corrected record: the form holds every field as it stands, so each is sent
/// as a correction, a blank one removing it.
pub async fn correct_subject(
    PathId(id): PathId<SubjectRequestId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<CorrectionForm>,
) -> Response {
    let input = CorrectionInput {
        name: Some(form.name),
        email: Some(form.email),
        phone: Some(form.phone),
        address: Some(form.address),
        id_number: Some(form.id_number),
    };
    let done = requests::correct(&ctx, id, input).await;
    done_or_failure(done, &format!("/admin/data-subjects/{id}"), &ctx.actor, &csrf)
}

pub async fn erase_subject(
    PathId(id): PathId<SubjectRequestId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    _: Confirmed<EraseSubject>,
) -> Response {
    let done = requests::erase(&ctx, id).await;
    done_or_failure(done, &format!("/admin/data-subjects/{id}"), &ctx.actor, &csrf)
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
}

pub async fn close_subject_request(
    PathId(id): PathId<SubjectRequestId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<CloseForm>,
) -> Response {
    let done = requests::close(&ctx, id, CloseInput { outcome: form.outcome, reason: form.reason }).await;
    done_or_failure(done, &format!("/admin/data-subjects/{id}"), &ctx.actor, &csrf)
}
