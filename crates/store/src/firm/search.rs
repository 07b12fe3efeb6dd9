//! The blind search index. Repository functions that write searchable text call
//! [`index`] in the same transaction, so the index cannot fall behind the data; [`find`]
//! matches blinded query terms and returns candidate hits, which the caller must still put
//! through the access check before showing anything.

use std::collections::{BTreeMap, HashSet};

use ringfence_core::ids::UserId;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::search;
use ringfence_crypto::FieldRef;
use ringfence_crypto::search::SearchKey;
use sqlx::Row;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::FirmTx;
use crate::StoreError;
use crate::storage::FirmStore;

/// What a hit is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Matter,
    Note,
    Document,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Matter => "matter",
            Kind::Note => "note",
            Kind::Document => "document",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Kind::Matter, Kind::Note, Kind::Document].into_iter().find(|k| k.as_str() == text)
    }
}

/// A record whose terms all match a query. Not yet checked against the caller's access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub kind: Kind,
    pub source: Uuid,
    pub matter: Uuid,
}

const KEY_FIELD: FieldRef<'static> = FieldRef { table: "search_keys", record: "1", field: "key" };

/// The firm's search key, if it was made already.
async fn stored_key(tx: &mut FirmTx) -> Result<Option<SearchKey>, StoreError> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT key_sealed FROM search_keys WHERE id = 1")
        .fetch_optional(tx.conn())
        .await?;
    stored.map(|sealed| Ok(SearchKey::from_slice(&Zeroizing::new(tx.open(KEY_FIELD, &sealed)?))?)).transpose()
}

/// The firm's search key, made on first use.
async fn search_key(tx: &mut FirmTx) -> Result<SearchKey, StoreError> {
    if let Some(key) = stored_key(tx).await? {
        return Ok(key);
    }
    let key = SearchKey::generate()?;
    let sealed = tx.seal(KEY_FIELD, key.expose())?;
    let inserted =
        sqlx::query("INSERT INTO search_keys (id, key_sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(sealed)
            .execute(tx.conn())
            .await?;
    if inserted.rows_affected() == 1 {
        return Ok(key);
    }
    // Another transaction made it first: use that one.
    Box::pin(search_key(tx)).await
}

/// Replaces the indexed terms of one record with those of `text`.
pub(crate) async fn index(
    tx: &mut FirmTx,
    kind: Kind,
    source: Uuid,
    matter: Uuid,
    text: &str,
) -> Result<(), StoreError> {
    forget(tx, kind, source).await?;
    index_new(tx, kind, source, matter, text).await
}

/// Terms written per statement: well under either database's limit on parameters.
const TERMS_PER_INSERT: usize = 500;

/// Indexes a record made in this transaction (it has no terms yet to replace): at most
/// [`search::MAX_RECORD_TERMS`] of its distinct terms.
pub(crate) async fn index_new(
    tx: &mut FirmTx,
    kind: Kind,
    source: Uuid,
    matter: Uuid,
    text: &str,
) -> Result<(), StoreError> {
    let terms = search::index_terms(text, search::MAX_RECORD_TERMS);
    if terms.is_empty() {
        return Ok(());
    }
    let key = search_key(tx).await?;
    let blinded: Vec<Vec<u8>> = terms.iter().map(|term| key.blind(term)).collect();
    write(tx, kind, source, matter, &blinded).await
}

/// The distinct terms of a large text, blinded before the transaction that records it:
/// finding and hashing them is CPU work that must neither hold the firm's writer nor run
/// on the async workers.
#[derive(Default)]
pub struct BlindTerms(Vec<Vec<u8>>);

/// The firm's search key, read (or on first use made) in a transaction of its own.
async fn key_of(store: &FirmStore) -> Result<SearchKey, StoreError> {
    let keeper = Principal::System(SystemTask::SearchIndex);
    let mut tx = store.begin_read(&keeper).await?;
    let stored = stored_key(&mut tx).await?;
    tx.commit().await?;
    if let Some(key) = stored {
        return Ok(key);
    }
    let mut tx = store.begin(&keeper).await?;
    let key = search_key(&mut tx).await?;
    tx.commit().await?;
    Ok(key)
}

/// Finds and blinds the terms of `text` (at most [`search::MAX_RECORD_TERMS`]) on a
/// blocking thread, and hands `text` back.
pub async fn blind_ahead(
    store: &FirmStore,
    text: Zeroizing<String>,
) -> Result<(BlindTerms, Zeroizing<String>), StoreError> {
    let key = key_of(store).await?;
    tokio::task::spawn_blocking(move || {
        let terms = search::index_terms(&text, search::MAX_RECORD_TERMS);
        (BlindTerms(terms.iter().map(|term| key.blind(term)).collect()), text)
    })
    .await
    .map_err(|e| StoreError::TaskFailed(e.to_string()))
}

/// Replaces the indexed terms of one record with those of `first` (a short text, such as
/// a title) followed by `rest`, blinded ahead; at most [`search::MAX_RECORD_TERMS`] in all.
pub(crate) async fn index_blinded(
    tx: &mut FirmTx,
    kind: Kind,
    source: Uuid,
    matter: Uuid,
    first: &str,
    rest: &BlindTerms,
) -> Result<(), StoreError> {
    forget(tx, kind, source).await?;
    let key = search_key(tx).await?;
    let mut blinded: Vec<Vec<u8>> =
        search::index_terms(first, search::MAX_RECORD_TERMS).iter().map(|term| key.blind(term)).collect();
    let mut seen: HashSet<Vec<u8>> = blinded.iter().cloned().collect();
    for term in &rest.0 {
        if blinded.len() >= search::MAX_RECORD_TERMS {
            break;
        }
        if seen.insert(term.clone()) {
            blinded.push(term.clone());
        }
    }
    write(tx, kind, source, matter, &blinded).await
}

/// Writes blinded terms, many to a statement.
async fn write(
    tx: &mut FirmTx,
    kind: Kind,
    source: Uuid,
    matter: Uuid,
    blinded: &[Vec<u8>],
) -> Result<(), StoreError> {
    let (source, matter) = (source.to_string(), matter.to_string());
    for chunk in blinded.chunks(TERMS_PER_INSERT) {
        // ($4, $1, $2, $3), ($5, $1, $2, $3), …: one statement for many terms.
        let rows: Vec<String> = (4..4 + chunk.len()).map(|n| format!("(${n}, $1, $2, $3)")).collect();
        let sql =
            format!("INSERT INTO search_terms (term, kind, source_id, matter_id) VALUES {}", rows.join(", "));
        let mut insert =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind.as_str()).bind(&source).bind(&matter);
        for term in chunk {
            insert = insert.bind(term.clone());
        }
        insert.execute(tx.conn()).await?;
    }
    Ok(())
}

/// Removes a record from the index.
pub(crate) async fn forget(tx: &mut FirmTx, kind: Kind, source: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM search_terms WHERE kind = $1 AND source_id = $2")
        .bind(kind.as_str())
        .bind(source.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Records holding every one of `terms` (at most `limit`), grouped by matter.
pub async fn find(
    tx: &mut FirmTx,
    reader: UserId,
    terms: &[String],
    limit: i64,
) -> Result<BTreeMap<Uuid, Vec<Candidate>>, StoreError> {
    // No key yet means nothing was ever indexed; making one here would write in what may
    // be a read-only transaction (PostgreSQL refuses it).
    let Some(key) = stored_key(tx).await? else { return Ok(BTreeMap::new()) };
    let placeholders: Vec<String> = (2..terms.len() + 2).map(|i| format!("${i}")).collect();
    // Only matters the reader holds a role on and no wall screens it from: the cap on candidates
    // must not be spent on the rest of the firm's matters (the caller still checks each).
    let sql = format!(
        "SELECT kind, source_id, matter_id FROM search_terms
         WHERE term IN ({})
           AND matter_id IN (SELECT matter_id FROM matter_members WHERE user_id = $1)
           AND NOT {}
         GROUP BY kind, source_id, matter_id HAVING COUNT(*) = {} ORDER BY matter_id, kind, source_id LIMIT {limit}",
        placeholders.join(", "),
        super::access::screened("search_terms.matter_id", "$1"),
        terms.len()
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reader.to_string());
    for term in terms {
        query = query.bind(key.blind(term));
    }
    let rows = query.fetch_all(tx.conn()).await?;
    let mut by_matter: BTreeMap<Uuid, Vec<Candidate>> = BTreeMap::new();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let source: String = row.try_get("source_id")?;
        let matter: String = row.try_get("matter_id")?;
        let (Some(kind), Ok(source), Ok(matter)) = (Kind::parse(&kind), source.parse(), matter.parse())
        else {
            continue;
        };
        by_matter.entry(matter).or_default().push(Candidate { kind, source, matter });
    }
    Ok(by_matter)
}
