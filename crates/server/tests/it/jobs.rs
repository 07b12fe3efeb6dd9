//! Background work on the job queue, driven by the test clock: shipping, checkpoints, the
//! retention purge and rotations run once per deployment whatever the number of workers.

use std::sync::Arc;

use ringfence_core::clock::Clock;
use ringfence_core::principal::Principal;
use ringfence_server::audit_shipping::Sink;
use ringfence_server::jobs::{Outcome, Ran, SCHEDULES, Worker, after_rotation};
use ringfence_store::control::jobs::JobState;
use ringfence_store::firm::audit as audit_log;
use ringfence_testkit::{TestEnv, both_backends};
use time::Duration;

use super::sign_in_harness::*;

fn worker(h: &Harness, sinks: Vec<Sink>) -> Worker {
    Worker::new(
        h.state.storage.clone(),
        h.state.blobs.clone(),
        h.state.mailer.clone(),
        h.clock.clone(),
        sinks,
    )
}

fn kinds(ran: &[Ran]) -> Vec<&str> {
    let mut kinds: Vec<&str> = ran.iter().map(|r| r.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds
}

fn seqs_in(path: &std::path::Path) -> Vec<i64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["entry"]["seq"].as_i64().unwrap())
        .collect()
}

both_backends!(two_workers_run_each_schedule_once_and_ship_each_entry_once, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let jsonl = h.env.data_dir().join("audit.jsonl");
    let a = worker(&h, vec![Sink::json_lines(jsonl.clone())]);
    let b = worker(&h, vec![Sink::json_lines(jsonl.clone())]);
    a.ensure_schedules().await.unwrap();
    b.ensure_schedules().await.unwrap();
    let listed = h.state.storage.list_jobs(h.clock.now()).await.unwrap();
    assert_eq!(listed.len(), SCHEDULES.len(), "each schedule once, however many servers put it there");

    let (ran_a, ran_b) = tokio::join!(a.run_due(), b.run_due());
    let mut ran = ran_a.unwrap();
    ran.extend(ran_b.unwrap());
    let mut expected: Vec<&str> = SCHEDULES.iter().map(|(job, _)| job.kind()).collect();
    expected.sort_unstable();
    assert_eq!(kinds(&ran), expected, "every schedule ran once between the two");
    assert!(ran.iter().all(|r| r.outcome == Outcome::Done), "{ran:?}");
    let shipped = seqs_in(&jsonl);
    assert_eq!(shipped, (1..=shipped.len() as i64).collect::<Vec<_>>(), "every entry once, in order");

    // Nothing is due until the clock moves; then only what is due runs.
    assert!(a.run_due().await.unwrap().is_empty());
    h.call("POST", "/api/v1/auth/logout", Some(&admin), None).await;
    h.clock.advance(Duration::seconds(1));
    let (ran_a, ran_b) = tokio::join!(a.run_due(), b.run_due());
    let ran: Vec<Ran> = ran_a.unwrap().into_iter().chain(ran_b.unwrap()).collect();
    assert_eq!(kinds(&ran), ["audit.ship"]);
    let shipped = seqs_in(&jsonl);
    assert_eq!(
        shipped,
        (1..=shipped.len() as i64).collect::<Vec<_>>(),
        "the new entries once, after the rest"
    );

    h.clock.advance(Duration::days(1));
    let ran = a.run_due().await.unwrap();
    assert_eq!(kinds(&ran), expected, "a day later every schedule is due again");
    let purge = h.state.storage.list_jobs(h.clock.now()).await.unwrap();
    let purge = purge.iter().find(|j| j.kind == "audit.purge").unwrap();
    assert_eq!(
        (purge.runs, purge.state),
        (2, JobState::Queued),
        "the daily purge ran twice in a day and a bit"
    );
});

both_backends!(a_quiet_logs_newest_entries_get_a_checkpoint_on_time, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let store = h.state.storage.firm(h.firm).await.unwrap();
    let checkpoints = || async {
        let mut tx = store.begin(&Principal::Anonymous).await.unwrap();
        let verified = audit_log::verify(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        match verified {
            audit_log::Verification::Intact { checkpoints, .. } => checkpoints,
            broken => panic!("{broken:?}"),
        }
    };
    let before = checkpoints().await;
    let w = worker(&h, Vec::new());
    w.ensure_schedules().await.unwrap();
    w.run_due().await.unwrap();
    assert!(checkpoints().await > before, "the newest entries signed, without a new entry or a reader");
    // The first round's blob sweep records an entry of its own, signed ten minutes later.
    h.clock.advance(Duration::minutes(10));
    w.run_due().await.unwrap();
    let signed = checkpoints().await;
    h.clock.advance(Duration::minutes(10));
    assert!(kinds(&w.run_due().await.unwrap()).contains(&"audit.checkpoint"));
    assert_eq!(checkpoints().await, signed, "a head already covered is not signed again");
});

both_backends!(a_rotation_is_finished_by_the_job_queued_with_its_key, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let now = h.clock.now();
    let storage = &h.state.storage;
    storage.rotate_firm_key(h.firm, now, &after_rotation(h.firm, now)).await.unwrap();
    assert!(storage.stale_values(h.firm).await.unwrap() > 0);
    let w = worker(&h, Vec::new());
    assert!(w.run_due().await.unwrap().is_empty(), "it waits until every server has the new key");
    h.clock.advance(Duration::seconds(13));
    let ran = w.run_due().await.unwrap();
    assert_eq!(ran, [Ran { kind: "keys.finish-rotation".to_owned(), outcome: Outcome::Done }]);
    assert_eq!(storage.stale_values(h.firm).await.unwrap(), 0);
    assert!(storage.list_jobs(h.clock.now()).await.unwrap().is_empty(), "a one-off job is gone once done");
});

both_backends!(a_job_that_fails_is_retried_then_dies_visibly, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // A JSON-lines sink in a directory that does not exist: every send fails.
    let broken = h.env.data_dir().join("missing").join("audit.jsonl");
    let w = worker(&h, vec![Sink::json_lines(broken)]);
    let storage = Arc::clone(&h.state.storage);
    storage
        .enqueue_job(&ringfence_server::jobs::Job::ShipAudit.once_at(h.clock.now()), h.clock.now())
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        let ran = w.run_due().await.unwrap();
        outcomes.extend(ran.into_iter().map(|r| r.outcome));
        h.clock.advance(Duration::hours(1));
    }
    assert_eq!(outcomes.len(), 10, "{outcomes:?}");
    assert!(outcomes[..9].iter().all(|o| matches!(o, Outcome::RetryAt(_))), "{outcomes:?}");
    assert_eq!(outcomes[9], Outcome::Dead);
    let listed = storage.list_jobs(h.clock.now()).await.unwrap();
    assert_eq!(listed[0].state, JobState::Dead);
    assert!(listed[0].last_error.as_deref().is_some_and(|e| e.contains("I/O")), "{:?}", listed[0].last_error);
    assert!(w.run_due().await.unwrap().is_empty(), "a dead job stays dead");
    assert!(storage.retry_job(listed[0].id, h.clock.now()).await.unwrap());
    std::fs::create_dir_all(h.env.data_dir().join("missing")).unwrap();
    let ran = w.run_due().await.unwrap();
    assert_eq!(ran.iter().map(|r| &r.outcome).collect::<Vec<_>>(), [&Outcome::Done], "it works once retried");
});
