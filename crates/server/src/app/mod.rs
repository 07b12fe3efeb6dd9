//! The application layer: every rule of the product, once, for every caller. A use case is
//! a plain async function taking a [`Ctx`] (who acts, where from, when) and typed input,
//! and returning a typed view or an [`AppError`] in the domain's own terms. The JSON API
//! (`crate::api`) and the pages (`crate::pages`) are thin adapters over the same use cases;
//! nothing here knows about HTTP.

pub mod access;
pub mod account;
pub mod documents;
mod error;
pub mod matters;
pub mod sign_in;

pub use error::AppError;

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
