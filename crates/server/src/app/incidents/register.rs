//! The register of incidents: what happened and to whom, the steps taken to contain and
//! remedy it, who was notified and when, the clock from confirmation to the 72-hour
//! deadline for notifying the regulator (GDPR art. 33; POPIA s 22 asks for "as soon as
//! reasonably possible"), a timeline from the log of the actors involved, and drafts of the
//! notifications to the regulator and to data subjects with the fields POPIA s 22 requires.
//! Read and kept by administrators and audit officers; every change audited.

use std::collections::BTreeSet;

use ringfence_core::audit::{AuditAction, StoredAuditEntry, words_for};
use ringfence_core::ids::UserId;
use ringfence_store::FirmTx;
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::incidents::{self, Addition, Entry, Incident, IncidentStatus, Listed, Recorded};
use ringfence_store::firm::{preferences, users};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AlertView, IncidentSummary};
use crate::app::{AppError, Ctx};

/// The time the regulator must be told within, from confirmation.
pub const NOTIFY_WITHIN: Duration = Duration::hours(72);
/// Entries of a timeline, at most.
const TIMELINE: i64 = 500;
/// How far before its discovery an incident's timeline reaches.
const TIMELINE_BEFORE: Duration = Duration::hours(24);
/// Around its alerts' entries, how many entries are searched for those from an address.
const TIMELINE_AROUND: i64 = 5_000;
const MAX_TEXT: usize = 10_000;

/// The categories of personal information a breach may touch (POPIA s 1, its special
/// personal information in s 26, children's in s 34).
pub const CATEGORIES: [(&str, &str); 10] = [
    ("identity", "names and identity numbers"),
    ("contact", "contact details"),
    ("financial", "financial and account information"),
    ("health", "health information"),
    ("special", "special personal information (religion, race, political persuasion, sex life, biometrics)"),
    ("criminal", "criminal behaviour and proceedings"),
    ("children", "children's information"),
    ("privileged", "privileged communications and legal advice"),
    ("credentials", "passwords and sign-in details"),
    ("other", "other personal information"),
];

/// What the register records of an incident beyond its summary and status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IncidentDetails {
    /// What happened, as far as is known.
    #[serde(default)]
    pub what_happened: String,
    /// Of `identity`, `contact`, `financial`, `health`, `special`, `criminal`, `children`,
    /// `privileged`, `credentials`, `other`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// About how many data subjects are affected; `null` while unknown.
    #[serde(default)]
    pub data_subjects: Option<i64>,
    /// About how many records are affected; `null` while unknown.
    #[serde(default)]
    pub records: Option<i64>,
    /// Its likely consequences for the data subjects.
    #[serde(default)]
    pub consequences: String,
    /// Who had the information without authority, if known.
    #[serde(default)]
    pub unauthorised_person: String,
    /// What data subjects should do to protect themselves.
    #[serde(default)]
    pub recommendations: String,
}

/// An incident opened by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// 1 to 500 characters.
    pub summary: String,
    /// When it was discovered; now, when not given.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub discovered_at: Option<OffsetDateTime>,
}

/// The register's record of an incident, all of it at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentRecord {
    /// 1 to 500 characters.
    pub summary: String,
    /// `suspected`, `confirmed` (the clock starts), `contained`, `closed` or `dismissed`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub discovered_at: OffsetDateTime,
    pub details: IncidentDetails,
}

/// A step taken to contain or remedy an incident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStep {
    /// `containment` or `remedial`.
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub taken_at: OffsetDateTime,
    /// What was done: 1 to 10000 characters.
    pub text: String,
}

/// A notification of an incident.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotification {
    /// `regulator` (the Information Regulator), `data_subjects`, `supervisory_authority` or
    /// `other`.
    pub recipient: String,
    #[serde(with = "time::serde::rfc3339")]
    pub notified_at: OffsetDateTime,
    /// How, and any reference given: 1 to 10000 characters.
    pub detail: String,
}

/// A step or a notification, as the register lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryView {
    pub id: Uuid,
    /// The step's kind, or whom was notified.
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub text: String,
    #[schema(value_type = Uuid)]
    pub recorded_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

impl From<Entry> for EntryView {
    fn from(e: Entry) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            at: e.at,
            text: e.text,
            recorded_by: e.recorded_by,
            recorded_at: e.recorded_at,
        }
    }
}

/// Where the regulator's notification stands against the clock.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct NotificationClock {
    /// `not_started` (not confirmed), `running`, `overdue`, `met` (told in time), `late`
    /// (told after the deadline), or `stopped` (dismissed before anyone was told).
    pub state: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
    /// 72 hours after confirmation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub regulator_notified_at: Option<OffsetDateTime>,
    /// Minutes left until the deadline while it runs; negative when overdue.
    pub minutes_left: Option<i64>,
}

impl NotificationClock {
    fn of(incident: &Incident, notifications: &[Entry], now: OffsetDateTime) -> Self {
        let told = notifications.iter().filter(|n| n.kind == "regulator").map(|n| n.at).min();
        let deadline = incident.confirmed_at.map(|at| at + NOTIFY_WITHIN);
        let (state, minutes_left) = match (deadline, told) {
            (None, _) => ("not_started", None),
            (Some(deadline), Some(told)) => (if told <= deadline { "met" } else { "late" }, None),
            (Some(_), None) if incident.status == IncidentStatus::Dismissed => ("stopped", None),
            (Some(deadline), None) => {
                // In whole seconds: the store keeps times to the millisecond.
                let left = deadline.unix_timestamp() - now.unix_timestamp();
                (if left >= 0 { "running" } else { "overdue" }, Some(left.div_euclid(60)))
            }
        };
        Self {
            state,
            confirmed_at: incident.confirmed_at,
            deadline,
            regulator_notified_at: told,
            minutes_left,
        }
    }
}

/// An entry of an incident's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_kind: String,
    pub actor_email: Option<String>,
    pub action: String,
    /// The action in words.
    pub words: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub matter_id: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
}

impl From<StoredAuditEntry> for TimelineEntry {
    fn from(e: StoredAuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            words: words_for(&e.action).to_owned(),
            actor_kind: e.actor_kind,
            actor_email: e.actor_email,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            matter_id: e.matter_id,
            outcome: e.outcome,
            ip: e.ip,
        }
    }
}

/// Drafts of the notifications, to edit and send.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Drafts {
    /// To the Information Regulator (POPIA s 22(1)(a), with the content of s 22(5)).
    pub regulator: String,
    /// To each data subject (POPIA s 22(1)(b), 22(4) and 22(5)).
    pub data_subjects: String,
}

/// One incident, all the register holds of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentView {
    pub incident: IncidentSummary,
    #[serde(with = "time::serde::rfc3339")]
    pub discovered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    pub details: IncidentDetails,
    pub clock: NotificationClock,
    pub alerts: Vec<AlertView>,
    pub steps: Vec<EntryView>,
    pub notifications: Vec<EntryView>,
    /// The log entries of the actors its alerts name, from a day before its discovery.
    pub timeline: Vec<TimelineEntry>,
    pub drafts: Drafts,
}

fn text(field: &'static str, raw: &str, max: usize, required: bool) -> Result<String, AppError> {
    // A browser sends a textarea's line breaks as CRLF: counted once each.
    let raw = raw.replace("\r\n", "\n");
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(AppError::invalid(field, format!("1 to {max} characters")));
    }
    if text.chars().count() > max {
        return Err(AppError::invalid(field, format!("at most {max} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(AppError::invalid(field, "no control characters but line breaks"));
    }
    Ok(text.to_owned())
}

fn not_after(
    field: &'static str,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, AppError> {
    if at > now + Duration::minutes(5) {
        return Err(AppError::invalid(field, "not in the future"));
    }
    if at.year() < 2000 {
        return Err(AppError::invalid(field, "a time this century"));
    }
    Ok(at)
}

impl IncidentDetails {
    fn checked(&self) -> Result<Self, AppError> {
        let known: BTreeSet<&str> = CATEGORIES.iter().map(|(code, _)| *code).collect();
        let mut categories = self.categories.clone();
        categories.sort();
        categories.dedup();
        if let Some(unknown) = categories.iter().find(|c| !known.contains(c.as_str())) {
            return Err(AppError::invalid("categories", format!("`{unknown}` is not one of the categories")));
        }
        let count = |field: &'static str, n: Option<i64>| match n {
            Some(n) if !(0..=1_000_000_000_000).contains(&n) => Err(AppError::invalid(field, "0 or more")),
            n => Ok(n),
        };
        Ok(Self {
            what_happened: text("what_happened", &self.what_happened, MAX_TEXT, false)?,
            categories,
            data_subjects: count("data_subjects", self.data_subjects)?,
            records: count("records", self.records)?,
            consequences: text("consequences", &self.consequences, MAX_TEXT, false)?,
            unauthorised_person: text("unauthorised_person", &self.unauthorised_person, 2_000, false)?,
            recommendations: text("recommendations", &self.recommendations, MAX_TEXT, false)?,
        })
    }
}

/// Opens an incident by hand (an alert opens one by itself).
pub async fn open(ctx: &Ctx, input: NewIncident) -> Result<IncidentView, AppError> {
    let summary = text("summary", &input.summary, 500, true)?;
    let now = ctx.now();
    let discovered = not_after("discovered_at", input.discovered_at.unwrap_or(now), now)?;
    let mut tx = ctx.actor.begin().await?;
    let id = incidents::open(&mut tx, &summary, Some(ctx.actor.user), now).await?;
    let recorded = Recorded {
        summary: &summary,
        status: IncidentStatus::Suspected,
        discovered_at: discovered,
        confirmed_at: None,
        closed_at: None,
        details: &serde_json::to_string(&IncidentDetails::default()).map_err(AppError::internal)?,
    };
    incidents::record(&mut tx, id, &recorded).await?;
    ctx.record(&mut tx, AuditAction::IncidentOpened, Some(("incident", id.to_string()))).await?;
    tx.commit().await?;
    changed(ctx, id).await
}

/// Records what the register holds of an incident. Confirming it starts the clock (once:
/// a later change of status does not move it); closing or dismissing it records when, and
/// opening it again clears that.
pub async fn record(ctx: &Ctx, id: Uuid, input: IncidentRecord) -> Result<IncidentView, AppError> {
    let summary = text("summary", &input.summary, 500, true)?;
    let status = IncidentStatus::parse(input.status.trim())
        .ok_or_else(|| AppError::invalid("status", "suspected, confirmed, contained, closed or dismissed"))?;
    let now = ctx.now();
    let discovered = not_after("discovered_at", input.discovered_at, now)?;
    let details = input.details.checked()?;
    let mut tx = ctx.actor.begin().await?;
    let (incident, _) = incidents::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    // Only a confirmation starts the clock: an incident closed unconfirmed has none.
    let confirmed_at = match status {
        IncidentStatus::Confirmed => Some(incident.confirmed_at.unwrap_or(now)),
        _ => incident.confirmed_at,
    };
    let closed_at = (!status.is_open()).then(|| incident.closed_at.unwrap_or(now));
    let recorded = Recorded {
        summary: &summary,
        status,
        discovered_at: discovered,
        confirmed_at,
        closed_at,
        details: &serde_json::to_string(&details).map_err(AppError::internal)?,
    };
    incidents::record(&mut tx, id, &recorded).await?;
    ctx.record(&mut tx, AuditAction::IncidentRecorded, Some(("incident", id.to_string()))).await?;
    if incident.status != status {
        ctx.record(
            &mut tx,
            AuditAction::IncidentStatusChanged,
            Some(("incident", format!("{id}#{}", status.as_str()))),
        )
        .await?;
    }
    tx.commit().await?;
    changed(ctx, id).await
}

/// Adds a containment or remedial step.
pub async fn add_step(ctx: &Ctx, id: Uuid, input: NewStep) -> Result<IncidentView, AppError> {
    let kind = match input.kind.trim() {
        kind @ ("containment" | "remedial") => kind.to_owned(),
        _ => return Err(AppError::invalid("kind", "containment or remedial")),
    };
    let words = text("text", &input.text, MAX_TEXT, true)?;
    let at = not_after("taken_at", input.taken_at, ctx.now())?;
    add(ctx, id, Listed::Steps, &kind, at, &words, AuditAction::IncidentStepAdded).await
}

/// Records a notification of the incident.
pub async fn add_notification(ctx: &Ctx, id: Uuid, input: NewNotification) -> Result<IncidentView, AppError> {
    let recipient = match input.recipient.trim() {
        r @ ("regulator" | "data_subjects" | "supervisory_authority" | "other") => r.to_owned(),
        _ => {
            return Err(AppError::invalid(
                "recipient",
                "regulator, data_subjects, supervisory_authority or other",
            ));
        }
    };
    let words = text("detail", &input.detail, MAX_TEXT, true)?;
    let at = not_after("notified_at", input.notified_at, ctx.now())?;
    add(ctx, id, Listed::Notifications, &recipient, at, &words, AuditAction::IncidentNotificationRecorded)
        .await
}

async fn add(
    ctx: &Ctx,
    id: Uuid,
    listed: Listed,
    kind: &str,
    at: OffsetDateTime,
    words: &str,
    action: AuditAction,
) -> Result<IncidentView, AppError> {
    let mut tx = ctx.actor.begin().await?;
    let (incident, _) = incidents::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if at < incident.discovered_at - Duration::minutes(1) {
        let field = if listed == Listed::Steps { "taken_at" } else { "notified_at" };
        return Err(AppError::invalid(field, "not before the incident was discovered"));
    }
    let addition = Addition { incident: id, kind, at, text: words, by: ctx.actor.user, now: ctx.now() };
    let added = incidents::add(&mut tx, listed, &addition).await?;
    ctx.record(&mut tx, action, Some(("incident", format!("{id}#{added}")))).await?;
    tx.commit().await?;
    changed(ctx, id).await
}

/// The incident as a change left it, for the answer to the change (whose entry records it),
/// read after the change's commit: a view reads the log, and must not hold the writer.
async fn changed(ctx: &Ctx, id: Uuid) -> Result<IncidentView, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let view = view(ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// One incident, all of it; the reading is recorded.
pub async fn get(ctx: &Ctx, id: Uuid) -> Result<IncidentView, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let view = view(ctx, &mut tx, id).await?;
    ctx.record_read(tx, AuditAction::IncidentViewed, Some(("incident", id.to_string()))).await?;
    Ok(view)
}

async fn view(ctx: &Ctx, tx: &mut FirmTx, id: Uuid) -> Result<IncidentView, AppError> {
    let (incident, alerts) = incidents::get(tx, id).await?.ok_or(AppError::NotFound)?;
    let steps = incidents::entries(tx, Listed::Steps, id).await?;
    let notifications = incidents::entries(tx, Listed::Notifications, id).await?;
    let details: IncidentDetails = match &incident.details {
        Some(json) => serde_json::from_str(json).map_err(AppError::internal)?,
        None => IncidentDetails::default(),
    };
    // The timeline: the entries of each actor the alerts name, and those from the address
    // of each one not signed in, from a day before the discovery to the close.
    let (from, until) = (incident.discovered_at - TIMELINE_BEFORE, incident.closed_at.unwrap_or(ctx.now()));
    let mut timeline = Vec::new();
    let actors: BTreeSet<&str> = alerts.iter().filter_map(|a| a.tripper.actor_id.as_deref()).collect();
    for actor in actors {
        timeline.extend(audit_log::of_actor(tx, actor, from, until, TIMELINE).await?);
    }
    // Someone not signed in is known by address: each address once, around its alerts.
    let mut addresses: std::collections::BTreeMap<&str, (i64, i64)> = std::collections::BTreeMap::new();
    for alert in alerts.iter().filter(|a| a.tripper.actor_id.is_none()) {
        if let Some(ip) = alert.tripper.ip.as_deref() {
            let span = addresses.entry(ip).or_insert((alert.audit_seq, alert.audit_seq));
            *span = (span.0.min(alert.audit_seq), span.1.max(alert.audit_seq));
        }
    }
    for (ip, (first, last)) in addresses {
        let around = (first - TIMELINE_AROUND)..=(last + TIMELINE_AROUND);
        let found = audit_log::from_address(tx, ip, around, TIMELINE).await?;
        // Only what was done unsigned in: colleagues behind the same address are not in it.
        timeline.extend(found.into_iter().filter(|e| e.actor_id.is_none()));
    }
    // Nothing of a matter or client the reader is walled from, as in the log's own pages.
    let screens = ctx.actor.store.screens_of(ctx.actor.user).await?;
    let walled: BTreeSet<&str> = screens.matters.iter().chain(&screens.clients).map(String::as_str).collect();
    timeline.retain(|e| {
        let mut named = e.matter_id.iter().chain(&e.resource_id).flat_map(|id| id.split('#'));
        !named.any(|id| walled.contains(id))
    });
    timeline.sort_by_key(|e| e.seq);
    timeline.dedup_by_key(|e| e.seq);
    // The newest, nearest the incident, when there are more.
    let keep = usize::try_from(TIMELINE).unwrap_or(500);
    if timeline.len() > keep {
        timeline.drain(..timeline.len() - keep);
    }
    let officer = match preferences::information_officer(tx).await? {
        Some(id) => users::get(tx, id).await?.map(|u| format!("{} <{}>", u.display_name(), u.email)),
        None => None,
    };
    let zone = preferences::time_zone(tx).await?;
    let clock = NotificationClock::of(&incident, &notifications, ctx.now());
    let drafts = super::report::drafts(&super::report::Facts {
        firm: ctx.actor.firm_name.as_str(),
        officer: officer.as_deref(),
        incident: &incident,
        details: &details,
        steps: &steps,
        notifications: &notifications,
        zone: &zone,
    });
    Ok(IncidentView {
        discovered_at: incident.discovered_at,
        closed_at: incident.closed_at,
        incident: incident.into(),
        details,
        clock,
        alerts: alerts.into_iter().map(AlertView::from).collect(),
        steps: steps.into_iter().map(EntryView::from).collect(),
        notifications: notifications.into_iter().map(EntryView::from).collect(),
        timeline: timeline.into_iter().map(TimelineEntry::from).collect(),
        drafts,
    })
}
