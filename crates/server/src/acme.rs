//! Certificates from an ACME CA (RFC 8555) for the public host name, renewed while serving.
//!
//! The CA's challenge is tls-alpn-01 (RFC 8737), answered on the HTTPS listener itself: a
//! validation handshake offers only the `acme-tls/1` protocol and gets a throw-away
//! certificate proving control of the key authorization; every other handshake gets the
//! current certificate. So nothing but the HTTPS port has to be reachable, and the
//! plain-HTTP listener keeps doing nothing but redirect.
//!
//! The account key and the certificate with its private key are kept in `DATA/acme/`,
//! readable by the server's user alone (0600), like the self-signed pair in `DATA/tls/`: a
//! restart serves the stored certificate and orders nothing while it is not due.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder,
    OrderStatus, RetryPolicy,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;

use crate::tls::{self, TlsError, TlsFiles, TlsMin};

/// The ALPN protocol of a tls-alpn-01 validation (RFC 8737, section 6.2).
const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// How long the CA may take to validate a challenge and to issue the certificate.
const ORDER_PATIENCE: Duration = Duration::from_secs(120);

/// What the operator configured: the CA and the name to order for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// The CA's directory URL, e.g. Let's Encrypt's.
    pub directory: String,
    /// The host name of the public URL: the certificate's one name.
    pub host: String,
    /// An address the CA may write to about the account (expiry notices, incidents).
    pub contact: Option<String>,
    /// PEM root to trust for the CA's own HTTPS endpoint, instead of the system's roots.
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum AcmeError {
    #[error("cannot read or write {path}")]
    Io { path: String, source: io::Error },
    #[error("{path} holds no usable certificate and key")]
    Stored { path: String },
    #[error("the ACME server's exchange failed")]
    Protocol(#[from] instant_acme::Error),
    #[error("the ACME server offered no tls-alpn-01 challenge for {host}")]
    NoTlsAlpnChallenge { host: String },
    #[error("the authorization for {host} is {status:?}")]
    Authorization { host: String, status: AuthorizationStatus },
    #[error("the order did not become ready: it is {status:?}{problem}")]
    Order { status: OrderStatus, problem: String },
    #[error("the issued certificate is unusable")]
    Certificate(#[from] rustls::Error),
    #[error("could not make the challenge certificate")]
    ChallengeCertificate(#[from] rcgen::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The certificate the HTTPS listener serves, replaceable while it serves, and the answers
/// to tls-alpn-01 validations in flight, by host name.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertResolver {
    fn new(current: CertifiedKey) -> Self {
        Self { current: RwLock::new(Arc::new(current)), challenges: RwLock::new(HashMap::new()) }
    }

    fn replace(&self, certified: CertifiedKey) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
    }

    fn answer(&self, host: &str, certified: CertifiedKey) {
        self.challenges
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.to_owned(), Arc::new(certified));
    }

    fn forget(&self, host: &str) {
        self.challenges.write().unwrap_or_else(PoisonError::into_inner).remove(host);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A validation offers `acme-tls/1` alone (RFC 8737, section 3); it never gets the
        // real certificate, and nobody else gets a challenge certificate.
        let mut offered = hello.alpn().into_iter().flatten();
        if offered.next() == Some(ACME_TLS_ALPN) && offered.next().is_none() {
            let host = hello.server_name()?;
            return self.challenges.read().unwrap_or_else(PoisonError::into_inner).get(host).cloned();
        }
        Some(self.current.read().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

/// A certificate held for the host: when it must be renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub not_after: OffsetDateTime,
    /// When less than a third of its lifetime is left.
    pub renew_at: OffsetDateTime,
}

/// ACME for one host: its stored account and certificate, and the resolver serving it.
pub struct Acme {
    settings: AcmeSettings,
    dir: PathBuf,
    resolver: Arc<CertResolver>,
}

impl Acme {
    /// Serves the stored certificate for the host if there is one (even one that is due,
    /// until its successor arrives), otherwise `fallback` (the self-signed pair).
    pub fn open(settings: AcmeSettings, data_dir: &Path, fallback: &TlsFiles) -> Result<Self, AcmeError> {
        let dir = data_dir.join("acme");
        let stored = read_certificate(&certificate_path(&dir, &settings.host))?;
        let current = match stored {
            Some((certified, _)) => certified,
            None => {
                let (certs, key) = tls::read_pair(fallback)?;
                certified_key(certs, key)?
            }
        };
        Ok(Self { settings, dir, resolver: Arc::new(CertResolver::new(current)) })
    }

    /// The HTTPS listener's configuration: HTTP/2 and HTTP/1.1, and `acme-tls/1` for
    /// validations.
    pub fn server_config(&self, min: TlsMin) -> Arc<ServerConfig> {
        let mut config = tls::builder(min).with_no_client_auth().with_cert_resolver(self.resolver.clone());
        config.alpn_protocols = tls::http_alpn();
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
        Arc::new(config)
    }

    pub fn settings(&self) -> &AcmeSettings {
        &self.settings
    }

    /// The certificate stored for the host, if any.
    pub fn held(&self) -> Result<Option<Held>, AcmeError> {
        Ok(read_certificate(&certificate_path(&self.dir, &self.settings.host))?.map(|(_, held)| held))
    }

    async fn account(&self) -> Result<Account, AcmeError> {
        let path = self.dir.join("account.json");
        let builder = || match &self.settings.ca {
            Some(ca) => Account::builder_with_root(ca),
            None => Account::builder(),
        };
        let stored = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<StoredAccount>(&bytes).ok(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(io_error(&path, source)),
        };
        // An account belongs to one CA: a changed directory means a new account there.
        if let Some(stored) = stored.filter(|stored| stored.directory == self.settings.directory) {
            return Ok(builder()?.from_credentials(stored.credentials).await?);
        }
        let contact = self.settings.contact.as_ref().map(|email| format!("mailto:{email}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        // Configuring a CA's directory is agreeing to its terms of service (README).
        let new_account =
            NewAccount { contact: &contacts, terms_of_service_agreed: true, only_return_existing: false };
        let (account, credentials) =
            builder()?.create(&new_account, self.settings.directory.clone(), None).await?;
        let stored = StoredAccount { directory: self.settings.directory.clone(), credentials };
        let json = serde_json::to_vec(&stored).map_err(|e| io_error(&path, e.into()))?;
        write_private_atomically(&path, &json)?;
        tracing::info!(directory = %self.settings.directory, "ACME account created");
        Ok(account)
    }

    /// Orders a certificate for the host, answering its tls-alpn-01 challenge; returns the
    /// chain and the private key, as PEM.
    async fn order(&self) -> Result<(String, String), AcmeError> {
        let host = &self.settings.host;
        let account = self.account().await?;
        let identifiers = [Identifier::Dns(host.clone())];
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let answering = Answering { resolver: &self.resolver, host };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => return Err(AcmeError::Authorization { host: host.clone(), status }),
            }
            let mut challenge = authorization
                .challenge(ChallengeType::TlsAlpn01)
                .ok_or_else(|| AcmeError::NoTlsAlpnChallenge { host: host.clone() })?;
            self.resolver.answer(host, challenge_certificate(host, challenge.key_authorization().digest())?);
            challenge.set_ready().await?;
        }
        let patience = RetryPolicy::new().timeout(ORDER_PATIENCE);
        let status = order.poll_ready(&patience).await?;
        drop(answering);
        if status != OrderStatus::Ready {
            let problem = order.state().error.as_ref().map(|p| format!(": {p}")).unwrap_or_default();
            return Err(AcmeError::Order { status, problem });
        }
        let key_pem = order.finalize().await?;
        let chain_pem = order.poll_certificate(&patience).await?;
        Ok((chain_pem, key_pem))
    }
}

/// Orders a new certificate for the host when none is stored or the stored one has less
/// than a third of its lifetime left, then serves it at once; returns the certificate now
/// held. A plain function of the stored state, so a scheduler can call it any time, on any
/// server start.
pub async fn renew_if_due(acme: &Acme, now: OffsetDateTime) -> Result<Held, AcmeError> {
    if let Some(held) = acme.held()?
        && now < held.renew_at
    {
        return Ok(held);
    }
    let host = &acme.settings.host;
    tracing::info!(%host, directory = %acme.settings.directory, "ordering a certificate");
    let (chain_pem, key_pem) = acme.order().await?;
    let path = certificate_path(&acme.dir, host);
    // Key and chain in one file, replaced in one rename: never a key beside another's chain.
    let pem = format!("{key_pem}{chain_pem}");
    let (certified, held) = parse_certificate(&path, pem.as_bytes())?;
    write_private_atomically(&path, pem.as_bytes())?;
    acme.resolver.replace(certified);
    tracing::info!(%host, not_after = %held.not_after, renew_at = %held.renew_at, "now serving a new certificate");
    Ok(held)
}

/// Takes the challenge certificate down however the order ends.
struct Answering<'a> {
    resolver: &'a CertResolver,
    host: &'a str,
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.resolver.forget(self.host);
    }
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

fn certificate_path(dir: &Path, host: &str) -> PathBuf {
    dir.join(format!("{host}.pem"))
}

/// RFC 8737, section 3: a self-signed certificate for the host carrying the digest of the
/// key authorization in a critical acmeIdentifier extension.
fn challenge_certificate(host: &str, digest: impl AsRef<[u8]>) -> Result<CertifiedKey, AcmeError> {
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest.as_ref())];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // Not `certified_key`: its check parses the certificate with webpki, which rejects
    // the critical acmeIdentifier extension the challenge needs.
    let signing_key = rustls::crypto::ring::default_provider().key_provider.load_private_key(key)?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing_key))
}

fn certified_key(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, AcmeError> {
    let provider = rustls::crypto::ring::default_provider();
    Ok(CertifiedKey::from_der(certs, key, &provider)?)
}

fn read_certificate(path: &Path) -> Result<Option<(CertifiedKey, Held)>, AcmeError> {
    match std::fs::read(path) {
        Ok(pem) => parse_certificate(path, &pem).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(io_error(path, source)),
    }
}

fn parse_certificate(path: &Path, pem: &[u8]) -> Result<(CertifiedKey, Held), AcmeError> {
    let unusable = || AcmeError::Stored { path: path.display().to_string() };
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|_| unusable())?;
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|_| unusable())?;
    let leaf = certs.first().ok_or_else(unusable)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|_| unusable())?;
    let validity = parsed.validity();
    let (not_before, not_after) = (validity.not_before.to_datetime(), validity.not_after.to_datetime());
    let held = Held { not_after, renew_at: not_after - (not_after - not_before) / 3 };
    Ok((certified_key(certs, key)?, held))
}

fn write_private_atomically(path: &Path, contents: &[u8]) -> Result<(), AcmeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
    let partial = path.with_extension("partial");
    tls::write_private(&partial, contents).map_err(|source| io_error(&partial, source))?;
    std::fs::rename(&partial, path).map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, source: io::Error) -> AcmeError {
    AcmeError::Io { path: path.display().to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_ca_is_an_error_and_the_fallback_stays_served() {
        tls::install_crypto_provider();
        let data = tempfile::tempdir().unwrap();
        let fallback = tls::self_signed(data.path()).unwrap();
        // Port 1 on loopback: nothing listens there.
        let settings = AcmeSettings {
            directory: "https://127.0.0.1:1/directory".to_owned(),
            host: "firm.example".to_owned(),
            contact: None,
            ca: Some(fallback.cert.clone()),
        };
        let acme = Acme::open(settings, data.path(), &fallback).unwrap();
        let served = acme.resolver.current.read().unwrap().cert.clone();
        let error = renew_if_due(&acme, OffsetDateTime::UNIX_EPOCH).await.unwrap_err();
        assert!(matches!(error, AcmeError::Protocol(_)), "{error:?}");
        assert_eq!(acme.resolver.current.read().unwrap().cert, served, "the fallback is still served");
        assert_eq!(acme.held().unwrap(), None, "nothing stored");
        assert_eq!(tls::read_pair(&fallback).unwrap().0, served);
    }
}
