//! Data subjects' requests: the register, and for a client subject its report, correction
//! and erasure. Firm administrators only; the rules are in `crate::app::data_subjects`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use ringfence_core::ids::SubjectRequestId;

use crate::app::Ctx;
use crate::app::data_subjects::{
    self, CloseInput, CorrectionInput, NewRequestInput, RegisterPage, RegisterQuery, Report, RequestView,
    ResponseDaysSetting,
};
use crate::edge::PathId;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// Registers a data subject's request, due the firm's number of days after receipt.
#[utoipa::path(
    post,
    path = "/api/v1/data-subject-requests",
    operation_id = "register_data_subject_request",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = NewRequestInput,
    responses(
        (status = 201, description = "The request, registered", body = RequestView),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn register(
    ctx: Ctx,
    ApiJson(body): ApiJson<NewRequestInput>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    Ok((StatusCode::CREATED, Json(data_subjects::register(&ctx, body).await?)))
}

/// The register, the earliest due first, each request flagged when overdue.
#[utoipa::path(
    get,
    path = "/api/v1/data-subject-requests",
    operation_id = "list_data_subject_requests",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(RegisterQuery),
    responses(
        (status = 200, description = "A page of the register", body = RegisterPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(
    ctx: Ctx,
    ApiQuery(query): ApiQuery<RegisterQuery>,
) -> Result<Json<RegisterPage>, ApiError> {
    Ok(Json(data_subjects::list(&ctx, query).await?))
}

/// One request on the register.
#[utoipa::path(
    get,
    path = "/api/v1/data-subject-requests/{id}",
    operation_id = "get_data_subject_request",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(("id" = Uuid, Path, description = "The request")),
    responses(
        (status = 200, description = "The request", body = RequestView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get(PathId(id): PathId<SubjectRequestId>, ctx: Ctx) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(data_subjects::get(&ctx, id).await?))
}

/// The personal information held on the client a request is about, as a JSON download:
/// the client record and the matters held on it by number, never their content. A handler
/// screened from the client or any of its matters gets 404 (recorded); a request about
/// someone who is not a client, 409 `not_a_client`.
#[utoipa::path(
    get,
    path = "/api/v1/data-subject-requests/{id}/report",
    operation_id = "data_subject_report",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    params(("id" = Uuid, Path, description = "The request")),
    responses(
        (status = 200, description = "The report, as an attachment", body = Report),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn report(PathId(id): PathId<SubjectRequestId>, ctx: Ctx) -> Result<Response, ApiError> {
    let report = data_subjects::report(&ctx, id).await?;
    let disposition = format!("attachment; filename=\"data-subject-report-{id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(report)).into_response())
}

/// Corrects the client's record as a correction request asks, and completes the request.
/// 409 `wrong_kind`, `request_closed` or `not_a_client` when it cannot.
#[utoipa::path(
    post,
    path = "/api/v1/data-subject-requests/{id}/correction",
    operation_id = "correct_data_subject",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The request")),
    request_body = CorrectionInput,
    responses(
        (status = 200, description = "The request, completed", body = RequestView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn correct(
    PathId(id): PathId<SubjectRequestId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<CorrectionInput>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(data_subjects::correct(&ctx, id, body).await?))
}

/// Answers an erasure request: the client's personal information is erased when no duty to
/// keep its records stands (the request is then `completed`), otherwise the request is
/// `refused` with the reason as its outcome. 409 `wrong_kind`, `request_closed` or
/// `not_a_client` when it cannot be answered this way.
#[utoipa::path(
    post,
    path = "/api/v1/data-subject-requests/{id}/erasure",
    operation_id = "erase_data_subject",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The request")),
    responses(
        (status = 200, description = "The request, completed or refused with its reason", body = RequestView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn erase(PathId(id): PathId<SubjectRequestId>, ctx: Ctx) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(data_subjects::erase(&ctx, id).await?))
}

/// Closes a request by hand with its outcome and the reason. 409 `request_closed`, or
/// `use_the_action` for completing a correction or erasure about a client.
#[utoipa::path(
    post,
    path = "/api/v1/data-subject-requests/{id}/close",
    operation_id = "close_data_subject_request",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The request")),
    request_body = CloseInput,
    responses(
        (status = 200, description = "The request, closed", body = RequestView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn close(
    PathId(id): PathId<SubjectRequestId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<CloseInput>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(data_subjects::close(&ctx, id, body).await?))
}

/// How many days after receipt the firm answers a data subject's request.
#[utoipa::path(
    get,
    path = "/api/v1/firm/data-subject-response-days",
    operation_id = "get_data_subject_response_days",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The firm's number of days", body = ResponseDaysSetting),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_response_days(ctx: Ctx) -> Result<Json<ResponseDaysSetting>, ApiError> {
    Ok(Json(data_subjects::response_days(&ctx).await?))
}

/// Sets how many days (1 to 90) after receipt requests registered from now on are due.
#[utoipa::path(
    put,
    path = "/api/v1/firm/data-subject-response-days",
    operation_id = "set_data_subject_response_days",
    tag = "data-subjects",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = ResponseDaysSetting,
    responses(
        (status = 200, description = "The firm's number of days, as set", body = ResponseDaysSetting),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_response_days(
    ctx: Ctx,
    ApiJson(body): ApiJson<ResponseDaysSetting>,
) -> Result<Json<ResponseDaysSetting>, ApiError> {
    Ok(Json(data_subjects::set_response_days(&ctx, body).await?))
}
