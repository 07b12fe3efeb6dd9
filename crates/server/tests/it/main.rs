//! In-process tests of the HTTP layer: the route table, the error contract, the security
//! headers, TLS versions and graceful shutdown.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod errors;
mod headers;
mod probes;
mod serving;

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::Request;
use ringfence_core::clock::{Clock, SystemClock};
use ringfence_server::{AppState, HttpSettings};
use ringfence_store::{Storage, StorageLocation};
use ringfence_testkit::TestEnv;
use tower::ServiceExt;

pub async fn state(env: &TestEnv, hsts_preload: bool) -> AppState {
    let location = match env.database_url() {
        Some(url) => StorageLocation::Postgres {
            url: url.to_owned(),
        },
        None => StorageLocation::Sqlite,
    };
    let storage = Storage::open(&location, env.data_dir(), None, SystemClock.now())
        .await
        .expect("storage opens");
    AppState {
        storage: Arc::new(storage),
        clock: Arc::new(SystemClock),
        settings: Arc::new(HttpSettings { hsts_preload }),
    }
}

pub async fn send(app: axum::Router, request: Request<Body>) -> Response {
    app.oneshot(request).await.expect("infallible")
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

pub async fn json_body(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}
