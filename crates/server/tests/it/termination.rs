//! Firm termination across its six months, driven by the test clock on both backends: a
//! terminated firm is read-only — every route that writes is refused, reading, export and
//! signing in go on — and its administrators are mailed; it can be reinstated until its
//! shred; the shred, a job due when the retention ends, destroys its keys, database and
//! files, keeps a tombstone with the log's final checkpoint, finishes when run again after
//! stopping halfway, and changes nothing when run once more.

use axum::body::Body;
use ringfence_core::clock::{Clock, unix_millis};
use ringfence_core::firm::{FirmName, FirmSlug, ForceReason, RetentionDays};
use ringfence_core::ids::FirmId;
use ringfence_core::policy::AccessPolicy;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::user::{Email, FirmRole};
use ringfence_server::access::Effect;
use ringfence_server::app::AppError;
use ringfence_server::app::termination::{self, OperatorCtx, Terminated};
use ringfence_server::audit_shipping::Sink;
use ringfence_server::jobs::{Outcome, Ran, Worker};
use ringfence_server::route_table;
use ringfence_store::blobs::{BlobLocation, BlobStore};
use ringfence_store::{NewFirm, StoreError};
use ringfence_testkit::{Backend, TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::sign_in_harness::*;
use crate::run_due_jobs;

const LEAD: &str = "lead@firm.example";
const PASSWORD: &str = "a long shared test passphrase";
const DOCUMENT: &[u8] = b"the signed settlement, plain text";

/// A firm in use: its administrator and an attorney leading a matter with a note and a
/// document.
pub(crate) struct Practice {
    pub(super) h: Harness,
    pub(super) admin: String,
    pub(super) lead: String,
    pub(super) matter: String,
    pub(super) note: String,
    pub(super) document: String,
}

pub(super) async fn practice(env: TestEnv) -> Practice {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    let client = json!({ "name": "Acme", "kind": "organisation" });
    let matter = h.open_matter(&lead, client, json!({ "title": "Acme v Widget" })).await;
    let note = h
        .call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&lead),
            Some(json!({ "kind": "strategy", "body": "first", "privileged": false })),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
    let document =
        h.upload(&format!("/api/v1/matters/{matter}/documents"), &lead, "deal.txt", DOCUMENT, &[]).await;
    assert_eq!(document.status, 201, "{}", document.body);
    let (note, document) = (id_of(&note.body), id_of(&document.body));
    Practice { h, admin, lead, matter, note, document }
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

fn slug() -> FirmSlug {
    FirmSlug::parse("firm").unwrap()
}

/// The operator at the command line, at the test clock's time.
fn operator(h: &Harness) -> OperatorCtx<'_> {
    OperatorCtx {
        storage: &h.state.storage,
        principal: Principal::System(SystemTask::CommandLine),
        now: h.clock.now(),
    }
}

pub(super) async fn terminate(h: &Harness, retain: RetentionDays) -> Terminated {
    termination::terminate(&operator(h), &h.state.mailer, &slug(), retain).await.unwrap()
}

fn kinds(ran: &[Ran]) -> Vec<(&str, Outcome)> {
    ran.iter().map(|ran| (ran.kind.as_str(), ran.outcome.clone())).collect()
}

fn conflict_code(error: AppError) -> &'static str {
    match error {
        AppError::Conflict { code, .. } => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The entries of the firm's log whose action begins with `action`.
async fn entries(h: &Harness, token: &str, action: &str) -> Vec<Value> {
    let listed = h.call("GET", &format!("/api/v1/audit?action={action}"), Some(token), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["items"].as_array().unwrap().clone()
}

/// Whether the firm's own database is still there: the SQLite directory, or the
/// PostgreSQL schema and its two roles (counted).
async fn firm_database_left(h: &Harness, firm: FirmId) -> usize {
    match h.env.backend {
        Backend::Sqlite => usize::from(h.env.data_dir().join("firms").join(firm.to_string()).exists()),
        Backend::Postgres => {
            use sqlx::Connection;
            let url = h.env.database_url().unwrap();
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let hex = firm.simple().to_string();
            let count: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'firm_' || $1)
                      + (SELECT COUNT(*) FROM pg_roles WHERE rolname IN ('rf_' || $1, 'rf_' || $1 || '_owner'))",
            )
            .bind(&hex)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            usize::try_from(count).unwrap()
        }
    }
}

both_backends!(a_terminated_firm_reads_and_exports_but_refuses_every_change, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let done = terminate(h, RetentionDays::SIX_MONTHS).await;
    assert_eq!(done.shred_after - done.since, Duration::days(186));
    assert_eq!(
        done.notices.sent,
        vec![Email::parse(ADMIN_EMAIL).unwrap()],
        "the administrators, no one else"
    );
    assert!(done.notices.failed.is_empty());
    let mail = h.latest_mail(ADMIN_EMAIL);
    assert!(mail.contains("Subject: Ringfence: your firm's service has ended"), "{mail}");
    assert!(mail.contains("Dear Ada Admin,"), "{mail}");
    assert!(mail.contains(&done.shred_after.date().to_string()), "the mail says when: {mail}");
    assert!(!h.outbox().iter().any(|m| m.contains(LEAD) && m.contains("service has ended")));

    // A sample of changes, through the API and a page: refused, and nothing changed.
    let matter = &p.matter;
    let refused = [
        (
            "POST",
            format!("/api/v1/matters/{matter}/notes"),
            &p.lead,
            Some(json!({ "kind": "strategy", "body": "late", "privileged": false })),
        ),
        ("PATCH", format!("/api/v1/notes/{}", p.note), &p.lead, Some(json!({ "body": "changed" }))),
        ("DELETE", format!("/api/v1/documents/{}", p.document), &p.lead, None),
        ("POST", "/api/v1/matters".to_owned(), &p.lead, Some(json!({ "title": "New", "client_id": matter }))),
        (
            "POST",
            "/api/v1/users".to_owned(),
            &p.admin,
            Some(json!({ "email": "x@firm.example", "roles": ["attorney"] })),
        ),
        (
            "PUT",
            "/api/v1/firm/time-zone".to_owned(),
            &p.admin,
            Some(json!({ "time_zone": "Africa/Johannesburg" })),
        ),
        (
            "POST",
            "/api/v1/me/password".to_owned(),
            &p.lead,
            Some(json!({ "current_password": PASSWORD, "new_password": "another long passphrase here" })),
        ),
    ];
    for (method, path, token, body) in refused {
        let answer = h.call(method, &path, Some(token), body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (423, "firm_terminated"),
            "{method} {path}: {}",
            answer.body
        );
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&done.shred_after.date().to_string()), "{message}");
    }
    let upload =
        h.upload(&format!("/api/v1/matters/{matter}/documents"), &p.lead, "late.txt", b"late", &[]).await;
    assert_eq!(upload.status, 423, "{}", upload.body);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let page = h
        .respond("POST", &format!("/matters/{matter}/notes"), Some(&p.lead), Body::from("body=late"), &form)
        .await;
    assert_eq!(page.status(), 423);
    let page = Harness::reply(page).await;
    assert!(page.body.as_str().unwrap().contains("Read-only"), "{}", page.body);

    let notes = h.call("GET", &format!("/api/v1/matters/{matter}/notes"), Some(&p.lead), None).await;
    assert_eq!(notes.body["items"].as_array().unwrap().len(), 1, "{}", notes.body);
    let note = h.call("GET", &format!("/api/v1/notes/{}", p.note), Some(&p.lead), None).await;
    assert_eq!((note.status, note.body["body"].as_str()), (200, Some("first")), "{}", note.body);

    // Reading and export go on: the matter, the document's bytes, the audit log as CSV,
    // its signed checkpoint, the pages and a search.
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&p.lead), None).await.status, 200);
    let content = h
        .respond(
            "GET",
            &format!("/api/v1/documents/{}/content", p.document),
            Some(&p.lead),
            Body::empty(),
            &[],
        )
        .await;
    assert_eq!(content.status(), 200);
    assert_eq!(axum::body::to_bytes(content.into_body(), 1 << 20).await.unwrap().as_ref(), DOCUMENT);
    let csv = h.respond("GET", "/api/v1/audit.csv", Some(&p.admin), Body::empty(), &[]).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(h.call("GET", "/api/v1/audit/checkpoint", Some(&p.admin), None).await.status, 200);
    let home = Harness::reply(h.respond("GET", "/home", Some(&p.lead), Body::empty(), &[]).await).await;
    assert_eq!(home.status, 200);
    let home = home.body.as_str().unwrap();
    assert!(home.contains(&format!("it is read-only until {}", done.shred_after.date())), "{home}");
    let search = h.respond("POST", "/search", Some(&p.lead), Body::from("q=first"), &form).await;
    assert_eq!(search.status(), 200);

    // Signing in and out go on.
    let again = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("GET", "/api/v1/me", Some(&again), None).await.status, 200);
    assert_eq!(h.call("POST", "/api/v1/auth/logout", Some(&again), None).await.status, 204);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&again), None).await.status, 401);

    let terminated = entries(h, &p.admin, "firm.terminated").await;
    assert_eq!(terminated.len(), 1, "{terminated:?}");
    assert_eq!(terminated[0]["actor"]["kind"], "cli", "{terminated:?}");
    let refusals = entries(h, &p.admin, "request.refused").await;
    assert!(
        refusals.iter().any(|e| e["resource"]["id"] == "POST /api/v1/matters/{id}/notes 423"),
        "each refusal is on the record: {refusals:?}"
    );
    let again =
        termination::terminate(&operator(h), &h.state.mailer, &slug(), RetentionDays::SIX_MONTHS).await;
    assert_eq!(conflict_code(again.unwrap_err()), "already_terminated");
    h.env.expect_jobs_left("firm.shred");
});

both_backends!(every_route_that_writes_is_refused_and_every_other_is_not, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let every_role: Vec<&str> = FirmRole::ALL.iter().map(|role| role.as_str()).collect();
    h.add_user(&admin, "all@firm.example", &every_role, PASSWORD).await;
    terminate(&h, RetentionDays::SIX_MONTHS).await;
    let token = h.sign_in("all@firm.example", PASSWORD).await;
    let (mut refused, mut let_through, mut ending) = (0, 0, Vec::new());
    let table = route_table();
    // The routes that end sessions last: they end the ones they are sent with.
    // Every route of the firm's people: the public ones and the operator's are not theirs.
    let mut specs: Vec<_> = table
        .specs()
        .iter()
        .filter(|spec| !matches!(spec.policy, AccessPolicy::Public | AccessPolicy::Operator))
        .collect();
    specs.sort_by_key(|spec| spec.effect == Effect::EndsSessions);
    for spec in specs {
        let path = spec
            .path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{user_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{export_id}", &uuid::Uuid::new_v4().to_string());
        let (body, headers) = if spec.path.starts_with("/api/") {
            (Body::from("{}"), [("content-type", "application/json")])
        } else {
            (Body::from("q=words"), [("content-type", "application/x-www-form-urlencoded")])
        };
        // A route that ends sessions gets a session of its own to end (an hour apart: a
        // user is mailed five sign-in codes an hour).
        let caller = match spec.effect {
            Effect::EndsSessions => {
                h.clock.advance(Duration::minutes(61));
                h.sign_in("all@firm.example", PASSWORD).await
            }
            Effect::Reads | Effect::Writes => token.clone(),
        };
        let answer = h.respond(spec.method.as_str(), &path, Some(&caller), body, &headers).await;
        let status = answer.status().as_u16();
        let route = format!("{} {}", spec.method, spec.path);
        match spec.effect {
            Effect::Writes => {
                assert_eq!(status, 423, "{route} changes the firm and must be refused");
                refused += 1;
            }
            Effect::Reads | Effect::EndsSessions => {
                assert!(status != 423 && status < 500, "{route} answered {status}");
                let_through += 1;
            }
        }
        if spec.method != http::Method::GET && spec.effect != Effect::Writes {
            ending.push(route);
        }
    }
    println!("a terminated firm: {refused} routes refused, {let_through} let through");
    assert!(refused >= 40, "{refused}");
    // What a terminated firm's people may still send besides reads: searches and filters,
    // asking for full exports (to take their data with them), and the ends of their own
    // sessions. Anything else here would be a way to change it.
    ending.sort();
    assert_eq!(
        ending,
        [
            "DELETE /api/v1/me/sessions",
            "DELETE /api/v1/me/sessions/{id}",
            "POST /account/sessions/end-all",
            "POST /account/sessions/{id}/end",
            "POST /admin/exports",
            "POST /api/v1/auth/logout",
            "POST /api/v1/firm/exports",
            "POST /api/v1/matters/{id}/exports",
            "POST /home",
            "POST /matters/{id}/exports",
            "POST /search",
            "POST /sign-out",
        ]
    );
    h.env.expect_jobs_left("firm.shred");
    // The firm's export it asked for waits on the queue for its build.
    h.env.expect_jobs_left("export.build");
});

both_backends!(reinstating_restores_changes_and_cancels_the_shred, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    terminate(h, RetentionDays::SIX_MONTHS).await;
    let path = format!("/api/v1/matters/{}/notes", p.matter);
    let body = json!({ "kind": "strategy", "body": "second", "privileged": false });
    assert_eq!(h.call("POST", &path, Some(&p.lead), Some(body.clone())).await.status, 423);

    h.clock.advance(Duration::days(30));
    let done = termination::reinstate(&operator(h), &h.state.mailer, &slug()).await.unwrap();
    assert_eq!(done.notices.sent, vec![Email::parse(ADMIN_EMAIL).unwrap()]);
    let mail = h.latest_mail(ADMIN_EMAIL);
    assert!(mail.contains("Subject: Ringfence: your firm is in service again"), "{mail}");
    let lead = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("POST", &path, Some(&lead), Some(body)).await.status, 201, "changes work again");
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let reinstated = entries(h, &admin, "firm.reinstated").await;
    assert_eq!(reinstated.len(), 1, "{reinstated:?}");
    let again = termination::reinstate(&operator(h), &h.state.mailer, &slug()).await;
    assert_eq!(conflict_code(again.unwrap_err()), "not_terminated");

    // The shred was cancelled: past the retention, nothing is destroyed.
    h.clock.advance(Duration::days(200));
    let ran = run_due_jobs(&h.state).await;
    assert!(!ran.iter().any(|r| r.kind == "firm.shred"), "{ran:?}");
    assert_eq!(firm_database_left(h, h.firm).await, if h.env.backend == Backend::Sqlite { 1 } else { 3 });
    assert_eq!(h.state.blobs.list(h.firm).await.unwrap().len(), 1);
    let lead = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("GET", &format!("/api/v1/notes/{}", p.note), Some(&lead), None).await.status, 200);
});

both_backends!(after_six_months_the_shred_destroys_keys_database_and_files, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let firm = h.firm;
    let earlier = h.call("GET", "/api/v1/audit/checkpoint", Some(&p.admin), None).await;
    assert_eq!(earlier.status, 200, "{}", earlier.body);
    terminate(h, RetentionDays::SIX_MONTHS).await;
    assert_eq!(key_rows(h, firm).await, 1);
    let jsonl = h.env.data_dir().join("audit.jsonl");
    let worker = Worker::new(
        h.state.storage.clone(),
        h.state.blobs.clone(),
        h.state.mailer.clone(),
        h.clock.clone(),
        vec![Sink::json_lines(jsonl.clone())],
    );

    // A day before the end: kept, readable, signed into.
    h.clock.advance(Duration::days(185));
    let ran = worker.run_due().await.unwrap();
    assert!(!ran.iter().any(|r| r.kind == "firm.shred"), "{ran:?}");
    let lead = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("GET", &format!("/api/v1/notes/{}", p.note), Some(&lead), None).await.status, 200);
    assert_eq!(h.state.blobs.list(firm).await.unwrap().len(), 1);

    h.clock.advance(Duration::days(1) + Duration::minutes(1));
    let ran = worker.run_due().await.unwrap();
    assert!(kinds(&ran).contains(&("firm.shred", Outcome::Done)), "{ran:?}");

    // Its keys, its row, its directory entries, its database and its files are gone.
    assert_eq!(key_rows(h, firm).await, 0);
    assert!(!h.state.storage.firm_exists(firm).await.unwrap());
    assert!(h.state.storage.list_firms().await.unwrap().is_empty());
    assert_eq!(h.state.storage.directory_lookup(&Email::parse(ADMIN_EMAIL).unwrap()).await.unwrap(), None);
    assert!(matches!(h.state.storage.firm(firm).await, Err(StoreError::UnknownFirmId)));
    assert_eq!(firm_database_left(h, firm).await, 0, "the SQLite file or the PostgreSQL schema and roles");
    assert!(h.state.blobs.list(firm).await.unwrap().is_empty(), "no blob left, local or in S3");
    if let BlobLocation::Local(dir) = h.env.blob_location() {
        assert!(!dir.join("firms").join(firm.to_string()).exists());
    }

    // What is kept: the tombstone, with the log's final checkpoint, signed by the key the
    // firm's earlier checkpoints were.
    let tombstone = h.state.storage.tombstone_by_slug(&slug()).await.unwrap().expect("a tombstone");
    assert_eq!(tombstone.firm, firm);
    assert_eq!(tombstone.shredded_by, "system");
    assert_eq!(tombstone.force_reason, None);
    assert!(tombstone.shredded_at.is_some());
    let checkpoint = &tombstone.checkpoint;
    assert!(checkpoint.seq > earlier.body["seq"].as_i64().unwrap());
    assert_eq!(
        earlier.body["public_key"].as_str().unwrap(),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &checkpoint.public_key)
    );
    assert!(ringfence_crypto::audit_chain::verify_checkpoint(
        &checkpoint.public_key,
        &firm.to_string(),
        checkpoint.seq,
        &checkpoint.hash,
        unix_millis(checkpoint.at),
        &checkpoint.signature,
    ));
    // The log went to the sinks before it was destroyed.
    let shipped = std::fs::read_to_string(&jsonl).unwrap();
    assert!(shipped.contains("\"firm.terminated\""), "{shipped}");

    // Nobody signs in any more, and no session answers.
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!((login.status, login.code()), (401, "invalid_credentials"), "{}", login.body);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&lead), None).await.status, 401);

    // Shredding again changes nothing; neither reinstatement nor the slug come back.
    let again = termination::shred(&operator(h), &h.state.blobs, None, &slug(), None).await.unwrap();
    assert_eq!(again, tombstone);
    let reinstate = termination::reinstate(&operator(h), &h.state.mailer, &slug()).await.unwrap_err();
    assert!(reinstate.to_string().contains("was shredded"), "{reinstate}");
    assert_eq!(conflict_code(reinstate), "shredded");
    let terminate =
        termination::terminate(&operator(h), &h.state.mailer, &slug(), RetentionDays::SIX_MONTHS).await;
    assert_eq!(conflict_code(terminate.unwrap_err()), "shredded");
    let reused = h
        .state
        .storage
        .create_firm(
            NewFirm {
                slug: slug(),
                name: FirmName::parse("Another Firm").unwrap(),
                admin_email: Email::parse("new@another.example").unwrap(),
                admin_name: None,
                admin_password_hash: None,
            },
            h.clock.now(),
        )
        .await;
    assert!(matches!(reused, Err(StoreError::SlugRetired(_))), "{:?}", reused.err());
});

/// The firm's wrapped key versions in the control store, counted there directly.
async fn key_rows(h: &Harness, firm: FirmId) -> i64 {
    use sqlx::Connection;
    const COUNT: &str = "SELECT COUNT(*) FROM firm_keys WHERE firm_id = $1";
    match h.env.backend {
        Backend::Sqlite => {
            let path = h.env.data_dir().join("control.db");
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::query_scalar(COUNT).bind(firm.to_string()).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(h.env.database_url().unwrap()).await.unwrap();
            let count = COUNT.replace("firm_keys", "control.firm_keys");
            sqlx::query_scalar(sqlx::AssertSqlSafe(count))
                .bind(firm.to_string())
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

/// A blob store that cannot delete anything: a local store whose `firms` is a file.
fn broken_blobs(h: &Harness) -> BlobStore {
    let dir = h.env.data_dir().join("broken-blobs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("firms"), b"not a directory").unwrap();
    BlobStore::open(&BlobLocation::Local(dir)).unwrap()
}

both_backends!(a_shred_stopped_halfway_runs_again_and_finishes, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let firm = h.firm;
    terminate(h, RetentionDays::SIX_MONTHS).await;
    h.clock.advance(Duration::days(187));

    // The first run destroys the keys, then stops: its files cannot be deleted.
    let stopping = Worker::new(
        h.state.storage.clone(),
        broken_blobs(h),
        h.state.mailer.clone(),
        h.clock.clone(),
        Vec::new(),
    );
    let ran = stopping.run_due().await.unwrap();
    assert!(matches!(kinds(&ran).as_slice(), [("firm.shred", Outcome::RetryAt(_))]), "{ran:?}");
    let tombstone = h.state.storage.tombstone_by_slug(&slug()).await.unwrap().expect("the shred began");
    assert_eq!(tombstone.shredded_at, None);
    assert!(!h.state.storage.firm_exists(firm).await.unwrap(), "its keys are gone already");
    assert_eq!(h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, 401);

    // The log's last entry, still in the database, is the shred's own, and the tombstone's
    // checkpoint covers exactly it.
    let (action, actor, hash) = last_audit_entry(h, firm).await;
    assert_eq!((action.as_str(), actor.as_str()), ("firm.shred.started", "system"));
    assert_eq!(hash, tombstone.checkpoint.hash.to_vec());

    h.clock.advance(Duration::minutes(1));
    let ran = run_due_jobs(&h.state).await;
    assert_eq!(kinds(&ran), [("firm.shred", Outcome::Done)]);
    let done = h.state.storage.tombstone_by_slug(&slug()).await.unwrap().unwrap();
    assert!(done.shredded_at.is_some());
    assert_eq!(done.checkpoint, tombstone.checkpoint, "the first run's checkpoint is kept");
    assert_eq!(firm_database_left(h, firm).await, 0);
    assert!(h.state.blobs.list(firm).await.unwrap().is_empty());
});

/// The firm's newest audit entry, read from its database directly: action, actor, hash.
async fn last_audit_entry(h: &Harness, firm: FirmId) -> (String, String, Vec<u8>) {
    use sqlx::{Connection, Executor, Row};
    const LAST: &str = "SELECT action, actor_kind, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
    match h.env.backend {
        Backend::Sqlite => {
            let path = h.env.data_dir().join("firms").join(firm.to_string()).join("firm.db");
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            let row = sqlx::query(LAST).fetch_one(&mut conn).await.unwrap();
            (row.get("action"), row.get("actor_kind"), row.get("hash"))
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(h.env.database_url().unwrap()).await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!(r#"SET search_path TO "firm_{}""#, firm.simple())))
                .await
                .unwrap();
            let row = sqlx::query(LAST).fetch_one(&mut conn).await.unwrap();
            (row.get("action"), row.get("actor_kind"), row.get("hash"))
        }
    }
}

both_backends!(
    an_operator_shreds_at_once_only_after_the_retention_with_a_reason_kept,
    |env: TestEnv| async move {
        let p = practice(env).await;
        let h = &p.h;
        let early = termination::shred(&operator(h), &h.state.blobs, None, &slug(), None).await.unwrap_err();
        assert_eq!(conflict_code(early), "not_terminated");
        terminate(h, RetentionDays::parse(30).unwrap()).await;
        h.clock.advance(Duration::days(29));
        let early = termination::shred(&operator(h), &h.state.blobs, None, &slug(), None).await.unwrap_err();
        assert_eq!(conflict_code(early), "retention_running");

        h.clock.advance(Duration::days(2));
        let reason = ForceReason::parse("court order 2027/118: hold released by the court").unwrap();
        let tombstone =
            termination::shred(&operator(h), &h.state.blobs, None, &slug(), Some(&reason)).await.unwrap();
        assert_eq!(tombstone.force_reason.as_deref(), Some(reason.as_str()));
        assert_eq!(tombstone.shredded_by, "cli");
        assert!(tombstone.shredded_at.is_some());
        assert_eq!(firm_database_left(h, h.firm).await, 0);
        // Its job was taken off the queue: the test's end finds none left.
        assert!(run_due_jobs(&h.state).await.iter().all(|r| r.kind != "firm.shred"));
    }
);

both_backends!(a_legal_hold_keeps_the_firm_from_its_shred_unless_forced, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let hold = json!({ "reason": "Litigation against the firm's former client" });
    let held =
        h.call("POST", &format!("/api/v1/matters/{}/legal-hold", p.matter), Some(&p.admin), Some(hold)).await;
    assert_eq!(held.status, 201, "{}", held.body);
    terminate(h, RetentionDays::parse(30).unwrap()).await;
    h.clock.advance(Duration::days(31));

    // The job does not shred: it fails, saying why, and is tried again later.
    let ran = run_due_jobs(&h.state).await;
    let shred: Vec<_> = kinds(&ran).into_iter().filter(|(kind, _)| *kind == "firm.shred").collect();
    assert!(matches!(shred.as_slice(), [(_, Outcome::RetryAt(_))]), "{ran:?}");
    let listed = h.state.storage.list_jobs(h.clock.now()).await.unwrap();
    let job = listed.iter().find(|job| job.kind == "firm.shred").expect("the shred stays queued");
    assert!(job.last_error.as_deref().unwrap_or("").contains("legal hold"), "{job:?}");
    assert_eq!(key_rows(h, h.firm).await, 1, "nothing was destroyed");
    assert_eq!(firm_database_left(h, h.firm).await, if h.env.backend == Backend::Sqlite { 1 } else { 3 });

    // Nor does the operator, unless forcing it with a reason, which the tombstone keeps.
    let refused = termination::shred(&operator(h), &h.state.blobs, None, &slug(), None).await.unwrap_err();
    assert_eq!(conflict_code(refused), "legal_hold");
    let reason = ForceReason::parse("court order 2027/118: hold released by the court").unwrap();
    let tombstone =
        termination::shred(&operator(h), &h.state.blobs, None, &slug(), Some(&reason)).await.unwrap();
    assert_eq!(tombstone.force_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(firm_database_left(h, h.firm).await, 0);
});

both_backends!(a_terminated_firms_closed_matters_wait_for_its_shred, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let closed = h.call("POST", &format!("/api/v1/matters/{}/close", p.matter), Some(&p.lead), None).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let policy = json!({ "window_days": 90, "auto_delete": true, "notice_days": 30 });
    let set = h.call("PUT", "/api/v1/firm/retention-policy", Some(&p.admin), Some(policy)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    terminate(h, RetentionDays::SIX_MONTHS).await;
    // Past the window and any notice, the daily job leaves the read-only firm alone.
    h.clock.advance(Duration::days(150));
    crate::retention::run_schedules(h).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    let read = h.call("GET", &format!("/api/v1/matters/{}", p.matter), Some(&lead), None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(h.outbox().iter().all(|mail| !mail.contains("end of its retention")), "no notice either");
    h.env.expect_jobs_left("firm.shred");
});
