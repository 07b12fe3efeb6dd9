//! The control store: the deployment's firms, their wrapped keys, the email directory, the
//! job queue, and the tombstones of shredded firms.
//! It holds no case data and no firm's plaintext key.

pub mod backups;
pub mod firms;
pub mod jobs;
pub mod operators;
pub mod passkey_sign_ins;
pub mod purge_ledger;
pub mod sign_in_failures;
pub mod support_grants;
pub mod terminations;
