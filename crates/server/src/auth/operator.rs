//! Operators' sessions: their own cookie (or an `op_` bearer token), resolved against the
//! control store, and only on the operator's paths. A firm's session is never resolved
//! there, nor an operator's anywhere else, so neither kind of caller reaches the other's
//! routes: a firm route sees an operator as someone not signed in, and the reverse.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use ringfence_core::auth::SessionLimits;
use ringfence_core::principal::{Operator, Principal};
use ringfence_crypto::token::{SecretToken, TokenHash};
use time::Duration;

use super::cookie;
use crate::AppState;
use crate::error::ApiError;

/// How long an operator's session lasts: shorter than a firm user's, the plane being
/// the deployment's.
pub const OPERATOR_SESSION_LIMITS: SessionLimits =
    SessionLimits { idle: Duration::minutes(15), absolute: Duration::hours(8) };

/// The prefix of an operator's bearer token, which no firm session token has.
pub const BEARER_PREFIX: &str = "op_";

/// True for the paths of the operator plane: its pages and its API.
pub fn is_operator_path(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    under("/operator") || under("/api/v1/operator")
}

/// A signed-in operator, as its session resolved it.
#[derive(Debug, Clone)]
pub struct OperatorActor {
    pub operator: Operator,
    pub name: String,
    /// The session's token hash: what signing out ends.
    pub session: TokenHash,
    /// The CSRF token its pages' forms carry (for a cookie session).
    pub csrf: String,
    pub at: time::OffsetDateTime,
}

impl OperatorActor {
    pub fn principal(&self) -> Principal {
        Principal::Operator(self.operator.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OperatorActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<OperatorActor>().cloned().ok_or_else(super::not_signed_in)
    }
}

fn credential(headers: &HeaderMap) -> Option<(&str, bool)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value.strip_prefix("Bearer ").and_then(|t| t.strip_prefix(BEARER_PREFIX)).map(|t| (t, false));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie::named_from(h, cookie::OPERATOR_COOKIE))
        .map(|t| (t, true))
}

/// Resolves an operator's session on the operator's paths (see the module documentation);
/// a cookie session's state-changing request must carry its CSRF token.
pub async fn authenticate_operator(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if !is_operator_path(request.uri().path()) {
        return next.run(request).await;
    }
    let Some((text, via_cookie)) = credential(request.headers()) else {
        return next.run(request).await;
    };
    let Some(token) = SecretToken::parse(text) else { return next.run(request).await };
    let now = state.clock.now();
    let hash = token.hash();
    let session = match state.storage.operator_session(&hash, now, OPERATOR_SESSION_LIMITS).await {
        Ok(session) => session,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let Some(session) = session else {
        let mut response = next.run(request).await;
        let signs_in = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with(cookie::OPERATOR_COOKIE));
        // A stale cookie is dropped, unless this very answer sets a fresh one.
        if via_cookie && !signs_in {
            response.headers_mut().append(header::SET_COOKIE, cookie::clear_operator_session());
        }
        return response;
    };
    let csrf = cookie::csrf_token(&token);
    if via_cookie && !matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
        let sent =
            request.headers().get(cookie::CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (sent, rebuilt) = match sent {
            Some(sent) => (Some(sent), request),
            None => cookie::csrf_from_form(request).await,
        };
        request = rebuilt;
        if sent.as_deref() != Some(csrf.as_str()) {
            return ApiError::new(StatusCode::FORBIDDEN, "csrf", "missing or wrong CSRF token")
                .into_response();
        }
    }
    if now - session.last_seen_at >= Duration::minutes(1)
        && let Err(err) = state.storage.touch_operator_session(&hash, now).await
    {
        return ApiError::from(err).into_response();
    }
    let operator = Operator { id: session.operator, email: session.email };
    request.extensions_mut().insert(OperatorActor {
        operator,
        name: session.name,
        session: hash,
        csrf,
        at: now,
    });
    next.run(request).await
}
