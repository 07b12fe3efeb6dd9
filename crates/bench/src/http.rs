//! HTTPS clients that trust only the server's own self-signed certificate, and signing in
//! the way an API client does: password, then a TOTP code computed here.

use std::path::Path;
use std::time::Duration;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_crypto::otp::TotpSecret;
use serde_json::{Value, json};

use crate::{BenchResult, fail};

pub const PASSWORD: &str = "correct horse battery staple for the bench";

/// Selects rustls's `ring` provider, as the server does. Call once before any client.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One client is one connection (HTTP/2 when the server offers it, as it does).
pub fn client(cert: &Path) -> BenchResult<reqwest::Client> {
    client_from(cert, None)
}

/// [`client`], connecting from `local` (an address of the loopback range): people who
/// sign in at once come from addresses of their own, each with its own sign-in throttle.
pub fn client_from(cert: &Path, local: Option<std::net::IpAddr>) -> BenchResult<reqwest::Client> {
    let pem = std::fs::read(cert)?;
    let certificate = reqwest::Certificate::from_pem(&pem)?;
    Ok(reqwest::Client::builder()
        .tls_certs_only([certificate])
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .local_address(local)
        .timeout(Duration::from_secs(900))
        .build()?)
}

pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> BenchResult<Value> {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(fail(format!("POST {url}: {status} {text}")));
    }
    Ok(response.json().await?)
}

/// The current TOTP code of a secret, as an authenticator app would show it.
pub fn totp_code(secret: &[u8; 20]) -> BenchResult<String> {
    let secret = TotpSecret::from_bytes(secret).ok_or_else(|| fail("bad TOTP secret"))?;
    let unix = u64::try_from(SystemClock.now().unix_timestamp()).unwrap_or(0);
    Ok(secret.code_at(unix)?)
}

/// Signs in with password and TOTP over the real API; returns the bearer token.
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    totp: &[u8; 20],
) -> BenchResult<String> {
    let login = post_json(
        client,
        &format!("{base}/api/v1/auth/login"),
        None,
        &json!({ "email": email, "password": PASSWORD }),
    )
    .await?;
    let challenge = login["challenge_id"].as_str().ok_or_else(|| fail("login answered no challenge"))?;
    let verified = post_json(
        client,
        &format!("{base}/api/v1/auth/verify"),
        None,
        &json!({ "challenge_id": challenge, "factor": "totp", "code": totp_code(totp)? }),
    )
    .await?;
    verified["token"].as_str().map(str::to_owned).ok_or_else(|| fail("verify answered no token"))
}
