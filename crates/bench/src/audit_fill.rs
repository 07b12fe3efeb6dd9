//! Filling a firm's audit log to a million entries quickly. The store's own append takes
//! four statements an entry (about 1,500 entries a second on PostgreSQL here), so the
//! seeding chains the entries itself, with the store's canonical encoding and link function
//! (`AuditRecord::at_seq`, `audit_chain::link`), inserts them a few hundred rows per
//! statement, moves the chain head, and has the store sign a checkpoint at the end. The
//! result is what appending one by one would have left (the test below has the store's own
//! verifier check it), minus the checkpoint every 100 entries, which the export never reads.

use std::fmt::Write;
use std::str::FromStr;

use ringfence_core::audit::AuditRecord;
use ringfence_core::ids::FirmId;
use ringfence_crypto::audit_chain;
use ringfence_store::Backend;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

use crate::{BenchResult, fail};

/// Rows per INSERT statement, and per transaction.
const ROWS_PER_STATEMENT: usize = 400;
const ROWS_PER_TRANSACTION: usize = 20_000;

pub struct AuditWriter {
    pool: AnyPool,
    backend: Backend,
    /// `"firm_<id>".` on PostgreSQL, where the bench connects as the deployment's login.
    schema: String,
}

impl AuditWriter {
    /// `url`: the firm's SQLite file, or the deployment's PostgreSQL database.
    pub async fn open(backend: Backend, url: &str, firm: FirmId) -> BenchResult<Self> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let schema = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!("\"firm_{}\".", firm.simple()),
        };
        Ok(Self { pool, backend, schema })
    }

    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The sequence number of the last entry.
    pub async fn head(&self) -> BenchResult<i64> {
        let sql = format!("SELECT seq FROM {}audit_head WHERE singleton = 1", self.schema);
        let seq: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_optional(&self.pool).await?;
        Ok(seq.unwrap_or(0))
    }

    /// Appends `count` records, `next(i)` making the i-th; returns the last sequence number.
    pub async fn append(&self, count: usize, mut next: impl FnMut(usize) -> AuditRecord) -> BenchResult<i64> {
        let mut done = 0;
        let mut last = self.head().await?;
        while done < count {
            let batch = (count - done).min(ROWS_PER_TRANSACTION);
            let records: Vec<AuditRecord> = (done..done + batch).map(&mut next).collect();
            last = self.append_batch(&records).await?;
            done += batch;
        }
        Ok(last)
    }

    async fn append_batch(&self, records: &[AuditRecord]) -> BenchResult<i64> {
        let p = &self.schema;
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let head = sqlx::query(AssertSqlSafe(format!(
            "SELECT seq, hash FROM {p}audit_head WHERE singleton = 1{lock}"
        )))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| fail("the firm's audit log has no head yet"))?;
        let mut seq: i64 = head.try_get("seq")?;
        let hash: Vec<u8> = head.try_get("hash")?;
        let mut previous: [u8; 32] = hash.try_into().map_err(|_| fail("the chain head is not 32 bytes"))?;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut sql = format!(
                "INSERT INTO {p}audit_log (seq, at, actor_kind, actor_id, actor_email, action, resource_type, \
                 resource_id, matter_id, outcome, ip, user_agent, request_id, hash) VALUES "
            );
            for i in 0..chunk.len() {
                // SQLite looks a numbered parameter's name up by walking all of them, so
                // thousands of `$n` cost quadratic time there; plain `?` do not.
                let placeholders: Vec<String> = match self.backend {
                    Backend::Sqlite => vec!["?".to_owned(); 14],
                    Backend::Postgres => (1..=14).map(|k| format!("${}", i * 14 + k)).collect(),
                };
                let _ = write!(sql, "{}({})", if i == 0 { "" } else { ", " }, placeholders.join(", "));
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for record in chunk {
                seq += 1;
                let entry = record.at_seq(seq);
                let hash = audit_chain::link(&previous, &entry.canonical_bytes());
                previous = hash;
                query = query
                    .bind(seq)
                    .bind(ringfence_core::clock::unix_millis(entry.at))
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
            query.execute(&mut *tx).await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {p}audit_head SET seq = $1, hash = $2 WHERE singleton = 1"
        )))
        .bind(seq)
        .bind(previous.to_vec())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use ringfence_core::audit::{AuditActor, Origin, Outcome};
    use ringfence_core::clock::{Clock, SystemClock};
    use ringfence_core::firm::{FirmName, FirmSlug};
    use ringfence_core::user::Email;
    use ringfence_store::firm::audit::{self, Verification};
    use ringfence_store::{NewFirm, Storage, StorageLocation};

    use super::*;

    fn record(i: usize) -> AuditRecord {
        AuditRecord {
            at: SystemClock.now(),
            actor: AuditActor::User { id: format!("user-{i}"), email: "u@fill.example".into() },
            action: "matter.viewed",
            resource_type: Some("matter"),
            resource_id: Some(format!("matter-{i}")),
            matter_id: Some(format!("matter-{i}")),
            outcome: Outcome::Success,
            origin: Origin { ip: Some("127.0.0.1".into()), user_agent: None, request_id: None },
        }
    }

    #[tokio::test]
    async fn a_filled_log_verifies_and_takes_further_appends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = SystemClock.now();
        let storage = Storage::open(&StorageLocation::Sqlite, dir.path(), None, now).await.expect("open");
        let created = storage
            .create_firm(
                NewFirm {
                    slug: FirmSlug::parse("fill").expect("slug"),
                    name: FirmName::parse("Fill").expect("name"),
                    admin_email: Email::parse("a@fill.example").expect("email"),
                    admin_name: None,
                    admin_password_hash: None,
                },
                now,
            )
            .await
            .expect("firm");
        let firm = created.firm.id;
        let path = dir.path().join("firms").join(firm.to_string()).join("firm.db");
        let writer = AuditWriter::open(Backend::Sqlite, &format!("sqlite://{}", path.display()), firm)
            .await
            .expect("open");
        let before = writer.head().await.expect("head");
        let last = writer.append(1_000, record).await.expect("filled");
        assert_eq!(last, before + 1_000);
        writer.close().await;

        let store = storage.firm(firm).await.expect("store");
        let mut tx = store.begin().await.expect("begin");
        audit::checkpoint_now(&mut tx, now).await.expect("checkpoint");
        let next = audit::append(&mut tx, &record(5_000)).await.expect("append after the fill");
        assert_eq!(next, last + 1);
        let verified = audit::verify(&mut tx).await.expect("verify");
        tx.commit().await.expect("commit");
        assert!(
            matches!(verified, Verification::Intact { entries, .. } if entries == last + 1),
            "{verified:?}"
        );
    }
}
