//! Hostile input for every route in the route table, through a real HTTPS server, on both
//! backends. Each path parameter, each query parameter and each body field gets hostile
//! values (NUL and other control characters, bidi overrides, megabyte strings, wrong types,
//! huge numbers, odd encodings, id look-alikes). The parameters are generated, not listed:
//! the route table gives the paths, and each route's own answer to an unknown field names
//! the fields it takes (`unknown field `x`, expected one of …`), or the first it misses.
//! No answer may be a 5xx, nothing may panic, and every refusal of a signed-in caller must
//! be in the firm's audit log, found by its request id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use http::Method;
use ringfence_core::policy::AccessPolicy;
use ringfence_core::principal::Principal;
use ringfence_core::user::FirmRole;
use ringfence_server::tls::TlsMin;
use ringfence_server::{app, route_table};
use ringfence_store::firm::audit::{self as audit_log, AuditFilter};
use ringfence_testkit::{TestEnv, both_backends, https_client};
use serde_json::{Value, json};

use super::serving::start;
use super::sign_in_harness::*;

const PASSWORD: &str = "a long shared test passphrase";
/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// Values every parameter is given; `id` is a real id, spelt in the ways a parser may take.
fn hostile_values(id: &str) -> Vec<String> {
    vec![
        "\0".to_owned(),
        "a\0b".to_owned(),
        "\u{1}\u{8}\u{1b}[31m\u{7f}\u{85}".to_owned(),
        "\u{202e}gpj.exe\u{202c}\u{2066}\u{200f}".to_owned(),
        "\r\nSet-Cookie: x=y".to_owned(),
        "x".repeat(2 * 1024),
        "-1".to_owned(),
        "0".to_owned(),
        "99999999999999999999999999999999".to_owned(),
        "1e309".to_owned(),
        "NaN".to_owned(),
        "../../../../etc/passwd".to_owned(),
        "%00%ff%c0%80".to_owned(),
        "\u{fffd}\u{feff}😀".to_owned(),
        format!("URN:UUID:{}", id.to_uppercase()),
        format!("{{{id}}}"),
        id.replace('-', ""),
        format!("{id}\0"),
        "00000000-0000-0000-0000-000000000000".to_owned(),
        String::new(),
        "' OR '1'='1' --".to_owned(),
        "<script>alert(1)</script>".to_owned(),
    ]
}

/// JSON values of the wrong shape for any field.
fn wrong_types() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(18_446_744_073_709_551_615_u64),
        json!(1.5e300),
        json!([]),
        json!(["\u{0}"]),
        json!({ "nested": { "deeper": [1, 2, 3] } }),
        json!("x".repeat(1 << 20)),
    ]
}

/// A plausible value for a field, so that each hostile value of another field reaches the
/// handler rather than stopping at the first field.
fn plausible(field: &str, ids: &Ids) -> Value {
    match field {
        "kind" => json!("note"),
        "privileged" | "disabled" | "locked" | "cookie" => json!(false),
        "role" => json!("member"),
        "roles" => json!(["attorney"]),
        "months" => json!(24),
        "email" => json!("nobody@elsewhere.example"),
        "password" | "current_password" | "new_password" => json!(PASSWORD),
        "client_id" => json!(ids.client),
        "user_id" => json!(ids.victim),
        "time_zone" | "zone" => json!("Africa/Johannesburg"),
        "factors" | "allowed" => json!(["email", "totp"]),
        "idle_minutes" => json!(30),
        "days" => json!(30),
        "outcome" => json!("refused"),
        _ => json!("plain text"),
    }
}

struct Ids {
    matter: String,
    note: String,
    document: String,
    client: String,
    victim: String,
    subject_request: String,
}

impl Ids {
    /// The real id a route's `{param}` stands for.
    fn for_param(&self, template: &str, param: &str) -> String {
        let about = |prefix: &str| template.contains(prefix);
        match param {
            "{user_id}" => self.victim.clone(),
            // An export: never one of the caller's own (downloading it would end it).
            "{export_id}" => uuid::Uuid::new_v4().to_string(),
            _ if about("/matters/{id}") => self.matter.clone(),
            _ if about("/notes/{id}") => self.note.clone(),
            _ if about("/documents/{id}") => self.document.clone(),
            _ if about("/clients/{id}") => self.client.clone(),
            _ if about("/data-subject-requests/{id}") || about("/data-subjects/{id}") => {
                self.subject_request.clone()
            }
            _ if about("/users/{id}") => self.victim.clone(),
            // Sessions and passkeys: never one of the caller's own.
            _ => uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Percent-encodes every byte but the unreserved ones.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn fill(template: &str, ids: &Ids, hostile: Option<(&str, &str)>) -> String {
    template
        .split('/')
        .map(|part| {
            if !part.starts_with('{') {
                return part.to_owned();
            }
            match hostile {
                Some((param, value)) if param == part => encode(value),
                _ => ids.for_param(template, part),
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(&'static str, Vec<u8>),
}

struct Probe {
    method: Method,
    path: String,
    body: Body,
    signed_in: bool,
}

/// Routes that may end the caller's session: run one at a time, after the others, so no
/// request is sent on a session another has just ended.
fn ends_sessions(template: &str) -> bool {
    [
        "/sign-out",
        "/account/sessions",
        "/account/password",
        "/api/v1/auth/logout",
        "/api/v1/me/sessions",
        "/api/v1/me/password",
    ]
    .iter()
    .any(|prefix| template.starts_with(prefix))
}

/// Who sends a route's requests: a caller whose firm role the route admits, so the values
/// reach the handler.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    Lead,
    Admin,
}

fn caller_for(policy: AccessPolicy) -> Caller {
    match policy {
        AccessPolicy::Public => Caller::Anonymous,
        AccessPolicy::FirmRole(roles) if !roles.contains(&FirmRole::Attorney) => Caller::Admin,
        _ => Caller::Lead,
    }
}

struct Target {
    client: reqwest::Client,
    base: String,
    tokens: tokio::sync::Mutex<BTreeMap<Caller, String>>,
}

struct Answer {
    status: u16,
    request_id: Option<String>,
    message: String,
}

impl Target {
    async fn send(&self, h: &Harness, caller: Caller, probe: &Probe) -> Answer {
        let token = match caller {
            Caller::Anonymous => None,
            _ => self.tokens.lock().await.get(&caller).cloned(),
        };
        let mut request = self.client.request(probe.method.clone(), format!("{}{}", self.base, probe.path));
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        request = match &probe.body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Form(fields) => request.header("content-type", "application/x-www-form-urlencoded").body(
                fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            Body::Raw(content_type, bytes) => {
                request.header("content-type", *content_type).body(bytes.clone())
            }
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
        let message = response.text().await.unwrap_or_default().chars().take(300).collect();
        if status == 401 && token.is_some() {
            // The request ended its own session (signing out, say): sign in again.
            let email = if caller == Caller::Admin { ADMIN_EMAIL } else { "lead@firm.example" };
            let password = if caller == Caller::Admin { ADMIN_PASSWORD } else { PASSWORD };
            self.tokens.lock().await.insert(caller, h.sign_in(email, password).await);
        }
        Answer { status, request_id, message }
    }
}

/// The fields a route's body (JSON for the API, a form for pages) or query takes, as its
/// own answers name them.
async fn discover_fields(
    target: &Target,
    h: &Harness,
    caller: Caller,
    probe: impl Fn(&BTreeMap<String, Value>) -> Probe,
) -> Vec<String> {
    let mut known: BTreeMap<String, Value> = BTreeMap::new();
    let mut found = BTreeSet::new();
    known.insert("zz_probe".to_owned(), json!("x"));
    for _ in 0..12 {
        let answer = target.send(h, caller, &probe(&known)).await;
        let message = answer.message.replace("\\\"", "\"");
        if let Some(rest) = message.split("expected one of ").nth(1) {
            for name in rest.split('`').skip(1).step_by(2) {
                found.insert(name.to_owned());
            }
            known.remove("zz_probe");
            for name in &found {
                known.entry(name.clone()).or_insert(json!("x"));
            }
            continue;
        }
        let missing = message.split("missing field `").nth(1).and_then(|m| m.split('`').next());
        match missing {
            Some(name) if !found.contains(name) => {
                found.insert(name.to_owned());
                known.insert(name.to_owned(), json!("x"));
            }
            _ => break,
        }
    }
    found.into_iter().collect()
}

async fn hostile_input_test(env: TestEnv) {
    let previous_hook = std::panic::take_hook();
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous_hook(info);
    }));

    let h = Harness::new(env).await;
    // Exports asked for with acceptable values wait on the queue for their builds.
    h.env.expect_jobs_left("export.build");
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "lead@firm.example", &["attorney"], PASSWORD).await;
    h.add_user(&admin, "victim@firm.example", &["paralegal"], PASSWORD).await;
    let lead = h.sign_in("lead@firm.example", PASSWORD).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    let client =
        h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.body["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let note = h
        .call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&lead),
            Some(json!({ "kind": "note", "body": "settle", "privileged": false })),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let document =
        h.upload(&format!("/api/v1/matters/{matter}/documents"), &lead, "a.txt", b"text", &[]).await;
    let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
    let victim =
        users.body["items"].as_array().unwrap().iter().find(|u| u["email"] == "victim@firm.example").unwrap()
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let request = json!({ "client_id": client, "kind": "correction" });
    let subject_request =
        h.call("POST", "/api/v1/data-subject-requests", Some(&admin), Some(request)).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let ids = Ids {
        matter,
        note,
        document: document.body["id"].as_str().unwrap().to_owned(),
        client,
        victim,
        subject_request,
    };

    let running = start(&h.env, app(h.state.clone()), TlsMin::Tls12);
    let target = Target {
        client: https_client(&running.cert, None),
        base: format!("https://localhost:{}", running.https.port()),
        tokens: tokio::sync::Mutex::new(BTreeMap::from([(Caller::Lead, lead), (Caller::Admin, admin)])),
    };

    // Every route, every parameter, every value.
    let values = hostile_values(&ids.matter);
    let mut all_probes: Vec<(Caller, Probe)> = Vec::new();
    let mut last_probes: Vec<(Caller, Probe)> = Vec::new();
    for spec in route_table().specs() {
        let probes = if ends_sessions(spec.path) { &mut last_probes } else { &mut all_probes };
        let caller = caller_for(spec.policy);
        let template = spec.path;
        let signed_in = caller != Caller::Anonymous;
        let page = !template.starts_with("/api/");
        for param in template.split('/').filter(|p| p.starts_with('{')) {
            for value in &values {
                let path = fill(template, &ids, Some((param, value)));
                probes
                    .push((caller, Probe { method: spec.method.clone(), path, body: Body::None, signed_in }));
            }
        }
        let path = fill(template, &ids, None);
        if spec.method == Method::GET {
            let query_fields = discover_fields(&target, &h, caller, |known| Probe {
                method: Method::GET,
                path: format!(
                    "{path}?{}",
                    known.keys().map(|k| format!("{k}=x")).collect::<Vec<_>>().join("&")
                ),
                body: Body::None,
                signed_in,
            })
            .await;
            for field in query_fields {
                for value in &values {
                    let path = format!("{path}?{}={}", encode(&field), encode(value));
                    probes.push((caller, Probe { method: Method::GET, path, body: Body::None, signed_in }));
                }
            }
            continue;
        }
        let as_body = |fields: BTreeMap<String, Value>| {
            if page {
                Body::Form(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                        .collect(),
                )
            } else {
                Body::Json(Value::Object(fields.into_iter().collect()))
            }
        };
        let method = spec.method.clone();
        let body_fields = discover_fields(&target, &h, caller, |known| Probe {
            method: method.clone(),
            path: path.clone(),
            body: as_body(known.clone()),
            signed_in,
        })
        .await;
        let baseline: BTreeMap<String, Value> =
            body_fields.iter().map(|f| (f.clone(), plausible(f, &ids))).collect();
        for field in &body_fields {
            let mut with = |value: Value| {
                let mut fields = baseline.clone();
                fields.insert(field.clone(), value);
                probes.push((
                    caller,
                    Probe { method: method.clone(), path: path.clone(), body: as_body(fields), signed_in },
                ));
            };
            values.iter().for_each(|v| with(json!(v)));
            if !page {
                wrong_types().into_iter().for_each(&mut with);
            }
        }
        // Past what the transport reads: refused before any route, and never a 5xx.
        let long = format!("{path}?q={}", "x".repeat(32 * 1024));
        probes.push((caller, Probe { method: method.clone(), path: long, body: Body::None, signed_in }));
        for (content_type, bytes) in [
            ("application/json", b"{\"unterminated".to_vec()),
            ("application/json", vec![b'['; 100_000]),
            ("application/json", vec![0xff, 0xfe, 0x00]),
            ("application/x-www-form-urlencoded", b"a=%00&a=%ff&&=&%zz".to_vec()),
            (
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\n\0\r\n--x--".to_vec(),
            ),
            ("text/plain", "x".repeat(1 << 20).into_bytes()),
        ] {
            let body = Body::Raw(content_type, bytes);
            probes.push((caller, Probe { method: method.clone(), path: path.clone(), body, signed_in }));
        }
    }

    let sent = all_probes.len() + last_probes.len();
    let mut answers: Vec<(Probe, Answer)> = futures_util::stream::iter(all_probes)
        .map(|(caller, probe)| {
            let (target, h) = (&target, &h);
            async move {
                let answer = target.send(h, caller, &probe).await;
                (probe, answer)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (caller, probe) in last_probes {
        let answer = target.send(&h, caller, &probe).await;
        answers.push((probe, answer));
    }
    println!("hostile input: {sent} requests sent to {} routes", route_table().specs().len());

    let server_errors: Vec<String> = answers
        .iter()
        .filter(|(_, a)| a.status >= 500)
        .map(|(p, a)| {
            format!(
                "{} {} -> {} {}",
                p.method,
                p.path.chars().take(120).collect::<String>(),
                a.status,
                a.message
            )
        })
        .collect();
    assert!(
        server_errors.is_empty(),
        "{} answers were 5xx:\n{}",
        server_errors.len(),
        server_errors.join("\n")
    );
    assert_eq!(panics.load(Ordering::SeqCst), 0, "a handler panicked");

    // Every refusal of a signed-in caller is in the log.
    let store = h.state.storage.firm(h.firm).await.unwrap();
    store.flush_audit().await.unwrap();
    let mut recorded = BTreeSet::new();
    let mut before = None;
    loop {
        let mut tx = store.begin_read(&Principal::Anonymous).await.unwrap();
        let page = audit_log::list(&mut tx, &AuditFilter::default(), before, 5_000).await.unwrap();
        tx.commit().await.unwrap();
        recorded.extend(page.iter().filter_map(|e| e.request_id.clone()));
        match page.last() {
            Some(last) if page.len() == 5_000 => before = Some(last.seq),
            _ => break,
        }
    }
    let unrecorded: Vec<String> = answers
        .iter()
        // 401: the session had ended; 414 and 431: refused by the transport, before the
        // request is read, let alone its caller known.
        .filter(|(p, a)| {
            p.signed_in && (400..500).contains(&a.status) && ![401, 414, 431].contains(&a.status)
        })
        .filter(|(_, a)| !a.request_id.as_ref().is_some_and(|id| recorded.contains(id)))
        .map(|(p, a)| {
            format!("{} {} -> {}", p.method, p.path.chars().take(120).collect::<String>(), a.status)
        })
        .collect();
    assert!(unrecorded.is_empty(), "{} refusals left no trace:\n{}", unrecorded.len(), unrecorded.join("\n"));
    let _ = running.stop.send(());
}

both_backends!(every_route_withstands_hostile_input, |env: TestEnv| async move {
    hostile_input_test(env).await;
});
