//! The record of every backup (what the pages and `ringfence backup list` show), and of
//! firms being restored in place.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::FirmId;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// Where a backup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupState {
    /// Written to the target; not yet restored to prove it.
    Made,
    /// Restored into a scratch store and found whole.
    Verified,
    /// The backup, or its verification, failed: see its problem.
    Failed,
    /// Deleted from the target by the rotation.
    Rotated,
}

impl BackupState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupState::Made => "made",
            BackupState::Verified => "verified",
            BackupState::Failed => "failed",
            BackupState::Rotated => "rotated",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Made, Self::Verified, Self::Failed, Self::Rotated].into_iter().find(|s| s.as_str() == text)
    }
}

/// One backup as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    pub id: Uuid,
    /// `None`: the control store's backup.
    pub firm: Option<FirmId>,
    pub taken_at: OffsetDateTime,
    pub state: BackupState,
    pub covered_bytes: u64,
    pub added_bytes: u64,
    pub verified_at: Option<OffsetDateTime>,
    pub problem: Option<String>,
}

pub(crate) async fn insert(conn: &mut AnyConnection, record: &BackupRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO backups (id, firm_id, taken_at, state, covered_bytes, added_bytes, verified_at, problem)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(record.id.to_string())
    .bind(record.firm.map(|f| f.to_string()))
    .bind(unix_millis(record.taken_at))
    .bind(record.state.as_str())
    .bind(i64::try_from(record.covered_bytes).unwrap_or(i64::MAX))
    .bind(i64::try_from(record.added_bytes).unwrap_or(i64::MAX))
    .bind(record.verified_at.map(unix_millis))
    .bind(record.problem.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a verification's outcome: verified, or failed with its problem.
pub(crate) async fn set_verified(
    conn: &mut AnyConnection,
    firm: Option<FirmId>,
    id: Uuid,
    at: OffsetDateTime,
    problem: Option<&str>,
) -> Result<(), StoreError> {
    let state = if problem.is_some() { BackupState::Failed } else { BackupState::Verified };
    sqlx::query(
        "UPDATE backups SET state = $2, verified_at = $3, problem = $4
         WHERE id = $1 AND firm_id IS NOT DISTINCT FROM $5 AND state <> 'rotated'",
    )
    .bind(id.to_string())
    .bind(state.as_str())
    .bind(unix_millis(at))
    .bind(problem)
    .bind(firm.map(|f| f.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn set_rotated(conn: &mut AnyConnection, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE backups SET state = 'rotated' WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A firm's backups (the control store's when `None`), newest first, at most `limit`.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    firm: Option<FirmId>,
    limit: i64,
) -> Result<Vec<BackupRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, firm_id, taken_at, state, covered_bytes, added_bytes, verified_at, problem FROM backups
         WHERE firm_id IS NOT DISTINCT FROM $1 ORDER BY taken_at DESC, id DESC LIMIT $2",
    )
    .bind(firm.map(|f| f.to_string()))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(record_from).collect()
}

pub(crate) async fn get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<BackupRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, firm_id, taken_at, state, covered_bytes, added_bytes, verified_at, problem FROM backups
         WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_from).transpose()
}

/// Forgets a shredded firm's backups (they are deleted from the target first).
pub(crate) async fn delete_firm(conn: &mut AnyConnection, firm: FirmId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM backups WHERE firm_id = $1").bind(firm.to_string()).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM firm_restores WHERE firm_id = $1").bind(firm.to_string()).execute(conn).await?;
    Ok(())
}

fn record_from(row: &AnyRow) -> Result<BackupRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let firm: Option<String> = row.try_get("firm_id")?;
    let state: String = row.try_get("state")?;
    let decode =
        |what: &str| StoreError::Database(sqlx::Error::Decode(format!("backups.{what} is invalid").into()));
    let covered: i64 = row.try_get("covered_bytes")?;
    let added: i64 = row.try_get("added_bytes")?;
    let verified_at: Option<i64> = row.try_get("verified_at")?;
    Ok(BackupRecord {
        id: id.parse().map_err(|_| decode("id"))?,
        firm: firm.map(|f| f.parse().map_err(|_| decode("firm_id"))).transpose()?,
        taken_at: from_unix_millis(row.try_get("taken_at")?),
        state: BackupState::parse(&state).ok_or_else(|| decode("state"))?,
        covered_bytes: u64::try_from(covered).unwrap_or(0),
        added_bytes: u64::try_from(added).unwrap_or(0),
        verified_at: verified_at.map(from_unix_millis),
        problem: row.try_get("problem")?,
    })
}

/// Closes a firm to requests for a restore from `backup`, starting now.
pub(crate) async fn start_restore(
    conn: &mut AnyConnection,
    firm: FirmId,
    backup: Uuid,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO firm_restores (firm_id, backup_id, started_at, finished_at) VALUES ($1, $2, $3, NULL)
         ON CONFLICT (firm_id) DO UPDATE SET backup_id = $2, started_at = $3, finished_at = NULL",
    )
    .bind(firm.to_string())
    .bind(backup.to_string())
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn finish_restore(
    conn: &mut AnyConnection,
    firm: FirmId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE firm_restores SET finished_at = $2 WHERE firm_id = $1")
        .bind(firm.to_string())
        .bind(unix_millis(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Where a firm stands as to restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestoreStatus {
    /// When the latest restore in place began.
    pub started_at: Option<i64>,
    /// A restore is running: the firm is closed.
    pub in_progress: bool,
}

pub(crate) async fn restore_status(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<RestoreStatus, StoreError> {
    let row = sqlx::query("SELECT started_at, finished_at FROM firm_restores WHERE firm_id = $1")
        .bind(firm.to_string())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(RestoreStatus { started_at: None, in_progress: false }) };
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    Ok(RestoreStatus { started_at: Some(row.try_get("started_at")?), in_progress: finished_at.is_none() })
}
