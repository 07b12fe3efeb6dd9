//! The firm's retention of closed matters: its policy, the matters past their window, and
//! their disposal (a soft delete, purged after the grace period like any other).
//!
//! An administrator disposes of one matter through the ring-fence (`MatterAccess<Dispose>`,
//! which only the firm-administrator row of the permission table grants); automatic
//! disposal is the deployment's own work ([`crate::FirmStore::dispose_noticed_matters`]).

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::retention::RetentionPolicy;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use super::access::{Dispose, MatterAccess};
use super::legal_holds::HELD;
use crate::StoreError;

fn invalid(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("retention_policy.{what} holds an invalid value").into(),
    ))
}

/// The firm's policy; the default (kept indefinitely, auto-delete off) until one is set.
pub async fn policy(tx: &mut FirmTx) -> Result<RetentionPolicy, StoreError> {
    let row =
        sqlx::query("SELECT window_days, auto_delete, notice_days FROM retention_policy WHERE singleton = 1")
            .fetch_optional(tx.conn())
            .await?;
    let Some(row) = row else { return Ok(RetentionPolicy::default()) };
    let auto_delete: i64 = row.try_get("auto_delete")?;
    RetentionPolicy::new(row.try_get("window_days")?, auto_delete == 1, row.try_get("notice_days")?)
        .map_err(|_| invalid("window_days"))
}

pub async fn set_policy(tx: &mut FirmTx, policy: &RetentionPolicy) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO retention_policy (singleton, window_days, auto_delete, notice_days) VALUES (1, $1, $2, $3)
         ON CONFLICT (singleton) DO UPDATE SET window_days = $1, auto_delete = $2, notice_days = $3",
    )
    .bind(policy.window_days())
    .bind(i64::from(policy.auto_delete()))
    .bind(policy.notice_days())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A closed matter past (or, for notices, near) its retention window. Names no content:
/// administrators see it without a role on the matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedMatter {
    pub id: Uuid,
    pub number: String,
    pub client_name: String,
    pub closed_at: OffsetDateTime,
}

/// Live matters closed at or before `closed_by`, oldest first; not those on legal hold,
/// which are kept whatever the window says.
pub async fn closed_by(tx: &mut FirmTx, closed_by: OffsetDateTime) -> Result<Vec<ClosedMatter>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.id, m.number, c.name, m.closed_at FROM matters m JOIN clients c ON c.id = m.client_id
         WHERE m.status = 'closed' AND m.deleted_at IS NULL AND m.closed_at <= $1 AND NOT {HELD}
         ORDER BY m.closed_at, m.number"
    )))
    .bind(unix_millis(closed_by))
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            Ok(ClosedMatter {
                id: id.parse().map_err(|_| invalid("matter id"))?,
                number: row.try_get("number")?,
                client_name: row.try_get("name")?,
                closed_at: from_unix_millis(row.try_get("closed_at")?),
            })
        })
        .collect()
}

/// Deletes (softly) a matter an administrator disposes of: only a live matter closed at or
/// before `closed_by` and not on legal hold. False when it is not (still open, closed too
/// recently, deleted, held).
pub async fn dispose(
    tx: &mut FirmTx,
    access: &MatterAccess<Dispose>,
    closed_by: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    dispose_one(tx, access.matter(), closed_by, now).await
}

pub(crate) async fn dispose_one(
    tx: &mut FirmTx,
    matter: Uuid,
    closed_by: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE matters SET deleted_at = $3
         WHERE id IN (SELECT m.id FROM matters m WHERE m.id = $1 AND m.status = 'closed'
                      AND m.deleted_at IS NULL AND m.closed_at <= $2 AND NOT {HELD})"
    )))
    .bind(matter.to_string())
    .bind(unix_millis(closed_by))
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    forget_notice(tx, matter).await?;
    Ok(true)
}

/// Removes a matter's notice: once it is disposed of, or brought back (a restored matter is
/// noticed afresh before it can be deleted again).
pub async fn forget_notice(tx: &mut FirmTx, matter: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM retention_notices WHERE matter_id = $1")
        .bind(matter.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A matter whose leads are to be told of its coming deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDue {
    pub matter: ClosedMatter,
    /// The active leads; the firm's active administrators when it has none.
    pub recipients: Vec<super::users::User>,
}

/// Live matters closed at or before `closed_by` whose leads have not been told yet.
pub(crate) async fn notices_due(
    tx: &mut FirmTx,
    closed_by: OffsetDateTime,
) -> Result<Vec<NoticeDue>, StoreError> {
    let noticed: Vec<String> =
        sqlx::query_scalar("SELECT matter_id FROM retention_notices").fetch_all(tx.conn()).await?;
    let mut due = Vec::new();
    for matter in self::closed_by(tx, closed_by).await? {
        if noticed.contains(&matter.id.to_string()) {
            continue;
        }
        let mut recipients: Vec<String> = sqlx::query_scalar(
            "SELECT u.id FROM matter_members mm JOIN users u ON u.id = mm.user_id
             WHERE mm.matter_id = $1 AND mm.role = 'lead' AND u.status = 'active' ORDER BY u.email",
        )
        .bind(matter.id.to_string())
        .fetch_all(tx.conn())
        .await?;
        if recipients.is_empty() {
            recipients = sqlx::query_scalar(
                "SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id
                 WHERE r.role = 'admin' AND u.status = 'active' ORDER BY u.email",
            )
            .fetch_all(tx.conn())
            .await?;
        }
        let recipients = super::users::all_of(tx, &recipients).await?;
        due.push(NoticeDue { matter, recipients });
    }
    Ok(due)
}

pub(crate) async fn record_notice(
    tx: &mut FirmTx,
    matter: Uuid,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO retention_notices (matter_id, noticed_at) VALUES ($1, $2) ON CONFLICT (matter_id) DO NOTHING")
        .bind(matter.to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Live matters closed at or before `closed_by` whose notice was given at or before
/// `noticed_by`: what automatic deletion may dispose of.
pub(crate) async fn noticed_and_due(
    tx: &mut FirmTx,
    closed_by: OffsetDateTime,
    noticed_by: OffsetDateTime,
) -> Result<Vec<ClosedMatter>, StoreError> {
    let noticed: Vec<String> =
        sqlx::query_scalar("SELECT matter_id FROM retention_notices WHERE noticed_at <= $1")
            .bind(unix_millis(noticed_by))
            .fetch_all(tx.conn())
            .await?;
    Ok(self::closed_by(tx, closed_by)
        .await?
        .into_iter()
        .filter(|m| noticed.contains(&m.id.to_string()))
        .collect())
}

impl crate::FirmStore {
    /// The matters whose leads are to be told now of their coming automatic deletion:
    /// none unless the firm's policy deletes automatically.
    pub async fn retention_notices_due(&self, now: OffsetDateTime) -> Result<Vec<NoticeDue>, StoreError> {
        let mut tx = self.begin_firm_wide().await?;
        let policy = policy(&mut tx).await?;
        let due = match policy.closed_by_for_notice(now) {
            Some(closed_by) if policy.auto_delete() => notices_due(&mut tx, closed_by).await?,
            _ => Vec::new(),
        };
        tx.commit().await?;
        Ok(due)
    }

    /// Records that `matter`'s leads were told, with its audit entry.
    pub async fn record_retention_notice(&self, matter: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = self.begin_firm_wide().await?;
        record_notice(&mut tx, matter, now).await?;
        super::audit::append(&mut tx, &system_entry(AuditAction::MatterRetentionNoticeSent, matter, now))
            .await?;
        tx.commit().await
    }

    /// Deletes (softly) every matter past its window whose notice has run, when the firm's
    /// policy deletes automatically; each deletion is audited in the same transaction.
    pub async fn dispose_noticed_matters(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ClosedMatter>, StoreError> {
        let mut tx = self.begin_firm_wide().await?;
        let policy = policy(&mut tx).await?;
        let Some(closed_by) = policy.closed_by_for_disposal(now).filter(|_| policy.auto_delete()) else {
            tx.commit().await?;
            return Ok(Vec::new());
        };
        let noticed_by = now - time::Duration::days(policy.notice_days());
        let mut disposed = Vec::new();
        for matter in noticed_and_due(&mut tx, closed_by, noticed_by).await? {
            if dispose_one(&mut tx, matter.id, closed_by, now).await? {
                super::audit::append(&mut tx, &system_entry(AuditAction::MatterDisposed, matter.id, now))
                    .await?;
                disposed.push(matter);
            }
        }
        tx.commit().await?;
        Ok(disposed)
    }
}

fn system_entry(action: AuditAction, matter: Uuid, now: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: AuditActor::System,
        action,
        resource_type: Some("matter"),
        resource_id: Some(matter.to_string()),
        matter_id: Some(matter.to_string()),
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}
