use std::sync::Arc;

use ringfence_server::audit_shipping::{Sink, SyslogTarget, ship_once};
use ringfence_testkit::{TestEnv, both_backends};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::sign_in_harness::*;

/// A syslog collector over TLS on loopback (RFC 5425 octet-counted frames).
async fn collector(dir: &std::path::Path) -> (u16, std::path::PathBuf, mpsc::UnboundedReceiver<String>) {
    ringfence_server::tls::install_crypto_provider();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let ca = dir.join("collector.pem");
    std::fs::write(&ca, generated.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (frames, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = BufReader::new(acceptor.accept(tcp).await.unwrap());
            let frames = frames.clone();
            tokio::spawn(async move {
                loop {
                    let mut length = Vec::new();
                    if tls.read_until(b' ', &mut length).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let length: usize = std::str::from_utf8(&length).unwrap().trim().parse().unwrap();
                    let mut message = vec![0; length];
                    tls.read_exact(&mut message).await.unwrap();
                    frames.send(String::from_utf8(message).unwrap()).unwrap();
                }
            });
        }
    });
    (port, ca, received)
}

both_backends!(entries_are_shipped_to_syslog_over_tls_and_a_json_lines_file, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (port, ca, mut frames) = collector(h.env.data_dir()).await;
    let jsonl = h.env.data_dir().join("audit.jsonl");
    let target = SyslogTarget { host: "localhost".to_owned(), port, ca };
    let mut sinks = vec![Sink::json_lines(jsonl.clone()), Sink::syslog(target).unwrap()];

    let sent = ship_once(&h.state.storage, &mut sinks).await.unwrap();
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let seqs: Vec<i64> = lines.iter().map(|l| l["entry"]["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "every entry, in order");
    assert_eq!(sent, 2 * seqs.len() as u64);
    assert!(lines.iter().all(|l| l["firm"] == h.firm.to_string() && l["hash"].as_str().is_some()));
    let mut syslog = Vec::new();
    for _ in 0..seqs.len() {
        syslog.push(
            tokio::time::timeout(std::time::Duration::from_secs(10), frames.recv()).await.unwrap().unwrap(),
        );
    }
    assert!(syslog[0].starts_with("<110>1 "), "facility 13, informational: {}", syslog[0]);
    assert!(syslog.iter().any(|m| m.contains("action=\"auth.login.succeeded\"")), "{syslog:?}");

    // Positions are kept: the next round sends only what is new.
    assert_eq!(ship_once(&h.state.storage, &mut sinks).await.unwrap(), 0);
    h.call("POST", "/api/v1/auth/logout", Some(&admin), None).await;
    assert_eq!(ship_once(&h.state.storage, &mut sinks).await.unwrap(), 2);
    let last = std::fs::read_to_string(&jsonl).unwrap().lines().last().unwrap().to_owned();
    assert!(last.contains("auth.logout"), "{last}");
    let message =
        tokio::time::timeout(std::time::Duration::from_secs(10), frames.recv()).await.unwrap().unwrap();
    assert!(message.contains("auth.logout"));
});

both_backends!(an_unreachable_collector_loses_nothing, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let (port, ca, mut frames) = collector(h.env.data_dir()).await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let mut down = vec![
        Sink::syslog(SyslogTarget { host: "localhost".to_owned(), port: closed, ca: ca.clone() }).unwrap(),
    ];
    assert!(ship_once(&h.state.storage, &mut down).await.is_err());
    // The same sink name (host and port) later reachable: here, a collector on the real port
    // receives everything from the first entry, since nothing was marked sent.
    let mut up = vec![Sink::syslog(SyslogTarget { host: "localhost".to_owned(), port, ca }).unwrap()];
    let sent = ship_once(&h.state.storage, &mut up).await.unwrap();
    assert_eq!(sent, 3, "the firm's first three entries");
    let first = frames.recv().await.unwrap();
    assert!(first.contains("seq=\"1\""), "{first}");
});
