use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;
use ringfence_server::access::RouteTable;
use ringfence_server::forwarded::TrustedProxies;
use ringfence_server::serve::{Bound, ServeOptions};
use ringfence_server::tls::{self, TlsMin};
use ringfence_server::{app, with_common_layers};
use ringfence_testkit::{TestEnv, both_backends, https_client};
use tokio::sync::oneshot;

use super::*;

pub(crate) struct Running {
    pub(crate) https: SocketAddr,
    http: SocketAddr,
    pub(crate) cert: PathBuf,
    pub(crate) stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(crate) fn start(env: &TestEnv, router: axum::Router, min: TlsMin) -> Running {
    start_bound(env, router, min, bind())
}

fn bind() -> Bound {
    Bound::bind("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:0".parse().unwrap())).expect("bind")
}

/// Serves `router`, also over plain HTTP to `proxies`: the running server and that address.
pub(crate) fn start_for_proxies(
    env: &TestEnv,
    router: axum::Router,
    proxies: TrustedProxies,
) -> (Running, SocketAddr) {
    let bound = bind().with_proxy_http("127.0.0.1:0".parse().unwrap(), proxies).expect("bind");
    let proxy_http = bound.proxy_http_addr().unwrap().expect("proxy listener");
    (start_bound(env, router, TlsMin::Tls12, bound), proxy_http)
}

fn start_bound(env: &TestEnv, router: axum::Router, min: TlsMin, bound: Bound) -> Running {
    tls::install_crypto_provider();
    let files = tls::self_signed(env.data_dir()).expect("self-signed certificate");
    let config = tls::server_config(&files, min).expect("TLS config");
    let https = bound.https_addr().unwrap();
    let http = bound.http_addr().unwrap().expect("http listener");
    let options = ServeOptions {
        public_url: format!("https://localhost:{}", https.port()),
        tls: config,
        drain: Duration::from_secs(5),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(bound.run(router, options, async move {
        let _ = stopped.await;
    }));
    Running { https, http, cert: files.cert, stop, served }
}

/// A ClientHello that offers at most TLS 1.1, written out byte by byte (no TLS 1.1 client
/// exists in this tree). It offers suites and extensions the server does support, so the
/// only thing wrong with it is the version.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1, and no supported_versions extension
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x06, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x13]); // ECDHE suites
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let extensions: &[u8] = &[
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d, // supported_groups: x25519
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, // signature_algorithms
    ];
    body.extend_from_slice(&[0x00, extensions.len() as u8]);
    body.extend_from_slice(extensions);
    let mut handshake = vec![0x01, 0x00, (body.len() >> 8) as u8, body.len() as u8];
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x02, (handshake.len() >> 8) as u8, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

both_backends!(tls_1_1_is_refused, |env: TestEnv| async move {
    let running = start(&env, app(state(&env, false).await), TlsMin::Tls12);
    let addr = running.https;
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(&tls11_client_hello()).unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        reply
    })
    .await
    .unwrap();
    // An alert record (21), fatal (2), protocol_version (70): no handshake happens.
    assert!(reply.len() >= 7, "reply: {reply:?}");
    assert_eq!(reply[0], 21, "not an alert: {reply:?}");
    assert_eq!(&reply[5..7], &[2, 70], "not a protocol_version alert: {reply:?}");
});

both_backends!(tls_1_2_and_1_3_are_accepted_by_default, |env: TestEnv| async move {
    let running = start(&env, app(state(&env, false).await), TlsMin::Tls12);
    let url = format!("https://127.0.0.1:{}/healthz", running.https.port());
    for max in [reqwest::tls::Version::TLS_1_2, reqwest::tls::Version::TLS_1_3] {
        let response = https_client(&running.cert, Some(max)).get(&url).send().await.expect("handshake");
        assert_eq!(response.status(), StatusCode::OK);
    }
});

both_backends!(tls_min_1_3_refuses_1_2, |env: TestEnv| async move {
    let running = start(&env, app(state(&env, false).await), TlsMin::Tls13);
    let url = format!("https://127.0.0.1:{}/healthz", running.https.port());
    let refused = https_client(&running.cert, Some(reqwest::tls::Version::TLS_1_2)).get(&url).send().await;
    assert!(refused.is_err(), "a TLS 1.2 client got through");
    let accepted = https_client(&running.cert, None).get(&url).send().await.expect("TLS 1.3 handshake");
    assert_eq!(accepted.status(), StatusCode::OK);
});

both_backends!(plain_http_only_redirects_to_the_public_url, |env: TestEnv| async move {
    let running = start(&env, app(state(&env, false).await), TlsMin::Tls12);
    let addr = running.http;
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /api/v1/matters?limit=5 HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 308"), "{reply}");
    let expected = format!("location: https://localhost:{}/api/v1/matters?limit=5", running.https.port());
    assert!(reply.to_lowercase().contains(&expected), "{reply}");
    assert!(!reply.contains("attacker.example"), "the Host header must not steer the redirect: {reply}");
});

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(400)).await;
    "finished"
}

both_backends!(shutdown_drains_in_flight_requests, |env: TestEnv| async move {
    let router = with_common_layers(
        RouteTable::new().get("/slow", ringfence_server::access::PUBLIC, slow),
        state(&env, false).await,
    );
    let running = start(&env, router, TlsMin::Tls12);
    let client = https_client(&running.cert, None);
    let url = format!("https://127.0.0.1:{}/slow", running.https.port());
    let in_flight = tokio::spawn(async move { client.get(&url).send().await?.text().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.stop.send(()).unwrap();
    assert_eq!(in_flight.await.unwrap().expect("the in-flight request completes"), "finished");
    running.served.await.unwrap().expect("the server stops cleanly");
    assert!(TcpStream::connect(running.https).is_err(), "no longer accepting");
});
