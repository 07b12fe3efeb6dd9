//! Work a server does on its own, in the background: carrying key rotations through.

use std::sync::Arc;
use std::time::Duration;

use ringfence_core::clock::Clock;
use ringfence_store::Storage;

/// How often rotations are looked for.
const EVERY: Duration = Duration::from_secs(600);
/// Old key versions are deleted only this long after the rotation: requests that began
/// before it may still seal under the version they started with.
const RETIRE_GRACE: time::Duration = time::Duration::hours(24);

pub fn spawn(storage: Arc<Storage>, clock: Arc<dyn Clock>) {
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
