//! The route table: the only way to add a route is to declare its access policy with it,
//! and the policy is enforced by a layer in front of the handler. A route without a policy
//! cannot be written, so nothing is reachable unguarded (deny by default).
//!
//! The same layer keeps a terminated firm read-only: every route that writes (any method
//! but GET, unless declared otherwise) is refused to its people in front of the handler,
//! so no route can forget the rule, and a new route that writes is refused by default.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::{Method, StatusCode};
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::firm::FirmStanding;
use ringfence_core::matter::MatterAction;
use ringfence_core::policy::{self, AccessPolicy};
use ringfence_core::principal::SupportScope;
use ringfence_store::firm::access::Action;
use ringfence_store::firm::audit as audit_log;

use crate::app::access::On;
use crate::audit;
use crate::auth::operator::OperatorActor;
use crate::auth::{Actor, not_signed_in};
use crate::client::Client;
use crate::error::ApiError;
use crate::pages::{Asks, Confirmed};
use crate::refusals::{Recorded, Refusable};

/// One declared route, as listed for reviews and the access tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub policy: AccessPolicy,
    pub effect: Effect,
    /// The step that asks first, on a page that destroys or withdraws something.
    pub confirmation: Option<Confirmation>,
}

/// The words of the step that asks before a page destroys or withdraws something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    /// The question, as the page's heading: "Delete this document?"
    pub question: &'static str,
    /// What follows, in a sentence or two.
    pub consequence: &'static str,
    /// The confirming button's words: "Delete the document".
    pub button: &'static str,
}

/// What a route does to its firm's data, as far as a terminated (read-only) firm goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads: every GET, and the forms declared [`only_reads`] (a search, a filter).
    Reads,
    /// Changes something: every other route. Refused to the people of a terminated firm.
    Writes,
    /// Ends the caller's own sessions ([`ends_sessions`]): signing out stays possible in a
    /// terminated firm, as signing in does.
    EndsSessions,
}

/// A route's policy as the route table takes it, for a handler whose arguments are `T`
/// (axum's tuple). Only [`Matter`] names a matter, and it is a policy only for handlers
/// that take the matching [`On`] first.
pub trait Policy<T> {
    fn declared(&self) -> AccessPolicy;

    /// What the route does to the firm's data, when its method does not tell.
    fn effect(&self) -> Option<Effect> {
        None
    }

    /// The step that asks first, when the route destroys or withdraws something.
    fn confirmation(&self) -> Option<Confirmation> {
        None
    }
}

/// A policy on a route whose effect its method does not tell: see [`only_reads`] and
/// [`ends_sessions`].
#[derive(Debug, Clone, Copy)]
pub struct Declaring<P> {
    policy: P,
    effect: Effect,
}

impl<T, P: Policy<T>> Policy<T> for Declaring<P> {
    fn declared(&self) -> AccessPolicy {
        self.policy.declared()
    }

    fn effect(&self) -> Option<Effect> {
        Some(self.effect)
    }

    fn confirmation(&self) -> Option<Confirmation> {
        self.policy.confirmation()
    }
}

/// `policy`, on a route whose method would say it writes but which only reads: a form that
/// carries a search or a filter.
pub fn only_reads<P>(policy: P) -> Declaring<P> {
    Declaring { policy, effect: Effect::Reads }
}

/// `policy`, on a route that takes the firm's data out and writes nothing but its own
/// bookkeeping: asking for a full export, which the people of a terminated firm must still
/// be able to do (its retention is for them to take their data with them).
pub fn takes_data_out<P>(policy: P) -> Declaring<P> {
    Declaring { policy, effect: Effect::Reads }
}

/// A policy on a page route that destroys or withdraws something: see [`after_asking`].
#[derive(Debug, Clone, Copy)]
pub struct Asking<P, C> {
    policy: P,
    asks: std::marker::PhantomData<C>,
}

impl<T: EndsWith<C>, P: Policy<T>, C: Asks> Policy<T> for Asking<P, C> {
    fn declared(&self) -> AccessPolicy {
        self.policy.declared()
    }

    fn effect(&self) -> Option<Effect> {
        self.policy.effect()
    }

    fn confirmation(&self) -> Option<Confirmation> {
        Some(C::CONFIRMATION)
    }
}

/// `policy`, on a page route that destroys or withdraws something, in the words of `C`:
/// its handler must take [`Confirmed<C, _>`] as its last argument, which answers a post
/// without `confirmed=yes` with a page that asks (after the access check, so it tells an
/// outsider nothing) and lets only a confirmed post through.
pub fn after_asking<P, C>(policy: P, _words: C) -> Asking<P, C> {
    Asking { policy, asks: std::marker::PhantomData }
}

/// Handler argument tuples (axum's `(M, …)`) whose last argument is a [`Confirmed<C, _>`].
pub trait EndsWith<C> {}

macro_rules! ends_with {
    ($($before:ident),*) => {
        impl<M, C, F, $($before,)*> EndsWith<C> for (M, $($before,)* Confirmed<C, F>,) {}
    };
}

ends_with!();
ends_with!(T1);
ends_with!(T1, T2);
ends_with!(T1, T2, T3);
ends_with!(T1, T2, T3, T4);
ends_with!(T1, T2, T3, T4, T5);
ends_with!(T1, T2, T3, T4, T5, T6);

/// `policy`, on a route that only ends the caller's own sessions.
pub fn ends_sessions<P>(policy: P) -> Declaring<P> {
    Declaring { policy, effect: Effect::EndsSessions }
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
pub const OPERATOR: Guard = Guard(AccessPolicy::Operator);

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
        self.add(Method::GET, MethodFilter::GET, path, declared(Method::GET, &policy), handler)
    }

    pub fn post<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, declared(Method::POST, &policy), handler)
    }

    pub fn put<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, declared(Method::PUT, &policy), handler)
    }

    pub fn patch<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::PATCH, MethodFilter::PATCH, path, declared(Method::PATCH, &policy), handler)
    }

    pub fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        policy: impl Policy<T>,
        handler: H,
    ) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, declared(Method::DELETE, &policy), handler)
    }

    /// Declares `method path`, guarded by `policy`, served by `handler`.
    fn add<H: Handler<T, S>, T: 'static>(
        mut self,
        method: Method,
        filter: MethodFilter,
        path: &'static str,
        (policy, effect, confirmation): (AccessPolicy, Effect, Option<Confirmation>),
        handler: H,
    ) -> Self {
        let guarded = on(filter, handler).route_layer(axum::middleware::from_fn(
            move |request: Request, next: Next| enforce(policy, effect, request, next),
        ));
        self.router = self.router.route(path, guarded);
        self.specs.push(RouteSpec { method, path, policy, effect, confirmation });
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

/// A route's policy, its effect (declared, or told by its method) and its confirmation step.
fn declared<T>(method: Method, policy: &impl Policy<T>) -> (AccessPolicy, Effect, Option<Confirmation>) {
    let by_method = if method == Method::GET { Effect::Reads } else { Effect::Writes };
    (policy.declared(), policy.effect().unwrap_or(by_method), policy.confirmation())
}

/// The policy a route was declared with, as its handler's extractors read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declared(pub AccessPolicy);

async fn enforce(policy: AccessPolicy, effect: Effect, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Declared(policy));
    let actor = request.extensions().get::<Actor>().cloned();
    match (policy, actor) {
        // Only an operator's session resolves on the operator's paths (see `auth::operator`).
        (AccessPolicy::Operator, _) => {
            if request.extensions().get::<OperatorActor>().is_some() {
                next.run(request).await
            } else if request.uri().path().starts_with("/api/") {
                not_signed_in().into_response()
            } else {
                axum::response::Redirect::to("/operator/sign-in").into_response()
            }
        }
        (AccessPolicy::Public, None) => next.run(request).await,
        (AccessPolicy::SignedIn | AccessPolicy::FirmRole(_) | AccessPolicy::Matter(_), None) => {
            // A page sends the browser to sign in; the API answers 401.
            if request.uri().path().starts_with("/api/") {
                not_signed_in().into_response()
            } else {
                axum::response::Redirect::to("/sign-in").into_response()
            }
        }
        // Signing in is for anyone, whatever their firm's standing.
        (AccessPolicy::Public, Some(actor)) => {
            let refusable = Refusable::of(&request, actor);
            refusable.answer(next.run(request).await).await
        }
        // An operator under a support grant reads, within its scope, and nothing else.
        (policy, Some(actor)) if actor.support.is_some() && !support_may(&actor, policy, &request) => {
            deny(actor, refused(&request), "support access reads only, and only what its grant names").await
        }
        // The matter check itself is in the handler, which needs its proof to reach the data.
        (AccessPolicy::SignedIn | AccessPolicy::Matter(_), Some(actor)) => {
            let_in(actor, effect, request, next).await
        }
        (AccessPolicy::FirmRole(roles), Some(actor)) if actor.has_any_role(roles) => {
            let_in(actor, effect, request, next).await
        }
        (AccessPolicy::FirmRole(_), Some(actor)) => {
            deny(actor, refused(&request), "your firm role does not allow this").await
        }
    }
}

/// The administrator's pages an operator may read under a grant for the firm's settings
/// and users: never the matters' directory, the audit log, holds, retention, exports or
/// data subjects, which name clients and matters, nor a user's own account page.
const SUPPORT_SETTINGS_ROUTES: &[&str] = &["/admin/users", "/admin/backups"];

/// Whether an operator under a support grant may take this route: reading only (a GET),
/// and within the grant's scope — a matter route for a grant of matters (the ring-fence
/// then checks the matter is one the grant names), or one of the settings pages for a
/// grant of settings.
fn support_may(actor: &Actor, policy: AccessPolicy, request: &Request) -> bool {
    let Some(support) = &actor.support else { return false };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return false;
    }
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    match (&support.scope, policy) {
        (SupportScope::Matters(_), AccessPolicy::Matter(MatterAction::View | MatterAction::ReadContent)) => {
            true
        }
        (SupportScope::Settings, AccessPolicy::FirmRole(_) | AccessPolicy::SignedIn) => {
            route.is_some_and(|route| SUPPORT_SETTINGS_ROUTES.contains(&route))
        }
        _ => false,
    }
}

/// Runs the handler for a signed-in caller its route's policy lets in, unless the route
/// writes and the caller's firm is terminated (read-only); a refusal is on the record.
async fn let_in(actor: Actor, effect: Effect, request: Request, next: Next) -> Response {
    // Whatever an operator under a support grant opens is on the firm's record and in the
    // operator log first, whether or not its page records reads of its own.
    if actor.support.is_some() {
        let client = Client::read(request.extensions(), request.headers());
        let what = format!("{} {}", request.method(), request.uri().path());
        let entry = audit::record(
            actor.audit_actor(),
            AuditAction::SupportRead,
            Some(("route", what)),
            Outcome::Success,
            &client,
            actor.at,
        );
        let recorded = async {
            if let Some(log) = &actor.operator_log {
                log.0.append_operator_audit(&entry).await?;
            }
            actor.store.append_audit(entry).await
        };
        if let Err(err) = recorded.await {
            return ApiError::from(err).into_response();
        }
    }
    let refusable = Refusable::of(&request, actor.clone());
    let answer = match actor.store.standing() {
        FirmStanding::Terminated(termination) if effect == Effect::Writes => {
            read_only(termination.shred_after, !request.uri().path().starts_with("/api/"))
        }
        // A suspended firm's sessions do not resolve; one suspended this very moment is
        // refused here.
        FirmStanding::Suspended { .. } => {
            ApiError::from(ringfence_store::StoreError::FirmSuspended).into_response()
        }
        FirmStanding::Active | FirmStanding::Terminated(_) => next.run(request).await,
    };
    refusable.answer(answer).await
}

/// The answer to a write in a terminated firm: 423 `firm_terminated`, or the page saying so.
fn read_only(shred_after: time::OffsetDateTime, page: bool) -> Response {
    let until = shred_after.date();
    let message = format!(
        "This firm's Ringfence service has ended: it is read-only until {until}, when its data is \
         destroyed. You can still sign in, read and download everything, but change nothing."
    );
    if page {
        crate::pages::read_only(&message)
    } else {
        ApiError::new(StatusCode::LOCKED, "firm_terminated", message).into_response()
    }
}

/// What the record of a refused request names: the caller's address, the route, and
/// whether it was a page.
fn refused(request: &Request) -> (Client, String, bool) {
    let client = Client::read(request.extensions(), request.headers());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path().to_owned(), |p| p.as_str().to_owned());
    (client, route, !request.uri().path().starts_with("/api/"))
}

/// Refuses a signed-in caller the route's policy does not admit, on the record, saying
/// `why` to an API caller.
async fn deny(actor: Actor, (client, route, page): (Client, String, bool), why: &'static str) -> Response {
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
        Ok(()) => ApiError::forbidden(why).recorded().into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
