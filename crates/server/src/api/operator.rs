//! The operator plane over the JSON API: the same use cases as the operator's pages
//! (`crate::app::operators` and `crate::app::support`), for a provider's own tooling. A
//! session is opened with password and authenticator code together and answers an `op_`
//! bearer token; firms are listed with their health in counts and sizes only.

use axum::Json;
use http::StatusCode;
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::{FirmId, SupportGrantId};
use ringfence_core::principal::SupportScope;
use ringfence_store::control::support_grants::{GrantState, SupportGrant};
use serde::{Deserialize, Serialize};

use crate::app::operators::{self, FirmOverview, NewFirmInput, OperatorRequest};
use crate::app::support::{self, GrantInput};
use crate::app::{PublicCtx, termination::Notices};
use crate::auth::operator::BEARER_PREFIX;
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// An operator's credentials, given together.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorCredentials {
    email: String,
    password: String,
    /// The authenticator app's current code.
    code: String,
}

/// An operator's new session.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OperatorSession {
    /// Sent as `Authorization: Bearer <token>` on the operator's routes.
    token: String,
    name: String,
}

/// Opens an operator's session: password and authenticator code together; every failure
/// answers alike.
#[utoipa::path(
    post,
    path = "/api/v1/operator/sign-in",
    tag = "operator",
    request_body = OperatorCredentials,
    responses(
        (status = 200, description = "Signed in", body = OperatorSession),
        (status = 401, response = crate::openapi::SignInRefused),
        (status = 429, response = crate::openapi::TooManyRequests),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn sign_in(
    ctx: PublicCtx,
    ApiJson(body): ApiJson<OperatorCredentials>,
) -> Result<Json<OperatorSession>, ApiError> {
    let signed_in = operators::sign_in(&ctx, &body.email, &body.password, &body.code).await?;
    let token = format!("{BEARER_PREFIX}{}", signed_in.token.expose().as_str());
    Ok(Json(OperatorSession { token, name: signed_in.name }))
}

/// Ends the caller's operator session, and every support session opened in it.
#[utoipa::path(
    post,
    path = "/api/v1/operator/sign-out",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    responses((status = 204, description = "Signed out"), crate::openapi::SignedInErrors),
)]
pub async fn sign_out(req: OperatorRequest) -> Result<StatusCode, ApiError> {
    operators::sign_out(&req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A firm's health: counts and sizes, never a name of a client, matter or person.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FirmHealthView {
    reachable: bool,
    schema_version: Option<i64>,
    users: Option<i64>,
    documents: Option<i64>,
    stored_bytes: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_backup_at: Option<time::OffsetDateTime>,
    /// `made`, `verified`, `failed` or `rotated`.
    last_backup_state: Option<String>,
    failing_jobs: i64,
}

/// A firm as the operator sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FirmView {
    id: String,
    slug: String,
    name: String,
    /// `active`, `suspended` or `terminated`.
    state: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    shred_after: Option<time::OffsetDateTime>,
    health: FirmHealthView,
}

fn firm_view(overview: FirmOverview) -> FirmView {
    let FirmOverview { firm, standing, health } = overview;
    let (state, shred_after) = match standing {
        FirmStanding::Active => ("active", None),
        FirmStanding::Suspended { .. } => ("suspended", None),
        FirmStanding::Terminated(t) => ("terminated", Some(t.shred_after)),
    };
    FirmView {
        id: firm.id.to_string(),
        slug: firm.slug.to_string(),
        name: firm.name.as_str().to_owned(),
        state,
        shred_after,
        health: FirmHealthView {
            reachable: !health.unreachable,
            schema_version: health.schema_version,
            users: health.users,
            documents: health.documents,
            stored_bytes: health.stored_bytes,
            last_backup_at: health.last_backup.as_ref().map(|b| b.taken_at),
            last_backup_state: health.last_backup.as_ref().map(|b| b.state.as_str().to_owned()),
            failing_jobs: health.failing_jobs,
        },
    }
}

/// Every firm of the deployment, with its state and health.
#[utoipa::path(
    get,
    path = "/api/v1/operator/firms",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [])),
    responses((status = 200, description = "The firms", body = Vec<FirmView>), crate::openapi::SignedInErrors),
)]
pub async fn firms(req: OperatorRequest) -> Result<Json<Vec<FirmView>>, ApiError> {
    Ok(Json(operators::firms(&req).await?.into_iter().map(firm_view).collect()))
}

/// A firm to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFirmBody {
    name: String,
    slug: String,
    admin_email: String,
    admin_name: String,
}

/// A firm just created.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedFirmView {
    id: String,
    slug: String,
    name: String,
}

/// Creates a firm; its first administrator is mailed the invitation (the operator never
/// holds the link).
#[utoipa::path(
    post,
    path = "/api/v1/operator/firms",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    request_body = NewFirmBody,
    responses(
        (status = 201, description = "Created", body = CreatedFirmView),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn create_firm(
    req: OperatorRequest,
    ApiJson(body): ApiJson<NewFirmBody>,
) -> Result<(StatusCode, Json<CreatedFirmView>), ApiError> {
    let input = NewFirmInput {
        name: body.name,
        slug: body.slug,
        admin_email: body.admin_email,
        admin_name: body.admin_name,
    };
    let firm = operators::create_firm(&req, &input).await?;
    let view = CreatedFirmView {
        id: firm.id.to_string(),
        slug: firm.slug.to_string(),
        name: firm.name.as_str().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// Who was told of a change to a firm.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Told {
    /// The administrators (and Information Officer) mailed.
    mailed: usize,
    /// Those who could not be reached.
    unreachable: usize,
}

fn told(notices: Notices) -> Json<Told> {
    Json(Told { mailed: notices.sent.len(), unreachable: notices.failed.len() })
}

/// Suspends a firm: nobody signs in, every session is refused, its grants end.
#[utoipa::path(
    post,
    path = "/api/v1/operator/firms/{id}/suspend",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The firm's id")),
    responses(
        (status = 200, description = "Suspended", body = Told),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn suspend(req: OperatorRequest, PathId(id): PathId<FirmId>) -> Result<Json<Told>, ApiError> {
    Ok(told(operators::suspend(&req, id).await?))
}

/// Resumes a suspended firm.
#[utoipa::path(
    post,
    path = "/api/v1/operator/firms/{id}/resume",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The firm's id")),
    responses(
        (status = 200, description = "Resumed", body = Told),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn resume(req: OperatorRequest, PathId(id): PathId<FirmId>) -> Result<Json<Told>, ApiError> {
    Ok(told(operators::resume(&req, id).await?))
}

/// How long a terminated firm is kept, read-only, before it is shredded.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateBody {
    /// 1 to 3650.
    retain_days: i64,
}

/// Terminates a firm: read-only until it is shredded after `retain_days`.
#[utoipa::path(
    post,
    path = "/api/v1/operator/firms/{id}/terminate",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The firm's id")),
    request_body = TerminateBody,
    responses(
        (status = 200, description = "Terminated", body = Told),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn terminate(
    req: OperatorRequest,
    PathId(id): PathId<FirmId>,
    ApiJson(body): ApiJson<TerminateBody>,
) -> Result<Json<Told>, ApiError> {
    Ok(told(operators::terminate(&req, id, body.retain_days).await?))
}

/// Reinstates a terminated firm, cancelling its shred.
#[utoipa::path(
    post,
    path = "/api/v1/operator/firms/{id}/reinstate",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The firm's id")),
    responses(
        (status = 200, description = "Reinstated", body = Told),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn reinstate(req: OperatorRequest, PathId(id): PathId<FirmId>) -> Result<Json<Told>, ApiError> {
    Ok(told(operators::reinstate(&req, id).await?))
}

/// A request for support access.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// Why, in 1 to 500 characters: the firm's administrators read it.
    reason: String,
    /// `settings` (its settings and users) or `matters` (the matters named).
    scope: String,
    #[serde(default)]
    matters: Vec<String>,
    /// 1 to 240.
    minutes: i64,
    /// For a security or infrastructure incident: approved by a second operator.
    #[serde(default)]
    emergency: bool,
}

/// A support grant's id.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantCreated {
    id: String,
}

/// Asks a firm for support access (or, for an incident, emergency access).
#[utoipa::path(
    post,
    path = "/api/v1/operator/firms/{id}/support",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The firm's id")),
    request_body = GrantBody,
    responses(
        (status = 201, description = "Asked for", body = GrantCreated),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn request_support(
    req: OperatorRequest,
    PathId(id): PathId<FirmId>,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<(StatusCode, Json<GrantCreated>), ApiError> {
    let input = GrantInput {
        reason: body.reason,
        scope: body.scope,
        matters: body.matters.join(","),
        minutes: body.minutes.to_string(),
        emergency: body.emergency,
    };
    let grant = support::request(&req, id, &input).await?;
    Ok((StatusCode::CREATED, Json(GrantCreated { id: grant.to_string() })))
}

/// A support grant, as its operator sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantView {
    id: String,
    firm: String,
    reason: String,
    /// `settings` or `matters`.
    scope: &'static str,
    matters: Vec<String>,
    minutes: i64,
    emergency: bool,
    /// `requested`, `approved`, `refused` or `ended`.
    state: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    ends_at: Option<time::OffsetDateTime>,
}

fn grant_view(grant: SupportGrant) -> GrantView {
    let (scope, matters) = match &grant.scope {
        SupportScope::Settings => ("settings", Vec::new()),
        SupportScope::Matters(ids) => ("matters", ids.iter().map(ToString::to_string).collect()),
    };
    GrantView {
        id: grant.id.to_string(),
        firm: grant.firm.to_string(),
        reason: grant.reason,
        scope,
        matters,
        minutes: grant.minutes,
        emergency: grant.emergency,
        state: match grant.state {
            GrantState::Requested => "requested",
            GrantState::Approved => "approved",
            GrantState::Refused => "refused",
            GrantState::Ended => "ended",
        },
        ends_at: grant.ends_at,
    }
}

/// The grants the caller asked for, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/operator/grants",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [])),
    responses((status = 200, description = "The caller's grants", body = Vec<GrantView>), crate::openapi::SignedInErrors),
)]
pub async fn grants(req: OperatorRequest) -> Result<Json<Vec<GrantView>>, ApiError> {
    Ok(Json(support::of_operator(&req).await?.into_iter().map(grant_view).collect()))
}

/// Approves another operator's emergency request, as the second operator.
#[utoipa::path(
    post,
    path = "/api/v1/operator/grants/{id}/approve-emergency",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The grant's id")),
    responses(
        (status = 204, description = "In force"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn approve_emergency(
    req: OperatorRequest,
    PathId(id): PathId<SupportGrantId>,
) -> Result<StatusCode, ApiError> {
    support::approve_emergency(&req, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one of the caller's grants.
#[utoipa::path(
    post,
    path = "/api/v1/operator/grants/{id}/end",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The grant's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn end_grant(
    req: OperatorRequest,
    PathId(id): PathId<SupportGrantId>,
) -> Result<StatusCode, ApiError> {
    support::end_own(&req, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many of the operator log's newest entries.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// 1 to 1000; 100 when not given.
    limit: Option<i64>,
}

/// The operator log's newest entries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/operator/log",
    tag = "operator",
    security(("operator_bearer" = []), ("operator_cookie" = [])),
    params(LogQuery),
    responses(
        (status = 200, description = "The entries", body = Vec<Object>),
        (status = 400, response = crate::openapi::BadRequest),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn log(
    req: OperatorRequest,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<Vec<ringfence_core::audit::StoredAuditEntry>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 1000"));
    }
    Ok(Json(operators::log(&req, limit).await?))
}
