//! Backups of every firm and of the control store, on a target apart from the data.
//!
//! A firm's backup is one moment of its store (every row, read in one snapshot
//! transaction, sealed values left sealed), what the control store holds for it (its row,
//! its wrapped keys, its directory entries, its purge ledger) and its documents, copied as
//! the ciphertext they are, each only once per target. The store's rows and the manifest
//! are sealed under the firm's backup key, derived from the master key: the target holds
//! no plaintext, and the target and the master key are all a restore needs.
//!
//! A backup is proven by restoring it into a scratch store (a temporary SQLite file or
//! PostgreSQL schema): every table's rows counted against the manifest, every document's
//! chunks authenticated and hashed, the audit chain verified.

mod copy;
mod rows;
mod sealed;
pub mod target;

use std::collections::{BTreeMap, BTreeSet};

use object_store::path::Path as ObjectPath;
use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::FirmId;
use ringfence_crypto::{DataKey, FirmKeyring, KeyVersion, WrappedFirmKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

pub use self::copy::{NewCopy, RestoredCopy};
use self::rows::{Loader, TableHead};
use self::sealed::{Lines, SealedReader, SealedWriter};
pub use self::target::BackupTarget;
use crate::blobs::BlobStore;
use crate::control::backups::{self, BackupRecord, BackupState};
use crate::control::{firms, terminations};
use crate::firm::{audit, documents};
use crate::migrate::{self, StoreKind};
use crate::storage::{FirmStore, Place, causes};
use crate::{Backend, Storage, StoreError, backend};

/// The manifest's format; a newer one is refused, not misread.
const FORMAT: u32 = 1;

/// What the control store holds of a firm, in the order a restore writes it back.
const FIRM_CONTROL_TABLES: &[(&str, &str)] = &[
    ("firms", "id"),
    ("firm_keys", "firm_id"),
    ("firm_terminations", "firm_id"),
    ("directory", "firm_id"),
    ("purge_ledger", "firm_id"),
];

/// A backup's description, sealed beside its rows; written last, so a backup exists once
/// its manifest does.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    id: Uuid,
    /// `None`: the control store's backup.
    firm: Option<FirmId>,
    slug: Option<String>,
    taken_at: i64,
    master_key_id: String,
    backend: String,
    schema_version: i64,
    /// Rows per table, in the order they were written (the order a load needs).
    tables: Vec<(String, u64)>,
    store_plain_bytes: u64,
    store_sealed_bytes: u64,
    /// Every document version's blob, with its sealed size.
    documents: Vec<(Uuid, u64)>,
    /// What the control store held for the firm: each table's head and rows.
    control: Vec<(TableHead, Vec<serde_json::Value>)>,
}

impl Manifest {
    fn covered_bytes(&self) -> u64 {
        self.store_sealed_bytes + self.documents.iter().map(|(_, bytes)| bytes).sum::<u64>()
    }
}

/// A backup found on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub id: Uuid,
    pub firm: Option<FirmId>,
    pub slug: Option<String>,
    pub taken_at: OffsetDateTime,
    pub rows: u64,
    pub documents: usize,
    pub covered_bytes: u64,
    /// Why this deployment cannot open it, when it cannot.
    pub problem: Option<String>,
}

/// What a verification found: all there and whole, or the first problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBackup {
    pub rows: u64,
    pub documents: usize,
    pub document_bytes: u64,
    pub audit_entries: i64,
    pub problem: Option<String>,
}

/// What a restore came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredFirm {
    pub rows: u64,
    pub documents_copied: usize,
    pub purges_replayed: crate::purge::Replayed,
    /// Users whose address now belongs to another firm: restored, but they cannot sign in.
    pub addresses_taken: usize,
}

/// How many generations of backups the rotation keeps: the newest backup of each of the
/// last `daily` days, `weekly` weeks and `monthly` months that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generations {
    pub daily: usize,
    pub weekly: usize,
    pub monthly: usize,
}

impl Default for Generations {
    fn default() -> Self {
        Self { daily: 7, weekly: 4, monthly: 12 }
    }
}

/// How a restore runs: how long it waits, once the firm is closed, for every server to see
/// it closed and for requests under way to end; and who is told how it gets on.
#[derive(Clone, Copy)]
pub struct Restoring<'a> {
    pub settle: std::time::Duration,
    pub progress: &'a dyn Progress,
}

/// Told how a restore gets on, to show it.
pub trait Progress: Send + Sync {
    /// The bytes the whole restore will go through.
    fn total(&self, bytes: u64);
    fn advance(&self, bytes: u64);
    fn stage(&self, stage: &str);
}

/// A restore nobody watches.
pub struct Unwatched;

impl Progress for Unwatched {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn stage(&self, _: &str) {}
}

fn scope_of(firm: Option<FirmId>) -> String {
    firm.map_or_else(|| "control".to_owned(), |f| f.to_string())
}

fn backup_dir(firm: Option<FirmId>, id: Uuid) -> Vec<String> {
    match firm {
        Some(firm) => vec!["firms".into(), firm.to_string(), "backups".into(), id.to_string()],
        None => vec!["control".into(), "backups".into(), id.to_string()],
    }
}

fn part(target: &BackupTarget, firm: Option<FirmId>, id: Uuid, name: &str) -> ObjectPath {
    let mut parts = backup_dir(firm, id);
    parts.push(name.to_owned());
    target.store.object(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// What each sealed part of a backup is bound to: a part moved to another backup, scope or
/// name does not open.
fn binding(firm: Option<FirmId>, id: Uuid, name: &str) -> [Vec<u8>; 4] {
    [
        b"ringfence.backup.v1".to_vec(),
        scope_of(firm).into_bytes(),
        id.to_string().into_bytes(),
        name.as_bytes().to_vec(),
    ]
}

/// Starts the sealed file `name` of a backup.
fn sealed_writer(
    target: &BackupTarget,
    key: &DataKey,
    firm: Option<FirmId>,
    id: Uuid,
    name: &str,
) -> Result<SealedWriter, StoreError> {
    SealedWriter::start(
        &target.store,
        part(target, firm, id, name),
        key,
        &binding(firm, id, name).each_ref().map(Vec::as_slice),
    )
}

/// Opens the sealed file `name` of a backup.
async fn sealed_reader(
    target: &BackupTarget,
    key: &DataKey,
    firm: Option<FirmId>,
    id: Uuid,
    name: &str,
) -> Result<SealedReader, StoreError> {
    SealedReader::open(
        &target.store,
        part(target, firm, id, name),
        key,
        &binding(firm, id, name).each_ref().map(Vec::as_slice),
    )
    .await
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

impl Storage {
    fn backup_key(&self, firm: Option<FirmId>) -> Result<DataKey, StoreError> {
        Ok(self.master.backup_key(&scope_of(firm))?)
    }

    /// Backs a firm up to `target`, and records it (made, or failed and why).
    pub async fn back_up_firm(
        &self,
        target: &BackupTarget,
        blobs: &BlobStore,
        firm: FirmId,
        now: OffsetDateTime,
    ) -> Result<BackupRecord, StoreError> {
        let id = backup_id(now);
        let written = self.write_firm_backup(target, blobs, firm, id, now).await;
        let record = match &written {
            Ok((manifest, added)) => BackupRecord {
                id,
                firm: Some(firm),
                taken_at: now,
                state: BackupState::Made,
                covered_bytes: manifest.covered_bytes(),
                added_bytes: *added,
                verified_at: None,
                problem: None,
            },
            Err(e) => failed_record(id, Some(firm), now, e),
        };
        backups::insert(&mut *self.control.acquire().await?, &record).await?;
        written.map(|_| record)
    }

    async fn write_firm_backup(
        &self,
        target: &BackupTarget,
        blobs: &BlobStore,
        firm: FirmId,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(Manifest, u64), StoreError> {
        let store = self.firm(firm).await?;
        let key = self.backup_key(Some(firm))?;
        let mut writer = sealed_writer(target, &key, Some(firm), id, "store")?;
        let mut tx = store.begin_snapshot_as_owner().await?;
        let schema_version = schema_version(tx.conn()).await?;
        let heads = rows::tables(tx.conn(), self.backend()).await?;
        let tables = write_tables(tx.conn(), &heads, &mut writer).await?;
        let versions: Vec<String> =
            sqlx::query_scalar("SELECT id FROM document_versions ORDER BY id").fetch_all(tx.conn()).await?;
        tx.commit().await?;
        let store_plain_bytes = writer.plain_len;
        let store_sealed_bytes = writer.finish().await?;

        let mut added = store_sealed_bytes;
        let mut documents = Vec::with_capacity(versions.len());
        for version in versions {
            let blob: Uuid = version.parse().map_err(|_| rows::invalid("a document version id"))?;
            // A copy already there is taken as it is when its size is the live blob's; one cut
            // short (a copy interrupted, or damaged) is copied again.
            let live = blobs.size(firm, blob).await?;
            let copied = match target.store.size(firm, blob).await {
                Ok(size) => Some(size),
                Err(StoreError::BlobMissing) => None,
                Err(e) => return Err(e),
            };
            let bytes = if copied == Some(live) {
                live
            } else {
                let copied = blobs.copy_to(&target.store, firm, blob, firm).await?;
                added += copied;
                copied
            };
            documents.push((blob, bytes));
        }

        let control = self.firm_control_rows(firm).await?;
        let slug = self.firm_by_id(firm).await?.slug.to_string();
        let manifest = Manifest {
            format: FORMAT,
            id,
            firm: Some(firm),
            slug: Some(slug),
            taken_at: unix_millis(now),
            master_key_id: self.master.id().to_owned(),
            backend: backend_name(self.backend()).to_owned(),
            schema_version,
            tables,
            store_plain_bytes,
            store_sealed_bytes,
            documents,
            control,
        };
        added += self.write_manifest(target, &manifest).await?;
        Ok((manifest, added))
    }

    /// The control store's rows of `firm`, read after its store's snapshot, so that every
    /// key version a row of the snapshot was sealed under is among them.
    async fn firm_control_rows(
        &self,
        firm: FirmId,
    ) -> Result<Vec<(TableHead, Vec<serde_json::Value>)>, StoreError> {
        let mut tx = backend::begin_control_snapshot(&self.control, self.backend()).await?;
        let mut control = Vec::with_capacity(FIRM_CONTROL_TABLES.len());
        for (table, column) in FIRM_CONTROL_TABLES {
            let head = rows::head(&mut tx, self.backend(), table).await?;
            let mut found = Vec::new();
            let firm_id = firm.to_string();
            let mut rows = rows::rows(&mut tx, &head, Some((column, &firm_id)))?;
            while let Some(row) = rows.next().await? {
                found.push(rows::row_json(&row));
            }
            drop(rows);
            control.push((head, found));
        }
        tx.commit().await?;
        Ok(control)
    }

    async fn write_manifest(&self, target: &BackupTarget, manifest: &Manifest) -> Result<u64, StoreError> {
        let key = self.backup_key(manifest.firm)?;
        let mut writer = sealed_writer(target, &key, manifest.firm, manifest.id, "manifest")?;
        let json = serde_json::to_vec(manifest).map_err(|e| StoreError::BackupUnreadable(e.to_string()))?;
        writer.push(&json).await?;
        writer.finish().await
    }

    async fn read_manifest(
        &self,
        target: &BackupTarget,
        firm: Option<FirmId>,
        id: Uuid,
    ) -> Result<Manifest, StoreError> {
        let key = self.backup_key(firm)?;
        let sealed = async {
            sealed_reader(target, &key, firm, id, "manifest").await?
            .read_all()
            .await
        }
        .await
        .map_err(|e| match e {
            StoreError::BlobMissing => StoreError::UnknownBackup(id.to_string()),
            StoreError::BlobIntegrity => StoreError::BackupUnreadable(
                "its manifest does not open under this master key's backup key: another deployment's, altered, or moved"
                    .into(),
            ),
            other => other,
        })?;
        let manifest: Manifest = serde_json::from_slice(&sealed)
            .map_err(|e| StoreError::BackupUnreadable(format!("its manifest is not readable: {e}")))?;
        if manifest.format != FORMAT || manifest.id != id || manifest.firm != firm {
            return Err(StoreError::BackupUnreadable("its manifest is of another format or backup".into()));
        }
        Ok(manifest)
    }

    async fn store_lines(&self, target: &BackupTarget, manifest: &Manifest) -> Result<Lines, StoreError> {
        let key = self.backup_key(manifest.firm)?;
        let reader = sealed_reader(target, &key, manifest.firm, manifest.id, "store").await?;
        Ok(Lines::new(reader))
    }

    /// Backs the control store up (firms, keys, directory, purge ledger, jobs…).
    pub async fn back_up_control(
        &self,
        target: &BackupTarget,
        now: OffsetDateTime,
    ) -> Result<BackupRecord, StoreError> {
        let id = backup_id(now);
        let written = async {
            let key = self.backup_key(None)?;
            let mut writer = sealed_writer(target, &key, None, id, "store")?;
            let mut tx = backend::begin_control_snapshot(&self.control, self.backend()).await?;
            let schema_version = schema_version(&mut tx).await?;
            let heads = rows::tables(&mut tx, self.backend()).await?;
            let tables = write_tables(&mut tx, &heads, &mut writer).await?;
            tx.commit().await?;
            let store_plain_bytes = writer.plain_len;
            let store_sealed_bytes = writer.finish().await?;
            let manifest = Manifest {
                format: FORMAT,
                id,
                firm: None,
                slug: None,
                taken_at: unix_millis(now),
                master_key_id: self.master.id().to_owned(),
                backend: backend_name(self.backend()).to_owned(),
                schema_version,
                tables,
                store_plain_bytes,
                store_sealed_bytes,
                documents: Vec::new(),
                control: Vec::new(),
            };
            let added = store_sealed_bytes + self.write_manifest(target, &manifest).await?;
            Ok::<_, StoreError>((manifest, added))
        }
        .await;
        let record = match &written {
            Ok((manifest, added)) => BackupRecord {
                id,
                firm: None,
                taken_at: now,
                state: BackupState::Made,
                covered_bytes: manifest.covered_bytes(),
                added_bytes: *added,
                verified_at: None,
                problem: None,
            },
            Err(e) => failed_record(id, None, now, e),
        };
        backups::insert(&mut *self.control.acquire().await?, &record).await?;
        written.map(|_| record)
    }

    /// The backups on the target, newest first: the firm's (the control store's when
    /// `None`), or every one when `all`.
    pub async fn list_backups(
        &self,
        target: &BackupTarget,
        scope: Option<Option<FirmId>>,
    ) -> Result<Vec<BackupSummary>, StoreError> {
        let mut found = Vec::new();
        for (firm, id) in backup_ids(target, scope).await? {
            // One backup this deployment cannot open (another master key's, or damaged)
            // is listed as such, and keeps no other from being listed.
            let summary = match self.read_manifest(target, firm, id).await {
                Ok(manifest) => BackupSummary {
                    id,
                    firm,
                    slug: manifest.slug.clone(),
                    taken_at: from_unix_millis(manifest.taken_at),
                    rows: manifest.tables.iter().map(|(_, rows)| rows).sum(),
                    documents: manifest.documents.len(),
                    covered_bytes: manifest.covered_bytes(),
                    problem: None,
                },
                Err(StoreError::BackupUnreadable(problem)) => BackupSummary {
                    id,
                    firm,
                    slug: None,
                    taken_at: id_moment(id),
                    rows: 0,
                    documents: 0,
                    covered_bytes: 0,
                    problem: Some(problem),
                },
                Err(e) => return Err(e),
            };
            found.push(summary);
        }
        found.sort_by(|a, b| b.taken_at.cmp(&a.taken_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    /// The backups recorded for a firm (the control store's when `None`), newest first.
    pub async fn backup_records(
        &self,
        firm: Option<FirmId>,
        limit: i64,
    ) -> Result<Vec<BackupRecord>, StoreError> {
        backups::list(&mut *self.control.acquire().await?, firm, limit).await
    }

    /// The backup recorded under `id`, if any.
    pub async fn backup_record(&self, id: Uuid) -> Result<Option<BackupRecord>, StoreError> {
        backups::get(&mut *self.control.acquire().await?, id).await
    }

    /// Restores the backup into a scratch store and checks it: every table's rows against
    /// the manifest, every document's chunks and hash, the audit chain. Records the
    /// outcome (verified, or failed and why) when the backup is on record.
    pub async fn verify_backup(
        &self,
        target: &BackupTarget,
        firm: Option<FirmId>,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<VerifiedBackup, StoreError> {
        self.clear_stale_scratch(now).await?;
        let verified = match self.read_manifest(target, firm, id).await {
            Ok(manifest) => match firm {
                Some(firm) => self.verify_firm_backup(target, firm, &manifest).await,
                None => self.verify_control_backup(target, &manifest).await,
            },
            Err(e) => Err(e),
        };
        let verified = match verified {
            Ok(verified) => verified,
            Err(e) => VerifiedBackup {
                rows: 0,
                documents: 0,
                document_bytes: 0,
                audit_entries: 0,
                problem: Some(causes(&e)),
            },
        };
        backups::set_verified(
            &mut *self.control.acquire().await?,
            firm,
            id,
            now,
            verified.problem.as_deref(),
        )
        .await?;
        Ok(verified)
    }

    async fn verify_firm_backup(
        &self,
        target: &BackupTarget,
        firm: FirmId,
        manifest: &Manifest,
    ) -> Result<VerifiedBackup, StoreError> {
        self.check_restorable(manifest)?;
        let scratch = Uuid::now_v7();
        let keyring = self.keyring_of_manifest(firm, manifest)?;
        self.provision_at(Place::Scratch(scratch)).await?;
        let checked = async {
            let store = self
                .open_firm_store_at(firm, Place::Scratch(scratch), keyring, FirmStanding::Active, None)
                .await?;
            let result = self.check_in_scratch(target, &store, manifest).await;
            store.close().await;
            result
        }
        .await;
        self.deprovision_at(Place::Scratch(scratch)).await?;
        checked
    }

    async fn check_in_scratch(
        &self,
        target: &BackupTarget,
        store: &FirmStore,
        manifest: &Manifest,
    ) -> Result<VerifiedBackup, StoreError> {
        self.migrate_store(store, Some(manifest.schema_version)).await?;
        let rows = self.load_store(target, store, manifest, &Unwatched).await?;
        let mut verified =
            VerifiedBackup { rows, documents: 0, document_bytes: 0, audit_entries: 0, problem: None };
        let mut tx = store.begin_read_as_owner().await?;
        for (table, expected) in &manifest.tables {
            let counted: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{table}\"")))
                    .fetch_one(tx.conn())
                    .await?;
            if u64::try_from(counted).ok() != Some(*expected) {
                verified.problem =
                    Some(format!("table {table} holds {counted} rows; the manifest says {expected}"));
                return Ok(verified);
            }
        }
        let versions = documents::every_version_for_backup(&mut tx).await?;
        let listed: BTreeSet<Uuid> = manifest.documents.iter().map(|(id, _)| *id).collect();
        if versions.iter().map(|v| v.id).collect::<BTreeSet<_>>() != listed {
            verified.problem = Some("the documents listed differ from the document versions restored".into());
            return Ok(verified);
        }
        for version in &versions {
            let content =
                documents::Content::of(&target.store, store, version.id, &version.key, version.size).await;
            let hash = match content {
                Ok(content) => hash_all(&content).await,
                Err(e) => Err(e),
            };
            match hash {
                Ok(hash) if hash == version.sha256 => {
                    verified.documents += 1;
                    verified.document_bytes += version.size;
                }
                Ok(_) => {
                    verified.problem = Some(format!(
                        "document version {} does not hash to its recorded SHA-256",
                        version.id
                    ));
                    return Ok(verified);
                }
                Err(e) => {
                    verified.problem = Some(format!("document version {}: {}", version.id, causes(&e)));
                    return Ok(verified);
                }
            }
        }
        match audit::verify(&mut tx).await? {
            audit::Verification::Intact { entries, .. } => verified.audit_entries = entries,
            other => verified.problem = Some(format!("the audit chain does not verify: {other:?}")),
        }
        tx.commit().await?;
        Ok(verified)
    }

    async fn verify_control_backup(
        &self,
        target: &BackupTarget,
        manifest: &Manifest,
    ) -> Result<VerifiedBackup, StoreError> {
        self.check_restorable(manifest)?;
        let counted = self.load_control_scratch(target, manifest).await?;
        let problem =
            manifest.tables.iter().find(|(table, expected)| counted.get(table) != Some(expected)).map(
                |(table, expected)| {
                    format!(
                        "table {table} holds {} rows; the manifest says {expected}",
                        counted.get(table).copied().unwrap_or(0)
                    )
                },
            );
        Ok(VerifiedBackup {
            rows: counted.values().sum(),
            documents: 0,
            document_bytes: 0,
            audit_entries: 0,
            problem,
        })
    }

    /// Removes the scratch stores a verification left behind more than a day ago (its
    /// process stopped before it could): they hold sealed copies of a firm's rows.
    async fn clear_stale_scratch(&self, now: OffsetDateTime) -> Result<(), StoreError> {
        let stale = |name: &str| {
            let hex = name.strip_prefix(backend::SCRATCH_PREFIX).unwrap_or(name);
            let made = Uuid::try_parse(hex).ok().and_then(|id| id.get_timestamp()).map(|t| t.to_unix().0);
            made.is_none_or(|seconds| {
                i64::try_from(seconds).is_ok_and(|s| s < (now - time::Duration::days(1)).unix_timestamp())
            })
        };
        match self.backend() {
            Backend::Sqlite => {
                let dir = self.scratch_dir();
                let mut entries = match tokio::fs::read_dir(&dir).await {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(StoreError::io(&dir, e)),
                };
                while let Some(entry) = entries.next_entry().await.map_err(|e| StoreError::io(&dir, e))? {
                    if entry.file_name().to_str().is_some_and(stale) {
                        let path = entry.path();
                        tokio::fs::remove_dir_all(&path).await.map_err(|e| StoreError::io(&path, e))?;
                    }
                }
            }
            Backend::Postgres => {
                let schemas: Vec<String> = sqlx::query_scalar(
                    "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
                )
                .bind(backend::SCRATCH_PREFIX)
                .fetch_all(&self.control)
                .await?;
                for schema in schemas.iter().filter(|s| stale(s)) {
                    let hex = schema.trim_start_matches(backend::SCRATCH_PREFIX);
                    if let Ok(id) = Uuid::try_parse(hex) {
                        self.deprovision_at(Place::Scratch(id)).await?;
                    }
                }
            }
        }
        Ok(())
    }

    fn check_restorable(&self, manifest: &Manifest) -> Result<(), StoreError> {
        if manifest.backend != backend_name(self.backend()) {
            return Err(StoreError::BackupUnreadable(format!(
                "it was taken on {}, and this deployment runs on {}",
                manifest.backend,
                backend_name(self.backend())
            )));
        }
        let kind = if manifest.firm.is_some() { StoreKind::Firm } else { StoreKind::Control };
        if manifest.schema_version > migrate::latest_version(self.backend(), kind) {
            return Err(StoreError::BackupUnreadable(
                "it was taken by a newer version of Ringfence: restore it with that version or later".into(),
            ));
        }
        Ok(())
    }

    /// The firm's keyring from the keys its backup holds (wrapped under the master key).
    fn keyring_of_manifest(&self, firm: FirmId, manifest: &Manifest) -> Result<FirmKeyring, StoreError> {
        let sealed_as = sealed_as_of(manifest, firm)?;
        let context = firms::wrap_context(firm, sealed_as);
        let unwrapped = wrapped_keys_of(manifest)?
            .into_iter()
            .map(|(version, wrapped)| Ok((version, self.master.unwrap(&context, version, &wrapped)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(FirmKeyring::new(&sealed_as.to_string(), unwrapped)?)
    }

    /// Loads a backup's rows into an empty store at the backup's schema version, in one
    /// transaction; the number of rows.
    async fn load_store(
        &self,
        target: &BackupTarget,
        store: &FirmStore,
        manifest: &Manifest,
        progress: &dyn Progress,
    ) -> Result<u64, StoreError> {
        let mut lines = self.store_lines(target, manifest).await?;
        let mut tx = store.begin_as_owner().await?;
        if self.backend() == Backend::Sqlite {
            sqlx::query("PRAGMA defer_foreign_keys = ON").execute(tx.conn()).await?;
        }
        let loaded = load_lines(tx.conn(), &mut lines, false, progress).await?;
        tx.commit().await?;
        check_counts(manifest, &loaded)?;
        Ok(loaded.values().sum())
    }

    /// Loads the control store's backup into a scratch database (a SQLite file, a
    /// PostgreSQL schema) and counts its rows, table by table.
    async fn load_control_scratch(
        &self,
        target: &BackupTarget,
        manifest: &Manifest,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let scratch = Uuid::now_v7().simple().to_string();
        let mut lines = self.store_lines(target, manifest).await?;
        match self.backend() {
            Backend::Sqlite => {
                let dir = self.scratch_dir().join(&scratch);
                let pool = backend::open_sqlite(&dir.join("control.db"), backend::SQLITE_PRAGMAS, 1).await?;
                let loaded = async {
                    let mut conn = pool.acquire().await?;
                    migrate::run(
                        &mut conn,
                        Backend::Sqlite,
                        StoreKind::Control,
                        None,
                        Some(manifest.schema_version),
                    )
                    .await?;
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
                    let loaded = load_lines(&mut tx, &mut lines, false, &Unwatched).await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(loaded)
                }
                .await;
                pool.close().await;
                let _ = tokio::fs::remove_dir_all(&dir).await;
                loaded
            }
            Backend::Postgres => {
                let schema = format!("{}{scratch}", backend::SCRATCH_PREFIX);
                // A connection of its own, never given back to the pool: its search path
                // points at the scratch schema, and a verification stopped halfway must
                // not leave it there for the control store's next user.
                let mut conn = self.control.acquire().await?.detach();
                let loaded = async {
                    // The name is made of hex digits only.
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\""
                    )))
                    .execute(&mut conn)
                    .await?;
                    migrate::run(
                        &mut conn,
                        Backend::Postgres,
                        StoreKind::Control,
                        None,
                        Some(manifest.schema_version),
                    )
                    .await?;
                    let mut tx = sqlx::Connection::begin(&mut conn).await?;
                    let loaded = load_lines(&mut tx, &mut lines, false, &Unwatched).await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(loaded)
                }
                .await;
                let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "SET search_path TO control; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await;
                // Closed, not pooled: see above.
                let _ = sqlx::Connection::close(conn).await;
                dropped?;
                loaded
            }
        }
    }

    /// A backup about to be restored, proven first in a scratch store (a backup that
    /// cannot be restored whole must not take the firm's place), and the firm's newest
    /// backup when it is another (its purge ledger may be newer). A shredded firm's is
    /// never restored.
    async fn proven_for_restore(
        &self,
        target: &BackupTarget,
        firm: FirmId,
        id: Uuid,
        progress: &dyn Progress,
    ) -> Result<(Manifest, Option<Manifest>), StoreError> {
        if let Some(tombstone) = terminations::tombstone(&mut *self.control.acquire().await?, firm).await? {
            return Err(StoreError::Shredded {
                slug: tombstone.slug.to_string(),
                at: tombstone.shred_started_at,
            });
        }
        let manifest = self.read_manifest(target, Some(firm), id).await?;
        self.check_restorable(&manifest)?;
        if manifest.master_key_id != self.master.id() {
            return Err(StoreError::BackupUnreadable("it was taken under another master key".into()));
        }
        let newest = backup_ids(target, Some(Some(firm))).await?.into_iter().map(|(_, id)| id).max();
        let newest = match newest {
            Some(newest) if newest != id => Some(self.read_manifest(target, Some(firm), newest).await?),
            _ => None,
        };
        progress.total(manifest.store_plain_bytes + manifest.documents.iter().map(|(_, b)| b).sum::<u64>());
        progress.stage("verifying the backup");
        if let Some(problem) = self.verify_firm_backup(target, firm, &manifest).await?.problem {
            return Err(StoreError::BackupUnreadable(problem));
        }
        Ok((manifest, newest))
    }

    /// Restores a firm from one of its backups, in place: the firm is closed to requests
    /// (every server sees it within `settle`), its store is replaced by the backup's, its
    /// documents are copied back, every purge recorded since the backup is re-applied, and
    /// an audit entry names the backup. On a machine that has never seen the firm (only
    /// the target and the master key), its control rows come back too.
    pub async fn restore_firm(
        &self,
        target: &BackupTarget,
        blobs: &BlobStore,
        firm: FirmId,
        id: Uuid,
        how: Restoring<'_>,
        now: OffsetDateTime,
    ) -> Result<RestoredFirm, StoreError> {
        let Restoring { settle, progress } = how;
        if backups::restore_status(&mut *self.control.acquire().await?, firm).await?.in_progress {
            tracing::warn!(%firm, "a restore of the firm did not finish: this one takes its place");
        }
        let (manifest, newest) = self.proven_for_restore(target, firm, id, progress).await?;

        // Documents first: copying them back touches nothing the firm uses yet, and a copy
        // that fails leaves the firm as it was.
        progress.stage("copying documents");
        let mut documents_copied = 0;
        for (blob, bytes) in &manifest.documents {
            if !blobs.contains(firm, *blob).await? {
                target.store.copy_to(blobs, firm, *blob, firm).await?;
                documents_copied += 1;
            }
            progress.advance(*bytes);
        }

        progress.stage("closing the firm");
        let addresses_taken = self.restore_control_rows(firm, &manifest, newest.as_ref()).await?;
        backups::start_restore(&mut *self.control.acquire().await?, firm, id, now).await?;
        self.close_for_restore(firm, settle).await;

        // From here until the restore is finished the firm is closed: a restore that stops
        // now leaves it closed, and is run again.
        progress.stage("restoring the database");
        let keyring = self.keyring(firm).await?;
        self.deprovision_at(Place::Live(firm)).await?;
        self.provision_at(Place::Live(firm)).await?;
        let store =
            self.open_firm_store_at(firm, Place::Live(firm), keyring, FirmStanding::Active, None).await?;
        self.migrate_store(&store, Some(manifest.schema_version)).await?;
        let rows = self.load_store(target, &store, &manifest, progress).await?;
        self.migrate_store(&store, None).await?;

        // Every purge the ledger holds, not only those after the backup's moment: a purge
        // that began before the backup was taken may have committed after its snapshot, and
        // re-applying one whose rows are not there changes nothing.
        progress.stage("re-applying purges");
        let purges_replayed = self.replay_purges_in(blobs, &store, OffsetDateTime::UNIX_EPOCH, now).await?;
        let mut tx = store.begin_as_owner().await?;
        audit::append(
            &mut tx,
            &AuditRecord {
                at: now,
                actor: AuditActor::Cli,
                action: AuditAction::BackupRestored,
                resource_type: Some("backup"),
                resource_id: Some(format!("{id} taken {}", manifest.taken_at)),
                matter_id: None,
                outcome: Outcome::Success,
                origin: Origin::default(),
            },
        )
        .await?;
        tx.commit().await?;
        store.close().await;
        backups::finish_restore(&mut *self.control.acquire().await?, firm, now).await?;
        Ok(RestoredFirm { rows, documents_copied, purges_replayed, addresses_taken })
    }

    /// Writes back what the control store holds of the firm: its row and keys where
    /// missing (a fresh machine), its directory entries as the backup has them (an address
    /// since taken by another firm stays that firm's), and every purge either backup
    /// recorded. The number of addresses taken.
    async fn restore_control_rows(
        &self,
        firm: FirmId,
        manifest: &Manifest,
        newest: Option<&Manifest>,
    ) -> Result<usize, StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        let fresh = sqlx::query("SELECT 1 FROM firms WHERE id = $1")
            .bind(firm.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_none();
        let mut taken = 0;
        for (head, found) in &manifest.control {
            let mut loader = Loader::new(rows::checked_head(head.clone())?, true);
            let rows_of = |found: &[serde_json::Value]| {
                found
                    .iter()
                    .map(|row| rows::parse_json_row(row, head.columns.len()))
                    .collect::<Result<Vec<_>, _>>()
            };
            let mut listed = rows_of(found)?;
            match head.table.as_str() {
                // The firm as it stands now (its name, its termination) is kept; its keys
                // are added to (a version retired since is needed by the backup's rows).
                "firms" | "firm_terminations" if !fresh => continue,
                "directory" => {
                    sqlx::query("DELETE FROM directory WHERE firm_id = $1")
                        .bind(firm.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                "purge_ledger" => {
                    if let Some((_, later)) = newest.and_then(|n| n.control.iter().find(|(h, _)| h == head)) {
                        listed.extend(rows_of(later)?);
                    }
                }
                _ => {}
            }
            let wanted = listed.len() as u64;
            for row in listed {
                loader.push(&mut tx, row).await?;
            }
            loader.flush(&mut tx).await?;
            if head.table == "directory" {
                taken = usize::try_from(wanted.saturating_sub(loader.loaded)).unwrap_or(usize::MAX);
            }
        }
        if fresh
            && sqlx::query("SELECT 1 FROM firms WHERE id = $1")
                .bind(firm.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .is_none()
        {
            return Err(StoreError::SlugTaken(manifest.slug.clone().unwrap_or_default()));
        }
        tx.commit().await?;
        Ok(taken)
    }

    /// Deletes from the target what the rotation does not keep of a firm's backups (the
    /// control store's when `None`), then the documents no kept backup names. The
    /// number of backups deleted.
    pub async fn rotate_backups(
        &self,
        target: &BackupTarget,
        firm: Option<FirmId>,
        keep: Generations,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        if let Some(firm) = firm
            && backups::restore_status(&mut *self.control.acquire().await?, firm).await?.in_progress
        {
            // The backup being restored from must stay where it is.
            return Ok(0);
        }
        let ids: Vec<Uuid> = backup_ids(target, Some(firm)).await?.into_iter().map(|(_, id)| id).collect();
        let mut kept = kept_generations(&ids, keep);
        // The newest backup proven by a restore stays, however many newer ones failed.
        let records = backups::list(&mut *self.control.acquire().await?, firm, 1000).await?;
        if let Some(verified) =
            records.iter().find(|r| r.state == BackupState::Verified && ids.contains(&r.id))
        {
            kept.insert(verified.id);
        }
        let mut deleted = 0;
        for id in ids.iter().filter(|id| !kept.contains(id)) {
            // The manifest first: a backup half deleted is no backup.
            target.store.delete_object(&part(target, firm, *id, "manifest")).await?;
            target.store.delete_object(&part(target, firm, *id, "store")).await?;
            backups::set_rotated(&mut *self.control.acquire().await?, *id).await?;
            deleted += 1;
        }
        // What a backup that failed before its manifest was written left: its rows, which
        // may hold what was purged since. Left alone for hours: it may be one being written.
        let settled = now - time::Duration::hours(6);
        let dir = backup_dir(firm, Uuid::nil());
        let dir = target.store.object(&dir[..dir.len() - 1].iter().map(String::as_str).collect::<Vec<_>>());
        for (path, _, modified) in target.store.list_objects(&dir).await? {
            let parts: Vec<String> = path.parts().map(|p| p.as_ref().to_owned()).collect();
            if let [.., id, name] = parts.as_slice()
                && name == "store"
                && let Ok(id) = id.parse::<Uuid>()
                && !ids.contains(&id)
                && modified < settled
            {
                target.store.delete_object(&path).await?;
            }
        }
        if let Some(firm) = firm {
            let mut named = BTreeSet::new();
            for id in &kept {
                match self.read_manifest(target, Some(firm), *id).await {
                    Ok(manifest) => named.extend(manifest.documents.into_iter().map(|(id, _)| id)),
                    // Which documents it names is unknown: none is deleted this time.
                    Err(StoreError::BackupUnreadable(_) | StoreError::UnknownBackup(_)) => {
                        return Ok(deleted);
                    }
                    Err(e) => return Err(e),
                }
            }
            // A document copied in the last hours may belong to a backup still being written.
            for stored in target.store.list_with_times(firm).await? {
                if !named.contains(&stored.id) && stored.modified < settled {
                    target.store.delete(firm, stored.id).await?;
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes from the target the backups of every firm shredded here: one shredded by a
    /// process that had no backup target, or backed up while it was being shredded. The
    /// number of firms whose backups went.
    pub async fn delete_shredded_backups(&self, target: &BackupTarget) -> Result<usize, StoreError> {
        let mut firms = BTreeSet::new();
        for (path, _, _) in target.store.list_objects(&target.store.object(&["firms"])).await? {
            let parts: Vec<String> = path.parts().map(|p| p.as_ref().to_owned()).collect();
            if let Some(at) = parts.iter().rposition(|p| p == "firms")
                && let Some(firm) = parts.get(at + 1).and_then(|f| f.parse::<FirmId>().ok())
            {
                firms.insert(firm);
            }
        }
        let mut deleted = 0;
        for firm in firms {
            if terminations::tombstone(&mut *self.control.acquire().await?, firm).await?.is_some() {
                self.delete_firm_backups(target, firm).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Deletes every backup of a firm from the target, and their record (a shredded firm).
    pub async fn delete_firm_backups(&self, target: &BackupTarget, firm: FirmId) -> Result<u64, StoreError> {
        let removed = target.store.delete_firm(firm).await?;
        backups::delete_firm(&mut *self.control.acquire().await?, firm).await?;
        Ok(removed)
    }
}

/// A new backup's id: time-ordered by the moment the backup is of (the deployment's
/// clock), which the rotation reads back from it.
fn backup_id(now: OffsetDateTime) -> Uuid {
    let nanos = now.unix_timestamp_nanos();
    let seconds = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, subsec))
}

fn failed_record(id: Uuid, firm: Option<FirmId>, now: OffsetDateTime, e: &StoreError) -> BackupRecord {
    BackupRecord {
        id,
        firm,
        taken_at: now,
        state: BackupState::Failed,
        covered_bytes: 0,
        added_bytes: 0,
        verified_at: None,
        problem: Some(causes(e)),
    }
}

pub(crate) async fn schema_version(conn: &mut sqlx::AnyConnection) -> Result<i64, StoreError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(conn).await?;
    Ok(version.unwrap_or(0))
}

/// Writes every table's head and rows; the rows per table.
async fn write_tables(
    conn: &mut sqlx::AnyConnection,
    heads: &[TableHead],
    writer: &mut SealedWriter,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut tables = Vec::with_capacity(heads.len());
    for head in heads {
        let mut line = serde_json::to_vec(head).map_err(|e| StoreError::BackupUnreadable(e.to_string()))?;
        line.push(b'\n');
        writer.push(&line).await?;
        let mut rows = rows::rows(conn, head, None)?;
        let mut count = 0;
        while let Some(row) = rows.next().await? {
            writer.push(&rows::row_line(&row)).await?;
            count += 1;
        }
        tables.push((head.table.clone(), count));
    }
    Ok(tables)
}

/// Loads a backup's stream of table heads and rows; the rows loaded per table.
async fn load_lines(
    conn: &mut sqlx::AnyConnection,
    lines: &mut Lines,
    keep_existing: bool,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut loaded = BTreeMap::new();
    let mut loader: Option<Loader> = None;
    while let Some(line) = lines.next().await? {
        progress.advance(line.len() as u64 + 1);
        if line.first() == Some(&b'{') {
            if let Some(mut done) = loader.take() {
                done.flush(conn).await?;
                loaded.insert(done.head().table.clone(), done.loaded);
            }
            let head: TableHead = serde_json::from_slice(&line)
                .map_err(|_| rows::invalid("a table head that is not readable"))?;
            loader = Some(Loader::new(rows::checked_head(head)?, keep_existing));
        } else {
            let current = loader.as_mut().ok_or_else(|| rows::invalid("rows before their table"))?;
            let row = rows::parse_row(&line, current.head().columns.len())?;
            current.push(conn, row).await?;
        }
    }
    if let Some(mut done) = loader.take() {
        done.flush(conn).await?;
        loaded.insert(done.head().table.clone(), done.loaded);
    }
    Ok(loaded)
}

fn check_counts(manifest: &Manifest, loaded: &BTreeMap<String, u64>) -> Result<(), StoreError> {
    for (table, expected) in &manifest.tables {
        let got = loaded.get(table).copied().unwrap_or(0);
        if got != *expected {
            return Err(StoreError::BackupUnreadable(format!(
                "table {table}: {got} rows loaded, the manifest says {expected}"
            )));
        }
    }
    Ok(())
}

/// Hashes a document's whole plaintext, a few megabytes at a time, authenticating each chunk.
async fn hash_all(content: &documents::Content) -> Result<[u8; 32], StoreError> {
    const PIECE: u64 = 4 * 1024 * 1024;
    let mut hasher = Sha256::new();
    let mut at = 0;
    loop {
        let piece = content.read(at..(at + PIECE).min(content.size())).await?;
        hasher.update(&piece);
        at += PIECE;
        if at >= content.size() {
            return Ok(hasher.finalize().into());
        }
    }
}

/// The backups on the target, as (firm, id): a firm's (`Some(Some(firm))`), the control
/// store's (`Some(None)`), or every one (`None`).
async fn backup_ids(
    target: &BackupTarget,
    scope: Option<Option<FirmId>>,
) -> Result<Vec<(Option<FirmId>, Uuid)>, StoreError> {
    let prefixes: Vec<Vec<String>> = match scope {
        None => vec![vec!["firms".into()], vec!["control".into(), "backups".into()]],
        Some(Some(firm)) => vec![vec!["firms".into(), firm.to_string(), "backups".into()]],
        Some(None) => vec![vec!["control".into(), "backups".into()]],
    };
    let mut found = Vec::new();
    for prefix in prefixes {
        let prefix = target.store.object(&prefix.iter().map(String::as_str).collect::<Vec<_>>());
        for (path, _, _) in target.store.list_objects(&prefix).await? {
            let parts: Vec<String> = path.parts().map(|p| p.as_ref().to_owned()).collect();
            // …/firms/<firm>/backups/<id>/manifest or …/control/backups/<id>/manifest
            let backup = match parts.as_slice() {
                [.., firms, firm, backups, id, manifest]
                    if firms == "firms" && backups == "backups" && manifest == "manifest" =>
                {
                    firm.parse().ok().zip(id.parse().ok()).map(|(firm, id)| (Some(firm), id))
                }
                [.., control, backups, id, manifest]
                    if control == "control" && backups == "backups" && manifest == "manifest" =>
                {
                    id.parse().ok().map(|id| (None, id))
                }
                _ => None,
            };
            found.extend(backup);
        }
    }
    Ok(found)
}

/// The moment a backup's id holds (see [`backup_id`]).
fn id_moment(id: Uuid) -> OffsetDateTime {
    let (seconds, nanos) = id.get_timestamp().map(|t| t.to_unix()).unwrap_or((0, 0));
    OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap_or(0))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        + time::Duration::nanoseconds(i64::from(nanos))
}

/// The backups a rotation keeps, by id (time-ordered: a UUID v7 holds its moment): the
/// newest of each of the last `daily` days, `weekly` ISO weeks and `monthly` months that
/// have one, and always the newest of all.
fn kept_generations(ids: &[Uuid], keep: Generations) -> BTreeSet<Uuid> {
    let mut newest_first: Vec<(OffsetDateTime, Uuid)> = ids.iter().map(|id| (id_moment(*id), *id)).collect();
    newest_first.sort_by(|a, b| b.cmp(a));
    let mut kept = BTreeSet::new();
    if let Some((_, newest)) = newest_first.first() {
        kept.insert(*newest);
    }
    type PeriodOf = fn(OffsetDateTime) -> (i32, u32);
    let periods: [(usize, PeriodOf); 3] = [
        (keep.daily, |at| (at.year(), u32::from(at.ordinal()))),
        (keep.weekly, |at| {
            let (year, week, _) = at.to_iso_week_date();
            (year, u32::from(week))
        }),
        (keep.monthly, |at| (at.year(), u32::from(u8::from(at.month())))),
    ];
    for (count, period_of) in periods {
        let mut seen = BTreeSet::new();
        for (at, id) in &newest_first {
            if seen.len() == count && !seen.contains(&period_of(*at)) {
                break;
            }
            if seen.insert(period_of(*at)) {
                kept.insert(*id);
            }
        }
    }
    kept
}

/// A document version as a verification checks it.
pub(crate) struct VersionToCheck {
    pub id: Uuid,
    pub key: DataKey,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// A table of what the control store held for the firm, as its backup has it.
fn control_rows<'m>(
    manifest: &'m Manifest,
    table: &str,
) -> Result<(&'m TableHead, &'m [serde_json::Value]), StoreError> {
    manifest
        .control
        .iter()
        .find(|(head, _)| head.table == table)
        .map(|(head, found)| (head, found.as_slice()))
        .ok_or_else(|| rows::invalid(&format!("no {table} rows")))
}

/// The firm's key versions its backup holds, wrapped under the master key.
fn wrapped_keys_of(manifest: &Manifest) -> Result<Vec<(KeyVersion, WrappedFirmKey)>, StoreError> {
    let (head, keys) = control_rows(manifest, "firm_keys")?;
    let (version_at, master_at, wrapped_at) =
        (column_at(head, "version")?, column_at(head, "master_key_id")?, column_at(head, "wrapped")?);
    keys.iter()
        .map(|key| {
            let row = rows::parse_json_row(key, head.columns.len())?;
            let (
                rows::Value::Integer(version),
                rows::Value::Text(master_key_id),
                rows::Value::Bytes(ciphertext),
            ) = (&row[version_at], &row[master_at], &row[wrapped_at])
            else {
                return Err(rows::invalid("a key row of the wrong shape"));
            };
            let version =
                KeyVersion(u32::try_from(*version).map_err(|_| rows::invalid("a key version out of range"))?);
            Ok((
                version,
                WrappedFirmKey { master_key_id: master_key_id.clone(), ciphertext: ciphertext.clone() },
            ))
        })
        .collect()
}

fn column_at(head: &TableHead, name: &str) -> Result<usize, StoreError> {
    head.columns
        .iter()
        .position(|(c, _)| c == name)
        .ok_or_else(|| rows::invalid(&format!("{} rows without a `{name}` column", head.table)))
}

/// The id `firm`'s keys and sealed values are bound to, as its backup says: its own, or
/// for a copy, its original's (a backup from before copies existed has no such column).
fn sealed_as_of(manifest: &Manifest, firm: FirmId) -> Result<FirmId, StoreError> {
    let (head, found) = control_rows(manifest, "firms")?;
    let Some(at) = head.columns.iter().position(|(c, _)| c == "sealed_as") else {
        return Ok(firm);
    };
    match found.first().map(|row| rows::parse_json_row(row, head.columns.len())).transpose()? {
        Some(row) => match &row[at] {
            rows::Value::Text(original) => {
                original.parse().map_err(|_| rows::invalid("a sealed_as of the wrong shape"))
            }
            _ => Ok(firm),
        },
        None => Ok(firm),
    }
}

#[cfg(test)]
mod tests {
    use ringfence_core::clock::{Clock, SystemClock};
    use ringfence_core::firm::{FirmName, FirmSlug};
    use ringfence_core::user::Email;
    use ringfence_testkit::{TestEnv, both_backends};

    use super::*;
    use crate::NewFirm;
    use crate::blobs::BlobLocation;

    fn location_of(env: &TestEnv) -> crate::StorageLocation {
        match env.database_url() {
            Some(url) => crate::StorageLocation::postgres(url.to_owned()),
            None => crate::StorageLocation::Sqlite,
        }
    }

    /// Whether the scratch place is there: its directory, or its schema.
    async fn scratch_exists(storage: &Storage, id: Uuid) -> bool {
        match storage.backend() {
            Backend::Sqlite => storage.scratch_dir().join(id.simple().to_string()).exists(),
            Backend::Postgres => {
                let schema = format!("{}{}", backend::SCRATCH_PREFIX, id.simple());
                let found: Option<String> =
                    sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = $1")
                        .bind(schema)
                        .fetch_optional(&storage.control)
                        .await
                        .unwrap_or_else(|e| unreachable!("{e}"));
                found.is_some()
            }
        }
    }

    both_backends!(
        a_scratch_store_a_stopped_verification_left_is_removed_by_a_later_one,
        |env: TestEnv| async move {
            let now = SystemClock.now();
            let storage = Storage::open(&location_of(&env), env.data_dir(), None, now)
                .await
                .unwrap_or_else(|e| unreachable!("{e}"));
            let firm = NewFirm {
                slug: FirmSlug::parse("scratched").unwrap_or_else(|e| unreachable!("{e}")),
                name: FirmName::parse("Scratch & Co").unwrap_or_else(|e| unreachable!("{e}")),
                admin_email: Email::parse("admin@scratch.example").unwrap_or_else(|e| unreachable!("{e}")),
                admin_name: None,
                admin_password_hash: None,
            };
            let firm = storage.create_firm(firm, now).await.unwrap_or_else(|e| unreachable!("{e}")).firm.id;
            // The test crate's own types: a local blob store and target, on either backend.
            let blob_location = BlobLocation::Local(env.data_dir().join("blobs"));
            let blobs = BlobStore::open(&blob_location).unwrap_or_else(|e| unreachable!("{e}"));
            let kept = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
            let location = BlobLocation::Local(kept.path().join("backups"));
            let target = BackupTarget::open(&location, &blob_location, env.data_dir())
                .unwrap_or_else(|e| unreachable!("{e}"));
            let backup = storage
                .back_up_firm(&target, &blobs, firm, now)
                .await
                .unwrap_or_else(|e| unreachable!("{e}"));
            // One left two days ago; one of a verification running now.
            let (old, running) =
                (backup_id(now - time::Duration::days(2)), backup_id(now - time::Duration::hours(1)));
            for id in [old, running] {
                storage.provision_at(Place::Scratch(id)).await.unwrap_or_else(|e| unreachable!("{e}"));
                if storage.backend() == Backend::Sqlite {
                    std::fs::create_dir_all(storage.scratch_dir().join(id.simple().to_string()))
                        .unwrap_or_else(|e| unreachable!("{e}"));
                }
                assert!(scratch_exists(&storage, id).await);
            }
            let verified = storage
                .verify_backup(&target, Some(firm), backup.id, now)
                .await
                .unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(verified.problem, None);
            assert!(!scratch_exists(&storage, old).await, "the stale scratch store is gone");
            assert!(scratch_exists(&storage, running).await, "a running verification's is left alone");
            storage.deprovision_at(Place::Scratch(running)).await.unwrap_or_else(|e| unreachable!("{e}"));
        }
    );

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn the_rotation_keeps_the_newest_of_each_day_week_and_month_and_always_the_newest() {
        // Two a day for 100 days, from Monday 2 March 2026.
        let start = at("2026-03-02T01:00:00Z");
        let ids: Vec<Uuid> = (0..200).map(|i| backup_id(start + time::Duration::hours(12 * i))).collect();
        let kept = kept_generations(&ids, Generations { daily: 3, weekly: 2, monthly: 2 });
        let when = |id: &Uuid| {
            let (s, n) = id.get_timestamp().unwrap_or_else(|| unreachable!()).to_unix();
            OffsetDateTime::from_unix_timestamp(i64::try_from(s).unwrap_or(0))
                .unwrap_or_else(|e| unreachable!("{e}"))
                + time::Duration::nanoseconds(i64::from(n))
        };
        let mut kept_times: Vec<String> = kept.iter().map(|id| when(id).to_string()).collect();
        kept_times.sort();
        // The last day is 9 June 2026 (a Tuesday): its 13:00, the evenings of the 8th and
        // 7th (days); Sunday the 7th closes the week before (weeks: the 9th's week and
        // the one ending on the 7th); 31 May ends May (months: June, May).
        assert_eq!(
            kept_times,
            vec![
                "2026-05-31 13:00:00.0 +00:00:00",
                "2026-06-07 13:00:00.0 +00:00:00",
                "2026-06-08 13:00:00.0 +00:00:00",
                "2026-06-09 13:00:00.0 +00:00:00",
            ]
        );
        assert_eq!(kept_generations(&ids[..1], Generations { daily: 0, weekly: 0, monthly: 1 }).len(), 1);
        assert!(kept_generations(&[], Generations::default()).is_empty());
        let one_a_day = kept_generations(&ids, Generations { daily: 7, weekly: 0, monthly: 0 });
        assert_eq!(one_a_day.len(), 7);
    }

    #[test]
    fn a_backup_id_holds_its_moment() {
        let moment = at("2026-11-30T22:15:07.250Z");
        let id = backup_id(moment);
        let (seconds, nanos) = id.get_timestamp().unwrap_or_else(|| unreachable!()).to_unix();
        assert_eq!((seconds, nanos / 1_000_000), (u64::try_from(moment.unix_timestamp()).unwrap_or(0), 250));
        assert!(backup_id(moment + time::Duration::milliseconds(1)) > id);
    }
}
