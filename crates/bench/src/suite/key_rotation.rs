//! Firm key rotation as `ringfence keys rotate` does it, through the store library: a new
//! key version (with the job that would carry the rotation through), then the re-seal of
//! every sealed value under it. It changes the firm's key, so it is measured last.

use std::path::Path;
use std::time::Instant;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::ids::FirmId;
use ringfence_server::jobs::after_rotation;
use ringfence_store::{Storage, StorageLocation};
use serde_json::{Value, json};

use super::log;
use crate::BenchResult;

/// Rotates the firm's key and re-seals its values, once; `alone` says whether the firm is
/// as seeded, or also holds what the parts measured before wrote into it.
///
/// No server may be running: the job the rotation queues falls due after `KEY_SETTLE`, and
/// a server's worker would then re-seal alongside the measured re-seal. Without one the
/// job stays queued and goes with the bench data. The command's wait of `KEY_SETTLE` for
/// servers to see the new key is left out: it is a pause, not work.
pub async fn measure(
    location: &StorageLocation,
    data_dir: &Path,
    firm: FirmId,
    alone: bool,
) -> BenchResult<Value> {
    let storage = Storage::open(location, data_dir, None, SystemClock.now()).await?;
    log("key rotation: a new key version");
    let now = SystemClock.now();
    let started = Instant::now();
    storage.rotate_firm_key(firm, now, &after_rotation(firm, now)).await?;
    let rotate_seconds = started.elapsed().as_secs_f64();

    log("key rotation: re-sealing every value under the firm key");
    let started = Instant::now();
    let rewrapped = storage.rewrap_firm(firm, SystemClock.now()).await?;
    let rewrap_seconds = started.elapsed().as_secs_f64();
    log(&format!(
        "key rotation: {} values re-sealed in {rewrap_seconds:.1} s, {} left",
        rewrapped.moved, rewrapped.remaining
    ));
    Ok(json!({
        "alone": alone,
        "moved": rewrapped.moved,
        "remaining": rewrapped.remaining,
        "rotate_seconds": rotate_seconds,
        "rewrap_seconds": rewrap_seconds,
    }))
}

#[cfg(test)]
mod tests {
    use ringfence_testkit::{TestEnv, both_backends};

    use super::*;
    use crate::seed::{self, Sizes};

    both_backends!(a_rotation_re_wraps_each_matters_key_and_no_note, |env: TestEnv| async move {
        let location = match env.database_url() {
            Some(url) => StorageLocation::postgres(url.to_owned()),
            None => StorageLocation::Sqlite,
        };
        let sizes = Sizes {
            users: 4,
            matters: 20,
            bench_matters: 5,
            notes_per_matter: 2,
            clients: 2,
            audit_entries: 0,
            storm_users: 0,
            vocabulary: 50,
            words_per_note: 4,
            documents: 0,
            document_bytes: 0,
        };
        let firm = seed::seed(&location, env.data_dir(), sizes, 1).await.expect("seeded");
        let rotated = measure(&location, env.data_dir(), firm.id, true).await.expect("rotated");
        // Each matter's key and the firm's own fields (users' names, the search key); the
        // matters' titles, descriptions and notes stay under their matter keys.
        assert!(rotated["moved"].as_u64().is_some_and(|moved| (20..20 + 40).contains(&moved)), "{rotated}");
        assert_eq!(rotated["remaining"], 0);
        // No server runs the job that would finish the rotation, as in the suite.
        env.expect_jobs_left("keys.finish-rotation");
    });
}
