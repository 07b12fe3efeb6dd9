//! Headers on every HTTPS response: HSTS, a strict CSP with a fresh nonce, and the rest of
//! the usual hardening. Only static assets may be cached; everything else is `no-store`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{self, HeaderName, HeaderValue};

use crate::HttpSettings;
use std::sync::Arc;

/// Marks a response whose own `Content-Security-Policy` (stricter than the pages': a
/// document's preview) is kept; any other response's is replaced by the pages' policy.
#[derive(Debug, Clone, Copy)]
pub struct OwnPolicy;

/// The nonce of this response's CSP, for templates that emit `<script nonce=…>`.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

pub const STATIC_PREFIX: &str = "/static/";

pub async fn security_headers(
    State(settings): State<Arc<HttpSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = fresh_nonce();
    let is_static = request.uri().path().starts_with(STATIC_PREFIX);
    if let Some(nonce) = &nonce {
        request.extensions_mut().insert(CspNonce(nonce.clone()));
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();

    let hsts = if settings.hsts_preload {
        "max-age=63072000; includeSubDomains; preload"
    } else {
        "max-age=63072000; includeSubDomains"
    };
    let nonce_source = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'self'{nonce_source}; style-src 'self'{nonce_source}; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    let fixed: [(HeaderName, &str); 6] = [
        (header::STRICT_TRANSPORT_SECURITY, hsts),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // A response marked as bringing a policy of its own (a document's preview: stricter,
    // with a sandbox) keeps it; every other gets the pages' policy, whatever it carried.
    let own = response.extensions().get::<OwnPolicy>().is_some();
    let headers = response.headers_mut();
    if !own && let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    if !(is_static && headers.contains_key(header::CACHE_CONTROL)) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// 144 bits from the OS CSPRNG; `None` if it fails, and then the CSP allows no inline
/// script or style at all rather than a guessable nonce.
fn fresh_nonce() -> Option<String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).ok()?;
    Some(STANDARD.encode(bytes))
}
