//! Matters and their members and walls, over the use cases of `crate::app::matters`. Every
//! route on one matter takes the `On` its route was declared for.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use ringfence_core::ids::{ClientId, MatterId};
use ringfence_store::firm::access::{AccessHistory, Edit, Lifecycle, ManageMembers, ManageWalls, View};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::app::access::On;
use crate::app::matters::{
    self as use_cases, AccessHistoryView, Directory, MatterList, MatterView, MemberList,
};
use crate::app::{AppError, Ctx};
use crate::edge::PathUser;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// A matter to open.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMatter {
    /// 1 to 300 characters.
    pub(crate) title: String,
    /// The client the matter is for.
    pub(crate) client_id: String,
    /// At most 20000 characters.
    pub(crate) description: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/matters",
    tag = "matters",
    security(
        ("bearer" = ["attorney", "paralegal"]),
        ("session_cookie" = ["attorney", "paralegal"], "csrf_token" = []),
    ),
    request_body = NewMatter,
    responses(
        (status = 201, description = "The matter opened; its opener leads it", body = MatterView),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewMatter>,
) -> Result<(StatusCode, Json<MatterView>), ApiError> {
    let client =
        ClientId::parse(&body.client_id).ok_or_else(|| AppError::invalid("client_id", "no such client"));
    let input = use_cases::NewMatter { title: body.title, client: client?, description: body.description };
    Ok((StatusCode::CREATED, Json(use_cases::create(&ctx, &state.storage, input).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/matters",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The caller's matters", body = MatterList),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(ctx: Ctx) -> Result<Json<MatterList>, ApiError> {
    Ok(Json(use_cases::list(&ctx).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 200, description = "The matter", body = MatterView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get(on: On<View, MatterId>, ctx: Ctx) -> Result<Json<MatterView>, ApiError> {
    Ok(Json(use_cases::view(&ctx, on).await?))
}

/// Changes to a matter's details; absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatterChanges {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/matters/{id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    request_body = MatterChanges,
    responses(
        (status = 200, description = "The matter as changed", body = MatterView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn update(
    on: On<Edit, MatterId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<MatterChanges>,
) -> Result<Json<MatterView>, ApiError> {
    let changes = use_cases::MatterChanges { title: body.title, description: body.description };
    Ok(Json(use_cases::update(&ctx, on, changes).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/close",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 200, description = "The matter, closed", body = MatterView),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn close(on: On<Lifecycle, MatterId>, ctx: Ctx) -> Result<Json<MatterView>, ApiError> {
    Ok(Json(use_cases::close(&ctx, on).await?))
}

/// Opens a closed matter again; retention stops running on it.
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/reopen",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 200, description = "The matter, open again", body = MatterView),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn reopen(on: On<Lifecycle, MatterId>, ctx: Ctx) -> Result<Json<MatterView>, ApiError> {
    Ok(Json(use_cases::reopen(&ctx, on).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/matters/{id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 204, description = "Deleted; it can be restored for 30 days"),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn delete(on: On<Lifecycle, MatterId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    use_cases::delete(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/restore",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 200, description = "The matter, restored", body = MatterView),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn restore(on: On<Lifecycle, MatterId>, ctx: Ctx) -> Result<Json<MatterView>, ApiError> {
    Ok(Json(use_cases::restore(&ctx, on).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/members",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The matter")),
    responses(
        (status = 200, description = "The matter's team", body = MemberList),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn members(on: On<ManageMembers, MatterId>, ctx: Ctx) -> Result<Json<MemberList>, ApiError> {
    Ok(Json(use_cases::members(&ctx, on).await?))
}

/// A role on a matter.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    #[schema(value_type = crate::openapi::MatterRoleSchema)]
    pub(crate) role: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/matters/{id}/members/{user_id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(
        ("id" = Uuid, Path, description = "The matter"),
        ("user_id" = Uuid, Path, description = "The firm user to give the role"),
    ),
    request_body = RoleBody,
    responses(
        (status = 204, description = "The user holds the role"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_member(
    on: On<ManageMembers, MatterId>,
    State(state): State<AppState>,
    ctx: Ctx,
    PathUser(user): PathUser,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<StatusCode, ApiError> {
    let role = use_cases::role(&body.role)?;
    use_cases::set_member(&ctx, &state.mailer, on, user, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/matters/{id}/members/{user_id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(
        ("id" = Uuid, Path, description = "The matter"),
        ("user_id" = Uuid, Path, description = "The member to take off the team"),
    ),
    responses(
        (status = 204, description = "The user is off the team"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn remove_member(
    on: On<ManageMembers, MatterId>,
    ctx: Ctx,
    PathUser(user): PathUser,
) -> Result<StatusCode, ApiError> {
    use_cases::remove_member(&ctx, on, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/api/v1/matters/{id}/walls/{user_id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(
        ("id" = Uuid, Path, description = "The matter"),
        ("user_id" = Uuid, Path, description = "The firm user to screen from it"),
    ),
    responses(
        (status = 204, description = "The wall stands; the team and the user are told"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn place_wall(
    on: On<ManageWalls, MatterId>,
    State(state): State<AppState>,
    ctx: Ctx,
    PathUser(user): PathUser,
) -> Result<StatusCode, ApiError> {
    use_cases::place_wall(&ctx, &state.mailer, on, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/matters/{id}/walls/{user_id}",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    params(
        ("id" = Uuid, Path, description = "The matter"),
        ("user_id" = Uuid, Path, description = "The user the wall screens"),
    ),
    responses(
        (status = 204, description = "The wall is lifted"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn remove_wall(
    on: On<ManageWalls, MatterId>,
    ctx: Ctx,
    PathUser(user): PathUser,
) -> Result<StatusCode, ApiError> {
    use_cases::remove_wall(&ctx, on, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every matter's number, title, status and lead, for administrators managing memberships,
/// leaving out any matter a wall screens the administrator from.
#[utoipa::path(
    get,
    path = "/api/v1/admin/matters",
    tag = "matters",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The directory", body = Directory),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn directory(ctx: Ctx) -> Result<Json<Directory>, ApiError> {
    let rows = use_cases::directory(&ctx).await?;
    Ok(Json(Directory { items: rows.into_iter().map(|row| row.entry).collect(), next_cursor: None }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The moment asked about, RFC 3339; now when absent.
    at: Option<String>,
}

/// Who could read the matter at a moment (now by default), and who granted it: the report
/// firms hand to clients and regulators. For the lead, administrators and audit officers.
#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/access-history",
    tag = "matters",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The matter"), HistoryQuery),
    responses(
        (status = 200, description = "The readers at that moment", body = AccessHistoryView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn access_history(
    on: On<AccessHistory, MatterId>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<AccessHistoryView>, ApiError> {
    let at = match &query.at {
        Some(at) => Some(time::OffsetDateTime::parse(at, &Rfc3339).map_err(|_| {
            AppError::invalid("at", "expected an RFC 3339 time such as 2026-11-23T09:00:00Z")
        })?),
        None => None,
    };
    Ok(Json(use_cases::access_history(&ctx, on, at).await?))
}
