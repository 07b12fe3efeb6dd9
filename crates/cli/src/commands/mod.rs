pub mod audit;
pub mod backup;
pub mod blobs;
pub mod firm;
pub mod jobs;
pub mod keys;
pub mod migrate;
pub mod operator;
pub mod serve;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_store::{MasterKeyOrigin, Storage};

use crate::config::Settings;

pub type CommandResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Opens the deployment's storage (applying migrations) and says where the master key came from.
pub async fn open_storage(settings: &Settings) -> Result<Storage, ringfence_store::StoreError> {
    let storage = Storage::open(
        &settings.storage,
        &settings.data_dir,
        settings.master_key.as_ref().map(|key| key.as_str()),
        SystemClock.now(),
    )
    .await?;
    match storage.master_key_origin() {
        MasterKeyOrigin::Created(path) => tracing::warn!(
            path = %path.display(),
            "created a new master key: back it up now, and keep the copy apart from the data and its \
             backups; without it the data cannot be read"
        ),
        MasterKeyOrigin::File(path) => tracing::info!(
            path = %path.display(),
            "master key read from the data dir: keep a copy of it apart from the data's backups"
        ),
        MasterKeyOrigin::Environment => tracing::info!("master key read from RINGFENCE_MASTER_KEY"),
    }
    Ok(storage)
}
