//! Handlers get a matter's proof of access here. A refusal is a 404 with the same body as
//! for a matter that does not exist, and both are recorded the same way, so neither the
//! answer nor the work done tells them apart.

use ringfence_core::audit::{AuditAction, AuditRecord, Outcome};
use ringfence_core::ids::parse_id;
use ringfence_store::FirmTx;
use ringfence_store::firm::access::{self, Action, MatterAccess};
use ringfence_store::firm::audit as audit_log;
use uuid::Uuid;

use crate::audit;
use crate::auth::Actor;
use crate::client::Client;
use crate::error::ApiError;

/// Checks `actor`'s access to the matter named by `raw_id` inside `tx`, and hands the
/// transaction back with the proof. On refusal the transaction ends (it holds nothing
/// yet), the denial is recorded in a commit of its own, and the answer is 404.
pub async fn require<A: Action>(
    actor: &Actor,
    client: &Client,
    mut tx: FirmTx,
    raw_id: &str,
) -> Result<(FirmTx, MatterAccess<A>), ApiError> {
    let matter = parse_id(raw_id);
    let proof = match matter {
        Some(id) => access::check::<A>(&mut tx, actor.user, &actor.roles, id).await?,
        None => None,
    };
    match proof {
        Some(proof) => Ok((tx, proof)),
        None => Err(deny(actor, client, tx, matter, ("matter", raw_id)).await?),
    }
}

/// Ends `tx` and records a refused access to `matter` (when the id named one) in a commit
/// of its own: the answer, a 404, is the same whether or not the matter exists.
async fn deny(
    actor: &Actor,
    client: &Client,
    tx: FirmTx,
    matter: Option<Uuid>,
    resource: (&'static str, &str),
) -> Result<ApiError, ApiError> {
    tx.commit().await?;
    record_denial(actor, client, matter, resource).await
}

/// Records a refused access once the request holds no transaction: the log's writer must
/// not wait for one. Ids are logged in their one spelling; other text as given (escaped).
async fn record_denial(
    actor: &Actor,
    client: &Client,
    matter: Option<Uuid>,
    (kind, raw_id): (&'static str, &str),
) -> Result<ApiError, ApiError> {
    let id = parse_id(raw_id).map_or_else(|| raw_id.chars().take(64).collect(), |id| id.to_string());
    let mut entry = audit::record(
        actor.audit_actor(),
        AuditAction::MatterAccessDenied,
        Some((kind, id)),
        Outcome::Denied,
        client,
        actor.at,
    );
    entry.matter_id = matter.map(|m| m.to_string());
    actor.store.append_audit(entry).await?;
    Ok(ApiError::not_found().recorded())
}

/// Records a successful read or write of matter data, in the transaction that did it.
pub async fn record<A: Action>(
    tx: &mut FirmTx,
    actor: &Actor,
    client: &Client,
    access: &MatterAccess<A>,
    action: AuditAction,
    resource: (&'static str, String),
) -> Result<(), ApiError> {
    audit_log::append(tx, &entry(actor, client, access, action, resource)).await?;
    Ok(())
}

/// Ends a read of matter data and records it (see [`Actor::end_read`]): the data is
/// answered only once its entry is durable.
pub async fn record_read<A: Action>(
    tx: FirmTx,
    actor: &Actor,
    client: &Client,
    access: &MatterAccess<A>,
    action: AuditAction,
    resource: (&'static str, String),
) -> Result<(), ApiError> {
    actor.end_read(tx, entry(actor, client, access, action, resource)).await
}

fn entry<A: Action>(
    actor: &Actor,
    client: &Client,
    access: &MatterAccess<A>,
    action: AuditAction,
    resource: (&'static str, String),
) -> AuditRecord {
    let mut entry =
        audit::record(actor.audit_actor(), action, Some(resource), Outcome::Success, client, actor.at);
    entry.matter_id = Some(access.matter().to_string());
    entry
}
