//! Storage faults and abandoned work: a connection comes back to the pool clean or not at
//! all, a full disk is survived without a restart, and an outage is reported at once.

use std::time::{Duration, Instant};

use ringfence_core::audit::{AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::clock::{Clock, SystemClock};
use ringfence_testkit::{TestEnv, both_backends};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::*;
use crate::StorageFault;
use ringfence_core::ids::SessionId;
use ringfence_core::principal::FirmUser;

fn location(env: &TestEnv) -> StorageLocation {
    match env.database_url() {
        Some(url) => StorageLocation::postgres(url.to_owned()),
        None => StorageLocation::Sqlite,
    }
}

fn new_firm(slug: &'static str) -> NewFirm<'static> {
    NewFirm {
        slug: FirmSlug::parse(slug).expect("slug"),
        name: FirmName::parse("Fault & Co").expect("name"),
        admin_email: Email::parse(&format!("ada@{slug}.example")).expect("email"),
        admin_name: Some("Ada Admin"),
        admin_password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2g".to_owned()),
    }
}

/// A write that must reach the disk, in one firm transaction.
async fn write_once(store: &FirmStore, admin: UserId) -> Result<(), StoreError> {
    let mut tx = store.begin(&Principal::Anonymous).await?;
    invitations::create(&mut tx, admin, SystemClock.now()).await?;
    tx.commit().await
}

/// Polls `future` once; true when it finished.
async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut future = Some(future);
    std::future::poll_fn(|cx| std::task::Poll::Ready(future.take().is_some_and(|f| f.poll(cx).is_ready())))
        .await
}

both_backends!(no_transaction_outlives_a_cancelled_request, |env: TestEnv| async move {
    let now = SystemClock.now();
    let storage = Storage::open(&location(&env), env.data_dir(), None, now).await.expect("open");
    let a = storage.create_firm(new_firm("cancel-a"), now).await.expect("firm a");
    let b = storage.create_firm(new_firm("cancel-b"), now).await.expect("firm b");
    let (store_a, store_b) =
        (storage.firm(a.firm.id).await.expect("a"), storage.firm(b.firm.id).await.expect("b"));

    // Firm A's readers give up at every point of opening their transaction: after one to
    // six polls, some microseconds apart (a BEGIN sent and its answer not yet read, ...).
    let member = Principal::FirmUser(FirmUser {
        firm: a.firm.id,
        user: a.admin,
        email: Email::parse("admin@cancel-a.example").expect("email"),
        roles: BTreeSet::new(),
        session: SessionId::random(),
    });
    for round in 0..400u64 {
        let mut opening = std::pin::pin!(store_a.begin_read(&member));
        for _ in 0..=round % 6 {
            if poll_once(opening.as_mut()).await {
                break;
            }
            // Blocking on purpose: tokio's timers cannot wait less than a millisecond.
            std::thread::sleep(Duration::from_micros(10 + round % 37 * 9));
        }
    }
    // Then firm B's writers take every connection there is, at once: each must be in a
    // transaction of its own, begun for firm B, able to write.
    let writers = (0..16).map(|_| async {
        let mut tx = store_b.begin(&Principal::Anonymous).await.expect("begin for firm b");
        if storage.backend() == Backend::Postgres {
            let row = sqlx::query(
                "SELECT current_user::text AS role, current_setting('transaction_read_only') AS ro",
            )
            .fetch_one(tx.conn())
            .await
            .expect("whoami");
            assert_eq!(row.get::<String, _>("role"), PgFirmNames::of(b.firm.id).runtime_role);
            assert_eq!(
                row.get::<String, _>("ro"),
                "off",
                "a writer ran inside someone else's read transaction"
            );
        }
        invitations::create(&mut tx, b.admin, now).await.expect("firm b writes");
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.commit().await.expect("firm b commits");
    });
    futures_util::future::join_all(writers).await;
});

#[tokio::test]
async fn a_full_sqlite_disk_is_survived_without_a_restart() {
    let env = TestEnv::new(ringfence_testkit::Backend::Sqlite).await.expect("env");
    let now = SystemClock.now();
    let storage = Storage::open(&StorageLocation::Sqlite, env.data_dir(), None, now).await.expect("open");
    let created = storage.create_firm(new_firm("full"), now).await.expect("firm");
    let store = storage.firm(created.firm.id).await.expect("store");
    let writer = &store.writer.as_ref().expect("a sqlite writer").pool;

    // The writer's database may not grow by a page: as good as a full disk to SQLite.
    {
        let mut conn = writer.acquire().await.expect("writer");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut *conn).await.expect("pages");
        sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
            .execute(&mut *conn)
            .await
            .expect("limit");
    }
    let full = async {
        let mut tx = store.begin(&Principal::Anonymous).await?;
        for _ in 0..2_000 {
            invitations::create(&mut tx, created.admin, now).await?;
        }
        tx.commit().await
    }
    .await
    .expect_err("the database is full");
    assert_eq!(full.fault(), Some(StorageFault::Full), "{full}");
    assert!(health::fault_seen(), "the fault is noted for the readiness probe");

    // Space is freed (the limit lives on the connection the failure left behind, which the
    // pool must have closed rather than keep inside a dead transaction): writing works.
    write_once(&store, created.admin).await.expect("writes work again without a restart");
    storage.ready().await.expect("ready again, the store having written");
    assert!(!health::fault_seen());
}

#[tokio::test]
async fn a_postgres_outage_is_reported_within_seconds_and_recovered_from() {
    let Some(env) = TestEnv::new(ringfence_testkit::Backend::Postgres).await else { return };
    let database = env.database.as_ref().expect("a test database");
    let now = SystemClock.now();
    let storage = Storage::open(&location(&env), env.data_dir(), None, now).await.expect("open");
    let created = storage.create_firm(new_firm("outage"), now).await.expect("firm");
    let store = storage.firm(created.firm.id).await.expect("store");
    write_once(&store, created.admin).await.expect("writes before the outage");

    let mut admin = sqlx::PgConnection::connect(database.admin_url()).await.expect("admin connection");
    let allow = |yes: bool| {
        AssertSqlSafe(format!(r#"ALTER DATABASE "{}" WITH ALLOW_CONNECTIONS {yes}"#, database.name))
    };
    sqlx::raw_sql(allow(false)).execute(&mut admin).await.expect("refuse connections");
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database.name)
        .execute(&mut admin)
        .await
        .expect("end the sessions");

    let started = Instant::now();
    let mut fault = None;
    // The first statement on a connection the server ended may be the one that finds out.
    for _ in 0..3 {
        if let Err(err) = write_once(&store, created.admin).await {
            fault = err.fault();
            break;
        }
    }
    assert_eq!(fault, Some(StorageFault::Unavailable));
    assert!(storage.ready().await.is_err(), "not ready during the outage");
    assert!(started.elapsed() < Duration::from_secs(8), "answered in {:?}", started.elapsed());

    sqlx::raw_sql(allow(true)).execute(&mut admin).await.expect("allow connections");
    storage.ready().await.expect("ready after the outage");
    write_once(&store, created.admin).await.expect("writes after the outage");
}

both_backends!(a_failed_write_probe_stands_for_a_few_seconds, |env: TestEnv| async move {
    let now = SystemClock.now();
    let storage = Storage::open(&location(&env), env.data_dir(), None, now).await.expect("open");
    let a = storage.create_firm(new_firm("probe-a"), now).await.expect("firm a");
    let b = storage.create_firm(new_firm("probe-b"), now).await.expect("firm b");
    storage.firm(a.firm.id).await.expect("a");
    // Firm B's store can no longer write (its pools, of another opening of the same
    // storage, are closed), and a fault has been seen.
    let other = Storage::open(&location(&env), env.data_dir(), None, now).await.expect("open again");
    let store_b = other.firm(b.firm.id).await.expect("b");
    store_b.pool.close().await;
    if let Some(writer) = &store_b.writer {
        writer.pool.close().await;
    }
    storage.firms.write().await.insert(b.firm.id, store_b);
    let _ = StoreError::io(std::path::Path::new("/probe"), std::io::ErrorKind::StorageFull.into());
    assert!(health::fault_seen());
    assert!(storage.ready().await.is_err(), "firm B cannot write");

    // B is closed (every open store could write now), but the failure stands: no probe.
    storage.firms.write().await.remove(&b.firm.id);
    for _ in 0..3 {
        let again = storage.ready().await.expect_err("the failed probe stands");
        assert!(matches!(again, StoreError::ProbeFailed(_)), "{again}");
    }
    assert!(health::fault_seen(), "no store was probed");

    // Once it is old enough, the stores are probed again.
    if let Ok(mut failed) = storage.failed_probe.lock()
        && let Some((at, _)) = failed.as_mut()
    {
        *at -= PROBE_INTERVAL;
    }
    storage.ready().await.expect("ready, every open store having written");
    assert!(!health::fault_seen());
});

both_backends!(an_abandoned_audit_batch_loses_no_entry, |env: TestEnv| async move {
    let now = SystemClock.now();
    let storage = Storage::open(&location(&env), env.data_dir(), None, now).await.expect("open");
    let created = storage.create_firm(new_firm("batch"), now).await.expect("firm");
    let store = storage.firm(created.firm.id).await.expect("store");
    let count = || async {
        let mut tx = store.begin_read(&Principal::Anonymous).await.expect("read");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'search.performed'")
            .fetch_one(tx.conn())
            .await
            .expect("count");
        n
    };
    let record = || AuditRecord {
        at: now,
        actor: AuditActor::System,
        action: ringfence_core::audit::AuditAction::SearchPerformed,
        resource_type: None,
        resource_id: None,
        matter_id: None,
        outcome: Outcome::Success,
        origin: Origin::default(),
    };
    // Rounds of concurrent appends in which every other caller stops waiting at once; the
    // leader of a batch is among them as often as not.
    for round in 0..20 {
        let appends = (0..8).map(|i| {
            let store = store.clone();
            async move {
                let append = store.append_audit(record());
                if (i + round) % 2 == 0 {
                    let mut append = std::pin::pin!(append);
                    poll_once(append.as_mut()).await;
                    None
                } else {
                    Some(append.await.expect("a follower's entry is written"))
                }
            }
        });
        futures_util::future::join_all(appends).await;
    }
    // Abandoned entries are written all the same, in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while count().await < 160 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count().await, 160, "every entry is in the log");
});

/// A small filesystem of its own (tmpfs), unmounted when dropped. Mounting needs root: CI
/// runs as root, so there the test always runs.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "under CI a tmpfs must mount (run as root)"
            );
            eprintln!("note: cannot mount a tmpfs (not root?); skipping the full-disk test");
            return None;
        }
        Some(Self { dir })
    }

    /// Takes every free byte, in a file [`Self::free`] removes.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.filler()).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while filler.write_all(&block).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).expect("free the disk");
    }

    fn filler(&self) -> std::path::PathBuf {
        self.dir.path().join("filler")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test]
async fn a_full_disk_is_507_not_ready_and_recovered_from_without_a_restart() {
    let Some(disk) = SmallDisk::mount(24) else { return };
    let now = SystemClock.now();
    let data_dir = disk.dir.path().join("data");
    let storage = Storage::open(&StorageLocation::Sqlite, &data_dir, None, now).await.expect("open");
    let created = storage.create_firm(new_firm("disk"), now).await.expect("firm");
    let store = storage.firm(created.firm.id).await.expect("store");
    write_once(&store, created.admin).await.expect("writes while there is room");
    storage.ready().await.expect("ready while there is room");

    disk.fill();
    let mut fault = None;
    for _ in 0..50 {
        if let Err(err) = write_once(&store, created.admin).await {
            fault = Some(err.fault());
            break;
        }
    }
    assert_eq!(fault, Some(Some(StorageFault::Full)), "a full disk is told as such");
    assert!(storage.ready().await.is_err(), "not ready while the firm store cannot write");

    disk.free();
    // A failed probe stands a few seconds (a flood of probes must not become a flood of
    // synced writes): readiness comes back at the next probe.
    let deadline = Instant::now() + Duration::from_secs(30);
    while storage.ready().await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    storage.ready().await.expect("ready once there is room again");
    write_once(&store, created.admin).await.expect("writes again, without a restart");
}
