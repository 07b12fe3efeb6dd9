//! For auditors and administrators: the audit log, the firm's users.

use super::*;

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
    /// The action in words (its stored name when no table describes it).
    words: String,
    /// The stored name beside the words, for filtering by it: none when the words are it.
    name: Option<String>,
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
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let listed = async {
        let Json(found) = api_audit::list(actor.clone(), client, ApiQuery(filter.query())).await?;
        Ok::<_, ApiError>((found, Dates::of(&actor).await?))
    }
    .await;
    let (entries, problem, status) = match listed {
        Ok((found, dates)) => {
            let entries = rows(&found, |e| AuditRow {
                at: parse_time(&e["at"]).map(|t| dates.precise(t)).unwrap_or_default(),
                who: Some(text(&e["actor"]["email"]))
                    .filter(|w| !w.is_empty())
                    .unwrap_or_else(|| text(&e["actor"]["kind"])),
                words: words_for(&text(&e["action"])).to_owned(),
                name: Some(text(&e["action"])).filter(|name| AuditAction::from_name(name).is_some()),
                resource: format!("{} {}", text(&e["resource"]["type"]), text(&e["resource"]["id"]))
                    .trim()
                    .to_owned(),
                outcome: text(&e["outcome"]),
                ip: text(&e["ip"]),
            });
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
    time_zone: String,
}

async fn users_page(
    actor: &Actor,
    csrf: &Option<Extension<BrowserSession>>,
    notice: Option<&'static str>,
    problem: Option<&ApiError>,
) -> Response {
    let query = ListQuery { limit: Some(500), cursor: None };
    let loaded = async {
        let Json(listed) = api_users::list(actor.clone(), ApiQuery(query)).await?;
        Ok::<_, ApiError>((listed, Dates::of(actor).await?))
    }
    .await;
    let (listed, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&error, signed_in(actor, csrf)),
    };
    let users = rows(&listed, |u| UserRow {
        id: text(&u["id"]),
        email: text(&u["email"]),
        name: text(&u["name"]),
        status: text(&u["status"]),
        roles: u["roles"]
            .as_array()
            .map(|r| {
                r.iter().filter_map(|r| r.as_str()?.parse::<FirmRole>().ok()).map(FirmRole::as_str).collect()
            })
            .unwrap_or_default(),
    });
    let page = UsersPage {
        signed_in: signed_in(actor, csrf),
        notice,
        problem: problem.map(|e| e.message.clone()),
        roles: FirmRole::ALL.iter().map(|r| r.as_str()).collect(),
        users,
        time_zone: dates.0.name().to_owned(),
    };
    render(&page, problem.map_or(StatusCode::OK, |e| e.status))
}

#[derive(Deserialize)]
pub struct UsersQuery {
    done: Option<String>,
}

pub async fn users(
    actor: Actor,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<UsersQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("invited") => Some("The invitation is on its way."),
        Some("changed") => Some("Saved."),
        Some("time-zone") => Some("The firm's time zone is saved: pages show times on its clock."),
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
    csrf: Option<Extension<BrowserSession>>,
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

#[derive(Deserialize)]
pub struct TimeZoneForm {
    time_zone: String,
}

pub async fn set_time_zone(
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<TimeZoneForm>,
) -> Response {
    let body = TimeZoneJson { time_zone: form.time_zone };
    match firm_settings::set_time_zone(actor.clone(), client, ApiJson(body)).await {
        Ok(_) => Redirect::to("/admin/users?done=time-zone").into_response(),
        Err(error) => users_page(&actor, &csrf, None, Some(&error)).await,
    }
}

pub async fn change_user(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
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

struct DirectoryRow {
    id: String,
    number: String,
    title: String,
    status: String,
    lead: String,
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    signed_in: Option<SignedInUser>,
    matters: Vec<DirectoryRow>,
}

/// Every live matter with its lead, for administrators.
pub async fn directory(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    match app::matters::directory(&ctx).await {
        Ok(rows) => {
            let matters = rows
                .into_iter()
                .map(|row| DirectoryRow {
                    id: row.entry.id.to_string(),
                    number: row.entry.number,
                    title: row.entry.title,
                    status: row.entry.status,
                    lead: row.lead_email.unwrap_or_else(|| "none".to_owned()),
                })
                .collect();
            render(&DirectoryPage { signed_in: signed_in(&ctx.actor, &csrf), matters }, StatusCode::OK)
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

#[derive(Template)]
#[template(path = "directory_entry.html")]
struct DirectoryEntryPage {
    signed_in: Option<SignedInUser>,
    id: String,
    number: String,
    title: String,
    /// (email, role)
    members: Vec<(String, String)>,
    /// (user id, email)
    walled: Vec<(String, String)>,
}

/// One matter for an administrator: who holds which role, who is walled off, and the
/// forms to place and lift walls. No content.
pub async fn directory_entry(
    on: On<ManageWalls, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    match app::matters::directory_entry(&ctx, on).await {
        Ok(entry) => {
            let page = DirectoryEntryPage {
                signed_in: signed_in(&ctx.actor, &csrf),
                id: entry.id.to_string(),
                number: entry.number,
                title: entry.title,
                members: entry.members.into_iter().map(|(email, role)| (email, role.to_string())).collect(),
                walled: entry.walled.into_iter().map(|(user, email)| (user.to_string(), email)).collect(),
            };
            render(&page, StatusCode::OK)
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

#[derive(Deserialize)]
pub struct WallForm {
    #[serde(default)]
    email: String,
}

/// Screens a colleague, named by email address, from the matter.
pub async fn place_wall(
    on: On<ManageWalls, MatterId>,
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<WallForm>,
) -> Response {
    let placed = async {
        let user = user_named(&ctx.actor, &form.email).await?;
        app::matters::place_wall(&ctx, &state.mailer, on, user).await
    }
    .await;
    done_or_failure(placed, &format!("/admin/matters/{}", on.id()), &ctx.actor, &csrf)
}

pub async fn lift_wall(
    on: On<ManageWalls, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PathUser(user): PathUser,
) -> Response {
    let done = app::matters::remove_wall(&ctx, on, user).await;
    done_or_failure(done, &format!("/admin/matters/{}", on.id()), &ctx.actor, &csrf)
}
