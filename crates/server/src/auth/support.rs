//! An operator in a firm's pages under a support grant: its own cookie, resolved on the
//! firm's paths into an [`Actor`] that reads only, within the grant's scope, and names the
//! grant and the operator in every audit entry. The grant is checked against the clock at
//! every request, so it ends by itself; ended by an administrator, it ends at once; and it
//! lasts no longer than the operator's own session it was opened in.

use std::collections::BTreeSet;

use http::HeaderMap;
use ringfence_core::ids::{SessionId, UserId};
use ringfence_core::principal::{FirmUser, Operator, Support, SupportScope};
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::token::SecretToken;

use super::{Actor, cookie};
use crate::AppState;
use crate::error::ApiError;

/// The cookie of a support session, apart from a firm user's and the operator plane's.
pub const SUPPORT_COOKIE: &str = "__Host-ringfence-support";

/// The caller a support cookie names, when its grant is in force.
pub(super) async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Actor>, ApiError> {
    let Some(text) = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie::named_from(h, SUPPORT_COOKIE))
    else {
        return Ok(None);
    };
    let Some(token) = SecretToken::parse(text) else { return Ok(None) };
    let now = state.clock.now();
    let limits = super::operator::OPERATOR_SESSION_LIMITS;
    let Some(grant) = state.storage.support_session(&token.hash(), now, limits).await? else {
        return Ok(None);
    };
    let store = state.storage.firm(grant.firm).await?;
    let email = Email::parse(&grant.operator_email).map_err(|_| ApiError::not_found())?;
    // Settings and users are the administrator's pages: the route guard lets the support
    // caller reach only the listed ones of them, and only to read.
    let roles = match grant.scope {
        SupportScope::Settings => BTreeSet::from([FirmRole::Admin]),
        SupportScope::Matters(_) => BTreeSet::new(),
    };
    let who = FirmUser {
        firm: grant.firm,
        user: UserId::from(grant.operator.as_uuid()),
        email: email.clone(),
        roles,
        session: SessionId::from(grant.id.as_uuid()),
    };
    let Some(until) = grant.ends_at else { return Ok(None) };
    let support = Support {
        operator: Operator { id: grant.operator, email },
        grant: grant.id,
        firm: grant.firm,
        scope: grant.scope,
        until,
    };
    let firm_name = state.storage.firm_name(grant.firm).await?;
    Ok(Some(Actor {
        who,
        name: Some(format!("{} (operator, support access)", grant.operator_name)),
        firm_name,
        store,
        at: now,
        support: Some(support),
        operator_log: Some(super::actor::OperatorLog(state.storage.clone())),
    }))
}
