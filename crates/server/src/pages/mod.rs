//! Server-rendered pages for people in browsers. They sit on the same checks as the API
//! (the sign-in flow, the route policies, the matter ring-fence) and render HTML from the
//! templates in `web/templates`; assets come from `web/static`, built into the binary.

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ringfence_core::audit::{AuditAction, StoredAuditEntry, words_for};
use ringfence_core::auth::SecondFactor;
use ringfence_core::data_subject::{RequestKind, RequestStatus};
use ringfence_core::firm::FirmStanding;
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::policy::{CLIENT_KEEPERS, DATA_SUBJECT_HANDLERS, MATTER_OPENERS, firm_role_in_words};
use ringfence_core::user::FirmRole;
use ringfence_store::firm::access::{Edit, Lifecycle, ManageMembers, ManageWalls, View, WriteContent};

use ringfence_store::firm::matters;
use serde::Deserialize;
use time::macros::format_description;

use crate::AppState;
use crate::app::AppError;
use crate::app::access::On;
use crate::app::audit::AuditQuery;
use crate::app::clients::{ClientInput, ClientShown};
use crate::app::firm_settings::TimeZoneSetting;
use crate::app::search::SearchHit;
use crate::app::users::{NewUserInput, UserChanges, UserListQuery};
use crate::app::{self, Ctx};
use crate::auth::Actor;
use crate::auth::cookie::{self, BrowserSession};
use crate::edge::{PathId, PathUser};
use crate::error::ApiError;
use ringfence_core::ids::{ClientId, DocumentId, MatterId, NoteId, UserId};
use ringfence_core::matter::MatterAction;

mod account;
mod admin;
mod backups;
mod confirm;
mod data_subjects;
mod deleted;
mod entry;
mod exports;
mod legal_holds;
mod operator;
mod retention;
mod security;
mod support;
mod work;

pub(crate) use account::*;
pub(crate) use admin::*;
pub(crate) use backups::*;
pub use confirm::{Asks, Confirmed};
pub(crate) use confirm::{
    DeleteDocument, DeleteNote, DisableUser, DisposeMatter, EraseSubject, LiftClientHold, LiftMatterHold,
    LiftWall, RemoveMember, RemovePasskey, WithdrawInvitation,
};
pub(crate) use data_subjects::*;
pub(crate) use deleted::*;
pub(crate) use entry::*;
pub(crate) use exports::{firm_exports, request_firm_export, request_matter_export};
pub(crate) use legal_holds::*;
pub(crate) use operator::*;
pub(crate) use retention::*;
pub(crate) use security::*;
pub(crate) use support::{acknowledge_support, approve_support, end_support, refuse_support, support_grants};
pub(crate) use work::*;

/// A form's fields, repeated ones (checkboxes) included.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// Every value of a repeated field (ticked checkboxes).
fn checked(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

/// Who the page is for, as the layout shows it.
pub struct SignedInUser {
    /// The user's name (their address when they gave none) and their firm's.
    pub name: String,
    pub firm: String,
    pub email: String,
    pub csrf: String,
    /// Auditors and administrators get a link to the audit log.
    pub reads_audit: bool,
    /// Administrators get a link to the users page.
    pub administers: bool,
    /// The register's handlers get a link to data subjects' requests.
    pub handles_subject_requests: bool,
    /// Seconds without use after which the session ends (0: not a browser session).
    pub idle_seconds: i64,
    /// The day a terminated firm's data is destroyed: until then every page says it is
    /// read-only.
    pub read_only_until: Option<String>,
    /// For an operator under a support grant: what every page says of it.
    pub support: Option<String>,
}

fn signed_in(actor: &Actor, session: &Option<Extension<BrowserSession>>) -> Option<SignedInUser> {
    let (csrf, idle_seconds) = session
        .as_ref()
        .map(|Extension(session)| (session.csrf.clone(), session.idle_seconds))
        .unwrap_or_default();
    let reads_audit = actor.has_any_role(ringfence_core::policy::AUDITORS.firm_roles());
    let administers = actor.has_any_role(&[FirmRole::Admin]);
    let read_only_until = match actor.store.standing() {
        FirmStanding::Terminated(termination) => Some(termination.shred_after.date().to_string()),
        FirmStanding::Active | FirmStanding::Suspended { .. } => None,
    };
    let handles_subject_requests = actor.has_any_role(DATA_SUBJECT_HANDLERS.firm_roles());
    Some(SignedInUser {
        name: actor.display_name(),
        firm: actor.firm_name.as_str().to_owned(),
        email: actor.email.to_string(),
        csrf,
        reads_audit,
        administers,
        handles_subject_requests,
        idle_seconds,
        read_only_until,
        support: actor.support.as_ref().map(|support| {
            format!(
                "You are working as an operator of the hosting provider under support grant {}, reading only, \
                 until {} (UTC). Everything you open is in the firm's audit log.",
                support.grant,
                FirmTimeZone::utc().in_words(support.until),
            )
        }),
    })
}

/// Times as the firm's people read them: on the firm's clock, in its time zone.
struct Dates(FirmTimeZone);

impl Dates {
    async fn of(ctx: &Ctx) -> Result<Self, AppError> {
        Ok(Self(app::firm_settings::local_zone(ctx).await?))
    }

    fn show(
        &self,
        t: time::OffsetDateTime,
        format: &[time::format_description::BorrowedFormatItem<'_>],
    ) -> String {
        self.0.local(t).format(format).unwrap_or_default()
    }

    fn day(&self, t: time::OffsetDateTime) -> String {
        self.show(t, format_description!("[day] [month repr:short] [year]"))
    }

    /// To the minute.
    fn moment(&self, t: time::OffsetDateTime) -> String {
        self.show(t, format_description!("[day] [month repr:short] [year] [hour]:[minute]"))
    }

    /// To the second, for the audit log.
    fn precise(&self, t: time::OffsetDateTime) -> String {
        self.show(t, format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
    }

    /// As a `datetime-local` input holds it, on the firm's clock.
    fn input(&self, t: time::OffsetDateTime) -> String {
        self.show(t, format_description!("[year]-[month]-[day]T[hour]:[minute]"))
    }

    /// The moment a `datetime-local` input names on the firm's clock.
    fn read_input(&self, field: &'static str, text: &str) -> Result<time::OffsetDateTime, AppError> {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]");
        time::PrimitiveDateTime::parse(text.trim(), format)
            .ok()
            .and_then(|local| self.0.at_local(local))
            .ok_or_else(|| AppError::invalid(field, "a date and time, as YYYY-MM-DDTHH:MM"))
    }
}

fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The heading and message of the page for an API error.
fn words_for_error(error: &ApiError) -> (&'static str, String) {
    match error.status {
        StatusCode::NOT_FOUND => ("Not found", "There is nothing here, or nothing you may see.".to_owned()),
        StatusCode::FORBIDDEN => ("Not allowed", "Your role in the firm does not allow this.".to_owned()),
        // The API's own words say what was wrong with what was sent.
        status if status.is_client_error() => ("That did not work", error.message.clone()),
        _ => (
            "Something went wrong",
            "Please try again. If it keeps happening, tell your administrator.".to_owned(),
        ),
    }
}

/// What a page says about a use case's failure: its status, heading and message.
struct Failure {
    status: StatusCode,
    heading: &'static str,
    message: String,
}

/// The one mapping of [`AppError`] to what people read. A refused matter and a missing one
/// read the same.
fn failure(error: AppError) -> Failure {
    let (status, heading, message) = match &error {
        AppError::NotFound | AppError::Concealed => {
            (StatusCode::NOT_FOUND, "Not found", "There is nothing here, or nothing you may see.".to_owned())
        }
        AppError::Forbidden(_) => {
            (StatusCode::FORBIDDEN, "Not allowed", "Your role in the firm does not allow this.".to_owned())
        }
        AppError::NotPermitted { reason, .. } => (StatusCode::FORBIDDEN, "Not allowed", (*reason).to_owned()),
        AppError::Invalid { .. } | AppError::RefusedInput { .. } => {
            (StatusCode::BAD_REQUEST, "That did not work", refusal_words(&error).unwrap_or_default())
        }
        AppError::Unauthenticated { reason, .. } => {
            (StatusCode::UNAUTHORIZED, "That did not work", reason.clone())
        }
        AppError::Conflict { reason, .. } => (StatusCode::CONFLICT, "That did not work", reason.clone()),
        AppError::Gone { reason, .. } => (StatusCode::GONE, "No longer there", reason.clone()),
        AppError::Unavailable { reason, .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "Not available just now", reason.clone())
        }
        AppError::Throttled { reason, .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "Too many attempts", reason.clone())
        }
        AppError::Store(_) | AppError::Mail(_) | AppError::Internal(_) => {
            let error = ApiError::from(error);
            let (heading, message) = words_for_error(&error);
            return Failure { status: error.status, heading, message };
        }
    };
    Failure { status, heading, message }
}

/// A refusal of something sent, in words for people (the API keeps its field names): the
/// field by its label, or not at all where the reason says it, and the reason as a
/// sentence. "client_id: no such client" reads "Client: no such client."
fn plain_words(field: &str, reason: &str) -> String {
    let mut reason = reason.trim().to_owned();
    if !reason.ends_with(['.', '!', '?']) {
        reason.push('.');
    }
    // Fields people do not type (a link's token, a hidden id) are not named.
    if matches!(field, "token" | "challenge_id" | "_csrf" | "cursor") {
        return ringfence_core::words::capitalised(&reason);
    }
    let label = field.strip_suffix("_id").unwrap_or(field).replace('_', " ");
    format!("{}: {reason}", ringfence_core::words::capitalised(&label))
}

/// A use case's failure as a page.
fn failure_page(error: AppError, signed_in: Option<SignedInUser>) -> Response {
    let recorded = matches!(error, AppError::Concealed | AppError::RefusedInput { .. });
    let Failure { status, heading, message } = failure(error);
    let mut response = render(
        &MessagePage { signed_in, heading, message: &message, link: "/", link_text: "Back to Ringfence" },
        status,
    );
    if recorded {
        response.extensions_mut().insert(crate::refusals::Recorded);
    }
    response
}

/// After a form handled by a use case: on to `to` when it worked, else the page saying why.
fn done_or_failure<T>(
    done: Result<T, AppError>,
    to: &str,
    actor: &Actor,
    session: &Option<Extension<BrowserSession>>,
) -> Response {
    match done {
        Ok(_) => Redirect::to(to).into_response(),
        Err(error) => failure_page(error, signed_in(actor, session)),
    }
}

/// A submitted form. One that cannot be read (a field missing or malformed) gets the
/// styled page saying so, like every other failure, rather than a bare-text answer.
pub struct PageForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PageForm<T>
where
    Form<T>: axum::extract::FromRequest<S, Rejection = axum::extract::rejection::FormRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(rejection) => {
                let status = match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(unreadable_form(status))
            }
        }
    }
}

/// The page for a form that cannot be read: a field missing or malformed, or too large.
fn unreadable_form(status: StatusCode) -> Response {
    let message =
        "The form was incomplete or could not be read. Go back, check every field and send it again.";
    let page = MessagePage {
        signed_in: None,
        heading: "That did not work",
        message,
        link: "/",
        link_text: "Back to Ringfence",
    };
    render(&page, status)
}

/// The page for a path that names nothing: an id that is not one.
pub fn not_found() -> Response {
    failure_page(AppError::NotFound, None)
}

/// The page for a signed-in user whose firm role does not allow a page.
pub fn refused() -> Response {
    failure_page(AppError::Forbidden("your firm role does not allow this"), None)
}

/// The page for a change asked of a terminated firm, which is read-only: `message` says
/// until when.
pub fn read_only(message: &str) -> Response {
    let page = MessagePage {
        signed_in: None,
        heading: "Read-only",
        message,
        link: "/home",
        link_text: "Back to your matters",
    };
    render(&page, StatusCode::LOCKED)
}

/// A use case's failure told inside the page of a form, in the API's words for it, with
/// the status the page answers with.
struct Problem {
    message: String,
    status: StatusCode,
    /// The use case put the refusal on the record already.
    recorded: bool,
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        let plain = refusal_words(&error);
        let error = ApiError::from(error);
        Self { message: plain.unwrap_or(error.message), status: error.status, recorded: error.recorded }
    }
}

/// What was wrong with something sent, in words for people; `None` for other failures.
fn refusal_words(error: &AppError) -> Option<String> {
    match error {
        AppError::Invalid { field, reason } | AppError::RefusedInput { field, reason } => {
            Some(plain_words(field, reason))
        }
        _ => None,
    }
}

impl Problem {
    /// `response`, marked when its refusal is on the record already.
    fn mark(&self, mut response: Response) -> Response {
        if self.recorded {
            response.extensions_mut().insert(crate::refusals::Recorded);
        }
        response
    }
}

/// A form's page, with the problem a submission ran into if any: its status, and marked
/// so that a refusal the use case put on the record is not recorded again.
fn render_with(template: &impl Template, problem: Option<&Problem>) -> Response {
    let response = render(template, problem.map_or(StatusCode::OK, |p| p.status));
    match problem {
        Some(problem) => problem.mark(response),
        None => response,
    }
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../../../web/static/app.css"))
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../../../web/static/app.js"))
}

/// The tab's icon, also where browsers look for it unasked (`/favicon.ico`).
pub async fn icon() -> Response {
    asset("image/svg+xml", include_str!("../../../../web/static/favicon.svg"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

pub async fn root(actor: Option<Extension<Actor>>) -> Redirect {
    Redirect::to(if actor.is_some() { "/home" } else { "/sign-in" })
}

/// Refuses a sign-in form posted from another site (login CSRF): browsers say where a
/// request comes from in `Sec-Fetch-Site`.
fn same_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| site == "same-origin" || site == "none")
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    signed_in: Option<SignedInUser>,
    heading: &'a str,
    message: &'a str,
    link: &'a str,
    link_text: &'a str,
}
