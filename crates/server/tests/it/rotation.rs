//! Key rotation while the firm is in use: new data under the new version at once, every
//! sealed value (file data keys included) moved by the re-wrap, old versions retired only
//! when nothing uses them, and everything still readable afterwards.

use ringfence_core::principal::Principal;
use std::sync::Arc;

use axum::body::Body;
use futures_util::StreamExt;
use ringfence_crypto::{KeyVersion, matter_key};
use ringfence_server::jobs::{Outcome, Ran, after_rotation};
use ringfence_store::Storage;
use ringfence_store::firm::audit::{self, Verification};
use ringfence_store::rotation::{Retirement, SEALED};
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::sign_in_harness::*;
use super::*;

struct Firm {
    h: Harness,
    lead: String,
    matter: String,
}

async fn firm(env: TestEnv) -> Firm {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let client = json!({ "name": "Ann Client", "kind": "person", "id_number": "8001015009087" });
    let matter =
        h.open_matter(&lead, client, json!({ "title": "Estate of Ann", "description": "Probate" })).await;
    Firm { h, lead, matter }
}

impl Firm {
    async fn note(&self, body: &str) -> String {
        let note = self
            .h
            .call(
                "POST",
                &format!("/api/v1/matters/{}/notes", self.matter),
                Some(&self.lead),
                Some(json!({ "kind": "note", "body": body, "privileged": false })),
            )
            .await;
        assert_eq!(note.status, 201, "{}", note.body);
        note.body["id"].as_str().unwrap().to_owned()
    }

    async fn upload(&self, bytes: &[u8]) -> String {
        let path = format!("/api/v1/matters/{}/documents", self.matter);
        let up = self.h.upload(&path, &self.lead, "will.txt", bytes, &[]).await;
        assert_eq!(up.status, 201, "{}", up.body);
        up.body["id"].as_str().unwrap().to_owned()
    }

    async fn content(&self, document: &str, version: i64) -> Vec<u8> {
        let path = format!("/api/v1/documents/{document}/content?version={version}");
        let response = self.h.respond("GET", &path, Some(&self.lead), Body::empty(), &[]).await;
        assert_eq!(response.status(), 200);
        axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    fn storage(&self) -> &Storage {
        &self.h.state.storage
    }
}

both_backends!(
    rotation_re_seals_everything_and_retires_the_old_key_only_when_unused,
    |env: TestEnv| async move {
        let f = firm(env).await;
        let note = f.note("first body").await;
        let edited =
            f.h.call(
                "PATCH",
                &format!("/api/v1/notes/{note}"),
                Some(&f.lead),
                Some(json!({ "body": "second body" })),
            )
            .await;
        assert_eq!(edited.status, 200);
        let document = f.upload(b"I leave everything to the cat").await;
        let (content_type, body) = multipart("will-v2.txt", b"I leave everything to the dog", &[]);
        let second =
            f.h.respond(
                "POST",
                &format!("/api/v1/documents/{document}/versions"),
                Some(&f.lead),
                Body::from(body),
                &[("content-type", content_type.as_str())],
            )
            .await;
        assert_eq!(second.status(), 201);
        let edited_matter =
            f.h.call(
                "PATCH",
                &format!("/api/v1/matters/{}", f.matter),
                Some(&f.lead),
                Some(json!({ "description": "Probate and the house" })),
            )
            .await;
        assert_eq!(edited_matter.status, 200, "{}", edited_matter.body);
        let firm_id = f.h.firm;
        let now = f.h.clock.now();
        assert_eq!(f.storage().stale_values(firm_id).await.unwrap(), 0);
        // Every way of writing a matter's content seals it under the matter's own key.
        let content = content_values(&f.h).await;
        assert!(content.len() >= 10, "{content:?}");
        for (column, value) in &content {
            assert!(!matter_key::under_firm_key(value), "{column} is under the firm key");
        }

        let version = f.storage().rotate_firm_key(firm_id, now, &after_rotation(firm_id, now)).await.unwrap();
        assert_eq!(version, KeyVersion(2));
        assert_eq!(
            f.storage().firm(firm_id).await.unwrap().key_version(),
            KeyVersion(2),
            "used here at once"
        );
        let stale = f.storage().stale_values(firm_id).await.unwrap();
        assert!(
            (4..10).contains(&stale),
            "names, the client's id number, the matter's key, the search key, the audit key: {stale}"
        );
        f.note("written after the rotation").await;
        assert_eq!(
            f.storage().stale_values(firm_id).await.unwrap(),
            stale,
            "new data is sealed under the new key"
        );
        assert_eq!(
            f.storage().retire_old_keys(firm_id, now, time::Duration::ZERO).await.unwrap(),
            Retirement::StillInUse { values: stale }
        );

        // The job queued with the new key re-seals everything once every server has seen it.
        assert!(crate::run_due_jobs(&f.h.state).await.is_empty(), "not before the key settles");
        f.h.clock.advance(time::Duration::seconds(13));
        let ran = crate::run_due_jobs(&f.h.state).await;
        assert_eq!(ran, [Ran { kind: "keys.finish-rotation".to_owned(), outcome: Outcome::Done }]);
        assert_eq!(f.storage().stale_values(firm_id).await.unwrap(), 0);
        let after = content_values(&f.h).await;
        assert_eq!(after.len(), content.len() + 1, "the note written since is the one value more");
        assert!(
            content.iter().all(|value| after.contains(value)),
            "the matter's key was re-wrapped, its content left as it was"
        );
        let now = f.h.clock.now();
        assert!(matches!(
            f.storage().retire_old_keys(firm_id, now, time::Duration::hours(1)).await.unwrap(),
            Retirement::TooSoon { .. }
        ));
        assert_eq!(
            f.storage().retire_old_keys(firm_id, now, time::Duration::ZERO).await.unwrap(),
            Retirement::Retired { versions: 1 }
        );

        // A fresh start knows only version 2, and everything still opens under it.
        let reopened = Storage::open(&f.h.env.location, f.h.env.data_dir(), None, now).await.unwrap();
        let store = reopened.firm(firm_id).await.unwrap();
        assert_eq!(store.key_version(), KeyVersion(2));
        let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
        assert!(matches!(audit::verify(&mut tx).await.unwrap(), Verification::Intact { .. }));
        tx.commit().await.unwrap();
        let f = Firm {
            h: Harness { state: AppState { storage: Arc::new(reopened), ..f.h.state.clone() }, ..f.h },
            ..f
        };
        assert_eq!(f.content(&document, 1).await, b"I leave everything to the cat");
        assert_eq!(f.content(&document, 2).await, b"I leave everything to the dog");
        let read = f.h.call("GET", &format!("/api/v1/notes/{note}"), Some(&f.lead), None).await;
        assert_eq!(read.body["body"], "second body");
        let found = f.h.call("GET", "/api/v1/search?q=dog", Some(&f.lead), None).await;
        assert_eq!(found.body["items"].as_array().unwrap().len(), 1, "the search key moved too");
        let me = f.h.call("GET", "/api/v1/me", Some(&f.lead), None).await;
        assert_eq!(me.status, 200);
        let matter = f.h.call("GET", &format!("/api/v1/matters/{}", f.matter), Some(&f.lead), None).await;
        assert_eq!(matter.body["title"], "Estate of Ann");
    }
);

both_backends!(a_rotation_during_an_upload_loses_nothing, |env: TestEnv| async move {
    let f = Arc::new(firm(env).await);
    let firm_id = f.h.firm;
    let bytes: Vec<u8> = (0..(3 << 20)).map(|i: u32| (i % 251) as u8).collect();
    let (content_type, body) = multipart("evidence.bin", &bytes, &[]);
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (go_on_tx, go_on) = tokio::sync::oneshot::channel::<()>();
    // The body pauses halfway, until the rotation and a re-wrap have run.
    let half = body.len() / 2;
    let first: Vec<Result<Vec<u8>, std::io::Error>> =
        body[..half].chunks(1 << 16).map(|c| Ok(c.to_vec())).collect();
    let rest: Vec<Result<Vec<u8>, std::io::Error>> =
        body[half..].chunks(1 << 16).map(|c| Ok(c.to_vec())).collect();
    let paused = futures_util::stream::once(async move {
        let _ = started_tx.send(());
        let _ = go_on.await;
        Ok(Vec::new())
    });
    let stream = futures_util::stream::iter(first).chain(paused).chain(futures_util::stream::iter(rest));
    let uploading = {
        let f = f.clone();
        tokio::spawn(async move {
            let path = format!("/api/v1/matters/{}/documents", f.matter);
            let headers = [("content-type", content_type.as_str())];
            Harness::reply(
                f.h.respond("POST", &path, Some(&f.lead), Body::from_stream(stream), &headers).await,
            )
            .await
        })
    };
    started.await.unwrap();
    let now = f.h.clock.now();
    f.storage().rotate_firm_key(firm_id, now, &after_rotation(firm_id, now)).await.unwrap();
    f.h.env.expect_jobs_left("keys.finish-rotation");
    let report = f.storage().rewrap_firm(firm_id, now).await.unwrap();
    assert_eq!(report.remaining, 0);
    go_on_tx.send(()).unwrap();
    let up = uploading.await.unwrap();
    assert_eq!(up.status, 201, "{}", up.body);
    let document = up.body["id"].as_str().unwrap().to_owned();

    // The upload began before the rotation and was recorded after it, under the new key.
    assert_eq!(f.storage().stale_values(firm_id).await.unwrap(), 0);
    assert_eq!(
        f.storage().retire_old_keys(firm_id, now, time::Duration::ZERO).await.unwrap(),
        Retirement::Retired { versions: 1 }
    );
    f.storage().reload_keys(firm_id).await.unwrap();
    assert!(f.content(&document, 1).await == bytes, "byte-identical after rotation and retirement");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_server_uses_a_new_key_version_within_seconds() {
    let env = TestEnv::new(ringfence_testkit::Backend::Sqlite).await.unwrap();
    let f = firm(env).await;
    let firm_id = f.h.firm;
    let now = f.h.clock.now();
    let other = Storage::open(&f.h.env.location, f.h.env.data_dir(), None, now).await.unwrap();
    assert_eq!(other.firm(firm_id).await.unwrap().key_version(), KeyVersion(1));
    f.storage().rotate_firm_key(firm_id, now, &after_rotation(firm_id, now)).await.unwrap();
    f.h.env.expect_jobs_left("keys.finish-rotation");
    tokio::time::sleep(std::time::Duration::from_millis(5500)).await;
    assert_eq!(other.firm(firm_id).await.unwrap().key_version(), KeyVersion(2));
}

/// Every value of every matter-content column, named by its column.
async fn content_values(h: &Harness) -> Vec<(String, Vec<u8>)> {
    let mut conn = h.raw_firm().await;
    let mut values = Vec::new();
    for column in SEALED.iter().filter(|c| c.matter.is_some()) {
        let sql =
            format!("SELECT {0} FROM {1} WHERE {0} IS NOT NULL ORDER BY {0}", column.column, column.table);
        let found: Vec<Vec<u8>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap();
        values.extend(found.into_iter().map(|v| (format!("{}.{}", column.table, column.column), v)));
    }
    values
}

/// Every sealed column the schema holds is either re-wrapped or deliberately left alone.
#[tokio::test]
async fn every_sealed_column_is_known_to_the_rotation() {
    use sqlx::{Connection, Row};
    let env = TestEnv::new(ringfence_testkit::Backend::Sqlite).await.unwrap();
    let f = firm(env).await;
    let path = f.h.env.data_dir().join("firms").join(f.h.firm.to_string()).join("firm.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut sealed_columns = Vec::new();
    for table in tables {
        let columns = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for column in columns {
            let name: String = column.get("name");
            if name.ends_with("_sealed") {
                sealed_columns.push((table.clone(), name));
            }
        }
    }
    assert!(sealed_columns.len() >= 14, "{sealed_columns:?}");
    for (table, column) in sealed_columns {
        let known = SEALED.iter().any(|c| c.table == table && c.column == column)
            || ringfence_store::rotation::NOT_REWRAPPED.contains(&(table.as_str(), column.as_str()));
        assert!(known, "{table}.{column} is sealed but not in rotation::SEALED");
    }
}
