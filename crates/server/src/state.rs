use std::sync::Arc;

use ringfence_core::auth::SessionLimits;
use ringfence_core::clock::Clock;
use ringfence_mail::Mailer;
use ringfence_store::Storage;

use crate::extractor::Extractor;
use crate::forwarded::TrustedProxies;
use crate::malware::Scanner;
use ringfence_store::blobs::BlobStore;
use tokio::sync::Semaphore;

/// Settings the HTTP layer needs at request time.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Add `preload` to HSTS: only for a domain that is ready to be on browsers' preload lists.
    pub hsts_preload: bool,
    /// The public HTTPS URL, without a trailing slash: for links in mail.
    pub public_url: String,
    pub session_limits: SessionLimits,
    /// The largest document accepted, in bytes.
    pub max_upload_bytes: u64,
    /// When set, every new document is scanned before it is recorded.
    pub malware_scanner: Option<Scanner>,
    /// Reads the text of new documents for the search index, in a child process.
    pub extractor: Extractor,
    /// Peers whose forwarding header names the client, and which header that is.
    pub trusted_proxies: TrustedProxies,
}

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Storage>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<HttpSettings>,
    pub mailer: Arc<Mailer>,
    pub blobs: BlobStore,
    /// Bounds concurrent password hashing, so a burst of sign-ins cannot take every core.
    pub hashing: Arc<Semaphore>,
}

impl AppState {
    /// One password hash at a time per core, leaving the async workers free.
    pub fn hashing_permits() -> Arc<Semaphore> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Arc::new(Semaphore::new(cores.max(1)))
    }
}
