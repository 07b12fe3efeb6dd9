//! Backups as `ringfence backup create|verify|restore` make them, through the store library:
//! a backup of the bench firm to a local target beside the data dir, the same backup proven
//! by a restore into a scratch store, a second backup (which copies no document again), and
//! a restore in place. The restore replaces the firm's store, so it is measured last, with
//! no server running.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::ids::FirmId;
use ringfence_store::backup::{BackupTarget, Progress, Restoring};
use ringfence_store::blobs::{BlobLocation, BlobStore};
use ringfence_store::{Storage, StorageLocation};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use super::log;
use crate::{BenchResult, fail};

/// Backs the firm up twice, verifies the first backup and restores the second in place;
/// `target_dir` (apart from `data_dir`) is emptied first and removed after. `alone` says
/// whether the firm is as seeded (and its audit log filled), or also holds what the parts
/// measured before wrote into it.
///
/// Before the restore the firm's documents are deleted from the blob store, as when the
/// blob store is lost: the restore then copies every document back, and its time covers
/// all that a restore can have to do.
pub async fn measure(
    location: &StorageLocation,
    data_dir: &Path,
    target_dir: &Path,
    firm: FirmId,
    alone: bool,
) -> BenchResult<Value> {
    if target_dir.exists() {
        std::fs::remove_dir_all(target_dir)?;
    }
    let blob_location = BlobLocation::Local(data_dir.join("blobs"));
    let blobs = BlobStore::open(&blob_location)?;
    let target = BackupTarget::open(&BlobLocation::Local(target_dir.to_owned()), &blob_location, data_dir)?;
    let storage = Storage::open(location, data_dir, None, SystemClock.now()).await?;
    let live = LiveBytes::measure(location, data_dir, firm).await?;

    log("backups: the first backup");
    let started = Instant::now();
    let first = storage.back_up_firm(&target, &blobs, firm, SystemClock.now()).await?;
    let backup_seconds = started.elapsed().as_secs_f64();
    let target_after_first = dir_bytes(target_dir)?;

    log("backups: verifying it in a scratch store");
    let started = Instant::now();
    let verified = storage.verify_backup(&target, Some(firm), first.id, SystemClock.now()).await?;
    let verify_seconds = started.elapsed().as_secs_f64();
    if let Some(problem) = verified.problem {
        return Err(fail(format!("the backup does not verify: {problem}")));
    }

    log("backups: a second backup");
    // Backup ids are made from the time they are taken, to the millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let started = Instant::now();
    let second = storage.back_up_firm(&target, &blobs, firm, SystemClock.now()).await?;
    let second_seconds = started.elapsed().as_secs_f64();
    let target_after_second = dir_bytes(target_dir)?;

    log("backups: restoring the firm in place, its documents lost");
    blobs.delete_firm(firm).await?;
    let stages = Stages::default();
    let started = Instant::now();
    let restored = storage
        .restore_firm(
            &target,
            &blobs,
            firm,
            second.id,
            Restoring { settle: Duration::ZERO, progress: &stages },
            SystemClock.now(),
        )
        .await?;
    let restore_seconds = started.elapsed().as_secs_f64();
    let restore_stages = stages.seconds(started.elapsed());
    drop(storage);
    std::fs::remove_dir_all(target_dir)?;
    log(&format!(
        "backups: {:.0} MiB backed up in {backup_seconds:.1} s, verified in {verify_seconds:.1} s, \
         restored in {restore_seconds:.1} s",
        first.covered_bytes as f64 / (1024.0 * 1024.0)
    ));

    Ok(json!({
        "alone": alone,
        "live": {
            "database_bytes": live.database,
            "document_bytes": live.documents,
            "documents": live.document_count,
        },
        "first": {
            "seconds": backup_seconds,
            "covered_bytes": first.covered_bytes,
            "added_bytes": first.added_bytes,
            "target_bytes": target_after_first,
        },
        "verify": {
            "seconds": verify_seconds,
            "rows": verified.rows,
            "documents": verified.documents,
            "document_bytes": verified.document_bytes,
            "audit_entries": verified.audit_entries,
        },
        "second": {
            "seconds": second_seconds,
            "covered_bytes": second.covered_bytes,
            "added_bytes": second.added_bytes,
            "target_bytes": target_after_second,
        },
        "restore": {
            "seconds": restore_seconds,
            "rows": restored.rows,
            "documents_copied": restored.documents_copied,
            "stages": restore_stages,
        },
    }))
}

/// What the firm holds where it lives: its database (on PostgreSQL its schema's tables,
/// indexes and TOAST included) and its documents' blobs, sealed, as they are stored.
struct LiveBytes {
    database: u64,
    documents: u64,
    document_count: usize,
}

impl LiveBytes {
    async fn measure(location: &StorageLocation, data_dir: &Path, firm: FirmId) -> BenchResult<Self> {
        let database = match location {
            StorageLocation::Sqlite => {
                let dir = data_dir.join("firms").join(firm.to_string());
                ["firm.db", "firm.db-wal"]
                    .iter()
                    .map(|name| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len()))
                    .sum()
            }
            StorageLocation::Postgres { url, .. } => {
                let mut conn = PgConnection::connect(url).await?;
                let bytes: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')",
                )
                .bind(format!("firm_{}", firm.simple()))
                .fetch_one(&mut conn)
                .await?;
                conn.close().await?;
                u64::try_from(bytes).unwrap_or(0)
            }
        };
        let blob_dir = data_dir.join("blobs").join("firms").join(firm.to_string()).join("blobs");
        let mut documents = 0;
        let mut document_count = 0;
        for entry in std::fs::read_dir(blob_dir)? {
            let meta = entry?.metadata()?;
            if meta.is_file() {
                documents += meta.len();
                document_count += 1;
            }
        }
        Ok(Self { database, documents, document_count })
    }
}

/// The bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> BenchResult<u64> {
    let mut total = 0;
    let mut pending: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// When the restore entered each of its stages.
#[derive(Default)]
struct Stages(Mutex<Vec<(String, Instant)>>);

impl Stages {
    /// Each stage's seconds, in order; the last one ends `total` after the restore began.
    fn seconds(&self, total: Duration) -> Vec<Value> {
        let Ok(stages) = self.0.lock() else { return Vec::new() };
        let Some((_, first)) = stages.first() else { return Vec::new() };
        let end = *first + total;
        stages
            .iter()
            .enumerate()
            .map(|(i, (stage, began))| {
                let until = stages.get(i + 1).map_or(end, |(_, next)| *next);
                json!({ "stage": stage, "seconds": until.saturating_duration_since(*began).as_secs_f64() })
            })
            .collect()
    }
}

impl Progress for Stages {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn stage(&self, stage: &str) {
        if let Ok(mut stages) = self.0.lock() {
            stages.push((stage.to_owned(), Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use ringfence_store::Backend;
    use ringfence_testkit::{TestEnv, backup_location, both_backends};

    use super::*;
    use crate::seed::{self, Sizes};

    both_backends!(a_second_backup_copies_no_document_again, |env: TestEnv| async move {
        let location = match env.database_url() {
            Some(url) => StorageLocation::postgres(url.to_owned()),
            None => StorageLocation::Sqlite,
        };
        let sizes = Sizes {
            users: 4,
            matters: 20,
            bench_matters: 5,
            notes_per_matter: 2,
            clients: 2,
            audit_entries: 0,
            storm_users: 0,
            vocabulary: 50,
            words_per_note: 4,
            documents: 3,
            document_bytes: 100 << 10,
        };
        let firm = seed::seed(&location, env.data_dir(), sizes, 1).await.expect("seeded").id;
        // The bench keeps its documents in a local directory on both backends.
        let (BlobLocation::Local(target_dir), _kept) = backup_location(Backend::Sqlite) else {
            panic!("a local backup target")
        };
        let measured = measure(&location, env.data_dir(), &target_dir, firm, true).await.expect("measured");

        assert_eq!(measured["live"]["documents"], 3, "{measured}");
        let documents = measured["live"]["document_bytes"].as_u64().expect("document bytes");
        assert!(documents > 3 * (100 << 10), "sealed, a little larger: {measured}");
        let first = measured["first"]["added_bytes"].as_u64().expect("added");
        let second = measured["second"]["added_bytes"].as_u64().expect("added");
        assert!(first > documents && second <= first - documents, "{measured}");
        assert_eq!(measured["first"]["target_bytes"], measured["first"]["added_bytes"], "{measured}");
        assert_eq!(measured["verify"]["documents"], 3);
        assert_eq!(measured["verify"]["document_bytes"], 3 * (100 << 10));
        assert_eq!(measured["restore"]["documents_copied"], 3);
        assert!(!target_dir.exists(), "the target goes with the measuring");
        let stages: Vec<&str> = measured["restore"]["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .filter_map(|s| s["stage"].as_str())
            .collect();
        assert!(stages.contains(&"copying documents"), "{stages:?}");
    });
}
