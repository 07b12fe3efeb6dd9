//! The operator plane on both backends: operators sign in with a password and an
//! authenticator code on their own pages with their own cookie; they see firms' health in
//! counts only, create, suspend, resume, terminate and reinstate firms; every action is in
//! the hash-chained operator log and, for a firm, the firm's log. An operator reaches no
//! firm route and opens no firm transaction; a firm's people reach no operator route.

use axum::body::Body;
use ringfence_core::clock::Clock;
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::OperatorId;
use ringfence_core::policy::AccessPolicy;
use ringfence_core::principal::{Operator, Principal, SystemTask};
use ringfence_core::user::Email;
use ringfence_crypto::otp::TotpSecret;
use ringfence_store::StoreError;
use ringfence_store::control::operators::OperatorLogVerification;
use ringfence_store::operators::NewOperator;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::Value;

use super::pages::{Page, encode, hidden, page_with_cookie};
use super::sign_in_harness::*;
use super::termination::practice;

const OPERATOR: &str = "olga@host.example";
const OPERATOR_PASSWORD: &str = "an operator's long passphrase";

/// Creates the operator, answering its authenticator secret.
async fn operator(h: &Harness) -> TotpSecret {
    operator_named(h, OPERATOR, "Olga Operator").await
}

/// Creates an operator of that address and name, answering its authenticator secret.
async fn operator_named(h: &Harness, email: &str, name: &str) -> TotpSecret {
    let totp = TotpSecret::generate().unwrap();
    let new = NewOperator {
        email: &Email::parse(email).unwrap(),
        name,
        password_hash: ringfence_crypto::password::hash(OPERATOR_PASSWORD).unwrap(),
        totp: &totp,
    };
    h.state
        .storage
        .create_operator(new, &Principal::System(SystemTask::CommandLine), h.clock.now())
        .await
        .unwrap();
    totp
}

fn code_now(h: &Harness, totp: &TotpSecret) -> String {
    totp.code_at(u64::try_from(h.clock.now().unix_timestamp()).unwrap()).unwrap()
}

/// A browser request with the operator's cookie.
async fn as_operator(
    h: &Harness,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> Page {
    page_with_cookie(h, method, path, cookie.map(|c| format!("__Host-ringfence-operator={c}")), form).await
}

async fn operator_sign_in(h: &Harness, password: &str, code: &str) -> Page {
    let form = encode(&[("email", OPERATOR), ("password", password), ("code", code)]);
    as_operator(h, "POST", "/operator/sign-in", None, Some(form)).await
}

/// Posts an operator form carrying nothing but its CSRF token.
async fn operator_post(h: &Harness, cookie: &str, csrf: &str, path: &str) -> Page {
    as_operator(h, "POST", path, Some(cookie), Some(encode(&[("_csrf", csrf)]))).await
}

/// Signs the operator in through the pages: its cookie's value.
async fn operator_cookie(h: &Harness, totp: &TotpSecret) -> String {
    let done = operator_sign_in(h, OPERATOR_PASSWORD, &code_now(h, totp)).await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(done.headers["location"], "/operator");
    let set = done.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("__Host-ringfence-operator=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
    );
    set.trim_start_matches("__Host-ringfence-operator=").split(';').next().unwrap().to_owned()
}

fn operator_log_actions(entries: &[ringfence_core::audit::StoredAuditEntry]) -> Vec<String> {
    entries.iter().map(|e| e.action.clone()).collect()
}

async fn firm_entries(h: &Harness, token: &str, action: &str) -> Vec<Value> {
    let listed = h.call("GET", &format!("/api/v1/audit?action={action}"), Some(token), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["items"].as_array().unwrap().clone()
}

both_backends!(an_operator_signs_in_with_password_and_code_only, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let totp = operator(&h).await;

    // A wrong code, a wrong password, an unknown address: refused alike, on the record.
    let wrong_code = operator_sign_in(&h, OPERATOR_PASSWORD, "000000").await;
    assert_eq!(wrong_code.status, 401, "{}", wrong_code.html);
    assert!(wrong_code.html.contains("address, password or authenticator code is wrong"));
    let wrong_password = operator_sign_in(&h, "not the passphrase at all", &code_now(&h, &totp)).await;
    assert_eq!(wrong_password.status, 401);
    assert!(wrong_password.headers.get("set-cookie").is_none());

    let cookie = operator_cookie(&h, &totp).await;
    // The same code again is a replay: refused.
    let replay = operator_sign_in(&h, OPERATOR_PASSWORD, &code_now(&h, &totp)).await;
    assert_eq!(replay.status, 401, "a code is taken once");

    let firms = as_operator(&h, "GET", "/operator", Some(&cookie), None).await;
    assert_eq!(firms.status, 200, "{}", firms.html);
    assert!(firms.html.contains("Olga Operator"));

    // A firm user's emailed code is no way in: there is no such step for operators.
    assert_eq!(
        as_operator(&h, "GET", "/operator", None, None).await.headers["location"],
        "/operator/sign-in"
    );

    // Signing out ends the session.
    let csrf = hidden(&firms.html, "_csrf");
    let out = operator_post(&h, &cookie, &csrf, "/operator/sign-out").await;
    assert_eq!(out.status, 303);
    assert_eq!(as_operator(&h, "GET", "/operator", Some(&cookie), None).await.status, 303);

    // Signing in again with the ended session's cookie still in the browser keeps the new one.
    h.clock.advance(time::Duration::seconds(30));
    let form =
        encode(&[("email", OPERATOR), ("password", OPERATOR_PASSWORD), ("code", &code_now(&h, &totp))]);
    let again = as_operator(&h, "POST", "/operator/sign-in", Some(&cookie), Some(form)).await;
    assert_eq!(again.status, 303, "{}", again.html);
    let set: Vec<_> =
        again.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(!set[0].contains("Max-Age=0"), "{set:?}");

    let log = h.state.storage.operator_log(100).await.unwrap();
    let actions = operator_log_actions(&log);
    assert_eq!(actions.iter().filter(|a| *a == "operator.sign_in.failed").count(), 3, "{actions:?}");
    for action in ["operator.created", "operator.signed_in", "operator.firms.viewed", "operator.signed_out"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
    let signed_in = log.iter().find(|e| e.action == "operator.signed_in").unwrap();
    assert_eq!(signed_in.actor_kind, "operator");
    assert_eq!(signed_in.actor_email.as_deref(), Some(OPERATOR));
    assert_eq!(
        h.state.storage.verify_operator_log().await.unwrap(),
        OperatorLogVerification::Intact { entries: log.len() as i64 }
    );
});

both_backends!(an_operator_runs_firms_from_its_pages_without_reading_them, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let totp = operator(h).await;
    let cookie = operator_cookie(h, &totp).await;
    let firms = as_operator(h, "GET", "/operator", Some(&cookie), None).await;
    assert_eq!(firms.status, 200);
    // Counts and sizes: no client, matter, person or document named.
    assert!(firms.html.contains("Reachable, schema"), "{}", firms.html);
    for secret in ["Acme", "Widget", "deal.txt", "lead@firm.example", "ada@firm.example"] {
        assert!(!firms.html.contains(secret), "{secret} shown to the operator");
    }
    let csrf = hidden(&firms.html, "_csrf");
    let firm = h.firm.to_string();

    // Without its CSRF token, or unconfirmed, nothing happens.
    let forged = as_operator(
        h,
        "POST",
        &format!("/operator/firms/{firm}/suspend"),
        Some(&cookie),
        Some(encode(&[("confirmed", "yes")])),
    )
    .await;
    assert_eq!(forged.status, 403);
    let unconfirmed = operator_post(h, &cookie, &csrf, &format!("/operator/firms/{firm}/suspend")).await;
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.html);
    assert_eq!(h.state.storage.firm_standing(h.firm).await.unwrap(), FirmStanding::Active);

    // An invitation and a reset link sent before the suspension, used during it.
    let invited = h
        .call(
            "POST",
            "/api/v1/users",
            Some(&p.admin),
            Some(serde_json::json!({ "email": "new@firm.example", "name": "New Person", "roles": ["secretary"] })),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let invitation = h.invitation_token("new@firm.example");
    let lead_id = user_id(h, &p.admin, "lead@firm.example").await;
    let sent = h.call("POST", &format!("/api/v1/users/{lead_id}/password-reset"), Some(&p.admin), None).await;
    assert!(sent.status < 300, "{}", sent.body);
    let reset = h.latest_mail("lead@firm.example");
    let reset = reset
        .lines()
        .find(|l| l.contains("/reset#"))
        .unwrap()
        .split("/reset#")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();

    // Suspended: sessions refused, signing in refused, data untouched, administrators told.
    let suspend = as_operator(
        h,
        "POST",
        &format!("/operator/firms/{firm}/suspend"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf), ("confirmed", "yes")])),
    )
    .await;
    assert_eq!(suspend.status, 200, "{}", suspend.html);
    assert!(h.latest_mail(ADMIN_EMAIL).contains("was suspended by your hosting provider"));
    let suspend_form = encode(&[("_csrf", &csrf), ("confirmed", "yes")]);
    let twice =
        as_operator(h, "POST", &format!("/operator/firms/{firm}/suspend"), Some(&cookie), Some(suspend_form))
            .await;
    assert_eq!(twice.status, 409, "suspending a suspended firm is refused");
    // Terminating a suspended firm would open it to its people: resumed first.
    let terminate_form = encode(&[("_csrf", &csrf), ("confirmed", "yes"), ("retain_days", "30")]);
    let early = as_operator(
        h,
        "POST",
        &format!("/operator/firms/{firm}/terminate"),
        Some(&cookie),
        Some(terminate_form),
    )
    .await;
    assert_eq!(early.status, 409, "{}", early.html);
    assert!(matches!(h.state.storage.firm_standing(h.firm).await.unwrap(), FirmStanding::Suspended { .. }));
    assert_eq!(h.call("GET", "/api/v1/me", Some(&p.lead), None).await.status, 401);
    let mails = h.outbox().len();
    let login = h.login("lead@firm.example", "a long shared test passphrase").await;
    assert_eq!(login.status, 403, "{}", login.body);
    assert_eq!(login.code(), "firm_suspended");
    assert_eq!(h.outbox().len(), mails, "no sign-in code is mailed for a suspended firm");
    let wrong = h.login("lead@firm.example", "not the password at all, no").await;
    assert_eq!(wrong.status, 401, "a wrong password learns nothing of the firm");
    let accept = serde_json::json!({ "token": invitation, "password": "a long shared test passphrase" });
    let accepted = h.call("POST", "/api/v1/auth/accept-invite", None, Some(accept)).await;
    assert_eq!((accepted.status, accepted.code()), (403, "firm_suspended"), "{}", accepted.body);
    let factors = h
        .call(
            "POST",
            "/api/v1/auth/password-reset/factors",
            None,
            Some(serde_json::json!({ "token": reset })),
        )
        .await;
    assert_eq!((factors.status, factors.code()), (403, "firm_suspended"), "{}", factors.body);

    // Resumed: in again, with what was there.
    let resume = operator_post(h, &cookie, &csrf, &format!("/operator/firms/{firm}/resume")).await;
    assert_eq!(resume.status, 200, "{}", resume.html);
    let lead = h.sign_in("lead@firm.example", "a long shared test passphrase").await;
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{}", p.matter), Some(&lead), None).await.status, 200);
    let again = operator_post(h, &cookie, &csrf, &format!("/operator/firms/{firm}/resume")).await;
    assert_eq!(again.status, 409, "resuming a firm in service is refused");

    // Terminated and reinstated from the pages, by the operator by name.
    let terminate = as_operator(
        h,
        "POST",
        &format!("/operator/firms/{firm}/terminate"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf), ("confirmed", "yes"), ("retain_days", "30")])),
    )
    .await;
    assert_eq!(terminate.status, 200, "{}", terminate.html);
    assert!(matches!(h.state.storage.firm_standing(h.firm).await.unwrap(), FirmStanding::Terminated(_)));
    let reinstate = operator_post(h, &cookie, &csrf, &format!("/operator/firms/{firm}/reinstate")).await;
    assert_eq!(reinstate.status, 200, "{}", reinstate.html);
    assert_eq!(h.state.storage.firm_standing(h.firm).await.unwrap(), FirmStanding::Active);

    // The firm's log names the operator for each.
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for action in ["firm.suspended", "firm.resumed", "firm.terminated", "firm.reinstated"] {
        let found = firm_entries(h, &admin, action).await;
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert_eq!(found[0]["actor"]["kind"], "operator", "{found:?}");
        assert_eq!(found[0]["actor"]["email"], OPERATOR, "{found:?}");
    }
    let actions = operator_log_actions(&h.state.storage.operator_log(100).await.unwrap());
    for action in ["firm.suspended", "firm.resumed", "firm.terminated", "firm.reinstated"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
    assert!(matches!(
        h.state.storage.verify_operator_log().await.unwrap(),
        OperatorLogVerification::Intact { .. }
    ));
    crate::run_due_jobs(&h.state).await;
});

both_backends!(
    an_operator_creates_a_firm_whose_administrator_alone_gets_the_invitation,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let totp = operator(&h).await;
        let cookie = operator_cookie(&h, &totp).await;
        let csrf = hidden(&as_operator(&h, "GET", "/operator", Some(&cookie), None).await.html, "_csrf");
        let bad = encode(&[
            ("_csrf", &csrf),
            ("name", "New Firm"),
            ("slug", "Bad Slug!"),
            ("admin_email", "nina@new.example"),
            ("admin_name", "Nina"),
        ]);
        let refused = as_operator(&h, "POST", "/operator/firms", Some(&cookie), Some(bad)).await;
        assert_eq!(refused.status, 400, "{}", refused.html);
        let form = encode(&[
            ("_csrf", &csrf),
            ("name", "New Firm"),
            ("slug", "new-firm"),
            ("admin_email", "nina@new.example"),
            ("admin_name", "Nina Admin"),
        ]);
        let created = as_operator(&h, "POST", "/operator/firms", Some(&cookie), Some(form)).await;
        assert_eq!(created.status, 200, "{}", created.html);
        assert!(!created.html.contains("/invite#"), "the operator never sees the invitation");
        let mail = h.latest_mail("nina@new.example");
        assert!(mail.contains("Dear Nina Admin") && mail.contains("/invite#"), "{mail}");

        let firm = h
            .state
            .storage
            .firm_by_slug(&ringfence_core::firm::FirmSlug::parse("new-firm").unwrap())
            .await
            .unwrap();
        let listed = as_operator(&h, "GET", "/operator", Some(&cookie), None).await;
        assert!(listed.html.contains("new-firm"), "{}", listed.html);
        let store = h.state.storage.firm(firm.id).await.unwrap();
        let mut tx = store.begin_read(&Principal::System(SystemTask::CommandLine)).await.unwrap();
        let first = ringfence_store::firm::audit::list(&mut tx, &Default::default(), None, 50).await.unwrap();
        tx.commit().await.unwrap();
        let created = first.iter().find(|e| e.action == "firm.created").unwrap();
        assert_eq!(created.actor_kind, "operator");
        assert_eq!(created.actor_email.as_deref(), Some(OPERATOR));
    }
);

both_backends!(an_operator_principal_opens_no_firm_transaction, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let operator =
        Principal::Operator(Operator { id: OperatorId::random(), email: Email::parse(OPERATOR).unwrap() });
    assert!(matches!(store.begin(&operator).await, Err(StoreError::OperatorOutsideFirm)));
    assert!(matches!(store.begin_read(&operator).await, Err(StoreError::OperatorOutsideFirm)));
});

/// A path of `spec` with every parameter filled in with a fresh id.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| if part.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { part.to_owned() })
        .collect::<Vec<_>>()
        .join("/")
}

both_backends!(operators_and_firm_users_reach_none_of_each_others_routes, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let totp = operator(&h).await;
    let cookie = operator_cookie(&h, &totp).await;
    let firm_token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let op_bearer = format!("op_{cookie}");
    let firm_cookie = format!("__Host-ringfence-session={firm_token}");
    let table = ringfence_server::route_table();
    let mut checked = 0;
    for spec in table.specs() {
        let path = concrete(spec.path);
        let method = spec.method.as_str();
        let refused = |status: u16, location: Option<&http::HeaderValue>, to: &str| {
            status == 401 || (status == 303 && location.is_some_and(|l| l == to))
        };
        match spec.policy {
            AccessPolicy::Public => continue,
            AccessPolicy::Operator => {
                // A firm administrator's session, as a bearer token and as a cookie.
                let bearer = h.respond(method, &path, Some(&firm_token), Body::empty(), &[]).await;
                assert!(
                    refused(bearer.status().as_u16(), bearer.headers().get("location"), "/operator/sign-in"),
                    "{method} {path}: {}",
                    bearer.status()
                );
                let browser =
                    h.respond(method, &path, None, Body::empty(), &[("cookie", &firm_cookie)]).await;
                assert!(
                    refused(
                        browser.status().as_u16(),
                        browser.headers().get("location"),
                        "/operator/sign-in"
                    ),
                    "{method} {path}: {}",
                    browser.status()
                );
            }
            _ => {
                let bearer = h.respond(method, &path, Some(&op_bearer), Body::empty(), &[]).await;
                assert!(
                    refused(bearer.status().as_u16(), bearer.headers().get("location"), "/sign-in"),
                    "{method} {path}: {}",
                    bearer.status()
                );
                let op_cookie = format!("__Host-ringfence-operator={cookie}");
                let browser = h.respond(method, &path, None, Body::empty(), &[("cookie", &op_cookie)]).await;
                assert!(
                    refused(browser.status().as_u16(), browser.headers().get("location"), "/sign-in"),
                    "{method} {path}: {}",
                    browser.status()
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
    // The operator's session is still good: it was refused, not ended.
    assert_eq!(as_operator(&h, "GET", "/operator", Some(&cookie), None).await.status, 200);
    assert_eq!(h.call("GET", "/api/v1/me", Some(&firm_token), None).await.status, 200);
});

/// A page request with the support cookie.
async fn as_support(h: &Harness, method: &str, path: &str, cookie: &str) -> Page {
    page_with_cookie(h, method, path, Some(format!("__Host-ringfence-support={cookie}")), Some(String::new()))
        .await
}

/// A form posted to a firm page by a firm user's bearer token: its status, and where a
/// redirect sends it.
async fn firm_form(h: &Harness, token: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let answer = h.respond("POST", path, Some(token), Body::from(encode(fields)), &form).await;
    let location =
        answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (answer.status().as_u16(), location)
}

/// Asks for a grant from the operator pages, and answers its id (the newest of the firm's).
async fn ask(h: &Harness, cookie: &str, csrf: &str, scope: &str, matters: &str, minutes: &str) -> String {
    let form = encode(&[
        ("_csrf", csrf),
        ("reason", "The firm reports a document that will not open"),
        ("scope", scope),
        ("matters", matters),
        ("minutes", minutes),
    ]);
    let asked =
        as_operator(h, "POST", &format!("/operator/firms/{}/support", h.firm), Some(cookie), Some(form))
            .await;
    assert_eq!(asked.status, 200, "{}", asked.html);
    h.state.storage.support_grants_of_firm(h.firm).await.unwrap()[0].id.to_string()
}

/// Enters a live grant: the support cookie's value.
async fn enter(h: &Harness, cookie: &str, csrf: &str, grant: &str) -> String {
    let entered = operator_post(h, cookie, csrf, &format!("/operator/grants/{grant}/enter")).await;
    assert_eq!(entered.status, 303, "{}", entered.html);
    let set = entered.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-ringfence-support=") && set.contains("HttpOnly"), "{set}");
    set.trim_start_matches("__Host-ringfence-support=").split(';').next().unwrap().to_owned()
}

both_backends!(a_support_grant_opens_reading_within_its_scope_until_it_ends, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let totp = operator(h).await;
    let cookie = operator_cookie(h, &totp).await;
    let csrf = hidden(&as_operator(h, "GET", "/operator", Some(&cookie), None).await.html, "_csrf");

    // Asked for with a reason, a scope and at most four hours; the administrators are told.
    let form = encode(&[
        ("_csrf", &csrf),
        ("reason", "help"),
        ("scope", "matters"),
        ("matters", &p.matter),
        ("minutes", "241"),
    ]);
    let too_long =
        as_operator(h, "POST", &format!("/operator/firms/{}/support", h.firm), Some(&cookie), Some(form))
            .await;
    assert_eq!(too_long.status, 400, "{}", too_long.html);
    let grant = ask(h, &cookie, &csrf, "matters", &p.matter, "30").await;
    assert!(h.latest_mail(ADMIN_EMAIL).contains("asks for support access"), "{}", h.latest_mail(ADMIN_EMAIL));

    // Nothing opens before an administrator approves.
    let early = operator_post(h, &cookie, &csrf, &format!("/operator/grants/{grant}/enter")).await;
    assert_eq!(early.status, 409, "{}", early.html);
    // The approver sees the wall a matter is behind, and must say they know.
    h.add_user(&p.admin, "clerk@firm.example", &["secretary"], "a long shared test passphrase").await;
    let clerk = user_id(h, &p.admin, "clerk@firm.example").await;
    let wall =
        h.call("PUT", &format!("/api/v1/matters/{}/walls/{clerk}", p.matter), Some(&p.admin), None).await;
    assert_eq!(wall.status, 204, "{}", wall.body);
    let listed = h.respond("GET", "/admin/support", Some(&p.admin), Body::empty(), &[]).await;
    let listed =
        String::from_utf8(axum::body::to_bytes(listed.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(listed.contains("behind an ethical wall"), "{listed}");
    assert_eq!(firm_form(h, &p.admin, &format!("/admin/support/{grant}/approve"), &[]).await.0, 400);
    assert_eq!(
        firm_form(h, &p.admin, &format!("/admin/support/{grant}/approve"), &[("confirmed", "yes")]).await,
        (303, "/admin/support".to_owned())
    );

    // In force: the named matter is read, under a banner, and nothing else is.
    let support = enter(h, &cookie, &csrf, &grant).await;
    let matter = as_support(h, "GET", &format!("/matters/{}", p.matter), &support).await;
    assert_eq!(matter.status, 200, "{}", matter.html);
    assert!(
        matter.html.contains("under support grant") && matter.html.contains("Acme v Widget"),
        "{}",
        matter.html
    );
    let file = page_with_cookie(
        h,
        "GET",
        &format!("/api/v1/documents/{}/content", p.document),
        Some(format!("__Host-ringfence-support={support}")),
        None,
    )
    .await;
    assert_eq!(file.status, 200);
    let write = as_support(h, "POST", &format!("/matters/{}/notes", p.matter), &support).await;
    assert_eq!(write.status, 403, "reading only");
    for elsewhere in
        ["/admin/users", "/audit", "/home", "/search", &format!("/matters/{}", uuid::Uuid::new_v4())]
    {
        let refused = as_support(h, "GET", elsewhere, &support).await;
        assert!(matches!(refused.status, 403 | 404), "{elsewhere}: {}", refused.status);
    }

    // Its reads are in the firm's log as the grant's, and in the operator log.
    let viewed = firm_entries(h, &p.admin, "matter.viewed").await;
    assert!(
        viewed.iter().any(|e| e["actor"]["kind"] == "support" && e["actor"]["id"] == grant.as_str()),
        "{viewed:?}"
    );
    let actions = operator_log_actions(&h.state.storage.operator_log(100).await.unwrap());
    for action in ["support.requested", "support.approved", "support.entered", "support.read"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }

    // It ends by itself.
    h.clock.advance(time::Duration::minutes(31));
    assert_eq!(as_support(h, "GET", &format!("/matters/{}", p.matter), &support).await.status, 303);

    // A grant of settings reads the users page, not the matters' directory; an
    // administrator ends it at once.
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie = operator_cookie(h, &totp).await;
    let csrf = hidden(&as_operator(h, "GET", "/operator", Some(&cookie), None).await.html, "_csrf");
    let settings = ask(h, &cookie, &csrf, "settings", "", "60").await;
    assert_eq!(
        firm_form(h, &admin, &format!("/admin/support/{settings}/approve"), &[]).await,
        (303, "/admin/support".to_owned())
    );
    let support = enter(h, &cookie, &csrf, &settings).await;
    assert_eq!(as_support(h, "GET", "/admin/users", &support).await.status, 200);
    for refused in [
        "/admin/matters",
        "/admin/data-subjects",
        "/admin/legal-holds",
        "/admin/retention",
        "/admin/support",
        "/account",
        "/api/v1/users",
        "/api/v1/me",
        &format!("/matters/{}", p.matter),
    ] {
        let status = as_support(h, "GET", refused, &support).await.status;
        assert!(matches!(status, 403 | 404), "{refused}: {status}");
    }
    // Each page it opened is on the firm's record as the grant's.
    let reads = firm_entries(h, &admin, "support.read").await;
    assert!(
        reads
            .iter()
            .any(|e| e["actor"]["id"] == settings.as_str() && e["resource"]["id"] == "GET /admin/users"),
        "{reads:?}"
    );
    // A cookie session's approval needs its CSRF token, as every form.
    let forged = page_with_cookie(
        h,
        "POST",
        &format!("/admin/support/{settings}/end"),
        Some(format!("__Host-ringfence-session={admin}")),
        Some(String::new()),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        firm_form(h, &admin, &format!("/admin/support/{settings}/end"), &[]).await,
        (303, "/admin/support".to_owned())
    );
    assert_eq!(as_support(h, "GET", "/admin/users", &support).await.status, 303);
    let ended = firm_entries(h, &admin, "support.ended").await;
    assert_eq!(ended.len(), 1, "{ended:?}");

    // A grant ends with the operator's own session, and with the firm's service.
    let again = ask(h, &cookie, &csrf, "settings", "", "60").await;
    assert_eq!(
        firm_form(h, &admin, &format!("/admin/support/{again}/approve"), &[]).await,
        (303, "/admin/support".to_owned())
    );
    let support = enter(h, &cookie, &csrf, &again).await;
    assert_eq!(as_support(h, "GET", "/admin/users", &support).await.status, 200);
    let out = operator_post(h, &cookie, &csrf, "/operator/sign-out").await;
    assert_eq!(out.status, 303);
    assert_eq!(
        as_support(h, "GET", "/admin/users", &support).await.status,
        303,
        "signed out, the support session ended"
    );
    h.clock.advance(time::Duration::seconds(30));
    let cookie = operator_cookie(h, &totp).await;
    let csrf = hidden(&as_operator(h, "GET", "/operator", Some(&cookie), None).await.html, "_csrf");
    let support = enter(h, &cookie, &csrf, &again).await;
    let suspend = encode(&[("_csrf", &csrf), ("confirmed", "yes")]);
    let suspended =
        as_operator(h, "POST", &format!("/operator/firms/{}/suspend", h.firm), Some(&cookie), Some(suspend))
            .await;
    assert_eq!(suspended.status, 200, "{}", suspended.html);
    assert_eq!(
        as_support(h, "GET", "/admin/users", &support).await.status,
        303,
        "suspended, its grants ended"
    );
    let refused = as_operator(
        h,
        "POST",
        &format!("/operator/firms/{}/support", h.firm),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf), ("reason", "r"), ("scope", "settings"), ("minutes", "5")])),
    )
    .await;
    assert_eq!(refused.status, 409, "a suspended firm is asked for nothing: {}", refused.html);
    assert!(matches!(
        h.state.storage.verify_operator_log().await.unwrap(),
        OperatorLogVerification::Intact { .. }
    ));
    crate::run_due_jobs(&h.state).await;
});

async fn user_id(h: &Harness, token: &str, email: &str) -> String {
    let users = h.call("GET", "/api/v1/users", Some(token), None).await;
    let users = users.body["items"].as_array().or(users.body.as_array()).unwrap().clone();
    users.iter().find(|u| u["email"] == email).unwrap()["id"].as_str().unwrap().to_owned()
}

both_backends!(
    emergency_access_needs_a_second_operator_and_is_shown_until_acknowledged,
    |env: TestEnv| async move {
        let p = practice(env).await;
        let h = &p.h;
        let first = operator(h).await;
        let second = operator_named(h, "sam@host.example", "Sam Second").await;
        let cookie = operator_cookie(h, &first).await;
        let csrf = hidden(&as_operator(h, "GET", "/operator", Some(&cookie), None).await.html, "_csrf");
        // The firm names its Information Officer, who is told beside the administrators.
        let lead = user_id(h, &p.admin, "lead@firm.example").await;
        assert_eq!(
            firm_form(h, &p.admin, "/admin/information-officer", &[("user_id", &lead)]).await,
            (303, "/admin/users?done=information-officer".to_owned())
        );
        assert_eq!(
            firm_form(h, &p.admin, "/admin/information-officer", &[("user_id", "nobody")]).await.0,
            400
        );
        let mails_before = h.outbox().len();
        let form = encode(&[
            ("_csrf", &csrf),
            ("reason", "Intrusion suspected on the storage host: checking the firm's documents are intact"),
            ("scope", "matters"),
            ("matters", &p.matter),
            ("minutes", "60"),
            ("emergency", "yes"),
        ]);
        let asked =
            as_operator(h, "POST", &format!("/operator/firms/{}/support", h.firm), Some(&cookie), Some(form))
                .await;
        assert_eq!(asked.status, 200, "{}", asked.html);
        let grant = h.state.storage.support_grants_of_firm(h.firm).await.unwrap()[0].id.to_string();
        assert_eq!(h.outbox().len(), mails_before, "the firm is told when access begins, not before");

        // Neither the operator who asked nor the firm's administrator approves it.
        let own =
            operator_post(h, &cookie, &csrf, &format!("/operator/grants/{grant}/approve-emergency")).await;
        assert_eq!(own.status, 409, "{}", own.html);
        assert_eq!(
            firm_form(h, &p.admin, &format!("/admin/support/{grant}/approve"), &[("confirmed", "yes")])
                .await
                .0,
            409
        );
        let early = operator_post(h, &cookie, &csrf, &format!("/operator/grants/{grant}/enter")).await;
        assert_eq!(early.status, 409);

        // A second operator sees it, and approves it: the administrators are mailed the reason.
        let form = encode(&[
            ("email", "sam@host.example"),
            ("password", OPERATOR_PASSWORD),
            ("code", &code_now(h, &second)),
        ]);
        let signed = as_operator(h, "POST", "/operator/sign-in", None, Some(form)).await;
        assert_eq!(signed.status, 303, "{}", signed.html);
        let sam = signed.headers["set-cookie"]
            .to_str()
            .unwrap()
            .trim_start_matches("__Host-ringfence-operator=")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = as_operator(h, "GET", "/operator", Some(&sam), None).await;
        assert!(page.html.contains("Intrusion suspected"), "{}", page.html);
        let sam_csrf = hidden(&page.html, "_csrf");
        let approved =
            operator_post(h, &sam, &sam_csrf, &format!("/operator/grants/{grant}/approve-emergency")).await;
        assert_eq!(approved.status, 200, "{}", approved.html);
        let mail = h.latest_mail(ADMIN_EMAIL);
        assert!(
            mail.contains("EMERGENCY ACCESS")
                && mail.contains("Intrusion suspected")
                && mail.contains("Sam Second"),
            "{mail}"
        );
        let officer = h.latest_mail("lead@firm.example");
        assert!(officer.contains("EMERGENCY ACCESS") && officer.contains("Dear "), "{officer}");

        // The operator who asked reads the matter; the audit page shows it until acknowledged.
        let support = enter(h, &cookie, &csrf, &grant).await;
        assert_eq!(as_support(h, "GET", &format!("/matters/{}", p.matter), &support).await.status, 200);
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let audit = |token: String| async move {
            let page = h.respond("GET", "/audit", Some(&token), Body::empty(), &[]).await;
            String::from_utf8(axum::body::to_bytes(page.into_body(), 1 << 20).await.unwrap().to_vec())
                .unwrap()
        };
        assert!(audit(admin.clone()).await.contains("Emergency access</strong> by Olga Operator"));
        assert_eq!(
            firm_form(h, &admin, &format!("/admin/support/{grant}/acknowledge"), &[]).await,
            (303, "/audit".to_owned())
        );
        assert!(!audit(admin.clone()).await.contains("Emergency access</strong>"));
        let approvals = firm_entries(h, &admin, "support.emergency.approved").await;
        assert_eq!(approvals[0]["actor"]["email"], "sam@host.example", "{approvals:?}");
        assert_eq!(firm_entries(h, &admin, "support.acknowledged").await.len(), 1);
        crate::run_due_jobs(&h.state).await;
        // The watcher raises an alert of it, and an incident, whoever was told already.
        let watched = ringfence_server::app::incidents::watch(
            &h.state.storage,
            &h.state.mailer,
            None,
            h.firm,
            h.clock.now(),
        )
        .await
        .unwrap();
        assert!(watched >= 1);
        let listed = h.call("GET", "/api/v1/security/incidents", Some(&admin), None).await;
        let incident = listed.body["items"].as_array().unwrap()[0]["id"].as_str().unwrap().to_owned();
        let read = h.call("GET", &format!("/api/v1/security/incidents/{incident}"), Some(&admin), None).await;
        let alert = &read.body["alerts"][0];
        assert_eq!(alert["kind"], "emergency_support", "{}", read.body);
        assert_eq!(alert["actor_email"], "sam@host.example");
        assert!(h.latest_mail(ADMIN_EMAIL).contains("emergency access by the hosting provider"));
    }
);

/// `spec`'s path with its ids filled in from the practice: the matter, note and document
/// where a route names them, a fresh id elsewhere.
fn practice_path(p: &super::termination::Practice, path: &str) -> String {
    let id = if path.starts_with("/api/v1/notes/") || path.starts_with("/notes/") {
        p.note.clone()
    } else if path.starts_with("/api/v1/documents/") || path.starts_with("/documents/") {
        p.document.clone()
    } else {
        p.matter.clone()
    };
    concrete(&path.replace("{id}", &id))
}

both_backends!(a_support_session_passes_exactly_the_routes_its_scope_opens, |env: TestEnv| async move {
    let p = practice(env).await;
    let h = &p.h;
    let totp = operator(h).await;
    let cookie = operator_cookie(h, &totp).await;
    let csrf = hidden(&as_operator(h, "GET", "/operator", Some(&cookie), None).await.html, "_csrf");
    let table = ringfence_server::route_table();
    for scope in ["matters", "settings"] {
        let grant = ask(h, &cookie, &csrf, scope, &p.matter, "60").await;
        assert_eq!(
            firm_form(h, &p.admin, &format!("/admin/support/{grant}/approve"), &[]).await,
            (303, "/admin/support".to_owned())
        );
        let support = enter(h, &cookie, &csrf, &grant).await;
        let (mut let_through, mut refused) = (0, 0);
        for spec in table.specs() {
            if matches!(spec.policy, AccessPolicy::Public | AccessPolicy::Operator) {
                continue;
            }
            let path = practice_path(&p, spec.path);
            let method = spec.method.as_str();
            let opens = method == "GET"
                && match scope {
                    "matters" => matches!(
                        spec.policy,
                        AccessPolicy::Matter(
                            ringfence_core::matter::MatterAction::View
                                | ringfence_core::matter::MatterAction::ReadContent
                        )
                    ),
                    _ => ["/admin/users", "/admin/backups"].contains(&spec.path),
                };
            let cookie = format!("__Host-ringfence-support={support}");
            let answer = h.respond(method, &path, None, Body::empty(), &[("cookie", &cookie)]).await;
            let status = answer.status().as_u16();
            if opens {
                assert!(
                    status != 403 && status != 401 && status < 500,
                    "{scope}: {method} {path} answered {status}"
                );
                let_through += 1;
            } else {
                assert_eq!(status, 403, "{scope}: {method} {path}");
                refused += 1;
            }
        }
        assert!(let_through >= 2 && refused > 100, "{scope}: {let_through} let through, {refused} refused");
        // Refusals end nothing: the grant's own pages still open.
        let first =
            if scope == "matters" { format!("/matters/{}", p.matter) } else { "/admin/users".to_owned() };
        assert_eq!(as_support(h, "GET", &first, &support).await.status, 200);
        let ended = operator_post(h, &cookie, &csrf, &format!("/operator/grants/{grant}/end")).await;
        assert_eq!(ended.status, 200, "{}", ended.html);
    }
    crate::run_due_jobs(&h.state).await;
});

both_backends!(the_operator_api_runs_firms_with_an_op_token, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let totp = operator(&h).await;
    let body = serde_json::json!({ "email": OPERATOR, "password": OPERATOR_PASSWORD, "code": "000000" });
    let refused = h.call("POST", "/api/v1/operator/sign-in", None, Some(body)).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let body =
        serde_json::json!({ "email": OPERATOR, "password": OPERATOR_PASSWORD, "code": code_now(&h, &totp) });
    let signed = h.call("POST", "/api/v1/operator/sign-in", None, Some(body)).await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    let token = signed.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("op_"));

    let firms = h.call("GET", "/api/v1/operator/firms", Some(&token), None).await;
    assert_eq!(firms.status, 200, "{}", firms.body);
    assert_eq!(firms.body[0]["slug"], "firm");
    assert_eq!(firms.body[0]["state"], "active");
    assert_eq!(firms.body[0]["health"]["reachable"], true);
    assert!(firms.body[0]["health"]["users"].as_i64().unwrap() >= 1);

    let firm = h.firm;
    let suspended =
        h.call("POST", &format!("/api/v1/operator/firms/{firm}/suspend"), Some(&token), None).await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    assert_eq!(suspended.body["mailed"], 1);
    let again = h.call("POST", &format!("/api/v1/operator/firms/{firm}/suspend"), Some(&token), None).await;
    assert_eq!(again.status, 409);
    let resumed = h.call("POST", &format!("/api/v1/operator/firms/{firm}/resume"), Some(&token), None).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);

    let ask = serde_json::json!({ "reason": "the backups page shows a failure", "scope": "settings", "minutes": 30 });
    let asked =
        h.call("POST", &format!("/api/v1/operator/firms/{firm}/support"), Some(&token), Some(ask)).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let odd = serde_json::json!({ "reason": "x", "scope": "everything", "minutes": 30 });
    let odd =
        h.call("POST", &format!("/api/v1/operator/firms/{firm}/support"), Some(&token), Some(odd)).await;
    assert_eq!(odd.status, 400, "{}", odd.body);
    let grants = h.call("GET", "/api/v1/operator/grants", Some(&token), None).await;
    assert_eq!(grants.body[0]["state"], "requested", "{}", grants.body);
    let id = grants.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call("POST", &format!("/api/v1/operator/grants/{id}/end"), Some(&token), None).await.status,
        204
    );

    let log = h.call("GET", "/api/v1/operator/log?limit=50", Some(&token), None).await;
    let actions: Vec<_> =
        log.body.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for action in
        ["operator.signed_in", "firm.suspended", "firm.resumed", "support.requested", "support.ended"]
    {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
    assert_eq!(h.call("GET", "/api/v1/operator/log?limit=0", Some(&token), None).await.status, 400);
    assert_eq!(h.call("POST", "/api/v1/operator/sign-out", Some(&token), None).await.status, 204);
    assert_eq!(h.call("GET", "/api/v1/operator/firms", Some(&token), None).await.status, 401);
});
