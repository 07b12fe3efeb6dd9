//! The OpenAPI document: its committed snapshot, the route that serves it, and that it
//! documents the route table truthfully (every API route, with the policy that guards it).

use std::collections::BTreeSet;

use ringfence_core::policy::AccessPolicy;
use ringfence_server::openapi;
use ringfence_server::route_table;
use ringfence_testkit::{Backend, TestEnv};
use serde_json::Value;

use crate::sign_in_harness::Harness;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
const REFRESH_VAR: &str = "RINGFENCE_OPENAPI_REFRESH";

fn generated() -> String {
    openapi::document().to_pretty_json().unwrap() + "\n"
}

fn document() -> Value {
    serde_json::to_value(openapi::document()).unwrap()
}

#[test]
fn snapshot_matches_the_generated_document() {
    let generated = generated();
    let refresh = std::env::var(REFRESH_VAR).is_ok_and(|v| v == "1");
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if refresh && !in_ci {
        std::fs::write(SNAPSHOT, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        let line = |text: &str| text.lines().nth(first_difference).unwrap_or("<end of file>").to_owned();
        panic!(
            "docs/openapi.json differs from the generated document, first at line {}:\n  \
             committed: {}\n  generated: {}\n\
             Refresh it with `{REFRESH_VAR}=1 cargo nextest run -p ringfence-server -E \
             'test(/openapi/)'` and review the diff.",
            first_difference + 1,
            line(&committed),
            line(&generated),
        );
    }
}

#[tokio::test]
async fn served_document_is_the_generated_one_and_openapi_3_1() {
    let h = Harness::new(TestEnv::new(Backend::Sqlite).await.unwrap()).await;
    let served = h.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(served.status, 200);
    let content_type = served.headers.get(http::header::CONTENT_TYPE).unwrap().to_str().unwrap();
    assert_eq!(content_type, "application/json");
    assert_eq!(served.body, document());
    assert_eq!(served.body["openapi"], "3.1.0");
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(served.body).unwrap();
    assert_eq!(parsed.info.title, "Ringfence");
    assert_eq!(parsed.info.version, env!("CARGO_PKG_VERSION"));
}

/// Every operation in the document, as (method, path).
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
            let item = item.as_object().unwrap();
            item.keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(|method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn every_api_route_is_documented_and_nothing_else() {
    let documented = documented(&document());
    let table = route_table();
    let routes: BTreeSet<(String, String)> = table
        .specs()
        .iter()
        .filter(|spec| spec.path.starts_with("/api/"))
        .map(|spec| (spec.method.to_string(), spec.path.to_owned()))
        .collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(missing.is_empty(), "API routes the document does not describe: {missing:?}");
    let phantom: Vec<_> = documented.difference(&routes).collect();
    assert!(phantom.is_empty(), "the document has operations no route serves: {phantom:?}");
}

/// The security requirements a route's policy calls for: none for public routes; otherwise
/// the bearer token or the cookie (with the CSRF header on state-changing methods), each
/// naming the firm roles of which the caller needs one.
fn expected_security(policy: AccessPolicy, method: &str) -> Value {
    let roles: Vec<&str> = match policy {
        AccessPolicy::Public => return Value::Null,
        AccessPolicy::FirmRole(roles) => roles.iter().map(|role| role.as_str()).collect(),
        AccessPolicy::SignedIn | AccessPolicy::Matter(_) => Vec::new(),
        AccessPolicy::Operator => {
            return if matches!(method, "GET" | "HEAD" | "OPTIONS") {
                serde_json::json!([{ "operator_bearer": [] }, { "operator_cookie": [] }])
            } else {
                serde_json::json!([{ "operator_bearer": [] }, { "operator_cookie": [], "csrf_token": [] }])
            };
        }
    };
    let cookie = if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        serde_json::json!({ "session_cookie": roles })
    } else {
        serde_json::json!({ "session_cookie": roles, "csrf_token": [] })
    };
    serde_json::json!([{ "bearer": roles }, cookie])
}

#[test]
fn documented_security_matches_each_route_policy() {
    let doc = document();
    for spec in route_table().specs() {
        let method = spec.method.as_str();
        let operation = &doc["paths"][spec.path][method.to_lowercase()];
        if operation.is_null() {
            continue;
        }
        assert_eq!(
            operation["security"],
            expected_security(spec.policy, method),
            "{method} {}: the documented security differs from its policy, {}",
            spec.path,
            spec.policy.describe()
        );
    }
}

#[test]
fn shared_error_responses_use_the_error_body() {
    let doc = document();
    let responses = doc["components"]["responses"].as_object().unwrap();
    for (name, response) in responses {
        assert_eq!(
            response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
            "{name}"
        );
    }
    let throttled = &responses["TooManyRequests"];
    assert!(throttled["headers"]["Retry-After"].is_object(), "429 names Retry-After");
    let body = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(body["required"], serde_json::json!(["error"]));
    let detail = &doc["components"]["schemas"]["ErrorDetail"];
    assert_eq!(detail["required"], serde_json::json!(["code", "message"]));
}
