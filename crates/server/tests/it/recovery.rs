//! Account recovery: a forgotten password reset by a mailed link that still asks for a
//! second factor the account holds, or by a link an administrator sends to an account that
//! holds none; the same answer for any address; everything audited and mailed.

use ringfence_core::clock::Clock;
use ringfence_crypto::otp::TotpSecret;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::authenticator::SoftAuthenticator;
use super::pages::{browser_sign_in, encode, hidden, page};
use super::run_due_jobs;
use super::sign_in_harness::*;

const PASSWORD: &str = "a long shared test passphrase";
const NEW_PASSWORD: &str = "otters juggle quietly beneath copper lanterns";
const PAT: &str = "pat@firm.example";

async fn ask(h: &Harness, email: &str) -> Reply {
    h.call("POST", "/api/v1/auth/password-reset", None, Some(json!({ "email": email }))).await
}

/// The reset link's token in the newest mail to `email`, if it holds one.
fn reset_token(h: &Harness, email: &str) -> Option<String> {
    let mail = h.latest_mail(email);
    let line = mail.lines().find(|l| l.contains("/reset#"))?;
    Some(line.split("/reset#").nth(1)?.trim().to_owned())
}

async fn complete(h: &Harness, body: Value) -> Reply {
    h.call("POST", "/api/v1/auth/password-reset/complete", None, Some(body)).await
}

/// Sets up an authenticator app for the user behind `token`: its secret.
async fn enrol_totp(h: &Harness, token: &str, password: &str) -> TotpSecret {
    let enrol =
        h.call("POST", "/api/v1/me/totp", Some(token), Some(json!({ "current_password": password }))).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let secret = TotpSecret::from_base32(enrol.body["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
    let confirmed =
        h.call("POST", "/api/v1/me/totp/confirm", Some(token), Some(json!({ "code": code }))).await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.body);
    secret
}

/// A code of `secret` a step after the last one used.
fn next_code(h: &Harness, secret: &TotpSecret) -> String {
    h.clock.advance(Duration::seconds(30));
    secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap()
}

/// An administrator sends Pat a link: its token.
async fn send_reset(h: &Harness, admin: &str, pat_id: &str) -> String {
    let sent = h.call("POST", &format!("/api/v1/users/{pat_id}/password-reset"), Some(admin), None).await;
    assert_eq!(sent.status, 204, "{}", sent.body);
    reset_token(h, PAT).unwrap()
}

/// Whether the link `token` is refused as no longer valid.
async fn link_dead(h: &Harness, token: &str) -> bool {
    let reply =
        h.call("POST", "/api/v1/auth/password-reset/factors", None, Some(json!({ "token": token }))).await;
    reply.status == 400 && field_of(&reply) == Some("token")
}

/// The field a 400 names, as the API's message begins with it (`token: …`).
fn field_of(reply: &Reply) -> Option<&str> {
    reply.body["error"]["message"].as_str()?.split_once(':').map(|(field, _)| field)
}

async fn passkey_options(h: &Harness, token: &str) -> Value {
    let body = json!({ "token": token });
    let reply = h.call("POST", "/api/v1/auth/password-reset/passkey-options", None, Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["options"].clone()
}

/// Asks for a link for Pat and runs the job that mails it: its token.
async fn fresh_link(h: &Harness) -> String {
    assert_eq!(ask(h, PAT).await.status, 202);
    run_due_jobs(&h.state).await;
    reset_token(h, PAT).unwrap()
}

async fn actions(h: &Harness, admin: &str) -> Vec<String> {
    let reply = h.call("GET", "/api/v1/audit?limit=500", Some(admin), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

/// Signs in with password and emailed code, or says why not.
async fn signs_in(h: &Harness, email: &str, password: &str) -> bool {
    let login = h.login(email, password).await;
    if login.status != 200 {
        return false;
    }
    let code = h.latest_code(email);
    h.verify(login.body["challenge_id"].as_str().unwrap(), "email", &code).await.status == 200
}

both_backends!(
    a_forgotten_password_is_reset_with_the_mailed_link_and_an_authenticator_code,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
        let secret = enrol_totp(&h, &pat, PASSWORD).await;

        assert_eq!(ask(&h, PAT).await.status, 202);
        run_due_jobs(&h.state).await;
        let mail = h.latest_mail(PAT);
        assert!(mail.contains("Dear Pat") && mail.contains("The Firm"), "{mail}");
        assert!(mail.contains("authenticator app"), "the mail says what the link asks for: {mail}");
        let token = reset_token(&h, PAT).expect("a reset link");
        let factors = h
            .call("POST", "/api/v1/auth/password-reset/factors", None, Some(json!({ "token": token })))
            .await;
        assert_eq!((factors.status, &factors.body["factors"]), (200, &json!(["totp"])), "{}", factors.body);

        // The mailbox alone is not enough; a weak password is refused before any factor is tried.
        let bare = complete(&h, json!({ "token": token, "password": NEW_PASSWORD })).await;
        assert_eq!((bare.status, field_of(&bare)), (400, Some("factor")), "{}", bare.body);
        let weak = complete(
            &h,
            json!({ "token": token, "password": "password1234", "factor": "totp", "code": "000000" }),
        )
        .await;
        assert_eq!((weak.status, field_of(&weak)), (400, Some("password")), "{}", weak.body);
        let wrong = complete(
            &h,
            json!({ "token": token, "password": NEW_PASSWORD, "factor": "totp", "code": "000000" }),
        )
        .await;
        assert_eq!((wrong.status, wrong.code()), (401, "invalid_code"), "{}", wrong.body);
        assert!(
            wrong.body.to_string().contains("4 attempt(s) left"),
            "the weak password spent none: {}",
            wrong.body
        );
        let emailed =
            complete(&h, json!({ "token": token, "password": NEW_PASSWORD, "factor": "email", "code": "1" }))
                .await;
        assert_eq!(emailed.status, 400, "an emailed code proves only the mailbox again: {}", emailed.body);

        let code = next_code(&h, &secret);
        let done =
            complete(&h, json!({ "token": token, "password": NEW_PASSWORD, "factor": "totp", "code": code }))
                .await;
        assert_eq!(done.status, 204, "{}", done.body);
        assert_eq!(h.call("GET", "/api/v1/me", Some(&pat), None).await.status, 401, "every session ends");
        assert!(h.latest_mail(PAT).contains("was just reset"), "the owner is told");
        assert_eq!(h.login(PAT, PASSWORD).await.status, 401, "the old password is gone");
        let login = h.login(PAT, NEW_PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.body);

        // Used once only.
        let code = next_code(&h, &secret);
        let again =
            complete(&h, json!({ "token": token, "password": NEW_PASSWORD, "factor": "totp", "code": code }))
                .await;
        assert_eq!((again.status, field_of(&again)), (400, Some("token")), "{}", again.body);

        let log = actions(&h, &admin).await;
        for action in [
            "auth.recovery.requested",
            "auth.recovery.link_sent",
            "auth.recovery.failed",
            "user.password.reset",
            "auth.recovery.refused",
        ] {
            assert!(log.iter().any(|a| a == action), "{action} in {log:?}");
        }
    }
);

both_backends!(
    any_address_gets_the_same_answer_and_only_an_account_with_a_strong_factor_a_link,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        h.add_user(&admin, PAT, &["attorney"], PASSWORD).await;
        h.add_user(&admin, "gone@firm.example", &["paralegal"], PASSWORD).await;
        let gone = h.user_id(&admin, "gone@firm.example").await;
        let disabled = h
            .call("PATCH", &format!("/api/v1/users/{gone}"), Some(&admin), Some(json!({ "disabled": true })))
            .await;
        assert_eq!(disabled.status, 200, "{}", disabled.body);

        let unknown = ask(&h, "nobody@firm.example").await;
        let known = ask(&h, PAT).await;
        let off = ask(&h, "gone@firm.example").await;
        assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
        assert_eq!((off.status, &off.body), (known.status, &known.body));
        let before = h.outbox().len();
        run_due_jobs(&h.state).await;
        let mails = h.outbox();
        assert_eq!(mails.len(), before + 1, "only the active account is mailed");
        // Pat holds only emailed codes: told whom to ask, and given no link.
        let mail = h.latest_mail(PAT);
        assert!(mail.contains("Ask Ada Admin"), "{mail}");
        assert_eq!(reset_token(&h, PAT), None, "{mail}");

        assert_eq!(ask(&h, "a\u{0}b@firm.example").await.status, 400);
        for junk in ["", "not an address", &"x".repeat(400)] {
            let refused = ask(&h, junk).await;
            assert_eq!((refused.status, field_of(&refused)), (400, Some("email")), "{junk:?}");
        }
        let malformed =
            h.call("POST", "/api/v1/auth/password-reset", None, Some(json!({ "email": ["x"] }))).await;
        assert_eq!(malformed.status, 400, "{}", malformed.body);

        // Asks are counted per address, known or not: nobody's mailbox is flooded.
        for email in [PAT, "nobody@firm.example"] {
            let mut statuses = Vec::new();
            for _ in 0..4 {
                statuses.push(ask(&h, email).await.status);
            }
            assert_eq!(statuses.last(), Some(&429), "{email}: {statuses:?}");
        }
        let throttled = ask(&h, PAT).await;
        assert_eq!(throttled.code(), "too_many_resets");
        assert!(throttled.headers.contains_key("retry-after"));
        run_due_jobs(&h.state).await;
        let log = actions(&h, &admin).await;
        assert!(log.iter().any(|a| a == "auth.recovery.referred"), "{log:?}");
    }
);

both_backends!(a_passkey_completes_a_reset, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
    let mut key = SoftAuthenticator::new("https://ringfence.test");
    let started = h
        .call(
            "POST",
            "/api/v1/me/passkeys/options",
            Some(&pat),
            Some(json!({ "current_password": PASSWORD })),
        )
        .await;
    let credential = key.register(&started.body["options"]);
    let body =
        json!({ "ceremony_id": started.body["ceremony_id"], "name": "laptop", "credential": credential });
    assert_eq!(h.call("POST", "/api/v1/me/passkeys", Some(&pat), Some(body)).await.status, 201);

    ask(&h, PAT).await;
    run_due_jobs(&h.state).await;
    let token = reset_token(&h, PAT).expect("a reset link");
    let factors =
        h.call("POST", "/api/v1/auth/password-reset/factors", None, Some(json!({ "token": token }))).await;
    assert_eq!(factors.body["factors"], json!(["passkey"]));
    // An answer to no challenge offered is refused, and counted.
    let stale = key.sign_in(&passkey_options(&h, &token).await).unwrap();
    let fresh_options = passkey_options(&h, &token).await;
    let refused = complete(
        &h,
        json!({ "token": token, "password": NEW_PASSWORD, "factor": "passkey", "credential": stale }),
    )
    .await;
    assert_eq!(refused.status, 401, "an answer to a replaced challenge: {}", refused.body);
    let credential = key.sign_in(&fresh_options).unwrap();
    let done = complete(
        &h,
        json!({ "token": token, "password": NEW_PASSWORD, "factor": "passkey", "credential": credential }),
    )
    .await;
    assert_eq!(done.status, 204, "{}", done.body);
    assert!(signs_in(&h, PAT, NEW_PASSWORD).await);
});

both_backends!(
    an_administrator_sends_a_link_to_an_account_with_only_emailed_codes,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
        let pat_id = h.user_id(&admin, PAT).await;
        let send = |id: String, token: String| {
            let h = &h;
            async move { h.call("POST", &format!("/api/v1/users/{id}/password-reset"), Some(&token), None).await }
        };

        // Only an administrator; not for oneself, an invitee or an unknown user.
        assert_eq!(send(pat_id.clone(), pat.clone()).await.status, 403);
        let admin_id = h.user_id(&admin, ADMIN_EMAIL).await;
        let own = send(admin_id, admin.clone()).await;
        assert_eq!((own.status, own.code()), (409, "own_account"), "{}", own.body);
        let invited = h
            .call(
                "POST",
                "/api/v1/users",
                Some(&admin),
                Some(json!({ "email": "new@firm.example", "name": "New", "roles": ["paralegal"] })),
            )
            .await;
        let invitee = send(invited.body["id"].as_str().unwrap().to_owned(), admin.clone()).await;
        assert_eq!((invitee.status, invitee.code()), (409, "not_active"), "{}", invitee.body);
        assert_eq!(send(uuid::Uuid::new_v4().to_string(), admin.clone()).await.status, 404);
        assert_eq!(send("not-a-uuid".to_owned(), admin.clone()).await.status, 404);

        assert_eq!(send(pat_id.clone(), admin.clone()).await.status, 204);
        let mail = h.latest_mail(PAT);
        assert!(mail.contains("Ada Admin, an administrator of The Firm"), "{mail}");
        let first = reset_token(&h, PAT).unwrap();
        // A second link ends the first.
        assert_eq!(send(pat_id.clone(), admin.clone()).await.status, 204);
        let token = reset_token(&h, PAT).unwrap();
        let old = complete(&h, json!({ "token": first, "password": NEW_PASSWORD })).await;
        assert_eq!(old.status, 400, "{}", old.body);
        let factors = h
            .call("POST", "/api/v1/auth/password-reset/factors", None, Some(json!({ "token": token })))
            .await;
        assert_eq!(factors.body["factors"], json!([]), "{}", factors.body);
        assert_eq!(complete(&h, json!({ "token": token, "password": NEW_PASSWORD })).await.status, 204);
        assert_eq!(h.call("GET", "/api/v1/me", Some(&pat), None).await.status, 401);
        assert!(signs_in(&h, PAT, NEW_PASSWORD).await);

        // An administrator's link to an account with an authenticator app still asks for it.
        let pat = h.sign_in(PAT, NEW_PASSWORD).await;
        let secret = enrol_totp(&h, &pat, NEW_PASSWORD).await;
        assert_eq!(send(pat_id.clone(), admin.clone()).await.status, 204);
        let token = reset_token(&h, PAT).unwrap();
        assert!(h.latest_mail(PAT).contains("asks for a code from your authenticator app"));
        let bare = complete(&h, json!({ "token": token, "password": PASSWORD })).await;
        assert_eq!(bare.status, 400, "{}", bare.body);
        let code = next_code(&h, &secret);
        let done =
            complete(&h, json!({ "token": token, "password": PASSWORD, "factor": "totp", "code": code }))
                .await;
        assert_eq!(done.status, 204, "{}", done.body);
        let log = actions(&h, &admin).await;
        assert_eq!(log.iter().filter(|a| *a == "user.password.reset_sent").count(), 3, "{log:?}");
    }
);

both_backends!(a_link_dies_after_five_wrong_factors_an_hour_or_a_newer_request, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
    let secret = enrol_totp(&h, &pat, PASSWORD).await;
    let with_code = |token: &str, code: &str| json!({ "token": token, "password": NEW_PASSWORD, "factor": "totp", "code": code });

    let token = fresh_link(&h).await;
    // A code or passkey answer missing spends no attempt.
    let bare = json!({ "token": token, "password": NEW_PASSWORD, "factor": "totp" });
    assert_eq!(complete(&h, bare).await.status, 400);
    for _ in 0..4 {
        assert_eq!(complete(&h, with_code(&token, "000000")).await.status, 401);
    }
    let code = next_code(&h, &secret);
    assert_eq!(complete(&h, with_code(&token, &code)).await.status, 204, "the fifth attempt may be right");

    let token = fresh_link(&h).await;
    for _ in 0..5 {
        // Past the account's free failures each wait doubles: the test waits them out.
        h.clock.advance(Duration::seconds(20));
        assert_eq!(complete(&h, with_code(&token, "000000")).await.status, 401);
    }
    let code = next_code(&h, &secret);
    let spent = complete(&h, with_code(&token, &code)).await;
    assert_eq!((spent.status, field_of(&spent)), (400, Some("token")), "{}", spent.body);

    // Ten wrong factors in a day, over any number of links, hold the account's links back.
    h.clock.advance(Duration::minutes(61));
    let token = fresh_link(&h).await;
    h.clock.advance(Duration::seconds(20));
    assert_eq!(complete(&h, with_code(&token, "000000")).await.status, 401);
    let code = next_code(&h, &secret);
    let held = complete(&h, with_code(&token, &code)).await;
    assert_eq!((held.status, held.code()), (429, "throttled"), "{}", held.body);
    h.clock.advance(Duration::hours(24));

    let token = fresh_link(&h).await;
    h.clock.advance(Duration::minutes(61));
    let code = next_code(&h, &secret);
    assert_eq!(complete(&h, with_code(&token, &code)).await.status, 400, "an hour is all a link lasts");
    h.clock.advance(Duration::minutes(61));

    let older = fresh_link(&h).await;
    let newer = fresh_link(&h).await;
    assert_ne!(older, newer);
    let code = next_code(&h, &secret);
    assert_eq!(complete(&h, with_code(&older, &code)).await.status, 400, "a newer link ends the older");
    assert_eq!(complete(&h, with_code(&newer, &code)).await.status, 204);

    for junk in ["", "x", "0.0", "zz.zz", &"9".repeat(5000)] {
        let refused = complete(&h, with_code(junk, &code)).await;
        assert_eq!((refused.status, field_of(&refused)), (400, Some("token")), "{junk:?}");
    }
    // Control characters are refused with the body, before anything is looked up.
    assert_eq!(complete(&h, with_code("\u{0}", &code)).await.status, 400);
});

both_backends!(the_pages_ask_for_a_link_and_set_the_password_with_it, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
    let secret = enrol_totp(&h, &pat, PASSWORD).await;

    let sign_in = page(&h, "GET", "/sign-in", None, None).await;
    assert!(sign_in.html.contains("href=\"/forgot-password\""), "{}", sign_in.html);
    let form = page(&h, "GET", "/forgot-password", None, None).await;
    assert_eq!(form.status, 200);
    let bad = page(&h, "POST", "/forgot-password", None, Some(encode(&[("email", "not an address")]))).await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("role=\"alert\""), "{}", bad.html);
    let sent = page(&h, "POST", "/forgot-password", None, Some(encode(&[("email", PAT)]))).await;
    assert_eq!(sent.status, 200, "{}", sent.html);
    assert!(sent.html.contains("If pat@firm.example is the address of an account here"), "{}", sent.html);
    assert!(sent.html.contains("ringfence-data/outbox"), "the outbox is named: {}", sent.html);
    run_due_jobs(&h.state).await;
    let token = reset_token(&h, PAT).unwrap();

    let reset = page(&h, "GET", "/reset", None, None).await;
    assert_eq!(reset.status, 200);
    assert!(reset.html.contains("data-from-fragment"), "{}", reset.html);
    let no_code =
        page(&h, "POST", "/reset", None, Some(encode(&[("token", &token), ("password", NEW_PASSWORD)])))
            .await;
    assert_eq!(no_code.status, 400);
    assert!(no_code.html.contains("this link needs a code from your authenticator app"), "{}", no_code.html);
    let code = next_code(&h, &secret);
    let fields = [("token", token.as_str()), ("password", NEW_PASSWORD), ("code", code.as_str())];
    let done = page(&h, "POST", "/reset", None, Some(encode(&fields))).await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.html.contains("Your new password is set"), "{}", done.html);

    // An administrator sends a link from the users page.
    let cookie = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let users = page(&h, "GET", "/admin/users", Some(&cookie), None).await;
    assert!(
        users.html.contains("Send a password reset link<span class=\"visually-hidden\"> to Pat"),
        "{}",
        users.html
    );
    assert!(
        !users.html.contains("Send a password reset link<span class=\"visually-hidden\"> to Ada"),
        "not to oneself"
    );
    let csrf = hidden(&users.html, "_csrf");
    let pat_id = h.user_id(&admin, PAT).await;
    let sent = page(
        &h,
        "POST",
        &format!("/admin/users/{pat_id}"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf), ("change", "password-reset")])),
    )
    .await;
    assert_eq!(sent.status, 303, "{}", sent.html);
    let shown = page(&h, "GET", sent.headers["location"].to_str().unwrap(), Some(&cookie), None).await;
    assert!(shown.html.contains("A link to set a new password is on its way to Pat"), "{}", shown.html);
});

both_backends!(one_source_asking_about_many_addresses_is_held_back, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    for n in 0..10 {
        assert_eq!(ask(&h, &format!("someone{n}@elsewhere.example")).await.status, 202);
    }
    let held = ask(&h, "someone-else@elsewhere.example").await;
    assert_eq!((held.status, held.code()), (429, "too_many_resets"), "{}", held.body);
    assert!(held.body.to_string().contains("from this address"), "{}", held.body);
    h.clock.advance(Duration::seconds(2));
    assert_eq!(ask(&h, "someone-else@elsewhere.example").await.status, 202);
    let ran = run_due_jobs(&h.state).await;
    assert_eq!(ran.len(), 11, "each ask is a job of its own, which finds nobody: {ran:?}");
    assert!(h.outbox().is_empty(), "nobody was mailed");
});

both_backends!(
    a_link_ends_when_the_account_is_disabled_its_factors_reset_or_its_password_changed,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
        let pat_id = h.user_id(&admin, PAT).await;
        enrol_totp(&h, &pat, PASSWORD).await;
        // Sent while Pat had an authenticator; the reset of it must not make the link need none.
        let token = send_reset(&h, &admin, &pat_id).await;
        let reset =
            h.call("DELETE", &format!("/api/v1/users/{pat_id}/second-factor"), Some(&admin), None).await;
        assert_eq!(reset.status, 204, "{}", reset.body);
        assert!(link_dead(&h, &token).await);
        assert_eq!(complete(&h, json!({ "token": token, "password": NEW_PASSWORD })).await.status, 400);

        // Disabled, then enabled again: the link sent before stays dead.
        let token = send_reset(&h, &admin, &pat_id).await;
        for disabled in [true, false] {
            let changed = h
                .call(
                    "PATCH",
                    &format!("/api/v1/users/{pat_id}"),
                    Some(&admin),
                    Some(json!({ "disabled": disabled })),
                )
                .await;
            assert_eq!(changed.status, 200, "{}", changed.body);
        }
        assert!(link_dead(&h, &token).await);

        // Pat changes the password: a link sent before is no longer needed.
        let token = send_reset(&h, &admin, &pat_id).await;
        let pat = h.sign_in(PAT, PASSWORD).await;
        let changed = h
            .call(
                "POST",
                "/api/v1/me/password",
                Some(&pat),
                Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
            )
            .await;
        assert_eq!(changed.status, 204, "{}", changed.body);
        assert!(link_dead(&h, &token).await);
    }
);
