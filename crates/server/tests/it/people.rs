//! Clients, the firm's users and the audit log's API at the edge: ids in paths are parsed
//! before any handler runs, and enum-valued filters refuse values they do not know.

use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};

use super::sign_in_harness::*;

async fn log(h: &Harness, admin: &str) -> Vec<Value> {
    let reply = h.call("GET", "/api/v1/audit?limit=500", Some(admin), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

both_backends!(malformed_client_and_user_ids_are_404s_no_handler_sees, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let client = h
        .call(
            "POST",
            "/api/v1/clients",
            Some(&admin),
            Some(json!({ "name": "Acme Ltd", "kind": "organisation" })),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let client = client.body["id"].as_str().unwrap().to_owned();
    let details = json!({ "name": "Acme Ltd", "kind": "organisation" });
    let wall = format!("/api/v1/clients/{client}/walls/not-a-user");
    for (method, path, body) in [
        ("GET", "/api/v1/clients/not-an-id", None),
        ("PATCH", "/api/v1/clients/not-an-id", Some(details.clone())),
        ("PUT", "/api/v1/clients/not-an-id/walls/not-a-user", None),
        ("PUT", wall.as_str(), None),
        ("DELETE", wall.as_str(), None),
        ("GET", "/api/v1/users/not-an-id", None),
        ("PATCH", "/api/v1/users/not-an-id", Some(json!({ "disabled": true }))),
        ("DELETE", "/api/v1/users/not-an-id/lock", None),
        ("DELETE", "/api/v1/users/not-an-id/second-factor", None),
    ] {
        let reply = h.call(method, path, Some(&admin), body).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "not_found", "{method} {path}");
    }
    // Each refusal is on the record as the route's refusal, and only so: no handler ran
    // to look the id up or to refuse it in its own words.
    let entries = log(&h, &admin).await;
    let refused = entries.iter().filter(|e| e["action"] == "request.refused").count();
    assert_eq!(refused, 9, "{entries:?}");
    for handled in ["client.access.denied", "client.viewed", "client.changed", "user.lock.cleared"] {
        assert!(entries.iter().all(|e| e["action"] != handled), "{handled} in {entries:?}");
    }
});

both_backends!(unknown_filter_values_are_400s_naming_the_field, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.call(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "pam@firm.example", "name": "Pam", "roles": ["paralegal"] })),
    )
    .await;
    for (path, field) in [
        ("/api/v1/users?role=wizard", "role: "),
        ("/api/v1/users?status=asleep", "status: "),
        ("/api/v1/audit?outcome=maybe", "outcome: "),
        ("/api/v1/audit.csv?outcome=maybe", "outcome: "),
    ] {
        let reply = h.call("GET", path, Some(&admin), None).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "invalid_input", "{path}");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{path}: {message}");
    }
    let emails = |reply: Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let admins = emails(h.call("GET", "/api/v1/users?role=admin", Some(&admin), None).await);
    assert_eq!(admins, [ADMIN_EMAIL]);
    let invited = emails(h.call("GET", "/api/v1/users?status=invited", Some(&admin), None).await);
    assert_eq!(invited, ["pam@firm.example"]);
    let paralegals =
        emails(h.call("GET", "/api/v1/users?role=paralegal&status=active", Some(&admin), None).await);
    assert!(paralegals.is_empty(), "{paralegals:?}");
});
