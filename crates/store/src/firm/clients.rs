//! The firm's clients. The identity number is sealed (POPIA personal information).

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub created_at: OffsetDateTime,
}

pub struct ClientFields<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub id_number: Option<&'a str>,
}

fn id_number_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "clients", record: id, field: "id_number" }
}

pub async fn create(
    tx: &mut FirmTx,
    fields: &ClientFields<'_>,
    by: UserId,
    now: OffsetDateTime,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let key = id.to_string();
    let sealed = fields.id_number.map(|n| tx.seal(id_number_field(&key), n.as_bytes())).transpose()?;
    sqlx::query(
        "INSERT INTO clients (id, kind, name, email, phone, id_number_sealed, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key)
    .bind(fields.kind)
    .bind(fields.name)
    .bind(fields.email)
    .bind(fields.phone)
    .bind(sealed)
    .bind(unix_millis(now))
    .bind(by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(id)
}

pub async fn update(tx: &mut FirmTx, id: Uuid, fields: &ClientFields<'_>) -> Result<bool, StoreError> {
    let key = id.to_string();
    let sealed = fields.id_number.map(|n| tx.seal(id_number_field(&key), n.as_bytes())).transpose()?;
    let done = sqlx::query(
        "UPDATE clients SET kind = $2, name = $3, email = $4, phone = $5, id_number_sealed = $6 WHERE id = $1",
    )
    .bind(&key)
    .bind(fields.kind)
    .bind(fields.name)
    .bind(fields.email)
    .bind(fields.phone)
    .bind(sealed)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

fn client_from(tx: &FirmTx, row: &AnyRow) -> Result<Client, StoreError> {
    let id: String = row.try_get("id")?;
    let sealed: Option<Vec<u8>> = row.try_get("id_number_sealed")?;
    let id_number = sealed
        .map(|s| tx.open(id_number_field(&id), &s).map(|b| String::from_utf8_lossy(&b).into_owned()))
        .transpose()?;
    Ok(Client {
        id: id.parse().map_err(|_| StoreError::Database(sqlx::Error::Decode("clients.id".into())))?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        id_number,
        created_at: from_unix_millis(row.try_get("created_at")?),
    })
}

pub async fn get(tx: &mut FirmTx, id: Uuid) -> Result<Option<Client>, StoreError> {
    let row = sqlx::query(
        "SELECT id, kind, name, email, phone, id_number_sealed, created_at FROM clients WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|row| client_from(tx, &row)).transpose()
}

pub async fn list(tx: &mut FirmTx) -> Result<Vec<Client>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, name, email, phone, id_number_sealed, created_at FROM clients ORDER BY name, id",
    )
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| client_from(tx, row)).collect()
}
