use axum::http::StatusCode;
use ringfence_core::policy::AccessPolicy;
use ringfence_server::access::RouteTable;
use ringfence_server::error::ApiJson;
use ringfence_server::{app, route_table, with_common_layers};
use ringfence_testkit::{TestEnv, both_backends};
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Signup {
    email: String,
    age: u32,
}

async fn signup(ApiJson(_): ApiJson<Signup>) -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn explode() -> StatusCode {
    panic!("the client must never see this: privileged detail")
}

/// A router built the only way routes can be built, with two routes of its own.
fn test_app(state: AppState) -> axum::Router {
    let table = RouteTable::new().post("/test/signup", ringfence_server::access::PUBLIC, signup).get(
        "/test/explode",
        ringfence_server::access::PUBLIC,
        explode,
    );
    with_common_layers(table, state)
}

fn post_json(path: &str, body: &str) -> Request<Body> {
    Request::post(path).header("content-type", "application/json").body(Body::from(body.to_owned())).unwrap()
}

async fn assert_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(response.headers().contains_key("x-request-id"));
    let body = json_body(response).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().expect("message").to_owned()
}

both_backends!(unknown_routes_get_the_json_404, |env: TestEnv| async move {
    let response = send(app(state(&env, false).await), get("/api/v1/nothing-here")).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
});

both_backends!(wrong_methods_get_the_json_405, |env: TestEnv| async move {
    let response = send(app(state(&env, false).await), post_json("/healthz", "{}")).await;
    assert_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
});

both_backends!(malformed_json_is_a_400_naming_the_problem, |env: TestEnv| async move {
    let state = state(&env, false).await;
    let syntax = send(test_app(state.clone()), post_json("/test/signup", "{\"email\": ")).await;
    assert_error(syntax, StatusCode::BAD_REQUEST, "invalid_input").await;

    let missing =
        send(test_app(state.clone()), post_json("/test/signup", "{\"email\": \"a@b.example\"}")).await;
    let message = assert_error(missing, StatusCode::BAD_REQUEST, "invalid_input").await;
    assert!(message.contains("age"), "{message}");

    let wrong_type = send(
        test_app(state.clone()),
        post_json("/test/signup", "{\"email\": \"a@b.example\", \"age\": \"x\"}"),
    )
    .await;
    let message = assert_error(wrong_type, StatusCode::BAD_REQUEST, "invalid_input").await;
    assert!(message.contains("age"), "{message}");

    let not_json = Request::post("/test/signup").body(Body::from("email=a")).unwrap();
    assert_error(
        send(test_app(state.clone()), not_json).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let fine =
        send(test_app(state), post_json("/test/signup", "{\"email\": \"a@b.example\", \"age\": 40}")).await;
    assert_eq!(fine.status(), StatusCode::NO_CONTENT);
});

both_backends!(a_panicking_handler_is_a_bare_500_with_the_request_id, |env: TestEnv| async move {
    let response = send(test_app(state(&env, false).await), get("/test/explode")).await;
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let message = assert_error(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    assert!(message.contains(&request_id), "{message}");
    assert!(!message.contains("privileged"), "{message}");
});

#[test]
fn every_route_declares_an_access_policy() {
    let table = route_table();
    println!("route table ({} routes):", table.specs().len());
    for spec in table.specs() {
        println!("  {} {} -> {}", spec.method, spec.path, spec.policy.describe());
    }
    let public: Vec<_> =
        table.specs().iter().filter(|s| s.policy == AccessPolicy::Public).map(|s| s.path).collect();
    // Public routes are an explicit, short list: adding one is a reviewed decision.
    assert_eq!(
        public,
        [
            "/healthz",
            "/readyz",
            "/",
            "/assets/app.css",
            "/assets/app.js",
            "/assets/favicon.svg",
            "/favicon.ico",
            "/sign-in",
            "/sign-in",
            "/sign-in/code",
            "/invite",
            "/invite",
            "/forgot-password",
            "/forgot-password",
            "/reset",
            "/reset",
            "/operator/sign-in",
            "/operator/sign-in",
            "/api/v1/operator/sign-in",
            "/api/v1/openapi.json",
            "/api/v1/auth/login",
            "/api/v1/auth/verify",
            "/api/v1/auth/resend-code",
            "/api/v1/auth/accept-invite",
            "/api/v1/auth/passkey-options",
            "/api/v1/auth/passkey/start",
            "/api/v1/auth/passkey/finish",
            "/api/v1/auth/password-reset",
            "/api/v1/auth/password-reset/factors",
            "/api/v1/auth/password-reset/passkey-options",
            "/api/v1/auth/password-reset/complete"
        ]
    );
}

// The route table takes a handler needing a matter proof only on a route declared for that
// action (`access::Matter` shows it at compile time); a handler mounted otherwise, on a
// route that names no matter, refuses at run time instead of acting unguarded.
both_backends!(a_matter_handler_on_a_route_not_declared_for_it_refuses, |env: TestEnv| async move {
    use ringfence_core::ids::MatterId;
    use ringfence_server::app::access::On;
    use ringfence_store::firm::access::Edit;
    async fn rename(on: On<Edit, MatterId>) -> String {
        on.id().to_string()
    }
    let table = RouteTable::new().get("/test/matters/{id}", ringfence_server::access::PUBLIC, rename);
    let path = format!("/test/matters/{}", uuid::Uuid::new_v4());
    let response = send(with_common_layers(table, state(&env, false).await), get(&path)).await;
    let message = assert_error(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    assert!(!message.contains("Edit"), "the cause stays in the log: {message}");
});
