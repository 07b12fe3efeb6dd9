//! Ringfence's storage: one control store for the deployment, and one store per firm.
//!
//! - SQLite (embedded default): `DATA/control.db`, and `DATA/firms/<firm-id>/firm.db` per firm.
//! - PostgreSQL: a `control` schema, and a schema per firm owned by that firm's own role.
//!   Every firm transaction runs `SET LOCAL ROLE` to the firm's runtime role, so even a
//!   wrong query cannot reach another firm's tables.
//!
//! Repository functions are written once in the SQL both backends share; what differs
//! lives in [`backend`] alone.

pub mod backend;
pub mod backup;
pub mod blob_sweep;
pub mod blobs;
pub mod control;
mod error;
pub mod firm;
mod health;
pub mod jobs;
#[cfg(test)]
mod jobs_tests;
mod master_key;
pub mod matter_keys;
pub mod migrate;
pub mod operators;
pub mod purge;
pub mod rotation;
mod storage;
mod termination;
mod wal_sync;

pub use backend::{Backend, DEFAULT_POSTGRES_POOL_SIZE, StorageLocation};
pub use control::sign_in_failures::ThrottleKey;
pub use control::terminations::Tombstone;
pub use error::{StorageFault, StoreError};
pub use firm::FirmTx;
pub use master_key::MasterKeyOrigin;
pub use storage::{FirmStore, KEY_SETTLE, NewFirm, Storage};
