//! The deployment's operators, their sessions, and the operator audit log: apart from
//! every firm, in the control store. An operator reaches no firm's data (a firm store
//! refuses an operator principal); what operators do is chained here the way a firm's log
//! is chained, entry by entry, in the transaction that did it.

use ringfence_core::audit::{AuditRecord, StoredAuditEntry};
use ringfence_core::auth::SessionLimits;
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::OperatorId;
use ringfence_core::user::Email;
use ringfence_crypto::audit_chain;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::StoreError;

/// Where the operator log's chain starts: no firm has this id (theirs are UUIDs).
const GENESIS: &str = "ringfence-operators";

/// An operator as its sign-in needs it: the authenticator secret still sealed. No
/// `Debug`: it holds the password's hash.
#[derive(Clone)]
pub struct OperatorAccount {
    pub id: OperatorId,
    pub email: Email,
    pub name: String,
    pub password_hash: String,
    pub totp_sealed: Vec<u8>,
}

/// A live operator session, as its token found it.
#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub operator: OperatorId,
    pub email: Email,
    pub name: String,
    pub last_seen_at: OffsetDateTime,
}

fn parse_id(raw: &str) -> Result<OperatorId, StoreError> {
    raw.parse()
        .map_err(|_| StoreError::Database(sqlx::Error::Decode("a stored operator id is malformed".into())))
}

fn parse_email(raw: &str) -> Result<Email, StoreError> {
    Email::parse(raw).map_err(|_| {
        StoreError::Database(sqlx::Error::Decode("a stored operator address is malformed".into()))
    })
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    account: &OperatorAccount,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO operators (id, email, name, password_hash, totp_secret_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(account.id.to_string())
    .bind(account.email.as_str())
    .bind(&account.name)
    .bind(&account.password_hash)
    .bind(&account.totp_sealed)
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::OperatorExists);
    }
    Ok(())
}

fn account_from(row: &AnyRow) -> Result<OperatorAccount, StoreError> {
    Ok(OperatorAccount {
        id: parse_id(row.try_get("id")?)?,
        email: parse_email(row.try_get("email")?)?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        totp_sealed: row.try_get("totp_secret_sealed")?,
    })
}

pub(crate) async fn by_email(
    conn: &mut AnyConnection,
    email: &Email,
) -> Result<Option<OperatorAccount>, StoreError> {
    let row = sqlx::query(
        "SELECT id, email, name, password_hash, totp_secret_sealed FROM operators WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(account_from).transpose()
}

pub(crate) async fn all(conn: &mut AnyConnection) -> Result<Vec<OperatorAccount>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, email, name, password_hash, totp_secret_sealed FROM operators ORDER BY created_at, id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(account_from).collect()
}

pub(crate) async fn replace_sealed_secret(
    conn: &mut AnyConnection,
    id: OperatorId,
    sealed: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE operators SET totp_secret_sealed = $1 WHERE id = $2")
        .bind(sealed)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes authenticator time step `step` for the operator, unless it (or a later one) was
/// taken already: a code is accepted once.
pub(crate) async fn take_step(
    conn: &mut AnyConnection,
    id: OperatorId,
    step: u64,
) -> Result<bool, StoreError> {
    let step =
        i64::try_from(step).map_err(|_| StoreError::Database(sqlx::Error::Decode("time step".into())))?;
    let taken = sqlx::query(
        "UPDATE operators SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

pub(crate) async fn open_session(
    conn: &mut AnyConnection,
    id: OperatorId,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operator_sessions (token_hash, operator_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(token_hash.to_vec())
    .bind(id.to_string())
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The live session `token_hash` names: neither idle nor older than `limits` allow.
pub(crate) async fn session(
    conn: &mut AnyConnection,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
    limits: SessionLimits,
) -> Result<Option<OperatorSession>, StoreError> {
    let row = sqlx::query(
        "SELECT o.id, o.email, o.name, s.last_seen_at FROM operator_sessions s
         JOIN operators o ON o.id = s.operator_id
         WHERE s.token_hash = $1 AND s.created_at > $2 AND s.last_seen_at > $3",
    )
    .bind(token_hash.to_vec())
    .bind(unix_millis(now - limits.absolute))
    .bind(unix_millis(now - limits.idle))
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(OperatorSession {
            operator: parse_id(row.try_get("id")?)?,
            email: parse_email(row.try_get("email")?)?,
            name: row.try_get("name")?,
            last_seen_at: from_unix_millis(row.try_get("last_seen_at")?),
        })
    })
    .transpose()
}

pub(crate) async fn touch_session(
    conn: &mut AnyConnection,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE operator_sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(unix_millis(now))
        .bind(token_hash.to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends the session; true when there was one.
pub(crate) async fn end_session(conn: &mut AnyConnection, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
    let ended = sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
        .bind(token_hash.to_vec())
        .execute(conn)
        .await?;
    Ok(ended.rows_affected() == 1)
}

fn hash_of(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Database(sqlx::Error::Decode("a stored hash is not 32 bytes".into())))
}

/// Appends `record` to the operator log, in the caller's transaction, and answers its
/// sequence number.
pub(crate) async fn append(conn: &mut AnyConnection, record: &AuditRecord) -> Result<i64, StoreError> {
    // Taking the head row serialises appends: no two entries can share a predecessor.
    let take_head = "UPDATE operator_audit_head SET seq = seq + 1 WHERE singleton = 1 RETURNING seq, hash";
    let head = match sqlx::query(take_head).fetch_optional(&mut *conn).await? {
        Some(head) => head,
        None => {
            sqlx::query(
                "INSERT INTO operator_audit_head (singleton, seq, hash) VALUES (1, 0, $1)
                 ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(audit_chain::genesis(GENESIS).to_vec())
            .execute(&mut *conn)
            .await?;
            sqlx::query(take_head).fetch_one(&mut *conn).await?
        }
    };
    let seq: i64 = head.try_get("seq")?;
    let entry = record.at_seq(seq);
    let hash = audit_chain::link(&hash_of(head.try_get("hash")?)?, &entry.canonical_bytes());
    crate::firm::audit::insert_entry(
        &mut *conn,
        "INSERT INTO operator_audit_log (seq, at, actor_kind, actor_id, actor_email, action, resource_type,
                                         resource_id, matter_id, outcome, ip, user_agent, request_id, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &entry,
        &hash,
    )
    .await?;
    sqlx::query("UPDATE operator_audit_head SET hash = $1 WHERE singleton = 1")
        .bind(hash.to_vec())
        .execute(conn)
        .await?;
    Ok(seq)
}

fn entry_from(row: &AnyRow) -> Result<(StoredAuditEntry, [u8; 32]), StoreError> {
    Ok((crate::firm::audit::entry_from(row)?, hash_of(row.try_get("hash")?)?))
}

const ENTRY_COLUMNS: &str = "seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id,
     matter_id, outcome, ip, user_agent, request_id, hash";

/// The newest `limit` entries, newest first.
pub(crate) async fn latest(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<StoredAuditEntry>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM operator_audit_log ORDER BY seq DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| entry_from(row).map(|(entry, _)| entry)).collect()
}

/// What a replay of the operator log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorLogVerification {
    /// Every entry, in order, hashes to what is stored, and the head names the last.
    Intact {
        entries: i64,
    },
    Broken {
        seq: i64,
        problem: String,
    },
}

/// Replays the whole chain from its genesis.
pub(crate) async fn verify(conn: &mut AnyConnection) -> Result<OperatorLogVerification, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM operator_audit_log ORDER BY seq"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let mut previous = audit_chain::genesis(GENESIS);
    let mut expected = 1;
    for row in &rows {
        let (entry, stored) = entry_from(row)?;
        if entry.seq != expected {
            return Ok(OperatorLogVerification::Broken {
                seq: expected,
                problem: format!("entry {expected} is missing"),
            });
        }
        let hash = audit_chain::link(&previous, &entry.canonical_bytes());
        if hash != stored {
            return Ok(OperatorLogVerification::Broken {
                seq: entry.seq,
                problem: format!("entry {} does not match its hash: it was changed", entry.seq),
            });
        }
        previous = hash;
        expected += 1;
    }
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM operator_audit_head WHERE singleton = 1")
            .fetch_optional(conn)
            .await?;
    let entries = expected - 1;
    match head {
        Some((seq, hash)) if seq != entries || hash.as_slice() != previous.as_slice() => {
            Ok(OperatorLogVerification::Broken {
                seq,
                problem: format!(
                    "the log ends at entry {entries}, but its head names entry {seq}: entries were removed"
                ),
            })
        }
        None if entries > 0 => {
            Ok(OperatorLogVerification::Broken { seq: entries, problem: "the log's head is gone".to_owned() })
        }
        _ => Ok(OperatorLogVerification::Intact { entries }),
    }
}
