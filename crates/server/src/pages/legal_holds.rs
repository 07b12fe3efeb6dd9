//! For administrators: the firm's legal holds, the form that holds a client, and the forms
//! that place and lift a matter's own hold (on the matter's directory entry).

use super::*;
use crate::app::legal_holds::{self as holds, Change, HoldReason, HoldView};
use ringfence_store::firm::access::Hold;

/// A hold as a row of the list.
struct HoldRow {
    /// What is held, in words: "matter ACME-2026-0001 (client)" or "client Name".
    target: String,
    /// Where its lift form posts, while it stands.
    lift_action: Option<String>,
    reason: String,
    placed: String,
    lifted: Option<String>,
}

impl HoldRow {
    fn of(hold: HoldView, dates: &Dates) -> Self {
        let standing = hold.lifted_at.is_none();
        let (target, lift) = match (&hold.matter_id, &hold.matter_number) {
            (Some(matter), Some(number)) => (
                format!("matter {number} (client {})", hold.client_name),
                format!("/matters/{matter}/legal-hold/lift"),
            ),
            _ => (
                format!("client {} and all its matters", hold.client_name),
                format!("/admin/legal-holds/clients/{}/lift", hold.client_id),
            ),
        };
        Self {
            target,
            lift_action: standing.then_some(lift),
            reason: hold.reason,
            placed: dates.moment(hold.placed_at),
            lifted: hold
                .lifted_at
                .map(|at| format!("{}: {}", dates.moment(at), hold.lift_reason.unwrap_or_default())),
        }
    }
}

#[derive(Template)]
#[template(path = "legal_holds.html")]
struct HoldsPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    holds: Vec<HoldRow>,
    /// (id, name) of every client, for the form.
    clients: Vec<(String, String)>,
}

async fn holds_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    problem: Option<AppError>,
) -> Response {
    let loaded = async {
        let listed = holds::list(ctx).await?;
        let clients = app::clients::list(ctx).await?;
        Ok::<_, AppError>((listed, clients, Dates::of(ctx).await?))
    }
    .await;
    let (listed, clients, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let problem = problem.map(Problem::from);
    let page = HoldsPage {
        signed_in: signed_in(&ctx.actor, csrf),
        problem: problem.as_ref().map(|p| p.message.clone()),
        holds: listed.items.into_iter().map(|h| HoldRow::of(h, &dates)).collect(),
        clients: clients.items.into_iter().map(|c| (c.id.to_string(), c.name)).collect(),
    };
    render_with(&page, problem.as_ref())
}

/// The firm's holds, standing first, with the form to hold a client.
pub async fn legal_holds(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    holds_page(&ctx, &csrf, None).await
}

#[derive(Deserialize)]
pub struct ClientHoldForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub async fn hold_client(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ClientHoldForm>,
) -> Response {
    let placed = async {
        let client: ClientId =
            form.client_id.trim().parse().map_err(|_| AppError::invalid("client_id", "choose a client"))?;
        holds::change_on_client(&ctx, client, HoldReason { reason: form.reason }, Change::Place).await
    }
    .await;
    match placed {
        Ok(_) => Redirect::to("/admin/legal-holds").into_response(),
        Err(error) => holds_page(&ctx, &csrf, Some(error)).await,
    }
}

pub async fn lift_client_hold(
    PathId(client): PathId<ClientId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Confirmed(form, _): Confirmed<LiftClientHold, ReasonForm>,
) -> Response {
    match holds::change_on_client(&ctx, client, HoldReason { reason: form.reason }, Change::Lift).await {
        Ok(_) => Redirect::to("/admin/legal-holds").into_response(),
        Err(error) => holds_page(&ctx, &csrf, Some(error)).await,
    }
}

pub async fn hold_matter(
    on: On<Hold, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ReasonForm>,
) -> Response {
    let placed = holds::change_on_matter(&ctx, on, HoldReason { reason: form.reason }, Change::Place).await;
    done_or_failure(placed, &format!("/admin/matters/{}", on.id()), &ctx.actor, &csrf)
}

pub async fn lift_matter_hold(
    on: On<Hold, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Confirmed(form, _): Confirmed<LiftMatterHold, ReasonForm>,
) -> Response {
    let lifted = holds::change_on_matter(&ctx, on, HoldReason { reason: form.reason }, Change::Lift).await;
    done_or_failure(lifted, &format!("/admin/matters/{}", on.id()), &ctx.actor, &csrf)
}
