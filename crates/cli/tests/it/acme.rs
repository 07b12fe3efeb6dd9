//! Certificates from a real ACME CA: pebble validates the tls-alpn-01 challenge by
//! connecting to `localhost` on the server's HTTPS port, and issues under its own root.
//! The stored certificate lives in the data dir, so SQLite alone stands for both backends.

use std::net::SocketAddr;
use std::time::Duration;

use ringfence_testkit::free_port;
use ringfence_testkit::pebble::Pebble;
use ringfence_testkit::{Backend, TestEnv};

use super::*;

/// A server on `port` taking its certificate for `localhost` from `pebble`.
fn start_with_acme(env: &TestEnv, port: u16, pebble: &Pebble) -> Server {
    let public_url = format!("https://localhost:{port}");
    let acme = [
        "--public-url",
        public_url.as_str(),
        "--acme-directory",
        pebble.directory.as_str(),
        "--acme-ca",
        pebble.ca.to_str().unwrap(),
        "--acme-email",
        "it@firm.example",
    ];
    Server::start_on(env, &format!("127.0.0.1:{port}"), &acme)
}

/// The leaf certificate `localhost` serves, when it chains to `root` (pebble's); `None`
/// while the server still serves anything else (the self-signed fallback).
async fn served_leaf(port: u16, root: &str) -> Option<Vec<u8>> {
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(root.as_bytes()).unwrap()])
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .tls_info(true)
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let response = client.get(format!("https://localhost:{port}/healthz")).send().await.ok()?;
    assert_eq!(response.status(), 200);
    let info = response.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    Some(info.peer_certificate().expect("a peer certificate").to_vec())
}

/// Waits (bounded) until the served certificate chains to `root` and differs from `previous`.
async fn wait_for_new_leaf(port: u16, root: &str, previous: Option<&[u8]>, pebble: &Pebble) -> Vec<u8> {
    for _ in 0..360 {
        if let Some(leaf) = served_leaf(port, root).await
            && previous != Some(leaf.as_slice())
        {
            return leaf;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no new certificate from the ACME server within 3 minutes; pebble's log:\n{}", pebble.log());
}

/// Whether a handshake with `localhost` offering just `protocol` completes, trusting `root`.
fn handshake_completes(port: u16, root: &str, protocol: &[u8]) -> bool {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(root.as_bytes()).unwrap()).unwrap();
    let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![protocol.to_vec()];
    let name = "localhost".try_into().unwrap();
    let mut connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    while connection.is_handshaking() {
        if connection.complete_io(&mut tcp).is_err() {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_certificate_is_obtained_by_answering_the_challenge_and_kept_across_restarts() {
    install_crypto_provider();
    let port = free_port();
    let Some(pebble) = Pebble::start(port, None) else { return };
    let root = pebble.issuing_root().await;
    let env = TestEnv::new(Backend::Sqlite).await.unwrap();

    let first = start_with_acme(&env, port, &pebble);
    let leaf = wait_for_new_leaf(port, &root, None, &pebble).await;
    // Only the tls-alpn-01 challenge is answered (nothing listens on pebble's http-01 port).
    assert!(pebble.log().contains("set VALID by completed challenge"), "validated:\n{}", pebble.log());
    assert!(handshake_completes(port, &root, b"http/1.1"));
    assert!(
        !handshake_completes(port, &root, b"acme-tls/1"),
        "a validation handshake with no challenge in flight gets no certificate"
    );
    let stored = env.data_dir().join("acme").join("localhost.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&stored).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "certificate and key readable by the server's user alone");
    assert_eq!(first.terminate().code(), Some(0));

    let orders = || pebble.log().matches("POST /order-plz").count();
    assert_eq!(orders(), 1);
    let second = start_with_acme(&env, port, &pebble);
    let served = served_leaf(port, &root).await.expect("the stored certificate is served from the start");
    assert_eq!(served, leaf, "the restart serves the stored certificate");
    // Long enough for a renewal the restart might have started to show in pebble's log.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(orders(), 1, "the restart ordered nothing:\n{}", pebble.log());
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_certificate_is_renewed_while_serving_without_a_restart() {
    install_crypto_provider();
    let port = free_port();
    // Renewal falls due when a third of the lifetime is left: 20 s after issue.
    let Some(pebble) = Pebble::start(port, Some(30)) else { return };
    let root = pebble.issuing_root().await;
    let env = TestEnv::new(Backend::Sqlite).await.unwrap();

    let mut server = start_with_acme(&env, port, &pebble);
    let first = wait_for_new_leaf(port, &root, None, &pebble).await;
    let renewed = wait_for_new_leaf(port, &root, Some(&first), &pebble).await;
    assert_ne!(renewed, first);
    assert!(server.still_running(), "renewed by the same process");
}
