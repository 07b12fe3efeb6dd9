//! The application layer: every rule of the product, once, for every caller. A use case is
//! a plain async function taking a [`Ctx`] (who acts, where from, when) and typed input,
//! and returning a typed view or an [`AppError`] in the domain's own terms. The JSON API
//! (`crate::api`) and the pages (`crate::pages`) are thin adapters over the same use cases;
//! nothing here knows about HTTP.

pub mod access;
pub mod account;
pub mod audit;
pub mod backups;
pub mod clients;
pub mod data_subjects;
pub mod decoys;
pub mod deletion;
pub mod documents;
mod error;
mod export_build;
pub mod exports;
pub mod firm_settings;
pub mod home;
pub mod incidents;
pub mod legal_holds;
pub mod matters;
pub mod notes;
pub mod onboarding;
pub mod operators;
pub mod retention;
pub mod search;
pub mod sign_in;
pub mod support;
pub mod termination;
pub mod users;

pub use error::AppError;

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_store::FirmTx;
use ringfence_store::firm::audit as audit_log;

use crate::AppState;
use crate::auth::Actor;
use crate::client::Client;

/// The context a firm user's use case runs in: the signed-in caller (its principal, its
/// firm's store and the request's time) and where the request came from.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub client: Client,
}

impl Ctx {
    pub fn new(actor: Actor, client: Client) -> Self {
        Self { actor, client }
    }

    /// The time this request is taken to happen at: every entry and record it makes
    /// carries it.
    pub fn now(&self) -> time::OffsetDateTime {
        self.actor.at
    }

    /// Records a successful action of the caller in `tx`, the transaction that made it.
    pub async fn record(
        &self,
        tx: &mut FirmTx,
        action: AuditAction,
        resource: Option<(&'static str, String)>,
    ) -> Result<(), AppError> {
        audit_log::append(tx, &self.entry(action, resource)).await?;
        Ok(())
    }

    /// Ends a read and records it (see `Actor::end_read`): what was read is answered only
    /// once its entry is durable.
    pub async fn record_read(
        &self,
        tx: FirmTx,
        action: AuditAction,
        resource: Option<(&'static str, String)>,
    ) -> Result<(), AppError> {
        tx.commit().await?;
        self.actor.store.append_audit(self.entry(action, resource)).await?;
        Ok(())
    }

    fn entry(
        &self,
        action: AuditAction,
        resource: Option<(&'static str, String)>,
    ) -> ringfence_core::audit::AuditRecord {
        crate::audit::record(
            self.actor.audit_actor(),
            action,
            resource,
            Outcome::Success,
            &self.client,
            self.now(),
        )
    }
}

/// The context of a use case run before anyone is signed in (signing in, accepting an
/// invitation): the server's state, where the request came from and when. Its transactions
/// are begun as `Principal::Anonymous`.
#[derive(Clone)]
pub struct PublicCtx {
    pub state: AppState,
    pub client: Client,
    pub now: time::OffsetDateTime,
}
