//! Data subjects' requests: the register and its due days on the test clock, a client
//! subject's report, correction and erasure, who may handle them, and what the database
//! keeps afterwards.

use ringfence_core::clock::Clock;
use ringfence_core::data_subject::format_day;
use ringfence_core::policy::{AccessPolicy, DATA_SUBJECT_HANDLERS};
use ringfence_server::route_table;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::pages::{browser_sign_in, encode, hidden, page};
use super::sign_in_harness::*;

const PASSWORD: &str = "a long shared test passphrase";
const REGISTER: &str = "/api/v1/data-subject-requests";

struct Firm {
    h: Harness,
    admin: String,
    lead: String,
}

async fn firm(env: TestEnv) -> Firm {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    Firm { h, admin, lead }
}

impl Firm {
    /// A client taken in by the lead: its id.
    async fn client(&self, fields: Value) -> String {
        let created = self.h.call("POST", "/api/v1/clients", Some(&self.lead), Some(fields)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    }

    /// A matter for the client, opened by the lead: (id, number).
    async fn matter(&self, client: &str, title: &str, description: &str) -> (String, String) {
        let body = json!({ "client_id": client, "title": title, "description": description });
        let opened = self.h.call("POST", "/api/v1/matters", Some(&self.lead), Some(body)).await;
        assert_eq!(opened.status, 201, "{}", opened.body);
        (opened.body["id"].as_str().unwrap().to_owned(), opened.body["number"].as_str().unwrap().to_owned())
    }

    /// Registers a request as the administrator: the request.
    async fn register(&self, body: Value) -> Value {
        let registered = self.h.call("POST", REGISTER, Some(&self.admin), Some(body)).await;
        assert_eq!(registered.status, 201, "{}", registered.body);
        registered.body
    }

    async fn on(&self, token: &str, method: &str, request: &Value, rest: &str, body: Option<Value>) -> Reply {
        let path = format!("{REGISTER}/{}{rest}", request["id"].as_str().unwrap());
        self.h.call(method, &path, Some(token), body).await
    }

    /// The audit entries of `action`, newest first.
    async fn entries(&self, action: &str) -> Vec<Value> {
        let listed =
            self.h.call("GET", &format!("/api/v1/audit?action={action}"), Some(&self.admin), None).await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        listed.body["items"].as_array().unwrap().clone()
    }
}

fn day_after(days: i64, h: &Harness) -> String {
    format_day(h.clock.now().date() + Duration::days(days))
}

both_backends!(
    requests_are_due_thirty_days_after_receipt_and_overdue_after_that,
    |env: TestEnv| async move {
        let mut f = firm(env).await;
        let client =
            f.client(json!({ "name": "Ann Subject", "kind": "person", "email": "ann@example.org" })).await;
        let access = f.register(json!({ "client_id": client, "kind": "access" })).await;
        assert_eq!(access["received_on"], day_after(0, &f.h));
        assert_eq!(access["due_on"], day_after(30, &f.h));
        assert_eq!(access["overdue"], false);
        assert_eq!(access["status"], "open");
        assert_eq!(access["subject"], json!({ "client_id": client, "name": "Ann Subject", "email": null }));
        assert_eq!(access["registered_by"], ADMIN_EMAIL);

        // Someone who is not a client, received ten days ago.
        let objection = f
            .register(json!({
                "subject_name": "Bob Contact",
                "subject_email": "Bob@Example.org",
                "kind": "objection",
                "received_on": day_after(-10, &f.h),
            }))
            .await;
        assert_eq!(objection["due_on"], day_after(20, &f.h));
        assert_eq!(
            objection["subject"],
            json!({ "client_id": null, "name": "Bob Contact", "email": "bob@example.org" })
        );

        // The firm's own number of days applies to requests registered from then on.
        let days = "/api/v1/firm/data-subject-response-days";
        assert_eq!(f.h.call("GET", days, Some(&f.admin), None).await.body, json!({ "days": 30 }));
        let set = f.h.call("PUT", days, Some(&f.admin), Some(json!({ "days": 10 }))).await;
        assert_eq!((set.status, &set.body), (200, &json!({ "days": 10 })));
        let erasure = f.register(json!({ "client_id": client, "kind": "erasure" })).await;
        assert_eq!(erasure["due_on"], day_after(10, &f.h));
        let access_again = f.on(&f.admin, "GET", &access, "", None).await;
        assert_eq!(
            access_again.body["due_on"],
            day_after(30, &f.h),
            "registered requests keep their due day"
        );

        // The register, the earliest due first, a page at a time.
        let listed = f.h.call("GET", REGISTER, Some(&f.admin), None).await;
        let ids: Vec<&Value> = listed.body["items"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
        assert_eq!(ids, [&erasure["id"], &objection["id"], &access["id"]]);
        let first = f.h.call("GET", &format!("{REGISTER}?limit=2"), Some(&f.admin), None).await;
        assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let rest =
            f.h.call("GET", &format!("{REGISTER}?limit=2&cursor={cursor}"), Some(&f.admin), None).await;
        assert_eq!(rest.body["items"][0]["id"], access["id"]);
        assert_eq!(rest.body["next_cursor"], Value::Null);

        // Thirty days on: due today is not overdue yet; past due is.
        f.h.clock.advance(Duration::days(30));
        f.admin = f.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(f.on(&f.admin, "GET", &access, "", None).await.body["overdue"], false);
        assert_eq!(f.on(&f.admin, "GET", &erasure, "", None).await.body["overdue"], true);
        assert_eq!(f.on(&f.admin, "GET", &objection, "", None).await.body["overdue"], true);
        let closed = f
            .on(
                &f.admin,
                "POST",
                &objection,
                "/close",
                Some(json!({ "outcome": "completed", "reason": "no longer mailed" })),
            )
            .await;
        assert_eq!(closed.status, 200, "{}", closed.body);
        assert_eq!(closed.body["status"], "completed");
        assert_eq!(closed.body["outcome"], "no longer mailed");
        assert_eq!(closed.body["handled_by"], ADMIN_EMAIL);
        assert_eq!(closed.body["overdue"], false, "a closed request is never overdue");
        f.h.clock.advance(Duration::days(1));
        f.admin = f.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(f.on(&f.admin, "GET", &access, "", None).await.body["overdue"], true);
        let open = f.h.call("GET", &format!("{REGISTER}?status=open"), Some(&f.admin), None).await;
        assert_eq!(open.body["items"].as_array().unwrap().len(), 2);
        assert!(open.body["items"].as_array().unwrap().iter().all(|r| r["overdue"] == true));
        let closed = f.h.call("GET", &format!("{REGISTER}?status=closed"), Some(&f.admin), None).await;
        assert_eq!(closed.body["items"][0]["id"], objection["id"]);
        assert_eq!(f.entries("data_subject.request.registered").await.len(), 3);
    }
);

both_backends!(
    the_report_holds_the_client_record_and_matter_numbers_but_no_matter_content,
    |env: TestEnv| async move {
        let f = firm(env).await;
        let client = f
            .client(json!({
                "name": "Cara Client",
                "kind": "person",
                "email": "cara@example.org",
                "phone": "+27 21 555 0100",
                "id_number": "8001015009087",
            }))
            .await;
        let (open, open_number) = f.matter(&client, "Title-Marker-Quokka", "Description-Marker-Wombat").await;
        let note = json!({ "kind": "strategy", "body": "Note-Marker-Bilby", "privileged": true });
        let noted =
            f.h.call("POST", &format!("/api/v1/matters/{open}/notes"), Some(&f.lead), Some(note)).await;
        assert_eq!(noted.status, 201);
        let (closed, closed_number) = f.matter(&client, "Title-Marker-Numbat", "").await;
        f.h.call("POST", &format!("/api/v1/matters/{closed}/close"), Some(&f.lead), None).await;
        let (deleted, deleted_number) = f.matter(&client, "Title-Marker-Dingo", "").await;
        assert_eq!(
            f.h.call("DELETE", &format!("/api/v1/matters/{deleted}"), Some(&f.lead), None).await.status,
            204
        );

        let request = f.register(json!({ "client_id": client, "kind": "access" })).await;
        let report = f.on(&f.admin, "GET", &request, "/report", None).await;
        assert_eq!(report.status, 200, "{}", report.body);
        let disposition = report.headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;") && disposition.ends_with(".json\""), "{disposition}");
        let record = f.h.call("GET", &format!("/api/v1/clients/{client}"), Some(&f.lead), None).await;
        assert_eq!(report.body["client"], record.body, "the report holds the client record as it is");
        assert_eq!(report.body["client"]["id_number"], "8001015009087", "the identity number, opened");
        let matters: Vec<(&str, &str)> = report.body["matters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["number"].as_str().unwrap(), m["status"].as_str().unwrap()))
            .collect();
        let mut expected = vec![
            (open_number.as_str(), "open"),
            (closed_number.as_str(), "closed"),
            (deleted_number.as_str(), "deleted"),
        ];
        expected.sort();
        assert_eq!(matters, expected);
        for matter in report.body["matters"].as_array().unwrap() {
            let keys: Vec<&String> = matter.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["closed_at", "deleted_at", "number", "opened_at", "status"], "no title, no id");
        }
        let text = report.body.to_string();
        for marker in ["Marker", "Quokka", "Wombat", "Bilby"] {
            assert!(!text.contains(marker), "{marker} reached the report");
        }
        let produced = f.entries("data_subject.report.produced").await;
        assert_eq!(produced.len(), 1);
        assert_eq!(produced[0]["resource"]["id"], request["id"]);
        assert_eq!(produced[0]["resource"]["type"], "data_subject_request");

        // Someone who is not a client has nothing in the client records to report.
        let person = f.register(json!({ "subject_name": "Dee Contact", "kind": "access" })).await;
        let refused = f.on(&f.admin, "GET", &person, "/report", None).await;
        assert_eq!((refused.status, refused.code()), (409, "not_a_client"));
    }
);

both_backends!(
    a_correction_changes_the_record_completes_the_request_and_is_audited,
    |env: TestEnv| async move {
        let f = firm(env).await;
        let client = f
        .client(json!({ "name": "Eve Old", "kind": "person", "email": "eve@old.example", "phone": "021 555 0101", "address": "1 Old Road\nOldtown" }))
        .await;
        let request = f.register(json!({ "client_id": client, "kind": "correction" })).await;
        let nothing =
            f.on(&f.admin, "POST", &request, "/correction", Some(json!({ "name": "Eve Old" }))).await;
        assert_eq!(nothing.status, 400, "a correction that changes nothing: {}", nothing.body);
        let corrected = f
            .on(
                &f.admin,
                "POST",
                &request,
                "/correction",
                Some(json!({ "name": "Eve New", "email": "eve@new.example", "phone": "", "address": " 2 New Street \r\n\r\n Newtown " })),
            )
            .await;
        assert_eq!(corrected.status, 200, "{}", corrected.body);
        assert_eq!(corrected.body["status"], "completed");
        assert_eq!(corrected.body["outcome"], "corrected: name, email, phone, address");
        assert_eq!(corrected.body["subject"]["name"], "Eve New");
        let record = f.h.call("GET", &format!("/api/v1/clients/{client}"), Some(&f.lead), None).await;
        assert_eq!(record.body["name"], "Eve New");
        assert_eq!(record.body["email"], "eve@new.example");
        assert_eq!(record.body["phone"], Value::Null);
        assert_eq!(record.body["address"], "2 New Street\nNewtown");

        let entries = f.entries("data_subject.corrected").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["resource"]["id"], request["id"]);
        let log = f.h.call("GET", "/api/v1/audit?limit=500", Some(&f.admin), None).await.body.to_string();
        for personal in ["Eve New", "eve@new.example", "Eve Old", "eve@old.example", "New Street", "Old Road"]
        {
            assert!(!log.contains(personal), "{personal} in the audit log");
        }

        let again =
            f.on(&f.admin, "POST", &request, "/correction", Some(json!({ "name": "Eve Again" }))).await;
        assert_eq!((again.status, again.code()), (409, "request_closed"));
        let access = f.register(json!({ "client_id": client, "kind": "access" })).await;
        let wrong =
            f.on(&f.admin, "POST", &access, "/correction", Some(json!({ "name": "Eve Again" }))).await;
        assert_eq!((wrong.status, wrong.code()), (409, "wrong_kind"));
        let erasure = f.register(json!({ "client_id": client, "kind": "erasure" })).await;
        let by_hand = f
            .on(
                &f.admin,
                "POST",
                &erasure,
                "/close",
                Some(json!({ "outcome": "completed", "reason": "done" })),
            )
            .await;
        assert_eq!((by_hand.status, by_hand.code()), (409, "use_the_action"));
    }
);

/// Every row of every table of the firm's database, as text.
async fn every_row(h: &Harness, conn: &mut sqlx::AnyConnection) -> Vec<String> {
    use sqlx::{AssertSqlSafe, Row};
    let postgres = h.env.database_url().is_some();
    let tables: Vec<String> = if postgres {
        let schema = format!("firm_{}", h.firm.simple());
        sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        )
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
    } else {
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    };
    assert!(tables.iter().any(|t| t == "data_subject_requests") && tables.iter().any(|t| t == "audit_log"));
    let mut rows = Vec::new();
    for table in tables {
        let sql = if postgres {
            format!(r#"SELECT t::text AS row FROM "{table}" t"#)
        } else {
            let columns = sqlx::query(AssertSqlSafe(format!("PRAGMA table_info({table})")))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            let quoted: Vec<String> =
                columns.iter().map(|c| format!("quote(\"{}\")", c.get::<String, _>("name"))).collect();
            format!("SELECT {} AS row FROM \"{table}\"", quoted.join(" || '|' || "))
        };
        let found: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(&mut *conn).await.unwrap();
        rows.extend(found.into_iter().map(|row| format!("{table}: {row}")));
    }
    rows
}

both_backends!(
    erasure_is_refused_while_a_matter_is_held_and_leaves_nothing_personal_when_done,
    |env: TestEnv| async move {
        let f = firm(env).await;
        let kept =
            f.client(json!({ "name": "Fay Kept", "kind": "person", "email": "fay@kept.example" })).await;
        let (_, number) = f.matter(&kept, "Fay v Gus", "").await;
        let request = f.register(json!({ "client_id": kept, "kind": "erasure" })).await;
        let refused = f.on(&f.admin, "POST", &request, "/erasure", None).await;
        assert_eq!(refused.status, 200, "{}", refused.body);
        assert_eq!(refused.body["status"], "refused");
        let reason = refused.body["outcome"].as_str().unwrap();
        assert!(reason.starts_with("retention duty: matters ") && reason.contains(&number), "{reason}");
        let record = f.h.call("GET", &format!("/api/v1/clients/{kept}"), Some(&f.lead), None).await;
        assert_eq!(
            (record.body["name"].as_str(), record.body["email"].as_str()),
            (Some("Fay Kept"), Some("fay@kept.example"))
        );
        assert_eq!(f.entries("data_subject.erasure.refused").await.len(), 1);

        let gone = f
            .client(json!({
                "name": "Hal Gone-Marker",
                "kind": "person",
                "email": "hal@gone-marker.example",
                "phone": "+27 11 555 0199",
                "address": "7 Marker Lane\nGonetown",
                "id_number": "IDMARKER7731",
            }))
            .await;
        let request = f.register(json!({ "client_id": gone, "kind": "erasure" })).await;
        let erased = f.on(&f.admin, "POST", &request, "/erasure", None).await;
        assert_eq!(erased.status, 200, "{}", erased.body);
        assert_eq!(erased.body["status"], "completed");
        let placeholder = format!("Erased data subject {}", &gone.replace('-', "")[..8]);
        assert_eq!(erased.body["subject"]["name"], placeholder.as_str());

        let mut conn = f.h.raw_firm().await;
        let row: (String, String, Option<String>, Option<String>, Option<Vec<u8>>) =
            sqlx::query_as("SELECT name, kind, email, address, id_number_sealed FROM clients WHERE id = $1")
                .bind(&gone)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            row,
            (placeholder.clone(), "person".to_owned(), None, None, None),
            "the raw row keeps nothing personal"
        );
        let rows = every_row(&f.h, &mut conn).await;
        for personal in ["Gone-Marker", "gone-marker.example", "555 0199", "Marker Lane", "IDMARKER7731"] {
            let found: Vec<&String> = rows.iter().filter(|row| row.contains(personal)).collect();
            assert!(found.is_empty(), "{personal} is still held: {found:?}");
        }
        let erasures = f.entries("data_subject.erased").await;
        assert_eq!(erasures.len(), 1);
        assert_eq!(erasures[0]["resource"]["id"], request["id"]);

        // What is held afterwards: the placeholder and nothing else.
        let access = f.register(json!({ "client_id": gone, "kind": "access" })).await;
        let report = f.on(&f.admin, "GET", &access, "/report", None).await;
        assert_eq!(report.body["client"]["name"], placeholder.as_str());
        for field in ["email", "phone", "address", "id_number"] {
            assert_eq!(report.body["client"][field], Value::Null, "{field}");
        }
        assert_eq!(report.body["matters"], json!([]));
    }
);

both_backends!(only_unscreened_administrators_handle_requests, |env: TestEnv| async move {
    let f = firm(env).await;
    let client = f.client(json!({ "name": "Ida Walled", "kind": "person" })).await;
    let other = f.client(json!({ "name": "Jo Screened", "kind": "person" })).await;
    let (matter, _) = f.matter(&other, "Jo v Kim", "").await;
    let access = f.register(json!({ "client_id": client, "kind": "access" })).await;
    let other_access = f.register(json!({ "client_id": other, "kind": "access" })).await;

    // Other firm roles are refused every route of the register, pages included.
    let attorney = f.lead.clone();
    let auditor = f.h.signed_in_user(&f.admin, "audit@firm.example", &["auditor"]).await;
    let clerk =
        f.h.signed_in_user(&f.admin, "clerk@firm.example", &["paralegal", "secretary", "billing"]).await;
    let id = access["id"].as_str().unwrap();
    let routes: Vec<_> = route_table()
        .specs()
        .iter()
        .filter(|spec| spec.policy == DATA_SUBJECT_HANDLERS)
        .map(|spec| (spec.method.clone(), spec.path.replace("{id}", id)))
        .collect();
    assert!(routes.len() >= 16, "{routes:?}");
    assert_eq!(DATA_SUBJECT_HANDLERS, AccessPolicy::FirmRole(&[ringfence_core::user::FirmRole::Admin]));
    for (method, path) in &routes {
        for token in [&attorney, &auditor, &clerk] {
            let reply = f.h.call(method.as_str(), path, Some(token), None).await;
            assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        }
        let signed_out = f.h.call(method.as_str(), path, None, None).await;
        let expected = if path.starts_with("/api/") { 401 } else { 303 };
        assert_eq!(signed_out.status, expected, "{method} {path}");
    }

    // An administrator a wall screens from the client, or from one of its matters, gets
    // what a missing request gets; another administrator handles it.
    let second = f.h.signed_in_user(&f.admin, "second@firm.example", &["admin"]).await;
    let me = f.h.call("GET", "/api/v1/me", Some(&second), None).await;
    let second_id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let wall =
        f.h.call("PUT", &format!("/api/v1/clients/{client}/walls/{second_id}"), Some(&f.admin), None).await;
    assert_eq!(wall.status, 204);
    let wall =
        f.h.call("PUT", &format!("/api/v1/matters/{matter}/walls/{second_id}"), Some(&f.admin), None).await;
    assert_eq!(wall.status, 204);
    let missing = json!({ "id": uuid::Uuid::new_v4().to_string() });
    let not_found = f.on(&second, "GET", &missing, "/report", None).await;
    assert_eq!(not_found.status, 404);
    for request in [&access, &other_access] {
        let screened = f.on(&second, "GET", request, "/report", None).await;
        assert_eq!((screened.status, &screened.body), (404, &not_found.body), "{}", request["subject"]);
        assert_eq!(f.on(&f.admin, "GET", request, "/report", None).await.status, 200);
    }
    let erasure = f.register(json!({ "client_id": client, "kind": "erasure" })).await;
    assert_eq!(f.on(&second, "POST", &erasure, "/erasure", None).await.status, 404);
    let correction = f.register(json!({ "client_id": other, "kind": "correction" })).await;
    let screened = f.on(&second, "POST", &correction, "/correction", Some(json!({ "name": "X" }))).await;
    assert_eq!(screened.status, 404);
    let denied = f.entries("client.access.denied").await;
    assert_eq!(denied.len(), 4, "every screened attempt is on the record");
    assert!(denied.iter().all(|e| e["actor"]["email"] == "second@firm.example"));
    let erased = f.on(&f.admin, "POST", &erasure, "/erasure", None).await;
    assert_eq!(erased.body["status"], "completed", "the unscreened administrator erases");
});

both_backends!(hostile_input_to_the_register_gets_a_clear_400, |env: TestEnv| async move {
    let f = firm(env).await;
    let client = f.client(json!({ "name": "Lee Client", "kind": "person" })).await;
    let today = day_after(0, &f.h);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "client_id": client, "kind": "deletion" }), "kind"),
        (json!({ "client_id": client, "kind": "access", "received_on": "2026-13-01" }), "received_on"),
        (json!({ "client_id": client, "kind": "access", "received_on": "yesterday" }), "received_on"),
        (
            json!({ "client_id": client, "kind": "access", "received_on": format!("{today}T00:00:00Z") }),
            "received_on",
        ),
        (json!({ "client_id": client, "kind": "access", "received_on": day_after(1, &f.h) }), "received_on"),
        (
            json!({ "client_id": client, "kind": "access", "received_on": day_after(-400, &f.h) }),
            "received_on",
        ),
        (json!({ "client_id": "not-an-id", "kind": "access" }), "client_id"),
        (json!({ "client_id": uuid::Uuid::new_v4().to_string(), "kind": "access" }), "client_id"),
        (json!({ "kind": "access" }), "client_id"),
        (json!({ "client_id": client, "subject_name": "Both", "kind": "access" }), "subject_name"),
        (json!({ "subject_name": "Bell\u{7}Byte", "kind": "access" }), "subject_name"),
        (json!({ "subject_name": "x".repeat(201), "kind": "access" }), "subject_name"),
        (
            json!({ "subject_name": "Ok", "subject_email": "not an address", "kind": "access" }),
            "subject_email",
        ),
    ];
    for (body, field) in cases {
        let refused = f.h.call("POST", REGISTER, Some(&f.admin), Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}:")), "{body}: {message}");
    }
    // A NUL anywhere in a body is refused before any field is read.
    for body in [
        json!({ "client_id": client, "kind": "access\u{0}" }),
        json!({ "subject_name": "Nul\u{0}Byte", "kind": "access" }),
        json!({ "client_id": client, "kind": "access", "received_on": format!("{today}\u{0}") }),
    ] {
        let refused = f.h.call("POST", REGISTER, Some(&f.admin), Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}");
        assert_eq!(refused.body["error"]["message"], "text may not contain NUL characters");
    }
    let unknown =
        f.h.call("POST", REGISTER, Some(&f.admin), Some(json!({ "kind": "access", "extra": 1 }))).await;
    assert_eq!(unknown.status, 400);
    let wrong_type = f.h.call("POST", REGISTER, Some(&f.admin), Some(json!({ "kind": 7 }))).await;
    assert_eq!(wrong_type.status, 400);

    let request = f.register(json!({ "client_id": client, "kind": "access" })).await;
    for (body, field) in [
        (json!({ "outcome": "maybe", "reason": "x" }), "outcome"),
        (json!({ "outcome": "refused", "reason": "" }), "reason"),
        (json!({ "outcome": "refused", "reason": "a\u{1b}[31mb" }), "reason"),
        (json!({ "outcome": "refused", "reason": "x".repeat(2001) }), "reason"),
    ] {
        let refused = f.on(&f.admin, "POST", &request, "/close", Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}");
        assert!(refused.body["error"]["message"].as_str().unwrap().starts_with(&format!("{field}:")));
    }
    let correction = f.register(json!({ "client_id": client, "kind": "correction" })).await;
    for (body, field) in [
        (json!({}), "correction"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "a\u{0}b" }), "text may not contain NUL characters"),
        (json!({ "name": "a\u{7f}b" }), "name"),
        (json!({ "email": "nope" }), "email"),
        (json!({ "phone": "call me" }), "phone"),
        (json!({ "id_number": "x".repeat(65) }), "id_number"),
    ] {
        let refused = f.on(&f.admin, "POST", &correction, "/correction", Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}");
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message == field || message.starts_with(&format!("{field}:")), "{body}: {message}");
    }
    let days = "/api/v1/firm/data-subject-response-days";
    for body in
        [json!({ "days": 0 }), json!({ "days": 91 }), json!({ "days": "ten" }), json!({ "days": 1e300 })]
    {
        assert_eq!(f.h.call("PUT", days, Some(&f.admin), Some(body.clone())).await.status, 400, "{body}");
    }
    for query in ["limit=0", "limit=501", "status=pending", "cursor=junk", "cursor=2026-01-01.zz"] {
        let refused = f.h.call("GET", &format!("{REGISTER}?{query}"), Some(&f.admin), None).await;
        assert_eq!(refused.status, 400, "{query}");
    }
    for id in ["not-an-id", "%00", &uuid::Uuid::new_v4().to_string()] {
        assert_eq!(
            f.h.call("GET", &format!("{REGISTER}/{id}"), Some(&f.admin), None).await.status,
            404,
            "{id}"
        );
    }
    assert_eq!(f.entries("data_subject.request.registered").await.len(), 2, "nothing refused was registered");
});

both_backends!(the_pages_register_report_and_answer_a_request, |env: TestEnv| async move {
    let f = firm(env).await;
    let client = f
        .client(json!({ "name": "Max Page", "kind": "person", "email": "max@page.example", "id_number": "7705055009081" }))
        .await;
    let (_, number) = f.matter(&client, "Title-Marker-Emu", "").await;
    let cookie = browser_sign_in(&f.h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let register = page(&f.h, "GET", "/admin/data-subjects", Some(&cookie), None).await;
    assert_eq!(register.status, 200, "{}", register.html);
    assert!(register.html.contains("href=\"/admin/data-subjects\""), "the navigation links the register");
    let csrf = hidden(&register.html, "_csrf");
    let form =
        encode(&[("_csrf", &csrf), ("kind", "correction"), ("client_id", &client), ("received_on", "")]);
    let registered = page(&f.h, "POST", "/admin/data-subjects", Some(&cookie), Some(form)).await;
    assert_eq!(registered.status, 303, "{}", registered.html);
    let at = registered.headers["location"].to_str().unwrap().to_owned();
    let shown = page(&f.h, "GET", &at, Some(&cookie), None).await;
    assert_eq!(shown.status, 200);
    for held in ["Max Page", "max@page.example", "7705055009081", number.as_str(), &day_after(30, &f.h)] {
        assert!(shown.html.contains(held), "{held} not on the page");
    }
    assert!(!shown.html.contains("Title-Marker-Emu"), "no matter title on the page");
    let form = encode(&[
        ("_csrf", &csrf),
        ("name", "Max Corrected"),
        ("email", "max@page.example"),
        ("phone", ""),
        ("id_number", "7705055009081"),
    ]);
    let corrected = page(&f.h, "POST", &format!("{at}/correction"), Some(&cookie), Some(form)).await;
    assert_eq!(corrected.status, 303, "{}", corrected.html);
    let shown = page(&f.h, "GET", &at, Some(&cookie), None).await;
    assert!(shown.html.contains("corrected: name") && shown.html.contains("Max Corrected"));
    let bad =
        encode(&[("_csrf", &csrf), ("kind", "access"), ("subject_name", "x"), ("received_on", "2026-02-30")]);
    let refused = page(&f.h, "POST", "/admin/data-subjects", Some(&cookie), Some(bad)).await;
    assert_eq!(refused.status, 400);
    assert!(refused.html.contains("Received on: a date is written YYYY-MM-DD"), "{}", refused.html);
    let nul = encode(&[("_csrf", &csrf), ("kind", "access"), ("subject_name", "Nul\0Byte")]);
    let refused = page(&f.h, "POST", "/admin/data-subjects", Some(&cookie), Some(nul)).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.html.contains("Subject name: 1 to 200 characters, no control characters."),
        "{}",
        refused.html
    );

    let lawyer = browser_sign_in(&f.h, "lead@firm.example", PASSWORD).await;
    let not_allowed = page(&f.h, "GET", "/admin/data-subjects", Some(&lawyer), None).await;
    assert_eq!(not_allowed.status, 403);
    assert!(!page(&f.h, "GET", "/home", Some(&lawyer), None).await.html.contains("/admin/data-subjects"));
});

both_backends!(
    erasure_is_refused_under_a_legal_hold_even_when_the_client_has_no_matter,
    |env: TestEnv| async move {
        let f = firm(env).await;
        let client =
            f.client(json!({ "name": "Ivy Held", "kind": "person", "email": "ivy@held.example" })).await;
        let hold = json!({ "reason": "Fraud investigation: keep everything on Ivy Held" });
        let held =
            f.h.call("POST", &format!("/api/v1/clients/{client}/legal-hold"), Some(&f.admin), Some(hold))
                .await;
        assert_eq!(held.status, 201, "{}", held.body);
        let request = f.register(json!({ "client_id": client, "kind": "erasure" })).await;
        let refused = f.on(&f.admin, "POST", &request, "/erasure", None).await;
        assert_eq!(refused.status, 200, "{}", refused.body);
        assert_eq!(refused.body["status"], "refused");
        let reason = refused.body["outcome"].as_str().unwrap();
        assert!(reason.starts_with("legal hold"), "{reason}");
        let record = f.h.call("GET", &format!("/api/v1/clients/{client}"), Some(&f.lead), None).await;
        assert_eq!(record.body["email"], "ivy@held.example", "{}", record.body);

        // Lifted, a new request erases it.
        let lift = json!({ "reason": "Investigation closed" });
        let lifted = f
            .h
            .call("POST", &format!("/api/v1/clients/{client}/legal-hold/lift"), Some(&f.admin), Some(lift))
            .await;
        assert_eq!(lifted.status, 200, "{}", lifted.body);
        let request = f.register(json!({ "client_id": client, "kind": "erasure" })).await;
        let erased = f.on(&f.admin, "POST", &request, "/erasure", None).await;
        assert_eq!(erased.body["status"], "completed", "{}", erased.body);
    }
);
