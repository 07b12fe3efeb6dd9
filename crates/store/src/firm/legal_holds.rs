//! Legal holds: a matter, or a client with every matter it has or will have, kept from
//! deletion, retention disposal, purge and the firm's shred while the hold stands.
//!
//! A hold on a matter is placed and lifted through the ring-fence
//! (`MatterAccess<Hold>`, which only the firm-administrator row of the permission table
//! grants); a hold on a client by an administrator no wall screens from the client (the
//! application checks that, as for the client's walls). The reasons are sealed under the
//! firm key, bound to the hold. Lifted holds stay on record.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use super::access::{Hold, MatterAccess, screened};
use crate::StoreError;

/// SQL giving when the hold standing on the matter `m` (an alias of `matters`) was placed,
/// by itself or through its client (the earlier, when both stand); NULL when none stands.
/// A macro, so that column lists can be constants.
macro_rules! held_since_sql {
    () => {
        "(SELECT MIN(lh.placed_at) FROM legal_holds lh WHERE lh.lifted_at IS NULL
          AND (lh.matter_id = m.id OR lh.client_id = m.client_id))"
    };
}
pub(crate) use held_since_sql;

/// SQL that is true while a hold stands on the matter `m`.
pub(crate) const HELD: &str = concat!(held_since_sql!(), " IS NOT NULL");

/// What a hold keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    Matter { id: Uuid, number: String, client_id: Uuid, client_name: String },
    Client { id: Uuid, name: String },
}

/// A hold, standing or lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: Uuid,
    pub target: HoldTarget,
    pub reason: String,
    pub placed_by: UserId,
    pub placed_at: OffsetDateTime,
    pub lifted: Option<Lifted>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifted {
    pub by: UserId,
    pub at: OffsetDateTime,
    pub reason: String,
}

/// The hold a matter stands under, as its readers are shown it: since when, and whether
/// through its client. Not the reason, which is for administrators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandingHold {
    pub placed_at: OffsetDateTime,
    pub on_client: bool,
}

fn field<'a>(id: &'a str, name: &'a str) -> FieldRef<'a> {
    FieldRef { table: "legal_holds", record: id, field: name }
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("legal_holds.{what} holds an invalid value").into()))
}

fn uuid(row: &AnyRow, column: &str) -> Result<Uuid, StoreError> {
    let raw: String = row.try_get(column)?;
    raw.parse().map_err(|_| decode(column))
}

/// The hold standing on the matter, if any: its own before its client's.
pub async fn standing_on_matter(tx: &mut FirmTx, matter: Uuid) -> Result<Option<StandingHold>, StoreError> {
    let row = sqlx::query(
        "SELECT lh.placed_at, lh.client_id FROM legal_holds lh JOIN matters m ON m.id = $1
         WHERE lh.lifted_at IS NULL AND (lh.matter_id = m.id OR lh.client_id = m.client_id)
         ORDER BY lh.client_id IS NOT NULL, lh.placed_at LIMIT 1",
    )
    .bind(matter.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|row| {
        let client: Option<String> = row.try_get("client_id")?;
        Ok(StandingHold {
            placed_at: from_unix_millis(row.try_get("placed_at")?),
            on_client: client.is_some(),
        })
    })
    .transpose()
}

/// Locks the rows `sql` names (by `$1`) until the transaction ends, against a hold being
/// placed on them meanwhile (see [`place`]): what a check reads of holds stays true until
/// the deletion it allows is committed. An exclusive lock, not a shared one: two deletions
/// of one matter holding it shared would each wait for the other to write it (a deadlock).
/// SQLite's one writer holds the whole database already.
async fn hold_off_placing(tx: &mut FirmTx, sql: &str, id: Uuid) -> Result<(), StoreError> {
    let lock = crate::backend::rows_held(tx.conn());
    if !lock.is_empty() {
        sqlx::query(sqlx::AssertSqlSafe(format!("{sql} {lock}")))
            .bind(id.to_string())
            .fetch_all(tx.conn())
            .await?;
    }
    Ok(())
}

/// Whether a hold stands on the matter, by itself or through its client. In a writing
/// transaction only: no hold can be placed on either until it ends.
pub async fn holds_matter(tx: &mut FirmTx, matter: Uuid) -> Result<bool, StoreError> {
    hold_off_placing(tx, "SELECT id FROM matters WHERE id = $1", matter).await?;
    hold_off_placing(
        tx,
        "SELECT id FROM clients WHERE id = (SELECT client_id FROM matters WHERE id = $1)",
        matter,
    )
    .await?;
    Ok(standing_on_matter(tx, matter).await?.is_some())
}

/// Whether a hold stands on the client or on any of its matters: what keeps its personal
/// information from erasure. In a writing transaction only, as [`holds_matter`].
pub async fn holds_client(tx: &mut FirmTx, client: Uuid) -> Result<bool, StoreError> {
    hold_off_placing(tx, "SELECT id FROM clients WHERE id = $1", client).await?;
    hold_off_placing(tx, "SELECT id FROM matters WHERE client_id = $1", client).await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM legal_holds lh WHERE lh.lifted_at IS NULL
         AND (lh.client_id = $1 OR lh.matter_id IN (SELECT id FROM matters WHERE client_id = $1))",
    )
    .bind(client.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(held > 0)
}

/// Whether any hold stands in the firm: what keeps it from being shredded.
pub async fn any_standing(tx: &mut FirmTx) -> Result<bool, StoreError> {
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM legal_holds WHERE lifted_at IS NULL")
        .fetch_one(tx.conn())
        .await?;
    Ok(held > 0)
}

/// What a hold is placed on, for [`place`] and [`lift`].
#[derive(Debug, Clone, Copy)]
pub enum On<'a> {
    Matter(&'a MatterAccess<Hold>),
    /// A client the application found its administrator is not walled from.
    Client(Uuid),
}

impl On<'_> {
    fn column_and_id(&self) -> (&'static str, String) {
        match self {
            On::Matter(access) => ("matter_id", access.matter().to_string()),
            On::Client(client) => ("client_id", client.to_string()),
        }
    }
}

/// Locks the matter or client a hold is placed on or lifted from until the transaction
/// ends: it waits for any deletion that checked for holds there to end, and holds off the
/// next (see [`holds_matter`]); two administrators placing the same hold take turns.
async fn lock_target(tx: &mut FirmTx, on: On<'_>) -> Result<(), StoreError> {
    let lock = crate::backend::rows_held(tx.conn());
    if lock.is_empty() {
        return Ok(());
    }
    let (table, id) = match on {
        On::Matter(access) => ("matters", access.matter()),
        On::Client(client) => ("clients", client),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id FROM {table} WHERE id = $1 {lock}")))
        .bind(id.to_string())
        .fetch_all(tx.conn())
        .await?;
    Ok(())
}

/// The id of the hold standing there, by itself (not through a client).
async fn standing(tx: &mut FirmTx, on: On<'_>) -> Result<Option<String>, StoreError> {
    let (column, target) = on.column_and_id();
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM legal_holds WHERE {column} = $1 AND lifted_at IS NULL"
    )))
    .bind(target)
    .fetch_optional(tx.conn())
    .await?)
}

/// Places a hold; its id, or `None` when one already stands there.
pub async fn place(
    tx: &mut FirmTx,
    on: On<'_>,
    reason: &str,
    by: UserId,
    now: OffsetDateTime,
) -> Result<Option<Uuid>, StoreError> {
    lock_target(tx, on).await?;
    if standing(tx, on).await?.is_some() {
        return Ok(None);
    }
    let (column, target) = on.column_and_id();
    let id = Uuid::new_v4();
    let key = id.to_string();
    let sealed = tx.seal(field(&key, "reason"), reason.as_bytes())?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO legal_holds (id, {column}, reason_sealed, placed_by, placed_at) VALUES ($1, $2, $3, $4, $5)"
    )))
    .bind(&key)
    .bind(&target)
    .bind(sealed)
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(Some(id))
}

/// Lifts the hold standing there; its id, or `None` when none stands.
pub async fn lift(
    tx: &mut FirmTx,
    on: On<'_>,
    reason: &str,
    by: UserId,
    now: OffsetDateTime,
) -> Result<Option<Uuid>, StoreError> {
    lock_target(tx, on).await?;
    let Some(key) = standing(tx, on).await? else { return Ok(None) };
    let sealed = tx.seal(field(&key, "lift_reason"), reason.as_bytes())?;
    sqlx::query(
        "UPDATE legal_holds SET lift_reason_sealed = $2, lifted_by = $3, lifted_at = $4
         WHERE id = $1 AND lifted_at IS NULL",
    )
    .bind(&key)
    .bind(sealed)
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    key.parse().map(Some).map_err(|_| decode("id"))
}

/// Every hold in the firm, standing ones first, newest first, leaving out those on a matter
/// or client `viewer` is walled from.
pub async fn list(tx: &mut FirmTx, viewer: UserId) -> Result<Vec<LegalHold>, StoreError> {
    select(tx, viewer, None).await
}

/// One hold, unless it is on a matter or client `viewer` is walled from.
pub async fn get(tx: &mut FirmTx, viewer: UserId, id: Uuid) -> Result<Option<LegalHold>, StoreError> {
    Ok(select(tx, viewer, Some(id)).await?.pop())
}

async fn select(tx: &mut FirmTx, viewer: UserId, only: Option<Uuid>) -> Result<Vec<LegalHold>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT lh.id, lh.matter_id, lh.client_id, lh.reason_sealed, lh.placed_by, lh.placed_at,
                lh.lift_reason_sealed, lh.lifted_by, lh.lifted_at, m.number,
                COALESCE(mc.name, c.name) AS client_name, COALESCE(mc.id, c.id) AS target_client
         FROM legal_holds lh
         LEFT JOIN matters m ON m.id = lh.matter_id
         LEFT JOIN clients mc ON mc.id = m.client_id
         LEFT JOIN clients c ON c.id = lh.client_id
         WHERE (lh.matter_id IS NULL OR NOT {})
           AND NOT EXISTS (SELECT 1 FROM client_walls cw WHERE cw.user_id = $1 AND cw.lifted_at IS NULL
                           AND cw.client_id = COALESCE(mc.id, c.id))
           AND (lh.matter_id IS NULL OR m.id IS NOT NULL)
           AND ($2 IS NULL OR lh.id = $2)
         ORDER BY lh.lifted_at IS NOT NULL, lh.placed_at DESC, lh.id",
        screened("lh.matter_id", "$1"),
    )))
    .bind(viewer.to_string())
    .bind(only.map(|id| id.to_string()))
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| hold_from(tx, row)).collect()
}

fn hold_from(tx: &FirmTx, row: &AnyRow) -> Result<LegalHold, StoreError> {
    let id: String = row.try_get("id")?;
    let open = |name: &str, sealed: &[u8]| -> Result<String, StoreError> {
        Ok(String::from_utf8_lossy(&tx.open(field(&id, name), sealed)?).into_owned())
    };
    let client_name: String = row.try_get("client_name")?;
    let matter: Option<String> = row.try_get("matter_id")?;
    let target = match matter {
        Some(_) => HoldTarget::Matter {
            id: uuid(row, "matter_id")?,
            number: row.try_get("number")?,
            client_id: uuid(row, "target_client")?,
            client_name,
        },
        None => HoldTarget::Client { id: uuid(row, "client_id")?, name: client_name },
    };
    let lifted_at: Option<i64> = row.try_get("lifted_at")?;
    let lifted = match lifted_at {
        Some(at) => {
            let sealed: Vec<u8> = row.try_get("lift_reason_sealed")?;
            Some(Lifted {
                by: uuid(row, "lifted_by")?.into(),
                at: from_unix_millis(at),
                reason: open("lift_reason", &sealed)?,
            })
        }
        None => None,
    };
    let sealed: Vec<u8> = row.try_get("reason_sealed")?;
    Ok(LegalHold {
        id: id.parse().map_err(|_| decode("id"))?,
        target,
        reason: open("reason", &sealed)?,
        placed_by: uuid(row, "placed_by")?.into(),
        placed_at: from_unix_millis(row.try_get("placed_at")?),
        lifted,
    })
}

impl crate::FirmStore {
    /// Whether any hold stands in the firm, read as the deployment's own firm-wide work.
    pub async fn any_legal_hold(&self) -> Result<bool, StoreError> {
        let mut tx = self.begin_firm_wide().await?;
        let held = any_standing(&mut tx).await?;
        tx.commit().await?;
        Ok(held)
    }
}
