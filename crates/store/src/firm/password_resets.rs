//! Password resets: a random token is mailed once; only its SHA-256 is stored. One is open
//! per user at a time (a new one ends the one before, and a unique index holds it), second
//! factors tried against one are counted atomically before they are checked, and using one
//! is single-use.

use ringfence_core::auth::MAX_CODE_ATTEMPTS;
use ringfence_core::clock::unix_millis;
use ringfence_core::ids::UserId;
use ringfence_crypto::token::{SecretToken, TokenHash};
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use super::FirmTx;
use crate::StoreError;

/// How long a link the user asked for stays valid.
pub const ASKED_LIFETIME: Duration = Duration::hours(1);
/// How long a link an administrator sent stays valid: the user may be away from their mail.
pub const SENT_LIFETIME: Duration = Duration::hours(24);

/// A live reset, as its token finds it.
#[derive(Debug, Clone)]
pub struct Reset {
    pub user: UserId,
    /// The administrator who sent it; `None` when the user asked for it.
    pub sent_by: Option<UserId>,
    pub attempts: i64,
    /// The WebAuthn challenge last offered for it, serialised.
    pub passkey_state: Option<String>,
}

/// Takes the user's row for this transaction: whatever changes a user's links takes it
/// first, then theirs, so two such changes wait for each other rather than deadlock (or
/// both open a link).
pub async fn lock_user(tx: &mut FirmTx, user: UserId) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET status = status WHERE id = $1")
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Makes a reset for `user`, ending any earlier one, valid for `lifetime`.
pub async fn create(
    tx: &mut FirmTx,
    user: UserId,
    sent_by: Option<UserId>,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<SecretToken, StoreError> {
    lock_user(tx, user).await?;
    end_open(tx, user, now).await?;
    let token = SecretToken::generate()?;
    let TokenHash(hash) = token.hash();
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, sent_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash.to_vec())
    .bind(user.to_string())
    .bind(sent_by.map(|by| by.to_string()))
    .bind(unix_millis(now))
    .bind(unix_millis(now + lifetime))
    .execute(tx.conn())
    .await?;
    Ok(token)
}

/// The condition of a live reset: `$1` its token's hash, `$2` now, `$3` the attempts allowed.
macro_rules! live {
    () => {
        "token_hash = $1 AND ended_at IS NULL AND expires_at > $2 AND attempts < $3"
    };
}

fn reset_of(row: &sqlx::any::AnyRow) -> Result<Reset, StoreError> {
    let corrupt =
        |what: &str| StoreError::Database(sqlx::Error::Decode(format!("password_resets.{what}").into()));
    let user: String = row.try_get("user_id")?;
    let sent_by: Option<String> = row.try_get("sent_by")?;
    Ok(Reset {
        user: user.parse().map_err(|_| corrupt("user_id"))?,
        sent_by: sent_by.map(|by| by.parse().map_err(|_| corrupt("sent_by"))).transpose()?,
        attempts: row.try_get("attempts")?,
        passkey_state: row.try_get("passkey_state")?,
    })
}

/// `sql`, whose condition is [`live!`], bound to `token` at `now`.
fn on_live(
    sql: &'static str,
    token: &SecretToken,
    now: OffsetDateTime,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let TokenHash(hash) = token.hash();
    sqlx::query(sql).bind(hash.to_vec()).bind(unix_millis(now)).bind(MAX_CODE_ATTEMPTS)
}

async fn live_reset(
    tx: &mut FirmTx,
    sql: &'static str,
    token: &SecretToken,
    now: OffsetDateTime,
) -> Result<Option<Reset>, StoreError> {
    let row = on_live(sql, token, now).fetch_optional(tx.conn()).await?;
    row.as_ref().map(reset_of).transpose()
}

/// The live reset a token names, without counting an attempt.
pub async fn peek(
    tx: &mut FirmTx,
    token: &SecretToken,
    now: OffsetDateTime,
) -> Result<Option<Reset>, StoreError> {
    let sql =
        concat!("SELECT user_id, sent_by, attempts, passkey_state FROM password_resets WHERE ", live!());
    live_reset(tx, sql, token, now).await
}

/// Counts one second-factor attempt against a live reset; `None` when it is unknown, used,
/// expired or out of attempts — the attempt must then be refused unchecked.
pub async fn count_attempt(
    tx: &mut FirmTx,
    token: &SecretToken,
    now: OffsetDateTime,
) -> Result<Option<Reset>, StoreError> {
    let sql = concat!(
        "UPDATE password_resets SET attempts = attempts + 1 WHERE ",
        live!(),
        " RETURNING user_id, sent_by, attempts, passkey_state"
    );
    live_reset(tx, sql, token, now).await
}

/// Keeps the WebAuthn challenge offered for a live reset; a new one replaces the old.
pub async fn set_passkey_state(
    tx: &mut FirmTx,
    token: &SecretToken,
    state: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let sql = concat!("UPDATE password_resets SET passkey_state = $4 WHERE ", live!());
    let done = on_live(sql, token, now).bind(state.to_owned()).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}

/// Uses a reset: its user, if the token is unused and unexpired (its attempts were counted
/// before its factor was checked, so the last one allowed may still use it). A second use
/// finds nothing.
pub async fn redeem(
    tx: &mut FirmTx,
    token: &SecretToken,
    now: OffsetDateTime,
) -> Result<Option<UserId>, StoreError> {
    let TokenHash(hash) = token.hash();
    let user: Option<String> = sqlx::query_scalar(
        "UPDATE password_resets SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2
         RETURNING user_id",
    )
    .bind(hash.to_vec())
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    Ok(user.and_then(|u| u.parse().ok()))
}

/// Ends every open reset of a user, so that no link already sent still works: for a new
/// link, and whenever the account changes in a way a link sent before must not outlive
/// (disabled, its second factors reset, its password changed).
pub async fn end_open(tx: &mut FirmTx, user: UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
    let ended =
        sqlx::query("UPDATE password_resets SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL")
            .bind(user.to_string())
            .bind(unix_millis(now))
            .execute(tx.conn())
            .await?;
    Ok(ended.rows_affected())
}
