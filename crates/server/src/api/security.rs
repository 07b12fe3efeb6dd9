//! Breach detection over the use cases of `crate::app::decoys` and `crate::app::incidents`:
//! decoys planted and listed, and the register of incidents, for administrators and audit
//! officers.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use uuid::Uuid;

use crate::AppState;
use crate::app::Ctx;
use crate::app::decoys::{
    self, DecoyList, DecoyView, NewDecoyCredential, NewDecoyMatter, NewDecoyUser, PlantedCredential,
};
use crate::app::incidents::{
    self, AlertSettingsInput, IncidentList, IncidentRecord, IncidentView, NewIncident, NewNotification,
    NewStep,
};
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson};

/// The firm's decoys: what each is, where it was left and who planted it. Reading the list
/// is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/security/decoys",
    operation_id = "list_decoys",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    responses(
        (status = 200, description = "Every decoy, the newest first", body = DecoyList),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list_decoys(ctx: Ctx) -> Result<Json<DecoyList>, ApiError> {
    Ok(Json(decoys::list(&ctx).await?))
}

/// Plants a decoy user account: active, with a password nobody knows and no second factor.
/// Any sign-in attempt or password reset asked for with it raises an alert.
#[utoipa::path(
    post,
    path = "/api/v1/security/decoys/users",
    operation_id = "plant_decoy_user",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    request_body = NewDecoyUser,
    responses(
        (status = 201, description = "The decoy", body = DecoyView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn plant_user(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewDecoyUser>,
) -> Result<(StatusCode, Json<DecoyView>), ApiError> {
    Ok((StatusCode::CREATED, Json(decoys::plant_user(&ctx, &state, body).await?)))
}

/// Plants a decoy matter led by a decoy user: a client, the matter, notes and documents that
/// read like real work. Any read, download or refused attempt on them raises an alert.
#[utoipa::path(
    post,
    path = "/api/v1/security/decoys/matters",
    operation_id = "plant_decoy_matter",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    request_body = NewDecoyMatter,
    responses(
        (status = 201, description = "The decoy", body = DecoyView),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn plant_matter(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewDecoyMatter>,
) -> Result<(StatusCode, Json<DecoyView>), ApiError> {
    Ok((StatusCode::CREATED, Json(decoys::plant_matter(&ctx, &state, body).await?)))
}

/// Plants a decoy session token, shown this once: presented anywhere, it is refused like any
/// unknown token and raises an alert.
#[utoipa::path(
    post,
    path = "/api/v1/security/decoys/credentials",
    operation_id = "plant_decoy_credential",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    request_body = NewDecoyCredential,
    responses(
        (status = 201, description = "The decoy and its token", body = PlantedCredential),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn plant_credential(
    ctx: Ctx,
    ApiJson(body): ApiJson<NewDecoyCredential>,
) -> Result<(StatusCode, Json<PlantedCredential>), ApiError> {
    Ok((StatusCode::CREATED, Json(decoys::plant_credential(&ctx, body).await?)))
}

/// The firm's incidents, the newest first. Reading the list is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/security/incidents",
    operation_id = "list_incidents",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    responses(
        (status = 200, description = "Every incident", body = IncidentList),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list_incidents(ctx: Ctx) -> Result<Json<IncidentList>, ApiError> {
    Ok(Json(incidents::list(&ctx).await?))
}

/// One incident, all the register holds of it: its record, the clock to the regulator's
/// 72-hour deadline, its alerts, steps and notifications, a timeline from the log of the
/// actors involved, and drafts of the notifications POPIA s 22 requires.
#[utoipa::path(
    get,
    path = "/api/v1/security/incidents/{id}",
    operation_id = "get_incident",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    params(("id" = Uuid, Path, description = "The incident")),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_incident(PathId(id): PathId<Uuid>, ctx: Ctx) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(incidents::get(&ctx, id).await?))
}

/// Opens an incident by hand: a breach found some other way than by an alert.
#[utoipa::path(
    post,
    path = "/api/v1/security/incidents",
    operation_id = "open_incident",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    request_body = NewIncident,
    responses(
        (status = 201, description = "The incident", body = IncidentView),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn open_incident(
    ctx: Ctx,
    ApiJson(body): ApiJson<NewIncident>,
) -> Result<(StatusCode, Json<IncidentView>), ApiError> {
    Ok((StatusCode::CREATED, Json(incidents::open(&ctx, body).await?)))
}

/// Records what the register holds of an incident, all at once. Confirming it starts the
/// clock to the regulator's deadline.
#[utoipa::path(
    put,
    path = "/api/v1/security/incidents/{id}",
    operation_id = "record_incident",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The incident")),
    request_body = IncidentRecord,
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn record_incident(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    ApiJson(body): ApiJson<IncidentRecord>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(incidents::record(&ctx, id, body).await?))
}

/// Records a step taken to contain or remedy an incident.
#[utoipa::path(
    post,
    path = "/api/v1/security/incidents/{id}/steps",
    operation_id = "add_incident_step",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The incident")),
    request_body = NewStep,
    responses(
        (status = 201, description = "The incident", body = IncidentView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn add_step(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewStep>,
) -> Result<(StatusCode, Json<IncidentView>), ApiError> {
    Ok((StatusCode::CREATED, Json(incidents::add_step(&ctx, id, body).await?)))
}

/// Records who was notified of an incident, and when: telling the regulator stops the clock.
#[utoipa::path(
    post,
    path = "/api/v1/security/incidents/{id}/notifications",
    operation_id = "add_incident_notification",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The incident")),
    request_body = NewNotification,
    responses(
        (status = 201, description = "The incident", body = IncidentView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn add_notification(
    PathId(id): PathId<Uuid>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewNotification>,
) -> Result<(StatusCode, Json<IncidentView>), ApiError> {
    Ok((StatusCode::CREATED, Json(incidents::add_notification(&ctx, id, body).await?)))
}

/// The register's report of an incident as Markdown, drafts included, to keep or send on.
#[utoipa::path(
    get,
    path = "/api/v1/security/incidents/{id}/report.md",
    operation_id = "incident_report",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    params(("id" = Uuid, Path, description = "The incident")),
    responses(
        (status = 200, description = "The report", content_type = "text/markdown", body = String),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn report(PathId(id): PathId<Uuid>, ctx: Ctx) -> Result<Response, ApiError> {
    let text = incidents::report(&ctx, id).await?;
    let disposition = format!("attachment; filename=\"incident-{id}.md\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/markdown; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// The firm's thresholds for alerts on access out of the ordinary: downloads, refusals and
/// failing sign-ins in a window, administrators' new devices, and working hours.
#[utoipa::path(
    get,
    path = "/api/v1/security/alert-settings",
    operation_id = "get_alert_settings",
    tag = "security",
    security(("bearer" = ["auditor", "admin"]), ("session_cookie" = ["auditor", "admin"])),
    responses(
        (status = 200, description = "The thresholds", body = AlertSettingsInput),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn alert_settings(ctx: Ctx) -> Result<Json<AlertSettingsInput>, ApiError> {
    Ok(Json(incidents::alert_settings(&ctx).await?))
}

/// Changes the firm's thresholds, all at once. Firm administrators only.
#[utoipa::path(
    put,
    path = "/api/v1/security/alert-settings",
    operation_id = "set_alert_settings",
    tag = "security",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = AlertSettingsInput,
    responses(
        (status = 200, description = "The thresholds now", body = AlertSettingsInput),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_alert_settings(
    ctx: Ctx,
    ApiJson(body): ApiJson<AlertSettingsInput>,
) -> Result<Json<AlertSettingsInput>, ApiError> {
    Ok(Json(incidents::set_alert_settings(&ctx, body).await?))
}
