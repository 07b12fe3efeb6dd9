//! PostgreSQL goes away under a running server and comes back: meanwhile every request is
//! answered at once with a 503 in the error contract's shape (never a hang or a 500), and
//! afterwards the server serves again on its own, with its sessions intact.

use std::time::Duration;

use ringfence_testkit::PrivatePostgres;
use serde_json::{Value, json};

use super::*;

const ADMIN: &str = "ops@outage.example";
const PASSWORD: &str = "the lights went out twice";

/// Status and JSON body of a GET, token or not.
async fn get(client: &reqwest::Client, url: String, token: Option<&str>) -> (u16, Value) {
    let request = match token {
        Some(token) => client.get(url).bearer_auth(token),
        None => client.get(url),
    };
    let response = request.send().await.expect("an answer, not a hang");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_during_a_postgresql_outage_get_503_and_the_server_recovers_on_its_own() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let url = postgres.url();
    let data_dir = tempfile::tempdir().unwrap();
    let mut create = ringfence_at(data_dir.path(), Some(&url));
    create.args([
        "firm",
        "create",
        "--name",
        "Outage",
        "--slug",
        "outage",
        "--admin-email",
        ADMIN,
        "--admin-password-stdin",
    ]);
    let created = run(create, Some(&format!("{PASSWORD}\n")));
    assert!(created.status.success(), "{}", stderr(&created));

    let server =
        Server::spawn(ringfence_at(data_dir.path(), Some(&url)), data_dir.path(), "127.0.0.1:0", &[]);
    let client = server.client();
    let login = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let challenge = login.json::<Value>().await.unwrap()["challenge_id"].clone();
    let mail = ringfence_testkit::outbox(data_dir.path()).pop().expect("the sign-in code");
    let code = mail.lines().find_map(|l| l.strip_prefix("Your Ringfence sign-in code is ")).unwrap().trim();
    let verified = client
        .post(server.url("/api/v1/auth/verify"))
        .json(&json!({ "challenge_id": challenge, "factor": "email", "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let token = verified.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(get(&client, server.url("/readyz"), None).await.0, 200);
    assert_eq!(get(&client, server.url("/api/v1/matters"), Some(&token)).await.0, 200);

    postgres.stop();
    for _ in 0..3 {
        let (status, body) = get(&client, server.url("/readyz"), None).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "not_ready", "{body}");
        let (status, body) = get(&client, server.url("/api/v1/matters"), Some(&token)).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("try again")), "{body}");
    }

    postgres.start_again();
    // The server reconnects by itself; a load balancer's probe sees it ready again.
    let mut polls = 0;
    loop {
        polls += 1;
        let (status, body) = get(&client, server.url("/readyz"), None).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(polls < 120, "not ready again after {polls} polls: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, body) = get(&client, server.url("/api/v1/matters"), Some(&token)).await;
    assert_eq!(status, 200, "the session outlived the outage: {body}");
}
