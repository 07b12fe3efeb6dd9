//! Moving matters opened before matters had keys of their own onto one.
//!
//! Content written since always goes under its matter's key (a writer makes the key if the
//! matter has none yet); what was sealed before stays under the firm key, and readers open
//! both. The migration takes one matter per transaction: it makes the key if need be,
//! re-seals the matter's content still under the firm key, and marks the matter
//! (`matter_keys.migrated_at`) in the same commit. Stopped anywhere, it starts again at the
//! first unmarked matter; it runs while the firm is in use.

use ringfence_core::clock::unix_millis;
use ringfence_core::ids::FirmId;
use time::OffsetDateTime;

use crate::rotation::{Reseal, SEALED};
use crate::storage::FirmStore;
use crate::{Storage, StoreError};

/// Matters looked up per query.
const MATTERS_PER_QUERY: i64 = 100;

/// How a migration run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MatterKeyMigration {
    /// Matters marked in this run.
    pub matters: u64,
    /// Values moved from the firm key to their matter's.
    pub moved: u64,
    /// Matters that could not be migrated in this run (their key would not open, say):
    /// passed over, so that they hold up no other matter, and tried again next run.
    pub failed: u64,
    /// Matters left unmarked (a run stopped early, or a failure, leaves some).
    pub remaining: u64,
}

impl Storage {
    /// Migrates the firm's matters not yet on keys of their own, at most `limit` of them
    /// (`None`: all), each once per run in the order of their ids. Safe to stop at any
    /// point and to run again.
    pub async fn migrate_matter_keys(
        &self,
        id: FirmId,
        now: OffsetDateTime,
        limit: Option<u64>,
    ) -> Result<MatterKeyMigration, StoreError> {
        let store = self.firm(id).await?;
        let mut report = MatterKeyMigration::default();
        let mut after = String::new();
        'matters: loop {
            let mut tx = store.begin_read_as_owner().await?;
            let pending: Vec<String> = sqlx::query_scalar(
                "SELECT m.id FROM matters m LEFT JOIN matter_keys k ON k.matter_id = m.id
                 WHERE k.migrated_at IS NULL AND m.id > $1 ORDER BY m.id LIMIT $2",
            )
            .bind(&after)
            .bind(MATTERS_PER_QUERY)
            .fetch_all(tx.conn())
            .await?;
            tx.commit().await?;
            if pending.is_empty() {
                break;
            }
            for matter in pending {
                if limit.is_some_and(|limit| report.matters + report.failed >= limit) {
                    break 'matters;
                }
                match migrate_one(&store, &matter, now).await {
                    Ok(Some(moved)) => {
                        report.matters += 1;
                        report.moved += moved;
                    }
                    // Changed meanwhile (a rotation re-sealed a value as it was read): next run.
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(firm = %id, %matter, error = %e, "a matter could not be moved onto its own key");
                        report.failed += 1;
                    }
                }
                after = matter;
            }
        }
        report.remaining = self.matters_without_keys(id).await?;
        Ok(report)
    }

    /// The firm's matters the migration has yet to mark.
    pub async fn matters_without_keys(&self, id: FirmId) -> Result<u64, StoreError> {
        let store = self.firm(id).await?;
        let mut tx = store.begin_read_as_owner().await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM matters m LEFT JOIN matter_keys k ON k.matter_id = m.id WHERE k.migrated_at IS NULL",
        )
        .fetch_one(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// Moves one matter onto its key in one transaction: the values moved, or `None` when some
/// are still under the firm key (the matter is then left unmarked).
async fn migrate_one(
    store: &FirmStore,
    matter: &str,
    now: OffsetDateTime,
) -> Result<Option<u64>, StoreError> {
    let mut tx = store.begin_as_owner().await?;
    let key = tx.matter_key(matter).await?;
    let mut moved = 0;
    let mut left = 0;
    for column in SEALED.iter().filter(|c| c.matter.is_some()) {
        let which = Reseal::MatterUnderFirmKey(matter);
        loop {
            let batch = column.reseal_batch(&mut tx, which, |_, at, plain| Ok(key.seal(at, plain)?)).await?;
            moved += batch;
            if batch == 0 {
                break;
            }
        }
        left += column.count(&mut tx, which).await?;
    }
    if left > 0 {
        tx.commit().await?;
        return Ok(None);
    }
    sqlx::query("UPDATE matter_keys SET migrated_at = $2 WHERE matter_id = $1 AND migrated_at IS NULL")
        .bind(matter)
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(Some(moved))
}

#[cfg(test)]
#[path = "matter_keys_tests.rs"]
mod tests;
