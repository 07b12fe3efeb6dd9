//! Breach detection: decoys planted by administrators and audit officers look like the
//! firm's own data, show in nobody's own lists, and raise a mailed alert and an incident
//! when anyone touches them, whatever way; ordinary work raises none.

use ringfence_core::clock::Clock;
use ringfence_core::principal::Principal;
use ringfence_server::jobs::Worker;
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::audit::Verification;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use sqlx::Row;
use time::Duration;

use super::pages::{browser_sign_in, encode, hidden, page};
use super::sign_in_harness::*;

const LEAD: &str = "lead@firm.example";
const AUDITOR: &str = "auditor@firm.example";
const DECOY: &str = "p.naude@firm.example";
const PASSWORD: &str = "a long shared test passphrase";

struct Firm {
    h: Harness,
    admin: String,
    lead: String,
    auditor: String,
}

/// A planted set: the decoy user's id, the decoy matter's id and its client's, the
/// documents on it, and the decoy token.
struct Planted {
    user: String,
    matter: String,
    client: String,
    documents: Vec<String>,
    credential: String,
}

async fn firm(env: TestEnv) -> Firm {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    h.add_user(&admin, AUDITOR, &["auditor"], PASSWORD).await;
    let auditor = h.sign_in(AUDITOR, PASSWORD).await;
    // The watcher runs on its schedule from the start, as on a server.
    let state = &h.state;
    Worker::new(
        state.storage.clone(),
        state.blobs.clone(),
        state.mailer.clone(),
        state.clock.clone(),
        Vec::new(),
    )
    .ensure_schedules()
    .await
    .unwrap();
    Firm { h, admin, lead, auditor }
}

impl Firm {
    async fn plant(&self, by: &str) -> Planted {
        let h = &self.h;
        let user = json!({ "name": "Pieter Naude", "email": DECOY, "label": "in the staff list" });
        let user = h.call("POST", "/api/v1/security/decoys/users", Some(by), Some(user)).await;
        assert_eq!(user.status, 201, "{}", user.body);
        assert_eq!(user.body["kind"], "user");
        let user_id = user.body["targets"][0].as_str().unwrap().to_owned();
        let matter = json!({ "lead_id": user_id, "label": "the board dispute" });
        let matter = h.call("POST", "/api/v1/security/decoys/matters", Some(by), Some(matter)).await;
        assert_eq!(matter.status, 201, "{}", matter.body);
        let targets = matter.body["targets"].as_array().unwrap();
        let (matter_id, client_id) =
            (targets[0].as_str().unwrap().to_owned(), targets[1].as_str().unwrap().to_owned());
        let summary = matter.body["summary"].as_str().unwrap();
        assert!(
            summary.contains(" notes, ") && summary.contains(" document") && summary.contains("Pieter Naude"),
            "{summary}"
        );
        let token = json!({ "label": "in deploy.sh on the file server" });
        let token = h.call("POST", "/api/v1/security/decoys/credentials", Some(by), Some(token)).await;
        assert_eq!(token.status, 201, "{}", token.body);
        let credential = token.body["credential"].as_str().unwrap().to_owned();
        let mut raw = h.raw_firm().await;
        let documents = sqlx::query("SELECT id FROM documents WHERE matter_id = $1")
            .bind(&matter_id)
            .fetch_all(&mut raw)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>("id"))
            .collect::<Vec<_>>();
        assert!((1..=2).contains(&documents.len()), "{documents:?}");
        Planted { user: user_id, matter: matter_id, client: client_id, documents, credential }
    }

    async fn incidents(&self) -> Vec<Value> {
        let listed = self.h.call("GET", "/api/v1/security/incidents", Some(&self.auditor), None).await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.body["items"].as_array().unwrap().clone()
    }

    async fn incident(&self, id: &str) -> Value {
        let read =
            self.h.call("GET", &format!("/api/v1/security/incidents/{id}"), Some(&self.admin), None).await;
        assert_eq!(read.status, 200, "{}", read.body);
        read.body
    }

    /// Runs the watcher as a server's worker would, a few seconds on.
    async fn watch(&self) {
        self.h.clock.advance(Duration::seconds(11));
        let ran = super::run_due_jobs(&self.h.state).await;
        assert!(
            ran.iter().all(|ran| ran.outcome == ringfence_server::jobs::Outcome::Done),
            "every job ran: {ran:?}"
        );
    }

    fn alert_mails(&self, to: &str) -> usize {
        self.h
            .outbox()
            .iter()
            .filter(|m| m.lines().any(|l| l.starts_with("To: ") && l.contains(to)))
            .filter(|m| m.contains("Ringfence security alert"))
            .count()
    }

    /// The newest incident's alerts, having checked it is the `count`th.
    async fn newest(&self, count: usize) -> Value {
        let incidents = self.incidents().await;
        assert_eq!(incidents.len(), count, "{incidents:#?}");
        self.incident(incidents[0]["id"].as_str().unwrap()).await
    }
}

both_backends!(every_decoy_trips_on_each_way_of_touching_it_and_ordinary_work_on_none, |env| async move {
    let f = firm(env).await;
    let h = &f.h;
    let planted = f.plant(&f.auditor).await;
    f.watch().await;
    assert!(f.incidents().await.is_empty(), "planting trips nothing");

    // Ordinary work: the lead's own matter, lists, search; the admin's directories.
    let own = h
        .open_matter(
            &f.lead,
            json!({ "name": "Real Client", "kind": "organisation" }),
            json!({ "title": "Real dispute" }),
        )
        .await;
    let note =
        json!({ "kind": "strategy", "body": "settlement below the board's figure", "privileged": true });
    let noted = h.call("POST", &format!("/api/v1/matters/{own}/notes"), Some(&f.lead), Some(note)).await;
    assert_eq!(noted.status, 201, "{}", noted.body);
    let matters = h.call("GET", "/api/v1/matters", Some(&f.lead), None).await;
    assert_eq!(matters.body["items"].as_array().unwrap().len(), 1, "{}", matters.body);
    let clients = h.call("GET", "/api/v1/clients", Some(&f.lead), None).await;
    let names: Vec<&str> =
        clients.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Real Client"], "a decoy's client is in no one's own list");
    for words in ["settlement", "privileged", "opinion"] {
        let found = h.call("GET", &format!("/api/v1/search?q={words}"), Some(&f.lead), None).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(!found.body.to_string().contains(&planted.matter), "{}", found.body);
    }
    // Administrators see the decoys in their directories, like any other record.
    let users = h.call("GET", "/api/v1/users?limit=500", Some(&f.admin), None).await;
    let people = users.body["items"].as_array().unwrap();
    let decoy = people.iter().find(|u| u["email"] == DECOY).expect("the decoy user is listed");
    let lead = people.iter().find(|u| u["email"] == LEAD).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(decoy), keys(lead), "nothing in an answer marks a decoy");
    assert_eq!(decoy["status"], "active");
    let clients = h.call("GET", "/api/v1/clients", Some(&f.admin), None).await;
    assert!(clients.body.to_string().contains(&planted.client), "{}", clients.body);
    f.watch().await;
    assert!(f.incidents().await.is_empty(), "ordinary work trips nothing: {:#?}", f.incidents().await);
    assert_eq!(f.alert_mails(ADMIN_EMAIL), 0);

    // A user probing the decoy matter: refused as if it did not exist, and an alert.
    let probe = h.call("GET", &format!("/api/v1/matters/{}", planted.matter), Some(&f.lead), None).await;
    assert_eq!(probe.status, 404);
    let none = h.call("GET", &format!("/api/v1/matters/{}", uuid::Uuid::new_v4()), Some(&f.lead), None).await;
    assert_eq!(probe.body, none.body, "a decoy is refused like a matter that does not exist");
    f.watch().await;
    let incident = f.newest(1).await;
    let alert = &incident["alerts"][0];
    assert_eq!(alert["kind"], "decoy");
    assert_eq!(alert["actor_email"], LEAD);
    assert_eq!(alert["ip"], "203.0.113.7");
    assert!(alert["detail"].as_str().unwrap().contains("the board dispute"), "{alert}");
    assert_eq!(incident["incident"]["status"], "suspected");
    assert!(incident["incident"]["summary"].as_str().unwrap().contains(LEAD), "{incident}");
    assert_eq!(f.alert_mails(ADMIN_EMAIL), 1, "the administrators are mailed");
    let mail = h.latest_mail(ADMIN_EMAIL);
    assert!(
        mail.contains(LEAD) && mail.contains("203.0.113.7") && mail.contains("/admin/incidents/"),
        "{mail}"
    );
    assert!(alert["mailed_at"].is_string());

    // The same user downloading a decoy document: another alert on the same incident,
    // without another mail so soon after the first.
    for document in &planted.documents {
        let path = format!("/api/v1/documents/{document}/content");
        assert_eq!(h.call("GET", &path, Some(&f.lead), None).await.status, 404);
    }
    f.watch().await;
    let incident = f.newest(1).await;
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 2, "{incident}");
    assert_eq!(f.alert_mails(ADMIN_EMAIL), 1);

    // A sign-in attempt with the decoy account, from elsewhere: a new incident, mailed.
    let attempt = h.login(DECOY, "guessed password").await;
    let unknown = h.login("nobody@firm.example", "guessed password").await;
    assert_eq!((attempt.status, &attempt.body), (unknown.status, &unknown.body), "refused like any failure");
    f.watch().await;
    let incident = f.newest(2).await;
    assert_eq!(incident["alerts"][0]["actor_id"], planted.user.as_str());
    assert!(incident["alerts"][0]["detail"].as_str().unwrap().contains("auth.login.failed"), "{incident}");
    assert_eq!(f.alert_mails(ADMIN_EMAIL), 2);

    // A password reset asked for it: no link is mailed to a decoy, and the ask trips (it
    // joins the incident its account's sign-in attempt opened).
    let before = h.outbox().len();
    let asked = h.call("POST", "/api/v1/auth/password-reset", None, Some(json!({ "email": DECOY }))).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    f.watch().await;
    assert_eq!(h.outbox().len(), before, "nothing is mailed to a decoy");
    let incident = f.newest(2).await;
    assert!(
        incident["alerts"][1]["detail"].as_str().unwrap().contains("auth.recovery.requested"),
        "{incident}"
    );
    // An administrator cannot make the account usable either, and trying is on the record.
    let reset =
        h.call("POST", &format!("/api/v1/users/{}/password-reset", planted.user), Some(&f.admin), None).await;
    assert_eq!((reset.status, reset.code()), (409, "decoy"), "{}", reset.body);

    // The decoy token, as a bearer token and as a cookie: refused like any unknown one.
    let used = h.call("GET", "/api/v1/me", Some(&planted.credential), None).await;
    let garbage =
        h.call("GET", "/api/v1/me", Some(&format!("{}.{}", h.firm.simple(), "A".repeat(43))), None).await;
    assert_eq!((used.status, &used.body), (garbage.status, &garbage.body));
    f.watch().await;
    let incidents = f.incidents().await;
    assert_eq!(incidents.len(), 4, "the admin's reset and the token each opened one: {incidents:#?}");
    let mut details = Vec::new();
    for incident in &incidents[..2] {
        let read = f.incident(incident["id"].as_str().unwrap()).await;
        let alert = &read["alerts"][0];
        details.push((alert["actor_kind"].clone(), alert["detail"].as_str().unwrap().to_owned()));
    }
    assert!(
        details.iter().any(|(actor, detail)| actor == "anonymous"
            && detail.contains("deploy.sh")
            && detail.contains("auth.token.refused")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|(actor, detail)| actor == "user" && detail.contains("request.refused")),
        "{details:?}"
    );

    // An administrator giving themselves a role on the decoy matter, then searching it.
    let admin_id = h.user_id(&f.admin, ADMIN_EMAIL).await;
    let role = json!({ "role": "viewer" });
    let path = format!("/api/v1/matters/{}/members/{admin_id}", planted.matter);
    let granted = h.call("PUT", &path, Some(&f.admin), Some(role)).await;
    assert!(granted.status < 300, "{}", granted.body);
    f.watch().await;
    let incidents = f.incidents().await;
    let admin_incident = incidents.iter().find(|i| i["summary"].as_str().unwrap().contains(ADMIN_EMAIL));
    let admin_incident = f.incident(admin_incident.expect("the admin's touch")["id"].as_str().unwrap()).await;
    // It joins the incident the same administrator's refused reset opened.
    let alerts = admin_incident["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{admin_incident}");
    let detail = alerts[1]["detail"].as_str().unwrap();
    assert!(detail.contains("matter.role.self_granted"), "{detail}");
    // Now a reader of it, the administrator's search finds it (every decoy matter's
    // description begins "Confidential."): that too is a touch.
    let found = h.call("GET", "/api/v1/search?q=confidential", Some(&f.admin), None).await;
    assert!(found.body.to_string().contains(&planted.matter), "{}", found.body);
    f.watch().await;
    let admin_incident = f.incident(admin_incident["incident"]["id"].as_str().unwrap()).await;
    let alerts = admin_incident["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 3, "{admin_incident}");
    assert!(alerts[2]["detail"].as_str().unwrap().contains("search.performed"), "{admin_incident}");

    // The decoy address was never mailed; the log of it all is intact.
    assert!(!h.outbox().iter().any(|m| m.lines().any(|l| l.starts_with("To: ") && l.contains(DECOY))));
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let verification = audit_log::verify(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(verification, Verification::Intact { .. }), "{verification:?}");
});

both_backends!(decoys_are_planted_and_read_by_administrators_and_audit_officers_alone, |env| async move {
    let f = firm(env).await;
    let h = &f.h;
    let planted = f.plant(&f.admin).await;
    for path in ["/api/v1/security/decoys", "/api/v1/security/incidents"] {
        assert_eq!(h.call("GET", path, Some(&f.lead), None).await.status, 403, "{path}");
        assert_eq!(h.call("GET", path, Some(&f.auditor), None).await.status, 200, "{path}");
    }
    let plant = json!({ "label": "x" });
    let refused = h.call("POST", "/api/v1/security/decoys/credentials", Some(&f.lead), Some(plant)).await;
    assert_eq!(refused.status, 403);
    let listed = h.call("GET", "/api/v1/security/decoys", Some(&f.admin), None).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(!listed.body.to_string().contains(&planted.credential), "a token is shown once");
    // Bad input is refused naming the field.
    for (path, body, field) in [
        ("/api/v1/security/decoys/credentials", json!({ "label": "" }), "label"),
        ("/api/v1/security/decoys/credentials", json!({ "label": "a\u{7}b" }), "label"),
        (
            "/api/v1/security/decoys/users",
            json!({ "name": "X Y", "email": "x@firm.example", "role": "admin", "label": "l" }),
            "role",
        ),
        (
            "/api/v1/security/decoys/users",
            json!({ "name": "X Y", "email": "not an address", "label": "l" }),
            "email",
        ),
        (
            "/api/v1/security/decoys/matters",
            json!({ "lead_id": h.user_id(&f.admin, LEAD).await, "label": "l" }),
            "lead_id",
        ),
    ] {
        let refused = h.call("POST", path, Some(&f.admin), Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{path} {body}: {}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}:")), "{}", refused.body);
    }
    // An address in use is refused.
    let taken = json!({ "name": "Lead Again", "email": LEAD, "label": "l" });
    let refused = h.call("POST", "/api/v1/security/decoys/users", Some(&f.admin), Some(taken)).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    // Planting is on the record, naming the decoy alone.
    let entries = h.call("GET", "/api/v1/audit?action=security.decoy.planted", Some(&f.auditor), None).await;
    let entries = entries.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        assert_eq!(entry["resource"]["type"], "decoy", "{entry}");
        for id in [&planted.user, &planted.matter, &planted.client] {
            assert!(!entry.to_string().contains(id.as_str()), "{entry}");
        }
    }
    let mut raw = h.raw_firm().await;
    let named: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE matter_id = $1 OR resource_id = $1")
            .bind(&planted.matter)
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(named, 0, "the log does not tell which matter is a decoy");
});

/// The alerts raised so far, as (kind, actor email or address, detail), oldest first.
async fn alerts(f: &Firm) -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    for incident in f.incidents().await.iter().rev() {
        let read = f.incident(incident["id"].as_str().unwrap()).await;
        for alert in read["alerts"].as_array().unwrap() {
            let who = alert["actor_email"].as_str().or(alert["ip"].as_str()).unwrap_or("").to_owned();
            all.push((
                alert["kind"].as_str().unwrap().to_owned(),
                who,
                alert["detail"].as_str().unwrap().to_owned(),
            ));
        }
    }
    all
}

/// The kinds of the alerts raised so far, sorted, but for the thresholds' own changes.
async fn kinds(f: &Firm) -> Vec<String> {
    let mut kinds: Vec<String> = alerts(f)
        .await
        .into_iter()
        .map(|(kind, ..)| kind)
        .filter(|kind| kind != "settings_changed")
        .collect();
    kinds.sort();
    kinds
}

both_backends!(access_out_of_the_ordinary_raises_alerts_at_the_firms_thresholds, |env| async move {
    let f = firm(env).await;
    let h = &f.h;
    // The defaults hold until an administrator changes them; an audit officer reads them.
    let defaults = h.call("GET", "/api/v1/security/alert-settings", Some(&f.auditor), None).await;
    assert_eq!(defaults.status, 200, "{}", defaults.body);
    assert_eq!(defaults.body["downloads"], 50);
    assert_eq!(defaults.body["working_hours"], Value::Null);
    let tight = json!({
        "downloads": 3, "downloads_minutes": 10,
        "denials": 4, "denials_minutes": 10,
        "failing_accounts": 2, "failing_minutes": 15,
        "new_admin_source": true,
        "working_hours": null,
    });
    let refused =
        h.call("PUT", "/api/v1/security/alert-settings", Some(&f.auditor), Some(tight.clone())).await;
    assert_eq!(refused.status, 403, "only administrators change them");
    let set = h.call("PUT", "/api/v1/security/alert-settings", Some(&f.admin), Some(tight.clone())).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body, tight);
    for (field, value) in [
        ("downloads", json!(0)),
        ("denials_minutes", json!(1441)),
        ("working_hours", json!({ "days": [], "from": "08:00", "until": "17:00" })),
        ("working_hours", json!({ "days": [8], "from": "08:00", "until": "17:00" })),
        ("working_hours", json!({ "days": [1], "from": "17:00", "until": "08:00" })),
        ("working_hours", json!({ "days": [1], "from": "8h", "until": "17:00" })),
    ] {
        let mut bad = tight.clone();
        bad[field] = value.clone();
        let answer = h.call("PUT", "/api/v1/security/alert-settings", Some(&f.admin), Some(bad)).await;
        assert_eq!(answer.status, 400, "{field} {value}: {}", answer.body);
    }
    f.watch().await;
    assert!(kinds(&f).await.is_empty(), "{:?}", alerts(&f).await);
    // Changing the thresholds is itself told: a stolen account quietening the watcher.
    let changed = alerts(&f).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!((changed[0].0.as_str(), changed[0].1.as_str()), ("settings_changed", ADMIN_EMAIL));

    // Downloads: two are ordinary, the third within the window is many.
    let matter = h
        .open_matter(
            &f.lead,
            json!({ "name": "Client", "kind": "organisation" }),
            json!({ "title": "Dispute" }),
        )
        .await;
    let uploaded = h
        .upload(
            &format!("/api/v1/matters/{matter}/documents"),
            &f.lead,
            "memo.txt",
            b"words",
            &[("title", "Memo")],
        )
        .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let content = format!("/api/v1/documents/{}/content", uploaded.body["id"].as_str().unwrap());
    for _ in 0..2 {
        assert_eq!(h.call("GET", &content, Some(&f.lead), None).await.status, 200);
    }
    f.watch().await;
    assert!(kinds(&f).await.is_empty(), "{:?}", alerts(&f).await);
    h.call("GET", &content, Some(&f.lead), None).await;
    f.watch().await;
    assert_eq!(kinds(&f).await, ["downloads"]);
    let (_, who, detail) = &alerts(&f).await.into_iter().find(|(kind, ..)| kind == "downloads").unwrap();
    assert_eq!(who, LEAD);
    assert!(detail.contains("3 downloads within 10 minutes"), "{detail}");
    // More within the window are the same alert's, not new ones.
    h.call("GET", &content, Some(&f.lead), None).await;
    f.watch().await;
    assert_eq!(kinds(&f).await, ["downloads"]);

    // Refusals: someone probing ids.
    for _ in 0..3 {
        let probe =
            h.call("GET", &format!("/api/v1/matters/{}", uuid::Uuid::new_v4()), Some(&f.lead), None).await;
        assert_eq!(probe.status, 404);
    }
    f.watch().await;
    assert_eq!(kinds(&f).await, ["downloads"]);
    h.call("GET", &format!("/api/v1/matters/{}", uuid::Uuid::new_v4()), Some(&f.lead), None).await;
    f.watch().await;
    assert_eq!(kinds(&f).await, ["denials", "downloads"]);

    // Failed sign-ins to many accounts from one address.
    assert_eq!(h.login(LEAD, "wrong password").await.status, 401);
    f.watch().await;
    assert_eq!(kinds(&f).await.len(), 2);
    assert_eq!(h.login(AUDITOR, "wrong password").await.status, 401);
    f.watch().await;
    assert_eq!(kinds(&f).await, ["denials", "downloads", "failing_accounts"]);
    let failing = alerts(&f).await.into_iter().find(|(kind, ..)| kind == "failing_accounts").unwrap();
    assert_eq!(failing.1, "203.0.113.7");

    // An administrator signing in from a new browser; the same one again raises nothing.
    for round in 0..2 {
        let agent = [("user-agent", "Unfamiliar/9.9")];
        let body = json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD });
        let login = h.call_with("POST", "/api/v1/auth/login", None, Some(body), &agent).await;
        let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
        let code = h.latest_code(ADMIN_EMAIL);
        let body = json!({ "challenge_id": challenge, "factor": "email", "code": code });
        let verified = h.call_with("POST", "/api/v1/auth/verify", None, Some(body), &agent).await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        f.watch().await;
        let new_sources = alerts(&f).await.into_iter().filter(|(kind, ..)| kind == "new_source").count();
        assert_eq!(new_sources, 1, "round {round}");
    }
    let new_source = alerts(&f).await.into_iter().find(|(kind, ..)| kind == "new_source").unwrap();
    assert!(new_source.2.contains("Unfamiliar/9.9"), "{new_source:?}");

    // Working hours: work on a day the firm does not work is out of the ordinary, once a night.
    let today = h.clock.now().weekday().number_from_monday();
    let other_days: Vec<u8> = (1..=7).filter(|d| *d != today).collect();
    let mut hours = tight.clone();
    hours["working_hours"] = json!({ "days": other_days, "from": "00:00", "until": "24:00" });
    let set = h.call("PUT", "/api/v1/security/alert-settings", Some(&f.admin), Some(hours)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let own = format!("/api/v1/matters/{matter}");
    assert_eq!(h.call("GET", &own, Some(&f.lead), None).await.status, 200);
    assert_eq!(h.call("GET", &own, Some(&f.lead), None).await.status, 200);
    f.watch().await;
    let off_hours: Vec<_> = alerts(&f).await.into_iter().filter(|(kind, ..)| kind == "off_hours").collect();
    assert!(off_hours.iter().any(|(_, who, _)| who == LEAD), "{off_hours:?}");
    let lead_alerts = off_hours.iter().filter(|(_, who, _)| who == LEAD).count();
    assert_eq!(h.call("GET", &own, Some(&f.lead), None).await.status, 200);
    f.watch().await;
    let again =
        alerts(&f).await.into_iter().filter(|(kind, who, _)| kind == "off_hours" && who == LEAD).count();
    assert_eq!(again, lead_alerts, "one a night");

    // Each was mailed; and each kind opened an incident of its own.
    let mails = f.alert_mails(ADMIN_EMAIL);
    assert!(mails >= 5, "{mails}");
    let all = h.outbox().join("\n");
    for headline in [
        "many documents downloaded by one person",
        "many requests refused to one person",
        "failed sign-ins to many accounts from one address",
        "an administrator signed in from a new device or address",
        "work outside the firm's working hours",
    ] {
        assert!(all.contains(headline), "{headline}");
    }
    let changed =
        h.call("GET", "/api/v1/audit?action=security.alert_settings.changed", Some(&f.auditor), None).await;
    assert_eq!(changed.body["items"].as_array().unwrap().len(), 2);
});

both_backends!(the_security_pages_plant_decoys_show_incidents_and_set_thresholds, |env| async move {
    let f = firm(env).await;
    let h = &f.h;
    let admin = browser_sign_in(h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let auditor = browser_sign_in(h, AUDITOR, PASSWORD).await;
    let lead = browser_sign_in(h, LEAD, PASSWORD).await;
    for path in ["/admin/decoys", "/admin/incidents"] {
        assert_eq!(page(h, "GET", path, Some(&lead), None).await.status, 403, "{path}");
        assert_eq!(page(h, "GET", path, Some(&auditor), None).await.status, 200, "{path}");
    }
    let shown = page(h, "GET", "/admin/decoys", Some(&admin), None).await;
    assert!(shown.html.contains("No decoy has been planted") && shown.html.contains("plant one first"));
    let csrf = hidden(&shown.html, "_csrf");
    let form = encode(&[
        ("_csrf", &csrf),
        ("name", "Pieter Naude"),
        ("email", DECOY),
        ("role", "paralegal"),
        ("label", "in the staff list"),
    ]);
    let planted = page(h, "POST", "/admin/decoys/users", Some(&admin), Some(form)).await;
    assert_eq!((planted.status, planted.headers["location"].to_str().unwrap()), (303, "/admin/decoys"));
    let shown = page(h, "GET", "/admin/decoys", Some(&admin), None).await;
    assert!(
        shown.html.contains("User Pieter Naude &#60;p.naude@firm.example&#62;, paralegal"),
        "{}",
        shown.html
    );
    let leads = shown.html.split("id=\"decoy-lead\"").nth(1).unwrap();
    let lead_id = leads.split("<option value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let form = encode(&[("_csrf", &csrf), ("lead_id", &lead_id), ("label", "the board dispute")]);
    let planted = page(h, "POST", "/admin/decoys/matters", Some(&admin), Some(form)).await;
    assert_eq!(planted.status, 303, "{}", planted.html);
    // A token is shown once, on the page that planted it.
    let form = encode(&[("_csrf", &csrf), ("label", "in deploy.sh")]);
    let planted = page(h, "POST", "/admin/decoys/credentials", Some(&admin), Some(form)).await;
    assert_eq!(planted.status, 200, "{}", planted.html);
    let token =
        planted.html.split("<code class=\"secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(token.starts_with(&h.firm.simple().to_string()), "{token}");
    let again = page(h, "GET", "/admin/decoys", Some(&admin), None).await;
    assert!(!again.html.contains(&token) && again.html.contains("the board dispute"));
    // A bad form answers with the page and the reason.
    let form =
        encode(&[("_csrf", &csrf), ("name", "X"), ("email", "nobody"), ("role", "attorney"), ("label", "l")]);
    let refused = page(h, "POST", "/admin/decoys/users", Some(&admin), Some(form)).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("role=\"alert\""), "{}", refused.html);

    // The token trips; the incident is on the register, with its alert.
    assert_eq!(h.call("GET", "/api/v1/me", Some(&token), None).await.status, 401);
    f.watch().await;
    let register = page(h, "GET", "/admin/incidents", Some(&auditor), None).await;
    assert!(
        register.html.contains("A decoy was touched: by anonymous from 203.0.113.7"),
        "{}",
        register.html
    );
    assert!(register.html.contains("(administrators change them)"), "an audit officer reads the thresholds");
    let href =
        register.html.split("href=\"/admin/incidents/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let incident = page(h, "GET", &format!("/admin/incidents/{href}"), Some(&auditor), None).await;
    assert!(
        incident.html.contains("in deploy.sh") && incident.html.contains("auth.token.refused"),
        "{}",
        incident.html
    );

    // An administrator sets working hours on the form; an audit officer cannot.
    let form = |csrf: &str| {
        encode(&[
            ("_csrf", csrf),
            ("downloads", "40"),
            ("downloads_minutes", "5"),
            ("denials", "10"),
            ("denials_minutes", "5"),
            ("failing_accounts", "3"),
            ("failing_minutes", "10"),
            ("new_admin_source", "yes"),
            ("days", "1"),
            ("days", "5"),
            ("from", "07:30"),
            ("until", "18:00"),
        ])
    };
    let auditor_csrf = hidden(&register.html, "_csrf");
    let refused =
        page(h, "POST", "/admin/incidents/alert-settings", Some(&auditor), Some(form(&auditor_csrf))).await;
    assert_eq!(refused.status, 403);
    let admin_page = page(h, "GET", "/admin/incidents", Some(&admin), None).await;
    let admin_csrf = hidden(&admin_page.html, "_csrf");
    let set = page(h, "POST", "/admin/incidents/alert-settings", Some(&admin), Some(form(&admin_csrf))).await;
    assert_eq!(set.status, 303, "{}", set.html);
    let settings = h.call("GET", "/api/v1/security/alert-settings", Some(&f.admin), None).await;
    assert_eq!(settings.body["working_hours"], json!({ "days": [1, 5], "from": "07:30", "until": "18:00" }));
    assert_eq!(settings.body["downloads"], 40);
    let shown = page(h, "GET", "/admin/incidents", Some(&admin), None).await;
    assert!(
        shown.html.contains("value=\"07:30\"") && shown.html.contains("value=\"5\" checked"),
        "{}",
        shown.html
    );
    let bad = form(&admin_csrf).replace("from=07%3A30", "from=25%3A00");
    let refused = page(h, "POST", "/admin/incidents/alert-settings", Some(&admin), Some(bad)).await;
    assert_eq!(refused.status, 400, "{}", refused.html);

    // An audit officer opens an incident by hand and runs it from its page.
    let form = encode(&[("_csrf", &auditor_csrf), ("summary", "Laptop left on a train")]);
    let opened = page(h, "POST", "/admin/incidents", Some(&auditor), Some(form)).await;
    assert_eq!(opened.status, 303, "{}", opened.html);
    let at = opened.headers["location"].to_str().unwrap().to_owned();
    let shown = page(h, "GET", &at, Some(&auditor), None).await;
    assert!(shown.html.contains("Not started: the 72 hours run from confirmation."), "{}", shown.html);
    assert!(shown.html.contains("[not yet known: to complete]"), "the drafts say what is missing");
    let discovered = hidden(
        &shown.html.replace("name=\"discovered_at\" type=\"datetime-local\"", "name=\"discovered_at\""),
        "discovered_at",
    );
    let form = encode(&[
        ("_csrf", &auditor_csrf),
        ("summary", "Laptop left on a train"),
        ("status", "confirmed"),
        ("discovered_at", &discovered),
        ("what_happened", "An unencrypted laptop with client files was lost."),
        ("categories", "identity"),
        ("categories", "financial"),
        ("data_subjects", "30"),
        ("records", ""),
        ("consequences", "Identity theft."),
        ("unauthorised_person", ""),
        ("recommendations", "Watch your bank statements."),
    ]);
    let recorded = page(h, "POST", &at, Some(&auditor), Some(form)).await;
    assert_eq!(recorded.status, 303, "{}", recorded.html);
    let shown = page(h, "GET", &at, Some(&auditor), None).await;
    assert!(shown.html.contains("72 h 00 min left to tell the regulator"), "{}", shown.html);
    assert!(
        shown.html.contains("value=\"financial\" checked") && shown.html.contains("about 30 data subjects")
    );
    let when = discovered.clone();
    let form = encode(&[
        ("_csrf", &auditor_csrf),
        ("kind", "containment"),
        ("at", &when),
        ("text", "Wiped remotely"),
    ]);
    assert_eq!(page(h, "POST", &format!("{at}/steps"), Some(&auditor), Some(form)).await.status, 303);
    let form =
        encode(&[("_csrf", &auditor_csrf), ("kind", "regulator"), ("at", &when), ("text", "Online form")]);
    assert_eq!(page(h, "POST", &format!("{at}/notifications"), Some(&auditor), Some(form)).await.status, 303);
    let shown = page(h, "GET", &at, Some(&auditor), None).await;
    assert!(shown.html.contains("Met: the regulator was told on"), "{}", shown.html);
    assert!(shown.html.contains("Wiped remotely") && shown.html.contains("report.md"), "{}", shown.html);
    // A time that is none is refused with the page and the reason.
    let form = encode(&[("_csrf", &auditor_csrf), ("kind", "remedial"), ("at", "yesterday"), ("text", "x")]);
    let refused = page(h, "POST", &format!("{at}/steps"), Some(&auditor), Some(form)).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("YYYY-MM-DDTHH:MM"), "{}", refused.html);
});

both_backends!(an_incident_is_run_from_discovery_to_the_regulators_notification, |env| async move {
    let f = firm(env).await;
    let h = &f.h;
    let planted = f.plant(&f.admin).await;
    // The firm names its Information Officer, whom the drafts give as the contact.
    let lead_id = h.user_id(&f.admin, LEAD).await;
    let cookie = browser_sign_in(h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = hidden(&page(h, "GET", "/admin/users", Some(&cookie), None).await.html, "_csrf");
    let form = encode(&[("_csrf", &csrf), ("user_id", &lead_id)]);
    assert_eq!(page(h, "POST", "/admin/information-officer", Some(&cookie), Some(form)).await.status, 303);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&planted.credential), None).await.status, 401);
    f.watch().await;
    let id = f.incidents().await[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/security/incidents/{id}");
    let read = f.incident(&id).await;
    assert_eq!(read["clock"]["state"], "not_started");
    assert_eq!(read["incident"]["status"], "suspected");
    assert!(
        read["timeline"].as_array().unwrap().iter().any(|e| e["action"] == "auth.token.refused"),
        "the timeline holds the entries from the tripper's address: {}",
        read["timeline"]
    );

    // Confirmed: the 72-hour clock starts.
    let record = |status: &str| {
        json!({
            "summary": "Decoy token used from outside",
            "status": status,
            "discovered_at": read["discovered_at"],
            "details": {
                "what_happened": "A token planted in deploy.sh was presented to the API | from 203.0.113.7.",
                "categories": ["privileged", "identity"],
                "data_subjects": 12,
                "records": 40,
                "consequences": "Clients' strategy may be known to the other side.",
                "unauthorised_person": "",
                "recommendations": "Be alert to approaches about the matter.",
            },
        })
    };
    let confirmed = h.call("PUT", &path, Some(&f.auditor), Some(record("confirmed"))).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let clock = &confirmed.body["clock"];
    assert_eq!(clock["state"], "running");
    assert_eq!(clock["minutes_left"], 72 * 60);
    assert_eq!(confirmed.body["details"]["categories"], json!(["identity", "privileged"]));
    // Recorded again, confirmed stays when it was.
    h.clock.advance(Duration::minutes(10));
    let again = h.call("PUT", &path, Some(&f.admin), Some(record("contained"))).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["clock"]["confirmed_at"], clock["confirmed_at"]);
    assert_eq!(again.body["clock"]["minutes_left"], 72 * 60 - 10);
    h.clock.advance(Duration::hours(72));
    // Everyone signs in again, three days on.
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let auditor = h.sign_in(AUDITOR, PASSWORD).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    let late = h.call("GET", &path, Some(&admin), None).await.body;
    assert_eq!(late["clock"]["state"], "overdue");
    assert_eq!(late["clock"]["minutes_left"], -10);

    // The steps and the notifications; telling the regulator stops the clock, late.
    let stamp = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let step = json!({ "kind": "containment", "taken_at": stamp(h.clock.now()), "text": "Revoked every session of the firm" });
    let added = h.call("POST", &format!("{path}/steps"), Some(&auditor), Some(step)).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let told = json!({ "recipient": "regulator", "notified_at": stamp(h.clock.now()), "detail": "Form SCN1 by email | reference IR-123" });
    let added = h.call("POST", &format!("{path}/notifications"), Some(&auditor), Some(told)).await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["clock"]["state"], "late");

    // The drafts carry what POPIA s 22 asks for, and say what is still to complete.
    let drafts = &added.body["drafts"];
    let regulator = drafts["regulator"].as_str().unwrap();
    for expected in [
        "The Firm",
        "privileged communications and legal advice",
        "about 12 data subjects; about 40 records",
        "Clients' strategy may be known",
        "Revoked every session of the firm",
        "Be alert to approaches",
        "s 22(5)(d)",
        "Not known.",
    ] {
        assert!(regulator.contains(expected), "{expected}: {regulator}");
    }
    assert!(regulator.contains(&format!("Information Officer: Lead <{LEAD}>")), "{regulator}");
    let subjects = drafts["data_subjects"].as_str().unwrap();
    assert!(subjects.contains("Dear [name]") && subjects.contains("Be alert to approaches"), "{subjects}");

    // The report, as Markdown.
    let report = h.call_with("GET", &format!("{path}/report.md"), Some(&admin), None, &[]).await;
    assert_eq!(report.status, 200);
    assert!(report.headers["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let text = String::from_utf8(
        axum::body::to_bytes(
            h.respond("GET", &format!("{path}/report.md"), Some(&admin), axum::body::Body::empty(), &[])
                .await
                .into_body(),
            1 << 20,
        )
        .await
        .unwrap()
        .to_vec(),
    )
    .unwrap();
    assert!(text.starts_with(&format!("# Incident {id}")), "{text}");
    assert!(text.contains("| Notification clock | late |"), "{text}");
    assert!(
        text.contains("Form SCN1 by email \\| reference IR-123 |"),
        "a pipe in a cell is escaped: {text}"
    );
    assert!(text.contains("## Draft notification to the Information Regulator"));

    // Another, opened by hand and told in time; a third dismissed before anyone was told.
    let opened = h
        .call(
            "POST",
            "/api/v1/security/incidents",
            Some(&admin),
            Some(json!({ "summary": "Laptop stolen from a car" })),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    assert_eq!(opened.body["incident"]["opened_by"], h.user_id(&admin, ADMIN_EMAIL).await.as_str());
    let other = format!("/api/v1/security/incidents/{}", opened.body["incident"]["id"].as_str().unwrap());
    let mut body = record("confirmed");
    body["discovered_at"] = opened.body["discovered_at"].clone();
    assert_eq!(h.call("PUT", &other, Some(&admin), Some(body)).await.status, 200);
    let told = json!({ "recipient": "regulator", "notified_at": stamp(h.clock.now()), "detail": "by email" });
    let met = h.call("POST", &format!("{other}/notifications"), Some(&admin), Some(told)).await;
    assert_eq!(met.body["clock"]["state"], "met", "{}", met.body);
    let dismissed = h
        .call("POST", "/api/v1/security/incidents", Some(&auditor), Some(json!({ "summary": "False alarm" })))
        .await;
    let third = format!("/api/v1/security/incidents/{}", dismissed.body["incident"]["id"].as_str().unwrap());
    let mut body = record("confirmed");
    body["discovered_at"] = dismissed.body["discovered_at"].clone();
    h.call("PUT", &third, Some(&auditor), Some(body.clone())).await;
    body["status"] = json!("dismissed");
    let done = h.call("PUT", &third, Some(&auditor), Some(body)).await;
    assert_eq!(done.body["clock"]["state"], "stopped", "{}", done.body);
    assert!(done.body["closed_at"].is_string());

    // Bad input is refused, naming what; others may not touch the register.
    let future = stamp(h.clock.now() + Duration::days(2));
    for (body, field) in [
        (
            json!({ "summary": "", "status": "confirmed", "discovered_at": read["discovered_at"], "details": {} }),
            "summary",
        ),
        (
            json!({ "summary": "x", "status": "solved", "discovered_at": read["discovered_at"], "details": {} }),
            "status",
        ),
        (
            json!({ "summary": "x", "status": "confirmed", "discovered_at": future, "details": {} }),
            "discovered_at",
        ),
        (
            json!({ "summary": "x", "status": "confirmed", "discovered_at": read["discovered_at"], "details": { "categories": ["gossip"] } }),
            "categories",
        ),
        (
            json!({ "summary": "x", "status": "confirmed", "discovered_at": read["discovered_at"], "details": { "data_subjects": -1 } }),
            "data_subjects",
        ),
        (
            json!({ "summary": "x", "status": "confirmed", "discovered_at": read["discovered_at"], "details": { "consequences": "a\u{1b}b" } }),
            "consequences",
        ),
    ] {
        let refused = h.call("PUT", &path, Some(&admin), Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().starts_with(field), "{}", refused.body);
    }
    let bad_step = json!({ "kind": "prayer", "taken_at": stamp(h.clock.now()), "text": "x" });
    assert_eq!(h.call("POST", &format!("{path}/steps"), Some(&admin), Some(bad_step)).await.status, 400);
    let bad_told = json!({ "recipient": "press", "notified_at": stamp(h.clock.now()), "detail": "x" });
    assert_eq!(
        h.call("POST", &format!("{path}/notifications"), Some(&admin), Some(bad_told)).await.status,
        400
    );
    let nowhere = format!("/api/v1/security/incidents/{}", uuid::Uuid::new_v4());
    assert_eq!(h.call("GET", &nowhere, Some(&admin), None).await.status, 404);
    assert_eq!(h.call("PUT", &nowhere, Some(&admin), Some(record("confirmed"))).await.status, 404);
    assert_eq!(h.call("GET", &path, Some(&lead), None).await.status, 403);
    assert_eq!(h.call("PUT", &path, Some(&lead), Some(record("closed"))).await.status, 403);

    // Every change is on the record.
    for (action, least) in [
        ("security.incident.recorded", 5),
        ("security.incident.status_changed", 4),
        ("security.incident.step_added", 1),
        ("security.incident.notification_recorded", 2),
        ("security.incident.exported", 2),
        ("security.incident.opened", 2),
    ] {
        let listed = h.call("GET", &format!("/api/v1/audit?action={action}"), Some(&auditor), None).await;
        let count = listed.body["items"].as_array().unwrap().len();
        assert!(count >= least, "{action}: {count}");
    }
});
