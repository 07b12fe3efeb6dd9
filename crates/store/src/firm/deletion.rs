//! Soft deletion in the store: the firm's grace period, restoring within it, and the list
//! of what was recently deleted. Each kind's own module marks its rows deleted and brings
//! them back (with its search terms); [`restore_row`] is where they all decide whether a
//! deleted row may come back. The purge for good is `crate::purge`.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::{DeletedKind, GraceDays, Restore};
use ringfence_core::ids::UserId;
use ringfence_core::matter::MatterRole;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use super::access::screened;
use crate::StoreError;
use crate::storage::FirmStore;

fn invalid(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("{what} holds an invalid value").into()))
}

/// The firm's grace period; 30 days until an administrator sets more.
pub async fn grace(tx: &mut FirmTx) -> Result<GraceDays, StoreError> {
    let days: Option<i64> = sqlx::query_scalar("SELECT grace_days FROM deletion_policy WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    days.map_or(Ok(GraceDays::default()), |d| {
        GraceDays::parse(d).map_err(|_| invalid("deletion_policy.grace_days"))
    })
}

pub async fn set_grace(tx: &mut FirmTx, grace: GraceDays) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deletion_policy (singleton, grace_days) VALUES (1, $1)
         ON CONFLICT (singleton) DO UPDATE SET grace_days = $1",
    )
    .bind(grace.days())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Restores one row of `table` found by `filter` (SQL over `$1`, `$2`…, bound to `binds`
/// in order): `None` when there is no such row, else what restoring it came to, the row
/// changed only when it was deleted within the firm's grace period.
pub(crate) async fn restore_row(
    tx: &mut FirmTx,
    table: &'static str,
    filter: &'static str,
    binds: &[&str],
    now: OffsetDateTime,
) -> Result<Option<Restore>, StoreError> {
    let grace = grace(tx).await?;
    let mut select = sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(format!(
        "SELECT deleted_at FROM {table} WHERE {filter}"
    )));
    for bind in binds {
        select = select.bind(*bind);
    }
    let found = select.fetch_optional(tx.conn()).await?;
    let Some(deleted_at) = found else { return Ok(None) };
    let decision = Restore::decide(deleted_at.map(from_unix_millis), grace, now);
    if decision == Restore::Restored {
        let mut update =
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET deleted_at = NULL WHERE {filter}")));
        for bind in binds {
            update = update.bind(*bind);
        }
        update.execute(tx.conn()).await?;
    }
    Ok(Some(decision))
}

/// A thing deleted within the grace period, as the list of recently deleted things shows
/// it: ids, numbers and dates, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub kind: DeletedKind,
    pub id: Uuid,
    /// The matter it is (or was) on; `None` for a client.
    pub matter_id: Option<Uuid>,
    pub matter_number: Option<String>,
    /// The document a deleted version belongs to, and its number.
    pub document_id: Option<Uuid>,
    pub version: Option<i64>,
    pub deleted_at: OffsetDateTime,
    pub restorable_until: OffsetDateTime,
    /// The reader's own role on the matter, which decides whether it may restore it.
    pub role: Option<MatterRole>,
}

/// Which matters' deleted things a reader sees: its own as lead, or as an administrator
/// every matter; never one a wall screens it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedScope {
    Leads,
    Firm,
}

impl FirmStore {
    /// What was deleted within the firm's grace period that `user` may see listed, newest
    /// first: on the matters it leads, or (`DeletedScope::Firm`, administrators) on every
    /// matter no wall screens it from, with the deleted clients no wall screens it from.
    /// Read as the firm's owner role: row security would hide from an administrator the
    /// rows of matters it holds no role on, and only ids and dates are read.
    pub async fn recently_deleted(
        &self,
        user: UserId,
        scope: DeletedScope,
        now: OffsetDateTime,
    ) -> Result<(GraceDays, Vec<Deleted>), StoreError> {
        let mut tx = self.begin_read_as_owner().await?;
        let grace = grace(&mut tx).await?;
        let since = unix_millis(now - grace.duration());
        let sees = format!(
            "NOT {} AND ($3 = 1 OR EXISTS (SELECT 1 FROM matter_members l
                                          WHERE l.matter_id = m.id AND l.user_id = $1 AND l.role = 'lead'))",
            screened("m.id", "$1")
        );
        let role = "(SELECT r.role FROM matter_members r WHERE r.matter_id = m.id AND r.user_id = $1)";
        let sql = format!(
            "SELECT 'matter' AS kind, m.id AS id, m.id AS matter_id, m.number, NULL AS document_id,
                    CAST(NULL AS BIGINT) AS version, m.deleted_at, {role} AS role
             FROM matters m WHERE m.deleted_at > $2 AND {sees}
             UNION ALL
             SELECT 'note', n.id, m.id, m.number, NULL, CAST(NULL AS BIGINT), n.deleted_at, {role}
             FROM notes n JOIN matters m ON m.id = n.matter_id
             WHERE n.deleted_at > $2 AND m.deleted_at IS NULL AND {sees}
             UNION ALL
             SELECT 'document', d.id, m.id, m.number, NULL, CAST(NULL AS BIGINT), d.deleted_at, {role}
             FROM documents d JOIN matters m ON m.id = d.matter_id
             WHERE d.deleted_at > $2 AND m.deleted_at IS NULL AND {sees}
             UNION ALL
             SELECT 'document_version', v.id, m.id, m.number, d.id, v.version, v.deleted_at, {role}
             FROM document_versions v JOIN documents d ON d.id = v.document_id JOIN matters m ON m.id = d.matter_id
             WHERE v.deleted_at > $2 AND d.deleted_at IS NULL AND m.deleted_at IS NULL AND {sees}
             UNION ALL
             SELECT 'client', c.id, NULL, NULL, NULL, CAST(NULL AS BIGINT), c.deleted_at, NULL
             FROM clients c
             WHERE c.deleted_at > $2 AND $3 = 1
               AND NOT EXISTS (SELECT 1 FROM client_walls w
                               WHERE w.client_id = c.id AND w.user_id = $1 AND w.lifted_at IS NULL)
             ORDER BY 7 DESC, 2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .bind(since)
            .bind(i64::from(scope == DeletedScope::Firm))
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        let uuid = |raw: Option<String>| {
            raw.map(|r| r.parse::<Uuid>().map_err(|_| invalid("deleted id"))).transpose()
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let deleted_at = from_unix_millis(row.try_get("deleted_at")?);
            let role: Option<String> = row.try_get("role")?;
            items.push(Deleted {
                kind: DeletedKind::parse(&kind).ok_or_else(|| invalid("deleted kind"))?,
                id: uuid(Some(row.try_get("id")?))?.ok_or_else(|| invalid("deleted id"))?,
                matter_id: uuid(row.try_get("matter_id")?)?,
                matter_number: row.try_get("number")?,
                document_id: uuid(row.try_get("document_id")?)?,
                version: row.try_get("version")?,
                deleted_at,
                restorable_until: grace.restorable_until(deleted_at),
                role: role.and_then(|r| r.parse().ok()),
            });
        }
        Ok((grace, items))
    }
}

/// The ids of `kind` deleted at or before `cutoff`, with when: what the purge takes.
pub(crate) async fn due(
    tx: &mut FirmTx,
    cutoff: OffsetDateTime,
) -> Result<Vec<(DeletedKind, Uuid, OffsetDateTime)>, StoreError> {
    let rows = sqlx::query(
        "SELECT 'matter' AS kind, id, deleted_at FROM matters WHERE deleted_at <= $1
         UNION ALL SELECT 'document', id, deleted_at FROM documents WHERE deleted_at <= $1
         UNION ALL SELECT 'document_version', id, deleted_at FROM document_versions WHERE deleted_at <= $1
         UNION ALL SELECT 'note', id, deleted_at FROM notes WHERE deleted_at <= $1
         UNION ALL SELECT 'client', id, deleted_at FROM clients WHERE deleted_at <= $1",
    )
    .bind(unix_millis(cutoff))
    .fetch_all(tx.conn())
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let id: String = row.try_get("id")?;
        due.push((
            DeletedKind::parse(&kind).ok_or_else(|| invalid("deleted kind"))?,
            id.parse().map_err(|_| invalid("deleted id"))?,
            from_unix_millis(row.try_get("deleted_at")?),
        ));
    }
    // A matter first: what it takes with it is then gone when its turn comes.
    due.sort_by_key(|(kind, _, at)| (*kind, *at));
    Ok(due)
}
