//! Filling a firm's audit log to a million entries quickly. The store's own append takes
//! four statements an entry (about 1,500 entries a second on PostgreSQL here), so the
//! filling goes through the store's `audit::append_many`, which chains a few hundred entries
//! per statement and signs the checkpoints `append` would, with the firm's own audit key: the
//! result is what appending one by one would have left (the test below has the store's own
//! verifier check it, and further appends go on from it).

use std::sync::Arc;

use ringfence_core::audit::AuditRecord;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_store::FirmStore;
use ringfence_store::firm::audit;

use crate::BenchResult;

/// Entries per transaction.
const ROWS_PER_TRANSACTION: usize = 20_000;

pub struct AuditWriter {
    store: Arc<FirmStore>,
}

impl AuditWriter {
    pub fn new(store: Arc<FirmStore>) -> Self {
        Self { store }
    }

    /// The sequence number of the last entry.
    pub async fn head(&self) -> BenchResult<i64> {
        let mut tx = self.store.begin_read(&Principal::System(SystemTask::Benchmark)).await?;
        let seq = audit::last_seq(&mut tx).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Appends `count` records, `next(i)` making the i-th; returns the last sequence number.
    pub async fn append(&self, count: usize, mut next: impl FnMut(usize) -> AuditRecord) -> BenchResult<i64> {
        let mut done = 0;
        let mut last = self.head().await?;
        while done < count {
            let batch = (count - done).min(ROWS_PER_TRANSACTION);
            let records: Vec<AuditRecord> = (done..done + batch).map(&mut next).collect();
            let mut tx = self.store.begin(&Principal::System(SystemTask::Benchmark)).await?;
            last = audit::append_many(&mut tx, &records).await?;
            tx.commit().await?;
            done += batch;
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use ringfence_core::audit::{AuditAction, AuditActor, Origin, Outcome};
    use ringfence_core::clock::{Clock, SystemClock};
    use ringfence_core::firm::{FirmName, FirmSlug};
    use ringfence_core::user::Email;
    use ringfence_store::firm::audit::{self, Verification};
    use ringfence_store::{NewFirm, Storage, StorageLocation};
    use ringfence_testkit::{TestEnv, both_backends};

    use super::*;

    fn record(i: usize) -> AuditRecord {
        AuditRecord {
            at: SystemClock.now(),
            actor: AuditActor::User { id: format!("user-{i}"), email: "u@fill.example".into() },
            action: AuditAction::MatterViewed,
            resource_type: Some("matter"),
            resource_id: Some(format!("matter-{i}")),
            matter_id: Some(format!("matter-{i}")),
            outcome: Outcome::Success,
            origin: Origin { ip: Some("127.0.0.1".into()), user_agent: None, request_id: None },
        }
    }

    both_backends!(a_filled_log_verifies_and_takes_further_appends, |env: TestEnv| async move {
        let now = SystemClock.now();
        let location = match env.database_url() {
            Some(url) => StorageLocation::postgres(url.to_owned()),
            None => StorageLocation::Sqlite,
        };
        let storage = Storage::open(&location, env.data_dir(), None, now).await.expect("open");
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
        let store = storage.firm(created.firm.id).await.expect("store");
        let writer = AuditWriter::new(store.clone());
        let before = writer.head().await.expect("head");
        let last = writer.append(1_000, record).await.expect("filled");
        assert_eq!(last, before + 1_000);

        // As it was left: every promised checkpoint signed with the firm's own key.
        let mut tx = store.begin(&Principal::System(SystemTask::Benchmark)).await.expect("begin");
        let verified = audit::verify(&mut tx).await.expect("verify");
        assert!(
            matches!(verified, Verification::Intact { entries, checkpoints, .. }
                if entries == last && checkpoints == last / audit::CHECKPOINT_EVERY),
            "{verified:?}"
        );
        let next = audit::append(&mut tx, &record(5_000)).await.expect("append after the fill");
        assert_eq!(next, last + 1);
        let verified = audit::verify(&mut tx).await.expect("verify");
        tx.commit().await.expect("commit");
        assert!(matches!(verified, Verification::Intact { entries, .. } if entries == next), "{verified:?}");
    });
}
