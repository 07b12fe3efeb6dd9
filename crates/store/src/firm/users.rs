//! Firm users and their firm roles. A user's name is personal information, so it is sealed.

use std::collections::BTreeSet;

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
        [
            UserStatus::Invited,
            UserStatus::Active,
            UserStatus::Disabled,
        ]
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
    FieldRef {
        table: "users",
        record: id,
        field: "name",
    }
}

pub async fn insert(tx: &mut FirmTx<'_>, user: NewUser<'_>) -> Result<(), StoreError> {
    let id = user.id.to_string();
    let name_sealed = user
        .name
        .map(|name| tx.seal(name_field(&id), name.as_bytes()))
        .transpose()?;
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

pub async fn get(tx: &mut FirmTx<'_>, id: UserId) -> Result<Option<User>, StoreError> {
    let key = id.to_string();
    let Some(row) =
        sqlx::query("SELECT email, name_sealed, status, created_at FROM users WHERE id = $1")
            .bind(&key)
            .fetch_optional(tx.conn())
            .await?
    else {
        return Ok(None);
    };
    let corrupt = |what: &str| {
        StoreError::Database(sqlx::Error::Decode(
            format!("users.{what} holds an invalid value").into(),
        ))
    };
    let email: String = row.try_get("email")?;
    let name_sealed: Option<Vec<u8>> = row.try_get("name_sealed")?;
    let status: String = row.try_get("status")?;
    let name = name_sealed
        .map(|sealed| {
            tx.open(name_field(&key), &sealed)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
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
        roles: roles
            .iter()
            .map(|r| r.parse().map_err(|_| corrupt("role")))
            .collect::<Result<_, _>>()?,
        status: UserStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
    }))
}
