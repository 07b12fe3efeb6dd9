//! The opened deployment: control store, master key, and a cache of open firm stores.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ringfence_core::audit::{AuditAction, AuditRecord, Origin, Outcome};
use ringfence_core::clock::unix_millis;
use ringfence_core::firm::{Firm, FirmName, FirmSlug, FirmStanding};
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::throttle::{FailureRecord, ThrottleRule};
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::token::SecretToken;
use ringfence_crypto::{FirmKey, FirmKeyring, KeyVersion, MasterKey};
use sqlx::AnyPool;
use time::OffsetDateTime;
use tokio::sync::{RwLock, oneshot};
use uuid::Uuid;

use crate::backend::{self, Intent, PgFirmNames, on_behalf_of};
use crate::control::sign_in_failures::{self, ThrottleKey};
use crate::control::{backups, firms, passkey_sign_ins, terminations};
use crate::firm::users::{self, NewUser, UserStatus};
use crate::firm::{FirmTx, audit, invitations};
use crate::health;
use crate::migrate::{self, StoreKind};
use crate::wal_sync::WalSync;
use crate::{Backend, MasterKeyOrigin, StorageLocation, StoreError, master_key};

pub struct Storage {
    backend: Backend,
    data_dir: PathBuf,
    pub(crate) control: AnyPool,
    pub(crate) master: MasterKey,
    master_origin: MasterKeyOrigin,
    firms: RwLock<HashMap<FirmId, Arc<FirmStore>>>,
    /// Firms' names as read once (a firm's name does not change): every page shows it.
    firm_names: RwLock<HashMap<FirmId, FirmName>>,
    /// When the write probe of [`Storage::ready`] last failed, and why: answered again
    /// for [`PROBE_INTERVAL`] rather than probed again.
    failed_probe: std::sync::Mutex<Option<(std::time::Instant, String)>>,
}

/// `err` and its causes, on one line.
pub(crate) fn causes(err: &StoreError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Creates the data directory readable by its owner only; an existing one is left as it is.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| StoreError::io(dir, e))
}

/// How long an open firm's keyring is trusted before the control store is asked whether a
/// newer key version exists (one made by `keys rotate`, perhaps in another process).
const KEY_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a failed write probe stands: the readiness probe is public, and each probe is a
/// synced write to every open firm store.
const PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// After a rotation, how long until every server in use has seen the new version: only
/// then may values be re-sealed under it, or a server not yet aware could not open them.
pub const KEY_SETTLE: std::time::Duration = std::time::Duration::from_secs(12);

/// A place's PostgreSQL names.
fn pg_names(place: Place) -> PgFirmNames {
    match place {
        Place::Live(id) => PgFirmNames::of(id),
        Place::Scratch(id) => PgFirmNames::scratch(id),
    }
}

/// One firm's open store and its keyring.
#[derive(Debug)]
pub struct FirmStore {
    id: FirmId,
    /// See [`FirmStore::sealed_as`]: the id its keyring is bound to, which never changes.
    sealed_as: FirmId,
    pool: AnyPool,
    pg: Option<PgFirmNames>,
    /// Replaced in place when the firm's keys change, so every holder of this store
    /// begins its next transaction with the new keyring.
    keyring: std::sync::RwLock<Arc<FirmKeyring>>,
    keys_checked: std::sync::Mutex<std::time::Instant>,
    /// Active or terminated (read-only), as the control store said at the last check.
    standing: std::sync::RwLock<FirmStanding>,
    audit_queue: AuditQueue,
    /// SQLite only: where write transactions run.
    writer: Option<SqliteWriter>,
    /// When the last in-place restore of the firm began, as the control store said when
    /// this store was opened: a later one means the store must be opened anew.
    restored_at: Option<i64>,
    /// Set when a restore in place has closed the firm: a request that held this store
    /// from before then is told so, not that storage failed.
    closed_for_restore: AtomicBool,
}

/// Where a firm's store lives: its own place, or a scratch place a backup is restored into
/// to be checked (a temporary SQLite file or PostgreSQL schema), named by a time-ordered
/// id, so that one a crash left behind is known by its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Live(FirmId),
    Scratch(Uuid),
}

/// A SQLite firm store's writing side.
#[derive(Debug)]
struct SqliteWriter {
    /// The one connection every write transaction of this process uses. SQLite has one
    /// writer at a time anyway; this way writers queue for it in order, rather than in
    /// SQLite's busy handler (which sleeps up to 100 ms a try), and its page cache stays
    /// warm — a connection throws its cache away whenever another one has written.
    pool: AnyPool,
    /// Makes each write transaction's commit durable before its caller goes on.
    wal: Arc<WalSync>,
}

/// Connections for a SQLite firm store's readers (its writer has one of its own).
const SQLITE_READERS: u32 = 8;

/// Entries waiting to be written, each with where to send its sequence number (or why not).
type Waiting = Vec<(AuditRecord, oneshot::Sender<Result<i64, String>>)>;

/// Audit entries of concurrent requests waiting to be written together.
#[derive(Debug, Default)]
struct AuditQueue {
    waiting: std::sync::Mutex<Waiting>,
    /// Held by the request writing the queue out; the others wait their turn.
    writer: tokio::sync::Mutex<()>,
    /// Whether a write of the queued entries is due already (see [`FirmStore::queue_audit`]).
    write_scheduled: AtomicBool,
}

/// How long a queued audit entry waits at most before it is written.
const QUEUED_AUDIT_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

impl AuditQueue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl FirmStore {
    /// Closes the store's SQLite connections (a PostgreSQL store shares the deployment's).
    pub(crate) async fn close(&self) {
        if self.pg.is_none() {
            self.pool.close().await;
            if let Some(writer) = &self.writer {
                writer.pool.close().await;
            }
        }
    }

    /// SQLite: moves the write-ahead log into the database file and cuts the log to nothing,
    /// so that rows deleted for good (overwritten with zeros in the file: `secure_delete`)
    /// leave no earlier copy of their pages behind in the log. True when done; false when
    /// a reader still needed the log (the next call does it). Nothing to do on PostgreSQL.
    pub(crate) async fn truncate_write_ahead_log(&self) -> Result<bool, StoreError> {
        let Some(writer) = &self.writer else { return Ok(true) };
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&writer.pool).await?;
        let busy: i64 = sqlx::Row::try_get(&row, 0)?;
        Ok(busy == 0)
    }

    /// Appends an entry to the audit log in a transaction of its own, answering once it is
    /// committed. Concurrent calls share one transaction — one commit, one fsync — instead
    /// of queueing for the log's head one by one: whoever gets the writer's turn writes out
    /// everything waiting, and the others find their entry already written. The writing
    /// runs in a task of its own, so a caller that stops waiting (a client hung up) abandons
    /// neither its own entry nor those of the others in its batch.
    pub async fn append_audit(self: &Arc<Self>, record: AuditRecord) -> Result<i64, StoreError> {
        let (sender, answer) = oneshot::channel();
        self.audit_queue.waiting().push((record, sender));
        self.start_flush();
        answer
            .await
            .map_err(|_| StoreError::AuditWrite("the batch was abandoned".to_owned()))?
            .map_err(StoreError::AuditWrite)
    }

    /// Queues an entry for the next append, or a write of its own a moment later, for an
    /// entry a response must not wait for, nor do any work for (a failed sign-in's: an
    /// unknown address has no entry to write, so a known one must not cost more). Readers
    /// of the log flush first, so a queued entry is never missing from what they read; one
    /// that cannot be written yet stays queued and is tried again.
    pub fn queue_audit(self: &Arc<Self>, record: AuditRecord) {
        let (sender, _) = oneshot::channel();
        self.audit_queue.waiting().push((record, sender));
        if !self.audit_queue.write_scheduled.swap(true, Ordering::AcqRel) {
            let store = Arc::clone(self);
            tokio::spawn(async move { store.write_queued_later().await });
        }
    }

    /// Writes the queued entries after [`QUEUED_AUDIT_WAIT`] (with whatever queued
    /// meanwhile), and again a second later for as long as the write fails.
    async fn write_queued_later(&self) {
        let mut wait = QUEUED_AUDIT_WAIT;
        loop {
            tokio::time::sleep(wait).await;
            self.audit_queue.write_scheduled.store(false, Ordering::Release);
            let Err(error) = self.write_waiting().await else { return };
            tracing::error!(firm = %self.id, error, "could not write queued audit entries; will try again");
            if self.audit_queue.write_scheduled.swap(true, Ordering::AcqRel) {
                return; // a newer entry scheduled a write of its own
            }
            wait = std::time::Duration::from_secs(1);
        }
    }

    fn start_flush(self: &Arc<Self>) {
        let store = Arc::clone(self);
        tokio::spawn(async move { store.write_waiting().await });
    }

    /// Writes out every queued entry, in a task of its own (a caller that goes away
    /// abandons nothing), answering once they are written.
    pub async fn flush_audit(self: &Arc<Self>) -> Result<(), StoreError> {
        let store = Arc::clone(self);
        tokio::spawn(async move { store.write_waiting().await })
            .await
            .map_err(|e| StoreError::TaskFailed(e.to_string()))?
            .map_err(StoreError::AuditWrite)
    }

    /// Writes the waiting entries in one transaction, when the writer's turn comes, telling
    /// each its sequence number. When the write fails, an entry someone waits for is told
    /// why; an entry nobody waits for (a queued one) goes back in the queue for the next try.
    async fn write_waiting(&self) -> Result<(), String> {
        let _turn = self.audit_queue.writer.lock().await;
        let (records, senders): (Vec<_>, Vec<_>) =
            std::mem::take(&mut *self.audit_queue.waiting()).into_iter().unzip();
        if records.is_empty() {
            return Ok(());
        }
        match self.append_all(&records).await {
            Ok(seqs) => {
                senders.into_iter().zip(seqs).for_each(|(sender, seq)| drop(sender.send(Ok(seq))));
                Ok(())
            }
            Err(error) => {
                let error = error.to_string();
                let mut again = Vec::new();
                for (record, sender) in records.into_iter().zip(senders) {
                    if sender.is_closed() {
                        again.push((record, sender));
                    } else {
                        drop(sender.send(Err(error.clone())));
                    }
                }
                // Ahead of what queued meanwhile: the log keeps the order things happened in.
                self.audit_queue.waiting().splice(0..0, again);
                Err(error)
            }
        }
    }

    async fn append_all(&self, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin(&Principal::System(SystemTask::AuditLog)).await?;
        let mut seqs = Vec::with_capacity(records.len());
        for record in records {
            seqs.push(audit::append(&mut tx, record).await?);
        }
        tx.commit().await?;
        Ok(seqs)
    }

    pub fn id(&self) -> FirmId {
        self.id
    }

    /// The id the firm's keys, sealed values, documents and audit chain are bound to: its
    /// own, or for a copy restored beside its original (`backup restore --as`), the
    /// original's, so that what the backup holds opens unchanged.
    pub fn sealed_as(&self) -> FirmId {
        self.sealed_as
    }

    fn keyring(&self) -> Arc<FirmKeyring> {
        match self.keyring.read() {
            Ok(keyring) => keyring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the firm is in service or terminated (read-only), as this server last heard:
    /// at most 5 seconds ago, and at once for a change made in this process.
    pub fn standing(&self) -> FirmStanding {
        *self.standing.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_standing(&self, standing: FirmStanding) {
        *self.standing.write().unwrap_or_else(std::sync::PoisonError::into_inner) = standing;
    }

    /// The key version new data is sealed under.
    pub fn key_version(&self) -> KeyVersion {
        self.keyring().current_version()
    }

    fn replace_keyring(&self, keyring: FirmKeyring) {
        let mut current = match self.keyring.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        *current = Arc::new(keyring);
        self.keys_checked_now();
    }

    /// True when the keyring was last checked against the control store long enough ago.
    fn keys_due_for_check(&self) -> bool {
        self.keys_checked.lock().map_or(true, |at| at.elapsed() >= KEY_CHECK_INTERVAL)
    }

    fn keys_checked_now(&self) {
        if let Ok(mut at) = self.keys_checked.lock() {
            *at = std::time::Instant::now();
        }
    }

    /// A keyed hash for one-time codes, under this firm's key.
    pub fn code_hash(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.keyring().code_hash(parts)
    }

    /// A transaction in this firm, run as `principal`: on PostgreSQL, row-level security
    /// then shows a firm user only the matters and notes it may see (see
    /// [`backend::Reach`]), and anyone else none. There is no other way to begin one.
    pub async fn begin(&self, principal: &Principal) -> Result<FirmTx, StoreError> {
        self.open(false, on_behalf_of(principal)?, Intent::Write).await
    }

    /// [`Self::begin`] for a transaction that only reads: it never waits for a writer (and
    /// on PostgreSQL any write in it is refused).
    pub async fn begin_read(&self, principal: &Principal) -> Result<FirmTx, StoreError> {
        self.open(false, on_behalf_of(principal)?, Intent::Read).await
    }

    /// A transaction in which a decoy user's records are made as its own: row security
    /// lets the lead of a matter write its content, and a decoy matter's lead is a decoy
    /// user. Nobody signs in as one, so this is the only way anything acts for it.
    pub async fn begin_as_decoy(&self, user: crate::firm::decoys::DecoyUser) -> Result<FirmTx, StoreError> {
        let on_behalf = backend::OnBehalf {
            user: user.id().to_string(),
            reach: backend::Reach::Own,
            support_matters: String::new(),
        };
        self.open(false, Some(on_behalf), Intent::Write).await
    }

    /// The matters and clients a wall screens `user` from. Read as the firm's owner role on
    /// PostgreSQL, in a read-only transaction: row security hides a user's own walls from
    /// it, and they are needed to leave what they cover out of the audit log it reads.
    pub async fn screens_of(&self, user: UserId) -> Result<crate::firm::access::Screens, StoreError> {
        let mut tx = self.open(true, None, Intent::Read).await?;
        let screens = crate::firm::access::screens(&mut tx, user).await?;
        tx.commit().await?;
        Ok(screens)
    }

    /// A transaction as the firm's owner role (PostgreSQL), for the audit retention purge
    /// alone: the runtime role cannot delete from the log at all.
    pub(crate) async fn begin_as_owner(&self) -> Result<FirmTx, StoreError> {
        self.open(true, None, Intent::Write).await
    }

    /// [`Self::begin_as_owner`], for reading only: what the blob sweep must see of every
    /// matter's documents (row-level security fences the runtime role by user).
    pub(crate) async fn begin_read_as_owner(&self) -> Result<FirmTx, StoreError> {
        self.open(true, None, Intent::Read).await
    }

    /// [`Self::begin_read_as_owner`], every read in it seeing one moment of the store: a
    /// backup's.
    pub(crate) async fn begin_snapshot_as_owner(&self) -> Result<FirmTx, StoreError> {
        self.open(true, None, Intent::Snapshot).await
    }

    /// A transaction that sees every matter (PostgreSQL row
    /// security as for an administrator, with no user), for the deployment's own work on
    /// matters as a whole: retention disposal. Nothing in it opens matter content.
    pub(crate) async fn begin_firm_wide(&self) -> Result<FirmTx, StoreError> {
        let on_behalf = backend::OnBehalf {
            user: String::new(),
            reach: backend::Reach::ManagesAll,
            support_matters: String::new(),
        };
        self.open(false, Some(on_behalf), Intent::Write).await
    }

    async fn open(
        &self,
        as_owner: bool,
        on_behalf_of: Option<backend::OnBehalf>,
        intent: Intent,
    ) -> Result<FirmTx, StoreError> {
        let (pool, wal) = match (&self.writer, intent) {
            (Some(writer), Intent::Write) => (&writer.pool, Some(writer.wal.clone())),
            _ => (&self.pool, None),
        };
        let closed = || self.closed_for_restore.load(Ordering::Acquire);
        if closed() {
            return Err(StoreError::FirmRestoring);
        }
        let tx = match backend::begin_firm(pool, self.pg.as_ref(), as_owner, on_behalf_of, intent).await {
            Ok(tx) => tx,
            Err(_) if closed() => return Err(StoreError::FirmRestoring),
            Err(err) => return Err(err),
        };
        Ok(FirmTx::new(tx, self.id, self.keyring(), wal))
    }

    /// Whether this store can write: the smallest write that must reach the disk.
    async fn probe_write(&self) -> Result<(), StoreError> {
        let mut tx = self.begin(&Principal::System(SystemTask::AuditLog)).await?;
        backend::write_probe(tx.conn(), self.pg.is_some()).await?;
        tx.commit().await
    }

    /// The matter a note or document belongs to, for the audit entry of a refused request
    /// about it alone: row security hides the record from the caller who was refused, so
    /// this reads as the firm's owner role. The answer goes into the log, never to a caller.
    pub async fn matter_of_record_for_audit(&self, record: Uuid) -> Result<Option<Uuid>, StoreError> {
        let mut tx = self.open(true, None, Intent::Read).await?;
        let mut matter = crate::firm::notes::matter_of(&mut tx, record).await?;
        if matter.is_none() {
            matter = crate::firm::documents::matter_of(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(matter)
    }

    /// Signs a checkpoint of the log's head unless one covers it already: run on a
    /// schedule, so the newest entries of a quiet log are covered within minutes too.
    pub async fn checkpoint_audit(&self, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = self.begin(&Principal::System(SystemTask::AuditLog)).await?;
        audit::checkpoint_now(&mut tx, now).await?;
        tx.commit().await
    }

    /// Removes audit entries older than the firm's retention, leaving a signed checkpoint
    /// and an `audit.purged` entry so the rest of the chain still verifies. Returns the last
    /// entry removed, if any.
    pub async fn purge_audit(&self, now: OffsetDateTime) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_as_owner().await?;
        let months = audit::retention_months(&mut tx).await?;
        // 31 days a month: never shorter than the months promised.
        let cutoff = now - time::Duration::days(months * 31);
        let purged = audit::purge(&mut tx, cutoff, now).await?;
        tx.commit().await?;
        Ok(purged)
    }
}

/// What `firm create` asks for.
pub struct NewFirm<'a> {
    pub slug: FirmSlug,
    pub name: FirmName,
    pub admin_email: Email,
    pub admin_name: Option<&'a str>,
    /// An Argon2id PHC string when the password was given; otherwise an invitation is made.
    pub admin_password_hash: Option<String>,
}

pub struct CreatedFirm {
    pub firm: Firm,
    pub admin: UserId,
    pub invitation: Option<SecretToken>,
}

impl Storage {
    /// Opens the deployment's storage, checks the master key against the one its data was
    /// written under (before writing anything), then applies pending migrations to the
    /// control store and every firm store.
    pub async fn open(
        location: &StorageLocation,
        data_dir: &Path,
        master_key_from_env: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Self, StoreError> {
        backend::install_drivers();
        let backend = location.backend();
        let recorded = backend::recorded_master_key_id(location, data_dir).await?;
        create_private_dir(data_dir)?;
        let (master, master_origin) =
            master_key::resolve(master_key_from_env, data_dir, recorded.as_deref())?;
        let control = match location {
            StorageLocation::Sqlite => {
                backend::open_sqlite(&backend::control_db_path(data_dir), backend::SQLITE_PRAGMAS, 8).await?
            }
            StorageLocation::Postgres { url, pool_size } => backend::open_postgres(url, *pool_size).await?,
        };

        backend::create_control_schema(&control, backend).await?;
        let mut conn = control.acquire().await?;
        migrate::run(&mut conn, backend, StoreKind::Control, None, None).await?;
        if recorded.is_none() {
            firms::record_master_key_id(&mut conn, master.id(), unix_millis(now)).await?;
        }
        drop(conn);

        let storage = Self {
            backend,
            data_dir: data_dir.to_owned(),
            control,
            master,
            master_origin,
            firms: RwLock::new(HashMap::new()),
            firm_names: RwLock::new(HashMap::new()),
            failed_probe: std::sync::Mutex::new(None),
        };
        for firm in storage.list_firms().await? {
            storage.migrate_firm(firm.id, None).await?;
        }
        Ok(storage)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn master_key_origin(&self) -> &MasterKeyOrigin {
        &self.master_origin
    }

    /// True when the control store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.control).await?;
        Ok(())
    }

    /// Ready to serve: the control store answers, and after any storage fault, every open
    /// firm store can write again. A failed write probe stands for [`PROBE_INTERVAL`], so
    /// however often this is asked, the stores are probed at most that often.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.ping().await?;
        if !health::fault_seen() {
            return Ok(());
        }
        if let Ok(failed) = self.failed_probe.lock()
            && let Some((at, why)) = failed.as_ref()
            && at.elapsed() < PROBE_INTERVAL
        {
            return Err(StoreError::ProbeFailed(why.clone()));
        }
        let probed = self.probe_all().await;
        if let Ok(mut failed) = self.failed_probe.lock() {
            *failed = probed.as_ref().err().map(|e| (std::time::Instant::now(), causes(e)));
        }
        probed
    }

    /// Writes to every open firm store; all clear when each one wrote.
    async fn probe_all(&self) -> Result<(), StoreError> {
        let stores: Vec<Arc<FirmStore>> = self.firms.read().await.values().cloned().collect();
        for store in stores {
            store.probe_write().await?;
        }
        health::all_clear();
        Ok(())
    }

    /// Writes out the audit entries queued in every open firm store (see
    /// [`FirmStore::queue_audit`]), at shutdown.
    pub async fn flush_audits(&self) -> Result<(), StoreError> {
        let open: Vec<Arc<FirmStore>> = self.firms.read().await.values().cloned().collect();
        for store in open {
            store.write_waiting().await.map_err(StoreError::AuditWrite)?;
        }
        Ok(())
    }

    pub async fn list_firms(&self) -> Result<Vec<Firm>, StoreError> {
        firms::list(&mut *self.control.acquire().await?).await
    }

    pub async fn firm_by_slug(&self, slug: &FirmSlug) -> Result<Firm, StoreError> {
        firms::by_slug(&mut *self.control.acquire().await?, slug)
            .await?
            .ok_or_else(|| StoreError::UnknownFirm(slug.to_string()))
    }

    /// Keeps a passwordless sign-in's WebAuthn state until the browser answers; `None` when
    /// `cap` live ones are kept already.
    pub async fn start_passkey_sign_in(
        &self,
        state: &str,
        now: OffsetDateTime,
        cap: i64,
    ) -> Result<Option<Uuid>, StoreError> {
        passkey_sign_ins::start(&mut *self.control.acquire().await?, state, now, cap).await
    }

    /// Takes a live passwordless sign-in's state; it works once.
    pub async fn take_passkey_sign_in(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        passkey_sign_ins::take(&mut *self.control.acquire().await?, id, now).await
    }

    /// The firm a user belongs to, if the user exists.
    pub async fn firm_of_user(&self, user: UserId) -> Result<Option<FirmId>, StoreError> {
        passkey_sign_ins::firm_of(&mut *self.control.acquire().await?, user).await
    }

    /// The firm and user an email address belongs to, if any.
    pub async fn directory_lookup(&self, email: &Email) -> Result<Option<(FirmId, UserId)>, StoreError> {
        firms::directory_lookup(&mut *self.control.acquire().await?, email).await
    }

    /// The firm whose store a sign-in's password step reads for `email`, and the user the
    /// address belongs to: for an unknown address a stand-in firm (none when there is no
    /// firm at all), so known and unknown addresses cost the same.
    pub async fn sign_in_lookup(
        &self,
        email: &Email,
    ) -> Result<(Option<FirmId>, Option<UserId>), StoreError> {
        firms::sign_in_lookup(&mut *self.control.acquire().await?, email).await
    }

    /// Reserves `email` for a new user of `firm`, then runs `create` in the firm's store;
    /// if that fails the reservation is released, so nothing is left half-made.
    pub async fn create_user<T>(
        &self,
        firm: FirmId,
        by: &Principal,
        email: &Email,
        create: impl AsyncFnOnce(UserId, &mut FirmTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let user = UserId::random();
        firms::claim_email(&mut *self.control.acquire().await?, email, firm, user).await?;
        let store = self.firm(firm).await?;
        let created = async {
            let mut tx = store.begin(by).await?;
            let value = create(user, &mut tx).await?;
            tx.commit().await?;
            Ok(value)
        }
        .await;
        if created.is_err() {
            firms::release_email(&mut *self.control.acquire().await?, email).await?;
        }
        created
    }

    pub async fn sign_in_failures(&self, key: ThrottleKey<'_>) -> Result<Option<FailureRecord>, StoreError> {
        sign_in_failures::get(&mut *self.control.acquire().await?, key).await
    }

    pub async fn add_sign_in_failure(
        &self,
        key: ThrottleKey<'_>,
        rule: &ThrottleRule,
        now: OffsetDateTime,
    ) -> Result<FailureRecord, StoreError> {
        sign_in_failures::add(&mut *self.control.acquire().await?, key, rule, now).await
    }

    /// Counts an attempt before it is checked, if the rule allows one now; `None` when it
    /// must be refused unchecked (see `control::sign_in_failures::reserve`).
    pub async fn reserve_sign_in_attempt(
        &self,
        key: ThrottleKey<'_>,
        rule: &ThrottleRule,
        now: OffsetDateTime,
    ) -> Result<Option<FailureRecord>, StoreError> {
        sign_in_failures::reserve(&mut *self.control.acquire().await?, key, rule, now).await
    }

    /// Gives back a reserved attempt that succeeded.
    pub async fn release_sign_in_attempt(
        &self,
        key: ThrottleKey<'_>,
        reserved: &FailureRecord,
    ) -> Result<(), StoreError> {
        sign_in_failures::release(&mut *self.control.acquire().await?, key, reserved).await
    }

    pub async fn clear_sign_in_failures(&self, key: ThrottleKey<'_>) -> Result<(), StoreError> {
        sign_in_failures::clear(&mut *self.control.acquire().await?, key).await
    }

    /// The firm's name, read from the control store once per process.
    pub async fn firm_name(&self, id: FirmId) -> Result<FirmName, StoreError> {
        if let Some(name) = self.firm_names.read().await.get(&id) {
            return Ok(name.clone());
        }
        let name = self.firm_by_id(id).await?.name;
        self.firm_names.write().await.insert(id, name.clone());
        Ok(name)
    }

    pub async fn firm_by_id(&self, id: FirmId) -> Result<Firm, StoreError> {
        firms::by_id(&mut *self.control.acquire().await?, id)
            .await?
            .ok_or_else(|| StoreError::UnknownFirm(id.to_string()))
    }

    /// Creates a firm: its own key (stored only wrapped), its own database or schema, and
    /// its first administrator.
    pub async fn create_firm(
        &self,
        new: NewFirm<'_>,
        now: OffsetDateTime,
    ) -> Result<CreatedFirm, StoreError> {
        self.create_firm_by(new, &Principal::System(SystemTask::CommandLine), now).await
    }

    /// [`Self::create_firm`], the firm's log naming `by` (an operator) as its creator.
    pub async fn create_firm_by(
        &self,
        new: NewFirm<'_>,
        by: &Principal,
        now: OffsetDateTime,
    ) -> Result<CreatedFirm, StoreError> {
        self.create_firm_at(new, by, now, None).await
    }

    async fn create_firm_at(
        &self,
        new: NewFirm<'_>,
        by: &Principal,
        now: OffsetDateTime,
        schema_target: Option<i64>,
    ) -> Result<CreatedFirm, StoreError> {
        let firm = Firm { id: FirmId::random(), slug: new.slug, name: new.name, created_at: now };
        let admin = UserId::random();
        let firm_key = FirmKey::generate()?;
        let wrapped = self.master.wrap(&firm.id.to_string(), KeyVersion(1), &firm_key)?;

        // The control rows are written in one transaction that commits last: a failure
        // anywhere leaves no firm behind, and the unique slug and email are checked first.
        let mut control = backend::begin_control(&self.control, self.backend).await?;
        firms::insert_firm(&mut control, &firm).await?;
        firms::insert_key(&mut control, firm.id, KeyVersion(1), &wrapped, unix_millis(now)).await?;
        firms::claim_email(&mut control, &new.admin_email, firm.id, admin).await?;

        let result = async {
            self.provision_firm(firm.id).await?;
            // The keys are not committed to the control store yet, so the new store is
            // opened from the key in hand rather than from its wrapped form.
            let keyring = FirmKeyring::new(&firm.id.to_string(), [(KeyVersion(1), firm_key)])?;
            let store = self.open_firm_store(firm.id, keyring, FirmStanding::Active).await?;
            self.firms.write().await.insert(firm.id, store.clone());
            self.migrate_firm(firm.id, schema_target).await?;
            let mut tx = store.begin(&Principal::System(SystemTask::Provisioning)).await?;
            let status =
                if new.admin_password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
            users::insert(
                &mut tx,
                NewUser {
                    id: admin,
                    email: &new.admin_email,
                    name: new.admin_name,
                    roles: &BTreeSet::from([FirmRole::Admin]),
                    status,
                    password_hash: new.admin_password_hash.as_deref(),
                    created_at: now,
                },
            )
            .await?;
            // The firm's log starts with its own creation, by an operator or the command line.
            // (A store held at an older schema, as the upgrade test makes, has no log yet.)
            let audited = schema_target.is_none();
            for (action, resource) in [
                (AuditAction::FirmCreated, ("firm", firm.id.to_string())),
                (AuditAction::FirmKeyCreated, ("firm_key", format!("{}#1", firm.id))),
                (AuditAction::UserCreated, ("user", admin.to_string())),
            ] {
                let record = AuditRecord {
                    at: now,
                    actor: by.audit_actor(),
                    action,
                    resource_type: Some(resource.0),
                    resource_id: Some(resource.1),
                    matter_id: None,
                    outcome: Outcome::Success,
                    origin: Origin::default(),
                };
                if audited {
                    audit::append(&mut tx, &record).await?;
                }
            }
            let invitation = match new.admin_password_hash {
                Some(_) => None,
                None => Some(invitations::create(&mut tx, admin, now).await?),
            };
            tx.commit().await?;
            Ok::<_, StoreError>(invitation)
        }
        .await;
        let invitation = match result {
            Ok(invitation) => invitation,
            Err(err) => {
                drop(control);
                self.forget_firm(firm.id).await;
                if let Err(cleanup) = self.deprovision_firm(firm.id).await {
                    tracing::error!(firm = %firm.id, error = ?cleanup, "could not remove a half-created firm's storage");
                }
                return Err(err);
            }
        };
        crate::control::operators::append(
            &mut control,
            &crate::operators::operator_entry(
                by,
                AuditAction::FirmCreated,
                Some(("firm", firm.id.to_string())),
                Outcome::Success,
                Origin::default(),
                now,
            ),
        )
        .await?;
        control.commit().await?;
        Ok(CreatedFirm { firm, admin, invitation })
    }

    /// Whether a firm with this id exists (cheap when it is already open).
    pub async fn firm_exists(&self, id: FirmId) -> Result<bool, StoreError> {
        if self.firms.read().await.contains_key(&id) {
            return Ok(true);
        }
        Ok(!firms::wrapped_keys(&mut *self.control.acquire().await?, id).await?.is_empty())
    }

    /// The open store of a firm, opening it (and unwrapping its keys) on first use. Every
    /// few seconds it also checks for a newer key version, so that a rotation made anywhere
    /// is used by every server for new data, and for the firm's standing, so that every
    /// server treats a terminated firm as read-only; a firm whose keys are gone (shredded,
    /// perhaps by another server) is closed and unknown from then on.
    pub async fn firm(&self, id: FirmId) -> Result<Arc<FirmStore>, StoreError> {
        let open = self.firms.read().await.get(&id).cloned();
        let Some(store) = open else {
            let mut firms = self.firms.write().await;
            if let Some(store) = firms.get(&id) {
                return Ok(store.clone());
            }
            let keyring = self.keyring(id).await?;
            let mut control = self.control.acquire().await?;
            let standing = terminations::standing(&mut control, id).await?;
            let restore = backups::restore_status(&mut control, id).await?;
            drop(control);
            if restore.in_progress {
                return Err(StoreError::FirmRestoring);
            }
            let store =
                self.open_firm_store_at(id, Place::Live(id), keyring, standing, restore.started_at).await?;
            firms.insert(id, store.clone());
            return Ok(store);
        };
        if !store.keys_due_for_check() {
            return Ok(store);
        }
        let (latest, standing) = firms::status(&mut *self.control.acquire().await?, id).await?;
        let restore = backups::restore_status(&mut *self.control.acquire().await?, id).await?;
        if restore.in_progress || restore.started_at != store.restored_at {
            // Restored in place (or being restored) since this store was opened: its old
            // connections must not be used again.
            self.forget_firm(id).await;
            if restore.in_progress {
                return Err(StoreError::FirmRestoring);
            }
            return Box::pin(self.firm(id)).await;
        }
        store.set_standing(standing);
        match latest {
            None => {
                self.forget_firm(id).await;
                Err(StoreError::UnknownFirmId)
            }
            Some(latest) if latest == store.key_version() => {
                store.keys_checked_now();
                Ok(store)
            }
            Some(_) => self.reload_keys(id).await,
        }
    }

    /// Reloads a firm's keyring from the control store (after its keys changed).
    pub async fn reload_keys(&self, id: FirmId) -> Result<Arc<FirmStore>, StoreError> {
        let keyring = self.keyring(id).await?;
        let mut firms = self.firms.write().await;
        if let Some(open) = firms.get(&id) {
            open.replace_keyring(keyring);
            return Ok(open.clone());
        }
        let standing = terminations::standing(&mut *self.control.acquire().await?, id).await?;
        let store = self.open_firm_store(id, keyring, standing).await?;
        firms.insert(id, store.clone());
        Ok(store)
    }

    /// Every version of a firm's key, unwrapped. A firm without keys is none (any more).
    pub(crate) async fn keyring(&self, id: FirmId) -> Result<FirmKeyring, StoreError> {
        let mut control = self.control.acquire().await?;
        let wrapped = firms::wrapped_keys(&mut control, id).await?;
        if wrapped.is_empty() {
            return Err(StoreError::UnknownFirmId);
        }
        let sealed_as = firms::sealed_as(&mut control, id).await?;
        let context = firms::wrap_context(id, sealed_as);
        let keys = wrapped
            .iter()
            .map(|(version, wrapped)| Ok((*version, self.master.unwrap(&context, *version, wrapped)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(FirmKeyring::new(&sealed_as.to_string(), keys)?)
    }

    async fn open_firm_store(
        &self,
        id: FirmId,
        keyring: FirmKeyring,
        standing: FirmStanding,
    ) -> Result<Arc<FirmStore>, StoreError> {
        self.open_firm_store_at(id, Place::Live(id), keyring, standing, None).await
    }

    /// Opens the store of firm `id` kept at `place`: the firm's own, or a scratch one that
    /// holds the firm's rows (sealed under its keys, bound to its id) to be checked.
    pub(crate) async fn open_firm_store_at(
        &self,
        id: FirmId,
        place: Place,
        keyring: FirmKeyring,
        standing: FirmStanding,
        restored_at: Option<i64>,
    ) -> Result<Arc<FirmStore>, StoreError> {
        let sealed_as: FirmId = keyring.firm_id().parse().map_err(|_| StoreError::UnknownFirmId)?;
        let (pool, writer, pg) = match self.backend {
            Backend::Sqlite => {
                let path = self.sqlite_path(place);
                let pool = backend::open_sqlite(&path, backend::SQLITE_FIRM_PRAGMAS, SQLITE_READERS).await?;
                let writer = SqliteWriter {
                    pool: backend::open_sqlite(&path, backend::SQLITE_FIRM_PRAGMAS, 1).await?,
                    wal: Arc::new(WalSync::of_database(&path)),
                };
                (pool, Some(writer), None)
            }
            Backend::Postgres => (self.control.clone(), None, Some(pg_names(place))),
        };
        Ok(Arc::new(FirmStore {
            id,
            sealed_as,
            pool,
            pg,
            keyring: std::sync::RwLock::new(Arc::new(keyring)),
            keys_checked: std::sync::Mutex::new(std::time::Instant::now()),
            standing: std::sync::RwLock::new(standing),
            writer,
            audit_queue: AuditQueue::default(),
            restored_at,
            closed_for_restore: AtomicBool::new(false),
        }))
    }

    fn sqlite_path(&self, place: Place) -> PathBuf {
        match place {
            Place::Live(id) => backend::firm_db_path(&self.data_dir, id),
            Place::Scratch(id) => self.scratch_dir().join(id.simple().to_string()).join("firm.db"),
        }
    }

    /// Where backups are restored to be checked (SQLite), inside the data directory.
    pub(crate) fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("scratch")
    }

    /// Closes the firm's open store in this process (its SQLite files are then free to go).
    pub(crate) async fn forget_firm(&self, id: FirmId) {
        if let Some(store) = self.firms.write().await.remove(&id) {
            store.close().await;
        }
    }

    /// Closes a firm about to be restored in place: new requests are refused at once
    /// (its restore is marked in progress already), while those this server had begun
    /// get `settle` to finish before the store's connections close under them.
    pub(crate) async fn close_for_restore(&self, id: FirmId, settle: std::time::Duration) {
        let open = self.take_for_restore(id).await;
        tokio::time::sleep(settle).await;
        // And one opened in the meantime, from before this server saw the restore begin.
        let opened_since = self.take_for_restore(id).await;
        for store in [open, opened_since].into_iter().flatten() {
            store.close().await;
        }
    }

    /// Takes the firm's open store off the map, marked closed for a restore.
    async fn take_for_restore(&self, id: FirmId) -> Option<Arc<FirmStore>> {
        let store = self.firms.write().await.remove(&id)?;
        store.closed_for_restore.store(true, Ordering::Release);
        Some(store)
    }

    async fn provision_firm(&self, id: FirmId) -> Result<(), StoreError> {
        self.provision_at(Place::Live(id)).await
    }

    pub(crate) async fn provision_at(&self, place: Place) -> Result<(), StoreError> {
        match self.backend {
            // The database file is created when the firm's pool first opens.
            Backend::Sqlite => Ok(()),
            Backend::Postgres => pg_names(place).provision(&self.control).await,
        }
    }

    /// Removes the firm's database: its SQLite directory (the file with its `-wal` and
    /// `-shm`), or its PostgreSQL schema and roles. What is gone already is no error.
    pub(crate) async fn deprovision_firm(&self, id: FirmId) -> Result<(), StoreError> {
        self.deprovision_at(Place::Live(id)).await
    }

    pub(crate) async fn deprovision_at(&self, place: Place) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.sqlite_path(place);
                let dir = path.parent().unwrap_or(&self.data_dir);
                match tokio::fs::remove_dir_all(dir).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(dir, e)),
                    _ => Ok(()),
                }
            }
            Backend::Postgres => pg_names(place).deprovision(&self.control).await,
        }
    }

    /// Applies a store's migrations up to `target` (all when `None`).
    pub(crate) async fn migrate_store(
        &self,
        store: &FirmStore,
        target: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        match &store.pg {
            None => {
                let mut conn = store.pool.acquire().await?;
                migrate::run(&mut conn, self.backend, StoreKind::Firm, None, target).await
            }
            Some(names) => {
                let mut conn = self.control.acquire().await?;
                migrate::run(&mut conn, self.backend, StoreKind::Firm, Some(names), target).await
            }
        }
    }

    /// Applies the firm store's migrations up to `target` (all when `None`).
    async fn migrate_firm(&self, id: FirmId, target: Option<i64>) -> Result<Vec<i64>, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let store = self.firm(id).await?;
                let mut conn = store.pool.acquire().await?;
                migrate::run(&mut conn, self.backend, StoreKind::Firm, None, target).await
            }
            Backend::Postgres => {
                let mut conn = self.control.acquire().await?;
                migrate::run(&mut conn, self.backend, StoreKind::Firm, Some(&PgFirmNames::of(id)), target)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ringfence_core::clock::{Clock, SystemClock};
    use ringfence_testkit::{TestEnv, both_backends};

    use super::*;

    fn location(env: &TestEnv) -> StorageLocation {
        match env.database_url() {
            Some(url) => StorageLocation::postgres(url.to_owned()),
            None => StorageLocation::Sqlite,
        }
    }

    fn new_firm(slug: &str, email: &str) -> NewFirm<'static> {
        NewFirm {
            slug: FirmSlug::parse(slug).expect("slug"),
            name: FirmName::parse("Upgrade & Co").expect("name"),
            admin_email: Email::parse(email).expect("email"),
            admin_name: Some("Ada Admin"),
            admin_password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2g".to_owned()),
        }
    }

    async fn firm_schema_version(storage: &Storage, id: FirmId) -> i64 {
        let store = storage.firm(id).await.expect("firm store");
        let mut tx = store.begin(&Principal::Anonymous).await.expect("begin");
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(tx.conn())
            .await
            .expect("version");
        version.unwrap_or(0)
    }

    both_backends!(upgrading_from_the_first_schema_version_keeps_data, |env: TestEnv| async move {
        let now = SystemClock.now();
        let location = location(&env);
        let storage = Storage::open(&location, env.data_dir(), None, now).await.expect("open");
        let created = storage
            .create_firm_at(
                new_firm("upgrade", "ada@upgrade.example"),
                &Principal::System(SystemTask::CommandLine),
                now,
                Some(1),
            )
            .await
            .expect("firm at v1");
        assert_eq!(firm_schema_version(&storage, created.firm.id).await, 1);
        drop(storage);

        let reopened = Storage::open(&location, env.data_dir(), None, now).await.expect("reopen migrates");
        assert_eq!(
            firm_schema_version(&reopened, created.firm.id).await,
            migrate::latest_version(location.backend(), StoreKind::Firm)
        );
        let store = reopened.firm(created.firm.id).await.expect("firm store");
        let mut tx = store.begin(&Principal::Anonymous).await.expect("begin");
        let admin =
            users::get(&mut tx, created.admin).await.expect("read").expect("admin survived the upgrade");
        assert_eq!(admin.name.as_deref(), Some("Ada Admin"));
        assert_eq!(admin.roles, BTreeSet::from([FirmRole::Admin]));
        invitations::create(&mut tx, created.admin, now).await.expect("the new table works");
        tx.commit().await.expect("commit");
    });

    both_backends!(a_request_holding_a_store_closed_for_a_restore_is_told_so, |env: TestEnv| async move {
        let now = SystemClock.now();
        let storage = Storage::open(&location(&env), env.data_dir(), None, now).await.expect("open");
        let created = storage.create_firm(new_firm("held", "ada@held.example"), now).await.expect("firm");
        let held = storage.firm(created.firm.id).await.expect("firm store");
        storage.close_for_restore(created.firm.id, std::time::Duration::ZERO).await;
        // The store this request held from before is closed under it: the answer says why,
        // not that storage failed.
        let refused = held.begin(&Principal::Anonymous).await.map(drop);
        assert!(matches!(refused, Err(StoreError::FirmRestoring)), "{refused:?}");
        let refused = held.begin_read(&Principal::Anonymous).await.map(drop);
        assert!(matches!(refused, Err(StoreError::FirmRestoring)), "{refused:?}");
    });

    both_backends!(
        a_master_key_rotation_cut_short_is_finished_at_the_next_start,
        |env: TestEnv| async move {
            let now = SystemClock.now();
            let location = location(&env);
            let storage = Storage::open(&location, env.data_dir(), None, now).await.expect("open");
            let created = storage.create_firm(new_firm("cut", "ada@cut.example"), now).await.expect("firm");
            let path = master_key::master_key_path(env.data_dir());
            let new = MasterKey::generate().expect("key");
            // What `replace_master_key_file` does, stopped just before replacing the file.
            master_key::write_new_key_file(&master_key::next_key_path(&path), &new).expect("next key");
            storage.rotate_master_key(&new).await.expect("re-wrapped");
            drop(storage);

            let reopened =
                Storage::open(&location, env.data_dir(), None, now).await.expect("the swap is finished");
            assert!(!master_key::next_key_path(&path).exists());
            let on_disk = std::fs::read_to_string(&path).expect("key file");
            assert_eq!(MasterKey::from_base64(&on_disk).expect("key").id(), new.id());
            reopened.firm(created.firm.id).await.expect("the firm's keys unwrap");

            // A leftover key the data was never re-wrapped under is dropped, not used.
            master_key::write_new_key_file(
                &master_key::next_key_path(&path),
                &MasterKey::generate().expect("key"),
            )
            .expect("stray key");
            drop(reopened);
            let again =
                Storage::open(&location, env.data_dir(), None, now).await.expect("opens with the right key");
            assert!(!master_key::next_key_path(&path).exists());
            again.firm(created.firm.id).await.expect("still opens");
        }
    );
}

#[cfg(test)]
mod sqlite_tests {
    use ringfence_core::clock::{Clock, SystemClock};
    use sqlx::Connection;

    use super::*;

    #[tokio::test]
    async fn sqlite_files_use_wal_foreign_keys_and_a_busy_timeout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = SystemClock.now();
        let storage = Storage::open(&StorageLocation::Sqlite, dir.path(), None, now).await.expect("open");
        let created = storage
            .create_firm(
                NewFirm {
                    slug: FirmSlug::parse("walled").expect("slug"),
                    name: FirmName::parse("Walled").expect("name"),
                    admin_email: Email::parse("a@walled.example").expect("email"),
                    admin_name: None,
                    admin_password_hash: None,
                },
                now,
            )
            .await
            .expect("firm");
        let firm_db = backend::firm_db_path(dir.path(), created.firm.id);
        for path in [backend::control_db_path(dir.path()), firm_db] {
            let mut file = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open file");
            let mode: String =
                sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut file).await.expect("pragma");
            assert_eq!(mode, "wal", "{}", path.display());
        }
        let store = storage.firm(created.firm.id).await.expect("store");
        let mut tx = store.begin(&Principal::Anonymous).await.expect("begin");
        let foreign_keys: i64 =
            sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(tx.conn()).await.expect("pragma");
        let busy_timeout: i64 =
            sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(tx.conn()).await.expect("pragma");
        assert_eq!(foreign_keys, 1);
        assert!(busy_timeout >= 5000, "{busy_timeout}");
        // The firm's writers sync the log themselves, together (`wal_sync`); the control
        // store syncs every commit.
        let firm_sync: i64 =
            sqlx::query_scalar("PRAGMA synchronous").fetch_one(tx.conn()).await.expect("pragma");
        let control_sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *storage.control.acquire().await.expect("control"))
            .await
            .expect("pragma");
        assert_eq!((firm_sync, control_sync), (1, 2), "NORMAL for the firm, FULL for the control store");
        let orphan = sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ('nobody', 'admin')")
            .execute(tx.conn())
            .await;
        assert!(orphan.is_err(), "foreign keys are enforced");
        drop(tx);
        let wal = store.writer.as_ref().map(|w| w.wal.clone()).expect("a SQLite firm store syncs its log");
        let before = wal.syncs();
        store.begin(&Principal::Anonymous).await.expect("write").commit().await.expect("commit");
        assert_eq!(wal.syncs(), before + 1, "a writer's commit returns after a sync");
        store.begin_read(&Principal::Anonymous).await.expect("read").commit().await.expect("commit");
        assert_eq!(wal.syncs(), before + 1, "a reader has nothing to sync");
    }
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod fault_tests;
