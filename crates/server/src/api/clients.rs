//! Clients: persons and organisations. The rules are in `crate::app::clients`: names for
//! everyone, details through the client access check, refusals concealed and recorded.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use ringfence_core::ids::{ClientId, UserId};

use crate::AppState;
use crate::api::matters::{Screened, tell_of_wall};
use crate::app::Ctx;
use crate::app::clients::{self, ClientInput, ClientList, ClientShown, ClientView};
use crate::auth::Actor;
use crate::client::Client;
use crate::edge::{PathId, PathIds};
use crate::error::{ApiError, ApiJson};

pub async fn create(
    ctx: Ctx,
    ApiJson(body): ApiJson<ClientInput>,
) -> Result<(StatusCode, Json<ClientView>), ApiError> {
    Ok((StatusCode::CREATED, Json(clients::create(&ctx, body).await?)))
}

/// Every client's name and kind: no personal details in a list.
pub async fn list(ctx: Ctx) -> Result<Json<ClientList>, ApiError> {
    Ok(Json(clients::list(&ctx).await?))
}

/// Records a refused use of a client's record and answers 404, as for an unknown client
/// (opening a matter for a client the opener is walled from).
pub(crate) async fn refuse(actor: &Actor, client: &Client, raw_id: &str) -> ApiError {
    let Some(id) = ClientId::parse(raw_id) else { return ApiError::not_found() };
    let ctx = Ctx::new(actor.clone(), client.clone());
    match clients::refuse(&ctx, id).await {
        Ok(concealed) | Err(concealed) => concealed.into(),
    }
}

pub async fn get(PathId(id): PathId<ClientId>, ctx: Ctx) -> Result<Json<ClientShown>, ApiError> {
    Ok(Json(clients::view(&ctx, id).await?))
}

pub async fn update(
    PathId(id): PathId<ClientId>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ClientInput>,
) -> Result<Json<ClientView>, ApiError> {
    Ok(Json(clients::update(&ctx, id, body).await?))
}

/// Screens a user from a client and every one of its matters. Firm administrators only.
pub async fn place_wall(
    PathIds(id, user): PathIds<ClientId, UserId>,
    State(state): State<AppState>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    if let Some(notices) = clients::place_wall(&ctx, id, user).await? {
        tell_of_wall(&state, &notices.colleagues, &notices.screened, Screened::Client).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a wall on a client; it stays on record for access history.
pub async fn lift_wall(
    PathIds(id, user): PathIds<ClientId, UserId>,
    ctx: Ctx,
) -> Result<StatusCode, ApiError> {
    clients::lift_wall(&ctx, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
