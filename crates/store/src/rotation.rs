//! Key rotation without downtime.
//!
//! 1. [`Storage::rotate_firm_key`] adds a firm key version; every server seals new data
//!    under it within seconds (see `Storage::firm`), old versions still open old data.
//! 2. [`Storage::rewrap_firm`] moves every sealed field (file data keys included) to the
//!    current version, a small batch per transaction, so it can be stopped and run again.
//! 3. [`Storage::retire_old_keys`] deletes old versions, only once nothing uses them.
//!
//! Every sealed column is listed in [`SEALED`]; a test checks the list against the schema.
//! A matter's content is sealed under the matter's own key (see `matter_keys`), which is
//! itself a value sealed under the firm key: rotation re-wraps that key and leaves the
//! content as it is. Content still under the firm key (sealed before its matter had a key)
//! is re-sealed like any other value until the migration moves it.

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::clock::unix_millis;
use ringfence_core::ids::FirmId;
use ringfence_crypto::firm_key::FORMAT as FIRM_FORMAT;
use ringfence_crypto::{FieldRef, FirmKey, KeyVersion, MasterKey};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use crate::control::firms;
use crate::control::jobs::{self, NewJob};
use crate::firm::{FirmTx, audit};
use crate::{Storage, StoreError, backend, master_key};

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Text,
    Integer,
}

/// A column of sealed values, and how to name the field each value is bound to.
#[derive(Debug)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The row's key columns.
    keys: &'static [(&'static str, KeyKind)],
    /// SQL giving the record the seal is bound to, as text.
    pub(crate) record: &'static str,
    /// The field the seal is bound to: (table, field).
    pub(crate) bound_to: (&'static str, &'static str),
    /// For a matter's content, SQL giving the matter of the row: the value is sealed under
    /// the matter's key (or, if sealed before the matter had one, under the firm key).
    pub matter: Option<&'static str>,
}

const ID: &[(&str, KeyKind)] = &[("id", KeyKind::Text)];
const DOCUMENT_MATTER: &str =
    "(SELECT matter_id FROM documents WHERE documents.id = document_versions.document_id)";

macro_rules! sealed {
    ($table:literal . $column:literal => $field:literal) => {
        SealedColumn {
            table: $table,
            column: $column,
            keys: ID,
            record: "id",
            bound_to: ($table, $field),
            matter: None,
        }
    };
    ($table:literal . $column:literal => $field:literal, of matter $matter:expr) => {
        SealedColumn {
            table: $table,
            column: $column,
            keys: ID,
            record: "id",
            bound_to: ($table, $field),
            matter: Some($matter),
        }
    };
}

pub const SEALED: &[SealedColumn] = &[
    sealed!("users"."name_sealed" => "name"),
    sealed!("users"."totp_secret_sealed" => "totp_secret"),
    sealed!("users"."totp_pending_sealed" => "totp_pending"),
    sealed!("passkeys"."passkey_sealed" => "passkey"),
    sealed!("clients"."id_number_sealed" => "id_number"),
    sealed!("data_subject_requests"."subject_name_sealed" => "subject_name"),
    sealed!("data_subject_requests"."subject_email_sealed" => "subject_email"),
    sealed!("data_subject_requests"."outcome_sealed" => "outcome"),
    sealed!("legal_holds"."reason_sealed" => "reason"),
    sealed!("legal_holds"."lift_reason_sealed" => "lift_reason"),
    sealed!("decoys"."targets_sealed" => "targets"),
    sealed!("decoys"."label_sealed" => "label"),
    sealed!("decoys"."summary_sealed" => "summary"),
    sealed!("incidents"."summary_sealed" => "summary"),
    sealed!("incidents"."details_sealed" => "details"),
    sealed!("incident_steps"."text_sealed" => "text"),
    sealed!("incident_notifications"."detail_sealed" => "detail"),
    sealed!("security_alerts"."detail_sealed" => "detail"),
    // Each matter's key, under which its content is sealed.
    SealedColumn {
        table: "matter_keys",
        column: "key_sealed",
        keys: &[("matter_id", KeyKind::Text)],
        record: "matter_id",
        bound_to: ("matter_keys", "key"),
        matter: None,
    },
    sealed!("matters"."title_sealed" => "title", of matter "id"),
    sealed!("matters"."description_sealed" => "description", of matter "id"),
    sealed!("notes"."body_sealed" => "body", of matter "matter_id"),
    // A note's earlier bodies stay bound to the note itself.
    SealedColumn {
        table: "note_versions",
        column: "body_sealed",
        keys: &[("note_id", KeyKind::Text), ("version", KeyKind::Integer)],
        record: "note_id",
        bound_to: ("notes", "body"),
        matter: Some("(SELECT matter_id FROM notes WHERE notes.id = note_versions.note_id)"),
    },
    sealed!("documents"."title_sealed" => "title", of matter "matter_id"),
    sealed!("document_versions"."name_sealed" => "name", of matter DOCUMENT_MATTER),
    sealed!("document_versions"."sha256_sealed" => "sha256", of matter DOCUMENT_MATTER),
    sealed!("document_versions"."data_key_sealed" => "data_key", of matter DOCUMENT_MATTER),
    sealed!("document_versions"."text_sealed" => "text", of matter DOCUMENT_MATTER),
    sealed!("exports"."passphrase_sealed" => "passphrase"),
    sealed!("exports"."data_key_sealed" => "data_key"),
    SealedColumn {
        table: "search_keys",
        column: "key_sealed",
        keys: &[("id", KeyKind::Integer)],
        record: "CAST(id AS TEXT)",
        bound_to: ("search_keys", "key"),
        matter: None,
    },
];

/// Sealed columns left as they are: an audit signing key is append-only, and rotation
/// starts a new one under the new key instead, which certifies the earlier ones while their
/// seeds still open. Superseded signing keys are never opened again once their key version
/// is retired (which shreds them): `audit verify` then proves them the firm's through that
/// certificate, and checks their checkpoints with their public keys.
pub const NOT_REWRAPPED: &[(&str, &str)] = &[("audit_keys", "seed_sealed")];

/// What [`Storage::retire_old_keys`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    Retired {
        versions: u64,
    },
    /// Values still sealed under older versions: re-wrap first.
    StillInUse {
        values: u64,
    },
    /// The current version is younger than the grace period.
    TooSoon {
        after: OffsetDateTime,
    },
}

/// Rows re-sealed per transaction.
const BATCH: i64 = 200;

/// How a re-wrap went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rewrapped {
    pub moved: u64,
    /// Values still under older versions (written meanwhile by a server that had not yet
    /// seen the new version): run again.
    pub remaining: u64,
}

/// Which sealed values of a column to re-seal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reseal<'a> {
    /// Those under a firm key version other than this one.
    OlderThan(&'a [u8; 4]),
    /// This matter's, where still under the firm key.
    MatterUnderFirmKey(&'a str),
}

impl SealedColumn {
    /// The condition picking the values `which` names, with its parameters $1 and $2.
    fn picking(&self, which: Reseal<'_>) -> String {
        let column = self.column;
        // Every value sealed under the firm key starts with its format byte, then its version.
        let under_firm_key = format!("{column} IS NOT NULL AND substr({column}, 1, 1) = $1");
        match which {
            Reseal::OlderThan(_) => format!("{under_firm_key} AND substr({column}, 2, 4) <> $2"),
            Reseal::MatterUnderFirmKey(_) => {
                format!("{under_firm_key} AND {} = $2", self.matter.unwrap_or("NULL"))
            }
        }
    }

    fn bind_picking<'q>(
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        which: Reseal<'_>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        let query = query.bind(FIRM_FORMAT.to_vec());
        match which {
            Reseal::OlderThan(current) => query.bind(current.to_vec()),
            Reseal::MatterUnderFirmKey(matter) => query.bind(matter.to_owned()),
        }
    }

    pub(crate) async fn count(&self, tx: &mut FirmTx, which: Reseal<'_>) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE {}", self.table, self.picking(which));
        let count: i64 = Self::bind_picking(sqlx::query(sqlx::AssertSqlSafe(sql)), which)
            .fetch_one(tx.conn())
            .await?
            .try_get(0)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Re-seals one batch of the values `which` names with `seal` (the current firm key
    /// version, or the matter's key); how many were moved.
    pub(crate) async fn reseal_batch(
        &self,
        tx: &mut FirmTx,
        which: Reseal<'_>,
        seal: impl Fn(&FirmTx, FieldRef<'_>, &[u8]) -> Result<Vec<u8>, StoreError>,
    ) -> Result<u64, StoreError> {
        let keys: Vec<&str> = self.keys.iter().map(|(name, _)| *name).collect();
        let sql = format!(
            "SELECT {keys}, {record} AS bound_record, {column} AS sealed FROM {table} WHERE {picking} LIMIT {BATCH}",
            keys = keys.join(", "),
            record = self.record,
            column = self.column,
            table = self.table,
            picking = self.picking(which),
        );
        let rows =
            Self::bind_picking(sqlx::query(sqlx::AssertSqlSafe(sql)), which).fetch_all(tx.conn()).await?;
        let conditions: Vec<String> =
            keys.iter().enumerate().map(|(i, k)| format!("{k} = ${}", i + 3)).collect();
        let update = format!(
            "UPDATE {table} SET {column} = $1 WHERE {column} = $2 AND {conditions}",
            table = self.table,
            column = self.column,
            conditions = conditions.join(" AND "),
        );
        let mut moved = 0;
        for row in &rows {
            let record: String = row.try_get("bound_record")?;
            let old: Vec<u8> = row.try_get("sealed")?;
            let at = FieldRef { table: self.bound_to.0, record: &record, field: self.bound_to.1 };
            let plain = zeroize::Zeroizing::new(tx.open(at, &old)?);
            let new = seal(tx, at, &plain)?;
            let mut query = sqlx::query(sqlx::AssertSqlSafe(update.clone())).bind(new).bind(old);
            for (name, kind) in self.keys {
                query = bind_key(query, row, name, *kind)?;
            }
            // A value changed meanwhile was sealed anew by its writer: nothing to do.
            moved += query.execute(tx.conn()).await?.rows_affected();
        }
        Ok(moved)
    }
}

fn bind_key<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    row: &AnyRow,
    name: &str,
    kind: KeyKind,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, StoreError> {
    Ok(match kind {
        KeyKind::Text => query.bind(row.try_get::<String, _>(name)?),
        KeyKind::Integer => query.bind(row.try_get::<i64, _>(name)?),
    })
}

fn cli_record(action: AuditAction, resource: String, now: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: AuditActor::Cli,
        action,
        resource_type: Some("firm_key"),
        resource_id: Some(resource),
        matter_id: None,
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}

impl Storage {
    /// Re-wraps every firm's key versions under `new` and records it as the deployment's
    /// master key, in one transaction. Servers must be restarted with the new key. Returns
    /// how many firms were re-wrapped.
    pub async fn rotate_master_key(&self, new: &MasterKey) -> Result<u64, StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        let mut rewrapped = std::collections::BTreeSet::new();
        for firm in firms::list(&mut tx).await? {
            let context = firms::wrap_context(firm.id, firms::sealed_as(&mut tx, firm.id).await?);
            for (version, wrapped) in firms::wrapped_keys(&mut tx, firm.id).await? {
                let key = self.master.unwrap(&context, version, &wrapped)?;
                let again = new.wrap(&context, version, &key)?;
                firms::replace_key(&mut tx, firm.id, version, &again).await?;
                rewrapped.insert(firm.id);
            }
        }
        self.reseal_operator_secrets(&mut tx, new).await?;
        firms::set_master_key_id(&mut tx, new.id()).await?;
        tx.commit().await?;
        Ok(rewrapped.len() as u64)
    }

    /// Rotates to `new` where the master key is the file `path`: the new key is written
    /// beside it first (`master.key.next`), the firm keys are re-wrapped, and the file is
    /// replaced last. Interrupted after the re-wrap, the next start-up finishes the swap.
    pub async fn replace_master_key_file(
        &self,
        path: &std::path::Path,
        new: &MasterKey,
    ) -> Result<u64, StoreError> {
        let next = master_key::next_key_path(path);
        master_key::write_new_key_file(&next, new)?;
        let firms = match self.rotate_master_key(new).await {
            Ok(firms) => firms,
            Err(e) => {
                let _ = std::fs::remove_file(&next);
                return Err(e);
            }
        };
        std::fs::rename(&next, path).map_err(|e| StoreError::io(path, e))?;
        Ok(firms)
    }

    /// Adds a new version of the firm's key and starts a new audit signing key under it.
    /// New data is sealed under it at once here, and within seconds on every other server.
    /// `finish`, the job that carries the rotation through, is queued in the same
    /// transaction as the key: there is no new key without the job that re-seals under it.
    pub async fn rotate_firm_key(
        &self,
        id: FirmId,
        now: OffsetDateTime,
        finish: &NewJob,
    ) -> Result<KeyVersion, StoreError> {
        let mut control = self.control.begin().await?;
        let current = firms::latest_key_version(&mut control, id).await?.ok_or(StoreError::UnknownFirmId)?;
        let next = KeyVersion(current.0 + 1);
        let context = firms::wrap_context(id, firms::sealed_as(&mut control, id).await?);
        let wrapped = self.master.wrap(&context, next, &FirmKey::generate()?)?;
        firms::insert_key(&mut control, id, next, &wrapped, unix_millis(now)).await?;
        jobs::enqueue(&mut control, finish, now).await?;
        control.commit().await?;
        let store = self.reload_keys(id).await?;
        let mut tx = store.begin_as_owner().await?;
        audit::start_signing_key(&mut tx, unix_millis(now)).await?;
        audit::append(&mut tx, &cli_record(AuditAction::FirmKeyRotated, format!("{id}#{}", next.0), now))
            .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Carries the firm's rotation through: re-wraps what is left under older versions and
    /// retires them once `grace` has passed. A firm with one key version costs one query.
    pub async fn finish_rotation(
        &self,
        id: FirmId,
        now: OffsetDateTime,
        grace: time::Duration,
    ) -> Result<(), StoreError> {
        let versions = firms::wrapped_keys(&mut *self.control.acquire().await?, id).await?.len();
        if versions > 1 {
            let report = self.rewrap_firm(id, now).await?;
            let retired = self.retire_old_keys(id, now, grace).await?;
            tracing::info!(firm = %id, moved = report.moved, ?retired, "key rotation carried on");
        }
        Ok(())
    }

    /// Moves every sealed value of the firm to its current key version, a batch per
    /// transaction; safe to stop and run again, and to run while the firm is in use.
    pub async fn rewrap_firm(&self, id: FirmId, now: OffsetDateTime) -> Result<Rewrapped, StoreError> {
        let store = self.firm(id).await?;
        let current = store.key_version().0.to_be_bytes();
        let older = Reseal::OlderThan(&current);
        let mut report = Rewrapped::default();
        {
            let mut tx = store.begin_as_owner().await?;
            if audit::signing_key_version(&mut tx).await?.is_some_and(|v| v != store.key_version()) {
                audit::start_signing_key(&mut tx, unix_millis(now)).await?;
            }
            tx.commit().await?;
        }
        for column in SEALED {
            loop {
                let mut tx = store.begin_as_owner().await?;
                let moved = column.reseal_batch(&mut tx, older, |tx, at, plain| tx.seal(at, plain)).await?;
                tx.commit().await?;
                report.moved += moved;
                if moved == 0 {
                    break;
                }
            }
        }
        report.remaining = self.stale_values(id).await?;
        Ok(report)
    }

    /// Sealed values of the firm not yet under its current key version.
    pub async fn stale_values(&self, id: FirmId) -> Result<u64, StoreError> {
        let store = self.firm(id).await?;
        let current = store.key_version().0.to_be_bytes();
        let mut tx = store.begin_as_owner().await?;
        let mut stale = 0;
        for column in SEALED {
            stale += column.count(&mut tx, Reseal::OlderThan(&current)).await?;
        }
        if audit::signing_key_version(&mut tx).await?.is_some_and(|v| v != store.key_version()) {
            stale += 1;
        }
        tx.commit().await?;
        Ok(stale)
    }

    /// Deletes the firm's older key versions once nothing is sealed under them and the
    /// current version is at least `grace` old: a request that began before the rotation
    /// (a long upload, say) may still seal under the version it started with, and the next
    /// re-wrap must find that value while its key still exists.
    pub async fn retire_old_keys(
        &self,
        id: FirmId,
        now: OffsetDateTime,
        grace: time::Duration,
    ) -> Result<Retirement, StoreError> {
        let mut control = self.control.acquire().await?;
        let Some((current, created)) = firms::latest_key(&mut control, id).await? else {
            return Err(StoreError::UnknownFirmId);
        };
        drop(control);
        if created + grace > now {
            return Ok(Retirement::TooSoon { after: created + grace });
        }
        let stale = self.stale_values(id).await?;
        if stale > 0 {
            return Ok(Retirement::StillInUse { values: stale });
        }
        let retired = firms::delete_keys_before(&mut *self.control.acquire().await?, id, current).await?;
        if retired > 0 {
            let store = self.reload_keys(id).await?;
            let mut tx = store.begin_as_owner().await?;
            let record = cli_record(AuditAction::FirmKeyRetired, format!("{id}#<{}", current.0), now);
            audit::append(&mut tx, &record).await?;
            tx.commit().await?;
        }
        Ok(Retirement::Retired { versions: retired })
    }
}
