use ringfence_crypto::CryptoError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("the audit log could not be written: {0}")]
    AuditWrite(String),
    #[error("storage I/O error at {path}")]
    Io { path: String, source: std::io::Error },
    #[error("a firm with the slug `{0}` already exists")]
    SlugTaken(String),
    #[error("the email address `{0}` already belongs to a user")]
    EmailTaken(String),
    #[error("no firm with the slug `{0}`")]
    UnknownFirm(String),
    #[error("no such firm")]
    UnknownFirmId,
    #[error(
        "the master key does not match this deployment: its data was written under master key `{recorded}`, but the key given has id `{given}`"
    )]
    MasterKeyMismatch { recorded: String, given: String },
    #[error(
        "the master key is missing: this deployment's data was written under master key `{recorded}`; set RINGFENCE_MASTER_KEY or restore {path}"
    )]
    MasterKeyMissing { recorded: String, path: String },
    #[error("cryptographic failure")]
    Crypto(#[from] CryptoError),
    #[error("blob store error: {0}")]
    Blob(String),
    #[error("a stored file's bytes are missing from the blob store")]
    BlobMissing,
    #[error("a stored file failed its integrity check: its bytes were altered, cut short or swapped")]
    BlobIntegrity,
    #[error(
        "the database holds a schema version ({found}) newer than this binary knows ({known}); upgrade ringfence"
    )]
    SchemaTooNew { found: i64, known: i64 },
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }

    /// True when the database said a UNIQUE constraint was violated.
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}
