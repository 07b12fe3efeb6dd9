//! How long closed matters are kept, and their disposal, over the use cases of
//! `crate::app::retention`.

use axum::Json;
use http::StatusCode;
use ringfence_core::ids::MatterId;
use ringfence_store::firm::access::Dispose;

use crate::app::Ctx;
use crate::app::access::On;
use crate::app::retention::{self, DueList, RetentionSetting};
use crate::error::{ApiError, ApiJson};

/// How long the firm keeps closed matters.
#[utoipa::path(
    get,
    path = "/api/v1/firm/retention-policy",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The policy", body = RetentionSetting),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_policy(ctx: Ctx) -> Result<Json<RetentionSetting>, ApiError> {
    Ok(Json(retention::policy(&ctx).await?))
}

/// Sets how long the firm keeps closed matters: a window of 90 days to 5 years, or none
/// (indefinitely); automatic deletion needs a window.
#[utoipa::path(
    put,
    path = "/api/v1/firm/retention-policy",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = RetentionSetting,
    responses(
        (status = 200, description = "The policy now in force", body = RetentionSetting),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_policy(
    ctx: Ctx,
    ApiJson(body): ApiJson<RetentionSetting>,
) -> Result<Json<RetentionSetting>, ApiError> {
    Ok(Json(retention::set_policy(&ctx, body).await?))
}

/// The closed matters past the firm's retention window, oldest first, for review: each by
/// number, client and dates, never its content.
#[utoipa::path(
    get,
    path = "/api/v1/firm/disposals",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The matters due for disposal", body = DueList),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn due(ctx: Ctx) -> Result<Json<DueList>, ApiError> {
    Ok(Json(retention::due(&ctx).await?))
}

/// Disposes of a closed matter past the retention window: it is deleted, restorable by its
/// lead for the grace period, then purged.
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/dispose",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 204, description = "Deleted; its lead can restore it for the grace period"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn dispose(on: On<Dispose, MatterId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    retention::dispose(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}
