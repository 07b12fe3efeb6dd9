//! Removing what uploads leave behind in the blob store: blobs no document version (nor
//! export) records (an upload cancelled, refused or cut off by a crash after its bytes were stored,
//! before or instead of their record) and a local store's staged, never published files.
//!
//! Several servers may share one database and one bucket, and an upload in flight on any
//! of them has bytes stored before its record exists. So only what was last written longer
//! ago than a grace period (by the blob's own time: the file's, or the object's
//! `Last-Modified`) is a candidate, and a candidate goes only when no version row names it,
//! read after the listing. An upload records its bytes within moments of storing them,
//! far inside the grace period. Sweeping twice, or on two servers at once, removes nothing
//! more: deleting what is already gone is not an error.

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::ids::FirmId;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::blobs::BlobStore;
use crate::{Storage, StoreError};

/// How old an unrecorded blob or staged file must be before a sweep removes it.
pub const SWEEP_GRACE: Duration = Duration::hours(24);

/// Version ids looked up per statement.
const IDS_PER_QUERY: usize = 500;

/// What one sweep of one firm found and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Blobs no document version records, older than the grace period: removed.
    pub orphans: usize,
    /// Staged files older than the grace period: removed.
    pub staged: usize,
    /// Blobs and staged files written within the grace period, recorded or not: left alone.
    pub fresh: usize,
}

impl Storage {
    /// Sweeps one firm's blobs as of `now` (from the caller's clock) and records the
    /// counts, and nothing else, in the firm's audit log as `blobs.swept` by `actor`.
    pub async fn sweep_blobs(
        &self,
        blobs: &BlobStore,
        firm: FirmId,
        now: OffsetDateTime,
        grace: Duration,
        actor: AuditActor,
    ) -> Result<Swept, StoreError> {
        let cutoff = now - grace;
        let mut swept = Swept::default();
        // Listed before the records are read: a blob recorded meanwhile is then seen as
        // recorded.
        let listed = blobs.list_with_times(firm).await?;
        let staged = blobs.list_staged(firm).await?;
        let old: Vec<Uuid> = listed.iter().filter(|b| b.modified < cutoff).map(|b| b.id).collect();
        let recorded = self.recorded_versions(firm, &old).await?;
        for blob in &listed {
            if blob.modified >= cutoff {
                swept.fresh += 1;
            } else if !recorded.contains(&blob.id) {
                blobs.delete(firm, blob.id).await?;
                swept.orphans += 1;
            }
        }
        for file in &staged {
            if file.modified < cutoff {
                blobs.delete_staged(file).await?;
                swept.staged += 1;
            } else {
                swept.fresh += 1;
            }
        }
        let record = AuditRecord {
            at: now,
            actor,
            action: AuditAction::BlobsSwept,
            resource_type: Some("blobs"),
            resource_id: Some(format!(
                "removed {} unrecorded, {} staged; left {} younger than the grace period",
                swept.orphans, swept.staged, swept.fresh
            )),
            matter_id: None,
            outcome: Outcome::Success,
            origin: Origin::default(),
        };
        self.firm(firm).await?.append_audit(record).await?;
        Ok(swept)
    }

    /// Which of `ids` a document version of the firm records, whoever's matter it is on.
    async fn recorded_versions(&self, firm: FirmId, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.firm(firm).await?;
        let mut tx = store.begin_read_as_owner().await?;
        let mut recorded = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            // A built export's ZIP is a blob too, recorded by its export until it is removed.
            let list = placeholders.join(", ");
            let sql = format!(
                "SELECT id FROM document_versions WHERE id IN ({list}) UNION SELECT blob_id FROM exports WHERE blob_id IN ({list})"
            );
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for id in query.fetch_all(tx.conn()).await? {
                if let Ok(id) = id.parse() {
                    recorded.push(id);
                }
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }
}
