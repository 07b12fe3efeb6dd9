//! Sign-in limits: attempts reserved before they are checked, mailed codes counted, locks
//! that stop guessing without keeping the owner out, the same work for every address, and
//! bounded passwordless starts.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;
use ringfence_core::throttle::{self, ACCOUNT, FailureRecord};
use ringfence_store::ThrottleKey;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::authenticator::SoftAuthenticator;
use super::sign_in_harness::*;
use super::*;

const PAT: &str = "pat@firm.example";
const PAT_PASSWORD: &str = "a long shared test passphrase";

async fn record(h: &Harness, key: ThrottleKey<'_>) -> Option<FailureRecord> {
    h.state.storage.sign_in_failures(key).await.unwrap()
}

both_backends!(parallel_password_attempts_are_reserved_before_they_are_checked, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    // Thirty wrong passwords and the right one, all at once, from one address.
    let mut passwords = vec!["not the password at all"; 30];
    passwords.insert(17, ADMIN_PASSWORD);
    let replies = join_all(passwords.iter().map(|password| h.login(ADMIN_EMAIL, password))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    let wrong_checked = statuses.iter().filter(|s| **s == 401).count();
    let right_checked = statuses.iter().filter(|s| **s == 200).count();
    assert!(statuses.iter().all(|s| matches!(s, 200 | 401 | 429)), "{statuses:?}");
    // Five failures are free; the sixth waits. The right password, when it got a turn,
    // gave its reservation back, which may let one more wrong one in — never more.
    let free = ACCOUNT.free_failures as usize;
    assert!(wrong_checked <= free, "{wrong_checked} wrong passwords were checked: {statuses:?}");
    assert!(wrong_checked + right_checked >= free, "{statuses:?}");
    assert!(wrong_checked + right_checked <= free + 1, "{statuses:?}");
    // Each checked wrong password is counted, per account and per address.
    let account = record(&h, ThrottleKey::Account(ADMIN_EMAIL)).await.unwrap();
    assert_eq!(account.failures as usize, wrong_checked, "{statuses:?}");
    let ip = record(&h, ThrottleKey::SourceIp("203.0.113.7")).await.unwrap();
    assert_eq!(ip.failures as usize, wrong_checked, "{statuses:?}");
    for refused in replies.iter().filter(|r| r.status == 429) {
        assert_eq!(refused.code(), "throttled");
        assert!(refused.headers.contains_key("retry-after"));
    }
});

both_backends!(the_store_admits_exactly_what_the_rule_allows, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let t0 = h.clock.now();
    let storage = &h.state.storage;
    let mut case = 0;
    for failures in [0, 1, 4, 5, 6, 9, 13, 14, 15, 40, 99, 100, 150] {
        for after in [0, 1, 2, 3, 16, 255, 256, 299, 300, 301, 3599, 3600, 3601] {
            case += 1;
            let email = format!("case{case}@firm.example");
            let key = ThrottleKey::Account(&email);
            for _ in 0..failures {
                storage.add_sign_in_failure(key, &ACCOUNT, t0).await.unwrap();
            }
            let before = storage.sign_in_failures(key).await.unwrap();
            let now = t0 + Duration::seconds(after);
            let allowed = ACCOUNT.check(before.as_ref(), now).is_ok();
            let reserved = storage.reserve_sign_in_attempt(key, &ACCOUNT, now).await.unwrap();
            assert_eq!(reserved.is_some(), allowed, "{failures} failures, {after} s later");
            let after_record = storage.sign_in_failures(key).await.unwrap();
            if allowed {
                let continues = before.is_some_and(|b| ACCOUNT.continues_window(&b, now));
                let expected = if continues { failures + 1 } else { 1 };
                assert_eq!(after_record.unwrap().failures, expected, "{failures} failures, {after} s later");
            } else {
                assert_eq!(after_record, before, "a refused attempt is not counted");
            }
        }
    }
});

both_backends!(correct_passwords_mail_a_bounded_number_of_codes, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let mailed =
        |h: &Harness| h.outbox().iter().filter(|m| m.contains("Your Ringfence sign-in code is")).count();
    let free = throttle::CODE_MAILS.free_failures as usize;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await);
    }
    assert!(statuses[..free].iter().all(|r| r.status == 200));
    let refused = &statuses[free];
    assert_eq!((refused.status, refused.code()), (429, "too_many_codes"), "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(mailed(&h), free, "forty right passwords in a row mail {free} codes");
    // Resending counts against the same budget.
    let challenge = statuses[0].body["challenge_id"].clone();
    let resent =
        h.call("POST", "/api/v1/auth/resend-code", None, Some(json!({ "challenge_id": challenge }))).await;
    assert_eq!(resent.code(), "too_many_codes", "{}", resent.body);
    // Later, codes are mailed again, and a completed sign-in starts the count afresh.
    h.clock.advance(Duration::hours(1));
    h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(record(&h, ThrottleKey::CodeMails(ADMIN_EMAIL)).await, None);
});

/// Registers a passkey for the user behind `token`.
async fn add_passkey(h: &Harness, token: &str, key: &mut SoftAuthenticator) {
    let body = json!({ "current_password": PAT_PASSWORD });
    let started = h.call("POST", "/api/v1/me/passkeys/options", Some(token), Some(body)).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let credential = key.register(&started.body["options"]);
    let body =
        json!({ "ceremony_id": started.body["ceremony_id"], "name": "Phone", "credential": credential });
    assert_eq!(h.call("POST", "/api/v1/me/passkeys", Some(token), Some(body)).await.status, 201);
}

async fn passwordless(h: &Harness, key: &mut SoftAuthenticator) -> Reply {
    let started = h.call("POST", "/api/v1/auth/passkey/start", None, None).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let credential = key.sign_in(&started.body["options"]).expect("the passkey answers");
    let body = json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential });
    h.call("POST", "/api/v1/auth/passkey/finish", None, Some(body)).await
}

fn user_id(list: &Reply, email: &str) -> String {
    list.body["items"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

both_backends!(a_flood_of_password_guesses_does_not_keep_the_owner_out, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
    let mut key = SoftAuthenticator::new("https://ringfence.test");
    add_passkey(&h, &pat, &mut key).await;

    // Someone else's hundred wrong passwords lock password sign-in for the hour.
    for _ in 0..100 {
        h.state
            .storage
            .add_sign_in_failure(ThrottleKey::Account(PAT), &ACCOUNT, h.clock.now())
            .await
            .unwrap();
    }
    let locked = h.login(PAT, PAT_PASSWORD).await;
    assert_eq!((locked.status, locked.code()), (429, "throttled"), "{}", locked.body);

    // The passkey, which cannot be guessed, still signs its owner in.
    let alone = passwordless(&h, &mut key).await;
    assert_eq!(alone.status, 200, "{}", alone.body);

    // Second-factor attempts are counted apart: a password lock does not stop them.
    h.clock.advance(Duration::hours(2));
    let login = h.login(PAT, PAT_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
    for _ in 0..100 {
        h.state
            .storage
            .add_sign_in_failure(ThrottleKey::Account(PAT), &ACCOUNT, h.clock.now())
            .await
            .unwrap();
    }
    let code = h.latest_code(PAT);
    let verified = h.verify(login.body["challenge_id"].as_str().unwrap(), "email", &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);

    // And an administrator clears a lock, on the record, and the owner is told.
    for _ in 0..100 {
        h.state
            .storage
            .add_sign_in_failure(ThrottleKey::Account(PAT), &ACCOUNT, h.clock.now())
            .await
            .unwrap();
    }
    assert_eq!(h.login(PAT, PAT_PASSWORD).await.status, 429);
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
    let id = user_id(&users, PAT);
    let cleared = h.call("DELETE", &format!("/api/v1/users/{id}/lock"), Some(&admin), None).await;
    assert_eq!(cleared.status, 204, "{}", cleared.body);
    assert!(h.latest_mail(PAT).contains("cleared the sign-in lock"));
    assert_eq!(h.login(PAT, PAT_PASSWORD).await.status, 200);
    let log = h.call("GET", "/api/v1/audit?action=user.lock.cleared", Some(&admin), None).await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "{}", log.body);
});

/// Counts the SQL statements sqlx runs, in every thread of this test's process: sqlx logs
/// each statement it runs as a `sqlx::query` event. (nextest, which runs the tests here,
/// gives each test a process of its own, so nothing else runs statements meanwhile.)
struct StatementCounter(&'static AtomicUsize);

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

both_backends!(known_and_unknown_addresses_run_the_same_statements, |env: TestEnv| async move {
    tracing::subscriber::set_global_default(StatementCounter(&STATEMENTS))
        .expect("a process of its own (run with cargo nextest)");
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "dan@firm.example", &["paralegal"], "a sturdy passphrase for dan").await;
    let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
    let dan = user_id(&users, "dan@firm.example");
    let off = json!({ "disabled": true });
    assert_eq!(h.call("PATCH", &format!("/api/v1/users/{dan}"), Some(&admin), Some(off)).await.status, 200);
    // What a failed login costs, in statements, for each kind of address. A moving clock
    // keeps the throttle out of it; the first round warms the connection pools.
    let cases = [
        (ADMIN_EMAIL, "not the right password"),
        ("nobody@firm.example", "not the right password"),
        ("dan@firm.example", "a sturdy passphrase for dan"),
    ];
    let mut counts = vec![Vec::new(); cases.len()];
    for _ in 0..4 {
        for (i, (email, password)) in cases.iter().enumerate() {
            h.clock.advance(Duration::hours(2));
            let before = STATEMENTS.load(Ordering::SeqCst);
            let reply = h.login(email, password).await;
            counts[i].push(STATEMENTS.load(Ordering::SeqCst) - before);
            assert_eq!(reply.status, 401, "{}", reply.body);
        }
    }
    let fewest: Vec<usize> = counts.iter().map(|c| *c.iter().min().unwrap()).collect();
    assert!(fewest[0] > 0, "statements are counted: {counts:?}");
    assert_eq!(fewest[0], fewest[1], "known and unknown addresses: {counts:?}");
    assert_eq!(fewest[2], fewest[1], "a disabled user and an unknown address: {counts:?}");
    // The known user's failures are on the record all the same.
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let log = h.call("GET", "/api/v1/audit?action=auth.login.failed&limit=100", Some(&admin), None).await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 8, "{}", log.body);
});

both_backends!(unknown_email_and_wrong_password_take_the_same_time, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    // Pairs of one known and one unknown address, in alternating order, so load on the
    // machine falls on both alike. The test compares the typical gap within a pair with the
    // typical sign-in: a path that skipped the password hash for an unknown address (or hashed
    // twice for a known one) differs by about a whole sign-in, far beyond the bound. Noise from
    // a loaded machine moves both of a pair alike and is cancelled by the median; the bound is
    // loose on purpose, since microseconds of bookkeeping (a queued audit entry, a row decoded)
    // are below what a network lets anyone measure, while counting which of a pair is slower
    // would turn them into failures on a quiet machine. That the same statements run for
    // both is proved exactly by `known_and_unknown_addresses_run_the_same_statements`.
    let pairs = 60;
    let mut gaps = Vec::with_capacity(pairs);
    let mut each = Vec::with_capacity(2 * pairs);
    for pair in 0..pairs {
        let order = if pair % 2 == 0 {
            [ADMIN_EMAIL, "nobody@firm.example"]
        } else {
            ["nobody@firm.example", ADMIN_EMAIL]
        };
        let mut took = [0i128; 2];
        for email in order {
            h.clock.advance(Duration::hours(2));
            let started = std::time::Instant::now();
            let reply = h.login(email, "not the right password").await;
            let elapsed = started.elapsed().as_micros() as i128;
            assert_eq!(reply.status, 401);
            took[usize::from(email != ADMIN_EMAIL)] = elapsed;
            each.push(elapsed);
            // Write out the queued audit entry between samples, outside the measurement.
            h.state.storage.flush_audits().await.unwrap();
        }
        gaps.push(took[0] - took[1]);
    }
    let median = |values: &mut Vec<i128>| {
        values.sort_unstable();
        values[values.len() / 2]
    };
    let (gap, typical) = (median(&mut gaps), median(&mut each));
    assert!(
        gap.abs() * 5 < typical,
        "a known address took {gap} µs longer than an unknown one (a sign-in takes about {typical} µs)"
    );
});

both_backends!(passwordless_starts_are_bounded_per_address_and_in_all, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let free = throttle::PASSKEY_STARTS.free_failures;
    for _ in 0..free {
        assert_eq!(h.call("POST", "/api/v1/auth/passkey/start", None, None).await.status, 200);
    }
    let refused = h.call("POST", "/api/v1/auth/passkey/start", None, None).await;
    assert_eq!((refused.status, refused.code()), (429, "throttled"), "{}", refused.body);
    // Another address may still start one.
    let other = Harness { ip: "198.51.100.4:1000".parse().unwrap(), ..h };
    assert_eq!(other.call("POST", "/api/v1/auth/passkey/start", None, None).await.status, 200);

    // In all, the store keeps at most its cap of live ceremonies; expired ones make room.
    let storage = &other.state.storage;
    let now = other.clock.now();
    let live = free + 1;
    assert!(storage.start_passkey_sign_in("{}", now, live + 2).await.unwrap().is_some());
    assert!(storage.start_passkey_sign_in("{}", now, live + 2).await.unwrap().is_some());
    assert!(storage.start_passkey_sign_in("{}", now, live + 2).await.unwrap().is_none(), "at the cap");
    let later = now + Duration::minutes(6);
    assert!(storage.start_passkey_sign_in("{}", later, 1).await.unwrap().is_some(), "expired ones are swept");
});

both_backends!(passwordless_starts_from_one_ipv6_64_share_its_budget, |env: TestEnv| async move {
    let mut h = Harness::new(env).await;
    let start_from = async |h: &mut Harness, ip: &str| {
        h.ip = ip.parse().unwrap();
        h.call("POST", "/api/v1/auth/passkey/start", None, None).await
    };
    // Two addresses of one /64 spend one budget between them.
    for i in 0..throttle::PASSKEY_STARTS.free_failures {
        let ip =
            if i % 2 == 0 { "[2001:db8:1:2::1]:1000" } else { "[2001:db8:1:2:ffff:abcd:1234:5678]:2000" };
        assert_eq!(start_from(&mut h, ip).await.status, 200);
    }
    let refused = start_from(&mut h, "[2001:db8:1:2::99]:3000").await;
    assert_eq!((refused.status, refused.code()), (429, "throttled"), "{}", refused.body);
    // The next /64 has its own.
    assert_eq!(start_from(&mut h, "[2001:db8:1:3::1]:1000").await.status, 200);
});

async fn invitation_for(h: &Harness, admin: &str, email: &str, name: &str) -> (String, String) {
    let created = h
        .call(
            "POST",
            "/api/v1/users",
            Some(admin),
            Some(json!({ "email": email, "name": name, "roles": ["secretary"] })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    (created.body["id"].as_str().unwrap().to_owned(), h.invitation_token(email))
}

async fn accept(h: &Harness, token: &str, password: &str) -> Reply {
    h.call("POST", "/api/v1/auth/accept-invite", None, Some(json!({ "token": token, "password": password })))
        .await
}

both_backends!(passwords_made_of_the_persons_or_the_firms_names_are_refused, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, token) = invitation_for(&h, &admin, "sam@firm.example", "Sam Secretary").await;
    let weak = accept(&h, &token, "samsecretary1").await;
    assert_eq!((weak.status, weak.code()), (400, "invalid_input"), "{}", weak.body);

    // The administrator of Smith & Jones, invited when the firm was made.
    let created = h
        .state
        .storage
        .create_firm(
            ringfence_store::NewFirm {
                slug: ringfence_core::firm::FirmSlug::parse("smith-jones").unwrap(),
                name: ringfence_core::firm::FirmName::parse("Smith & Jones").unwrap(),
                admin_email: ringfence_core::user::Email::parse("ada@smith-jones.example").unwrap(),
                admin_name: Some("Ada Lovelace"),
                admin_password_hash: None,
            },
            h.clock.now(),
        )
        .await
        .unwrap();
    let invitation = created.invitation.unwrap();
    let token = ringfence_crypto::token::scoped(&created.firm.id.simple(), &invitation);
    let weak = accept(&h, &token, "smithjones2026").await;
    assert_eq!((weak.status, weak.code()), (400, "invalid_input"), "{}", weak.body);
    let weak = accept(&h, &token, "adalovelace2026").await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert_eq!(accept(&h, &token, "violet kestrel under the bridge").await.status, 204);
});

both_backends!(a_disabled_user_cannot_accept_an_invitation, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (id, token) = invitation_for(&h, &admin, "sam@firm.example", "Sam Secretary").await;
    let off = json!({ "disabled": true });
    assert_eq!(h.call("PATCH", &format!("/api/v1/users/{id}"), Some(&admin), Some(off)).await.status, 200);
    let refused = accept(&h, &token, "violet kestrel under the bridge").await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(h.login("sam@firm.example", "violet kestrel under the bridge").await.status, 401);
    let shown = h.call("GET", &format!("/api/v1/users/{id}"), Some(&admin), None).await;
    assert_eq!(shown.body["user"]["status"], "disabled");
});

both_backends!(a_password_change_ends_sign_ins_in_progress, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let session = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // Someone with the old password gets as far as the code...
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let challenge = login.body["challenge_id"].as_str().unwrap().to_owned();
    let code = h.latest_code(ADMIN_EMAIL);
    // ...when the owner changes the password.
    let change =
        json!({ "current_password": ADMIN_PASSWORD, "new_password": "violet kestrel under the bridge" });
    assert_eq!(h.call("POST", "/api/v1/me/password", Some(&session), Some(change)).await.status, 204);
    let late = h.verify(&challenge, "email", &code).await;
    assert_eq!((late.status, late.code()), (401, "challenge_expired"), "{}", late.body);
});

fn totp_secret(reply: &Reply) -> ringfence_crypto::otp::TotpSecret {
    ringfence_crypto::otp::TotpSecret::from_base32(reply.body["secret"].as_str().unwrap()).unwrap()
}

both_backends!(a_first_authenticator_needs_the_password_and_the_owner_is_mailed, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let bare = h.call("POST", "/api/v1/me/totp", Some(&token), Some(json!({}))).await;
    assert_eq!(bare.status, 400, "a session alone cannot set up an authenticator: {}", bare.body);
    assert_ne!(h.call("POST", "/api/v1/me/totp", Some(&token), None).await.status, 200);
    let wrong = json!({ "current_password": "not it at all" });
    assert_eq!(h.call("POST", "/api/v1/me/totp", Some(&token), Some(wrong)).await.status, 400);
    let right = json!({ "current_password": ADMIN_PASSWORD });
    let enrol = h.call("POST", "/api/v1/me/totp", Some(&token), Some(right)).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let code = totp_secret(&enrol).code_at(h.clock.now().unix_timestamp() as u64).unwrap();
    let confirm =
        h.call("POST", "/api/v1/me/totp/confirm", Some(&token), Some(json!({ "code": code }))).await;
    assert_eq!(confirm.status, 204, "{}", confirm.body);
    assert!(h.latest_mail(ADMIN_EMAIL).contains("An authenticator app was set up"));
});

both_backends!(
    an_admin_resets_a_second_factor_on_the_record_and_the_user_is_told,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let pat = h.signed_in_user(&admin, PAT, &["auditor"]).await;
        let enrol = h
            .call("POST", "/api/v1/me/totp", Some(&pat), Some(json!({ "current_password": PAT_PASSWORD })))
            .await;
        let code = totp_secret(&enrol).code_at(h.clock.now().unix_timestamp() as u64).unwrap();
        assert_eq!(
            h.call("POST", "/api/v1/me/totp/confirm", Some(&pat), Some(json!({ "code": code }))).await.status,
            204
        );
        h.clock.advance(Duration::seconds(30));
        let login = h.login(PAT, PAT_PASSWORD).await;
        assert_eq!(login.body["factors"], json!(["totp"]), "an auditor with TOTP gets no emailed codes");

        let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
        let id = user_id(&users, PAT);
        let path = format!("/api/v1/users/{id}/second-factor");
        assert_eq!(h.call("DELETE", &path, Some(&pat), None).await.status, 403, "admins only");
        let reset = h.call("DELETE", &path, Some(&admin), None).await;
        assert_eq!(reset.status, 204, "{}", reset.body);
        let told = h.latest_mail(PAT);
        assert!(told.contains("removed the authenticator app and passkeys"), "{told}");
        // The mail greets the person by name and names the administrator by theirs.
        let greeting = format!("Dear {},", person_named(PAT));
        assert!(told.contains(&greeting) && told.contains("An administrator (Ada Admin)"), "{told}");
        assert_eq!(
            h.call("GET", "/api/v1/me", Some(&pat), None).await.status,
            401,
            "the user's sessions ended"
        );
        let stale = h.verify(login.body["challenge_id"].as_str().unwrap(), "totp", "123456").await;
        assert_eq!(stale.code(), "challenge_expired", "{}", stale.body);
        let login = h.login(PAT, PAT_PASSWORD).await;
        assert_eq!(login.body["factors"], json!(["email"]), "{}", login.body);
        let log = h.call("GET", "/api/v1/audit?action=user.second_factor.reset", Some(&admin), None).await;
        let entries: &Vec<Value> = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{}", log.body);
        assert_eq!(entries[0]["actor"]["email"], ADMIN_EMAIL);
    }
);

/// Pat, an attorney with a confirmed authenticator app: its secret.
async fn pat_with_authenticator(h: &Harness) -> ringfence_crypto::otp::TotpSecret {
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pat = h.signed_in_user(&admin, PAT, &["attorney"]).await;
    let enrol = h
        .call("POST", "/api/v1/me/totp", Some(&pat), Some(json!({ "current_password": PAT_PASSWORD })))
        .await;
    let secret = totp_secret(&enrol);
    let code = secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
    let confirm = h.call("POST", "/api/v1/me/totp/confirm", Some(&pat), Some(json!({ "code": code }))).await;
    assert_eq!(confirm.status, 204);
    h.clock.advance(Duration::seconds(30));
    secret
}

/// Someone else's hundred wrong passwords lock Pat's password step.
async fn lock_pats_password(h: &Harness) {
    for _ in 0..100 {
        h.state
            .storage
            .add_sign_in_failure(ThrottleKey::Account(PAT), &ACCOUNT, h.clock.now())
            .await
            .unwrap();
    }
    assert_eq!(h.login(PAT, PAT_PASSWORD).await.status, 429, "the password alone is locked");
}

/// Password and authenticator code in one login, as an owner sends them during a lock.
async fn login_with_code(h: &Harness, email: &str, password: &str, code: &str) -> Reply {
    let body = json!({ "email": email, "password": password, "totp_code": code });
    h.call("POST", "/api/v1/auth/login", None, Some(body)).await
}

fn a_wrong_code(right: &str) -> &'static str {
    if right == "000000" { "111111" } else { "000000" }
}

both_backends!(
    a_password_lock_lets_the_owner_in_with_password_and_authenticator_code,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let secret = pat_with_authenticator(&h).await;
        let code_now = |h: &Harness| secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
        lock_pats_password(&h).await;
        let login =
            |password: &str, code: &str| json!({ "email": PAT, "password": password, "totp_code": code });
        let right = code_now(&h);
        let wrong = if right == "000000" { "111111" } else { "000000" };
        let wrong_code = h.call("POST", "/api/v1/auth/login", None, Some(login(PAT_PASSWORD, wrong))).await;
        assert_eq!(
            (wrong_code.status, wrong_code.code()),
            (401, "invalid_credentials"),
            "{}",
            wrong_code.body
        );
        let wrong_password =
            h.call("POST", "/api/v1/auth/login", None, Some(login("not the password", &right))).await;
        assert_eq!(wrong_password.status, 401);
        assert_eq!(wrong_password.body, wrong_code.body, "the answer does not say which was wrong");
        // The owner, with both, is in.
        let both = h.call("POST", "/api/v1/auth/login", None, Some(login(PAT_PASSWORD, &right))).await;
        assert_eq!(both.status, 200, "{}", both.body);
        let token = both.body["token"].as_str().unwrap();
        assert_eq!(h.call("GET", "/api/v1/me", Some(token), None).await.body["user"]["email"], PAT);
    }
);

both_backends!(a_strangers_wrong_passwords_with_codes_do_not_keep_the_owner_out, |env: TestEnv| async move {
    let mut h = Harness::new(env).await;
    let secret = pat_with_authenticator(&h).await;
    let owner = h.ip;
    lock_pats_password(&h).await;

    // A stranger, elsewhere, sends wrong passwords with made-up codes as fast as the
    // throttle lets it.
    h.ip = "198.51.100.4:1000".parse().unwrap();
    // It stops right after a guess that was checked.
    let (mut checked, mut refused) = (0, 0);
    while checked < 8 {
        let reply = login_with_code(&h, PAT, "not the password", "123456").await;
        match reply.status {
            401 => {
                checked += 1;
                assert_eq!(reply.code(), "invalid_credentials", "{}", reply.body);
            }
            429 => {
                refused += 1;
                let wait: i64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
                h.clock.advance(Duration::seconds(wait));
            }
            _ => panic!("{}", reply.body),
        }
    }
    assert!(refused > 0, "the stranger's guesses are throttled");

    // The owner, with password and a current code, is in at once...
    h.ip = owner;
    let code = secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
    let both = login_with_code(&h, PAT, PAT_PASSWORD, &code).await;
    assert_eq!(both.status, 200, "{}", both.body);
    assert!(both.body["token"].is_string(), "{}", both.body);
    // The stranger's wrong passwords stay counted: against its own address, and as the
    // account's wrong passwords sent with a code.
    assert_eq!(record(&h, ThrottleKey::PasswordsWithCode(PAT)).await.unwrap().failures, checked);
    let strangers = ThrottleKey::PasswordAndCode { account: PAT, ip: "198.51.100.4" };
    assert_eq!(record(&h, strangers).await.unwrap().failures, checked, "each checked guess counts");
});

both_backends!(
    wrong_password_and_wrong_code_with_a_lock_run_the_same_statements,
    |env: TestEnv| async move {
        tracing::subscriber::set_global_default(StatementCounter(&STATEMENTS))
            .expect("a process of its own (run with cargo nextest)");
        let h = Harness::new(env).await;
        let secret = pat_with_authenticator(&h).await;
        // What a refused password-and-code login costs, in statements: a wrong password with
        // the right code, the right password with a wrong code, an address nobody has. A
        // moving clock starts each afresh; the first rounds warm the connection pools.
        let cases = [
            (PAT, "not the password", true),
            (PAT, PAT_PASSWORD, false),
            ("nobody@firm.example", PAT_PASSWORD, true),
        ];
        let mut counts = vec![Vec::new(); cases.len()];
        for _ in 0..4 {
            for (i, (email, password, right_code)) in cases.iter().enumerate() {
                h.clock.advance(Duration::hours(2));
                for key in [ThrottleKey::Account(PAT), ThrottleKey::Account("nobody@firm.example")] {
                    for _ in 0..100 {
                        h.state.storage.add_sign_in_failure(key, &ACCOUNT, h.clock.now()).await.unwrap();
                    }
                }
                let right = secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
                let code = if *right_code { right.clone() } else { a_wrong_code(&right).to_owned() };
                // The previous attempt's refusal, queued for the log, is written now rather
                // than by its delayed writer inside this count (as on a loaded machine).
                h.state.storage.flush_audits().await.unwrap();
                let before = STATEMENTS.load(Ordering::SeqCst);
                let reply = login_with_code(&h, email, password, &code).await;
                counts[i].push(STATEMENTS.load(Ordering::SeqCst) - before);
                assert_eq!((reply.status, reply.code()), (401, "invalid_credentials"), "{}", reply.body);
            }
        }
        let fewest: Vec<usize> = counts.iter().map(|c| *c.iter().min().unwrap()).collect();
        assert!(fewest[0] > 0, "statements are counted: {counts:?}");
        assert_eq!(fewest[0], fewest[1], "a wrong password and a wrong code: {counts:?}");
        assert_eq!(fewest[2], fewest[0], "an unknown address and a known one: {counts:?}");
        // Both refusals of the known user are on the record all the same.
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        for (action, expected) in [("auth.login.failed", 4), ("auth.code.failed", 4)] {
            let path = format!("/api/v1/audit?action={action}&limit=100");
            let log = h.call("GET", &path, Some(&admin), None).await;
            let entries = log.body["items"].as_array().unwrap();
            let pats = entries.iter().filter(|e| e["actor"]["email"] == PAT).count();
            assert_eq!(pats, expected, "{action}: {}", log.body);
        }
    }
);
