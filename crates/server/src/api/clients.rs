//! Clients: persons and organisations. Every signed-in user sees a client's name and kind
//! (conflict checks need them); its identity number (sealed at rest) and contact details
//! are read and changed only through the access check in `ringfence_store::firm::access`:
//! a role on one of the client's matters, or having taken the client in before its first
//! matter. A wall on the client overrides both. Refusals are 404, as for matters, and
//! every read of a client record is recorded.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::ids::parse_id;
use ringfence_core::user::Email;
use ringfence_store::firm::access::{self, ClientDetails, EditDetails, ManageWalls, ReadDetails};
use ringfence_store::firm::clients::{self, Client as ClientRecord, ClientFields, ClientSummary};
use ringfence_store::firm::{matters, users};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiJson};
use crate::{AppState, audit};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) id_number: Option<String>,
}

struct Valid {
    name: String,
    kind: String,
    email: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
}

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!("{field}: 1 to {max} characters, no control characters")));
    }
    Ok(value.to_owned())
}

fn validate(body: ClientBody) -> Result<Valid, ApiError> {
    if !matches!(body.kind.as_str(), "person" | "organisation") {
        return Err(ApiError::invalid("kind: person or organisation"));
    }
    let email = body
        .email
        .map(|e| {
            Email::parse(&e).map(|e| e.to_string()).map_err(|e| ApiError::invalid(format!("email: {e}")))
        })
        .transpose()?;
    let phone = body.phone.map(|p| {
        let ok = p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) && (6..=32).contains(&p.len());
        if ok {
            Ok(p)
        } else {
            Err(ApiError::invalid("phone: digits, spaces and + - ( ), 6 to 32 characters"))
        }
    });
    Ok(Valid {
        name: text("name", &body.name, 200)?,
        kind: body.kind,
        email,
        phone: phone.transpose()?,
        id_number: body.id_number.map(|n| text("id_number", &n, 64)).transpose()?,
    })
}

fn summary_json(client: &ClientSummary) -> Value {
    json!({ "id": client.id, "name": client.name, "kind": client.kind })
}

fn client_json(client: &ClientRecord) -> Value {
    json!({
        "id": client.id,
        "name": client.name,
        "kind": client.kind,
        "email": client.email,
        "phone": client.phone,
        "id_number": client.id_number,
        "created_at": client.created_at.format(&Rfc3339).unwrap_or_default(),
    })
}

fn fields(valid: &Valid) -> ClientFields<'_> {
    ClientFields {
        kind: &valid.kind,
        name: &valid.name,
        email: valid.email.as_deref(),
        phone: valid.phone.as_deref(),
        id_number: valid.id_number.as_deref(),
    }
}

pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<ClientBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let valid = validate(body)?;
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    let id = clients::create(&mut tx, &fields(&valid), actor.user, now).await?;
    actor.record(&mut tx, &client, AuditAction::ClientCreated, Some(("client", id.to_string()))).await?;
    // The one who took the client in keeps its details until a matter is opened for it.
    let access = access::check_client::<ReadDetails>(&mut tx, actor.user, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let created = clients::details(&mut tx, &access).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(client_json(&created))))
}

/// Every client's name and kind: no personal details in a list.
pub async fn list(actor: Actor) -> Result<Json<Value>, ApiError> {
    let mut tx = actor.begin_read().await?;
    let all = clients::list(&mut tx).await?;
    tx.commit().await?;
    let items: Vec<Value> = all.iter().map(summary_json).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

/// Records a refused use of a client's record and answers 404, as for an unknown client.
pub(crate) async fn refuse(actor: &Actor, client: &Client, raw_id: &str) -> ApiError {
    let entry = audit::record(
        actor.audit_actor(),
        AuditAction::ClientAccessDenied,
        Some(("client", raw_id.chars().take(64).collect())),
        Outcome::Denied,
        client,
        actor.at,
    );
    match actor.store.append_audit(entry).await {
        Ok(_) => ApiError::not_found().recorded(),
        Err(err) => err.into(),
    }
}

/// What the caller may see of one client: its details when the access check allows,
/// its name and kind otherwise. The read is recorded (ids only).
pub(crate) async fn view(
    actor: &Actor,
    client: &Client,
    raw_id: &str,
) -> Result<(Value, Option<ClientRecord>), ApiError> {
    let Some(id) = parse_id(raw_id) else { return Err(refuse(actor, client, raw_id).await) };
    let mut tx = actor.begin_read().await?;
    let Some(summary) = clients::summary(&mut tx, id).await? else {
        tx.commit().await?;
        return Err(refuse(actor, client, raw_id).await);
    };
    let details = match access::check_client::<ReadDetails>(&mut tx, actor.user, id).await? {
        Some(access) => Some(clients::details(&mut tx, &access).await?),
        None => None,
    };
    actor.record_read(tx, client, AuditAction::ClientViewed, Some(("client", id.to_string()))).await?;
    let shown = details.as_ref().map_or_else(|| summary_json(&summary), client_json);
    Ok((shown, details))
}

pub async fn get(actor: Actor, client: Client, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&actor, &client, &id).await?.0))
}

/// Whether the caller may change the client's details (for the page's form).
pub(crate) async fn may_edit(actor: &Actor, id: Uuid) -> Result<bool, ApiError> {
    allowed::<EditDetails>(actor, id).await
}

async fn allowed<A: ClientDetails>(actor: &Actor, id: Uuid) -> Result<bool, ApiError> {
    let mut tx = actor.begin_read().await?;
    let allowed = access::check_client::<A>(&mut tx, actor.user, id).await?.is_some();
    tx.commit().await?;
    Ok(allowed)
}

pub async fn update(
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClientBody>,
) -> Result<Json<Value>, ApiError> {
    let valid = validate(body)?;
    let Some(client_id) = parse_id(&id) else { return Err(refuse(&actor, &client, &id).await) };
    let mut tx = actor.begin().await?;
    let Some(access) = access::check_client::<EditDetails>(&mut tx, actor.user, client_id).await? else {
        tx.commit().await?;
        return Err(refuse(&actor, &client, &id).await);
    };
    if !clients::update(&mut tx, &access, &fields(&valid)).await? {
        return Err(ApiError::not_found());
    }
    actor.record(&mut tx, &client, AuditAction::ClientChanged, Some(("client", id.clone()))).await?;
    let updated = clients::details(&mut tx, &access).await?;
    tx.commit().await?;
    Ok(Json(client_json(&updated)))
}

/// The client named in a wall route, for an administrator no wall screens from it: an
/// administrator walled off a client cannot see, place or lift its walls.
/// The refusal is recorded once `tx` has ended: the log's writer must not wait for it.
async fn wall_target(
    actor: &Actor,
    client: &Client,
    mut tx: ringfence_store::FirmTx,
    raw_id: &str,
    raw_user: &str,
) -> Result<(ringfence_store::FirmTx, ClientSummary, users::User), ApiError> {
    let summary = match parse_id(raw_id) {
        Some(id) if !clients::walled_from(&mut tx, id, actor.user).await? => {
            clients::summary(&mut tx, id).await?
        }
        _ => None,
    };
    let Some(summary) = summary else {
        drop(tx);
        return Err(refuse(actor, client, raw_id).await);
    };
    let no_such_user = || ApiError::invalid("user_id: no such user in this firm");
    let user_id = raw_user.parse().map_err(|_| no_such_user())?;
    let user = users::get(&mut tx, user_id).await?.ok_or_else(no_such_user)?;
    Ok((tx, summary, user))
}

/// Screens a user from a client and every one of its matters, those opened later
/// included. Firm administrators only. The teams of its matters are told who is screened;
/// the user only that a wall exists.
pub async fn place_wall(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, summary, user) = wall_target(&actor, &client, actor.begin().await?, &id, &user_id).await?;
    // Whom to tell, read before the wall stands: the unscreened members of each matter.
    let mut notices: Vec<(Email, String)> = Vec::new();
    for matter in clients::matters_of(&mut tx, summary.id, actor.user).await? {
        let Some(team) = access::check::<ManageWalls>(&mut tx, actor.user, &actor.roles, matter).await?
        else {
            continue;
        };
        let number = matters::number(&mut tx, &team).await?;
        for member in matters::unscreened_members(&mut tx, &team).await? {
            if member.user_id == user.id {
                continue;
            }
            if let Some(colleague) = users::get(&mut tx, member.user_id).await? {
                notices.push((colleague.email, number.clone()));
            }
        }
    }
    if !clients::place_wall(&mut tx, summary.id, user.id, actor.user, state.clock.now()).await? {
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    actor
        .record(
            &mut tx,
            &client,
            AuditAction::ClientWallPlaced,
            Some(("client_wall", format!("{}#{}", summary.id, user.id))),
        )
        .await?;
    tx.commit().await?;
    crate::app::matters::tell_of_wall(
        &state.mailer,
        &notices,
        &user.email,
        crate::app::matters::Screened::Client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a wall on a client; it stays on record for access history.
pub async fn lift_wall(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, summary, user) = wall_target(&actor, &client, actor.begin().await?, &id, &user_id).await?;
    if !clients::lift_wall(&mut tx, summary.id, user.id, actor.user, state.clock.now()).await? {
        return Err(ApiError::not_found());
    }
    actor
        .record(
            &mut tx,
            &client,
            AuditAction::ClientWallRemoved,
            Some(("client_wall", format!("{}#{}", summary.id, user.id))),
        )
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
