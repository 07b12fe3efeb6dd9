//! Shipping the audit log off the box as it is written: to a JSON-lines file and to a
//! syslog collector (RFC 5424 messages, RFC 5425 framing over TLS). A recurring job
//! (`crate::jobs`) tails every firm's log, on one server of the deployment at a time, so
//! each entry reaches each sink once; each sink's position is kept in the firm's store and
//! advances only after a successful send, so a restart or an unreachable collector loses
//! nothing (an entry may be sent twice only when a server dies between the send and the
//! position's update: collectors dedupe on firm and seq).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ringfence_core::audit::StoredAuditEntry;
use ringfence_core::ids::FirmId;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_store::firm::audit;
use ringfence_store::{Storage, StoreError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Entries sent per firm and sink per round.
const BATCH: i64 = 500;

#[derive(Debug, Error)]
pub enum ShippingError {
    #[error("audit shipping I/O failed")]
    Io(#[from] std::io::Error),
    #[error("audit shipping storage failed")]
    Store(#[from] ringfence_store::StoreError),
    #[error("the syslog CA file {0} holds no certificate")]
    Ca(String),
    #[error("invalid syslog host name `{0}`")]
    Host(String),
    #[error("the TLS configuration for syslog is invalid")]
    Tls(#[from] rustls::Error),
}

#[derive(Debug, Clone)]
pub struct SyslogTarget {
    pub host: String,
    pub port: u16,
    /// PEM certificates to trust for the collector; the platform's roots are not used.
    pub ca: PathBuf,
}

pub enum Sink {
    JsonLines { path: PathBuf },
    Syslog { target: SyslogTarget, connector: TlsConnector, stream: Option<Box<TlsStream<TcpStream>>> },
}

impl Sink {
    pub fn json_lines(path: PathBuf) -> Self {
        Sink::JsonLines { path }
    }

    pub fn syslog(target: SyslogTarget) -> Result<Self, ShippingError> {
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(&target.ca)
            .map_err(|_| ShippingError::Ca(target.ca.display().to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ShippingError::Ca(target.ca.display().to_string()))?;
        if certs.is_empty() {
            return Err(ShippingError::Ca(target.ca.display().to_string()));
        }
        for cert in certs {
            roots.add(cert)?;
        }
        let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Ok(Sink::Syslog { target, connector: TlsConnector::from(Arc::new(config)), stream: None })
    }

    /// The name this sink's position is kept under.
    fn name(&self) -> String {
        match self {
            Sink::JsonLines { path } => format!("jsonl:{}", path.display()),
            Sink::Syslog { target, .. } => format!("syslog:{}:{}", target.host, target.port),
        }
    }

    async fn send(
        &mut self,
        firm: &str,
        entries: &[(StoredAuditEntry, [u8; 32])],
    ) -> Result<(), ShippingError> {
        match self {
            Sink::JsonLines { path } => {
                let mut lines = Vec::new();
                for (entry, hash) in entries {
                    serde_json::to_writer(&mut lines, &line(firm, entry, hash))
                        .map_err(std::io::Error::other)?;
                    lines.push(b'\n');
                }
                let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(&*path).await?;
                file.write_all(&lines).await?;
                file.sync_data().await?;
            }
            Sink::Syslog { target, connector, stream } => {
                let mut frames = Vec::new();
                for (entry, hash) in entries {
                    let message = syslog_message(firm, entry, hash);
                    frames.extend_from_slice(format!("{} {message}", message.len()).as_bytes());
                }
                if stream.is_none() {
                    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
                    let name = ServerName::try_from(target.host.clone())
                        .map_err(|_| ShippingError::Host(target.host.clone()))?;
                    *stream = Some(Box::new(connector.connect(name, tcp).await?));
                }
                if let Some(open) = stream.as_mut() {
                    let sent = async {
                        open.write_all(&frames).await?;
                        open.flush().await
                    }
                    .await;
                    if let Err(err) = sent {
                        // Reconnect next round; the position did not advance.
                        *stream = None;
                        return Err(err.into());
                    }
                }
            }
        }
        Ok(())
    }
}

fn line(firm: &str, entry: &StoredAuditEntry, hash: &[u8; 32]) -> serde_json::Value {
    json!({ "firm": firm, "hash": STANDARD.encode(hash), "entry": entry })
}

/// Escapes an RFC 5424 structured-data parameter value.
fn sd_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]")
}

/// An RFC 5424 message: facility 13 (log audit), severity notice for refusals and
/// informational otherwise; the entry's key fields as structured data, the whole entry as
/// JSON in the message.
fn syslog_message(firm: &str, entry: &StoredAuditEntry, hash: &[u8; 32]) -> String {
    let severity = if entry.outcome == "success" { 6 } else { 5 };
    let priority = 13 * 8 + severity;
    let timestamp = entry.at.format(&Rfc3339).unwrap_or_else(|_| "-".to_owned());
    let host = hostname();
    let data = format!(
        "[audit@32473 firm=\"{}\" seq=\"{}\" action=\"{}\" outcome=\"{}\" actor=\"{}\"]",
        sd_escape(firm),
        entry.seq,
        sd_escape(&entry.action),
        sd_escape(&entry.outcome),
        sd_escape(entry.actor_email.as_deref().unwrap_or(&entry.actor_kind)),
    );
    format!("<{priority}>1 {timestamp} {host} ringfence - audit {data} {}", line(firm, entry, hash))
}

/// This machine's name, as syslog messages and job leases give it.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_graphic()).take(255).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// One round: every firm's new entries to every sink. Returns how many entries were sent.
pub async fn ship_once(storage: &Storage, sinks: &mut [Sink]) -> Result<u64, ShippingError> {
    let mut sent = 0;
    for firm in storage.list_firms().await? {
        sent += ship_firm(storage, firm.id, sinks).await?;
    }
    Ok(sent)
}

/// Sends one firm's entries the sinks have not had yet; none for a firm shredded already.
pub async fn ship_firm(storage: &Storage, firm: FirmId, sinks: &mut [Sink]) -> Result<u64, ShippingError> {
    if sinks.is_empty() {
        return Ok(0);
    }
    let store = match storage.firm(firm).await {
        Err(StoreError::UnknownFirmId) => return Ok(0),
        opened => opened?,
    };
    let mut sent = 0;
    for sink in sinks.iter_mut() {
        let name = sink.name();
        loop {
            let mut tx = store.begin(&Principal::System(SystemTask::AuditShipping)).await?;
            let from = audit::shipped(&mut tx, &name).await?;
            let entries = audit::after(&mut tx, from, BATCH).await?;
            tx.commit().await?;
            let Some((last, _)) = entries.last() else { break };
            let last = last.seq;
            sink.send(&firm.to_string(), &entries).await?;
            let mut tx = store.begin(&Principal::System(SystemTask::AuditShipping)).await?;
            audit::mark_shipped(&mut tx, &name, last).await?;
            tx.commit().await?;
            sent += entries.len() as u64;
            if (entries.len() as i64) < BATCH {
                break;
            }
        }
    }
    Ok(sent)
}
