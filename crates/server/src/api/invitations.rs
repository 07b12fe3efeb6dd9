//! Accepting an invitation: the emailed link's token sets the user's first password. Only
//! an invited user may: a user disabled before accepting stays out.

use axum::extract::State;
use http::StatusCode;
use ringfence_core::audit::Outcome;
use ringfence_core::principal::Principal;
use ringfence_crypto::token;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{audit as audit_log, invitations};
use serde::Deserialize;

use crate::client::Client;
use crate::error::{ApiError, ApiJson};
use crate::{AppState, audit, passwords};

/// The invitation link's token and the password to set.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct AcceptInvite {
    pub(crate) token: String,
    pub(crate) password: String,
}

fn invalid_token() -> ApiError {
    ApiError::invalid("token: this invitation link is invalid, used or expired; ask for a new one")
}

/// Sets an invited user's first password with the token of their invitation link.
#[utoipa::path(
    post,
    path = "/api/v1/auth/accept-invite",
    tag = "sign-in",
    request_body = AcceptInvite,
    responses(
        (status = 204, description = "The password is set; the user may sign in"),
        crate::openapi::JsonBodyErrors,
        (status = 500, response = crate::openapi::Internal),
    ),
)]
pub async fn accept(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<StatusCode, ApiError> {
    let (firm_hex, secret) = token::parse_scoped(&body.token).ok_or_else(invalid_token)?;
    let firm = firm_hex.parse().map_err(|_| invalid_token())?;
    if !state.storage.firm_exists(firm).await? {
        return Err(invalid_token());
    }
    let store = state.storage.firm(firm).await?;
    // The password is checked before the token is spent, so a refused password does not
    // use up the invitation.
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let pending = invitations::peek(&mut tx, &secret, state.clock.now()).await?;
    tx.commit().await?;
    let Some(user) = pending else {
        audit::anonymous_refusal(&store, "auth.invitation.refused", &client, state.clock.now()).await?;
        return Err(invalid_token());
    };
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let user = users::get(&mut tx, user).await?.ok_or_else(invalid_token)?;
    tx.commit().await?;
    if user.status != UserStatus::Invited {
        audit::anonymous_refusal(&store, "auth.invitation.refused", &client, state.clock.now()).await?;
        return Err(invalid_token());
    }
    let firm = state.storage.firm_by_id(firm).await?;
    let known = passwords::KnownWords { email: &user.email, name: user.name.as_deref(), firm: &firm };
    let password = passwords::strong(&body.password, &known)?;
    let hash = passwords::hash(&state, &password).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    if invitations::redeem(&mut tx, &secret, state.clock.now()).await? != Some(user.id) {
        return Err(invalid_token());
    }
    // Checked again where the password is set: a user disabled meanwhile stays out.
    let still = users::get(&mut tx, user.id).await?;
    if still.is_none_or(|u| u.status != UserStatus::Invited) {
        return Err(invalid_token());
    }
    users::set_password_hash(&mut tx, user.id, &hash).await?;
    let target = Some(("user", user.id.to_string()));
    let entry = audit::record(
        audit::user(user.id, &user.email),
        "user.invitation.accepted",
        target,
        Outcome::Success,
        &client,
        state.clock.now(),
    );
    audit_log::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
