//! The daily work: my matters, a matter with its documents and notes, new clients and
//! matters, and search.

use base64::Engine;
use ringfence_store::firm::access::ReadContent;
use zeroize::Zeroizing;

use super::*;
use crate::app::documents::Reading;

struct MatterRow {
    id: String,
    number: String,
    title: String,
    status: String,
    opened: String,
}

/// One entry of a matter's history, in words.
struct ActivityRow {
    at: String,
    who: String,
    what: String,
    /// The matter it happened on: (id, title), on pages that span matters.
    matter: Option<(String, String)>,
    outcome: String,
}

/// People by user id, as pages name them.
type Names = std::collections::HashMap<String, String>;

fn activity_row(
    dates: &Dates,
    names: &Names,
    entry: &StoredAuditEntry,
    matter: Option<(String, String)>,
) -> ActivityRow {
    let named = entry.actor_id.as_ref().and_then(|id| names.get(id)).cloned();
    ActivityRow {
        at: dates.moment(entry.at),
        who: named.or_else(|| entry.actor_email.clone()).unwrap_or_else(|| entry.actor_kind.clone()),
        what: words_for(&entry.action).to_owned(),
        matter,
        outcome: entry.outcome.clone(),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    signed_in: Option<SignedInUser>,
    /// An administrator's first steps, until every one is done.
    first_steps: Option<Vec<app::onboarding::Step>>,
    matters: Vec<MatterRow>,
    recent: Vec<MatterRow>,
    activity: Vec<ActivityRow>,
    filter: MatterFilter,
    /// How many matters the user holds before the filter.
    held: usize,
}

/// Narrows the list of my matters: words of the title or number, and a status.
#[derive(Deserialize, Default)]
pub struct MatterFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
}

impl MatterFilter {
    fn keeps(&self, matter: &matters::Matter) -> bool {
        let words = self.q.to_lowercase();
        let text = format!("{} {}", matter.number, matter.title).to_lowercase();
        words.split_whitespace().all(|word| text.contains(word))
            && (self.status.is_empty() || self.status == matter.status)
    }

    fn active(&self) -> bool {
        !self.q.trim().is_empty() || !self.status.is_empty()
    }
}

fn matter_row(dates: &Dates, m: matters::Matter) -> MatterRow {
    MatterRow {
        id: m.id.to_string(),
        number: m.number,
        title: m.title,
        status: m.status,
        opened: dates.day(m.opened_at),
    }
}

pub async fn home(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    home_page(&state, &ctx, &csrf, MatterFilter::default()).await
}

/// My matters, filtered: the words are posted, not put in the URL (titles name clients).
pub async fn filter_home(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(filter): PageForm<MatterFilter>,
) -> Response {
    home_page(&state, &ctx, &csrf, filter).await
}

async fn home_page(
    state: &AppState,
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    filter: MatterFilter,
) -> Response {
    let read = async {
        Ok::<_, AppError>((app::home::overview(ctx).await?, app::onboarding::checklist(ctx, state).await?))
    };
    let (overview, first_steps) = match read.await {
        Ok(read) => read,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let dates = Dates(overview.time_zone);
    let activity = overview
        .activity
        .iter()
        .map(|(entry, on)| {
            activity_row(
                &dates,
                &overview.names,
                entry,
                on.as_ref().map(|m| (m.id.to_string(), m.title.clone())),
            )
        })
        .collect();
    let recent = overview.recent.into_iter().map(|m| matter_row(&dates, m)).collect();
    let held = overview.matters.len();
    let matters =
        overview.matters.into_iter().filter(|m| filter.keeps(m)).map(|m| matter_row(&dates, m)).collect();
    let page = HomePage {
        signed_in: signed_in(&ctx.actor, csrf),
        first_steps,
        matters,
        recent,
        activity,
        filter,
        held,
    };
    render(&page, StatusCode::OK)
}

struct DocumentRow {
    id: String,
    title: String,
    name: String,
    size: String,
    version: i64,
    privileged: bool,
    /// Who uploaded the current version, by name, and on which day.
    uploaded_by: String,
    uploaded: String,
    /// The malware scan of the current version, in words.
    scan: &'static str,
    /// Where its preview is: a raster image as it is, a PDF's pages drawn on the server.
    preview: Option<String>,
    /// Earlier versions, newest first: (number, name, size, date).
    earlier: Vec<(i64, String, String, String)>,
}

struct NoteRow {
    id: String,
    kind: String,
    privileged: bool,
    body: String,
    /// Who wrote it, by name.
    author: String,
    updated: String,
    /// Changed since it was written.
    edited: bool,
    /// Its text before each edit, newest first: (version, written by, when, text).
    earlier: Vec<(i64, String, String, String)>,
}

/// The team, for those who manage it: members with their roles, and who is walled off.
struct Team {
    /// (user id, name, address, role).
    members: Vec<(String, String, String, String)>,
    walled: Vec<String>,
}

struct MatterContent {
    documents: Vec<DocumentRow>,
    notes: Vec<NoteRow>,
}

#[derive(Template)]
#[template(path = "matter.html")]
struct MatterPage {
    signed_in: Option<SignedInUser>,
    /// What the last change did, said at the top.
    notice: Option<&'static str>,
    id: String,
    writable: bool,
    /// May change the title and description.
    editable: bool,
    /// May close and reopen it.
    closable: bool,
    number: String,
    title: String,
    status: String,
    opened: String,
    /// The day a legal hold was placed on it, its own or its client's.
    held_since: Option<String>,
    description: Option<String>,
    content: Option<MatterContent>,
    team: Option<Team>,
    /// The matter's own audit trail, for those who may read its access history.
    trail: Option<Vec<ActivityRow>>,
    /// The caller's exports of the matter, for those who may export it.
    exports: Option<Vec<super::exports::ExportRow>>,
    /// Where the export form posts.
    export_action: String,
}

pub(super) use ringfence_core::document::readable_size as size;

#[derive(Deserialize)]
pub struct MatterQuery {
    done: Option<String>,
}

pub async fn matter(
    on: On<View, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<MatterQuery>,
) -> Response {
    match app::matters::page(&ctx, on).await {
        Ok(view) => {
            let mut page = matter_page(&ctx, &csrf, view);
            page.notice = match query.done.as_deref() {
                Some("saved") => Some("The matter's details are saved."),
                Some("note-added") => Some("The note is added."),
                Some("note-edited") => {
                    Some("The note is saved; the text it replaces is kept among its earlier versions.")
                }
                Some("note-deleted") => {
                    Some("The note is deleted. It can be restored from Recently deleted.")
                }
                Some("document-deleted") => {
                    Some("The document is deleted. It can be restored from Recently deleted.")
                }
                Some("member-added") => Some("The role is given."),
                Some("member-removed") => Some("The role is taken away."),
                Some("closed") => {
                    Some("The matter is closed. The firm's retention of closed matters runs from today.")
                }
                Some("reopened") => Some("The matter is open again."),
                _ => None,
            };
            render(&page, StatusCode::OK)
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

/// A scan's result as the documents table says it.
fn scan_words(scan: ringfence_core::document::Scan) -> &'static str {
    use ringfence_core::document::Scan;
    match scan {
        Scan::Clean => "clean",
        Scan::Infected => "malware found",
        Scan::Unscanned => "not scanned",
    }
}

fn matter_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    view: app::matters::MatterPageView,
) -> MatterPage {
    let dates = &Dates(view.time_zone);
    let name_of = |user: UserId| {
        view.names.get(&user.to_string()).cloned().unwrap_or_else(|| "a former user".to_owned())
    };
    let content = view.content.map(|(listed, notes)| MatterContent {
        documents: listed
            .into_iter()
            .map(|shown| DocumentRow {
                preview: preview_of(&shown.document).filter(|_| shown.document.current.scan.downloadable()),
                id: shown.document.id.to_string(),
                title: shown.document.title,
                name: shown.document.current.name,
                size: size(shown.document.current.size),
                version: shown.document.current.version,
                privileged: shown.document.privileged,
                uploaded_by: name_of(shown.document.current.uploaded_by),
                uploaded: dates.day(shown.document.current.uploaded_at),
                scan: scan_words(shown.document.current.scan),
                earlier: shown
                    .earlier
                    .into_iter()
                    .map(|v| (v.version, v.name, size(v.size), dates.day(v.uploaded_at)))
                    .collect(),
            })
            .collect(),
        notes: notes
            .into_iter()
            .map(|shown| {
                let n = shown.note;
                NoteRow {
                    id: n.id.to_string(),
                    kind: n.kind,
                    privileged: n.privileged,
                    body: n.body,
                    author: name_of(n.author_id),
                    updated: dates.moment(n.updated_at),
                    edited: n.version > 1,
                    earlier: shown
                        .earlier
                        .into_iter()
                        .map(|v| (v.version, name_of(v.written_by), dates.moment(v.written_at), v.body))
                        .collect(),
                }
            })
            .collect(),
    });
    let team = view.team.map(|team| Team {
        members: team
            .members
            .into_iter()
            .map(|m| {
                (
                    m.user_id.to_string(),
                    m.name.unwrap_or_else(|| m.email.clone()),
                    m.email,
                    m.role.to_string(),
                )
            })
            .collect(),
        walled: team.walled,
    });
    let trail = view
        .trail
        .map(|entries| entries.iter().map(|entry| activity_row(dates, &view.names, entry, None)).collect());
    let exports = view.exports.map(|exports| super::exports::export_rows(dates, exports));
    let matter = view.matter;
    MatterPage {
        signed_in: signed_in(&ctx.actor, csrf),
        notice: None,
        exports,
        export_action: format!("/matters/{}/exports", matter.id),
        id: matter.id.to_string(),
        writable: view.may.may(MatterAction::WriteContent),
        editable: view.may.may(MatterAction::Edit),
        closable: view.may.may(MatterAction::Lifecycle),
        team,
        trail,
        number: matter.number,
        title: matter.title,
        status: matter.status,
        opened: dates.day(matter.opened_at),
        held_since: matter.held_since.map(|at| dates.day(at)),
        description: matter.description,
        content,
    }
}

#[derive(Template)]
#[template(path = "new_matter.html")]
struct NewMatterPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    clients: Vec<(String, String)>,
    /// The client chosen already: the one whose page the matter was opened from.
    chosen: String,
}

async fn new_matter_form(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    problem: Option<AppError>,
    chosen: String,
) -> Response {
    match app::clients::list(ctx).await {
        Ok(all) => {
            let clients = all.items.into_iter().map(|c| (c.id.to_string(), c.name)).collect();
            let problem = problem.map(Problem::from);
            let page = NewMatterPage {
                signed_in: signed_in(&ctx.actor, csrf),
                problem: problem.as_ref().map(|p| p.message.clone()),
                clients,
                chosen,
            };
            render_with(&page, problem.as_ref())
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, csrf)),
    }
}

#[derive(Deserialize)]
pub struct NewMatterQuery {
    #[serde(default)]
    client: String,
}

pub async fn new_matter_page(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<NewMatterQuery>,
) -> Response {
    new_matter_form(&ctx, &csrf, None, query.client).await
}

#[derive(Deserialize)]
pub struct MatterForm {
    client_id: String,
    title: String,
    description: String,
}

pub async fn create_matter(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<MatterForm>,
) -> Response {
    let opened = async {
        let client = ClientId::parse(&form.client_id)
            .ok_or_else(|| AppError::invalid("client_id", "no such client"))?;
        let description = Some(form.description).filter(|d| !d.trim().is_empty());
        let input = app::matters::NewMatter { title: form.title, client, description };
        app::matters::create(&ctx, &state.storage, input).await
    }
    .await;
    match opened {
        Ok(opened) => Redirect::to(&format!("/matters/{}", opened.id)).into_response(),
        Err(error) => new_matter_form(&ctx, &csrf, Some(error), form.client_id).await,
    }
}

#[derive(Template)]
#[template(path = "new_client.html")]
struct NewClientPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
}

pub async fn new_client_page(actor: Actor, csrf: Option<Extension<BrowserSession>>) -> Response {
    render(&NewClientPage { signed_in: signed_in(&actor, &csrf), problem: None }, StatusCode::OK)
}

pub async fn create_client(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ClientForm>,
) -> Response {
    match app::clients::create(&ctx, form.into()).await {
        Ok(client) => Redirect::to(&format!("/clients/{}?done=added", client.id)).into_response(),
        Err(AppError::Invalid { field, reason }) => {
            let problem = Some(format!("{field}: {reason}"));
            let page = NewClientPage { signed_in: signed_in(&ctx.actor, &csrf), problem };
            render(&page, StatusCode::BAD_REQUEST)
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
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
    on: On<WriteContent, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<NoteForm>,
) -> Response {
    let written = async {
        let kind = app::notes::NoteKind::parse(&form.kind)?;
        let note = app::notes::NewNote { kind, body: form.body, privileged: form.privileged };
        app::notes::create(&ctx, on, note).await
    }
    .await;
    done_or_failure(written, &format!("/matters/{}?done=note-added#notes", on.id()), &ctx.actor, &csrf)
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    signed_in: Option<SignedInUser>,
    query: String,
    searched: bool,
    problem: Option<String>,
    hits: Vec<SearchHit>,
}

#[derive(Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
}

/// The search form. The words are posted, never put in the URL: they would stay in the
/// browser's history.
pub async fn search_page(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    search(&ctx, &csrf, None).await
}

pub async fn run_search(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<SearchForm>,
) -> Response {
    search(&ctx, &csrf, Some(form.q)).await
}

async fn search(ctx: &Ctx, csrf: &Option<Extension<BrowserSession>>, words: Option<String>) -> Response {
    let signed_in = signed_in(&ctx.actor, csrf);
    let Some(query) = words else {
        let page =
            SearchPage { signed_in, query: String::new(), searched: false, problem: None, hits: Vec::new() };
        return render(&page, StatusCode::OK);
    };
    match app::search::search(ctx, &query).await {
        Ok(found) => {
            let page = SearchPage { signed_in, query, searched: true, problem: None, hits: found.items };
            render(&page, StatusCode::OK)
        }
        // What was wrong with the words is said beside them, in the form.
        Err(error @ AppError::Invalid { .. }) => {
            let problem = refusal_words(&error);
            let page = SearchPage { signed_in, query, searched: false, problem, hits: Vec::new() };
            render(&page, StatusCode::BAD_REQUEST)
        }
        Err(error) => failure_page(error, signed_in),
    }
}

/// Deletes a document (softly: it can be recovered within the grace period) from the
/// matter page.
pub async fn delete_document(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    _: Confirmed<DeleteDocument>,
) -> Response {
    let done = app::documents::delete(&ctx, on).await;
    let to = done
        .as_ref()
        .map(|matter| format!("/matters/{matter}?done=document-deleted#documents"))
        .unwrap_or_default();
    done_or_failure(done, &to, &ctx.actor, &csrf)
}

/// Deletes a note (softly: it can be restored within the grace period) from the matter
/// page.
pub async fn delete_note(
    on: On<WriteContent, NoteId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    _: Confirmed<DeleteNote>,
) -> Response {
    let done = app::notes::delete(&ctx, on).await;
    let to =
        done.as_ref().map(|matter| format!("/matters/{matter}?done=note-deleted#notes")).unwrap_or_default();
    done_or_failure(done, &to, &ctx.actor, &csrf)
}

struct ClientRow {
    id: String,
    name: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    signed_in: Option<SignedInUser>,
    keeps_clients: bool,
    clients: Vec<ClientRow>,
}

pub async fn clients(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    match app::clients::list(&ctx).await {
        Ok(listed) => {
            let clients = listed
                .items
                .into_iter()
                .map(|c| ClientRow { id: c.id.to_string(), name: c.name, kind: c.kind })
                .collect();
            let keeps_clients = ctx.actor.has_any_role(CLIENT_KEEPERS.firm_roles());
            render(
                &ClientsPage { signed_in: signed_in(&ctx.actor, &csrf), keeps_clients, clients },
                StatusCode::OK,
            )
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

/// A matter on its client's page: one the viewer holds a role on.
struct ClientMatter {
    id: String,
    number: String,
    title: String,
    status: String,
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    signed_in: Option<SignedInUser>,
    notice: Option<String>,
    id: String,
    /// Those the client access check allows may change the details.
    editable: bool,
    /// Those who open matters get a link to open one for this client.
    opens_matters: bool,
    name: String,
    kind: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    id_number: Option<String>,
    matters: Vec<ClientMatter>,
}

#[derive(Deserialize)]
pub struct ClientPageQuery {
    done: Option<String>,
}

pub async fn client_page(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<ClientPageQuery>,
) -> Response {
    let shown = async {
        let shown = app::clients::view(&ctx, id).await?;
        // The matters shown are the viewer's own: those it holds a role on, unwalled.
        let matters = app::matters::list(&ctx)
            .await?
            .items
            .into_iter()
            .filter(|m| m.client_id == id.as_uuid())
            .map(|m| ClientMatter {
                id: m.id.to_string(),
                number: m.number,
                title: m.title,
                status: m.status,
            })
            .collect();
        let mut page = ClientPage {
            signed_in: signed_in(&ctx.actor, &csrf),
            notice: None,
            id: id.to_string(),
            editable: false,
            opens_matters: ctx.actor.has_any_role(MATTER_OPENERS.firm_roles()),
            name: String::new(),
            kind: String::new(),
            email: None,
            phone: None,
            address: None,
            id_number: None,
            matters,
        };
        match shown {
            // The form only for those who may change the details (and whose firm role
            // keeps client records).
            ClientShown::Details(c) => {
                page.editable = ctx.actor.has_any_role(CLIENT_KEEPERS.firm_roles())
                    && app::clients::may_edit(&ctx, id).await?;
                (page.name, page.kind, page.email, page.phone) = (c.name, c.kind, c.email, c.phone);
                (page.address, page.id_number) = (c.address, c.id_number);
            }
            ClientShown::Summary(c) => (page.name, page.kind) = (c.name, c.kind),
        }
        page.notice = match query.done.as_deref() {
            Some("added") => Some(format!("{} is added to the firm's clients.", page.name)),
            Some("saved") => Some(format!("{}'s details are saved.", page.name)),
            _ => None,
        };
        Ok::<_, AppError>(page)
    }
    .await;
    match shown {
        Ok(page) => render(&page, StatusCode::OK),
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

#[derive(Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    id_number: Option<String>,
}

impl From<ClientForm> for ClientInput {
    /// Blank optional fields are no value.
    fn from(form: ClientForm) -> Self {
        let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        ClientInput {
            name: form.name,
            kind: form.kind,
            email: given(form.email),
            phone: given(form.phone),
            // Sent even when blank: a blank address is removed, where a missing one is kept.
            address: form.address,
            id_number: given(form.id_number),
        }
    }
}

/// Saves a client's details (its keepers' form); blank optional fields are cleared.
pub async fn update_client(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ClientForm>,
) -> Response {
    let done = app::clients::update(&ctx, id, form.into()).await;
    done_or_failure(done, &format!("/clients/{id}?done=saved"), &ctx.actor, &csrf)
}

#[derive(Deserialize)]
pub struct MatterDetailsForm {
    title: Option<String>,
    description: Option<String>,
}

/// Saves a matter's title and description (for those who may edit it).
pub async fn edit_matter(
    on: On<Edit, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<MatterDetailsForm>,
) -> Response {
    let changes = app::matters::MatterChanges { title: form.title, description: form.description };
    let done = app::matters::update(&ctx, on, changes).await;
    done_or_failure(done, &format!("/matters/{}?done=saved", on.id()), &ctx.actor, &csrf)
}

#[derive(Deserialize)]
pub struct NoteEditForm {
    body: String,
    #[serde(default)]
    privileged: bool,
}

/// Saves a note's new text and privilege; the text it replaces is kept as a version.
pub async fn edit_note(
    on: On<WriteContent, NoteId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<NoteEditForm>,
) -> Response {
    let changes = app::notes::NoteChanges { body: Some(form.body), privileged: Some(form.privileged) };
    let done = app::notes::update(&ctx, on, changes).await;
    let to = done
        .as_ref()
        .map(|note| format!("/matters/{}?done=note-edited#notes", note.matter_id))
        .unwrap_or_default();
    done_or_failure(done, &to, &ctx.actor, &csrf)
}

pub async fn close_matter(
    on: On<Lifecycle, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let done = app::matters::close(&ctx, on).await;
    done_or_failure(done, &format!("/matters/{}?done=closed", on.id()), &ctx.actor, &csrf)
}

pub async fn reopen_matter(
    on: On<Lifecycle, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let done = app::matters::reopen(&ctx, on).await;
    done_or_failure(done, &format!("/matters/{}?done=reopened", on.id()), &ctx.actor, &csrf)
}

#[derive(Deserialize)]
pub struct MemberForm {
    email: String,
    role: String,
}

/// Gives a colleague, named by email address, a role on the matter (its lead's form).
pub async fn add_member(
    on: On<ManageMembers, MatterId>,
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<MemberForm>,
) -> Response {
    let done = async {
        let user = app::users::named(&ctx, &form.email).await?;
        let role = app::matters::role(&form.role)?;
        app::matters::set_member(&ctx, &state.mailer, on, user, role).await
    }
    .await;
    done_or_failure(done, &format!("/matters/{}?done=member-added#team", on.id()), &ctx.actor, &csrf)
}

pub async fn remove_member(
    on: On<ManageMembers, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PathUser(user): PathUser,
    _: Confirmed<RemoveMember>,
) -> Response {
    let done = app::matters::remove_member(&ctx, on, user).await;
    done_or_failure(done, &format!("/matters/{}?done=member-removed#team", on.id()), &ctx.actor, &csrf)
}

/// Where a document's preview is, if it has one: a raster image is shown as it is, under
/// its own policy; a PDF on a page of its own, a page at a time, drawn on the server.
fn preview_of(document: &ringfence_store::firm::documents::Document) -> Option<String> {
    let kind = document.current.content_type.as_str();
    if ringfence_core::document::shown_as_it_is(kind) {
        Some(format!("/api/v1/documents/{}/preview", document.id))
    } else if ringfence_core::document::previewable(kind) {
        Some(format!("/documents/{}/preview", document.id))
    } else {
        None
    }
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    page: Option<u32>,
}

#[derive(Template)]
#[template(path = "document_preview.html")]
struct DocumentPreviewPage {
    signed_in: Option<SignedInUser>,
    name: String,
    matter: String,
    document: String,
    page: u32,
    pages: u32,
    /// The page drawn, as a `data:` URL (the pages' policy allows images so).
    image: Zeroizing<String>,
}

/// A PDF's page drawn as an image, with the way to the pages before and after it.
pub async fn document_preview(
    on: On<ReadContent, DocumentId>,
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let document = on.id().to_string();
    let drawn = async {
        let page = app::documents::page_asked(query.page)?;
        let opened = app::documents::download(&ctx, &state, on, None, Reading::Preview).await?;
        let (name, matter) = (opened.name.clone(), opened.matter.to_string());
        let drawn = app::documents::draw_page(&ctx, &state, opened, page).await?;
        Ok::<_, AppError>((name, matter, page, drawn))
    }
    .await;
    match drawn {
        Ok((name, matter, page, drawn)) => {
            let png = drawn.png.unwrap_or_default();
            let mut image = Zeroizing::new(String::from("data:image/png;base64,"));
            base64::engine::general_purpose::STANDARD.encode_string(&*png, &mut image);
            let shown = DocumentPreviewPage {
                signed_in: signed_in(&ctx.actor, &csrf),
                name,
                matter,
                document,
                page,
                pages: drawn.pages,
                image,
            };
            render(&shown, StatusCode::OK)
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}
