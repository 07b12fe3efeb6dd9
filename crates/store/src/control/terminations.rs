//! Terminated firms and the tombstones of shredded ones (see `crate::termination`).

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::firm::{FirmSlug, FirmStanding, Termination};
use ringfence_core::ids::FirmId;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::StoreError;
use crate::firm::audit::Checkpoint;

/// What is kept of a shredded firm: which firm it was, when it ended, who shredded it (and
/// why, when a legal hold was overridden), and its audit log's final signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub firm: FirmId,
    pub slug: FirmSlug,
    pub created_at: OffsetDateTime,
    pub terminated_at: OffsetDateTime,
    pub shred_started_at: OffsetDateTime,
    /// `None` while the firm's database or files may still be there (its keys are not).
    pub shredded_at: Option<OffsetDateTime>,
    /// The actor as the audit log names it: `system` (the job) or `cli`.
    pub shredded_by: String,
    pub force_reason: Option<String>,
    /// Covers the log's last entry, the shred's own.
    pub checkpoint: Checkpoint,
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    firm: FirmId,
    terminated_at: OffsetDateTime,
    shred_after: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO firm_terminations (firm_id, terminated_at, shred_after) VALUES ($1, $2, $3)")
        .bind(firm.to_string())
        .bind(unix_millis(terminated_at))
        .bind(unix_millis(shred_after))
        .execute(conn)
        .await?;
    Ok(())
}

/// The firm's standing: terminated when a termination row names it, else suspended when
/// its row says so.
pub(crate) async fn standing(conn: &mut AnyConnection, firm: FirmId) -> Result<FirmStanding, StoreError> {
    let row = sqlx::query(
        "SELECT t.terminated_at, t.shred_after, f.suspended_at
         FROM firms f LEFT JOIN firm_terminations t ON t.firm_id = f.id WHERE f.id = $1",
    )
    .bind(firm.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map_or(Ok(FirmStanding::Active), standing_from)
}

/// The standing a row of `terminated_at`, `shred_after` and `suspended_at` tells.
pub(crate) fn standing_from(row: &AnyRow) -> Result<FirmStanding, StoreError> {
    let terminated_at: Option<i64> = row.try_get("terminated_at")?;
    let suspended_at: Option<i64> = row.try_get("suspended_at")?;
    Ok(match (terminated_at, suspended_at) {
        (Some(_), _) => FirmStanding::Terminated(termination_from(row)?),
        (None, Some(since)) => FirmStanding::Suspended { since: from_unix_millis(since) },
        (None, None) => FirmStanding::Active,
    })
}

/// Ends the firm's termination, answering what it was; `None` when it was not terminated.
/// Deleting the row is what decides between a reinstatement and a shred running at the
/// same moment: only one of them finds it.
pub(crate) async fn take(conn: &mut AnyConnection, firm: FirmId) -> Result<Option<Termination>, StoreError> {
    let row =
        sqlx::query("DELETE FROM firm_terminations WHERE firm_id = $1 RETURNING terminated_at, shred_after")
            .bind(firm.to_string())
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(termination_from).transpose()
}

fn termination_from(row: &AnyRow) -> Result<Termination, StoreError> {
    Ok(Termination {
        since: from_unix_millis(row.try_get("terminated_at")?),
        shred_after: from_unix_millis(row.try_get("shred_after")?),
    })
}

pub(crate) async fn insert_tombstone(
    conn: &mut AnyConnection,
    tombstone: &Tombstone,
) -> Result<(), StoreError> {
    let checkpoint = &tombstone.checkpoint;
    sqlx::query(
        "INSERT INTO firm_tombstones (firm_id, slug, created_at, terminated_at, shred_started_at, shredded_at,
                                      shredded_by, force_reason, checkpoint_seq, checkpoint_at, checkpoint_hash,
                                      checkpoint_signature, checkpoint_key_id, checkpoint_public_key)
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(tombstone.firm.to_string())
    .bind(tombstone.slug.as_str())
    .bind(unix_millis(tombstone.created_at))
    .bind(unix_millis(tombstone.terminated_at))
    .bind(unix_millis(tombstone.shred_started_at))
    .bind(&tombstone.shredded_by)
    .bind(tombstone.force_reason.as_deref())
    .bind(checkpoint.seq)
    .bind(unix_millis(checkpoint.at))
    .bind(checkpoint.hash.to_vec())
    .bind(&checkpoint.signature)
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.public_key)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn mark_shredded(
    conn: &mut AnyConnection,
    firm: FirmId,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE firm_tombstones SET shredded_at = $2 WHERE firm_id = $1 AND shredded_at IS NULL")
        .bind(firm.to_string())
        .bind(unix_millis(at))
        .execute(conn)
        .await?;
    Ok(())
}

const TOMBSTONE_COLUMNS: &str = "firm_id, slug, created_at, terminated_at, shred_started_at, shredded_at, \
     shredded_by, force_reason, checkpoint_seq, checkpoint_at, checkpoint_hash, checkpoint_signature, \
     checkpoint_key_id, checkpoint_public_key";

pub(crate) async fn tombstone(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<Option<Tombstone>, StoreError> {
    let sql = format!("SELECT {TOMBSTONE_COLUMNS} FROM firm_tombstones WHERE firm_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(firm.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(tombstone_from).transpose()
}

pub(crate) async fn tombstone_by_slug(
    conn: &mut AnyConnection,
    slug: &FirmSlug,
) -> Result<Option<Tombstone>, StoreError> {
    let sql = format!("SELECT {TOMBSTONE_COLUMNS} FROM firm_tombstones WHERE slug = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug.as_str()).fetch_optional(conn).await?;
    row.as_ref().map(tombstone_from).transpose()
}

fn tombstone_from(row: &AnyRow) -> Result<Tombstone, StoreError> {
    let corrupt =
        |what: &str| StoreError::Database(sqlx::Error::Decode(format!("firm_tombstones.{what}").into()));
    let firm: String = row.try_get("firm_id")?;
    let slug: String = row.try_get("slug")?;
    let hash: Vec<u8> = row.try_get("checkpoint_hash")?;
    let shredded_at: Option<i64> = row.try_get("shredded_at")?;
    Ok(Tombstone {
        firm: firm.parse().map_err(|_| corrupt("firm_id"))?,
        slug: FirmSlug::parse(&slug).map_err(|_| corrupt("slug"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
        terminated_at: from_unix_millis(row.try_get("terminated_at")?),
        shred_started_at: from_unix_millis(row.try_get("shred_started_at")?),
        shredded_at: shredded_at.map(from_unix_millis),
        shredded_by: row.try_get("shredded_by")?,
        force_reason: row.try_get("force_reason")?,
        checkpoint: Checkpoint {
            seq: row.try_get("checkpoint_seq")?,
            at: from_unix_millis(row.try_get("checkpoint_at")?),
            hash: hash.try_into().map_err(|_| corrupt("checkpoint_hash"))?,
            signature: row.try_get("checkpoint_signature")?,
            key_id: row.try_get("checkpoint_key_id")?,
            public_key: row.try_get("checkpoint_public_key")?,
        },
    })
}

/// Whether a shredded firm had this slug: it is never given to another firm.
pub(crate) async fn slug_retired(conn: &mut AnyConnection, slug: &FirmSlug) -> Result<bool, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM firm_tombstones WHERE slug = $1")
        .bind(slug.as_str())
        .fetch_one(conn)
        .await?;
    Ok(count > 0)
}

/// Removes the firm's rows from the control store: its jobs, its users' addresses in the
/// directory, its keys, its support grants and the firm itself. With the keys goes every way to read its data.
pub(crate) async fn erase_firm(conn: &mut AnyConnection, firm: FirmId) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM support_sessions WHERE grant_id IN (SELECT id FROM support_grants WHERE firm_id = $1)",
    )
    .bind(firm.to_string())
    .execute(&mut *conn)
    .await?;
    for table in ["jobs", "directory", "firm_keys", "firm_terminations", "support_grants"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE firm_id = $1")))
            .bind(firm.to_string())
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("DELETE FROM firms WHERE id = $1").bind(firm.to_string()).execute(conn).await?;
    Ok(())
}
