//! Documents on a matter: sealed uploads, their versions, reading and deleting them.

use ringfence_core::audit::AuditAction;
use ringfence_core::ids::{DocumentId, MatterId};
use ringfence_store::firm::access::WriteContent;
use ringfence_store::firm::documents;

use super::access::{self, On};
use super::{AppError, Ctx};

/// Deletes a document (all its versions); answers the matter it was on.
pub async fn delete(ctx: &Ctx, on: On<WriteContent, DocumentId>) -> Result<MatterId, AppError> {
    let (mut tx, access) = access::record(ctx, ctx.actor.begin().await?, on, documents::matter_of).await?;
    if !documents::delete(&mut tx, &access, on.id().as_uuid(), ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::DocumentDeleted, ("document", on.id().to_string()))
        .await?;
    tx.commit().await?;
    Ok(MatterId::from(access.matter()))
}
