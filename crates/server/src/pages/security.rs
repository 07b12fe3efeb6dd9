//! For administrators and audit officers: the firm's decoys with the forms that plant them,
//! and the register of incidents with each one's alerts.

use super::*;
use crate::app::decoys::{self, NewDecoyCredential, NewDecoyMatter, NewDecoyUser};
use crate::app::incidents::{
    self, AlertSettingsInput, AlertView, CATEGORIES, Drafts, EntryView, IncidentDetails, IncidentRecord,
    NewIncident, NewNotification, NewStep, NotificationClock, WorkingHoursInput,
};
use uuid::Uuid;

/// A decoy, as a row of the list.
struct DecoyRow {
    kind: &'static str,
    summary: String,
    label: String,
    planted: String,
}

#[derive(Template)]
#[template(path = "decoys.html")]
struct DecoysPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    decoys: Vec<DecoyRow>,
    /// (id, summary) of each decoy user, to lead a decoy matter.
    leads: Vec<(String, String)>,
    /// A token just planted, shown this once.
    credential: Option<String>,
}

async fn decoys_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    problem: Option<AppError>,
    credential: Option<String>,
) -> Response {
    let loaded = async { Ok::<_, AppError>((decoys::list(ctx).await?, Dates::of(ctx).await?)) }.await;
    let (listed, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let leads =
        decoys::users_of(&listed).into_iter().map(|(id, summary)| (id.to_string(), summary)).collect();
    let problem = problem.map(Problem::from);
    let page = DecoysPage {
        signed_in: signed_in(&ctx.actor, csrf),
        problem: problem.as_ref().map(|p| p.message.clone()),
        decoys: listed
            .items
            .into_iter()
            .map(|d| DecoyRow {
                kind: d.kind,
                summary: d.summary,
                label: d.label,
                planted: dates.moment(d.planted_at),
            })
            .collect(),
        leads,
        credential,
    };
    render_with(&page, problem.as_ref())
}

/// The firm's decoys, with the forms that plant more.
pub async fn decoys(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    decoys_page(&ctx, &csrf, None, None).await
}

#[derive(Deserialize)]
pub struct DecoyUserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    label: String,
}

pub async fn plant_decoy_user(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<DecoyUserForm>,
) -> Response {
    let input = NewDecoyUser { name: form.name, email: form.email, role: Some(form.role), label: form.label };
    match decoys::plant_user(&ctx, &state, input).await {
        Ok(_) => Redirect::to("/admin/decoys").into_response(),
        Err(error) => decoys_page(&ctx, &csrf, Some(error), None).await,
    }
}

#[derive(Deserialize)]
pub struct DecoyMatterForm {
    #[serde(default)]
    lead_id: String,
    #[serde(default)]
    label: String,
}

pub async fn plant_decoy_matter(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<DecoyMatterForm>,
) -> Response {
    let planted = async {
        let lead_id: UserId =
            form.lead_id.trim().parse().map_err(|_| AppError::invalid("lead_id", "choose a decoy user"))?;
        decoys::plant_matter(&ctx, &state, NewDecoyMatter { lead_id, label: form.label }).await
    }
    .await;
    match planted {
        Ok(_) => Redirect::to("/admin/decoys").into_response(),
        Err(error) => decoys_page(&ctx, &csrf, Some(error), None).await,
    }
}

#[derive(Deserialize)]
pub struct DecoyCredentialForm {
    #[serde(default)]
    label: String,
}

/// Plants a decoy token and shows it, this once, on the page it answers with.
pub async fn plant_decoy_credential(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<DecoyCredentialForm>,
) -> Response {
    match decoys::plant_credential(&ctx, NewDecoyCredential { label: form.label }).await {
        Ok(planted) => decoys_page(&ctx, &csrf, None, Some(planted.credential)).await,
        Err(error) => decoys_page(&ctx, &csrf, Some(error), None).await,
    }
}

/// An incident, as a row of the register.
struct IncidentRow {
    href: String,
    opened: String,
    summary: String,
    status: &'static str,
}

/// A weekday, as the working-hours form offers it: (ISO number, name, ticked).
type Weekday = (u8, &'static str, bool);

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    incidents: Vec<IncidentRow>,
    settings: AlertSettingsInput,
    days: Vec<Weekday>,
    /// Only administrators change the thresholds; audit officers read them.
    administers: bool,
}

async fn incidents_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    problem: Option<AppError>,
) -> Response {
    let loaded = async {
        Ok::<_, AppError>((
            incidents::list(ctx).await?,
            incidents::alert_settings(ctx).await?,
            Dates::of(ctx).await?,
        ))
    }
    .await;
    let (listed, settings, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let rows = listed
        .items
        .into_iter()
        .map(|i| IncidentRow {
            href: format!("/admin/incidents/{}", i.id),
            opened: dates.moment(i.opened_at),
            summary: i.summary,
            status: i.status,
        })
        .collect();
    let ticked = settings.working_hours.as_ref().map(|h| h.days.clone()).unwrap_or_default();
    let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        .into_iter()
        .zip(1u8..)
        .map(|(name, number)| (number, name, ticked.contains(&number)))
        .collect();
    let problem = problem.map(Problem::from);
    let page = IncidentsPage {
        administers: ctx.actor.roles.contains(&FirmRole::Admin),
        signed_in: signed_in(&ctx.actor, csrf),
        problem: problem.as_ref().map(|p| p.message.clone()),
        incidents: rows,
        settings,
        days,
    };
    render_with(&page, problem.as_ref())
}

/// The register of incidents, the newest first, and the firm's alert thresholds.
pub async fn incidents(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    incidents_page(&ctx, &csrf, None).await
}

/// Changes the firm's alert thresholds from the form on the incidents page.
pub async fn set_alert_settings(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let changed = async {
        let number = |name: &'static str| {
            field(&form, name).trim().parse::<i64>().map_err(|_| AppError::invalid(name, "a whole number"))
        };
        let (from, until) = (field(&form, "from"), field(&form, "until"));
        let working_hours = if from.trim().is_empty() && until.trim().is_empty() {
            None
        } else {
            let days = checked(&form, "days")
                .iter()
                .map(|d| d.parse::<u8>().map_err(|_| AppError::invalid("days", "days of the week")))
                .collect::<Result<_, _>>()?;
            Some(WorkingHoursInput { days, from, until })
        };
        let input = AlertSettingsInput {
            downloads: number("downloads")?,
            downloads_minutes: number("downloads_minutes")?,
            denials: number("denials")?,
            denials_minutes: number("denials_minutes")?,
            failing_accounts: number("failing_accounts")?,
            failing_minutes: number("failing_minutes")?,
            new_admin_source: field(&form, "new_admin_source") == "yes",
            working_hours,
        };
        incidents::set_alert_settings(&ctx, input).await
    }
    .await;
    match changed {
        Ok(_) => Redirect::to("/admin/incidents").into_response(),
        Err(error) => incidents_page(&ctx, &csrf, Some(error)).await,
    }
}

/// An alert, as a row of an incident's page.
struct AlertRow {
    raised: String,
    who: String,
    from: String,
    detail: String,
    mailed: String,
    entry: i64,
}

impl AlertRow {
    fn of(alert: AlertView, dates: &Dates) -> Self {
        let who = alert.who();
        let mailed = match (alert.mailed_at, alert.told_at) {
            (Some(at), _) => dates.moment(at),
            (None, Some(_)) => "with an earlier mail".to_owned(),
            (None, None) => "not yet".to_owned(),
        };
        Self {
            raised: dates.moment(alert.raised_at),
            who,
            from: alert.ip.unwrap_or_else(|| "unknown".to_owned()),
            detail: alert.detail,
            mailed,
            entry: alert.audit_seq,
        }
    }
}

/// A step or a notification, as a row.
struct EntryRow {
    at: String,
    kind: String,
    text: String,
}

/// An entry of the timeline, as a row.
struct TimelineRow {
    seq: i64,
    at: String,
    who: String,
    did: String,
    about: String,
    outcome: String,
    from: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    id: String,
    opened: String,
    summary: String,
    status: &'static str,
    statuses: Vec<(&'static str, bool)>,
    discovered: String,
    /// The stored time itself, to the millisecond: kept when the form leaves it as shown.
    discovered_exact: String,
    closed: Option<String>,
    clock: String,
    clock_overdue: bool,
    details: IncidentDetails,
    /// (code, words, ticked).
    categories: Vec<(&'static str, &'static str, bool)>,
    data_subjects: String,
    records: String,
    now: String,
    alerts: Vec<AlertRow>,
    steps: Vec<EntryRow>,
    notifications: Vec<EntryRow>,
    timeline: Vec<TimelineRow>,
    drafts: Drafts,
}

/// The clock in words: where the regulator's notification stands.
fn clock_words(clock: &NotificationClock, dates: &Dates) -> String {
    let at = |t: Option<time::OffsetDateTime>| t.map(|t| dates.moment(t)).unwrap_or_default();
    match clock.state {
        "not_started" => "Not started: the 72 hours run from confirmation.".to_owned(),
        "running" => {
            let left = clock.minutes_left.unwrap_or(0);
            format!(
                "{} h {:02} min left to tell the regulator (by {}).",
                left / 60,
                left % 60,
                at(clock.deadline)
            )
        }
        "overdue" => {
            let over = -clock.minutes_left.unwrap_or(0);
            format!(
                "Overdue by {} h {:02} min: the regulator was to be told by {}.",
                over / 60,
                over % 60,
                at(clock.deadline)
            )
        }
        "met" => format!("Met: the regulator was told on {}.", at(clock.regulator_notified_at)),
        "late" => format!(
            "Late: the regulator was told on {}, after the deadline of {}.",
            at(clock.regulator_notified_at),
            at(clock.deadline)
        ),
        _ => "Stopped: dismissed before the regulator was told.".to_owned(),
    }
}

async fn incident_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    id: Uuid,
    problem: Option<AppError>,
) -> Response {
    let loaded = async { Ok::<_, AppError>((incidents::get(ctx, id).await?, Dates::of(ctx).await?)) }.await;
    let (shown, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let entry_rows = |entries: Vec<EntryView>| {
        entries
            .into_iter()
            .map(|e| EntryRow { at: dates.moment(e.at), kind: e.kind.replace('_', " "), text: e.text })
            .collect()
    };
    let status = shown.incident.status;
    let problem = problem.map(Problem::from);
    let page = IncidentPage {
        signed_in: signed_in(&ctx.actor, csrf),
        problem: problem.as_ref().map(|p| p.message.clone()),
        id: id.to_string(),
        opened: dates.moment(shown.incident.opened_at),
        summary: shown.incident.summary,
        status,
        statuses: ["suspected", "confirmed", "contained", "closed", "dismissed"]
            .into_iter()
            .map(|s| (s, s == status))
            .collect(),
        discovered: dates.input(shown.discovered_at),
        discovered_exact: shown
            .discovered_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        closed: shown.closed_at.map(|t| dates.moment(t)),
        clock: clock_words(&shown.clock, &dates),
        clock_overdue: shown.clock.state == "overdue",
        categories: CATEGORIES
            .iter()
            .map(|(code, words)| (*code, *words, shown.details.categories.iter().any(|c| c == code)))
            .collect(),
        data_subjects: shown.details.data_subjects.map(|n| n.to_string()).unwrap_or_default(),
        records: shown.details.records.map(|n| n.to_string()).unwrap_or_default(),
        details: shown.details,
        now: dates.input(ctx.now()),
        alerts: shown.alerts.into_iter().map(|a| AlertRow::of(a, &dates)).collect(),
        steps: entry_rows(shown.steps),
        notifications: entry_rows(shown.notifications),
        timeline: shown
            .timeline
            .into_iter()
            .map(|e| TimelineRow {
                seq: e.seq,
                at: dates.precise(e.at),
                who: e.actor_email.unwrap_or(e.actor_kind),
                did: e.words,
                about: [e.resource_type, e.resource_id].into_iter().flatten().collect::<Vec<_>>().join(" "),
                outcome: e.outcome,
                from: e.ip.unwrap_or_default(),
            })
            .collect(),
        drafts: shown.drafts,
    };
    render_with(&page, problem.as_ref())
}

/// One incident: its record and the forms that keep it, the clock, its alerts, steps,
/// notifications, timeline and drafts.
pub async fn incident(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    incident_page(&ctx, &csrf, id, None).await
}

/// The discovery time the form gives: the stored one, to the millisecond, when the form left
/// it as it showed it (the form shows minutes, and a repeated hour of a clock change once).
fn discovered(dates: &Dates, form: &[(String, String)]) -> Result<time::OffsetDateTime, AppError> {
    let given = field(form, "discovered_at");
    let exact = time::OffsetDateTime::parse(
        &field(form, "discovered_exact"),
        &time::format_description::well_known::Rfc3339,
    );
    match exact {
        Ok(exact) if dates.input(exact) == given.trim() => Ok(exact),
        _ => dates.read_input("discovered_at", &given),
    }
}

fn optional_count(field: &'static str, text: &str) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| AppError::invalid(field, "a whole number, or empty while unknown"))
}

/// Records the incident from the form on its page.
pub async fn record_incident(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    body: axum::body::Bytes,
) -> Response {
    let form = fields(&body);
    let recorded = async {
        let dates = Dates::of(&ctx).await?;
        let record = IncidentRecord {
            summary: field(&form, "summary"),
            status: field(&form, "status"),
            discovered_at: discovered(&dates, &form)?,
            details: IncidentDetails {
                what_happened: field(&form, "what_happened"),
                categories: checked(&form, "categories"),
                data_subjects: optional_count("data_subjects", &field(&form, "data_subjects"))?,
                records: optional_count("records", &field(&form, "records"))?,
                consequences: field(&form, "consequences"),
                unauthorised_person: field(&form, "unauthorised_person"),
                recommendations: field(&form, "recommendations"),
            },
        };
        incidents::record(&ctx, id, record).await
    }
    .await;
    match recorded {
        Ok(_) => Redirect::to(&format!("/admin/incidents/{id}")).into_response(),
        Err(error) => incident_page(&ctx, &csrf, id, Some(error)).await,
    }
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    text: String,
}

/// Adds a step, or a notification, from the forms on the incident's page.
async fn add_entry(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    id: Uuid,
    form: EntryForm,
    step: bool,
) -> Response {
    let added = async {
        let at = Dates::of(ctx).await?.read_input(if step { "taken_at" } else { "notified_at" }, &form.at)?;
        if step {
            incidents::add_step(ctx, id, NewStep { kind: form.kind, taken_at: at, text: form.text }).await
        } else {
            incidents::add_notification(
                ctx,
                id,
                NewNotification { recipient: form.kind, notified_at: at, detail: form.text },
            )
            .await
        }
    }
    .await;
    match added {
        Ok(_) => Redirect::to(&format!("/admin/incidents/{id}")).into_response(),
        Err(error) => incident_page(ctx, csrf, id, Some(error)).await,
    }
}

pub async fn add_incident_step(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<EntryForm>,
) -> Response {
    add_entry(&ctx, &csrf, id, form, true).await
}

pub async fn add_incident_notification(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<EntryForm>,
) -> Response {
    add_entry(&ctx, &csrf, id, form, false).await
}

#[derive(Deserialize)]
pub struct NewIncidentForm {
    #[serde(default)]
    summary: String,
}

/// Opens an incident by hand from the register's page.
pub async fn open_incident(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<NewIncidentForm>,
) -> Response {
    match incidents::open(&ctx, NewIncident { summary: form.summary, discovered_at: None }).await {
        Ok(view) => Redirect::to(&format!("/admin/incidents/{}", view.incident.id)).into_response(),
        Err(error) => incidents_page(&ctx, &csrf, Some(error)).await,
    }
}
