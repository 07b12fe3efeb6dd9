//! The server-rendered pages: signing in with a form, the session cookie and CSRF token,
//! the home and matter pages, and the same not-found page for a matter one may not see.

use axum::body::Body;
use ringfence_core::clock::Clock;
use ringfence_core::matter::{self, MatterAction, MatterRole, Standing};
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::sign_in_harness::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

pub(super) struct Page {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub html: String,
}

pub(super) async fn page(
    h: &Harness,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> Page {
    page_with_cookie(h, method, path, cookie.map(|c| format!("__Host-ringfence-session={c}")), form).await
}

/// [`page`], sending `cookie_header` as the request's `Cookie`.
pub(super) async fn page_with_cookie(
    h: &Harness,
    method: &str,
    path: &str,
    cookie_header: Option<String>,
    form: Option<String>,
) -> Page {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(cookie) = &cookie_header {
        headers.push(("cookie", cookie));
    }
    let body = match form {
        Some(form) => {
            headers.push(FORM);
            Body::from(form)
        }
        None => Body::empty(),
    };
    let response = h.respond(method, path, None, body, &headers).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Page { status, headers, html: String::from_utf8(bytes.to_vec()).unwrap() }
}

pub(super) fn encode(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

/// Every page form that deletes, removes, lifts, disposes, erases, disables or withdraws
/// asks first (its handler cannot run unconfirmed); nothing else does.
#[test]
fn every_page_that_destroys_or_withdraws_something_asks_first() {
    let destroys = ["/delete", "/remove", "/lift", "/dispose", "/erasure", "/disable", "/withdraw"];
    let table = ringfence_server::route_table();
    let pages =
        table.specs().iter().filter(|s| s.method == http::Method::POST && !s.path.starts_with("/api/"));
    let mut asking = 0;
    for spec in pages {
        let destructive = destroys.iter().any(|end| spec.path.ends_with(end));
        assert_eq!(spec.confirmation.is_some(), destructive, "POST {}", spec.path);
        asking += usize::from(destructive);
    }
    assert!(asking >= 11, "{asking}");
}

/// Where the audit page's CSV link points.
fn csv_link(html: &str) -> String {
    let start = html.find("href=\"/api/v1/audit.csv").expect("the CSV link") + "href=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The value of the hidden input `name` in a page.
pub(super) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Signs in through the pages as a browser would: the session cookie's value.
pub(super) async fn browser_sign_in(h: &Harness, email: &str, password: &str) -> String {
    let started =
        page(h, "POST", "/sign-in", None, Some(encode(&[("email", email), ("password", password)]))).await;
    assert_eq!(started.status, 200, "{}", started.html);
    // The harness's mail goes to the outbox: the page says where the code is.
    assert!(started.html.contains("ringfence-data/outbox"), "{}", started.html);
    let challenge = hidden(&started.html, "challenge_id");
    let code = h.latest_code(email);
    let form = encode(&[("challenge_id", &challenge), ("factor", "email"), ("code", &code)]);
    let done = page(h, "POST", "/sign-in/code", None, Some(form)).await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(done.headers["location"], "/home");
    let set = done.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"), "{set}");
    set.trim_start_matches("__Host-ringfence-session=").split(';').next().unwrap().to_owned()
}

both_backends!(a_browser_signs_in_sees_its_matters_and_nothing_else, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    h.signed_in_user(&admin, "other@firm.example", &["attorney"]).await;
    let client = json!({ "name": "Acme", "kind": "organisation" });
    let matter =
        h.open_matter(&lead, client, json!({ "title": "Acme <script>alert(1)</script> v Widget" })).await;
    let note = json!({ "kind": "strategy", "body": "Settle below two million", "privileged": true });
    h.call("POST", &format!("/api/v1/matters/{matter}/notes"), Some(&lead), Some(note)).await;
    h.upload(&format!("/api/v1/matters/{matter}/documents"), &lead, "brief.txt", b"The brief", &[]).await;

    assert_eq!(page(&h, "GET", "/", None, None).await.headers["location"], "/sign-in");
    assert_eq!(page(&h, "GET", "/home", None, None).await.status, 303, "pages send strangers to sign in");
    let form = page(&h, "GET", "/sign-in", None, None).await;
    assert_eq!(form.status, 200);
    assert!(form.html.contains("<form method=\"post\" action=\"/sign-in\">"));
    assert!(!form.html.contains("<script>"), "no inline script: only /assets/app.js");
    assert!(form.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));

    let wrong = page(
        &h,
        "POST",
        "/sign-in",
        None,
        Some(encode(&[("email", "lead@firm.example"), ("password", "nope")])),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("the email address or password is wrong"));

    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let home = page(&h, "GET", "/home", Some(&cookie), None).await;
    assert_eq!(home.status, 200);
    assert!(home.html.contains(&format!("href=\"/matters/{matter}\"")));
    assert!(
        home.html.contains("Acme &#60;script&#62;alert(1)&#60;/script&#62; v Widget"),
        "titles are escaped"
    );
    assert!(!home.html.contains("<script>alert"));

    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
    assert_eq!(shown.status, 200);
    assert!(shown.html.contains("Settle below two million") && shown.html.contains("privileged"));
    assert!(shown.html.contains("brief.txt"));
    assert!(!home.html.contains("Recently viewed"), "nothing viewed before");
    let home = page(&h, "GET", "/home", Some(&cookie), None).await;
    let recent = home.html.split("Recently viewed").nth(1).expect("a recently viewed list");
    assert!(recent.contains(&format!("href=\"/matters/{matter}\"")));
    assert!(!shown.headers["content-security-policy"].is_empty());

    // Someone without a role gets the very page a matter that does not exist gets.
    let other = browser_sign_in(&h, "other@firm.example", "a long shared test passphrase").await;
    let refused = page(&h, "GET", &format!("/matters/{matter}"), Some(&other), None).await;
    let missing = page(&h, "GET", &format!("/matters/{}", uuid::Uuid::new_v4()), Some(&other), None).await;
    assert_eq!((refused.status, missing.status), (404, 404));
    assert_eq!(refused.html, missing.html);
    assert!(!refused.html.contains("Acme"));

    // Signing out is a form: without its CSRF token it is refused.
    assert_eq!(page(&h, "POST", "/sign-out", Some(&cookie), Some(String::new())).await.status, 403);
    let csrf = hidden(&home.html, "_csrf");
    let out = page(&h, "POST", "/sign-out", Some(&cookie), Some(encode(&[("_csrf", &csrf)]))).await;
    assert_eq!(out.status, 303);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(page(&h, "GET", "/home", Some(&cookie), None).await.status, 303, "the session has ended");
});

both_backends!(sign_in_forms_explain_refusals_and_refuse_other_sites, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let started = page(
        &h,
        "POST",
        "/sign-in",
        None,
        Some(encode(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])),
    )
    .await;
    let challenge = hidden(&started.html, "challenge_id");
    let form = encode(&[("challenge_id", &challenge), ("factor", "email"), ("code", "000000")]);
    let wrong = page(&h, "POST", "/sign-in/code", None, Some(form)).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("wrong code; 4 attempt(s) left"), "{}", wrong.html);
    assert_eq!(hidden(&wrong.html, "challenge_id"), challenge, "the user can try again on the same page");

    let cross_site = h
        .respond(
            "POST",
            "/sign-in",
            None,
            Body::from(encode(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])),
            &[FORM, ("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross_site.status(), 403);
    let css = page(&h, "GET", "/assets/app.css", None, None).await;
    assert_eq!((css.status, css.headers["content-type"].to_str().unwrap()), (200, "text/css; charset=utf-8"));
    // Every page names its icon, and the place browsers ask for one unasked answers too.
    assert!(
        page(&h, "GET", "/sign-in", None, None)
            .await
            .html
            .contains(r#"rel="icon" href="/assets/favicon.svg""#)
    );
    for path in ["/favicon.ico", "/assets/favicon.svg"] {
        let icon = page(&h, "GET", path, None, None).await;
        assert_eq!(
            (icon.status, icon.headers["content-type"].to_str().unwrap()),
            (200, "image/svg+xml"),
            "{path}"
        );
        assert!(icon.html.starts_with("<svg"), "{path}");
    }
});

both_backends!(forms_open_clients_matters_and_notes_with_their_csrf_token, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead_token = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let form = page(&h, "GET", "/matters/new", Some(&cookie), None).await;
    assert!(form.html.contains("Add a client"), "no clients yet: {}", form.html);
    let csrf = hidden(&page(&h, "GET", "/clients/new", Some(&cookie), None).await.html, "_csrf");

    let forged = page(
        &h,
        "POST",
        "/clients",
        Some(&cookie),
        Some(encode(&[("name", "Acme"), ("kind", "person"), ("email", "")])),
    )
    .await;
    assert_eq!(forged.status, 403, "a form without the CSRF token is refused");
    let fields = [("_csrf", csrf.as_str()), ("name", "Acme"), ("kind", "organisation"), ("email", "")];
    let added = page(&h, "POST", "/clients", Some(&cookie), Some(encode(&fields))).await;
    // The new client's page says it is added, and links to a matter opened for it.
    assert_eq!(added.status, 303);
    let client_page = added.headers["location"].to_str().unwrap().to_owned();
    assert!(client_page.starts_with("/clients/") && client_page.ends_with("?done=added"), "{client_page}");
    let shown = page(&h, "GET", &client_page, Some(&cookie), None).await.html;
    assert!(shown.contains("Acme is added to the firm&#39;s clients."), "{shown}");
    let id = client_page.trim_start_matches("/clients/").trim_end_matches("?done=added");
    let chosen = page(&h, "GET", &format!("/matters/new?client={id}"), Some(&cookie), None).await.html;
    assert!(chosen.contains(&format!("<option value=\"{id}\" selected>Acme</option>")), "{chosen}");

    let form = page(&h, "GET", "/matters/new", Some(&cookie), None).await;
    let client = hidden(&form.html.replace("<option value=", "name=\"client\" value="), "client");
    let bad = [("_csrf", csrf.as_str()), ("client_id", client.as_str()), ("title", " "), ("description", "")];
    let refused = page(&h, "POST", "/matters", Some(&cookie), Some(encode(&bad))).await;
    assert_eq!(refused.status, 400);
    assert!(refused.html.contains("role=\"alert\""), "the form says what is wrong");
    let good = [
        ("_csrf", csrf.as_str()),
        ("client_id", client.as_str()),
        ("title", "Acme v Widget"),
        ("description", ""),
    ];
    let opened = page(&h, "POST", "/matters", Some(&cookie), Some(encode(&good))).await;
    assert_eq!(opened.status, 303);
    let matter = opened.headers["location"].to_str().unwrap().to_owned();

    let note = [
        ("_csrf", csrf.as_str()),
        ("kind", "note"),
        ("body", "Call the witness on Monday"),
        ("privileged", "true"),
    ];
    let added = page(&h, "POST", &format!("{matter}/notes"), Some(&cookie), Some(encode(&note))).await;
    assert_eq!(added.status, 303);
    let shown = page(&h, "GET", &matter, Some(&cookie), None).await;
    assert!(shown.html.contains("Call the witness on Monday") && shown.html.contains("data-upload"));
    let uploaded =
        h.upload(&format!("/api/v1{matter}/documents"), &lead_token, "draft.txt", b"first", &[]).await;
    let document = uploaded.body["id"].as_str().unwrap().to_owned();
    let (content_type, body) = multipart("draft.txt", b"second", &[]);
    let version_path = format!("/api/v1/documents/{document}/versions");
    h.respond(
        "POST",
        &version_path,
        Some(&lead_token),
        Body::from(body),
        &[("content-type", content_type.as_str())],
    )
    .await;
    let shown = page(&h, "GET", &matter, Some(&cookie), None).await;
    assert!(shown.html.contains("Earlier versions of draft.txt"));
    assert!(shown.html.contains(&format!("/api/v1/documents/{document}/content?version=1")));
    // Deleting asks first, naming what goes and how to come back; nothing is deleted yet.
    let delete_path = format!("/documents/{document}/delete");
    let back = format!("{matter}#documents");
    let asked = [("_csrf", csrf.as_str()), ("subject", "draft.txt"), ("back", back.as_str())];
    let asked = page(&h, "POST", &delete_path, Some(&cookie), Some(encode(&asked))).await;
    assert_eq!(asked.status, 200, "{}", asked.html);
    for words in ["Delete this document?", "draft.txt", "Recently deleted", "Delete the document"] {
        assert!(asked.html.contains(words), "{words}: {}", asked.html);
    }
    assert!(asked.html.contains(&format!("action=\"{delete_path}\"")), "{}", asked.html);
    assert!(asked.html.contains("name=\"confirmed\" value=\"yes\""), "{}", asked.html);
    assert!(asked.html.contains(&format!("href=\"{back}\"")), "{}", asked.html);
    assert!(page(&h, "GET", &matter, Some(&cookie), None).await.html.contains("draft.txt"));
    let confirmed = [("_csrf", csrf.as_str()), ("subject", "draft.txt"), ("confirmed", "yes")];
    let deleted = page(&h, "POST", &delete_path, Some(&cookie), Some(encode(&confirmed))).await;
    let after = deleted.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(after, format!("{matter}?done=document-deleted#documents"));
    let said = page(&h, "GET", after.split('#').next().unwrap(), Some(&cookie), None).await.html;
    assert!(said.contains("The document is deleted. It can be restored from Recently deleted."), "{said}");
    assert!(!page(&h, "GET", &matter, Some(&cookie), None).await.html.contains("draft.txt"));

    let search = |q: &'static str| encode(&[("_csrf", &csrf), ("q", q)]);
    let found = page(&h, "POST", "/search", Some(&cookie), Some(search("witness"))).await;
    assert!(
        found.html.contains("1 result") && found.html.contains("Call the witness on Monday"),
        "{}",
        found.html
    );
    let empty = page(&h, "POST", "/search", Some(&cookie), Some(search("!"))).await;
    assert_eq!(empty.status, 400);
    // The words never go into the URL.
    let form = page(&h, "GET", "/search?q=witness", Some(&cookie), None).await.html;
    assert!(form.contains("method=\"post\" action=\"/search\"") && !form.contains("result"));
});

both_backends!(the_account_page_ends_sessions_and_changes_the_password, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let phone = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let desk = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let account = page(&h, "GET", "/account", Some(&desk), None).await;
    assert_eq!(account.status, 200);
    assert!(account.html.contains("(this one)"));
    assert!(account.html.contains("Set up an authenticator app"));
    let csrf = hidden(&account.html, "_csrf");
    // Every other session (the phone's, and the one the harness signed in with) has a button.
    let others: Vec<String> = account
        .html
        .split("action=\"/account/sessions/")
        .skip(1)
        .filter_map(|rest| rest.split_once("/end\"").map(|(id, _)| id.to_owned()))
        .collect();
    assert_eq!(others.len(), 2, "{}", account.html);
    for other in others {
        let form = Some(encode(&[("_csrf", &csrf)]));
        let ended = page(&h, "POST", &format!("/account/sessions/{other}/end"), Some(&desk), form).await;
        assert_eq!(ended.status, 303);
    }
    assert_eq!(page(&h, "GET", "/home", Some(&phone), None).await.status, 303, "the other session has ended");

    let wrong = [
        ("_csrf", csrf.as_str()),
        ("current_password", "not it"),
        ("new_password", "another long passphrase here"),
    ];
    let refused = page(&h, "POST", "/account/password", Some(&desk), Some(encode(&wrong))).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("role=\"alert\""));
    let right = [
        ("_csrf", csrf.as_str()),
        ("current_password", "a long shared test passphrase"),
        ("new_password", "another long passphrase here"),
    ];
    let changed = page(&h, "POST", "/account/password", Some(&desk), Some(encode(&right))).await;
    assert_eq!(changed.headers["location"], "/account?done=password");
    let bare = page(&h, "POST", "/account/totp", Some(&desk), Some(encode(&[("_csrf", &csrf)]))).await;
    assert_eq!(bare.status, 400, "setting up an authenticator needs the password");
    let confirmed = [("_csrf", csrf.as_str()), ("current_password", "another long passphrase here")];
    let enrol = page(&h, "POST", "/account/totp", Some(&desk), Some(encode(&confirmed))).await;
    assert!(enrol.html.contains("<svg") && enrol.html.contains("data-totp-secret"), "{}", enrol.html);
    assert!(!enrol.html.contains("<?xml"));
});

both_backends!(auditors_filter_the_log_in_a_page_and_others_are_refused, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.signed_in_user(&admin, "cy@firm.example", &["auditor"]).await;
    let lead_token = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let client = json!({ "name": "Ann Client", "kind": "person" });
    let matter = h.open_matter(&lead_token, client, json!({ "title": "Estate of Ann" })).await;
    let number =
        h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead_token), None).await.body["number"]
            .as_str()
            .unwrap()
            .to_owned();
    let auditor = browser_sign_in(&h, "cy@firm.example", "a long shared test passphrase").await;
    let lead = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;

    // People and matters are picked by name and number; entries name them; times are on the
    // firm's clock unless UTC is asked for, and the days filtered are the clock's too.
    let zone = json!({ "time_zone": "Pacific/Auckland" });
    assert_eq!(h.call("PUT", "/api/v1/firm/time-zone", Some(&admin), Some(zone)).await.status, 200);
    let picked = page(&h, "GET", &format!("/audit?matter={matter}"), Some(&auditor), None).await;
    for said in [
        format!("<option value=\"{matter}\" selected>{number}</option>"),
        ">Ada Admin (ada@firm.example)</option>".to_owned(),
        format!("<td>matter {number}</td>"),
        "<td>Lead</td>".to_owned(),
        "When (Pacific/Auckland)".to_owned(),
    ] {
        assert!(picked.html.contains(&said), "{said}: {}", picked.html);
    }
    assert!(!picked.html.contains(&format!("matter {matter}")), "no ids where a number names it");
    let clients = page(&h, "GET", "/audit?action=client.created", Some(&auditor), None).await;
    assert!(clients.html.contains("<td>client Ann Client</td>"), "{}", clients.html);
    let utc = page(&h, "GET", &format!("/audit?matter={matter}&clock=utc"), Some(&auditor), None).await;
    assert!(utc.html.contains("When (UTC)"), "{}", utc.html);
    let today = h.clock.now().date();
    let days = format!("/audit?from={today}&to={today}&clock=utc");
    let csv = csv_link(&page(&h, "GET", &days, Some(&auditor), None).await.html);
    assert!(csv.contains(&format!("from={today}T00%3A00%3A00Z")), "{csv}");
    let local = format!("/audit?from={today}&to={today}");
    let csv = csv_link(&page(&h, "GET", &local, Some(&auditor), None).await.html);
    assert!(!csv.contains(&format!("from={today}T00%3A00%3A00Z")), "the firm's midnight is not UTC's: {csv}");

    let all = page(&h, "GET", "/audit", Some(&auditor), None).await;
    assert_eq!(all.status, 200);
    assert!(all.html.contains("auth.login.succeeded") && all.html.contains("user.created"));
    let filtered =
        page(&h, "GET", "/audit?action=user.created&outcome=&from=&to=&user=&matter=", Some(&auditor), None)
            .await;
    assert!(filtered.html.contains("user.created") && !filtered.html.contains("auth.login.succeeded"));
    assert!(filtered.html.contains("href=\"/api/v1/audit.csv?action=user.created\""), "{}", filtered.html);
    let bad = page(&h, "GET", "/audit?outcome=maybe", Some(&auditor), None).await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("role=\"alert\""));

    let refused = page(&h, "GET", "/audit", Some(&lead), None).await;
    assert_eq!(refused.status, 403);
    assert!(refused.html.contains("Not allowed"), "a page, not JSON: {}", refused.html);
    let home = page(&h, "GET", "/home", Some(&lead), None).await;
    assert!(!home.html.contains("href=\"/audit\""), "only auditors and admins see the link");
});

both_backends!(administrators_invite_change_roles_and_disable_users_on_a_page, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let cookie = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let users = page(&h, "GET", "/admin/users", Some(&cookie), None).await;
    assert_eq!(users.status, 200);
    let csrf = hidden(&users.html, "_csrf");

    let invite = [
        ("_csrf", csrf.as_str()),
        ("email", "new@firm.example"),
        ("name", "New Person"),
        ("roles", "paralegal"),
        ("roles", "secretary"),
    ];
    let invited = page(&h, "POST", "/admin/users", Some(&cookie), Some(encode(&invite))).await;
    let next = invited.headers["location"].to_str().unwrap().to_owned();
    assert!(next.starts_with("/admin/users?done=invited&user="), "{next}");
    assert!(h.latest_mail("new@firm.example").contains("/invite#"));
    // The page after it names the person, says what each role allows, and offers the zones.
    let after = page(&h, "GET", &next, Some(&cookie), None).await.html;
    for said in [
        "The invitation to New Person is on its way.",
        "Reads the audit log, and reviews who opened each matter",
        "<option selected>UTC</option>",
        "<option>Africa/Johannesburg</option>",
        "Withdraw the invitation<span class=\"visually-hidden\"> to New Person",
    ] {
        assert!(after.contains(said), "{said}: {after}");
    }
    let bad = [("_csrf", csrf.as_str()), ("email", "not an address"), ("name", "X"), ("roles", "attorney")];
    let refused = page(&h, "POST", "/admin/users", Some(&cookie), Some(encode(&bad))).await;
    assert_eq!(refused.status, 400);
    assert!(refused.html.contains("role=\"alert\""));

    let lead = h.user_id(&admin, "lead@firm.example").await;
    let roles = [("_csrf", csrf.as_str()), ("change", "roles"), ("roles", "attorney"), ("roles", "billing")];
    let changed =
        page(&h, "POST", &format!("/admin/users/{lead}"), Some(&cookie), Some(encode(&roles))).await;
    assert_eq!(changed.headers["location"].to_str().unwrap(), format!("/admin/users?done=roles&user={lead}"));
    let saved = page(&h, "GET", &format!("/admin/users?done=roles&user={lead}"), Some(&cookie), None).await;
    assert!(saved.html.contains("Lead&#39;s roles are saved."), "{}", saved.html);
    let disable_path = format!("/admin/users/{lead}/disable");
    let asked =
        page(&h, "POST", &disable_path, Some(&cookie), Some(encode(&[("_csrf", csrf.as_str())]))).await;
    assert!(asked.html.contains("Disable this account?"), "{}", asked.html);
    let still = h.call("GET", &format!("/api/v1/users/{lead}"), Some(&admin), None).await;
    assert_eq!(still.body["user"]["status"], "active");
    let disable = [("_csrf", csrf.as_str()), ("confirmed", "yes")];
    let disabled = page(&h, "POST", &disable_path, Some(&cookie), Some(encode(&disable))).await;
    assert_eq!(
        disabled.headers["location"].to_str().unwrap(),
        format!("/admin/users?done=disabled&user={lead}")
    );
    let after = h.call("GET", &format!("/api/v1/users/{lead}"), Some(&admin), None).await;
    assert_eq!(after.body["user"]["roles"], json!(["attorney", "billing"]));
    assert_eq!(after.body["user"]["status"], "disabled");

    let lead_login = page(
        &h,
        "POST",
        "/sign-in",
        None,
        Some(encode(&[("email", "lead@firm.example"), ("password", "a long shared test passphrase")])),
    )
    .await;
    assert_eq!(lead_login.status, 401, "a disabled user cannot sign in");
    h.signed_in_user(&admin, "other@firm.example", &["attorney"]).await;
    let other = browser_sign_in(&h, "other@firm.example", "a long shared test passphrase").await;
    assert_eq!(page(&h, "GET", "/admin/users", Some(&other), None).await.status, 403);
});

both_backends!(clients_and_the_matter_directory_have_their_pages, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    h.signed_in_user(&admin, "bill@firm.example", &["billing"]).await;
    let client = json!({ "name": "Ann Client", "kind": "person", "id_number": "8001015009087", "email": "ann@client.example", "address": "3 Quay Street\nPort Elizabeth" });
    let matter = h.open_matter(&lead, client, json!({ "title": "Estate of Ann" })).await;
    let clients = h.call("GET", "/api/v1/clients", Some(&lead), None).await;
    let client_id = clients.body["items"][0]["id"].as_str().unwrap().to_owned();

    let lead_cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let list = page(&h, "GET", "/clients", Some(&lead_cookie), None).await;
    assert!(
        list.html.contains(&format!("href=\"/clients/{client_id}\"")) && list.html.contains("Add a client")
    );
    let detail = page(&h, "GET", &format!("/clients/{client_id}"), Some(&lead_cookie), None).await;
    for shown in ["8001015009087", "ann@client.example", "3 Quay Street\nPort Elizabeth", "Estate of Ann"] {
        assert!(detail.html.contains(shown), "{shown}: {}", detail.html);
    }
    assert!(detail.html.contains(&format!("href=\"/matters/{matter}\"")), "its matter, linked");
    // A change over the API that leaves the address out (a caller older than it) keeps it;
    // an empty one removes it.
    let path = format!("/api/v1/clients/{client_id}");
    let older = json!({ "name": "Ann Client", "kind": "person", "email": "ann@client.example" });
    let kept = h.call("PATCH", &path, Some(&lead), Some(older)).await;
    assert_eq!(kept.body["address"], "3 Quay Street\nPort Elizabeth", "{}", kept.body);
    let cleared = json!({ "name": "Ann Client", "kind": "person", "address": " " });
    assert_eq!(
        h.call("PATCH", &path, Some(&lead), Some(cleared)).await.body["address"],
        serde_json::Value::Null
    );
    let restored = json!({ "name": "Ann Client", "kind": "person", "id_number": "8001015009087", "address": "3 Quay Street\nPort Elizabeth" });
    assert_eq!(h.call("PATCH", &path, Some(&lead), Some(restored)).await.status, 200);
    assert!(detail.html.contains(&format!("href=\"/matters/new?client={client_id}\"")), "{}", detail.html);
    let billing = browser_sign_in(&h, "bill@firm.example", "a long shared test passphrase").await;
    let names_only = page(&h, "GET", &format!("/clients/{client_id}"), Some(&billing), None).await;
    for hidden_from_billing in ["8001015009087", "Quay Street", "Estate of Ann", "/matters/new?client="] {
        assert!(
            names_only.html.contains("Ann Client") && !names_only.html.contains(hidden_from_billing),
            "billing sees the name only, and no matter it holds no role on: {hidden_from_billing}"
        );
    }
    assert!(!page(&h, "GET", "/clients", Some(&billing), None).await.html.contains("Add a client"));
    assert_eq!(page(&h, "GET", "/clients/not-an-id", Some(&lead_cookie), None).await.status, 404);

    let admin_cookie = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let directory = page(&h, "GET", "/admin/matters", Some(&admin_cookie), None).await;
    assert!(directory.html.contains("Estate of Ann") && directory.html.contains("lead@firm.example"));
    assert!(!directory.html.contains(&format!("href=\"/matters/{matter}")), "no links into content");
    assert_eq!(page(&h, "GET", "/admin/matters", Some(&lead_cookie), None).await.status, 403);
});

// The matter workspace: documents as a table (who uploaded which version when, privileged,
// the scan), notes with their author, and the matter closed and reopened from its overview
// (also over the API), each change said on the page and recorded.
both_backends!(a_lead_runs_the_matter_from_its_workspace, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let viewer = h.signed_in_user(&admin, "vera@firm.example", &["paralegal"]).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    let vera = h.user_id(&admin, "vera@firm.example").await;
    let role = json!({ "role": "viewer" });
    let added =
        h.call("PUT", &format!("/api/v1/matters/{matter}/members/{vera}"), Some(&lead), Some(role)).await;
    assert!(added.status < 300, "{}", added.body);
    let (content_type, body) =
        multipart("brief.pdf", b"%PDF-1.4 brief", &[("title", "Heads of argument"), ("privileged", "true")]);
    let uploaded = h
        .respond(
            "POST",
            &format!("/api/v1/matters/{matter}/documents"),
            Some(&lead),
            Body::from(body),
            &[("content-type", content_type.as_str())],
        )
        .await;
    assert_eq!(uploaded.status(), 201);
    let note = json!({ "kind": "strategy", "body": "Settle below two million.", "privileged": false });
    assert_eq!(
        h.call("POST", &format!("/api/v1/matters/{matter}/notes"), Some(&lead), Some(note)).await.status,
        201
    );

    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await.html;
    let row = shown.split("<tbody>").nth(1).unwrap_or_default();
    for cell in [
        "Heads of argument",
        "<td>brief.pdf</td>",
        "<td>1</td>",
        "<td>Lead</td>",
        "privileged",
        "not scanned",
    ] {
        assert!(row.contains(cell), "{cell}: {row}");
    }
    assert!(shown.contains("Lead · "), "the note names its author: {shown}");
    assert!(shown.contains("Close the matter"), "{shown}");

    let csrf = hidden(&shown, "_csrf");
    // A note is edited on the page; the text it replaced is kept, with who wrote it.
    let note = h.call("GET", &format!("/api/v1/matters/{matter}/notes"), Some(&lead), None).await.body["items"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit = [("_csrf", csrf.as_str()), ("body", "Settle below 1.8 million."), ("privileged", "true")];
    let edited = page(&h, "POST", &format!("/notes/{note}/edit"), Some(&cookie), Some(encode(&edit))).await;
    assert_eq!(
        edited.headers["location"].to_str().unwrap(),
        format!("/matters/{matter}?done=note-edited#notes")
    );
    let history = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await.html;
    for said in [
        "Settle below 1.8 million.",
        "(edited)",
        "Earlier versions",
        "Version 1, by Lead",
        "Settle below two million.",
    ] {
        assert!(history.contains(said), "{said}: {history}");
    }
    let api = h.call("GET", &format!("/api/v1/notes/{note}"), Some(&lead), None).await;
    assert_eq!(
        (api.body["version"].as_i64(), api.body["privileged"].as_bool()),
        (Some(2), Some(true)),
        "{}",
        api.body
    );
    // Only the privileged mark changed: no new version.
    let same = [("_csrf", csrf.as_str()), ("body", "Settle below 1.8 million.")];
    page(&h, "POST", &format!("/notes/{note}/edit"), Some(&cookie), Some(encode(&same))).await;
    let api = h.call("GET", &format!("/api/v1/notes/{note}"), Some(&lead), None).await;
    assert_eq!(
        (api.body["version"].as_i64(), api.body["privileged"].as_bool()),
        (Some(2), Some(false)),
        "{}",
        api.body
    );
    let blank = [("_csrf", csrf.as_str()), ("body", "  ")];
    let refused = page(&h, "POST", &format!("/notes/{note}/edit"), Some(&cookie), Some(encode(&blank))).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    let closed = page(
        &h,
        "POST",
        &format!("/matters/{matter}/close"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf)])),
    )
    .await;
    assert_eq!(closed.headers["location"].to_str().unwrap(), format!("/matters/{matter}?done=closed"));
    let after = page(&h, "GET", &format!("/matters/{matter}?done=closed"), Some(&cookie), None).await.html;
    assert!(after.contains("The matter is closed.") && after.contains("Reopen the matter"), "{after}");
    let reopened = page(
        &h,
        "POST",
        &format!("/matters/{matter}/reopen"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf)])),
    )
    .await;
    assert_eq!(reopened.headers["location"].to_str().unwrap(), format!("/matters/{matter}?done=reopened"));
    let open = h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await;
    assert_eq!(
        (open.body["status"].as_str(), &open.body["closed_at"]),
        (Some("open"), &serde_json::Value::Null)
    );

    // Over the API: reopening an open matter is a conflict; a viewer may not close or
    // reopen (the matter answers as one that does not exist); both are on the record.
    let again = h.call("POST", &format!("/api/v1/matters/{matter}/reopen"), Some(&lead), None).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(
        h.call("POST", &format!("/api/v1/matters/{matter}/close"), Some(&lead), None).await.status,
        200
    );
    assert_eq!(
        h.call("POST", &format!("/api/v1/matters/{matter}/reopen"), Some(&viewer), None).await.status,
        404
    );
    assert_eq!(
        h.call("POST", &format!("/api/v1/matters/{matter}/reopen"), Some(&lead), None).await.status,
        200
    );
    let viewed = page(
        &h,
        "GET",
        &format!("/matters/{matter}"),
        Some(&browser_sign_in(&h, "vera@firm.example", "a long shared test passphrase").await),
        None,
    )
    .await
    .html;
    assert!(!viewed.contains("Close the matter"), "a viewer is offered no lifecycle buttons");
    let log = h
        .call("GET", &format!("/api/v1/audit?matter={matter}&action=matter.reopened"), Some(&admin), None)
        .await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 2, "{}", log.body);
});

both_backends!(a_lead_manages_the_team_on_the_matter_page, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let para = h.signed_in_user(&admin, "para@firm.example", &["paralegal"]).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
    let csrf = hidden(&shown.html, "_csrf");
    assert!(shown.html.contains("id=\"team\""));

    let add = [("_csrf", csrf.as_str()), ("email", "para@firm.example"), ("role", "member")];
    let added =
        page(&h, "POST", &format!("/matters/{matter}/members"), Some(&cookie), Some(encode(&add))).await;
    assert_eq!(added.status, 303);
    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
    let team = shown.html.split("id=\"team\"").nth(1).unwrap().to_owned();
    assert!(team.contains("para@firm.example") && team.contains("member"));
    let nobody = [("_csrf", csrf.as_str()), ("email", "nobody@firm.example"), ("role", "member")];
    let unknown =
        page(&h, "POST", &format!("/matters/{matter}/members"), Some(&cookie), Some(encode(&nobody))).await;
    assert_eq!(unknown.status, 400, "an unknown address is nobody to add");
    assert!(unknown.html.contains("no such user in this firm"), "the page says why: {}", unknown.html);

    // A member sees the matter but not its team controls.
    let para_cookie = browser_sign_in(&h, "para@firm.example", "a long shared test passphrase").await;
    let as_member = page(&h, "GET", &format!("/matters/{matter}"), Some(&para_cookie), None).await;
    assert_eq!(as_member.status, 200);
    assert!(!as_member.html.contains("id=\"team\""));
    let para_id =
        h.call("GET", "/api/v1/me", Some(&para), None).await.body["user"]["id"].as_str().unwrap().to_owned();
    let wall = h.call("PUT", &format!("/api/v1/matters/{matter}/walls/{para_id}"), Some(&admin), None).await;
    assert_eq!(wall.status, 204);
    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
    assert!(shown.html.contains("Walled off from this matter (by an administrator): para@firm.example"));

    let remove = page(
        &h,
        "POST",
        &format!("/matters/{matter}/members/{para_id}/remove"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf), ("confirmed", "yes")])),
    )
    .await;
    assert_eq!(remove.status, 303);
    let team = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await.html;
    assert!(
        !team
            .split("id=\"team\"")
            .nth(1)
            .unwrap()
            .split("Walled off")
            .next()
            .unwrap()
            .contains("para@firm.example")
    );
});

both_backends!(home_shows_activity_on_my_matters_and_leads_see_the_trail, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let para = h.signed_in_user(&admin, "para@firm.example", &["paralegal"]).await;
    let outsider = h.signed_in_user(&admin, "out@firm.example", &["attorney"]).await;
    let shared = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    let para_id =
        h.call("GET", "/api/v1/me", Some(&para), None).await.body["user"]["id"].as_str().unwrap().to_owned();
    let role = json!({ "role": "member" });
    let granted =
        h.call("PUT", &format!("/api/v1/matters/{shared}/members/{para_id}"), Some(&lead), Some(role)).await;
    assert_eq!(granted.status, 204, "{}", granted.body);
    let note = json!({ "kind": "note", "body": "the activity marker text", "privileged": false });
    let noted = h.call("POST", &format!("/api/v1/matters/{shared}/notes"), Some(&para), Some(note)).await;
    assert_eq!(noted.status, 201, "{}", noted.body);
    let secret = h
        .open_matter(
            &outsider,
            json!({ "name": "Other", "kind": "person" }),
            json!({ "title": "Hidden affair" }),
        )
        .await;
    let note = json!({ "kind": "note", "body": "nothing for the lead", "privileged": false });
    assert_eq!(
        h.call("POST", &format!("/api/v1/matters/{secret}/notes"), Some(&outsider), Some(note)).await.status,
        201
    );

    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let home = page(&h, "GET", "/home", Some(&cookie), None).await.html;
    let activity = home
        .split("id=\"activity\"")
        .nth(1)
        .expect("an activity section")
        .split("</section>")
        .next()
        .unwrap();
    assert!(activity.contains("Para added a note on"), "{activity}");
    assert!(activity.contains("Lead gave someone a role"), "{activity}");
    assert!(
        !activity.contains("viewed") && !activity.contains("Hidden affair") && !activity.contains("marker")
    );
    assert!(
        !home.contains("out@firm.example") && !home.contains("Out "),
        "nothing of a matter the lead cannot see"
    );

    // The list filters by words of the title or number, and by status.
    let beta = h
        .open_matter(&lead, json!({ "name": "Beta", "kind": "person" }), json!({ "title": "Beta estate" }))
        .await;
    let csrf = hidden(&home, "_csrf");
    let filter = |q: &str, status: &str| encode(&[("_csrf", csrf.as_str()), ("q", q), ("status", status)]);
    let filtered = page(&h, "POST", "/home", Some(&cookie), Some(filter("WIDGET acme", ""))).await.html;
    let list = filtered.split("<table").nth(1).expect("a list");
    assert!(list.contains("Acme v Widget") && !list.contains("Beta estate"), "{list}");
    let closed = page(&h, "POST", "/home", Some(&cookie), Some(filter("", "closed"))).await.html;
    assert!(closed.contains("None of your 2 matters fits this filter"), "{closed}");

    // The lead reads the matter's own trail; a member does not.
    let shown = page(&h, "GET", &format!("/matters/{shared}"), Some(&cookie), None).await.html;
    let trail = shown.split("id=\"trail\"").nth(1).expect("the lead sees the trail");
    assert!(trail.contains("added a note") && trail.contains("opened the matter") && trail.contains("Para"));
    let para_cookie = browser_sign_in(&h, "para@firm.example", "a long shared test passphrase").await;
    let as_member = page(&h, "GET", &format!("/matters/{shared}"), Some(&para_cookie), None).await.html;
    assert!(!as_member.contains("id=\"trail\""));

    // Recently viewed: newest view first, each matter once.
    for viewed in [&beta, &shared, &beta, &beta] {
        assert_eq!(page(&h, "GET", &format!("/matters/{viewed}"), Some(&cookie), None).await.status, 200);
    }
    let home = page(&h, "GET", "/home", Some(&cookie), None).await.html;
    let recent = home.split("Recently viewed").nth(1).unwrap().split("</ul>").next().unwrap();
    let order: Vec<&str> = recent.split("href=\"/matters/").skip(1).map(|link| &link[..36]).collect();
    assert_eq!(order, [beta.as_str(), shared.as_str()], "{recent}");

    // A member walled off the matter no longer hears of its changes.
    let para_home = page(&h, "GET", "/home", Some(&para_cookie), None).await.html;
    assert!(para_home.contains("added a note on"), "{para_home}");
    let walled =
        h.call("PUT", &format!("/api/v1/matters/{shared}/walls/{para_id}"), Some(&admin), None).await;
    assert_eq!(walled.status, 204, "{}", walled.body);
    let para_home = page(&h, "GET", "/home", Some(&para_cookie), None).await.html;
    assert!(!para_home.contains("added a note on") && !para_home.contains("Acme"), "{para_home}");
});

both_backends!(pages_show_times_in_the_firms_time_zone, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let zone = h.call("GET", "/api/v1/firm/time-zone", Some(&admin), None).await;
    assert_eq!(zone.body, json!({ "time_zone": "UTC" }));
    let cookie = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let users = page(&h, "GET", "/admin/users", Some(&cookie), None).await;
    let csrf = hidden(&users.html, "_csrf");

    let bad = [("_csrf", csrf.as_str()), ("time_zone", "Mars/Olympus")];
    let refused = page(&h, "POST", "/admin/time-zone", Some(&cookie), Some(encode(&bad))).await;
    assert_eq!(refused.status, 400);
    assert!(refused.html.contains("Time zone: not a time zone of the tz database"), "{}", refused.html);
    let good = [("_csrf", csrf.as_str()), ("time_zone", "Asia/Kolkata")];
    let saved = page(&h, "POST", "/admin/time-zone", Some(&cookie), Some(encode(&good))).await;
    assert_eq!(saved.status, 303);
    assert_eq!(saved.headers["location"], "/admin/users?done=time-zone");
    let zone = h.call("GET", "/api/v1/firm/time-zone", Some(&admin), None).await;
    assert_eq!(zone.body, json!({ "time_zone": "Asia/Kolkata" }));

    // The log's newest entry (the change itself), in UTC from the API, on the firm's clock
    // (UTC+05:30, no daylight saving) on the page.
    let newest = h.call("GET", "/api/v1/audit?limit=1", Some(&admin), None).await;
    let entry = &newest.body["items"][0];
    assert_eq!(entry["action"], "firm.time_zone.changed");
    let at = time::OffsetDateTime::parse(
        entry["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let local = at.to_offset(time::macros::offset!(+5:30));
    let shown = local
        .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
        .unwrap();
    let log = page(&h, "GET", "/audit?action=firm.time_zone", Some(&cookie), None).await;
    assert!(log.html.contains(&shown), "{shown} in {}", log.html);
});

both_backends!(matters_and_clients_are_edited_in_their_pages, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    h.signed_in_user(&admin, "bill@firm.example", &["billing"]).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    let client_id =
        h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.body["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
    assert!(shown.html.contains("Edit the title and description"));
    let csrf = hidden(&shown.html, "_csrf");
    let edit = [
        ("_csrf", csrf.as_str()),
        ("title", "Acme Holdings v Widget Ltd"),
        ("description", "Supply contract"),
    ];
    let saved =
        page(&h, "POST", &format!("/matters/{matter}/edit"), Some(&cookie), Some(encode(&edit))).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let api = h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await;
    assert_eq!(
        (&api.body["title"], &api.body["description"]),
        (&json!("Acme Holdings v Widget Ltd"), &json!("Supply contract"))
    );
    let blank = [("_csrf", csrf.as_str()), ("title", " "), ("description", "")];
    let refused =
        page(&h, "POST", &format!("/matters/{matter}/edit"), Some(&cookie), Some(encode(&blank))).await;
    assert_eq!(refused.status, 400);
    assert!(refused.html.contains("title"), "the page says which field: {}", refused.html);

    let shown = page(&h, "GET", &format!("/clients/{client_id}"), Some(&cookie), None).await;
    assert!(shown.html.contains("Edit the client's details"));
    let fields = [
        ("_csrf", csrf.as_str()),
        ("kind", "organisation"),
        ("name", "Acme Holdings"),
        ("email", "legal@acme.example"),
        ("phone", "+27 21 555 0100"),
        ("id_number", ""),
    ];
    let saved =
        page(&h, "POST", &format!("/clients/{client_id}"), Some(&cookie), Some(encode(&fields))).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let next = saved.headers["location"].to_str().unwrap().to_owned();
    let after = page(&h, "GET", &next, Some(&cookie), None).await.html;
    assert!(after.contains("Acme Holdings&#39;s details are saved."), "{after}");
    let api = h.call("GET", &format!("/api/v1/clients/{client_id}"), Some(&lead), None).await;
    assert_eq!(
        (&api.body["name"], &api.body["email"]),
        (&json!("Acme Holdings"), &json!("legal@acme.example"))
    );

    // Billing staff see the client but may not change it.
    let bill = browser_sign_in(&h, "bill@firm.example", "a long shared test passphrase").await;
    let as_billing = page(&h, "GET", &format!("/clients/{client_id}"), Some(&bill), None).await;
    assert!(!as_billing.html.contains("Edit the client's details"));
    let bill_csrf = hidden(&page(&h, "GET", "/home", Some(&bill), None).await.html, "_csrf");
    let sneaky = [("_csrf", bill_csrf.as_str()), ("kind", "person"), ("name", "Renamed")];
    let denied = page(&h, "POST", &format!("/clients/{client_id}"), Some(&bill), Some(encode(&sneaky))).await;
    assert_eq!(denied.status, 403);
});

both_backends!(administrators_place_and_lift_walls_from_the_directory, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let para = h.signed_in_user(&admin, "para@firm.example", &["paralegal"]).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    let para_id =
        h.call("GET", "/api/v1/me", Some(&para), None).await.body["user"]["id"].as_str().unwrap().to_owned();
    let role = json!({ "role": "member" });
    let granted =
        h.call("PUT", &format!("/api/v1/matters/{matter}/members/{para_id}"), Some(&lead), Some(role)).await;
    assert_eq!(granted.status, 204);

    let cookie = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let directory = page(&h, "GET", "/admin/matters", Some(&cookie), None).await;
    assert!(directory.html.contains(&format!("href=\"/admin/matters/{matter}\"")));
    let entry = page(&h, "GET", &format!("/admin/matters/{matter}"), Some(&cookie), None).await;
    assert_eq!(entry.status, 200, "{}", entry.html);
    assert!(entry.html.contains("para@firm.example") && entry.html.contains("Nobody is walled off."));
    let csrf = hidden(&entry.html, "_csrf");
    let wall = [("_csrf", csrf.as_str()), ("email", "para@firm.example")];
    let placed =
        page(&h, "POST", &format!("/matters/{matter}/walls"), Some(&cookie), Some(encode(&wall))).await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&para), None).await.status, 404);
    let entry = page(&h, "GET", &format!("/admin/matters/{matter}"), Some(&cookie), None).await;
    assert!(entry.html.contains("Lift the wall"));
    let lift = page(
        &h,
        "POST",
        &format!("/matters/{matter}/walls/{para_id}/remove"),
        Some(&cookie),
        Some(encode(&[("_csrf", &csrf), ("confirmed", "yes")])),
    )
    .await;
    assert_eq!(lift.status, 303, "{}", lift.html);
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&para), None).await.status, 200);

    // The lead cannot place walls; to a paralegal the page is the not-found page.
    let lead_cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let as_lead = page(&h, "GET", &format!("/admin/matters/{matter}"), Some(&lead_cookie), None).await;
    assert_ne!(as_lead.status, 200);
    let para_cookie = browser_sign_in(&h, "para@firm.example", "a long shared test passphrase").await;
    let as_para = page(&h, "GET", &format!("/admin/matters/{matter}"), Some(&para_cookie), None).await;
    assert!(as_para.status == 403 || as_para.status == 404, "{}", as_para.status);
});

both_backends!(a_session_that_ended_does_not_block_the_public_forms, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    const LEAD: &str = "lead@firm.example";
    const PASSWORD: &str = "a long shared test passphrase";
    h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
    let cookie = browser_sign_in(&h, LEAD, PASSWORD).await;
    let set_cookies = |page: &Page| -> Vec<String> {
        page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    };
    let dropped = |page: &Page| set_cookies(page).iter().any(|c| c.starts_with("__Host-ringfence-session=;"));

    // The session idles out; the browser still sends its cookie, and signs in again.
    h.clock.advance(time::Duration::minutes(31));
    let form = encode(&[("email", LEAD), ("password", PASSWORD)]);
    let started = page(&h, "POST", "/sign-in", Some(&cookie), Some(form)).await;
    assert_eq!(started.status, 200, "{}", started.html);
    assert!(dropped(&started), "the browser is told to drop the dead cookie");
    let challenge = hidden(&started.html, "challenge_id");
    let form = encode(&[("challenge_id", &challenge), ("factor", "email"), ("code", &h.latest_code(LEAD))]);
    let done = page(&h, "POST", "/sign-in/code", Some(&cookie), Some(form)).await;
    assert_eq!(done.status, 303, "{}", done.html);
    let set = set_cookies(&done);
    assert_eq!(set.len(), 1, "only the new session's cookie: {set:?}");
    let fresh = set[0].trim_start_matches("__Host-ringfence-session=").split(';').next().unwrap().to_owned();
    assert!(!fresh.is_empty());

    // A session ended elsewhere: passkey sign-in and the invitation form still work.
    assert_eq!(h.call("DELETE", "/api/v1/me/sessions", Some(&fresh), None).await.status, 204);
    let header = format!("__Host-ringfence-session={fresh}");
    let passkey = h
        .respond("POST", "/api/v1/auth/passkey/start", None, Body::empty(), &[("cookie", header.as_str())])
        .await;
    assert_eq!(passkey.status(), 200);
    let invite =
        page(&h, "POST", "/invite", Some(&fresh), Some(encode(&[("token", "x.y"), ("password", "p")]))).await;
    assert_eq!(invite.status, 400, "{}", invite.html);
    // A live session's CSRF token is still required.
    let live = browser_sign_in(&h, LEAD, PASSWORD).await;
    let refused = page(&h, "POST", "/sign-out", Some(&live), Some(String::new())).await;
    assert_eq!(refused.status, 403);
});

both_backends!(a_note_of_the_longest_length_is_posted_from_the_page, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let matter = h
        .open_matter(&lead, json!({ "name": "Acme", "kind": "organisation" }), json!({ "title": "Acme" }))
        .await;
    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    let csrf =
        hidden(&page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await.html, "_csrf");
    // The longest body the API takes, each character four bytes of UTF-8: twelve bytes
    // percent-encoded, far past the 64 KiB a form was once read to.
    let body = "𝄞".repeat(200_000);
    let note = [("_csrf", csrf.as_str()), ("kind", "note"), ("body", body.as_str())];
    let added =
        page(&h, "POST", &format!("/matters/{matter}/notes"), Some(&cookie), Some(encode(&note))).await;
    assert_eq!(added.status, 303, "{}", added.html);
    let notes = h.call("GET", &format!("/api/v1/matters/{matter}/notes"), Some(&lead), None).await;
    let items = notes.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["body"].as_str().unwrap().chars().count(), 200_000);

    // One character more is refused by the API's rule, and a body past any form of ours is
    // not read at all.
    let longer = format!("{body}x");
    let note = [("_csrf", csrf.as_str()), ("kind", "note"), ("body", longer.as_str())];
    let refused =
        page(&h, "POST", &format!("/matters/{matter}/notes"), Some(&cookie), Some(encode(&note))).await;
    assert_eq!(refused.status, 400);
    let huge =
        format!("{}&body={}", encode(&[("_csrf", csrf.as_str()), ("kind", "note")]), "x".repeat(3 << 20));
    let refused = page(&h, "POST", &format!("/matters/{matter}/notes"), Some(&cookie), Some(huge)).await;
    assert!(refused.status == 403 || refused.status == 413, "{}", refused.status);
    let notes = h.call("GET", &format!("/api/v1/matters/{matter}/notes"), Some(&lead), None).await;
    assert_eq!(notes.body["items"].as_array().unwrap().len(), 1);
});

both_backends!(refusals_nobody_signed_in_for_and_csrf_refusals_are_recorded, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let firm = h.firm.simple();
    // A junk invitation token and dead challenges that name this firm.
    let junk = format!("{firm}.{}", "A".repeat(43));
    let reply = h
        .call("POST", "/api/v1/auth/accept-invite", None, Some(json!({ "token": junk, "password": "x" })))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let dead = format!("{firm}.{}", uuid::Uuid::new_v4().simple());
    let reply = h
        .call(
            "POST",
            "/api/v1/auth/verify",
            None,
            Some(json!({ "challenge_id": dead, "factor": "email", "code": "123456" })),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    // A live browser session's form without its token.
    let cookie = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let forged = page(&h, "POST", "/sign-out", Some(&cookie), Some(String::new())).await;
    assert_eq!(forged.status, 403);
    let log = h.call("GET", "/api/v1/audit?limit=500", Some(&admin), None).await;
    let recorded = |action: &str, route: Option<&str>| {
        log.body["items"].as_array().unwrap().iter().any(|e| {
            e["action"] == action
                && route.is_none_or(|r| e["resource"]["id"].as_str().is_some_and(|id| id.contains(r)))
        })
    };
    assert!(recorded("auth.invitation.refused", None), "{}", log.body);
    assert!(recorded("auth.challenge.refused", None), "{}", log.body);
    assert!(recorded("request.refused", Some("POST /sign-out 403")), "{}", log.body);
});

/// The firm's administrator and an attorney (`lead@firm.example`) who leads one matter,
/// signed in over the API: (admin token, lead token, matter id).
async fn led_matter(h: &Harness) -> (String, String, String) {
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme", "kind": "organisation" }),
            json!({ "title": "Acme v Widget" }),
        )
        .await;
    (admin, lead, matter)
}

both_backends!(the_matters_trail_is_told_in_words, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let (_, _, matter) = led_matter(&h).await;
    let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
    page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
    let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await.html;
    let trail = shown.split("id=\"trail\"").nth(1).expect("the lead sees the trail");
    assert!(trail.contains("viewed the matter") && trail.contains("opened the matter"), "{trail}");
    assert!(!trail.contains("matter.viewed") && !trail.contains("matter.created"), "{trail}");
});

both_backends!(
    the_note_form_refuses_a_malformed_matter_a_missing_field_and_an_unknown_kind_in_pages,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let (_, _, matter) = led_matter(&h).await;
        let cookie = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
        let csrf =
            hidden(&page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await.html, "_csrf");
        let note = |kind: &'static str| {
            encode(&[("_csrf", csrf.as_str()), ("kind", kind), ("body", "Call the witness")])
        };

        let malformed = page(&h, "POST", "/matters/not-an-id/notes", Some(&cookie), Some(note("note"))).await;
        assert_eq!(malformed.status, 404);
        assert!(malformed.html.contains("Not found"), "{}", malformed.html);
        let delete = encode(&[("_csrf", csrf.as_str())]);
        let no_document = page(&h, "POST", "/documents/not-an-id/delete", Some(&cookie), Some(delete)).await;
        assert_eq!(no_document.status, 404);
        assert!(no_document.html.contains("Not found"), "{}", no_document.html);
        let unknown =
            page(&h, "POST", &format!("/matters/{matter}/notes"), Some(&cookie), Some(note("memo"))).await;
        assert_eq!(unknown.status, 400);
        assert!(
            unknown.html.contains("Kind: note, strategy, statement or communication"),
            "{}",
            unknown.html
        );
        let bodiless = encode(&[("_csrf", csrf.as_str()), ("kind", "note")]);
        let missing =
            page(&h, "POST", &format!("/matters/{matter}/notes"), Some(&cookie), Some(bodiless)).await;
        assert_eq!(missing.status, 400);
        assert!(missing.html.contains("The form was incomplete"), "{}", missing.html);
        let written =
            page(&h, "POST", &format!("/matters/{matter}/notes"), Some(&cookie), Some(note("statement")))
                .await;
        assert_eq!(written.status, 303);
        assert_eq!(
            written.headers["location"].to_str().unwrap(),
            format!("/matters/{matter}?done=note-added#notes")
        );
    }
);

/// What the matter page offers, read from its HTML, for each action it shows: `None` when
/// the page itself is refused.
fn offered(shown: &Page, matter: &str) -> Option<Vec<(MatterAction, bool)>> {
    if shown.status == 404 {
        return None;
    }
    assert_eq!(shown.status, 200, "{}", shown.html);
    let html = &shown.html;
    Some(vec![
        (MatterAction::View, true),
        (MatterAction::Edit, html.contains(&format!("action=\"/matters/{matter}/edit\""))),
        (MatterAction::ReadContent, html.contains("id=\"documents\"") && html.contains("id=\"notes\"")),
        (MatterAction::WriteContent, html.contains(&format!("action=\"/matters/{matter}/notes\""))),
        (MatterAction::ManageMembers, html.contains("id=\"team\"")),
        (MatterAction::AccessHistory, html.contains("id=\"trail\"")),
    ])
}

both_backends!(
    the_matter_page_offers_what_the_permission_table_allows_each_standing,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let (admin, lead, matter) = led_matter(&h).await;
        let id_of = async |token: &str| {
            h.call("GET", "/api/v1/me", Some(token), None).await.body["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        // (address, matter role, walled)
        let standings = [
            ("member@firm.example", Some(MatterRole::Member), false),
            ("viewer@firm.example", Some(MatterRole::Viewer), false),
            ("billing@firm.example", Some(MatterRole::Billing), false),
            ("walled@firm.example", Some(MatterRole::Member), true),
        ];
        for (email, role, walled) in standings {
            let token = h.signed_in_user(&admin, email, &["paralegal"]).await;
            let user = id_of(&token).await;
            if let Some(role) = role {
                let body = json!({ "role": role.as_str() });
                let granted = h
                    .call("PUT", &format!("/api/v1/matters/{matter}/members/{user}"), Some(&lead), Some(body))
                    .await;
                assert_eq!(granted.status, 204, "{}", granted.body);
            }
            if walled {
                let wall = h
                    .call("PUT", &format!("/api/v1/matters/{matter}/walls/{user}"), Some(&admin), None)
                    .await;
                assert_eq!(wall.status, 204, "{}", wall.body);
            }
        }
        let mut cases = vec![
            (
                "lead@firm.example",
                "a long shared test passphrase",
                lead.clone(),
                Some(MatterRole::Lead),
                false,
            ),
            (ADMIN_EMAIL, ADMIN_PASSWORD, admin.clone(), None, false),
        ];
        for (email, role, walled) in standings {
            let token = h.sign_in(email, "a long shared test passphrase").await;
            cases.push((email, "a long shared test passphrase", token, role, walled));
        }
        for (email, password, token, role, walled) in cases {
            let me = h.call("GET", "/api/v1/me", Some(&token), None).await.body;
            let firm_roles =
                me["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().parse().unwrap());
            let standing = Standing { firm_roles: firm_roles.collect(), matter_role: role, walled };
            let cookie = browser_sign_in(&h, email, password).await;
            let shown = page(&h, "GET", &format!("/matters/{matter}"), Some(&cookie), None).await;
            match offered(&shown, &matter) {
                None => {
                    assert!(!matter::allows(&standing, MatterAction::View), "{email} was refused the page")
                }
                Some(offers) => {
                    for (action, offered) in offers {
                        assert_eq!(offered, matter::allows(&standing, action), "{email}: {action:?}");
                    }
                }
            }
        }
    }
);

/// The home page's HTML, apostrophes as written (the page escapes them).
async fn home(h: &Harness, cookie: &str) -> String {
    page(h, "GET", "/home", Some(cookie), None).await.html.replace("&#x27;", "'").replace("&#39;", "'")
}

both_backends!(
    a_new_firms_administrator_sees_its_first_steps_until_each_is_done,
    |env: TestEnv| async move {
        let mut h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let desk = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let first = home(&h, &desk).await;
        assert!(first.contains("Setting up your firm"), "{first}");
        // The header names the firm, and the person by name with their address beside it.
        assert!(first.contains(r#"<span class="firm-name">The Firm</span>"#), "{first}");
        assert!(first.contains(r#"Ada Admin <span class="address">ada@firm.example</span>"#), "{first}");
        assert_eq!(first.matches("To do:").count(), 5, "{first}");
        assert!(first.contains(r#"<a href="/admin/users">Invite your team</a>"#), "{first}");
        assert!(first.contains("invite them"), "an administrator is told who opens matters: {first}");

        // Each step is found done from the firm's own state.
        h.add_user(&admin, "lead@firm.example", &["attorney"], "a long shared test passphrase").await;
        let lead = browser_sign_in(&h, "lead@firm.example", "a long shared test passphrase").await;
        let theirs = home(&h, &lead).await;
        assert!(!theirs.contains("Setting up your firm"), "for administrators only: {theirs}");
        assert!(theirs.contains("New matter"), "{theirs}");
        let zone =
            h.call("PUT", "/api/v1/firm/time-zone", Some(&admin), Some(json!({ "time_zone": "UTC" }))).await;
        assert!(zone.status < 300, "{}", zone.body);
        let enrol = h
            .call(
                "POST",
                "/api/v1/me/totp",
                Some(&admin),
                Some(json!({ "current_password": ADMIN_PASSWORD })),
            )
            .await;
        let secret =
            ringfence_crypto::otp::TotpSecret::from_base32(enrol.body["secret"].as_str().unwrap()).unwrap();
        let code = secret.code_at(h.clock.now().unix_timestamp() as u64).unwrap();
        let confirmed =
            h.call("POST", "/api/v1/me/totp/confirm", Some(&admin), Some(json!({ "code": code }))).await;
        assert_eq!(confirmed.status, 204, "{}", confirmed.body);
        // The sign-in policy, chosen on the users page's form.
        let users = page(&h, "GET", "/admin/users", Some(&desk), None).await.html;
        assert!(users.contains(r#"<input type="checkbox" name="factors" value="email" checked>"#), "{users}");
        // Whom emailed codes alone let in is named beside the choice, the administrator no
        // longer (she has an authenticator now).
        assert!(users.contains("Lead signs in with emailed codes alone"), "{users}");
        assert!(!users.contains("Ada Admin, Lead"), "{users}");
        let csrf = hidden(&users, "_csrf");
        let policy = [
            ("_csrf", csrf.as_str()),
            ("factors", "totp"),
            ("factors", "passkey"),
            ("factors", "email"),
            ("strong_roles", "admin"),
            ("strong_roles", "auditor"),
            ("strong_roles", "attorney"),
        ];
        let saved = page(&h, "POST", "/admin/sign-in-policy", Some(&desk), Some(encode(&policy))).await;
        assert_eq!(saved.headers["location"], "/admin/users?done=sign-in-policy");
        let set = h.call("GET", "/api/v1/firm/sign-in-policy", Some(&admin), None).await;
        assert_eq!(set.body["strong_factor_roles"], json!(["admin", "attorney", "auditor"]), "{}", set.body);
        let bad = [("_csrf", csrf.as_str()), ("factors", "carrier-pigeon")];
        let refused = page(&h, "POST", "/admin/sign-in-policy", Some(&desk), Some(encode(&bad))).await;
        assert_eq!(refused.status, 400, "{}", refused.html);
        let later = home(&h, &desk).await;
        for step in [
            "Invite your team",
            "Set the firm's time zone",
            "Choose how people sign in",
            "Enrol an authenticator app or a passkey",
        ] {
            assert!(later.contains(&format!("Done:</span> {step} <span")), "{step}: {later}");
        }
        assert_eq!(later.matches("To do:").count(), 1, "outgoing mail: {later}");

        // Mail sent out, the list is gone; a first backup brings a step back until it is seen.
        let mailer = ringfence_mail::Mailer::new(
            Some("smtp://127.0.0.1:9"),
            h.env.data_dir(),
            "ringfence@firm.example",
        );
        h.state.mailer = std::sync::Arc::new(mailer.unwrap());
        assert!(!home(&h, &desk).await.contains("Setting up your firm"));
        let (location, _kept) = ringfence_testkit::backup_location(h.env.backend);
        let target =
            ringfence_store::backup::BackupTarget::open(&location, &h.env.blob_location(), h.env.data_dir())
                .unwrap();
        h.state.storage.back_up_firm(&target, &h.state.blobs, h.firm, h.clock.now()).await.unwrap();
        let backed_up = home(&h, &desk).await;
        assert!(
            backed_up.contains(r#"<a href="/admin/backups">Look at the firm's last backup</a>"#),
            "{backed_up}"
        );
        assert_eq!(page(&h, "GET", "/admin/backups", Some(&desk), None).await.status, 200);
        assert!(!home(&h, &desk).await.contains("Setting up your firm"));
    }
);
