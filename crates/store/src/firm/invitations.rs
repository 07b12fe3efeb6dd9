//! Invitations: a random token is mailed or printed once; only its SHA-256 is stored, so
//! the database cannot be used to accept someone else's invitation.

use ringfence_core::clock::unix_millis;
use ringfence_core::ids::UserId;
use ringfence_crypto::token::{InvitationToken, TokenHash};
use time::{Duration, OffsetDateTime};

use super::FirmTx;
use crate::StoreError;

/// How long an invitation stays valid.
pub const INVITATION_LIFETIME: Duration = Duration::hours(72);

pub async fn create(
    tx: &mut FirmTx<'_>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<InvitationToken, StoreError> {
    let token = InvitationToken::generate()?;
    let TokenHash(hash) = token.hash();
    sqlx::query("INSERT INTO invitations (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash.to_vec())
        .bind(user.to_string())
        .bind(unix_millis(now))
        .bind(unix_millis(now + INVITATION_LIFETIME))
        .execute(tx.conn())
        .await?;
    Ok(token)
}
