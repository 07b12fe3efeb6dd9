//! The purge ledger: a line for every purge for good of a firm's soft-deleted thing, ids
//! and dates only, so that a firm store restored from an older backup can have every later
//! purge re-applied (`Storage::replay_purges`).

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::DeletedKind;
use ringfence_core::ids::FirmId;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// One purge: what was destroyed, the blobs with it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub kind: DeletedKind,
    pub id: Uuid,
    pub blobs: Vec<Uuid>,
    pub deleted_at: OffsetDateTime,
    pub purged_at: OffsetDateTime,
}

impl Purged {
    pub(crate) fn blob_list(&self) -> String {
        self.blobs.iter().map(Uuid::to_string).collect::<Vec<_>>().join(" ")
    }

    pub(crate) fn parse_blobs(raw: &str) -> Result<Vec<Uuid>, StoreError> {
        raw.split_whitespace().map(|b| b.parse().map_err(|_| invalid("blobs"))).collect()
    }
}

fn invalid(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("purge_ledger.{what} holds an invalid value").into()))
}

/// Writes a purge's line; writing it again changes nothing.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    firm: FirmId,
    purged: &Purged,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO purge_ledger (firm_id, kind, object_id, blobs, deleted_at, purged_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (firm_id, kind, object_id) DO NOTHING",
    )
    .bind(firm.to_string())
    .bind(purged.kind.as_str())
    .bind(purged.id.to_string())
    .bind(purged.blob_list())
    .bind(unix_millis(purged.deleted_at))
    .bind(unix_millis(purged.purged_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// The firm's purges recorded after `since`, oldest first.
pub(crate) async fn since(
    conn: &mut AnyConnection,
    firm: FirmId,
    since: OffsetDateTime,
) -> Result<Vec<Purged>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, object_id, blobs, deleted_at, purged_at FROM purge_ledger
         WHERE firm_id = $1 AND purged_at > $2 ORDER BY purged_at, kind, object_id",
    )
    .bind(firm.to_string())
    .bind(unix_millis(since))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let id: String = row.try_get("object_id")?;
            let blobs: String = row.try_get("blobs")?;
            Ok(Purged {
                kind: DeletedKind::parse(&kind).ok_or_else(|| invalid("kind"))?,
                id: id.parse().map_err(|_| invalid("object_id"))?,
                blobs: Purged::parse_blobs(&blobs)?,
                deleted_at: from_unix_millis(row.try_get("deleted_at")?),
                purged_at: from_unix_millis(row.try_get("purged_at")?),
            })
        })
        .collect()
}
