//! Several servers behind a load balancer: two real `ringfence serve` processes, each with
//! a data directory of its own, on one PostgreSQL database and one S3 bucket, with the
//! master key from the environment. One user's whole journey alternates between them
//! request by request, so nothing may live in one server's memory alone.

use std::path::Path;

use ringfence_crypto::MasterKey;
use ringfence_store::blobs::BlobLocation;
use ringfence_testkit::{Backend, TestEnv};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::*;

const ADMIN: &str = "lead@twofold.example";
const PASSWORD: &str = "two servers share one ledger";

/// The shared blob store's `--blob-store`: S3 (a local directory both use, outside CI when
/// no S3 is configured).
fn shared_blob_store(env: &TestEnv) -> String {
    match ringfence_testkit::s3_location() {
        Some(BlobLocation::S3(url)) => url,
        _ => format!("local:{}", env.data_dir().join("shared-blobs").display()),
    }
}

/// A server with its own data directory, on the test's database and the shared blob store.
fn start_server(env: &TestEnv, data_dir: &Path, master_key: &str, blob_store: &str) -> Server {
    let mut command = ringfence_at(data_dir, env.database_url());
    command.env("RINGFENCE_MASTER_KEY", master_key);
    Server::spawn(command, data_dir, "127.0.0.1:0", &["--blob-store", blob_store])
}

struct Caller {
    http: reqwest::Client,
    token: Option<String>,
}

impl Caller {
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    async fn post(&self, server: &Server, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(server.url(path)).json(&body)).await
    }

    async fn get(&self, server: &Server, path: &str) -> (u16, Value) {
        self.send(self.http.get(server.url(path))).await
    }
}

/// The code in the newest mail of a server's outbox.
fn latest_code(data_dir: &Path) -> String {
    let mail = ringfence_testkit::outbox(data_dir).pop().expect("a mail in the outbox");
    let line = mail.lines().find(|l| l.starts_with("Your Ringfence sign-in code is ")).expect("code line");
    line.rsplit(' ').next().unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_journey_alternating_between_two_servers_on_one_database() {
    let Some(env) = TestEnv::new(Backend::Postgres).await else {
        return;
    };
    let master_key = MasterKey::generate().unwrap().to_base64();
    let blob_store = shared_blob_store(&env);
    let (dir_a, dir_b) = (TempDir::new().unwrap(), TempDir::new().unwrap());

    let mut create = ringfence_at(dir_a.path(), env.database_url());
    create.env("RINGFENCE_MASTER_KEY", master_key.as_str()).args([
        "firm",
        "create",
        "--name",
        "Twofold",
        "--slug",
        "twofold",
        "--admin-email",
        ADMIN,
    ]);
    let created = run(create, None);
    assert!(created.status.success(), "{}", stderr(&created));
    let invitation = stdout(&created)
        .lines()
        .find_map(|l| l.trim().split("/invite#").nth(1).map(str::to_owned))
        .expect("invitation link");

    let a = start_server(&env, dir_a.path(), &master_key, &blob_store);
    let b = start_server(&env, dir_b.path(), &master_key, &blob_store);
    assert!(!dir_b.path().join("master.key").exists(), "the key comes from the environment only");
    // Each server trusts its own self-signed certificate; one client per server, one token.
    let mut on_a = Caller { http: a.client(), token: None };
    let mut on_b = Caller { http: b.client(), token: None };

    let (status, body) = on_a
        .post(&a, "/api/v1/auth/accept-invite", json!({ "token": invitation, "password": PASSWORD }))
        .await;
    assert_eq!(status, 204, "accept on A: {body}");

    let (status, login) =
        on_a.post(&a, "/api/v1/auth/login", json!({ "email": ADMIN, "password": PASSWORD })).await;
    assert_eq!(status, 200, "sign in on A: {login}");
    // A mailed the code (into its own outbox); B checks it.
    let verify = json!({ "challenge_id": login["challenge_id"], "factor": "email", "code": latest_code(dir_a.path()) });
    let (status, session) = on_b.post(&b, "/api/v1/auth/verify", verify).await;
    assert_eq!(status, 200, "second factor on B: {session}");
    let token = session["token"].as_str().unwrap().to_owned();
    on_a.token = Some(token.clone());
    on_b.token = Some(token);

    // The administrator takes on an attorney's role too, to open matters.
    let (status, me) = on_a.get(&a, "/api/v1/me").await;
    assert_eq!(status, 200, "me on A: {me}");
    let roles = json!({ "roles": ["admin", "attorney"] });
    let user = b.url(&format!("/api/v1/users/{}", me["user"]["id"].as_str().unwrap()));
    let (status, body) = on_b.send(on_b.http.patch(user).json(&roles)).await;
    assert_eq!(status, 200, "roles on B: {body}");

    let (status, client) =
        on_a.post(&a, "/api/v1/clients", json!({ "name": "Harbour Trust", "kind": "organisation" })).await;
    assert_eq!(status, 201, "client on A: {client}");
    let (status, matter) = on_a
        .post(&a, "/api/v1/matters", json!({ "title": "Mooring dispute", "client_id": client["id"] }))
        .await;
    assert_eq!(status, 201, "matter on A: {matter}");
    let matter = matter["id"].as_str().unwrap().to_owned();

    let note =
        json!({ "kind": "note", "body": "The quartermaster kept a second ledger", "privileged": false });
    let (status, note) = on_b.post(&b, &format!("/api/v1/matters/{matter}/notes"), note).await;
    assert_eq!(status, 201, "note on B: {note}");

    let bytes: Vec<u8> = b"Harbour log: the tide came in twice.\n".repeat(4096);
    let boundary = "two-servers-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"harbour-log.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&bytes);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let upload = on_a
        .http
        .post(a.url(&format!("/api/v1/matters/{matter}/documents")))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(form);
    let (status, document) = on_a.send(upload).await;
    assert_eq!(status, 201, "upload on A: {document}");
    let document = document["id"].as_str().unwrap().to_owned();

    let download = on_b
        .http
        .get(b.url(&format!("/api/v1/documents/{document}/content")))
        .bearer_auth(on_b.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200, "download on B");
    assert!(download.bytes().await.unwrap() == bytes, "B serves the bytes A stored, unchanged");

    let (status, found) = on_a.get(&a, "/api/v1/search?q=quartermaster").await;
    assert_eq!(status, 200, "search on A: {found}");
    assert!(found["items"].as_array().unwrap().iter().any(|hit| hit["id"] == note["id"]), "{found}");
    let (status, found) = on_a.get(&a, "/api/v1/search?q=tide").await;
    assert_eq!(status, 200, "search on A: {found}");
    assert!(found["items"].as_array().unwrap().iter().any(|hit| hit["id"] == document.as_str()), "{found}");

    let (status, audit) = on_b.get(&b, "/api/v1/audit?limit=500").await;
    assert_eq!(status, 200, "audit log on B: {audit}");
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for done_on_a in ["user.invitation.accepted", "auth.code.sent", "matter.created", "document.uploaded"] {
        assert!(actions.contains(&done_on_a), "{done_on_a} (on A) in B's view of the log: {actions:?}");
    }
    assert!(actions.contains(&"auth.login.succeeded"), "{actions:?}");

    let (status, body) = on_a.send(on_a.http.post(a.url("/api/v1/auth/logout"))).await;
    assert_eq!(status, 204, "sign out on A: {body}");
    let (status, body) = on_b.get(&b, "/api/v1/me").await;
    assert_eq!(status, 401, "the session is gone on B too: {body}");

    let mut verify_chain = ringfence_at(dir_b.path(), env.database_url());
    verify_chain
        .env("RINGFENCE_MASTER_KEY", master_key.as_str())
        .args(["audit", "verify", "--firm", "twofold"]);
    let verified = run(verify_chain, None);
    assert!(verified.status.success(), "both servers' entries form one chain: {}", stderr(&verified));
}
