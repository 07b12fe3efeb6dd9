use ringfence_crypto::CryptoError;
use thiserror::Error;
use time::OffsetDateTime;

/// A moment as an operator reads it in a message: `2027-06-01 09:30 UTC`.
fn day(at: &OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error")]
    Database(sqlx::Error),
    #[error("a storage task stopped before it finished: {0}")]
    TaskFailed(String),
    #[error("the audit log could not be written: {0}")]
    AuditWrite(String),
    #[error("storage I/O error at {path}")]
    Io { path: String, source: std::io::Error },
    #[error("a firm with the slug `{0}` already exists")]
    SlugTaken(String),
    #[error("the email address `{0}` already belongs to a user")]
    EmailTaken(String),
    #[error(
        "the slug `{0}` belonged to a firm that was shredded: a shredded firm's slug is never given to another firm"
    )]
    SlugRetired(String),
    #[error("no firm with the slug `{0}`")]
    UnknownFirm(String),
    #[error("the firm was terminated already, on {}; it is shredded after {}", day(.since), day(.shred_after))]
    AlreadyTerminated { since: OffsetDateTime, shred_after: OffsetDateTime },
    #[error("the firm is not terminated")]
    NotTerminated,
    #[error("the firm is kept, read-only, until {}: it can be shredded only after that", day(.until))]
    RetentionRunning { until: OffsetDateTime },
    #[error(
        "a legal hold stands in the firm: it can be shredded once every hold is lifted, or when forced for a recorded reason"
    )]
    UnderLegalHold,
    #[error(
        "copies of the firm restored from its backups hold its keys: {}; shred them first (firm terminate, then firm shred)",
        .0.join(", ")
    )]
    CopiesRemain(Vec<String>),
    #[error("the firm `{slug}` was shredded on {}: its keys, data and files are destroyed", day(.at))]
    Shredded { slug: String, at: OffsetDateTime },
    #[error("no such firm")]
    UnknownFirmId,
    #[error("an operator with that email address exists already")]
    OperatorExists,
    /// An operator principal asked for a firm transaction: operators reach no firm's data.
    #[error("an operator cannot work in a firm's data")]
    OperatorOutsideFirm,
    #[error("the firm is suspended: nobody can sign in to it until the operator resumes it")]
    FirmSuspended,
    #[error("the firm is not suspended")]
    NotSuspended,
    #[error("the firm is suspended already, since {}", day(.since))]
    AlreadySuspended { since: OffsetDateTime },
    #[error(
        "the firm is suspended: resume it before terminating it, so that its people can take their data out"
    )]
    SuspendedNotTerminable,
    #[error("no such support grant")]
    UnknownGrant,
    #[error("emergency access is approved by a second operator: not the one who asked")]
    SameOperator,
    #[error("the firm is not in service (suspended or terminated): no support access is asked for")]
    FirmNotInService,
    #[error("three requests for support access to this firm already wait for its administrators")]
    TooManyWaitingGrants,
    #[error("the support grant was decided or ended already")]
    GrantNotWaiting,
    #[error("the support grant is not in force: not approved yet, ended, or expired")]
    GrantNotLive,
    #[error("matters: the firm has no matter {0}")]
    UnknownMatter(String),
    #[error("the firm is being restored from a backup: it is closed until the restore ends")]
    FirmRestoring,
    #[error(
        "the backup target must be apart from the data: not the blob store, the data directory, or inside or around either"
    )]
    BackupTargetNotApart,
    #[error("no backup `{0}` on the backup target")]
    UnknownBackup(String),
    #[error("the backup cannot be used: {0}")]
    BackupUnreadable(String),
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
    #[error("storage could not write at the last probe, moments ago: {0}")]
    ProbeFailed(String),
    #[error("blob store error: {0}")]
    Blob(String),
    #[error(
        "the write-ahead log still holds pages of what was purged: a reader was in it; the next run cuts it"
    )]
    LogNotCut,
    #[error("{0} matters could not be moved onto keys of their own; the log names them")]
    MattersNotMigrated(u64),
    #[error("a stored file's bytes are missing from the blob store")]
    BlobMissing,
    #[error("a stored file failed its integrity check: its bytes were altered, cut short or swapped")]
    BlobIntegrity,
    /// A newer release migrated the database: this binary must not run against it.
    #[error(
        "the {store}'s schema is at version {found}, newer than version {known}, the latest this ringfence binary knows: \
         a newer release migrated the database; upgrade this binary to that release before running it here"
    )]
    SchemaTooNew { store: crate::migrate::StoreKind, found: i64, known: i64 },
}

/// What a storage failure means for the request that met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The database or its disk cannot be reached, or did not answer in time: retry later.
    Unavailable,
    /// The disk (or the database's size limit) is full: nothing can be written until an
    /// operator frees space.
    Full,
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        crate::health::note(StoreError::Database(err))
    }
}

impl StoreError {
    /// The fault behind this error, when it is the storage's rather than the request's.
    pub fn fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Database(err) => database_fault(err),
            StoreError::Io { source, .. } => Some(match source.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => StorageFault::Full,
                _ => StorageFault::Unavailable,
            }),
            _ => None,
        }
    }

    /// True when the database refused a value as given (text it cannot hold, a value too
    /// long for its index): the request's fault, not the storage's.
    pub fn is_refused_value(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("22021" | "22P05" | "22001" | "54000"))
            }
            _ => false,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        crate::health::note(Self::Io { path: path.display().to_string(), source })
    }

    /// True when the database said a UNIQUE constraint was violated.
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}

fn database_fault(err: &sqlx::Error) -> Option<StorageFault> {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Some(StorageFault::Unavailable),
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // A fatal error from PostgreSQL ends the session: it did not let us in, or
                // threw us out (the database refuses connections, is shutting down, ...).
                if matches!(
                    pg.severity(),
                    sqlx::postgres::PgSeverity::Fatal | sqlx::postgres::PgSeverity::Panic
                ) {
                    return Some(StorageFault::Unavailable);
                }
                return postgres_fault(pg.code());
            }
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // The primary result code is the low byte of the extended one.
                return sqlite_fault(db.code()?.parse::<i32>().ok()? & 0xff);
            }
            None
        }
        _ => None,
    }
}

/// SQLite result codes (<https://sqlite.org/rescode.html>).
fn sqlite_fault(primary: i32) -> Option<StorageFault> {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const NOMEM: i32 = 7;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const CORRUPT: i32 = 11;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    match primary {
        FULL => Some(StorageFault::Full),
        BUSY | LOCKED | NOMEM | READONLY | IOERR | CORRUPT | CANTOPEN => Some(StorageFault::Unavailable),
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn postgres_fault(sqlstate: &str) -> Option<StorageFault> {
    match sqlstate {
        "53100" => Some(StorageFault::Full),
        // Connection exceptions, insufficient resources, operator intervention (shutdown,
        // cannot connect now), a standby that refuses writes, system errors.
        _ if ["08", "53", "57", "58"].iter().any(|class| sqlstate.starts_with(class)) => {
            Some(StorageFault::Unavailable)
        }
        _ => None,
    }
}
