//! A firm's own store. Everything here runs inside a [`FirmTx`], which on PostgreSQL is
//! already switched to the firm's role and schema, and which carries the firm's keyring
//! for sealing and opening content fields.

pub mod access;
pub mod audit;
pub mod challenges;
pub mod clients;
pub mod data_subjects;
pub mod decoys;
pub mod deletion;
pub mod documents;
pub mod exports;
pub mod incidents;
pub mod invitations;
pub mod legal_holds;
pub mod matters;
pub mod notes;
pub mod passkeys;
pub mod password_resets;
pub mod preferences;
pub mod retention;
pub mod search;
pub mod sessions;
pub mod sign_in_policy;
pub mod users;

use ringfence_core::clock::unix_millis;
use ringfence_core::ids::FirmId;
use ringfence_crypto::{FieldRef, FirmKeyring, MatterKey, matter_key};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::StoreError;
use crate::wal_sync::WalSync;

/// A column `matter_key`: the sealed key of the matter the SQL expression `$matter` names,
/// read with the matter's content for [`FirmTx::matter_key_in`].
macro_rules! matter_key_sql {
    ($matter:literal) => {
        concat!("(SELECT key_sealed FROM matter_keys WHERE matter_id = ", $matter, ") AS matter_key")
    };
}
pub(crate) use matter_key_sql;

pub struct FirmTx {
    tx: Transaction<'static, Any>,
    firm: FirmId,
    /// The keyring as it was when the transaction began: a rotation meanwhile does not
    /// change the key a transaction seals under halfway through.
    keyring: Arc<FirmKeyring>,
    /// A SQLite writer's commit is answered only once this has synced it to disk.
    wal: Option<Arc<WalSync>>,
    /// Matter keys unsealed in this transaction, by matter id: a list of one matter's notes
    /// unseals its key once.
    matter_keys: Mutex<HashMap<String, Arc<MatterKey>>>,
}

impl FirmTx {
    pub(crate) fn new(
        tx: Transaction<'static, Any>,
        firm: FirmId,
        keyring: Arc<FirmKeyring>,
        wal: Option<Arc<WalSync>>,
    ) -> Self {
        Self { tx, firm, keyring, wal, matter_keys: Mutex::default() }
    }

    pub fn firm(&self) -> FirmId {
        self.firm
    }

    /// The id the firm's sealed values, documents and audit chain are bound to (see
    /// [`crate::storage::FirmStore::sealed_as`]).
    pub(crate) fn sealed_as(&self) -> &str {
        self.keyring.firm_id()
    }

    /// Commits, and returns once the commit is durable. A SQLite writer hands its
    /// connection on before that, so the next writer's work overlaps this one's wait for
    /// the disk.
    pub async fn commit(self) -> Result<(), StoreError> {
        let Self { tx, wal, .. } = self;
        tx.commit().await?;
        match wal {
            Some(wal) => wal.durable().await,
            None => Ok(()),
        }
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub(crate) fn seal(&self, at: FieldRef<'_>, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok(self.keyring.seal(at, plaintext)?)
    }

    pub(crate) fn open(&self, at: FieldRef<'_>, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok(self.keyring.open(at, sealed)?)
    }

    /// The key of `matter`, to seal its content under; made here if the matter has none yet
    /// (it was opened before matters had keys, and the migration has not reached it).
    pub(crate) async fn matter_key(&mut self, matter: &str) -> Result<Arc<MatterKey>, StoreError> {
        if let Some(key) = self.cached_matter_key(matter) {
            return Ok(key);
        }
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT key_sealed FROM matter_keys WHERE matter_id = $1")
                .bind(matter)
                .fetch_optional(self.conn())
                .await?;
        if let Some(sealed) = sealed {
            return self.unseal_matter_key(matter, &sealed);
        }
        let (key, sealed) = MatterKey::generate(&self.keyring, matter)?;
        // Two first writers of one matter's content race to make its key: the one that
        // commits second finds the first's here and takes it.
        sqlx::query("INSERT INTO matter_keys (matter_id, key_sealed) VALUES ($1, $2) ON CONFLICT (matter_id) DO NOTHING")
            .bind(matter)
            .bind(&sealed)
            .execute(self.conn())
        .await?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT key_sealed FROM matter_keys WHERE matter_id = $1")
            .bind(matter)
            .fetch_one(self.conn())
            .await?;
        if stored == sealed {
            return Ok(self.cache_matter_key(key));
        }
        self.unseal_matter_key(matter, &stored)
    }

    /// Stores a new matter's key, made before its content was sealed (a new matter has
    /// nothing sealed under the firm key, so nothing to migrate).
    pub(crate) async fn insert_matter_key(
        &mut self,
        key: MatterKey,
        sealed: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO matter_keys (matter_id, key_sealed, migrated_at) VALUES ($1, $2, $3)")
            .bind(key.matter_id())
            .bind(sealed)
            .bind(unix_millis(now))
            .execute(self.conn())
            .await?;
        self.cache_matter_key(key);
        Ok(())
    }

    /// A key for a matter about to be made: stored with it by [`Self::insert_matter_key`].
    pub(crate) fn new_matter_key(&self, matter: &str) -> Result<(MatterKey, Vec<u8>), StoreError> {
        Ok(MatterKey::generate(&self.keyring, matter)?)
    }

    /// The key of `matter` from its sealed form read beside its content, in the column
    /// [`matter_key_sql`] names (`None`: the matter has no key yet, and its content is all
    /// under the firm key).
    pub(crate) fn matter_key_in(
        &self,
        matter: &str,
        row: &AnyRow,
    ) -> Result<Option<Arc<MatterKey>>, StoreError> {
        if let Some(key) = self.cached_matter_key(matter) {
            return Ok(Some(key));
        }
        let sealed: Option<Vec<u8>> = row.try_get("matter_key")?;
        sealed.map(|sealed| self.unseal_matter_key(matter, &sealed)).transpose()
    }

    fn unseal_matter_key(&self, matter: &str, sealed: &[u8]) -> Result<Arc<MatterKey>, StoreError> {
        Ok(self.cache_matter_key(MatterKey::unseal(&self.keyring, matter, sealed)?))
    }

    fn cached_matter_key(&self, matter: &str) -> Option<Arc<MatterKey>> {
        self.matter_keys.lock().ok()?.get(matter).cloned()
    }

    fn cache_matter_key(&self, key: MatterKey) -> Arc<MatterKey> {
        let key = Arc::new(key);
        if let Ok(mut keys) = self.matter_keys.lock() {
            keys.insert(key.matter_id().to_owned(), key.clone());
        }
        key
    }

    /// Opens a content field of a matter, under its key or, if sealed before it had one,
    /// under the firm key.
    pub(crate) fn open_content(
        &self,
        key: Option<&MatterKey>,
        at: FieldRef<'_>,
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        Ok(matter_key::open_content(&self.keyring, key, at, sealed)?)
    }

    /// What opens the fields read in this transaction once it is over, on another thread:
    /// opening many or large fields is CPU work the async workers should not do.
    pub fn opener(&self) -> Opener {
        Opener(self.keyring.clone())
    }
}

/// A sealed text field read in a transaction and not yet opened.
#[derive(Debug, Clone)]
pub struct SealedText {
    table: &'static str,
    record: String,
    field: &'static str,
    sealed: Vec<u8>,
    /// The key of the matter whose content it is (`None`: sealed under the firm key).
    matter_key: Option<Arc<MatterKey>>,
}

impl SealedText {
    pub(crate) fn new(
        matter_key: Option<Arc<MatterKey>>,
        table: &'static str,
        record: &str,
        field: &'static str,
        sealed: Vec<u8>,
    ) -> Self {
        Self { table, record: record.to_owned(), field, sealed, matter_key }
    }

    /// Bytes of ciphertext: about what opening it costs.
    pub fn sealed_len(&self) -> usize {
        self.sealed.len()
    }
}

/// Opens [`SealedText`]s under the keyring of the transaction they were read in.
#[derive(Clone)]
pub struct Opener(Arc<FirmKeyring>);

impl Opener {
    pub fn open(&self, text: &SealedText) -> Result<String, StoreError> {
        let at = FieldRef { table: text.table, record: &text.record, field: text.field };
        let plain = matter_key::open_content(&self.0, text.matter_key.as_deref(), at, &text.sealed)?;
        Ok(String::from_utf8_lossy(&plain).into_owned())
    }
}
