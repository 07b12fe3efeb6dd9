//! Matters, their members and ethical walls. Reads and writes of a matter take a
//! [`MatterAccess`]; the caller's own list is fenced in SQL by membership and walls.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::Restore;
use ringfence_core::ids::UserId;
use ringfence_core::matter::{self as policy, MatterAction, MatterRole};
use ringfence_crypto::{FieldRef, MatterKey};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{
    AccessHistory, Edit, Lifecycle, ManageMembers, ManageWalls, ManagesTeam, MatterAccess, SeesMatter,
    screened,
};
use super::legal_holds::held_since_sql;
use super::search::{self, Kind};
use super::{FirmTx, SealedText, matter_key_sql};
use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matter {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub client_id: Uuid,
    pub description: Option<String>,
    pub status: String,
    pub opened_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    /// Since when a legal hold keeps it, its own or its client's; `None` when none does.
    pub held_since: Option<OffsetDateTime>,
}

fn field<'a>(id: &'a str, name: &'a str) -> FieldRef<'a> {
    FieldRef { table: "matters", record: id, field: name }
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("matters.{what}").into()))
}

fn open_text(
    tx: &FirmTx,
    key: Option<&MatterKey>,
    id: &str,
    name: &str,
    sealed: &[u8],
) -> Result<String, StoreError> {
    Ok(String::from_utf8_lossy(&tx.open_content(key, field(id, name), sealed)?).into_owned())
}

fn matter_from(tx: &FirmTx, row: &AnyRow) -> Result<Matter, StoreError> {
    let id: String = row.try_get("id")?;
    let key = tx.matter_key_in(&id, row)?;
    let key = key.as_deref();
    let client: String = row.try_get("client_id")?;
    let title: Vec<u8> = row.try_get("title_sealed")?;
    let description: Option<Vec<u8>> = row.try_get("description_sealed")?;
    let closed: Option<i64> = row.try_get("closed_at")?;
    let deleted: Option<i64> = row.try_get("deleted_at")?;
    let held: Option<i64> = row.try_get("held_since")?;
    Ok(Matter {
        title: open_text(tx, key, &id, "title", &title)?,
        description: description.map(|d| open_text(tx, key, &id, "description", &d)).transpose()?,
        id: id.parse().map_err(|_| decode("id"))?,
        number: row.try_get("number")?,
        client_id: client.parse().map_err(|_| decode("client_id"))?,
        status: row.try_get("status")?,
        opened_at: from_unix_millis(row.try_get("opened_at")?),
        closed_at: closed.map(from_unix_millis),
        deleted_at: deleted.map(from_unix_millis),
        held_since: held.map(from_unix_millis),
    })
}

const COLUMNS: &str = concat!(
    "m.id, m.number, m.title_sealed, m.client_id, m.description_sealed, m.status, m.opened_at, m.closed_at, m.deleted_at, ",
    held_since_sql!(),
    " AS held_since, ",
    matter_key_sql!("m.id")
);

/// Creates a matter with `creator` as its lead. `prefix` starts the human number
/// (`ACME-2026-0042`); numbers are unique per firm and counted per year.
pub async fn create(
    tx: &mut FirmTx,
    prefix: &str,
    title: &str,
    client: Uuid,
    description: Option<&str>,
    creator: UserId,
    now: OffsetDateTime,
) -> Result<(Uuid, String), StoreError> {
    let year = i64::from(now.year());
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO matter_numbers (year, last) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last = matter_numbers.last + 1 RETURNING last",
    )
    .bind(year)
    .fetch_one(tx.conn())
    .await?;
    let number = format!("{prefix}-{year}-{next:04}");
    let id = Uuid::new_v4();
    let key = id.to_string();
    let (matter_key, matter_key_sealed) = tx.new_matter_key(&key)?;
    let title_sealed = matter_key.seal(field(&key, "title"), title.as_bytes())?;
    let description_sealed =
        description.map(|d| matter_key.seal(field(&key, "description"), d.as_bytes())).transpose()?;
    sqlx::query(
        "INSERT INTO matters (id, number, title_sealed, client_id, description_sealed, status, opened_at, created_by)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
    )
    .bind(&key)
    .bind(&number)
    .bind(title_sealed)
    .bind(client.to_string())
    .bind(description_sealed)
    .bind(unix_millis(now))
    .bind(creator.to_string())
    .execute(tx.conn())
    .await?;
    set_member_unchecked(tx, id, creator, MatterRole::Lead, creator, now).await?;
    // After the membership: row security lets only those who see a matter store its key.
    tx.insert_matter_key(matter_key, &matter_key_sealed, now).await?;
    super::clients::note_first_matter(tx, client, now).await?;
    search::index_new(tx, Kind::Matter, id, id, &format!("{title}\n{}", description.unwrap_or_default()))
        .await?;
    Ok((id, number))
}

/// The matter as the caller may see it: its description is content, so it is left out
/// (`None`) unless the same check found that the caller may read the matter's content.
pub async fn get<A: SeesMatter>(tx: &mut FirmTx, access: &MatterAccess<A>) -> Result<Matter, StoreError> {
    let mut matter = fetch(tx, access.matter()).await?.ok_or_else(|| decode("id"))?;
    if !access.reads_content() {
        matter.description = None;
    }
    Ok(matter)
}

async fn fetch(tx: &mut FirmTx, id: Uuid) -> Result<Option<Matter>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM matters m WHERE m.id = $1")))
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    row.map(|row| matter_from(tx, &row)).transpose()
}

/// A matter's title and description as stored, for a search result opened later.
pub struct SealedMatter {
    pub title: SealedText,
    pub description: Option<SealedText>,
}

/// The sealed title and description of a matter the caller may see; the description (content)
/// only where the same check found the caller may read content.
pub async fn sealed<A: SeesMatter>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
) -> Result<SealedMatter, StoreError> {
    let id = access.matter().to_string();
    let row = sqlx::query(concat!(
        "SELECT title_sealed, description_sealed, ",
        matter_key_sql!("id"),
        " FROM matters WHERE id = $1"
    ))
    .bind(&id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| decode("id"))?;
    let key = tx.matter_key_in(&id, &row)?;
    Ok(SealedMatter {
        title: SealedText::new(key.clone(), "matters", &id, "title", row.try_get("title_sealed")?),
        description: row
            .try_get::<Option<Vec<u8>>, _>("description_sealed")?
            .filter(|_| access.reads_content())
            .map(|d| SealedText::new(key, "matters", &id, "description", d)),
    })
}

/// The matters `user` holds a role on and is not walled from (on the matter or its
/// client): the fence is in the query. Descriptions only where the role reads content.
pub async fn list_mine(tx: &mut FirmTx, user: UserId) -> Result<Vec<Matter>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, mm.role FROM matters m
         JOIN matter_members mm ON mm.matter_id = m.id AND mm.user_id = $1
         WHERE m.deleted_at IS NULL AND NOT {}
         ORDER BY m.number",
        screened("m.id", "$1")
    )))
    .bind(user.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            let role: MatterRole = role.parse().map_err(|_| decode("role"))?;
            let mut matter = matter_from(tx, row)?;
            if !policy::role_allows(role, MatterAction::ReadContent) {
                matter.description = None;
            }
            Ok(matter)
        })
        .collect()
}

pub async fn update(
    tx: &mut FirmTx,
    access: &MatterAccess<Edit>,
    title: Option<&str>,
    description: Option<&str>,
) -> Result<(), StoreError> {
    let key = access.matter().to_string();
    let matter_key = tx.matter_key(&key).await?;
    if let Some(title) = title {
        let sealed = matter_key.seal(field(&key, "title"), title.as_bytes())?;
        sqlx::query("UPDATE matters SET title_sealed = $2 WHERE id = $1")
            .bind(&key)
            .bind(sealed)
            .execute(tx.conn())
            .await?;
    }
    if let Some(description) = description {
        let sealed = matter_key.seal(field(&key, "description"), description.as_bytes())?;
        sqlx::query("UPDATE matters SET description_sealed = $2 WHERE id = $1")
            .bind(&key)
            .bind(sealed)
            .execute(tx.conn())
            .await?;
    }
    let matter = fetch(tx, access.matter()).await?.ok_or_else(|| decode("id"))?;
    let text = format!("{}\n{}", matter.title, matter.description.unwrap_or_default());
    search::index(tx, Kind::Matter, access.matter(), access.matter(), &text).await
}

pub async fn close(
    tx: &mut FirmTx,
    access: &MatterAccess<Lifecycle>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE matters SET status = 'closed', closed_at = $2 WHERE id = $1 AND deleted_at IS NULL AND status = 'open'")
        .bind(access.matter().to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Opens a closed matter again: it is no longer closed, so retention no longer runs on it
/// (a notice of its coming deletion is forgotten).
pub async fn reopen(tx: &mut FirmTx, access: &MatterAccess<Lifecycle>) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE matters SET status = 'open', closed_at = NULL WHERE id = $1 AND deleted_at IS NULL AND status = 'closed'",
    )
    .bind(access.matter().to_string())
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    super::retention::forget_notice(tx, access.matter()).await?;
    Ok(true)
}

pub async fn soft_delete(
    tx: &mut FirmTx,
    access: &MatterAccess<Lifecycle>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE matters SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(access.matter().to_string())
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Restores a deleted matter within the firm's grace period.
pub async fn restore(
    tx: &mut FirmTx,
    access: &MatterAccess<Lifecycle>,
    now: OffsetDateTime,
) -> Result<Restore, StoreError> {
    let key = access.matter().to_string();
    let done = super::deletion::restore_row(tx, "matters", "id = $1", &[&key], now).await?;
    done.ok_or_else(|| decode("id"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub role: MatterRole,
    pub granted_at: OffsetDateTime,
}

/// Who is walled off from the matter, for those who manage its team.
pub async fn walled<A: ManagesTeam>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT user_id FROM matter_walls WHERE matter_id = $1 ORDER BY user_id")
            .bind(access.matter().to_string())
            .fetch_all(tx.conn())
            .await?;
    ids.iter().map(|id| id.parse().map_err(|_| decode("matter_walls.user_id"))).collect()
}

/// The members no wall screens from the matter: those who may be told about it.
pub async fn unscreened_members<A: ManagesTeam>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
) -> Result<Vec<Member>, StoreError> {
    let sql = format!(
        "SELECT user_id FROM matter_members WHERE matter_id = $1 AND NOT {}",
        screened("$1", "matter_members.user_id")
    );
    let open: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(access.matter().to_string())
        .fetch_all(tx.conn())
        .await?;
    Ok(members(tx, access).await?.into_iter().filter(|m| open.contains(&m.user_id.to_string())).collect())
}

/// Who a wall on the matter's client screens from it, for those who manage its team.
pub async fn walled_by_client<A: ManagesTeam>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT cw.user_id FROM client_walls cw JOIN matters m ON m.client_id = cw.client_id
         WHERE m.id = $1 AND cw.lifted_at IS NULL ORDER BY cw.user_id",
    )
    .bind(access.matter().to_string())
    .fetch_all(tx.conn())
    .await?;
    ids.iter().map(|id| id.parse().map_err(|_| decode("client_walls.user_id"))).collect()
}

pub async fn members<A: ManagesTeam>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
) -> Result<Vec<Member>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id, role, granted_at FROM matter_members WHERE matter_id = $1 ORDER BY granted_at",
    )
    .bind(access.matter().to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let user: String = row.try_get("user_id")?;
            let role: String = row.try_get("role")?;
            Ok(Member {
                user_id: user.parse().map_err(|_| decode("member"))?,
                role: role.parse().map_err(|_| decode("role"))?,
                granted_at: from_unix_millis(row.try_get("granted_at")?),
            })
        })
        .collect()
}

async fn set_member_unchecked(
    tx: &mut FirmTx,
    matter: Uuid,
    user: UserId,
    role: MatterRole,
    by: UserId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    // Recorded first, while the one changing it still holds the right to (see the PostgreSQL
    // policies): a lead may be stepping down.
    note_history(tx, matter, user, "role", Some(role), by, now).await?;
    sqlx::query(
        "INSERT INTO matter_members (matter_id, user_id, role, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (matter_id, user_id) DO UPDATE SET role = $3, granted_by = $4, granted_at = $5",
    )
    .bind(matter.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Adds a line to the matter's access history.
async fn note_history(
    tx: &mut FirmTx,
    matter: Uuid,
    user: UserId,
    change: &str,
    role: Option<MatterRole>,
    by: UserId,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO matter_access_history (id, matter_id, user_id, change, role, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(matter.to_string())
    .bind(user.to_string())
    .bind(change)
    .bind(role.map(MatterRole::as_str))
    .bind(by.to_string())
    .bind(unix_millis(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_member(
    tx: &mut FirmTx,
    access: &MatterAccess<ManageMembers>,
    user: UserId,
    role: MatterRole,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    set_member_unchecked(tx, access.matter(), user, role, access.user(), now).await
}

pub async fn remove_member(
    tx: &mut FirmTx,
    access: &MatterAccess<ManageMembers>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let present: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM matter_members WHERE matter_id = $1 AND user_id = $2")
            .bind(access.matter().to_string())
            .bind(user.to_string())
            .fetch_one(tx.conn())
            .await?;
    if present == 0 {
        return Ok(false);
    }
    note_history(tx, access.matter(), user, "removed", None, access.user(), now).await?;
    sqlx::query("DELETE FROM matter_members WHERE matter_id = $1 AND user_id = $2")
        .bind(access.matter().to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(true)
}

pub async fn count_leads(tx: &mut FirmTx, access: &MatterAccess<ManageMembers>) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM matter_members WHERE matter_id = $1 AND role = 'lead'")
        .bind(access.matter().to_string())
        .fetch_one(tx.conn())
        .await?)
}

/// Places a wall; false when one already stands (nothing changes then). Recorded in the
/// history first, while the one placing it still manages the matter: an administrator may
/// be screening itself.
pub async fn place_wall(
    tx: &mut FirmTx,
    access: &MatterAccess<ManageWalls>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    // Two administrators placing the same wall at once: one places it, the other finds it.
    let placed = sqlx::query(
        "INSERT INTO matter_walls (matter_id, user_id, placed_by, placed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (matter_id, user_id) DO NOTHING",
    )
    .bind(access.matter().to_string())
    .bind(user.to_string())
    .bind(access.user().to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    if placed.rows_affected() == 0 {
        return Ok(false);
    }
    note_history(tx, access.matter(), user, "walled", None, access.user(), now).await?;
    Ok(true)
}

pub async fn remove_wall(
    tx: &mut FirmTx,
    access: &MatterAccess<ManageWalls>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM matter_walls WHERE matter_id = $1 AND user_id = $2")
        .bind(access.matter().to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    note_history(tx, access.matter(), user, "unwalled", None, access.user(), now).await?;
    Ok(true)
}

/// Someone who could read the matter's content at a moment, and who gave them that role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub user_id: UserId,
    pub role: MatterRole,
    pub granted_by: UserId,
    pub granted_at: OffsetDateTime,
}

/// Who could read the matter's content at `at`: the history replayed up to that moment.
pub async fn readers_at(
    tx: &mut FirmTx,
    access: &MatterAccess<AccessHistory>,
    at: OffsetDateTime,
) -> Result<Vec<Reader>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id, change, role, changed_by, changed_at FROM matter_access_history
         WHERE matter_id = $1 AND changed_at <= $2 ORDER BY changed_at, id",
    )
    .bind(access.matter().to_string())
    .bind(unix_millis(at))
    .fetch_all(tx.conn())
    .await?;
    let mut roles: std::collections::BTreeMap<String, Reader> = std::collections::BTreeMap::new();
    let mut walled: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for row in &rows {
        let user: String = row.try_get("user_id")?;
        let change: String = row.try_get("change")?;
        match change.as_str() {
            "role" => {
                let role: Option<String> = row.try_get("role")?;
                let by: String = row.try_get("changed_by")?;
                let reader = Reader {
                    user_id: user.parse().map_err(|_| decode("history.user_id"))?,
                    role: role.and_then(|r| r.parse().ok()).ok_or_else(|| decode("history.role"))?,
                    granted_by: by.parse().map_err(|_| decode("history.changed_by"))?,
                    granted_at: from_unix_millis(row.try_get("changed_at")?),
                };
                roles.insert(user, reader);
            }
            "removed" => {
                roles.remove(&user);
            }
            "walled" => {
                walled.insert(user);
            }
            "unwalled" => {
                walled.remove(&user);
            }
            _ => return Err(decode("history.change")),
        }
    }
    // Walls on the matter's client standing at that moment screen as well.
    let by_client: Vec<String> = sqlx::query_scalar(
        "SELECT cw.user_id FROM client_walls cw JOIN matters m ON m.client_id = cw.client_id
         WHERE m.id = $1 AND cw.placed_at <= $2 AND (cw.lifted_at IS NULL OR cw.lifted_at > $2)",
    )
    .bind(access.matter().to_string())
    .bind(unix_millis(at))
    .fetch_all(tx.conn())
    .await?;
    walled.extend(by_client);
    let readable = |reader: &Reader| policy::role_allows(reader.role, MatterAction::ReadContent);
    Ok(roles
        .into_iter()
        .filter(|(user, reader)| !walled.contains(user) && readable(reader))
        .map(|(_, r)| r)
        .collect())
}

/// One line of the administrators' matter directory: no content beyond the title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub status: String,
    pub lead: Option<UserId>,
}

/// Every live matter that no wall screens `viewer` from, for firm administrators managing
/// memberships (the route's policy is the admin role). A matter an administrator is walled
/// from is not in its directory at all.
pub async fn directory(tx: &mut FirmTx, viewer: UserId) -> Result<Vec<DirectoryEntry>, StoreError> {
    directory_rows(tx, None, viewer).await
}

/// One matter's directory line, for those managing its team.
pub async fn directory_entry<A: ManagesTeam>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
) -> Result<DirectoryEntry, StoreError> {
    directory_rows(tx, Some(access.matter()), access.user()).await?.pop().ok_or_else(|| decode("id"))
}

async fn directory_rows(
    tx: &mut FirmTx,
    only: Option<Uuid>,
    viewer: UserId,
) -> Result<Vec<DirectoryEntry>, StoreError> {
    let sql = format!(
        "SELECT m.id, m.number, m.title_sealed, m.status, {},
                (SELECT user_id FROM matter_members WHERE matter_id = m.id AND role = 'lead' ORDER BY granted_at LIMIT 1) AS lead
         FROM matters m WHERE m.deleted_at IS NULL AND ($1 IS NULL OR m.id = $1) AND NOT {} ORDER BY m.number",
        matter_key_sql!("m.id"),
        screened("m.id", "$2")
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(only.map(|id| id.to_string()))
        .bind(viewer.to_string())
        .fetch_all(tx.conn())
        .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let title: Vec<u8> = row.try_get("title_sealed")?;
            let lead: Option<String> = row.try_get("lead")?;
            let key = tx.matter_key_in(&id, row)?;
            Ok(DirectoryEntry {
                title: open_text(tx, key.as_deref(), &id, "title", &title)?,
                id: id.parse().map_err(|_| decode("id"))?,
                number: row.try_get("number")?,
                status: row.try_get("status")?,
                lead: lead.and_then(|l| l.parse().ok()),
            })
        })
        .collect()
}

/// The matter's human number, for those managing its members (it is in their directory).
pub async fn number<A: ManagesTeam>(tx: &mut FirmTx, access: &MatterAccess<A>) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar("SELECT number FROM matters WHERE id = $1")
        .bind(access.matter().to_string())
        .fetch_one(tx.conn())
        .await?)
}
