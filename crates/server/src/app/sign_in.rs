//! Getting in before anyone is signed in: accepting an invitation sets a user's first
//! password. Every use case here runs in a [`PublicCtx`] and begins its transactions as
//! `Principal::Anonymous`.

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::Outcome;
use ringfence_core::principal::Principal;
use ringfence_crypto::token;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{audit as audit_log, invitations};

use super::{AppError, PublicCtx};
use crate::{audit, passwords};

fn invalid_token() -> AppError {
    AppError::invalid("token", "this invitation link is invalid, used or expired; ask for a new one")
}

/// Sets an invited user's first password with the token of their invitation link. Only an
/// invited user may: a user disabled before accepting stays out. A refused token is on the
/// firm's record.
pub async fn accept_invitation(ctx: &PublicCtx, invitation: &str, password: &str) -> Result<(), AppError> {
    let PublicCtx { state, client, now } = ctx;
    let (firm_hex, secret) = token::parse_scoped(invitation).ok_or_else(invalid_token)?;
    let firm = firm_hex.parse().map_err(|_| invalid_token())?;
    if !state.storage.firm_exists(firm).await? {
        return Err(invalid_token());
    }
    let store = state.storage.firm(firm).await?;
    // The password is checked before the token is spent, so a refused password does not
    // use up the invitation.
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let pending = invitations::peek(&mut tx, &secret, *now).await?;
    tx.commit().await?;
    let Some(user) = pending else {
        audit::anonymous_refusal(&store, AuditAction::AuthInvitationRefused, client, *now).await?;
        return Err(invalid_token());
    };
    let mut tx = store.begin(&Principal::Anonymous).await?;
    let user = users::get(&mut tx, user).await?.ok_or_else(invalid_token)?;
    tx.commit().await?;
    if user.status != UserStatus::Invited {
        audit::anonymous_refusal(&store, AuditAction::AuthInvitationRefused, client, *now).await?;
        return Err(invalid_token());
    }
    let firm = state.storage.firm_by_id(firm).await?;
    let known = passwords::KnownWords { email: &user.email, name: user.name.as_deref(), firm: &firm };
    let password = passwords::strong(password, &known)?;
    let hash = passwords::hash(state, &password).await?;
    let mut tx = store.begin(&Principal::Anonymous).await?;
    if invitations::redeem(&mut tx, &secret, *now).await? != Some(user.id) {
        return Err(invalid_token());
    }
    // Checked again where the password is set: a user disabled meanwhile stays out.
    let still = users::get(&mut tx, user.id).await?;
    if still.is_none_or(|u| u.status != UserStatus::Invited) {
        return Err(invalid_token());
    }
    users::set_password_hash(&mut tx, user.id, &hash).await?;
    let entry = audit::record(
        audit::user(user.id, &user.email),
        AuditAction::UserInvitationAccepted,
        Some(("user", user.id.to_string())),
        Outcome::Success,
        client,
        *now,
    );
    audit_log::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}
