//! Firms, their wrapped keys and the email → firm directory.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::firm::{Firm, FirmName, FirmSlug, FirmStanding};
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::user::Email;
use ringfence_crypto::{KeyVersion, WrappedFirmKey};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

pub(crate) async fn insert_firm(conn: &mut AnyConnection, firm: &Firm) -> Result<(), StoreError> {
    if super::terminations::slug_retired(conn, &firm.slug).await? {
        return Err(StoreError::SlugRetired(firm.slug.to_string()));
    }
    sqlx::query("INSERT INTO firms (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(firm.id.to_string())
        .bind(firm.slug.as_str())
        .bind(firm.name.as_str())
        .bind(unix_millis(firm.created_at))
        .execute(conn)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::SlugTaken(firm.slug.to_string())
            } else {
                e.into()
            }
        })?;
    Ok(())
}

/// The id `firm`'s keys, sealed values, documents and audit chain are bound to: its own,
/// or for a copy restored beside its original, the original's.
pub(crate) async fn sealed_as(conn: &mut AnyConnection, firm: FirmId) -> Result<FirmId, StoreError> {
    let sealed_as: Option<Option<String>> = sqlx::query_scalar("SELECT sealed_as FROM firms WHERE id = $1")
        .bind(firm.to_string())
        .fetch_optional(conn)
        .await?;
    match sealed_as.flatten() {
        Some(original) => original
            .parse()
            .map_err(|_| sqlx::Error::Decode("firms.sealed_as holds an invalid value".into()).into()),
        None => Ok(firm),
    }
}

/// What a firm's wrapped keys are bound to: its own id, or for a copy, its id and its
/// original's, so that a key row moved to another firm, or a `sealed_as` set by hand,
/// opens nothing.
pub(crate) fn wrap_context(firm: FirmId, sealed_as: FirmId) -> String {
    if firm == sealed_as { firm.to_string() } else { format!("{sealed_as} copied as {firm}") }
}

/// Holds `firm`'s row until the transaction ends (PostgreSQL; a SQLite write transaction
/// holds the whole store): a shred and a copy of one firm do not pass each other.
pub(crate) async fn hold(conn: &mut AnyConnection, firm: FirmId) -> Result<(), StoreError> {
    let postgres = conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME;
    let sql = if postgres {
        "SELECT id FROM firms WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM firms WHERE id = $1"
    };
    sqlx::query(sql).bind(firm.to_string()).fetch_optional(conn).await?;
    Ok(())
}

/// Refuses when firms restored as copies of `firm` stand: they hold its keys.
pub(crate) async fn no_copies(conn: &mut AnyConnection, firm: FirmId) -> Result<(), StoreError> {
    let copies: Vec<String> = sqlx::query_scalar("SELECT slug FROM firms WHERE sealed_as = $1 ORDER BY slug")
        .bind(firm.to_string())
        .fetch_all(conn)
        .await?;
    if copies.is_empty() { Ok(()) } else { Err(StoreError::CopiesRemain(copies)) }
}

pub(crate) async fn set_sealed_as(
    conn: &mut AnyConnection,
    firm: FirmId,
    sealed_as: FirmId,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE firms SET sealed_as = $1 WHERE id = $2")
        .bind(sealed_as.to_string())
        .bind(firm.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert_key(
    conn: &mut AnyConnection,
    firm: FirmId,
    version: KeyVersion,
    wrapped: &WrappedFirmKey,
    created_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO firm_keys (firm_id, version, master_key_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(firm.to_string())
    .bind(i64::from(version.0))
    .bind(&wrapped.master_key_id)
    .bind(&wrapped.ciphertext)
    .bind(created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn wrapped_keys(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<Vec<(KeyVersion, WrappedFirmKey)>, StoreError> {
    let rows = sqlx::query(
        "SELECT version, master_key_id, wrapped FROM firm_keys WHERE firm_id = $1 ORDER BY version",
    )
    .bind(firm.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let version: i64 = row.try_get("version")?;
            let version = KeyVersion(u32::try_from(version).map_err(|e| sqlx::Error::Decode(e.into()))?);
            let wrapped = WrappedFirmKey {
                master_key_id: row.try_get("master_key_id")?,
                ciphertext: row.try_get("wrapped")?,
            };
            Ok((version, wrapped))
        })
        .collect()
}

/// The newest key version of a firm, if it has any.
pub(crate) async fn latest_key_version(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<Option<KeyVersion>, StoreError> {
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM firm_keys WHERE firm_id = $1")
        .bind(firm.to_string())
        .fetch_one(conn)
        .await?;
    version
        .map(|v| u32::try_from(v).map(KeyVersion).map_err(|e| sqlx::Error::Decode(e.into()).into()))
        .transpose()
}

/// The firm's newest key version (none once its keys are destroyed) and its standing, in
/// one statement: what every server asks about each open firm every few seconds.
pub(crate) async fn status(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<(Option<KeyVersion>, FirmStanding), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT MAX(version) FROM firm_keys WHERE firm_id = $1) AS latest, t.terminated_at, t.shred_after,
                (SELECT suspended_at FROM firms WHERE id = $1) AS suspended_at
         FROM (SELECT 1 AS one) AS probe LEFT JOIN firm_terminations t ON t.firm_id = $1",
    )
    .bind(firm.to_string())
    .fetch_one(conn)
    .await?;
    let latest: Option<i64> = row.try_get("latest")?;
    let latest = latest
        .map(|v| u32::try_from(v).map(KeyVersion).map_err(|e| sqlx::Error::Decode(e.into())))
        .transpose()?;
    let standing = super::terminations::standing_from(&row)?;
    Ok((latest, standing))
}

/// Marks the firm suspended since `since` (unix milliseconds), or not (`None`).
pub(crate) async fn set_suspended(
    conn: &mut AnyConnection,
    id: FirmId,
    since: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE firms SET suspended_at = $1 WHERE id = $2")
        .bind(since)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces one wrapped key version (master key rotation).
pub(crate) async fn replace_key(
    conn: &mut AnyConnection,
    firm: FirmId,
    version: KeyVersion,
    wrapped: &WrappedFirmKey,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE firm_keys SET master_key_id = $3, wrapped = $4 WHERE firm_id = $1 AND version = $2")
        .bind(firm.to_string())
        .bind(i64::from(version.0))
        .bind(&wrapped.master_key_id)
        .bind(&wrapped.ciphertext)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn set_master_key_id(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE deployment SET master_key_id = $1 WHERE singleton = 1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest key version of a firm and when it was made.
pub(crate) async fn latest_key(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<Option<(KeyVersion, time::OffsetDateTime)>, StoreError> {
    let row = sqlx::query(
        "SELECT version, created_at FROM firm_keys WHERE firm_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(firm.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let version: i64 = row.try_get("version")?;
    let version = KeyVersion(u32::try_from(version).map_err(|e| sqlx::Error::Decode(e.into()))?);
    Ok(Some((version, from_unix_millis(row.try_get("created_at")?))))
}

/// Removes the firm's key versions older than `keep_from`: they wrap nothing any more.
pub(crate) async fn delete_keys_before(
    conn: &mut AnyConnection,
    firm: FirmId,
    keep_from: KeyVersion,
) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM firm_keys WHERE firm_id = $1 AND version < $2")
        .bind(firm.to_string())
        .bind(i64::from(keep_from.0))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn claim_email(
    conn: &mut AnyConnection,
    email: &Email,
    firm: FirmId,
    user: UserId,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO directory (email, firm_id, user_id) VALUES ($1, $2, $3)")
        .bind(email.as_str())
        .bind(firm.to_string())
        .bind(user.to_string())
        .execute(conn)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::EmailTaken(email.to_string())
            } else {
                e.into()
            }
        })?;
    Ok(())
}

pub(crate) async fn list(conn: &mut AnyConnection) -> Result<Vec<Firm>, StoreError> {
    let rows =
        sqlx::query("SELECT id, slug, name, created_at FROM firms ORDER BY slug").fetch_all(conn).await?;
    rows.iter().map(firm_from_row).collect()
}

pub(crate) async fn by_slug(conn: &mut AnyConnection, slug: &FirmSlug) -> Result<Option<Firm>, StoreError> {
    let row = sqlx::query("SELECT id, slug, name, created_at FROM firms WHERE slug = $1")
        .bind(slug.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(firm_from_row).transpose()
}

fn firm_from_row(row: &AnyRow) -> Result<Firm, StoreError> {
    let corrupt = |what: &str| sqlx::Error::Decode(format!("firms.{what} holds an invalid value").into());
    let id: String = row.try_get("id")?;
    let slug: String = row.try_get("slug")?;
    let name: String = row.try_get("name")?;
    Ok(Firm {
        id: id.parse().map_err(|_| corrupt("id"))?,
        slug: FirmSlug::parse(&slug).map_err(|_| corrupt("slug"))?,
        name: FirmName::parse(&name).map_err(|_| corrupt("name"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn record_master_key_id(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO deployment (singleton, master_key_id, created_at) VALUES (1, $1, $2)")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn release_email(conn: &mut AnyConnection, email: &Email) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM directory WHERE email = $1").bind(email.as_str()).execute(conn).await?;
    Ok(())
}

pub(crate) async fn directory_lookup(
    conn: &mut AnyConnection,
    email: &Email,
) -> Result<Option<(FirmId, UserId)>, StoreError> {
    let row = sqlx::query("SELECT firm_id, user_id FROM directory WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let decode = |what: &str| StoreError::Database(sqlx::Error::Decode(format!("directory.{what}").into()));
    let firm: String = row.try_get("firm_id")?;
    let user: String = row.try_get("user_id")?;
    Ok(Some((firm.parse().map_err(|_| decode("firm_id"))?, user.parse().map_err(|_| decode("user_id"))?)))
}

/// Where the password step of a sign-in looks, in one statement whatever the address: the
/// firm and user it belongs to, or — for an address nobody has — a stand-in firm whose
/// store is read instead, so that both cases do the same work (see the sign-in).
pub(crate) async fn sign_in_lookup(
    conn: &mut AnyConnection,
    email: &Email,
) -> Result<(Option<FirmId>, Option<UserId>), StoreError> {
    let row = sqlx::query(
        "SELECT d.firm_id AS firm_id, d.user_id AS user_id, (SELECT MIN(id) FROM firms) AS stand_in
         FROM (SELECT 1 AS one) AS probe LEFT JOIN directory d ON d.email = $1",
    )
    .bind(email.as_str())
    .fetch_one(conn)
    .await?;
    let decode = |what: &str| StoreError::Database(sqlx::Error::Decode(format!("directory.{what}").into()));
    let firm: Option<String> = row.try_get("firm_id")?;
    let user: Option<String> = row.try_get("user_id")?;
    let stand_in: Option<String> = row.try_get("stand_in")?;
    let firm = match firm.or(stand_in) {
        Some(firm) => Some(firm.parse().map_err(|_| decode("firm_id"))?),
        None => None,
    };
    let user = match user {
        Some(user) => Some(user.parse().map_err(|_| decode("user_id"))?),
        None => None,
    };
    Ok((firm, user))
}

pub(crate) async fn by_id(conn: &mut AnyConnection, id: FirmId) -> Result<Option<Firm>, StoreError> {
    let row = sqlx::query("SELECT id, slug, name, created_at FROM firms WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(firm_from_row).transpose()
}
