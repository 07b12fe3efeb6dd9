//! The audit log against someone with direct database access: the database refuses edits,
//! and edits made with the triggers switched off are caught by `ringfence audit verify`.

use ringfence_testkit::{TestEnv, both_backends};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

use super::*;

fn firm_id(env: &TestEnv, slug: &str) -> String {
    let mut list = ringfence(env);
    list.args(["firm", "list"]);
    stdout(&run(list, None))
        .lines()
        .find(|l| l.starts_with(&format!("{slug}\t")))
        .and_then(|l| l.split('\t').nth(1))
        .expect("firm listed")
        .to_owned()
}

/// A direct connection to the firm's tables: the SQLite file, or PostgreSQL as the test's
/// superuser with the firm's schema on the search path.
async fn raw(env: &TestEnv, firm: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    match env.database_url() {
        None => {
            let path = env.data_dir().join("firms").join(firm).join("firm.db");
            AnyConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap()
        }
        Some(url) => {
            let mut conn = AnyConnection::connect(url).await.unwrap();
            let schema = format!("firm_{}", firm.replace('-', ""));
            conn.execute(AssertSqlSafe(format!(r#"SET search_path TO "{schema}""#))).await.unwrap();
            conn
        }
    }
}

fn verify(env: &TestEnv, slug: &str) -> Output {
    let mut command = ringfence(env);
    command.args(["audit", "verify", "--firm", slug]);
    run(command, None)
}

both_backends!(the_database_refuses_to_change_the_audit_log, |env: TestEnv| async move {
    assert!(create_firm(&env, "guarded", "a@guarded.example", &[]).status.success());
    let firm = firm_id(&env, "guarded");
    let mut conn = raw(&env, &firm).await;
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
        let mut conn = raw(&env, &firm).await;
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
