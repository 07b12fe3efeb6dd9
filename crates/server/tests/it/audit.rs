use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::principal::Principal;
use ringfence_server::jobs::after_rotation;
use ringfence_store::firm::audit::{self as audit_log, Verification};
use ringfence_testkit::{Backend, TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::sign_in_harness::*;
use super::*;

pub(crate) async fn entries(h: &Harness, token: &str, query: &str) -> Vec<Value> {
    let reply = h.call("GET", &format!("/api/v1/audit?limit=500{query}"), Some(token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

both_backends!(every_action_so_far_leaves_its_entry_and_no_secret, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let wrong = h.login(ADMIN_EMAIL, "not my password at all").await;
    assert_eq!(wrong.status, 401);
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "aud@firm.example", &["auditor", "paralegal"], "audit officers read ledgers").await;
    let users = h.call("GET", "/api/v1/users", Some(&admin), None).await;
    let aud_id = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "aud@firm.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.call("PATCH", &format!("/api/v1/users/{aud_id}"), Some(&admin), Some(json!({ "roles": ["auditor"] })))
        .await;
    let auditor = h.sign_in("aud@firm.example", "audit officers read ledgers").await;
    assert_eq!(h.call("GET", "/api/v1/users", Some(&auditor), None).await.status, 403);
    h.call("DELETE", &format!("/api/v1/users/{aud_id}/lock"), Some(&admin), None).await;
    h.call("POST", "/api/v1/me/totp", Some(&admin), Some(json!({ "current_password": ADMIN_PASSWORD })))
        .await;
    h.call("POST", "/api/v1/auth/logout", Some(&admin), None).await;

    let all = entries(&h, &auditor, "").await;
    let seen = actions(&all);
    for expected in [
        "firm.created",
        "firm.key.created",
        "auth.login.failed",
        "auth.password.accepted",
        "auth.code.sent",
        "auth.login.succeeded",
        "user.created",
        "user.invitation.accepted",
        "user.role.revoked",
        "access.denied",
        "user.lock.cleared",
        "user.totp.enrolment_started",
        "auth.logout",
    ] {
        assert!(seen.iter().any(|a| a == expected), "no {expected} in {seen:?}");
    }
    let denied = all.iter().find(|e| e["action"] == "access.denied").unwrap();
    assert_eq!(denied["outcome"], "denied");
    assert_eq!(denied["actor"]["email"], "aud@firm.example");
    assert_eq!(denied["resource"]["id"], "/api/v1/users");
    assert_eq!(denied["ip"], "203.0.113.7");
    assert!(denied["request_id"].as_str().is_some_and(|id| id.len() == 36));
    let failed = all.iter().find(|e| e["action"] == "auth.login.failed").unwrap();
    assert_eq!(failed["outcome"], "failure");

    let text = serde_json::to_string(&all).unwrap();
    for secret in [
        ADMIN_PASSWORD,
        "not my password at all",
        "audit officers read ledgers",
        admin.as_str(),
        auditor.as_str(),
    ] {
        assert!(!text.contains(secret), "the log holds a secret");
    }
    for mail in h.outbox() {
        if let Some(code) = mail.lines().find_map(|l| l.strip_prefix("Your Ringfence sign-in code is ")) {
            assert!(!text.contains(&format!("\"{}\"", code.trim())), "the log holds a code");
        }
    }
});

both_backends!(only_auditors_and_admins_read_the_log, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "pam@firm.example", &["paralegal", "billing"], "paralegals file the briefs").await;
    let pam = h.sign_in("pam@firm.example", "paralegals file the briefs").await;
    for path in ["/api/v1/audit", "/api/v1/audit.csv", "/api/v1/audit/checkpoint"] {
        assert_eq!(h.call("GET", path, None, None).await.status, 401, "{path}");
        assert_eq!(h.call("GET", path, Some(&pam), None).await.status, 403, "{path}");
        assert_eq!(h.call("GET", path, Some(&admin), None).await.status, 200, "{path}");
    }
});

both_backends!(filters_combine_and_pages_follow_the_cursor, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let start = h.clock.now();
    h.clock.advance(Duration::minutes(5));
    for _ in 0..3 {
        h.login(ADMIN_EMAIL, "a wrong password here").await;
        h.clock.advance(Duration::minutes(1));
    }
    let admin_id =
        h.call("GET", "/api/v1/me", Some(&admin), None).await.body["user"]["id"].as_str().unwrap().to_owned();
    let failures = entries(&h, &admin, &format!("&user={admin_id}&action=auth.&outcome=failure")).await;
    assert_eq!(actions(&failures), ["auth.login.failed"; 3]);
    let seqs: Vec<i64> = failures.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first");

    let from = (start + Duration::minutes(6)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let later = entries(&h, &admin, &format!("&outcome=failure&from={from}")).await;
    assert_eq!(later.len(), 2, "the from bound");
    let before = entries(
        &h,
        &admin,
        &format!(
            "&action=auth.login&to={}",
            start.format(&time::format_description::well_known::Rfc3339).unwrap().replace('+', "%2B")
        ),
    )
    .await;
    assert!(before.iter().all(|e| e["outcome"] == "success"), "the to bound");

    let mut cursor = None::<String>;
    let mut paged = Vec::new();
    loop {
        let query = match &cursor {
            Some(c) => format!("/api/v1/audit?limit=2&cursor={c}"),
            None => "/api/v1/audit?limit=2".to_owned(),
        };
        let page = h.call("GET", &query, Some(&admin), None).await;
        paged.extend(page.body["items"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // Each page read is recorded after it: the whole, read now, also has those entries.
    let whole: Vec<i64> = entries(&h, &admin, "")
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .filter(|seq| *seq <= paged[0])
        .collect();
    assert_eq!(paged, whole, "pages add up to the whole, in order");

    for bad in ["&outcome=maybe", "&from=yesterday", "&user=not-a-uuid", "&limit=0", "&colour=red"] {
        let reply = h.call("GET", &format!("/api/v1/audit?{bad}"), Some(&admin), None).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
});

both_backends!(an_action_filter_no_action_matches_is_refused_naming_the_field, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for route in ["/api/v1/audit", "/api/v1/audit.csv"] {
        for unknown in ["matter.viewd", "test.filler", "auth.login.succeeded.twice"] {
            let reply = h.call("GET", &format!("{route}?action={unknown}"), Some(&admin), None).await;
            assert_eq!(reply.status, 400, "{route}?action={unknown}: {}", reply.body);
            assert!(
                reply.body["error"]["message"].as_str().unwrap().starts_with("action:"),
                "{}",
                reply.body
            );
        }
    }
    for known in ["auth.", "auth.login", "auth.login.succeeded", ""] {
        let reply = h.call("GET", &format!("/api/v1/audit?action={known}"), Some(&admin), None).await;
        assert_eq!(reply.status, 200, "action={known}: {}", reply.body);
    }
    assert!(!entries(&h, &admin, "&action=auth.login.succeeded").await.is_empty());
});

both_backends!(csv_export_is_rfc_4180_formula_safe_and_audited, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.call_with(
        "GET",
        "/api/v1/users",
        Some(&admin),
        None,
        &[("user-agent", "=HYPERLINK(\"http://evil.example\",\"x\")")],
    )
    .await;
    h.add_user(&admin, "pam@firm.example", &["paralegal"], "paralegals file the briefs").await;
    let pam = h.sign_in("pam@firm.example", "paralegals file the briefs").await;
    h.call_with(
        "GET",
        "/api/v1/users",
        Some(&pam),
        None,
        &[("user-agent", "=HYPERLINK(\"http://evil.example\",\"x\")")],
    )
    .await;

    let request = Request::get("/api/v1/audit.csv?outcome=denied")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let response = send(ringfence_server::app(h.state.clone()), request).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().next(), Some("seq"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{text}");
    let agent = &rows[0][11];
    assert!(agent.starts_with("'="), "formula neutralised: {agent}");
    // The action in words, with its category and severity, after the stored columns.
    let header: Vec<&str> = reader.headers().unwrap().iter().collect();
    assert_eq!(header[5], "action");
    assert_eq!(header[13..], ["words", "category", "severity"]);
    assert_eq!(&rows[0][5], "access.denied");
    assert_eq!(&rows[0][13], "was refused something their firm role does not allow");
    assert_eq!((&rows[0][14], &rows[0][15]), ("refusals", "warning"));
    assert!(text.contains("\r\n"), "CRLF line ends");

    let exported = entries(&h, &admin, "&action=audit.exported").await;
    assert_eq!(exported.len(), 1, "the export is itself on the record");
});

both_backends!(a_checkpoint_verifies_with_only_the_exported_public_key, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let reply = h.call("GET", "/api/v1/audit/checkpoint", Some(&admin), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let c = &reply.body;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let public_key = b64.decode(c["public_key"].as_str().unwrap()).unwrap();
    let signature = b64.decode(c["signature"].as_str().unwrap()).unwrap();
    let hash_hex = c["hash"].as_str().unwrap();
    let hash: Vec<u8> =
        (0..32).map(|i| u8::from_str_radix(&hash_hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let hash: [u8; 32] = hash.try_into().unwrap();
    let firm = c["firm"].as_str().unwrap();
    let (seq, at) = (c["seq"].as_i64().unwrap(), c["at_millis"].as_i64().unwrap());
    assert!(ringfence_crypto::audit_chain::verify_checkpoint(&public_key, firm, seq, &hash, at, &signature));
    assert!(!ringfence_crypto::audit_chain::verify_checkpoint(
        &public_key,
        firm,
        seq + 1,
        &hash,
        at,
        &signature
    ));
    let latest = entries(&h, &admin, "").await;
    assert!(latest.iter().all(|e| e["seq"].as_i64().unwrap() <= seq + 1), "the checkpoint covers the head");
});

both_backends!(concurrent_writers_keep_one_chain, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let writers = (0..40).map(|n| {
        let store = store.clone();
        let now = h.clock.now();
        tokio::spawn(async move {
            for i in 0..5 {
                let record = AuditRecord {
                    at: now,
                    actor: AuditActor::System,
                    action: AuditAction::BlobsSwept,
                    resource_type: Some("writer"),
                    resource_id: Some(format!("{n}/{i}")),
                    matter_id: None,
                    outcome: Outcome::Success,
                    origin: Origin::default(),
                };
                // Half go through the shared-commit path that reads use, half alone.
                if n % 2 == 0 {
                    store.append_audit(record).await.unwrap();
                } else {
                    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
                    audit_log::append(&mut tx, &record).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let verification = audit_log::verify(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    match verification {
        Verification::Intact { entries, checkpoints, .. } => {
            assert_eq!(entries, 3 + 200, "the firm's first three entries and every write");
            assert!(checkpoints >= 2);
        }
        broken => panic!("{broken:?}"),
    }
    // Every write is there once.
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
        let page = h
            .call("GET", &format!("/api/v1/audit?action=blobs.swept&limit=500{query}"), Some(&admin), None)
            .await;
        for entry in page.body["items"].as_array().unwrap() {
            assert!(seen.insert(entry["resource"]["id"].as_str().unwrap().to_owned()), "{entry}");
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 200);
});

#[tokio::test]
async fn a_hundred_thousand_entries_stream_as_csv_in_flat_memory() {
    let h = Harness::new(TestEnv::new(Backend::Sqlite).await.unwrap()).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    for n in 0..100_000 {
        let record = AuditRecord {
            at: h.clock.now(),
            actor: AuditActor::System,
            action: AuditAction::DocumentDownloaded,
            resource_type: Some("document"),
            resource_id: Some(format!("doc-{n:06}-with-a-longish-identifier-for-realistic-row-width")),
            matter_id: Some("matter-0000000000000000".to_owned()),
            outcome: Outcome::Success,
            origin: Origin {
                ip: Some("198.51.100.23".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) bulk".into()),
                request_id: None,
            },
        };
        audit_log::append(&mut tx, &record).await.unwrap();
    }
    tx.commit().await.unwrap();

    let request = Request::get("/api/v1/audit.csv")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let response = send(ringfence_server::app(h.state.clone()), request).await;
    let mut body = response.into_body().into_data_stream();
    let (mut total, mut rows, mut largest_chunk) = (0usize, 0usize, 0usize);
    // Memory is measured once the export is under way (pool connections and their caches
    // warmed up): from then on it must not grow with the rows streamed.
    let mut warmed_up_peak = None;
    use futures_util::StreamExt;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        rows += chunk.iter().filter(|&&b| b == b'\n').count();
        largest_chunk = largest_chunk.max(chunk.len());
        if warmed_up_peak.is_none() && total >= 4 << 20 {
            warmed_up_peak = Some(peak_rss_kib());
        }
    }
    let growth_kib = peak_rss_kib().saturating_sub(warmed_up_peak.unwrap());
    assert!(rows > 100_000, "{rows} rows");
    assert!(total > 15 << 20, "the export is {total} bytes");
    assert!(largest_chunk < 1 << 20, "sent in pages, not whole: {largest_chunk}");
    assert!(
        growth_kib < 4 * 1024,
        "peak memory grew by {growth_kib} KiB over the last {} bytes",
        total - (4 << 20)
    );
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

both_backends!(the_retention_purge_leaves_a_chain_that_still_verifies, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let retention = h.call("GET", "/api/v1/firm/audit-retention", Some(&admin), None).await;
    assert_eq!(retention.body["months"], 12);
    let short =
        h.call("PUT", "/api/v1/firm/audit-retention", Some(&admin), Some(json!({ "months": 11 }))).await;
    assert_eq!(short.status, 400, "never below 12 months");
    let longer =
        h.call("PUT", "/api/v1/firm/audit-retention", Some(&admin), Some(json!({ "months": 13 }))).await;
    assert_eq!(longer.status, 200);
    let store = h.state.storage.firm(h.firm).await.unwrap();

    h.clock.advance(Duration::days(365));
    assert_eq!(store.purge_audit(h.clock.now()).await.unwrap(), None, "nothing is 13 months old yet");
    h.clock.advance(Duration::days(60));
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let old = entries(&h, &admin, "").await.len();
    let purged = store.purge_audit(h.clock.now()).await.unwrap().expect("old entries go");
    let left = entries(&h, &admin, "").await;
    assert!(left.iter().all(|e| e["seq"].as_i64().unwrap() > purged));
    // Newer than what was counted: the purge's own entry, and the record of that count.
    assert_eq!(left.len(), old - purged as usize + 2, "the purge is on the record");
    assert_eq!(left[0]["action"], "audit.purged");
    assert_eq!(left[0]["resource"]["id"], format!("1-{purged}"));

    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let verification = audit_log::verify(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(verification, Verification::Intact { .. }), "{verification:?}");
    assert_eq!(store.purge_audit(h.clock.now()).await.unwrap(), None, "nothing more to remove");
    if h.env.database_url().is_none() {
        // The purge lifted SQLite's delete triggers inside its transaction only.
        use sqlx::Connection;
        let path = h.env.data_dir().join("firms").join(h.firm.to_string()).join("firm.db");
        let mut conn = sqlx::AnyConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        let err = sqlx::query("DELETE FROM audit_log").execute(&mut conn).await.expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = sqlx::query("DELETE FROM audit_checkpoints").execute(&mut conn).await.expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
});

/// The entries written since `after`, oldest first, leaving out the auditor's own reads
/// of the log (each read is recorded too).
async fn since(h: &Harness, token: &str, after: i64) -> Vec<(String, String)> {
    let mut all = entries(h, token, "").await;
    all.reverse();
    all.iter()
        .filter(|e| e["seq"].as_i64().unwrap() > after && e["action"] != "audit.viewed")
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["outcome"].as_str().unwrap().to_owned()))
        .collect()
}

async fn head(h: &Harness, token: &str) -> i64 {
    entries(h, token, "").await[0]["seq"].as_i64().unwrap()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(a, o)| ((*a).to_owned(), (*o).to_owned())).collect()
}

both_backends!(each_step_writes_exactly_its_entries, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, "aud@firm.example", &["auditor"], "audit officers read ledgers").await;
    let auditor = h.sign_in("aud@firm.example", "audit officers read ledgers").await;

    let mark = head(&h, &auditor).await;
    let token = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let seen = since(&h, &auditor, mark).await;
    assert_eq!(
        seen,
        pairs(&[
            ("auth.password.accepted", "success"),
            ("auth.code.sent", "success"),
            ("auth.login.succeeded", "success")
        ])
    );

    let mark = head(&h, &auditor).await;
    let login = h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let code = h.latest_code(ADMIN_EMAIL);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    h.verify(login.body["challenge_id"].as_str().unwrap(), "email", wrong).await;
    let seen = since(&h, &auditor, mark).await;
    assert_eq!(seen[2..], pairs(&[("auth.code.failed", "failure")]));

    let mark = head(&h, &auditor).await;
    h.call("POST", "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(since(&h, &auditor, mark).await, pairs(&[("auth.logout", "success")]));

    // The hundredth failure in an hour locks the account, on the record. (The progressive
    // delay keeps one client far below that; 99 failures from many are set up directly. The
    // wrong code above counts against second-factor attempts, apart from passwords.)
    for _ in 0..99 {
        h.state
            .storage
            .add_sign_in_failure(
                ringfence_store::ThrottleKey::Account(ADMIN_EMAIL),
                &ringfence_core::throttle::ACCOUNT,
                h.clock.now(),
            )
            .await
            .unwrap();
    }
    h.clock.advance(Duration::minutes(6));
    let mark = head(&h, &auditor).await;
    let refused = h.login(ADMIN_EMAIL, "the wrong password again").await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        since(&h, &auditor, mark).await,
        pairs(&[("auth.login.failed", "failure"), ("auth.account.locked", "success")])
    );
    assert_eq!(h.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, 429, "locked");
});

/// The firm's audit tables as someone holding the database (not its keys) reaches them: the
/// SQLite file, or PostgreSQL as the test's superuser, with the append-only triggers off.
async fn tamperer(h: &Harness) -> sqlx::AnyConnection {
    use sqlx::{AssertSqlSafe, Connection, Executor};
    sqlx::any::install_default_drivers();
    let firm = h.firm.to_string();
    match h.env.database_url() {
        None => {
            let path = h.env.data_dir().join("firms").join(&firm).join("firm.db");
            let mut conn =
                sqlx::AnyConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            conn.execute(
                "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
                 DROP TRIGGER audit_checkpoints_no_delete",
            )
            .await
            .unwrap();
            conn
        }
        Some(url) => {
            let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
            let schema = format!("firm_{}", firm.replace('-', ""));
            conn.execute(AssertSqlSafe(format!(r#"SET search_path TO "{schema}""#))).await.unwrap();
            for table in ["audit_log", "audit_checkpoints"] {
                conn.execute(AssertSqlSafe(format!("ALTER TABLE {table} DISABLE TRIGGER USER")))
                    .await
                    .unwrap();
            }
            conn
        }
    }
}

/// Changes entry `seq`'s outcome, drops every checkpoint, and recomputes the chain and head.
async fn rewrite_without_checkpoints(h: &Harness, seq: i64) {
    use ringfence_crypto::audit_chain;
    use sqlx::{Executor, Row};
    let mut conn = tamperer(h).await;
    sqlx::query("UPDATE audit_log SET outcome = 'failure' WHERE seq = $1")
        .bind(seq)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.execute("DELETE FROM audit_checkpoints").await.unwrap();
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id FROM audit_log ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut previous = audit_chain::genesis(&h.firm.to_string());
    for row in &rows {
        let entry = ringfence_core::audit::StoredAuditEntry {
            seq: row.get("seq"),
            at: ringfence_core::clock::from_unix_millis(row.get("at")),
            actor_kind: row.get("actor_kind"),
            actor_id: row.get("actor_id"),
            actor_email: row.get("actor_email"),
            action: row.get("action"),
            resource_type: row.get("resource_type"),
            resource_id: row.get("resource_id"),
            matter_id: row.get("matter_id"),
            outcome: row.get("outcome"),
            ip: row.get("ip"),
            user_agent: row.get("user_agent"),
            request_id: row.get("request_id"),
        };
        previous = audit_chain::link(&previous, &entry.canonical_bytes());
        sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = $2")
            .bind(previous.to_vec())
            .bind(entry.seq)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE singleton = 1")
        .bind(previous.to_vec())
        .execute(&mut conn)
        .await
        .unwrap();
}

fn filler(at: time::OffsetDateTime, n: usize) -> AuditRecord {
    AuditRecord {
        at,
        actor: AuditActor::System,
        action: AuditAction::BlobsSwept,
        resource_type: Some("filler"),
        resource_id: Some(n.to_string()),
        matter_id: None,
        outcome: Outcome::Success,
        origin: Origin::default(),
    }
}

async fn verified(h: &Harness) -> Verification {
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    let verification = audit_log::verify(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    verification
}

both_backends!(removing_every_hundredth_checkpoint_to_hide_a_rewrite_is_caught, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    for n in 0..150 {
        store.append_audit(filler(h.clock.now(), n)).await.unwrap();
    }
    assert!(matches!(verified(&h).await, Verification::Intact { checkpoints: 1, .. }), "the 100th is signed");

    rewrite_without_checkpoints(&h, 50).await;
    match verified(&h).await {
        Verification::Broken { seq: 100, problem } => {
            assert!(problem.contains("no signed checkpoint"), "{problem}")
        }
        other => panic!("the missing checkpoint at entry 100 goes unnoticed: {other:?}"),
    }
});

both_backends!(removing_a_checkpoint_due_after_ten_minutes_is_caught, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    h.clock.advance(Duration::minutes(11));
    let late = store.append_audit(filler(h.clock.now(), 0)).await.unwrap();
    for n in 1..3 {
        store.append_audit(filler(h.clock.now(), n)).await.unwrap();
    }
    assert!(
        matches!(verified(&h).await, Verification::Intact { checkpoints: 1, .. }),
        "the late one is signed"
    );

    rewrite_without_checkpoints(&h, late).await;
    match verified(&h).await {
        Verification::Broken { seq, problem } if seq == late => {
            assert!(problem.contains("no signed checkpoint"), "{problem}")
        }
        other => panic!("the missing checkpoint at entry {late} goes unnoticed: {other:?}"),
    }
});

both_backends!(retired_audit_keys_are_proven_by_their_successors_certificates, |env: TestEnv| async move {
    use sqlx::Executor;
    let h = Harness::new(env).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    audit_log::checkpoint_now(&mut tx, h.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    h.state
        .storage
        .rotate_firm_key(h.firm, h.clock.now(), &after_rotation(h.firm, h.clock.now()))
        .await
        .unwrap();
    h.env.expect_jobs_left("keys.finish-rotation");
    h.state.storage.rewrap_firm(h.firm, h.clock.now()).await.unwrap();
    h.clock.advance(Duration::days(2));
    let retired = h.state.storage.retire_old_keys(h.firm, h.clock.now(), Duration::days(1)).await.unwrap();
    assert!(matches!(retired, ringfence_store::rotation::Retirement::Retired { versions: 1 }), "{retired:?}");
    let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
    audit_log::checkpoint_now(&mut tx, h.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        matches!(verified(&h).await, Verification::Intact { checkpoints: 2, .. }),
        "{:?}",
        verified(&h).await
    );

    // Without the certificate, the first key (its seed sealed under a retired version) is
    // no longer provably the firm's.
    let mut conn = tamperer(&h).await;
    if h.env.database_url().is_some() {
        conn.execute("ALTER TABLE audit_key_certificates DISABLE TRIGGER USER").await.unwrap();
    } else {
        conn.execute("DROP TRIGGER audit_key_certificates_no_delete").await.unwrap();
    }
    conn.execute("DELETE FROM audit_key_certificates").await.unwrap();
    assert!(matches!(verified(&h).await, Verification::UnprovenKey { .. }), "{:?}", verified(&h).await);
});
