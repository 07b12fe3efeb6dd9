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
    /// Matters left unmarked (a run stopped early leaves some).
    pub remaining: u64,
}

impl Storage {
    /// Migrates the firm's matters not yet on keys of their own, at most `limit` of them
    /// (`None`: all). Safe to stop at any point and to run again.
    pub async fn migrate_matter_keys(
        &self,
        id: FirmId,
        now: OffsetDateTime,
        limit: Option<u64>,
    ) -> Result<MatterKeyMigration, StoreError> {
        let store = self.firm(id).await?;
        let mut report = MatterKeyMigration::default();
        'matters: loop {
            let mut tx = store.begin_read_as_owner().await?;
            let pending: Vec<String> = sqlx::query_scalar(
                "SELECT m.id FROM matters m LEFT JOIN matter_keys k ON k.matter_id = m.id
                 WHERE k.migrated_at IS NULL ORDER BY m.id LIMIT $1",
            )
            .bind(MATTERS_PER_QUERY)
            .fetch_all(tx.conn())
            .await?;
            tx.commit().await?;
            if pending.is_empty() {
                break;
            }
            for matter in pending {
                if limit.is_some_and(|limit| report.matters >= limit) {
                    break 'matters;
                }
                let mut tx = store.begin_as_owner().await?;
                let key = tx.matter_key(&matter).await?;
                for column in SEALED.iter().filter(|c| c.matter.is_some()) {
                    loop {
                        let which = Reseal::MatterUnderFirmKey(&matter);
                        let moved = column
                            .reseal_batch(&mut tx, which, |_, at, plain| Ok(key.seal(at, plain)?))
                            .await?;
                        report.moved += moved;
                        if moved == 0 {
                            break;
                        }
                    }
                }
                sqlx::query(
                    "UPDATE matter_keys SET migrated_at = $2 WHERE matter_id = $1 AND migrated_at IS NULL",
                )
                .bind(&matter)
                .bind(unix_millis(now))
                .execute(tx.conn())
                .await?;
                tx.commit().await?;
                report.matters += 1;
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

#[cfg(test)]
#[path = "matter_keys_tests.rs"]
mod tests;
