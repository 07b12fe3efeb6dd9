//! Invitations: a random token is mailed or printed once; only its SHA-256 is stored, so
//! the database cannot be used to accept someone else's invitation.

use ringfence_core::clock::unix_millis;
use ringfence_core::ids::UserId;
use ringfence_crypto::token::{SecretToken, TokenHash};
use time::{Duration, OffsetDateTime};

use super::FirmTx;
use crate::StoreError;

/// How long an invitation stays valid.
pub const INVITATION_LIFETIME: Duration = Duration::hours(72);

pub async fn create(tx: &mut FirmTx, user: UserId, now: OffsetDateTime) -> Result<SecretToken, StoreError> {
    let token = SecretToken::generate()?;
    let TokenHash(hash) = token.hash();
    sqlx::query(
        "INSERT INTO invitations (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(hash.to_vec())
    .bind(user.to_string())
    .bind(unix_millis(now))
    .bind(unix_millis(now + INVITATION_LIFETIME))
    .execute(tx.conn())
    .await?;
    Ok(token)
}

/// Uses an invitation: the user it belongs to, if the token is known, unused and unexpired.
/// Single use: a second redemption of the same token finds nothing.
pub async fn redeem(
    tx: &mut FirmTx,
    token: &SecretToken,
    now: OffsetDateTime,
) -> Result<Option<UserId>, StoreError> {
    let TokenHash(hash) = token.hash();
    let user: Option<String> = sqlx::query_scalar(
        "UPDATE invitations SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
         RETURNING user_id",
    )
    .bind(hash.to_vec())
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    Ok(user.and_then(|u| u.parse().ok()))
}

/// The user a live invitation belongs to, without using it.
pub async fn peek(
    tx: &mut FirmTx,
    token: &SecretToken,
    now: OffsetDateTime,
) -> Result<Option<UserId>, StoreError> {
    let TokenHash(hash) = token.hash();
    let user: Option<String> = sqlx::query_scalar(
        "SELECT user_id FROM invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash.to_vec())
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    Ok(user.and_then(|u| u.parse().ok()))
}

/// Ends every live invitation of a user, so that no link already sent still works; returns
/// how many were ended.
pub async fn end_live(tx: &mut FirmTx, user: UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
    let ended = sqlx::query(
        "UPDATE invitations SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(user.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(ended.rows_affected())
}
