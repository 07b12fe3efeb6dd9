//! Passkeys and their registrations in flight. The WebAuthn records themselves are opaque
//! here: the server serialises them, the store seals them and keeps them with their owner.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

/// How long a registration or sign-in waits for the authenticator.
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(5);

/// A passkey as listed to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySummary {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A passkey with its opened credential record.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub record: Vec<u8>,
}

fn record_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "passkeys", record: id, field: "passkey" }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("passkeys.{what} holds an invalid value").into()))
}

fn parse_id(row: &AnyRow) -> Result<Uuid, StoreError> {
    let id: String = row.try_get("id")?;
    id.parse().map_err(|_| corrupt("id"))
}

/// Adds a passkey; `Ok(None)` when its credential is already registered (to anyone).
pub async fn add(
    tx: &mut FirmTx,
    user: UserId,
    credential_id: &[u8],
    name: &str,
    record: &[u8],
    now: OffsetDateTime,
) -> Result<Option<Uuid>, StoreError> {
    let id = Uuid::new_v4();
    let key = id.to_string();
    let sealed = tx.seal(record_field(&key), record)?;
    let inserted = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(&key)
    .bind(user.to_string())
    .bind(credential_id.to_vec())
    .bind(name)
    .bind(sealed)
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(id))
}

pub async fn list(tx: &mut FirmTx, user: UserId) -> Result<Vec<PasskeySummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let last_used: Option<i64> = row.try_get("last_used_at")?;
            Ok(PasskeySummary {
                id: parse_id(row)?,
                name: row.try_get("name")?,
                created_at: from_unix_millis(row.try_get("created_at")?),
                last_used_at: last_used.map(from_unix_millis),
            })
        })
        .collect()
}

/// Every passkey of the user, opened: to offer them to the browser and check its answer.
pub async fn records(tx: &mut FirmTx, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
    let rows =
        sqlx::query("SELECT id, passkey_sealed FROM passkeys WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user.to_string())
            .fetch_all(tx.conn())
            .await?;
    rows.iter()
        .map(|row| {
            let id = parse_id(row)?;
            let sealed: Vec<u8> = row.try_get("passkey_sealed")?;
            Ok(StoredPasskey { id, record: tx.open(record_field(&id.to_string()), &sealed)? })
        })
        .collect()
}

/// True when a credential is registered already, to anyone in the firm.
pub async fn is_registered(tx: &mut FirmTx, credential_id: &[u8]) -> Result<bool, StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM passkeys WHERE credential_id = $1")
        .bind(credential_id.to_vec())
        .fetch_optional(tx.conn())
        .await?;
    Ok(found.is_some())
}

/// The user's passkey with this credential id, opened.
pub async fn by_credential(
    tx: &mut FirmTx,
    user: UserId,
    credential_id: &[u8],
) -> Result<Option<StoredPasskey>, StoreError> {
    let row =
        sqlx::query("SELECT id, passkey_sealed FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user.to_string())
            .bind(credential_id.to_vec())
            .fetch_optional(tx.conn())
            .await?;
    let Some(row) = row else { return Ok(None) };
    let id = parse_id(&row)?;
    let sealed: Vec<u8> = row.try_get("passkey_sealed")?;
    Ok(Some(StoredPasskey { id, record: tx.open(record_field(&id.to_string()), &sealed)? }))
}

/// Records a use, with the credential record as the authenticator left it (its counter).
pub async fn record_use(
    tx: &mut FirmTx,
    id: Uuid,
    record: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let key = id.to_string();
    let sealed = record.map(|r| tx.seal(record_field(&key), r)).transpose()?;
    sqlx::query(
        "UPDATE passkeys SET last_used_at = $2, passkey_sealed = COALESCE($3, passkey_sealed) WHERE id = $1",
    )
    .bind(&key)
    .bind(unix_millis(now))
    .bind(sealed)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Removes one of the user's passkeys; false when the user has none by that id.
pub async fn remove(tx: &mut FirmTx, user: UserId, id: Uuid) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps a registration's state until the authenticator answers; the user's earlier
/// unfinished registrations are dropped.
pub async fn start_registration(
    tx: &mut FirmTx,
    user: UserId,
    state: &str,
    now: OffsetDateTime,
) -> Result<Uuid, StoreError> {
    sqlx::query("DELETE FROM passkey_registrations WHERE user_id = $1 OR expires_at <= $2")
        .bind(user.to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO passkey_registrations (id, user_id, state, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(state)
        .bind(unix_millis(now + CEREMONY_LIFETIME))
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// Takes the user's live registration state: it works once.
pub async fn take_registration(
    tx: &mut FirmTx,
    user: UserId,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    let state: Option<String> = sqlx::query_scalar(
        "DELETE FROM passkey_registrations WHERE id = $1 AND user_id = $2 AND expires_at > $3 RETURNING state",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    Ok(state)
}
