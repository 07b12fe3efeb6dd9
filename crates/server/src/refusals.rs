//! Every refusal of a signed-in caller is on the record. Whatever refused the request — an
//! access rule, a malformed id, query or body, a conflict, a limit — the route's guard
//! records a `request.refused` entry naming the route, the status and the matter the
//! request was about, unless the handler recorded the refusal itself (the matter access
//! check does, with more to say). The log is for auditors: nothing of it reaches the caller.

use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::ids::parse_id;
use uuid::Uuid;

use crate::audit;
use crate::auth::Actor;
use crate::client::Client;
use crate::error::ApiError;

/// Marks a response whose refusal its handler has recorded already.
#[derive(Debug, Clone, Copy)]
pub struct Recorded;

/// What a request was about, as far as its path says.
#[derive(Debug, Clone, Copy)]
enum Subject {
    Matter(Uuid),
    /// A note or a document, whose matter the store looks up.
    Record(Uuid),
    Nothing,
}

/// A signed-in caller's request, kept to record its answer should it be a refusal.
pub(crate) struct Refusable {
    actor: Actor,
    client: Client,
    method: Method,
    route: String,
    subject: Subject,
}

/// Longest path kept of a request that matched no route.
const MAX_PATH: usize = 200;

impl Refusable {
    pub fn of(request: &Request, actor: Actor) -> Self {
        let path = request.uri().path();
        let (route, subject) = match request.extensions().get::<MatchedPath>() {
            Some(template) => (template.as_str().to_owned(), subject_of(template.as_str(), path)),
            None => (path.chars().take(MAX_PATH).collect(), Subject::Nothing),
        };
        Self {
            client: Client::read(request.extensions(), request.headers()),
            method: request.method().clone(),
            actor,
            route,
            subject,
        }
    }

    /// Passes `response` on, once recorded if it refuses the request.
    pub async fn answer(self, response: Response) -> Response {
        let status = response.status();
        if !status.is_client_error() || response.extensions().get::<Recorded>().is_some() {
            return response;
        }
        let Self { actor, client, method, route, subject } = self;
        let matter = match subject {
            Subject::Matter(matter) => Ok(Some(matter)),
            Subject::Record(record) => actor.store.matter_of_record_for_audit(record).await,
            Subject::Nothing => Ok(None),
        };
        let outcome = match status {
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Outcome::Denied,
            _ => Outcome::Failure,
        };
        let resource = format!("{method} {route} {}", status.as_u16());
        let mut entry = audit::record(
            actor.audit_actor(),
            AuditAction::RequestRefused,
            Some(("route", resource)),
            outcome,
            &client,
            actor.at,
        );
        let recorded = async {
            entry.matter_id = matter?.map(|m| m.to_string());
            actor.store.append_audit(entry).await
        };
        match recorded.await {
            Ok(_) => response,
            Err(err) => ApiError::from(err).into_response(),
        }
    }
}

/// The matter or record named by the `{id}` of a route about one.
fn subject_of(template: &str, path: &str) -> Subject {
    let id = template
        .split('/')
        .zip(path.split('/'))
        .find_map(|(part, value)| (part == "{id}").then_some(value))
        .and_then(|value| parse_id(&percent_decoded(value)));
    let Some(id) = id else { return Subject::Nothing };
    let about = |prefix: &str| template.starts_with(prefix);
    if about("/api/v1/matters/{id}") || about("/matters/{id}") || about("/admin/matters/{id}") {
        Subject::Matter(id)
    } else if about("/api/v1/notes/{id}") || about("/api/v1/documents/{id}") || about("/documents/{id}") {
        Subject::Record(id)
    } else {
        Subject::Nothing
    }
}

/// A path segment as the route's handler sees it (`%7B…%7D` is `{…}`).
fn percent_decoded(segment: &str) -> String {
    // An id never holds `+`, the one character this decoder (of form values) reads otherwise.
    form_urlencoded::parse(format!("v={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Answers a request that matched no route (or not with its method), on the record when
/// the caller is signed in.
pub(crate) async fn unmatched(request: Request, answer: ApiError) -> Response {
    match request.extensions().get::<Actor>().cloned() {
        Some(actor) => Refusable::of(&request, actor).answer(answer.into_response()).await,
        None => answer.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_comes_from_the_routes_id() {
        let id = "0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60";
        let matter = |t: &str, p: &str| matches!(subject_of(t, p), Subject::Matter(m) if m.to_string() == id);
        let record = |t: &str, p: &str| matches!(subject_of(t, p), Subject::Record(r) if r.to_string() == id);
        assert!(matter("/api/v1/matters/{id}/notes", &format!("/api/v1/matters/{id}/notes")));
        assert!(matter("/admin/matters/{id}", &format!("/admin/matters/{id}")));
        assert!(record("/api/v1/notes/{id}", &format!("/api/v1/notes/{id}")));
        assert!(record("/documents/{id}/delete", &format!("/documents/{id}/delete")));
        assert!(matches!(subject_of("/api/v1/users/{id}", &format!("/api/v1/users/{id}")), Subject::Nothing));
        assert!(matches!(subject_of("/api/v1/matters/{id}", "/api/v1/matters/URN:UUID:x"), Subject::Nothing));
        assert!(matter("/api/v1/matters/{id}", &format!("/api/v1/matters/%7B{id}%7D")));
    }
}
