//! Full exports: a matter's, asked for by its lead, or the whole firm's, by an
//! administrator. The request is a row here; a job builds the ZIP into the blob store,
//! sealed under a data key of its own that only this table holds (sealed under the firm
//! key); it is downloaded once, within a day, and then removed.
//!
//! The requester's own transaction sees only its own exports (row security on PostgreSQL,
//! `requested_by` in every query on both). The build reads the matters it exports as the
//! firm's owner role, like the key rotation, but only with an [`ExportGrant`]: made by
//! [`FirmStore::export_to_build`] after checking again that the requester may still export
//! what was asked (still the matter's lead and not walled; still an active administrator),
//! so a lead removed between the request and the build gets nothing.

use std::collections::BTreeSet;

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome, StoredAuditEntry};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_core::matter::MatterAction;
use ringfence_core::user::FirmRole;
use ringfence_crypto::blob::DataKey;
use ringfence_crypto::{FieldRef, MatterKey};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::access::{self, Export, MatterAccess};
use super::documents::{self, Content, Uploaded};
use super::users::{self, UserStatus};
use super::{FirmTx, matter_key_sql};
use crate::StoreError;
use crate::blobs::BlobStore;
use crate::storage::FirmStore;

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    Firm,
    Matter(Uuid),
}

impl ExportScope {
    pub fn matter(self) -> Option<Uuid> {
        match self {
            ExportScope::Firm => None,
            ExportScope::Matter(matter) => Some(matter),
        }
    }
}

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    /// Asked for; its job has not built it yet.
    Queued,
    /// Built, waiting for its one download until `expires_at`.
    Ready,
    /// Its build failed (or the requester may no longer export it); nothing is kept.
    Failed,
    /// Downloaded once, and gone.
    Downloaded,
    /// Not downloaded within its day, and gone.
    Expired,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Queued => "queued",
            ExportStatus::Ready => "ready",
            ExportStatus::Failed => "failed",
            ExportStatus::Downloaded => "downloaded",
            ExportStatus::Expired => "expired",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Queued, Self::Ready, Self::Failed, Self::Downloaded, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// An export as its requester sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    pub id: Uuid,
    pub scope: ExportScope,
    pub requested_by: UserId,
    pub requested_at: OffsetDateTime,
    pub status: ExportStatus,
    pub encrypted: bool,
    /// The ZIP's size and SHA-256 (hex), once built.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub built_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub downloaded_at: Option<OffsetDateTime>,
    /// Why its build failed, in words fit for the requester.
    pub failure: Option<String>,
}

const COLUMNS: &str = "id, matter_id, requested_by, requested_at, status, encrypted, size, sha256, built_at, \
                       expires_at, downloaded_at, failure";

fn field<'a>(id: &'a str, name: &'a str) -> FieldRef<'a> {
    FieldRef { table: "exports", record: id, field: name }
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("exports.{what}").into()))
}

fn uuid_of(row: &AnyRow, column: &str) -> Result<Uuid, StoreError> {
    row.try_get::<String, _>(column)?.parse().map_err(|_| decode(column))
}

fn record_from(row: &AnyRow) -> Result<ExportRecord, StoreError> {
    let matter: Option<String> = row.try_get("matter_id")?;
    let status: String = row.try_get("status")?;
    let requested_by: String = row.try_get("requested_by")?;
    let at = |column: &str| -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_unix_millis))
    };
    Ok(ExportRecord {
        id: uuid_of(row, "id")?,
        scope: match matter {
            Some(matter) => ExportScope::Matter(matter.parse().map_err(|_| decode("matter_id"))?),
            None => ExportScope::Firm,
        },
        requested_by: requested_by.parse().map_err(|_| decode("requested_by"))?,
        requested_at: from_unix_millis(row.try_get("requested_at")?),
        status: ExportStatus::parse(&status).ok_or_else(|| decode("status"))?,
        encrypted: row.try_get::<i64, _>("encrypted")? == 1,
        size: row.try_get::<Option<i64>, _>("size")?.and_then(|s| u64::try_from(s).ok()),
        sha256: row.try_get("sha256")?,
        built_at: at("built_at")?,
        expires_at: at("expires_at")?,
        downloaded_at: at("downloaded_at")?,
        failure: row.try_get("failure")?,
    })
}

async fn insert(
    tx: &mut FirmTx,
    id: Uuid,
    matter: Option<Uuid>,
    requested_by: UserId,
    passphrase: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let key = id.to_string();
    let sealed = passphrase.map(|p| tx.seal(field(&key, "passphrase"), p.as_bytes())).transpose()?;
    sqlx::query(
        "INSERT INTO exports (id, matter_id, requested_by, requested_at, status, encrypted, passphrase_sealed)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6)",
    )
    .bind(&key)
    .bind(matter.map(|m| m.to_string()))
    .bind(requested_by.to_string())
    .bind(unix_millis(now))
    .bind(i64::from(passphrase.is_some()))
    .bind(sealed)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records the request for an export of the matter `access` proves its requester may
/// export; the passphrase, if any, is kept sealed until the build has used it.
pub async fn request_matter(
    tx: &mut FirmTx,
    access: &MatterAccess<Export>,
    id: Uuid,
    passphrase: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    insert(tx, id, Some(access.matter()), access.user(), passphrase, now).await
}

/// Records the request for an export of the whole firm; the route lets administrators only
/// ask, and the build checks again that the requester still is one.
pub async fn request_firm(
    tx: &mut FirmTx,
    requested_by: UserId,
    id: Uuid,
    passphrase: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    insert(tx, id, None, requested_by, passphrase, now).await
}

/// The requester's own exports of `scope`, newest first.
pub async fn list(
    tx: &mut FirmTx,
    user: UserId,
    scope: ExportScope,
) -> Result<Vec<ExportRecord>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM exports
         WHERE requested_by = $1 AND COALESCE(matter_id, '') = $2 ORDER BY requested_at DESC, id DESC LIMIT 50"
    )))
    .bind(user.to_string())
    .bind(scope.matter().map(|m| m.to_string()).unwrap_or_default())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(record_from).collect()
}

/// One of the requester's own exports; `None` for anyone else's.
pub async fn get(tx: &mut FirmTx, user: UserId, id: Uuid) -> Result<Option<ExportRecord>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM exports WHERE id = $1 AND requested_by = $2"
    )))
    .bind(id.to_string())
    .bind(user.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(record_from).transpose()
}

/// What asking to download an export came to.
pub enum Taken {
    /// No export of the requester's has this id.
    Missing,
    /// It exists but is not there to download: not built yet, failed, downloaded already or
    /// expired.
    NotReady(ExportRecord),
    /// Marked downloaded in this transaction: its bytes, to stream once it commits.
    File(ExportFile),
}

/// A built export's sealed bytes, and what opens them.
pub struct ExportFile {
    pub record: ExportRecord,
    blob: Uuid,
    key: DataKey,
    size: u64,
}

impl ExportFile {
    /// The blob to remove once the download is over.
    pub fn blob(&self) -> Uuid {
        self.blob
    }

    pub async fn open(&self, blobs: &BlobStore, store: &FirmStore) -> Result<Content, StoreError> {
        Content::of(blobs, store, self.blob, &self.key, self.size).await
    }
}

/// Takes the requester's export for its one download: only a ready export within its day,
/// marked downloaded in the same statement, so two downloads at once cannot both have it.
pub async fn take(tx: &mut FirmTx, user: UserId, id: Uuid, now: OffsetDateTime) -> Result<Taken, StoreError> {
    let Some(record) = get(tx, user, id).await? else { return Ok(Taken::Missing) };
    let row = sqlx::query(
        "UPDATE exports SET status = 'downloaded', downloaded_at = $3
         WHERE id = $1 AND requested_by = $2 AND status = 'ready' AND expires_at > $3
         RETURNING blob_id, data_key_sealed, size, matter_id",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(unix_millis(now))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(Taken::NotReady(record)) };
    let key_sealed: Vec<u8> = row.try_get("data_key_sealed")?;
    let matter_key = match row.try_get::<Option<String>, _>("matter_id")? {
        Some(matter) => Some(tx.matter_key(&matter).await?),
        None => None,
    };
    let key = Zeroizing::new(tx.open_content(
        matter_key.as_deref(),
        field(&id.to_string(), "data_key"),
        &key_sealed,
    )?);
    let size: i64 = row.try_get("size")?;
    Ok(Taken::File(ExportFile {
        blob: uuid_of(&row, "blob_id")?,
        key: DataKey::from_slice(&key)?,
        size: u64::try_from(size).map_err(|_| decode("size"))?,
        record: ExportRecord { status: ExportStatus::Downloaded, downloaded_at: Some(now), ..record },
    }))
}

/// An export to build, with the passphrase its ZIP is to be encrypted with (opened; it is
/// wiped from the row once the build is recorded).
pub struct ToBuild {
    pub record: ExportRecord,
    pub passphrase: Option<Zeroizing<String>>,
    /// The matter's number, for a matter's export.
    pub matter_number: Option<String>,
}

/// What the build may read: made only once the requester is found still entitled. A wall
/// binds an administrator's firm export too: the matters and clients it screens the
/// requester from are withheld, and counted.
#[derive(Debug, Clone)]
pub struct ExportGrant {
    scope: ExportScope,
    withheld_matters: BTreeSet<Uuid>,
    withheld_clients: BTreeSet<Uuid>,
}

impl ExportGrant {
    pub fn scope(&self) -> ExportScope {
        self.scope
    }

    /// How many matters a wall keeps out of the export.
    pub fn withheld_matters(&self) -> usize {
        self.withheld_matters.len()
    }

    fn covers_matter(&self, matter: Uuid) -> bool {
        let in_scope = match self.scope {
            ExportScope::Matter(granted) => granted == matter,
            ExportScope::Firm => true,
        };
        in_scope && !self.withheld_matters.contains(&matter)
    }
}

/// A matter as exported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedMatter {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub description: Option<String>,
    pub client_id: Uuid,
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    pub created_by: String,
}

/// A client as exported: every detail, its identity number opened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedClient {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub id_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// One role on one matter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedMembership {
    pub matter_id: Uuid,
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub granted_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

/// A wall, on a matter or on a client (standing or lifted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedWall {
    /// `matter` or `client`.
    pub on: &'static str,
    pub target_id: Uuid,
    pub user_id: String,
    pub email: String,
    pub placed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
    pub lifted_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub lifted_at: Option<OffsetDateTime>,
}

/// One version of a note (its current body among them), opened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedNoteVersion {
    pub note_id: Uuid,
    pub kind: String,
    pub privileged: bool,
    pub version: i64,
    /// Whether this is the note's body now.
    pub current: bool,
    pub body: String,
    /// Who wrote this version, and when (the note's author and creation for the first).
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One version of a document, with what reads its bytes.
pub struct ExportedDocumentVersion {
    pub document_id: Uuid,
    pub title: String,
    pub privileged: bool,
    pub current: bool,
    pub version: documents::Version,
    pub readable: documents::Readable,
}

/// The log's signed checkpoints, audit keys and their certificates: what checks the
/// exported entries without any key of the firm.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedAuditKeys {
    pub keys: Vec<ExportedAuditKey>,
    pub certificates: Vec<ExportedCertificate>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedAuditKey {
    pub id: String,
    /// Base64.
    pub public_key: String,
    pub created_at_millis: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedCertificate {
    pub key_id: String,
    pub certified_by: String,
    /// Base64.
    pub signature: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedCheckpoint {
    pub seq: i64,
    pub at_millis: i64,
    /// Hex.
    pub hash: String,
    /// Base64.
    pub signature: String,
    pub key_id: String,
}

/// An audit entry with its chain hash and the hash before it (base64), so a matter's own
/// entries can be checked one by one even without the entries between them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedAuditEntry {
    pub firm: String,
    pub hash: String,
    pub previous: String,
    pub entry: StoredAuditEntry,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sealed field opened: matter content under `key` (or the firm key, if sealed before its
/// matter had a key), anything else under the firm key (`key` is then `None`).
fn opened(
    tx: &FirmTx,
    key: Option<&MatterKey>,
    table: &str,
    id: &str,
    name: &str,
    sealed: &[u8],
) -> Result<String, StoreError> {
    let at = FieldRef { table, record: id, field: name };
    Ok(String::from_utf8_lossy(&tx.open_content(key, at, sealed)?).into_owned())
}

/// `matter_id` of the scope for queries that take all matters (firm) or one.
/// The matters and clients a wall screens `user` from: what its export leaves out.
async fn screened_from(
    tx: &mut FirmTx,
    user: UserId,
) -> Result<(BTreeSet<Uuid>, BTreeSet<Uuid>), StoreError> {
    let ids = |raw: Vec<String>| -> Result<BTreeSet<Uuid>, StoreError> {
        raw.iter().map(|id| id.parse().map_err(|_| decode("screened id"))).collect()
    };
    let matters: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT m.id FROM matters m WHERE {}",
        access::screened("m.id", "$1")
    )))
    .bind(user.to_string())
    .fetch_all(tx.conn())
    .await?;
    let clients: Vec<String> =
        sqlx::query_scalar("SELECT client_id FROM client_walls WHERE user_id = $1 AND lifted_at IS NULL")
            .bind(user.to_string())
            .fetch_all(tx.conn())
            .await?;
    Ok((ids(matters)?, ids(clients)?))
}

fn scope_filter(grant: &ExportGrant) -> String {
    grant.scope.matter().map(|m| m.to_string()).unwrap_or_default()
}

impl FirmStore {
    /// The export to build, if it is still queued, after checking that its requester may
    /// still export what was asked. A requester who may not any more gets the export failed
    /// (and `None`): nothing is read for it.
    pub async fn export_to_build(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<(ToBuild, ExportGrant)>, StoreError> {
        let mut tx = self.begin_read_as_owner().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, passphrase_sealed FROM exports WHERE id = $1 AND status = 'queued'"
        )))
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let record = record_from(&row)?;
        let passphrase = row
            .try_get::<Option<Vec<u8>>, _>("passphrase_sealed")?
            .map(|sealed| -> Result<_, StoreError> {
                let bytes = Zeroizing::new(tx.open(field(&id.to_string(), "passphrase"), &sealed)?);
                Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
            })
            .transpose()?;
        let requester = users::get(&mut tx, record.requested_by).await?;
        let active_roles: BTreeSet<FirmRole> = match requester {
            Some(user) if user.status == UserStatus::Active => user.roles,
            _ => BTreeSet::new(),
        };
        let (entitled, matter_number) = match record.scope {
            ExportScope::Firm => (active_roles.contains(&FirmRole::Admin), None),
            ExportScope::Matter(matter) => {
                let standing = access::standing(&mut tx, record.requested_by, &active_roles, matter).await?;
                let entitled = standing.is_some_and(|s| s.may(MatterAction::Export));
                let number: Option<String> = sqlx::query_scalar("SELECT number FROM matters WHERE id = $1")
                    .bind(matter.to_string())
                    .fetch_optional(tx.conn())
                    .await?;
                (entitled, number)
            }
        };
        let (withheld_matters, withheld_clients) = screened_from(&mut tx, record.requested_by).await?;
        tx.commit().await?;
        if !entitled {
            self.export_failed(&record, "the requester may no longer export this", now).await?;
            return Ok(None);
        }
        let grant = ExportGrant { scope: record.scope, withheld_matters, withheld_clients };
        Ok(Some((ToBuild { record, passphrase, matter_number }, grant)))
    }

    /// Reads every row of `sql` (its one parameter, if any, bound to `param`) as the firm's
    /// owner role (the caller holds an export grant), each made a `T` by `each`, which may
    /// open sealed fields with the transaction's keys.
    async fn read_all<T>(
        &self,
        sql: impl sqlx::SqlSafeStr,
        param: Option<String>,
        each: impl Fn(&FirmTx, &AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut tx = self.begin_read_as_owner().await?;
        let mut query = sqlx::query(sql);
        if let Some(param) = param {
            query = query.bind(param);
        }
        let rows = query.fetch_all(tx.conn()).await?;
        let read = rows.iter().map(|row| each(&tx, row)).collect::<Result<Vec<T>, StoreError>>()?;
        tx.commit().await?;
        Ok(read)
    }

    /// The matters the grant covers: every matter of the firm (soft-deleted ones not yet
    /// purged among them), or the one.
    pub async fn export_matters(&self, grant: &ExportGrant) -> Result<Vec<ExportedMatter>, StoreError> {
        let sql = concat!(
            "SELECT id, number, title_sealed, description_sealed, client_id, status, opened_at, closed_at,
                        deleted_at, created_by, ",
            matter_key_sql!("matters.id"),
            " FROM matters WHERE $1 = '' OR id = $1 ORDER BY number"
        );
        self.read_all(sql, Some(scope_filter(grant)), |tx, row| {
            let id: String = row.try_get("id")?;
            let key = tx.matter_key_in(&id, row)?;
            let key = key.as_deref();
            let description: Option<Vec<u8>> = row.try_get("description_sealed")?;
            Ok(ExportedMatter {
                number: row.try_get("number")?,
                title: opened(tx, key, "matters", &id, "title", &row.try_get::<Vec<u8>, _>("title_sealed")?)?,
                description: description
                    .map(|d| opened(tx, key, "matters", &id, "description", &d))
                    .transpose()?,
                client_id: uuid_of(row, "client_id")?,
                status: row.try_get("status")?,
                opened_at: from_unix_millis(row.try_get("opened_at")?),
                closed_at: row.try_get::<Option<i64>, _>("closed_at")?.map(from_unix_millis),
                deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(from_unix_millis),
                created_by: row.try_get("created_by")?,
                id: id.parse().map_err(|_| decode("matters.id"))?,
            })
        })
        .await
        .map(|matters| matters.into_iter().filter(|m| grant.covers_matter(m.id)).collect())
    }

    /// The firm's clients, or the matter's own client, with every detail.
    pub async fn export_clients(&self, grant: &ExportGrant) -> Result<Vec<ExportedClient>, StoreError> {
        let sql = "SELECT id, kind, name, email, phone, address, id_number_sealed, created_at, created_by FROM clients
                   WHERE $1 = '' OR id IN (SELECT client_id FROM matters WHERE id = $1) ORDER BY name, id";
        self.read_all(sql, Some(scope_filter(grant)), |tx, row| {
            let id: String = row.try_get("id")?;
            let id_number: Option<Vec<u8>> = row.try_get("id_number_sealed")?;
            Ok(ExportedClient {
                kind: row.try_get("kind")?,
                name: row.try_get("name")?,
                email: row.try_get("email")?,
                phone: row.try_get("phone")?,
                address: row.try_get("address")?,
                id_number: id_number
                    .map(|n| opened(tx, None, "clients", &id, "id_number", &n))
                    .transpose()?,
                created_at: from_unix_millis(row.try_get("created_at")?),
                created_by: row.try_get("created_by")?,
                id: id.parse().map_err(|_| decode("clients.id"))?,
            })
        })
        .await
        .map(|clients| clients.into_iter().filter(|c| !grant.withheld_clients.contains(&c.id)).collect())
    }

    /// Who holds which role on the matters the grant covers.
    pub async fn export_memberships(
        &self,
        grant: &ExportGrant,
    ) -> Result<Vec<ExportedMembership>, StoreError> {
        let sql = "SELECT mm.matter_id, mm.user_id, u.email, mm.role, mm.granted_by, mm.granted_at
                   FROM matter_members mm JOIN users u ON u.id = mm.user_id
                   WHERE $1 = '' OR mm.matter_id = $1 ORDER BY mm.matter_id, u.email";
        self.read_all(sql, Some(scope_filter(grant)), |_, row| {
            Ok(ExportedMembership {
                matter_id: uuid_of(row, "matter_id")?,
                user_id: row.try_get("user_id")?,
                email: row.try_get("email")?,
                role: row.try_get("role")?,
                granted_by: row.try_get("granted_by")?,
                granted_at: from_unix_millis(row.try_get("granted_at")?),
            })
        })
        .await
        .map(|members| members.into_iter().filter(|m| grant.covers_matter(m.matter_id)).collect())
    }

    /// The walls on the matters the grant covers and on their clients, lifted ones too.
    pub async fn export_walls(&self, grant: &ExportGrant) -> Result<Vec<ExportedWall>, StoreError> {
        let sql = "SELECT 'matter' AS wall_on, w.matter_id AS target_id, w.user_id, u.email, w.placed_by, w.placed_at,
                          NULL AS lifted_by, NULL AS lifted_at
                   FROM matter_walls w JOIN users u ON u.id = w.user_id
                   WHERE $1 = '' OR w.matter_id = $1
                   UNION ALL
                   SELECT 'client', w.client_id, w.user_id, u.email, w.placed_by, w.placed_at, w.lifted_by, w.lifted_at
                   FROM client_walls w JOIN users u ON u.id = w.user_id
                   WHERE $1 = '' OR w.client_id IN (SELECT client_id FROM matters WHERE id = $1)
                   ORDER BY 1, 2, 4";
        self.read_all(sql, Some(scope_filter(grant)), |_, row| {
            let on: String = row.try_get("wall_on")?;
            Ok(ExportedWall {
                on: if on == "matter" { "matter" } else { "client" },
                target_id: uuid_of(row, "target_id")?,
                user_id: row.try_get("user_id")?,
                email: row.try_get("email")?,
                placed_by: row.try_get("placed_by")?,
                placed_at: from_unix_millis(row.try_get("placed_at")?),
                lifted_by: row.try_get("lifted_by")?,
                lifted_at: row.try_get::<Option<i64>, _>("lifted_at")?.map(from_unix_millis),
            })
        })
        .await
        .map(|walls| {
            walls
                .into_iter()
                .filter(|w| match w.on {
                    "matter" => grant.covers_matter(w.target_id),
                    _ => !grant.withheld_clients.contains(&w.target_id),
                })
                .collect()
        })
    }

    /// The live notes of `matter` (the grant must cover it) with their whole history:
    /// every earlier version and the current one, oldest first, opened.
    pub async fn export_notes(
        &self,
        grant: &ExportGrant,
        matter: Uuid,
    ) -> Result<Vec<ExportedNoteVersion>, StoreError> {
        if !grant.covers_matter(matter) {
            return Ok(Vec::new());
        }
        let sql = concat!(
            "SELECT n.id, n.kind, n.privileged, n.version, CAST(1 AS BIGINT) AS is_current, n.body_sealed,
                          CASE WHEN n.version = 1 THEN n.author_id
                               ELSE (SELECT edited_by FROM note_versions h WHERE h.note_id = n.id AND h.version = n.version - 1)
                          END AS by_user,
                          CASE WHEN n.version = 1 THEN n.created_at ELSE n.updated_at END AS at, ",
            matter_key_sql!("n.matter_id"),
            " FROM notes n WHERE n.matter_id = $1 AND n.deleted_at IS NULL
                   UNION ALL
                   SELECT n.id, n.kind, n.privileged, h.version, CAST(0 AS BIGINT), h.body_sealed,
                          CASE WHEN h.version = 1 THEN n.author_id
                               ELSE (SELECT edited_by FROM note_versions p WHERE p.note_id = n.id AND p.version = h.version - 1)
                          END,
                          CASE WHEN h.version = 1 THEN n.created_at
                               ELSE (SELECT edited_at FROM note_versions p WHERE p.note_id = n.id AND p.version = h.version - 1)
                          END, ",
            matter_key_sql!("n.matter_id"),
            " FROM note_versions h JOIN notes n ON n.id = h.note_id
                   WHERE n.matter_id = $1 AND n.deleted_at IS NULL
                   ORDER BY 1, 4"
        );
        self.read_all(sql, Some(matter.to_string()), |tx, row| {
            let id: String = row.try_get("id")?;
            let key = tx.matter_key_in(&matter.to_string(), row)?;
            Ok(ExportedNoteVersion {
                kind: row.try_get("kind")?,
                privileged: row.try_get::<i64, _>("privileged")? == 1,
                version: row.try_get("version")?,
                current: row.try_get::<i64, _>("is_current")? == 1,
                body: opened(
                    tx,
                    key.as_deref(),
                    "notes",
                    &id,
                    "body",
                    &row.try_get::<Vec<u8>, _>("body_sealed")?,
                )?,
                by: row.try_get("by_user")?,
                at: from_unix_millis(row.try_get("at")?),
                note_id: id.parse().map_err(|_| decode("notes.id"))?,
            })
        })
        .await
    }

    /// Every version of every live document of `matter` (the grant must cover it), oldest
    /// document and version first, each with what reads its bytes.
    pub async fn export_documents(
        &self,
        grant: &ExportGrant,
        matter: Uuid,
    ) -> Result<Vec<ExportedDocumentVersion>, StoreError> {
        if !grant.covers_matter(matter) {
            return Ok(Vec::new());
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT d.id, d.title_sealed, d.privileged, d.current_version, {}, v.data_key_sealed
             FROM documents d JOIN document_versions v ON v.document_id = d.id
             WHERE d.matter_id = $1 AND d.deleted_at IS NULL ORDER BY d.created_at, d.id, v.version",
            documents::VERSION_COLUMNS
        ));
        self.read_all(sql, Some(matter.to_string()), |tx, row| {
            let readable = documents::readable_from(tx, row)?;
            let current: i64 = row.try_get("current_version")?;
            Ok(ExportedDocumentVersion {
                document_id: uuid_of(row, "id")?,
                title: documents::title_from(tx, row)?,
                privileged: row.try_get::<i64, _>("privileged")? == 1,
                current: readable.version.version == current,
                version: readable.version.clone(),
                readable,
            })
        })
        .await
    }

    /// Up to `limit` audit entries after `after`, oldest first: the whole log for the firm,
    /// the matter's own entries for a matter. Each carries its hash and the one before it.
    pub async fn export_audit_page(
        &self,
        grant: &ExportGrant,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ExportedAuditEntry>, StoreError> {
        let mut tx = self.begin_read_as_owner().await?;
        let rows = sqlx::query(
            "SELECT a.seq, a.at, a.actor_kind, a.actor_id, a.actor_email, a.action, a.resource_type, a.resource_id,
                    a.matter_id, a.outcome, a.ip, a.user_agent, a.request_id, a.hash, p.hash AS previous
             FROM audit_log a LEFT JOIN audit_log p ON p.seq = a.seq - 1
             WHERE a.seq > $1 AND ($2 = '' OR a.matter_id = $2) ORDER BY a.seq LIMIT $3",
        )
        .bind(after)
        .bind(scope_filter(grant))
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
        let firm = self.sealed_as().to_string();
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let entry = super::audit::entry_from(row)?;
            let previous: Option<Vec<u8>> = row.try_get("previous")?;
            let previous = match previous {
                Some(hash) => hash,
                // The first entry follows the genesis hash; after a purge, the checkpoint
                // of the last removed entry (which the export's checkpoints hold).
                None if entry.seq == 1 => ringfence_crypto::audit_chain::genesis(&firm).to_vec(),
                None => sqlx::query_scalar("SELECT hash FROM audit_checkpoints WHERE seq = $1")
                    .bind(entry.seq - 1)
                    .fetch_optional(tx.conn())
                    .await?
                    .unwrap_or_default(),
            };
            entries.push(ExportedAuditEntry {
                firm: firm.clone(),
                hash: b64(&row.try_get::<Vec<u8>, _>("hash")?),
                previous: b64(&previous),
                entry,
            });
        }
        tx.commit().await?;
        Ok(entries)
    }

    /// Every signed checkpoint, and every audit key with the certificates between them.
    /// The keys are read after the checkpoints: every key a checkpoint names is there.
    pub async fn export_audit_keys(
        &self,
    ) -> Result<(Vec<ExportedCheckpoint>, ExportedAuditKeys), StoreError> {
        let checkpoints = self
            .read_all(
                "SELECT seq, at, hash, signature, key_id FROM audit_checkpoints ORDER BY seq",
                None,
                |_, row| {
                    Ok(ExportedCheckpoint {
                        seq: row.try_get("seq")?,
                        at_millis: row.try_get("at")?,
                        hash: hex(&row.try_get::<Vec<u8>, _>("hash")?),
                        signature: b64(&row.try_get::<Vec<u8>, _>("signature")?),
                        key_id: row.try_get("key_id")?,
                    })
                },
            )
            .await?;
        let keys = self
            .read_all(
                "SELECT id, public_key, created_at FROM audit_keys ORDER BY created_at, id",
                None,
                |_, row| {
                    Ok(ExportedAuditKey {
                        id: row.try_get("id")?,
                        public_key: b64(&row.try_get::<Vec<u8>, _>("public_key")?),
                        created_at_millis: row.try_get("created_at")?,
                    })
                },
            )
            .await?;
        let certificates = self
            .read_all(
                "SELECT key_id, certified_by, signature FROM audit_key_certificates ORDER BY certified_by, key_id",
                None,
                |_, row| {
                    Ok(ExportedCertificate {
                        key_id: row.try_get("key_id")?,
                        certified_by: row.try_get("certified_by")?,
                        signature: b64(&row.try_get::<Vec<u8>, _>("signature")?),
                    })
                },
            )
            .await?;
        Ok((checkpoints, ExportedAuditKeys { keys, certificates }))
    }

    /// Records a built export: its sealed ZIP's blob and key, size and hash, ready until
    /// `expires_at`; the passphrase is wiped from the row in the same statement.
    pub async fn export_built(
        &self,
        record: &ExportRecord,
        zip: &Uploaded,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as_owner().await?;
        let id = record.id.to_string();
        let (blob, key) = zip.stored();
        // A matter's export is the matter's content: its key goes under the matter's key, and
        // with that key when the matter is purged.
        let key_sealed = match record.scope.matter() {
            Some(matter) => {
                tx.matter_key(&matter.to_string()).await?.seal(field(&id, "data_key"), key.expose())?
            }
            None => tx.seal(field(&id, "data_key"), key.expose())?,
        };
        sqlx::query(
            "UPDATE exports SET status = 'ready', passphrase_sealed = NULL, blob_id = $2, data_key_sealed = $3,
                    size = $4, sha256 = $5, built_at = $6, expires_at = $7
             WHERE id = $1 AND status = 'queued'",
        )
        .bind(&id)
        .bind(blob.to_string())
        .bind(key_sealed)
        .bind(i64::try_from(zip.size).map_err(|_| decode("size"))?)
        .bind(hex(&zip.sha256))
        .bind(unix_millis(now))
        .bind(unix_millis(expires_at))
        .execute(tx.conn())
        .await?;
        super::audit::append(&mut tx, &system_entry(AuditAction::ExportBuilt, record, now)).await?;
        tx.commit().await
    }

    /// Records a failed build, with words for the requester; the passphrase is wiped.
    pub async fn export_failed(
        &self,
        record: &ExportRecord,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as_owner().await?;
        sqlx::query(
            "UPDATE exports SET status = 'failed', passphrase_sealed = NULL, failure = $2 WHERE id = $1 AND status = 'queued'",
        )
        .bind(record.id.to_string())
        .bind(reason)
        .execute(tx.conn())
        .await?;
        let mut entry = system_entry(AuditAction::ExportFailed, record, now);
        entry.outcome = Outcome::Failure;
        super::audit::append(&mut tx, &entry).await?;
        tx.commit().await
    }

    /// Marks expired every ready export past its day (audited), and returns the blobs of
    /// exports that are over (downloaded, expired or failed) but still stored: the caller
    /// removes each, then [`Self::forget_export_blob`].
    pub async fn expire_exports(&self, now: OffsetDateTime) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let mut tx = self.begin_as_owner().await?;
        let expired = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE exports SET status = 'expired' WHERE status = 'ready' AND expires_at <= $1 RETURNING {COLUMNS}"
        )))
        .bind(unix_millis(now))
        .fetch_all(tx.conn())
        .await?;
        for row in &expired {
            super::audit::append(&mut tx, &system_entry(AuditAction::ExportExpired, &record_from(row)?, now))
                .await?;
        }
        let over = sqlx::query(
            "SELECT id, blob_id FROM exports WHERE status <> 'ready' AND blob_id IS NOT NULL ORDER BY id",
        )
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(|row| Ok((uuid_of(row, "id")?, uuid_of(row, "blob_id")?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit().await?;
        Ok(over)
    }

    /// Forgets an export's blob and key once the blob is removed.
    pub async fn forget_export_blob(&self, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.begin_as_owner().await?;
        sqlx::query(
            "UPDATE exports SET blob_id = NULL, data_key_sealed = NULL WHERE id = $1 AND status <> 'ready'",
        )
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Whom to tell about an export — the firm's active administrators and its requester —
    /// with the requester (active or not) and the firm's clock.
    pub async fn export_notice(&self, record: &ExportRecord) -> Result<ExportNotice, StoreError> {
        let mut tx = self.begin_read_as_owner().await?;
        let recipients: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT u.id, u.email FROM users u
             WHERE u.status = 'active'
               AND (u.id = $1 OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'admin'))
             ORDER BY u.email",
        )
        .bind(record.requested_by.to_string())
        .fetch_all(tx.conn())
        .await?;
        let recipients = users::all_of(&mut tx, &recipients).await?;
        let requester = users::get(&mut tx, record.requested_by).await?;
        let zone = super::preferences::time_zone(&mut tx).await?;
        tx.commit().await?;
        Ok(ExportNotice { recipients, requester, zone })
    }
}

/// What telling of a built export needs.
#[derive(Debug)]
pub struct ExportNotice {
    pub recipients: Vec<users::User>,
    pub requester: Option<users::User>,
    pub zone: ringfence_core::local_time::FirmTimeZone,
}

/// An entry the deployment writes about an export, naming its matter for a matter's.
fn system_entry(action: AuditAction, record: &ExportRecord, now: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: AuditActor::System,
        action,
        resource_type: Some("export"),
        resource_id: Some(record.id.to_string()),
        matter_id: record.scope.matter().map(|m| m.to_string()),
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}
