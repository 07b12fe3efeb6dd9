//! The README's first-run path, against the real binary over HTTPS: create a firm, accept
//! the printed invitation, sign in with the code from the outbox, then with TOTP.

use ringfence_core::clock::Clock;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::api::{Api, printed_invitation};
use super::*;

both_backends!(a_newcomer_creates_a_firm_accepts_the_invitation_and_signs_in, |env: TestEnv| async move {
    let created = create_firm(&env, "newcomer", "first@newcomer.example", &[]);
    assert!(created.status.success(), "{}", stderr(&created));
    let invitation = printed_invitation(&stdout(&created));

    let server = Server::start(&env, &[]);
    let anonymous = Api::new(&server);
    let accept = json!({ "token": invitation, "password": "lighthouse keeper at dawn" });
    let (status, body) = anonymous.post("/api/v1/auth/accept-invite", accept).await;
    assert_eq!(status, 204, "{body}");

    let api = Api::sign_in(&server, &env, "first@newcomer.example", "lighthouse keeper at dawn").await;
    let (status, me) = api.get("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["firm"]["slug"], "newcomer");

    let password = json!({ "current_password": "lighthouse keeper at dawn" });
    let (status, enrol) = api.post("/api/v1/me/totp", password).await;
    assert_eq!(status, 200, "{enrol}");
    let uri = enrol["otpauth_uri"].as_str().unwrap();
    let secret = ringfence_crypto::otp::TotpSecret::from_base32(enrol["secret"].as_str().unwrap())
        .expect("base32 secret");
    assert!(uri.contains("secret="), "{uri}");
    let now = || ringfence_core::clock::SystemClock.now().unix_timestamp() as u64;
    let (status, _) =
        api.post("/api/v1/me/totp/confirm", json!({ "code": secret.code_at(now()).unwrap() })).await;
    assert_eq!(status, 204);

    // The confirming code's step is used; sign in with the next one.
    let credentials = json!({ "email": "first@newcomer.example", "password": "lighthouse keeper at dawn" });
    let (_, login) = anonymous.post("/api/v1/auth/login", credentials).await;
    assert_eq!(login["factors"], json!(["totp"]), "an admin with TOTP no longer gets emailed codes");
    let next_step = (now() / 30 + 1) * 30;
    let verify = json!({ "challenge_id": login["challenge_id"], "factor": "totp", "code": secret.code_at(next_step).unwrap() });
    let (status, session) = anonymous.post("/api/v1/auth/verify", verify).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(server.terminate().code(), Some(0));
});
