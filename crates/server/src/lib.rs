//! Ringfence's HTTP side: the route table with each route's access policy, the JSON error
//! contract, security middleware, and serving over TLS with a redirect-only HTTP listener.

pub mod access;
pub mod acme;
mod api;
pub mod app;
mod audit;
pub mod audit_shipping;
pub mod auth;
mod client;
mod edge;
pub mod error;
pub mod extractor;
pub mod forwarded;
pub mod jobs;
pub mod malware;
mod middleware;
pub mod openapi;
pub(crate) mod pages;
mod passwords;
pub mod pdf_pages;
mod refusals;
mod routes;
pub mod serve;
mod state;
pub mod tls;

#[cfg(test)]
mod layering_tests;

pub use middleware::security_headers::CspNonce;
pub use routes::{app, route_table, with_common_layers};
pub use state::{AppState, HttpSettings};
