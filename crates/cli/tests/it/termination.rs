//! `ringfence firm terminate`, `reinstate` and `shred` against the real binary: a running
//! server refuses a terminated firm's changes within seconds of the command, and takes
//! them again once it is reinstated; a shred at the command line destroys the firm's
//! database and files once its retention has ended, and the slug is never given again.

use std::time::{Duration, Instant};

use ringfence_store::blobs::BlobStore;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::api::{Api, practising_matter};
use super::*;

const PASSWORD: &str = "a long enough passphrase";

fn create_with_password(env: &TestEnv, slug: &str, email: &str) {
    let mut command = ringfence(env);
    command
        .args(["firm", "create", "--name", "Ending & Co", "--slug", slug, "--admin-email", email])
        .arg("--admin-password-stdin");
    let output = run(command, Some(&format!("{PASSWORD}\n")));
    assert!(output.status.success(), "{}", stderr(&output));
}

fn firm(env: &TestEnv, args: &[&str]) -> Output {
    let mut command = ringfence(env);
    command.arg("firm").args(args);
    run(command, None)
}

/// What `ringfence firm list` says of `slug`'s standing (its last column).
fn standing(env: &TestEnv, slug: &str) -> Option<String> {
    stdout(&firm(env, &["list"]))
        .lines()
        .find(|l| l.starts_with(&format!("{slug}\t")))
        .and_then(|l| l.rsplit('\t').next())
        .map(str::to_owned)
}

/// Posts a note until the answer's status is `want`, for up to 15 seconds: another process
/// changed the firm's standing, and a server learns of it within seconds.
async fn note_status_becomes(api: &Api, matter: &str, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = api
            .post(
                &format!("/api/v1/matters/{matter}/notes"),
                json!({ "kind": "strategy", "body": "a note", "privileged": false }),
            )
            .await;
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "still {status} ({body}) rather than {want}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

both_backends!(
    a_server_refuses_changes_within_seconds_of_a_termination_at_the_command_line,
    |env: TestEnv| async move {
        create_with_password(&env, "ending", "ada@ending.example");
        let server = Server::start(&env, &[]);
        let api = Api::sign_in(&server, &env, "ada@ending.example", PASSWORD).await;
        let matter = practising_matter(&api).await;
        assert_eq!(standing(&env, "ending").as_deref(), Some("active"));

        let terminated = firm(&env, &["terminate", "--firm", "ending", "--retain-days", "30"]);
        assert!(terminated.status.success(), "{}", stderr(&terminated));
        let printed = stdout(&terminated);
        assert!(
            printed.contains("Terminated firm \"Ending & Co\" (ending): read-only from now on"),
            "{printed}"
        );
        assert!(printed.contains("Mailed the firm's administrators: ada@ending.example."), "{printed}");
        let mail = ringfence_testkit::outbox(env.data_dir()).pop().unwrap();
        assert!(mail.contains("To: ada@ending.example"), "{mail}");
        assert!(mail.contains("Subject: Ringfence: your firm's service has ended"), "{mail}");
        assert!(standing(&env, "ending").unwrap().starts_with("terminated, shredded after "));

        let refused = note_status_becomes(&api, &matter, 423).await;
        assert_eq!(refused["error"]["code"], "firm_terminated", "{refused}");
        let (status, _) = api.get(&format!("/api/v1/matters/{matter}")).await;
        assert_eq!(status, 200, "reading goes on");
        let export = api.request(reqwest::Method::GET, "/api/v1/audit.csv").send().await.unwrap();
        assert_eq!(export.status(), 200, "so does export");

        let again = firm(&env, &["terminate", "--firm", "ending"]);
        assert_eq!(again.status.code(), Some(1));
        assert!(stderr(&again).contains("the firm was terminated already, on "), "{}", stderr(&again));
        let early = firm(&env, &["shred", "--firm", "ending"]);
        assert_eq!(early.status.code(), Some(1));
        assert!(stderr(&early).contains("it can be shredded only after that"), "{}", stderr(&early));

        let reinstated = firm(&env, &["reinstate", "--firm", "ending"]);
        assert!(reinstated.status.success(), "{}", stderr(&reinstated));
        assert!(stdout(&reinstated).contains("it is in service again"), "{}", stdout(&reinstated));
        note_status_becomes(&api, &matter, 201).await;
        assert_eq!(standing(&env, "ending").as_deref(), Some("active"));
        let mut jobs = ringfence(&env);
        jobs.args(["jobs", "list"]);
        assert!(!stdout(&run(jobs, None)).contains("firm.shred"), "the shred was cancelled");
        let not_terminated = firm(&env, &["reinstate", "--firm", "ending"]);
        assert_eq!(not_terminated.status.code(), Some(1));
        assert!(
            stderr(&not_terminated).contains("the firm is not terminated"),
            "{}",
            stderr(&not_terminated)
        );
        assert!(server.terminate().success());
    }
);

/// Whether the firm's database is there: its SQLite directory, or its PostgreSQL schema.
async fn database_exists(env: &TestEnv, firm: &str) -> bool {
    match env.database_url() {
        None => env.data_dir().join("firms").join(firm).exists(),
        Some(_) => {
            let mut control = raw_control(env).await;
            let schema = format!("firm_{}", firm.replace('-', ""));
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1")
                    .bind(schema)
                    .fetch_one(&mut control)
                    .await
                    .unwrap();
            count > 0
        }
    }
}

both_backends!(firm_shred_destroys_a_firm_once_its_retention_has_ended, |env: TestEnv| async move {
    create_with_password(&env, "closing", "ada@closing.example");
    let id = firm_id(&env, "closing");
    let location = env.blob_location();
    let blobs = BlobStore::open(&location).unwrap();
    let mut writer = blobs.writer(id.parse().unwrap(), uuid::Uuid::now_v7());
    writer.write(b"sealed bytes of a document".to_vec()).await.unwrap();
    writer.finish().await.unwrap();
    let terminated = firm(&env, &["terminate", "--firm", "closing", "--retain-days", "1"]);
    assert!(terminated.status.success(), "{}", stderr(&terminated));

    // The binary reads the wall clock: rather than wait a day, the test moves the
    // termination two days back.
    let mut control = raw_control(&env).await;
    let two_days = 2 * 24 * 3600 * 1000_i64;
    sqlx::query(
        "UPDATE firm_terminations SET terminated_at = terminated_at - $1, shred_after = shred_after - $1
         WHERE firm_id = $2",
    )
    .bind(two_days)
    .bind(&id)
    .execute(&mut control)
    .await
    .unwrap();

    let mut shred = ringfence(&env);
    shred.args(["firm", "shred", "--firm", "closing", "--force-reason", "hold released by court order 118"]);
    shred.args(["--blob-store", &blob_store_setting(&location)]);
    let shredded = run(shred, None);
    assert!(shredded.status.success(), "{}", stderr(&shredded));
    let printed = stdout(&shredded);
    assert!(printed.contains(&format!("Firm closing ({id}) is shredded")), "{printed}");
    assert!(printed.contains("destroyed by cli"), "{printed}");
    assert!(printed.contains("for this reason: hold released by court order 118"), "{printed}");
    assert!(!database_exists(&env, &id).await);
    assert!(blobs.list(id.parse().unwrap()).await.unwrap().is_empty());
    assert_eq!(standing(&env, "closing"), None, "no longer listed");

    let reinstate = firm(&env, &["reinstate", "--firm", "closing"]);
    assert_eq!(reinstate.status.code(), Some(1));
    assert!(stderr(&reinstate).contains("the firm `closing` was shredded on "), "{}", stderr(&reinstate));
    let reused = create_firm(&env, "closing", "new@closing.example", &[]);
    assert_eq!(reused.status.code(), Some(1));
    assert!(stderr(&reused).contains("is never given to another firm"), "{}", stderr(&reused));
    let again = firm(&env, &["shred", "--firm", "closing"]);
    assert!(again.status.success(), "shredding again changes nothing: {}", stderr(&again));
    let mut jobs = ringfence(&env);
    jobs.args(["jobs", "list"]);
    assert!(!stdout(&run(jobs, None)).contains("firm.shred"), "its job was taken off the queue");
});

both_backends!(termination_arguments_are_checked, |env: TestEnv| async move {
    for args in [
        &["terminate", "--firm", "acme", "--retain-days", "0"][..],
        &["terminate", "--firm", "acme", "--retain-days", "3651"],
        &["shred", "--firm", "acme", "--force-reason", "  "],
        &["reinstate", "--firm", "Not A Slug"],
    ] {
        let output = firm(&env, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
    }
    let unknown = firm(&env, &["terminate", "--firm", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no firm with the slug `nobody`"), "{}", stderr(&unknown));
});
