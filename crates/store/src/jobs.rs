//! The durable job queue, as the rest of the program uses it: in the control store, shared
//! by every server of the deployment, so background work runs once per deployment and
//! outlives the server that started it. The rows and statements are in
//! [`crate::control::jobs`]; what differs between the backends is the claim's lock.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::control::jobs::{self, ClaimedJob, Enqueued, Failed, JobRow, NewJob};
use crate::{Storage, StoreError};

/// What claiming found.
#[derive(Debug)]
pub enum Claim {
    /// A job to run, under this server's lease.
    Run(ClaimedJob),
    /// A job whose server stopped while running it on its every attempt: now dead, not run.
    Abandoned(ClaimedJob),
}

impl Storage {
    /// Puts a job on the queue in a transaction of its own.
    pub async fn enqueue_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        jobs::enqueue(&mut *self.control.acquire().await?, job, now).await
    }

    /// Puts a schedule whose timing is a setting on the queue, re-timing its row when the
    /// setting changed (see `control::jobs::schedule`).
    pub async fn schedule_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<(), StoreError> {
        jobs::schedule(&mut *self.control.acquire().await?, job, now).await
    }

    /// Takes the lease of the job due longest, if any. A one-off job whose lease ran out on
    /// its last attempt (its server died each time) is not run again but marked dead.
    pub async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<Claim>, StoreError> {
        let mut conn = self.control.acquire().await?;
        let Some(job) = jobs::claim(&mut conn, self.backend(), worker, now, lease).await? else {
            return Ok(None);
        };
        if job.every.is_none() && job.attempts > job.max_attempts {
            let reason = format!(
                "its server stopped while running it, {} times: the job was given up",
                job.max_attempts
            );
            jobs::fail(&mut conn, &job, now, &reason).await?;
            return Ok(Some(Claim::Abandoned(job)));
        }
        Ok(Some(Claim::Run(job)))
    }

    /// Records a job as done. False when its lease had been lost to another server.
    pub async fn complete_job(&self, job: &ClaimedJob, now: OffsetDateTime) -> Result<bool, StoreError> {
        jobs::complete(&mut *self.control.acquire().await?, job, now).await
    }

    /// Records a job's failure: retried after its backoff, or dead at its last attempt.
    pub async fn fail_job(
        &self,
        job: &ClaimedJob,
        now: OffsetDateTime,
        error: &str,
    ) -> Result<Failed, StoreError> {
        jobs::fail(&mut *self.control.acquire().await?, job, now, error).await
    }

    /// Keeps a long job's lease. False when it was lost: the job should stop.
    pub async fn extend_job_lease(
        &self,
        job: &ClaimedJob,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        jobs::extend(&mut *self.control.acquire().await?, job, now, lease).await
    }

    /// Takes the job with this dedupe key off the queue, whatever its state: the work it
    /// stood for was done otherwise, or undone. False when there was none.
    pub async fn cancel_job(&self, dedupe_key: &str) -> Result<bool, StoreError> {
        jobs::cancel(&mut *self.control.acquire().await?, dedupe_key).await
    }

    /// Every job on the queue, dead ones first.
    pub async fn list_jobs(&self, now: OffsetDateTime) -> Result<Vec<JobRow>, StoreError> {
        jobs::list(&mut *self.control.acquire().await?, now).await
    }

    /// Puts a dead job back on the queue. False when no dead job has this id.
    pub async fn retry_job(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        jobs::retry(&mut *self.control.acquire().await?, id, now).await
    }
}
