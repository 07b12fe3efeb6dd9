//! The firm's audit log: appending (in the caller's transaction, so an action and its
//! entry commit together), reading with filters, checkpoints, and verification.
//!
//! Verification assumes whoever can write the database may have rewritten anything in it,
//! and trusts only what needs a key the database does not hold: a checkpoint counts only if
//! its signing key is proven the firm's (its seed opens under the firm key and gives its
//! public key, or a proven key certified it), a checkpoint must exist wherever [`append`]
//! promises one, and checkpoints kept outside the database are compared with the chain.
//! What is left unprotected is the tail after the last checkpoint (see the README).

use ringfence_core::audit::{AuditAction, AuditRecord, StoredAuditEntry};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_crypto::audit_chain::{self, AuditSigningKey};
use ringfence_crypto::{FieldRef, KeyVersion};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Duration, OffsetDateTime};

use super::FirmTx;
use super::access::{AccessHistory, MatterAccess};
use crate::StoreError;

mod bulk;
pub use bulk::append_many;

/// A checkpoint is signed at least every this many entries…
pub const CHECKPOINT_EVERY: i64 = 100;
/// …and at the first entry after this long without one.
pub const CHECKPOINT_AFTER: Duration = Duration::minutes(10);

/// Whether entry `seq`, stamped `at`, is promised a checkpoint, the previous one having
/// been signed at `checkpoint_at` (unknown only to a verify that starts after a purge).
/// What every append keeps and verify replays, so they cannot drift apart.
pub fn checkpoint_due(seq: i64, at: i64, checkpoint_at: Option<i64>) -> bool {
    seq % CHECKPOINT_EVERY == 0
        || checkpoint_at.is_some_and(|t| at - t >= CHECKPOINT_AFTER.whole_milliseconds() as i64)
}

fn hash_of(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Database(sqlx::Error::Decode("a stored hash is not 32 bytes".into())))
}

/// Appends `record` to the chain and returns its sequence number.
pub async fn append(tx: &mut FirmTx, record: &AuditRecord) -> Result<i64, StoreError> {
    let at = unix_millis(record.at);
    // Taking the head row serialises appends: no two entries can share a predecessor.
    let take_head =
        "UPDATE audit_head SET seq = seq + 1 WHERE singleton = 1 RETURNING seq, hash, checkpoint_at";
    let head = match sqlx::query(take_head).fetch_optional(tx.conn()).await? {
        Some(head) => head,
        None => {
            // The firm's first entry: the chain starts from the firm's genesis hash.
            sqlx::query(
                "INSERT INTO audit_head (singleton, seq, hash, checkpoint_at) VALUES (1, 0, $1, $2)
                 ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(audit_chain::genesis(tx.sealed_as()).to_vec())
            .bind(at)
            .execute(tx.conn())
            .await?;
            sqlx::query(take_head).fetch_one(tx.conn()).await?
        }
    };
    let seq: i64 = head.try_get("seq")?;
    let previous = hash_of(head.try_get("hash")?)?;
    let checkpoint_at: i64 = head.try_get("checkpoint_at")?;
    let entry = record.at_seq(seq);
    let hash = audit_chain::link(&previous, &entry.canonical_bytes());
    insert_entry(
        tx.conn(),
        "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id,
                                matter_id, outcome, ip, user_agent, request_id, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &entry,
        &hash,
    )
    .await?;
    let checkpoint_at = if checkpoint_due(seq, at, Some(checkpoint_at)) {
        sign_checkpoint(tx, seq, &hash, at).await?;
        at
    } else {
        checkpoint_at
    };
    sqlx::query("UPDATE audit_head SET hash = $1, checkpoint_at = $2 WHERE singleton = 1")
        .bind(hash.to_vec())
        .bind(checkpoint_at)
        .execute(tx.conn())
        .await?;
    Ok(seq)
}

/// Writes `entry` with its chain `hash` by `insert`, a statement taking the log's columns
/// in their order: the firm's log and the operator log share the shape.
pub(crate) async fn insert_entry(
    conn: &mut sqlx::AnyConnection,
    insert: &'static str,
    entry: &StoredAuditEntry,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query(insert)
        .bind(entry.seq)
        .bind(unix_millis(entry.at))
        .bind(&entry.actor_kind)
        .bind(&entry.actor_id)
        .bind(&entry.actor_email)
        .bind(&entry.action)
        .bind(&entry.resource_type)
        .bind(&entry.resource_id)
        .bind(&entry.matter_id)
        .bind(&entry.outcome)
        .bind(&entry.ip)
        .bind(&entry.user_agent)
        .bind(&entry.request_id)
        .bind(hash.to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

/// The sequence number of the log's last entry (0 for an empty log).
pub async fn last_seq(tx: &mut FirmTx) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_head WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    Ok(seq.unwrap_or(0))
}

fn seed_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "audit_keys", record: id, field: "seed" }
}

/// `sealed` opened as the seed of audit key `id`, if it opens under the firm key and gives
/// `public_key`: the proof that the key is the firm's own.
fn genuine(tx: &FirmTx, id: &str, public_key: &[u8], sealed: &[u8]) -> Option<AuditSigningKey> {
    let seed = zeroize::Zeroizing::new(tx.open(seed_field(id), sealed).ok()?);
    let key = AuditSigningKey::from_seed(&seed)?;
    (key.public_key().ok()?.as_slice() == public_key).then_some(key)
}

/// Every audit key with its seed, newest first.
async fn all_keys(tx: &mut FirmTx) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>, StoreError> {
    let rows = sqlx::query("SELECT id, public_key, seed_sealed FROM audit_keys ORDER BY created_at DESC, id")
        .fetch_all(tx.conn())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("public_key")?, row.try_get("seed_sealed")?)))
        .collect()
}

/// The firm's current audit signing key: the newest one proven the firm's (a key row
/// someone inserted is passed over), made on first use.
async fn signing_key(tx: &mut FirmTx, now: i64) -> Result<(String, AuditSigningKey), StoreError> {
    for (id, public_key, sealed) in all_keys(tx).await? {
        if let Some(key) = genuine(tx, &id, &public_key, &sealed) {
            return Ok((id, key));
        }
    }
    start_signing_key(tx, now).await
}

/// Starts a new audit signing key, sealed under the current firm key version; it signs
/// every checkpoint from now on. Earlier keys stay for their public halves, and the new
/// key certifies each of them that it can prove is the firm's: once an earlier key's firm
/// key version is retired its seed no longer opens, and the certificate is what proves it.
pub(crate) async fn start_signing_key(
    tx: &mut FirmTx,
    now: i64,
) -> Result<(String, AuditSigningKey), StoreError> {
    let key = AuditSigningKey::generate()?;
    let public = key.public_key()?;
    let id = public.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>();
    let sealed = tx.seal(seed_field(&id), key.seed())?;
    let earlier = all_keys(tx).await?;
    // Strictly newer than any other key, so "the newest" is never a tie.
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(created_at) FROM audit_keys").fetch_one(tx.conn()).await?;
    let created_at = newest.map_or(now, |newest| now.max(newest + 1));
    sqlx::query("INSERT INTO audit_keys (id, public_key, seed_sealed, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(public.to_vec())
        .bind(sealed)
        .bind(created_at)
        .execute(tx.conn())
        .await?;
    let firm = tx.sealed_as().to_owned();
    for (earlier_id, earlier_public, earlier_sealed) in earlier {
        if genuine(tx, &earlier_id, &earlier_public, &earlier_sealed).is_none() {
            continue;
        }
        let signature = key.certify_key(&firm, &earlier_id, &earlier_public)?;
        sqlx::query(
            "INSERT INTO audit_key_certificates (key_id, certified_by, signature) VALUES ($1, $2, $3)",
        )
        .bind(&earlier_id)
        .bind(&id)
        .bind(signature)
        .execute(tx.conn())
        .await?;
    }
    Ok((id, key))
}

/// For a firm restored as a copy beside its original: a signing key of its own, the
/// newest, so every checkpoint from here is signed by it and none by the original's keys
/// (it certifies them, so their checkpoints still verify); and the sinks' positions set
/// to the log's end, so that what the original shipped is not shipped again.
pub(crate) async fn part_from_original(tx: &mut FirmTx, now: i64) -> Result<(), StoreError> {
    start_signing_key(tx, now).await?;
    sqlx::query("UPDATE audit_shipping SET seq = (SELECT COALESCE(MAX(seq), 0) FROM audit_log)")
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The audit keys proven the firm's, by id with their public keys, and those that are not.
async fn proven_keys(
    tx: &mut FirmTx,
) -> Result<(std::collections::HashMap<String, Vec<u8>>, Vec<String>), StoreError> {
    let firm = tx.sealed_as().to_owned();
    let keys = all_keys(tx).await?;
    let mut proven = std::collections::HashMap::new();
    let mut pending = std::collections::HashMap::new();
    for (id, public_key, sealed) in keys {
        if genuine(tx, &id, &public_key, &sealed).is_some() {
            proven.insert(id, public_key);
        } else {
            pending.insert(id, public_key);
        }
    }
    let certificates: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT key_id, certified_by, signature FROM audit_key_certificates")
            .fetch_all(tx.conn())
            .await?;
    // A key certified by a proven key is proven, and may in turn prove those it certified.
    loop {
        let newly: Vec<String> = certificates
            .iter()
            .filter(|(key_id, signer, signature)| match (pending.get(key_id), proven.get(signer)) {
                (Some(public_key), Some(signer_public)) => {
                    audit_chain::verify_key_certificate(signer_public, &firm, key_id, public_key, signature)
                }
                _ => false,
            })
            .map(|(key_id, _, _)| key_id.clone())
            .collect();
        if newly.is_empty() {
            break;
        }
        for id in newly {
            if let Some(public_key) = pending.remove(&id) {
                proven.insert(id, public_key);
            }
        }
    }
    let mut unproven: Vec<String> = pending.into_keys().collect();
    unproven.sort();
    Ok((proven, unproven))
}

/// The firm key version the current audit signing key is sealed under, if there is one.
pub(crate) async fn signing_key_version(tx: &mut FirmTx) -> Result<Option<KeyVersion>, StoreError> {
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT seed_sealed FROM audit_keys ORDER BY created_at DESC, id LIMIT 1")
            .fetch_optional(tx.conn())
            .await?;
    Ok(sealed.and_then(|s| Some(KeyVersion(u32::from_be_bytes(s.get(1..5)?.try_into().ok()?)))))
}

async fn sign_checkpoint(tx: &mut FirmTx, seq: i64, hash: &[u8; 32], at: i64) -> Result<(), StoreError> {
    let signer = signing_key(tx, at).await?;
    sign_checkpoint_with(tx, &signer, seq, hash, at).await
}

/// [`sign_checkpoint`] with a key already taken by [`signing_key`].
async fn sign_checkpoint_with(
    tx: &mut FirmTx,
    (key_id, key): &(String, AuditSigningKey),
    seq: i64,
    hash: &[u8; 32],
    at: i64,
) -> Result<(), StoreError> {
    let signature = key.sign_checkpoint(tx.sealed_as(), seq, hash, at)?;
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, at, hash, signature, key_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(seq)
    .bind(at)
    .bind(hash.to_vec())
    .bind(signature)
    .bind(key_id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A signed checkpoint, with the public key that checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub hash: [u8; 32],
    pub signature: Vec<u8>,
    pub key_id: String,
    pub public_key: Vec<u8>,
}

fn checkpoint_from(row: &AnyRow) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        seq: row.try_get("seq")?,
        at: from_unix_millis(row.try_get("at")?),
        hash: hash_of(row.try_get("hash")?)?,
        signature: row.try_get("signature")?,
        key_id: row.try_get("key_id")?,
        public_key: row.try_get("public_key")?,
    })
}

/// Signs a checkpoint for the current head now (unless one already covers it) and returns
/// the checkpoint of the head: what a firm fetches to keep its own copy of the chain head.
pub async fn checkpoint_now(tx: &mut FirmTx, now: OffsetDateTime) -> Result<Option<Checkpoint>, StoreError> {
    // Taking the head row (as `append` does) keeps an append from slipping in between:
    // the head's `checkpoint_at` then always belongs to the checkpoint of the newest entry
    // that has one, which is what `verify` replays.
    let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE singleton = 1 RETURNING seq, hash")
        .fetch_optional(tx.conn())
        .await?;
    let Some(head) = head else { return Ok(None) };
    let seq: i64 = head.try_get("seq")?;
    let covered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_checkpoints WHERE seq = $1")
        .bind(seq)
        .fetch_one(tx.conn())
        .await?;
    if covered == 0 {
        let at = unix_millis(now);
        sign_checkpoint(tx, seq, &hash_of(head.try_get("hash")?)?, at).await?;
        sqlx::query("UPDATE audit_head SET checkpoint_at = $1 WHERE singleton = 1")
            .bind(at)
            .execute(tx.conn())
            .await?;
    }
    let row = sqlx::query(
        "SELECT c.seq, c.at, c.hash, c.signature, c.key_id, k.public_key
         FROM audit_checkpoints c JOIN audit_keys k ON k.id = c.key_id
         WHERE c.seq = $1",
    )
    .bind(seq)
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(checkpoint_from).transpose()
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub matter: Option<String>,
    /// A prefix of the dotted action name: `auth.` matches every sign-in event.
    pub action_prefix: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Leaves out every entry about these matters and clients: the reader's own walls
    /// bind its reading of the log too.
    pub screened: Option<super::access::Screens>,
}

pub(crate) fn entry_from(row: &AnyRow) -> Result<StoredAuditEntry, StoreError> {
    Ok(StoredAuditEntry {
        seq: row.try_get("seq")?,
        at: from_unix_millis(row.try_get("at")?),
        actor_kind: row.try_get("actor_kind")?,
        actor_id: row.try_get("actor_id")?,
        actor_email: row.try_get("actor_email")?,
        action: row.try_get("action")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        matter_id: row.try_get("matter_id")?,
        outcome: row.try_get("outcome")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        request_id: row.try_get("request_id")?,
    })
}

/// Entries matching `filter`, newest first, with `seq` below `before` (the cursor).
pub async fn list(
    tx: &mut FirmTx,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredAuditEntry>, StoreError> {
    // Only the conditions given go into the SQL: SQLite plans `($1 IS NULL OR seq < $1)` as
    // a scan from the newest entry on every page, which made a full export quadratic.
    enum Bound {
        Int(i64),
        Text(String),
    }
    let conditions: [(&str, Option<Bound>); 7] = [
        ("seq < {}", before.map(Bound::Int)),
        ("actor_id = {}", filter.user.clone().map(Bound::Text)),
        ("matter_id = {}", filter.matter.clone().map(Bound::Text)),
        ("substr(action, 1, length({0})) = {0}", filter.action_prefix.clone().map(Bound::Text)),
        ("outcome = {}", filter.outcome.clone().map(Bound::Text)),
        ("at >= {}", filter.from.map(|t| Bound::Int(unix_millis(t)))),
        ("at < {}", filter.to.map(|t| Bound::Int(unix_millis(t)))),
    ];
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut values = Vec::new();
    for (condition, value) in conditions {
        if let Some(value) = value {
            values.push(value);
            clauses.push(
                condition
                    .replace("{0}", &format!("${}", values.len()))
                    .replace("{}", &format!("${}", values.len())),
            );
        }
    }
    if let Some(screens) = &filter.screened {
        // An entry on a screened matter (as its matter, or as the matter it names) or on a
        // screened client is left out; written so that absent columns (NULL) keep it.
        let mut list = |ids: &[String]| {
            let from = values.len() + 1;
            values.extend(ids.iter().cloned().map(Bound::Text));
            (from..from + ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
        };
        if !screens.matters.is_empty() {
            let matters = list(&screens.matters);
            clauses.push(format!(
                "(matter_id IS NULL OR matter_id NOT IN ({matters}))
                 AND (resource_type IS NULL OR resource_id IS NULL OR resource_type <> 'matter'
                      OR resource_id NOT IN ({matters}))"
            ));
        }
        if !screens.clients.is_empty() {
            let clients = list(&screens.clients);
            clauses.push(format!(
                "(resource_type IS NULL OR resource_id IS NULL OR resource_type NOT IN ('client', 'client_wall')
                  OR substr(resource_id, 1, 36) NOT IN ({clients}))"
            ));
        }
    }
    let sql = format!(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id
         FROM audit_log WHERE {} ORDER BY seq DESC LIMIT ${}",
        clauses.join(" AND "),
        values.len() + 1
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values {
        query = match value {
            Bound::Int(n) => query.bind(n),
            Bound::Text(text) => query.bind(text),
        };
    }
    let rows = query.bind(limit).fetch_all(tx.conn()).await?;
    rows.iter().map(entry_from).collect()
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The chain is whole, every promised checkpoint is there and signed by a proven key,
    /// and every outside checkpoint given that the log still holds matches it (`external`
    /// counts those compared).
    Intact {
        entries: i64,
        checkpoints: i64,
        external: i64,
    },
    Broken {
        seq: i64,
        problem: String,
    },
    /// An audit key is neither sealed under the firm key nor certified by a key that is:
    /// someone without the keys put it there.
    UnprovenKey {
        key_id: String,
    },
}

/// "Entry `seq` of the log had hash `hash`", as kept outside the database: a checkpoint
/// fetched from the API, or an entry as a sink received it. `source` says where it came
/// from (a file and line), for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalCheckpoint {
    pub seq: i64,
    pub hash: [u8; 32],
    pub source: String,
}

/// Walks the whole chain and every checkpoint. Reads in pages, so memory stays flat.
pub async fn verify(tx: &mut FirmTx) -> Result<Verification, StoreError> {
    verify_against(tx, &[]).await
}

/// [`verify`], and also compares the chain with `external` checkpoints: each must match the
/// entry at its sequence number, and the log must still hold that entry (unless a retention
/// purge removed it).
pub async fn verify_against(
    tx: &mut FirmTx,
    external: &[ExternalCheckpoint],
) -> Result<Verification, StoreError> {
    let firm = tx.sealed_as().to_owned();
    let (proven, unproven) = proven_keys(tx).await?;
    if let Some(key_id) = unproven.into_iter().next() {
        return Ok(Verification::UnprovenKey { key_id });
    }
    let rows = sqlx::query("SELECT seq, at, hash, signature, key_id FROM audit_checkpoints ORDER BY seq")
        .fetch_all(tx.conn())
        .await?;
    let mut checkpoints = std::collections::BTreeMap::new();
    for row in &rows {
        let key_id: String = row.try_get("key_id")?;
        let seq: i64 = row.try_get("seq")?;
        let Some(public_key) = proven.get(&key_id) else {
            return Ok(Verification::Broken {
                seq,
                problem: format!(
                    "the checkpoint at entry {seq} names audit key {key_id}, which the firm does not have"
                ),
            });
        };
        let checkpoint = Checkpoint {
            seq,
            at: from_unix_millis(row.try_get("at")?),
            hash: hash_of(row.try_get("hash")?)?,
            signature: row.try_get("signature")?,
            key_id,
            public_key: public_key.clone(),
        };
        checkpoints.insert(seq, checkpoint);
    }
    let mut external: Vec<&ExternalCheckpoint> = external.iter().collect();
    external.sort_by_key(|c| c.seq);
    let mut external = external.into_iter().peekable();
    let mut compared = 0;
    let mut hashes = std::collections::HashMap::new();

    // After a retention purge the chain starts from the signed checkpoint of the last
    // removed entry, and the purge is itself on the record.
    let first: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log").fetch_one(tx.conn()).await?;
    let head: Option<(i64, i64)> =
        sqlx::query_as("SELECT seq, checkpoint_at FROM audit_head WHERE singleton = 1")
            .fetch_optional(tx.conn())
            .await?;
    let anchor = match first {
        Some(first) => first - 1,
        None => head.map_or(0, |(seq, _)| seq),
    };
    let (mut previous, mut expected_seq) = if anchor == 0 {
        (audit_chain::genesis(&firm), 1)
    } else {
        let Some(checkpoint) = checkpoints.get(&anchor) else {
            return Ok(Verification::Broken {
                seq: anchor,
                problem: format!("entries up to {anchor} were removed without a retention purge"),
            });
        };
        let purge_noted: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND resource_id = $2")
                .bind(AuditAction::AuditPurged.name())
                .bind(format!("1-{anchor}"))
                .fetch_one(tx.conn())
                .await?;
        if purge_noted == 0 {
            return Ok(Verification::Broken {
                seq: anchor,
                problem: format!("entries up to {anchor} were removed without a recorded retention purge"),
            });
        }
        hashes.insert(anchor, checkpoint.hash);
        (checkpoint.hash, anchor + 1)
    };
    // Entries the retention purge removed can no longer be compared.
    while let Some(outside) = external.next_if(|c| c.seq <= anchor) {
        if outside.seq == anchor && outside.hash != previous {
            return Ok(Verification::Broken {
                seq: anchor,
                problem: format!(
                    "entry {anchor} differs from the checkpoint kept outside the database ({})",
                    outside.source
                ),
            });
        }
        compared += i64::from(outside.seq == anchor);
    }
    // Replays `append`'s promise: a checkpoint at every hundredth entry, and at the first
    // entry 10 minutes (by the entries' own times) after the last checkpoint. That time is
    // known from the first entry of a new chain, and after a purge from the next checkpoint.
    let mut checkpoint_at: Option<i64> = None;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                    outcome, ip, user_agent, request_id, hash
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 1000",
        )
        .bind(expected_seq)
        .fetch_all(tx.conn())
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let entry = entry_from(row)?;
            if entry.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    problem: format!("entry {expected_seq} is missing (the next entry is {})", entry.seq),
                });
            }
            let stored = hash_of(row.try_get("hash")?)?;
            let computed = audit_chain::link(&previous, &entry.canonical_bytes());
            if stored != computed {
                return Ok(Verification::Broken {
                    seq: entry.seq,
                    problem: format!(
                        "entry {} does not match its hash: it was changed, or entries before it were",
                        entry.seq
                    ),
                });
            }
            let at = unix_millis(entry.at);
            if anchor == 0 && entry.seq == 1 {
                checkpoint_at = Some(at);
            }
            let due = checkpoint_due(entry.seq, at, checkpoint_at);
            match checkpoints.get(&entry.seq) {
                Some(checkpoint) => {
                    hashes.insert(entry.seq, computed);
                    checkpoint_at = Some(unix_millis(checkpoint.at));
                }
                None if due => {
                    return Ok(Verification::Broken {
                        seq: entry.seq,
                        problem: format!(
                            "entry {} has no signed checkpoint, though the log signs one at every \
                             {CHECKPOINT_EVERY}th entry and {} minutes after the last: checkpoints \
                             were removed",
                            entry.seq,
                            CHECKPOINT_AFTER.whole_minutes()
                        ),
                    });
                }
                None => {}
            }
            while let Some(outside) = external.next_if(|c| c.seq == entry.seq) {
                if outside.hash != computed {
                    return Ok(Verification::Broken {
                        seq: entry.seq,
                        problem: format!(
                            "entry {} differs from the checkpoint kept outside the database ({}): \
                             the log was rewritten",
                            entry.seq, outside.source
                        ),
                    });
                }
                compared += 1;
            }
            previous = computed;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    if let Some(outside) = external.next() {
        return Ok(Verification::Broken {
            seq: last + 1,
            problem: format!(
                "entries {} to {} were removed: a checkpoint kept outside the database ({}) covers {}",
                last + 1,
                outside.seq,
                outside.source,
                outside.seq
            ),
        });
    }
    if let Some((head, _)) = head
        && head > last
    {
        return Ok(Verification::Broken {
            seq: last + 1,
            problem: format!("entries {} to {head} were removed from the end of the log", last + 1),
        });
    }
    for checkpoint in checkpoints.values() {
        let signed = audit_chain::verify_checkpoint(
            &checkpoint.public_key,
            &firm,
            checkpoint.seq,
            &checkpoint.hash,
            unix_millis(checkpoint.at),
            &checkpoint.signature,
        );
        if !signed {
            return Ok(Verification::Broken {
                seq: checkpoint.seq,
                problem: format!("the checkpoint at entry {} has a bad signature", checkpoint.seq),
            });
        }
        if checkpoint.seq > last {
            return Ok(Verification::Broken {
                seq: last + 1,
                problem: format!(
                    "entries {} to {} were removed (a checkpoint covers {})",
                    last + 1,
                    checkpoint.seq,
                    checkpoint.seq
                ),
            });
        }
        if hashes.get(&checkpoint.seq) != Some(&checkpoint.hash) {
            return Ok(Verification::Broken {
                seq: checkpoint.seq,
                problem: format!(
                    "entry {} differs from its signed checkpoint: the chain was rewritten",
                    checkpoint.seq
                ),
            });
        }
    }
    Ok(Verification::Intact {
        entries: last - anchor,
        checkpoints: checkpoints.len() as i64,
        external: compared,
    })
}

/// Entries after `seq`, oldest first, with their hashes: what a sink receives next.
pub async fn after(
    tx: &mut FirmTx,
    seq: i64,
    limit: i64,
) -> Result<Vec<(StoredAuditEntry, [u8; 32])>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id, hash
         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(seq)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| Ok((entry_from(row)?, hash_of(row.try_get("hash")?)?))).collect()
}

/// The last entry `sink` has received.
pub async fn shipped(tx: &mut FirmTx, sink: &str) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_shipping WHERE sink = $1")
        .bind(sink)
        .fetch_optional(tx.conn())
        .await?;
    Ok(seq.unwrap_or(0))
}

pub async fn mark_shipped(tx: &mut FirmTx, sink: &str, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        // Never backwards: a shipper that outlived its job's lease must not undo another's.
        "INSERT INTO audit_shipping (sink, seq) VALUES ($1, $2)
         ON CONFLICT (sink) DO UPDATE SET seq = CASE WHEN audit_shipping.seq < $2 THEN $2 ELSE audit_shipping.seq END",
    )
    .bind(sink)
    .bind(seq)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The least retention a firm may choose, in months.
pub const MIN_RETENTION_MONTHS: i64 = 12;

pub async fn retention_months(tx: &mut FirmTx) -> Result<i64, StoreError> {
    let months: Option<i64> = sqlx::query_scalar("SELECT months FROM audit_retention WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    Ok(months.unwrap_or(MIN_RETENTION_MONTHS))
}

/// Sets the retention; the database refuses fewer than 12 months as well.
pub async fn set_retention_months(tx: &mut FirmTx, months: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_retention (singleton, months) VALUES (1, $1)
         ON CONFLICT (singleton) DO UPDATE SET months = $1",
    )
    .bind(months)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Removes the entries before the first one at or after `cutoff`. The last removed entry is
/// first covered by a signed checkpoint, which anchors the remaining chain, and the purge
/// itself is recorded. Must run in an owner transaction (see `FirmStore::purge_audit`).
pub(crate) async fn purge(
    tx: &mut FirmTx,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Option<i64>, StoreError> {
    let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE at >= $1")
        .bind(unix_millis(cutoff))
        .fetch_one(tx.conn())
        .await?;
    let up_to = match first_kept {
        Some(seq) => seq - 1,
        None => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM audit_log")
            .fetch_one(tx.conn())
            .await?
            .unwrap_or(0),
    };
    let first: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log").fetch_one(tx.conn()).await?;
    if first.is_none_or(|first| up_to < first) {
        return Ok(None);
    }
    let anchored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_checkpoints WHERE seq = $1")
        .bind(up_to)
        .fetch_one(tx.conn())
        .await?;
    if anchored == 0 {
        let hash: Vec<u8> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
            .bind(up_to)
            .fetch_one(tx.conn())
            .await?;
        sign_checkpoint(tx, up_to, &hash_of(hash)?, unix_millis(now)).await?;
    }
    if tx.conn().backend_name() == "SQLite" {
        // SQLite's delete triggers make no exception that a row of data could switch on:
        // the purge lifts them inside its transaction and puts them back before it commits.
        for (drop, _) in SQLITE_DELETE_TRIGGERS {
            sqlx::raw_sql(*drop).execute(tx.conn()).await?;
        }
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1").bind(up_to).execute(tx.conn()).await?;
        sqlx::query("DELETE FROM audit_log WHERE seq <= $1").bind(up_to).execute(tx.conn()).await?;
        for (_, create) in SQLITE_DELETE_TRIGGERS {
            sqlx::raw_sql(*create).execute(tx.conn()).await?;
        }
    } else {
        // PostgreSQL: only the owner role (this transaction's) may write `audit_purge`, or
        // delete from the log at all.
        sqlx::query("INSERT INTO audit_purge (singleton, up_to_seq) VALUES (1, $1)")
            .bind(up_to)
            .execute(tx.conn())
            .await?;
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1").bind(up_to).execute(tx.conn()).await?;
        sqlx::query("DELETE FROM audit_log WHERE seq <= $1").bind(up_to).execute(tx.conn()).await?;
        sqlx::query("DELETE FROM audit_purge WHERE singleton = 1").execute(tx.conn()).await?;
    }
    let record = AuditRecord {
        at: now,
        actor: ringfence_core::audit::AuditActor::System,
        action: AuditAction::AuditPurged,
        resource_type: Some("audit_log"),
        resource_id: Some(format!("1-{up_to}")),
        matter_id: None,
        outcome: ringfence_core::audit::Outcome::Success,
        origin: ringfence_core::audit::Origin::default(),
    };
    append(tx, &record).await?;
    // The purge's own entry is signed at once: from it on, `verify` again knows when the
    // next time-based checkpoint is due.
    checkpoint_now(tx, now).await?;
    Ok(Some(up_to))
}

/// SQLite's delete triggers on the log and its checkpoints (as migration 0021 makes them):
/// how to drop each, and how to make it again.
const SQLITE_DELETE_TRIGGERS: &[(&str, &str)] = &[
    (
        "DROP TRIGGER audit_log_no_delete",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ),
    (
        "DROP TRIGGER audit_checkpoints_no_delete",
        "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END",
    ),
];

/// How far back "recently viewed" looks: the user's newest entries, however long their
/// history, so the home page costs the same on the first day and after ten years.
const RECENT_ENTRIES_SCANNED: i64 = 500;

/// The matters `user` opened most recently, newest first, at most `limit` of them (from the
/// log's own record of each view among the user's newest entries). Callers show only those
/// the user may still see.
pub async fn recently_viewed_matters(
    tx: &mut FirmTx,
    user: ringfence_core::ids::UserId,
    limit: usize,
) -> Result<Vec<uuid::Uuid>, StoreError> {
    // Only the actor in the WHERE clause: the planner then walks the (actor_id, seq) index
    // newest first, where `action = ...` could lead it down every user's views instead.
    let newest: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, matter_id FROM audit_log WHERE actor_id = $1 AND outcome = 'success'
         ORDER BY seq DESC LIMIT $2",
    )
    .bind(user.to_string())
    .bind(RECENT_ENTRIES_SCANNED)
    .fetch_all(tx.conn())
    .await?;
    let viewed = newest
        .iter()
        .filter(|(action, _)| action == AuditAction::MatterViewed.name())
        .filter_map(|(_, matter)| matter.as_deref());
    let mut matters: Vec<uuid::Uuid> = Vec::with_capacity(limit);
    for matter in viewed.filter_map(|id| id.parse().ok()) {
        if matters.len() == limit {
            break;
        }
        if !matters.contains(&matter) {
            matters.push(matter);
        }
    }
    Ok(matters)
}

/// Whether `matter` names a matter (live or deleted) that no wall screens `reader` from:
/// what filtering the log by matter needs, so that a screened matter answers as one that
/// does not exist.
pub async fn reviewable_matter(
    tx: &mut FirmTx,
    reader: ringfence_core::ids::UserId,
    matter: &str,
) -> Result<bool, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) FROM matters m WHERE m.id = $1 AND NOT {}",
        super::access::screened("m.id", "$2")
    );
    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(matter)
        .bind(reader.to_string())
        .fetch_one(tx.conn())
        .await?;
    Ok(found > 0)
}

/// The matters (live or deleted) no wall screens `reader` from, as (id, number) by number:
/// what a reader of the log picks a matter by.
pub async fn reviewable_matters(
    tx: &mut FirmTx,
    reader: ringfence_core::ids::UserId,
) -> Result<Vec<(String, String)>, StoreError> {
    let sql = format!(
        "SELECT m.id, m.number FROM matters m WHERE NOT {} ORDER BY m.number",
        super::access::screened("m.id", "$1")
    );
    let found: Vec<(String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(reader.to_string()).fetch_all(tx.conn()).await?;
    Ok(found)
}

/// Everything the log holds about one matter, newest first: for those who may read the
/// matter's access history (its lead, administrators, audit officers).
pub async fn matter_trail(
    tx: &mut FirmTx,
    access: &MatterAccess<AccessHistory>,
    limit: i64,
) -> Result<Vec<StoredAuditEntry>, StoreError> {
    let filter = AuditFilter { matter: Some(access.matter().to_string()), ..AuditFilter::default() };
    list(tx, &filter, None, limit).await
}

/// What changed lately on the matters `user` holds (live, not walled off: the user's own
/// list), newest first.
pub async fn activity_on_matters_of(
    tx: &mut FirmTx,
    user: ringfence_core::ids::UserId,
    limit: i64,
) -> Result<Vec<StoredAuditEntry>, StoreError> {
    let changes: Vec<AuditAction> = AuditAction::matter_changes().collect();
    let actions = (3..3 + changes.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    // The matters come from a subquery, and `seq + 0` hides the order from the primary
    // key: each matter's changes are then read from the (matter_id, action, seq) index.
    // Otherwise PostgreSQL walks the whole log backwards from its newest entry whenever
    // the user's matters are busy with views and quiet with changes.
    let sql = format!(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id
         FROM audit_log
         WHERE matter_id IN (
                 SELECT mm.matter_id FROM matter_members mm JOIN matters m ON m.id = mm.matter_id
                 WHERE mm.user_id = $2 AND m.deleted_at IS NULL AND NOT {})
           AND action IN ({actions}) AND outcome = 'success'
         ORDER BY seq + 0 DESC LIMIT $1",
        super::access::screened("m.id", "$2")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).bind(user.to_string());
    for action in changes {
        query = query.bind(action.name());
    }
    let rows = query.fetch_all(tx.conn()).await?;
    rows.iter().map(entry_from).collect()
}

/// `actor`'s entries between `from` and `until`, oldest first, at most `limit`: an
/// incident's timeline.
pub async fn of_actor(
    tx: &mut FirmTx,
    actor: &str,
    from: OffsetDateTime,
    until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<StoredAuditEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id
         FROM audit_log WHERE actor_id = $1 AND at >= $2 AND at <= $3 ORDER BY seq LIMIT $4",
    )
    .bind(actor)
    .bind(unix_millis(from))
    .bind(unix_millis(until))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(entry_from).collect()
}

/// The entries from address `ip` among those numbered `seqs`, oldest first, at most
/// `limit`: the part of an incident's timeline whose actor was not signed in. Bounded by
/// sequence, as the log is not indexed by address.
pub async fn from_address(
    tx: &mut FirmTx,
    ip: &str,
    seqs: std::ops::RangeInclusive<i64>,
    limit: i64,
) -> Result<Vec<StoredAuditEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id
         FROM audit_log WHERE seq >= $1 AND seq <= $2 AND ip = $3 ORDER BY seq LIMIT $4",
    )
    .bind(*seqs.start())
    .bind(*seqs.end())
    .bind(ip)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(entry_from).collect()
}
