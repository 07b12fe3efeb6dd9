//! Accepting an invitation: the emailed link's token sets the user's first password (see
//! [`crate::app::sign_in::accept_invitation`]).

use http::StatusCode;
use serde::Deserialize;

use crate::app::{PublicCtx, sign_in};
use crate::error::{ApiError, ApiJson};

/// The invitation link's token and the password to set.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct AcceptInvite {
    token: String,
    password: String,
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
pub async fn accept(ctx: PublicCtx, ApiJson(body): ApiJson<AcceptInvite>) -> Result<StatusCode, ApiError> {
    sign_in::accept_invitation(&ctx, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
