//! Sign-in challenges: the password was right, the second factor is pending. Attempts are
//! counted atomically *before* a code is checked, so parallel guesses cannot slip past the
//! limit, and completing a challenge is single-use.

use ringfence_core::auth::{CHALLENGE_LIFETIME, MAX_CODE_ATTEMPTS};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

/// A challenge as seen by the attempt that was just counted.
#[derive(Debug, Clone)]
pub struct CountedAttempt {
    pub user_id: UserId,
    pub attempts: i64,
    pub code_hash: Option<[u8; 32]>,
    pub code_expires_at: Option<OffsetDateTime>,
    /// The WebAuthn challenge last offered to this sign-in's passkeys, serialised.
    pub passkey_state: Option<String>,
}

pub async fn create(tx: &mut FirmTx, user: UserId, now: OffsetDateTime) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO login_challenges (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(unix_millis(now))
        .bind(unix_millis(now + CHALLENGE_LIFETIME))
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// Codes one challenge may mail: the first and three resends.
pub const MAX_CODES_SENT: i64 = 4;

/// Stores the keyed hash of a newly mailed code, voiding any earlier one. False when the
/// challenge has already mailed as many codes as it may.
pub async fn set_code(
    tx: &mut FirmTx,
    id: Uuid,
    code_hash: &[u8; 32],
    expires_at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE login_challenges SET code_hash = $2, code_expires_at = $3, codes_sent = codes_sent + 1
         WHERE id = $1 AND codes_sent < $4",
    )
    .bind(id.to_string())
    .bind(code_hash.to_vec())
    .bind(unix_millis(expires_at))
    .bind(MAX_CODES_SENT)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts one attempt against a live challenge; `None` when it is unknown, expired,
/// completed or out of attempts — the attempt must then be refused unchecked.
pub async fn count_attempt(
    tx: &mut FirmTx,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<CountedAttempt>, StoreError> {
    let row = sqlx::query(
        "UPDATE login_challenges SET attempts = attempts + 1
         WHERE id = $1 AND attempts < $2 AND completed_at IS NULL AND expires_at > $3
         RETURNING user_id, attempts, code_hash, code_expires_at, passkey_state",
    )
    .bind(id.to_string())
    .bind(MAX_CODE_ATTEMPTS)
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let user_id: String = row.try_get("user_id")?;
    let code_hash: Option<Vec<u8>> = row.try_get("code_hash")?;
    let code_expires_at: Option<i64> = row.try_get("code_expires_at")?;
    Ok(Some(CountedAttempt {
        user_id: user_id.parse().map_err(|_| sqlx::Error::Decode("login_challenges.user_id".into()))?,
        attempts: row.try_get("attempts")?,
        code_hash: code_hash.and_then(|h| h.try_into().ok()),
        code_expires_at: code_expires_at.map(from_unix_millis),
        passkey_state: row.try_get("passkey_state")?,
    }))
}

/// Keeps the WebAuthn challenge offered to a live sign-in; a new one replaces the old.
pub async fn set_passkey_state(
    tx: &mut FirmTx,
    id: Uuid,
    state: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE login_challenges SET passkey_state = $2
         WHERE id = $1 AND attempts < $3 AND completed_at IS NULL AND expires_at > $4",
    )
    .bind(id.to_string())
    .bind(state)
    .bind(MAX_CODE_ATTEMPTS)
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The user of a live challenge, without counting an attempt (for resending a code).
pub async fn live_user(tx: &mut FirmTx, id: Uuid, now: OffsetDateTime) -> Result<Option<UserId>, StoreError> {
    let user: Option<String> = sqlx::query_scalar(
        "SELECT user_id FROM login_challenges
         WHERE id = $1 AND attempts < $2 AND completed_at IS NULL AND expires_at > $3",
    )
    .bind(id.to_string())
    .bind(MAX_CODE_ATTEMPTS)
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    Ok(user.and_then(|u| u.parse().ok()))
}

/// Marks the challenge used; false if another request completed it first.
pub async fn complete(tx: &mut FirmTx, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE login_challenges SET completed_at = $2 WHERE id = $1 AND completed_at IS NULL")
            .bind(id.to_string())
            .bind(unix_millis(now))
            .execute(tx.conn())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Whose challenge this is, whatever its state: refused attempts count against that account.
pub async fn owner(tx: &mut FirmTx, id: Uuid) -> Result<Option<UserId>, StoreError> {
    let user: Option<String> = sqlx::query_scalar("SELECT user_id FROM login_challenges WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    Ok(user.and_then(|u| u.parse().ok()))
}

/// Ends every sign-in of `user` still in progress (after a password change or a reset of
/// the second factors: what was proved before no longer counts).
pub async fn end_all(tx: &mut FirmTx, user: UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE login_challenges SET expires_at = $2
         WHERE user_id = $1 AND completed_at IS NULL AND expires_at > $2",
    )
    .bind(user.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
