//! The ring-fence as the use cases meet it. A route on one matter (or on a note or a
//! document of one) receives an [`On`] from the edge: the id it names, parsed, and the
//! action its route was declared for. Only [`matter`] and [`record`] turn it into the
//! store's proof, so a use case cannot reach matter data its route was not declared for,
//! and the route table will not take a handler whose `On` names another action.
//!
//! A refusal is answered as [`AppError::Concealed`] (a 404 with the same body as for a
//! matter that does not exist), and both are recorded the same way, so neither the answer
//! nor the work done tells them apart.

use std::marker::PhantomData;

use ringfence_core::audit::{AuditAction, AuditRecord, Outcome};
use ringfence_core::ids::{DocumentId, MatterId, NoteId};
use ringfence_core::principal::SupportScope;
use ringfence_store::firm::access::{self, Action, MatterAccess, MatterStanding};
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::{documents, notes};
use ringfence_store::{FirmTx, StoreError};
use uuid::Uuid;

use super::{AppError, Ctx};
use crate::audit;

/// A request's target, as its path named it, for action `A`. Made only by the edge's
/// path extractor for a route declared for `A` (see `crate::access::Matter`).
#[derive(Debug, Clone, Copy)]
pub struct On<A, I> {
    id: I,
    action: PhantomData<A>,
}

impl<A: Action, I: Copy> On<A, I> {
    pub(crate) fn requested(id: I) -> Self {
        Self { id, action: PhantomData }
    }

    pub fn id(&self) -> I {
        self.id
    }
}

/// An id a route names: a matter, or a record that belongs to one.
pub trait Target: Copy + Send + Sync + std::fmt::Display + std::str::FromStr + 'static {
    /// How the audit log names what the id is of.
    const KIND: &'static str;
    fn uuid(&self) -> Uuid;

    /// The caller's access for `A` to the matter this names, or whose live record it is:
    /// [`matter`] or [`record`].
    fn check<A: Action>(
        ctx: &Ctx,
        tx: FirmTx,
        on: On<A, Self>,
    ) -> impl Future<Output = Result<(FirmTx, MatterAccess<A>), AppError>> + Send;
}

macro_rules! targets {
    ($($id:ty => $kind:literal, |$ctx:ident, $tx:ident, $on:ident| $check:expr);* $(;)?) => {$(
        impl Target for $id {
            const KIND: &'static str = $kind;
            fn uuid(&self) -> Uuid {
                self.as_uuid()
            }
            async fn check<A: Action>($ctx: &Ctx, $tx: FirmTx, $on: On<A, Self>) -> Result<(FirmTx, MatterAccess<A>), AppError> {
                $check.await
            }
        }
    )*};
}

targets! {
    MatterId => "matter", |ctx, tx, on| matter(ctx, tx, on);
    NoteId => "record", |ctx, tx, on| record(ctx, tx, on, notes::matter_of);
    DocumentId => "record", |ctx, tx, on| record(ctx, tx, on, documents::matter_of);
}

/// Whether the caller may do `A` on what `on` names, without doing it: for a page that
/// asks before it acts. A refusal is recorded and concealed, as every other.
pub async fn may<A: Action, I: Target>(ctx: &Ctx, on: On<A, I>) -> Result<(), AppError> {
    let (tx, _) = I::check(ctx, ctx.actor.begin_read().await?, on).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the caller's access to the matter `on` names, inside `tx`, and hands the
/// transaction back with the proof. On refusal the transaction ends (it holds nothing
/// yet), the refusal is recorded in a commit of its own, and the answer is concealed.
pub async fn matter<A: Action>(
    ctx: &Ctx,
    tx: FirmTx,
    on: On<A, MatterId>,
) -> Result<(FirmTx, MatterAccess<A>), AppError> {
    let (tx, proof, _) = standing(ctx, tx, on).await?;
    Ok((tx, proof))
}

/// [`matter`], also handing back the caller's whole standing on the matter, read in the
/// same query: what else it may do there, and the proofs for that.
pub async fn standing<A: Action>(
    ctx: &Ctx,
    mut tx: FirmTx,
    on: On<A, MatterId>,
) -> Result<(FirmTx, MatterAccess<A>, MatterStanding), AppError> {
    let id = on.id().as_uuid();
    if let Some(standing) = standing_of(ctx, &mut tx, id).await?
        && let Some(proof) = standing.proof::<A>()
    {
        return Ok((tx, proof, standing));
    }
    tx.commit().await?;
    Err(refuse(ctx, Some(id), MatterId::KIND, id).await?)
}

/// The caller's standing on `matter`: a firm user's, from its roles, membership and walls;
/// an operator's under a support grant, a viewer's on the matters the grant names and none
/// on any other.
async fn standing_of(ctx: &Ctx, tx: &mut FirmTx, matter: Uuid) -> Result<Option<MatterStanding>, StoreError> {
    match &ctx.actor.support {
        None => access::standing(tx, ctx.actor.user, &ctx.actor.roles, matter).await,
        Some(support) => match &support.scope {
            SupportScope::Matters(named) if named.contains(&MatterId::from(matter)) => {
                access::support_standing(tx, ctx.actor.user, matter).await
            }
            SupportScope::Matters(_) | SupportScope::Settings => Ok(None),
        },
    }
}

/// Finds the matter a note or document belongs to with `matter_of`, then checks the
/// caller's access to that matter. An unknown record goes through the same check (of an
/// id that names no matter), so it answers and is recorded alike.
pub async fn record<A: Action, I: Target, F>(
    ctx: &Ctx,
    mut tx: FirmTx,
    on: On<A, I>,
    matter_of: F,
) -> Result<(FirmTx, MatterAccess<A>), AppError>
where
    F: AsyncFnOnce(&mut FirmTx, Uuid) -> Result<Option<Uuid>, StoreError>,
{
    let record = on.id().uuid();
    if let Some(matter) = matter_of(&mut tx, record).await? {
        if let Some(proof) = standing_of(ctx, &mut tx, matter).await?.and_then(|s| s.proof::<A>()) {
            return Ok((tx, proof));
        }
        tx.commit().await?;
        return Err(refuse(ctx, Some(matter), I::KIND, record).await?);
    }
    // Row security may have hidden the record from this caller: the log still names the
    // matter it is about. The lookup takes a connection of its own, so this one ends first.
    tx.commit().await?;
    let matter = ctx.actor.store.matter_of_record_for_audit(record).await?;
    Err(refuse(ctx, matter, I::KIND, record).await?)
}

/// Records a refused access once the request holds no transaction (the log's writer must
/// not wait for one), and gives the concealed answer.
async fn refuse(ctx: &Ctx, matter: Option<Uuid>, kind: &'static str, id: Uuid) -> Result<AppError, AppError> {
    let mut entry = audit::record(
        ctx.actor.audit_actor(),
        AuditAction::MatterAccessDenied,
        Some((kind, id.to_string())),
        Outcome::Denied,
        &ctx.client,
        ctx.now(),
    );
    entry.matter_id = matter.map(|m| m.to_string());
    ctx.actor.store.append_audit(entry).await?;
    Ok(AppError::Concealed)
}

/// Records a successful read or write of matter data, in the transaction that did it.
pub async fn note_done<A: Action>(
    tx: &mut FirmTx,
    ctx: &Ctx,
    access: &MatterAccess<A>,
    action: AuditAction,
    resource: (&'static str, String),
) -> Result<(), AppError> {
    audit_log::append(tx, &entry(ctx, access, action, resource)).await?;
    Ok(())
}

/// Ends a read of matter data and records it (see `Actor::end_read`): the data is
/// answered only once its entry is durable.
pub async fn note_read<A: Action>(
    tx: FirmTx,
    ctx: &Ctx,
    access: &MatterAccess<A>,
    action: AuditAction,
    resource: (&'static str, String),
) -> Result<(), AppError> {
    tx.commit().await?;
    ctx.actor.store.append_audit(entry(ctx, access, action, resource)).await?;
    Ok(())
}

fn entry<A: Action>(
    ctx: &Ctx,
    access: &MatterAccess<A>,
    action: AuditAction,
    resource: (&'static str, String),
) -> AuditRecord {
    let mut entry = audit::record(
        ctx.actor.audit_actor(),
        action,
        Some(resource),
        Outcome::Success,
        &ctx.client,
        ctx.now(),
    );
    entry.matter_id = Some(access.matter().to_string());
    entry
}
