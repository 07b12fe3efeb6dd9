//! A real ACME CA for the tests: Let's Encrypt's test server, pebble, as a child process
//! on loopback ports of its own, stopped when the handle is dropped. It validates
//! challenges for real, by connecting to the name's address on the port it is given.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};

use crate::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

/// Where Debian's `pebble` package installs it; `RINGFENCE_TEST_PEBBLE` names another.
pub const PEBBLE_VAR: &str = "RINGFENCE_TEST_PEBBLE";
const PEBBLE_PATH: &str = "/usr/bin/pebble";

pub struct Pebble {
    child: Child,
    dir: TempDir,
    /// The ACME directory URL.
    pub directory: String,
    /// The root that pebble's own HTTPS certificate chains to: the `--acme-ca` to give.
    pub ca: PathBuf,
    management: SocketAddr,
}

impl Pebble {
    /// Starts pebble, validating tls-alpn-01 challenges on `tls_port` and issuing
    /// certificates valid for `validity_seconds` (pebble's default: 5 years). `None`, with
    /// a note, outside CI when pebble is not installed; under `CI=true` that fails.
    pub fn start(tls_port: u16, validity_seconds: Option<u64>) -> Option<Self> {
        let program = std::env::var_os(PEBBLE_VAR).map_or_else(|| PathBuf::from(PEBBLE_PATH), PathBuf::from);
        if !program.is_file() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} is missing under CI=true: the ACME tests may not be skipped (apt-get install pebble)",
                program.display()
            );
            eprintln!("note: {} is not installed; skipping an ACME test", program.display());
            return None;
        }
        let dir = tempfile::tempdir().expect("pebble's directory");
        let ca = write_https_certificate(dir.path());
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let management = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut settings = serde_json::json!({
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": free_port(),
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(seconds) = validity_seconds {
            settings["certificateValidityPeriod"] = seconds.into();
        }
        let config = dir.path().join("pebble-config.json");
        std::fs::write(&config, serde_json::json!({ "pebble": settings }).to_string()).expect("write config");
        let log = File::create(dir.path().join("pebble.log")).expect("pebble's log");
        let child = Command::new(&program)
            .arg("-config")
            .arg(&config)
            // Validate at once, on every order (no reused authorizations), and never make
            // the client retry a nonce: the tests prove challenges, not retry loops.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start pebble");
        let pebble = Self { child, dir, directory: format!("https://{listen}/dir"), ca, management };
        for address in [listen, management] {
            pebble.wait_for(address);
        }
        Some(pebble)
    }

    fn wait_for(&self, address: SocketAddr) {
        for _ in 0..200 {
            if TcpStream::connect(address).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pebble did not listen on {address}; its log:\n{}", self.log());
    }

    /// The root that pebble's issued certificates chain to, as PEM.
    pub async fn issuing_root(&self) -> String {
        let client = crate::https_client(&self.ca, None);
        let url = format!("https://{}/roots/0", self.management);
        let response = client.get(url).send().await.expect("pebble's management endpoint");
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.expect("root PEM")
    }

    /// What pebble printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and, signed by it, pebble's certificate for 127.0.0.1; returns the CA's path.
fn write_https_certificate(dir: &Path) -> PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Ringfence test ACME CA");
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("pebble's certificate parameters");
    let key = rcgen::KeyPair::generate().expect("pebble's key");
    let cert = params.signed_by(&key, &issuer).expect("pebble's certificate");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write pebble's certificate");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write pebble's key");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_cert.pem()).expect("write the CA");
    ca
}
