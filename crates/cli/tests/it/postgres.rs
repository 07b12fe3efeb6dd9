//! PostgreSQL's own walls: each firm's role reaches only its own schema, and the
//! deployment's login needs no superuser rights.

use ringfence_testkit::{Backend, TestEnv};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use super::*;

fn firm_ids(env: &TestEnv) -> Vec<String> {
    let mut list = ringfence(env);
    list.args(["firm", "list"]);
    stdout(&run(list, None))
        .lines()
        .map(|line| line.split('\t').nth(1).expect("id column").replace('-', ""))
        .collect()
}

async fn as_role(conn: &mut PgConnection, role: &str, sql: &str) -> Result<u64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    tx.execute(AssertSqlSafe(format!(r#"SET LOCAL ROLE "{role}""#))).await?;
    let rows = tx.fetch_all(AssertSqlSafe(sql.to_owned())).await?;
    tx.rollback().await?;
    Ok(rows.len() as u64)
}

#[tokio::test]
async fn a_firm_role_reaches_only_its_own_schema() {
    let Some(env) = TestEnv::new(Backend::Postgres).await else {
        return;
    };
    assert!(create_firm(&env, "firm-a", "a@a.example", &[]).status.success());
    assert!(create_firm(&env, "firm-b", "b@b.example", &[]).status.success());
    let ids = firm_ids(&env);
    let (a, b) = (&ids[0], &ids[1]);
    let mut conn = env.database.as_ref().unwrap().connect().await;

    assert_eq!(
        as_role(&mut conn, &format!("rf_{a}"), &format!("SELECT * FROM firm_{a}.users")).await.unwrap(),
        1
    );
    for forbidden in [
        format!("SELECT * FROM firm_{b}.users"),
        "SELECT * FROM control.firms".to_owned(),
        "SELECT * FROM control.firm_keys".to_owned(),
    ] {
        let err = as_role(&mut conn, &format!("rf_{a}"), &forbidden).await.expect_err(&forbidden);
        assert!(err.to_string().contains("permission denied"), "{forbidden}: {err}");
    }

    let owned: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1",
    )
    .bind(format!("rf_{a}"))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the runtime role owns nothing");
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1")
            .bind(format!("rf_{a}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!superuser);
}

#[tokio::test]
async fn the_application_login_needs_only_createrole_and_create() {
    let Some(env) = TestEnv::new(Backend::Postgres).await else {
        return;
    };
    let db = env.database.as_ref().unwrap();
    let login = format!("rf_app_{}", &db.name["rf_test_".len()..]);
    let mut admin = db.connect().await;
    admin
        .execute(AssertSqlSafe(format!(r#"CREATE ROLE "{login}" LOGIN CREATEROLE NOSUPERUSER"#)))
        .await
        .unwrap();
    admin
        .execute(AssertSqlSafe(format!(r#"GRANT CREATE ON DATABASE "{}" TO "{login}""#, db.name)))
        .await
        .unwrap();

    let mut command = Command::new(BIN);
    command.env_clear().env("RUST_LOG", "warn").arg("--data-dir").arg(env.data_dir());
    command.args(["--database-url", &db.url_for_user(&login)]);
    command.args([
        "firm",
        "create",
        "--name",
        "Least",
        "--slug",
        "least-privilege",
        "--admin-email",
        "a@least.example",
    ]);
    let output = run(command, None);
    let created = output.status.success();

    // Hand everything back before dropping the login, whatever the outcome.
    admin.execute(AssertSqlSafe(format!(r#"REASSIGN OWNED BY "{login}" TO CURRENT_USER"#))).await.unwrap();
    admin.execute(AssertSqlSafe(format!(r#"DROP OWNED BY "{login}""#))).await.unwrap();
    admin.execute(AssertSqlSafe(format!(r#"DROP ROLE "{login}""#))).await.unwrap();
    assert!(created, "{}", stderr(&output));
}
