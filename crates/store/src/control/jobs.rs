//! The durable job queue's rows. A job is claimed by taking its lease in one statement;
//! every claim counts an attempt and draws a new lease token, the lease's fence: a server
//! whose lease ran out (and whose job another took over) can no longer finish, fail or
//! extend it, nor a later run of the same recurring job.

use ringfence_core::audit::loggable;
use ringfence_core::clock::unix_millis;
use ringfence_core::ids::FirmId;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Backend, StoreError, backend};

/// A job to put on the queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub firm: Option<FirmId>,
    /// JSON, whatever the kind needs; never case content.
    pub payload: String,
    pub run_at: OffsetDateTime,
    /// At most one job with this key exists, queued or dead.
    pub dedupe_key: Option<String>,
    pub max_attempts: i64,
    /// For a recurring schedule: the time between runs.
    pub every: Option<Duration>,
}

/// What enqueueing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Added(Uuid),
    /// A job with the same dedupe key exists already: nothing was added.
    AlreadyThere,
}

/// A job this server holds the lease of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub kind: String,
    pub firm: Option<FirmId>,
    pub payload: String,
    /// Counting this one.
    pub attempts: i64,
    pub max_attempts: i64,
    pub every: Option<Duration>,
    /// This claim's lease token.
    pub(crate) token: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    /// Queued again after a failure, waiting for its next attempt.
    Retrying,
    /// Leased by a server that is running it now (as far as the lease tells).
    Running,
    Dead,
}

impl JobState {
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Retrying => "retrying",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }
}

/// A job as the operator's list shows it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub firm: Option<FirmId>,
    pub state: JobState,
    pub run_at: OffsetDateTime,
    pub attempts: i64,
    pub max_attempts: i64,
    pub dedupe_key: Option<String>,
    pub every: Option<Duration>,
    /// Runs completed, for a recurring schedule.
    pub runs: i64,
    pub leased_by: Option<String>,
    pub last_error: Option<String>,
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// It runs again at this time.
    RetryAt(OffsetDateTime),
    /// It failed `max_attempts` times and stays dead until someone retries it.
    Dead,
    /// Its lease had run out and another server has it now: nothing was recorded.
    LeaseLost,
}

fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn job_id(text: &str) -> Result<Uuid, StoreError> {
    text.parse().map_err(|_| sqlx::Error::Decode("a job id is not a UUID".into()).into())
}

fn firm_of(text: Option<String>) -> Option<FirmId> {
    text.and_then(|t| t.parse().ok())
}

/// Adds a job, unless one with its dedupe key exists. Runs on whatever connection or
/// transaction it is given: enqueued inside the transaction of the change that causes it,
/// the job commits (or rolls back) with that change.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    job: &NewJob,
    now: OffsetDateTime,
) -> Result<Enqueued, StoreError> {
    let id = Uuid::new_v4();
    let added = sqlx::query(
        "INSERT INTO jobs (id, kind, firm_id, payload, run_at, state, attempts, max_attempts, dedupe_key,
                           every_ms, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, $9)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(&job.kind)
    .bind(job.firm.map(|f| f.to_string()))
    .bind(&job.payload)
    .bind(unix_millis(job.run_at))
    .bind(job.max_attempts.max(1))
    .bind(job.dedupe_key.as_deref())
    .bind(job.every.map(|every| every.whole_milliseconds() as i64))
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(if added.rows_affected() == 1 { Enqueued::Added(id) } else { Enqueued::AlreadyThere })
}

/// Puts a schedule whose timing is a setting on the queue, or, when its row is there with
/// another timing (the setting changed since), re-times that row. The timing is told by
/// the job's payload: a row whose payload is the same is left as it is.
pub(crate) async fn schedule(
    conn: &mut AnyConnection,
    job: &NewJob,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, firm_id, payload, run_at, state, attempts, max_attempts, dedupe_key,
                           every_ms, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, $9)
         ON CONFLICT (dedupe_key) DO UPDATE SET payload = excluded.payload, run_at = excluded.run_at,
             every_ms = excluded.every_ms, updated_at = excluded.updated_at
         WHERE jobs.payload <> excluded.payload",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(&job.kind)
    .bind(job.firm.map(|f| f.to_string()))
    .bind(&job.payload)
    .bind(unix_millis(job.run_at))
    .bind(job.max_attempts.max(1))
    .bind(job.dedupe_key.as_deref())
    .bind(job.every.map(|every| every.whole_milliseconds() as i64))
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the job with this dedupe key, whatever its state: the change that caused it was
/// undone. A server running it meanwhile can then neither finish nor fail it (its lease is
/// gone with the row). False when there was none.
pub(crate) async fn cancel(conn: &mut AnyConnection, dedupe_key: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM jobs WHERE dedupe_key = $1").bind(dedupe_key).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Takes the lease of the job due longest, if any: a queued job whose run time has come
/// and that nobody holds (or whose holder's lease ran out). PostgreSQL skips rows another
/// server is claiming this instant; SQLite runs the statement under its one writer.
pub(crate) async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    worker: &str,
    now: OffsetDateTime,
    lease: Duration,
) -> Result<Option<ClaimedJob>, StoreError> {
    let lock = backend::claim_lock(backend);
    let sql = format!(
        "UPDATE jobs SET leased_by = $1, lease_until = $2, lease_token = $4, attempts = attempts + 1,
                         updated_at = $3
         WHERE id = (SELECT id FROM jobs
                     WHERE state = 'queued' AND run_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                     ORDER BY run_at, id LIMIT 1 {lock})
           AND state = 'queued' AND run_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
         RETURNING id, kind, firm_id, payload, attempts, max_attempts, every_ms"
    );
    let token = Uuid::new_v4();
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(worker)
        .bind(unix_millis(now + lease))
        .bind(unix_millis(now))
        .bind(token.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|row| claimed_from(&row, token)).transpose()
}

fn claimed_from(row: &AnyRow, token: Uuid) -> Result<ClaimedJob, StoreError> {
    let id: String = row.try_get("id")?;
    let every: Option<i64> = row.try_get("every_ms")?;
    Ok(ClaimedJob {
        id: job_id(&id)?,
        kind: row.try_get("kind")?,
        firm: firm_of(row.try_get("firm_id")?),
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        every: every.map(Duration::milliseconds),
        token,
    })
}

/// The `WHERE` that holds only while `job`'s lease is still the one this server took.
const STILL_OURS: &str = "id = $1 AND lease_token = $2";

/// Done: a one-off job is deleted, a recurring one waits for its next run. False when
/// the lease had been lost meanwhile.
pub(crate) async fn complete(
    conn: &mut AnyConnection,
    job: &ClaimedJob,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = match job.every {
        Some(every) => {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE jobs SET run_at = $3, attempts = 0, runs = runs + 1, leased_by = NULL,
                                 lease_until = NULL, lease_token = NULL, last_error = NULL, updated_at = $4
                 WHERE {STILL_OURS}"
            )))
            .bind(job.id.to_string())
            .bind(job.token.to_string())
            .bind(unix_millis(now + every))
            .bind(unix_millis(now))
            .execute(conn)
            .await?
        }
        None => {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM jobs WHERE {STILL_OURS}")))
                .bind(job.id.to_string())
                .bind(job.token.to_string())
                .execute(conn)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// How long a job waits before its next attempt after `attempts` failures: 10 s, doubling,
/// at most an hour (so ten attempts span over an hour and a half of trouble).
pub fn backoff(attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 20) - 1;
    Duration::seconds(10 * (1_i64 << doublings)).min(Duration::hours(1))
}

/// Records a failure: the job runs again after its backoff, or, at its last attempt, dies.
/// A recurring schedule never dies: its work would stop for good, unseen; it goes on being
/// retried, its attempts and last error in the list until a run succeeds.
pub(crate) async fn fail(
    conn: &mut AnyConnection,
    job: &ClaimedJob,
    now: OffsetDateTime,
    error: &str,
) -> Result<Failed, StoreError> {
    // Error text comes from anywhere (a collector's answer, a path): kept loggable.
    let error = loggable(error);
    let dead = job.every.is_none() && job.attempts >= job.max_attempts;
    let retry_at = now + backoff(job.attempts);
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE jobs SET state = $3, run_at = $4, leased_by = NULL, lease_until = NULL, lease_token = NULL,
                         last_error = $5, updated_at = $6
         WHERE {STILL_OURS}"
    )))
    .bind(job.id.to_string())
    .bind(job.token.to_string())
    .bind(if dead { "dead" } else { "queued" })
    .bind(unix_millis(if dead { now } else { retry_at }))
    .bind(error)
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(match (done.rows_affected() == 1, dead) {
        (false, _) => Failed::LeaseLost,
        (true, true) => Failed::Dead,
        (true, false) => Failed::RetryAt(retry_at),
    })
}

/// Pushes the lease of a job still running further out. False when it was lost.
pub(crate) async fn extend(
    conn: &mut AnyConnection,
    job: &ClaimedJob,
    now: OffsetDateTime,
    lease: Duration,
) -> Result<bool, StoreError> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE jobs SET lease_until = $3, updated_at = $4 WHERE {STILL_OURS} AND state = 'queued'"
    )))
    .bind(job.id.to_string())
    .bind(job.token.to_string())
    .bind(unix_millis(now + lease))
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every job, dead ones first, then by run time.
pub(crate) async fn list(conn: &mut AnyConnection, now: OffsetDateTime) -> Result<Vec<JobRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, firm_id, state, run_at, attempts, max_attempts, dedupe_key, every_ms, runs,
                leased_by, lease_until, last_error
         FROM jobs ORDER BY CASE state WHEN 'dead' THEN 0 ELSE 1 END, run_at, id",
    )
    .fetch_all(conn)
    .await?;
    let now = unix_millis(now);
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let state: String = row.try_get("state")?;
            let lease_until: Option<i64> = row.try_get("lease_until")?;
            let every: Option<i64> = row.try_get("every_ms")?;
            let last_error: Option<String> = row.try_get("last_error")?;
            let state = match state.as_str() {
                "dead" => JobState::Dead,
                _ if lease_until.is_some_and(|until| until > now) => JobState::Running,
                _ if last_error.is_some() => JobState::Retrying,
                _ => JobState::Queued,
            };
            Ok(JobRow {
                id: job_id(&id)?,
                kind: row.try_get("kind")?,
                firm: firm_of(row.try_get("firm_id")?),
                state,
                run_at: from_millis(row.try_get("run_at")?),
                attempts: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                dedupe_key: row.try_get("dedupe_key")?,
                every: every.map(Duration::milliseconds),
                runs: row.try_get("runs")?,
                leased_by: row.try_get("leased_by")?,
                last_error,
            })
        })
        .collect()
}

/// Puts a dead job back on the queue, due now, with its attempts counted afresh. False
/// when no dead job has this id.
pub(crate) async fn retry(
    conn: &mut AnyConnection,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, leased_by = NULL, lease_until = NULL,
                         lease_token = NULL, updated_at = $2
         WHERE id = $1 AND state = 'dead'",
    )
    .bind(id.to_string())
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
