//! The job queue on both backends: a job commits or rolls back with the change that caused
//! it, runs once whoever claims it, is taken over when its server dies, and stops visibly
//! when it keeps failing.

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_testkit::{TestEnv, both_backends};
use time::{Duration, OffsetDateTime};

use crate::control::jobs::{self, ClaimedJob, Enqueued, Failed, JobState, NewJob, backoff};
use crate::jobs::Claim;
use crate::{Storage, StorageLocation};

async fn open(env: &TestEnv) -> Storage {
    // The test kit's `location` is of its own copy of this crate: the URL is what carries over.
    let location = match env.database_url() {
        Some(url) => StorageLocation::postgres(url.to_owned()),
        None => StorageLocation::Sqlite,
    };
    Storage::open(&location, env.data_dir(), None, SystemClock.now()).await.expect("storage opens")
}

fn job(kind: &str, run_at: OffsetDateTime, dedupe: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        firm: None,
        payload: "{}".to_owned(),
        run_at,
        dedupe_key: dedupe.map(str::to_owned),
        max_attempts: 3,
        every: None,
    }
}

async fn claim(storage: &Storage, worker: &str, now: OffsetDateTime) -> Option<ClaimedJob> {
    match storage.claim_job(worker, now, Duration::seconds(60)).await.expect("claim") {
        Some(Claim::Run(job)) => Some(job),
        Some(Claim::Abandoned(job)) => panic!("{job:?} was abandoned"),
        None => None,
    }
}

both_backends!(a_job_commits_and_rolls_back_with_the_change_that_caused_it, |env: TestEnv| async move {
    let storage = open(&env).await;
    let now = SystemClock.now();
    let mut tx = storage.control.begin().await.unwrap();
    jobs::enqueue(&mut tx, &job("rolled.back", now, None), now).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(storage.list_jobs(now).await.unwrap().is_empty(), "no job for a rolled-back change");

    let mut tx = storage.control.begin().await.unwrap();
    jobs::enqueue(&mut tx, &job("committed", now, None), now).await.unwrap();
    tx.commit().await.unwrap();
    let listed = storage.list_jobs(now).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), ["committed"]);
    let taken = claim(&storage, "w", now).await.expect("due");
    assert!(storage.complete_job(&taken, now).await.unwrap());
    assert!(storage.list_jobs(now).await.unwrap().is_empty(), "a finished one-off job is gone");
});

both_backends!(a_dedupe_key_keeps_one_job_and_a_job_waits_for_its_time, |env: TestEnv| async move {
    let storage = open(&env).await;
    let now = SystemClock.now();
    let later = now + Duration::minutes(5);
    assert!(matches!(
        storage.enqueue_job(&job("k", later, Some("only-one")), now).await.unwrap(),
        Enqueued::Added(_)
    ));
    assert_eq!(
        storage.enqueue_job(&job("k", now, Some("only-one")), now).await.unwrap(),
        Enqueued::AlreadyThere
    );
    assert_eq!(storage.list_jobs(now).await.unwrap().len(), 1);
    assert!(claim(&storage, "w", now).await.is_none(), "not due yet");
    let due = claim(&storage, "w", later).await.expect("due at its time");
    assert!(storage.complete_job(&due, later).await.unwrap());
});

both_backends!(concurrent_claims_never_take_the_same_job, |env: TestEnv| async move {
    let storage = std::sync::Arc::new(open(&env).await);
    let now = SystemClock.now();
    for n in 0..20 {
        storage.enqueue_job(&job(&format!("job-{n}"), now, None), now).await.unwrap();
    }
    let mut claimers = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let storage = storage.clone();
        claimers.spawn(async move {
            let mut taken = Vec::new();
            while let Some(job) = claim(&storage, &format!("w{worker}"), now).await {
                assert!(storage.complete_job(&job, now).await.unwrap());
                taken.push(job.kind);
            }
            taken
        });
    }
    let mut taken: Vec<String> = claimers.join_all().await.into_iter().flatten().collect();
    taken.sort();
    let mut expected: Vec<String> = (0..20).map(|n| format!("job-{n}")).collect();
    expected.sort();
    assert_eq!(taken, expected, "every job claimed exactly once");
});

both_backends!(a_job_whose_server_died_is_taken_over_after_its_lease, |env: TestEnv| async move {
    let storage = open(&env).await;
    let now = SystemClock.now();
    storage.enqueue_job(&job("long", now, None), now).await.unwrap();
    let first = claim(&storage, "dies", now).await.expect("claimed");
    assert!(claim(&storage, "other", now + Duration::seconds(59)).await.is_none(), "leased");
    let listed = storage.list_jobs(now).await.unwrap();
    assert_eq!(listed[0].state, JobState::Running);
    assert_eq!(listed[0].leased_by.as_deref(), Some("dies"));

    let second = claim(&storage, "other", now + Duration::seconds(61)).await.expect("taken over");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    // The first holder, back from the dead, can no longer finish, fail or keep it.
    let late = now + Duration::seconds(62);
    assert!(!storage.complete_job(&first, late).await.unwrap());
    assert_eq!(storage.fail_job(&first, late, "late").await.unwrap(), Failed::LeaseLost);
    assert!(!storage.extend_job_lease(&first, late, Duration::seconds(60)).await.unwrap());
    assert!(storage.extend_job_lease(&second, late, Duration::seconds(60)).await.unwrap());
    assert!(storage.complete_job(&second, late).await.unwrap());
});

both_backends!(
    a_job_that_keeps_failing_backs_off_then_dies_visibly_and_can_be_retried,
    |env: TestEnv| async move {
        let storage = open(&env).await;
        let mut now = SystemClock.now();
        storage.enqueue_job(&job("flaky", now, None), now).await.unwrap();
        for attempt in 1..=2 {
            let taken = claim(&storage, "w", now).await.expect("due");
            assert_eq!(taken.attempts, attempt);
            let Failed::RetryAt(at) = storage.fail_job(&taken, now, "collector down").await.unwrap() else {
                panic!("retried");
            };
            assert_eq!(at, now + backoff(attempt));
            assert!(claim(&storage, "w", at - Duration::seconds(1)).await.is_none(), "waits its backoff");
            now = at;
        }
        let last = claim(&storage, "w", now).await.expect("third attempt");
        assert_eq!(storage.fail_job(&last, now, "collector down\0 for good").await.unwrap(), Failed::Dead);
        assert!(claim(&storage, "w", now + Duration::days(30)).await.is_none(), "a dead job never runs");
        let listed = storage.list_jobs(now).await.unwrap();
        assert_eq!(listed[0].state, JobState::Dead);
        assert_eq!(listed[0].attempts, 3);
        assert_eq!(
            listed[0].last_error.as_deref(),
            Some("collector down\\u{0} for good"),
            "kept, made loggable"
        );

        assert!(storage.retry_job(listed[0].id, now).await.unwrap());
        assert!(!storage.retry_job(listed[0].id, now).await.unwrap(), "only a dead job is retried");
        let again = claim(&storage, "w", now).await.expect("queued again");
        assert_eq!(again.attempts, 1, "attempts counted afresh");
        assert!(storage.complete_job(&again, now).await.unwrap());
    }
);

both_backends!(a_job_whose_server_dies_on_every_attempt_is_given_up, |env: TestEnv| async move {
    let storage = open(&env).await;
    let mut now = SystemClock.now();
    storage.enqueue_job(&job("crashes-its-server", now, None), now).await.unwrap();
    for _ in 0..3 {
        claim(&storage, "dies", now).await.expect("claimed");
        now += Duration::minutes(2);
    }
    match storage.claim_job("w", now, Duration::seconds(60)).await.unwrap() {
        Some(Claim::Abandoned(job)) => assert_eq!(job.kind, "crashes-its-server"),
        other => panic!("expected it given up, got {other:?}"),
    }
    let listed = storage.list_jobs(now).await.unwrap();
    assert_eq!(listed[0].state, JobState::Dead);
    assert!(listed[0].last_error.as_deref().is_some_and(|e| e.contains("stopped while running it")));
    env.expect_jobs_left("crashes-its-server");
});

both_backends!(a_recurring_job_waits_for_its_next_run_and_exists_once, |env: TestEnv| async move {
    let storage = open(&env).await;
    let now = SystemClock.now();
    let daily = NewJob { every: Some(Duration::days(1)), ..job("daily", now, Some("every:daily")) };
    storage.enqueue_job(&daily, now).await.unwrap();
    assert_eq!(storage.enqueue_job(&daily, now).await.unwrap(), Enqueued::AlreadyThere, "a second server's");
    let taken = claim(&storage, "a", now).await.expect("due");
    assert!(claim(&storage, "b", now).await.is_none(), "runs once, not once per server");
    assert!(storage.complete_job(&taken, now).await.unwrap());
    let listed = storage.list_jobs(now).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].run_at.unix_timestamp(), (now + Duration::days(1)).unix_timestamp());
    assert_eq!(listed[0].runs, 1);
    assert!(claim(&storage, "b", now + Duration::hours(23)).await.is_none());
    assert!(claim(&storage, "b", now + Duration::days(1)).await.is_some());
});

both_backends!(a_recurring_job_never_dies_and_shows_it_is_failing, |env: TestEnv| async move {
    let storage = open(&env).await;
    let mut now = SystemClock.now();
    let every = NewJob { every: Some(Duration::seconds(1)), ..job("ship", now, Some("every:ship")) };
    storage.enqueue_job(&every, now).await.unwrap();
    for attempt in 1..=5 {
        let taken = claim(&storage, "w", now).await.expect("due again after its backoff");
        assert_eq!(taken.attempts, attempt);
        let Failed::RetryAt(at) = storage.fail_job(&taken, now, "collector down").await.unwrap() else {
            panic!("a schedule is retried, never given up");
        };
        let listed = storage.list_jobs(now).await.unwrap();
        assert_eq!(
            (listed[0].state, listed[0].last_error.as_deref()),
            (JobState::Retrying, Some("collector down"))
        );
        now = at;
    }
    // Its server dying on every attempt does not end it either.
    for _ in 0..4 {
        claim(&storage, "dies", now).await.expect("claimed");
        now += Duration::minutes(2);
    }
    let taken = claim(&storage, "w", now).await.expect("still run");
    assert!(storage.complete_job(&taken, now).await.unwrap());
    let listed = storage.list_jobs(now).await.unwrap();
    assert_eq!((listed[0].state, listed[0].attempts, listed[0].runs), (JobState::Queued, 0, 1));
    assert!(listed[0].last_error.is_none(), "a success clears the last error");
});

both_backends!(a_stale_holder_cannot_touch_a_later_run_of_a_recurring_job, |env: TestEnv| async move {
    let storage = open(&env).await;
    let now = SystemClock.now();
    let every = NewJob { every: Some(Duration::minutes(1)), ..job("tick", now, Some("every:tick")) };
    storage.enqueue_job(&every, now).await.unwrap();
    let stale = claim(&storage, "a", now).await.expect("a claims");
    // A's lease runs out; B takes the run over and finishes it.
    let later = now + Duration::seconds(61);
    let b = claim(&storage, "b", later).await.expect("b takes over");
    assert!(storage.complete_job(&b, later).await.unwrap());
    // The next run: A again, by chance, with the same attempt count as before.
    let next = later + Duration::minutes(1);
    let fresh = claim(&storage, "a", next).await.expect("the next run");
    assert_eq!((fresh.attempts, stale.attempts), (1, 1));
    assert!(!storage.extend_job_lease(&stale, next, Duration::seconds(60)).await.unwrap());
    assert!(!storage.complete_job(&stale, next).await.unwrap(), "the old claim fences nothing");
    assert_eq!(storage.fail_job(&stale, next, "late").await.unwrap(), Failed::LeaseLost);
    assert!(storage.complete_job(&fresh, next).await.unwrap());
});
