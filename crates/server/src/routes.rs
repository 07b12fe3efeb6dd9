//! The route table, top to bottom: every route with the access policy that guards it.

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use ringfence_core::policy::AccessPolicy::Public;

use crate::AppState;
use crate::access::RouteTable;
use crate::api::health;
use crate::error::{method_not_allowed, unknown_route};
use crate::middleware::request_context::request_context;
use crate::middleware::security_headers::security_headers;

pub fn route_table() -> RouteTable<AppState> {
    RouteTable::new()
        .get("/healthz", Public, health::healthz)
        .get("/readyz", Public, health::readyz)
}

/// The whole HTTPS application.
pub fn app(state: AppState) -> Router {
    with_common_layers(route_table(), state)
}

/// Wraps a route table in what every response gets: JSON errors for unknown routes and
/// methods, security headers, the request id and panic containment.
pub fn with_common_layers(table: RouteTable<AppState>, state: AppState) -> Router {
    table
        .into_router()
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.settings.clone(), security_headers))
        .layer(from_fn(request_context))
        .with_state(state)
}
