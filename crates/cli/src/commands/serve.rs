use std::sync::Arc;
use std::time::Duration;

use ringfence_core::clock::SystemClock;
use ringfence_mail::Mailer;
use ringfence_server::audit_shipping::Sink;
use ringfence_server::extractor::Extractor;
use ringfence_server::jobs::Worker;
use ringfence_server::malware::Scanner;
use ringfence_server::serve::{Bound, ServeOptions, shutdown_signal};
use ringfence_server::{AppState, HttpSettings, app, tls};
use ringfence_store::Storage;
use ringfence_store::blobs::BlobStore;

use super::{CommandResult, open_storage};
use crate::config::Settings;

pub async fn run(settings: &Settings) -> CommandResult {
    tls::install_crypto_provider();
    let storage = Arc::new(open_storage(settings).await?);
    let serve = &settings.serve;
    let blobs = BlobStore::open(&serve.blob_store)?;
    let clock = Arc::new(SystemClock);
    let shutdown = shutdown_signal()?;

    let (stop_worker, worker_stopping) = tokio::sync::watch::channel(false);
    let worker = match serve.role.worker {
        true => {
            let worker = Worker::new(storage.clone(), blobs.clone(), clock.clone(), audit_sinks(settings)?);
            let mut stopping = worker_stopping;
            let stop = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            Some(tokio::spawn(Arc::new(worker).run(stop)))
        }
        false => None,
    };

    if serve.role.web {
        serve_web(settings, storage.clone(), blobs, clock, shutdown).await?;
    } else {
        println!("ringfence: running background jobs only (--role worker); nothing is served");
        println!("ringfence: ready");
        shutdown.await;
    }
    let _ = stop_worker.send(true);
    if let Some(worker) = worker {
        worker.await?;
    }
    // Audit entries still queued off the response path are written before the process ends.
    storage.flush_audits().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Where this worker ships audit entries: every worker of a deployment should have the same.
fn audit_sinks(settings: &Settings) -> Result<Vec<Sink>, ringfence_server::audit_shipping::ShippingError> {
    let mut sinks = Vec::new();
    if let Some(path) = &settings.serve.audit_jsonl {
        sinks.push(Sink::json_lines(path.clone()));
    }
    if let Some(target) = &settings.serve.audit_syslog {
        sinks.push(Sink::syslog(target.clone())?);
    }
    Ok(sinks)
}

/// Serves HTTPS (and the redirecting plain-HTTP listener) until `shutdown`.
async fn serve_web(
    settings: &Settings,
    storage: Arc<Storage>,
    blobs: BlobStore,
    clock: Arc<SystemClock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> CommandResult {
    let serve = &settings.serve;
    let tls_files = match &serve.tls_files {
        Some(files) => files.clone(),
        None => tls::self_signed(&settings.data_dir)?,
    };
    let tls_config = tls::server_config(&tls_files, serve.tls_min)?;
    let bound = Bound::bind(serve.listen, Some(serve.http_listen))?;
    let https_addr = bound.https_addr()?;
    let public_url = settings.public_url_for(https_addr.port());

    let firms = storage.list_firms().await?;
    println!("ringfence: listening on https://{https_addr}");
    if let Some(http_addr) = bound.http_addr()? {
        println!("ringfence: plain HTTP on http://{http_addr} only redirects to {public_url}");
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
    let extractor = Extractor::this_program()?;
    let state = AppState {
        storage,
        clock,
        settings: Arc::new(HttpSettings {
            hsts_preload: serve.hsts_preload,
            public_url: public_url.clone(),
            session_limits: serve.session_limits,
            max_upload_bytes: serve.max_upload_bytes,
            malware_scanner: serve.clamav.as_deref().map(Scanner::new),
            extractor,
        }),
        mailer: Arc::new(mailer),
        blobs,
        hashing: AppState::hashing_permits(),
    };
    let options = ServeOptions { public_url, tls: tls_config, drain: Duration::from_secs(30) };
    bound.run(app(state), options, shutdown).await?;
    Ok(())
}
