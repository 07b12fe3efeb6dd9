//! What the JSON API and the pages share at the HTTP edge: the use cases' context and
//! targets read from a request, and the one mapping of [`AppError`] to the API's errors.
//! Ids in paths are parsed here, before any store is touched: a malformed one is a 404.

use std::str::FromStr;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use ringfence_core::ids::UserId;
use ringfence_core::policy::AccessPolicy;
use ringfence_store::firm::access::Action;

use crate::AppState;
use crate::access::Declared;
use crate::app::access::{On, Target};
use crate::app::{AppError, Ctx, PublicCtx};
use crate::auth::Actor;
use crate::client::Client;
use crate::error::ApiError;

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        Ok(Ctx::new(actor, Client::read(&parts.extensions, &parts.headers)))
    }
}

/// Anyone's request, before sign-in: the time is read from the server's clock once.
impl<S: Send + Sync> FromRequestParts<S> for PublicCtx
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = <AppState as axum::extract::FromRef<S>>::from_ref(state);
        let client = Client::read(&parts.extensions, &parts.headers);
        Ok(PublicCtx { now: state.clock.now(), client, state })
    }
}

/// The id a route's `{id}` names, parsed into its type, with the matter action its route
/// was declared for. The route table only takes such a handler for a route declared for
/// `A`; should one ever be mounted otherwise, it refuses rather than act on an action the
/// route table does not show.
impl<S: Send + Sync, A: Action, I: Target> FromRequestParts<S> for On<A, I> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let declared = parts.extensions.get::<Declared>().copied();
        if declared != Some(Declared(AccessPolicy::Matter(A::ACTION))) {
            let mismatch =
                PolicyMismatch { declared: declared.map(|Declared(policy)| policy), wanted: A::ACTION };
            return Err(ApiError::internal(&mismatch).into_response());
        }
        Ok(On::requested(named(parts, state, "id").await?))
    }
}

/// A handler asked for a matter action its route was not declared for.
#[derive(Debug, thiserror::Error)]
#[error("a handler takes the proof of {wanted:?} on a route declared {declared:?}")]
struct PolicyMismatch {
    declared: Option<AccessPolicy>,
    wanted: ringfence_core::matter::MatterAction,
}

/// An id a route's `{id}` names outside matter data (a client, a user, one's own session
/// or passkey), parsed into its type.
pub struct PathId<I>(pub I);

impl<S: Send + Sync, I: FromStr + Send> FromRequestParts<S> for PathId<I> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(named(parts, state, "id").await?))
    }
}

/// The user a route's `{user_id}` names (a member, someone walled).
#[derive(Debug, Clone, Copy)]
pub struct PathUser(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for PathUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(named(parts, state, "user_id").await?))
    }
}

/// The document version a route's `{version}` names, by its number.
#[derive(Debug, Clone, Copy)]
pub struct PathVersion(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathVersion {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(named(parts, state, "version").await?))
    }
}

/// The export a matter route's `{export_id}` names.
#[derive(Debug, Clone, Copy)]
pub struct PathExport(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathExport {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(named(parts, state, "export_id").await?))
    }
}

/// The `{id}` and `{user_id}` a route names (a user's wall on a client).
pub struct PathIds<I, J>(pub I, pub J);

impl<S: Send + Sync, I: FromStr + Send, J: FromStr + Send> FromRequestParts<S> for PathIds<I, J> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(named(parts, state, "id").await?, named(parts, state, "user_id").await?))
    }
}

/// The path parameter `name`, parsed into its type. Anything else is a 404 that has
/// touched nothing: the API's error, or the page saying so.
async fn named<S: Send + Sync, I: FromStr>(parts: &mut Parts, state: &S, name: &str) -> Result<I, Response> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok();
    let parsed = params
        .as_ref()
        .and_then(|params| params.iter().find(|(key, _)| *key == name))
        .and_then(|(_, value)| value.parse().ok());
    parsed.ok_or_else(|| {
        if parts.uri.path().starts_with("/api/") {
            ApiError::not_found().into_response()
        } else {
            crate::pages::not_found()
        }
    })
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid { field, reason } => ApiError::invalid(format!("{field}: {reason}")),
            AppError::RefusedInput { field, reason } => {
                ApiError::invalid(format!("{field}: {reason}")).recorded()
            }
            AppError::NotFound => ApiError::not_found(),
            AppError::Concealed => ApiError::not_found().recorded(),
            AppError::Forbidden(reason) => ApiError::forbidden(reason),
            AppError::Conflict { code, reason } => ApiError::new(StatusCode::CONFLICT, code, reason),
            AppError::Gone { code, reason } => ApiError::new(StatusCode::GONE, code, reason),
            AppError::Unavailable { code, reason } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, reason)
            }
            AppError::Unauthenticated { code, reason } => {
                ApiError::new(StatusCode::UNAUTHORIZED, code, reason)
            }
            AppError::NotPermitted { code, reason } => ApiError::new(StatusCode::FORBIDDEN, code, reason),
            AppError::Throttled { code, reason, retry_after } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, reason).with_retry_after(retry_after)
            }
            AppError::Store(err) => ApiError::from(err),
            AppError::Mail(err) => ApiError::from(err),
            AppError::Internal(cause) => ApiError::internal(&*cause),
        }
    }
}
