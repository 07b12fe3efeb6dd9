//! Failed sign-ins per account and per source address (see `ringfence_core::throttle`).
//! A failure is added with one atomic upsert, so parallel failures are all counted.

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
    SourceIp(&'a str),
}

impl ThrottleKey<'_> {
    fn hash(self) -> Vec<u8> {
        let text = match self {
            ThrottleKey::Account(email) => format!("account:{email}"),
            ThrottleKey::SourceIp(ip) => format!("ip:{ip}"),
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

pub(crate) async fn clear(conn: &mut AnyConnection, key: ThrottleKey<'_>) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sign_in_failures WHERE key_hash = $1").bind(key.hash()).execute(conn).await?;
    Ok(())
}
