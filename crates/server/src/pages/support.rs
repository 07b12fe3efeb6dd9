//! For administrators: operators' requests for support access, each with what it would
//! open (and any wall or legal hold on a matter it names), to approve, refuse or end.

use super::*;
use crate::app::support::{self, GrantShown, scope_words};
use ringfence_core::ids::SupportGrantId;
use ringfence_store::control::support_grants::{GrantState, SupportGrant};

/// A matter a grant names, as the approver is shown it.
struct GrantMatter {
    id: String,
    walls: i64,
    held: bool,
}

/// A grant, as a row of the list.
struct GrantRow {
    /// Approved by a second operator, not by the firm: it can only be ended here.
    emergency: bool,
    id: String,
    asked: String,
    operator: String,
    reason: String,
    scope: String,
    minutes: i64,
    matters: Vec<GrantMatter>,
    state: String,
    waiting: bool,
    /// A matter named is behind a wall or under a hold: approving says so.
    warned: bool,
    endable: bool,
}

/// A grant's state in words, on the firm's clock.
pub(super) fn grant_state(
    grant: &SupportGrant,
    now: time::OffsetDateTime,
    moment: impl Fn(time::OffsetDateTime) -> String,
) -> String {
    match (grant.state, grant.ends_at) {
        (GrantState::Requested, _) => "Waiting for an administrator".to_owned(),
        (GrantState::Approved, Some(end)) if now < end => format!("In force until {}", moment(end)),
        (GrantState::Approved, Some(end)) => format!("Ran out at {}", moment(end)),
        (GrantState::Approved, None) => "Approved".to_owned(),
        (GrantState::Refused, _) => "Refused".to_owned(),
        (GrantState::Ended, at) => format!(
            "Ended{}",
            grant.ended_at.or(at).map(|t| format!(" at {}", moment(t))).unwrap_or_default()
        ),
    }
}

#[derive(Template)]
#[template(path = "support.html")]
struct SupportPage {
    signed_in: Option<SignedInUser>,
    csrf: String,
    grants: Vec<GrantRow>,
}

pub async fn support_grants(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let loaded =
        async { Ok::<_, AppError>((support::of_firm(&ctx, &state).await?, Dates::of(&ctx).await?)) }.await;
    let (grants, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, &csrf)),
    };
    let now = ctx.actor.at;
    let rows = grants
        .into_iter()
        .map(|GrantShown { grant, warnings }| GrantRow {
            emergency: grant.emergency,
            id: grant.id.to_string(),
            asked: dates.moment(grant.requested_at),
            operator: format!("{} <{}>", grant.operator_name, grant.operator_email),
            reason: grant.reason.clone(),
            scope: scope_words(&grant.scope),
            minutes: grant.minutes,
            warned: warnings.iter().any(|(_, walls, held)| *walls > 0 || *held),
            matters: warnings
                .into_iter()
                .map(|(id, walls, held)| GrantMatter { id: id.to_string(), walls, held })
                .collect(),
            state: grant_state(&grant, now, |t| dates.moment(t)),
            waiting: grant.state == GrantState::Requested && !grant.emergency,
            endable: grant.state == GrantState::Requested || grant.live_at(now),
        })
        .collect();
    let signed_in = signed_in(&ctx.actor, &csrf);
    let csrf = signed_in.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    render(&SupportPage { signed_in, csrf, grants: rows }, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    confirmed: String,
}

pub async fn approve_support(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    PathId(id): PathId<SupportGrantId>,
    PageForm(form): PageForm<ApproveForm>,
) -> Response {
    // The form carries the confirmation whenever the page showed a warning; checked here
    // against what the matters are now, so a wall placed since is not passed over.
    let decided = async {
        if support::warned(&ctx, &state, id).await? && form.confirmed != "yes" {
            return Err(AppError::invalid(
                "confirmed",
                "a matter named is behind a wall or held: tick the box to say you know",
            ));
        }
        support::decide(&ctx, &state, id, true).await
    }
    .await;
    done_or_failure(decided, "/admin/support", &ctx.actor, &csrf)
}

pub async fn refuse_support(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    PathId(id): PathId<SupportGrantId>,
) -> Response {
    done_or_failure(support::decide(&ctx, &state, id, false).await, "/admin/support", &ctx.actor, &csrf)
}

pub async fn end_support(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    PathId(id): PathId<SupportGrantId>,
) -> Response {
    done_or_failure(support::end(&ctx, &state, id).await, "/admin/support", &ctx.actor, &csrf)
}

pub async fn acknowledge_support(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
    PathId(id): PathId<SupportGrantId>,
) -> Response {
    done_or_failure(support::acknowledge(&ctx, &state, id).await, "/audit", &ctx.actor, &csrf)
}

/// An emergency grant no administrator has acknowledged, as the audit page shows it.
pub(super) struct EmergencyRow {
    pub id: String,
    pub operator: String,
    pub reason: String,
    pub scope: String,
    pub began: String,
}

/// The firm's unacknowledged emergency grants, for the top of the audit log page.
pub(super) async fn emergencies(
    ctx: &Ctx,
    state: &AppState,
    dates: &Dates,
) -> Result<Vec<EmergencyRow>, AppError> {
    Ok(support::unacknowledged(ctx, state)
        .await?
        .into_iter()
        .map(|g| EmergencyRow {
            id: g.id.to_string(),
            operator: format!("{} <{}>", g.operator_name, g.operator_email),
            reason: g.reason,
            scope: scope_words(&g.scope),
            began: g.decided_at.map(|t| dates.moment(t)).unwrap_or_default(),
        })
        .collect())
}
