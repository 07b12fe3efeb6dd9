//! Firm-wide settings an administrator manages: the sign-in policy, audit retention and
//! the firm's time zone. The rules are in `crate::app::firm_settings`.

use axum::Json;

use crate::app::Ctx;
use crate::app::firm_settings::{self, AuditRetention, SignInPolicy, TimeZoneSetting};
use crate::error::{ApiError, ApiJson};

/// The firm's sign-in policy.
#[utoipa::path(
    get,
    path = "/api/v1/firm/sign-in-policy",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The policy", body = SignInPolicy),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_policy(ctx: Ctx) -> Result<Json<SignInPolicy>, ApiError> {
    Ok(Json(firm_settings::policy(&ctx).await?))
}

/// Replaces the sign-in policy.
///
/// Refuses one that would leave the acting admin unable to sign in (409 `would_lock_out`).
#[utoipa::path(
    put,
    path = "/api/v1/firm/sign-in-policy",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = SignInPolicy,
    responses(
        (status = 200, description = "The policy now in force", body = SignInPolicy),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_policy(
    ctx: Ctx,
    ApiJson(body): ApiJson<SignInPolicy>,
) -> Result<Json<SignInPolicy>, ApiError> {
    Ok(Json(firm_settings::set_policy(&ctx, body).await?))
}

/// How long the audit log is kept.
#[utoipa::path(
    get,
    path = "/api/v1/firm/audit-retention",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The retention", body = AuditRetention),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_retention(ctx: Ctx) -> Result<Json<AuditRetention>, ApiError> {
    Ok(Json(firm_settings::retention(&ctx).await?))
}

/// Sets how long the audit log is kept: 12 months at least, longer if the firm wishes.
#[utoipa::path(
    put,
    path = "/api/v1/firm/audit-retention",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = AuditRetention,
    responses(
        (status = 200, description = "The retention now in force", body = AuditRetention),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_retention(
    ctx: Ctx,
    ApiJson(body): ApiJson<AuditRetention>,
) -> Result<Json<AuditRetention>, ApiError> {
    Ok(Json(firm_settings::set_retention(&ctx, body).await?))
}

/// The time zone the firm's pages show times in (the API answers in UTC regardless).
#[utoipa::path(
    get,
    path = "/api/v1/firm/time-zone",
    tag = "firm",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The firm's time zone", body = TimeZoneSetting),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_time_zone(ctx: Ctx) -> Result<Json<TimeZoneSetting>, ApiError> {
    Ok(Json(firm_settings::time_zone(&ctx).await?))
}

/// Sets the time zone the firm's pages show times in.
#[utoipa::path(
    put,
    path = "/api/v1/firm/time-zone",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = TimeZoneSetting,
    responses(
        (status = 200, description = "The time zone now in force", body = TimeZoneSetting),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_time_zone(
    ctx: Ctx,
    ApiJson(body): ApiJson<TimeZoneSetting>,
) -> Result<Json<TimeZoneSetting>, ApiError> {
    Ok(Json(firm_settings::set_time_zone(&ctx, body).await?))
}
