//! Whether storage has met a fault (a full disk, a database gone away) since the last
//! time every store was seen to write. A readiness probe asks, so a load balancer stops
//! sending a node requests while its storage refuses writes, and sends them again once a
//! write gets through everywhere.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::StoreError;

/// One flag for the process: a fault may surface in any statement of any store, and every
/// storage error passes through [`note`] on its way out.
static FAULT_SEEN: AtomicBool = AtomicBool::new(false);

/// Passes `err` on, remembering it when it is a storage fault.
pub(crate) fn note(err: StoreError) -> StoreError {
    if err.fault().is_some() {
        FAULT_SEEN.store(true, Ordering::Relaxed);
    }
    err
}

pub(crate) fn fault_seen() -> bool {
    FAULT_SEEN.load(Ordering::Relaxed)
}

/// Every store has just written: forget earlier faults.
pub(crate) fn all_clear() {
    FAULT_SEEN.store(false, Ordering::Relaxed);
}
