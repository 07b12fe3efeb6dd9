//! Failed sign-ins per account and per source address (see `ringfence_core::throttle`).
//! An attempt is reserved — counted as a failure — by one atomic upsert that also applies
//! the rule, *before* the password or code is checked: of parallel attempts, exactly as many
//! pass as the rule allows, and each one that passes is counted. A success then releases its
//! reservation.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::throttle::{FailureRecord, ThrottleRule};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::StoreError;

/// What a throttle is about. Only a hash of it is stored.
#[derive(Debug, Clone, Copy)]
pub enum ThrottleKey<'a> {
    Account(&'a str),
    /// Attempts from a source: an IPv4 address, or an IPv6 address's /64.
    SourceIp(&'a str),
    /// Second-factor attempts of an account (made only after its password was right).
    SecondFactor(&'a str),
    /// Sign-in codes mailed to an account.
    CodeMails(&'a str),
    /// Password reset requests for an account.
    ResetMails(&'a str),
    /// Password reset requests from a source, as for [`ThrottleKey::SourceIp`].
    ResetAsks(&'a str),
    /// Wrong second factors given to an account's reset links.
    ResetFactors(&'a str),
    /// Passwordless sign-ins started from a source, as for [`ThrottleKey::SourceIp`].
    PasskeyStarts(&'a str),
    /// Failed sign-ins with password and authenticator code together (while the password
    /// step is throttled), of an account from one source address.
    PasswordAndCode {
        account: &'a str,
        ip: &'a str,
    },
    /// Wrong passwords sent with an authenticator code to an account, from any address.
    PasswordsWithCode(&'a str),
    /// Failed sign-ins of an operator account.
    Operator(&'a str),
}

impl ThrottleKey<'_> {
    fn hash(self) -> Vec<u8> {
        let text = match self {
            ThrottleKey::Account(email) => format!("account:{email}"),
            ThrottleKey::SourceIp(ip) => format!("ip:{ip}"),
            ThrottleKey::SecondFactor(email) => format!("factor:{email}"),
            ThrottleKey::CodeMails(email) => format!("mails:{email}"),
            ThrottleKey::ResetMails(email) => format!("reset-mails:{email}"),
            ThrottleKey::ResetAsks(ip) => format!("reset-asks:{ip}"),
            ThrottleKey::ResetFactors(email) => format!("reset-factors:{email}"),
            ThrottleKey::PasskeyStarts(ip) => format!("passkey-starts:{ip}"),
            ThrottleKey::PasswordAndCode { account, ip } => {
                format!("password-and-code:{}:{account}:{ip}", account.len())
            }
            ThrottleKey::PasswordsWithCode(email) => format!("passwords-with-code:{email}"),
            ThrottleKey::Operator(email) => format!("operator:{email}"),
        };
        ringfence_crypto::sha256(text.as_bytes()).to_vec()
    }
}

fn record_from(row: &AnyRow) -> Result<FailureRecord, StoreError> {
    Ok(FailureRecord {
        failures: row.try_get("failures")?,
        window_start: from_unix_millis(row.try_get("window_start")?),
        last_failure: from_unix_millis(row.try_get("last_failure")?),
    })
}

pub(crate) async fn get(
    conn: &mut AnyConnection,
    key: ThrottleKey<'_>,
) -> Result<Option<FailureRecord>, StoreError> {
    let row =
        sqlx::query("SELECT failures, window_start, last_failure FROM sign_in_failures WHERE key_hash = $1")
            .bind(key.hash())
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(record_from).transpose()
}

/// Counts one failure: within the rule's window it adds one, after it starts a new window.
pub(crate) async fn add(
    conn: &mut AnyConnection,
    key: ThrottleKey<'_>,
    rule: &ThrottleRule,
    now: OffsetDateTime,
) -> Result<FailureRecord, StoreError> {
    let now = unix_millis(now);
    let window_start_limit = now - rule.window.whole_milliseconds() as i64;
    let row = sqlx::query(
        "INSERT INTO sign_in_failures (key_hash, failures, window_start, last_failure) VALUES ($1, 1, $2, $2)
         ON CONFLICT (key_hash) DO UPDATE SET
             failures = CASE WHEN sign_in_failures.window_start > $3 THEN sign_in_failures.failures + 1 ELSE 1 END,
             window_start = CASE WHEN sign_in_failures.window_start > $3 THEN sign_in_failures.window_start ELSE $2 END,
             last_failure = $2
         RETURNING failures, window_start, last_failure",
    )
    .bind(key.hash())
    .bind(now)
    .bind(window_start_limit)
    .fetch_one(conn)
    .await?;
    record_from(&row)
}

/// Counts one attempt if `rule` allows one now (the same decision as [`ThrottleRule::check`],
/// made inside the statement): `Some(record)` with the attempt counted, or `None` when the
/// attempt must be refused unchecked (it is then not counted: a refused attempt is no guess).
pub(crate) async fn reserve(
    conn: &mut AnyConnection,
    key: ThrottleKey<'_>,
    rule: &ThrottleRule,
    now: OffsetDateTime,
) -> Result<Option<FailureRecord>, StoreError> {
    let now = unix_millis(now);
    let window_start_limit = now - rule.window.whole_milliseconds() as i64;
    let row = sqlx::query(
        "INSERT INTO sign_in_failures (key_hash, failures, window_start, last_failure) VALUES ($1, 1, $2, $2)
         ON CONFLICT (key_hash) DO UPDATE SET
             failures = CASE WHEN sign_in_failures.window_start > $3 THEN sign_in_failures.failures + 1 ELSE 1 END,
             window_start = CASE WHEN sign_in_failures.window_start > $3 THEN sign_in_failures.window_start ELSE $2 END,
             last_failure = $2
         WHERE sign_in_failures.window_start <= $3
            OR (sign_in_failures.failures < $4
                AND sign_in_failures.last_failure + CASE
                        WHEN sign_in_failures.failures < $5 THEN 0
                        WHEN sign_in_failures.failures - $5 >= $6 THEN $7
                        ELSE 1000 * (CAST(1 AS BIGINT) << CAST(sign_in_failures.failures - $5 AS INTEGER))
                    END <= $2)
         RETURNING failures, window_start, last_failure",
    )
    .bind(key.hash())
    .bind(now)
    .bind(window_start_limit)
    .bind(rule.lock_after)
    .bind(rule.free_failures)
    .bind(rule.delay_cap_exponent())
    .bind(rule.max_delay.whole_milliseconds() as i64)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_from).transpose()
}

/// Gives back an attempt reserved by [`reserve`] that turned out not to be a failure (the
/// password was right). Only the reservation's own window is touched.
pub(crate) async fn release(
    conn: &mut AnyConnection,
    key: ThrottleKey<'_>,
    reserved: &FailureRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sign_in_failures SET failures = failures - 1
         WHERE key_hash = $1 AND window_start = $2 AND failures > 0",
    )
    .bind(key.hash())
    .bind(unix_millis(reserved.window_start))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn clear(conn: &mut AnyConnection, key: ThrottleKey<'_>) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sign_in_failures WHERE key_hash = $1").bind(key.hash()).execute(conn).await?;
    Ok(())
}
