//! The route table: the only way to add a route is to declare its access policy with it,
//! and the policy is enforced by a layer in front of the handler. A route without a policy
//! cannot be written, so nothing is reachable unguarded (deny by default).

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::Method;
use ringfence_core::policy::AccessPolicy;

use crate::auth::{Actor, not_signed_in};
use crate::error::ApiError;

/// One declared route, as listed for reviews and the access tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub policy: AccessPolicy,
}

pub struct RouteTable<S> {
    router: Router<S>,
    specs: Vec<RouteSpec>,
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    pub fn new() -> Self {
        Self { router: Router::new(), specs: Vec::new() }
    }

    pub fn get<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: AccessPolicy,
        handler: H,
    ) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, policy, handler)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: AccessPolicy,
        handler: H,
    ) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, policy, handler)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: AccessPolicy,
        handler: H,
    ) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, policy, handler)
    }

    pub fn patch<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: AccessPolicy,
        handler: H,
    ) -> Self {
        self.add(Method::PATCH, MethodFilter::PATCH, path, policy, handler)
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: AccessPolicy,
        handler: H,
    ) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, policy, handler)
    }

    /// Declares `method path`, guarded by `policy`, served by `handler`.
    fn add<H: Handler<T, S>, T: 'static>(
        mut self,
        method: Method,
        filter: MethodFilter,
        path: &'static str,
        policy: AccessPolicy,
        handler: H,
    ) -> Self {
        let guarded = on(filter, handler).route_layer(axum::middleware::from_fn(
            move |request: Request, next: Next| enforce(policy, request, next),
        ));
        self.router = self.router.route(path, guarded);
        self.specs.push(RouteSpec { method, path, policy });
        self
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        Self::new()
    }
}

async fn enforce(policy: AccessPolicy, request: Request, next: Next) -> Response {
    let actor = request.extensions().get::<Actor>();
    match policy {
        AccessPolicy::Public => next.run(request).await,
        AccessPolicy::SignedIn => match actor {
            Some(_) => next.run(request).await,
            None => not_signed_in().into_response(),
        },
        AccessPolicy::FirmRole(roles) => match actor {
            Some(actor) if actor.has_any_role(roles) => next.run(request).await,
            Some(_) => ApiError::forbidden("your firm role does not allow this").into_response(),
            None => not_signed_in().into_response(),
        },
    }
}
