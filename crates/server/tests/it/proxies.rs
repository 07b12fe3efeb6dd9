//! Behind reverse proxies: forwarding headers are believed from trusted proxies only, and
//! then the client they name is the one recorded and throttled, not the proxy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use ringfence_core::throttle::SOURCE_IP;
use ringfence_server::app;
use ringfence_server::forwarded::TrustedProxies;
use ringfence_store::ThrottleKey;
use ringfence_testkit::{TestEnv, both_backends, https_client};
use serde_json::{Value, json};

use super::audit::entries;
use super::serving::start_for_proxies;
use super::sign_in_harness::*;
use super::*;

const PROXY: &str = "10.0.0.1:44000";
const AUDITOR: &str = "aud@firm.example";
const AUDITOR_PASSWORD: &str = "audit officers read ledgers";

/// A harness whose server trusts the proxies in 10.0.0.0/8, and whose requests come from `peer`.
async fn behind_proxies(env: TestEnv, peer: &str) -> Harness {
    let mut h = Harness::new(env).await;
    let trusted_proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
    h.state.settings = Arc::new(HttpSettings { trusted_proxies, ..(*h.state.settings).clone() });
    h.ip = peer.parse().unwrap();
    h
}

/// Failed sign-ins counted against `source` (an address, or an IPv6 /64).
async fn failures_from(h: &Harness, source: &str) -> i64 {
    let record = h.state.storage.sign_in_failures(ThrottleKey::SourceIp(source)).await.unwrap();
    record.map_or(0, |record| record.failures)
}

async fn login(h: &Harness, headers: &[(&str, &str)], email: &str, password: &str) -> Reply {
    let body = json!({ "email": email, "password": password });
    h.call_with("POST", "/api/v1/auth/login", None, Some(body), headers).await
}

/// Password and emailed code, each request with `headers`: a session token.
async fn sign_in(h: &Harness, headers: &[(&str, &str)], email: &str, password: &str) -> String {
    let login = login(h, headers, email, password).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let body = json!({
        "challenge_id": login.body["challenge_id"],
        "factor": "email",
        "code": h.latest_code(email),
    });
    let verified = h.call_with("POST", "/api/v1/auth/verify", None, Some(body), headers).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    verified.body["token"].as_str().unwrap().to_owned()
}

/// The address each of the token's sessions was signed in from.
async fn session_addresses(h: &Harness, token: &str) -> Vec<Value> {
    let sessions = h.call("GET", "/api/v1/me/sessions", Some(token), None).await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    sessions.body["items"].as_array().unwrap().iter().map(|s| s["ip"].clone()).collect()
}

/// The addresses the audit log gives `action`, read by an auditor the admin adds.
async fn audited_addresses(h: &Harness, admin: &str, action: &str) -> Vec<Value> {
    h.add_user(admin, AUDITOR, &["auditor"], AUDITOR_PASSWORD).await;
    let auditor = h.sign_in(AUDITOR, AUDITOR_PASSWORD).await;
    let all = entries(h, &auditor, &format!("&action={action}")).await;
    all.iter().filter(|e| e["action"] == action).map(|e| e["ip"].clone()).collect()
}

both_backends!(forwarding_headers_from_an_untrusted_peer_are_ignored, |env: TestEnv| async move {
    let h = behind_proxies(env, "203.0.113.7:50000").await;
    let claims = [("x-forwarded-for", "198.51.100.9"), ("forwarded", "for=198.51.100.9")];
    assert_eq!(login(&h, &claims, ADMIN_EMAIL, "not the password at all").await.status, 401);
    assert_eq!(failures_from(&h, "203.0.113.7").await, 1);
    assert_eq!(failures_from(&h, "198.51.100.9").await, 0);

    let admin = sign_in(&h, &claims, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(session_addresses(&h, &admin).await, [json!("203.0.113.7")]);
    assert_eq!(audited_addresses(&h, &admin, "auth.login.failed").await, [json!("203.0.113.7")]);
});

both_backends!(
    behind_a_trusted_proxy_each_client_is_recorded_and_throttled_on_its_own,
    |env: TestEnv| async move {
        let h = behind_proxies(env, PROXY).await;
        // Client X: what it sent itself comes first; the proxy appended its real address.
        // The Forwarded header X made up (to be counted as the proxy) is not read: the
        // proxies write X-Forwarded-For.
        let x = [("forwarded", "for=unknown"), ("x-forwarded-for", "203.0.113.99, 198.51.100.7")];
        // Client Y, over IPv6 through the same proxy.
        let y = [("x-forwarded-for", "[2001:db8:5::9]:4711")];

        assert_eq!(login(&h, &x, ADMIN_EMAIL, "not the password at all").await.status, 401);
        for i in 1..SOURCE_IP.free_failures {
            let guess = login(&h, &x, &format!("nobody{i}@firm.example"), "not the password at all").await;
            assert_eq!(guess.status, 401, "{}", guess.body);
        }
        let refused = login(&h, &x, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!((refused.status, refused.code()), (429, "throttled"), "{}", refused.body);
        assert_eq!(failures_from(&h, "198.51.100.7").await, SOURCE_IP.free_failures);
        for not_the_client in ["10.0.0.1", "203.0.113.99"] {
            assert_eq!(failures_from(&h, not_the_client).await, 0, "{not_the_client}");
        }

        // Y is not held back by X's failures, nor is the proxy.
        let admin = sign_in(&h, &y, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(session_addresses(&h, &admin).await, [json!("2001:db8:5::9")]);
        assert_eq!(failures_from(&h, "2001:db8:5::/64").await, 0);
        assert_eq!(audited_addresses(&h, &admin, "auth.login.failed").await, [json!("198.51.100.7")]);
    }
);

/// Sends `request` as raw bytes to `addr` and reads whatever comes back until the close.
async fn raw_exchange(addr: SocketAddr, request: &'static [u8]) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        // The server may close before reading: what matters is what it answers.
        let _ = stream.write_all(request);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        reply
    })
    .await
    .unwrap()
}

both_backends!(the_proxy_listener_serves_the_whole_app_to_trusted_proxies, |env: TestEnv| async move {
    let proxies = TrustedProxies::parse("127.0.0.0/8").unwrap();
    let mut state = state(&env, false).await;
    state.settings = Arc::new(HttpSettings { trusted_proxies: proxies.clone(), ..(*state.settings).clone() });
    let (running, proxy_http) = start_for_proxies(&env, app(state.clone()), proxies);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let ready = http.get(format!("http://{proxy_http}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    // Browsers reach this over the proxy's HTTPS: the answer is the HTTPS one.
    let hsts = ready.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.starts_with("max-age=63072000"), "{hsts}");
    let stale = http
        .get(format!("http://{proxy_http}/healthz"))
        .header("cookie", "__Host-ringfence-session=stale")
        .send()
        .await
        .unwrap();
    let cleared = stale.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("; Secure;") && cleared.starts_with("__Host-"), "{cleared}");

    let login = http
        .post(format!("http://{proxy_http}/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({ "email": "nobody@firm.example", "password": "not the password at all" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    let counted = state.storage.sign_in_failures(ThrottleKey::SourceIp("198.51.100.7")).await.unwrap();
    assert_eq!(counted.map(|record| record.failures), Some(1), "counted against the client the proxy named");

    // Control bytes in a header are refused by the HTTP parser, and the listener goes on.
    let hostile = raw_exchange(proxy_http, b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\x00\x01\r\nConnection: close\r\n\r\n").await;
    assert!(hostile.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&hostile));
    assert_eq!(http.get(format!("http://{proxy_http}/healthz")).send().await.unwrap().status(), 200);
    running.stop.send(()).unwrap();
});

both_backends!(the_proxy_listener_closes_connections_from_anyone_else, |env: TestEnv| async move {
    let proxies = TrustedProxies::parse("10.0.0.0/8, fd00::/8").unwrap();
    let mut state = state(&env, false).await;
    state.settings = Arc::new(HttpSettings { trusted_proxies: proxies.clone(), ..(*state.settings).clone() });
    let (running, proxy_http) = start_for_proxies(&env, app(state), proxies);

    let reply =
        raw_exchange(proxy_http, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(reply.is_empty(), "closed unanswered: {}", String::from_utf8_lossy(&reply));
    // The HTTPS listener still answers everyone.
    let url = format!("https://127.0.0.1:{}/healthz", running.https.port());
    assert_eq!(https_client(&running.cert, None).get(&url).send().await.unwrap().status(), 200);
    running.stop.send(()).unwrap();
});
