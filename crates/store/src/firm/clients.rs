//! The firm's clients. Names and kinds are firm-wide (conflict checks need them); the
//! identity number (sealed: POPIA personal information) and contact details are read and
//! changed only with a [`ClientAccess`] from the access check. Walls on a client live here.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::Restore;
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use super::access::{ClientAccess, ClientDetails, ClientKeeping, EditDetails};
use crate::StoreError;

/// What everyone in the firm sees of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSummary {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Lines separated by `\n`.
    pub address: Option<String>,
    pub id_number: Option<String>,
    pub created_at: OffsetDateTime,
}

pub struct ClientFields<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub address: Option<&'a str>,
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
        "INSERT INTO clients (id, kind, name, email, phone, id_number_sealed, created_at, created_by, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key)
    .bind(fields.kind)
    .bind(fields.name)
    .bind(fields.email)
    .bind(fields.phone)
    .bind(sealed)
    .bind(unix_millis(now))
    .bind(by.to_string())
    .bind(fields.address)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

pub async fn update(
    tx: &mut FirmTx,
    access: &ClientAccess<EditDetails>,
    fields: &ClientFields<'_>,
) -> Result<bool, StoreError> {
    let key = access.client().to_string();
    let sealed = fields.id_number.map(|n| tx.seal(id_number_field(&key), n.as_bytes())).transpose()?;
    let done = sqlx::query(
        "UPDATE clients SET kind = $2, name = $3, email = $4, phone = $5, id_number_sealed = $6, address = $7
         WHERE id = $1",
    )
    .bind(&key)
    .bind(fields.kind)
    .bind(fields.name)
    .bind(fields.email)
    .bind(fields.phone)
    .bind(sealed)
    .bind(fields.address)
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
        id: id.parse().map_err(|_| decode("id"))?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        address: row.try_get("address")?,
        id_number,
        created_at: from_unix_millis(row.try_get("created_at")?),
    })
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("clients.{what}").into()))
}

/// The client's details, for those the access check allowed.
pub async fn details<A: ClientDetails>(
    tx: &mut FirmTx,
    access: &ClientAccess<A>,
) -> Result<Client, StoreError> {
    let row = sqlx::query(
        "SELECT id, kind, name, email, phone, address, id_number_sealed, created_at FROM clients WHERE id = $1",
    )
    .bind(access.client().to_string())
    .fetch_one(tx.conn())
    .await?;
    client_from(tx, &row)
}

fn summary_from(row: &AnyRow) -> Result<ClientSummary, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(ClientSummary {
        id: id.parse().map_err(|_| decode("id"))?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
    })
}

/// A client's name and kind.
pub async fn summary(tx: &mut FirmTx, id: Uuid) -> Result<Option<ClientSummary>, StoreError> {
    let row = sqlx::query("SELECT id, kind, name FROM clients WHERE id = $1 AND deleted_at IS NULL")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(summary_from).transpose()
}

/// [`summary`], holding the client's row until the transaction ends (PostgreSQL; SQLite
/// has one writer): a matter opened for a client and the client's deletion never cross.
pub async fn summary_held(tx: &mut FirmTx, id: Uuid) -> Result<Option<ClientSummary>, StoreError> {
    let lock = crate::backend::rows_held(tx.conn());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, kind, name FROM clients WHERE id = $1 AND deleted_at IS NULL {lock}"
    )))
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(summary_from).transpose()
}

/// Every client's name and kind.
pub async fn list(tx: &mut FirmTx) -> Result<Vec<ClientSummary>, StoreError> {
    let rows = sqlx::query("SELECT id, kind, name FROM clients WHERE deleted_at IS NULL ORDER BY name, id")
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(summary_from).collect()
}

/// Notes that a matter was opened for the client: its details now follow the matters'
/// roles, no longer whoever took it in.
pub(crate) async fn note_first_matter(
    tx: &mut FirmTx,
    client: Uuid,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE clients SET first_matter_at = $2 WHERE id = $1 AND first_matter_at IS NULL")
        .bind(client.to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether a standing wall screens `user` from the client.
pub async fn walled_from(tx: &mut FirmTx, client: Uuid, user: UserId) -> Result<bool, StoreError> {
    let walls: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM client_walls WHERE client_id = $1 AND user_id = $2 AND lifted_at IS NULL",
    )
    .bind(client.to_string())
    .bind(user.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(walls > 0)
}

/// Places a wall screening `user` from the client and all its matters. False when one
/// already stands.
pub async fn place_wall(
    tx: &mut FirmTx,
    client: Uuid,
    user: UserId,
    by: UserId,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    // Two administrators placing the same wall at once: one places it, the other finds it.
    let placed = sqlx::query(
        "INSERT INTO client_walls (id, client_id, user_id, placed_by, placed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (client_id, user_id) WHERE lifted_at IS NULL DO NOTHING",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(client.to_string())
    .bind(user.to_string())
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(placed.rows_affected() == 1)
}

/// Lifts the standing wall; it stays on record. False when none stands.
pub async fn lift_wall(
    tx: &mut FirmTx,
    client: Uuid,
    user: UserId,
    by: UserId,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE client_walls SET lifted_by = $3, lifted_at = $4
         WHERE client_id = $1 AND user_id = $2 AND lifted_at IS NULL",
    )
    .bind(client.to_string())
    .bind(user.to_string())
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Who a standing wall screens from the client.
pub async fn walled(tx: &mut FirmTx, client: Uuid) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT user_id FROM client_walls WHERE client_id = $1 AND lifted_at IS NULL ORDER BY user_id",
    )
    .bind(client.to_string())
    .fetch_all(tx.conn())
    .await?;
    ids.iter().map(|id| id.parse().map_err(|_| decode("client_walls.user_id"))).collect()
}

/// The live matters of a client that `viewer` is not screened from (for telling their
/// teams about a wall).
pub async fn matters_of(tx: &mut FirmTx, client: Uuid, viewer: UserId) -> Result<Vec<Uuid>, StoreError> {
    let sql = format!(
        "SELECT m.id FROM matters m WHERE m.client_id = $1 AND m.deleted_at IS NULL AND NOT {} ORDER BY m.number",
        super::access::screened("m.id", "$2")
    );
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(client.to_string())
        .bind(viewer.to_string())
        .fetch_all(tx.conn())
        .await?;
    ids.iter().map(|id| id.parse().map_err(|_| decode("matters.id"))).collect()
}

/// What deleting a client came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientDeletion {
    Deleted,
    /// A matter of the client (deleted or not, until purged) or a data subject's request
    /// about it refers to it: the firm keeps the record.
    InUse,
    /// It is deleted already.
    NotLive,
}

/// Soft-deletes a client nothing refers to: it leaves every list and read, and is purged
/// after the grace period. Its row is held first, so no matter is opened for it meanwhile.
pub async fn delete(
    tx: &mut FirmTx,
    access: &ClientKeeping,
    now: OffsetDateTime,
) -> Result<ClientDeletion, StoreError> {
    let key = access.client().to_string();
    if summary_held(tx, access.client()).await?.is_none() {
        return Ok(ClientDeletion::NotLive);
    }
    let row = sqlx::query("SELECT matters, requests FROM client_references WHERE client_id = $1")
        .bind(&key)
        .fetch_one(tx.conn())
        .await?;
    let (matters, requests): (i64, i64) = (row.try_get("matters")?, row.try_get("requests")?);
    if matters > 0 || requests > 0 {
        return Ok(ClientDeletion::InUse);
    }
    sqlx::query("UPDATE clients SET deleted_at = $2 WHERE id = $1")
        .bind(&key)
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    Ok(ClientDeletion::Deleted)
}

/// Brings a deleted client back within the firm's grace period.
pub async fn restore(
    tx: &mut FirmTx,
    access: &ClientKeeping,
    now: OffsetDateTime,
) -> Result<Restore, StoreError> {
    let key = access.client().to_string();
    let done = super::deletion::restore_row(tx, "clients", "id = $1", &[&key], now).await?;
    done.ok_or_else(|| decode("id"))
}
