use std::sync::Arc;
use std::time::Duration;

use ringfence_core::clock::SystemClock;
use ringfence_mail::Mailer;
use ringfence_server::audit_shipping::{self, Sink};
use ringfence_server::extractor::Extractor;
use ringfence_server::malware::Scanner;
use ringfence_server::serve::{Bound, ServeOptions, shutdown_signal};
use ringfence_server::{AppState, HttpSettings, app, maintenance, tls};
use ringfence_store::blobs::BlobStore;

use super::{CommandResult, open_storage};
use crate::config::Settings;

pub async fn run(settings: &Settings) -> CommandResult {
    tls::install_crypto_provider();
    let storage = Arc::new(open_storage(settings).await?);
    let serve = &settings.serve;
    let blobs = BlobStore::open(&serve.blob_store)?;
    let tls_files = match &serve.tls_files {
        Some(files) => files.clone(),
        None => tls::self_signed(&settings.data_dir)?,
    };
    let tls_config = tls::server_config(&tls_files, serve.tls_min)?;
    let mut bound = Bound::bind(serve.listen, Some(serve.http_listen))?;
    if let Some(listen) = serve.proxy_http_listen {
        bound = bound.with_proxy_http(listen, serve.trusted_proxies.clone())?;
    }
    let shutdown = shutdown_signal()?;
    let https_addr = bound.https_addr()?;
    let public_url = settings.public_url_for(https_addr.port());

    let firms = storage.list_firms().await?;
    println!("ringfence: listening on https://{https_addr}");
    if let Some(http_addr) = bound.http_addr()? {
        println!("ringfence: plain HTTP on http://{http_addr} only redirects to {public_url}");
    }
    if let Some(proxy_addr) = bound.proxy_http_addr()? {
        println!("ringfence: plain HTTP for the trusted proxies on http://{proxy_addr}");
    }
    println!("Open {public_url} in a browser.");
    if serve.tls_files.is_none() {
        println!(
            "The certificate is self-signed ({}): your browser will ask you to trust it. \
             Use --tls-cert and --tls-key for a real one.",
            tls_files.cert.display()
        );
    }
    if firms.is_empty() {
        println!("No firm exists yet. Create the first one, with its administrator, in another terminal:");
        println!(
            "  ringfence --data-dir {} firm create --name \"Your Firm\" --slug your-firm --admin-email you@your-firm.example",
            settings.data_dir.display()
        );
        println!(
            "It prints a one-time invitation link: open it to set the administrator's password, then sign in."
        );
    }
    // Scripts and tests wait for this line: everything above is printed, the sockets are bound.
    println!("ringfence: ready");

    let mailer = Mailer::new(serve.mail.as_deref(), &settings.data_dir, &serve.mail_from)?;
    let mut sinks = Vec::new();
    if let Some(path) = &serve.audit_jsonl {
        sinks.push(Sink::json_lines(path.clone()));
    }
    if let Some(target) = &serve.audit_syslog {
        sinks.push(Sink::syslog(target.clone())?);
    }
    audit_shipping::spawn(storage.clone(), sinks);
    let clock = Arc::new(SystemClock);
    let extractor = Extractor::this_program()?;
    maintenance::spawn(storage.clone(), blobs.clone(), clock.clone());
    let state = AppState {
        storage: storage.clone(),
        clock,
        settings: Arc::new(HttpSettings {
            hsts_preload: serve.hsts_preload,
            public_url: public_url.clone(),
            session_limits: serve.session_limits,
            max_upload_bytes: serve.max_upload_bytes,
            malware_scanner: serve.clamav.as_deref().map(Scanner::new),
            extractor,
            trusted_proxies: serve.trusted_proxies.clone(),
        }),
        mailer: Arc::new(mailer),
        blobs,
        hashing: AppState::hashing_permits(),
    };
    let options = ServeOptions { public_url, tls: tls_config, drain: Duration::from_secs(30) };
    bound.run(app(state), options, shutdown).await?;
    // Audit entries still queued off the response path are written before the process ends.
    storage.flush_audits().await?;
    tracing::info!("stopped");
    Ok(())
}
