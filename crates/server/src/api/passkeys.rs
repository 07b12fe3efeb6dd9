//! The signed-in user's passkeys: add (with the password, so a stolen session alone cannot
//! plant a way back in), list, remove.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use ringfence_core::audit::AuditAction;
use ringfence_mail::Mail;
use ringfence_store::firm::{passkeys, sign_in_policy, users};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use crate::AppState;
use crate::api::me::{confirm_password, rfc3339};
use crate::auth::Actor;
use crate::auth::passkey::{self, RelyingParty};
use crate::client::Client;
use crate::error::{ApiError, ApiJson};

/// Longest passkey name, in characters.
const MAX_NAME_CHARS: usize = 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRegistration {
    pub(crate) current_password: String,
}

/// Starts adding a passkey: the options for `navigator.credentials.create()`.
pub async fn start_registration(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<StartRegistration>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let mut tx = actor.begin().await?;
    let credentials =
        users::credentials_by_email(&mut tx, &actor.email).await?.ok_or_else(ApiError::not_found)?;
    let user = users::get(&mut tx, actor.user).await?.ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    confirm_password(&state, &actor, &client, &body.current_password, credentials.password_hash, now).await?;
    let mut tx = actor.begin().await?;
    let existing = passkeys::records(&mut tx, actor.user).await?;
    let existing = existing.iter().map(|r| passkey::decode(&r.record)).collect::<Result<Vec<_>, _>>()?;
    let display_name = user.name.as_deref().unwrap_or(actor.email.as_str());
    let ceremony = RelyingParty::of(&state.settings)?.start_registration(
        actor.user,
        actor.email.as_str(),
        display_name,
        &existing,
    )?;
    let id = passkeys::start_registration(&mut tx, actor.user, &ceremony.state, now).await?;
    tx.commit().await?;
    Ok(Json(json!({ "ceremony_id": id, "options": ceremony.options })))
}

#[derive(Deserialize)]
pub struct FinishRegistration {
    pub(crate) ceremony_id: Uuid,
    #[serde(default)]
    pub(crate) name: Option<String>,
    pub(crate) credential: RegisterPublicKeyCredential,
}

fn passkey_name(given: Option<&str>) -> Result<String, ApiError> {
    let name = given.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Passkey");
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "name: up to {MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Checks the authenticator's answer and keeps the new passkey; the owner is told by mail.
pub async fn finish_registration(
    State(state): State<AppState>,
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<FinishRegistration>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = state.clock.now();
    let name = passkey_name(body.name.as_deref())?;
    let mut tx = actor.begin().await?;
    let ceremony = passkeys::take_registration(&mut tx, actor.user, body.ceremony_id, now)
        .await?
        .ok_or_else(|| ApiError::invalid("ceremony_id: this registration has expired; start again"))?;
    let known = passkeys::is_registered(&mut tx, &body.credential.raw_id).await?;
    // The registration is used up whatever the answer.
    tx.commit().await?;
    if known {
        return Err(passkey::already_registered());
    }
    let registered = RelyingParty::of(&state.settings)?.finish_registration(&body.credential, &ceremony)?;
    let record = passkey::encode(&registered)?;
    let mut tx = actor.begin().await?;
    let id = passkeys::add(&mut tx, actor.user, registered.cred_id().as_ref(), &name, &record, now)
        .await?
        .ok_or_else(passkey::already_registered)?;
    actor.record(&mut tx, &client, AuditAction::UserPasskeyAdded, Some(("passkey", id.to_string()))).await?;
    tx.commit().await?;
    let notice = format!(
        "A passkey named \"{name}\" was added to your Ringfence account.\n\n\
         If it was not you, remove it under Account and tell your firm's administrator.\n"
    );
    state
        .mailer
        .send(Mail { to: actor.email.as_str(), subject: "Ringfence: a passkey was added", body: notice })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name, "created_at": rfc3339(now)? }))))
}

pub async fn list(actor: Actor) -> Result<Json<Value>, ApiError> {
    let mut tx = actor.begin().await?;
    let listed = passkeys::list(&mut tx, actor.user).await?;
    tx.commit().await?;
    let items = listed
        .iter()
        .map(|p| {
            Ok(json!({
                "id": p.id,
                "name": p.name,
                "created_at": rfc3339(p.created_at)?,
                "last_used_at": p.last_used_at.map(rfc3339).transpose()?,
            }))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

/// Removes a passkey, unless that would leave no second factor the firm allows.
pub async fn remove(actor: Actor, client: Client, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found())?;
    let mut tx = actor.begin().await?;
    if !passkeys::remove(&mut tx, actor.user, id).await? {
        return Err(ApiError::not_found());
    }
    let credentials =
        users::credentials_by_email(&mut tx, &actor.email).await?.ok_or_else(ApiError::not_found)?;
    if sign_in_policy::get(&mut tx).await?.factors_for(&credentials.roles, credentials.enrolled).is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "would_lock_out",
            "this is your only way to sign in that the firm allows: set up another first",
        ));
    }
    actor
        .record(&mut tx, &client, AuditAction::UserPasskeyRemoved, Some(("passkey", id.to_string())))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
