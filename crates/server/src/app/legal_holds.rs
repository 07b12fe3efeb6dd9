//! Legal holds: administrators keep a matter, or a client with all its matters, from
//! deletion, retention disposal, purge and the firm's shred, each time with a reason, and
//! lift the hold with another. Every matter's readers see that it is held and since when;
//! only administrators read the reasons. Placing, lifting and reading the list are audited.

use ringfence_core::audit::AuditAction;
use ringfence_core::ids::{ClientId, MatterId, UserId};
use ringfence_core::reason::Reason;
use ringfence_store::FirmTx;
use ringfence_store::firm::access::Hold;
use ringfence_store::firm::legal_holds::{self, HoldTarget, LegalHold};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::{self, On};
use super::clients::admin_target;
use super::{AppError, Ctx};

/// Why a hold is placed or lifted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldReason {
    /// 1 to 2000 characters, no control characters but line breaks.
    pub reason: String,
}

/// A legal hold, as administrators review it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldView {
    pub id: Uuid,
    /// `matter` or `client` (a client's hold keeps all its matters).
    pub on: &'static str,
    /// The matter held; `null` for a client's hold.
    pub matter_id: Option<Uuid>,
    pub matter_number: Option<String>,
    /// The client held, or the held matter's client.
    pub client_id: Uuid,
    pub client_name: String,
    pub reason: String,
    #[schema(value_type = Uuid)]
    pub placed_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
    /// `null` while the hold stands.
    #[schema(value_type = Option<Uuid>)]
    pub lifted_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub lifted_at: Option<OffsetDateTime>,
    pub lift_reason: Option<String>,
}

impl From<LegalHold> for HoldView {
    fn from(hold: LegalHold) -> Self {
        let (on, matter_id, matter_number, client_id, client_name) = match hold.target {
            HoldTarget::Matter { id, number, client_id, client_name } => {
                ("matter", Some(id), Some(number), client_id, client_name)
            }
            HoldTarget::Client { id, name } => ("client", None, None, id, name),
        };
        let lifted = hold.lifted;
        Self {
            id: hold.id,
            on,
            matter_id,
            matter_number,
            client_id,
            client_name,
            reason: hold.reason,
            placed_by: hold.placed_by,
            placed_at: hold.placed_at,
            lifted_by: lifted.as_ref().map(|l| l.by),
            lifted_at: lifted.as_ref().map(|l| l.at),
            lift_reason: lifted.map(|l| l.reason),
        }
    }
}

/// The firm's holds, standing first, then lifted ones; none on a matter or client the
/// caller is walled from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldList {
    pub items: Vec<HoldView>,
}

fn reason(input: &HoldReason) -> Result<Reason, AppError> {
    Reason::parse(&input.reason).map_err(|e| AppError::invalid("reason", e.to_string()))
}

/// Refuses what would delete a held matter or anything on it: 409 `legal_hold`.
pub async fn refuse_if_held(tx: &mut FirmTx, matter: Uuid) -> Result<(), AppError> {
    if legal_holds::holds_matter(tx, matter).await? {
        return Err(held());
    }
    Ok(())
}

/// The refusal of anything a legal hold keeps from happening.
pub fn held() -> AppError {
    AppError::conflict("legal_hold", "a legal hold keeps this: an administrator must lift it first")
}

/// Placing a hold, or lifting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Place,
    Lift,
}

impl Change {
    /// Makes the change in the store: the hold's id, or the conflict when a hold already
    /// stands (placing) or none does (lifting) on `what`.
    async fn make(
        self,
        ctx: &Ctx,
        tx: &mut FirmTx,
        on: legal_holds::On<'_>,
        reason: &Reason,
        what: &str,
    ) -> Result<Uuid, AppError> {
        let (by, now) = (ctx.actor.user, ctx.now());
        let done = match self {
            Change::Place => legal_holds::place(tx, on, reason.as_str(), by, now).await?,
            Change::Lift => legal_holds::lift(tx, on, reason.as_str(), by, now).await?,
        };
        done.ok_or_else(|| match self {
            Change::Place => {
                AppError::conflict("already_held", format!("the {what} is on legal hold already"))
            }
            Change::Lift => {
                AppError::conflict("not_held", format!("the {what} has no legal hold of its own"))
            }
        })
    }
}

/// Reads the hold back in the transaction that changed it, and commits.
async fn read_back(mut tx: FirmTx, ctx: &Ctx, id: Uuid) -> Result<HoldView, AppError> {
    let hold = legal_holds::get(&mut tx, ctx.actor.user, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(hold.into())
}

/// Places or lifts a matter's own hold: 409 `already_held` when placing over one that
/// stands (a client's hold over it does not count: the matter's own outlives it), 409
/// `not_held` when lifting where none of its own stands.
pub async fn change_on_matter(
    ctx: &Ctx,
    on: On<Hold, MatterId>,
    input: HoldReason,
    change: Change,
) -> Result<HoldView, AppError> {
    let reason = reason(&input)?;
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let id = change.make(ctx, &mut tx, legal_holds::On::Matter(&access), &reason, "matter").await?;
    let action = match change {
        Change::Place => AuditAction::MatterLegalHoldPlaced,
        Change::Lift => AuditAction::MatterLegalHoldLifted,
    };
    access::note_done(&mut tx, ctx, &access, action, ("legal_hold", id.to_string())).await?;
    read_back(tx, ctx, id).await
}

/// Places or lifts a client's hold, and so the hold on every matter it has or will have
/// (holds of their own on its matters stay). Conflicts as for a matter.
pub async fn change_on_client(
    ctx: &Ctx,
    client: ClientId,
    input: HoldReason,
    change: Change,
) -> Result<HoldView, AppError> {
    let reason = reason(&input)?;
    let (mut tx, summary) = admin_target(ctx, ctx.actor.begin().await?, client).await?;
    let id = change.make(ctx, &mut tx, legal_holds::On::Client(summary.id), &reason, "client").await?;
    let action = match change {
        Change::Place => AuditAction::ClientLegalHoldPlaced,
        Change::Lift => AuditAction::ClientLegalHoldLifted,
    };
    ctx.record(&mut tx, action, Some(("legal_hold", id.to_string()))).await?;
    read_back(tx, ctx, id).await
}

/// Every hold the caller is not walled from, with the reasons; the reading is recorded.
pub async fn list(ctx: &Ctx) -> Result<HoldList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let items = legal_holds::list(&mut tx, ctx.actor.user).await?.into_iter().map(HoldView::from).collect();
    ctx.record_read(tx, AuditAction::FirmLegalHoldsViewed, Some(("firm", ctx.actor.firm.to_string())))
        .await?;
    Ok(HoldList { items })
}
