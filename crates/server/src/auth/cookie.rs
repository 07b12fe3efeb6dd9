//! The browser session cookie and its CSRF token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use ringfence_crypto::token::SecretToken;
use time::Duration;

/// `__Host-`: only set over HTTPS, for this host alone, with `Path=/`.
pub const SESSION_COOKIE: &str = "__Host-ringfence-session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: derived from its secret token, so only a page that was
/// handed it can send it, and a cross-site form cannot.
pub fn csrf_token(session_token: &SecretToken) -> String {
    let mut input = b"ringfence.csrf.v1".to_vec();
    input.extend_from_slice(session_token.expose().as_bytes());
    URL_SAFE_NO_PAD.encode(ringfence_crypto::sha256(&input))
}

/// What pages need of the request's cookie session: the CSRF token for their forms, and
/// the idle timeout, after which the page itself goes back to signing in.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    pub csrf: String,
    pub idle_seconds: i64,
}

/// The largest urlencoded body that is a form of ours: a note of the longest length the API
/// accepts, every character of it percent-encoded as four UTF-8 bytes (`%XX` each), and
/// room for the other fields. Any larger body is refused unread.
pub const MAX_FORM_BYTES: usize = crate::app::notes::MAX_NOTE_CHARS * 12 + 64 * 1024;

/// Reads the `_csrf` field of an urlencoded form, handing back the request with its body
/// intact for the handler. Any other body has no token.
pub async fn csrf_from_form(request: axum::extract::Request) -> (Option<String>, axum::extract::Request) {
    let is_form = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (None, request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (None, axum::extract::Request::from_parts(parts, axum::body::Body::empty()));
    };
    let token = form_urlencoded::parse(&bytes).find(|(name, _)| name == "_csrf").map(|(_, v)| v.into_owned());
    (token, axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// The operator's session cookie: apart from any firm's, so one browser may hold both.
pub const OPERATOR_COOKIE: &str = "__Host-ringfence-operator";

/// A session cookie `name` (one of the `__Host-` names above) holding `value`.
pub fn set_named_session(name: &str, value: &str, lifetime: Duration) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        lifetime.whole_seconds()
    ))
    .ok()
}

fn clear_named(name: &'static str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn set_session(value: &str, lifetime: Duration) -> Option<HeaderValue> {
    set_named_session(SESSION_COOKIE, value, lifetime)
}

pub fn clear_session() -> HeaderValue {
    clear_named(SESSION_COOKIE)
}

pub fn set_operator_session(value: &str, lifetime: Duration) -> Option<HeaderValue> {
    set_named_session(OPERATOR_COOKIE, value, lifetime)
}

pub fn clear_operator_session() -> HeaderValue {
    clear_named(OPERATOR_COOKIE)
}

/// The session cookie's value in a `Cookie` header, if present.
pub fn session_from(cookie_header: &str) -> Option<&str> {
    named_from(cookie_header, SESSION_COOKIE)
}

/// The value of the cookie `name` in a `Cookie` header, if present.
pub fn named_from<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(found, value)| (found == name).then_some(value))
}

/// `response`, clearing the browser's session cookie.
pub fn signed_out(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(http::header::SET_COOKIE, clear_session());
    response
}
