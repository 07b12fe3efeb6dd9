//! Firm users and their firm roles. A user's name is personal information, so it is sealed.

use std::collections::BTreeSet;

use ringfence_core::auth::Enrolment;
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::FieldRef;
use sqlx::Row;
use time::OffsetDateTime;

use super::FirmTx;
use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Invited,
    Active,
    Disabled,
}

impl UserStatus {
    fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [UserStatus::Invited, UserStatus::Active, UserStatus::Disabled]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: Option<String>,
    pub roles: BTreeSet<FirmRole>,
    pub status: UserStatus,
    pub created_at: OffsetDateTime,
}

impl User {
    /// The person as others read them: their name, or their address when they gave none.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.email.to_string())
    }
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a Email,
    pub name: Option<&'a str>,
    pub roles: &'a BTreeSet<FirmRole>,
    pub status: UserStatus,
    pub password_hash: Option<&'a str>,
    pub created_at: OffsetDateTime,
}

fn name_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "users", record: id, field: "name" }
}

pub async fn insert(tx: &mut FirmTx, user: NewUser<'_>) -> Result<(), StoreError> {
    let id = user.id.to_string();
    let name_sealed = user.name.map(|name| tx.seal(name_field(&id), name.as_bytes())).transpose()?;
    sqlx::query(
        "INSERT INTO users (id, email, name_sealed, status, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(user.email.as_str())
    .bind(name_sealed)
    .bind(user.status.as_str())
    .bind(user.password_hash)
    .bind(unix_millis(user.created_at))
    .execute(tx.conn())
    .await
    .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::EmailTaken(user.email.to_string()) } else { e.into() })?;
    for role in user.roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(&id)
            .bind(role.as_str())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

pub async fn get(tx: &mut FirmTx, id: UserId) -> Result<Option<User>, StoreError> {
    let key = id.to_string();
    let Some(row) = sqlx::query("SELECT email, name_sealed, status, created_at FROM users WHERE id = $1")
        .bind(&key)
        .fetch_optional(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let corrupt = |what: &str| {
        StoreError::Database(sqlx::Error::Decode(format!("users.{what} holds an invalid value").into()))
    };
    let email: String = row.try_get("email")?;
    let name_sealed: Option<Vec<u8>> = row.try_get("name_sealed")?;
    let status: String = row.try_get("status")?;
    let name = name_sealed
        .map(|sealed| {
            tx.open(name_field(&key), &sealed).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        })
        .transpose()?;
    let roles: Vec<String> =
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(&key)
            .fetch_all(tx.conn())
            .await?;
    Ok(Some(User {
        id,
        email: Email::parse(&email).map_err(|_| corrupt("email"))?,
        name,
        roles: roles.iter().map(|r| r.parse().map_err(|_| corrupt("role"))).collect::<Result<_, _>>()?,
        status: UserStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
    }))
}

/// The users with these ids, in the order given (an id no user has is left out).
pub async fn all_of(tx: &mut FirmTx, ids: &[String]) -> Result<Vec<User>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let id: UserId = id.parse().map_err(|_| corrupt("id"))?;
        found.extend(get(tx, id).await?);
    }
    Ok(found)
}

/// What sign-in needs to know about a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: UserId,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub enrolled: Enrolment,
    pub roles: BTreeSet<FirmRole>,
}

/// What the password step of a sign-in needs, in one statement whether or not the address
/// is a user here (so an unknown address costs what a known one does).
pub async fn password_by_email(
    tx: &mut FirmTx,
    email: &Email,
) -> Result<Option<(UserId, UserStatus, Option<String>)>, StoreError> {
    let row = sqlx::query("SELECT id, status, password_hash FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    Ok(Some((
        id.parse().map_err(|_| corrupt("id"))?,
        UserStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        row.try_get("password_hash")?,
    )))
}

pub async fn credentials_by_email(tx: &mut FirmTx, email: &Email) -> Result<Option<Credentials>, StoreError> {
    let row = sqlx::query(
        "SELECT id, status, password_hash, totp_confirmed_at,
                (SELECT COUNT(*) FROM passkeys WHERE passkeys.user_id = users.id) AS passkeys
         FROM users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let id: UserId = id.parse().map_err(|_| corrupt("id"))?;
    let status: String = row.try_get("status")?;
    let totp_confirmed_at: Option<i64> = row.try_get("totp_confirmed_at")?;
    Ok(Some(Credentials {
        id,
        status: UserStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        password_hash: row.try_get("password_hash")?,
        enrolled: Enrolment {
            totp: totp_confirmed_at.is_some(),
            passkey: row.try_get::<i64, _>("passkeys")? > 0,
        },
        roles: roles_of(tx, id).await?,
    }))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("users.{what} holds an invalid value").into()))
}

async fn roles_of(tx: &mut FirmTx, id: UserId) -> Result<BTreeSet<FirmRole>, StoreError> {
    let roles: Vec<String> = sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1")
        .bind(id.to_string())
        .fetch_all(tx.conn())
        .await?;
    roles.iter().map(|r| r.parse().map_err(|_| corrupt("role"))).collect()
}

/// Every user's name as people read it (their address when they gave none), by user id:
/// what pages show a person by.
pub async fn names(tx: &mut FirmTx) -> Result<std::collections::HashMap<String, String>, StoreError> {
    Ok(list(tx).await?.into_iter().map(|u| (u.id.to_string(), u.display_name())).collect())
}

pub async fn list(tx: &mut FirmTx) -> Result<Vec<User>, StoreError> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM users ORDER BY email").fetch_all(tx.conn()).await?;
    all_of(tx, &ids).await
}

/// The active users with neither an authenticator app nor a passkey: those who sign in with
/// emailed codes alone.
pub async fn relying_on_emailed_codes(tx: &mut FirmTx) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE status = 'active' AND totp_confirmed_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM passkeys WHERE passkeys.user_id = users.id)",
    )
    .fetch_all(tx.conn())
    .await?;
    ids.iter().map(|id| id.parse().map_err(|_| corrupt("id"))).collect()
}

/// Sets a new password hash (and activates an invited user).
pub async fn set_password_hash(tx: &mut FirmTx, id: UserId, hash: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET password_hash = $2,
             status = CASE WHEN status = 'invited' THEN 'active' ELSE status END
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_roles(tx: &mut FirmTx, id: UserId, roles: &BTreeSet<FirmRole>) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    for role in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id.to_string())
            .bind(role.as_str())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

pub async fn set_disabled(tx: &mut FirmTx, id: UserId, disabled: bool) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET status = CASE
             WHEN $2 = 1 THEN 'disabled'
             WHEN password_hash IS NULL THEN 'invited'
             ELSE 'active' END
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(i64::from(disabled))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Removes every second factor the user has set up — the authenticator app (confirmed or
/// pending) and all passkeys — for an administrator's reset. Returns how many were removed.
pub async fn clear_second_factors(tx: &mut FirmTx, id: UserId) -> Result<u64, StoreError> {
    let totp = sqlx::query(
        "UPDATE users SET totp_secret_sealed = NULL, totp_confirmed_at = NULL, totp_last_step = NULL,
             totp_pending_sealed = NULL
         WHERE id = $1 AND (totp_secret_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL)",
    )
    .bind(id.to_string())
    .execute(tx.conn())
    .await?;
    let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM passkey_registrations WHERE user_id = $1")
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(totp.rows_affected() + passkeys.rows_affected())
}

/// Admins that are not disabled: the firm must always keep one.
pub async fn count_enabled_admins(tx: &mut FirmTx) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id
         WHERE r.role = 'admin' AND u.status <> 'disabled'",
    )
    .fetch_one(tx.conn())
    .await?)
}

fn totp_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "users", record: id, field: "totp_secret" }
}

fn pending_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "users", record: id, field: "totp_pending" }
}

/// Stores a new TOTP secret awaiting confirmation (sealed), replacing any earlier pending
/// one; the confirmed secret in use stays as it is.
pub async fn set_pending_totp(tx: &mut FirmTx, id: UserId, secret: &[u8]) -> Result<(), StoreError> {
    let key = id.to_string();
    let sealed = tx.seal(pending_field(&key), secret)?;
    sqlx::query("UPDATE users SET totp_pending_sealed = $2 WHERE id = $1")
        .bind(&key)
        .bind(sealed)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The secret awaiting confirmation, if any.
pub async fn pending_totp(tx: &mut FirmTx, id: UserId) -> Result<Option<Vec<u8>>, StoreError> {
    let key = id.to_string();
    let sealed: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT totp_pending_sealed FROM users WHERE id = $1")
            .bind(&key)
            .fetch_optional(tx.conn())
            .await?;
    sealed.flatten().map(|s| tx.open(pending_field(&key), &s)).transpose()
}

/// Makes the confirmed secret the one in use, with `step` (the confirming code's) used.
pub async fn activate_totp(
    tx: &mut FirmTx,
    id: UserId,
    secret: &[u8],
    step: i64,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let key = id.to_string();
    let sealed = tx.seal(totp_field(&key), secret)?;
    sqlx::query(
        "UPDATE users SET totp_secret_sealed = $2, totp_confirmed_at = $3, totp_last_step = $4, totp_pending_sealed = NULL
         WHERE id = $1",
    )
    .bind(&key)
    .bind(sealed)
    .bind(unix_millis(now))
    .bind(step)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The user's TOTP secret and whether it is confirmed.
pub async fn totp_secret(tx: &mut FirmTx, id: UserId) -> Result<Option<(Vec<u8>, bool)>, StoreError> {
    let key = id.to_string();
    let row = sqlx::query("SELECT totp_secret_sealed, totp_confirmed_at FROM users WHERE id = $1")
        .bind(&key)
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let sealed: Option<Vec<u8>> = row.try_get("totp_secret_sealed")?;
    let confirmed: Option<i64> = row.try_get("totp_confirmed_at")?;
    let Some(sealed) = sealed else { return Ok(None) };
    Ok(Some((tx.open(totp_field(&key), &sealed)?, confirmed.is_some())))
}

/// The sealed-secret read of [`totp_secret`] by address, in one statement whether or not
/// the address is a user's: the user, the opened secret (if any) and whether it is confirmed.
pub async fn totp_secret_by_email(
    tx: &mut FirmTx,
    email: &Email,
) -> Result<Option<(UserId, Option<(Vec<u8>, bool)>)>, StoreError> {
    let row = sqlx::query("SELECT id, totp_secret_sealed, totp_confirmed_at FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let key: String = row.try_get("id")?;
    let id: UserId = key.parse().map_err(|_| corrupt("id"))?;
    let sealed: Option<Vec<u8>> = row.try_get("totp_secret_sealed")?;
    let confirmed: Option<i64> = row.try_get("totp_confirmed_at")?;
    let secret = match sealed {
        Some(sealed) => Some((tx.open(totp_field(&key), &sealed)?, confirmed.is_some())),
        None => None,
    };
    Ok(Some((id, secret)))
}

/// Records `step` as used, atomically: false if it (or a later step) was used already.
pub async fn claim_totp_step(
    tx: &mut FirmTx,
    id: UserId,
    step: i64,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE users SET totp_last_step = $2, totp_confirmed_at = COALESCE(totp_confirmed_at, $3)
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(id.to_string())
    .bind(step)
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
