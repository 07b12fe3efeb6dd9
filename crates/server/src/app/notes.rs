//! Notes on a matter. Members and leads write; viewers read; billing sees none. A note's
//! use cases find its matter first and check the caller's access to that matter.

use ringfence_core::audit::AuditAction;
use ringfence_core::ids::{MatterId, NoteId, UserId};
use ringfence_store::firm::access::{ReadContent, WriteContent};
use ringfence_store::firm::notes::{self, Note, NotesAfter};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{self, On};
use super::legal_holds::refuse_if_held;
use super::{AppError, Ctx};

/// The longest note body, in characters.
pub const MAX_NOTE_CHARS: usize = 200_000;
/// Notes per page when the caller does not say, and the most it may ask for.
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

/// What a note is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    Note,
    Strategy,
    Statement,
    Communication,
}

impl NoteKind {
    pub const ALL: [NoteKind; 4] = [Self::Note, Self::Strategy, Self::Statement, Self::Communication];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Strategy => "strategy",
            Self::Statement => "statement",
            Self::Communication => "communication",
        }
    }

    /// A kind as sent; anything else is refused naming the field.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| AppError::invalid("kind", "note, strategy, statement or communication"))
    }
}

/// A note as its readers see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Note)]
pub struct NoteView {
    pub id: Uuid,
    pub matter_id: Uuid,
    #[schema(value_type = NoteKind)]
    pub kind: String,
    pub privileged: bool,
    pub body: String,
    /// Counts the note's changes, from 1.
    pub version: i64,
    #[schema(value_type = Uuid)]
    pub author_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Note> for NoteView {
    fn from(note: Note) -> Self {
        Self {
            id: note.id,
            matter_id: note.matter_id,
            kind: note.kind,
            privileged: note.privileged,
            body: note.body,
            version: note.version,
            author_id: note.author_id,
            created_at: note.created_at,
            updated_at: note.updated_at,
        }
    }
}

/// A page of a matter's notes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = NotePage)]
pub struct NotePage {
    pub items: Vec<NoteView>,
    /// Where the next page starts, or null after the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A new note.
#[derive(Debug)]
pub struct NewNote {
    pub kind: NoteKind,
    pub body: String,
    pub privileged: bool,
}

/// What a change to a note changes: each field left out stays as it is.
#[derive(Debug, Default)]
pub struct NoteChanges {
    pub body: Option<String>,
    pub privileged: Option<bool>,
}

/// Which page of notes to read.
#[derive(Debug, Default)]
pub struct PageRequest {
    pub limit: Option<i64>,
    pub after: Option<NotesAfter>,
}

fn body_text(raw: &str) -> Result<&str, AppError> {
    if raw.trim().is_empty() || raw.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::invalid("body", "1 to 200000 characters"));
    }
    Ok(raw)
}

/// The cursor naming the last note of a page.
fn cursor_of(after: NotesAfter) -> String {
    format!("{}.{}", after.created_at, after.id.simple())
}

/// Reads a cursor given back: only one this module made is taken.
pub fn parse_cursor(raw: &str) -> Result<NotesAfter, AppError> {
    let bad = || AppError::invalid("cursor", "use next_cursor from the previous page");
    let (created_at, id) = raw.split_once('.').ok_or_else(bad)?;
    let created_at = created_at.parse::<i64>().map_err(|_| bad())?;
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    if cursor_of(NotesAfter { created_at, id }) != raw {
        return Err(bad());
    }
    Ok(NotesAfter { created_at, id })
}

/// Writes a note on the matter.
pub async fn create(ctx: &Ctx, on: On<WriteContent, MatterId>, new: NewNote) -> Result<NoteView, AppError> {
    let text = body_text(&new.body)?;
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let note = notes::create(&mut tx, &access, new.kind.as_str(), new.privileged, text, ctx.now()).await?;
    access::note_done(&mut tx, ctx, &access, AuditAction::NoteCreated, ("note", note.id.to_string())).await?;
    tx.commit().await?;
    Ok(note.into())
}

/// A page of a matter's notes, oldest first.
pub async fn list_page(
    ctx: &Ctx,
    on: On<ReadContent, MatterId>,
    page: PageRequest,
) -> Result<NotePage, AppError> {
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 500"));
    }
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let mut found = notes::list_page(&mut tx, &access, page.after, limit + 1).await?;
    access::note_read(tx, ctx, &access, AuditAction::NoteListed, ("matter", on.id().to_string())).await?;
    let more = found.len() as i64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or_default());
    let next_cursor = more.then(|| found.last().map(|last| cursor_of(NotesAfter::of(last)))).flatten();
    Ok(NotePage { items: found.into_iter().map(NoteView::from).collect(), next_cursor })
}

/// One note, its reading on the record.
pub async fn view(ctx: &Ctx, on: On<ReadContent, NoteId>) -> Result<NoteView, AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin_read().await?, on, notes::matter_of).await?;
    let note = notes::get(&mut tx, &access, on.id().as_uuid()).await?.ok_or(AppError::NotFound)?;
    access::note_read(tx, ctx, &access, AuditAction::NoteViewed, ("note", on.id().to_string())).await?;
    Ok(note.into())
}

/// Changes a note's body or privilege; answers the note as it now is.
pub async fn update(
    ctx: &Ctx,
    on: On<WriteContent, NoteId>,
    changes: NoteChanges,
) -> Result<NoteView, AppError> {
    let text = changes.body.as_deref().map(body_text).transpose()?;
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, notes::matter_of).await?;
    let note = on.id().as_uuid();
    // The same text again (a page's form sends it with a change of privilege) is no edit:
    // it makes no version.
    let current = notes::get(&mut tx, &access, note).await?.ok_or(AppError::NotFound)?;
    let text = text.filter(|text| *text != current.body);
    if !notes::update(&mut tx, &access, note, text, changes.privileged, ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::NoteChanged, ("note", on.id().to_string())).await?;
    let updated = notes::get(&mut tx, &access, note).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(updated.into())
}

/// Deletes a note (softly: it can be restored for the firm's grace period); answers the
/// matter it was on. Not while a legal hold keeps the matter.
pub async fn delete(ctx: &Ctx, on: On<WriteContent, NoteId>) -> Result<MatterId, AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, notes::matter_of).await?;
    refuse_if_held(&mut tx, access.matter()).await?;
    if !notes::delete(&mut tx, &access, on.id().as_uuid(), ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::NoteDeleted, ("note", on.id().to_string())).await?;
    tx.commit().await?;
    Ok(MatterId::from(access.matter()))
}
