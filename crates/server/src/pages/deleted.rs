//! The list of what was recently deleted, with a button to restore each thing the caller's
//! roles allow it to, over `crate::app::deletion`.

use ringfence_core::deletion::DeletedKind;
use ringfence_store::firm::access::Lifecycle;

use super::*;
use crate::app::deletion::{self, DeletedView};
use crate::edge::PathVersion;

struct DeletedRow {
    what: String,
    /// The matter: its page's id when it can be opened (not itself deleted), and number.
    matter: Option<(Option<String>, String)>,
    deleted: String,
    until: String,
    /// Where the restore button posts, when the caller may restore it.
    restore: Option<String>,
}

#[derive(Template)]
#[template(path = "deleted.html")]
struct DeletedPage {
    signed_in: Option<SignedInUser>,
    grace_days: i64,
    firm_wide: bool,
    items: Vec<DeletedRow>,
}

fn row(dates: &Dates, item: DeletedView) -> DeletedRow {
    let (what, restore) = match (item.kind, item.document_id, item.version) {
        (DeletedKind::Matter, ..) => ("Matter".to_owned(), format!("/matters/{}/restore", item.id)),
        (DeletedKind::Note, ..) => ("Note".to_owned(), format!("/notes/{}/restore", item.id)),
        (DeletedKind::Document, ..) => ("Document".to_owned(), format!("/documents/{}/restore", item.id)),
        (DeletedKind::DocumentVersion, Some(document), Some(version)) => (
            format!("Version {version} of a document"),
            format!("/documents/{document}/versions/{version}/restore"),
        ),
        (DeletedKind::DocumentVersion, ..) => ("Version of a document".to_owned(), String::new()),
        (DeletedKind::Client, ..) => ("Client".to_owned(), format!("/clients/{}/restore", item.id)),
    };
    let opens = item.kind != DeletedKind::Matter;
    DeletedRow {
        what,
        matter: item
            .matter_number
            .map(|number| (item.matter_id.filter(|_| opens).map(|id| id.to_string()), number)),
        deleted: dates.moment(item.deleted_at),
        until: dates.day(item.restorable_until),
        restore: (item.may_restore && !restore.is_empty()).then_some(restore),
    }
}

pub async fn deleted(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    let listed = async { Ok::<_, AppError>((deletion::list(&ctx).await?, Dates::of(&ctx).await?)) }.await;
    match listed {
        Ok((list, dates)) => render(
            &DeletedPage {
                signed_in: signed_in(&ctx.actor, &csrf),
                grace_days: list.grace_days,
                firm_wide: ctx.actor.roles.contains(&FirmRole::Admin),
                items: list.items.into_iter().map(|item| row(&dates, item)).collect(),
            },
            StatusCode::OK,
        ),
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

pub async fn restore_matter(
    on: On<Lifecycle, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    done_or_failure(app::matters::restore(&ctx, on).await, "/deleted", &ctx.actor, &csrf)
}

pub async fn restore_note(
    on: On<WriteContent, NoteId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    done_or_failure(deletion::restore_note(&ctx, on).await, "/deleted", &ctx.actor, &csrf)
}

pub async fn restore_document(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    done_or_failure(deletion::restore_document(&ctx, on).await, "/deleted", &ctx.actor, &csrf)
}

pub async fn restore_version(
    on: On<WriteContent, DocumentId>,
    ctx: Ctx,
    PathVersion(version): PathVersion,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    done_or_failure(deletion::restore_version(&ctx, on, version).await, "/deleted", &ctx.actor, &csrf)
}

pub async fn restore_client(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    done_or_failure(deletion::restore_client(&ctx, id).await, "/deleted", &ctx.actor, &csrf)
}
