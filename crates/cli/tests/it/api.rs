//! The JSON API of a running server as a client program sees it: requests with the
//! session's bearer token, and the sign-in journey (password, then the code from the
//! outbox) that gives one.

use reqwest::{Method, RequestBuilder};
use ringfence_testkit::TestEnv;
use serde_json::{Value, json};

use super::Server;

/// A client of one running server, signed in or not.
pub struct Api {
    client: reqwest::Client,
    origin: String,
    token: Option<String>,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api { client: server.client(), origin: server.url(""), token: None }
    }

    /// Signs in with the password and the code just mailed to the user.
    pub async fn sign_in(server: &Server, env: &TestEnv, email: &str, password: &str) -> Api {
        let mut api = Api::new(server);
        let (status, login) =
            api.post("/api/v1/auth/login", json!({ "email": email, "password": password })).await;
        assert_eq!(status, 200, "{login}");
        let verify =
            json!({ "challenge_id": login["challenge_id"], "factor": "email", "code": latest_code(env) });
        let (status, session) = api.post("/api/v1/auth/verify", verify).await;
        assert_eq!(status, 200, "{session}");
        api.token = Some(session["token"].as_str().expect("a session token").to_owned());
        api
    }

    /// A request to `path`, carrying the session's token once signed in.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.origin));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        answer(self.request(Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        answer(self.request(Method::PATCH, path).json(&body)).await
    }
}

/// The status and JSON body (null when empty) of a request that must get an answer.
async fn answer(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("response body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
}

/// The sign-in code in the newest mail of the outbox.
pub fn latest_code(env: &TestEnv) -> String {
    let mail = ringfence_testkit::outbox(env.data_dir()).pop().expect("a mail in the outbox");
    let line = mail.lines().find(|l| l.starts_with("Your Ringfence sign-in code is ")).expect("code line");
    line.rsplit(' ').next().expect("a code").trim().to_owned()
}

/// The invitation token in `ringfence firm create`'s printed link.
pub fn printed_invitation(printed: &str) -> String {
    printed.lines().find_map(|l| l.trim().split("/invite#").nth(1)).expect("invitation link").to_owned()
}

/// Lets the signed-in administrator practise too (an administrator alone may not open
/// matters), and opens a matter for a new client: its id.
pub async fn practising_matter(api: &Api) -> String {
    let (status, me) = api.get("/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    let user = me["user"]["id"].as_str().expect("user id");
    let (status, body) =
        api.patch(&format!("/api/v1/users/{user}"), json!({ "roles": ["admin", "attorney"] })).await;
    assert_eq!(status, 200, "{body}");
    let (status, client) =
        api.post("/api/v1/clients", json!({ "name": "Acme Co", "kind": "organisation" })).await;
    assert_eq!(status, 201, "{client}");
    let matter = json!({ "title": "Acme v Others", "client_id": client["id"] });
    let (status, matter) = api.post("/api/v1/matters", matter).await;
    assert_eq!(status, 201, "{matter}");
    matter["id"].as_str().expect("matter id").to_owned()
}

/// The start of a multipart upload form up to the first byte of its `file` part.
pub fn file_part_head(boundary: &str, file_name: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
}
