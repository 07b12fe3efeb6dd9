use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode, header};
use ringfence_core::audit::{AuditAction, AuditActor, Outcome};
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::{FirmId, SessionId};
use ringfence_core::principal::{FirmUser, Principal, Support};
use ringfence_crypto::token::{self, SecretToken, TokenHash};
use ringfence_store::FirmStore;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{decoys, sessions};
use std::sync::Arc;

use super::cookie;
use crate::AppState;
use crate::error::ApiError;

/// A signed-in caller: a user of one firm, through one live session, with its firm's store
/// and the time its request was authenticated. Reads as the [`FirmUser`] it is.
#[derive(Debug, Clone)]
pub struct Actor {
    pub(super) who: FirmUser,
    /// The user's name, when they gave one; and their firm's: what pages show them by.
    pub name: Option<String>,
    pub firm_name: ringfence_core::firm::FirmName,
    pub store: Arc<FirmStore>,
    /// When the request was authenticated: the time its audit entries carry.
    pub at: time::OffsetDateTime,
    /// Set when the caller is an operator working under a support grant: then it reads
    /// only, within the grant's scope (see `crate::access`), and every page says so.
    pub support: Option<Support>,
    /// For a support caller, the deployment's storage: its reads go in the operator log
    /// too.
    pub operator_log: Option<OperatorLog>,
}

/// The deployment's storage, as a support caller's operator log.
#[derive(Clone)]
pub struct OperatorLog(pub Arc<ringfence_store::Storage>);

impl std::fmt::Debug for OperatorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorLog")
    }
}

impl std::ops::Deref for Actor {
    type Target = FirmUser;

    fn deref(&self) -> &FirmUser {
        &self.who
    }
}

impl Actor {
    /// The caller as others read them: their name, or their address when they gave none.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.email.to_string())
    }

    /// Who acts, as transactions and the audit log name it.
    pub fn principal(&self) -> Principal {
        match &self.support {
            Some(support) => Principal::Support(support.clone()),
            None => Principal::FirmUser(self.who.clone()),
        }
    }

    /// A transaction in the caller's firm, run as the caller: PostgreSQL's row-level
    /// security then shows only what this user may see.
    pub async fn begin(&self) -> Result<ringfence_store::FirmTx, ringfence_store::StoreError> {
        self.store.begin(&self.principal()).await
    }

    /// [`Self::begin`] for a request that only reads: it does not wait for writers.
    pub async fn begin_read(&self) -> Result<ringfence_store::FirmTx, ringfence_store::StoreError> {
        self.store.begin_read(&self.principal()).await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Actor>().cloned().ok_or_else(not_signed_in)
    }
}

pub fn not_signed_in() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first")
}

enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value.strip_prefix("Bearer ").map(Credential::Bearer);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(cookie::session_from)
        .map(Credential::Cookie)
}

/// Resolves the request's session, if it has a valid one, into an [`Actor`] for the route
/// policies and handlers. A request without valid credentials continues anonymous — a
/// session that does not resolve (ended, idle, unknown) is no session, so neither is its
/// CSRF token asked for, and a browser is told to drop its cookie. A cookie-carried live
/// session on a state-changing request without its CSRF token is refused.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // The operator's paths are no firm's: a firm session is not even looked at there.
    if super::operator::is_operator_path(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(credential) = credential(request.headers()) else {
        return match super::support::resolve(&state, request.headers()).await {
            Ok(Some(actor)) => {
                request.extensions_mut().insert(actor);
                next.run(request).await
            }
            Ok(None) => next.run(request).await,
            Err(err) => err.into_response(),
        };
    };
    let (text, via_cookie) = match credential {
        Credential::Bearer(text) => (zeroize::Zeroizing::new(text.to_owned()), false),
        Credential::Cookie(text) => (zeroize::Zeroizing::new(text.to_owned()), true),
    };
    let client = crate::client::Client::read(request.extensions(), request.headers());
    let resolved = match token::parse_scoped(&text) {
        Some((firm_hex, token)) => match resolve(&state, firm_hex, &token, &client).await {
            Ok(found) => found.map(|found| (found, cookie::csrf_token(&token))),
            Err(err) => return err.into_response(),
        },
        None => None,
    };
    let Some(((actor, touch_due), expected)) = resolved else {
        let mut response = next.run(request).await;
        if via_cookie && !sets_session(&response) {
            response.headers_mut().append(header::SET_COOKIE, cookie::clear_session());
        }
        return response;
    };
    if via_cookie && !is_safe(request.method()) {
        let sent =
            request.headers().get(cookie::CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // An HTML form cannot send a header: it carries the token as its `_csrf` field.
        let (sent, rebuilt) = match sent {
            Some(sent) => (Some(sent), request),
            None => cookie::csrf_from_form(request).await,
        };
        request = rebuilt;
        if sent.as_deref() != Some(expected.as_str()) {
            // A live session's request without its token: forged, or a page left open too
            // long. Either way it is refused on the record, as the session's user.
            let refused = ApiError::new(StatusCode::FORBIDDEN, "csrf", "missing or wrong CSRF token");
            return crate::refusals::Refusable::of(&request, actor).answer(refused.into_response()).await;
        }
    }
    if touch_due && let Err(err) = touch(&actor, state.clock.now()).await {
        return err.into_response();
    }
    if via_cookie {
        let idle_seconds = state.settings.session_limits.idle.whole_seconds();
        request.extensions_mut().insert(cookie::BrowserSession { csrf: expected, idle_seconds });
    }
    request.extensions_mut().insert(actor);
    next.run(request).await
}

/// True when the response sets the session cookie itself (a sign-in that just succeeded).
fn sets_session(response: &Response) -> bool {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(cookie::SESSION_COOKIE))
}

async fn touch(actor: &Actor, now: time::OffsetDateTime) -> Result<(), ApiError> {
    let mut tx = actor.begin().await.map_err(ApiError::from)?;
    sessions::touch(&mut tx, actor.session.as_uuid(), now).await.map_err(ApiError::from)?;
    tx.commit().await.map_err(ApiError::from)?;
    Ok(())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The live session `token` names, as an actor, and whether its last-seen time is due an
/// update (made once the request has passed the CSRF check). A token that is none is
/// refused alike whatever it is; one of the firm's decoys is also put on the record, after
/// the answer like a wrong password, for the watcher to raise the alarm.
async fn resolve(
    state: &AppState,
    firm_hex: &str,
    token: &SecretToken,
    client: &crate::client::Client,
) -> Result<Option<(Actor, bool)>, ApiError> {
    let Ok(firm) = firm_hex.parse::<FirmId>() else { return Ok(None) };
    if !state.storage.firm_exists(firm).await.map_err(ApiError::from)? {
        return Ok(None);
    }
    let store = match state.storage.firm(firm).await {
        // Shredded since this server last looked: its sessions went with it.
        Err(ringfence_store::StoreError::UnknownFirmId) => return Ok(None),
        opened => opened.map_err(ApiError::from)?,
    };
    // A suspended firm's sessions are no sessions, on every server within seconds.
    if let FirmStanding::Suspended { .. } = store.standing() {
        return Ok(None);
    }
    let now = state.clock.now();
    let TokenHash(hash) = token.hash();
    let mut tx = store.begin_read(&Principal::Anonymous).await.map_err(ApiError::from)?;
    let Some(session) = sessions::authenticate(&mut tx, &hash, now, state.settings.session_limits)
        .await
        .map_err(ApiError::from)?
    else {
        if let Some(decoy) = decoys::credential(&mut tx, &hash).await.map_err(ApiError::from)? {
            store.queue_audit(crate::audit::record(
                AuditActor::Anonymous,
                AuditAction::AuthTokenRefused,
                Some(("credential", decoy.to_string())),
                Outcome::Denied,
                client,
                now,
            ));
        }
        return Ok(None);
    };
    let user = users::get(&mut tx, session.user_id).await.map_err(ApiError::from)?;
    tx.commit().await.map_err(ApiError::from)?;
    let firm_name = state.storage.firm_name(firm).await.map_err(ApiError::from)?;
    let touch_due = sessions::touch_due(&session, now);
    Ok(user.filter(|u| u.status == UserStatus::Active).map(|user| {
        let who = FirmUser {
            firm,
            user: user.id,
            email: user.email,
            roles: user.roles,
            session: SessionId::from(session.id),
        };
        let actor = Actor {
            who,
            name: user.name,
            firm_name,
            store: store.clone(),
            at: now,
            support: None,
            operator_log: None,
        };
        (actor, touch_due)
    }))
}
