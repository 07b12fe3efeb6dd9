//! Notes on a matter. Members and leads write; viewers read; billing sees none. A note's
//! routes find its matter first and check the caller's access to that matter.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use ringfence_core::audit::AuditAction;
use ringfence_store::firm::access::{ReadContent, WriteContent};
use ringfence_store::firm::notes::{self, Note, NotesAfter};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::matter_access::{record, record_read, require, require_for};

const KINDS: [&str; 4] = ["note", "strategy", "statement", "communication"];

fn note_json(note: &Note) -> Value {
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    json!({
        "id": note.id,
        "matter_id": note.matter_id,
        "kind": note.kind,
        "privileged": note.privileged,
        "body": note.body,
        "version": note.version,
        "author_id": note.author_id,
        "created_at": time(note.created_at),
        "updated_at": time(note.updated_at),
    })
}

/// The longest note body, in characters.
pub const MAX_NOTE_CHARS: usize = 200_000;

fn body_text(raw: &str) -> Result<&str, ApiError> {
    if raw.trim().is_empty() || raw.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid("body: 1 to 200000 characters"));
    }
    Ok(raw)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    pub(crate) kind: String,
    pub(crate) body: String,
    pub(crate) privileged: bool,
}

pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(matter): Path<String>,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !KINDS.contains(&body.kind.as_str()) {
        return Err(ApiError::invalid("kind: note, strategy, statement or communication"));
    }
    let text = body_text(&body.body)?;
    let (mut tx, access) = require::<WriteContent>(&actor, &client, actor.begin().await?, &matter).await?;
    let note = notes::create(&mut tx, &access, &body.kind, body.privileged, text, state.clock.now()).await?;
    record(&mut tx, &actor, &client, &access, AuditAction::NoteCreated, ("note", note.id.to_string()))
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(note_json(&note))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A page of a matter's notes, oldest first; the cursor names the last note of the page.
pub async fn list(
    actor: Actor,
    client: Client,
    Path(matter): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 500"));
    }
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let (mut tx, access) =
        require::<ReadContent>(&actor, &client, actor.begin_read().await?, &matter).await?;
    let mut page = notes::list_page(&mut tx, &access, after, limit + 1).await?;
    record_read(tx, &actor, &client, &access, AuditAction::NoteListed, ("matter", matter)).await?;
    let more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    let next = more.then(|| page.last().map(|last| cursor_of(NotesAfter::of(last)))).flatten();
    let items: Vec<Value> = page.iter().map(note_json).collect();
    Ok(Json(json!({ "items": items, "next_cursor": next })))
}

fn cursor_of(after: NotesAfter) -> String {
    format!("{}.{}", after.created_at, after.id.simple())
}

fn parse_cursor(raw: &str) -> Result<NotesAfter, ApiError> {
    let bad = || ApiError::invalid("cursor: use next_cursor from the previous page");
    let (created_at, id) = raw.split_once('.').ok_or_else(bad)?;
    let created_at = created_at.parse::<i64>().map_err(|_| bad())?;
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    if cursor_of(NotesAfter { created_at, id }) != raw {
        return Err(bad());
    }
    Ok(NotesAfter { created_at, id })
}

pub async fn get(actor: Actor, client: Client, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (mut tx, access, note) =
        require_for::<ReadContent, _>(&actor, &client, actor.begin_read().await?, &id, notes::matter_of)
            .await?;
    let found = notes::get(&mut tx, &access, note).await?.ok_or_else(ApiError::not_found)?;
    record_read(tx, &actor, &client, &access, AuditAction::NoteViewed, ("note", id)).await?;
    Ok(Json(note_json(&found)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteChanges {
    body: Option<String>,
    privileged: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteChanges>,
) -> Result<Json<Value>, ApiError> {
    let text = body.body.as_deref().map(body_text).transpose()?;
    let (mut tx, access, note) =
        require_for::<WriteContent, _>(&actor, &client, actor.begin().await?, &id, notes::matter_of).await?;
    if !notes::update(&mut tx, &access, note, text, body.privileged, state.clock.now()).await? {
        return Err(ApiError::not_found());
    }
    record(&mut tx, &actor, &client, &access, AuditAction::NoteChanged, ("note", id.clone())).await?;
    let updated = notes::get(&mut tx, &access, note).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(note_json(&updated)))
}

pub async fn delete(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, access, note) =
        require_for::<WriteContent, _>(&actor, &client, actor.begin().await?, &id, notes::matter_of).await?;
    if !notes::delete(&mut tx, &access, note, state.clock.now()).await? {
        return Err(ApiError::not_found());
    }
    record(&mut tx, &actor, &client, &access, AuditAction::NoteDeleted, ("note", id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
