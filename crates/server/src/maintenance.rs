//! Work a server does on its own, in the background: carrying key rotations through,
//! writing out audit entries queued off the response path, and sweeping what uploads
//! left behind in the blob store.

use std::sync::Arc;
use std::time::Duration;

use ringfence_core::audit::AuditActor;
use ringfence_core::clock::Clock;
use ringfence_store::Storage;
use ringfence_store::blob_sweep::SWEEP_GRACE;
use ringfence_store::blobs::BlobStore;

/// How often rotations are looked for.
const EVERY: Duration = Duration::from_secs(600);
/// How long a queued audit entry waits at most before it is written (readers of the log
/// write the queue out first anyway).
const AUDIT_FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Old key versions are deleted only this long after the rotation: requests that began
/// before it may still seal under the version they started with.
const RETIRE_GRACE: time::Duration = time::Duration::hours(24);
/// The blob store is swept at start and then every this many rounds (6 hours): listing a
/// firm's every blob is not free, and what it removes is a day old at least.
const SWEEP_EVERY_ROUNDS: u64 = 36;

pub fn spawn(storage: Arc<Storage>, blobs: BlobStore, clock: Arc<dyn Clock>) {
    let flushing = storage.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(AUDIT_FLUSH_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = flushing.flush_audits().await {
                tracing::error!(error = %e, "could not write queued audit entries; will try again");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        for round in 0_u64.. {
            tick.tick().await;
            if let Err(e) = storage.finish_rotations(clock.now(), RETIRE_GRACE).await {
                tracing::warn!(error = %e, "could not carry a key rotation on; will try again");
            }
            if round % SWEEP_EVERY_ROUNDS == 0 {
                sweep_all(&storage, &blobs, clock.as_ref()).await;
            }
        }
    });
}

/// Sweeps every firm's blobs; a firm that fails is logged and the others still swept.
pub async fn sweep_all(storage: &Storage, blobs: &BlobStore, clock: &dyn Clock) {
    let firms = match storage.list_firms().await {
        Ok(firms) => firms,
        Err(e) => {
            tracing::warn!(error = %e, "could not list firms to sweep their blobs; will try again");
            return;
        }
    };
    for firm in firms {
        match storage.sweep_blobs(blobs, firm.id, clock.now(), SWEEP_GRACE, AuditActor::System).await {
            Ok(swept) => tracing::info!(
                firm = %firm.id,
                removed = swept.orphans,
                staged = swept.staged,
                fresh = swept.fresh,
                "swept the blob store"
            ),
            Err(e) => {
                tracing::warn!(firm = %firm.id, error = %e, "could not sweep a firm's blobs; will try again")
            }
        }
    }
}
