use std::sync::Arc;
use std::time::Duration;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_mail::Mailer;
use ringfence_server::acme::{self, Acme};
use ringfence_server::audit_shipping::Sink;
use ringfence_server::error::ErrorChain;
use ringfence_server::extractor::Extractor;
use ringfence_server::jobs::Worker;
use ringfence_server::malware::Scanner;
use ringfence_server::serve::{Bound, ServeOptions, shutdown_signal};
use ringfence_server::{AppState, HttpSettings, app, tls};
use ringfence_store::Storage;
use ringfence_store::backup::BackupTarget;
use ringfence_store::blobs::BlobStore;

use super::{CommandResult, open_storage};
use crate::config::Settings;

pub async fn run(settings: &Settings) -> CommandResult {
    tls::install_crypto_provider();
    let storage = Arc::new(open_storage(settings).await?);
    let serve = &settings.serve;
    let blobs = BlobStore::open(&serve.blob_store)?;
    let clock = Arc::new(SystemClock);
    let mailer = Arc::new(Mailer::new(serve.mail.as_deref(), &settings.data_dir, &serve.mail_from)?);
    let shutdown = shutdown_signal()?;
    let backups = backup_plan(settings)?;

    let (stop_worker, worker_stopping) = tokio::sync::watch::channel(false);
    let worker = match serve.role.worker {
        true => {
            let worker = Worker::new(
                storage.clone(),
                blobs.clone(),
                mailer.clone(),
                clock.clone(),
                audit_sinks(settings)?,
            )
            .with_public_url(&settings.public_url_for(serve.listen.port()));
            let worker = match backups {
                Some(plan) => worker.with_backups(Arc::new(plan)),
                None => {
                    tracing::warn!(
                        "no backup target (backup-target): no firm is backed up by this deployment"
                    );
                    worker
                }
            };
            let mut stopping = worker_stopping;
            let stop = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            Some(tokio::spawn(Arc::new(worker).run(stop)))
        }
        false => None,
    };

    if serve.role.web {
        serve_web(settings, storage.clone(), blobs, mailer, clock, shutdown).await?;
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

/// The backup schedule, when a target is set; a target that is not apart from the data is
/// refused here, at start-up.
fn backup_plan(settings: &Settings) -> Result<Option<app::backups::BackupPlan>, ringfence_store::StoreError> {
    let Some(backup) = &settings.serve.backup else { return Ok(None) };
    Ok(Some(app::backups::BackupPlan {
        target: BackupTarget::open(&backup.target, &settings.serve.blob_store, &settings.data_dir)?,
        every: backup.every,
        at: backup.at,
        keep: backup.keep,
        operator: backup.alert.clone(),
    }))
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
    mailer: Arc<Mailer>,
    clock: Arc<SystemClock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> CommandResult {
    let serve = &settings.serve;
    let tls_files = match &serve.tls_files {
        Some(files) => files.clone(),
        None => tls::self_signed(&settings.data_dir)?,
    };
    // With ACME the self-signed pair is served only until the first certificate arrives.
    let acme = serve.acme.clone().map(|acme| Acme::open(acme, &settings.data_dir, &tls_files)).transpose()?;
    let tls_config = match &acme {
        Some(acme) => acme.server_config(serve.tls_min),
        None => tls::server_config(&tls_files, serve.tls_min)?,
    };
    let mut bound = Bound::bind(serve.listen, Some(serve.http_listen))?;
    if let Some(listen) = serve.proxy_http_listen {
        bound = bound.with_proxy_http(listen, serve.trusted_proxies.clone())?;
    }
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
    if let Some(acme) = &acme {
        let acme = acme.settings();
        println!(
            "The certificate for {} comes from {}; until it first arrives, the self-signed one is served.",
            acme.host, acme.directory
        );
    } else if serve.tls_files.is_none() {
        println!(
            "The certificate is self-signed ({}): your browser will ask you to trust it. \
             Use --tls-cert and --tls-key for a real one.",
            tls_files.cert.display()
        );
    }
    if serve.mail.is_none() {
        println!(
            "Mail is not sent: each message (sign-in codes, invitations) is written to {} as an .eml file. \
             Give --mail smtp://host:port to send it.",
            std::path::absolute(settings.data_dir.join("outbox"))
                .unwrap_or_else(|_| settings.data_dir.join("outbox"))
                .display()
        );
    }
    if https_addr.ip().is_loopback() {
        println!(
            "Only this machine can reach it. To open it to the office network, start it with \
             --listen 0.0.0.0:{port} --public-url https://THIS-MACHINE'S-NAME:{port} (the name colleagues use), \
             and allow port {port} through the firewall.",
            port = https_addr.port()
        );
    } else if settings.public_url.is_none() {
        println!(
            "Colleagues reach it at https://THIS-MACHINE'S-NAME:{}; give that as --public-url so links in mail work for them.",
            https_addr.port()
        );
    }
    if firms.is_empty() {
        println!("No firm exists yet. Create the first one, with its administrator, in another terminal:");
        println!(
            "  {} firm create --name \"Your Firm\" --slug your-firm --admin-email you@your-firm.example",
            settings.command_line()
        );
        println!(
            "It prints a one-time invitation link: open it to set the administrator's password, then sign in."
        );
    }
    // Scripts and tests wait for this line: everything above is printed, the sockets are bound.
    println!("ringfence: ready");

    let extractor = Extractor::this_program()?;
    let clock_for_renewal: Arc<dyn Clock> = clock.clone();
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
            trusted_proxies: serve.trusted_proxies.clone(),
        }),
        mailer,
        blobs,
        hashing: AppState::hashing_permits(),
    };
    let options = ServeOptions { public_url, tls: tls_config, drain: Duration::from_secs(30) };
    let serving = bound.run(app(state), options, shutdown);
    match acme {
        // Renewal runs beside serving and stops with it.
        Some(acme) => {
            tokio::select! {
                served = serving => served?,
                () = renew_certificates(acme, clock_for_renewal) => {}
            }
        }
        None => serving.await?,
    }
    Ok(())
}

/// Shortest wait between two renewal checks, however soon a certificate falls due.
const RENEWAL_MIN_WAIT: Duration = Duration::from_secs(10);
/// Longest wait: the stored certificate is looked at again at least this often.
const RENEWAL_MAX_WAIT: Duration = Duration::from_secs(12 * 3600);
/// First wait after a failed attempt, doubled after each further failure up to the longest.
const RENEWAL_RETRY: Duration = Duration::from_secs(60);

/// Calls `renew_if_due` when the certificate falls due, and again with backoff after a
/// failure, while the current certificate goes on being served. Not a job on the queue:
/// it renews the certificate this process holds in memory, which no other server can do
/// for it (each server orders its own; see "Automatic certificates" in the README).
async fn renew_certificates(acme: Acme, clock: Arc<dyn Clock>) {
    let mut failures = 0_u32;
    loop {
        let wait = match acme::renew_if_due(&acme, clock.now()).await {
            Ok(held) => {
                failures = 0;
                Duration::try_from(held.renew_at - clock.now()).unwrap_or(Duration::ZERO)
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let retry = renewal_retry(failures);
                tracing::error!(
                    host = %acme.settings().host,
                    directory = %acme.settings().directory,
                    error = %ErrorChain(&e),
                    retry_in_seconds = retry.as_secs(),
                    "could not get a certificate from the ACME server; the current one is still served"
                );
                retry
            }
        };
        tokio::time::sleep(wait.clamp(RENEWAL_MIN_WAIT, RENEWAL_MAX_WAIT)).await;
    }
}

/// The wait after the given number of failures in a row: doubling, up to the longest wait.
fn renewal_retry(failures: u32) -> Duration {
    RENEWAL_RETRY.saturating_mul(2_u32.saturating_pow(failures.saturating_sub(1))).min(RENEWAL_MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_retries_back_off_to_the_longest_wait() {
        let waits: Vec<u64> = (1..=12).map(|failures| renewal_retry(failures).as_secs()).collect();
        assert_eq!(&waits[..4], [60, 120, 240, 480]);
        assert!(waits.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(waits[11], RENEWAL_MAX_WAIT.as_secs());
        assert_eq!(renewal_retry(u32::MAX), RENEWAL_MAX_WAIT, "no overflow");
    }
}
