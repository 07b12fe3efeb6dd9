//! In-process tests of the HTTP layer: the route table, the error contract, the security
//! headers, TLS versions and graceful shutdown.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod audit_actions;
mod authenticator;
mod backups;
mod data_subjects;
mod deletion;
mod documents;
mod errors;
mod exports;
mod extraction;
mod headers;
mod hostile;
mod jobs;
mod legal_holds;
mod matters;
mod openapi;
mod operators;
mod pages;
mod passkeys;
mod people;
mod probes;
mod proxies;
mod recovery;
mod retention;
mod rotation;
mod search;
mod security;
mod serving;
mod shipping;
mod sign_in;
mod sign_in_harness;
mod sign_in_limits;
mod termination;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use ringfence_core::auth::SessionLimits;
use ringfence_core::clock::{Clock, SystemClock};
use ringfence_mail::Mailer;
use ringfence_server::extractor::Extractor;
use ringfence_server::forwarded::TrustedProxies;
use ringfence_server::jobs::{Outcome, Ran, Worker};
use ringfence_server::{AppState, HttpSettings};
use ringfence_store::blobs::BlobStore;
use ringfence_store::{Storage, StorageLocation};
use ringfence_testkit::TestEnv;
use time::OffsetDateTime;
use tower::ServiceExt;

pub async fn state(env: &TestEnv, hsts_preload: bool) -> AppState {
    state_with_clock(env, hsts_preload, Arc::new(TestClock::default())).await
}

pub async fn state_with_clock(env: &TestEnv, hsts_preload: bool, clock: Arc<TestClock>) -> AppState {
    let location = match env.database_url() {
        Some(url) => StorageLocation::postgres(url.to_owned()),
        None => StorageLocation::Sqlite,
    };
    let storage = Storage::open(&location, env.data_dir(), None, clock.now()).await.expect("storage opens");
    let mailer = Mailer::new(None, env.data_dir(), "Ringfence <ringfence@localhost>").expect("outbox mailer");
    AppState {
        storage: Arc::new(storage),
        clock,
        settings: Arc::new(HttpSettings {
            hsts_preload,
            public_url: "https://ringfence.test".to_owned(),
            session_limits: SessionLimits::default(),
            max_upload_bytes: 64 * 1024 * 1024,
            malware_scanner: None,
            extractor: extractor(),
            trusted_proxies: TrustedProxies::default(),
        }),
        mailer: Arc::new(mailer),
        blobs: BlobStore::open(&env.blob_location()).expect("blob store opens"),
        hashing: AppState::hashing_permits(),
    }
}

/// Runs every background job due at the state's clock, as a server's worker would: tests
/// move background work along with their clock.
pub async fn run_due_jobs(state: &AppState) -> Vec<Ran> {
    let worker = Worker::new(
        state.storage.clone(),
        state.blobs.clone(),
        state.mailer.clone(),
        state.clock.clone(),
        Vec::new(),
    )
    .with_public_url(&state.settings.public_url);
    worker.run_due().await.expect("due jobs run")
}

/// The text extractor built with these tests: the same child side as `ringfence extract-text`.
pub fn extractor() -> Extractor {
    Extractor::new(env!("CARGO_BIN_EXE_ringfence-extract-text"), [] as [&str; 0])
}

/// A clock the test moves by hand: expiry is tested without sleeping.
pub struct TestClock(Mutex<OffsetDateTime>);

impl Default for TestClock {
    fn default() -> Self {
        Self(Mutex::new(SystemClock.now()))
    }
}

impl TestClock {
    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

pub async fn send(app: axum::Router, request: Request<Body>) -> Response {
    app.oneshot(request).await.expect("infallible")
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

pub async fn json_body(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}
