//! The purge for good of what was soft-deleted longer ago than the firm's grace period:
//! its rows, its search terms and its blobs.
//!
//! Each thing is purged on its own: in one firm transaction (as the owner role, which row
//! security lets reach every matter's rows) its rows go, its audit entry is written (ids
//! and dates only, no content) and a line is put in the firm's `purge_outbox`; then that
//! line is copied to the control store's purge ledger, its blobs are deleted, and the
//! outbox line goes. Rows first, blobs last: a purge cut short leaves its outbox line, and
//! the next run finishes it. The ledger lets a firm store restored from an older backup
//! have every later purge re-applied ([`Storage::replay_purges`]).
//!
//! [`Storage::purge_one`] is the one place a purge is decided.

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::DeletedKind;
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::FirmId;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::blobs::BlobStore;
use crate::control::purge_ledger::{self, Purged};
use crate::firm::{FirmTx, audit, deletion, legal_holds};
use crate::storage::FirmStore;
use crate::{Storage, StoreError};

/// What re-applying a ledger's purges to a restored store came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Purges recorded after the restored backup was taken.
    pub purges: usize,
    /// Of those, the things found in the store again, and removed.
    pub found: usize,
}

impl Storage {
    /// Purges every thing of the firm deleted longer ago than its grace period, first
    /// finishing any purge a previous run left half done; the number purged. A terminated
    /// firm is left as it is: it is read-only until shredded.
    pub async fn purge_deleted(
        &self,
        blobs: &BlobStore,
        firm: FirmId,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let store = self.firm(firm).await?;
        if matches!(store.standing(), FirmStanding::Terminated(_)) {
            return Ok(0);
        }
        self.finish_purges(blobs, &store).await?;
        let mut tx = store.begin_read_as_owner().await?;
        let grace = deletion::grace(&mut tx).await?;
        let due = deletion::due(&mut tx, now - grace.duration()).await?;
        tx.commit().await?;
        let mut purged = 0;
        for (kind, id, _) in due {
            if self.purge_one(blobs, &store, kind, id, now).await? {
                purged += 1;
            }
        }
        // Every run, not only one that purged: a cut held off last time is made now.
        cut_log(&store).await?;
        Ok(purged)
    }

    /// Purges one thing, if it is still deleted and past the firm's grace period in the
    /// transaction that removes it (it may have been restored, or gone with its matter,
    /// since it was listed). Every purge, of every kind, passes here.
    async fn purge_one(
        &self,
        blobs: &BlobStore,
        store: &FirmStore,
        kind: DeletedKind,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = store.begin_as_owner().await?;
        let grace = deletion::grace(&mut tx).await?;
        let found = deleted_row(&mut tx, kind, id).await?;
        let Some((deleted_at, matter)) = found.filter(|(at, _)| !grace.restorable(*at, now)) else {
            tx.commit().await?;
            return Ok(false);
        };
        if kind == DeletedKind::Client && client_referred_to(&mut tx, id).await? {
            // Deletion refuses such a client; one referred to since is kept.
            tx.commit().await?;
            return Ok(false);
        }
        // A legal hold placed since the deletion keeps the thing until it is lifted.
        let held = match (kind, matter) {
            (DeletedKind::Client, _) => legal_holds::holds_client(&mut tx, id).await?,
            (_, Some(matter)) => legal_holds::holds_matter(&mut tx, matter).await?,
            (_, None) => false,
        };
        if held {
            tx.commit().await?;
            return Ok(false);
        }
        let purged =
            Purged { kind, id, blobs: remove_rows(&mut tx, kind, id).await?, deleted_at, purged_at: now };
        sqlx::query(
            "INSERT INTO purge_outbox (kind, object_id, blobs, deleted_at, purged_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kind.as_str())
        .bind(id.to_string())
        .bind(purged.blob_list())
        .bind(unix_millis(deleted_at))
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
        audit::append(&mut tx, &entry(action(kind), kind.as_str(), id.to_string(), matter, now)).await?;
        tx.commit().await?;
        self.finish_purge(blobs, store, &purged).await?;
        Ok(true)
    }

    /// The rest of a purge whose rows are gone: its ledger line, then its blobs, then its
    /// outbox line. Each step may run again.
    async fn finish_purge(
        &self,
        blobs: &BlobStore,
        store: &FirmStore,
        purged: &Purged,
    ) -> Result<(), StoreError> {
        purge_ledger::record(&mut *self.control.acquire().await?, store.id(), purged).await?;
        for blob in &purged.blobs {
            blobs.delete(store.id(), *blob).await?;
        }
        let mut tx = store.begin_as_owner().await?;
        sqlx::query("DELETE FROM purge_outbox WHERE kind = $1 AND object_id = $2")
            .bind(purged.kind.as_str())
            .bind(purged.id.to_string())
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Finishes the purges a run left half done (see [`Self::finish_purge`]).
    async fn finish_purges(&self, blobs: &BlobStore, store: &FirmStore) -> Result<(), StoreError> {
        let mut tx = store.begin_read_as_owner().await?;
        let rows = sqlx::query("SELECT kind, object_id, blobs, deleted_at, purged_at FROM purge_outbox")
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let id: String = row.try_get("object_id")?;
            let listed: String = row.try_get("blobs")?;
            let purged = Purged {
                kind: DeletedKind::parse(&kind).ok_or_else(|| invalid("purge_outbox.kind"))?,
                id: id.parse().map_err(|_| invalid("purge_outbox.object_id"))?,
                blobs: Purged::parse_blobs(&listed)?,
                deleted_at: from_unix_millis(row.try_get("deleted_at")?),
                purged_at: from_unix_millis(row.try_get("purged_at")?),
            };
            self.finish_purge(blobs, store, &purged).await?;
        }
        Ok(())
    }

    /// Re-applies to the firm's store every purge the ledger recorded after `since` (when
    /// the backup it was restored from was taken): removes the rows of each thing found
    /// again, in one transaction with one audit entry, then deletes their blobs. Running it
    /// again changes nothing more.
    pub async fn replay_purges(
        &self,
        blobs: &BlobStore,
        firm: FirmId,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Replayed, StoreError> {
        let store = self.firm(firm).await?;
        self.replay_purges_in(blobs, &store, since, now).await
    }

    /// [`Self::replay_purges`] on a store in hand: one being restored, closed to the rest.
    pub(crate) async fn replay_purges_in(
        &self,
        blobs: &BlobStore,
        store: &FirmStore,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Replayed, StoreError> {
        let firm = store.id();
        let purges = purge_ledger::since(&mut *self.control.acquire().await?, firm, since).await?;
        let mut replayed = Replayed { purges: purges.len(), found: 0 };
        if purges.is_empty() {
            return Ok(replayed);
        }
        let mut tx = store.begin_as_owner().await?;
        for purged in &purges {
            if !present(&mut tx, purged.kind, purged.id).await? {
                continue;
            }
            if purged.kind == DeletedKind::Client && client_referred_to(&mut tx, purged.id).await? {
                tracing::warn!(%firm, client = %purged.id, "a purged client is referred to again in the restored store: kept");
                continue;
            }
            remove_rows(&mut tx, purged.kind, purged.id).await?;
            replayed.found += 1;
        }
        let summary = format!(
            "{} purges since {}, {} found again",
            replayed.purges,
            since.unix_timestamp(),
            replayed.found
        );
        audit::append(&mut tx, &entry(AuditAction::PurgesReplayed, "purges", summary, None, now)).await?;
        tx.commit().await?;
        for purged in &purges {
            for blob in &purged.blobs {
                blobs.delete(firm, *blob).await?;
            }
        }
        cut_log(store).await?;
        Ok(replayed)
    }
}

/// Cuts a SQLite firm's write-ahead log after a purge, so that no earlier copy of a purged
/// page stays in it. A reader still in the log holds the cut off: the job then fails, to be
/// retried shortly, rather than wait a day for the next purge.
async fn cut_log(store: &FirmStore) -> Result<(), StoreError> {
    if store.truncate_write_ahead_log().await? { Ok(()) } else { Err(StoreError::LogNotCut) }
}

fn invalid(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("{what} holds an invalid value").into()))
}

fn action(kind: DeletedKind) -> AuditAction {
    match kind {
        DeletedKind::Matter => AuditAction::MatterPurged,
        DeletedKind::Document => AuditAction::DocumentPurged,
        DeletedKind::DocumentVersion => AuditAction::DocumentVersionPurged,
        DeletedKind::Note => AuditAction::NotePurged,
        DeletedKind::Client => AuditAction::ClientPurged,
    }
}

fn entry(
    action: AuditAction,
    resource_type: &'static str,
    resource_id: String,
    matter: Option<Uuid>,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: AuditActor::System,
        action,
        resource_type: Some(resource_type),
        resource_id: Some(resource_id),
        matter_id: matter.map(|m| m.to_string()),
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}

/// The SQL that finds one thing's deletion time and its matter, by id at `$1`.
fn deleted_query(kind: DeletedKind) -> &'static str {
    match kind {
        DeletedKind::Matter => "SELECT deleted_at, id AS matter_id FROM matters WHERE id = $1",
        DeletedKind::Document => "SELECT deleted_at, matter_id FROM documents WHERE id = $1",
        DeletedKind::DocumentVersion => {
            "SELECT v.deleted_at, d.matter_id FROM document_versions v JOIN documents d ON d.id = v.document_id
             WHERE v.id = $1"
        }
        DeletedKind::Note => "SELECT deleted_at, matter_id FROM notes WHERE id = $1",
        DeletedKind::Client => "SELECT deleted_at, NULL AS matter_id FROM clients WHERE id = $1",
    }
}

/// When the thing was deleted, and its matter; `None` when it is not there or not deleted.
async fn deleted_row(
    tx: &mut FirmTx,
    kind: DeletedKind,
    id: Uuid,
) -> Result<Option<(OffsetDateTime, Option<Uuid>)>, StoreError> {
    let row = sqlx::query(deleted_query(kind)).bind(id.to_string()).fetch_optional(tx.conn()).await?;
    let Some(row) = row else { return Ok(None) };
    let deleted_at: Option<i64> = row.try_get("deleted_at")?;
    let matter: Option<String> = row.try_get("matter_id")?;
    let matter = matter.map(|m| m.parse().map_err(|_| invalid("matter_id"))).transpose()?;
    Ok(deleted_at.map(|at| (from_unix_millis(at), matter)))
}

/// Whether the thing's row is there, deleted or not.
async fn present(tx: &mut FirmTx, kind: DeletedKind, id: Uuid) -> Result<bool, StoreError> {
    Ok(sqlx::query(deleted_query(kind)).bind(id.to_string()).fetch_optional(tx.conn()).await?.is_some())
}

/// Whether a matter or a data subject's request refers to the client.
async fn client_referred_to(tx: &mut FirmTx, client: Uuid) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT matters, requests FROM client_references WHERE client_id = $1")
        .bind(client.to_string())
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Ok(false) };
    Ok(row.try_get::<i64, _>("matters")? > 0 || row.try_get::<i64, _>("requests")? > 0)
}

async fn run(tx: &mut FirmTx, sql: &'static str, id: &str) -> Result<(), StoreError> {
    sqlx::query(sql).bind(id).execute(tx.conn()).await?;
    Ok(())
}

/// Removes the thing's rows, whatever refers to them and its search terms, deleted or not;
/// the ids of the blobs they named (an export's among them). Removing what is not there
/// removes nothing.
async fn remove_rows(tx: &mut FirmTx, kind: DeletedKind, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let key = id.to_string();
    let blobs_sql = match kind {
        // An export of the matter still on hand holds its content too.
        DeletedKind::Matter => Some(
            "SELECT v.id FROM document_versions v JOIN documents d ON d.id = v.document_id WHERE d.matter_id = $1
             UNION SELECT blob_id FROM exports WHERE matter_id = $1 AND blob_id IS NOT NULL",
        ),
        DeletedKind::Document => Some("SELECT id FROM document_versions WHERE document_id = $1"),
        DeletedKind::DocumentVersion => Some("SELECT id FROM document_versions WHERE id = $1"),
        DeletedKind::Note | DeletedKind::Client => None,
    };
    let blobs: Vec<String> = match blobs_sql {
        Some(sql) => sqlx::query_scalar(sql).bind(&key).fetch_all(tx.conn()).await?,
        None => Vec::new(),
    };
    match kind {
        DeletedKind::Matter => {
            for sql in [
                "DELETE FROM search_terms WHERE matter_id = $1",
                "DELETE FROM note_versions WHERE note_id IN (SELECT id FROM notes WHERE matter_id = $1)",
                "DELETE FROM notes WHERE matter_id = $1",
                "DELETE FROM document_versions WHERE document_id IN (SELECT id FROM documents WHERE matter_id = $1)",
                "DELETE FROM documents WHERE matter_id = $1",
                "DELETE FROM matter_members WHERE matter_id = $1",
                "DELETE FROM matter_walls WHERE matter_id = $1",
                "DELETE FROM matter_access_history WHERE matter_id = $1",
                "DELETE FROM retention_notices WHERE matter_id = $1",
                // Only lifted holds are left on a matter purged: a standing one keeps it.
                "DELETE FROM legal_holds WHERE matter_id = $1",
                "DELETE FROM exports WHERE matter_id = $1",
                // With its key goes the means to open any copy of the matter's content kept
                // outside the database (earlier object versions of its files, say).
                "DELETE FROM matter_keys WHERE matter_id = $1",
                "DELETE FROM matters WHERE id = $1",
            ] {
                run(tx, sql, &key).await?;
            }
        }
        DeletedKind::Document => {
            for sql in [
                "DELETE FROM search_terms WHERE kind = 'document' AND source_id = $1",
                "DELETE FROM document_versions WHERE document_id = $1",
                "DELETE FROM documents WHERE id = $1",
            ] {
                run(tx, sql, &key).await?;
            }
        }
        DeletedKind::DocumentVersion => {
            let document: Option<String> =
                sqlx::query_scalar("SELECT document_id FROM document_versions WHERE id = $1")
                    .bind(&key)
                    .fetch_optional(tx.conn())
                    .await?;
            run(tx, "DELETE FROM document_versions WHERE id = $1", &key).await?;
            // A restored store may hold it as its document's current version.
            if let Some(document) = document {
                run(
                    tx,
                    "UPDATE documents SET current_version =
                        (SELECT MAX(version) FROM document_versions WHERE document_id = documents.id)
                     WHERE id = $1 AND current_version NOT IN
                        (SELECT version FROM document_versions WHERE document_id = documents.id)
                       AND EXISTS (SELECT 1 FROM document_versions WHERE document_id = documents.id)",
                    &document,
                )
                .await?;
            }
        }
        DeletedKind::Note => {
            for sql in [
                "DELETE FROM search_terms WHERE kind = 'note' AND source_id = $1",
                "DELETE FROM note_versions WHERE note_id = $1",
                "DELETE FROM notes WHERE id = $1",
            ] {
                run(tx, sql, &key).await?;
            }
        }
        DeletedKind::Client => {
            for sql in [
                "DELETE FROM client_walls WHERE client_id = $1",
                "DELETE FROM legal_holds WHERE client_id = $1",
                "DELETE FROM clients WHERE id = $1",
            ] {
                run(tx, sql, &key).await?;
            }
        }
    }
    blobs.iter().map(|b| b.parse().map_err(|_| invalid("document_versions.id"))).collect()
}
