//! The daily work: my matters, a matter with its documents and notes, new clients and
//! matters, and search.

use super::*;

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

fn activity_row(dates: &Dates, entry: &StoredAuditEntry, matter: Option<(String, String)>) -> ActivityRow {
    ActivityRow {
        at: dates.moment(entry.at),
        who: entry.actor_email.clone().unwrap_or_else(|| entry.actor_kind.clone()),
        what: describe(&entry.action).to_owned(),
        matter,
        outcome: entry.outcome.clone(),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    signed_in: Option<SignedInUser>,
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

pub async fn home(actor: Actor, csrf: Option<Extension<BrowserSession>>) -> Response {
    home_page(&actor, &csrf, MatterFilter::default()).await
}

/// My matters, filtered: the words are posted, not put in the URL (titles name clients).
pub async fn filter_home(
    actor: Actor,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(filter): PageForm<MatterFilter>,
) -> Response {
    home_page(&actor, &csrf, filter).await
}

async fn home_page(
    actor: &Actor,
    csrf: &Option<Extension<BrowserSession>>,
    filter: MatterFilter,
) -> Response {
    let listed = async {
        let mut tx = actor.begin_read().await?;
        let mine = matters::list_mine(&mut tx, actor.user).await?;
        let mine: Vec<matters::Matter> = mine.into_iter().filter(|m| m.deleted_at.is_none()).collect();
        let recent = audit_log::recently_viewed_matters(&mut tx, actor.user, 20).await?;
        let activity = audit_log::activity_on_matters_of(&mut tx, actor.user, 10).await?;
        let dates = Dates::within(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, ApiError>((mine, recent, activity, dates))
    }
    .await;
    match listed {
        Ok((mine, recent, activity, dates)) => {
            let activity = activity
                .iter()
                .map(|entry| {
                    let on = mine.iter().find(|m| Some(m.id.to_string()) == entry.matter_id);
                    activity_row(&dates, entry, on.map(|m| (m.id.to_string(), m.title.clone())))
                })
                .collect();
            // Only matters still in the user's own list: a view from before a wall or a
            // removal does not bring the matter back.
            let recent = recent
                .iter()
                .filter_map(|id| mine.iter().find(|m| m.id == *id).cloned())
                .take(5)
                .map(|m| matter_row(&dates, m))
                .collect();
            let held = mine.len();
            let matters =
                mine.into_iter().filter(|m| filter.keeps(m)).map(|m| matter_row(&dates, m)).collect();
            let page =
                HomePage { signed_in: signed_in(actor, csrf), matters, recent, activity, filter, held };
            render(&page, StatusCode::OK)
        }
        Err(error) => error_page(&error, signed_in(actor, csrf)),
    }
}

struct DocumentRow {
    id: String,
    title: String,
    name: String,
    size: String,
    version: i64,
    privileged: bool,
    /// Earlier versions, newest first: (number, name, size, date).
    earlier: Vec<(i64, String, String, String)>,
}

struct NoteRow {
    kind: String,
    privileged: bool,
    body: String,
    updated: String,
}

/// The team, for those who manage it: members with their roles, and who is walled off.
struct Team {
    members: Vec<(String, String, String)>,
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
    id: String,
    writable: bool,
    /// May change the title and description.
    editable: bool,
    number: String,
    title: String,
    status: String,
    opened: String,
    description: Option<String>,
    content: Option<MatterContent>,
    team: Option<Team>,
    /// The matter's own audit trail, for those who may read its access history.
    trail: Option<Vec<ActivityRow>>,
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
    csrf: Option<Extension<BrowserSession>>,
    Path(id): Path<String>,
) -> Response {
    let shown = async {
        let (mut tx, view) = require::<View>(&actor, &client, actor.begin_read().await?, &id).await?;
        let matter = matters::get(&mut tx, &view).await?;
        let dates = Dates::within(&mut tx).await?;
        // Content only for those who may read it: billing sees the matter, not its papers.
        let content =
            match access::check::<ReadContent>(&mut tx, actor.user, &actor.roles, view.matter()).await? {
                Some(read) => {
                    let listed = documents::list(&mut tx, &read).await?;
                    let mut rows = Vec::with_capacity(listed.len());
                    for d in listed {
                        let mut earlier: Vec<_> = documents::versions(&mut tx, &read, d.id)
                            .await?
                            .into_iter()
                            .filter(|v| v.version != d.current.version)
                            .map(|v| (v.version, v.name, size(v.size), dates.day(v.uploaded_at)))
                            .collect();
                        earlier.reverse();
                        rows.push(DocumentRow {
                            id: d.id.to_string(),
                            title: d.title,
                            name: d.current.name,
                            size: size(d.current.size),
                            version: d.current.version,
                            privileged: d.privileged,
                            earlier,
                        });
                    }
                    let notes = notes::list(&mut tx, &read).await?;
                    Some(MatterContent {
                        documents: rows,
                        notes: notes
                            .into_iter()
                            .map(|n| NoteRow {
                                kind: n.kind,
                                privileged: n.privileged,
                                body: n.body,
                                updated: dates.moment(n.updated_at),
                            })
                            .collect(),
                    })
                }
                None => None,
            };
        let writable =
            access::check::<WriteContent>(&mut tx, actor.user, &actor.roles, view.matter()).await?.is_some();
        let editable =
            access::check::<Edit>(&mut tx, actor.user, &actor.roles, view.matter()).await?.is_some();
        let team =
            match access::check::<ManageMembers>(&mut tx, actor.user, &actor.roles, view.matter()).await? {
                Some(manage) => {
                    let email = async |tx: &mut ringfence_store::FirmTx, user| {
                        Ok::<_, ApiError>(
                            users::get(tx, user).await?.map(|u| u.email.to_string()).unwrap_or_default(),
                        )
                    };
                    let mut members = Vec::new();
                    for member in matters::members(&mut tx, &manage).await? {
                        let address = email(&mut tx, member.user_id).await?;
                        members.push((member.user_id.to_string(), address, member.role.to_string()));
                    }
                    let mut walled = Vec::new();
                    for user in matters::walled(&mut tx, &manage).await? {
                        walled.push(email(&mut tx, user).await?);
                    }
                    for user in matters::walled_by_client(&mut tx, &manage).await? {
                        walled.push(email(&mut tx, user).await?);
                    }
                    Some(Team { members, walled })
                }
                None => None,
            };
        let trail =
            match access::check::<AccessHistory>(&mut tx, actor.user, &actor.roles, view.matter()).await? {
                Some(history) => Some(
                    audit_log::matter_trail(&mut tx, &history, 50)
                        .await?
                        .iter()
                        .map(|entry| activity_row(&dates, entry, None))
                        .collect(),
                ),
                None => None,
            };
        record_read(tx, &actor, &client, &view, MATTER_VIEWED, ("matter", id.clone())).await?;
        Ok::<_, ApiError>(MatterPage {
            signed_in: signed_in(&actor, &csrf),
            id: view.matter().to_string(),
            writable,
            editable,
            team,
            trail,
            number: matter.number,
            title: matter.title,
            status: matter.status,
            opened: dates.day(matter.opened_at),
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
#[template(path = "new_matter.html")]
struct NewMatterPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    clients: Vec<(String, String)>,
}

async fn new_matter_form(
    actor: &Actor,
    csrf: &Option<Extension<BrowserSession>>,
    problem: Option<&ApiError>,
) -> Response {
    let listed = async {
        let mut tx = actor.begin().await?;
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

pub async fn new_matter_page(actor: Actor, csrf: Option<Extension<BrowserSession>>) -> Response {
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
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<MatterForm>,
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

pub async fn new_client_page(actor: Actor, csrf: Option<Extension<BrowserSession>>) -> Response {
    render(&NewClientPage { signed_in: signed_in(&actor, &csrf), problem: None }, StatusCode::OK)
}

pub async fn create_client(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ClientForm>,
) -> Response {
    match app::clients::create(&ctx, form.into()).await {
        Ok(_) => Redirect::to("/matters/new").into_response(),
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
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Path(id): Path<String>,
    PageForm(form): PageForm<NoteForm>,
) -> Response {
    let body = NewNote { kind: form.kind, body: form.body, privileged: form.privileged };
    redirect_or_error(
        api_notes::create(state, actor.clone(), client, Path(id.clone()), ApiJson(body)).await,
        &format!("/matters/{id}#notes"),
        &actor,
        &csrf,
    )
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
    #[serde(default)]
    q: String,
}

/// The search form. The words are posted, never put in the URL: they would stay in the
/// browser's history.
pub async fn search_page(actor: Actor, client: Client, csrf: Option<Extension<BrowserSession>>) -> Response {
    search(&actor, client, &csrf, None).await
}

pub async fn run_search(
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<SearchForm>,
) -> Response {
    search(&actor, client, &csrf, Some(form.q)).await
}

async fn search(
    actor: &Actor,
    client: Client,
    csrf: &Option<Extension<BrowserSession>>,
    words: Option<String>,
) -> Response {
    let Some(query) = words else {
        let page = SearchPage {
            signed_in: signed_in(actor, csrf),
            query: String::new(),
            searched: false,
            problem: None,
            hits: Vec::new(),
        };
        return render(&page, StatusCode::OK);
    };
    let found = api_search::search(actor.clone(), client, Query(SearchQuery { q: query.clone() })).await;
    let (hits, problem, status) = match found {
        Ok(Json(found)) => {
            let hits = rows(&found, |hit| Hit {
                kind: text(&hit["kind"]),
                matter_id: text(&hit["matter_id"]),
                title: text(&hit["title"]),
                matter_title: text(&hit["matter_title"]),
                privileged: hit["privileged"].as_bool().unwrap_or(false),
                snippet: text(&hit["snippet"]),
            });
            (hits, None, StatusCode::OK)
        }
        Err(error) => (Vec::new(), Some(error.message.clone()), error.status),
    };
    let searched = problem.is_none();
    render(&SearchPage { signed_in: signed_in(actor, csrf), query, searched, problem, hits }, status)
}

/// Deletes a document (softly: it can be recovered within the grace period) from the
/// matter page.
pub async fn delete_document(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let done = app::documents::delete(&ctx, on).await;
    let to = done.as_ref().map(|matter| format!("/matters/{matter}#documents")).unwrap_or_default();
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

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    signed_in: Option<SignedInUser>,
    id: String,
    /// Those the client access check allows may change the details.
    editable: bool,
    name: String,
    kind: String,
    email: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
}

pub async fn client_page(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let shown = async {
        let page = match app::clients::view(&ctx, id).await? {
            // The form only for those who may change the details (and whose firm role
            // keeps client records).
            ClientShown::Details(c) => ClientPage {
                signed_in: signed_in(&ctx.actor, &csrf),
                id: c.id.to_string(),
                editable: ctx.actor.has_any_role(CLIENT_KEEPERS.firm_roles())
                    && app::clients::may_edit(&ctx, id).await?,
                name: c.name,
                kind: c.kind,
                email: c.email,
                phone: c.phone,
                id_number: c.id_number,
            },
            ClientShown::Summary(c) => ClientPage {
                signed_in: signed_in(&ctx.actor, &csrf),
                id: c.id.to_string(),
                editable: false,
                name: c.name,
                kind: c.kind,
                email: None,
                phone: None,
                id_number: None,
            },
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
    done_or_failure(done, &format!("/clients/{id}"), &ctx.actor, &csrf)
}

#[derive(Deserialize)]
pub struct MatterDetailsForm {
    title: Option<String>,
    description: Option<String>,
}

/// Saves a matter's title and description (for those who may edit it).
pub async fn edit_matter(
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Path(id): Path<String>,
    PageForm(form): PageForm<MatterDetailsForm>,
) -> Response {
    let changes = MatterChanges { title: form.title, description: form.description };
    redirect_or_error(
        api_matters::update(actor.clone(), client, Path(id.clone()), ApiJson(changes)).await,
        &format!("/matters/{id}"),
        &actor,
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct MemberForm {
    email: String,
    role: String,
}

/// The id of the firm user with this email address. An unknown address gives a user that
/// does not exist: the matter check still comes first, so the answer tells nothing to
/// someone who may not manage the matter.
pub(crate) async fn user_named(actor: &Actor, email: &str) -> Result<String, ApiError> {
    let email =
        ringfence_core::user::Email::parse(email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let mut tx = actor.begin().await?;
    let user = users::credentials_by_email(&mut tx, &email).await?;
    tx.commit().await?;
    Ok(user.map_or_else(|| uuid::Uuid::nil().to_string(), |u| u.id.to_string()))
}

/// Gives a colleague, named by email address, a role on the matter (its lead's form).
pub async fn add_member(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Path(id): Path<String>,
    PageForm(form): PageForm<MemberForm>,
) -> Response {
    let user = match user_named(&actor, &form.email).await {
        Ok(user) => user,
        Err(error) => return error_page(&error, signed_in(&actor, &csrf)),
    };
    let body = RoleBody { role: form.role };
    redirect_or_error(
        api_matters::set_member(state, actor.clone(), client, Path((id.clone(), user)), ApiJson(body)).await,
        &format!("/matters/{id}#team"),
        &actor,
        &csrf,
    )
}

pub async fn remove_member(
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Path((id, user)): Path<(String, String)>,
) -> Response {
    redirect_or_error(
        api_matters::remove_member(actor.clone(), client, Path((id.clone(), user))).await,
        &format!("/matters/{id}#team"),
        &actor,
        &csrf,
    )
}
