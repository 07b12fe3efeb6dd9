use ringfence_core::principal::Principal;
use ringfence_store::firm::users as user_store;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;
use time::Duration;

use super::sign_in_harness::*;
use super::*;

both_backends!(password_then_emailed_code_opens_a_session, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.body["factors"], json!(["email"]));
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();

    assert_eq!(
        h.call("GET", "/api/v1/me", None, None).await.status,
        401,
        "no session before the second factor"
    );
    let code = h.latest_code(ADMIN_EMAIL);
    assert_eq!(code.len(), 6);
    let mail = h.latest_mail(ADMIN_EMAIL);
    assert!(mail.contains("Dear Ada Admin,") && mail.contains("The Firm's Ringfence"), "{mail}");
    let verified = h.verify(&challenge, "email", &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["must_enrol_strong_factor"], true, "admins are asked to enrol TOTP");
    let token = verified.body["token"].as_str().unwrap();

    let me = h.call("GET", "/api/v1/me", Some(token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"]["email"], ADMIN_EMAIL);
    assert_eq!(me.body["firm"]["slug"], "firm");
    assert_eq!(me.body["roles"], json!(["admin"]));

    assert_eq!(h.call("POST", "/api/v1/auth/logout", Some(token), None).await.status, 204);
    assert_eq!(h.call("GET", "/api/v1/me", Some(token), None).await.status, 401, "logged out");
});

both_backends!(an_emailed_code_works_once, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let code = h.latest_code(ADMIN_EMAIL);
    assert_eq!(h.verify(&challenge, "email", &code).await.status, 200);
    let again = h.verify(&challenge, "email", &code).await;
    assert_eq!((again.status, again.code()), (401, "challenge_expired"));
});

both_backends!(an_emailed_code_expires_after_ten_minutes, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let code = h.latest_code(ADMIN_EMAIL);
    h.clock.advance(Duration::minutes(10));
    let late = h.verify(&challenge, "email", &code).await;
    assert_eq!(late.status, 401);
    assert!(matches!(late.code(), "code_expired" | "challenge_expired"), "{}", late.body);
});

both_backends!(a_new_code_voids_the_old_one, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let first = h.latest_code(ADMIN_EMAIL);
    let resent =
        h.call("POST", "/api/v1/auth/resend-code", None, Some(json!({ "challenge_id": challenge }))).await;
    assert_eq!(resent.status, 204, "{}", resent.body);
    let second = h.latest_code(ADMIN_EMAIL);
    if first != second {
        assert_eq!(h.verify(&challenge, "email", &first).await.code(), "invalid_code");
    }
    assert_eq!(h.verify(&challenge, "email", &second).await.status, 200);
});

both_backends!(five_wrong_codes_kill_the_challenge, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let code = h.latest_code(ADMIN_EMAIL);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        h.clock.advance(Duration::seconds(30)); // past the progressive delay
        let reply = h.verify(&challenge, "email", wrong).await;
        assert_eq!(reply.code(), "invalid_code", "{}", reply.body);
        assert!(reply.body["error"]["message"].as_str().unwrap().contains(&format!("{left} attempt")));
    }
    h.clock.advance(Duration::minutes(5));
    let right_but_dead = h.verify(&challenge, "email", &code).await;
    assert_eq!(right_but_dead.code(), "challenge_expired", "{}", right_but_dead.body);
});

both_backends!(parallel_wrong_codes_are_all_counted_and_none_slips_past, |env: TestEnv| async move {
    let h = Arc::new(Harness::new(env).await);
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let code = h.latest_code(ADMIN_EMAIL);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let attempts = (0..50).map(|_| {
        let (h, challenge) = (h.clone(), challenge.clone());
        tokio::spawn(async move { h.verify(&challenge, "email", wrong).await.code().to_owned() })
    });
    let mut codes = Vec::new();
    for attempt in attempts {
        codes.push(attempt.await.unwrap());
    }
    let checked = codes.iter().filter(|c| *c == "invalid_code").count();
    assert!(checked <= 5, "at most five codes were compared: {codes:?}");
    assert!(
        codes.iter().all(|c| matches!(c.as_str(), "invalid_code" | "challenge_expired" | "throttled")),
        "{codes:?}"
    );
    let record = h
        .state
        .storage
        .sign_in_failures(ringfence_store::ThrottleKey::SecondFactor(ADMIN_EMAIL))
        .await
        .unwrap()
        .expect("failures recorded");
    assert_eq!(record.failures as usize, checked, "every compared code counted, before it was compared");
    h.clock.advance(Duration::hours(2));
    assert_eq!(
        h.verify(&challenge, "email", &code).await.code(),
        "challenge_expired",
        "the challenge stays dead"
    );
});

both_backends!(unknown_email_wrong_password_and_disabled_user_answer_alike, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "dan@firm.example", &["paralegal"], "a sturdy passphrase for dan").await;
    let dan = h.call("GET", "/api/v1/users?limit=10", Some(&admin), None).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "dan@firm.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = h
        .call("PATCH", &format!("/api/v1/users/{dan}"), Some(&admin), Some(json!({ "disabled": true })))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);

    let unknown = h.login("nobody@firm.example", ADMIN_PASSWORD).await;
    let wrong = h.login(ADMIN_EMAIL, "not the right password").await;
    let off = h.login("dan@firm.example", "a sturdy passphrase for dan").await;
    for reply in [&unknown, &wrong, &off] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.body, unknown.body);
    }
});

both_backends!(
    repeated_failures_are_throttled_across_restarts_and_an_admin_can_unlock,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        h.add_user(&admin, "eve@firm.example", &["secretary"], "eve's long garden passphrase").await;
        for _ in 0..5 {
            assert_eq!(h.login("eve@firm.example", "wrong wrong wrong").await.status, 401);
        }
        let throttled = h.login("eve@firm.example", "eve's long garden passphrase").await;
        assert_eq!((throttled.status, throttled.code()), (429, "throttled"), "{}", throttled.body);
        let retry_after: i64 = throttled.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry_after >= 1);

        // A new process over the same storage still remembers.
        let restarted = Harness { state: state_with_clock(&h.env, false, h.clock.clone()).await, ..h };
        assert_eq!(restarted.login("eve@firm.example", "eve's long garden passphrase").await.status, 429);
        restarted.clock.advance(Duration::seconds(retry_after));
        assert_eq!(restarted.login("eve@firm.example", "eve's long garden passphrase").await.status, 200);

        // A hundred failures in an hour lock the account until an admin clears it.
        for _ in 0..100 {
            restarted.clock.advance(Duration::seconds(1));
            restarted
                .state
                .storage
                .add_sign_in_failure(
                    ringfence_store::ThrottleKey::Account("eve@firm.example"),
                    &ringfence_core::throttle::ACCOUNT,
                    restarted.clock.now(),
                )
                .await
                .unwrap();
        }
        restarted.clock.advance(Duration::minutes(10));
        assert_eq!(restarted.login("eve@firm.example", "eve's long garden passphrase").await.status, 429);
        let admin = restarted.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let users = restarted.call("GET", "/api/v1/users", Some(&admin), None).await;
        let eve = users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "eve@firm.example")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let shown = restarted.call("GET", &format!("/api/v1/users/{eve}"), Some(&admin), None).await;
        assert!(shown.body["lock"]["failures"].as_i64().unwrap() >= 100, "{}", shown.body);
        assert_eq!(
            restarted.call("DELETE", &format!("/api/v1/users/{eve}/lock"), Some(&admin), None).await.status,
            204
        );
        assert_eq!(restarted.login("eve@firm.example", "eve's long garden passphrase").await.status, 200);
    }
);

both_backends!(sessions_end_when_idle_or_old_and_can_be_revoked, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.clock.advance(Duration::minutes(29));
    assert_eq!(
        h.call("GET", "/api/v1/me", Some(&token), None).await.status,
        200,
        "used within the idle timeout"
    );
    h.clock.advance(Duration::minutes(31));
    assert_eq!(h.call("GET", "/api/v1/me", Some(&token), None).await.status, 401, "idle too long");

    let busy = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..24 {
        h.clock.advance(Duration::minutes(29));
        assert_eq!(h.call("GET", "/api/v1/me", Some(&busy), None).await.status, 200, "kept alive by use");
    }
    h.clock.advance(Duration::minutes(29));
    assert_eq!(h.call("GET", "/api/v1/me", Some(&busy), None).await.status, 401, "past the 12-hour lifetime");

    let first = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let second = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let listed = h.call("GET", "/api/v1/me/sessions", Some(&first), None).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let other = items.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call("DELETE", &format!("/api/v1/me/sessions/{other}"), Some(&first), None).await.status,
        204
    );
    assert_eq!(h.call("GET", "/api/v1/me", Some(&second), None).await.status, 401, "revoked");
    assert_eq!(h.call("DELETE", "/api/v1/me/sessions", Some(&first), None).await.status, 204);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&first), None).await.status, 401, "signed out everywhere");
});

both_backends!(a_password_change_ends_every_other_session, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let here = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let elsewhere = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let weak = h
        .call(
            "POST",
            "/api/v1/me/password",
            Some(&here),
            Some(json!({ "current_password": ADMIN_PASSWORD, "new_password": "password1234" })),
        )
        .await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert!(weak.body["error"]["message"].as_str().unwrap().starts_with("password: too easy to guess"));
    let changed = h
        .call(
            "POST",
            "/api/v1/me/password",
            Some(&here),
            Some(json!({ "current_password": ADMIN_PASSWORD, "new_password": "violet kestrel under the bridge" })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&here), None).await.status, 200);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&elsewhere), None).await.status, 401);
    assert_eq!(h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, 401);
    assert_eq!(h.login(ADMIN_EMAIL, "violet kestrel under the bridge").await.status, 200);
});

both_backends!(totp_enrols_signs_in_and_refuses_a_replayed_code, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let enrol = h
        .call("POST", "/api/v1/me/totp", Some(&token), Some(json!({ "current_password": ADMIN_PASSWORD })))
        .await;
    assert_eq!(enrol.status, 200);
    let uri = enrol.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let secret_b32 = enrol.body["secret"].as_str().unwrap();
    let secret = ringfence_crypto::otp::TotpSecret::from_base32(secret_b32).unwrap();
    let code_now = |h: &Harness| secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();

    let wrong =
        h.call("POST", "/api/v1/me/totp/confirm", Some(&token), Some(json!({ "code": "12345" }))).await;
    assert_eq!(wrong.status, 400);
    let confirmed =
        h.call("POST", "/api/v1/me/totp/confirm", Some(&token), Some(json!({ "code": code_now(&h) }))).await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.body);

    // An admin with TOTP may no longer use emailed codes.
    h.clock.advance(Duration::seconds(30));
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.body["factors"], json!(["totp"]));
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let email_refused = h.verify(&challenge, "email", "123456").await;
    assert_eq!(email_refused.status, 400);
    let code = code_now(&h);
    let verified = h.verify(&challenge, "totp", &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["must_enrol_strong_factor"], false);

    let mails_before = h.outbox().len();
    let again = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let replay = h.verify(again.body["challenge_id"].as_str().unwrap(), "totp", &code).await;
    assert_eq!((replay.status, replay.code()), (401, "code_reused"));
    assert_eq!(h.outbox().len(), mails_before + 1, "the user is told");
    let warning = h.latest_mail(ADMIN_EMAIL);
    assert!(warning.contains("already been used") && warning.contains("Dear Ada Admin,"), "{warning}");
});

both_backends!(legacy_bcrypt_hashes_sign_in_and_are_rehashed, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let legacy = bcrypt::hash("an imported password", 12).unwrap();
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let admin =
        user_store::credentials_by_email(&mut tx, &ringfence_core::user::Email::parse(ADMIN_EMAIL).unwrap())
            .await
            .unwrap()
            .unwrap();
    user_store::set_password_hash(&mut tx, admin.id, &legacy).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(h.login(ADMIN_EMAIL, "an imported password").await.status, 200);
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let after =
        user_store::credentials_by_email(&mut tx, &ringfence_core::user::Email::parse(ADMIN_EMAIL).unwrap())
            .await
            .unwrap()
            .unwrap();
    tx.commit().await.unwrap();
    assert!(after.password_hash.unwrap().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_eq!(h.login(ADMIN_EMAIL, "an imported password").await.status, 200, "still the same password");
});

both_backends!(invitations_set_a_strong_password_once_before_they_expire, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let created = h
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({ "email": "ivy@firm.example", "name": "Ivy", "roles": ["attorney"] })),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["status"], "invited");
    // The mail says who invites whom to which firm, until when on the firm's clock, and
    // is a MIME message whose link is one line.
    let mail = h.latest_mail("ivy@firm.example");
    for said in [
        "Subject: Ada Admin invited you to The Firm on Ringfence",
        "To: Ivy <ivy@firm.example>",
        "MIME-Version: 1.0",
        "Message-ID: <",
        "Dear Ivy,",
        "Ada Admin has invited you to The Firm's Ringfence",
        "(UTC):",
    ] {
        assert!(mail.contains(said), "{said}: {mail}");
    }
    assert!(
        mail.lines().any(|l| l.starts_with("https://") && l.contains("/invite#") && !l.ends_with('=')),
        "{mail}"
    );
    let token = h.invitation_token("ivy@firm.example");
    let accept = |password: &'static str, token: String| {
        let h = &h;
        async move {
            h.call(
                "POST",
                "/api/v1/auth/accept-invite",
                None,
                Some(json!({ "token": token, "password": password })),
            )
            .await
        }
    };
    let weak = accept("ivy@firm.example", token.clone()).await;
    assert_eq!(weak.status, 400);
    let short = accept("short", token.clone()).await;
    assert!(short.body["error"]["message"].as_str().unwrap().contains("at least 12"), "{}", short.body);
    assert_eq!(accept("copper lantern on the hill", token.clone()).await.status, 204);
    assert_eq!(accept("copper lantern on the hill", token.clone()).await.status, 400, "single use");
    assert_eq!(h.login("ivy@firm.example", "copper lantern on the hill").await.status, 200);

    let duplicate = h
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({ "email": "IVY@firm.example", "name": "Ivy", "roles": ["attorney"] })),
        )
        .await;
    assert_eq!(duplicate.status, 409);

    h.call(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "late@firm.example", "name": "Late", "roles": ["billing"] })),
    )
    .await;
    let late = h.invitation_token("late@firm.example");
    h.clock.advance(Duration::hours(73));
    assert_eq!(accept("copper lantern on the hill", late).await.status, 400, "expired");
});

// An administrator sends a new invitation (the old link stops working) or withdraws one
// (every link stops working and the account is disabled); disabling an invited account ends
// its links too. Each is audited; only invitations not yet accepted can be resent or withdrawn.
both_backends!(
    invitations_are_resent_or_withdrawn_and_the_links_sent_before_stop_working,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let invite = |email: &'static str| {
            let h = &h;
            let admin = &admin;
            async move {
                let body = json!({ "email": email, "name": "Ivy Invited", "roles": ["attorney"] });
                let created = h.call("POST", "/api/v1/users", Some(admin), Some(body)).await;
                assert_eq!(created.status, 201, "{}", created.body);
                created.body["id"].as_str().unwrap().to_owned()
            }
        };
        let accept = |token: String| {
            let h = &h;
            async move {
                let body = json!({ "token": token, "password": "copper lantern on the hill" });
                h.call("POST", "/api/v1/auth/accept-invite", None, Some(body)).await.status
            }
        };
        let status = |id: String| {
            let h = &h;
            let admin = &admin;
            async move {
                h.call("GET", &format!("/api/v1/users/{id}"), Some(admin), None).await.body["user"]["status"]
                    .clone()
            }
        };

        // Resent: a new mail with a new link; the first link no longer works, the new one does.
        let ivy = invite("ivy@firm.example").await;
        let first = h.invitation_token("ivy@firm.example");
        let resent = h.call("POST", &format!("/api/v1/users/{ivy}/invitation"), Some(&admin), None).await;
        assert_eq!(resent.status, 204, "{}", resent.body);
        let second = h.invitation_token("ivy@firm.example");
        assert_ne!(first, second);
        assert!(h.latest_mail("ivy@firm.example").contains("Dear Ivy Invited,"));
        assert_eq!(accept(first).await, 400);
        assert_eq!(accept(second).await, 204);
        // Accepted: nothing left to resend or withdraw.
        for method in ["POST", "DELETE"] {
            let late = h.call(method, &format!("/api/v1/users/{ivy}/invitation"), Some(&admin), None).await;
            assert_eq!(late.status, 409, "{method}: {}", late.body);
            assert_eq!(late.body["error"]["code"], "not_invited");
        }

        // Withdrawn: the link stops working and the account is disabled, until enabled and resent.
        let jo = invite("jo@firm.example").await;
        let link = h.invitation_token("jo@firm.example");
        let withdrawn = h.call("DELETE", &format!("/api/v1/users/{jo}/invitation"), Some(&admin), None).await;
        assert_eq!(withdrawn.status, 204, "{}", withdrawn.body);
        assert_eq!(status(jo.clone()).await, "disabled");
        assert_eq!(accept(link).await, 400);
        let disabled = h.call("POST", &format!("/api/v1/users/{jo}/invitation"), Some(&admin), None).await;
        assert_eq!(disabled.status, 409, "a disabled account is enabled first");
        let enable = json!({ "disabled": false });
        assert_eq!(
            h.call("PATCH", &format!("/api/v1/users/{jo}"), Some(&admin), Some(enable)).await.status,
            200
        );
        assert_eq!(status(jo.clone()).await, "invited");
        assert_eq!(
            h.call("POST", &format!("/api/v1/users/{jo}/invitation"), Some(&admin), None).await.status,
            204
        );
        assert_eq!(accept(h.invitation_token("jo@firm.example")).await, 204);

        // Disabling an invited account ends its link as well.
        let kim = invite("kim@firm.example").await;
        let link = h.invitation_token("kim@firm.example");
        let disable = json!({ "disabled": true });
        assert_eq!(
            h.call("PATCH", &format!("/api/v1/users/{kim}"), Some(&admin), Some(disable)).await.status,
            200
        );
        let enable = json!({ "disabled": false });
        assert_eq!(
            h.call("PATCH", &format!("/api/v1/users/{kim}"), Some(&admin), Some(enable)).await.status,
            200
        );
        assert_eq!(accept(link).await, 400);

        let missing = "00000000-0000-4000-8000-000000000000";
        assert_eq!(
            h.call("POST", &format!("/api/v1/users/{missing}/invitation"), Some(&admin), None).await.status,
            404
        );
        let attorney = h.sign_in("ivy@firm.example", "copper lantern on the hill").await;
        let refused = h.call("POST", &format!("/api/v1/users/{kim}/invitation"), Some(&attorney), None).await;
        assert_eq!(refused.status, 403);
        let log = h.call("GET", "/api/v1/audit?action=user.invitation.resent", Some(&admin), None).await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 2, "{}", log.body);
        let log = h.call("GET", "/api/v1/audit?action=user.invitation.revoked", Some(&admin), None).await;
        let entries = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{}", log.body);
        assert_eq!(entries[0]["resource"]["id"], jo.as_str());
    }
);

both_backends!(user_management_is_for_admins_and_keeps_one_admin, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(h.call("GET", "/api/v1/users", None, None).await.status, 401);
    h.add_user(&admin, "pat@firm.example", &["paralegal"], "pat walks the long road home").await;
    let pat = h.sign_in("pat@firm.example", "pat walks the long road home").await;
    assert_eq!(h.call("GET", "/api/v1/users", Some(&pat), None).await.status, 403);
    let bad = h
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({ "email": "x@firm.example", "name": "X", "roles": ["owner"] })),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["error"]["message"].as_str().unwrap().starts_with("roles:"));

    let me = h.call("GET", "/api/v1/me", Some(&admin), None).await;
    let admin_id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let last = h
        .call("PATCH", &format!("/api/v1/users/{admin_id}"), Some(&admin), Some(json!({ "disabled": true })))
        .await;
    assert_eq!((last.status, last.code()), (409, "own_account"));
    let demote = h
        .call(
            "PATCH",
            &format!("/api/v1/users/{admin_id}"),
            Some(&admin),
            Some(json!({ "roles": ["attorney"] })),
        )
        .await;
    assert_eq!(demote.status, 409);

    let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
    let pat_id = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "pat@firm.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let off = h
        .call("PATCH", &format!("/api/v1/users/{pat_id}"), Some(&admin), Some(json!({ "disabled": true })))
        .await;
    assert_eq!(off.body["status"], "disabled");
    assert_eq!(
        h.call("GET", "/api/v1/me", Some(&pat), None).await.status,
        401,
        "disabling ends sessions at once"
    );
});

both_backends!(browser_sessions_use_a_host_cookie_and_csrf_token, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let body = json!({
        "challenge_id": login.body["challenge_id"],
        "factor": "email",
        "code": h.latest_code(ADMIN_EMAIL),
        "cookie": true,
    });
    let verified = h.call("POST", "/api/v1/auth/verify", None, Some(body)).await;
    assert_eq!(verified.status, 200);
    assert!(verified.body.get("token").is_none(), "the token stays in the cookie");
    let set_cookie = verified.headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["__Host-ringfence-session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = verified.body["csrf_token"].as_str().unwrap().to_owned();

    let me = h.call_with("GET", "/api/v1/me", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(me.status, 200);
    let forged = h.call_with("POST", "/api/v1/auth/logout", None, None, &[("cookie", &cookie)]).await;
    assert_eq!((forged.status, forged.code()), (403, "csrf"));
    let out = h
        .call_with("POST", "/api/v1/auth/logout", None, None, &[("cookie", &cookie), ("x-csrf-token", &csrf)])
        .await;
    assert_eq!(out.status, 204);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
});

both_backends!(a_firm_can_turn_emailed_codes_off, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "sam@firm.example", &["paralegal"], "sam keeps bees on the roof").await;
    let policy = h.call("GET", "/api/v1/firm/sign-in-policy", Some(&admin), None).await;
    assert_eq!(
        policy.body,
        json!({ "allowed_factors": ["email", "totp", "passkey"], "strong_factor_roles": ["admin", "auditor"] })
    );

    let totp_only = json!({ "allowed_factors": ["totp"], "strong_factor_roles": ["admin", "auditor"] });
    let locked_out =
        h.call("PUT", "/api/v1/firm/sign-in-policy", Some(&admin), Some(totp_only.clone())).await;
    assert_eq!((locked_out.status, locked_out.code()), (409, "would_lock_out"), "the admin has no TOTP yet");

    let enrol = h
        .call("POST", "/api/v1/me/totp", Some(&admin), Some(json!({ "current_password": ADMIN_PASSWORD })))
        .await;
    let secret =
        ringfence_crypto::otp::TotpSecret::from_base32(enrol.body["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
    assert_eq!(
        h.call("POST", "/api/v1/me/totp/confirm", Some(&admin), Some(json!({ "code": code }))).await.status,
        204
    );
    let set = h.call("PUT", "/api/v1/firm/sign-in-policy", Some(&admin), Some(totp_only)).await;
    assert_eq!(set.status, 200, "{}", set.body);

    let sam = h.login("sam@firm.example", "sam keeps bees on the roof").await;
    assert_eq!((sam.status, sam.code()), (403, "second_factor_required"));
    let empty = h
        .call(
            "PUT",
            "/api/v1/firm/sign-in-policy",
            Some(&admin),
            Some(json!({ "allowed_factors": [], "strong_factor_roles": [] })),
        )
        .await;
    assert_eq!(empty.status, 400);
});

both_backends!(
    replacing_an_authenticator_needs_the_password_and_keeps_the_old_one_until_confirmed,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let enrol = h
            .call(
                "POST",
                "/api/v1/me/totp",
                Some(&token),
                Some(json!({ "current_password": ADMIN_PASSWORD })),
            )
            .await;
        let old =
            ringfence_crypto::otp::TotpSecret::from_base32(enrol.body["secret"].as_str().unwrap()).unwrap();
        let at = |h: &Harness, steps: i64| (h.clock.now().unix_timestamp() + steps * 30) as u64;
        let code = old.code_at(at(&h, 0)).unwrap();
        assert_eq!(
            h.call("POST", "/api/v1/me/totp/confirm", Some(&token), Some(json!({ "code": code })))
                .await
                .status,
            204
        );

        let bare = h.call("POST", "/api/v1/me/totp", Some(&token), Some(json!({}))).await;
        assert_eq!(bare.status, 400, "a stolen session alone cannot replace the authenticator");
        let wrong = h
            .call(
                "POST",
                "/api/v1/me/totp",
                Some(&token),
                Some(json!({ "current_password": "not it at all" })),
            )
            .await;
        assert_eq!(wrong.status, 400);
        let replaced = h
            .call(
                "POST",
                "/api/v1/me/totp",
                Some(&token),
                Some(json!({ "current_password": ADMIN_PASSWORD })),
            )
            .await;
        assert_eq!(replaced.status, 200, "{}", replaced.body);
        let new = ringfence_crypto::otp::TotpSecret::from_base32(replaced.body["secret"].as_str().unwrap())
            .unwrap();

        h.clock.advance(Duration::seconds(30));
        let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let still = h
            .verify(login.body["challenge_id"].as_str().unwrap(), "totp", &old.code_at(at(&h, 0)).unwrap())
            .await;
        assert_eq!(still.status, 200, "the old authenticator works until the new one is confirmed");

        h.clock.advance(Duration::seconds(30));
        let confirm = h
            .call(
                "POST",
                "/api/v1/me/totp/confirm",
                Some(&token),
                Some(json!({ "code": new.code_at(at(&h, 0)).unwrap() })),
            )
            .await;
        assert_eq!(confirm.status, 204);
        h.clock.advance(Duration::seconds(30));
        let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let stale = h
            .verify(login.body["challenge_id"].as_str().unwrap(), "totp", &old.code_at(at(&h, 0)).unwrap())
            .await;
        assert_eq!(stale.code(), "invalid_code", "the replaced authenticator no longer works");
    }
);

both_backends!(a_session_cannot_be_used_to_guess_the_password, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let guess =
        json!({ "current_password": "guess guess guess", "new_password": "violet kestrel under the bridge" });
    for _ in 0..5 {
        assert_eq!(
            h.call("POST", "/api/v1/me/password", Some(&token), Some(guess.clone())).await.status,
            400
        );
    }
    let throttled = h.call("POST", "/api/v1/me/password", Some(&token), Some(guess)).await;
    assert_eq!((throttled.status, throttled.code()), (429, "throttled"));
});

both_backends!(a_challenge_mails_at_most_four_codes, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = json!({ "challenge_id": login.body["challenge_id"] });
    for _ in 0..3 {
        assert_eq!(
            h.call("POST", "/api/v1/auth/resend-code", None, Some(challenge.clone())).await.status,
            204
        );
    }
    let capped = h.call("POST", "/api/v1/auth/resend-code", None, Some(challenge)).await;
    assert_eq!((capped.status, capped.code()), (429, "too_many_codes"));
});
