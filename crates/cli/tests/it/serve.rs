use ringfence_testkit::{TestEnv, both_backends};

use super::*;

both_backends!(serve_answers_over_https_and_exits_0_on_sigterm, |env: TestEnv| async move {
    let server = Server::start(&env, &[]);
    assert!(server.banner.contains("No firm exists yet"), "{}", server.banner);
    assert!(server.banner.contains("firm create"), "{}", server.banner);
    let client = server.client();
    for path in ["/healthz", "/readyz"] {
        let response = client.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("strict-transport-security"));
    }
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM ends the server with exit 0");
});

both_backends!(the_self_signed_certificate_is_kept_across_restarts, |env: TestEnv| async move {
    let first = Server::start(&env, &[]);
    let cert = std::fs::read(&first.cert).expect("certificate written");
    assert_eq!(first.terminate().code(), Some(0));
    let second = Server::start(&env, &[]);
    assert_eq!(std::fs::read(&second.cert).unwrap(), cert, "the same certificate is reused");
    let response =
        second.client().get(second.url("/healthz")).send().await.expect("trusted with the first certificate");
    assert_eq!(response.status(), 200);
});

both_backends!(pem_files_replace_the_self_signed_certificate, |env: TestEnv| async move {
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let mut server =
        Server::start(&env, &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(!env.data_dir().join("tls").exists(), "no self-signed certificate is made");
    server.cert = cert;
    let response =
        server.client().get(server.url("/healthz")).send().await.expect("trusted with the given certificate");
    assert_eq!(response.status(), 200);
});

both_backends!(plain_http_redirects_permanently_to_https, |env: TestEnv| async move {
    let server = Server::start(&env, &[]);
    install_crypto_provider();
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    let response =
        client.get(format!("http://{}/any/path?q=1", server.http)).send().await.expect("plain request");
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://localhost:{}/any/path?q=1", server.https.port()).as_str()
    );
});
