//! Server-side sessions: only the token's SHA-256 is stored. A session ends when revoked,
//! after its absolute lifetime, or after the idle timeout without use.

use ringfence_core::auth::SessionLimits;
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

/// Touching `last_seen_at` at most this often keeps reads from writing on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

pub struct NewSession<'a> {
    pub token_hash: &'a [u8; 32],
    pub user: UserId,
    pub now: OffsetDateTime,
    pub limits: SessionLimits,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

fn session_from(row: &AnyRow) -> Result<Session, StoreError> {
    let decode = |what: &str| sqlx::Error::Decode(format!("sessions.{what}").into());
    let id: String = row.try_get("id")?;
    let user: String = row.try_get("user_id")?;
    Ok(Session {
        id: id.parse().map_err(|_| decode("id"))?,
        user_id: user.parse().map_err(|_| decode("user_id"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
        last_seen_at: from_unix_millis(row.try_get("last_seen_at")?),
        expires_at: from_unix_millis(row.try_get("expires_at")?),
        source_ip: row.try_get("source_ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

/// The selected columns, as a macro so queries stay static strings.
macro_rules! columns {
    () => {
        "id, user_id, created_at, last_seen_at, expires_at, source_ip, user_agent"
    };
}

pub async fn create(tx: &mut FirmTx, new: NewSession<'_>) -> Result<Session, StoreError> {
    let id = Uuid::new_v4();
    let expires_at = new.now + new.limits.absolute;
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, source_ip, user_agent)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
    )
    .bind(id.to_string())
    .bind(new.token_hash.to_vec())
    .bind(new.user.to_string())
    .bind(unix_millis(new.now))
    .bind(unix_millis(expires_at))
    .bind(new.source_ip)
    .bind(new.user_agent)
    .execute(tx.conn())
    .await?;
    Ok(Session {
        id,
        user_id: new.user,
        created_at: new.now,
        last_seen_at: new.now,
        expires_at,
        source_ip: new.source_ip.map(str::to_owned),
        user_agent: new.user_agent.map(str::to_owned),
    })
}

/// The live session with this token hash; `None` if unknown, revoked, expired or idle too
/// long. Reads only: [`touch_if_due`] records the use, in a write transaction.
pub async fn authenticate(
    tx: &mut FirmTx,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
    limits: SessionLimits,
) -> Result<Option<Session>, StoreError> {
    let now_ms = unix_millis(now);
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sessions
         WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3"
    ))
    .bind(token_hash.to_vec())
    .bind(now_ms)
    .bind(unix_millis(now - limits.idle))
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(session_from).transpose()
}

/// True when `session`'s last use is old enough to be recorded again: at most once a
/// minute, so reads do not write on every request.
pub fn touch_due(session: &Session, now: OffsetDateTime) -> bool {
    now - session.last_seen_at >= TOUCH_EVERY
}

/// Records that the session was used at `now` (it stays live for the idle timeout from then).
pub async fn touch(tx: &mut FirmTx, session: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
        .bind(session.to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn list_live(
    tx: &mut FirmTx,
    user: UserId,
    now: OffsetDateTime,
) -> Result<Vec<Session>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC"
    ))
    .bind(user.to_string())
    .bind(unix_millis(now))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(session_from).collect()
}

/// Revokes one session of `user`; false if there was no such live session.
pub async fn revoke(
    tx: &mut FirmTx,
    user: UserId,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every session of `user` but `keep`; returns how many ended.
pub async fn revoke_all(
    tx: &mut FirmTx,
    user: UserId,
    keep: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let keep = keep.map(|id| id.to_string()).unwrap_or_default();
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
    )
    .bind(user.to_string())
    .bind(keep)
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
