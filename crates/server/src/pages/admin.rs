//! For auditors and administrators: the audit log, the firm's users.

use super::*;

/// The audit page's filters as picked in its form: blanks mean "any"; days are the firm's
/// unless `clock` is `utc`.
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
    #[serde(default)]
    clock: String,
}

impl AuditFilter {
    fn in_utc(&self) -> bool {
        self.clock == "utc"
    }

    /// The API's query: whole days on the clock the page is read on.
    fn query(&self, zone: &FirmTimeZone) -> AuditQuery {
        let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        let zone = if self.in_utc() { FirmTimeZone::utc() } else { zone.clone() };
        // A day that is not one is passed on as typed, for the API to refuse by name.
        let day = |text: &str, next: bool| {
            let format = format_description!("[year]-[month]-[day]");
            match time::Date::parse(text, format) {
                Ok(date) => {
                    let start = if next {
                        date.next_day().map(|d| zone.start_of_day(d))
                    } else {
                        Some(zone.start_of_day(date))
                    };
                    let moment = start.map(|s| if next { s - time::Duration::milliseconds(1) } else { s });
                    moment
                        .and_then(|m| m.format(&time::format_description::well_known::Rfc3339).ok())
                        .unwrap_or_else(|| text.to_owned())
                }
                Err(_) => text.to_owned(),
            }
        };
        AuditQuery {
            user: given(&self.user),
            matter: given(&self.matter),
            action: given(&self.action),
            outcome: given(&self.outcome),
            from: given(&self.from).map(|d| day(&d, false)),
            to: given(&self.to).map(|d| day(&d, true)),
            limit: Some(200),
            cursor: None,
        }
    }

    /// The same filters as a query string, for the CSV link.
    fn csv_query(&self, zone: &FirmTimeZone) -> String {
        let query = self.query(zone);
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
    /// Emergency access no administrator has acknowledged: shown above the log.
    emergencies: Vec<super::support::EmergencyRow>,
    /// Administrators acknowledge it; auditors see it.
    acknowledges: bool,
    filter: AuditFilter,
    csv_query: String,
    problem: Option<String>,
    entries: Vec<AuditRow>,
    /// (id, name, email)
    people: Vec<(String, String, String)>,
    /// (id, number)
    matters: Vec<(String, String)>,
    /// The firm's zone, which the page reads times on unless asked for UTC.
    zone: String,
}

/// What an entry's resource is, in words: people and clients by name, matters by number,
/// a matter's records by their id and the matter's number; an id only where nothing names it.
fn resource_words(entry: &app::audit::AuditEntryView, names: &app::audit::LogNames) -> String {
    let person = |id: &str| names.people.iter().find(|(p, _, _)| p == id).map(|(_, name, _)| name.clone());
    let matter = |id: &str| names.matters.iter().find(|(m, _)| m == id).map(|(_, number)| number.clone());
    let (kind, id) = (
        entry.resource.kind.as_deref().unwrap_or_default(),
        entry.resource.id.as_deref().unwrap_or_default(),
    );
    let named = match kind {
        // A role granted or revoked is the user's id and the role.
        "user" => {
            let (user, role) = id.split_once('#').map_or((id, None), |(user, role)| (user, Some(role)));
            person(user).map(|name| role.map_or_else(|| name.clone(), |role| format!("{name} ({role})")))
        }
        "matter" => matter(id).map(|number| format!("matter {number}")),
        "client" => names.clients.get(id).map(|name| format!("client {name}")),
        _ => None,
    };
    let on_matter = entry.matter.as_deref().and_then(matter);
    match (named, on_matter) {
        (Some(named), _) => named,
        // The record's id stays, to tell one note or document from another.
        (None, Some(number)) if !kind.is_empty() => format!("{kind} {id} on matter {number}"),
        (None, _) => format!("{kind} {id}").trim().to_owned(),
    }
}

pub async fn audit_log(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let loaded = async {
        let names = app::audit::names(&ctx).await?;
        let dates = Dates::of(&ctx).await?;
        let emergencies = super::support::emergencies(&ctx, &state, &dates).await?;
        Ok::<_, AppError>((names, dates, emergencies))
    }
    .await;
    let (names, dates, emergencies) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, &csrf)),
    };
    let zone = dates.0.clone();
    let shown = if filter.in_utc() { Dates(FirmTimeZone::utc()) } else { Dates(zone.clone()) };
    let (entries, problem, status) = match app::audit::list(&ctx, &filter.query(&zone)).await {
        Ok(found) => {
            let entries = found
                .items
                .iter()
                .map(|e| AuditRow {
                    at: shown.precise(e.at),
                    who: e
                        .actor
                        .id
                        .as_deref()
                        .and_then(|id| names.people.iter().find(|(p, _, _)| p == id))
                        .map(|(_, name, _)| name.clone())
                        .or_else(|| e.actor.email.clone().filter(|w| !w.is_empty()))
                        .unwrap_or_else(|| e.actor.kind.clone()),
                    words: words_for(&e.action).to_owned(),
                    name: AuditAction::from_name(&e.action).is_some().then(|| e.action.clone()),
                    resource: resource_words(e, &names),
                    outcome: e.outcome.clone(),
                    ip: e.ip.clone().unwrap_or_default(),
                })
                .collect();
            (entries, None, StatusCode::OK)
        }
        Err(error) => {
            let problem = Problem::from(error);
            (Vec::new(), Some(problem.message), problem.status)
        }
    };
    let csv_query = filter.csv_query(&zone);
    let page = AuditPage {
        signed_in: signed_in(&ctx.actor, &csrf),
        emergencies,
        acknowledges: ctx.actor.has_any_role(&[FirmRole::Admin]),
        filter,
        csv_query,
        problem,
        entries,
        people: names.people,
        matters: names.matters,
        zone: zone.name().to_owned(),
    };
    render(&page, status)
}

struct UserRow {
    id: String,
    email: String,
    /// Their name, or their address when they gave none.
    name: String,
    status: String,
    roles: Vec<&'static str>,
    /// The administrator looking at the page, who changes their own password elsewhere.
    is_viewer: bool,
}

/// A firm role as the page offers it: its name and what it lets its holder do.
struct RoleChoice {
    name: &'static str,
    words: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    signed_in: Option<SignedInUser>,
    notice: Option<String>,
    problem: Option<String>,
    roles: Vec<RoleChoice>,
    users: Vec<UserRow>,
    time_zone: String,
    zones: &'static [String],
    /// The sign-in policy: each second factor and whether it is allowed; each role and
    /// whether it must use a strong one.
    factors: Vec<(&'static str, bool)>,
    strong_roles: Vec<(&'static str, bool)>,
    /// Who signs in with emailed codes alone, by name: kept out if they are turned off.
    email_only: Vec<String>,
    /// The id of the firm's Information Officer; blank when none is named.
    officer: String,
}

/// What a change on the users page did, to say at the top of the page after it.
#[derive(Clone, Copy)]
enum UsersDone {
    Invited,
    InvitationResent,
    InvitationWithdrawn,
    RolesSaved,
    Disabled,
    Enabled,
    Unlocked,
    PasswordResetSent,
    TimeZone,
    SignInPolicy,
    InformationOfficer,
}

impl UsersDone {
    const ALL: [UsersDone; 11] = [
        UsersDone::Invited,
        UsersDone::InvitationResent,
        UsersDone::InvitationWithdrawn,
        UsersDone::RolesSaved,
        UsersDone::Disabled,
        UsersDone::Enabled,
        UsersDone::Unlocked,
        UsersDone::PasswordResetSent,
        UsersDone::TimeZone,
        UsersDone::SignInPolicy,
        UsersDone::InformationOfficer,
    ];

    fn code(self) -> &'static str {
        match self {
            UsersDone::Invited => "invited",
            UsersDone::InvitationResent => "invitation-resent",
            UsersDone::InvitationWithdrawn => "invitation-withdrawn",
            UsersDone::RolesSaved => "roles",
            UsersDone::Disabled => "disabled",
            UsersDone::Enabled => "enabled",
            UsersDone::Unlocked => "unlocked",
            UsersDone::PasswordResetSent => "password-reset-sent",
            UsersDone::TimeZone => "time-zone",
            UsersDone::SignInPolicy => "sign-in-policy",
            UsersDone::InformationOfficer => "information-officer",
        }
    }

    /// The page to go on to, naming the person the change was about.
    fn then(self, user: Option<UserId>) -> Response {
        let about = user.map(|user| format!("&user={user}")).unwrap_or_default();
        Redirect::to(&format!("/admin/users?done={}{about}", self.code())).into_response()
    }

    fn notice(self, who: &str) -> String {
        match self {
            UsersDone::Invited => format!("The invitation to {who} is on its way."),
            UsersDone::InvitationResent => {
                format!("A new invitation to {who} is on its way; the link sent before no longer works.")
            }
            UsersDone::InvitationWithdrawn => {
                format!("The invitation to {who} is withdrawn and the account disabled.")
            }
            UsersDone::RolesSaved => format!("{who}'s roles are saved."),
            UsersDone::Disabled => format!("{who}'s account is disabled: they are signed out everywhere."),
            UsersDone::Enabled => format!("{who}'s account is enabled."),
            UsersDone::Unlocked => format!("{who}'s sign-in lock is cleared; they have been told by mail."),
            UsersDone::PasswordResetSent => format!(
                "A link to set a new password is on its way to {who}; links sent before no longer work."
            ),
            UsersDone::TimeZone => "The firm's time zone is saved: pages show times on its clock.".to_owned(),
            UsersDone::SignInPolicy => {
                "The sign-in policy is saved: it applies from the next sign-in.".to_owned()
            }
            UsersDone::InformationOfficer => "The firm's Information Officer is saved.".to_owned(),
        }
    }
}

async fn users_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    done: Option<(UsersDone, Option<String>)>,
    problem: Option<AppError>,
) -> Response {
    let query = UserListQuery { limit: Some(500), ..UserListQuery::default() };
    let loaded = async {
        let listed = app::users::list(ctx, query).await?;
        let policy = app::firm_settings::policy(ctx).await?;
        let email_only = app::users::relying_on_emailed_codes(ctx).await?;
        let officer = app::firm_settings::information_officer(ctx).await?;
        Ok::<_, AppError>((listed, Dates::of(ctx).await?, policy, email_only, officer))
    }
    .await;
    let (listed, zone, policy, email_only, officer) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let users: Vec<UserRow> = listed
        .items
        .iter()
        .map(|u| UserRow {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone().unwrap_or_else(|| u.email.clone()),
            status: u.status.to_owned(),
            roles: u.roles.iter().map(|r| r.as_str()).collect(),
            is_viewer: u.id == ctx.actor.user.to_string(),
        })
        .collect();
    let email_only = users.iter().filter(|u| email_only.contains(&u.id)).map(|u| u.name.clone()).collect();
    let notice = done.map(|(done, about)| {
        let who = about.and_then(|id| users.iter().find(|u| u.id == id)).map(|u| u.name.as_str());
        done.notice(who.unwrap_or("the user"))
    });
    let problem = problem.map(Problem::from);
    let page = UsersPage {
        signed_in: signed_in(&ctx.actor, csrf),
        notice,
        problem: problem.as_ref().map(|p| p.message.clone()),
        roles: FirmRole::ALL
            .iter()
            .map(|r| RoleChoice { name: r.as_str(), words: firm_role_in_words(*r) })
            .collect(),
        users,
        time_zone: zone.0.name().to_owned(),
        zones: FirmTimeZone::names(),
        factors: SecondFactor::ALL.iter().map(|f| (f.as_str(), policy.allowed_factors.contains(f))).collect(),
        strong_roles: FirmRole::ALL
            .iter()
            .map(|r| (r.as_str(), policy.strong_factor_roles.contains(r)))
            .collect(),
        email_only,
        officer: officer.map(|id| id.to_string()).unwrap_or_default(),
    };
    render(&page, problem.map_or(StatusCode::OK, |p| p.status))
}

#[derive(Deserialize)]
pub struct UsersQuery {
    done: Option<String>,
    user: Option<String>,
}

pub async fn users(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<UsersQuery>,
) -> Response {
    let done = query.done.and_then(|code| UsersDone::ALL.into_iter().find(|d| d.code() == code));
    users_page(&ctx, &csrf, done.map(|done| (done, query.user)), None).await
}

pub async fn invite_user(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let input = NewUserInput {
        email: field(&form, "email"),
        name: field(&form, "name"),
        roles: checked(&form, "roles"),
    };
    match app::users::create(&ctx, &state, input).await {
        Ok(user) => UsersDone::Invited.then(user.id.parse().ok()),
        Err(error) => users_page(&ctx, &csrf, None, Some(error)).await,
    }
}

#[derive(Deserialize)]
pub struct TimeZoneForm {
    time_zone: String,
}

#[derive(Deserialize)]
pub struct OfficerForm {
    #[serde(default)]
    user_id: String,
}

pub async fn set_information_officer(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<OfficerForm>,
) -> Response {
    match app::firm_settings::set_information_officer(&ctx, &form.user_id).await {
        Ok(()) => UsersDone::InformationOfficer.then(None),
        Err(error) => users_page(&ctx, &csrf, None, Some(error)).await,
    }
}

pub async fn set_time_zone(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<TimeZoneForm>,
) -> Response {
    let asked = TimeZoneSetting { time_zone: form.time_zone };
    match app::firm_settings::set_time_zone(&ctx, asked).await {
        Ok(_) => UsersDone::TimeZone.then(None),
        Err(error) => users_page(&ctx, &csrf, None, Some(error)).await,
    }
}

/// The sign-in policy as its form sends it: the factors allowed and the roles that must
/// use a strong one, each a repeated field.
pub async fn set_sign_in_policy(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let asked = async {
        let factors = checked(&form, "factors")
            .iter()
            .map(|f| {
                SecondFactor::parse(f)
                    .ok_or_else(|| AppError::invalid("allowed_factors", "email, totp or passkey"))
            })
            .collect::<Result<_, _>>()?;
        let roles = checked(&form, "strong_roles")
            .iter()
            .map(|r| {
                r.parse::<FirmRole>().map_err(|e| AppError::invalid("strong_factor_roles", e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let policy =
            app::firm_settings::SignInPolicy { allowed_factors: factors, strong_factor_roles: roles };
        app::firm_settings::set_policy(&ctx, policy).await
    }
    .await;
    match asked {
        Ok(_) => UsersDone::SignInPolicy.then(None),
        Err(error) => users_page(&ctx, &csrf, None, Some(error)).await,
    }
}

/// After a change to one user: the page naming what was done, or the page with the problem.
async fn user_changed(
    done: Result<(), AppError>,
    what: UsersDone,
    id: UserId,
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
) -> Response {
    match done {
        Ok(()) => what.then(Some(id)),
        Err(error) => users_page(ctx, csrf, None, Some(error)).await,
    }
}

/// Roles, enabling, unlocking and sending a password reset link; disabling and withdrawing an invitation ask first, on
/// routes of their own.
pub async fn change_user(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let change = |roles, disabled| app::users::update(&ctx, id, UserChanges { roles, disabled });
    let (done, what) = match field(&form, "change").as_str() {
        "roles" => (change(Some(checked(&form, "roles")), None).await.map(drop), UsersDone::RolesSaved),
        "enable" => (change(None, Some(false)).await.map(drop), UsersDone::Enabled),
        "unlock" => (app::users::unlock(&ctx, &state, id).await, UsersDone::Unlocked),
        "password-reset" => {
            (app::users::send_password_reset(&ctx, &state, id).await, UsersDone::PasswordResetSent)
        }
        _ => (
            Err(AppError::invalid("change", "roles, enable, unlock or password-reset")),
            UsersDone::RolesSaved,
        ),
    };
    user_changed(done, what, id, &ctx, &csrf).await
}

pub async fn disable_user(
    PathId(id): PathId<UserId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    _: Confirmed<DisableUser>,
) -> Response {
    let done = app::users::update(&ctx, id, UserChanges { roles: None, disabled: Some(true) }).await;
    user_changed(done.map(drop), UsersDone::Disabled, id, &ctx, &csrf).await
}

pub async fn resend_invitation(
    PathId(id): PathId<UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let done = app::users::resend_invitation(&ctx, &state, id).await;
    user_changed(done, UsersDone::InvitationResent, id, &ctx, &csrf).await
}

pub async fn withdraw_invitation(
    PathId(id): PathId<UserId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    _: Confirmed<WithdrawInvitation>,
) -> Response {
    let done = app::users::revoke_invitation(&ctx, id).await;
    user_changed(done, UsersDone::InvitationWithdrawn, id, &ctx, &csrf).await
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
    /// Since when a hold stands on it, in words, and whether it is the matter's own.
    held: Option<(String, bool)>,
}

/// One matter for an administrator: who holds which role, who is walled off, its legal
/// hold, and the forms to place and lift walls and the matter's own hold. No content.
pub async fn directory_entry(
    on: On<ManageWalls, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let loaded =
        async { Ok::<_, AppError>((app::matters::directory_entry(&ctx, on).await?, Dates::of(&ctx).await?)) };
    match loaded.await {
        Ok((entry, dates)) => {
            let page = DirectoryEntryPage {
                signed_in: signed_in(&ctx.actor, &csrf),
                id: entry.id.to_string(),
                number: entry.number,
                title: entry.title,
                members: entry.members.into_iter().map(|(email, role)| (email, role.to_string())).collect(),
                walled: entry.walled.into_iter().map(|(user, email)| (user.to_string(), email)).collect(),
                held: entry.legal_hold.map(|hold| (dates.day(hold.placed_at), !hold.on_client)),
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
        let user = app::users::named(&ctx, &form.email).await?;
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
    _: Confirmed<LiftWall>,
) -> Response {
    let done = app::matters::remove_wall(&ctx, on, user).await;
    done_or_failure(done, &format!("/admin/matters/{}", on.id()), &ctx.actor, &csrf)
}
