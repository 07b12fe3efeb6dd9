//! Notes on a matter, over `crate::app::notes`.

use axum::Json;
use http::StatusCode;
use ringfence_core::ids::{MatterId, NoteId};
use ringfence_store::firm::access::{ReadContent, WriteContent};
use serde::Deserialize;

use crate::app::access::On;
use crate::app::notes::{self, NoteKind, NotePage, NoteView, PageRequest};
use crate::app::{AppError, Ctx};
use crate::error::{ApiError, ApiJson, ApiQuery};

/// A new note.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewNote)]
pub struct NewNote {
    #[schema(value_type = NoteKind)]
    pub(crate) kind: String,
    /// 1 to 200000 characters.
    pub(crate) body: String,
    pub(crate) privileged: bool,
}

impl NewNote {
    /// The note as the use case takes it; an unknown kind is refused naming the field.
    pub(crate) fn typed(self) -> Result<notes::NewNote, AppError> {
        Ok(notes::NewNote {
            kind: NoteKind::parse(&self.kind)?,
            body: self.body,
            privileged: self.privileged,
        })
    }
}

/// Writes a note on the matter.
#[utoipa::path(
    post,
    path = "/api/v1/matters/{id}/notes",
    tag = "notes",
    params(("id" = Uuid, Path, description = "The matter")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = NewNote,
    responses(
        (status = 201, description = "The note written", body = NoteView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn create(
    on: On<WriteContent, MatterId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<(StatusCode, Json<NoteView>), ApiError> {
    let note = notes::create(&ctx, on, body.typed()?).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Notes per page, 1 to 500 (50 if left out).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of a matter's notes, oldest first; the cursor names the last note of the page.
#[utoipa::path(
    get,
    path = "/api/v1/matters/{id}/notes",
    tag = "notes",
    params(("id" = Uuid, Path, description = "The matter"), ListQuery),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A page of notes", body = NotePage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn list(
    on: On<ReadContent, MatterId>,
    ctx: Ctx,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<NotePage>, ApiError> {
    let after = query.cursor.as_deref().map(notes::parse_cursor).transpose()?;
    Ok(Json(notes::list_page(&ctx, on, PageRequest { limit: query.limit, after }).await?))
}

/// One note.
#[utoipa::path(
    get,
    path = "/api/v1/notes/{id}",
    tag = "notes",
    params(("id" = Uuid, Path, description = "The note")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The note", body = NoteView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get(on: On<ReadContent, NoteId>, ctx: Ctx) -> Result<Json<NoteView>, ApiError> {
    Ok(Json(notes::view(&ctx, on).await?))
}

/// What to change of a note; a field left out stays as it is.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NoteChanges)]
pub struct NoteChanges {
    /// 1 to 200000 characters.
    body: Option<String>,
    privileged: Option<bool>,
}

/// Changes a note's body or privilege.
#[utoipa::path(
    patch,
    path = "/api/v1/notes/{id}",
    tag = "notes",
    params(("id" = Uuid, Path, description = "The note")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    request_body = NoteChanges,
    responses(
        (status = 200, description = "The note as it now is", body = NoteView),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn update(
    on: On<WriteContent, NoteId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<NoteChanges>,
) -> Result<Json<NoteView>, ApiError> {
    let changes = notes::NoteChanges { body: body.body, privileged: body.privileged };
    Ok(Json(notes::update(&ctx, on, changes).await?))
}

/// Deletes a note.
#[utoipa::path(
    delete,
    path = "/api/v1/notes/{id}",
    tag = "notes",
    params(("id" = Uuid, Path, description = "The note")),
    security(("bearer" = []), ("session_cookie" = [], "csrf_token" = [])),
    responses(
        (status = 204, description = "The note is deleted"),
        (status = 404, response = crate::openapi::NotFound),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn delete(on: On<WriteContent, NoteId>, ctx: Ctx) -> Result<StatusCode, ApiError> {
    notes::delete(&ctx, on).await?;
    Ok(StatusCode::NO_CONTENT)
}
