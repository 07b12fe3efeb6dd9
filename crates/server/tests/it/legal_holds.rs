//! Legal holds: placed and lifted by administrators with a reason, on a matter or on a
//! client (and so on all its matters); while one stands nothing it keeps can be deleted or
//! disposed of at the end of its retention. Shown on the matter; every change audited.

use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::pages::{browser_sign_in, encode, hidden, page};
use super::retention::run_schedules;
use super::sign_in_harness::*;

const LEAD: &str = "lead@firm.example";
const PASSWORD: &str = "a long shared test passphrase";

struct Firm {
    h: Harness,
    admin: String,
    lead: String,
}

async fn firm(env: TestEnv) -> Firm {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    Firm { h, admin, lead }
}

impl Firm {
    /// A client taken in by the lead: its id.
    async fn client(&self, name: &str) -> String {
        let body = json!({ "name": name, "kind": "organisation" });
        let created = self.h.call("POST", "/api/v1/clients", Some(&self.lead), Some(body)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    }

    /// A matter for the client led by the lead, with a note: (matter id, note id).
    async fn matter(&self, client: &str) -> (String, String) {
        let body = json!({ "client_id": client, "title": "Acme v Widget" });
        let opened = self.h.call("POST", "/api/v1/matters", Some(&self.lead), Some(body)).await;
        assert_eq!(opened.status, 201, "{}", opened.body);
        let matter = opened.body["id"].as_str().unwrap().to_owned();
        let note = json!({ "kind": "strategy", "body": "settle below 2m", "privileged": true });
        let note = self
            .h
            .call("POST", &format!("/api/v1/matters/{matter}/notes"), Some(&self.lead), Some(note))
            .await;
        assert_eq!(note.status, 201, "{}", note.body);
        (matter, note.body["id"].as_str().unwrap().to_owned())
    }

    async fn hold(&self, token: &str, path: &str, reason: &str) -> Reply {
        self.h.call("POST", path, Some(token), Some(json!({ "reason": reason }))).await
    }

    async fn holds(&self) -> Vec<Value> {
        let listed = self.h.call("GET", "/api/v1/firm/legal-holds", Some(&self.admin), None).await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.body["items"].as_array().unwrap().clone()
    }

    /// The audit entries of `action`, newest first.
    async fn entries(&self, action: &str) -> Vec<Value> {
        let listed =
            self.h.call("GET", &format!("/api/v1/audit?action={action}"), Some(&self.admin), None).await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.body["items"].as_array().unwrap().clone()
    }

    async fn held_since(&self, matter: &str) -> Value {
        let read = self.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&self.lead), None).await;
        assert_eq!(read.status, 200, "{}", read.body);
        read.body["held_since"].clone()
    }
}

both_backends!(
    a_matter_on_hold_keeps_its_notes_and_documents_until_an_administrator_lifts_it,
    |env: TestEnv| async move {
        let f = firm(env).await;
        let client = f.client("Acme").await;
        let (matter, note) = f.matter(&client).await;
        let document =
            f.h.upload(&format!("/api/v1/matters/{matter}/documents"), &f.lead, "deal.txt", b"the deal", &[])
                .await;
        assert_eq!(document.status, 201, "{}", document.body);
        let document = document.body["id"].as_str().unwrap().to_owned();
        let place = format!("/api/v1/matters/{matter}/legal-hold");
        let lift = format!("{place}/lift");

        // Only an administrator holds a matter: its own lead is told there is no such thing.
        assert_eq!(f.hold(&f.lead, &place, "I would rather keep it").await.status, 404);
        // A reason is required, printable and bounded; the body is exactly { reason }.
        for hostile in [
            json!({ "reason": "" }),
            json!({ "reason": "   " }),
            json!({ "reason": "nul\u{0}inside" }),
            json!({ "reason": "escape \u{1b}[2J" }),
            json!({ "reason": "x".repeat(2001) }),
            json!({ "reason": 7 }),
            json!({ "reason": "fine", "until": "forever" }),
            json!({}),
        ] {
            let refused = f.h.call("POST", &place, Some(&f.admin), Some(hostile.clone())).await;
            assert_eq!(refused.status, 400, "{hostile}: {}", refused.body);
        }
        assert_eq!(f.held_since(&matter).await, Value::Null);

        let placed = f.hold(&f.admin, &place, "Litigation expected: Widget's letter of 3 March").await;
        assert_eq!(placed.status, 201, "{}", placed.body);
        assert_eq!(placed.body["on"], "matter");
        assert_eq!(placed.body["matter_id"], matter.as_str());
        assert_eq!(placed.body["client_name"], "Acme");
        assert_eq!(placed.body["reason"], "Litigation expected: Widget's letter of 3 March");
        assert_eq!(placed.body["lifted_at"], Value::Null);
        let again = f.hold(&f.admin, &place, "twice").await;
        assert_eq!((again.status, again.code()), (409, "already_held"), "{}", again.body);
        // Its readers see it is held (not why).
        assert_eq!(f.held_since(&matter).await, placed.body["placed_at"]);
        let listed = f.h.call("GET", "/api/v1/matters", Some(&f.lead), None).await;
        assert_eq!(listed.body["items"][0]["held_since"], placed.body["placed_at"]);

        // Nothing on it can be deleted, by anyone.
        for path in [
            format!("/api/v1/matters/{matter}"),
            format!("/api/v1/notes/{note}"),
            format!("/api/v1/documents/{document}"),
        ] {
            let refused = f.h.call("DELETE", &path, Some(&f.lead), None).await;
            assert_eq!((refused.status, refused.code()), (409, "legal_hold"), "{path}: {}", refused.body);
        }
        assert_eq!(f.h.call("GET", &format!("/api/v1/notes/{note}"), Some(&f.lead), None).await.status, 200);

        // The administrators' list carries the reason; nobody else reads it.
        let holds = f.holds().await;
        assert_eq!(holds.len(), 1);
        assert_eq!(holds[0]["id"], placed.body["id"]);
        assert_eq!(f.h.call("GET", "/api/v1/firm/legal-holds", Some(&f.lead), None).await.status, 403);

        // Lifting needs a reason too, and then deletion goes ahead.
        assert_eq!(f.hold(&f.lead, &lift, "done").await.status, 404);
        assert_eq!(f.hold(&f.admin, &lift, "").await.status, 400);
        let lifted = f.hold(&f.admin, &lift, "Settled; the court closed the case").await;
        assert_eq!(lifted.status, 200, "{}", lifted.body);
        assert_eq!(lifted.body["lift_reason"], "Settled; the court closed the case");
        assert!(lifted.body["lifted_at"].is_string());
        let again = f.hold(&f.admin, &lift, "again").await;
        assert_eq!((again.status, again.code()), (409, "not_held"), "{}", again.body);
        assert_eq!(f.held_since(&matter).await, Value::Null);
        assert_eq!(
            f.h.call("DELETE", &format!("/api/v1/notes/{note}"), Some(&f.lead), None).await.status,
            204
        );
        assert_eq!(
            f.h.call("DELETE", &format!("/api/v1/matters/{matter}"), Some(&f.lead), None).await.status,
            204
        );

        // The lifted hold stays on the list, and both changes are in the log, on the matter.
        let holds = f.holds().await;
        assert_eq!(holds[0]["lift_reason"], "Settled; the court closed the case");
        for action in ["matter.legal_hold.placed", "matter.legal_hold.lifted"] {
            let entries = f.entries(action).await;
            assert_eq!(entries.len(), 1, "{action}");
            assert_eq!(entries[0]["matter"], matter.as_str(), "{}", entries[0]);
            assert_eq!(entries[0]["resource"]["id"], placed.body["id"], "{}", entries[0]);
        }
        assert_eq!(f.entries("firm.legal_holds.viewed").await.len(), 2);
        // The reasons are sealed: neither is in the database as written.
        let mut conn = f.h.raw_firm().await;
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT reason_sealed, lift_reason_sealed FROM legal_holds")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(rows.len(), 1);
        for sealed in [Some(&rows[0].0), rows[0].1.as_ref()] {
            let sealed = String::from_utf8_lossy(sealed.unwrap());
            assert!(!sealed.contains("Widget") && !sealed.contains("Settled"), "{sealed}");
        }
    }
);

both_backends!(a_hold_on_a_client_keeps_every_matter_it_has_or_will_have, |env: TestEnv| async move {
    let f = firm(env).await;
    let client = f.client("Acme").await;
    let (first, _) = f.matter(&client).await;
    let other = f.client("Unrelated").await;
    let (free, _) = f.matter(&other).await;
    let place = format!("/api/v1/clients/{client}/legal-hold");
    // Administrators only, by their firm role.
    assert_eq!(f.hold(&f.lead, &place, "mine").await.status, 403);
    assert_eq!(
        f.hold(&f.admin, &format!("/api/v1/clients/{}/legal-hold", uuid::Uuid::new_v4()), "x").await.status,
        404
    );
    let placed = f.hold(&f.admin, &place, "Regulator's preservation notice").await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!((placed.body["on"].as_str(), &placed.body["matter_id"]), (Some("client"), &Value::Null));
    let again = f.hold(&f.admin, &place, "twice").await;
    assert_eq!((again.status, again.code()), (409, "already_held"));

    let (later, _) = f.matter(&client).await;
    for matter in [&first, &later] {
        assert!(f.held_since(matter).await.is_string(), "{matter} is held through its client");
        let refused = f.h.call("DELETE", &format!("/api/v1/matters/{matter}"), Some(&f.lead), None).await;
        assert_eq!((refused.status, refused.code()), (409, "legal_hold"), "{}", refused.body);
    }
    assert_eq!(f.held_since(&free).await, Value::Null);
    // A matter's own hold cannot be lifted where none is: the client's is lifted there.
    let lift_matter = f.hold(&f.admin, &format!("/api/v1/matters/{first}/legal-hold/lift"), "no").await;
    assert_eq!((lift_matter.status, lift_matter.code()), (409, "not_held"));

    // An administrator walled off the client neither sees nor changes its hold.
    let walled = f.h.signed_in_user(&f.admin, "second@firm.example", &["admin"]).await;
    let second_id = f.h.call("GET", "/api/v1/me", Some(&walled), None).await.body["user"]["id"].clone();
    let wall =
        f.h.call(
            "PUT",
            &format!("/api/v1/clients/{client}/walls/{}", second_id.as_str().unwrap()),
            Some(&f.admin),
            None,
        )
        .await;
    assert_eq!(wall.status, 204, "{}", wall.body);
    assert_eq!(f.hold(&walled, &format!("{place}/lift"), "let it go").await.status, 404);
    let seen = f.h.call("GET", "/api/v1/firm/legal-holds", Some(&walled), None).await;
    assert_eq!(seen.body["items"], json!([]), "{}", seen.body);

    let lifted = f.hold(&f.admin, &format!("{place}/lift"), "Notice withdrawn").await;
    assert_eq!(lifted.status, 200, "{}", lifted.body);
    assert_eq!(f.held_since(&first).await, Value::Null);
    assert_eq!(
        f.h.call("DELETE", &format!("/api/v1/matters/{first}"), Some(&f.lead), None).await.status,
        204
    );
    assert_eq!(f.entries("client.legal_hold.placed").await.len(), 1);
    assert_eq!(f.entries("client.legal_hold.lifted").await.len(), 1);
});

both_backends!(retention_neither_notices_nor_disposes_of_a_held_matter, |env: TestEnv| async move {
    let f = firm(env).await;
    let client = f.client("Acme").await;
    let (matter, _) = f.matter(&client).await;
    let closed = f.h.call("POST", &format!("/api/v1/matters/{matter}/close"), Some(&f.lead), None).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let policy = json!({ "window_days": 90, "auto_delete": true, "notice_days": 30 });
    let set = f.h.call("PUT", "/api/v1/firm/retention-policy", Some(&f.admin), Some(policy)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let placed = f.hold(&f.admin, &format!("/api/v1/matters/{matter}/legal-hold"), "Appeal pending").await;
    assert_eq!(placed.status, 201, "{}", placed.body);

    f.h.clock.advance(Duration::days(200));
    run_schedules(&f.h).await;
    let (admin, lead) = (f.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await, f.h.sign_in(LEAD, PASSWORD).await);
    assert_eq!(f.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 200);
    assert!(f.h.outbox().iter().all(|mail| !mail.contains("retention")), "no notice for a held matter");
    let due = f.h.call("GET", "/api/v1/firm/disposals", Some(&admin), None).await;
    assert_eq!(due.body["items"], json!([]), "{}", due.body);
    let refused = f.h.call("POST", &format!("/api/v1/matters/{matter}/dispose"), Some(&admin), None).await;
    assert_eq!((refused.status, refused.code()), (409, "legal_hold"), "{}", refused.body);

    // Lifted, the matter is reviewed and noticed like any other.
    let lift = json!({ "reason": "Appeal dismissed" });
    let lifted =
        f.h.call("POST", &format!("/api/v1/matters/{matter}/legal-hold/lift"), Some(&admin), Some(lift))
            .await;
    assert_eq!(lifted.status, 200, "{}", lifted.body);
    let due = f.h.call("GET", "/api/v1/firm/disposals", Some(&admin), None).await;
    assert_eq!(due.body["items"][0]["matter_id"], matter.as_str(), "{}", due.body);
    f.h.clock.advance(Duration::days(1));
    run_schedules(&f.h).await;
    assert!(f.h.latest_mail(LEAD).contains("retention"), "the lead is told now");
});

both_backends!(administrators_place_and_lift_holds_through_the_pages, |env: TestEnv| async move {
    let f = firm(env).await;
    let client = f.client("Acme").await;
    let (matter, _) = f.matter(&client).await;
    let admin = browser_sign_in(&f.h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let entry = page(&f.h, "GET", &format!("/admin/matters/{matter}"), Some(&admin), None).await;
    assert_eq!(entry.status, 200);
    assert!(entry.html.contains("Not on legal hold."), "{}", entry.html);
    let csrf = hidden(&entry.html, "_csrf");
    // A reason the use case refuses gets the styled page saying why.
    let blank = encode(&[("_csrf", &csrf), ("reason", " ")]);
    let refused =
        page(&f.h, "POST", &format!("/matters/{matter}/legal-hold"), Some(&admin), Some(blank)).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("Reason: "), "{}", refused.html);
    let form = encode(&[("_csrf", &csrf), ("reason", "Subpoena received")]);
    let placed = page(&f.h, "POST", &format!("/matters/{matter}/legal-hold"), Some(&admin), Some(form)).await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    let entry = page(&f.h, "GET", &format!("/admin/matters/{matter}"), Some(&admin), None).await;
    assert!(entry.html.contains("On legal hold since"), "{}", entry.html);

    // The lead's matter page shows the hold, not its reason.
    let lead = browser_sign_in(&f.h, LEAD, PASSWORD).await;
    let shown = page(&f.h, "GET", &format!("/matters/{matter}"), Some(&lead), None).await;
    assert!(shown.html.contains("on legal hold"), "{}", shown.html);
    assert!(!shown.html.contains("Subpoena"), "{}", shown.html);
    assert_eq!(page(&f.h, "GET", "/admin/legal-holds", Some(&lead), None).await.status, 403);

    // The list page holds a client and lifts both holds.
    let list = page(&f.h, "GET", "/admin/legal-holds", Some(&admin), None).await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains("Subpoena received"), "{}", list.html);
    let form =
        encode(&[("_csrf", &csrf), ("client_id", &client), ("reason", "Whole relationship under review")]);
    let held = page(&f.h, "POST", "/admin/legal-holds/clients", Some(&admin), Some(form)).await;
    assert_eq!(held.status, 303, "{}", held.html);
    let bad = encode(&[("_csrf", &csrf), ("client_id", "not-a-client"), ("reason", "x")]);
    let bad = page(&f.h, "POST", "/admin/legal-holds/clients", Some(&admin), Some(bad)).await;
    assert_eq!(bad.status, 400, "{}", bad.html);
    for action in
        [format!("/matters/{matter}/legal-hold/lift"), format!("/admin/legal-holds/clients/{client}/lift")]
    {
        // Asked first: the reason goes along with the confirmation.
        let form = encode(&[("_csrf", &csrf), ("reason", "Released")]);
        let asked = page(&f.h, "POST", &action, Some(&admin), Some(form)).await;
        assert!(asked.html.contains("Lift this legal hold?"), "{action}: {}", asked.html);
        assert_eq!(hidden(&asked.html, "reason"), "Released");
        let form = encode(&[("_csrf", &csrf), ("reason", "Released"), ("confirmed", "yes")]);
        let lifted = page(&f.h, "POST", &action, Some(&admin), Some(form)).await;
        assert_eq!(lifted.status, 303, "{action}: {}", lifted.html);
    }
    assert_eq!(f.held_since(&matter).await, Value::Null);
    let list = page(&f.h, "GET", "/admin/legal-holds", Some(&admin), None).await;
    assert_eq!(list.html.matches("Released").count(), 2, "{}", list.html);
});

/// On PostgreSQL a deletion's hold check and a hold being placed run side by side: the
/// check locks the matter and its client until the deletion commits, so the hold waits for
/// it (and a check after the hold sees it). SQLite's one writer runs them one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_placed_while_a_deletion_checks_waits_for_it_on_postgres() {
    use ringfence_core::clock::Clock;
    use ringfence_core::ids::{SessionId, UserId};
    use ringfence_core::principal::{FirmUser, Principal};
    use ringfence_core::user::{Email, FirmRole};
    use ringfence_store::firm::access::{self, Hold};
    use ringfence_store::firm::legal_holds;
    let Some(env) = TestEnv::new(ringfence_testkit::Backend::Postgres).await else { return };
    let f = firm(env).await;
    let client = f.client("Acme").await;
    let (matter, _) = f.matter(&client).await;
    let matter: uuid::Uuid = matter.parse().unwrap();
    let principal = |token: &str, email: &str, role: FirmRole| {
        let h = &f.h;
        let token = token.to_owned();
        let email = email.to_owned();
        async move {
            let me = h.call("GET", "/api/v1/me", Some(&token), None).await;
            Principal::FirmUser(FirmUser {
                firm: h.firm,
                user: me.body["user"]["id"].as_str().unwrap().parse::<UserId>().unwrap(),
                email: Email::parse(&email).unwrap(),
                roles: [role].into_iter().collect(),
                session: SessionId::random(),
            })
        }
    };
    let lead = principal(&f.lead, LEAD, FirmRole::Attorney).await;
    let admin = principal(&f.admin, ADMIN_EMAIL, FirmRole::Admin).await;
    let store = f.h.state.storage.firm(f.h.firm).await.unwrap();

    let mut deleting = store.begin(&lead).await.unwrap();
    assert!(!legal_holds::holds_matter(&mut deleting, matter).await.unwrap());
    let (placer, now) = (store.clone(), f.h.clock.now());
    let placing = tokio::spawn(async move {
        let user = admin.firm_user().unwrap().clone();
        let mut tx = placer.begin(&admin).await.unwrap();
        let proof = access::check::<Hold>(&mut tx, user.user, &user.roles, matter).await.unwrap().unwrap();
        let placed = legal_holds::place(&mut tx, legal_holds::On::Matter(&proof), "raced", user.user, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        placed
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!placing.is_finished(), "the hold waits for the deletion that checked for holds");
    deleting.commit().await.unwrap();
    assert!(placing.await.unwrap().is_some(), "then it is placed");
    let mut after = store.begin(&lead).await.unwrap();
    assert!(legal_holds::holds_matter(&mut after, matter).await.unwrap(), "and seen by the next check");
    after.commit().await.unwrap();
}
