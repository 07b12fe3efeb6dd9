//! Breach detection and response. The watcher (a recurring job, every few seconds) reads
//! each firm's audit log from where it last stopped: every touch of data is on the record,
//! so a touch of a decoy is found there whatever way it came (a page, the API, a refused
//! probe, a sign-in attempt, a presented token, an operator's support session). Each finding
//! raises an alert that opens an incident (or joins the one the same actor's alert opened)
//! and is mailed to the administrators and the Information Officer.
//!
//! The register of incidents is read by administrators and audit officers.

use std::collections::BTreeMap;

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_mail::Mailer;
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::incidents::{
    self, Alert, AlertSettings, Incident, Raising, Tripper, WorkingHours,
};
use ringfence_store::firm::{decoys, preferences};
use ringfence_store::{FirmStore, Storage};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::termination::tell_admins_of;
use super::{AppError, Ctx};
use rules::AlertKind;

/// Entries the watcher reads per transaction.
const BATCH: i64 = 500;
/// An alert of the same kind for the same actor within this long joins the incident the
/// first one opened.
const SAME_INCIDENT: Duration = Duration::hours(24);
/// Within this long of a mailed alert, another of its incident is added to it unmailed: an
/// intruder browsing decoys must not bury the administrators in mail.
const QUIET_AFTER_MAIL: Duration = Duration::minutes(15);

const WATCHING: Principal = Principal::System(SystemTask::Watch);

fn system_entry(action: AuditAction, resource: (&'static str, String), now: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: AuditActor::System,
        action,
        resource_type: Some(resource.0),
        resource_id: Some(resource.1),
        matter_id: None,
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}

/// One round of watching one firm: raises the alerts its new entries call for, then mails
/// those not yet mailed. Returns how many alerts it raised.
pub async fn watch(
    storage: &Storage,
    mailer: &Mailer,
    public_url: Option<&str>,
    firm: FirmId,
    now: OffsetDateTime,
) -> Result<usize, AppError> {
    let store = storage.firm(firm).await?;
    // What this server queued (a refused sign-in's entry) is read with the rest.
    store.flush_audit().await?;
    let mut raised = 0;
    loop {
        // A look first, that takes no lock: most rounds find nothing new.
        let mut tx = store.begin_read(&WATCHING).await?;
        let (read, head) = (incidents::position(&mut tx).await?, audit_log::last_seq(&mut tx).await?);
        tx.commit().await?;
        if head <= read {
            break;
        }
        let mut tx = store.begin(&WATCHING).await?;
        let from = incidents::watched(&mut tx).await?;
        let entries = audit_log::after(&mut tx, from, BATCH).await?;
        let Some(last) = entries.last().map(|(entry, _)| entry.seq) else {
            tx.commit().await?;
            break;
        };
        let mut watcher = rules::Watcher::load(&mut tx).await?;
        for (entry, _) in &entries {
            watcher.examine(&mut tx, entry).await?;
        }
        for (kind, tripper, finding) in watcher.findings(&mut tx, now).await? {
            raise(&mut tx, kind, &tripper, &finding, now).await?;
            raised += 1;
        }
        incidents::set_watched(&mut tx, last).await?;
        tx.commit().await?;
        if (entries.len() as i64) < BATCH {
            break;
        }
    }
    mail_alerts(&store, mailer, public_url, now).await?;
    Ok(raised)
}

/// Raises one alert, opening an incident for it unless the same actor's alert of the same
/// kind opened one lately that is still open.
async fn raise(
    tx: &mut ringfence_store::FirmTx,
    kind: AlertKind,
    tripper: &Tripper,
    finding: &rules::Finding,
    now: OffsetDateTime,
) -> Result<Uuid, AppError> {
    let detail = finding.touched.iter().cloned().collect::<Vec<_>>().join("\n");
    let incident = match incidents::joinable(tx, kind.as_str(), tripper, now - SAME_INCIDENT).await? {
        Some(open) => open,
        None => {
            let who = tripper.actor_email.as_deref().unwrap_or(&tripper.actor_kind);
            let from = tripper.ip.as_deref().unwrap_or("an unknown address");
            let summary =
                format!("{}: by {who} from {from}", ringfence_core::words::capitalised(kind.headline()));
            let opened = incidents::open(tx, &summary, None, now).await?;
            audit_log::append(
                tx,
                &system_entry(AuditAction::IncidentOpened, ("incident", opened.to_string()), now),
            )
            .await?;
            opened
        }
    };
    let raising = Raising {
        kind: kind.as_str(),
        audit_seq: finding.seq,
        tripper,
        detail: &detail,
        incident,
        at: now.max(finding.at),
    };
    let alert = incidents::raise(tx, &raising).await?;
    audit_log::append(tx, &system_entry(AuditAction::AlertRaised, ("alert", alert.to_string()), now)).await?;
    Ok(alert)
}

/// Mails every alert not yet mailed to the administrators and the Information Officer, and
/// marks it mailed; an alert within [`QUIET_AFTER_MAIL`] of one of its incident mailed
/// before is marked without a mail of its own.
async fn mail_alerts(
    store: &FirmStore,
    mailer: &Mailer,
    public_url: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let mut tx = store.begin_read(&WATCHING).await?;
    let waiting = incidents::untold(&mut tx).await?;
    let zone = preferences::time_zone(&mut tx).await?;
    let decoys = if waiting.is_empty() { Default::default() } else { decoys::tripwire_set(&mut tx).await? };
    tx.commit().await?;
    let mut last_mailed: BTreeMap<Uuid, OffsetDateTime> = BTreeMap::new();
    for alert in waiting {
        let quiet = match last_mailed.get(&alert.incident) {
            Some(at) => *at,
            None => {
                let mut tx = store.begin_read(&WATCHING).await?;
                let mailed = incidents::last_mailed(&mut tx, alert.incident).await?;
                tx.commit().await?;
                mailed.unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }
        };
        let mut tx_entries = Vec::new();
        let mails = alert.raised_at - quiet >= QUIET_AFTER_MAIL;
        if mails {
            let (subject, body) = alert_mail(&alert, &zone.in_words(alert.raised_at), public_url, &decoys);
            let notices = tell_admins_of(store, mailer, &subject, &body).await?;
            if notices.sent.is_empty() && !notices.failed.is_empty() {
                // Nobody could be told: the alert stays unmailed, and the job is retried.
                return Err(AppError::unavailable(
                    "mail",
                    format!(
                        "no administrator could be mailed a security alert: {}",
                        notices
                            .failed
                            .iter()
                            .map(|(to, why)| format!("{to}: {why}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ));
            }
            last_mailed.insert(alert.incident, now);
            tx_entries.push(system_entry(AuditAction::AlertMailed, ("alert", alert.id.to_string()), now));
        }
        let mut tx = store.begin(&WATCHING).await?;
        incidents::mark_told(&mut tx, alert.id, now, mails).await?;
        for entry in &tx_entries {
            audit_log::append(&mut tx, entry).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

fn alert_mail(
    alert: &Alert,
    when: &str,
    public_url: Option<&str>,
    decoys: &std::collections::BTreeSet<String>,
) -> (String, String) {
    let kind = AlertKind::parse(&alert.kind);
    let decoy_account = alert.tripper.actor_id.as_ref().is_some_and(|id| decoys.contains(id));
    let t = &alert.tripper;
    // Someone trying a decoy's account is named by it in the log: the mail names neither.
    let who = if decoy_account {
        "someone using a decoy's account".to_owned()
    } else {
        who(&t.actor_kind, t.actor_id.as_deref(), t.actor_email.as_deref())
    };
    let from = alert.tripper.ip.as_deref().unwrap_or("an unknown address");
    // Which records are decoys is for administrators and audit officers alone, and mail
    // crosses other hands: the incident's page says what was touched.
    let detail = match kind {
        AlertKind::Decoy => "one of the firm's decoys; what and how is on the incident's page".to_owned(),
        _ => alert.detail.clone(),
    };
    let link = public_url
        .map_or_else(String::new, |url| format!("\n\nReview it at {url}/admin/incidents/{}", alert.incident));
    let subject = format!("Ringfence security alert: {}", kind.headline());
    let body = format!(
        "Ringfence raised a security alert: {headline}. {why}\n\nWhat: {detail}\nWho: {who}\nFrom: {from}\nWhen: {when}\n\nThe alert is on incident {incident}. Further alerts of this incident in the next {quiet} minutes are added to it without a mail of their own.{link}\n",
        headline = kind.headline(),
        why = kind.why(),
        incident = alert.incident,
        quiet = QUIET_AFTER_MAIL.whole_minutes(),
    );
    (subject, body)
}

/// Who an alert names, in words: the actor's address and kind, or its kind and id.
fn who(kind: &str, id: Option<&str>, email: Option<&str>) -> String {
    match (email, id) {
        (Some(email), _) => format!("{email} ({kind})"),
        (None, Some(id)) => format!("{kind} {id}"),
        (None, None) => kind.to_owned(),
    }
}

/// An alert, as the register shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertView {
    pub id: Uuid,
    /// What raised it: `decoy`.
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
    /// The audit entry that tripped it.
    pub audit_seq: i64,
    /// The kind of actor the entry names (`user`, `anonymous`, `support`…).
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    /// The source address.
    pub ip: Option<String>,
    /// What was touched, and how.
    pub detail: String,
    /// When the administrators were told of it: by its own mail, or with an earlier mail of
    /// its incident (then `mailed_at` is `null`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub told_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub mailed_at: Option<OffsetDateTime>,
}

impl AlertView {
    /// Who it names, in words.
    pub fn who(&self) -> String {
        who(&self.actor_kind, self.actor_id.as_deref(), self.actor_email.as_deref())
    }
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> Self {
        Self {
            id: alert.id,
            kind: alert.kind,
            raised_at: alert.raised_at,
            audit_seq: alert.audit_seq,
            actor_kind: alert.tripper.actor_kind,
            actor_id: alert.tripper.actor_id,
            actor_email: alert.tripper.actor_email,
            ip: alert.tripper.ip,
            detail: alert.detail,
            told_at: alert.told_at,
            mailed_at: alert.mailed_at,
        }
    }
}

/// An incident, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// Who opened it; `null` when an alert did.
    #[schema(value_type = Option<Uuid>)]
    pub opened_by: Option<UserId>,
    pub summary: String,
    /// `suspected`, `confirmed`, `contained`, `closed` or `dismissed`.
    pub status: &'static str,
}

impl From<Incident> for IncidentSummary {
    fn from(incident: Incident) -> Self {
        Self {
            id: incident.id,
            opened_at: incident.opened_at,
            opened_by: incident.opened_by,
            summary: incident.summary,
            status: incident.status.as_str(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentList {
    pub items: Vec<IncidentSummary>,
}

/// The firm's incidents, the newest first; the reading is recorded.
pub async fn list(ctx: &Ctx) -> Result<IncidentList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let items = incidents::list(&mut tx).await?.into_iter().map(IncidentSummary::from).collect();
    ctx.record_read(tx, AuditAction::IncidentsViewed, Some(("firm", ctx.actor.firm.to_string()))).await?;
    Ok(IncidentList { items })
}

/// The register's report of an incident, as Markdown; the export is recorded.
pub async fn report(ctx: &Ctx, id: Uuid) -> Result<String, AppError> {
    let view = register::get(ctx, id).await?;
    let mut tx = ctx.actor.begin_read().await?;
    let zone = preferences::time_zone(&mut tx).await?;
    ctx.record_read(tx, AuditAction::IncidentExported, Some(("incident", id.to_string()))).await?;
    Ok(report::markdown(ctx.actor.firm_name.as_str(), &view, &zone, ctx.now()))
}

mod register;
mod report;
mod rules;

pub use register::{
    CATEGORIES, Drafts, EntryView, IncidentDetails, IncidentRecord, IncidentView, NewIncident,
    NewNotification, NewStep, NotificationClock, TimelineEntry, add_notification, add_step, get, open,
    record,
};

/// When the firm works, in its own time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WorkingHoursInput {
    /// ISO weekdays: 1 (Monday) to 7 (Sunday), at least one.
    pub days: Vec<u8>,
    /// `HH:MM`, local time: work starts.
    pub from: String,
    /// `HH:MM`, local time, after `from`: work ends.
    pub until: String,
}

/// The firm's thresholds for alerts on access out of the ordinary.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AlertSettingsInput {
    /// Documents or exports one person may download within `downloads_minutes` before an
    /// alert: 1 to 100000.
    pub downloads: i64,
    /// 1 to 1440.
    pub downloads_minutes: i64,
    /// Requests refused to one person within `denials_minutes` before an alert.
    pub denials: i64,
    pub denials_minutes: i64,
    /// Accounts failing to sign in from one address within `failing_minutes` before an alert.
    pub failing_accounts: i64,
    pub failing_minutes: i64,
    /// Whether an administrator's sign-in from a new device or address raises an alert.
    pub new_admin_source: bool,
    /// `null`: no hour is out of the ordinary.
    pub working_hours: Option<WorkingHoursInput>,
}

fn clock_time(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn minutes_of(field: &'static str, text: &str) -> Result<i64, AppError> {
    let bad = || AppError::invalid(field, "a time as HH:MM, from 00:00 to 24:00");
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
    let (hours, minutes): (i64, i64) =
        (hours.parse().map_err(|_| bad())?, minutes.parse().map_err(|_| bad())?);
    if hours.is_negative() || !(0..60).contains(&minutes) || hours * 60 + minutes > 24 * 60 || hours > 24 {
        return Err(bad());
    }
    Ok(hours * 60 + minutes)
}

impl From<AlertSettings> for AlertSettingsInput {
    fn from(s: AlertSettings) -> Self {
        Self {
            downloads: s.downloads,
            downloads_minutes: s.downloads_minutes,
            denials: s.denials,
            denials_minutes: s.denials_minutes,
            failing_accounts: s.failing_accounts,
            failing_minutes: s.failing_minutes,
            new_admin_source: s.new_admin_source,
            working_hours: s.working_hours.map(|h| WorkingHoursInput {
                days: h.days,
                from: clock_time(h.from),
                until: clock_time(h.until),
            }),
        }
    }
}

impl AlertSettingsInput {
    fn parse(&self) -> Result<AlertSettings, AppError> {
        let count = |field: &'static str, value: i64| {
            if (1..=100_000).contains(&value) {
                Ok(value)
            } else {
                Err(AppError::invalid(field, "1 to 100000"))
            }
        };
        let minutes = |field: &'static str, value: i64| {
            if (1..=1440).contains(&value) {
                Ok(value)
            } else {
                Err(AppError::invalid(field, "1 to 1440 minutes"))
            }
        };
        let working_hours = match &self.working_hours {
            None => None,
            Some(hours) => {
                let mut days = hours.days.clone();
                days.sort_unstable();
                days.dedup();
                if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
                    return Err(AppError::invalid("days", "one or more of 1 (Monday) to 7 (Sunday)"));
                }
                let (from, until) = (minutes_of("from", &hours.from)?, minutes_of("until", &hours.until)?);
                if from >= until {
                    return Err(AppError::invalid("until", "after the time work starts"));
                }
                Some(WorkingHours { days, from, until })
            }
        };
        Ok(AlertSettings {
            downloads: count("downloads", self.downloads)?,
            downloads_minutes: minutes("downloads_minutes", self.downloads_minutes)?,
            denials: count("denials", self.denials)?,
            denials_minutes: minutes("denials_minutes", self.denials_minutes)?,
            failing_accounts: count("failing_accounts", self.failing_accounts)?,
            failing_minutes: minutes("failing_minutes", self.failing_minutes)?,
            new_admin_source: self.new_admin_source,
            working_hours,
        })
    }
}

/// The firm's thresholds (the defaults until an administrator changes them); the reading is
/// recorded.
pub async fn alert_settings(ctx: &Ctx) -> Result<AlertSettingsInput, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let settings = incidents::settings(&mut tx).await?;
    ctx.record_read(tx, AuditAction::AlertSettingsViewed, Some(("firm", ctx.actor.firm.to_string()))).await?;
    Ok(settings.into())
}

/// Changes the firm's thresholds, all at once.
pub async fn set_alert_settings(
    ctx: &Ctx,
    input: AlertSettingsInput,
) -> Result<AlertSettingsInput, AppError> {
    let settings = input.parse()?;
    let mut tx = ctx.actor.begin().await?;
    incidents::set_settings(&mut tx, &settings).await?;
    ctx.record(&mut tx, AuditAction::AlertSettingsChanged, Some(("firm", ctx.actor.firm.to_string())))
        .await?;
    tx.commit().await?;
    Ok(settings.into())
}
