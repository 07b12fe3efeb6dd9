use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::authenticator::SoftAuthenticator;
use super::sign_in_harness::*;

const ORIGIN: &str = "https://ringfence.test";
const PASSWORD: &str = "a long shared test passphrase";
const EMAIL: &str = "pat@firm.example";

/// Adds a passkey for the user behind `token`: the new passkey's id.
async fn register(h: &Harness, token: &str, key: &mut SoftAuthenticator, name: &str) -> Reply {
    let started = h
        .call(
            "POST",
            "/api/v1/me/passkeys/options",
            Some(token),
            Some(json!({ "current_password": PASSWORD })),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let credential = key.register(&started.body["options"]);
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "name": name, "credential": credential });
    h.call("POST", "/api/v1/me/passkeys", Some(token), Some(body)).await
}

/// A passwordless sign-in answered by `key`.
async fn passwordless(h: &Harness, key: &mut SoftAuthenticator) -> Reply {
    let started = h.call("POST", "/api/v1/auth/passkey/start", None, None).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let credential = key.sign_in(&started.body["options"]).expect("any passkey may answer");
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    h.call("POST", "/api/v1/auth/passkey/finish", None, Some(body)).await
}

async fn actions(h: &Harness, admin: &str) -> Vec<String> {
    let reply = h.call("GET", "/api/v1/audit?limit=500", Some(admin), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

both_backends!(a_passkey_is_added_with_the_password_and_listed_and_removed, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = h.signed_in_user(&admin, EMAIL, &["attorney"]).await;
    let me = h.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(me.body["passkey_enrolled"], false);

    // The session alone is not enough to add a way in.
    let without = h.call("POST", "/api/v1/me/passkeys/options", Some(&token), Some(json!({}))).await;
    assert_eq!(without.status, 400, "{}", without.body);
    let wrong = json!({ "current_password": "not the password at all" });
    let wrong = h.call("POST", "/api/v1/me/passkeys/options", Some(&token), Some(wrong)).await;
    assert_eq!(
        (wrong.status, wrong.body["error"]["message"].as_str()),
        (400, Some("current_password: wrong password"))
    );

    let started = h
        .call(
            "POST",
            "/api/v1/me/passkeys/options",
            Some(&token),
            Some(json!({ "current_password": PASSWORD })),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let options = &started.body["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "ringfence.test");
    assert_eq!(options["user"]["name"], EMAIL);
    assert_eq!(options["authenticatorSelection"]["residentKey"], "preferred");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");

    let mut key = SoftAuthenticator::new(ORIGIN);
    let credential = key.register(&started.body["options"]);
    let finish = json!({ "ceremony_id": started.body["ceremony_id"], "name": "Work laptop", "credential": credential });
    let added = h.call("POST", "/api/v1/me/passkeys", Some(&token), Some(finish.clone())).await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["name"], "Work laptop");
    assert!(h.latest_mail(EMAIL).contains("A passkey named \"Work laptop\" was added"));
    // A registration works once.
    let again = h.call("POST", "/api/v1/me/passkeys", Some(&token), Some(finish)).await;
    assert_eq!(again.status, 400, "{}", again.body);
    // The same authenticator cannot be registered twice.
    let twice = register(&h, &token, &mut key, "Again").await;
    assert_eq!((twice.status, twice.code()), (409, "passkey_exists"), "{}", twice.body);
    // An answer for another site is refused.
    let mut phished = SoftAuthenticator::new("https://ringfence.test.evil.example");
    let refused = register(&h, &token, &mut phished, "Phished").await;
    assert_eq!((refused.status, refused.code()), (401, "passkey_refused"), "{}", refused.body);
    let bad_name = register(&h, &token, &mut SoftAuthenticator::new(ORIGIN), &"x".repeat(61)).await;
    assert_eq!(bad_name.status, 400, "{}", bad_name.body);

    let listed = h.call("GET", "/api/v1/me/passkeys", Some(&token), None).await;
    let items = listed.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", listed.body);
    assert_eq!((items[0]["name"].as_str(), &items[0]["last_used_at"]), (Some("Work laptop"), &Value::Null));
    let me = h.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(me.body["passkey_enrolled"], true);

    // Another user can neither see nor remove it.
    let other = h.signed_in_user(&admin, "other@firm.example", &["attorney"]).await;
    let id = items[0]["id"].as_str().unwrap();
    let theirs = h.call("DELETE", &format!("/api/v1/me/passkeys/{id}"), Some(&other), None).await;
    assert_eq!(theirs.status, 404);
    let removed = h.call("DELETE", &format!("/api/v1/me/passkeys/{id}"), Some(&token), None).await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let gone = h.call("DELETE", &format!("/api/v1/me/passkeys/{id}"), Some(&token), None).await;
    assert_eq!(gone.status, 404);
    let after = passwordless(&h, &mut key).await;
    assert_eq!((after.status, after.code()), (401, "passkey_refused"), "{}", after.body);

    let actions = actions(&h, &admin).await;
    for action in ["user.passkey.added", "user.passkey.removed", "user.password.check_failed"] {
        assert!(actions.iter().any(|a| a == action), "{action} missing from {actions:?}");
    }
});

both_backends!(a_passkey_signs_in_as_the_second_factor_and_alone, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = h.signed_in_user(&admin, EMAIL, &["attorney"]).await;
    let mut key = SoftAuthenticator::new(ORIGIN);
    assert_eq!(register(&h, &token, &mut key, "Phone").await.status, 201);

    // Second factor: the passkey is offered first, and only this user's passkeys are allowed.
    let login = h.login(EMAIL, PASSWORD).await;
    assert_eq!(login.body["factors"], json!(["passkey", "email"]), "{}", login.body);
    let challenge = login.body["challenge_id"].as_str().unwrap();
    let options = h
        .call("POST", "/api/v1/auth/passkey-options", None, Some(json!({ "challenge_id": challenge })))
        .await;
    assert_eq!(options.status, 200, "{}", options.body);
    let allowed = options.body["options"]["publicKey"]["allowCredentials"].as_array().unwrap().clone();
    assert_eq!(allowed.len(), 1);
    assert!(SoftAuthenticator::new(ORIGIN).sign_in(&options.body["options"]).is_none());
    // A missing answer is a bad request; another key's answer is a refused attempt.
    let missing = json!({ "challenge_id": challenge, "factor": "passkey" });
    assert_eq!(h.call("POST", "/api/v1/auth/verify", None, Some(missing)).await.status, 400);
    let assertion = key.sign_in(&options.body["options"]).unwrap();
    let mut forged = assertion.clone();
    forged["response"]["signature"] = json!("MEUCIQ");
    let forged = json!({ "challenge_id": challenge, "factor": "passkey", "credential": forged });
    let refused = h.call("POST", "/api/v1/auth/verify", None, Some(forged)).await;
    assert_eq!((refused.status, refused.code()), (401, "passkey_refused"), "{}", refused.body);
    let answer = json!({ "challenge_id": challenge, "factor": "passkey", "credential": assertion });
    let verified = h.call("POST", "/api/v1/auth/verify", None, Some(answer.clone())).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    let session = verified.body["token"].as_str().unwrap();
    assert_eq!(h.call("GET", "/api/v1/me", Some(session), None).await.status, 200);
    // The completed challenge cannot be answered again.
    let replayed = h.call("POST", "/api/v1/auth/verify", None, Some(answer)).await;
    assert_eq!(replayed.status, 401);

    // Alone: the browser picks the passkey and it names its user.
    let alone = passwordless(&h, &mut key).await;
    assert_eq!(alone.status, 200, "{}", alone.body);
    assert_eq!(alone.body["user"]["email"], EMAIL);
    let session = alone.body["token"].as_str().unwrap();
    assert_eq!(h.call("GET", "/api/v1/me", Some(session), None).await.status, 200);
    let listed = h.call("GET", "/api/v1/me/passkeys", Some(session), None).await;
    assert!(listed.body["items"][0]["last_used_at"].is_string(), "{}", listed.body);

    // A ceremony works once, and not after five minutes.
    let started = h.call("POST", "/api/v1/auth/passkey/start", None, None).await;
    let credential = key.sign_in(&started.body["options"]).unwrap();
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    h.clock.advance(Duration::minutes(6));
    let late = h.call("POST", "/api/v1/auth/passkey/finish", None, Some(body)).await;
    assert_eq!((late.status, late.code()), (401, "challenge_expired"), "{}", late.body);
    let started = h.call("POST", "/api/v1/auth/passkey/start", None, None).await;
    let credential = key.sign_in(&started.body["options"]).unwrap();
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    assert_eq!(h.call("POST", "/api/v1/auth/passkey/finish", None, Some(body.clone())).await.status, 200);
    assert_eq!(h.call("POST", "/api/v1/auth/passkey/finish", None, Some(body)).await.status, 401);

    // A cloned authenticator shows itself by a signature counter that went backwards.
    key.set_counter(0);
    let cloned = passwordless(&h, &mut key).await;
    assert_eq!((cloned.status, cloned.code()), (401, "passkey_refused"), "{}", cloned.body);
    // An unknown passkey says nothing about who it claims to be.
    let stranger = passwordless(&h, &mut SoftAuthenticator::new(ORIGIN)).await;
    assert_eq!((stranger.status, stranger.code()), (401, "passkey_refused"), "{}", stranger.body);

    let actions = actions(&h, &admin).await;
    assert!(actions.iter().any(|a| a == "auth.passkey.failed"), "{actions:?}");
    assert!(actions.iter().filter(|a| *a == "auth.login.succeeded").count() >= 4, "{actions:?}");
});

both_backends!(a_disabled_user_or_a_firm_without_passkeys_cannot_use_one, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = h.signed_in_user(&admin, EMAIL, &["attorney"]).await;
    let mut key = SoftAuthenticator::new(ORIGIN);
    assert_eq!(register(&h, &token, &mut key, "Phone").await.status, 201);

    let email_only = json!({ "allowed_factors": ["email"], "strong_factor_roles": [] });
    let set = h.call("PUT", "/api/v1/firm/sign-in-policy", Some(&admin), Some(email_only)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let login = h.login(EMAIL, PASSWORD).await;
    assert_eq!(login.body["factors"], json!(["email"]));
    let barred = passwordless(&h, &mut key).await;
    assert_eq!(barred.status, 403, "{}", barred.body);

    let everything = json!({ "allowed_factors": ["email", "totp", "passkey"], "strong_factor_roles": [] });
    assert_eq!(
        h.call("PUT", "/api/v1/firm/sign-in-policy", Some(&admin), Some(everything)).await.status,
        200
    );
    assert_eq!(passwordless(&h, &mut key).await.status, 200);
    let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
    let id =
        users.body["items"].as_array().unwrap().iter().find(|u| u["email"] == EMAIL).unwrap()["id"].clone();
    let id = id.as_str().unwrap();
    let disabled = h
        .call("PATCH", &format!("/api/v1/users/{id}"), Some(&admin), Some(json!({ "disabled": true })))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let refused = passwordless(&h, &mut key).await;
    assert_eq!((refused.status, refused.code()), (401, "passkey_refused"), "{}", refused.body);
});

both_backends!(an_admin_may_not_remove_the_only_factor_the_firm_allows, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let started = h
        .call(
            "POST",
            "/api/v1/me/passkeys/options",
            Some(&admin),
            Some(json!({ "current_password": ADMIN_PASSWORD })),
        )
        .await;
    let mut key = SoftAuthenticator::new(ORIGIN);
    let credential = key.register(&started.body["options"]);
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    let added = h.call("POST", "/api/v1/me/passkeys", Some(&admin), Some(body)).await;
    assert_eq!((added.status, added.body["name"].as_str()), (201, Some("Passkey")), "{}", added.body);
    // A passkey is a strong factor: an administrator with one no longer gets emailed codes.
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.body["factors"], json!(["passkey"]));

    let passkeys_only = json!({ "allowed_factors": ["passkey"], "strong_factor_roles": ["admin"] });
    let set = h.call("PUT", "/api/v1/firm/sign-in-policy", Some(&admin), Some(passkeys_only)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let id = added.body["id"].as_str().unwrap();
    let removed = h.call("DELETE", &format!("/api/v1/me/passkeys/{id}"), Some(&admin), None).await;
    assert_eq!((removed.status, removed.code()), (409, "would_lock_out"), "{}", removed.body);
    assert_eq!(passwordless(&h, &mut key).await.status, 200);
});

both_backends!(malformed_session_and_passkey_ids_are_not_found, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for path in ["/api/v1/me/sessions/not-a-session", "/api/v1/me/passkeys/12345"] {
        let reply = h.call("DELETE", path, Some(&admin), None).await;
        assert_eq!((reply.status, reply.code()), (404, "not_found"), "{path}: {}", reply.body);
    }
    // Still signed in: a malformed id ended nothing.
    assert_eq!(h.call("GET", "/api/v1/me", Some(&admin), None).await.status, 200);
});
