//! The route table: the only way to add a route is to declare its access policy with it,
//! and the policy is enforced by a layer in front of the handler. A route without a policy
//! cannot be written, so nothing is reachable unguarded (deny by default).

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::Method;
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::policy::{self, AccessPolicy};
use ringfence_store::firm::access::Action;
use ringfence_store::firm::audit as audit_log;

use crate::app::access::On;
use crate::audit;
use crate::auth::{Actor, not_signed_in};
use crate::client::Client;
use crate::error::ApiError;
use crate::refusals::{Recorded, Refusable};

/// One declared route, as listed for reviews and the access tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub policy: AccessPolicy,
}

/// A route's policy as the route table takes it, for a handler whose arguments are `T`
/// (axum's tuple). Only [`Matter`] names a matter, and it is a policy only for handlers
/// that take the matching [`On`] first.
pub trait Policy<T> {
    fn declared(&self) -> AccessPolicy;
}

/// A policy that names no matter.
#[derive(Debug, Clone, Copy)]
pub struct Guard(AccessPolicy);

impl<T> Policy<T> for Guard {
    fn declared(&self) -> AccessPolicy {
        self.0
    }
}

pub const PUBLIC: Guard = Guard(AccessPolicy::Public);
pub const SIGNED_IN: Guard = Guard(AccessPolicy::SignedIn);
pub const ADMIN: Guard = Guard(policy::ADMIN);
pub const AUDITORS: Guard = Guard(policy::AUDITORS);
pub const CLIENT_KEEPERS: Guard = Guard(policy::CLIENT_KEEPERS);
pub const MATTER_OPENERS: Guard = Guard(policy::MATTER_OPENERS);
pub const DATA_SUBJECT_HANDLERS: Guard = Guard(policy::DATA_SUBJECT_HANDLERS);

/// A route on one matter, or on a note or document of one, for the matter action `A`: its
/// handler must take `On<A, _>` as its first argument, and only that reaches the data.
///
/// A route declared for viewing takes a handler that needs the viewing proof:
///
/// ```
/// # use ringfence_core::ids::MatterId;
/// # use ringfence_server::access::{Matter, RouteTable};
/// # use ringfence_server::app::access::On;
/// # use ringfence_store::firm::access::View;
/// async fn show(on: On<View, MatterId>) -> String { on.id().to_string() }
/// let table = RouteTable::<()>::new().get("/matters/{id}", Matter(View), show);
/// ```
///
/// and will not take one that needs another action's proof:
///
/// ```compile_fail
/// # use ringfence_core::ids::MatterId;
/// # use ringfence_server::access::{Matter, RouteTable};
/// # use ringfence_server::app::access::On;
/// # use ringfence_store::firm::access::{Edit, View};
/// async fn rename(on: On<Edit, MatterId>) -> String { on.id().to_string() }
/// let table = RouteTable::<()>::new().get("/matters/{id}", Matter(View), rename);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Matter<A>(pub A);

impl<A: Action, T: TakesFirst<A>> Policy<T> for Matter<A> {
    fn declared(&self) -> AccessPolicy {
        AccessPolicy::Matter(A::ACTION)
    }
}

/// Handler argument tuples (axum's `(M, T1, …)`) whose first argument is an `On<A, _>`.
pub trait TakesFirst<A> {}

macro_rules! takes_first {
    ($($rest:ident),*) => {
        impl<M, A, I, $($rest,)*> TakesFirst<A> for (M, On<A, I>, $($rest,)*) {}
    };
}

takes_first!();
takes_first!(T2);
takes_first!(T2, T3);
takes_first!(T2, T3, T4);
takes_first!(T2, T3, T4, T5);
takes_first!(T2, T3, T4, T5, T6);
takes_first!(T2, T3, T4, T5, T6, T7);

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
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, policy.declared(), handler)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, policy.declared(), handler)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, policy.declared(), handler)
    }

    pub fn patch<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::PATCH, MethodFilter::PATCH, path, policy.declared(), handler)
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, policy.declared(), handler)
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

/// The policy a route was declared with, as its handler's extractors read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declared(pub AccessPolicy);

async fn enforce(policy: AccessPolicy, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Declared(policy));
    let actor = request.extensions().get::<Actor>().cloned();
    match (policy, actor) {
        (AccessPolicy::Public, None) => next.run(request).await,
        (AccessPolicy::SignedIn | AccessPolicy::FirmRole(_) | AccessPolicy::Matter(_), None) => {
            // A page sends the browser to sign in; the API answers 401.
            if request.uri().path().starts_with("/api/") {
                not_signed_in().into_response()
            } else {
                axum::response::Redirect::to("/sign-in").into_response()
            }
        }
        // The matter check itself is in the handler, which needs its proof to reach the data.
        (AccessPolicy::Public | AccessPolicy::SignedIn | AccessPolicy::Matter(_), Some(actor)) => {
            let refusable = Refusable::of(&request, actor);
            refusable.answer(next.run(request).await).await
        }
        (AccessPolicy::FirmRole(roles), Some(actor)) if actor.has_any_role(roles) => {
            let refusable = Refusable::of(&request, actor);
            refusable.answer(next.run(request).await).await
        }
        (AccessPolicy::FirmRole(_), Some(actor)) => {
            let client = Client::read(request.extensions(), request.headers());
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| request.uri().path().to_owned(), |p| p.as_str().to_owned());
            let page = !request.uri().path().starts_with("/api/");
            deny(actor, client, route, page).await
        }
    }
}

/// Refuses a signed-in caller whose firm role does not allow the route, on the record.
async fn deny(actor: Actor, client: Client, route: String, page: bool) -> Response {
    let entry = audit::record(
        actor.audit_actor(),
        AuditAction::AccessDenied,
        Some(("route", route)),
        Outcome::Denied,
        &client,
        actor.at,
    );
    let recorded = async {
        let mut tx = actor.begin().await?;
        audit_log::append(&mut tx, &entry).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) if page => {
            let mut response = crate::pages::refused();
            response.extensions_mut().insert(Recorded);
            response
        }
        Ok(()) => ApiError::forbidden("your firm role does not allow this").recorded().into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
