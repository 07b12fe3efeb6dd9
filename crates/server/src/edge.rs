//! What the JSON API and the pages share at the HTTP edge: the use cases' context and
//! targets read from a request, and the one mapping of [`AppError`] to the API's errors.
//! Ids in paths are parsed here, before any store is touched: a malformed one is a 404.

use std::str::FromStr;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use ringfence_core::ids::UserId;
use ringfence_store::firm::access::Action;

use crate::AppState;
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

/// The id a route's `{id}` names, parsed into its type; anything else is a 404 that has
/// touched nothing: the API's error, or the page saying so.
impl<S: Send + Sync, A: Action, I: Target> FromRequestParts<S> for On<A, I> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match path_param(parts, state, "id").await {
            Some(id) => Ok(On::requested(id)),
            None if parts.uri.path().starts_with("/api/") => Err(ApiError::not_found().into_response()),
            None => Err(crate::pages::not_found()),
        }
    }
}

/// The user a route's `{user_id}` names (a member, someone walled); anything else is a
/// 404 that has touched nothing.
#[derive(Debug, Clone, Copy)]
pub struct PathUser(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for PathUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params =
            RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found())?;
        let named =
            params.iter().find(|(key, _)| *key == "user_id").and_then(|(_, value)| UserId::parse(value));
        named.map(Self).ok_or_else(ApiError::not_found)
    }
}

/// The path parameter `name`, parsed as an id of type `I`.
pub async fn path_param<S: Send + Sync, I: Target>(parts: &mut Parts, state: &S, name: &str) -> Option<I> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params.iter().find(|(key, _)| *key == name).and_then(|(_, value)| I::parse(value))
}

/// An id a route's `{id}` names outside matter data (a client, a user), parsed into its
/// type; anything else is a 404 that has touched nothing.
pub struct PathId<I>(pub I);

impl<S: Send + Sync, I: FromStr + Send> FromRequestParts<S> for PathId<I> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        named(parts, state, "id").await.map(Self).ok_or_else(ApiError::not_found)
    }
}

/// The `{id}` and `{user_id}` a route names (a user's wall on a client), each parsed
/// into its type; anything else is a 404 that has touched nothing.
pub struct PathIds<I, J>(pub I, pub J);

impl<S: Send + Sync, I: FromStr + Send, J: FromStr + Send> FromRequestParts<S> for PathIds<I, J> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = named(parts, state, "id").await;
        let user = named(parts, state, "user_id").await;
        id.zip(user).map(|(id, user)| Self(id, user)).ok_or_else(ApiError::not_found)
    }
}

async fn named<S: Send + Sync, I: FromStr>(parts: &mut Parts, state: &S, name: &str) -> Option<I> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params.iter().find(|(key, _)| *key == name).and_then(|(_, value)| value.parse().ok())
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

/// An id of one of the caller's own things (a session, a passkey) as the route's `{id}`
/// names it; anything malformed is a 404 that has touched nothing.
#[derive(Debug, Clone, Copy)]
pub struct OwnId<I>(pub I);

impl<S: Send + Sync, I: std::str::FromStr + Send> FromRequestParts<S> for OwnId<I> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params =
            RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found())?;
        let raw = params.iter().find(|(key, _)| *key == "id").map(|(_, value)| value);
        raw.and_then(|value| value.parse().ok()).map(Self).ok_or_else(ApiError::not_found)
    }
}
