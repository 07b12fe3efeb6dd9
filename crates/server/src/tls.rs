//! TLS: rustls only, TLS 1.2 and 1.3 (or 1.3 alone). Without certificate files, a
//! self-signed certificate for localhost is made on first start and kept in the data dir.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMin {
    Tls12,
    Tls13,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read or write {path}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} holds no usable PEM {what}")]
    Pem { path: String, what: &'static str },
    #[error("could not make a self-signed certificate")]
    Generate(#[from] rcgen::Error),
    #[error("the certificate and key do not make a valid TLS configuration")]
    Config(#[from] rustls::Error),
}

/// Selects rustls's `ring` provider for the whole process. Call once at start-up, before
/// any TLS configuration is built.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The self-signed pair in `DATA/tls/`, made on first use and reused afterwards.
pub fn self_signed(data_dir: &Path) -> Result<TlsFiles, TlsError> {
    let dir = data_dir.join("tls");
    let files = TlsFiles { cert: dir.join("localhost-cert.pem"), key: dir.join("localhost-key.pem") };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| TlsError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let generated = rcgen::generate_simple_self_signed(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    write_private(&files.key, generated.signing_key.serialize_pem().as_bytes()).map_err(io(&files.key))?;
    std::fs::write(&files.cert, generated.cert.pem()).map_err(io(&files.cert))?;
    Ok(files)
}

/// Writes a file only its owner may read. Whatever was at `path` is removed first and the
/// file made anew (`O_EXCL`), so neither a file left with a wider mode nor a symbolic link
/// planted there decides where the key goes or who may read it.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// A server configuration for the given files, offering HTTP/2 and HTTP/1.1.
pub fn server_config(files: &TlsFiles, min: TlsMin) -> Result<Arc<ServerConfig>, TlsError> {
    let (certs, key) = read_pair(files)?;
    let mut config = builder(min).with_no_client_auth().with_single_cert(certs, key)?;
    config.alpn_protocols = http_alpn();
    Ok(Arc::new(config))
}

/// The certificate chain and private key of the given files.
pub fn read_pair(
    files: &TlsFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let pem_error = |path: &Path, what| TlsError::Pem { path: path.display().to_string(), what };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|_| pem_error(&files.cert, "certificate"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| pem_error(&files.cert, "certificate"))?;
    if certs.is_empty() {
        return Err(pem_error(&files.cert, "certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|_| pem_error(&files.key, "private key"))?;
    Ok((certs, key))
}

pub(crate) fn builder(min: TlsMin) -> rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier> {
    let versions: &[&rustls::SupportedProtocolVersion] = match min {
        TlsMin::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsMin::Tls13 => &[&rustls::version::TLS13],
    };
    ServerConfig::builder_with_protocol_versions(versions)
}

/// HTTP/2 first, then HTTP/1.1.
pub(crate) fn http_alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_private_file_is_made_anew_whatever_was_left_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");

        let elsewhere = dir.path().join("elsewhere.pem");
        std::fs::write(&elsewhere, b"untouched").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        write_private(&path, b"secret").unwrap();
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink(), "the link is replaced");
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"untouched", "nothing is written through it");
    }
}
