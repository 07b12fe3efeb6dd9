//! The firm's audit log: appending (in the caller's transaction, so an action and its
//! entry commit together), reading with filters, checkpoints, and verification.

use ringfence_core::audit::{AuditRecord, MATTER_CHANGES, MATTER_VIEWED, StoredAuditEntry};
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_crypto::audit_chain::{self, AuditSigningKey};
use ringfence_crypto::{FieldRef, KeyVersion};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Duration, OffsetDateTime};

use super::FirmTx;
use super::access::{AccessHistory, MatterAccess};
use crate::StoreError;

/// A checkpoint is signed at least every this many entries…
pub const CHECKPOINT_EVERY: i64 = 100;
/// …and at the first entry after this long without one.
pub const CHECKPOINT_AFTER: Duration = Duration::minutes(10);

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
            .bind(audit_chain::genesis(&tx.firm().to_string()).to_vec())
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
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id,
                                matter_id, outcome, ip, user_agent, request_id, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(seq)
    .bind(at)
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
    .execute(tx.conn())
    .await?;
    let due =
        seq % CHECKPOINT_EVERY == 0 || at - checkpoint_at >= CHECKPOINT_AFTER.whole_milliseconds() as i64;
    let checkpoint_at = if due {
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

fn seed_field(id: &str) -> FieldRef<'_> {
    FieldRef { table: "audit_keys", record: id, field: "seed" }
}

/// The firm's current audit signing key, made on first use.
async fn signing_key(tx: &mut FirmTx, now: i64) -> Result<(String, AuditSigningKey), StoreError> {
    let row = sqlx::query("SELECT id, seed_sealed FROM audit_keys ORDER BY created_at DESC, id LIMIT 1")
        .fetch_optional(tx.conn())
        .await?;
    if let Some(row) = row {
        let id: String = row.try_get("id")?;
        let sealed: Vec<u8> = row.try_get("seed_sealed")?;
        let seed = tx.open(seed_field(&id), &sealed)?;
        let key = AuditSigningKey::from_seed(&seed).ok_or(ringfence_crypto::CryptoError::Malformed)?;
        return Ok((id, key));
    }
    start_signing_key(tx, now).await
}

/// Starts a new audit signing key, sealed under the current firm key version; it signs
/// every checkpoint from now on. Earlier keys stay for their public halves.
pub(crate) async fn start_signing_key(
    tx: &mut FirmTx,
    now: i64,
) -> Result<(String, AuditSigningKey), StoreError> {
    let key = AuditSigningKey::generate()?;
    let public = key.public_key()?;
    let id = public.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>();
    let sealed = tx.seal(seed_field(&id), key.seed())?;
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
    Ok((id, key))
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
    let (key_id, key) = signing_key(tx, at).await?;
    let signature = key.sign_checkpoint(&tx.firm().to_string(), seq, hash, at)?;
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, at, hash, signature, key_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(seq)
    .bind(at)
    .bind(hash.to_vec())
    .bind(signature)
    .bind(key_id)
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
/// the latest checkpoint: what a firm fetches to keep its own copy of the chain head.
pub async fn checkpoint_now(tx: &mut FirmTx, now: OffsetDateTime) -> Result<Option<Checkpoint>, StoreError> {
    let head =
        sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1").fetch_optional(tx.conn()).await?;
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
         ORDER BY c.seq DESC LIMIT 1",
    )
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

fn entry_from(row: &AnyRow) -> Result<StoredAuditEntry, StoreError> {
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
    Intact { entries: i64, checkpoints: i64 },
    Broken { seq: i64, problem: String },
}

/// Walks the whole chain and every checkpoint. Reads in pages, so memory stays flat.
pub async fn verify(tx: &mut FirmTx) -> Result<Verification, StoreError> {
    let firm = tx.firm().to_string();
    let mut hashes = std::collections::HashMap::new();
    let checkpoints = sqlx::query(
        "SELECT c.seq, c.at, c.hash, c.signature, c.key_id, k.public_key
         FROM audit_checkpoints c JOIN audit_keys k ON k.id = c.key_id ORDER BY c.seq",
    )
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(checkpoint_from)
    .collect::<Result<Vec<_>, _>>()?;
    let checkpointed: std::collections::HashSet<i64> = checkpoints.iter().map(|c| c.seq).collect();
    // After a retention purge the chain starts from the signed checkpoint of the last
    // removed entry, and the purge is itself on the record.
    let first: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_log").fetch_one(tx.conn()).await?;
    let head: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_head WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    let anchor = match first {
        Some(first) => first - 1,
        None => head.unwrap_or(0),
    };
    let (mut previous, mut expected_seq) = if anchor == 0 {
        (audit_chain::genesis(&firm), 1)
    } else {
        let Some(checkpoint) = checkpoints.iter().find(|c| c.seq == anchor) else {
            return Ok(Verification::Broken {
                seq: anchor,
                problem: format!("entries up to {anchor} were removed without a retention purge"),
            });
        };
        let purge_noted: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND resource_id = $2")
                .bind(PURGE_ACTION)
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
            if checkpointed.contains(&entry.seq) {
                hashes.insert(entry.seq, computed);
            }
            previous = computed;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    let head: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_head WHERE singleton = 1")
        .fetch_optional(tx.conn())
        .await?;
    if let Some(head) = head
        && head > last
    {
        return Ok(Verification::Broken {
            seq: last + 1,
            problem: format!("entries {} to {head} were removed from the end of the log", last + 1),
        });
    }
    for checkpoint in &checkpoints {
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
    Ok(Verification::Intact { entries: last - anchor, checkpoints: checkpoints.len() as i64 })
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
        "INSERT INTO audit_shipping (sink, seq) VALUES ($1, $2) ON CONFLICT (sink) DO UPDATE SET seq = $2",
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
    sqlx::query("INSERT INTO audit_purge (singleton, up_to_seq) VALUES (1, $1)")
        .bind(up_to)
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1").bind(up_to).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM audit_log WHERE seq <= $1").bind(up_to).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM audit_purge WHERE singleton = 1").execute(tx.conn()).await?;
    let record = AuditRecord {
        at: now,
        actor: ringfence_core::audit::AuditActor::System,
        action: PURGE_ACTION,
        resource_type: Some("audit_log"),
        resource_id: Some(format!("1-{up_to}")),
        matter_id: None,
        outcome: ringfence_core::audit::Outcome::Success,
        origin: ringfence_core::audit::Origin::default(),
    };
    append(tx, &record).await?;
    Ok(Some(up_to))
}

const PURGE_ACTION: &str = "audit.purged";

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
        .filter(|(action, _)| action == MATTER_VIEWED)
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
    let actions = (3..3 + MATTER_CHANGES.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
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
    for (action, _) in MATTER_CHANGES {
        query = query.bind(*action);
    }
    let rows = query.fetch_all(tx.conn()).await?;
    rows.iter().map(entry_from).collect()
}
