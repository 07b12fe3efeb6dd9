//! The signed-in user's home: the matters they hold, the ones they opened lately, and the
//! latest changes to them, all read in one snapshot.

use ringfence_core::audit::StoredAuditEntry;
use ringfence_core::local_time::FirmTimeZone;
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::matters::{self, Matter};
use ringfence_store::firm::{preferences, users};

use super::{AppError, Ctx};

/// Matters opened lately, newest first, as many as the home page shows.
const RECENT: usize = 5;

pub struct Overview {
    /// Every live matter the caller holds a role on and no wall screens it from.
    pub matters: Vec<Matter>,
    /// Of those, the ones the caller viewed lately, most recent first: a view from before a
    /// wall or a removal does not bring a matter back.
    pub recent: Vec<Matter>,
    /// The latest changes to the caller's matters, each with the matter it is on when the
    /// caller still holds it.
    pub activity: Vec<(StoredAuditEntry, Option<Matter>)>,
    pub time_zone: FirmTimeZone,
    /// The firm's people by id, as pages name them.
    pub names: std::collections::HashMap<String, String>,
}

pub async fn overview(ctx: &Ctx) -> Result<Overview, AppError> {
    let user = ctx.actor.user;
    let mut tx = ctx.actor.begin_read().await?;
    let mine: Vec<Matter> =
        matters::list_mine(&mut tx, user).await?.into_iter().filter(|m| m.deleted_at.is_none()).collect();
    let viewed = audit_log::recently_viewed_matters(&mut tx, user, 20).await?;
    let changes = audit_log::activity_on_matters_of(&mut tx, user, 10).await?;
    let time_zone = preferences::time_zone(&mut tx).await?;
    let names = users::names(&mut tx).await?;
    tx.commit().await?;
    let recent =
        viewed.iter().filter_map(|id| mine.iter().find(|m| m.id == *id).cloned()).take(RECENT).collect();
    let activity = changes
        .into_iter()
        .map(|entry| {
            let on = mine.iter().find(|m| Some(m.id.to_string()) == entry.matter_id).cloned();
            (entry, on)
        })
        .collect();
    Ok(Overview { matters: mine, recent, activity, time_zone, names })
}
