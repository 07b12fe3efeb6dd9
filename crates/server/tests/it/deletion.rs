//! Soft deletion and restore of matters, notes, documents, single versions and clients, the
//! list of what was recently deleted, the firm's grace period, and the purge for good after
//! it: rows, search terms and blobs, re-applied to a store restored from an older backup.

use ringfence_store::firm::audit::{self as audit_log, Verification};
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Executor};
use time::Duration;
use uuid::Uuid;

use super::sign_in_harness::*;
use super::termination::{Practice, practice};
use super::*;

const LEAD: &str = "lead@firm.example";
const MEMBER: &str = "member@firm.example";
const PASSWORD: &str = "a long shared test passphrase";

/// A firm with an administrator and an attorney who leads one matter with a note and a
/// document (see `termination::practice`), the document in two versions.
type Scene = Practice;

async fn scene(env: TestEnv) -> Scene {
    let s = practice(env).await;
    let path = format!("/api/v1/documents/{}/versions", s.document);
    let again = s.h.upload(&path, &s.lead, "deal.txt", b"second draft", &[]).await;
    assert_eq!(again.status, 201, "{}", again.body);
    s
}

impl Scene {
    async fn call(&self, method: &str, path: &str, token: &str) -> Reply {
        self.h.call(method, path, Some(token), None).await
    }

    async fn found(&self, token: &str, word: &str) -> usize {
        let reply = self.call("GET", &format!("/api/v1/search?q={word}"), token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"].as_array().unwrap().len()
    }

    async fn deleted(&self, token: &str) -> Vec<Value> {
        let reply = self.call("GET", "/api/v1/deleted", token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"].as_array().unwrap().clone()
    }

    /// Signs both in again after the clock moved past their sessions.
    async fn sign_in_again(&mut self) {
        self.admin = self.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        self.lead = self.h.sign_in(LEAD, PASSWORD).await;
    }

    async fn run_jobs(&self) -> Vec<Ran> {
        let worker = ringfence_server::jobs::Worker::new(
            self.h.state.storage.clone(),
            self.h.state.blobs.clone(),
            self.h.state.mailer.clone(),
            self.h.state.clock.clone(),
            Vec::new(),
        );
        worker.ensure_schedules().await.unwrap();
        worker.run_due().await.unwrap()
    }

    async fn audit_count(&self, action: &str) -> usize {
        let log = self.call("GET", &format!("/api/v1/audit?action={action}&limit=100"), &self.admin).await;
        assert_eq!(log.status, 200, "{}", log.body);
        log.body["items"].as_array().unwrap().len()
    }
}

both_backends!(
    notes_documents_and_versions_are_deleted_restored_and_refused_after_the_grace_period,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        let (note, document) = (s.note.clone(), s.document.clone());
        assert_eq!(s.found(&s.lead, "first").await, 1);
        assert_eq!(s.call("DELETE", &format!("/api/v1/notes/{note}"), &s.lead).await.status, 204);
        assert_eq!(s.call("GET", &format!("/api/v1/notes/{note}"), &s.lead).await.status, 404);
        let listed = s.call("GET", &format!("/api/v1/matters/{}/notes", s.matter), &s.lead).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 0, "{}", listed.body);
        assert_eq!(s.found(&s.lead, "first").await, 0, "a deleted note is out of search");
        let deleted = s.deleted(&s.lead).await;
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        assert_eq!(
            (deleted[0]["kind"].as_str(), deleted[0]["id"].as_str()),
            (Some("note"), Some(note.as_str()))
        );
        assert_eq!(deleted[0]["may_restore"], true);
        assert!(deleted[0].get("body").is_none(), "no content in the list");

        let restored = s.call("POST", &format!("/api/v1/notes/{note}/restore"), &s.lead).await;
        assert_eq!(restored.status, 204, "{}", restored.body);
        assert_eq!(s.call("GET", &format!("/api/v1/notes/{note}"), &s.lead).await.status, 200);
        assert_eq!(s.found(&s.lead, "first").await, 1, "a restored note is found again");
        let again = s.call("POST", &format!("/api/v1/notes/{note}/restore"), &s.lead).await;
        assert_eq!((again.status, again.code()), (409, "not_deleted"));

        // A single version: the one before it is current meanwhile.
        let path = format!("/api/v1/documents/{document}/versions/2");
        assert_eq!(s.call("DELETE", &path, &s.lead).await.status, 204);
        let versions = s.call("GET", &format!("/api/v1/documents/{document}/versions"), &s.lead).await;
        assert_eq!(versions.body["items"].as_array().unwrap().len(), 1, "{}", versions.body);
        let current = s.call("GET", &format!("/api/v1/documents/{document}"), &s.lead).await;
        assert_eq!(current.body["version"], 1, "{}", current.body);
        let gone = s.call("GET", &format!("/api/v1/documents/{document}/content?version=2"), &s.lead).await;
        assert_eq!(gone.status, 404);
        let last = s.call("DELETE", &format!("/api/v1/documents/{document}/versions/1"), &s.lead).await;
        assert_eq!((last.status, last.code()), (409, "last_version"));
        assert_eq!(s.call("POST", &format!("{path}/restore"), &s.lead).await.status, 204);
        let current = s.call("GET", &format!("/api/v1/documents/{document}"), &s.lead).await;
        assert_eq!(current.body["version"], 2, "{}", current.body);

        // The whole document.
        assert_eq!(s.call("DELETE", &format!("/api/v1/documents/{document}"), &s.lead).await.status, 204);
        assert_eq!(s.call("GET", &format!("/api/v1/documents/{document}"), &s.lead).await.status, 404);
        assert_eq!(s.found(&s.lead, "deal").await, 0);
        assert_eq!(
            s.call("POST", &format!("/api/v1/documents/{document}/restore"), &s.lead).await.status,
            204
        );
        let back = s.call("GET", &format!("/api/v1/documents/{document}/content"), &s.lead).await;
        assert_eq!(back.status, 200);
        assert_eq!(s.found(&s.lead, "deal").await, 1, "a restored document is found again");

        // Past the grace period: gone for good.
        assert_eq!(s.call("DELETE", &format!("/api/v1/notes/{note}"), &s.lead).await.status, 204);
        s.h.clock.advance(Duration::days(30) + Duration::seconds(1));
        s.sign_in_again().await;
        let late = s.call("POST", &format!("/api/v1/notes/{note}/restore"), &s.lead).await;
        assert_eq!((late.status, late.code()), (410, "grace_period_passed"));
        assert!(s.deleted(&s.lead).await.is_empty(), "past the grace period it is no longer listed");
        for action in [
            "note.deleted",
            "note.restored",
            "document.version_deleted",
            "document.version_restored",
            "document.deleted",
            "document.restored",
        ] {
            assert!(s.audit_count(action).await >= 1, "{action}");
        }
    }
);

both_backends!(
    the_recently_deleted_list_shows_a_lead_its_matters_and_an_administrator_the_firm_but_no_walled_matter,
    |env: TestEnv| async move {
        let s = scene(env).await;
        let member = s.h.signed_in_user(&s.admin, MEMBER, &["attorney"]).await;
        let user = s.call("GET", "/api/v1/users", &s.admin).await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == MEMBER)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let added =
            s.h.call(
                "PUT",
                &format!("/api/v1/matters/{}/members/{user}", s.matter),
                Some(&s.lead),
                Some(json!({ "role": "member" })),
            )
            .await;
        assert_eq!(added.status, 204, "{}", added.body);
        assert_eq!(s.call("DELETE", &format!("/api/v1/notes/{}", s.note), &member).await.status, 204);
        assert!(s.deleted(&member).await.is_empty(), "a member who leads nothing lists nothing");
        assert_eq!(s.deleted(&s.lead).await.len(), 1);
        let firm = s.deleted(&s.admin).await;
        assert_eq!(firm.len(), 1, "{firm:?}");
        assert_eq!(firm[0]["may_restore"], false, "an administrator restores content only through a role");
        let refused = s.call("POST", &format!("/api/v1/notes/{}/restore", s.note), &s.admin).await;
        assert_eq!(refused.status, 404);
        // A wall screens the matter's deleted things from the administrator it screens.
        let second = s.h.signed_in_user(&s.admin, "second@firm.example", &["admin"]).await;
        let admin_id =
            s.call("GET", "/api/v1/me", &s.admin).await.body["user"]["id"].as_str().unwrap().to_owned();
        let wall = s.call("PUT", &format!("/api/v1/matters/{}/walls/{admin_id}", s.matter), &second).await;
        assert_eq!(wall.status, 204, "{}", wall.body);
        assert!(s.deleted(&s.admin).await.is_empty());
        assert_eq!(s.deleted(&second).await.len(), 1);
        assert!(s.audit_count("deleted.listed").await >= 1);
        // The page lists it with a restore button for the lead, and restores it.
        let page = s.h.respond("GET", "/deleted", Some(&s.lead), axum::body::Body::empty(), &[]).await;
        let page = Harness::reply(page).await;
        assert_eq!(page.status, 200);
    }
);

both_backends!(
    the_grace_period_is_an_administrators_setting_of_thirty_days_or_more,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        let grace = s.call("GET", "/api/v1/firm/deletion-grace", &s.admin).await;
        assert_eq!(grace.body, json!({ "grace_days": 30 }));
        for days in [json!(29), json!(0), json!(-5), json!(3651), json!("60")] {
            let refused =
                s.h.call(
                    "PUT",
                    "/api/v1/firm/deletion-grace",
                    Some(&s.admin),
                    Some(json!({ "grace_days": days })),
                )
                .await;
            assert_eq!(refused.status, 400, "{days}: {}", refused.body);
        }
        let set =
            s.h.call("PUT", "/api/v1/firm/deletion-grace", Some(&s.admin), Some(json!({ "grace_days": 60 })))
                .await;
        assert_eq!(set.body, json!({ "grace_days": 60 }));
        assert_eq!(s.call("GET", "/api/v1/firm/deletion-grace", &s.lead).await.status, 403);
        assert_eq!(s.audit_count("firm.deletion_grace.changed").await, 1);
        assert_eq!(s.call("DELETE", &format!("/api/v1/matters/{}", s.matter), &s.lead).await.status, 204);
        s.h.clock.advance(Duration::days(45));
        s.sign_in_again().await;
        s.run_jobs().await;
        let restored = s.call("POST", &format!("/api/v1/matters/{}/restore", s.matter), &s.lead).await;
        assert_eq!(restored.status, 200, "within 60 days: {}", restored.body);
    }
);

both_backends!(
    clients_nothing_refers_to_are_deleted_and_restored_by_whoever_took_them_in_or_administrators,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        let other = s.h.signed_in_user(&s.admin, "other@firm.example", &["attorney"]).await;
        let client =
            s.h.call(
                "POST",
                "/api/v1/clients",
                Some(&s.lead),
                Some(json!({ "name": "Brief Ltd", "kind": "organisation" })),
            )
            .await;
        let client = client.body["id"].as_str().unwrap().to_owned();
        assert_eq!(s.call("DELETE", &format!("/api/v1/clients/{client}"), &other).await.status, 404);
        assert_eq!(s.call("DELETE", &format!("/api/v1/clients/{client}"), &s.lead).await.status, 204);
        assert_eq!(s.call("GET", &format!("/api/v1/clients/{client}"), &s.lead).await.status, 404);
        let names = s.call("GET", "/api/v1/clients", &s.lead).await;
        assert!(!names.body.to_string().contains("Brief Ltd"), "{}", names.body);
        let opened =
            s.h.call(
                "POST",
                "/api/v1/matters",
                Some(&s.lead),
                Some(json!({ "title": "On a deleted client", "client_id": client })),
            )
            .await;
        assert_eq!(opened.status, 400, "{}", opened.body);
        let listed = s.deleted(&s.admin).await;
        assert!(
            listed
                .iter()
                .any(|i| i["kind"] == "client" && i["id"] == client.as_str() && i["may_restore"] == true)
        );
        assert_eq!(s.call("POST", &format!("/api/v1/clients/{client}/restore"), &s.admin).await.status, 204);
        assert_eq!(s.call("GET", &format!("/api/v1/clients/{client}"), &s.lead).await.status, 200);
        // A client with a matter, deleted or not, is kept.
        let held = s.call("GET", &format!("/api/v1/matters/{}", s.matter), &s.lead).await.body["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(s.call("DELETE", &format!("/api/v1/matters/{}", s.matter), &s.lead).await.status, 204);
        let kept = s.call("DELETE", &format!("/api/v1/clients/{held}"), &s.admin).await;
        assert_eq!((kept.status, kept.code()), (409, "client_in_use"));
        // Deleted and left past the grace period: purged, and no longer restorable.
        assert_eq!(s.call("DELETE", &format!("/api/v1/clients/{client}"), &s.admin).await.status, 204);
        s.h.clock.advance(Duration::days(31));
        s.sign_in_again().await;
        s.run_jobs().await;
        assert_eq!(s.call("POST", &format!("/api/v1/clients/{client}/restore"), &s.admin).await.status, 404);
        assert_eq!(s.audit_count("client.purged").await, 1);
        assert_eq!(s.audit_count("client.deleted").await, 2);
        assert_eq!(s.audit_count("client.restored").await, 1);
    }
);

/// The tables a purged matter leaves rows in, in the order they can be put back.
const MATTER_TABLES: &[(&str, &str)] = &[
    ("matters", "id = '{m}'"),
    ("matter_keys", "matter_id = '{m}'"),
    ("matter_members", "matter_id = '{m}'"),
    ("matter_access_history", "matter_id = '{m}'"),
    ("notes", "matter_id = '{m}'"),
    ("documents", "matter_id = '{m}'"),
    ("document_versions", "document_id IN (SELECT id FROM documents WHERE matter_id = '{m}')"),
    ("search_terms", "matter_id = '{m}'"),
];

async fn count(conn: &mut sqlx::AnyConnection, table: &str, filter: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE {filter}")))
        .fetch_one(conn)
        .await
        .unwrap()
}

both_backends!(
    the_purge_destroys_rows_search_terms_and_blobs_after_the_grace_period_and_replays_on_a_restored_store,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        let firm = s.h.firm;
        let matter = s.matter.clone();
        let mut conn = s.h.raw_firm().await;
        let versions: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM document_versions WHERE document_id = '{}' ORDER BY version",
            s.document
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let versions: Vec<Uuid> = versions.iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(versions.len(), 2);
        let blob =
            s.h.state
                .blobs
                .read(firm, versions[0], 0..s.h.state.blobs.size(firm, versions[0]).await.unwrap())
                .await
                .unwrap();
        assert_eq!(s.call("DELETE", &format!("/api/v1/matters/{matter}"), &s.lead).await.status, 204);
        let deleted_at = s.h.clock.now();
        // A backup taken now: the matter's rows, copied aside.
        for (table, filter) in MATTER_TABLES {
            let filter = filter.replace("{m}", &matter);
            conn.execute(AssertSqlSafe(format!(
                "CREATE TABLE saved_{table} AS SELECT * FROM {table} WHERE {filter}"
            )))
            .await
            .unwrap();
        }
        assert!(count(&mut conn, "saved_search_terms", "1 = 1").await > 0);

        // Within the grace period the job purges nothing.
        s.h.clock.advance(Duration::days(29));
        s.sign_in_again().await;
        let ran = s.run_jobs().await;
        assert!(ran.iter().any(|r| r.kind == "lifecycle.purge" && r.outcome == Outcome::Done), "{ran:?}");
        assert_eq!(count(&mut conn, "matters", &format!("id = '{matter}'")).await, 1);
        assert!(s.h.state.blobs.size(firm, versions[0]).await.is_ok());

        s.h.clock.advance(Duration::days(1) + Duration::seconds(1));
        s.sign_in_again().await;
        let ran = s.run_jobs().await;
        assert!(ran.iter().any(|r| r.kind == "lifecycle.purge" && r.outcome == Outcome::Done), "{ran:?}");
        for (table, filter) in MATTER_TABLES {
            let filter = filter.replace("{m}", &matter);
            assert_eq!(count(&mut conn, table, &filter).await, 0, "{table} rows are gone");
        }
        assert_eq!(count(&mut conn, "note_versions", "1 = 1").await, 0);
        for version in &versions {
            assert!(s.h.state.blobs.size(firm, *version).await.is_err(), "the blob {version} is gone");
        }
        let late = s.call("POST", &format!("/api/v1/matters/{matter}/restore"), &s.lead).await;
        assert_eq!(late.status, 404, "purged: nothing left to restore");
        assert_eq!(s.audit_count("matter.purged").await, 1);
        let store = s.h.state.storage.firm(firm).await.unwrap();
        let mut tx = store.begin(&ringfence_core::principal::Principal::Anonymous).await.unwrap();
        let verification = audit_log::verify(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(verification, Verification::Intact { .. }), "{verification:?}");
        // Nothing of the purge is left to finish.
        assert_eq!(count(&mut conn, "purge_outbox", "1 = 1").await, 0);

        // The backup is restored: its rows and a file are back.
        for (table, _) in MATTER_TABLES {
            conn.execute(AssertSqlSafe(format!("INSERT INTO {table} SELECT * FROM saved_{table}")))
                .await
                .unwrap();
        }
        let mut writer = s.h.state.blobs.writer(firm, versions[0]);
        writer.write(blob.to_vec()).await.unwrap();
        writer.finish().await.unwrap();
        assert_eq!(count(&mut conn, "matters", &format!("id = '{matter}'")).await, 1);
        let storage = s.h.state.storage.clone();
        let replayed =
            storage.replay_purges(&s.h.state.blobs, firm, deleted_at, s.h.clock.now()).await.unwrap();
        assert_eq!((replayed.purges, replayed.found), (1, 1));
        for (table, filter) in MATTER_TABLES {
            let filter = filter.replace("{m}", &matter);
            assert_eq!(count(&mut conn, table, &filter).await, 0, "{table} rows are gone again");
        }
        assert!(s.h.state.blobs.size(firm, versions[0]).await.is_err(), "the restored file is gone again");
        let again = storage.replay_purges(&s.h.state.blobs, firm, deleted_at, s.h.clock.now()).await.unwrap();
        assert_eq!((again.purges, again.found), (1, 0), "replaying twice changes nothing more");
        let later =
            storage.replay_purges(&s.h.state.blobs, firm, s.h.clock.now(), s.h.clock.now()).await.unwrap();
        assert_eq!(later.purges, 0, "only purges after the backup are re-applied");
        assert_eq!(s.audit_count("purge.replayed").await, 2);
        for (table, _) in MATTER_TABLES {
            conn.execute(AssertSqlSafe(format!("DROP TABLE saved_{table}"))).await.unwrap();
        }
    }
);

/// On SQLite a purged matter's key and content are gone from the database file and its
/// log, not only from the tables: deleted pages are overwritten, and the log is cut.
#[tokio::test]
async fn a_purged_matters_key_and_content_leave_no_bytes_in_the_sqlite_files() {
    let env = TestEnv::new(ringfence_testkit::Backend::Sqlite).await.unwrap();
    let mut s = scene(env).await;
    let matter = s.matter.clone();
    let mut conn = s.h.raw_firm().await;
    let mut secrets: Vec<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT key_sealed FROM matter_keys WHERE matter_id = '{matter}'"
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(secrets.len(), 1, "the matter has its key");
    let content: Vec<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT title_sealed FROM matters WHERE id = '{matter}'
         UNION ALL SELECT body_sealed FROM notes WHERE matter_id = '{matter}'
         UNION ALL SELECT data_key_sealed FROM document_versions
                   WHERE document_id IN (SELECT id FROM documents WHERE matter_id = '{matter}')"
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(content.len() >= 4, "{}", content.len());
    secrets.extend(content);
    drop(conn);
    let dir = s.h.env.data_dir().join("firms").join(s.h.firm.to_string());
    let holds = |secret: &[u8]| {
        // Past the format byte and nonce: the ciphertext itself.
        let tail = &secret[secret.len() - 24..];
        ["firm.db", "firm.db-wal"].iter().any(|file| {
            let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
            bytes.windows(tail.len()).any(|w| w == tail)
        })
    };
    assert!(secrets.iter().all(|secret| holds(secret)), "the files hold every value before the purge");
    assert_eq!(s.call("DELETE", &format!("/api/v1/matters/{matter}"), &s.lead).await.status, 204);
    s.h.clock.advance(Duration::days(30) + Duration::seconds(1));
    s.sign_in_again().await;
    let ran = s.run_jobs().await;
    assert!(ran.iter().any(|r| r.kind == "lifecycle.purge" && r.outcome == Outcome::Done), "{ran:?}");
    assert_eq!(s.audit_count("matter.purged").await, 1);

    for (i, secret) in secrets.iter().enumerate() {
        assert!(!holds(secret), "the files still hold sealed value {i}");
    }
}

both_backends!(the_purge_is_one_schedule_per_deployment, |env: TestEnv| async move {
    let s = scene(env).await;
    for _ in 0..2 {
        s.run_jobs().await;
    }
    let jobs = s.h.state.storage.list_jobs(s.h.clock.now()).await.unwrap();
    assert_eq!(jobs.iter().filter(|job| job.kind == "lifecycle.purge").count(), 1);
});

both_backends!(a_purge_cut_short_after_its_rows_is_finished_by_the_next_run, |env: TestEnv| async move {
    let s = scene(env).await;
    let firm = s.h.firm;
    // A purge whose transaction committed (rows gone, outbox line written) and whose
    // server stopped before the ledger line and the blob's deletion.
    let blob = Uuid::now_v7();
    let mut writer = s.h.state.blobs.writer(firm, blob);
    writer.write(b"sealed bytes of a purged version".to_vec()).await.unwrap();
    writer.finish().await.unwrap();
    let mut conn = s.h.raw_firm().await;
    let at = ringfence_core::clock::unix_millis(s.h.clock.now());
    let version = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO purge_outbox (kind, object_id, blobs, deleted_at, purged_at)
         VALUES ('document_version', $1, $2, $3, $4)",
    )
    .bind(version.to_string())
    .bind(blob.to_string())
    .bind(at - 1)
    .bind(at)
    .execute(&mut conn)
    .await
    .unwrap();
    let before = s.h.clock.now() - Duration::seconds(1);
    let ran = s.run_jobs().await;
    assert!(ran.iter().any(|r| r.kind == "lifecycle.purge" && r.outcome == Outcome::Done), "{ran:?}");
    assert!(s.h.state.blobs.size(firm, blob).await.is_err(), "the blob is deleted");
    assert_eq!(count(&mut conn, "purge_outbox", "1 = 1").await, 0, "the outbox line is done");
    let replayed =
        s.h.state.storage.replay_purges(&s.h.state.blobs, firm, before, s.h.clock.now()).await.unwrap();
    assert_eq!(replayed.purges, 1, "the ledger holds its line");
});

both_backends!(the_purge_leaves_a_terminated_firm_as_it_is, |env: TestEnv| async move {
    let mut s = scene(env).await;
    assert_eq!(s.call("DELETE", &format!("/api/v1/notes/{}", s.note), &s.lead).await.status, 204);
    super::termination::terminate(&s.h, ringfence_core::firm::RetentionDays::SIX_MONTHS).await;
    s.h.env.expect_jobs_left("firm.shred");
    s.h.clock.advance(Duration::days(31));
    s.sign_in_again().await;
    let ran = s.run_jobs().await;
    assert!(ran.iter().any(|r| r.kind == "lifecycle.purge" && r.outcome == Outcome::Done), "{ran:?}");
    let mut conn = s.h.raw_firm().await;
    assert_eq!(count(&mut conn, "notes", &format!("id = '{}'", s.note)).await, 1, "read-only until shredded");
});

both_backends!(
    a_legal_hold_keeps_what_was_deleted_from_the_purge_and_refuses_more_deletion,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        // Deleted before the hold: a note. Then the matter is held.
        assert_eq!(s.call("DELETE", &format!("/api/v1/notes/{}", s.note), &s.lead).await.status, 204);
        let hold = json!({ "reason": "Preservation letter received" });
        let path = format!("/api/v1/matters/{}/legal-hold", s.matter);
        assert_eq!(s.h.call("POST", &path, Some(&s.admin), Some(hold)).await.status, 201);
        // A single version, and the client its taker would delete, are kept too.
        let version =
            s.call("DELETE", &format!("/api/v1/documents/{}/versions/1", s.document), &s.lead).await;
        assert_eq!((version.status, version.code()), (409, "legal_hold"), "{}", version.body);
        let client =
            s.h.call(
                "POST",
                "/api/v1/clients",
                Some(&s.lead),
                Some(json!({ "name": "Held Co", "kind": "organisation" })),
            )
            .await;
        let client = client.body["id"].as_str().unwrap().to_owned();
        let hold = json!({ "reason": "Same investigation" });
        let held =
            s.h.call("POST", &format!("/api/v1/clients/{client}/legal-hold"), Some(&s.admin), Some(hold))
                .await;
        assert_eq!(held.status, 201, "{}", held.body);
        let refused = s.call("DELETE", &format!("/api/v1/clients/{client}"), &s.lead).await;
        assert_eq!((refused.status, refused.code()), (409, "legal_hold"), "{}", refused.body);

        // Past the grace period the purge runs, and leaves the held matter's note.
        s.h.clock.advance(Duration::days(31));
        let ran = s.run_jobs().await;
        assert!(ran.iter().any(|r| r.kind == "lifecycle.purge" && r.outcome == Outcome::Done), "{ran:?}");
        let mut conn = s.h.raw_firm().await;
        let note = format!("id = '{}'", s.note);
        assert_eq!(count(&mut conn, "notes", &note).await, 1, "kept under the hold");
        s.sign_in_again().await;
        let lift = json!({ "reason": "Released" });
        let lifted = s.h.call("POST", &format!("{path}/lift"), Some(&s.admin), Some(lift)).await;
        assert_eq!(lifted.status, 200, "{}", lifted.body);
        s.h.clock.advance(Duration::days(1));
        s.run_jobs().await;
        assert_eq!(count(&mut conn, "notes", &note).await, 0, "purged once the hold is lifted");
    }
);

both_backends!(a_matter_exported_before_its_deletion_is_purged_with_its_export, |env: TestEnv| async move {
    let mut s = scene(env).await;
    let asked =
        s.h.call("POST", &format!("/api/v1/matters/{}/exports", s.matter), Some(&s.lead), Some(json!({})))
            .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let ran = s.run_jobs().await;
    assert!(ran.iter().any(|r| r.kind == "export.build" && r.outcome == Outcome::Done), "{ran:?}");
    let stored = s.h.state.blobs.list(s.h.firm).await.unwrap().len();
    // The export is the matter's content: the key of its file is under the matter's key.
    let mut conn = s.h.raw_firm().await;
    let key: Vec<u8> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT data_key_sealed FROM exports WHERE matter_id = '{}'",
        s.matter
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(!ringfence_crypto::matter_key::under_firm_key(&key));
    drop(conn);
    assert_eq!(s.call("DELETE", &format!("/api/v1/matters/{}", s.matter), &s.lead).await.status, 204);
    s.h.clock.advance(Duration::days(31));
    s.sign_in_again().await;
    let ran = s.run_jobs().await;
    assert!(ran.iter().all(|r| r.outcome == Outcome::Done), "{ran:?}");
    let mut conn = s.h.raw_firm().await;
    let matter = format!("id = '{}'", s.matter);
    assert_eq!(count(&mut conn, "matters", &matter).await, 0, "the matter is purged");
    let exports = format!("matter_id = '{}'", s.matter);
    assert_eq!(count(&mut conn, "exports", &exports).await, 0, "and its export with it");
    assert!(s.h.state.blobs.list(s.h.firm).await.unwrap().len() < stored, "the blobs are gone");
    assert!(s.h.state.blobs.list(s.h.firm).await.unwrap().is_empty());
});
