//! The README's first-run path, against the real binary over HTTPS: create a firm, accept
//! the printed invitation, sign in with the code from the outbox, then with TOTP.

use ringfence_core::clock::Clock;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};

use super::*;

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn latest_code(env: &TestEnv) -> String {
    let mail = ringfence_testkit::outbox(env.data_dir()).pop().expect("a mail in the outbox");
    let line = mail.lines().find(|l| l.starts_with("Your Ringfence sign-in code is ")).expect("code line");
    line.rsplit(' ').next().unwrap().trim().to_owned()
}

both_backends!(a_newcomer_creates_a_firm_accepts_the_invitation_and_signs_in, |env: TestEnv| async move {
    let created = create_firm(&env, "newcomer", "first@newcomer.example", &[]);
    assert!(created.status.success(), "{}", stderr(&created));
    let printed = stdout(&created);
    let invitation =
        printed.lines().find_map(|l| l.trim().split("/invite#").nth(1)).expect("invitation link").to_owned();

    let server = Server::start(&env, &[]);
    let client = server.client();
    let (status, body) = post(
        &client,
        server.url("/api/v1/auth/accept-invite"),
        None,
        json!({ "token": invitation, "password": "lighthouse keeper at dawn" }),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    let credentials = json!({ "email": "first@newcomer.example", "password": "lighthouse keeper at dawn" });
    let (status, login) = post(&client, server.url("/api/v1/auth/login"), None, credentials.clone()).await;
    assert_eq!(status, 200, "{login}");
    let verify =
        json!({ "challenge_id": login["challenge_id"], "factor": "email", "code": latest_code(&env) });
    let (status, session) = post(&client, server.url("/api/v1/auth/verify"), None, verify).await;
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    let me = client.get(server.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["firm"]["slug"], "newcomer");

    let password = json!({ "current_password": "lighthouse keeper at dawn" });
    let (status, enrol) = post(&client, server.url("/api/v1/me/totp"), Some(&token), password).await;
    assert_eq!(status, 200, "{enrol}");
    let uri = enrol["otpauth_uri"].as_str().unwrap();
    let secret = ringfence_crypto::otp::TotpSecret::from_base32(enrol["secret"].as_str().unwrap())
        .expect("base32 secret");
    assert!(uri.contains("secret="), "{uri}");
    let now = || ringfence_core::clock::SystemClock.now().unix_timestamp() as u64;
    let (status, _) = post(
        &client,
        server.url("/api/v1/me/totp/confirm"),
        Some(&token),
        json!({ "code": secret.code_at(now()).unwrap() }),
    )
    .await;
    assert_eq!(status, 204);

    // The confirming code's step is used; sign in with the next one.
    let (_, login) = post(&client, server.url("/api/v1/auth/login"), None, credentials).await;
    assert_eq!(login["factors"], json!(["totp"]), "an admin with TOTP no longer gets emailed codes");
    let next_step = (now() / 30 + 1) * 30;
    let verify = json!({ "challenge_id": login["challenge_id"], "factor": "totp", "code": secret.code_at(next_step).unwrap() });
    let (status, session) = post(&client, server.url("/api/v1/auth/verify"), None, verify).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(server.terminate().code(), Some(0));
});
