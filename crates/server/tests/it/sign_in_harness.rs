//! A firm, its users and a client that signs in through the real HTTP API.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use ringfence_core::firm::{FirmName, FirmSlug};
use ringfence_core::user::Email;
use ringfence_server::app;
use ringfence_store::NewFirm;
use serde_json::{Value, json};

use super::*;

pub const ADMIN_EMAIL: &str = "ada@firm.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub env: TestEnv,
    pub state: AppState,
    pub clock: Arc<TestClock>,
    pub firm: ringfence_core::ids::FirmId,
    pub ip: SocketAddr,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: http::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A multipart/form-data body: `fields` first, then the file. Returns (content type, body).
/// The name a test user gets: their address's local part, capitalised ("para@…" is Para).
pub fn person_named(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut chars = local.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

pub fn multipart(name: &str, bytes: &[u8], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = format!("ringfence-test-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (field, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/html\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Harness {
    pub async fn new(env: TestEnv) -> Self {
        let clock = Arc::new(TestClock::default());
        let state = state_with_clock(&env, false, clock.clone()).await;
        let hash = ringfence_crypto::password::hash(ADMIN_PASSWORD).unwrap();
        let created = state
            .storage
            .create_firm(
                NewFirm {
                    slug: FirmSlug::parse("firm").unwrap(),
                    name: FirmName::parse("The Firm").unwrap(),
                    admin_email: Email::parse(ADMIN_EMAIL).unwrap(),
                    admin_name: Some("Ada Admin"),
                    admin_password_hash: Some(hash),
                },
                clock.now(),
            )
            .await
            .unwrap();
        Self { env, state, clock, firm: created.firm.id, ip: "203.0.113.7:50000".parse().unwrap() }
    }

    /// Sends a request from this harness's client address.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        let body = match body {
            Some(body) => {
                all.push(("content-type", "application/json"));
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        Self::reply(self.respond(method, path, token, body, &all).await).await
    }

    /// Sends any body and hands back the raw response (for downloads and streams).
    pub async fn respond(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> axum::response::Response {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.ip));
        send(app(self.state.clone()), request).await
    }

    /// Uploads `bytes` as the `file` of a multipart form, with any other `fields`.
    pub async fn upload(
        &self,
        path: &str,
        token: &str,
        name: &str,
        bytes: &[u8],
        fields: &[(&str, &str)],
    ) -> Reply {
        let (content_type, body) = multipart(name, bytes, fields);
        let headers = [("content-type", content_type.as_str())];
        Self::reply(self.respond("POST", path, Some(token), Body::from(body), &headers).await).await
    }

    pub async fn reply(response: axum::response::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply { status, body, headers }
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.call("POST", "/api/v1/auth/login", None, Some(json!({ "email": email, "password": password })))
            .await
    }

    pub async fn verify(&self, challenge: &str, factor: &str, code: &str) -> Reply {
        let body = json!({ "challenge_id": challenge, "factor": factor, "code": code });
        self.call("POST", "/api/v1/auth/verify", None, Some(body)).await
    }

    /// Password, then the emailed code read from the outbox: a session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let login = self.login(email, password).await;
        assert_eq!(login.status, 200, "{}", login.body);
        let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
        let code = self.latest_code(email);
        let verified = self.verify(&challenge, "email", &code).await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        verified.body["token"].as_str().unwrap().to_owned()
    }

    pub fn outbox(&self) -> Vec<String> {
        ringfence_testkit::outbox(self.env.data_dir())
    }

    /// The newest mail to `email`.
    pub fn latest_mail(&self, email: &str) -> String {
        self.outbox()
            .into_iter()
            .rev()
            .find(|text| text.lines().any(|l| l.starts_with("To: ") && l.contains(email)))
            .unwrap_or_else(|| panic!("no mail to {email}"))
    }

    /// The 6-digit code in the newest mail to `email`.
    pub fn latest_code(&self, email: &str) -> String {
        let mail = self.latest_mail(email);
        let line =
            mail.lines().find(|l| l.starts_with("Your Ringfence sign-in code is ")).expect("code line");
        line.trim_start_matches("Your Ringfence sign-in code is ").trim().to_owned()
    }

    /// Invites a user as the admin and accepts the invitation with `password`.
    pub async fn add_user(&self, admin_token: &str, email: &str, roles: &[&str], password: &str) {
        let created = self
            .call(
                "POST",
                "/api/v1/users",
                Some(admin_token),
                Some(json!({ "email": email, "name": person_named(email), "roles": roles })),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let token = self.invitation_token(email);
        let accepted = self
            .call(
                "POST",
                "/api/v1/auth/accept-invite",
                None,
                Some(json!({ "token": token, "password": password })),
            )
            .await;
        assert_eq!(accepted.status, 204, "{}", accepted.body);
    }

    /// A signed-in user added by the admin: the session token.
    pub async fn signed_in_user(&self, admin_token: &str, email: &str, roles: &[&str]) -> String {
        const PASSWORD: &str = "a long shared test passphrase";
        self.add_user(admin_token, email, roles, PASSWORD).await;
        self.sign_in(email, PASSWORD).await
    }

    /// A new client and a matter for it opened by `token` (its lead), with `matter`'s
    /// fields: the matter's id.
    /// The id of the firm's user with this address, as the users API lists it.
    pub async fn user_id(&self, admin_token: &str, email: &str) -> String {
        let listed = self.call("GET", "/api/v1/users?limit=500", Some(admin_token), None).await;
        let users = listed.body["items"].as_array().cloned().unwrap_or_default();
        let user = users.iter().find(|u| u["email"] == email).unwrap_or_else(|| panic!("no user {email}"));
        user["id"].as_str().unwrap().to_owned()
    }

    pub async fn open_matter(&self, token: &str, client: Value, mut matter: Value) -> String {
        let client = self.call("POST", "/api/v1/clients", Some(token), Some(client)).await;
        assert_eq!(client.status, 201, "{}", client.body);
        matter["client_id"] = client.body["id"].clone();
        let matter = self.call("POST", "/api/v1/matters", Some(token), Some(matter)).await;
        assert_eq!(matter.status, 201, "{}", matter.body);
        matter.body["id"].as_str().unwrap().to_owned()
    }

    /// A connection to the firm's database past the application (and row security).
    pub async fn raw_firm(&self) -> sqlx::AnyConnection {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        sqlx::any::install_default_drivers();
        match self.env.database_url() {
            None => {
                let path = self.env.data_dir().join("firms").join(self.firm.to_string()).join("firm.db");
                sqlx::AnyConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap()
            }
            Some(url) => {
                let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
                let schema = format!("firm_{}", self.firm.simple());
                conn.execute(AssertSqlSafe(format!(r#"SET search_path TO "{schema}""#))).await.unwrap();
                conn
            }
        }
    }

    pub fn invitation_token(&self, email: &str) -> String {
        let mail = self.latest_mail(email);
        let link = mail.lines().find(|l| l.contains("/invite#")).expect("invitation link");
        link.split("/invite#").nth(1).unwrap().trim().to_owned()
    }
}
