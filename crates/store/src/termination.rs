//! Firm termination and crypto-shredding.
//!
//! A terminated firm is read-only — every server refuses its people's writes (the route
//! guard reads [`FirmStore::standing`]) — and kept for reading and export until its
//! retention ends. Then the `firm.shred` job, queued in the very transaction that
//! terminated it, shreds it in two steps:
//!
//! 1. The firm's log gets a last entry, the shred's own, and a signed checkpoint covering
//!    it. Then one control-store transaction ends the termination, writes the tombstone
//!    (keeping that checkpoint), and deletes the firm's keys, directory entries, jobs and
//!    row. From that commit nothing of the firm can be read by anyone, the master key's
//!    holder included: the only keys its data was sealed under are gone (the crypto-shred),
//!    and no server knows the firm any more.
//! 2. Every blob it stored and its database (the SQLite directory with the file's `-wal`
//!    and `-shm`, or the PostgreSQL schema and roles) are deleted, and the tombstone is
//!    marked done. Every part of this step is idempotent, and the tombstone says it is
//!    due, so a shred stopped anywhere runs again and finishes.
//!
//! A reinstatement and a shred meeting at the same moment are decided by the termination
//! row: both delete it, and only one finds it. Each step is also in the operator log, in
//! the control transaction that made it, whoever took it.

use ringfence_core::audit::{AuditAction, AuditRecord, Origin, Outcome};
use ringfence_core::firm::{FirmSlug, FirmStanding, ForceReason, Termination};
use ringfence_core::ids::FirmId;
use ringfence_core::principal::{Principal, SystemTask};
use time::OffsetDateTime;

use crate::backup::BackupTarget;
use crate::blobs::BlobStore;
use crate::control::jobs::{self, NewJob};
use crate::control::terminations::{self, Tombstone};
use crate::control::{firms, operators};
use crate::firm::audit;
use crate::{FirmStore, Storage, StoreError, backend};

fn entry(by: &Principal, action: AuditAction, firm: FirmId, now: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: by.audit_actor(),
        action,
        resource_type: Some("firm"),
        resource_id: Some(firm.to_string()),
        matter_id: None,
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}

impl Storage {
    /// In service or terminated, as the control store says now.
    pub async fn firm_standing(&self, id: FirmId) -> Result<FirmStanding, StoreError> {
        terminations::standing(&mut *self.control.acquire().await?, id).await
    }

    /// What is kept of the shredded firm that had `slug`, if one had it.
    pub async fn tombstone_by_slug(&self, slug: &FirmSlug) -> Result<Option<Tombstone>, StoreError> {
        terminations::tombstone_by_slug(&mut *self.control.acquire().await?, slug).await
    }

    /// Terminates the firm: read-only from now on (on this server at once, on every other
    /// within seconds) until `shred_after`. `shred`, the job that shreds it then, is queued
    /// in the same transaction. Recorded in the firm's log as done by `by`.
    pub async fn terminate_firm(
        &self,
        id: FirmId,
        by: &Principal,
        now: OffsetDateTime,
        shred_after: OffsetDateTime,
        shred: &NewJob,
    ) -> Result<Termination, StoreError> {
        let mut control = backend::begin_control(&self.control, self.backend()).await?;
        firms::by_id(&mut control, id).await?.ok_or(StoreError::UnknownFirmId)?;
        firms::hold(&mut control, id).await?;
        match terminations::standing(&mut control, id).await? {
            FirmStanding::Terminated(Termination { since, shred_after }) => {
                return Err(StoreError::AlreadyTerminated { since, shred_after });
            }
            // Terminated, its people sign in to take their data out: a firm suspended (an
            // incident, perhaps) is not opened to them by a termination on the way.
            FirmStanding::Suspended { .. } => return Err(StoreError::SuspendedNotTerminable),
            FirmStanding::Active => {}
        }
        terminations::insert(&mut control, id, now, shred_after).await?;
        crate::control::support_grants::end_all_of_firm(&mut control, id, "termination", now).await?;
        jobs::enqueue(&mut control, shred, now).await?;
        operators::append(&mut control, &entry(by, AuditAction::FirmTerminated, id, now)).await?;
        control.commit().await?;
        let termination = Termination { since: now, shred_after };
        let record = entry(by, AuditAction::FirmTerminated, id, now);
        self.record_standing(id, FirmStanding::Terminated(termination), record).await?;
        Ok(termination)
    }

    /// Puts a terminated firm back in service and cancels its shred (the job whose dedupe
    /// key is `shred_job`). Answers the termination it ended.
    pub async fn reinstate_firm(
        &self,
        id: FirmId,
        by: &Principal,
        now: OffsetDateTime,
        shred_job: &str,
    ) -> Result<Termination, StoreError> {
        let mut control = backend::begin_control(&self.control, self.backend()).await?;
        firms::by_id(&mut control, id).await?.ok_or(StoreError::UnknownFirmId)?;
        firms::hold(&mut control, id).await?;
        let ended = terminations::take(&mut control, id).await?.ok_or(StoreError::NotTerminated)?;
        jobs::cancel(&mut control, shred_job).await?;
        operators::append(&mut control, &entry(by, AuditAction::FirmReinstated, id, now)).await?;
        control.commit().await?;
        self.record_standing(id, FirmStanding::Active, entry(by, AuditAction::FirmReinstated, id, now))
            .await?;
        Ok(ended)
    }

    /// Tells this process's open store of the firm its new standing, and records the change
    /// in the firm's log.
    async fn record_standing(
        &self,
        id: FirmId,
        standing: FirmStanding,
        record: AuditRecord,
    ) -> Result<(), StoreError> {
        let store = self.firm(id).await?;
        store.set_standing(standing);
        store.append_audit(record).await?;
        Ok(())
    }

    /// Shreds a terminated firm whose retention has ended (see the module documentation),
    /// or finishes a shred that was stopped; a firm shredded already is left as it is. By
    /// `by`, for `force_reason` when the operator overrides any legal hold on the firm: the
    /// reason is kept in the tombstone and the log's last entry says the shred was forced.
    pub async fn shred_firm(
        &self,
        blobs: &BlobStore,
        backups: Option<&BackupTarget>,
        id: FirmId,
        now: OffsetDateTime,
        by: &Principal,
        force_reason: Option<&ForceReason>,
    ) -> Result<Tombstone, StoreError> {
        let tombstone = match self.tombstone(id).await? {
            Some(under_way) => under_way,
            None => match self.destroy_keys(id, now, by, force_reason).await {
                Ok(tombstone) => tombstone,
                // Another shred of the firm got there first: this one finishes it too.
                Err(StoreError::NotTerminated) => {
                    self.tombstone(id).await?.ok_or(StoreError::NotTerminated)?
                }
                Err(e) => return Err(e),
            },
        };
        match tombstone.shredded_at {
            Some(_) => Ok(tombstone),
            None => self.remove_remains(blobs, backups, tombstone, now).await,
        }
    }

    async fn tombstone(&self, id: FirmId) -> Result<Option<Tombstone>, StoreError> {
        terminations::tombstone(&mut *self.control.acquire().await?, id).await
    }

    /// The shred's first step: the log's last entry and checkpoint, then the tombstone in
    /// the transaction that deletes the firm's keys and row.
    async fn destroy_keys(
        &self,
        id: FirmId,
        now: OffsetDateTime,
        by: &Principal,
        force_reason: Option<&ForceReason>,
    ) -> Result<Tombstone, StoreError> {
        let firm = self.firm_by_id(id).await?;
        match self.firm_standing(id).await? {
            FirmStanding::Active | FirmStanding::Suspended { .. } => return Err(StoreError::NotTerminated),
            FirmStanding::Terminated(Termination { shred_after, .. }) if shred_after > now => {
                return Err(StoreError::RetentionRunning { until: shred_after });
            }
            FirmStanding::Terminated(_) => {}
        }
        // Asked first too, so that a refused shred leaves no last entry in the log.
        firms::no_copies(&mut *self.control.acquire().await?, id).await?;
        let store = self.firm(id).await?;
        if force_reason.is_none() && store.any_legal_hold().await? {
            return Err(StoreError::UnderLegalHold);
        }
        // Entries still queued (a failed sign-in's) are written before the last one.
        store.flush_audit().await?;
        let checkpoint = final_checkpoint(&store, by, force_reason.is_some(), now).await?;

        let mut control = backend::begin_control(&self.control, self.backend()).await?;
        // Checked in the transaction that destroys the keys, the firm's row held: a copy
        // being made meanwhile either stands before (and stops this) or finds the firm gone.
        firms::hold(&mut control, id).await?;
        firms::no_copies(&mut control, id).await?;
        // Taken only now: a reinstatement in the meantime wins, and nothing is destroyed.
        let Some(Termination { since, shred_after }) = terminations::take(&mut control, id).await? else {
            return Err(StoreError::NotTerminated);
        };
        if shred_after > now {
            return Err(StoreError::RetentionRunning { until: shred_after });
        }
        let tombstone = Tombstone {
            firm: id,
            slug: firm.slug,
            created_at: firm.created_at,
            terminated_at: since,
            shred_started_at: now,
            shredded_at: None,
            shredded_by: by.audit_actor().kind().to_owned(),
            force_reason: force_reason.map(|reason| reason.as_str().to_owned()),
            checkpoint,
        };
        terminations::insert_tombstone(&mut control, &tombstone).await?;
        terminations::erase_firm(&mut control, id).await?;
        let shredding =
            if force_reason.is_some() { AuditAction::FirmShredForced } else { AuditAction::FirmShredStarted };
        operators::append(&mut control, &entry(by, shredding, id, now)).await?;
        control.commit().await?;
        Ok(tombstone)
    }

    /// The shred's second step, idempotent: the firm's blobs and database.
    async fn remove_remains(
        &self,
        blobs: &BlobStore,
        backups: Option<&BackupTarget>,
        tombstone: Tombstone,
        now: OffsetDateTime,
    ) -> Result<Tombstone, StoreError> {
        let id = tombstone.firm;
        self.forget_firm(id).await;
        // Its backups first: a backup left behind would bring back what the shred destroys.
        if let Some(target) = backups {
            let removed = self.delete_firm_backups(target, id).await?;
            tracing::info!(firm = %id, objects = removed, "deleted a shredded firm's backups");
        }
        let removed = blobs.delete_firm(id).await?;
        self.deprovision_firm(id).await?;
        terminations::mark_shredded(&mut *self.control.acquire().await?, id, now).await?;
        tracing::info!(firm = %id, blobs = removed, "shredded a firm: its keys, database and files are gone");
        Ok(Tombstone { shredded_at: Some(now), ..tombstone })
    }
}

/// Writes the log's last entry (the shred's own, forced or not) after any entries still
/// queued, and signs the checkpoint that covers it: what the tombstone keeps of the log.
async fn final_checkpoint(
    store: &FirmStore,
    by: &Principal,
    forced: bool,
    now: OffsetDateTime,
) -> Result<audit::Checkpoint, StoreError> {
    let action = if forced { AuditAction::FirmShredForced } else { AuditAction::FirmShredStarted };
    let mut tx = store.begin(&Principal::System(SystemTask::Shredding)).await?;
    audit::append(&mut tx, &entry(by, action, store.id(), now)).await?;
    let checkpoint = audit::checkpoint_now(&mut tx, now).await?;
    tx.commit().await?;
    checkpoint.ok_or_else(|| StoreError::AuditWrite("the log had no head to sign".to_owned()))
}
