//! Clients: persons and organisations. Admins, attorneys, paralegals and secretaries keep
//! them; billing and audit staff see names only. The identity number is sealed at rest.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use ringfence_core::policy::CLIENT_KEEPERS;
use ringfence_core::user::Email;
use ringfence_store::firm::clients::{self, Client as ClientRecord, ClientFields};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiJson};

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

fn client_json(client: &ClientRecord, full: bool) -> Value {
    if !full {
        return json!({ "id": client.id, "name": client.name, "kind": client.kind });
    }
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
    let mut tx = actor.store.begin().await?;
    let id = clients::create(&mut tx, &fields(&valid), actor.user, now).await?;
    actor.record(&mut tx, &client, "client.created", Some(("client", id.to_string()))).await?;
    let created = clients::get(&mut tx, id).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(client_json(&created, true))))
}

pub async fn list(actor: Actor) -> Result<Json<Value>, ApiError> {
    let full = actor.has_any_role(CLIENT_KEEPERS.firm_roles());
    let mut tx = actor.store.begin_read().await?;
    let all = clients::list(&mut tx).await?;
    tx.commit().await?;
    let items: Vec<Value> = all.iter().map(|c| client_json(c, full)).collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

pub async fn get(actor: Actor, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = actor.store.begin_read().await?;
    let found = clients::get(&mut tx, id).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(client_json(&found, actor.has_any_role(CLIENT_KEEPERS.firm_roles()))))
}

pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClientBody>,
) -> Result<Json<Value>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    let valid = validate(body)?;
    let _now = state.clock.now();
    let mut tx = actor.store.begin().await?;
    if !clients::update(&mut tx, id, &fields(&valid)).await? {
        return Err(ApiError::not_found());
    }
    actor.record(&mut tx, &client, "client.changed", Some(("client", id.to_string()))).await?;
    let updated = clients::get(&mut tx, id).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(client_json(&updated, true)))
}
