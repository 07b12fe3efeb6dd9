//! A firm restored from one of its backups as a new firm beside the original, for
//! inspection (`ringfence backup restore --as NEW-SLUG`).
//!
//! The copy keeps the original's keys: its sealed values, documents and audit chain stay
//! bound to the original's id (`firms.sealed_as`), so what the backup holds opens and
//! verifies unchanged, and nothing is re-sealed. It is a firm of its own otherwise: its own
//! slug, store, documents and directory. None of the original's people can sign in to it
//! (their addresses are the original's, and every session, pending invitation and sign-in
//! challenge the backup held is dropped); the one administrator the operator names is
//! invited, and reaches matters as an administrator of the original could.

use std::collections::BTreeSet;

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::clock::unix_millis;
use ringfence_core::firm::{Firm, FirmName, FirmSlug, FirmStanding};
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::token::SecretToken;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{self, Loader, Value};
use super::{BackupTarget, Manifest, Progress};
use crate::blobs::BlobStore;
use crate::control::{backups, firms, terminations};
use crate::firm::users::{self, NewUser, UserStatus};
use crate::firm::{FirmTx, audit, invitations};
use crate::storage::Place;
use crate::{Storage, StoreError, backend};

/// The copy asked for: its slug, and the administrator invited to it (an address that
/// signs in to no firm here, and is no one's in the backup).
#[derive(Debug, Clone)]
pub struct NewCopy<'a> {
    pub slug: FirmSlug,
    pub admin_email: Email,
    pub admin_name: Option<&'a str>,
}

#[derive(Debug)]
pub struct RestoredCopy {
    pub firm: Firm,
    pub rows: u64,
    pub documents_copied: usize,
    pub purges_replayed: crate::purge::Replayed,
    /// The administrator's one-time invitation.
    pub invitation: SecretToken,
}

/// What the copy drops of the backup: every way in that the original's people held.
/// Tokens are scoped by firm id, so a session or invitation of the original would
/// otherwise open the copy under the copy's id.
const WAYS_IN: &[&str] =
    &["sessions", "login_challenges", "invitations", "password_resets", "passkey_registrations"];

/// A copy being made: what every step of it needs.
struct Copying<'a> {
    target: &'a BackupTarget,
    blobs: &'a BlobStore,
    /// The original, and the backup the copy is made from (proven already).
    firm: FirmId,
    backup: Uuid,
    manifest: &'a Manifest,
    made: Firm,
    admin: UserId,
    copy: NewCopy<'a>,
    progress: &'a dyn Progress,
    now: OffsetDateTime,
}

impl Storage {
    /// Restores `firm`'s backup `id` (`from`) as a new firm beside it, closed to requests
    /// until it is whole. A copy that cannot be made whole leaves nothing behind.
    pub async fn restore_firm_as(
        &self,
        target: &BackupTarget,
        blobs: &BlobStore,
        (firm, id): (FirmId, Uuid),
        copy: NewCopy<'_>,
        progress: &dyn Progress,
        now: OffsetDateTime,
    ) -> Result<RestoredCopy, StoreError> {
        self.discard_stopped_copy(blobs, &copy.slug).await?;
        let (manifest, newest) = self.proven_for_restore(target, firm, id, progress).await?;
        let original = original_name(&manifest)?;
        let name = FirmName::parse(&format!("{} (copy)", original.as_str())).unwrap_or(original);
        let made = Firm { id: FirmId::random(), slug: copy.slug.clone(), name, created_at: now };
        let copying = Copying {
            target,
            blobs,
            firm,
            backup: id,
            manifest: &manifest,
            made,
            admin: UserId::random(),
            copy,
            progress,
            now,
        };
        self.add_copy_to_control(&copying, newest.as_ref()).await?;
        match self.fill_copy(&copying).await {
            Ok(restored) => {
                backups::finish_restore(&mut *self.control.acquire().await?, copying.made.id, now).await?;
                Ok(restored)
            }
            Err(err) => {
                if let Err(cleanup) = self.discard_copy(blobs, copying.made.id).await {
                    tracing::error!(firm = %copying.made.id, error = ?cleanup, "could not remove a half-made copy");
                }
                Err(err)
            }
        }
    }

    /// The copy's control rows: the firm (closed until it is whole), the keys of the
    /// backup re-wrapped for it, its administrator's address, and every purge the
    /// original's ledger and backups record, as the copy's own. The original's row is held
    /// meanwhile: a firm shredded or terminated is not copied.
    async fn add_copy_to_control(
        &self,
        c: &Copying<'_>,
        newest: Option<&Manifest>,
    ) -> Result<(), StoreError> {
        let made = c.made.id.to_string();
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        firms::hold(&mut tx, c.firm).await?;
        if let Some(tombstone) = terminations::tombstone(&mut tx, c.firm).await? {
            return Err(StoreError::Shredded {
                slug: tombstone.slug.to_string(),
                at: tombstone.shred_started_at,
            });
        }
        if let FirmStanding::Terminated(termination) = terminations::standing(&mut tx, c.firm).await? {
            return Err(StoreError::AlreadyTerminated {
                since: termination.since,
                shred_after: termination.shred_after,
            });
        }
        firms::insert_firm(&mut tx, &c.made).await?;
        let sealed_as = super::sealed_as_of(c.manifest, c.firm)?;
        firms::set_sealed_as(&mut tx, c.made.id, sealed_as).await?;
        let (from, to) = (firms::wrap_context(c.firm, sealed_as), firms::wrap_context(c.made.id, sealed_as));
        for (version, wrapped) in super::wrapped_keys_of(c.manifest)? {
            let key = self.master.unwrap(&from, version, &wrapped)?;
            firms::insert_key(
                &mut tx,
                c.made.id,
                version,
                &self.master.wrap(&to, version, &key)?,
                unix_millis(c.now),
            )
            .await?;
        }
        firms::claim_email(&mut tx, &c.copy.admin_email, c.made.id, c.admin).await?;
        sqlx::query(
            "INSERT INTO purge_ledger (firm_id, kind, object_id, blobs, deleted_at, purged_at)
             SELECT $1, kind, object_id, blobs, deleted_at, purged_at FROM purge_ledger WHERE firm_id = $2",
        )
        .bind(&made)
        .bind(c.firm.to_string())
        .execute(&mut *tx)
        .await?;
        for from in std::iter::once(c.manifest).chain(newest) {
            let (head, found) = super::control_rows(from, "purge_ledger")?;
            let at = super::column_at(head, "firm_id")?;
            let mut loader = Loader::new(rows::checked_head(head.clone())?, true);
            for row in found {
                let mut row = rows::parse_json_row(row, head.columns.len())?;
                row[at] = Value::Text(made.clone());
                loader.push(&mut tx, row).await?;
            }
            loader.flush(&mut tx).await?;
        }
        backups::start_restore(&mut tx, c.made.id, c.backup, c.now).await?;
        Ok(tx.commit().await?)
    }

    async fn fill_copy(&self, c: &Copying<'_>) -> Result<RestoredCopy, StoreError> {
        c.progress.stage("copying documents");
        for (blob, bytes) in &c.manifest.documents {
            c.target.store.copy_to(c.blobs, c.firm, *blob, c.made.id).await?;
            c.progress.advance(*bytes);
        }
        c.progress.stage("restoring the database");
        let keyring = self.keyring_of_manifest(c.firm, c.manifest)?;
        self.provision_at(Place::Live(c.made.id)).await?;
        let store = self
            .open_firm_store_at(c.made.id, Place::Live(c.made.id), keyring, FirmStanding::Active, None)
            .await?;
        let filled = async {
            self.migrate_store(&store, Some(c.manifest.schema_version)).await?;
            let rows = self.load_store(c.target, &store, c.manifest, c.progress).await?;
            self.migrate_store(&store, None).await?;
            c.progress.stage("re-applying purges");
            let purges_replayed =
                self.replay_purges_in(c.blobs, &store, OffsetDateTime::UNIX_EPOCH, c.now).await?;
            let mut tx = store.begin_as_owner().await?;
            let invitation = open_copy_to_its_administrator(&mut tx, c).await?;
            tx.commit().await?;
            Ok(RestoredCopy {
                firm: c.made.clone(),
                rows,
                documents_copied: c.manifest.documents.len(),
                purges_replayed,
                invitation,
            })
        }
        .await;
        store.close().await;
        filled
    }

    /// A copy of this slug that stopped halfway (its process ended before it was whole):
    /// removed, so that the copy can be made again.
    async fn discard_stopped_copy(&self, blobs: &BlobStore, slug: &FirmSlug) -> Result<(), StoreError> {
        let mut control = self.control.acquire().await?;
        let Some(found) = firms::by_slug(&mut control, slug).await? else { return Ok(()) };
        let stopped = firms::sealed_as(&mut control, found.id).await? != found.id
            && backups::restore_status(&mut control, found.id).await?.in_progress;
        drop(control);
        if stopped {
            tracing::warn!(firm = %found.id, %slug, "a copy that stopped halfway is removed, to be made again");
            self.discard_copy(blobs, found.id).await?;
        }
        Ok(())
    }

    /// Removes what a copy that failed halfway left: its control rows first (with its keys
    /// goes every way to read what else is left), then its store and documents.
    async fn discard_copy(&self, blobs: &BlobStore, copy: FirmId) -> Result<(), StoreError> {
        self.forget_firm(copy).await;
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        for table in ["purge_ledger", "firm_restores", "backups"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE firm_id = $1")))
                .bind(copy.to_string())
                .execute(&mut *tx)
                .await?;
        }
        terminations::erase_firm(&mut tx, copy).await?;
        tx.commit().await?;
        self.deprovision_at(Place::Live(copy)).await?;
        blobs.delete_firm(copy).await?;
        Ok(())
    }
}

/// The original firm's name, as its backup has it.
fn original_name(manifest: &Manifest) -> Result<FirmName, StoreError> {
    let (head, found) = super::control_rows(manifest, "firms")?;
    let row = found.first().ok_or_else(|| rows::invalid("no firm row"))?;
    let row = rows::parse_json_row(row, head.columns.len())?;
    match &row[super::column_at(head, "name")?] {
        Value::Text(name) => {
            FirmName::parse(name).map_err(|_| rows::invalid("a firm name of the wrong shape"))
        }
        _ => Err(rows::invalid("a firm row of the wrong shape")),
    }
}

/// Drops the original's ways in, invites the copy's administrator, and records both.
async fn open_copy_to_its_administrator(tx: &mut FirmTx, c: &Copying<'_>) -> Result<SecretToken, StoreError> {
    for table in WAYS_IN {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(tx.conn()).await?;
    }
    // The log goes on apart from the original's: signed from here by a key of the copy's
    // own (its checkpoints are then never the original's keys' word); what the original
    // shipped already is not sent again.
    audit::part_from_original(tx, unix_millis(c.now)).await?;
    if users::credentials_by_email(tx, &c.copy.admin_email).await?.is_some() {
        return Err(StoreError::EmailTaken(c.copy.admin_email.to_string()));
    }
    users::insert(
        tx,
        NewUser {
            id: c.admin,
            email: &c.copy.admin_email,
            name: c.copy.admin_name,
            roles: &BTreeSet::from([FirmRole::Admin]),
            status: UserStatus::Invited,
            password_hash: None,
            created_at: c.now,
        },
    )
    .await?;
    let taken = ringfence_core::clock::from_unix_millis(c.manifest.taken_at);
    for (action, resource_type, resource_id) in [
        (
            AuditAction::BackupRestored,
            "backup",
            format!("{} taken {taken} of firm {}, as a new firm beside it", c.backup, c.firm),
        ),
        (AuditAction::UserCreated, "user", c.admin.to_string()),
    ] {
        let record = AuditRecord {
            at: c.now,
            actor: AuditActor::Cli,
            action,
            resource_type: Some(resource_type),
            resource_id: Some(resource_id),
            matter_id: None,
            outcome: Outcome::Success,
            origin: Origin::default(),
        };
        audit::append(tx, &record).await?;
    }
    invitations::create(tx, c.admin, c.now).await
}
