//! For administrators and audit officers: the firm's decoys with the forms that plant them,
//! and the register of incidents with each one's alerts.

use super::*;
use crate::app::decoys::{self, NewDecoyCredential, NewDecoyMatter, NewDecoyUser};
use crate::app::incidents::{self, AlertSettingsInput, AlertView, WorkingHoursInput};
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
        let who = match (&alert.actor_email, &alert.actor_id) {
            (Some(email), _) => format!("{email} ({})", alert.actor_kind),
            (None, Some(id)) => format!("{} {id}", alert.actor_kind),
            (None, None) => alert.actor_kind.clone(),
        };
        Self {
            raised: dates.moment(alert.raised_at),
            who,
            from: alert.ip.unwrap_or_else(|| "unknown".to_owned()),
            detail: alert.detail,
            mailed: alert.mailed_at.map(|t| dates.moment(t)).unwrap_or_else(|| "not yet".to_owned()),
            entry: alert.audit_seq,
        }
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    signed_in: Option<SignedInUser>,
    opened: String,
    summary: String,
    status: &'static str,
    alerts: Vec<AlertRow>,
}

/// One incident with the alerts that raised it.
pub async fn incident(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let loaded = async { Ok::<_, AppError>((incidents::get(&ctx, id).await?, Dates::of(&ctx).await?)) }.await;
    let (shown, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, &csrf)),
    };
    let page = IncidentPage {
        signed_in: signed_in(&ctx.actor, &csrf),
        opened: dates.moment(shown.incident.opened_at),
        summary: shown.incident.summary,
        status: shown.incident.status,
        alerts: shown.alerts.into_iter().map(|a| AlertRow::of(a, &dates)).collect(),
    };
    render(&page, StatusCode::OK)
}
