//! Sweeping the blob store at the command line: what the `blobs.sweep` job also does every 6 hours.

use ringfence_core::audit::AuditActor;
use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::firm::FirmSlug;
use ringfence_store::blobs::BlobStore;

use super::{CommandResult, open_storage};
use crate::config::Settings;

/// Sweeps one firm, or every firm, and says what was removed from each.
pub async fn sweep(settings: &Settings, only: Option<&FirmSlug>, grace_hours: i64) -> CommandResult {
    if grace_hours < 1 {
        return Err(
            "--grace-hours must be at least 1: uploads in flight have stored bytes not yet recorded".into()
        );
    }
    let storage = open_storage(settings).await?;
    let blobs = BlobStore::open(&settings.serve.blob_store)?;
    let firms = match only {
        Some(slug) => vec![storage.firm_by_slug(slug).await?],
        None => storage.list_firms().await?,
    };
    let grace = time::Duration::hours(grace_hours);
    for firm in firms {
        let swept = storage.sweep_blobs(&blobs, firm.id, SystemClock.now(), grace, AuditActor::Cli).await?;
        println!(
            "{}: removed {} unrecorded blobs and {} staged files; left {} written within {grace_hours} hours.",
            firm.slug, swept.orphans, swept.staged, swept.fresh
        );
    }
    Ok(())
}
