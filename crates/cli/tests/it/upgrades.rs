//! Rolling upgrades: a binary never runs against a schema that a newer release migrated,
//! whichever store is ahead, and says what to do.

use ringfence_store::migrate::{StoreKind, latest_version};
use ringfence_testkit::{TestEnv, both_backends};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

use super::*;

const FROM_THE_FUTURE: i64 = 9999;

async fn record_a_newer_migration(conn: &mut AnyConnection) {
    conn.execute(AssertSqlSafe(format!(
        "INSERT INTO schema_migrations (version, name) VALUES ({FROM_THE_FUTURE}, '{FROM_THE_FUTURE}_from_a_newer_release')"
    )))
    .await
    .unwrap();
}

/// Runs each command against the deployment and checks it refuses, naming both versions.
fn every_command_refuses(env: &TestEnv, store: StoreKind) {
    let known = latest_version(env.backend, store);
    let expected = format!("{store}'s schema is at version {FROM_THE_FUTURE}, newer than version {known}");
    let serve = ["serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"];
    let commands: [&[&str]; 5] = [
        &["migrate"],
        &["firm", "list"],
        &["audit", "verify", "--firm", "ahead"],
        &["keys", "rotate", "--firm", "ahead"],
        &serve,
    ];
    for args in commands {
        let mut command = ringfence(env);
        command.args(args);
        let output = run(command, None);
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(&expected), "{args:?}: {said}");
        assert!(said.contains("upgrade this binary"), "{args:?}: {said}");
        assert!(!stdout(&output).contains("ringfence: ready"), "{args:?} must not serve");
    }
}

both_backends!(every_command_refuses_a_schema_newer_than_it_knows, |env: TestEnv| async move {
    assert!(create_firm(&env, "ahead", "a@ahead.example", &[]).status.success());
    let firm = firm_id(&env, "ahead");

    let mut control = raw_control(&env).await;
    record_a_newer_migration(&mut control).await;
    every_command_refuses(&env, StoreKind::Control);
    control
        .execute(AssertSqlSafe(format!("DELETE FROM schema_migrations WHERE version = {FROM_THE_FUTURE}")))
        .await
        .unwrap();
    control.close().await.unwrap();

    let mut firm_store = raw_firm_connection(&env, &firm).await;
    record_a_newer_migration(&mut firm_store).await;
    firm_store.close().await.unwrap();
    every_command_refuses(&env, StoreKind::Firm);
});
