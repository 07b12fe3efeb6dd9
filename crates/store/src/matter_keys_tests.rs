//! Matters opened before matters had keys: their content is put back under the firm key as
//! an earlier release wrote it, then migrated in steps while it is read and written.

use std::collections::{BTreeMap, BTreeSet};

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::document::Scan;
use ringfence_core::firm::{FirmName, FirmSlug};
use ringfence_core::ids::{SessionId, UserId};
use ringfence_core::principal::{FirmUser, Principal};
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::{FieldRef, matter_key};
use ringfence_testkit::{TestEnv, both_backends};
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::blobs::{BlobLocation, BlobStore};
use crate::control::jobs::NewJob;
use crate::firm::access::{self, ReadContent, View, WriteContent};
use crate::firm::clients::{self, ClientFields};
use crate::firm::documents::{self, Content, Upload};
use crate::firm::{matters, notes};
use crate::rotation::SEALED;
use crate::storage::{FirmStore, NewFirm};
use crate::{Storage, StorageLocation};

fn location(env: &TestEnv) -> StorageLocation {
    match env.database_url() {
        Some(url) => StorageLocation::postgres(url.to_owned()),
        None => StorageLocation::Sqlite,
    }
}

fn lead(store: &FirmStore, user: UserId) -> Principal {
    Principal::FirmUser(FirmUser {
        firm: store.id(),
        user,
        email: Email::parse("ada@keys.example").expect("email"),
        roles: BTreeSet::from([FirmRole::Attorney]),
        session: SessionId::random(),
    })
}

/// What a reader gets of one matter: its title and description, its notes' bodies, and each
/// document's title, name and bytes.
type Read = (String, Option<String>, Vec<String>, Vec<(String, String, Vec<u8>)>);

async fn read_matter(store: &FirmStore, blobs: &BlobStore, user: UserId, matter: Uuid) -> Read {
    let mut tx = store.begin_read(&lead(store, user)).await.expect("begin");
    let roles = BTreeSet::from([FirmRole::Attorney]);
    let access =
        access::check::<ReadContent>(&mut tx, user, &roles, matter).await.expect("check").expect("lead");
    let view = access::check::<View>(&mut tx, user, &roles, matter).await.expect("check").expect("lead");
    let found = matters::get(&mut tx, &view).await.expect("matter");
    let bodies = notes::list(&mut tx, &access).await.expect("notes").into_iter().map(|n| n.body).collect();
    let mut files = Vec::new();
    for document in documents::list(&mut tx, &access).await.expect("documents") {
        let readable =
            documents::readable(&mut tx, &access, document.id, None).await.expect("read").expect("doc");
        let content = Content::open(blobs, store, &readable).await.expect("blob");
        let bytes = content.read(0..content.size()).await.expect("bytes");
        files.push((document.title, document.current.name, bytes));
    }
    tx.commit().await.expect("commit");
    (found.title, found.description, bodies, files)
}

/// Every content value of the firm, by table, column and value: to see what moved.
async fn content_values(store: &FirmStore) -> BTreeMap<(String, String), BTreeSet<Vec<u8>>> {
    let mut tx = store.begin_read_as_owner().await.expect("begin");
    let mut all = BTreeMap::new();
    for column in SEALED.iter().filter(|c| c.matter.is_some()) {
        let sql = format!("SELECT {0} FROM {1} WHERE {0} IS NOT NULL", column.column, column.table);
        let values: Vec<Vec<u8>> =
            sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(tx.conn()).await.expect("values");
        all.insert((column.table.to_owned(), column.column.to_owned()), values.into_iter().collect());
    }
    tx.commit().await.expect("commit");
    all
}

fn under_firm_key(values: &BTreeMap<(String, String), BTreeSet<Vec<u8>>>) -> usize {
    values.values().flatten().filter(|v| matter_key::under_firm_key(v)).count()
}

/// Puts every content value back under the firm key and forgets the matter keys: the
/// store as a release before matter keys left it.
async fn as_before_matter_keys(store: &FirmStore) {
    let mut tx = store.begin_as_owner().await.expect("begin");
    for column in SEALED.iter().filter(|c| c.matter.is_some()) {
        let sql = format!(
            "SELECT {record} AS record, {matter} AS matter, {column} AS sealed FROM {table} WHERE {column} IS NOT NULL",
            record = column.record,
            matter = column.matter.unwrap_or_default(),
            column = column.column,
            table = column.table,
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(tx.conn()).await.expect("rows");
        for row in rows {
            let (record, matter): (String, String) = (row.get("record"), row.get("matter"));
            let sealed: Vec<u8> = row.get("sealed");
            let at = FieldRef { table: column.bound_to.0, record: &record, field: column.bound_to.1 };
            let key = tx.matter_key(&matter).await.expect("key");
            let plain = tx.open_content(Some(&key), at, &sealed).expect("open");
            let old = tx.seal(at, &plain).expect("seal");
            let update = format!("UPDATE {0} SET {1} = $1 WHERE {1} = $2", column.table, column.column);
            sqlx::query(AssertSqlSafe(update))
                .bind(old)
                .bind(sealed)
                .execute(tx.conn())
                .await
                .expect("update");
        }
    }
    sqlx::query("DELETE FROM matter_keys").execute(tx.conn()).await.expect("forget keys");
    tx.commit().await.expect("commit");
}

async fn open_matter(
    store: &FirmStore,
    blobs: &BlobStore,
    user: UserId,
    client: Uuid,
    n: usize,
    now: OffsetDateTime,
) -> Uuid {
    let mut tx = store.begin(&lead(store, user)).await.expect("begin");
    let title = format!("Estate of Ann {n}");
    let (matter, _) =
        matters::create(&mut tx, "KEYS", &title, client, Some("Probate, privileged"), user, now)
            .await
            .expect("matter");
    let roles = BTreeSet::from([FirmRole::Attorney]);
    let access =
        access::check::<WriteContent>(&mut tx, user, &roles, matter).await.expect("check").expect("lead");
    let note =
        notes::create(&mut tx, &access, "strategy", true, "settle below 40k", now).await.expect("note");
    notes::update(&mut tx, &access, note.id, Some("settle below 35k"), None, now).await.expect("edit");
    let mut upload = Upload::start(blobs, store).expect("upload");
    upload.push(format!("I leave everything to cat {n}").as_bytes()).await.expect("push");
    let uploaded = upload.finish("will.txt".to_owned()).await.expect("finish");
    documents::create(&mut tx, &access, "Last will", true, &uploaded, Scan::Clean, now)
        .await
        .expect("document");
    tx.commit().await.expect("commit");
    matter
}

/// A firm whose lead has opened `count` matters, each with an edited note and a document.
struct Firm {
    storage: Storage,
    blobs: BlobStore,
    store: std::sync::Arc<FirmStore>,
    firm: ringfence_core::ids::FirmId,
    user: UserId,
    matters: Vec<Uuid>,
}

async fn firm_with_matters(env: &TestEnv, count: usize, now: OffsetDateTime) -> Firm {
    let storage = Storage::open(&location(env), env.data_dir(), None, now).await.expect("open");
    let blobs = BlobStore::open(&BlobLocation::Local(env.data_dir().join("blobs"))).expect("blobs");
    let created = storage
        .create_firm(
            NewFirm {
                slug: FirmSlug::parse("keys").expect("slug"),
                name: FirmName::parse("Keys & Co").expect("name"),
                admin_email: Email::parse("ada@keys.example").expect("email"),
                admin_name: Some("Ada Admin"),
                admin_password_hash: None,
            },
            now,
        )
        .await
        .expect("firm");
    let (firm, user) = (created.firm.id, created.admin);
    let store = storage.firm(firm).await.expect("store");
    let client = {
        let mut tx = store.begin(&lead(&store, user)).await.expect("begin");
        let fields = ClientFields {
            kind: "person",
            name: "Ann Client",
            email: None,
            phone: None,
            address: None,
            id_number: None,
        };
        let client = clients::create(&mut tx, &fields, user, now).await.expect("client");
        tx.commit().await.expect("commit");
        client
    };
    let mut matters = Vec::new();
    for n in 0..count {
        matters.push(open_matter(&store, &blobs, user, client, n, now).await);
    }
    matters.sort();
    Firm { storage, blobs, store, firm, user, matters }
}

both_backends!(matters_move_onto_their_own_keys_in_steps_while_in_use, |env: TestEnv| async move {
    let now = SystemClock.now();
    let Firm { storage, blobs, store, firm, user, matters } = firm_with_matters(&env, 3, now).await;
    let mut expected = Vec::new();
    for matter in &matters {
        expected.push(read_matter(&store, &blobs, user, *matter).await);
    }
    let fresh = content_values(&store).await;
    assert_eq!(under_firm_key(&fresh), 0, "new content is under its matter's key");
    assert_eq!(storage.matters_without_keys(firm).await.expect("count"), 0);

    as_before_matter_keys(&store).await;
    let legacy = content_values(&store).await;
    assert_eq!(under_firm_key(&legacy), legacy.values().map(BTreeSet::len).sum::<usize>());
    assert_eq!(storage.matters_without_keys(firm).await.expect("count"), 3);
    for (matter, read) in matters.iter().zip(&expected) {
        assert_eq!(
            &read_matter(&store, &blobs, user, *matter).await,
            read,
            "content under the firm key opens"
        );
    }

    // Interrupted after one matter: both kinds of matter read as before.
    let first = storage.migrate_matter_keys(firm, now, Some(1)).await.expect("migrate");
    assert_eq!((first.matters, first.remaining), (1, 2));
    assert_eq!(
        first.moved, 8,
        "title, description, note and its earlier body, document title, name, hash, key"
    );
    for (matter, read) in matters.iter().zip(&expected) {
        assert_eq!(&read_matter(&store, &blobs, user, *matter).await, read);
    }
    // A write to a matter not yet migrated gives it its key; its old content still opens.
    let last = matters[2];
    {
        let mut tx = store.begin(&lead(&store, user)).await.expect("begin");
        let roles = BTreeSet::from([FirmRole::Attorney]);
        let access =
            access::check::<WriteContent>(&mut tx, user, &roles, last).await.expect("check").expect("lead");
        let later = now + time::Duration::seconds(1);
        notes::create(&mut tx, &access, "note", false, "written mid-migration", later).await.expect("note");
        tx.commit().await.expect("commit");
    }
    let mut with_new_note = expected[2].clone();
    with_new_note.2.push("written mid-migration".to_owned());
    assert_eq!(read_matter(&store, &blobs, user, last).await, with_new_note);
    assert_eq!(
        storage.matters_without_keys(firm).await.expect("count"),
        2,
        "a key made by a writer is no mark"
    );

    let rest = storage.migrate_matter_keys(firm, now, None).await.expect("migrate the rest");
    assert_eq!((rest.matters, rest.moved, rest.remaining), (2, 16, 0));
    let migrated = content_values(&store).await;
    assert_eq!(under_firm_key(&migrated), 0, "nothing of any matter is left under the firm key");
    expected[2] = with_new_note;
    for (matter, read) in matters.iter().zip(&expected) {
        assert_eq!(
            &read_matter(&store, &blobs, user, *matter).await,
            read,
            "the same content after the move"
        );
    }
    let again = storage.migrate_matter_keys(firm, now, None).await.expect("run again");
    assert_eq!((again.matters, again.moved, again.remaining), (0, 0, 0));

    // Now a firm key rotation re-wraps the matter keys and leaves the content as it is.
    let finish = NewJob {
        kind: "keys.finish-rotation".to_owned(),
        firm: Some(firm),
        payload: "{}".to_owned(),
        run_at: now,
        dedupe_key: None,
        max_attempts: 1,
        every: None,
    };
    storage.rotate_firm_key(firm, now, &finish).await.expect("rotate");
    env.expect_jobs_left("keys.finish-rotation");
    let rewrapped = storage.rewrap_firm(firm, now).await.expect("rewrap");
    assert_eq!(rewrapped.remaining, 0);
    assert_eq!(content_values(&store).await, migrated, "no content value was re-sealed");
    let mut tx = store.begin_read_as_owner().await.expect("begin");
    let keys: i64 =
        sqlx::query("SELECT COUNT(*) FROM matter_keys").fetch_one(tx.conn()).await.expect("keys").get(0);
    tx.commit().await.expect("commit");
    assert_eq!(keys, 3);
    assert!(
        rewrapped.moved >= 3 && rewrapped.moved < 10,
        "the matter keys and the firm's own fields: {}",
        rewrapped.moved
    );
    // Only the new firm key version is left: every matter's content opens under it.
    let retired = storage.retire_old_keys(firm, now, time::Duration::ZERO).await.expect("retire");
    assert_eq!(retired, crate::rotation::Retirement::Retired { versions: 1 });
    let store = storage.firm(firm).await.expect("store");
    for (matter, read) in matters.iter().zip(&expected) {
        assert_eq!(
            &read_matter(&store, &blobs, user, *matter).await,
            read,
            "readable under the new firm key"
        );
    }
});

both_backends!(a_matter_whose_key_will_not_open_holds_up_no_other, |env: TestEnv| async move {
    let now = SystemClock.now();
    let f = firm_with_matters(&env, 3, now).await;
    as_before_matter_keys(&f.store).await;
    // A key row that opens nothing (written by hand, or copied from another matter) on the
    // first matter in the migration's order.
    let mut tx = f.store.begin_as_owner().await.expect("begin");
    let copied = tx.new_matter_key(&f.matters[1].to_string()).expect("key").1;
    sqlx::query("INSERT INTO matter_keys (matter_id, key_sealed) VALUES ($1, $2)")
        .bind(f.matters[0].to_string())
        .bind(copied)
        .execute(tx.conn())
        .await
        .expect("junk key");
    tx.commit().await.expect("commit");

    let run = f.storage.migrate_matter_keys(f.firm, now, None).await.expect("migrate");
    assert_eq!((run.matters, run.failed, run.remaining), (2, 1, 1), "the others are migrated: {run:?}");
    let again = f.storage.migrate_matter_keys(f.firm, now, None).await.expect("again");
    assert_eq!((again.matters, again.failed, again.remaining), (0, 1, 1));
    for matter in &f.matters[1..] {
        let read = read_matter(&f.store, &f.blobs, f.user, *matter).await;
        assert!(read.0.starts_with("Estate of Ann"), "{read:?}");
    }
    assert_eq!(under_firm_key(&content_values(&f.store).await), 8, "the first matter's content only");
});
