//! Work a server does on its own, in the background: carrying key rotations through, and
//! writing out audit entries queued off the response path.

use std::sync::Arc;
use std::time::Duration;

use ringfence_core::clock::Clock;
use ringfence_store::Storage;

/// How often rotations are looked for.
const EVERY: Duration = Duration::from_secs(600);
/// How long a queued audit entry waits at most before it is written (readers of the log
/// write the queue out first anyway).
const AUDIT_FLUSH_EVERY: Duration = Duration::from_secs(2);
/// Old key versions are deleted only this long after the rotation: requests that began
/// before it may still seal under the version they started with.
const RETIRE_GRACE: time::Duration = time::Duration::hours(24);

pub fn spawn(storage: Arc<Storage>, clock: Arc<dyn Clock>) {
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
        loop {
            tick.tick().await;
            if let Err(e) = storage.finish_rotations(clock.now(), RETIRE_GRACE).await {
                tracing::warn!(error = %e, "could not carry a key rotation on; will try again");
            }
        }
    });
}
