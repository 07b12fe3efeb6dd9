//! Matters: opening, reading, changing and closing them, their members and walls. Every use
//! case on one matter takes the [`On`] its route was declared for.

use ringfence_core::audit::AuditAction;
use ringfence_core::ids::MatterId;
use ringfence_store::firm::access::View;
use ringfence_store::firm::matters::{self, Matter};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{self, On};
use super::{AppError, Ctx};

/// A matter as its readers see it.
#[derive(Debug, Clone, Serialize)]
pub struct MatterView {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub client_id: Uuid,
    pub description: Option<String>,
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

impl From<Matter> for MatterView {
    fn from(matter: Matter) -> Self {
        Self {
            id: matter.id,
            number: matter.number,
            title: matter.title,
            client_id: matter.client_id,
            description: matter.description,
            status: matter.status,
            opened_at: matter.opened_at,
            closed_at: matter.closed_at,
        }
    }
}

/// One matter, its reading on the record.
pub async fn view(ctx: &Ctx, on: On<View, MatterId>) -> Result<MatterView, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let matter = matters::get(&mut tx, &access).await?;
    access::note_read(tx, ctx, &access, AuditAction::MatterViewed, ("matter", on.id().to_string())).await?;
    Ok(matter.into())
}
