//! Appending many entries at once, for filling a log quickly (the benchmarks' million
//! entries): the chain, the checkpoints and the head come out exactly as [`super::append`]
//! one entry at a time would leave them, only with a few hundred rows per statement.

use ringfence_core::audit::AuditRecord;
use ringfence_core::clock::unix_millis;
use ringfence_crypto::audit_chain;
use sqlx::Row;

use super::{FirmTx, append, checkpoint_due, hash_of, sign_checkpoint_with, signing_key};
use crate::StoreError;

/// Rows per INSERT statement.
const ROWS_PER_STATEMENT: usize = 400;

/// Appends `records` in order, in the caller's transaction, signing a checkpoint wherever
/// [`append`] would; returns the sequence number of the last entry (the head's, if
/// `records` is empty).
pub async fn append_many(tx: &mut FirmTx, records: &[AuditRecord]) -> Result<i64, StoreError> {
    // Taking the head row serialises this with every other append, as `append` does.
    let take_head = "UPDATE audit_head SET seq = seq WHERE singleton = 1 RETURNING seq, hash, checkpoint_at";
    let (head, records) = match sqlx::query(take_head).fetch_optional(tx.conn()).await? {
        Some(head) => (head, records),
        None => {
            // A log's first entry starts the chain from the firm's genesis hash.
            let Some((first, rest)) = records.split_first() else { return Ok(0) };
            append(tx, first).await?;
            (sqlx::query(take_head).fetch_one(tx.conn()).await?, rest)
        }
    };
    let mut seq: i64 = head.try_get("seq")?;
    let mut previous = hash_of(head.try_get("hash")?)?;
    let mut checkpoint_at: i64 = head.try_get("checkpoint_at")?;
    if records.is_empty() {
        return Ok(seq);
    }
    // SQLite looks a numbered parameter's name up by walking all of them, so thousands of
    // `$n` in one statement cost quadratic time there; plain `?` do not.
    let sqlite = tx.conn().backend_name() == "SQLite";
    let mut signer = None;
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_email, action, resource_type, \
             resource_id, matter_id, outcome, ip, user_agent, request_id, hash) VALUES ",
        );
        for i in 0..chunk.len() {
            let placeholders: Vec<String> = if sqlite {
                vec!["?".to_owned(); 14]
            } else {
                (1..=14).map(|k| format!("${}", i * 14 + k)).collect()
            };
            sql.push_str(if i == 0 { "(" } else { ", (" });
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let mut due = Vec::new();
        for record in chunk {
            seq += 1;
            let at = unix_millis(record.at);
            let entry = record.at_seq(seq);
            let hash = audit_chain::link(&previous, &entry.canonical_bytes());
            previous = hash;
            if checkpoint_due(seq, at, Some(checkpoint_at)) {
                due.push((seq, hash, at));
                checkpoint_at = at;
            }
            query = query
                .bind(seq)
                .bind(at)
                .bind(entry.actor_kind)
                .bind(entry.actor_id)
                .bind(entry.actor_email)
                .bind(entry.action)
                .bind(entry.resource_type)
                .bind(entry.resource_id)
                .bind(entry.matter_id)
                .bind(entry.outcome)
                .bind(entry.ip)
                .bind(entry.user_agent)
                .bind(entry.request_id)
                .bind(hash.to_vec());
        }
        query.execute(tx.conn()).await?;
        for (seq, hash, at) in due {
            // The key is looked up (or made) once: opening its seed for every checkpoint
            // would cost more than the entries.
            let key = match signer.take() {
                Some(key) => key,
                None => signing_key(tx, at).await?,
            };
            sign_checkpoint_with(tx, &key, seq, &hash, at).await?;
            signer = Some(key);
        }
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, checkpoint_at = $3 WHERE singleton = 1")
        .bind(seq)
        .bind(previous.to_vec())
        .bind(checkpoint_at)
        .execute(tx.conn())
        .await?;
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use ringfence_core::audit::{AuditActor, Origin, Outcome};
    use ringfence_core::clock::{Clock, SystemClock};
    use ringfence_core::firm::{FirmName, FirmSlug};
    use ringfence_core::user::Email;
    use ringfence_testkit::{TestEnv, both_backends};
    use time::Duration;

    use super::*;
    use crate::firm::audit::{self, Verification};
    use crate::{FirmStore, NewFirm, Storage, StorageLocation};
    use ringfence_core::principal::Principal;

    /// A thousand entries a second apart, with two long pauses: checkpoints fall due both
    /// by count and by time, inside and across statements.
    fn traffic(start: time::OffsetDateTime) -> Vec<AuditRecord> {
        let mut at = start;
        (0..1_000)
            .map(|i| {
                at += if i == 130 || i == 777 { Duration::minutes(11) } else { Duration::seconds(1) };
                AuditRecord {
                    at,
                    actor: AuditActor::User { id: format!("user-{i}"), email: "u@bulk.example".into() },
                    action: ringfence_core::audit::AuditAction::MatterViewed,
                    resource_type: Some("matter"),
                    resource_id: Some(format!("matter-{i}")),
                    matter_id: Some(format!("matter-{i}")),
                    outcome: Outcome::Success,
                    origin: Origin { ip: Some("127.0.0.1".into()), user_agent: None, request_id: None },
                }
            })
            .collect()
    }

    async fn firm(storage: &Storage, slug: &str, now: time::OffsetDateTime) -> std::sync::Arc<FirmStore> {
        let created = storage
            .create_firm(
                NewFirm {
                    slug: FirmSlug::parse(slug).expect("slug"),
                    name: FirmName::parse("Bulk").expect("name"),
                    admin_email: Email::parse(&format!("a@{slug}.example")).expect("email"),
                    admin_name: None,
                    admin_password_hash: None,
                },
                now,
            )
            .await
            .expect("firm");
        storage.firm(created.firm.id).await.expect("store")
    }

    /// Where the checkpoints are, and what the head remembers of the last one.
    async fn checkpoints(tx: &mut FirmTx) -> (Vec<(i64, i64)>, (i64, i64)) {
        let signed = sqlx::query_as("SELECT seq, at FROM audit_checkpoints ORDER BY seq")
            .fetch_all(tx.conn())
            .await
            .expect("checkpoints");
        let head = sqlx::query_as("SELECT seq, checkpoint_at FROM audit_head")
            .fetch_one(tx.conn())
            .await
            .expect("head");
        (signed, head)
    }

    both_backends!(many_appended_at_once_leave_what_appending_one_by_one_does, |env: TestEnv| async move {
        let now = SystemClock.now();
        let location = match env.database_url() {
            Some(url) => StorageLocation::postgres(url.to_owned()),
            None => StorageLocation::Sqlite,
        };
        let storage = Storage::open(&location, env.data_dir(), None, now).await.expect("open");
        let records = traffic(now);

        let one_by_one = firm(&storage, "one-by-one", now).await;
        let mut tx = one_by_one.begin(&Principal::Anonymous).await.expect("begin");
        for record in &records {
            audit::append(&mut tx, record).await.expect("append");
        }
        let expected = checkpoints(&mut tx).await;
        tx.commit().await.expect("commit");
        assert!(expected.0.len() > 10, "checkpoints fall due by count and by time: {:?}", expected.0);

        let at_once = firm(&storage, "at-once", now).await;
        let mut tx = at_once.begin(&Principal::Anonymous).await.expect("begin");
        let last = append_many(&mut tx, &records).await.expect("append many");
        assert_eq!(last, expected.1.0);
        assert_eq!(checkpoints(&mut tx).await, expected);
        assert_eq!(append_many(&mut tx, &[]).await.expect("nothing"), last);
        let verified = audit::verify(&mut tx).await.expect("verify");
        assert_eq!(
            verified,
            Verification::Intact { entries: last, checkpoints: expected.0.len() as i64, external: 0 }
        );
        tx.commit().await.expect("commit");

        // The log goes on from there, by either way of appending.
        let mut later = traffic(now + Duration::hours(1));
        let mut tx = at_once.begin(&Principal::Anonymous).await.expect("begin");
        let next = audit::append(&mut tx, &later.remove(0)).await.expect("append after");
        assert_eq!(next, last + 1);
        let end = append_many(&mut tx, &later).await.expect("append many after");
        assert_eq!(end, last + 1_000);
        let verified = audit::verify(&mut tx).await.expect("verify");
        tx.commit().await.expect("commit");
        assert!(matches!(verified, Verification::Intact { entries, .. } if entries == end), "{verified:?}");
    });
}
