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

/// The last log entry the watcher has read.
pub async fn watched(tx: &mut FirmTx) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT position FROM security_watch WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    Ok(seq.unwrap_or(0))
}

/// Moves the watcher's position on to `seq`, never back: a watcher that outlived its job's
/// lease must not make another's alerts be raised twice.
pub async fn set_watched(tx: &mut FirmTx, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO security_watch (singleton, position) VALUES (1, $1)
         ON CONFLICT (singleton) DO UPDATE SET position = CASE WHEN security_watch.position < $1 THEN $1 ELSE security_watch.position END",
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

/// An incident, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: Uuid,
    pub opened_at: OffsetDateTime,
    /// `None`: an alert opened it.
    pub opened_by: Option<UserId>,
    pub summary: String,
    pub status: IncidentStatus,
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

/// The open incident an alert of `kind` raised for the same actor (the same user, or the
/// same address for someone not signed in) since `since`, for a new such alert to join.
pub async fn joinable(
    tx: &mut FirmTx,
    kind: &str,
    tripper: &Tripper,
    since: OffsetDateTime,
) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT i.id FROM incidents i JOIN security_alerts a ON a.incident_id = i.id
         WHERE a.kind = $1 AND a.raised_at >= $2 AND i.status IN ('suspected', 'confirmed', 'contained')
           AND a.actor_kind = $3 AND COALESCE(a.actor_id, '') = $4 AND COALESCE(a.ip, '') = $5
         ORDER BY a.raised_at DESC LIMIT 1",
    )
    .bind(kind)
    .bind(unix_millis(since))
    .bind(&tripper.actor_kind)
    .bind(tripper.actor_id.as_deref().unwrap_or(""))
    .bind(tripper.ip.as_deref().unwrap_or(""))
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

const ALERT_COLUMNS: &str = "id, kind, raised_at, audit_seq, actor_kind, actor_id, actor_email, ip, detail_sealed, incident_id, mailed_at";

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
        mailed_at: row.try_get::<Option<i64>, _>("mailed_at")?.map(from_unix_millis),
    })
}

/// The alerts nobody has been mailed yet, the oldest first.
pub async fn unmailed(tx: &mut FirmTx) -> Result<Vec<Alert>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM security_alerts WHERE mailed_at IS NULL ORDER BY raised_at, id"
    )))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| alert_from(tx, row)).collect()
}

pub async fn mark_mailed(tx: &mut FirmTx, alert: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
    sqlx::query("UPDATE security_alerts SET mailed_at = $2 WHERE id = $1 AND mailed_at IS NULL")
        .bind(alert.to_string())
        .bind(unix_millis(at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

fn incident_from(tx: &FirmTx, row: &AnyRow) -> Result<Incident, StoreError> {
    let id: String = row.try_get("id")?;
    let sealed: Vec<u8> = row.try_get("summary_sealed")?;
    let summary = String::from_utf8_lossy(&tx.open(summary_field(&id), &sealed)?).into_owned();
    let status: String = row.try_get("status")?;
    let opened_by: Option<String> = row.try_get("opened_by")?;
    Ok(Incident {
        id: id.parse().map_err(|_| corrupt("incidents.id"))?,
        opened_at: from_unix_millis(row.try_get("opened_at")?),
        opened_by: opened_by.map(|u| u.parse().map_err(|_| corrupt("incidents.opened_by"))).transpose()?,
        summary,
        status: IncidentStatus::parse(&status).ok_or_else(|| corrupt("incidents.status"))?,
    })
}

/// Every incident, the newest first.
pub async fn list(tx: &mut FirmTx) -> Result<Vec<Incident>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, opened_at, opened_by, summary_sealed, status FROM incidents ORDER BY opened_at DESC, id DESC",
    )
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| incident_from(tx, row)).collect()
}

/// One incident with its alerts, the oldest first.
pub async fn get(tx: &mut FirmTx, id: Uuid) -> Result<Option<(Incident, Vec<Alert>)>, StoreError> {
    let key = id.to_string();
    let Some(row) =
        sqlx::query("SELECT id, opened_at, opened_by, summary_sealed, status FROM incidents WHERE id = $1")
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
