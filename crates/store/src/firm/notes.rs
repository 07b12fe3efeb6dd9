//! Notes on a matter: privileged work product, strategy, statements, communications. The
//! body is sealed and bound to its note; every edit keeps the previous body as a version.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::Restore;
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{MatterAccess, ReadContent, ReadsContent, WriteContent};
use super::search::{self, Kind};
use super::{FirmTx, SealedText, matter_key_sql};
use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: Uuid,
    pub matter_id: Uuid,
    pub kind: String,
    pub privileged: bool,
    pub body: String,
    pub version: i64,
    pub author_id: UserId,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

fn body_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "notes", record: id, field: "body" }
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("notes.{what}").into()))
}

fn note_from(tx: &FirmTx, row: &AnyRow) -> Result<Note, StoreError> {
    let id: String = row.try_get("id")?;
    let matter: String = row.try_get("matter_id")?;
    let author: String = row.try_get("author_id")?;
    let sealed: Vec<u8> = row.try_get("body_sealed")?;
    let privileged: i64 = row.try_get("privileged")?;
    let key = tx.matter_key_in(&matter, row)?;
    Ok(Note {
        body: String::from_utf8_lossy(&tx.open_content(key.as_deref(), body_field(&id), &sealed)?)
            .into_owned(),
        id: id.parse().map_err(|_| decode("id"))?,
        matter_id: matter.parse().map_err(|_| decode("matter_id"))?,
        kind: row.try_get("kind")?,
        privileged: privileged == 1,
        version: row.try_get("version")?,
        author_id: author.parse().map_err(|_| decode("author_id"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
        updated_at: from_unix_millis(row.try_get("updated_at")?),
    })
}

const COLUMNS: &str = concat!(
    "id, matter_id, kind, privileged, body_sealed, version, author_id, created_at, updated_at, ",
    matter_key_sql!("notes.matter_id")
);

pub async fn create(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    kind: &str,
    privileged: bool,
    body: &str,
    now: OffsetDateTime,
) -> Result<Note, StoreError> {
    let id = Uuid::new_v4();
    let key = id.to_string();
    let sealed =
        tx.matter_key(&access.matter().to_string()).await?.seal(body_field(&key), body.as_bytes())?;
    sqlx::query(
        "INSERT INTO notes (id, matter_id, kind, privileged, body_sealed, version, author_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
    )
    .bind(&key)
    .bind(access.matter().to_string())
    .bind(kind)
    .bind(i64::from(privileged))
    .bind(sealed)
    .bind(access.user().to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    search::index_new(tx, Kind::Note, id, access.matter(), body).await?;
    // As a read would give it back: times kept to the millisecond.
    let at = from_unix_millis(unix_millis(now));
    Ok(Note {
        id,
        matter_id: access.matter(),
        kind: kind.to_owned(),
        privileged,
        body: body.to_owned(),
        version: 1,
        author_id: access.user(),
        created_at: at,
        updated_at: at,
    })
}

/// The matter a note belongs to, so the caller's access to that matter can be checked
/// before anything of the note is read. Reveals nothing but the id.
pub async fn matter_of(tx: &mut FirmTx, note: Uuid) -> Result<Option<Uuid>, StoreError> {
    let matter: Option<String> =
        sqlx::query_scalar("SELECT matter_id FROM notes WHERE id = $1 AND deleted_at IS NULL")
            .bind(note.to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(matter.and_then(|m| m.parse().ok()))
}

/// [`matter_of`] for a note deleted or not: what restoring one checks access on.
pub async fn matter_of_any(tx: &mut FirmTx, note: Uuid) -> Result<Option<Uuid>, StoreError> {
    let matter: Option<String> = sqlx::query_scalar("SELECT matter_id FROM notes WHERE id = $1")
        .bind(note.to_string())
        .fetch_optional(tx.conn())
        .await?;
    Ok(matter.and_then(|m| m.parse().ok()))
}

/// Where a page of a matter's notes starts: after the note created at `created_at` (unix
/// milliseconds) with id `id`, in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotesAfter {
    pub created_at: i64,
    pub id: Uuid,
}

impl NotesAfter {
    pub fn of(note: &Note) -> Self {
        Self { created_at: unix_millis(note.created_at), id: note.id }
    }
}

/// Every note of the matter, oldest first.
pub async fn list(tx: &mut FirmTx, access: &MatterAccess<ReadContent>) -> Result<Vec<Note>, StoreError> {
    list_page(tx, access, None, i64::MAX).await
}

/// Up to `limit` notes of the matter after `after`, oldest first.
pub async fn list_page(
    tx: &mut FirmTx,
    access: &MatterAccess<ReadContent>,
    after: Option<NotesAfter>,
    limit: i64,
) -> Result<Vec<Note>, StoreError> {
    let (created_at, id) = after.map_or((i64::MIN, String::new()), |a| (a.created_at, a.id.to_string()));
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notes WHERE matter_id = $1 AND deleted_at IS NULL
           AND (created_at > $2 OR (created_at = $2 AND id > $3))
         ORDER BY created_at, id LIMIT $4"
    )))
    .bind(access.matter().to_string())
    .bind(created_at)
    .bind(id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| note_from(tx, row)).collect()
}

pub async fn get<A: ReadsContent>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
    note: Uuid,
) -> Result<Option<Note>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notes WHERE id = $1 AND matter_id = $2 AND deleted_at IS NULL"
    )))
    .bind(note.to_string())
    .bind(access.matter().to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|row| note_from(tx, &row)).transpose()
}

/// A note's text as it read before an edit: who wrote that text (the note's author for the
/// first, else whoever made the edit before it) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierVersion {
    pub version: i64,
    pub body: String,
    pub written_by: UserId,
    pub written_at: OffsetDateTime,
}

/// A live note's earlier versions, newest first, opened.
pub async fn history<A: ReadsContent>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
    note: Uuid,
) -> Result<Vec<EarlierVersion>, StoreError> {
    let sql = concat!(
        "SELECT h.version, h.body_sealed,
                CASE WHEN h.version = 1 THEN n.author_id
                     ELSE (SELECT edited_by FROM note_versions p WHERE p.note_id = n.id AND p.version = h.version - 1)
                END AS written_by,
                CASE WHEN h.version = 1 THEN n.created_at
                     ELSE (SELECT edited_at FROM note_versions p WHERE p.note_id = n.id AND p.version = h.version - 1)
                END AS written_at, ",
        matter_key_sql!("n.matter_id"),
        " FROM note_versions h JOIN notes n ON n.id = h.note_id
         WHERE n.id = $1 AND n.matter_id = $2 AND n.deleted_at IS NULL
         ORDER BY h.version DESC"
    );
    let (id, matter) = (note.to_string(), access.matter().to_string());
    let rows = sqlx::query(sql).bind(&id).bind(&matter).fetch_all(tx.conn()).await?;
    rows.iter()
        .map(|row| {
            let key = tx.matter_key_in(&matter, row)?;
            let sealed: Vec<u8> = row.try_get("body_sealed")?;
            let written_by: String = row.try_get("written_by")?;
            Ok(EarlierVersion {
                version: row.try_get("version")?,
                body: String::from_utf8_lossy(&tx.open_content(key.as_deref(), body_field(&id), &sealed)?)
                    .into_owned(),
                written_by: written_by.parse().map_err(|_| decode("written_by"))?,
                written_at: from_unix_millis(row.try_get("written_at")?),
            })
        })
        .collect()
}

/// A note as stored, for a search result opened later.
pub struct SealedNote {
    pub id: Uuid,
    pub kind: String,
    pub privileged: bool,
    /// `None` when the body is larger than was asked for.
    pub body: Option<SealedText>,
}

/// A note with its body still sealed, the body only if its ciphertext is at most
/// `max_body` bytes (so a caller can bound what it will open).
pub async fn sealed<A: ReadsContent>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
    note: Uuid,
    max_body: usize,
) -> Result<Option<SealedNote>, StoreError> {
    let row = sqlx::query(
        concat!(
            "SELECT id, kind, privileged, CASE WHEN LENGTH(body_sealed) <= $3 THEN body_sealed END AS body_sealed, ",
            matter_key_sql!("notes.matter_id"),
            " FROM notes WHERE id = $1 AND matter_id = $2 AND deleted_at IS NULL"
        ),
    )
    .bind(note.to_string())
    .bind(access.matter().to_string())
    .bind(i64::try_from(max_body).unwrap_or(i64::MAX))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let privileged: i64 = row.try_get("privileged")?;
    let key = tx.matter_key_in(&access.matter().to_string(), &row)?;
    Ok(Some(SealedNote {
        body: row
            .try_get::<Option<Vec<u8>>, _>("body_sealed")?
            .map(|b| SealedText::new(key, "notes", &id, "body", b)),
        id: id.parse().map_err(|_| decode("id"))?,
        kind: row.try_get("kind")?,
        privileged: privileged == 1,
    }))
}

/// Replaces the body, keeping the old one as a version. False if there is no such note.
pub async fn update(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    note: Uuid,
    body: Option<&str>,
    privileged: Option<bool>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let key = note.to_string();
    // Held until the edit commits: the body read here is the one kept as the earlier
    // version, so no other edit, nor the matter key migration re-sealing it, may come between.
    let lock = crate::backend::rows_held(tx.conn());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT body_sealed, version FROM notes WHERE id = $1 AND matter_id = $2 AND deleted_at IS NULL {lock}"
    )))
    .bind(&key)
    .bind(access.matter().to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(false) };
    let version: i64 = row.try_get("version")?;
    if let Some(body) = body {
        let old: Vec<u8> = row.try_get("body_sealed")?;
        // The old body moves to note_versions still sealed under its own note's binding.
        sqlx::query(
            "INSERT INTO note_versions (note_id, version, body_sealed, edited_by, edited_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key)
        .bind(version)
        .bind(old)
        .bind(access.user().to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
        let sealed =
            tx.matter_key(&access.matter().to_string()).await?.seal(body_field(&key), body.as_bytes())?;
        sqlx::query(
            "UPDATE notes SET body_sealed = $2, version = version + 1, updated_at = $3 WHERE id = $1",
        )
        .bind(&key)
        .bind(sealed)
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
        search::index(tx, Kind::Note, note, access.matter(), body).await?;
    }
    if let Some(privileged) = privileged {
        sqlx::query("UPDATE notes SET privileged = $2, updated_at = $3 WHERE id = $1")
            .bind(&key)
            .bind(i64::from(privileged))
            .bind(unix_millis(now))
            .execute(tx.conn())
            .await?;
    }
    Ok(true)
}

pub async fn delete(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    note: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE notes SET deleted_at = $3 WHERE id = $1 AND matter_id = $2 AND deleted_at IS NULL",
    )
    .bind(note.to_string())
    .bind(access.matter().to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    search::forget(tx, Kind::Note, note).await?;
    Ok(done.rows_affected() == 1)
}

/// Brings a deleted note back within the firm's grace period, and into the search index.
/// `None` when the matter has no such note.
pub async fn restore(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    note: Uuid,
    now: OffsetDateTime,
) -> Result<Option<Restore>, StoreError> {
    let key = note.to_string();
    let matter = access.matter().to_string();
    let done = super::deletion::restore_row(tx, "notes", "id = $1 AND matter_id = $2", &[&key, &matter], now)
        .await?;
    if done == Some(Restore::Restored) {
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT body_sealed FROM notes WHERE id = $1")
            .bind(&key)
            .fetch_one(tx.conn())
            .await?;
        let matter_key = tx.matter_key(&matter).await?;
        let body = zeroize::Zeroizing::new(
            String::from_utf8_lossy(&tx.open_content(Some(&matter_key), body_field(&key), &sealed)?)
                .into_owned(),
        );
        search::index(tx, Kind::Note, note, access.matter(), &body).await?;
    }
    Ok(done)
}
