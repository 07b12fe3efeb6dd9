//! Every entry the product writes is one the actions table describes: a broad day's work
//! over the API, then every stored entry of the firm's log read back by its name.

use std::collections::BTreeSet;

use ringfence_core::audit::AuditAction;
use ringfence_core::principal::Principal;
use ringfence_store::firm::audit as audit_log;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::sign_in_harness::*;

/// A day's work that touches every area: sign-in and its refusals, accounts, users,
/// clients, matters, notes, documents, search, firm settings and the log itself.
async fn a_busy_day(h: &Harness) {
    h.login(ADMIN_EMAIL, "not the password at all").await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let para = h.signed_in_user(&admin, "para@firm.example", &["paralegal"]).await;
    let id_of = |token: String| async move {
        h.call("GET", "/api/v1/me", Some(&token), None).await.body["user"]["id"].as_str().unwrap().to_owned()
    };
    let para_id = id_of(para.clone()).await;
    // Administration that ends a user's sessions happens to someone else.
    let sam = h.signed_in_user(&admin, "sam@firm.example", &["paralegal"]).await;
    let sam_id = id_of(sam).await;

    // Sign-in refusals of someone not signed in, and a wrong code.
    h.call("POST", "/api/v1/auth/accept-invite", None, Some(json!({ "token": "junk", "password": "x" })))
        .await;
    h.verify(&uuid::Uuid::new_v4().to_string(), "email", "000000").await;
    let login = h.login("para@firm.example", "a long shared test passphrase").await;
    h.verify(login.body["challenge_id"].as_str().unwrap(), "email", "000000").await;

    // Accounts and users.
    h.call(
        "POST",
        "/api/v1/me/password",
        Some(&para),
        Some(json!({ "current_password": "wrong", "new_password": "x" })),
    )
    .await;
    h.call(
        "POST",
        "/api/v1/me/totp",
        Some(&para),
        Some(json!({ "current_password": "a long shared test passphrase" })),
    )
    .await;
    let user = format!("/api/v1/users/{sam_id}");
    h.call("PATCH", &user, Some(&admin), Some(json!({ "roles": ["paralegal", "billing"] }))).await;
    h.call("PATCH", &user, Some(&admin), Some(json!({ "roles": ["paralegal"] }))).await;
    h.call("PATCH", &user, Some(&admin), Some(json!({ "disabled": true }))).await;
    h.call("PATCH", &user, Some(&admin), Some(json!({ "disabled": false }))).await;
    h.call("DELETE", &format!("{user}/lock"), Some(&admin), None).await;
    h.call("DELETE", &format!("{user}/second-factor"), Some(&admin), None).await;
    h.call("GET", "/api/v1/users", Some(&para), None).await;
    h.call("PUT", "/api/v1/firm/time-zone", Some(&admin), Some(json!({ "time_zone": "Europe/London" })))
        .await;
    h.call("PUT", "/api/v1/firm/audit-retention", Some(&admin), Some(json!({ "months": 24 }))).await;

    // Clients and matters.
    let client = h
        .call("POST", "/api/v1/clients", Some(&lead), Some(json!({ "name": "Acme", "kind": "organisation" })))
        .await;
    let client = client.body["id"].as_str().unwrap().to_owned();
    h.call("GET", &format!("/api/v1/clients/{client}"), Some(&lead), None).await;
    h.call("PATCH", &format!("/api/v1/clients/{client}"), Some(&lead), Some(json!({ "name": "Acme Ltd" })))
        .await;
    let matter = h
        .call(
            "POST",
            "/api/v1/matters",
            Some(&lead),
            Some(json!({ "client_id": client, "title": "Acme v Widget" })),
        )
        .await;
    let matter = matter.body["id"].as_str().unwrap().to_owned();
    let on = |rest: &str| format!("/api/v1/matters/{matter}{rest}");
    h.call("GET", &on(""), Some(&lead), None).await;
    h.call("GET", &on(""), Some(&para), None).await;
    h.call("GET", "/api/v1/matters/not-an-id", Some(&para), None).await;
    h.call("PATCH", &on(""), Some(&lead), Some(json!({ "title": "Acme v Widget Ltd" }))).await;
    h.call("PUT", &on(&format!("/members/{para_id}")), Some(&lead), Some(json!({ "role": "member" }))).await;
    h.call("GET", &on("/access-history"), Some(&lead), None).await;
    let note = h
        .call(
            "POST",
            &on("/notes"),
            Some(&para),
            Some(json!({ "kind": "note", "body": "a note", "privileged": false })),
        )
        .await;
    let note = format!("/api/v1/notes/{}", note.body["id"].as_str().unwrap());
    h.call("GET", &on("/notes"), Some(&para), None).await;
    h.call("GET", &note, Some(&para), None).await;
    h.call("PATCH", &note, Some(&para), Some(json!({ "body": "a better note" }))).await;
    h.call("DELETE", &note, Some(&para), None).await;
    let document = h.upload(&on("/documents"), &lead, "letter.txt", b"Dear Sir", &[]).await;
    assert_eq!(document.status, 201, "{}", document.body);
    let document = format!("/api/v1/documents/{}", document.body["id"].as_str().unwrap());
    h.upload(&format!("{document}/versions"), &lead, "letter.txt", b"Dear Madam", &[]).await;
    h.call("GET", &on("/documents"), Some(&lead), None).await;
    h.call("GET", &document, Some(&lead), None).await;
    h.call("GET", &format!("{document}/versions"), Some(&lead), None).await;
    h.respond("GET", &format!("{document}/content"), Some(&lead), axum::body::Body::empty(), &[]).await;
    h.call("DELETE", &document, Some(&lead), None).await;
    h.call("GET", "/api/v1/search?q=note", Some(&lead), None).await;
    h.call("DELETE", &on(&format!("/members/{para_id}")), Some(&lead), None).await;
    h.call("PUT", &on(&format!("/walls/{para_id}")), Some(&admin), None).await;
    h.call("GET", &on(""), Some(&para), None).await;
    h.call("DELETE", &on(&format!("/walls/{para_id}")), Some(&admin), None).await;
    h.call("PUT", &format!("/api/v1/clients/{client}/walls/{para_id}"), Some(&admin), None).await;
    h.call("GET", &format!("/api/v1/clients/{client}"), Some(&para), None).await;
    h.call("DELETE", &format!("/api/v1/clients/{client}/walls/{para_id}"), Some(&admin), None).await;
    h.call(
        "PUT",
        &on(&format!("/members/{}", id_of(admin.clone()).await)),
        Some(&admin),
        Some(json!({ "role": "lead" })),
    )
    .await;
    // A data subject's requests about the client, and one about someone who is not one.
    let register = "/api/v1/data-subject-requests";
    let mut requests = Vec::new();
    for body in [
        json!({ "client_id": client, "kind": "correction" }),
        json!({ "client_id": client, "kind": "erasure" }),
        json!({ "subject_name": "A contact", "kind": "objection" }),
    ] {
        let registered = h.call("POST", register, Some(&admin), Some(body)).await;
        requests.push(format!("{register}/{}", registered.body["id"].as_str().unwrap()));
    }
    let (correction, erasure, objection) = (&requests[0], &requests[1], &requests[2]);
    h.call("GET", register, Some(&admin), None).await;
    h.call("GET", correction, Some(&admin), None).await;
    h.call("GET", &format!("{correction}/report"), Some(&admin), None).await;
    h.call(
        "POST",
        &format!("{correction}/correction"),
        Some(&admin),
        Some(json!({ "phone": "021 555 0100" })),
    )
    .await;
    h.call("POST", &format!("{erasure}/erasure"), Some(&admin), None).await;
    let outcome = json!({ "outcome": "completed", "reason": "done" });
    h.call("POST", &format!("{objection}/close"), Some(&admin), Some(outcome)).await;
    h.call("PUT", "/api/v1/firm/data-subject-response-days", Some(&admin), Some(json!({ "days": 20 }))).await;
    h.call("POST", &on("/close"), Some(&lead), None).await;
    h.call("DELETE", &on(""), Some(&admin), None).await;
    h.call("POST", &on("/restore"), Some(&admin), None).await;
    h.call("GET", "/api/v1/admin/matters", Some(&admin), None).await;

    // The log itself, and the end of the day.
    h.call("GET", "/api/v1/audit", Some(&admin), None).await;
    h.respond("GET", "/api/v1/audit.csv", Some(&admin), axum::body::Body::empty(), &[]).await;
    h.call("DELETE", "/api/v1/me/sessions", Some(&para), None).await;
    h.call("POST", "/api/v1/auth/logout", Some(&lead), None).await;
}

both_backends!(every_recorded_action_is_one_the_table_describes, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    a_busy_day(&h).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    store.flush_audit().await.unwrap();
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let stored = audit_log::after(&mut tx, 0, 100_000).await.unwrap();
    tx.commit().await.unwrap();

    let mut seen = BTreeSet::new();
    for (entry, _) in &stored {
        let action = AuditAction::from_name(&entry.action);
        assert!(
            action.is_some(),
            "entry {} records {}, which no row of the table describes",
            entry.seq,
            entry.action
        );
        seen.insert(entry.action.as_str());
    }
    // The day is broad enough to mean something: most of the table is in it.
    assert!(seen.len() >= 55, "only {} actions recorded: {seen:?}", seen.len());
    let missed: Vec<&str> =
        AuditAction::ALL.iter().map(|a| a.name()).filter(|name| !seen.contains(name)).collect();
    println!("not recorded by this day: {missed:?}");
});
