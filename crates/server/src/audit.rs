//! Building audit records for the handlers. Each handler appends its record in the same
//! transaction as the change it describes, so there is no action without its entry.

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Outcome};
use ringfence_core::ids::UserId;
use ringfence_core::user::Email;
use time::OffsetDateTime;

use crate::auth::Actor;
use crate::client::Client;

pub fn user(id: UserId, email: &Email) -> AuditActor {
    AuditActor::User { id: id.to_string(), email: email.to_string() }
}

impl Actor {
    pub fn audit_actor(&self) -> AuditActor {
        match &self.support {
            Some(support) => support.audit_actor(),
            None => user(self.user, &self.email),
        }
    }
}

impl Actor {
    /// Records a successful action of this caller in `tx`, the transaction that made it.
    pub async fn record(
        &self,
        tx: &mut ringfence_store::FirmTx,
        client: &Client,
        action: AuditAction,
        resource: Option<(&'static str, String)>,
    ) -> Result<(), crate::error::ApiError> {
        let entry = record(self.audit_actor(), action, resource, Outcome::Success, client, self.at);
        ringfence_store::firm::audit::append(tx, &entry).await?;
        Ok(())
    }

    /// Records a successful read by this caller (see [`Self::end_read`]).
    pub async fn record_read(
        &self,
        tx: ringfence_store::FirmTx,
        client: &Client,
        action: AuditAction,
        resource: Option<(&'static str, String)>,
    ) -> Result<(), crate::error::ApiError> {
        self.end_read(tx, record(self.audit_actor(), action, resource, Outcome::Success, client, self.at))
            .await
    }

    /// Ends a read (its transaction wrote nothing, so it commits for free) and appends
    /// `entry` with the entries of concurrent reads, in one commit, before anything is
    /// answered.
    pub async fn end_read(
        &self,
        tx: ringfence_store::FirmTx,
        entry: AuditRecord,
    ) -> Result<(), crate::error::ApiError> {
        tx.commit().await?;
        self.store.append_audit(entry).await?;
        Ok(())
    }
}

/// Records a refused step of someone not signed in (a junk invitation token, a sign-in
/// challenge that is dead or never was) in the firm the request named: the only trace of
/// it. The caller holds no transaction of that firm's.
pub async fn anonymous_refusal(
    store: &std::sync::Arc<ringfence_store::FirmStore>,
    action: AuditAction,
    client: &Client,
    at: OffsetDateTime,
) -> Result<(), crate::app::AppError> {
    store.append_audit(record(AuditActor::Anonymous, action, None, Outcome::Denied, client, at)).await?;
    Ok(())
}

/// A record of `action` on a resource.
pub fn record(
    actor: AuditActor,
    action: AuditAction,
    resource: Option<(&'static str, String)>,
    outcome: Outcome,
    client: &Client,
    at: OffsetDateTime,
) -> AuditRecord {
    // An id is logged in its one spelling, however the request spelt it, so a search (and
    // a wall's filter) over the log finds every entry about it.
    let (resource_type, resource_id) = match resource {
        Some((kind, id)) => {
            (Some(kind), Some(ringfence_core::ids::parse_id(&id).map_or(id, |id| id.to_string())))
        }
        None => (None, None),
    };
    AuditRecord {
        at,
        actor,
        action,
        resource_type,
        resource_id,
        matter_id: None,
        outcome,
        origin: client.origin(),
    }
}
