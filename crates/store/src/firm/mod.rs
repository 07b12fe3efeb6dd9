//! A firm's own store. Everything here runs inside a [`FirmTx`], which on PostgreSQL is
//! already switched to the firm's role and schema, and which carries the firm's keyring
//! for sealing and opening content fields.

pub mod access;
pub mod audit;
pub mod challenges;
pub mod clients;
pub mod data_subjects;
pub mod deletion;
pub mod documents;
pub mod exports;
pub mod invitations;
pub mod legal_holds;
pub mod matters;
pub mod notes;
pub mod passkeys;
pub mod preferences;
pub mod retention;
pub mod search;
pub mod sessions;
pub mod sign_in_policy;
pub mod users;

use ringfence_core::ids::FirmId;
use ringfence_crypto::{FieldRef, FirmKeyring};
use std::sync::Arc;

use sqlx::{Any, AnyConnection, Transaction};

use crate::StoreError;
use crate::wal_sync::WalSync;

pub struct FirmTx {
    tx: Transaction<'static, Any>,
    firm: FirmId,
    /// The keyring as it was when the transaction began: a rotation meanwhile does not
    /// change the key a transaction seals under halfway through.
    keyring: Arc<FirmKeyring>,
    /// A SQLite writer's commit is answered only once this has synced it to disk.
    wal: Option<Arc<WalSync>>,
}

impl FirmTx {
    pub(crate) fn new(
        tx: Transaction<'static, Any>,
        firm: FirmId,
        keyring: Arc<FirmKeyring>,
        wal: Option<Arc<WalSync>>,
    ) -> Self {
        Self { tx, firm, keyring, wal }
    }

    pub fn firm(&self) -> FirmId {
        self.firm
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
}

impl SealedText {
    pub(crate) fn new(table: &'static str, record: &str, field: &'static str, sealed: Vec<u8>) -> Self {
        Self { table, record: record.to_owned(), field, sealed }
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
        Ok(String::from_utf8_lossy(&self.0.open(at, &text.sealed)?).into_owned())
    }
}
