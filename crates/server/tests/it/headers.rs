use ringfence_server::app;
use ringfence_testkit::{TestEnv, both_backends};

use super::*;

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .expect("ASCII header")
}

fn assert_hardened(response: &Response) {
    let hsts = header(response, "strict-transport-security");
    let max_age: u64 = hsts
        .split(';')
        .find_map(|part| part.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .expect("HSTS max-age");
    assert!(max_age >= 31_536_000, "{hsts}");
    assert!(hsts.contains("includeSubDomains"), "{hsts}");
    let csp = header(response, "content-security-policy");
    for directive in ["default-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]
    {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("'nonce-"), "{csp}");
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
    assert_eq!(header(response, "cross-origin-opener-policy"), "same-origin");
    assert_eq!(header(response, "cache-control"), "no-store");
    assert!(uuid::Uuid::parse_str(header(response, "x-request-id")).is_ok());
}

both_backends!(every_response_carries_the_security_headers, |env: TestEnv| async move {
    let state = state(&env, false).await;
    for request in [
        get("/healthz"),
        get("/readyz"),
        get("/no/such/route"),
        Request::delete("/healthz").body(Body::empty()).unwrap(),
    ] {
        let response = send(app(state.clone()), request).await;
        assert_hardened(&response);
        assert!(!header(&response, "strict-transport-security").contains("preload"));
    }
});

both_backends!(each_response_gets_a_fresh_nonce_and_request_id, |env: TestEnv| async move {
    let state = state(&env, false).await;
    let first = send(app(state.clone()), get("/healthz")).await;
    let second = send(app(state), get("/healthz")).await;
    assert_ne!(header(&first, "content-security-policy"), header(&second, "content-security-policy"));
    assert_ne!(header(&first, "x-request-id"), header(&second, "x-request-id"));
});

both_backends!(hsts_preload_is_opt_in, |env: TestEnv| async move {
    let response = send(app(state(&env, true).await), get("/healthz")).await;
    assert!(header(&response, "strict-transport-security").ends_with("; preload"));
});
