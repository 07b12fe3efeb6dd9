//! Backups: made, proven by a restore into a scratch store, holding no plaintext, restored
//! on a machine that has nothing but the target and the master key (every answer and every
//! document byte as before), restored in place with the purges since re-applied, rotated,
//! scheduled, and shredded with their firm.

use std::sync::Arc;

use ringfence_core::firm::FirmSlug;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::user::Email;
use ringfence_server::app::backups::BackupPlan;
use ringfence_server::app::termination::{self, OperatorCtx};
use ringfence_server::jobs::{Worker, after_rotation};
use ringfence_store::StoreError;
use ringfence_store::backup::{BackupTarget, Generations, NewCopy, Restoring, Unwatched};
use ringfence_store::blobs::BlobLocation;
use ringfence_store::control::backups::BackupState;
use ringfence_store::firm::audit::{self as audit_log, Verification};
use ringfence_testkit::{TestEnv, backup_location, both_backends, stored_objects};
use serde_json::{Value, json};
use time::Duration;

use super::sign_in_harness::*;
use super::termination::{Practice, practice};
use super::*;

const LEAD: &str = "lead@firm.example";
const LEAD_PASSWORD: &str = "a long shared test passphrase";
const INSPECTOR: &str = "inspector@firm.example";
const SECRET_NOTE: &str = "Privileged strategy: settle below four point two million";
const SECRET_CLIENT: &str = "Zebediah Quartermain Holdings";
const SECRET_TITLE: &str = "Quartermain against Widgetry";
const SECRET_FILE: &[u8] = b"%PDF-1.4 witness statement of Ophelia Marchbanks, unredacted";

/// A restore in one process: nothing to wait for.
const AT_ONCE: Restoring<'static> = Restoring { settle: std::time::Duration::ZERO, progress: &Unwatched };

/// A firm in use, with content worth looking for on the target.
async fn scene(env: TestEnv) -> Practice {
    let s = practice(env).await;
    let client = json!({ "name": SECRET_CLIENT, "kind": "organisation" });
    let matter = s.h.open_matter(&s.lead, client, json!({ "title": SECRET_TITLE })).await;
    let note =
        s.h.call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&s.lead),
            Some(json!({ "kind": "strategy", "body": SECRET_NOTE, "privileged": true })),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
    let upload =
        s.h.upload(&format!("/api/v1/matters/{matter}/documents"), &s.lead, "witness.pdf", SECRET_FILE, &[])
            .await;
    assert_eq!(upload.status, 201, "{}", upload.body);
    s
}

/// The id of the scene's matter whose title is [`SECRET_TITLE`].
async fn secret_matter(s: &Practice) -> String {
    let matters = s.h.call("GET", "/api/v1/matters", Some(&s.lead), None).await;
    let matter =
        matters.body["items"].as_array().unwrap().iter().find(|m| m["title"] == SECRET_TITLE).unwrap();
    matter["id"].as_str().unwrap().to_owned()
}

/// A note `lead` writes on the scene's first matter.
async fn write_note(s: &Practice, lead: &str, body: &str) {
    let note =
        s.h.call(
            "POST",
            &format!("/api/v1/matters/{}/notes", s.matter),
            Some(lead),
            Some(json!({ "kind": "note", "body": body, "privileged": false })),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
}

fn target_of(h: &Harness, location: &BlobLocation) -> BackupTarget {
    BackupTarget::open(location, &h.env.blob_location(), h.env.data_dir()).unwrap()
}

/// What the firm's people see: every list and item a lead and an administrator read, and
/// every document's bytes.
async fn answers(h: &Harness, admin: &str, lead: &str) -> Vec<(String, u16, Value)> {
    let mut paths: Vec<(String, &str)> =
        ["/api/v1/matters", "/api/v1/clients", "/api/v1/deleted", "/api/v1/search?q=quartermain"]
            .into_iter()
            .map(|p| (p.to_owned(), lead))
            .collect();
    paths.extend(
        ["/api/v1/users", "/api/v1/admin/matters", "/api/v1/firm/legal-holds"].map(|p| (p.to_owned(), admin)),
    );
    let matters = h.call("GET", "/api/v1/matters", Some(lead), None).await;
    for matter in matters.body["items"].as_array().unwrap() {
        let id = matter["id"].as_str().unwrap();
        paths.push((format!("/api/v1/matters/{id}/notes"), lead));
        let documents = h.call("GET", &format!("/api/v1/matters/{id}/documents"), Some(lead), None).await;
        paths.push((format!("/api/v1/matters/{id}/documents"), lead));
        for document in documents.body["items"].as_array().unwrap() {
            let doc = document["id"].as_str().unwrap();
            paths.push((format!("/api/v1/documents/{doc}/versions"), lead));
            paths.push((format!("/api/v1/documents/{doc}/content"), lead));
        }
    }
    let mut seen = Vec::new();
    for (path, token) in paths {
        let reply = h.call("GET", &path, Some(token), None).await;
        seen.push((path, reply.status, reply.body));
    }
    seen
}

both_backends!(
    a_firm_backed_up_then_lost_comes_back_on_a_fresh_machine_with_every_answer_and_byte,
    |env: TestEnv| async move {
        let s = scene(env).await;
        let (location, _kept) = backup_location(s.h.env.backend);
        let target = target_of(&s.h, &location);
        let storage = s.h.state.storage.clone();
        let firm = s.h.firm;
        let now = s.h.clock.now();

        let backup = storage.back_up_firm(&target, &s.h.state.blobs, firm, now).await.unwrap();
        assert_eq!(backup.state, BackupState::Made);
        let verified = storage.verify_backup(&target, Some(firm), backup.id, now).await.unwrap();
        assert_eq!(verified.problem, None);
        assert_eq!(verified.documents, 2, "both documents' chunks authenticated and hashed");
        assert!(verified.audit_entries > 10, "{verified:?}");
        assert_eq!(storage.backup_record(backup.id).await.unwrap().unwrap().state, BackupState::Verified);
        let control = storage.back_up_control(&target, now).await.unwrap();
        assert_eq!(storage.verify_backup(&target, None, control.id, now).await.unwrap().problem, None);

        // Not one readable byte of the firm on the target: no content, no names, no address.
        let objects = stored_objects(&location).await;
        assert!(
            objects.len() >= 6,
            "manifests, stores and documents: {:?}",
            objects.iter().map(|o| &o.0).collect::<Vec<_>>()
        );
        let secrets: [&[u8]; 9] = [
            SECRET_NOTE.as_bytes(),
            SECRET_CLIENT.as_bytes(),
            SECRET_TITLE.as_bytes(),
            b"Ophelia Marchbanks",
            b"the signed settlement",
            ADMIN_EMAIL.as_bytes(),
            b"lead@firm.example",
            b"The Firm",
            b"\"firm\"",
        ];
        for (path, bytes) in &objects {
            for secret in secrets {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret),
                    "{path} holds {}",
                    String::from_utf8_lossy(secret)
                );
            }
        }

        let before = answers(&s.h, &s.admin, &s.lead).await;
        assert!(before.iter().all(|(_, status, _)| *status == 200), "{before:?}");
        let (admin, lead) = (s.admin.clone(), s.lead.clone());
        let master_key = std::fs::read_to_string(s.h.env.data_dir().join("master.key")).unwrap();
        let (backend, clock) = (s.h.env.backend, s.h.clock.clone());

        // The machine is lost: its data directory and its database are gone.
        drop(s);
        let fresh = TestEnv::new(backend).await.unwrap();
        std::fs::write(fresh.data_dir().join("master.key"), master_key).unwrap();
        let state = state_with_clock(&fresh, false, clock.clone()).await;
        assert!(state.storage.list_firms().await.unwrap().is_empty());
        let target = BackupTarget::open(&location, &fresh.blob_location(), fresh.data_dir()).unwrap();
        let listed = state.storage.list_backups(&target, None).await.unwrap();
        let found = listed.iter().find(|b| b.id == backup.id).unwrap();
        assert_eq!((found.firm, found.slug.as_deref()), (Some(firm), Some("firm")));

        let restored = state
            .storage
            .restore_firm(&target, &state.blobs, firm, backup.id, AT_ONCE, clock.now())
            .await
            .unwrap();
        assert_eq!((restored.documents_copied, restored.addresses_taken), (2, 0));
        let h = Harness { env: fresh, state, clock, firm, ip: "203.0.113.7:50000".parse().unwrap() };
        let after = answers(&h, &admin, &lead).await;
        assert_eq!(after, before, "every answer, and every document byte, as it was");

        // The restore is on the record, which still verifies; people sign in as before.
        let log = h.call("GET", "/api/v1/audit?action=backup.restored", Some(&admin), None).await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "{}", log.body);
        assert!(log.body["items"][0]["resource"]["id"].as_str().unwrap().contains(&backup.id.to_string()));
        let store = h.state.storage.firm(firm).await.unwrap();
        let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
        assert!(matches!(audit_log::verify(&mut tx).await.unwrap(), Verification::Intact { .. }));
        tx.commit().await.unwrap();
        h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    }
);

both_backends!(
    a_restore_in_place_closes_the_firm_brings_its_data_back_and_re_applies_every_purge_since,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        let (location, _kept) = backup_location(s.h.env.backend);
        let target = target_of(&s.h, &location);
        let storage = s.h.state.storage.clone();
        let (firm, blobs) = (s.h.firm, s.h.state.blobs.clone());
        let doomed = secret_matter(&s).await;
        let doomed_files =
            s.h.call("GET", &format!("/api/v1/matters/{doomed}/documents"), Some(&s.lead), None).await;
        let doomed_file = doomed_files.body["items"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            s.h.call("DELETE", &format!("/api/v1/matters/{doomed}"), Some(&s.lead), None).await.status,
            204
        );
        let backup = storage.back_up_firm(&target, &blobs, firm, s.h.clock.now()).await.unwrap();

        // After the backup: a note written, and the deleted matter purged for good.
        write_note(&s, &s.lead, "written after the backup").await;
        s.h.clock.advance(Duration::days(31));
        assert_eq!(storage.purge_deleted(&blobs, firm, s.h.clock.now()).await.unwrap(), 1);
        let mut conn = s.h.raw_firm().await;
        let blob_ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM document_versions").fetch_all(&mut conn).await.unwrap();
        drop(conn);
        assert_eq!(blob_ids.len(), 1, "the purged matter's document went with it");
        s.admin = s.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

        // While it runs, the firm is closed to every request.
        let restoring = tokio::spawn({
            let (storage, target, blobs, now) =
                (storage.clone(), target.clone(), blobs.clone(), s.h.clock.now());
            async move {
                let slow = Restoring { settle: std::time::Duration::from_secs(3), progress: &Unwatched };
                storage.restore_firm(&target, &blobs, firm, backup.id, slow, now).await
            }
        });
        let mut closed = None;
        while !restoring.is_finished() {
            let reply = s.h.call("GET", "/api/v1/matters", Some(&s.admin), None).await;
            if reply.status == 503 {
                closed = Some(reply);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let closed = closed.expect("a request during the restore is refused");
        assert_eq!(closed.body["error"]["code"], "firm_restoring", "{}", closed.body);
        assert!(closed.headers.contains_key("retry-after"));
        let restored = restoring.await.unwrap().unwrap();
        assert_eq!((restored.purges_replayed.purges, restored.purges_replayed.found), (1, 1));

        // Open again, as the backup had it, minus what was purged since: sessions made after
        // the backup are gone with the rest.
        assert_eq!(s.h.call("GET", "/api/v1/matters", Some(&s.admin), None).await.status, 401);
        let (admin, lead) =
            (s.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await, s.h.sign_in(LEAD, LEAD_PASSWORD).await);
        let notes = s.h.call("GET", &format!("/api/v1/matters/{}/notes", s.matter), Some(&lead), None).await;
        assert_eq!(notes.status, 200, "{}", notes.body);
        assert!(!notes.body.to_string().contains("written after the backup"), "{}", notes.body);
        assert!(notes.body.to_string().contains("first"), "{}", notes.body);
        assert_eq!(
            s.h.call("GET", &format!("/api/v1/matters/{doomed}"), Some(&lead), None).await.status,
            404
        );
        let deleted = s.h.call("GET", "/api/v1/deleted", Some(&lead), None).await;
        assert!(!deleted.body.to_string().contains(&doomed), "the purged matter is not restorable either");
        assert_eq!(
            s.h.call("GET", &format!("/api/v1/documents/{doomed_file}"), Some(&lead), None).await.status,
            404
        );
        let kept =
            s.h.call("GET", &format!("/api/v1/documents/{}/content", s.document), Some(&lead), None).await;
        assert_eq!(kept.status, 200);
        for action in ["backup.restored", "purge.replayed"] {
            let log = s.h.call("GET", &format!("/api/v1/audit?action={action}"), Some(&admin), None).await;
            assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "{action}: {}", log.body);
        }
    }
);

both_backends!(
    a_backup_restored_as_a_new_firm_sits_beside_the_original_and_opens_only_to_its_named_administrator,
    |env: TestEnv| async move {
        let s = scene(env).await;
        let (location, _kept) = backup_location(s.h.env.backend);
        let target = target_of(&s.h, &location);
        let storage = s.h.state.storage.clone();
        let (firm, blobs) = (s.h.firm, s.h.state.blobs.clone());
        let backup = storage.back_up_firm(&target, &blobs, firm, s.h.clock.now()).await.unwrap();
        let secret_matter = secret_matter(&s).await;

        // After the backup, the original moves on: a note written, a matter purged for good.
        write_note(&s, &s.lead, "written after the backup").await;
        let deleted =
            s.h.call("DELETE", &format!("/api/v1/matters/{secret_matter}"), Some(&s.lead), None).await;
        assert_eq!(deleted.status, 204);
        s.h.clock.advance(Duration::days(31));
        assert_eq!(storage.purge_deleted(&blobs, firm, s.h.clock.now()).await.unwrap(), 1);
        let admin = s.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let lead = s.h.sign_in(LEAD, LEAD_PASSWORD).await;
        let original_before = answers(&s.h, &admin, &lead).await;

        // Refused, leaving nothing behind: a slug in use, an address that signs in already,
        // a shredded or unknown backup.
        let copy = |slug: &str, email: &str| NewCopy {
            slug: FirmSlug::parse(slug).unwrap(),
            admin_email: Email::parse(email).unwrap(),
            admin_name: Some("Inspector"),
        };
        let make_copy = async |id: uuid::Uuid, slug: &str, email: &str| {
            storage
                .restore_firm_as(&target, &blobs, (firm, id), copy(slug, email), &Unwatched, s.h.clock.now())
                .await
        };
        let taken = make_copy(backup.id, "firm", INSPECTOR).await.unwrap_err();
        assert!(matches!(taken, StoreError::SlugTaken(_)), "{taken:?}");
        let signs_in = make_copy(backup.id, "firm-copy", LEAD).await.unwrap_err();
        assert!(matches!(signs_in, StoreError::EmailTaken(_)), "{signs_in:?}");
        let unknown = make_copy(uuid::Uuid::now_v7(), "firm-copy", INSPECTOR).await.unwrap_err();
        assert!(matches!(unknown, StoreError::UnknownBackup(_)), "{unknown:?}");
        assert_eq!(storage.list_firms().await.unwrap().len(), 1, "no half-made copy is left");

        let restored = make_copy(backup.id, "firm-copy", INSPECTOR).await.unwrap();
        let made = restored.firm.id;
        assert_ne!(made, firm);
        assert_eq!(restored.firm.name.as_str(), "The Firm (copy)");
        assert_eq!((restored.documents_copied, restored.purges_replayed.found), (2, 1));
        assert_eq!(answers(&s.h, &admin, &lead).await, original_before, "the original is untouched");

        // The original's people cannot get in: their addresses still sign in to the
        // original, and their sessions (scoped by firm) do not open the copy.
        for token in [&admin, &lead] {
            let (_, secret) = token.split_once('.').unwrap();
            let moved = format!("{}.{secret}", made.simple());
            assert_eq!(s.h.call("GET", "/api/v1/matters", Some(&moved), None).await.status, 401);
        }
        assert!(s.h.sign_in(LEAD, LEAD_PASSWORD).await.starts_with(&firm.simple().to_string()));

        // Its administrator, invited, sees the firm as it was at the backup: its people,
        // its matters, and once a member (as an administrator of the original could make
        // themself) the content and the documents' bytes, minus what was purged since.
        let invitation = ringfence_crypto::token::scoped(&made.simple(), &restored.invitation);
        let accepted =
            s.h.call(
                "POST",
                "/api/v1/auth/accept-invite",
                None,
                Some(json!({ "token": invitation.as_str(), "password": LEAD_PASSWORD })),
            )
            .await;
        assert_eq!(accepted.status, 204, "{}", accepted.body);
        let inspector = s.h.sign_in(INSPECTOR, LEAD_PASSWORD).await;
        assert!(inspector.starts_with(&made.simple().to_string()));
        let users = s.h.call("GET", "/api/v1/users", Some(&inspector), None).await;
        let people = users.body.to_string();
        assert!(
            people.contains(LEAD) && people.contains(ADMIN_EMAIL) && people.contains(INSPECTOR),
            "{people}"
        );
        let matters = s.h.call("GET", "/api/v1/admin/matters", Some(&inspector), None).await;
        assert_eq!(matters.status, 200, "{}", matters.body);
        assert!(
            !matters.body.to_string().contains(&secret_matter),
            "purged since the backup: {}",
            matters.body
        );
        let me =
            users.body["items"].as_array().unwrap().iter().find(|u| u["email"] == INSPECTOR).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
        let joined =
            s.h.call(
                "PUT",
                &format!("/api/v1/matters/{}/members/{me}", s.matter),
                Some(&inspector),
                Some(json!({ "role": "viewer" })),
            )
            .await;
        assert!(joined.status < 300, "{}", joined.body);
        let notes =
            s.h.call("GET", &format!("/api/v1/matters/{}/notes", s.matter), Some(&inspector), None).await;
        assert_eq!(notes.status, 200, "{}", notes.body);
        assert!(notes.body.to_string().contains("first"), "{}", notes.body);
        assert!(!notes.body.to_string().contains("written after the backup"), "{}", notes.body);
        let original_bytes =
            s.h.call("GET", &format!("/api/v1/documents/{}/content", s.document), Some(&lead), None).await;
        let copied_bytes =
            s.h.call("GET", &format!("/api/v1/documents/{}/content", s.document), Some(&inspector), None)
                .await;
        assert_eq!(copied_bytes.status, 200, "{}", copied_bytes.body);
        assert_eq!(copied_bytes.body, original_bytes.body);

        // Its log goes on apart: checkpoints bound to the original's chain, signed by a
        // key of the copy's own.
        let checkpoint_of = |token: String| {
            let h = &s.h;
            async move { h.call("GET", "/api/v1/audit/checkpoint", Some(&token), None).await.body }
        };
        let (theirs, ours) = (checkpoint_of(admin.clone()).await, checkpoint_of(inspector.clone()).await);
        assert_eq!(
            (theirs["firm"].as_str(), ours["firm"].as_str()),
            (Some(&*firm.to_string()), Some(&*firm.to_string()))
        );
        assert_ne!(theirs["key_id"], ours["key_id"], "{theirs} {ours}");

        // On the copy's record, which verifies (its chain is the original's, continued).
        let log = s.h.call("GET", "/api/v1/audit?action=backup.restored", Some(&inspector), None).await;
        let entry = log.body["items"][0]["resource"]["id"].as_str().unwrap().to_owned();
        assert!(entry.contains(&backup.id.to_string()) && entry.contains("beside"), "{entry}");
        for id in [made, firm] {
            let store = storage.firm(id).await.unwrap();
            let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
            assert!(matches!(audit_log::verify(&mut tx).await.unwrap(), Verification::Intact { .. }), "{id}");
            tx.commit().await.unwrap();
        }

        // A copy is a firm of its own: backed up, and restored in place, like any other.
        let of_copy = storage.back_up_firm(&target, &blobs, made, s.h.clock.now()).await.unwrap();
        assert_eq!(
            storage.verify_backup(&target, Some(made), of_copy.id, s.h.clock.now()).await.unwrap().problem,
            None
        );
        storage.restore_firm(&target, &blobs, made, of_copy.id, AT_ONCE, s.h.clock.now()).await.unwrap();
        let inspector = s.h.sign_in(INSPECTOR, LEAD_PASSWORD).await;
        let again =
            s.h.call("GET", &format!("/api/v1/documents/{}/content", s.document), Some(&inspector), None)
                .await;
        assert_eq!(again.body, original_bytes.body);

        // Its key rotated, everything still opens in both.
        let rotated =
            storage.rotate_firm_key(made, s.h.clock.now(), &after_rotation(made, s.h.clock.now())).await;
        assert!(rotated.is_ok(), "{rotated:?}");
        for (token, id) in [(&inspector, made), (&lead, firm)] {
            storage.reload_keys(id).await.unwrap();
            let bytes =
                s.h.call("GET", &format!("/api/v1/documents/{}/content", s.document), Some(token), None)
                    .await;
            assert_eq!(bytes.body, original_bytes.body, "{id}");
        }

        // A copy that stopped halfway (its process ended) is made again in its place.
        control_execute(
            &s.h,
            "UPDATE {control}firm_restores SET finished_at = NULL WHERE firm_id = $1",
            made,
        )
        .await;
        let again = make_copy(backup.id, "firm-copy", INSPECTOR).await.unwrap();
        assert_ne!(again.firm.id, made);
        assert!(matches!(storage.firm(made).await.err(), Some(StoreError::UnknownFirmId)));
        let reader = storage.firm(again.firm.id).await.unwrap();
        assert_eq!(reader.sealed_as(), firm);

        // The copy holds the original's keys: the original is not shredded while it stands.
        let operator = |now| OperatorCtx {
            storage: &storage,
            principal: Principal::System(SystemTask::CommandLine),
            now,
        };
        let one_day = ringfence_core::firm::RetentionDays::parse(1).unwrap();
        for slug in ["firm", "firm-copy"] {
            let slug = FirmSlug::parse(slug).unwrap();
            termination::terminate(&operator(s.h.clock.now()), &s.h.state.mailer, &slug, one_day)
                .await
                .unwrap();
        }
        // Nor is a terminated firm copied.
        let late = make_copy(backup.id, "firm-late", "late@firm.example").await.unwrap_err();
        assert!(matches!(late, StoreError::AlreadyTerminated { .. }), "{late:?}");
        s.h.clock.advance(Duration::days(2));
        let (original, of_copy) = (FirmSlug::parse("firm").unwrap(), FirmSlug::parse("firm-copy").unwrap());
        let refused =
            termination::shred(&operator(s.h.clock.now()), &blobs, None, &original, None).await.unwrap_err();
        assert!(format!("{refused:?}").contains("copies_remain"), "{refused:?}");
        termination::shred(&operator(s.h.clock.now()), &blobs, Some(&target), &of_copy, None).await.unwrap();
        termination::shred(&operator(s.h.clock.now()), &blobs, Some(&target), &original, None).await.unwrap();
    }
);

/// Runs `sql` on the control store past the application, `$1` bound to `firm` (`{control}`
/// names the control store's schema on PostgreSQL).
async fn control_execute(h: &Harness, sql: &str, firm: ringfence_core::ids::FirmId) {
    use sqlx::Connection;
    match h.env.database_url() {
        None => {
            let path = h.env.data_dir().join("control.db");
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            let sql = sql.replace("{control}", "");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(firm.to_string()).execute(&mut conn).await.unwrap();
        }
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let sql = sql.replace("{control}", "control.");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(firm.to_string()).execute(&mut conn).await.unwrap();
        }
    }
}

/// Flips one byte in the middle of the object at `path` under a target's location.
async fn corrupt(location: &BlobLocation, ends_with: &str) -> String {
    let objects = stored_objects(location).await;
    let (path, mut bytes) = objects.into_iter().find(|(path, _)| path.ends_with(ends_with)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    ringfence_testkit::put_object(location, &path, bytes).await;
    path
}

both_backends!(
    a_damaged_moved_or_foreign_backup_is_refused_and_the_firm_left_as_it_was,
    |env: TestEnv| async move {
        let s = scene(env).await;
        let (location, _kept) = backup_location(s.h.env.backend);
        let target = target_of(&s.h, &location);
        let storage = s.h.state.storage.clone();
        let (firm, blobs, now) = (s.h.firm, s.h.state.blobs.clone(), s.h.clock.now());
        let first = storage.back_up_firm(&target, &blobs, firm, now).await.unwrap();
        let second = storage.back_up_firm(&target, &blobs, firm, now).await.unwrap();
        let before = answers(&s.h, &s.admin, &s.lead).await;

        // Unknown: a clear answer.
        let unknown = storage
            .restore_firm(&target, &blobs, firm, uuid::Uuid::now_v7(), AT_ONCE, now)
            .await
            .unwrap_err();
        assert!(matches!(unknown, StoreError::UnknownBackup(_)), "{unknown:?}");

        // One flipped bit in the rows: the verification says so, and a restore refuses
        // before it touches the firm.
        corrupt(&location, &format!("{}/store", first.id)).await;
        let verified = storage.verify_backup(&target, Some(firm), first.id, now).await.unwrap();
        assert!(verified.problem.is_some(), "{verified:?}");
        assert_eq!(storage.backup_record(first.id).await.unwrap().unwrap().state, BackupState::Failed);
        let refused = storage.restore_firm(&target, &blobs, firm, first.id, AT_ONCE, now).await.unwrap_err();
        assert!(
            matches!(refused, StoreError::BackupUnreadable(_) | StoreError::BlobIntegrity),
            "{refused:?}"
        );
        assert_eq!(answers(&s.h, &s.admin, &s.lead).await, before, "the firm is as it was, and open");

        // A document copy altered on the target: the verification names it.
        let copy = corrupt(&location, &format!("blobs/{}", blobs_of(&s.h).await[0])).await;
        let verified = storage.verify_backup(&target, Some(firm), second.id, now).await.unwrap();
        assert!(
            verified.problem.as_deref().unwrap_or_default().contains("document version"),
            "{verified:?} {copy}"
        );

        // A manifest put in another backup's place does not open there.
        let objects = stored_objects(&location).await;
        let manifest =
            objects.iter().find(|(p, _)| p.ends_with(&format!("{}/manifest", second.id))).unwrap().1.clone();
        let first_manifest =
            objects.iter().find(|(p, _)| p.ends_with(&format!("{}/manifest", first.id))).unwrap().0.clone();
        ringfence_testkit::put_object(&location, &first_manifest, manifest).await;
        let moved = storage.verify_backup(&target, Some(firm), first.id, now).await.unwrap();
        assert!(moved.problem.as_deref().unwrap_or_default().contains("master key"), "{moved:?}");

        // Another deployment (another master key) cannot open any of it.
        let other = TestEnv::new(s.h.env.backend).await.unwrap();
        let state = state(&other, false).await;
        let target = BackupTarget::open(&location, &other.blob_location(), other.data_dir()).unwrap();
        let foreign = state.storage.list_backups(&target, None).await.unwrap();
        assert!(
            foreign.len() >= 2 && foreign.iter().all(|b| b.problem.is_some() && b.slug.is_none()),
            "{foreign:?}"
        );
        let refused = state
            .storage
            .verify_backup(&target, Some(firm), second.id, now)
            .await
            .unwrap()
            .problem
            .unwrap_or_default();
        assert!(refused.contains("master key"), "{refused}");
    }
);

/// The firm's document versions (their blobs' ids).
async fn blobs_of(h: &Harness) -> Vec<String> {
    let mut conn = h.raw_firm().await;
    sqlx::query_scalar("SELECT id FROM document_versions ORDER BY id").fetch_all(&mut conn).await.unwrap()
}

fn plan(location: &BlobLocation, h: &Harness, keep: Generations) -> Arc<BackupPlan> {
    Arc::new(BackupPlan {
        target: target_of(h, location),
        every: Duration::days(1),
        at: time::Time::from_hms(2, 0, 0).unwrap(),
        keep,
        operator: Some(ringfence_core::user::Email::parse("operator@hosting.example").unwrap()),
    })
}

fn worker(h: &Harness, plan: &Arc<BackupPlan>) -> Worker {
    Worker::new(
        h.state.storage.clone(),
        h.state.blobs.clone(),
        h.state.mailer.clone(),
        h.state.clock.clone(),
        Vec::new(),
    )
    .with_backups(plan.clone())
}

both_backends!(
    the_schedule_backs_every_firm_up_proves_each_backup_rotates_and_tells_of_a_failure,
    |env: TestEnv| async move {
        let mut s = scene(env).await;
        let (location, _kept) = backup_location(s.h.env.backend);
        let plan = plan(&location, &s.h, Generations { daily: 2, weekly: 1, monthly: 1 });
        let worker = worker(&s.h, &plan);
        worker.ensure_schedules().await.unwrap();
        // Due at the next 02:00 UTC, not before.
        let first = plan.first_run(s.h.clock.now());
        assert!(first > s.h.clock.now() && first - s.h.clock.now() <= Duration::days(1));
        assert!(!worker.run_due().await.unwrap().iter().any(|r| r.kind.starts_with("backup.")));

        let mut made = Vec::new();
        for day in 0..4 {
            let until = first + Duration::days(day) - s.h.clock.now();
            s.h.clock.advance(until);
            let ran = worker.run_due().await.unwrap();
            let backups: Vec<_> = ran.iter().filter(|r| r.kind.starts_with("backup.")).collect();
            assert_eq!(
                backups.len(),
                3,
                "the round, and a verification of the firm's and the control store's: {ran:?}"
            );
            assert!(backups.iter().all(|r| r.outcome == Outcome::Done), "{ran:?}");
            let records = s.h.state.storage.backup_records(Some(s.h.firm), 10).await.unwrap();
            assert_eq!(records[0].state, BackupState::Verified, "{records:?}");
            made.push(records[0].id);
        }
        // Two days kept (the newest two, the week's and the month's are among them); the
        // rest is gone from the target, and shown as rotated.
        let on_target: Vec<_> =
            s.h.state
                .storage
                .list_backups(&plan.target, Some(Some(s.h.firm)))
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.id)
                .collect();
        assert_eq!(on_target, vec![made[3], made[2]]);
        for gone in &made[..2] {
            assert_eq!(
                s.h.state.storage.backup_record(*gone).await.unwrap().unwrap().state,
                BackupState::Rotated
            );
        }

        // The administrators see them; nobody else does, and no backup is offered for download.
        s.admin = s.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        s.lead = s.h.sign_in(LEAD, LEAD_PASSWORD).await;
        let page = s.h.call("GET", "/admin/backups", Some(&s.admin), None).await;
        assert_eq!(page.status, 200);
        let html = page.body.as_str().unwrap();
        assert_eq!(html.matches("Verified by a restore").count(), 2, "{html}");
        assert!(html.contains("/admin/exports") && !html.contains("/download"), "{html}");
        assert_eq!(s.h.call("GET", "/admin/backups", Some(&s.lead), None).await.status, 403);
        let log = s.h.call("GET", "/api/v1/audit?action=backups.viewed", Some(&s.admin), None).await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 1);

        // A backup that fails its verification is recorded, shown and mailed.
        let mailed = s.h.outbox().len();
        s.h.clock.advance(Duration::minutes(10));
        let due = s.h.clock.now();
        let record =
            s.h.state.storage.back_up_firm(&plan.target, &s.h.state.blobs, s.h.firm, due).await.unwrap();
        corrupt(&location, &format!("{}/store", record.id)).await;
        s.h.state
            .storage
            .enqueue_job(
                &ringfence_server::jobs::Job::VerifyBackup { firm: Some(s.h.firm), backup: record.id }
                    .once_at(due),
                due,
            )
            .await
            .unwrap();
        let ran = worker.run_due().await.unwrap();
        assert!(ran.iter().any(|r| r.kind == "backup.verify"), "{ran:?}");
        assert_eq!(
            s.h.state.storage.backup_record(record.id).await.unwrap().unwrap().state,
            BackupState::Failed
        );
        let mail: Vec<String> = s.h.outbox().into_iter().skip(mailed).collect();
        for to in [ADMIN_EMAIL, "operator@hosting.example"] {
            assert!(
                mail.iter().any(|m| m.lines().any(|l| l.starts_with("To: ") && l.contains(to))
                    && m.contains("failed its verification")),
                "{to}: {mail:?}"
            );
        }
        assert!(!mail.iter().any(|m| m.contains(SECRET_TITLE) || m.contains(SECRET_CLIENT)));
        let html =
            s.h.call("GET", "/admin/backups", Some(&s.admin), None).await.body.as_str().unwrap().to_owned();
        assert!(html.contains("FAILED"), "{html}");

        // A changed schedule re-times the queued one; the same schedule leaves it be.
        let queued = async |h: &Harness| {
            let jobs = h.state.storage.list_jobs(h.clock.now()).await.unwrap();
            let job = jobs.into_iter().find(|j| j.kind == "backup.create").unwrap();
            (job.run_at, job.every)
        };
        let before = queued(&s.h).await;
        worker.ensure_schedules().await.unwrap();
        assert_eq!(queued(&s.h).await, before);
        let mut retimed = (*plan).clone();
        (retimed.at, retimed.every) = (time::Time::from_hms(14, 30, 0).unwrap(), Duration::hours(12));
        let retimed = Arc::new(retimed);
        self::worker(&s.h, &retimed).ensure_schedules().await.unwrap();
        assert_eq!(queued(&s.h).await, (retimed.first_run(s.h.clock.now()), Some(Duration::hours(12))));
        s.h.env.expect_jobs_left("backup.create");
    }
);

both_backends!(a_shredded_firms_backups_are_shredded_with_it, |env: TestEnv| async move {
    let s = scene(env).await;
    let (location, _kept) = backup_location(s.h.env.backend);
    let plan = plan(&location, &s.h, Generations::default());
    let (storage, firm) = (s.h.state.storage.clone(), s.h.firm);
    storage.back_up_firm(&plan.target, &s.h.state.blobs, firm, s.h.clock.now()).await.unwrap();
    storage.back_up_control(&plan.target, s.h.clock.now()).await.unwrap();
    let firm_objects =
        |objects: &[(String, Vec<u8>)]| objects.iter().filter(|(p, _)| p.contains(&firm.to_string())).count();
    assert!(firm_objects(&stored_objects(&location).await) >= 4);

    let operator = OperatorCtx {
        storage: &storage,
        principal: Principal::System(SystemTask::CommandLine),
        now: s.h.clock.now(),
    };
    termination::terminate(
        &operator,
        &s.h.state.mailer,
        &ringfence_core::firm::FirmSlug::parse("firm").unwrap(),
        ringfence_core::firm::RetentionDays::parse(1).unwrap(),
    )
    .await
    .unwrap();
    s.h.clock.advance(Duration::days(2));
    let ran = worker(&s.h, &plan).run_due().await.unwrap();
    assert!(ran.iter().any(|r| r.kind == "firm.shred" && r.outcome == Outcome::Done), "{ran:?}");
    let left = stored_objects(&location).await;
    assert_eq!(firm_objects(&left), 0, "{:?}", left.iter().map(|o| &o.0).collect::<Vec<_>>());
    assert!(storage.backup_records(Some(firm), 10).await.unwrap().is_empty());
    assert_eq!(left.len(), 2, "the control store's backup stays");
});

both_backends!(
    a_firm_shredded_without_the_target_at_hand_has_its_backups_deleted_by_the_next_round_and_is_never_restored,
    |env: TestEnv| async move {
        let s = scene(env).await;
        let (location, _kept) = backup_location(s.h.env.backend);
        let plan = plan(&location, &s.h, Generations::default());
        let (storage, firm) = (s.h.state.storage.clone(), s.h.firm);
        let backup = storage.back_up_firm(&plan.target, &s.h.state.blobs, firm, s.h.clock.now()).await.unwrap();
        let slug = ringfence_core::firm::FirmSlug::parse("firm").unwrap();
        let operator = |now| OperatorCtx { storage: &storage, principal: Principal::System(SystemTask::CommandLine), now };
        termination::terminate(
            &operator(s.h.clock.now()),
            &s.h.state.mailer,
            &slug,
            ringfence_core::firm::RetentionDays::parse(1).unwrap(),
        )
        .await
        .unwrap();
        s.h.clock.advance(Duration::days(2));
        // Shredded at the command line with no backup target given.
        termination::shred(&operator(s.h.clock.now()), &s.h.state.blobs, None, &slug, None).await.unwrap();
        let on_target = |objects: Vec<(String, Vec<u8>)>| objects.iter().filter(|(p, _)| p.contains(&firm.to_string())).count();
        assert!(on_target(stored_objects(&location).await) >= 3, "its backups are still there");
        let refused = storage.restore_firm(&plan.target, &s.h.state.blobs, firm, backup.id, AT_ONCE, s.h.clock.now()).await.unwrap_err();
        assert!(matches!(refused, StoreError::Shredded { .. }), "{refused:?}");

        // The next backup round deletes them.
        let worker = worker(&s.h, &plan);
        worker.ensure_schedules().await.unwrap();
        s.h.clock.advance(Duration::days(1));
        let ran = worker.run_due().await.unwrap();
        assert!(ran.iter().any(|r| r.kind == "backup.create" && r.outcome == Outcome::Done), "{ran:?}");
        assert_eq!(on_target(stored_objects(&location).await), 0);
        s.h.env.expect_jobs_left("backup.create");
    }
);
