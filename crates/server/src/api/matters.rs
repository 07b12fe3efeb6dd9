//! Matters and their members and walls. Every route on one matter goes through
//! `matter_access::require`, whose proof the store's functions need.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::ids::MatterId;
use ringfence_core::matter::MatterRole;
use ringfence_core::user::Email;
use ringfence_mail::Mail;
use ringfence_store::firm::access::{
    AccessHistory, Edit, Lifecycle, ManageMembers, ManageWalls, MatterAccess, SeesMatter, View,
};
use ringfence_store::firm::matters::{self, Matter};
use ringfence_store::firm::{audit as audit_log, clients, users};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::app::access::On;
use crate::app::matters::MatterView;
use crate::app::{self, Ctx};
use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::matter_access::{record, record_read, require};
use crate::{AppState, audit};

pub fn matter_json(matter: &Matter) -> Value {
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    json!({
        "id": matter.id,
        "number": matter.number,
        "title": matter.title,
        "client_id": matter.client_id,
        "description": matter.description,
        "status": matter.status,
        "opened_at": time(matter.opened_at),
        "closed_at": matter.closed_at.map(time),
    })
}

fn title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    if title.is_empty() || title.chars().count() > 300 || title.chars().any(char::is_control) {
        return Err(ApiError::invalid("title: 1 to 300 characters, no control characters"));
    }
    Ok(title.to_owned())
}

fn description(raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > 20_000 {
        return Err(ApiError::invalid("description: at most 20000 characters"));
    }
    Ok(raw.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMatter {
    pub(crate) title: String,
    pub(crate) client_id: String,
    pub(crate) description: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<NewMatter>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let title = title(&body.title)?;
    let description = body.description.as_deref().map(description).transpose()?;
    let client_id: Uuid =
        body.client_id.parse().map_err(|_| ApiError::invalid("client_id: no such client"))?;
    let firm = state.storage.firm_by_id(actor.firm).await?;
    let prefix = firm.slug.as_str().to_uppercase();
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    // A client the opener is walled from is not one it can open a matter for.
    let no_such_client = || ApiError::invalid("client_id: no such client");
    if clients::summary(&mut tx, client_id).await?.is_none() {
        return Err(no_such_client());
    }
    if clients::walled_from(&mut tx, client_id, actor.user).await? {
        // On the record as a refused access to that client, once this transaction is over.
        drop(tx);
        let recorded = crate::api::clients::refuse(&actor, &client, &client_id.to_string()).await;
        return Err(if recorded.recorded { no_such_client().recorded() } else { recorded });
    }
    let (id, number) =
        matters::create(&mut tx, &prefix, &title, client_id, description.as_deref(), actor.user, now).await?;
    let mut entry = audit::record(
        actor.audit_actor(),
        AuditAction::MatterCreated,
        Some(("matter", id.to_string())),
        Outcome::Success,
        &client,
        now,
    );
    entry.matter_id = Some(id.to_string());
    audit_log::append(&mut tx, &entry).await?;
    tx.commit().await?;
    let opened = json!({
        "id": id,
        "number": number,
        "title": title,
        "client_id": client_id,
        "description": description,
        "status": "open",
        "opened_at": now.format(&Rfc3339).unwrap_or_default(),
        "closed_at": null,
    });
    Ok((StatusCode::CREATED, Json(opened)))
}

pub async fn list(actor: Actor) -> Result<Json<Value>, ApiError> {
    let mut tx = actor.begin_read().await?;
    let mine = matters::list_mine(&mut tx, actor.user).await?;
    tx.commit().await?;
    let items: Vec<Value> = mine.iter().map(matter_json).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

pub async fn get(on: On<View, MatterId>, ctx: Ctx) -> Result<Json<MatterView>, ApiError> {
    Ok(Json(app::matters::view(&ctx, on).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatterChanges {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
}

pub async fn update(
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MatterChanges>,
) -> Result<Json<Value>, ApiError> {
    let title = body.title.as_deref().map(title).transpose()?;
    let description = body.description.as_deref().map(description).transpose()?;
    let (mut tx, access) = require::<Edit>(&actor, &client, actor.begin().await?, &id).await?;
    matters::update(&mut tx, &access, title.as_deref(), description.as_deref()).await?;
    record(&mut tx, &actor, &client, &access, AuditAction::MatterChanged, ("matter", id.clone())).await?;
    matter_after_change(tx, &access).await
}

/// Reads the matter back in the transaction that changed it, and commits.
async fn matter_after_change<A: SeesMatter>(
    mut tx: ringfence_store::FirmTx,
    access: &MatterAccess<A>,
) -> Result<Json<Value>, ApiError> {
    let matter = matters::get(&mut tx, access).await?;
    tx.commit().await?;
    Ok(Json(matter_json(&matter)))
}

pub async fn close(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut tx, access) = require::<Lifecycle>(&actor, &client, actor.begin().await?, &id).await?;
    if !matters::close(&mut tx, &access, state.clock.now()).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the matter is already closed or deleted",
        ));
    }
    record(&mut tx, &actor, &client, &access, AuditAction::MatterClosed, ("matter", id.clone())).await?;
    matter_after_change(tx, &access).await
}

pub async fn delete(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, access) = require::<Lifecycle>(&actor, &client, actor.begin().await?, &id).await?;
    if !matters::soft_delete(&mut tx, &access, state.clock.now()).await? {
        return Err(ApiError::not_found());
    }
    record(&mut tx, &actor, &client, &access, AuditAction::MatterDeleted, ("matter", id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restore(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut tx, access) = require::<Lifecycle>(&actor, &client, actor.begin().await?, &id).await?;
    if !matters::restore(&mut tx, &access, state.clock.now()).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_restorable",
            "the matter is not deleted, or its 30-day grace period has passed",
        ));
    }
    record(&mut tx, &actor, &client, &access, AuditAction::MatterRestored, ("matter", id.clone())).await?;
    matter_after_change(tx, &access).await
}

pub async fn members(actor: Actor, client: Client, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (mut tx, access) = require::<ManageMembers>(&actor, &client, actor.begin_read().await?, &id).await?;
    let list = matters::members(&mut tx, &access).await?;
    tx.commit().await?;
    let items: Vec<Value> = list
        .iter()
        .map(|m| json!({ "user_id": m.user_id, "role": m.role, "granted_at": m.granted_at.format(&Rfc3339).unwrap_or_default() }))
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub(crate) role: String,
}

async fn firm_user(tx: &mut ringfence_store::FirmTx, raw: &str) -> Result<users::User, ApiError> {
    let id = raw.parse().map_err(|_| ApiError::invalid("user_id: no such user in this firm"))?;
    users::get(tx, id).await?.ok_or_else(|| ApiError::invalid("user_id: no such user in this firm"))
}

pub async fn set_member(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<StatusCode, ApiError> {
    let role: MatterRole = body.role.parse().map_err(|e| ApiError::invalid(format!("role: {e}")))?;
    let now = state.clock.now();
    let (mut tx, access) = require::<ManageMembers>(&actor, &client, actor.begin().await?, &id).await?;
    let user = firm_user(&mut tx, &user_id).await?;
    let previous = matters::unscreened_members(&mut tx, &access).await?;
    matters::set_member(&mut tx, &access, user.id, role, now).await?;
    if matters::count_leads(&mut tx, &access).await? == 0 {
        return Err(ApiError::new(StatusCode::CONFLICT, "last_lead", "a matter keeps at least one lead"));
    }
    // Only a lead manages members through its matter role; anyone else changing its own
    // role (adding one, or billing or viewer becoming lead) does so through the firm's
    // administrator role, and that is a self-grant whatever it held before.
    let self_grant = user.id == actor.user && access.role() != Some(MatterRole::Lead);
    let action = if self_grant { AuditAction::MatterRoleSelfGranted } else { AuditAction::MatterRoleGranted };
    record(&mut tx, &actor, &client, &access, action, ("user", format!("{}#{role}", user.id))).await?;
    tx.commit().await?;
    if self_grant {
        notify_leads(&state, &actor, &previous, &id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Tells a matter's leads (those no wall screens from it) that an administrator gave
/// itself a role on it.
async fn notify_leads(
    state: &AppState,
    actor: &Actor,
    members: &[matters::Member],
    matter: &str,
) -> Result<(), ApiError> {
    let mut tx = actor.begin().await?;
    let mut leads = Vec::new();
    for member in members.iter().filter(|m| m.role == MatterRole::Lead && m.user_id != actor.user) {
        if let Some(lead) = users::get(&mut tx, member.user_id).await? {
            leads.push(lead.email);
        }
    }
    tx.commit().await?;
    for lead in leads {
        let body = format!(
            "The firm administrator {} gave themselves a role on a matter you lead (id {matter}).\n\
             This is recorded in the matter's audit trail.\n",
            actor.email
        );
        state
            .mailer
            .send(Mail { to: lead.as_str(), subject: "Ringfence: an administrator joined your matter", body })
            .await?;
    }
    Ok(())
}

pub async fn remove_member(
    actor: Actor,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, access) = require::<ManageMembers>(&actor, &client, actor.begin().await?, &id).await?;
    let user = firm_user(&mut tx, &user_id).await?;
    if !matters::remove_member(&mut tx, &access, user.id, actor.at).await? {
        return Err(ApiError::not_found());
    }
    if matters::count_leads(&mut tx, &access).await? == 0 {
        return Err(ApiError::new(StatusCode::CONFLICT, "last_lead", "a matter keeps at least one lead"));
    }
    record(&mut tx, &actor, &client, &access, AuditAction::MatterRoleRevoked, ("user", user.id.to_string()))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn place_wall(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, access) = require::<ManageWalls>(&actor, &client, actor.begin().await?, &id).await?;
    let user = firm_user(&mut tx, &user_id).await?;
    // Whom to tell, read before the wall stands: only members no wall screens (a screened
    // member must not learn the matter's number from a notice), and not the user walled.
    let mut team = Vec::new();
    for member in matters::unscreened_members(&mut tx, &access).await?.iter().filter(|m| m.user_id != user.id)
    {
        if let Some(colleague) = users::get(&mut tx, member.user_id).await? {
            team.push(colleague.email);
        }
    }
    let number = matters::number(&mut tx, &access).await?;
    if !matters::place_wall(&mut tx, &access, user.id, state.clock.now()).await? {
        // Already walled: nothing changes, and no one is told again.
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    record(&mut tx, &actor, &client, &access, AuditAction::MatterWallPlaced, ("user", user.id.to_string()))
        .await?;
    tx.commit().await?;
    let notices: Vec<(Email, String)> =
        team.into_iter().map(|colleague| (colleague, number.clone())).collect();
    tell_of_wall(&state, &notices, &user.email, Screened::Matter).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a new wall screens someone from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Screened {
    Matter,
    Client,
}

/// Tells each matter's team (colleague, matter number) who is now screened, so that no one
/// discusses the matter with them, and the screened user only that a wall exists, never
/// on what.
pub(crate) async fn tell_of_wall(
    state: &AppState,
    notices: &[(Email, String)],
    screened: &Email,
    from: Screened,
) -> Result<(), ApiError> {
    let (reach, told) = match from {
        Screened::Matter => {
            ("", "a matter in your firm's Ringfence. You will not see it, and should not discuss it")
        }
        Screened::Client => (
            " (and every matter of its client)",
            "a client of your firm and all its matters. You will not see them, and should not discuss them",
        ),
    };
    for (colleague, number) in notices {
        let body = format!(
            "{screened} is now screened from matter {number}{reach} by an ethical wall. Do not discuss the \
             matter with them or share its documents.\n"
        );
        state
            .mailer
            .send(Mail { to: colleague.as_str(), subject: "Ringfence: an ethical wall on your matter", body })
            .await?;
    }
    let body = format!("An ethical wall now screens you from {told}.\n");
    state
        .mailer
        .send(Mail { to: screened.as_str(), subject: "Ringfence: an ethical wall applies to you", body })
        .await?;
    Ok(())
}

pub async fn remove_wall(
    actor: Actor,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, access) = require::<ManageWalls>(&actor, &client, actor.begin().await?, &id).await?;
    let user = firm_user(&mut tx, &user_id).await?;
    if !matters::remove_wall(&mut tx, &access, user.id, actor.at).await? {
        return Err(ApiError::not_found());
    }
    record(&mut tx, &actor, &client, &access, AuditAction::MatterWallRemoved, ("user", user.id.to_string()))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every matter's number, title, status and lead, for administrators managing memberships,
/// leaving out any matter a wall screens the administrator from.
pub async fn directory(actor: Actor, client: Client) -> Result<Json<Value>, ApiError> {
    let mut tx = actor.begin_read().await?;
    let entries = matters::directory(&mut tx, actor.user).await?;
    actor.record_read(tx, &client, AuditAction::MatterDirectoryViewed, None).await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "id": e.id, "number": e.number, "title": e.title, "status": e.status, "lead": e.lead }))
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    at: Option<String>,
}

/// Who could read the matter at a moment (now by default), and who granted it: the report
/// firms hand to clients and regulators. For the lead, administrators and audit officers.
pub async fn access_history(
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let at = match &query.at {
        Some(at) => time::OffsetDateTime::parse(at, &Rfc3339)
            .map_err(|_| ApiError::invalid("at: expected an RFC 3339 time such as 2026-11-23T09:00:00Z"))?,
        None => actor.at,
    };
    let (mut tx, access) = require::<AccessHistory>(&actor, &client, actor.begin_read().await?, &id).await?;
    let readers = matters::readers_at(&mut tx, &access, at).await?;
    let mut items = Vec::with_capacity(readers.len());
    for reader in &readers {
        let who = users::get(&mut tx, reader.user_id).await?.map(|u| u.email.to_string());
        let by = users::get(&mut tx, reader.granted_by).await?.map(|u| u.email.to_string());
        items.push(json!({
            "user_id": reader.user_id,
            "email": who,
            "role": reader.role,
            "granted_by": reader.granted_by,
            "granted_by_email": by,
            "granted_at": reader.granted_at.format(&Rfc3339).unwrap_or_default(),
        }));
    }
    record_read(tx, &actor, &client, &access, AuditAction::MatterAccessHistoryViewed, ("matter", id)).await?;
    Ok(Json(json!({ "at": at.format(&Rfc3339).unwrap_or_default(), "items": items })))
}
