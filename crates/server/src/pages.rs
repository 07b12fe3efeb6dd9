//! Server-rendered pages for people in browsers. They sit on the same checks as the API
//! (the sign-in flow, the route policies, the matter ring-fence) and render HTML from the
//! templates in `web/templates`; assets come from `web/static`, built into the binary.

use askama::Template;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ringfence_core::auth::SecondFactor;
use ringfence_core::user::FirmRole;
use ringfence_store::firm::access::{ReadContent, View, WriteContent};
use ringfence_store::firm::{access, documents, matters, notes};
use serde::Deserialize;
use time::macros::format_description;

use crate::AppState;
use crate::api::audit::{self as api_audit, AuditQuery};
use crate::api::clients::{self as api_clients, ClientBody};
use crate::api::invitations::{self, AcceptInvite};
use crate::api::matters::{self as api_matters, NewMatter};
use crate::api::me::{self, ChangePassword, ConfirmTotp};
use crate::api::notes::{self as api_notes, NewNote};
use crate::api::search::{self as api_search, SearchQuery};
use crate::api::sign_in::{self, LoginRequest, VerifyRequest};
use crate::api::users::{self as api_users, CreateUser, ListQuery, UpdateUser};
use crate::auth::Actor;
use crate::auth::cookie::{self, CsrfToken};
use crate::client::Client;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::matter_access::{record, require};

/// Who the page is for, as the layout shows it.
pub struct SignedInUser {
    pub email: String,
    pub csrf: String,
    /// Auditors and administrators get a link to the audit log.
    pub reads_audit: bool,
    /// Administrators get a link to the users page.
    pub administers: bool,
}

fn signed_in(actor: &Actor, csrf: &Option<Extension<CsrfToken>>) -> Option<SignedInUser> {
    let csrf = csrf.as_ref().map(|Extension(token)| token.0.clone()).unwrap_or_default();
    let reads_audit = actor.has_any_role(ringfence_core::policy::AUDITORS.firm_roles());
    let administers = actor.has_any_role(&[FirmRole::Admin]);
    Some(SignedInUser { email: actor.email.to_string(), csrf, reads_audit, administers })
}

fn date(t: time::OffsetDateTime) -> String {
    t.format(format_description!("[day] [month repr:short] [year]")).unwrap_or_default()
}

fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// An API error as a page. A refused matter and a missing one render the same page.
fn error_page(error: &ApiError, signed_in: Option<SignedInUser>) -> Response {
    let (heading, message) = match error.status {
        StatusCode::NOT_FOUND => ("Not found", "There is nothing here, or nothing you may see."),
        StatusCode::FORBIDDEN => ("Not allowed", "Your role in the firm does not allow this."),
        _ => ("Something went wrong", "Please try again. If it keeps happening, tell your administrator."),
    };
    render(
        &MessagePage { signed_in, heading, message, link: "/", link_text: "Back to Ringfence" },
        error.status,
    )
}

/// The page for a signed-in user whose firm role does not allow a page.
pub fn refused() -> Response {
    error_page(&ApiError::forbidden("your firm role does not allow this"), None)
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../../web/static/app.css"))
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../../web/static/app.js"))
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

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    email: String,
}

pub async fn sign_in_page() -> Response {
    render(&SignInPage { signed_in: None, problem: None, email: String::new() }, StatusCode::OK)
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
#[template(path = "code.html")]
struct CodePage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    challenge_id: String,
    emailed: bool,
    factors: Vec<(&'static str, &'static str)>,
}

fn factor_choices(factors: &[SecondFactor]) -> Vec<(&'static str, &'static str)> {
    factors
        .iter()
        .map(|f| match f {
            SecondFactor::Email => ("email", "Code from the email"),
            SecondFactor::Totp => ("totp", "Code from your authenticator app"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if !same_site(&headers) {
        return error_page(&ApiError::forbidden("cross-site sign-in"), None);
    }
    let request = LoginRequest { email: form.email.clone(), password: form.password };
    match sign_in::start_sign_in(&state, &client, &request).await {
        Ok(started) => {
            let emailed = started.factors.contains(&SecondFactor::Email);
            let page = CodePage {
                signed_in: None,
                problem: None,
                challenge_id: started.challenge_id,
                emailed,
                factors: factor_choices(&started.factors),
            };
            render(&page, StatusCode::OK)
        }
        Err(error) => {
            let page =
                SignInPage { signed_in: None, problem: Some(error.message.clone()), email: form.email };
            render(&page, error.status)
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    challenge_id: String,
    factor: SecondFactor,
    code: String,
}

pub async fn sign_in_code(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    if !same_site(&headers) {
        return error_page(&ApiError::forbidden("cross-site sign-in"), None);
    }
    let request = VerifyRequest {
        challenge_id: form.challenge_id.clone(),
        factor: form.factor,
        code: form.code,
        cookie: true,
    };
    match sign_in::finish_sign_in(&state, &client, &request).await {
        Ok(signed_in) => {
            let mut response = Redirect::to("/home").into_response();
            if let Some(value) =
                cookie::set_session(&signed_in.scoped, state.settings.session_limits.absolute)
            {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) if error.code == "challenge_expired" => {
            let page =
                SignInPage { signed_in: None, problem: Some(error.message.clone()), email: String::new() };
            render(&page, error.status)
        }
        Err(error) => {
            let page = CodePage {
                signed_in: None,
                problem: Some(error.message.clone()),
                challenge_id: form.challenge_id,
                emailed: false,
                factors: factor_choices(&[form.factor]),
            };
            render(&page, error.status)
        }
    }
}

pub async fn sign_out(state: State<AppState>, actor: Actor, client: Client) -> Response {
    match sign_in::logout(state, actor, client).await {
        Ok(_) => {
            let mut response = Redirect::to("/sign-in").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie::clear_session());
            response
        }
        Err(error) => error_page(&error, None),
    }
}

struct MatterRow {
    id: String,
    number: String,
    title: String,
    status: String,
    opened: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    signed_in: Option<SignedInUser>,
    matters: Vec<MatterRow>,
}

pub async fn home(actor: Actor, csrf: Option<Extension<CsrfToken>>) -> Response {
    let listed = async {
        let mut tx = actor.begin().await?;
        let mine = matters::list_mine(&mut tx, actor.user).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(mine)
    }
    .await;
    match listed {
        Ok(mine) => {
            let matters = mine
                .into_iter()
                .filter(|m| m.deleted_at.is_none())
                .map(|m| MatterRow {
                    id: m.id.to_string(),
                    number: m.number,
                    title: m.title,
                    status: m.status,
                    opened: date(m.opened_at),
                })
                .collect();
            render(&HomePage { signed_in: signed_in(&actor, &csrf), matters }, StatusCode::OK)
        }
        Err(error) => error_page(&error, signed_in(&actor, &csrf)),
    }
}

struct DocumentRow {
    id: String,
    title: String,
    name: String,
    size: String,
    version: i64,
    privileged: bool,
}

struct NoteRow {
    kind: String,
    privileged: bool,
    body: String,
    updated: String,
}

struct MatterContent {
    documents: Vec<DocumentRow>,
    notes: Vec<NoteRow>,
}

#[derive(Template)]
#[template(path = "matter.html")]
struct MatterPage {
    signed_in: Option<SignedInUser>,
    id: String,
    writable: bool,
    number: String,
    title: String,
    status: String,
    opened: String,
    description: Option<String>,
    content: Option<MatterContent>,
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

pub async fn matter(
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Path(id): Path<String>,
) -> Response {
    let shown = async {
        let (mut tx, view) = require::<View>(&actor, &client, actor.begin().await?, &id).await?;
        let matter = matters::get(&mut tx, &view).await?;
        // Content only for those who may read it: billing sees the matter, not its papers.
        let content =
            match access::check::<ReadContent>(&mut tx, actor.user, &actor.roles, view.matter()).await? {
                Some(read) => {
                    let documents = documents::list(&mut tx, &read).await?;
                    let notes = notes::list(&mut tx, &read).await?;
                    Some(MatterContent {
                        documents: documents
                            .into_iter()
                            .map(|d| DocumentRow {
                                id: d.id.to_string(),
                                title: d.title,
                                name: d.current.name,
                                size: size(d.current.size),
                                version: d.current.version,
                                privileged: d.privileged,
                            })
                            .collect(),
                        notes: notes
                            .into_iter()
                            .map(|n| NoteRow {
                                kind: n.kind,
                                privileged: n.privileged,
                                body: n.body,
                                updated: date(n.updated_at),
                            })
                            .collect(),
                    })
                }
                None => None,
            };
        let writable =
            access::check::<WriteContent>(&mut tx, actor.user, &actor.roles, view.matter()).await?.is_some();
        record(&mut tx, &actor, &client, &view, "matter.viewed", ("matter", id.clone())).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(MatterPage {
            signed_in: signed_in(&actor, &csrf),
            id: view.matter().to_string(),
            writable,
            number: matter.number,
            title: matter.title,
            status: matter.status,
            opened: date(matter.opened_at),
            description: matter.description,
            content,
        })
    }
    .await;
    match shown {
        Ok(page) => render(&page, StatusCode::OK),
        Err(error) => error_page(&error, signed_in(&actor, &csrf)),
    }
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

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    token: String,
}

pub async fn invite_page() -> Response {
    render(&InvitePage { signed_in: None, problem: None, token: String::new() }, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct InviteForm {
    token: String,
    password: String,
}

pub async fn accept_invite(
    state: State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    if !same_site(&headers) {
        return error_page(&ApiError::forbidden("cross-site form"), None);
    }
    let token = form.token.clone();
    let body = AcceptInvite { token: form.token, password: form.password };
    match invitations::accept(state, client, ApiJson(body)).await {
        Ok(_) => render(
            &MessagePage {
                signed_in: None,
                heading: "Password set",
                message: "Your password is set. Sign in with your email address, your password and a second factor.",
                link: "/sign-in",
                link_text: "Sign in",
            },
            StatusCode::OK,
        ),
        Err(error) => {
            render(&InvitePage { signed_in: None, problem: Some(error.message.clone()), token }, error.status)
        }
    }
}

#[derive(Template)]
#[template(path = "new_matter.html")]
struct NewMatterPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    clients: Vec<(String, String)>,
}

async fn new_matter_form(
    actor: &Actor,
    csrf: &Option<Extension<CsrfToken>>,
    problem: Option<&ApiError>,
) -> Response {
    let listed = async {
        let mut tx = actor.store.begin().await?;
        let all = ringfence_store::firm::clients::list(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(all)
    }
    .await;
    match listed {
        Ok(all) => {
            let clients = all.into_iter().map(|c| (c.id.to_string(), c.name)).collect();
            let page = NewMatterPage {
                signed_in: signed_in(actor, csrf),
                problem: problem.map(|e| e.message.clone()),
                clients,
            };
            render(&page, problem.map_or(StatusCode::OK, |e| e.status))
        }
        Err(error) => error_page(&error, signed_in(actor, csrf)),
    }
}

pub async fn new_matter_page(actor: Actor, csrf: Option<Extension<CsrfToken>>) -> Response {
    new_matter_form(&actor, &csrf, None).await
}

#[derive(Deserialize)]
pub struct MatterForm {
    client_id: String,
    title: String,
    description: String,
}

pub async fn create_matter(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Form(form): Form<MatterForm>,
) -> Response {
    let description = Some(form.description).filter(|d| !d.trim().is_empty());
    let body = NewMatter { title: form.title, client_id: form.client_id, description };
    match api_matters::create(state, actor.clone(), client, ApiJson(body)).await {
        Ok((_, Json(opened))) => {
            Redirect::to(&format!("/matters/{}", opened["id"].as_str().unwrap_or_default())).into_response()
        }
        Err(error) => new_matter_form(&actor, &csrf, Some(&error)).await,
    }
}

#[derive(Template)]
#[template(path = "new_client.html")]
struct NewClientPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
}

pub async fn new_client_page(actor: Actor, csrf: Option<Extension<CsrfToken>>) -> Response {
    render(&NewClientPage { signed_in: signed_in(&actor, &csrf), problem: None }, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ClientForm {
    name: String,
    kind: String,
    email: String,
}

pub async fn create_client(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Form(form): Form<ClientForm>,
) -> Response {
    let email = Some(form.email).filter(|e| !e.trim().is_empty());
    let body = ClientBody { name: form.name, kind: form.kind, email, phone: None, id_number: None };
    match api_clients::create(state, actor.clone(), client, ApiJson(body)).await {
        Ok(_) => Redirect::to("/matters/new").into_response(),
        Err(error) => {
            let page =
                NewClientPage { signed_in: signed_in(&actor, &csrf), problem: Some(error.message.clone()) };
            render(&page, error.status)
        }
    }
}

#[derive(Deserialize)]
pub struct NoteForm {
    kind: String,
    body: String,
    #[serde(default)]
    privileged: bool,
}

pub async fn add_note(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    let body = NewNote { kind: form.kind, body: form.body, privileged: form.privileged };
    match api_notes::create(state, actor.clone(), client, Path(id.clone()), ApiJson(body)).await {
        Ok(_) => Redirect::to(&format!("/matters/{id}#notes")).into_response(),
        Err(error) => error_page(&error, signed_in(&actor, &csrf)),
    }
}

struct Hit {
    kind: String,
    matter_id: String,
    title: String,
    matter_title: String,
    privileged: bool,
    snippet: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    signed_in: Option<SignedInUser>,
    query: String,
    searched: bool,
    problem: Option<String>,
    hits: Vec<Hit>,
}

#[derive(Deserialize)]
pub struct SearchForm {
    q: Option<String>,
}

pub async fn search(
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Query(form): Query<SearchForm>,
) -> Response {
    let Some(query) = form.q else {
        let page = SearchPage {
            signed_in: signed_in(&actor, &csrf),
            query: String::new(),
            searched: false,
            problem: None,
            hits: Vec::new(),
        };
        return render(&page, StatusCode::OK);
    };
    let found = api_search::search(actor.clone(), client, Query(SearchQuery { q: query.clone() })).await;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let (hits, problem, status) = match found {
        Ok(Json(found)) => {
            let hits = found["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|hit| Hit {
                            kind: text(&hit["kind"]),
                            matter_id: text(&hit["matter_id"]),
                            title: text(&hit["title"]),
                            matter_title: text(&hit["matter_title"]),
                            privileged: hit["privileged"].as_bool().unwrap_or(false),
                            snippet: text(&hit["snippet"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            (hits, None, StatusCode::OK)
        }
        Err(error) => (Vec::new(), Some(error.message.clone()), error.status),
    };
    let searched = problem.is_none();
    render(&SearchPage { signed_in: signed_in(&actor, &csrf), query, searched, problem, hits }, status)
}

struct SessionRow {
    id: String,
    agent: String,
    ip: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    signed_in: Option<SignedInUser>,
    notice: Option<&'static str>,
    problem: Option<String>,
    sessions: Vec<SessionRow>,
    totp_enrolled: bool,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

async fn account_page(
    state: State<AppState>,
    actor: &Actor,
    csrf: &Option<Extension<CsrfToken>>,
    notice: Option<&'static str>,
    problem: Option<&ApiError>,
) -> Response {
    let loaded = async {
        let Json(me) = me::me(state.clone(), actor.clone()).await?;
        let Json(live) = me::list_sessions(state, actor.clone()).await?;
        Ok::<_, ApiError>((me, live))
    }
    .await;
    let (me, live) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&error, signed_in(actor, csrf)),
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let sessions = live["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|s| SessionRow {
                    id: text(&s["id"]),
                    agent: Some(text(&s["user_agent"]))
                        .filter(|a| !a.is_empty())
                        .unwrap_or_else(|| "unknown".to_owned()),
                    ip: text(&s["ip"]),
                    last_seen: text(&s["last_seen_at"]).replace('T', " ").chars().take(16).collect(),
                    current: s["current"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = AccountPage {
        signed_in: signed_in(actor, csrf),
        notice,
        problem: problem.map(|e| e.message.clone()),
        sessions,
        totp_enrolled: me["totp_enrolled"].as_bool().unwrap_or(false),
    };
    render(&page, problem.map_or(StatusCode::OK, |e| e.status))
}

pub async fn account(
    state: State<AppState>,
    actor: Actor,
    csrf: Option<Extension<CsrfToken>>,
    Query(query): Query<AccountQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("totp") => Some("Your authenticator app is set up: sign in with its codes from now on."),
        Some("password") => Some("Your password is changed; every other session has ended."),
        Some("session") => Some("That session has ended."),
        _ => None,
    };
    account_page(state, &actor, &csrf, notice, None).await
}

pub async fn end_session(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Path(id): Path<String>,
) -> Response {
    match me::end_session(state.clone(), actor.clone(), client, Path(id)).await {
        Ok(_) => Redirect::to("/account?done=session").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}

pub async fn end_all_sessions(state: State<AppState>, actor: Actor, client: Client) -> Response {
    match me::end_all_sessions(state, actor, client).await {
        Ok(_) => {
            let mut response = Redirect::to("/sign-in").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie::clear_session());
            response
        }
        Err(error) => error_page(&error, None),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let body = ChangePassword { current_password: form.current_password, new_password: form.new_password };
    match me::change_password(state.clone(), actor.clone(), client, ApiJson(body)).await {
        Ok(_) => Redirect::to("/account?done=password").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    qr_svg: String,
    secret: String,
}

#[derive(Deserialize)]
pub struct TotpForm {
    current_password: Option<String>,
}

pub async fn enrol_totp(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Form(form): Form<TotpForm>,
) -> Response {
    let body = serde_json::json!({ "current_password": form.current_password });
    let started = me::enrol_totp(state.clone(), actor.clone(), client, body.to_string().into()).await;
    let Json(started) = match started {
        Ok(started) => started,
        Err(error) => return account_page(state, &actor, &csrf, None, Some(&error)).await,
    };
    let uri = started["otpauth_uri"].as_str().unwrap_or_default();
    let qr_svg = match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(224, 224).build(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    // The XML declaration has no place inside HTML.
    let qr_svg = qr_svg.split_once("?>").map_or(qr_svg.as_str(), |(_, svg)| svg).to_owned();
    let page = TotpPage {
        signed_in: signed_in(&actor, &csrf),
        problem: None,
        qr_svg,
        secret: started["secret"].as_str().unwrap_or_default().to_owned(),
    };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct TotpConfirmForm {
    code: String,
}

pub async fn confirm_totp(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Form(form): Form<TotpConfirmForm>,
) -> Response {
    match me::confirm_totp(state.clone(), actor.clone(), client, ApiJson(ConfirmTotp { code: form.code }))
        .await
    {
        Ok(_) => Redirect::to("/account?done=totp").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}

/// The audit page's filters as typed into its form: blanks mean "any".
#[derive(Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    user: String,
    #[serde(default)]
    matter: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl AuditFilter {
    /// The API's query: dates are whole days in UTC.
    fn query(&self) -> AuditQuery {
        let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        AuditQuery {
            user: given(&self.user),
            matter: given(&self.matter),
            action: given(&self.action),
            outcome: given(&self.outcome),
            from: given(&self.from).map(|d| format!("{d}T00:00:00Z")),
            to: given(&self.to).map(|d| format!("{d}T23:59:59.999Z")),
            limit: Some(200),
            cursor: None,
        }
    }

    /// The same filters as a query string, for the CSV link.
    fn csv_query(&self) -> String {
        let query = self.query();
        let pairs = [
            ("user", query.user),
            ("matter", query.matter),
            ("action", query.action),
            ("outcome", query.outcome),
            ("from", query.from),
            ("to", query.to),
        ];
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            if let Some(value) = value {
                out.append_pair(name, &value);
            }
        }
        let encoded = out.finish();
        if encoded.is_empty() { encoded } else { format!("?{encoded}") }
    }
}

struct AuditRow {
    at: String,
    who: String,
    action: String,
    resource: String,
    outcome: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    signed_in: Option<SignedInUser>,
    filter: AuditFilter,
    csv_query: String,
    problem: Option<String>,
    entries: Vec<AuditRow>,
}

pub async fn audit_log(
    actor: Actor,
    csrf: Option<Extension<CsrfToken>>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let listed = api_audit::list(actor.clone(), ApiQuery(filter.query())).await;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let (entries, problem, status) = match listed {
        Ok(Json(found)) => {
            let entries = found["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|e| AuditRow {
                            at: text(&e["at"]).replace('T', " ").chars().take(19).collect(),
                            who: Some(text(&e["actor"]["email"]))
                                .filter(|w| !w.is_empty())
                                .unwrap_or_else(|| text(&e["actor"]["kind"])),
                            action: text(&e["action"]),
                            resource: format!(
                                "{} {}",
                                text(&e["resource"]["type"]),
                                text(&e["resource"]["id"])
                            )
                            .trim()
                            .to_owned(),
                            outcome: text(&e["outcome"]),
                            ip: text(&e["ip"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            (entries, None, StatusCode::OK)
        }
        Err(error) => (Vec::new(), Some(error.message.clone()), error.status),
    };
    let csv_query = filter.csv_query();
    render(&AuditPage { signed_in: signed_in(&actor, &csrf), filter, csv_query, problem, entries }, status)
}

struct UserRow {
    id: String,
    email: String,
    name: String,
    status: String,
    roles: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    signed_in: Option<SignedInUser>,
    notice: Option<&'static str>,
    problem: Option<String>,
    roles: Vec<&'static str>,
    users: Vec<UserRow>,
}

async fn users_page(
    actor: &Actor,
    csrf: &Option<Extension<CsrfToken>>,
    notice: Option<&'static str>,
    problem: Option<&ApiError>,
) -> Response {
    let query = ListQuery { limit: Some(500), cursor: None };
    let listed = match api_users::list(actor.clone(), ApiQuery(query)).await {
        Ok(Json(listed)) => listed,
        Err(error) => return error_page(&error, signed_in(actor, csrf)),
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let users = listed["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|u| UserRow {
                    id: text(&u["id"]),
                    email: text(&u["email"]),
                    name: text(&u["name"]),
                    status: text(&u["status"]),
                    roles: u["roles"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|r| r.as_str()?.parse::<FirmRole>().ok())
                                .map(FirmRole::as_str)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = UsersPage {
        signed_in: signed_in(actor, csrf),
        notice,
        problem: problem.map(|e| e.message.clone()),
        roles: FirmRole::ALL.iter().map(|r| r.as_str()).collect(),
        users,
    };
    render(&page, problem.map_or(StatusCode::OK, |e| e.status))
}

#[derive(Deserialize)]
pub struct UsersQuery {
    done: Option<String>,
}

pub async fn users(
    actor: Actor,
    csrf: Option<Extension<CsrfToken>>,
    Query(query): Query<UsersQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("invited") => Some("The invitation is on its way."),
        Some("changed") => Some("Saved."),
        _ => None,
    };
    users_page(&actor, &csrf, notice, None).await
}

/// A form's fields, repeated ones (checkboxes) included.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

fn checked(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

pub async fn invite_user(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let request = CreateUser {
        email: field(&form, "email"),
        name: field(&form, "name"),
        roles: checked(&form, "roles"),
    };
    match api_users::create(state, actor.clone(), client, ApiJson(request)).await {
        Ok(_) => Redirect::to("/admin/users?done=invited").into_response(),
        Err(error) => users_page(&actor, &csrf, None, Some(&error)).await,
    }
}

pub async fn change_user(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let update = |roles, disabled| UpdateUser { roles, disabled };
    let done = match field(&form, "change").as_str() {
        "roles" => api_users::update(
            state,
            actor.clone(),
            client,
            Path(id),
            ApiJson(update(Some(checked(&form, "roles")), None)),
        )
        .await
        .map(drop),
        "disable" => {
            api_users::update(state, actor.clone(), client, Path(id), ApiJson(update(None, Some(true))))
                .await
                .map(drop)
        }
        "enable" => {
            api_users::update(state, actor.clone(), client, Path(id), ApiJson(update(None, Some(false))))
                .await
                .map(drop)
        }
        "unlock" => api_users::unlock(state, actor.clone(), client, Path(id)).await.map(drop),
        _ => Err(ApiError::invalid("change: roles, disable, enable or unlock")),
    };
    match done {
        Ok(()) => Redirect::to("/admin/users?done=changed").into_response(),
        Err(error) => users_page(&actor, &csrf, None, Some(&error)).await,
    }
}
