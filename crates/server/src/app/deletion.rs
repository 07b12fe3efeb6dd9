//! Soft deletion's use cases beyond each area's own delete: restoring notes, documents and
//! their versions, deleting and restoring single versions and clients, the list of what
//! was recently deleted, and the firm's grace period. A thing deleted longer ago than the
//! grace period answers 410 `grace_period_passed`; one that is not deleted, 409
//! `not_deleted`. The purge for good runs as the `lifecycle.purge` job
//! (`ringfence_store::purge`).
//!
//! Each kind of deletion passes through one function: `matters::delete` (and
//! `retention::dispose`, with the store's `dispose_noticed_matters`), `notes::delete`,
//! `documents::delete`, [`delete_version`] and [`delete_client`].

use ringfence_core::audit::AuditAction;
use ringfence_core::deletion::{DeletedKind, GraceDays, Restore};
use ringfence_core::ids::{ClientId, DocumentId, NoteId};
use ringfence_core::matter::{self as policy, MatterAction, Standing};
use ringfence_core::user::FirmRole;
use ringfence_store::firm::access::{self as store_access, WriteContent};
use ringfence_store::firm::clients::{self, ClientDeletion};
use ringfence_store::firm::deletion::{self, Deleted, DeletedScope};
use ringfence_store::firm::documents::{self, VersionDeletion};
use ringfence_store::firm::{legal_holds, notes};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::{self, On};
use super::legal_holds::{held, refuse_if_held};
use super::{AppError, Ctx};

/// What a restore came to, as the caller is answered: `None` (no such thing) is not found.
pub fn restored(done: Option<Restore>) -> Result<(), AppError> {
    match done {
        Some(Restore::Restored) => Ok(()),
        None => Err(AppError::NotFound),
        Some(Restore::NotDeleted) => Err(AppError::conflict("not_deleted", "it is not deleted")),
        Some(Restore::GracePassed) => Err(AppError::Gone {
            code: "grace_period_passed",
            reason: "it was deleted longer ago than the firm's grace period: it cannot be restored"
                .to_owned(),
        }),
    }
}

/// Brings a deleted note back within the grace period.
pub async fn restore_note(ctx: &Ctx, on: On<WriteContent, NoteId>) -> Result<(), AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, notes::matter_of_any).await?;
    restored(notes::restore(&mut tx, &access, on.id().as_uuid(), ctx.now()).await?)?;
    access::note_done(&mut tx, ctx, &access, AuditAction::NoteRestored, ("note", on.id().to_string()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Brings a deleted document back within the grace period.
pub async fn restore_document(ctx: &Ctx, on: On<WriteContent, DocumentId>) -> Result<(), AppError> {
    let (mut tx, access) =
        access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of_any).await?;
    restored(documents::restore(&mut tx, &access, on.id().as_uuid(), ctx.now()).await?)?;
    access::note_done(
        &mut tx,
        ctx,
        &access,
        AuditAction::DocumentRestored,
        ("document", on.id().to_string()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A document's version by its number.
fn version_resource(document: DocumentId, version: i64) -> (&'static str, String) {
    ("document", format!("{document} version {version}"))
}

/// Deletes one version of a document; the one before it becomes current when it was. The
/// document's only version is not deleted alone (409 `last_version`).
pub async fn delete_version(
    ctx: &Ctx,
    on: On<WriteContent, DocumentId>,
    version: i64,
) -> Result<(), AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
    refuse_if_held(&mut tx, access.matter()).await?;
    match documents::delete_version(&mut tx, &access, on.id().as_uuid(), version, ctx.now()).await? {
        VersionDeletion::Deleted => {}
        VersionDeletion::Missing => return Err(AppError::NotFound),
        VersionDeletion::LastVersion => {
            return Err(AppError::conflict(
                "last_version",
                "this is the document's only version: delete the document instead",
            ));
        }
    }
    let resource = version_resource(on.id(), version);
    access::note_done(&mut tx, ctx, &access, AuditAction::DocumentVersionDeleted, resource).await?;
    tx.commit().await?;
    Ok(())
}

/// Brings a deleted version back within the grace period; the newest version is current.
pub async fn restore_version(
    ctx: &Ctx,
    on: On<WriteContent, DocumentId>,
    version: i64,
) -> Result<(), AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
    restored(documents::restore_version(&mut tx, &access, on.id().as_uuid(), version, ctx.now()).await?)?;
    let resource = version_resource(on.id(), version);
    access::note_done(&mut tx, ctx, &access, AuditAction::DocumentVersionRestored, resource).await?;
    tx.commit().await?;
    Ok(())
}

/// The client keeping check: a refusal and an unknown client both answer 404, recorded.
async fn keeping(
    ctx: &Ctx,
    mut tx: ringfence_store::FirmTx,
    id: ClientId,
) -> Result<(ringfence_store::FirmTx, store_access::ClientKeeping), AppError> {
    match store_access::check_client_keeping(&mut tx, ctx.actor.user, &ctx.actor.roles, id.as_uuid()).await? {
        Some(keeping) => Ok((tx, keeping)),
        None => {
            tx.commit().await?;
            Err(super::clients::refuse(ctx, id).await?)
        }
    }
}

/// Deletes a client nothing refers to (409 `client_in_use` while a matter, deleted or not,
/// or a data subject's request does): by whoever took it in before any matter was opened
/// for it, or an administrator.
pub async fn delete_client(ctx: &Ctx, id: ClientId) -> Result<(), AppError> {
    let (mut tx, keeping) = keeping(ctx, ctx.actor.begin().await?, id).await?;
    if legal_holds::holds_client(&mut tx, id.as_uuid()).await? {
        return Err(held());
    }
    match clients::delete(&mut tx, &keeping, ctx.now()).await? {
        ClientDeletion::Deleted => {}
        ClientDeletion::NotLive => return Err(AppError::NotFound),
        ClientDeletion::InUse => {
            return Err(AppError::conflict(
                "client_in_use",
                "a matter of the client (deleted or not) or a data subject's request refers to it",
            ));
        }
    }
    ctx.record(&mut tx, AuditAction::ClientDeleted, Some(("client", id.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// Brings a deleted client back within the grace period.
pub async fn restore_client(ctx: &Ctx, id: ClientId) -> Result<(), AppError> {
    let (mut tx, keeping) = keeping(ctx, ctx.actor.begin().await?, id).await?;
    restored(Some(clients::restore(&mut tx, &keeping, ctx.now()).await?))?;
    ctx.record(&mut tx, AuditAction::ClientRestored, Some(("client", id.to_string()))).await?;
    tx.commit().await?;
    Ok(())
}

/// A thing deleted within the grace period: ids, numbers and dates, never content.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedView {
    #[schema(value_type = String, example = "note")]
    pub kind: DeletedKind,
    pub id: Uuid,
    /// The matter it is (or, for a deleted matter, was) on; none for a client.
    pub matter_id: Option<Uuid>,
    pub matter_number: Option<String>,
    /// For a document version: its document and number.
    pub document_id: Option<Uuid>,
    pub version: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub deleted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub restorable_until: OffsetDateTime,
    /// Whether the caller's roles allow it to restore this.
    pub may_restore: bool,
}

/// What was deleted within the grace period, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedList {
    /// The firm's grace period, in days.
    pub grace_days: i64,
    pub items: Vec<DeletedView>,
}

/// Whether the caller's roles allow restoring `item`: the permission table's action for
/// its kind (a matter's lifecycle; writing a matter's content), or keeping client records.
fn may_restore(ctx: &Ctx, item: &Deleted) -> bool {
    let action = match item.kind {
        DeletedKind::Matter => MatterAction::Lifecycle,
        DeletedKind::Note | DeletedKind::Document | DeletedKind::DocumentVersion => {
            MatterAction::WriteContent
        }
        DeletedKind::Client => return policy::client_lifecycle_allows(&ctx.actor.roles, false, false),
    };
    // The list leaves out what a wall screens the caller from.
    policy::allows(
        &Standing { firm_roles: ctx.actor.roles.clone(), matter_role: item.role, walled: false },
        action,
    )
}

/// What was recently deleted: on the matters the caller leads, or for an administrator on
/// every matter no wall screens it from, and the deleted clients. The listing is recorded.
pub async fn list(ctx: &Ctx) -> Result<DeletedList, AppError> {
    let scope =
        if ctx.actor.roles.contains(&FirmRole::Admin) { DeletedScope::Firm } else { DeletedScope::Leads };
    let (grace, items) = ctx.actor.store.recently_deleted(ctx.actor.user, scope, ctx.now()).await?;
    let tx = ctx.actor.begin_read().await?;
    ctx.record_read(tx, AuditAction::DeletedListed, None).await?;
    let items = items
        .into_iter()
        .map(|item| DeletedView {
            may_restore: may_restore(ctx, &item),
            kind: item.kind,
            id: item.id,
            matter_id: item.matter_id,
            matter_number: item.matter_number,
            document_id: item.document_id,
            version: item.version,
            deleted_at: item.deleted_at,
            restorable_until: item.restorable_until,
        })
        .collect();
    Ok(DeletedList { grace_days: grace.days(), items })
}

/// How many days deleted things can be restored, then are purged.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionGrace {
    #[schema(minimum = 30, maximum = 3650)]
    pub grace_days: i64,
}

pub async fn grace(ctx: &Ctx) -> Result<DeletionGrace, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let grace = deletion::grace(&mut tx).await?;
    tx.commit().await?;
    Ok(DeletionGrace { grace_days: grace.days() })
}

/// Sets the grace period: 30 days at least, so nothing deleted can be purged sooner.
pub async fn set_grace(ctx: &Ctx, asked: DeletionGrace) -> Result<DeletionGrace, AppError> {
    let grace =
        GraceDays::parse(asked.grace_days).map_err(|e| AppError::invalid("grace_days", e.to_string()))?;
    let mut tx = ctx.actor.begin().await?;
    deletion::set_grace(&mut tx, grace).await?;
    ctx.record(&mut tx, AuditAction::FirmDeletionGraceChanged, Some(("firm", ctx.actor.firm.to_string())))
        .await?;
    tx.commit().await?;
    Ok(DeletionGrace { grace_days: grace.days() })
}
