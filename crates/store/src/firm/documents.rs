//! Documents on a matter. The bytes are sealed as they stream in ([`Upload`]) under a data
//! key of the file's own, written to the blob store, and only then recorded here with that
//! key sealed under the firm key. Reading goes the other way ([`Content`]), one span of
//! chunks at a time, and refuses any byte that fails authentication.

use std::ops::Range;
use std::sync::Arc;

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::deletion::Restore;
use ringfence_core::document::{SNIFF_LEN, Scan, sniff_content_type};
use ringfence_core::extract;
use ringfence_core::ids::{FirmId, UserId};
use ringfence_crypto::blob::{self, BlobOpener, BlobSealer, DataKey};
use ringfence_crypto::{CryptoError, FieldRef, MatterKey};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::access::{MatterAccess, ReadContent, ReadsContent, WriteContent};
use super::search::{self, Kind};
use super::{FirmTx, SealedText, matter_key_sql};
use crate::StoreError;
use crate::blobs::{BlobStore, BlobWriter};
use crate::storage::FirmStore;

/// Sealed bytes are handed to the blob store in pieces of about this size.
const WRITE_LEN: usize = 1024 * 1024;

/// Where a version's blob is bound: its firm and its own id.
fn binding(firm: &str, version: &str) -> [Vec<u8>; 2] {
    [firm.as_bytes().to_vec(), version.as_bytes().to_vec()]
}

/// A file being received: sealed and written as it arrives, in bounded memory.
pub struct Upload {
    firm: FirmId,
    version_id: Uuid,
    key: DataKey,
    sealer: BlobSealer,
    writer: BlobWriter,
    sealed: Vec<u8>,
    size: u64,
    hasher: Sha256,
    head: Vec<u8>,
}

/// A file fully received and stored, not yet recorded.
pub struct Uploaded {
    version_id: Uuid,
    key: DataKey,
    pub size: u64,
    pub sha256: [u8; 32],
    pub content_type: &'static str,
    pub name: String,
    /// The text inside it, for the search index, once [`Uploaded::set_text`] was called.
    text: Option<Zeroizing<String>>,
    /// Its name's and text's terms, once [`Uploaded::blind_terms`] has run.
    terms: Option<search::BlindTerms>,
}

impl Upload {
    pub fn start(blobs: &BlobStore, store: &FirmStore) -> Result<Self, StoreError> {
        let firm = store.id();
        let version_id = Uuid::now_v7();
        let key = DataKey::generate()?;
        let mut sealed = Vec::with_capacity(WRITE_LEN + blob::CHUNK_LEN);
        let [firm_part, version_part] = binding(&store.sealed_as().to_string(), &version_id.to_string());
        let sealer = BlobSealer::start(&key, &[&firm_part, &version_part], &mut sealed)?;
        Ok(Self {
            firm,
            version_id,
            key,
            sealer,
            writer: blobs.writer(firm, version_id),
            sealed,
            size: 0,
            hasher: Sha256::new(),
            head: Vec::with_capacity(SNIFF_LEN),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.size += bytes.len() as u64;
        self.hasher.update(bytes);
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        self.sealer.push(bytes, &mut self.sealed)?;
        if self.sealed.len() >= WRITE_LEN {
            let full = std::mem::replace(&mut self.sealed, Vec::with_capacity(WRITE_LEN + blob::CHUNK_LEN));
            self.writer.write(full).await?;
        }
        Ok(())
    }

    /// Seals the last chunk and completes the blob. `name` is the already sanitized name.
    pub async fn finish(mut self, name: String) -> Result<Uploaded, StoreError> {
        self.sealer.finish(&mut self.sealed)?;
        self.writer.write(std::mem::take(&mut self.sealed)).await?;
        self.writer.finish().await?;
        Ok(Uploaded {
            version_id: self.version_id,
            key: self.key,
            size: self.size,
            sha256: self.hasher.finalize().into(),
            content_type: sniff_content_type(&self.head),
            name,
            text: None,
            terms: None,
        })
    }

    /// Abandons the upload; nothing of it stays in the blob store.
    pub async fn abort(self) {
        if let Err(e) = self.writer.abort().await {
            tracing::warn!(firm = %self.firm, error = %e, "could not clean up an abandoned upload");
        }
    }
}

impl Uploaded {
    /// The blob it was stored as, and the key that opens it: for a record other than a
    /// document version to keep (an export's).
    pub(crate) fn stored(&self) -> (Uuid, &DataKey) {
        (self.version_id, &self.key)
    }

    /// Whether [`Self::text_source`] would read the file back: a type with text, small
    /// enough to read whole.
    pub fn has_text_source(&self) -> bool {
        extract::has_text(self.content_type) && self.size <= extract::MAX_SOURCE
    }

    /// The stored file read back, in memory and never to disk, for its text: `None` for a
    /// file of a type without text or too large to read whole.
    pub async fn text_source(
        &self,
        blobs: &BlobStore,
        store: &FirmStore,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        if !self.has_text_source() {
            return Ok(None);
        }
        let content = Content::of(blobs, store, self.version_id, &self.key, self.size).await?;
        Ok(Some(Zeroizing::new(content.read(0..self.size).await?)))
    }

    /// The text found in the file, for the search index and snippets; cut to
    /// [`extract::MAX_TEXT_CHARS`] characters whatever produced it.
    pub fn set_text(&mut self, text: &str) {
        self.text = Some(Zeroizing::new(text.chars().take(extract::MAX_TEXT_CHARS).collect()));
    }

    /// Finds and blinds the terms of its text for the search index, before the transaction
    /// that records it and off the async workers (see [`search::blind_ahead`]).
    pub async fn blind_terms(&mut self, store: &FirmStore) -> Result<(), StoreError> {
        let Some(text) = self.text.take() else {
            self.terms = Some(search::BlindTerms::default());
            return Ok(());
        };
        let (terms, text) = search::blind_ahead(store, text).await?;
        self.text = Some(text);
        self.terms = Some(terms);
        Ok(())
    }

    /// The stored bytes, to read back (for the malware scanner).
    pub async fn content(&self, blobs: &BlobStore, store: &FirmStore) -> Result<Content, StoreError> {
        Content::of(blobs, store, self.version_id, &self.key, self.size).await
    }

    /// Removes a stored blob whose record could not be written (for example because the
    /// uploader lost access to the matter meanwhile).
    pub async fn discard(self, blobs: &BlobStore, firm: FirmId) {
        if let Err(e) = blobs.delete(firm, self.version_id).await {
            tracing::warn!(%firm, error = %e, "could not remove an unrecorded upload");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: Uuid,
    pub matter_id: Uuid,
    pub title: String,
    pub privileged: bool,
    pub current: Version,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub version: i64,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub scan: Scan,
    pub uploaded_by: UserId,
    pub uploaded_at: OffsetDateTime,
}

fn field<'a>(table: &'a str, record: &'a str, field: &'a str) -> FieldRef<'a> {
    FieldRef { table, record, field }
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("documents.{what}").into()))
}

fn text(tx: &FirmTx, key: Option<&MatterKey>, at: FieldRef<'_>, sealed: &[u8]) -> Result<String, StoreError> {
    Ok(String::from_utf8_lossy(&tx.open_content(key, at, sealed)?).into_owned())
}

/// The key of the matter of a row of [`VERSION_COLUMNS`].
fn matter_key_of(tx: &FirmTx, row: &AnyRow) -> Result<Option<Arc<MatterKey>>, StoreError> {
    tx.matter_key_in(&row.try_get::<String, _>("document_matter")?, row)
}

fn version_from(tx: &FirmTx, row: &AnyRow) -> Result<Version, StoreError> {
    let id: String = row.try_get("version_id")?;
    let size: i64 = row.try_get("size")?;
    let uploaded_by: String = row.try_get("uploaded_by")?;
    let key = matter_key_of(tx, row)?;
    let key = key.as_deref();
    let sha: Vec<u8> = row.try_get("sha256_sealed")?;
    let sha = tx.open_content(key, field("document_versions", &id, "sha256"), &sha)?;
    Ok(Version {
        version: row.try_get("version")?,
        name: text(
            tx,
            key,
            field("document_versions", &id, "name"),
            &row.try_get::<Vec<u8>, _>("name_sealed")?,
        )?,
        content_type: row.try_get("content_type")?,
        size: u64::try_from(size).map_err(|_| decode("size"))?,
        sha256: sha.iter().map(|b| format!("{b:02x}")).collect(),
        scan: row.try_get::<String, _>("scan")?.parse().map_err(|()| decode("scan"))?,
        uploaded_by: uploaded_by.parse().map_err(|_| decode("uploaded_by"))?,
        uploaded_at: from_unix_millis(row.try_get("uploaded_at")?),
    })
}

fn document_from(tx: &FirmTx, row: &AnyRow) -> Result<Document, StoreError> {
    let id: String = row.try_get("id")?;
    let matter: String = row.try_get("matter_id")?;
    let created_by: String = row.try_get("created_by")?;
    let privileged: i64 = row.try_get("privileged")?;
    Ok(Document {
        title: title_from(tx, row)?,
        id: id.parse().map_err(|_| decode("id"))?,
        matter_id: matter.parse().map_err(|_| decode("matter_id"))?,
        privileged: privileged == 1,
        current: version_from(tx, row)?,
        created_by: created_by.parse().map_err(|_| decode("created_by"))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
    })
}

pub(crate) const VERSION_COLUMNS: &str = concat!(
    "v.id AS version_id, v.version, v.name_sealed, v.content_type, v.size, v.sha256_sealed, v.scan, \
     v.uploaded_by, v.uploaded_at, d.matter_id AS document_matter, ",
    matter_key_sql!("d.matter_id")
);

fn document_query(filter: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.matter_id, d.title_sealed, d.privileged, d.created_by, d.created_at, {VERSION_COLUMNS}
         FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.current_version
         WHERE d.deleted_at IS NULL AND {filter}"
    ))
}

async fn insert_version(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: &str,
    version: i64,
    uploaded: &Uploaded,
    scan: Scan,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let id = uploaded.version_id.to_string();
    let matter_key = tx.matter_key(&access.matter().to_string()).await?;
    let name = matter_key.seal(field("document_versions", &id, "name"), uploaded.name.as_bytes())?;
    let sha = matter_key.seal(field("document_versions", &id, "sha256"), &uploaded.sha256)?;
    let key = matter_key.seal(field("document_versions", &id, "data_key"), uploaded.key.expose())?;
    let text = uploaded
        .text
        .as_ref()
        .map(|t| matter_key.seal(field("document_versions", &id, "text"), t.as_bytes()))
        .transpose()?;
    sqlx::query(
        "INSERT INTO document_versions (id, document_id, version, name_sealed, content_type, size, sha256_sealed,
                                        data_key_sealed, scan, uploaded_by, uploaded_at, text_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(document)
    .bind(version)
    .bind(name)
    .bind(uploaded.content_type)
    .bind(i64::try_from(uploaded.size).map_err(|_| decode("size"))?)
    .bind(sha)
    .bind(key)
    .bind(scan.as_str())
    .bind(access.user().to_string())
    .bind(unix_millis(now))
    .bind(text)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Indexes a document's title, its current version's name and that version's text.
async fn index(
    tx: &mut FirmTx,
    document: Uuid,
    matter: Uuid,
    title: &str,
    uploaded: &Uploaded,
) -> Result<(), StoreError> {
    if let Some(terms) = &uploaded.terms {
        let first = format!("{title}\n{}", uploaded.name);
        return search::index_blinded(tx, Kind::Document, document, matter, &first, terms).await;
    }
    let body = uploaded.text.as_ref().map_or("", |t| t.as_str());
    let text = Zeroizing::new(format!("{title}\n{}\n{body}", uploaded.name));
    search::index(tx, Kind::Document, document, matter, &text).await
}

/// Records a new document whose first version is `uploaded`.
pub async fn create(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    title: &str,
    privileged: bool,
    uploaded: &Uploaded,
    scan: Scan,
    now: OffsetDateTime,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let key = id.to_string();
    let matter = access.matter().to_string();
    let title_sealed =
        tx.matter_key(&matter).await?.seal(field("documents", &key, "title"), title.as_bytes())?;
    sqlx::query(
        "INSERT INTO documents (id, matter_id, title_sealed, privileged, current_version, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 1, $5, $6, $6)",
    )
    .bind(&key)
    .bind(&matter)
    .bind(title_sealed)
    .bind(i64::from(privileged))
    .bind(access.user().to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    insert_version(tx, access, &key, 1, uploaded, scan, now).await?;
    index(tx, id, access.matter(), title, uploaded).await?;
    Ok(id)
}

/// Adds `uploaded` as the next version of a document; its number, or `None` when there is
/// no such document on the matter.
pub async fn add_version(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: Uuid,
    uploaded: &Uploaded,
    scan: Scan,
    now: OffsetDateTime,
) -> Result<Option<i64>, StoreError> {
    let key = document.to_string();
    let matter = access.matter().to_string();
    let next: Option<i64> = sqlx::query_scalar(
        "UPDATE documents SET current_version = current_version + 1, updated_at = $3
         WHERE id = $1 AND matter_id = $2 AND deleted_at IS NULL RETURNING current_version",
    )
    .bind(&key)
    .bind(&matter)
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    let Some(next) = next else { return Ok(None) };
    insert_version(tx, access, &key, next, uploaded, scan, now).await?;
    let title: Vec<u8> = sqlx::query_scalar("SELECT title_sealed FROM documents WHERE id = $1")
        .bind(&key)
        .fetch_one(tx.conn())
        .await?;
    let matter_key = tx.matter_key(&matter).await?;
    let title = text(tx, Some(&matter_key), field("documents", &key, "title"), &title)?;
    index(tx, document, access.matter(), &title, uploaded).await?;
    Ok(Some(next))
}

/// The matter a document belongs to, so access to that matter can be checked before
/// anything of the document is read. Reveals nothing but the id.
pub async fn matter_of(tx: &mut FirmTx, document: Uuid) -> Result<Option<Uuid>, StoreError> {
    let matter: Option<String> =
        sqlx::query_scalar("SELECT matter_id FROM documents WHERE id = $1 AND deleted_at IS NULL")
            .bind(document.to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(matter.and_then(|m| m.parse().ok()))
}

/// [`matter_of`] for a document deleted or not: what restoring one checks access on.
pub async fn matter_of_any(tx: &mut FirmTx, document: Uuid) -> Result<Option<Uuid>, StoreError> {
    let matter: Option<String> = sqlx::query_scalar("SELECT matter_id FROM documents WHERE id = $1")
        .bind(document.to_string())
        .fetch_optional(tx.conn())
        .await?;
    Ok(matter.and_then(|m| m.parse().ok()))
}

pub async fn list(tx: &mut FirmTx, access: &MatterAccess<ReadContent>) -> Result<Vec<Document>, StoreError> {
    let rows = sqlx::query(document_query("d.matter_id = $1 ORDER BY d.created_at, d.id"))
        .bind(access.matter().to_string())
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(|row| document_from(tx, row)).collect()
}

pub async fn get<A: ReadsContent>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
    document: Uuid,
) -> Result<Option<Document>, StoreError> {
    let row = sqlx::query(document_query("d.id = $1 AND d.matter_id = $2"))
        .bind(document.to_string())
        .bind(access.matter().to_string())
        .fetch_optional(tx.conn())
        .await?;
    row.map(|row| document_from(tx, &row)).transpose()
}

/// Every version of a document, oldest first.
pub async fn versions(
    tx: &mut FirmTx,
    access: &MatterAccess<ReadContent>,
    document: Uuid,
) -> Result<Vec<Version>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION_COLUMNS} FROM document_versions v JOIN documents d ON d.id = v.document_id
         WHERE d.id = $1 AND d.matter_id = $2 AND d.deleted_at IS NULL AND v.deleted_at IS NULL
         ORDER BY v.version"
    )))
    .bind(document.to_string())
    .bind(access.matter().to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| version_from(tx, row)).collect()
}

/// Soft-deletes a document: it disappears from every list and route; its versions and
/// blobs stay until the purge after the grace period.
pub async fn delete(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE documents SET deleted_at = $3 WHERE id = $1 AND matter_id = $2 AND deleted_at IS NULL",
    )
    .bind(document.to_string())
    .bind(access.matter().to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    search::forget(tx, Kind::Document, document).await?;
    Ok(done.rows_affected() == 1)
}

/// Brings a deleted document back within the firm's grace period, and into the search
/// index. `None` when the matter has no such document.
pub async fn restore(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: Uuid,
    now: OffsetDateTime,
) -> Result<Option<Restore>, StoreError> {
    let key = document.to_string();
    let matter = access.matter().to_string();
    let done =
        super::deletion::restore_row(tx, "documents", "id = $1 AND matter_id = $2", &[&key, &matter], now)
            .await?;
    if done == Some(Restore::Restored) {
        reindex(tx, document, access.matter()).await?;
    }
    Ok(done)
}

/// What deleting one version came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionDeletion {
    Deleted,
    /// No such live version of a live document on the matter.
    Missing,
    /// It is the document's only live version: delete the document instead.
    LastVersion,
}

/// The live document's version row id with number `version`, deleted or not.
async fn version_row(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: Uuid,
    version: i64,
) -> Result<Option<(String, Option<i64>)>, StoreError> {
    let row = sqlx::query(
        "SELECT v.id, v.deleted_at FROM document_versions v JOIN documents d ON d.id = v.document_id
         WHERE d.id = $1 AND d.matter_id = $2 AND d.deleted_at IS NULL AND v.version = $3",
    )
    .bind(document.to_string())
    .bind(access.matter().to_string())
    .bind(version)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|row| Ok((row.try_get("id")?, row.try_get("deleted_at")?))).transpose()
}

/// Makes the newest live version the current one, and indexes it.
async fn settle_current(
    tx: &mut FirmTx,
    document: Uuid,
    matter: Uuid,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE documents SET updated_at = $2, current_version =
            (SELECT MAX(version) FROM document_versions WHERE document_id = $1 AND deleted_at IS NULL)
         WHERE id = $1",
    )
    .bind(document.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    reindex(tx, document, matter).await
}

/// Soft-deletes one version of a live document; the one before it becomes current when it
/// was. Its blob stays until the purge after the grace period.
pub async fn delete_version(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: Uuid,
    version: i64,
    now: OffsetDateTime,
) -> Result<VersionDeletion, StoreError> {
    let Some((id, None)) = version_row(tx, access, document, version).await? else {
        return Ok(VersionDeletion::Missing);
    };
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM document_versions WHERE document_id = $1 AND deleted_at IS NULL",
    )
    .bind(document.to_string())
    .fetch_one(tx.conn())
    .await?;
    if live <= 1 {
        return Ok(VersionDeletion::LastVersion);
    }
    sqlx::query("UPDATE document_versions SET deleted_at = $2 WHERE id = $1")
        .bind(&id)
        .bind(unix_millis(now))
        .execute(tx.conn())
        .await?;
    settle_current(tx, document, access.matter(), now).await?;
    Ok(VersionDeletion::Deleted)
}

/// Brings a deleted version of a live document back within the firm's grace period; the
/// newest live version is current again. `None` when there is no such version.
pub async fn restore_version(
    tx: &mut FirmTx,
    access: &MatterAccess<WriteContent>,
    document: Uuid,
    version: i64,
    now: OffsetDateTime,
) -> Result<Option<Restore>, StoreError> {
    let Some((id, _)) = version_row(tx, access, document, version).await? else { return Ok(None) };
    let key = document.to_string();
    let done = super::deletion::restore_row(
        tx,
        "document_versions",
        "id = $1 AND document_id = $2",
        &[&id, &key],
        now,
    )
    .await?;
    if done == Some(Restore::Restored) {
        settle_current(tx, document, access.matter(), now).await?;
    }
    Ok(done)
}

/// Indexes a live document anew from what is stored: its title, its current version's
/// name and that version's text.
async fn reindex(tx: &mut FirmTx, document: Uuid, matter: Uuid) -> Result<(), StoreError> {
    let key = document.to_string();
    let row = sqlx::query(
        "SELECT d.title_sealed, v.id AS version_id, v.name_sealed, v.text_sealed
         FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.current_version
         WHERE d.id = $1",
    )
    .bind(&key)
    .fetch_one(tx.conn())
    .await?;
    let version: String = row.try_get("version_id")?;
    let matter_key = tx.matter_key(&matter.to_string()).await?;
    let matter_key = Some(&*matter_key);
    let title =
        text(tx, matter_key, field("documents", &key, "title"), &row.try_get::<Vec<u8>, _>("title_sealed")?)?;
    let name = text(
        tx,
        matter_key,
        field("document_versions", &version, "name"),
        &row.try_get::<Vec<u8>, _>("name_sealed")?,
    )?;
    let body = row
        .try_get::<Option<Vec<u8>>, _>("text_sealed")?
        .map(|t| text(tx, matter_key, field("document_versions", &version, "text"), &t))
        .transpose()?
        .unwrap_or_default();
    let all = Zeroizing::new(format!("{title}\n{name}\n{body}"));
    search::index(tx, Kind::Document, document, matter, &all).await
}

/// A document as stored, for a search result opened later.
pub struct SealedDocument {
    pub id: Uuid,
    pub privileged: bool,
    pub title: SealedText,
    /// The current version's text; `None` when it has none or it is larger than was asked for.
    pub text: Option<SealedText>,
}

/// A document with its title and its current version's text still sealed, the text only if
/// its ciphertext is at most `max_text` bytes (so a caller can bound what it will open).
pub async fn sealed<A: ReadsContent>(
    tx: &mut FirmTx,
    access: &MatterAccess<A>,
    document: Uuid,
    max_text: usize,
) -> Result<Option<SealedDocument>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT d.id, d.privileged, d.title_sealed, v.id AS version_id,
                    CASE WHEN LENGTH(v.text_sealed) <= $3 THEN v.text_sealed END AS text_sealed, ",
        matter_key_sql!("d.matter_id"),
        " FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.version = d.current_version
         WHERE d.id = $1 AND d.matter_id = $2 AND d.deleted_at IS NULL"
    ))
    .bind(document.to_string())
    .bind(access.matter().to_string())
    .bind(i64::try_from(max_text).unwrap_or(i64::MAX))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let version: String = row.try_get("version_id")?;
    let privileged: i64 = row.try_get("privileged")?;
    let key = tx.matter_key_in(&access.matter().to_string(), &row)?;
    Ok(Some(SealedDocument {
        title: SealedText::new(key.clone(), "documents", &id, "title", row.try_get("title_sealed")?),
        text: row
            .try_get::<Option<Vec<u8>>, _>("text_sealed")?
            .map(|t| SealedText::new(key, "document_versions", &version, "text", t)),
        id: id.parse().map_err(|_| decode("id"))?,
        privileged: privileged == 1,
    }))
}

/// What is needed to read one version's bytes after the transaction has ended.
pub struct Readable {
    pub version: Version,
    version_id: Uuid,
    key: DataKey,
}

/// Loads the key and facts of a version (the current one when `version` is `None`).
pub async fn readable(
    tx: &mut FirmTx,
    access: &MatterAccess<ReadContent>,
    document: Uuid,
    version: Option<i64>,
) -> Result<Option<Readable>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION_COLUMNS}, v.data_key_sealed FROM document_versions v JOIN documents d ON d.id = v.document_id
         WHERE d.id = $1 AND d.matter_id = $2 AND d.deleted_at IS NULL AND v.deleted_at IS NULL
           AND v.version = COALESCE($3, d.current_version)"
    )))
    .bind(document.to_string())
    .bind(access.matter().to_string())
    .bind(version)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|row| readable_from(tx, &row)).transpose()
}

/// A version's facts and key from a row of [`VERSION_COLUMNS`] and `v.data_key_sealed`.
pub(crate) fn readable_from(tx: &FirmTx, row: &AnyRow) -> Result<Readable, StoreError> {
    let version_id: String = row.try_get("version_id")?;
    let sealed_key: Vec<u8> = row.try_get("data_key_sealed")?;
    let matter_key = matter_key_of(tx, row)?;
    let key = Zeroizing::new(tx.open_content(
        matter_key.as_deref(),
        field("document_versions", &version_id, "data_key"),
        &sealed_key,
    )?);
    Ok(Readable {
        version: version_from(tx, row)?,
        version_id: version_id.parse().map_err(|_| decode("version_id"))?,
        key: DataKey::from_slice(&key)?,
    })
}

/// A document's title, opened, from a row holding `d.id`, `d.title_sealed` and
/// [`VERSION_COLUMNS`].
pub(crate) fn title_from(tx: &FirmTx, row: &AnyRow) -> Result<String, StoreError> {
    let id: String = row.try_get("id")?;
    let key = matter_key_of(tx, row)?;
    text(tx, key.as_deref(), field("documents", &id, "title"), &row.try_get::<Vec<u8>, _>("title_sealed")?)
}

/// The plaintext of one stored version, read a span at a time.
pub struct Content {
    blobs: BlobStore,
    firm: FirmId,
    version_id: Uuid,
    opener: BlobOpener,
    size: u64,
}

fn integrity(e: CryptoError) -> StoreError {
    match e {
        CryptoError::Unauthentic | CryptoError::Malformed => StoreError::BlobIntegrity,
        other => StoreError::Crypto(other),
    }
}

impl Content {
    /// Opens a version's blob; one cut short or grown fails here, before any byte is served.
    pub async fn open(blobs: &BlobStore, store: &FirmStore, readable: &Readable) -> Result<Self, StoreError> {
        Self::of(blobs, store, readable.version_id, &readable.key, readable.version.size).await
    }

    pub(crate) async fn of(
        blobs: &BlobStore,
        store: &FirmStore,
        version_id: Uuid,
        key: &DataKey,
        size: u64,
    ) -> Result<Self, StoreError> {
        let firm = store.id();
        if blobs.size(firm, version_id).await? != blob::sealed_len(size) {
            return Err(StoreError::BlobIntegrity);
        }
        let header = blobs.read(firm, version_id, 0..blob::HEADER_LEN as u64).await?;
        let [firm_part, version_part] = binding(&store.sealed_as().to_string(), &version_id.to_string());
        let opener = BlobOpener::new(key, &[&firm_part, &version_part], &header, size).map_err(integrity)?;
        Ok(Self { blobs: blobs.clone(), firm, version_id, opener, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The plaintext bytes `range` (within the file; empty ranges are empty), authenticated.
    pub async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let range = range.start.min(self.size)..range.end.min(self.size);
        if range.is_empty() {
            // An empty file still has its one (empty) chunk: check it, so that a cut or
            // altered empty blob does not pass as an empty file.
            if self.size == 0 {
                let (_, span) = blob::sealed_span(&(0..1));
                let sealed =
                    self.blobs.read(self.firm, self.version_id, span.start..blob::sealed_len(0)).await?;
                self.opener.open_chunk(0, &sealed).map_err(integrity)?;
            }
            return Ok(Vec::new());
        }
        let (chunks, span) = blob::sealed_span(&range);
        let span = span.start..span.end.min(blob::sealed_len(self.size));
        let sealed = self.blobs.read(self.firm, self.version_id, span).await?;
        let mut plain = self.opener.open_span(chunks.start, Vec::from(sealed)).map_err(integrity)?;
        let skip = usize::try_from(range.start - chunks.start * blob::CHUNK_LEN as u64)
            .map_err(|_| decode("range"))?;
        let want = usize::try_from(range.end - range.start).map_err(|_| decode("range"))?;
        if plain.len() < skip + want {
            return Err(StoreError::BlobIntegrity);
        }
        plain.truncate(skip + want);
        plain.drain(..skip);
        Ok(plain)
    }
}

/// Every version of every document, deleted or not, with its key and its recorded SHA-256:
/// what a backup's verification checks its copies of the blobs against (as the owner,
/// who sees every matter).
pub(crate) async fn every_version_for_backup(
    tx: &mut FirmTx,
) -> Result<Vec<crate::backup::VersionToCheck>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION_COLUMNS}, v.data_key_sealed FROM document_versions v JOIN documents d ON d.id = v.document_id
         ORDER BY v.id"
    )))
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let readable = readable_from(tx, row)?;
            let sha256 = hex_digest(&readable.version.sha256).ok_or_else(|| decode("sha256"))?;
            Ok(crate::backup::VersionToCheck {
                id: readable.version_id,
                size: readable.version.size,
                key: readable.key,
                sha256,
            })
        })
        .collect()
}

fn hex_digest(hex: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(digest)
}
