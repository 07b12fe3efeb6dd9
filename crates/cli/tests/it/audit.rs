//! The audit log against someone with direct database access: the database refuses edits,
//! and edits made with the triggers switched off are caught by `ringfence audit verify`.

use ringfence_testkit::{TestEnv, both_backends};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

use super::*;

fn verify(env: &TestEnv, slug: &str) -> Output {
    let mut command = ringfence(env);
    command.args(["audit", "verify", "--firm", slug]);
    run(command, None)
}

both_backends!(the_database_refuses_to_change_the_audit_log, |env: TestEnv| async move {
    assert!(create_firm(&env, "guarded", "a@guarded.example", &[]).status.success());
    let firm = firm_id(&env, "guarded");
    let mut conn = raw_firm_connection(&env, &firm).await;
    for statement in [
        "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
    ] {
        let err = conn.execute(statement).await.expect_err(statement).to_string();
        assert!(err.contains("append-only"), "{statement}: {err}");
    }
    if env.database_url().is_some() {
        let hex = firm.replace('-', "");
        let mut tx = conn.begin().await.unwrap();
        tx.execute(AssertSqlSafe(format!(r#"SET LOCAL ROLE "rf_{hex}""#))).await.unwrap();
        let err =
            tx.execute("DELETE FROM audit_log WHERE seq = 1").await.expect_err("runtime role").to_string();
        assert!(err.contains("permission denied"), "the firm's role lacks DELETE: {err}");
        tx.rollback().await.unwrap();
        let err = conn.execute("TRUNCATE audit_log").await.expect_err("truncate").to_string();
        assert!(err.contains("append-only"), "{err}");
    }
    assert!(verify(&env, "guarded").status.success());
});

/// Switches the append-only triggers off, as someone with the database's own keys could.
async fn disable_triggers(conn: &mut AnyConnection, postgres: bool) {
    if postgres {
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER").await.unwrap();
    } else {
        conn.execute("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete").await.unwrap();
    }
}

both_backends!(tampering_with_the_triggers_off_is_caught_by_audit_verify, |env: TestEnv| async move {
    let postgres = env.database_url().is_some();
    let tampers: [(&str, &[&str]); 4] = [
        ("edited", &["UPDATE audit_log SET actor_email = 'someone@else.example' WHERE seq = 2"]),
        ("deleted", &["DELETE FROM audit_log WHERE seq = 2"]),
        (
            "inserted",
            &[
                "UPDATE audit_log SET seq = seq + 10 WHERE seq >= 2",
                "UPDATE audit_log SET seq = seq - 9 WHERE seq >= 12",
                "INSERT INTO audit_log (seq, at, actor_kind, action, outcome, hash)
                 SELECT 2, at, 'cli', 'firm.deleted', 'success', hash FROM audit_log WHERE seq = 1",
            ],
        ),
        (
            "reordered",
            &[
                "UPDATE audit_log SET seq = 100 WHERE seq = 1",
                "UPDATE audit_log SET seq = 1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 100",
            ],
        ),
    ];
    for (kind, statements) in tampers {
        let slug = format!("tamper-{kind}");
        assert!(create_firm(&env, &slug, &format!("a@{kind}.example"), &[]).status.success());
        let intact = verify(&env, &slug);
        assert!(intact.status.success(), "{}", stderr(&intact));
        assert!(stdout(&intact).contains("intact: 3 entries"), "{}", stdout(&intact));

        let firm = firm_id(&env, &slug);
        let mut conn = raw_firm_connection(&env, &firm).await;
        disable_triggers(&mut conn, postgres).await;
        for statement in statements {
            conn.execute(AssertSqlSafe(statement.to_string()))
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        conn.close().await.unwrap();

        let caught = verify(&env, &slug);
        assert_eq!(caught.status.code(), Some(1), "{kind}: {}", stdout(&caught));
        let message = stderr(&caught);
        let first = if kind == "reordered" { "entry 1" } else { "entry 2" };
        assert!(message.contains(&format!("fails at {first}")), "{kind}: {message}");
    }
});

/// Lets the connection change the log and its checkpoints, as the database's owner can.
async fn lift_all_triggers(conn: &mut AnyConnection, postgres: bool) {
    if postgres {
        for table in ["audit_log", "audit_checkpoints", "audit_keys"] {
            conn.execute(AssertSqlSafe(format!("ALTER TABLE {table} DISABLE TRIGGER USER"))).await.unwrap();
        }
    } else {
        conn.execute(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
             DROP TRIGGER audit_checkpoints_no_delete",
        )
        .await
        .unwrap();
    }
}

/// Recomputes every entry's hash from the firm's genesis and moves the head to the last
/// entry: what someone without the keys can do after changing entries.
async fn rechain(conn: &mut AnyConnection, firm: &str) {
    use ringfence_crypto::audit_chain;
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, actor_email, action, resource_type, resource_id, matter_id,
                outcome, ip, user_agent, request_id FROM audit_log ORDER BY seq",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut previous = audit_chain::genesis(firm);
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
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    let last: i64 = rows.last().unwrap().get("seq");
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE singleton = 1")
        .bind(last)
        .bind(previous.to_vec())
        .execute(&mut *conn)
        .await
        .unwrap();
}

both_backends!(a_log_rewritten_and_signed_with_an_inserted_key_is_caught, |env: TestEnv| async move {
    use ringfence_crypto::audit_chain::AuditSigningKey;
    let postgres = env.database_url().is_some();
    assert!(create_firm(&env, "forged", "a@forged.example", &[]).status.success());
    let firm = firm_id(&env, "forged");
    let mut conn = raw_firm_connection(&env, &firm).await;
    lift_all_triggers(&mut conn, postgres).await;
    // The attack as it was run: another actor on an entry, the chain recomputed, a key of
    // the attacker's own added, and the head signed with it.
    conn.execute("UPDATE audit_log SET actor_email = 'someone@else.example' WHERE seq = 2").await.unwrap();
    rechain(&mut conn, &firm).await;
    conn.execute("DELETE FROM audit_checkpoints").await.unwrap();
    let key = AuditSigningKey::generate().unwrap();
    let public = key.public_key().unwrap();
    let key_id: String = public.iter().take(8).map(|b| format!("{b:02x}")).collect();
    // Without the firm key the seed can only be sealed under something else.
    let mut sealed = vec![1, 0, 0, 0, 1];
    sealed.extend_from_slice(&[7u8; 60]);
    sqlx::query("INSERT INTO audit_keys (id, public_key, seed_sealed, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&key_id)
        .bind(public.to_vec())
        .bind(sealed)
        .bind(i64::MAX / 2)
        .execute(&mut conn)
        .await
        .unwrap();
    let (seq, hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, hash FROM audit_head").fetch_one(&mut conn).await.unwrap();
    let hash: [u8; 32] = hash.try_into().unwrap();
    let signature = key.sign_checkpoint(&firm, seq, &hash, 1_800_000_000_000).unwrap();
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, at, hash, signature, key_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(seq)
    .bind(1_800_000_000_000_i64)
    .bind(hash.to_vec())
    .bind(signature)
    .bind(&key_id)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let caught = verify(&env, "forged");
    assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
    let message = stderr(&caught);
    assert!(message.contains(&format!("audit key {key_id} is not the firm's")), "{message}");
});

both_backends!(a_purge_row_does_not_switch_the_triggers_off, |env: TestEnv| async move {
    assert!(create_firm(&env, "purgeproof", "a@purgeproof.example", &[]).status.success());
    let firm = firm_id(&env, "purgeproof");
    let mut conn = raw_firm_connection(&env, &firm).await;
    let mut tx = conn.begin().await.unwrap();
    if env.database_url().is_some() {
        // On PostgreSQL the server works as the firm's runtime role.
        let hex = firm.replace('-', "");
        tx.execute(AssertSqlSafe(format!(r#"SET LOCAL ROLE "rf_{hex}""#))).await.unwrap();
    }
    // The row the delete triggers once made an exception for, if the table is still there.
    let inserted = tx.execute("INSERT INTO audit_purge (singleton, up_to_seq) VALUES (1, 1000000)").await;
    if let Err(err) = &inserted {
        tx.rollback().await.unwrap();
        tx = conn.begin().await.unwrap();
        if env.database_url().is_some() {
            assert!(err.to_string().contains("permission denied"), "{err}");
            let hex = firm.replace('-', "");
            tx.execute(AssertSqlSafe(format!(r#"SET LOCAL ROLE "rf_{hex}""#))).await.unwrap();
        }
    }
    for statement in [
        "DELETE FROM audit_log WHERE seq = 1",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 1",
    ] {
        let mut savepoint = tx.begin().await.unwrap();
        let err = savepoint.execute(statement).await.expect_err(statement).to_string();
        assert!(err.contains("append-only") || err.contains("permission denied"), "{statement}: {err}");
        savepoint.rollback().await.unwrap();
    }
    tx.commit().await.unwrap();
    conn.close().await.unwrap();
    let intact = verify(&env, "purgeproof");
    assert!(intact.status.success(), "{}", stderr(&intact));
    assert!(stdout(&intact).contains("intact: 3 entries"), "{}", stdout(&intact));
});

fn verify_against(env: &TestEnv, slug: &str, file: &std::path::Path) -> Output {
    let mut command = ringfence(env);
    command.args(["audit", "verify", "--firm", slug, "--against"]).arg(file);
    run(command, None)
}

/// The last entry of `firm` the sink at `path` has received (0 if none).
fn shipped_up_to(path: &std::path::Path, firm: &str) -> i64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["firm"] == firm)
        .filter_map(|line| line["entry"]["seq"].as_i64())
        .max()
        .unwrap_or(0)
}

/// The log's last entry and its last checkpoint in the database (0 if none): the entries
/// between them are the tail only checkpoints kept outside protect.
async fn tail_of(conn: &mut AnyConnection) -> (i64, i64) {
    let last_checkpoint: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM audit_checkpoints").fetch_one(&mut *conn).await.unwrap();
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(&mut *conn).await.unwrap();
    (last_checkpoint.unwrap_or(0), last.unwrap_or(0))
}

/// Serves until every firm's log holds `sweeps` sweeps and the sink has all of it, and
/// (the server's checkpoint job runs at its start) its head has been checkpointed once:
/// stopped before that job ran, the server would leave it due for the next start.
async fn serve_until_shipped(env: &TestEnv, firms: &[String], sink: &std::path::Path, sweeps: i64) {
    let server = Server::start(env, &["--audit-jsonl", sink.to_str().unwrap()]);
    let mut conns = Vec::new();
    for firm in firms {
        conns.push(raw_firm_connection(env, firm).await);
    }
    let mut all_shipped = false;
    for _ in 0..200 {
        all_shipped = true;
        for (firm, conn) in firms.iter().zip(conns.iter_mut()) {
            let swept: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'blobs.swept'")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            let (last_checkpoint, last) = tail_of(conn).await;
            all_shipped &= swept >= sweeps && shipped_up_to(sink, firm) == last && last_checkpoint > 0;
        }
        if all_shipped {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.terminate();
    for conn in conns {
        conn.close().await.unwrap();
    }
    assert!(all_shipped, "both firms' entries were shipped");
}

both_backends!(checkpoints_kept_outside_catch_a_rewritten_or_cut_tail, |env: TestEnv| async move {
    let postgres = env.database_url().is_some();
    let slugs = ["tail-rewritten", "tail-cut"];
    for slug in slugs {
        assert!(create_firm(&env, slug, &format!("a@{slug}.example"), &[]).status.success());
    }
    let firms: Vec<String> = slugs.iter().map(|slug| firm_id(&env, slug)).collect();
    let sink = env.data_dir().join("audit.jsonl");
    // The server's jobs write entries of their own at start (the blob sweep) and sign a
    // checkpoint of each log's head: wait until each firm is swept and shipped.
    serve_until_shipped(&env, &firms, &sink, 1).await;
    // An entry after that checkpoint (an operator's sweep), shipped by the next server
    // start, whose checkpoint schedule is not due for ten minutes.
    for slug in slugs {
        let mut command = ringfence(&env);
        command.args(["blobs", "sweep", "--firm", slug]);
        assert!(run(command, None).status.success());
    }
    serve_until_shipped(&env, &firms, &sink, 2).await;

    for ((slug, firm), cut) in slugs.iter().zip(&firms).zip([false, true]) {
        let mut conn = raw_firm_connection(&env, firm).await;
        let (last_checkpoint, last) = tail_of(&mut conn).await;
        assert_eq!(shipped_up_to(&sink, firm), last, "every entry of {slug} was shipped");
        assert!(last > last_checkpoint, "{slug}: entries follow the last checkpoint in the database");
        let matched = verify_against(&env, slug, &sink);
        assert!(matched.status.success(), "{}", stderr(&matched));
        assert!(stdout(&matched).contains(&format!("{last} checkpoints kept in")), "{}", stdout(&matched));

        // The entries after the last checkpoint in the database: someone without the keys
        // can rewrite them (or cut them off), and the database alone cannot tell.
        lift_all_triggers(&mut conn, postgres).await;
        let (changed, expected) = if cut {
            sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(last).execute(&mut conn).await.unwrap();
            (last, format!("entries {last} to {last} were removed"))
        } else {
            let first = last_checkpoint + 1;
            sqlx::query("UPDATE audit_log SET outcome = 'failure' WHERE seq = $1")
                .bind(first)
                .execute(&mut conn)
                .await
                .unwrap();
            (first, format!("entry {first} differs from the checkpoint kept"))
        };
        rechain(&mut conn, firm).await;
        conn.close().await.unwrap();
        let alone = verify(&env, slug);
        assert!(
            alone.status.success(),
            "the tail is not protected by the database alone: {}",
            stderr(&alone)
        );

        let caught = verify_against(&env, slug, &sink);
        assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
        let message = stderr(&caught);
        assert!(
            message.contains(&format!("fails at entry {changed}")) && message.contains(&expected),
            "{message}"
        );
        assert!(message.contains("line "), "names where the outside checkpoint is: {message}");
    }
});
