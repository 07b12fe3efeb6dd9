//! Clients, matters, members, walls and notes through the HTTP API, and the access matrix
//! generated from the route table: every matter-scoped route × every kind of caller.

use ringfence_core::firm::{FirmName, FirmSlug};
use ringfence_core::matter::{self, MatterAction, MatterRole, Standing};
use ringfence_core::policy::AccessPolicy;
use ringfence_core::user::{Email, FirmRole};
use ringfence_server::route_table;
use ringfence_store::NewFirm;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::sign_in_harness::*;
use super::*;

/// A firm with one user of each kind the ring-fence distinguishes, signed in.
struct Cast {
    h: Harness,
    admin: String,
    lead: String,
    member: String,
    viewer: String,
    billing: String,
    walled: String,
    no_role: String,
    auditor: String,
    /// An administrator, an audit officer and a member screened by walls: the first two
    /// by a wall on the matter, the member by a wall on the matter's client.
    walled_admin: String,
    walled_auditor: String,
    client_walled: String,
    outsider: String,
    ids: std::collections::HashMap<&'static str, String>,
}

const PASSWORD: &str = "a long shared test passphrase";

async fn cast(env: TestEnv) -> Cast {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut tokens = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    for (name, role) in [
        ("lead", "attorney"),
        ("member", "paralegal"),
        ("viewer", "secretary"),
        ("billing", "billing"),
        ("walled", "attorney"),
        ("norole", "attorney"),
        ("auditor", "auditor"),
        ("walledadmin", "admin"),
        ("walledauditor", "auditor"),
        ("clientwalled", "paralegal"),
    ] {
        let email = format!("{name}@firm.example");
        h.add_user(&admin, &email, &[role], PASSWORD).await;
        tokens.insert(name, h.sign_in(&email, PASSWORD).await);
        let me = h.call("GET", "/api/v1/me", Some(&tokens[name]), None).await;
        ids.insert(name, me.body["user"]["id"].as_str().unwrap().to_owned());
    }
    // Another firm's administrator: a valid session, in the wrong tenant.
    let other = h
        .state
        .storage
        .create_firm(
            NewFirm {
                slug: FirmSlug::parse("other-firm").unwrap(),
                name: FirmName::parse("Other Firm").unwrap(),
                admin_email: Email::parse("boss@other.example").unwrap(),
                admin_name: None,
                admin_password_hash: Some(ringfence_crypto::password::hash(PASSWORD).unwrap()),
            },
            h.clock.now(),
        )
        .await
        .unwrap();
    assert_ne!(other.firm.id, h.firm);
    let outsider = h.sign_in("boss@other.example", PASSWORD).await;
    let t = |n: &str| tokens[n].clone();
    Cast {
        admin,
        lead: t("lead"),
        member: t("member"),
        viewer: t("viewer"),
        billing: t("billing"),
        walled: t("walled"),
        no_role: t("norole"),
        auditor: t("auditor"),
        walled_admin: t("walledadmin"),
        walled_auditor: t("walledauditor"),
        client_walled: t("clientwalled"),
        outsider,
        ids,
        h,
    }
}

/// A fresh matter led by `lead`, with a member, a viewer, a billing member, a walled member,
/// and one note. Returns (matter id, note id).
async fn fixture(c: &Cast) -> (String, String) {
    let h = &c.h;
    let created = h
        .call(
            "POST",
            "/api/v1/clients",
            Some(&c.lead),
            Some(json!({ "name": "Acme Holdings", "kind": "organisation" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let client = created.body["id"].as_str().unwrap().to_owned();
    let matter = h
        .call(
            "POST",
            "/api/v1/matters",
            Some(&c.lead),
            Some(json!({ "title": "Acme v Widget", "client_id": client })),
        )
        .await;
    assert_eq!(matter.status, 201, "{}", matter.body);
    let id = matter.body["id"].as_str().unwrap().to_owned();
    for (who, role) in [
        ("member", "member"),
        ("viewer", "viewer"),
        ("billing", "billing"),
        ("walled", "member"),
        ("clientwalled", "member"),
    ] {
        let path = format!("/api/v1/matters/{id}/members/{}", c.ids[who]);
        let set = h.call("PUT", &path, Some(&c.lead), Some(json!({ "role": role }))).await;
        assert_eq!(set.status, 204, "{}", set.body);
    }
    for who in ["walled", "walledadmin", "walledauditor"] {
        let wall =
            h.call("PUT", &format!("/api/v1/matters/{id}/walls/{}", c.ids[who]), Some(&c.admin), None).await;
        assert_eq!(wall.status, 204, "{}", wall.body);
    }
    let wall = h
        .call(
            "PUT",
            &format!("/api/v1/clients/{client}/walls/{}", c.ids["clientwalled"]),
            Some(&c.admin),
            None,
        )
        .await;
    assert_eq!(wall.status, 204, "{}", wall.body);
    let note = h
        .call(
            "POST",
            &format!("/api/v1/matters/{id}/notes"),
            Some(&c.lead),
            Some(json!({ "kind": "strategy", "body": "settle below 2m", "privileged": true })),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
    (id, note.body["id"].as_str().unwrap().to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    SignedOut,
    OtherFirm,
    NoRole,
    Walled,
    Viewer,
    Billing,
    Member,
    Lead,
    AdminWithoutRole,
    Auditor,
    WalledAdmin,
    WalledAuditor,
    ClientWalled,
}

impl Caller {
    const ALL: [Caller; 13] = [
        Caller::SignedOut,
        Caller::OtherFirm,
        Caller::NoRole,
        Caller::Walled,
        Caller::Viewer,
        Caller::Billing,
        Caller::Member,
        Caller::Lead,
        Caller::AdminWithoutRole,
        Caller::Auditor,
        Caller::WalledAdmin,
        Caller::WalledAuditor,
        Caller::ClientWalled,
    ];

    fn token(self, c: &Cast) -> Option<String> {
        Some(match self {
            Caller::SignedOut => return None,
            Caller::OtherFirm => c.outsider.clone(),
            Caller::NoRole => c.no_role.clone(),
            Caller::Walled => c.walled.clone(),
            Caller::Viewer => c.viewer.clone(),
            Caller::Billing => c.billing.clone(),
            Caller::Member => c.member.clone(),
            Caller::Lead => c.lead.clone(),
            Caller::AdminWithoutRole => c.admin.clone(),
            Caller::Auditor => c.auditor.clone(),
            Caller::WalledAdmin => c.walled_admin.clone(),
            Caller::WalledAuditor => c.walled_auditor.clone(),
            Caller::ClientWalled => c.client_walled.clone(),
        })
    }

    /// What the ring-fence's own table says this caller may do.
    fn allowed(self, action: MatterAction) -> bool {
        let standing = |firm: FirmRole, role: Option<MatterRole>, walled| Standing {
            firm_roles: [firm].into_iter().collect(),
            matter_role: role,
            walled,
        };
        let standing = match self {
            Caller::SignedOut | Caller::OtherFirm => return false,
            Caller::NoRole => standing(FirmRole::Attorney, None, false),
            Caller::Walled => standing(FirmRole::Attorney, Some(MatterRole::Member), true),
            Caller::Viewer => standing(FirmRole::Secretary, Some(MatterRole::Viewer), false),
            Caller::Billing => standing(FirmRole::Billing, Some(MatterRole::Billing), false),
            Caller::Member => standing(FirmRole::Paralegal, Some(MatterRole::Member), false),
            Caller::Lead => standing(FirmRole::Attorney, Some(MatterRole::Lead), false),
            Caller::AdminWithoutRole => standing(FirmRole::Admin, None, false),
            Caller::Auditor => standing(FirmRole::Auditor, None, false),
            Caller::WalledAdmin => standing(FirmRole::Admin, None, true),
            Caller::WalledAuditor => standing(FirmRole::Auditor, None, true),
            Caller::ClientWalled => standing(FirmRole::Paralegal, Some(MatterRole::Member), true),
        };
        matter::allows(&standing, action)
    }
}

/// What a matter's routes act on: the matter, one of its notes and one of its documents.
#[derive(Clone)]
struct Targets {
    matter: String,
    note: String,
    document: String,
    /// An export of the matter, for the routes that name one.
    export: Option<String>,
}

impl Targets {
    async fn of(c: &Cast, (matter, note): (String, String)) -> Self {
        let path = format!("/api/v1/matters/{matter}/documents");
        let up = c.h.upload(&path, &c.lead, "matrix.txt", b"a matrix document", &[]).await;
        assert_eq!(up.status, 201, "{}", up.body);
        Self { matter, note, document: up.body["id"].as_str().unwrap().to_owned(), export: None }
    }

    /// These targets with an export of the matter, asked for by its lead.
    async fn with_export(mut self, c: &Cast) -> Self {
        let path = format!("/api/v1/matters/{}/exports", self.matter);
        let asked = c.h.call("POST", &path, Some(&c.lead), Some(json!({}))).await;
        assert_eq!(asked.status, 202, "{}", asked.body);
        self.export = asked.body["id"].as_str().map(str::to_owned);
        self
    }

    fn missing() -> Self {
        let id = uuid::Uuid::new_v4().to_string();
        Self { matter: id.clone(), note: id.clone(), document: id.clone(), export: Some(id) }
    }
}

/// Sends a route's request: multipart for uploads, JSON (or nothing) otherwise.
async fn call_route(
    c: &Cast,
    method: &http::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let uploads =
        method == http::Method::POST && (path.ends_with("/documents") || path.ends_with("/versions"));
    // Pages take forms, not JSON.
    let page_form = method == http::Method::POST && !path.starts_with("/api/");
    match (uploads, page_form, token) {
        (true, _, Some(token)) => c.h.upload(path, token, "upload.txt", b"uploaded in the matrix", &[]).await,
        (_, true, token) => {
            let auth = token.map(|t| format!("Bearer {t}"));
            let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
            if let Some(auth) = &auth {
                headers.push(("authorization", auth));
            }
            let form = axum::body::Body::from(
                "kind=note&body=a+matrix+note&email=auditor%40firm.example&role=viewer&reason=a+matrix+hold",
            );
            Harness::reply(c.h.respond(method.as_str(), path, None, form, &headers).await).await
        }
        _ => c.h.call(method.as_str(), path, token, body).await,
    }
}

/// The request for a route template: path filled in, and a valid body where one is needed.
fn request(path: &str, method: &http::Method, on: &Targets, target: &str) -> (String, Option<Value>) {
    let id = if path.starts_with("/api/v1/notes/") || path.starts_with("/notes/") {
        &on.note
    } else if path.starts_with("/api/v1/documents/") || path.starts_with("/documents/") {
        &on.document
    } else {
        &on.matter
    };
    let export = on.export.as_deref().unwrap_or_default();
    let filled = path
        .replace("{user_id}", target)
        .replace("{export_id}", export)
        .replace("{id}", id)
        .replace("{version}", "1");
    let body = match (method.as_str(), path) {
        ("POST", p) if p.ends_with("/notes") => {
            Some(json!({ "kind": "note", "body": "a matrix note", "privileged": false }))
        }
        ("PATCH", p) if p.starts_with("/api/v1/notes/") => Some(json!({ "body": "edited in the matrix" })),
        ("PATCH", _) => Some(json!({ "title": "Renamed in the matrix" })),
        ("PUT", p) if p.contains("/members/") => Some(json!({ "role": "viewer" })),
        ("POST", p) if p.contains("/legal-hold") => Some(json!({ "reason": "a matrix hold" })),
        ("POST", p) if p.starts_with("/api/") && p.ends_with("/exports") => Some(json!({})),
        _ => None,
    };
    (filled, body)
}

both_backends!(the_access_matrix_covers_every_matter_route_and_finds_no_leak, |env: TestEnv| async move {
    let c = cast(env).await;
    let routes: Vec<_> = route_table()
        .specs()
        .iter()
        .filter_map(|spec| match spec.policy {
            AccessPolicy::Matter(action) => Some((spec.method.clone(), spec.path, action)),
            _ => None,
        })
        .collect();
    assert!(routes.len() >= 15, "{routes:?}");
    let missing = Targets::missing();
    let mut cells = 0;
    // The routes on an export ask for one first: their builds are left on the queue.
    c.h.env.expect_jobs_left("export.build");
    for (method, path, action) in &routes {
        let names_export = path.contains("{export_id}");
        let mut on = Targets::of(&c, fixture(&c).await).await;
        if names_export {
            on = on.with_export(&c).await;
        }
        let not_found_body = {
            let (p, b) = request(path, method, &missing, &c.ids["norole"]);
            let reply = call_route(&c, method, &p, Some(&c.lead), b).await;
            assert_eq!(reply.status, 404, "{method} {path} on a missing id");
            reply.body
        };
        // Callers refused first, then those allowed (whose requests may change the matter).
        let mut callers = Caller::ALL.to_vec();
        callers.sort_by_key(|caller| caller.allowed(*action));
        for caller in callers {
            let on = match (caller.allowed(*action), names_export) {
                (true, true) => Targets::of(&c, fixture(&c).await).await.with_export(&c).await,
                (true, false) => Targets::of(&c, fixture(&c).await).await,
                (false, _) => on.clone(),
            };
            // Whom the membership routes act on: someone the route can really act on.
            let removes = method.as_str() == "DELETE" || path.ends_with("/remove");
            let target = match (method.as_str(), path.contains("/walls/"), removes) {
                ("PUT", true, _) => c.ids["norole"].clone(),
                (_, true, true) => c.ids["walled"].clone(),
                (_, false, true) => c.ids["viewer"].clone(),
                _ => c.ids["auditor"].clone(),
            };
            let (p, body) = request(path, method, &on, &target);
            let token = caller.token(&c);
            let reply = call_route(&c, method, &p, token.as_deref(), body.clone()).await;
            cells += 1;
            let page = !path.starts_with("/api/");
            match (caller, caller.allowed(*action)) {
                // A page sends the browser to sign in; the API answers 401.
                (Caller::SignedOut, _) => {
                    assert_eq!(reply.status, if page { 303 } else { 401 }, "{caller:?} {method} {path}")
                }
                (_, false) => {
                    assert_eq!(reply.status, 404, "{caller:?} {method} {path}: {}", reply.body);
                    // A page names who is signed in, so it is compared with the same
                    // caller's page for a matter that does not exist.
                    let missing_body = if page {
                        let (p, body) = request(path, method, &missing, &c.ids["norole"]);
                        call_route(&c, method, &p, token.as_deref(), body).await.body
                    } else {
                        not_found_body.clone()
                    };
                    assert_eq!(
                        reply.body, missing_body,
                        "{caller:?} {method} {path}: same body as a missing matter"
                    );
                }
                (_, true) => assert!(
                    reply.status < 400 || reply.status == 409,
                    "{caller:?} {method} {path} should be allowed: {} {}",
                    reply.status,
                    reply.body
                ),
            }
            // Every signed-in caller gets 404 for an id that does not exist.
            if let Some(token) = token {
                let (p, body) = request(path, method, &missing, &target);
                let reply = call_route(&c, method, &p, Some(&token), body).await;
                cells += 1;
                assert_eq!(reply.status, 404, "{caller:?} {method} {path} on a missing id");
            }
        }
    }
    println!(
        "access matrix: {} matter routes x {} callers x existing/missing ids = {cells} requests",
        routes.len(),
        Caller::ALL.len()
    );
});

both_backends!(lists_show_only_readable_matters, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    for (token, sees) in [
        (&c.lead, true),
        (&c.member, true),
        (&c.viewer, true),
        (&c.billing, true),
        (&c.walled, false),
        (&c.no_role, false),
        (&c.admin, false),
        (&c.outsider, false),
    ] {
        let list = c.h.call("GET", "/api/v1/matters", Some(token), None).await;
        let found = list.body["items"].as_array().unwrap().iter().any(|m| m["id"] == matter.as_str());
        assert_eq!(found, sees, "{}", list.body);
    }
    let directory = c.h.call("GET", "/api/v1/admin/matters", Some(&c.admin), None).await;
    let entry = directory.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == matter.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["lead"], c.ids["lead"].as_str());
    assert!(entry.get("description").is_none(), "the directory holds no content");
    assert_eq!(c.h.call("GET", "/api/v1/admin/matters", Some(&c.lead), None).await.status, 403);
});

both_backends!(
    matters_are_numbered_per_firm_and_year_and_close_delete_and_restore,
    |env: TestEnv| async move {
        let c = cast(env).await;
        let (first, _) = fixture(&c).await;
        let (second, _) = fixture(&c).await;
        let number = |id: &str| {
            let id = id.to_owned();
            let c = &c;
            async move {
                c.h.call("GET", &format!("/api/v1/matters/{id}"), Some(&c.lead), None).await.body["number"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let year = c.h.clock.now().year();
        assert_eq!(number(&first).await, format!("FIRM-{year}-0001"));
        assert_eq!(number(&second).await, format!("FIRM-{year}-0002"));

        let closed = c.h.call("POST", &format!("/api/v1/matters/{first}/close"), Some(&c.lead), None).await;
        assert_eq!(closed.body["status"], "closed");
        assert_eq!(
            c.h.call("DELETE", &format!("/api/v1/matters/{first}"), Some(&c.lead), None).await.status,
            204
        );
        assert_eq!(
            c.h.call("GET", &format!("/api/v1/matters/{first}"), Some(&c.lead), None).await.status,
            404,
            "deleted"
        );
        c.h.clock.advance(Duration::days(29));
        let lead = c.h.sign_in("lead@firm.example", PASSWORD).await;
        assert_eq!(
            c.h.call("POST", &format!("/api/v1/matters/{first}/restore"), Some(&lead), None).await.status,
            200
        );
        assert_eq!(c.h.call("GET", &format!("/api/v1/matters/{first}"), Some(&lead), None).await.status, 200);
        assert_eq!(
            c.h.call("DELETE", &format!("/api/v1/matters/{first}"), Some(&lead), None).await.status,
            204
        );
        c.h.clock.advance(Duration::days(31));
        let lead = c.h.sign_in("lead@firm.example", PASSWORD).await;
        let late = c.h.call("POST", &format!("/api/v1/matters/{first}/restore"), Some(&lead), None).await;
        assert_eq!((late.status, late.code()), (410, "grace_period_passed"), "past the grace period");
    }
);

both_backends!(notes_keep_versions_and_members_cannot_remove_the_last_lead, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, note) = fixture(&c).await;
    let edited =
        c.h.call(
            "PATCH",
            &format!("/api/v1/notes/{note}"),
            Some(&c.member),
            Some(json!({ "body": "settle below 3m" })),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["version"], 2);
    let read = c.h.call("GET", &format!("/api/v1/notes/{note}"), Some(&c.viewer), None).await;
    assert_eq!(read.body["body"], "settle below 3m");
    assert_eq!(
        c.h.call("GET", &format!("/api/v1/matters/{matter}/notes"), Some(&c.billing), None).await.status,
        404
    );
    let bad =
        c.h.call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&c.member),
            Some(json!({ "kind": "gossip", "body": "x", "privileged": false })),
        )
        .await;
    assert_eq!(bad.status, 400);
    let demote =
        c.h.call(
            "PUT",
            &format!("/api/v1/matters/{matter}/members/{}", c.ids["lead"]),
            Some(&c.lead),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!((demote.status, demote.code()), (409, "last_lead"));
});

both_backends!(walls_and_admin_self_grants_are_told_and_recorded, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    assert!(c.h.latest_mail("walled@firm.example").contains("ethical wall"));
    let notice = c.h.latest_mail("<walled@firm.example>");
    assert!(notice.contains("Dear Walled,"), "people are greeted by name: {notice}");
    assert!(
        !c.h.latest_mail("walled@firm.example").contains(&matter),
        "the walled user is not told which matter"
    );
    let team_notice = c.h.latest_mail("member@firm.example");
    assert!(team_notice.contains("walled@firm.example) is now screened from matter FIRM-"), "{team_notice}");

    let admin_id = c.h.call("GET", "/api/v1/me", Some(&c.admin), None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant =
        c.h.call(
            "PUT",
            &format!("/api/v1/matters/{matter}/members/{admin_id}"),
            Some(&c.admin),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(grant.status, 204, "{}", grant.body);
    assert!(c.h.latest_mail("lead@firm.example").contains("gave themselves a role"));
    assert_eq!(
        c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&c.admin), None).await.status,
        200,
        "now through a role"
    );
    let trail =
        c.h.call(
            "GET",
            &format!("/api/v1/audit?matter={matter}&action=matter.role.self_granted"),
            Some(&c.auditor),
            None,
        )
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1, "{}", trail.body);
    let denied =
        c.h.call(
            "GET",
            &format!("/api/v1/audit?action=matter.access.denied&user={}", c.ids["walled"]),
            Some(&c.auditor),
            None,
        )
        .await;
    assert!(denied.body["items"].as_array().is_some());
});

both_backends!(clients_are_validated_and_billing_sees_names_only, |env: TestEnv| async move {
    let c = cast(env).await;
    let bad =
        c.h.call("POST", "/api/v1/clients", Some(&c.lead), Some(json!({ "name": "", "kind": "person" })))
            .await;
    assert!(bad.body["error"]["message"].as_str().unwrap().starts_with("name:"));
    let bad =
        c.h.call("POST", "/api/v1/clients", Some(&c.lead), Some(json!({ "name": "Ann", "kind": "robot" })))
            .await;
    assert!(bad.body["error"]["message"].as_str().unwrap().starts_with("kind:"));
    let created = c
        .h
        .call("POST", "/api/v1/clients", Some(&c.lead), Some(json!({ "name": "Ann Client", "kind": "person", "id_number": "8001015009087", "email": "ann@client.example" })))
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(created.body["id_number"], "8001015009087", "the one who took the client in");
    let full = c.h.call("GET", &format!("/api/v1/clients/{id}"), Some(&c.lead), None).await;
    assert_eq!(full.body["id_number"], "8001015009087");
    let names_only = c.h.call("GET", &format!("/api/v1/clients/{id}"), Some(&c.billing), None).await;
    assert_eq!(names_only.body, json!({ "id": id, "name": "Ann Client", "kind": "person" }));
    assert_eq!(
        c.h.call("POST", "/api/v1/clients", Some(&c.billing), Some(json!({ "name": "X", "kind": "person" })))
            .await
            .status,
        403
    );
});

/// Counts the matters and notes a query *without* any access check sees, run directly as
/// the firm's runtime role on behalf of `user` (or of nobody).
/// (matters, notes, memberships, walls, history lines, documents, kinds of indexed terms)
async fn unchecked_counts(c: &Cast, user: Option<&str>) -> (i64, i64, i64, i64, i64, i64, i64) {
    unchecked_counts_with(c, user, false, false).await
}

/// [`unchecked_counts`] with the reach the application gives audit officers (`sees_all`)
/// and administrators (both).
async fn unchecked_counts_with(
    c: &Cast,
    user: Option<&str>,
    sees_all: bool,
    manages_all: bool,
) -> (i64, i64, i64, i64, i64, i64, i64) {
    use sqlx::{Connection, Executor, Row};
    let db = c.h.env.database.as_ref().expect("postgres");
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let hex = c.h.firm.simple();
    let mut tx = conn.begin().await.unwrap();
    tx.execute(sqlx::AssertSqlSafe(format!(
        r#"SET LOCAL ROLE "rf_{hex}"; SET LOCAL search_path TO "firm_{hex}""#
    )))
    .await
    .unwrap();
    if let Some(user) = user {
        sqlx::query("SELECT set_config('ringfence.user_id', $1, true)")
            .bind(user)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let on = |yes: bool| if yes { "on" } else { "off" };
    sqlx::query(
        "SELECT set_config('ringfence.sees_all_matters', $1, true), set_config('ringfence.manages_all_matters', $2, true)",
    )
    .bind(on(sees_all))
    .bind(on(manages_all))
    .execute(&mut *tx)
    .await
    .unwrap();
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM matters) AS matters, (SELECT COUNT(*) FROM notes) AS notes,
                (SELECT COUNT(*) FROM matter_members) AS members, (SELECT COUNT(*) FROM matter_walls) AS walls,
                (SELECT COUNT(*) FROM matter_access_history) AS history,
                (SELECT COUNT(*) FROM documents) + (SELECT COUNT(*) FROM document_versions) AS documents,
                (SELECT COUNT(DISTINCT kind) FROM search_terms) AS indexed",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let count = |name: &str| row.get::<i64, _>(name);
    (
        count("matters"),
        count("notes"),
        count("members"),
        count("walls"),
        count("history"),
        count("documents"),
        count("indexed"),
    )
}

#[tokio::test]
async fn postgres_row_security_hides_matters_from_a_query_that_forgot_the_check() {
    let Some(env) = TestEnv::new(ringfence_testkit::Backend::Postgres).await else { return };
    let c = cast(env).await;
    Targets::of(&c, fixture(&c).await).await;
    assert_eq!(
        unchecked_counts(&c, Some(&c.ids["lead"])).await,
        (1, 1, 6, 3, 9, 2, 3),
        "the lead sees all of its matter"
    );
    assert_eq!(
        unchecked_counts(&c, Some(&c.ids["billing"])).await,
        (1, 0, 6, 0, 0, 0, 1),
        "billing: the matter and its own terms, no notes or documents"
    );
    for nobody in [
        Some(c.ids["norole"].as_str()),
        Some(c.ids["walled"].as_str()),
        Some(c.ids["clientwalled"].as_str()),
        None,
    ] {
        assert_eq!(unchecked_counts(&c, nobody).await, (0, 0, 0, 0, 0, 0, 0), "{nobody:?} sees nothing");
    }
    assert_eq!(
        unchecked_counts_with(&c, Some(&c.ids["auditor"]), true, false).await,
        (1, 0, 0, 0, 9, 0, 0),
        "an audit officer: that the matter exists, and its access history"
    );
    assert_eq!(
        unchecked_counts_with(&c, Some(&c.ids["walledauditor"]), true, false).await,
        (0, 0, 0, 0, 0, 0, 0),
        "a wall screens an audit officer too"
    );
    let admin = c.h.call("GET", "/api/v1/me", Some(&c.admin), None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        unchecked_counts_with(&c, Some(&admin), true, true).await,
        (1, 0, 6, 3, 9, 0, 0),
        "an administrator: the team, its walls and history, no content"
    );
    assert_eq!(
        unchecked_counts_with(&c, Some(&c.ids["walledadmin"]), true, true).await,
        (0, 0, 0, 0, 0, 0, 0),
        "a wall screens an administrator too"
    );
}

both_backends!(no_plaintext_of_notes_descriptions_or_identity_numbers_is_stored, |env: TestEnv| async move {
    let c = cast(env).await;
    let client =
        c.h.call(
            "POST",
            "/api/v1/clients",
            Some(&c.lead),
            Some(json!({ "name": "Plain Name", "kind": "person", "id_number": "ID-Marker-7731-Quokka" })),
        )
        .await;
    let client = client.body["id"].as_str().unwrap().to_owned();
    let matter = c
        .h
        .call(
            "POST",
            "/api/v1/matters",
            Some(&c.lead),
            Some(json!({ "title": "Title-Marker-Wombat", "client_id": client, "description": "Description-Marker-Numbat" })),
        )
        .await;
    let matter = matter.body["id"].as_str().unwrap().to_owned();
    let note =
        c.h.call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&c.lead),
            Some(json!({ "kind": "statement", "body": "Body-Marker-Bilby", "privileged": true })),
        )
        .await;
    let note = note.body["id"].as_str().unwrap().to_owned();
    c.h.call(
        "PATCH",
        &format!("/api/v1/notes/{note}"),
        Some(&c.lead),
        Some(json!({ "body": "Edit-Marker-Dingo" })),
    )
    .await;
    let markers = [
        "ID-Marker-7731",
        "Title-Marker-Wombat",
        "Description-Marker-Numbat",
        "Body-Marker-Bilby",
        "Edit-Marker-Dingo",
    ];

    let mut files = vec![c.h.env.data_dir().to_owned()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if !path.to_string_lossy().contains("outbox") {
            let bytes = std::fs::read(&path).unwrap();
            for marker in markers {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                    "{marker} in {}",
                    path.display()
                );
            }
        }
    }
    if let Some(db) = &c.h.env.database {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let schema = format!("firm_{}", c.h.firm.simple());
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
        )
        .bind(&schema)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(tables.iter().any(|t| t == "notes"));
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                r#"SELECT t::text FROM "{schema}"."{table}" t"#
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for marker in markers {
                assert!(!rows.iter().any(|r| r.contains(marker)), "{marker} in {table}");
            }
        }
    }
    let read = c.h.call("GET", &format!("/api/v1/notes/{note}"), Some(&c.lead), None).await;
    assert_eq!(read.body["body"], "Edit-Marker-Dingo", "and it reads back");
});

both_backends!(access_history_answers_who_could_read_a_matter_on_a_date, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    let then = c.h.clock.now();
    c.h.clock.advance(Duration::minutes(5));
    let lead = c.h.sign_in("lead@firm.example", PASSWORD).await;
    let removed = c
        .h
        .call("DELETE", &format!("/api/v1/matters/{matter}/members/{}", c.ids["viewer"]), Some(&lead), None)
        .await;
    assert_eq!(removed.status, 204);
    let readers = |at: Option<time::OffsetDateTime>| {
        let c = &c;
        let lead = lead.clone();
        let matter = matter.clone();
        async move {
            let query = at
                .map(|t| {
                    format!(
                        "?at={}",
                        t.format(&time::format_description::well_known::Rfc3339).unwrap().replace('+', "%2B")
                    )
                })
                .unwrap_or_default();
            let reply = c
                .h
                .call("GET", &format!("/api/v1/matters/{matter}/access-history{query}"), Some(&lead), None)
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let mut who: Vec<String> = reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["email"].as_str().unwrap().to_owned())
                .collect();
            who.sort();
            (who, reply.body)
        }
    };
    let (before, body) = readers(Some(then)).await;
    assert_eq!(
        before,
        ["lead@firm.example", "member@firm.example", "viewer@firm.example"],
        "billing reads nothing; the walled member is screened"
    );
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["granted_by_email"] == "lead@firm.example"));
    let (now, _) = readers(None).await;
    assert_eq!(now, ["lead@firm.example", "member@firm.example"]);
    let auditor = c.h.sign_in("auditor@firm.example", PASSWORD).await;
    assert_eq!(
        c.h.call("GET", &format!("/api/v1/matters/{matter}/access-history"), Some(&auditor), None)
            .await
            .status,
        200
    );
    assert_eq!(
        c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&auditor), None).await.status,
        404,
        "no content for auditors"
    );
    assert_eq!(
        c.h.call("GET", &format!("/api/v1/matters/{matter}/access-history"), Some(&c.member), None)
            .await
            .status,
        404
    );
});

both_backends!(notes_are_listed_a_page_at_a_time, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, first) = fixture(&c).await;
    let mut written = vec![first];
    for i in 0..4 {
        let note =
            c.h.call(
                "POST",
                &format!("/api/v1/matters/{matter}/notes"),
                Some(&c.member),
                Some(json!({ "kind": "note", "body": format!("note {i}"), "privileged": false })),
            )
            .await;
        assert_eq!(note.status, 201, "{}", note.body);
        written.push(note.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.as_ref().map_or(String::new(), |c| format!("&cursor={c}"));
        let page =
            c.h.call("GET", &format!("/api/v1/matters/{matter}/notes?limit=2{query}"), Some(&c.viewer), None)
                .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|n| n["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), written.len(), "no note twice: {seen:?}");
    seen.sort();
    written.sort();
    assert_eq!(seen, written, "every note once");
    for bad in ["limit=0", "limit=501", "limit=x", "cursor=garbage", "cursor=1.zz", "cursor=%00"] {
        let page =
            c.h.call("GET", &format!("/api/v1/matters/{matter}/notes?{bad}"), Some(&c.viewer), None).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
});

both_backends!(every_refusal_is_recorded_with_the_matter_it_concerns, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, note) = fixture(&c).await;
    let shouting = format!("URN:UUID:{}", matter.to_uppercase());
    let refusals: Vec<(&str, String, Option<Value>, u16)> = vec![
        // No role on the matter: 404, whatever the spelling of its id.
        ("GET", format!("/api/v1/matters/{shouting}"), None, 404),
        // A note of it (PostgreSQL's row security hides the note from this caller).
        ("GET", format!("/api/v1/notes/{note}"), None, 404),
        // Refused for its body or query before any access check.
        ("POST", format!("/api/v1/matters/{matter}/notes"), Some(json!({ "kind": 7 })), 400),
        ("GET", format!("/api/v1/matters/{matter}/notes?limit=x"), None, 400),
        ("PATCH", format!("/api/v1/notes/{note}"), Some(json!({ "body": "a\u{0}b" })), 400),
    ];
    for (method, path, body, status) in &refusals {
        let reply = c.h.call(method, path, Some(&c.no_role), body.clone()).await;
        assert_eq!(reply.status, *status, "{method} {path}: {}", reply.body);
    }
    let trail =
        c.h.call("GET", &format!("/api/v1/audit?matter={matter}&limit=500"), Some(&c.auditor), None).await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    let by_no_role: Vec<&Value> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["id"] == c.ids["norole"].as_str())
        .collect();
    assert_eq!(
        by_no_role.len(),
        refusals.len(),
        "one entry per refusal, each with its matter: {by_no_role:#?}"
    );
    let denied =
        c.h.call("GET", &format!("/api/v1/audit?matter={matter}&outcome=denied"), Some(&c.auditor), None)
            .await;
    let denied_ids: Vec<&Value> = denied.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["id"] == c.ids["norole"].as_str())
        .collect();
    assert_eq!(denied_ids.len(), 2, "the two access refusals: {denied_ids:#?}");

    // Reading the log and the administrators' directory is on the record too.
    assert_eq!(c.h.call("GET", "/api/v1/admin/matters", Some(&c.admin), None).await.status, 200);
    for (action, reader) in [("audit.viewed", "auditor"), ("matter.directory.viewed", "admin")] {
        let found = c.h.call("GET", &format!("/api/v1/audit?action={action}"), Some(&c.auditor), None).await;
        let readers: Vec<&Value> =
            found.body["items"].as_array().unwrap().iter().map(|e| &e["actor"]["kind"]).collect();
        assert!(!readers.is_empty(), "{action} by {reader} is recorded: {}", found.body);
    }

    // Filters with hostile values are refused, never a 500 or a cut-off export.
    for bad in ["matter=%00", "user=%00", "matter=x%00y", "action=a%00", "action=%E2%80%AE"] {
        for route in ["/api/v1/audit", "/api/v1/audit.csv"] {
            let reply = c.h.call("GET", &format!("{route}?{bad}"), Some(&c.auditor), None).await;
            assert_eq!(reply.status, 400, "{route}?{bad}: {}", reply.body);
        }
    }
});

/// A page or download as text, with its status.
async fn text_of(c: &Cast, path: &str, token: &str) -> (u16, String) {
    let response = c.h.respond("GET", path, Some(token), axum::body::Body::empty(), &[]).await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

both_backends!(walls_screen_every_kind_of_user_from_every_view_of_the_matter, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    let number =
        c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&c.lead), None).await.body["number"]
            .as_str()
            .unwrap()
            .to_owned();

    // The administrators' directory, as JSON and as a page.
    for (token, listed) in [(&c.admin, true), (&c.walled_admin, false)] {
        let directory = c.h.call("GET", "/api/v1/admin/matters", Some(token), None).await;
        assert_eq!(directory.status, 200);
        let found = directory.body["items"].as_array().unwrap().iter().any(|m| m["id"] == matter.as_str());
        assert_eq!(found, listed, "{}", directory.body);
        let (status, html) = text_of(&c, "/admin/matters", token).await;
        assert_eq!(status, 200);
        assert_eq!(html.contains("Acme v Widget"), listed, "{html}");
        assert_eq!(html.contains(&number), listed);
    }

    // The audit log: by matter (JSON and CSV), and unfiltered.
    for (token, reviews) in
        [(&c.auditor, true), (&c.admin, true), (&c.walled_auditor, false), (&c.walled_admin, false)]
    {
        let trail = c.h.call("GET", &format!("/api/v1/audit?matter={matter}"), Some(token), None).await;
        let missing =
            c.h.call("GET", &format!("/api/v1/audit?matter={}", uuid::Uuid::new_v4()), Some(token), None)
                .await;
        assert_eq!(missing.status, 404, "a matter that does not exist");
        if reviews {
            assert_eq!(trail.status, 200, "{}", trail.body);
            assert!(!trail.body["items"].as_array().unwrap().is_empty());
        } else {
            assert_eq!((trail.status, &trail.body), (404, &missing.body), "as if it did not exist");
        }
        let (status, csv) = text_of(&c, &format!("/api/v1/audit.csv?matter={matter}"), token).await;
        assert_eq!(status, if reviews { 200 } else { 404 }, "{csv}");
        let all = c.h.call("GET", "/api/v1/audit?limit=500", Some(token), None).await;
        let on_matter = all.body["items"].as_array().unwrap().iter().any(|e| e["matter"] == matter.as_str());
        assert_eq!(on_matter, reviews, "the unfiltered log");
        let (_, csv) = text_of(&c, "/api/v1/audit.csv", token).await;
        assert_eq!(csv.contains(&matter), reviews, "the unfiltered export");
    }

    // Access history: audit officers read it (all of it), a wall screens them.
    let history = |token: String| {
        let (c, matter) = (&c, matter.clone());
        async move {
            let reply =
                c.h.call("GET", &format!("/api/v1/matters/{matter}/access-history"), Some(&token), None)
                    .await;
            (reply.status, reply.body["items"].as_array().map_or(0, Vec::len))
        }
    };
    let of_lead = history(c.lead.clone()).await;
    assert_eq!(of_lead, (200, 3), "the lead, the member and the viewer; the walled ones are screened");
    assert_eq!(history(c.auditor.clone()).await, of_lead, "an audit officer reads the same");
    assert_eq!(history(c.admin.clone()).await, of_lead);
    assert_eq!(history(c.walled_auditor.clone()).await.0, 404);
    assert_eq!(history(c.walled_admin.clone()).await.0, 404);

    // A wall on the client: the member's lists, home page and search no longer show it.
    let list = c.h.call("GET", "/api/v1/matters", Some(&c.client_walled), None).await;
    assert!(!list.body["items"].as_array().unwrap().iter().any(|m| m["id"] == matter.as_str()));
    let (_, home) = text_of(&c, "/home", &c.client_walled).await;
    assert!(!home.contains("Acme v Widget"), "{home}");
    let search = c.h.call("GET", "/api/v1/search?q=widget", Some(&c.client_walled), None).await;
    assert_eq!(search.body["items"], json!([]), "{}", search.body);
    let search = c.h.call("GET", "/api/v1/search?q=widget", Some(&c.member), None).await;
    assert_eq!(search.body["items"].as_array().unwrap().len(), 1, "{}", search.body);
});

both_backends!(billing_never_reads_the_sealed_description, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    let changed =
        c.h.call(
            "PATCH",
            &format!("/api/v1/matters/{matter}"),
            Some(&c.lead),
            Some(json!({ "description": "Secret strategy involving kookaburra holdings" })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    for (token, reads) in [(&c.viewer, true), (&c.billing, false)] {
        let one = c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(token), None).await;
        assert_eq!(one.status, 200);
        assert_eq!(one.body["description"].is_string(), reads, "{}", one.body);
        let list = c.h.call("GET", "/api/v1/matters", Some(token), None).await;
        let listed =
            list.body["items"].as_array().unwrap().iter().find(|m| m["id"] == matter.as_str()).unwrap();
        assert_eq!(listed["description"].is_string(), reads, "{listed}");
        let (_, html) = text_of(&c, &format!("/matters/{matter}"), token).await;
        assert_eq!(html.contains("kookaburra"), reads);
        // A word only in the description finds the matter only for those who read it.
        let found = c.h.call("GET", "/api/v1/search?q=kookaburra", Some(token), None).await;
        assert_eq!(found.body["items"].as_array().unwrap().len(), usize::from(reads), "{}", found.body);
        // A word of the title finds it for both; the snippet shows no description.
        let found = c.h.call("GET", "/api/v1/search?q=widget", Some(token), None).await;
        let hits = found.body["items"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "{}", found.body);
        if !reads {
            assert!(!hits[0]["snippet"].as_str().unwrap().contains("kookaburra"), "{}", found.body);
        }
    }
});

both_backends!(any_change_of_an_administrators_own_role_is_a_self_grant, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    let admin_id = c.h.call("GET", "/api/v1/me", Some(&c.admin), None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The lead gives the administrator a billing role; the administrator makes itself lead.
    let path = format!("/api/v1/matters/{matter}/members/{admin_id}");
    let given = c.h.call("PUT", &path, Some(&c.lead), Some(json!({ "role": "billing" }))).await;
    assert_eq!(given.status, 204);
    let mails_before = c.h.outbox().len();
    let taken = c.h.call("PUT", &path, Some(&c.admin), Some(json!({ "role": "lead" }))).await;
    assert_eq!(taken.status, 204, "{}", taken.body);
    let trail =
        c.h.call(
            "GET",
            &format!("/api/v1/audit?matter={matter}&action=matter.role.self_granted"),
            Some(&c.auditor),
            None,
        )
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1, "{}", trail.body);
    assert!(c.h.outbox().len() > mails_before, "the lead is told");
    assert!(c.h.latest_mail("lead@firm.example").contains("gave themselves a role"));
});

both_backends!(a_wall_notice_goes_only_to_whom_it_concerns, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    let mails_to = |who: &str| {
        let who = who.to_owned();
        let address = format!("<{who}>");
        c.h.outbox()
            .iter()
            .filter(|text| text.lines().any(|l| l.starts_with("To: ") && l.trim_end().ends_with(&address)))
            .count()
    };
    let walled_before = mails_to("walled@firm.example");
    let member_before = mails_to("member@firm.example");
    // Walling someone else: the team is told, but not a member already walled off.
    let wall =
        c.h.call("PUT", &format!("/api/v1/matters/{matter}/walls/{}", c.ids["norole"]), Some(&c.admin), None)
            .await;
    assert_eq!(wall.status, 204);
    assert_eq!(mails_to("member@firm.example"), member_before + 1);
    assert_eq!(mails_to("walled@firm.example"), walled_before, "a walled member learns nothing new");
    // Walling the walled user again changes nothing and tells no one.
    let again =
        c.h.call("PUT", &format!("/api/v1/matters/{matter}/walls/{}", c.ids["walled"]), Some(&c.admin), None)
            .await;
    assert_eq!(again.status, 204);
    assert_eq!(mails_to("walled@firm.example"), walled_before);
    assert_eq!(mails_to("member@firm.example"), member_before + 1);
});

both_backends!(
    a_clients_details_need_a_role_on_one_of_its_matters_and_a_client_wall_beats_it,
    |env: TestEnv| async move {
        let c = cast(env).await;
        let (matter, _) = fixture(&c).await;
        let client = c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&c.lead), None).await.body
        ["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
        let path = format!("/api/v1/clients/{client}");
        let details = json!({ "name": "Acme Holdings", "kind": "organisation", "email": "legal@acme.example", "id_number": "REG-2001-77" });
        let saved = c.h.call("PATCH", &path, Some(&c.lead), Some(details.clone())).await;
        assert_eq!(saved.status, 200, "{}", saved.body);
        let names_only = json!({ "id": client, "name": "Acme Holdings", "kind": "organisation" });

        // (caller, reads the details, may change them)
        for (who, token, reads, edits) in [
            ("lead", &c.lead, true, true),
            ("member", &c.member, true, true),
            ("viewer", &c.viewer, true, false),
            ("billing", &c.billing, true, false),
            ("no role", &c.no_role, false, false),
            ("walled", &c.walled, false, false),
            ("client walled", &c.client_walled, false, false),
            ("admin", &c.admin, false, false),
            ("auditor", &c.auditor, false, false),
        ] {
            let read = c.h.call("GET", &path, Some(token), None).await;
            assert_eq!(read.status, 200, "{who}");
            if reads {
                assert_eq!(read.body["id_number"], "REG-2001-77", "{who}");
            } else {
                assert_eq!(read.body, names_only, "{who}");
            }
            let listed = c.h.call("GET", "/api/v1/clients", Some(token), None).await;
            let entry = listed.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == client.as_str())
                .unwrap()
                .clone();
            assert_eq!(entry, names_only, "{who}: a list holds names only");
            let blank = json!({ "name": "Acme Holdings", "kind": "organisation" });
            let write = c.h.call("PATCH", &path, Some(token), Some(blank)).await;
            match (edits, write.status) {
                (true, 200) => {
                    let restored = c.h.call("PATCH", &path, Some(&c.lead), Some(details.clone())).await;
                    assert_eq!(restored.status, 200);
                }
                // Firm roles that never keep client records are refused at the route.
                (false, 404 | 403) => {}
                other => panic!("{who}: {other:?} {}", write.body),
            }
        }
        let unchanged = c.h.call("GET", &path, Some(&c.lead), None).await;
        assert_eq!(unchanged.body["id_number"], "REG-2001-77", "no refused write went through");

        // Reads are on the record, by id only.
        let viewed =
            c.h.call("GET", "/api/v1/audit?action=client.viewed&limit=500", Some(&c.auditor), None).await;
        let entries = viewed.body["items"].as_array().unwrap();
        assert!(entries.iter().any(|e| e["resource"]["id"] == client.as_str()), "{}", viewed.body);
        assert!(!viewed.body.to_string().contains("REG-2001-77"));
        assert!(!viewed.body.to_string().contains("Acme Holdings"));

        // A wall on the client, later lifted: its matters come back.
        let wall = format!("/api/v1/clients/{client}/walls/{}", c.ids["member"]);
        assert_eq!(c.h.call("PUT", &wall, Some(&c.lead), None).await.status, 403, "administrators only");
        assert_eq!(c.h.call("PUT", &wall, Some(&c.admin), None).await.status, 204);
        assert_eq!(
            c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&c.member), None).await.status,
            404
        );
        assert_eq!(c.h.call("GET", &path, Some(&c.member), None).await.body, names_only);
        assert!(c.h.latest_mail("member@firm.example").contains("a client of your firm"));
        assert!(
            c.h.latest_mail("lead@firm.example")
                .contains("Member (member@firm.example) is now screened from matter FIRM-"),
            "the matter's team is told"
        );
        let opened =
            c.h.call(
                "POST",
                "/api/v1/matters",
                Some(&c.member),
                Some(json!({ "title": "Back door", "client_id": client })),
            )
            .await;
        assert_eq!(opened.status, 400, "no new matter for a client one is walled from: {}", opened.body);
        assert_eq!(
            c.h.call("PUT", &wall, Some(&c.walled_admin), None).await.status,
            204,
            "again: nothing changes"
        );
        assert_eq!(c.h.call("DELETE", &wall, Some(&c.admin), None).await.status, 204);
        assert_eq!(c.h.call("DELETE", &wall, Some(&c.admin), None).await.status, 404, "no wall stands");
        assert_eq!(
            c.h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&c.member), None).await.status,
            200
        );

        // A new client with no matter yet belongs to whoever took it in.
        let fresh =
            c.h.call(
                "POST",
                "/api/v1/clients",
                Some(&c.member),
                Some(json!({ "name": "Bea New", "kind": "person", "phone": "+27 21 555 0100" })),
            )
            .await;
        assert_eq!(fresh.status, 201);
        let fresh = format!("/api/v1/clients/{}", fresh.body["id"].as_str().unwrap());
        assert_eq!(c.h.call("GET", &fresh, Some(&c.member), None).await.body["phone"], "+27 21 555 0100");
        assert!(c.h.call("GET", &fresh, Some(&c.lead), None).await.body.get("phone").is_none());
        assert_eq!(
            c.h.call("PATCH", &fresh, Some(&c.lead), Some(json!({ "name": "Taken Over", "kind": "person" })))
                .await
                .status,
            404
        );
    }
);

// Every kind of principal a firm transaction can run as, with the matters row security
// lets it see of a firm that has one: a firm user as far as its standing reaches, anyone
// else (not signed in, or the deployment's own tasks) none at all.
both_backends!(a_transaction_reaches_what_its_principal_may_and_no_more, |env: TestEnv| async move {
    use ringfence_core::ids::{SessionId, UserId};
    use ringfence_core::principal::{FirmUser, Principal, SystemTask};
    use ringfence_store::firm::matters::directory;
    let c = cast(env).await;
    fixture(&c).await;
    let store = c.h.state.storage.firm(c.h.firm).await.unwrap();
    let user = |name: &str, role: FirmRole| {
        Principal::FirmUser(FirmUser {
            firm: c.h.firm,
            user: c.ids[name].parse::<UserId>().unwrap(),
            email: Email::parse(&format!("{name}@firm.example")).unwrap(),
            roles: [role].into_iter().collect(),
            session: SessionId::random(),
        })
    };
    let system = [
        SystemTask::Provisioning,
        SystemTask::AuditLog,
        SystemTask::AuditShipping,
        SystemTask::KeyRotation,
        SystemTask::BlobSweep,
        SystemTask::SearchIndex,
        SystemTask::Retention,
        SystemTask::Export,
        SystemTask::Backup,
        SystemTask::CommandLine,
        SystemTask::Benchmark,
    ];
    let mut principals = vec![
        (user("lead", FirmRole::Attorney), 1),
        (user("norole", FirmRole::Attorney), 0),
        (user("walled", FirmRole::Attorney), 0),
        (Principal::Anonymous, 0),
    ];
    principals.extend(system.map(|task| (Principal::System(task), 0)));
    let postgres = c.h.env.database.is_some();
    for (principal, sees) in principals {
        for read_only in [true, false] {
            let mut tx = if read_only {
                store.begin_read(&principal).await.unwrap()
            } else {
                store.begin(&principal).await.unwrap()
            };
            // The directory's query screens by walls only: what else hides a matter here
            // is row security, following the principal.
            let visible = directory(&mut tx, UserId::random()).await.unwrap().len();
            tx.commit().await.unwrap();
            // SQLite has no row security: there the ring-fence's check is the only fence
            // (the access matrix above); on PostgreSQL the database holds the line too.
            if postgres {
                assert_eq!(visible, sees, "{principal:?} sees {visible} matters");
            } else {
                assert_eq!(visible, 1);
            }
        }
    }
});

both_backends!(a_malformed_user_id_is_a_404_before_any_matter_check, |env: TestEnv| async move {
    let c = cast(env).await;
    let (matter, _) = fixture(&c).await;
    let role = || Some(json!({ "role": "member" }));
    let routes = [
        ("PUT", format!("/api/v1/matters/{matter}/members/not-a-user"), role()),
        ("DELETE", format!("/api/v1/matters/{matter}/members/not-a-user"), None),
        ("PUT", format!("/api/v1/matters/{matter}/walls/not-a-user"), None),
        ("DELETE", format!("/api/v1/matters/{matter}/walls/not-a-user"), None),
    ];
    for (method, path, body) in routes {
        let as_admin = c.h.call(method, &path, Some(&c.admin), body.clone()).await;
        assert_eq!(as_admin.status, 404, "{method} {path}: {}", as_admin.body);
        let as_stranger = c.h.call(method, &path, Some(&c.no_role), body).await;
        assert_eq!((as_stranger.status, &as_stranger.body), (404, &as_admin.body), "{method} {path}");
    }
    // Refused before the matter's access check: none of it is on the record as one, while a
    // well-formed id goes through the check and is.
    let denials = async || {
        let path = format!("/api/v1/audit?action=matter.access.denied&user={}", c.ids["norole"]);
        let found = c.h.call("GET", &path, Some(&c.auditor), None).await;
        assert_eq!(found.status, 200, "{}", found.body);
        found.body["items"].as_array().unwrap().len()
    };
    assert_eq!(denials().await, 0);
    let well_formed = format!("/api/v1/matters/{matter}/walls/{}", c.ids["member"]);
    assert_eq!(c.h.call("PUT", &well_formed, Some(&c.no_role), None).await.status, 404);
    assert_eq!(denials().await, 1);
});
