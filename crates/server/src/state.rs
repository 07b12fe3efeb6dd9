use std::sync::Arc;

use ringfence_core::clock::Clock;
use ringfence_store::Storage;

/// Settings the HTTP layer needs at request time.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Add `preload` to HSTS: only for a domain that is ready to be on browsers' preload lists.
    pub hsts_preload: bool,
}

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Storage>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<HttpSettings>,
}
