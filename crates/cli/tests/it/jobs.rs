use std::time::Duration;

use ringfence_testkit::{TestEnv, both_backends};
use sqlx::Executor;

use super::*;

fn jobs(env: &TestEnv, args: &[&str]) -> Output {
    let mut command = ringfence(env);
    command.arg("jobs").args(args);
    run(command, None)
}

/// Polls `jobs list` until `done` holds of its output, for at most a minute.
fn wait_for_jobs(env: &TestEnv, done: impl Fn(&str) -> bool) -> String {
    for _ in 0..240 {
        let listed = stdout(&jobs(env, &["list"]));
        if done(&listed) {
            return listed;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("the job queue never reached the expected state: {}", stdout(&jobs(env, &["list"])));
}

both_backends!(a_dead_job_is_listed_first_and_retried_from_the_command_line, |env: TestEnv| async move {
    assert!(create_firm(&env, "queued", "a@queued.example", &[]).status.success());
    let empty = jobs(&env, &["list"]);
    assert!(empty.status.success(), "{}", stderr(&empty));
    assert!(stdout(&empty).contains("No jobs are queued"), "{}", stdout(&empty));

    let id = "0b5e3c1e-6f1d-4b8e-9d43-5a0c2f3e7a11";
    raw_control(&env)
        .await
        .execute(sqlx::AssertSqlSafe(format!(
            "INSERT INTO jobs (id, kind, firm_id, payload, run_at, state, attempts, max_attempts, created_at, updated_at, last_error)
             VALUES ('{id}', 'blobs.sweep', NULL, '{{}}', 0, 'dead', 10, 10, 0, 0, 'the blob store refused: access denied')"
        )))
        .await
        .unwrap();
    let listed = stdout(&jobs(&env, &["list"]));
    let line = listed.lines().next().expect("a line");
    assert!(line.starts_with(&format!("{id}\tdead\tblobs.sweep\t-\t")), "{line}");
    assert!(line.contains("10/10") && line.ends_with("the blob store refused: access denied"), "{line}");

    let retried = jobs(&env, &["retry", id]);
    assert!(retried.status.success(), "{}", stderr(&retried));
    assert!(stdout(&retried).contains("queued again"), "{}", stdout(&retried));
    assert!(stdout(&jobs(&env, &["list"])).contains(&format!("{id}\tretrying\tblobs.sweep\t-\t")));
    let again = jobs(&env, &["retry", id]);
    assert_eq!(again.status.code(), Some(1), "only a dead job is retried");
    assert!(stderr(&again).contains("no dead job has the id"), "{}", stderr(&again));
    let garbage = jobs(&env, &["retry", "not-a-job\u{1}"]);
    assert_eq!(garbage.status.code(), Some(2), "{}", stderr(&garbage));
    env.expect_jobs_left("blobs.sweep");
});

both_backends!(only_servers_with_the_worker_role_run_background_jobs, |env: TestEnv| async move {
    assert!(create_firm(&env, "roles", "a@roles.example", &[]).status.success());
    let web = Server::start(&env, &["--role", "web"]);
    let answered = web.client().get(web.url("/healthz")).send().await.expect("web answers");
    assert_eq!(answered.status(), 200);
    assert!(stdout(&jobs(&env, &["list"])).contains("No jobs are queued"), "a web server schedules nothing");

    let mut command = ringfence(&env);
    command.args(["serve", "--role", "worker"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut worker = command.spawn().expect("worker starts");
    let mut lines = BufReader::new(worker.stdout.take().expect("stdout")).lines();
    let banner: Vec<String> =
        lines.by_ref().map_while(Result::ok).take_while(|l| l != "ringfence: ready").collect();
    assert!(banner.iter().any(|l| l.contains("background jobs only")), "{banner:?}");
    assert!(!banner.iter().any(|l| l.contains("listening")), "a worker serves nothing: {banner:?}");

    let listed = wait_for_jobs(&env, |listed| {
        listed.lines().any(|l| l.contains("\taudit.purge\t") && l.contains("ran 1"))
    });
    for kind in ["audit.ship", "audit.checkpoint", "audit.purge", "keys.finish-rotations", "blobs.sweep"] {
        let line = listed
            .lines()
            .find(|l| l.contains(&format!("\t{kind}\t")))
            .unwrap_or_else(|| panic!("{kind}: {listed}"));
        assert!(!line.contains("\tdead\t"), "{line}");
    }
    let purge = listed.lines().find(|l| l.contains("\taudit.purge\t")).expect("the daily purge");
    assert!(purge.contains("every 1d, ran 1"), "run once at start, then daily: {purge}");
    let sent = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let status = worker.wait().expect("worker ends");
    assert_eq!(status.code(), Some(0), "SIGTERM ends a worker with exit 0");
});

/// The sequence numbers the JSON-lines sink holds for each firm, in the order written.
fn shipped(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<i64>> {
    let mut by_firm = std::collections::BTreeMap::<String, Vec<i64>>::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let firm = line["firm"].as_str().expect("firm").to_owned();
        by_firm.entry(firm).or_default().push(line["entry"]["seq"].as_i64().expect("seq"));
    }
    by_firm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_ship_each_entry_once_and_run_a_daily_job_once() {
    let Some(env) = TestEnv::new(ringfence_testkit::Backend::Postgres).await else {
        return;
    };
    for slug in ["north", "south"] {
        assert!(create_firm(&env, slug, &format!("a@{slug}.example"), &[]).status.success());
    }
    let sink = env.data_dir().join("audit.jsonl");
    let sink_flag = ["--audit-jsonl", sink.to_str().unwrap()];
    let a = Server::start(&env, &sink_flag);
    let b = Server::start(&env, &sink_flag);
    // Entries keep coming while both servers run: an operator's sweeps, one firm then the other.
    for round in 0..6 {
        let mut sweep = ringfence(&env);
        sweep.args(["blobs", "sweep", "--firm", if round % 2 == 0 { "north" } else { "south" }]);
        assert!(run(sweep, None).status.success());
    }
    let mut listed = String::new();
    for _ in 0..240 {
        let by_firm = shipped(&sink);
        listed = stdout(&jobs(&env, &["list"]));
        // Each firm: its creation, invitation, the start-up sweep and three more sweeps.
        let caught_up = by_firm.len() == 2 && by_firm.values().all(|seqs| seqs.len() >= 6);
        if caught_up && listed.lines().any(|l| l.contains("\taudit.purge\t") && l.contains("ran 1")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(a);
    drop(b);
    for (firm, seqs) in shipped(&sink) {
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "{firm}: every entry exactly once, in order"
        );
    }
    for kind in ["audit.ship", "audit.checkpoint", "audit.purge", "keys.finish-rotations", "blobs.sweep"] {
        let lines = listed.lines().filter(|l| l.contains(&format!("\t{kind}\t"))).count();
        assert_eq!(lines, 1, "{kind} is scheduled once for the deployment: {listed}");
    }
    let purge = listed.lines().find(|l| l.contains("\taudit.purge\t")).expect("the daily purge");
    assert!(purge.contains("every 1d, ran 1"), "the daily job ran once, not once per server: {purge}");
}
