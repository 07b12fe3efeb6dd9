//! Every request gets an id (echoed as `X-Request-Id`, carried by its log span), and a
//! panic in a handler becomes a plain 500 with that id: no detail leaves the server.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderValue, StatusCode};
use tracing::Instrument;
use uuid::Uuid;

use crate::error::ApiError;

/// The request's id, for handlers that record it (audit entries).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn request_context(mut request: Request, next: Next) -> Response {
    let id = Uuid::new_v4().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    // The path only: query strings may carry tokens.
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let outcome = AssertUnwindSafe(next.run(request).instrument(span.clone())).catch_unwind().await;
    let mut response = match outcome {
        Ok(response) => response,
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("internal error; request id {id}"),
            )
            .into_response()
        }
    };
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
