use axum::http::StatusCode;
use ringfence_server::app;
use ringfence_testkit::{Backend, TestEnv, both_backends};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use super::*;

both_backends!(healthz_and_readyz_answer, |env: TestEnv| async move {
    let state = state(&env, false).await;
    let health = send(app(state.clone()), get("/healthz")).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(json_body(health).await["status"], "ok");
    let ready = send(app(state), get("/readyz")).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json_body(ready).await["status"], "ready");
});

#[tokio::test]
async fn readyz_reports_unreachable_storage() {
    let Some(env) = TestEnv::new(Backend::Postgres).await else {
        return;
    };
    let state = state(&env, false).await;
    let database = env.database.as_ref().expect("postgres env");
    let mut admin =
        PgConnection::connect(&std::env::var(ringfence_testkit::DATABASE_URL_VAR).unwrap()).await.unwrap();
    admin.execute(AssertSqlSafe(format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, database.name))).await.unwrap();

    let health = send(app(state.clone()), get("/healthz")).await;
    assert_eq!(health.status(), StatusCode::OK, "the process is still up");
    let ready = send(app(state), get("/readyz")).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_body(ready).await;
    assert_eq!(body["error"]["code"], "not_ready");
    assert!(!body.to_string().contains(&database.name), "no internal detail: {body}");
}
