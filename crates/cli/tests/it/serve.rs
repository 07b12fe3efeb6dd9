use ringfence_testkit::{TestEnv, both_backends};

use super::*;

both_backends!(serve_answers_over_https_and_exits_0_on_sigterm, |env: TestEnv| async move {
    let server = Server::start(&env, &[]);
    assert!(server.banner.contains("No firm exists yet"), "{}", server.banner);
    assert!(server.banner.contains("firm create"), "{}", server.banner);
    let outbox = std::path::absolute(env.data_dir().join("outbox")).unwrap();
    assert!(server.banner.contains(&format!("written to {}", outbox.display())), "{}", server.banner);
    assert!(server.banner.contains("--listen 0.0.0.0:"), "how to open it to the office: {}", server.banner);
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

both_backends!(the_first_run_hint_works_as_printed_from_anywhere, |env: TestEnv| async move {
    let server = Server::start(&env, &[]);
    let hint =
        server.banner.lines().find(|l| l.contains(" firm create ")).expect("the hint").trim().to_owned();
    assert!(
        hint.starts_with('/'),
        "the program by its full path, as `cargo run` leaves it off the PATH: {hint}"
    );
    // Run by a shell elsewhere, with nothing of the server's environment.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut shell = std::process::Command::new("sh");
    shell.arg("-c").arg(&hint).current_dir(elsewhere.path()).env_clear().env("PATH", "/usr/bin:/bin");
    for var in ["AWS_ENDPOINT", "AWS_ALLOW_HTTP", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    {
        if let Ok(value) = std::env::var(var) {
            shell.env(var, value);
        }
    }
    let created = run(shell, None);
    assert!(created.status.success(), "{hint}\n{}{}", stdout(&created), stderr(&created));
    // Only its answer: no log lines, and the link's expiry in words.
    assert_eq!(stderr(&created), "", "{}", stderr(&created));
    let answer = stdout(&created);
    assert!(answer.starts_with("Created firm \"Your Firm\" (your-firm)"), "{answer}");
    // (The link's random token on the next line may hold anything, "T0" included.)
    let expiry = answer.lines().find(|l| l.contains("valid until")).unwrap_or_default();
    let timestamp = ["T0", "T1", "T2"].iter().any(|t| expiry.contains(t));
    assert!(expiry.contains(" at ") && expiry.contains("(UTC)") && !timestamp, "{answer}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing made where it ran");
    drop(server);
});
