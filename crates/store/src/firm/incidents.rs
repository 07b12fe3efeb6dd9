//! Security alerts and incidents. The watcher reads the firm's log from where it last
//! stopped and raises an alert for what it finds (a decoy touched, access out of the
//! ordinary); an alert opens an incident, or joins the open one already raised by the same
//! kind of alert for the same actor. What an alert found is sealed: it names decoys.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

/// The last log entry the watcher has read, without waiting for a watcher at work: for a
/// look at whether there is anything new.
pub async fn position(tx: &mut FirmTx) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT position FROM security_watch WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    Ok(seq.unwrap_or(0))
}

/// The last log entry the watcher has read, locked for the rest of `tx`: a second watcher
/// (one that outlived its job's lease) waits, then reads on from where this one stopped, so
/// no entry raises its alert twice.
pub async fn watched(tx: &mut FirmTx) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO security_watch (singleton, position) VALUES (1, 0) ON CONFLICT (singleton) DO NOTHING",
    )
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE security_watch SET position = position WHERE singleton = 1")
        .execute(tx.conn())
        .await?;
    Ok(sqlx::query_scalar("SELECT position FROM security_watch WHERE singleton = 1")
        .fetch_one(tx.conn())
        .await?)
}

/// Moves the watcher's position on to `seq`, never back.
pub async fn set_watched(tx: &mut FirmTx, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE security_watch SET position = CASE WHEN position < $1 THEN $1 ELSE position END WHERE singleton = 1",
    )
    .bind(seq)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    /// Raised, not yet looked into.
    Suspected,
    /// A breach, confirmed: the notification clock runs.
    Confirmed,
    Contained,
    Closed,
    /// No breach after all.
    Dismissed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Suspected,
        IncidentStatus::Confirmed,
        IncidentStatus::Contained,
        IncidentStatus::Closed,
        IncidentStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Suspected => "suspected",
            IncidentStatus::Confirmed => "confirmed",
            IncidentStatus::Contained => "contained",
            IncidentStatus::Closed => "closed",
            IncidentStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether it is still being worked on.
    pub fn is_open(self) -> bool {
        matches!(self, IncidentStatus::Suspected | IncidentStatus::Confirmed | IncidentStatus::Contained)
    }
}

/// An incident, as the register keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: Uuid,
    pub opened_at: OffsetDateTime,
    /// `None`: an alert opened it.
    pub opened_by: Option<UserId>,
    pub summary: String,
    pub status: IncidentStatus,
    /// When the breach was discovered: when the incident was opened, until someone says.
    pub discovered_at: OffsetDateTime,
    /// When it was confirmed a breach: the notification clock runs from here.
    pub confirmed_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
    /// What the register records of it, as its handlers wrote it (JSON, read by the
    /// application); `None` until they do.
    pub details: Option<String>,
}

/// Who tripped an alert, as the log entry that did named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tripper {
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub ip: Option<String>,
}

/// An alert the watcher raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: Uuid,
    /// What raised it, e.g. `decoy`.
    pub kind: String,
    pub raised_at: OffsetDateTime,
    /// The log entry that tripped it.
    pub audit_seq: i64,
    pub tripper: Tripper,
    /// What was found, in words.
    pub detail: String,
    pub incident: Uuid,
    /// When the watcher told of it: by mail, or with an earlier mail of its incident.
    pub told_at: Option<OffsetDateTime>,
    /// When it was mailed; `None` for one told with an earlier mail.
    pub mailed_at: Option<OffsetDateTime>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("{what} holds an invalid value").into()))
}

fn summary_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "incidents", record: id, field: "summary" }
}

fn detail_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "security_alerts", record: id, field: "detail" }
}

/// Opens an incident; its id.
pub async fn open(
    tx: &mut FirmTx,
    summary: &str,
    by: Option<UserId>,
    now: OffsetDateTime,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let key = id.to_string();
    let sealed = tx.seal(summary_field(&key), summary.as_bytes())?;
    sqlx::query("INSERT INTO incidents (id, opened_at, opened_by, summary_sealed) VALUES ($1, $2, $3, $4)")
        .bind(&key)
        .bind(unix_millis(now))
        .bind(by.map(|u| u.to_string()))
        .bind(sealed)
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// The open incident an alert of `kind` raised for the same actor since `since`, for a new
/// such alert to join. Everyone not signed in counts as one actor, whatever their address:
/// changing address must not open incident after incident.
pub async fn joinable(
    tx: &mut FirmTx,
    kind: &str,
    tripper: &Tripper,
    since: OffsetDateTime,
) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT i.id FROM incidents i JOIN security_alerts a ON a.incident_id = i.id
         WHERE a.kind = $1 AND a.raised_at >= $2 AND i.status IN ('suspected', 'confirmed', 'contained')
           AND a.actor_kind = $3 AND COALESCE(a.actor_id, '') = $4
         ORDER BY a.raised_at DESC LIMIT 1",
    )
    .bind(kind)
    .bind(unix_millis(since))
    .bind(&tripper.actor_kind)
    .bind(tripper.actor_id.as_deref().unwrap_or(""))
    .fetch_optional(tx.conn())
    .await?;
    id.map(|id| id.parse().map_err(|_| corrupt("incidents.id"))).transpose()
}

/// An alert about to be raised.
pub struct Raising<'a> {
    pub kind: &'a str,
    pub audit_seq: i64,
    pub tripper: &'a Tripper,
    pub detail: &'a str,
    pub incident: Uuid,
    pub at: OffsetDateTime,
}

/// Raises an alert, not yet mailed; its id.
pub async fn raise(tx: &mut FirmTx, raising: &Raising<'_>) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let key = id.to_string();
    let sealed = tx.seal(detail_field(&key), raising.detail.as_bytes())?;
    let tripper = raising.tripper;
    sqlx::query(
        "INSERT INTO security_alerts (id, kind, raised_at, audit_seq, actor_kind, actor_id, actor_email, ip, detail_sealed, incident_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&key)
    .bind(raising.kind)
    .bind(unix_millis(raising.at))
    .bind(raising.audit_seq)
    .bind(&tripper.actor_kind)
    .bind(&tripper.actor_id)
    .bind(&tripper.actor_email)
    .bind(&tripper.ip)
    .bind(sealed)
    .bind(raising.incident.to_string())
    .execute(tx.conn())
    .await?;
    Ok(id)
}

const ALERT_COLUMNS: &str = "id, kind, raised_at, audit_seq, actor_kind, actor_id, actor_email, ip, detail_sealed, incident_id, told_at, mailed_at";

fn alert_from(tx: &FirmTx, row: &AnyRow) -> Result<Alert, StoreError> {
    let id: String = row.try_get("id")?;
    let sealed: Vec<u8> = row.try_get("detail_sealed")?;
    let detail = String::from_utf8_lossy(&tx.open(detail_field(&id), &sealed)?).into_owned();
    let incident: String = row.try_get("incident_id")?;
    Ok(Alert {
        id: id.parse().map_err(|_| corrupt("security_alerts.id"))?,
        kind: row.try_get("kind")?,
        raised_at: from_unix_millis(row.try_get("raised_at")?),
        audit_seq: row.try_get("audit_seq")?,
        tripper: Tripper {
            actor_kind: row.try_get("actor_kind")?,
            actor_id: row.try_get("actor_id")?,
            actor_email: row.try_get("actor_email")?,
            ip: row.try_get("ip")?,
        },
        detail,
        incident: incident.parse().map_err(|_| corrupt("security_alerts.incident_id"))?,
        told_at: row.try_get::<Option<i64>, _>("told_at")?.map(from_unix_millis),
        mailed_at: row.try_get::<Option<i64>, _>("mailed_at")?.map(from_unix_millis),
    })
}

/// The alerts not told of yet, the oldest first.
pub async fn untold(tx: &mut FirmTx) -> Result<Vec<Alert>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM security_alerts WHERE told_at IS NULL ORDER BY raised_at, id"
    )))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| alert_from(tx, row)).collect()
}

/// When an alert of `incident` was last mailed, if one was.
pub async fn last_mailed(tx: &mut FirmTx, incident: Uuid) -> Result<Option<OffsetDateTime>, StoreError> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MAX(mailed_at) FROM security_alerts WHERE incident_id = $1")
            .bind(incident.to_string())
            .fetch_one(tx.conn())
            .await?;
    Ok(at.map(from_unix_millis))
}

/// Marks an alert told of at `at`: mailed then, or (`mailed` false) with an earlier mail.
pub async fn mark_told(
    tx: &mut FirmTx,
    alert: Uuid,
    at: OffsetDateTime,
    mailed: bool,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE security_alerts SET told_at = $2, mailed_at = $3 WHERE id = $1 AND told_at IS NULL")
        .bind(alert.to_string())
        .bind(unix_millis(at))
        .bind(mailed.then(|| unix_millis(at)))
        .execute(tx.conn())
        .await?;
    Ok(())
}

const INCIDENT_COLUMNS: &str = "id, opened_at, opened_by, summary_sealed, status, discovered_at, confirmed_at, closed_at, details_sealed";

fn details_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "incidents", record: id, field: "details" }
}

fn incident_from(tx: &FirmTx, row: &AnyRow) -> Result<Incident, StoreError> {
    let id: String = row.try_get("id")?;
    let sealed: Vec<u8> = row.try_get("summary_sealed")?;
    let summary = String::from_utf8_lossy(&tx.open(summary_field(&id), &sealed)?).into_owned();
    let details = row
        .try_get::<Option<Vec<u8>>, _>("details_sealed")?
        .map(|sealed| {
            tx.open(details_field(&id), &sealed).map(|plain| String::from_utf8_lossy(&plain).into_owned())
        })
        .transpose()?;
    let status: String = row.try_get("status")?;
    let opened_by: Option<String> = row.try_get("opened_by")?;
    let opened_at = from_unix_millis(row.try_get("opened_at")?);
    let at = |column: &str| -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_unix_millis))
    };
    Ok(Incident {
        id: id.parse().map_err(|_| corrupt("incidents.id"))?,
        opened_at,
        opened_by: opened_by.map(|u| u.parse().map_err(|_| corrupt("incidents.opened_by"))).transpose()?,
        summary,
        status: IncidentStatus::parse(&status).ok_or_else(|| corrupt("incidents.status"))?,
        discovered_at: at("discovered_at")?.unwrap_or(opened_at),
        confirmed_at: at("confirmed_at")?,
        closed_at: at("closed_at")?,
        details,
    })
}

/// Every incident, the newest first.
pub async fn list(tx: &mut FirmTx) -> Result<Vec<Incident>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY opened_at DESC, id DESC"
    )))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| incident_from(tx, row)).collect()
}

/// One incident with its alerts, the oldest first.
pub async fn get(tx: &mut FirmTx, id: Uuid) -> Result<Option<(Incident, Vec<Alert>)>, StoreError> {
    let key = id.to_string();
    let Some(row) =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1")))
            .bind(&key)
            .fetch_optional(tx.conn())
            .await?
    else {
        return Ok(None);
    };
    let incident = incident_from(tx, &row)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM security_alerts WHERE incident_id = $1 ORDER BY raised_at, id"
    )))
    .bind(&key)
    .fetch_all(tx.conn())
    .await?;
    let alerts = rows.iter().map(|row| alert_from(tx, row)).collect::<Result<_, _>>()?;
    Ok(Some((incident, alerts)))
}

/// The firm's thresholds for alerts on access out of the ordinary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// Documents or exports downloaded by one person within `downloads_minutes`.
    pub downloads: i64,
    pub downloads_minutes: i64,
    /// Requests refused to one person within `denials_minutes`.
    pub denials: i64,
    pub denials_minutes: i64,
    /// Accounts failing to sign in from one address within `failing_minutes`.
    pub failing_accounts: i64,
    pub failing_minutes: i64,
    /// Whether an administrator's sign-in from a new device or address raises an alert.
    pub new_admin_source: bool,
    pub working_hours: Option<WorkingHours>,
}

/// When the firm works, in its own time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    /// ISO weekdays, 1 (Monday) to 7.
    pub days: Vec<u8>,
    /// Minutes after local midnight: from, inclusive, until, exclusive.
    pub from: i64,
    pub until: i64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            downloads: 50,
            downloads_minutes: 10,
            denials: 20,
            denials_minutes: 10,
            failing_accounts: 5,
            failing_minutes: 15,
            new_admin_source: true,
            working_hours: None,
        }
    }
}

pub async fn settings(tx: &mut FirmTx) -> Result<AlertSettings, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT downloads, downloads_minutes, denials, denials_minutes, failing_accounts, failing_minutes,
                new_admin_source, working_days, working_from, working_until
         FROM alert_settings WHERE singleton = 1",
    )
    .fetch_optional(tx.conn())
    .await?
    else {
        return Ok(AlertSettings::default());
    };
    let days: Option<String> = row.try_get("working_days")?;
    let working_hours = match (
        days,
        row.try_get::<Option<i64>, _>("working_from")?,
        row.try_get::<Option<i64>, _>("working_until")?,
    ) {
        (Some(days), Some(from), Some(until)) => Some(WorkingHours {
            days: days
                .split(',')
                .map(|d| d.parse().map_err(|_| corrupt("alert_settings.working_days")))
                .collect::<Result<_, _>>()?,
            from,
            until,
        }),
        _ => None,
    };
    Ok(AlertSettings {
        downloads: row.try_get("downloads")?,
        downloads_minutes: row.try_get("downloads_minutes")?,
        denials: row.try_get("denials")?,
        denials_minutes: row.try_get("denials_minutes")?,
        failing_accounts: row.try_get("failing_accounts")?,
        failing_minutes: row.try_get("failing_minutes")?,
        new_admin_source: row.try_get::<i64, _>("new_admin_source")? != 0,
        working_hours,
    })
}

pub async fn set_settings(tx: &mut FirmTx, settings: &AlertSettings) -> Result<(), StoreError> {
    let hours = settings.working_hours.as_ref();
    sqlx::query(
        "INSERT INTO alert_settings (singleton, downloads, downloads_minutes, denials, denials_minutes, failing_accounts,
                                     failing_minutes, new_admin_source, working_days, working_from, working_until)
         VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (singleton) DO UPDATE SET downloads = $1, downloads_minutes = $2, denials = $3,
             denials_minutes = $4, failing_accounts = $5, failing_minutes = $6, new_admin_source = $7,
             working_days = $8, working_from = $9, working_until = $10",
    )
    .bind(settings.downloads)
    .bind(settings.downloads_minutes)
    .bind(settings.denials)
    .bind(settings.denials_minutes)
    .bind(settings.failing_accounts)
    .bind(settings.failing_minutes)
    .bind(i64::from(settings.new_admin_source))
    .bind(hours.map(|h| h.days.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")))
    .bind(hours.map(|h| h.from))
    .bind(hours.map(|h| h.until))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Counts one event towards `rule`'s threshold for `subject`.
pub async fn tally(
    tx: &mut FirmTx,
    rule: &str,
    subject: &str,
    detail: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO watch_tallies (rule, subject, detail, at) VALUES ($1, $2, $3, $4)")
        .bind(rule)
        .bind(subject)
        .bind(detail)
        .bind(unix_millis(at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// How many distinct details `rule` counted for `subject` since `since`.
pub async fn tallied(
    tx: &mut FirmTx,
    rule: &str,
    subject: &str,
    since: OffsetDateTime,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(DISTINCT detail) FROM watch_tallies WHERE rule = $1 AND subject = $2 AND at >= $3",
    )
    .bind(rule)
    .bind(subject)
    .bind(unix_millis(since))
    .fetch_one(tx.conn())
    .await?)
}

/// Forgets what was counted before `before`: no window reaches back that far.
pub async fn forget_tallies(tx: &mut FirmTx, before: OffsetDateTime) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM watch_tallies WHERE at < $1")
        .bind(unix_millis(before))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether an alert of `kind` was raised for the same actor since `since`.
pub async fn alerted_since(
    tx: &mut FirmTx,
    kind: &str,
    tripper: &Tripper,
    since: OffsetDateTime,
) -> Result<bool, StoreError> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM security_alerts WHERE kind = $1 AND raised_at >= $2 AND actor_kind = $3
           AND COALESCE(actor_id, '') = $4 AND COALESCE(ip, '') = $5 LIMIT 1",
    )
    .bind(kind)
    .bind(unix_millis(since))
    .bind(&tripper.actor_kind)
    .bind(tripper.actor_id.as_deref().unwrap_or(""))
    .bind(tripper.ip.as_deref().unwrap_or(""))
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

/// Notes that `user` signed in from `source`: whether it is new for a user seen before
/// (`false` for the first source a user is ever seen from).
pub async fn note_source(
    tx: &mut FirmTx,
    user: &str,
    source: &str,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let (known, this): (i64, i64) = {
        let row = sqlx::query(
            "SELECT COUNT(*) AS known, COALESCE(SUM(CASE WHEN source = $2 THEN 1 ELSE 0 END), 0) AS this
             FROM known_sources WHERE user_id = $1",
        )
        .bind(user)
        .bind(source)
        .fetch_one(tx.conn())
        .await?;
        (row.try_get("known")?, row.try_get("this")?)
    };
    sqlx::query(
        "INSERT INTO known_sources (user_id, source, first_seen, last_seen) VALUES ($1, $2, $3, $3)
         ON CONFLICT (user_id, source) DO UPDATE SET last_seen = $3",
    )
    .bind(user)
    .bind(source)
    .bind(unix_millis(at))
    .execute(tx.conn())
    .await?;
    Ok(known > 0 && this == 0)
}

/// What the register records of an incident, as changed by its handlers.
pub struct Recorded<'a> {
    pub summary: &'a str,
    pub status: IncidentStatus,
    pub discovered_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
    pub details: &'a str,
}

/// Records what the register holds of an incident; whether there is one.
pub async fn record(tx: &mut FirmTx, id: Uuid, recorded: &Recorded<'_>) -> Result<bool, StoreError> {
    let key = id.to_string();
    let summary = tx.seal(summary_field(&key), recorded.summary.as_bytes())?;
    let details = tx.seal(details_field(&key), recorded.details.as_bytes())?;
    let done = sqlx::query(
        "UPDATE incidents SET summary_sealed = $2, status = $3, discovered_at = $4, confirmed_at = $5, closed_at = $6,
                              details_sealed = $7
         WHERE id = $1",
    )
    .bind(&key)
    .bind(summary)
    .bind(recorded.status.as_str())
    .bind(unix_millis(recorded.discovered_at))
    .bind(recorded.confirmed_at.map(unix_millis))
    .bind(recorded.closed_at.map(unix_millis))
    .bind(details)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A step taken to contain or remedy an incident, or a notification of it: what the
/// register lists under an incident, each with its time and words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: Uuid,
    /// The step's kind (`containment`, `remedial`), or whom was notified.
    pub kind: String,
    pub at: OffsetDateTime,
    pub text: String,
    pub recorded_by: UserId,
    pub recorded_at: OffsetDateTime,
}

/// The steps of the register, or its notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Steps,
    Notifications,
}

impl Listed {
    /// (table, kind column, time column, sealed column, field).
    fn columns(self) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        match self {
            Listed::Steps => ("incident_steps", "kind", "taken_at", "text_sealed", "text"),
            Listed::Notifications => {
                ("incident_notifications", "recipient", "notified_at", "detail_sealed", "detail")
            }
        }
    }
}

/// A step or a notification about to be added to an incident.
pub struct Addition<'a> {
    pub incident: Uuid,
    pub kind: &'a str,
    pub at: OffsetDateTime,
    pub text: &'a str,
    pub by: UserId,
    pub now: OffsetDateTime,
}

/// Adds a step or a notification to an incident; its id.
pub async fn add(tx: &mut FirmTx, listed: Listed, addition: &Addition<'_>) -> Result<Uuid, StoreError> {
    let Addition { incident, kind, at, text, by, now } = *addition;
    let (table, kind_column, at_column, sealed_column, field) = listed.columns();
    let id = Uuid::now_v7();
    let key = id.to_string();
    let sealed = tx.seal(FieldRef { table, record: &key, field }, text.as_bytes())?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (id, incident_id, {kind_column}, {at_column}, {sealed_column}, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(&key)
    .bind(incident.to_string())
    .bind(kind)
    .bind(unix_millis(at))
    .bind(sealed)
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// An incident's steps or notifications, in the order they happened.
pub async fn entries(tx: &mut FirmTx, listed: Listed, incident: Uuid) -> Result<Vec<Entry>, StoreError> {
    let (table, kind_column, at_column, sealed_column, field) = listed.columns();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, {kind_column} AS kind, {at_column} AS at, {sealed_column} AS sealed, recorded_by, recorded_at
         FROM {table} WHERE incident_id = $1 ORDER BY {at_column}, id"
    )))
    .bind(incident.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let sealed: Vec<u8> = row.try_get("sealed")?;
            let text = tx.open(FieldRef { table, record: &id, field }, &sealed)?;
            let by: String = row.try_get("recorded_by")?;
            Ok(Entry {
                id: id.parse().map_err(|_| corrupt("incident entry id"))?,
                kind: row.try_get("kind")?,
                at: from_unix_millis(row.try_get("at")?),
                text: String::from_utf8_lossy(&text).into_owned(),
                recorded_by: by.parse().map_err(|_| corrupt("incident entry recorded_by"))?,
                recorded_at: from_unix_millis(row.try_get("recorded_at")?),
            })
        })
        .collect()
}
