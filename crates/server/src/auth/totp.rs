//! Checking a TOTP code against a user's sealed secret, refusing a time step used before.

use ringfence_core::ids::UserId;
use ringfence_crypto::otp::TotpSecret;
use ringfence_store::FirmTx;
use ringfence_store::firm::users;
use time::OffsetDateTime;

use crate::app::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpOutcome {
    Accepted,
    Wrong,
    /// The code matched a time step that was already used: a replay.
    Replayed,
    /// The user has no confirmed secret.
    NotEnrolled,
}

/// Checks `code` against the user's confirmed secret and, if it matches an unused step,
/// records that step as used.
pub async fn check(
    tx: &mut FirmTx,
    user: UserId,
    code: &str,
    now: OffsetDateTime,
) -> Result<TotpOutcome, AppError> {
    let Some((secret, true)) = users::totp_secret(tx, user).await? else {
        return Ok(TotpOutcome::NotEnrolled);
    };
    let Some(step) = matching_step(&secret, code, now)? else {
        return Ok(TotpOutcome::Wrong);
    };
    claim(tx, user, step, now).await
}

/// The time step `code` matches under the opened `secret`, if any. Reads and writes nothing.
pub fn matching_step(secret: &[u8], code: &str, now: OffsetDateTime) -> Result<Option<i64>, AppError> {
    let secret = TotpSecret::from_bytes(secret)
        .ok_or_else(|| AppError::internal(ringfence_crypto::CryptoError::Malformed))?;
    let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let step = secret.matching_step(code, unix).map_err(AppError::internal)?;
    Ok(step.map(|step| i64::try_from(step).unwrap_or(i64::MAX)))
}

/// Records a matched `step` as used: accepted, or a replay of a step used before.
pub async fn claim(
    tx: &mut FirmTx,
    user: UserId,
    step: i64,
    now: OffsetDateTime,
) -> Result<TotpOutcome, AppError> {
    Ok(if users::claim_totp_step(tx, user, step, now).await? {
        TotpOutcome::Accepted
    } else {
        TotpOutcome::Replayed
    })
}
