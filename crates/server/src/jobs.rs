//! Background work, on the durable job queue in the control store: whatever the number of
//! servers, each job runs once per deployment, a job whose server dies is taken over when
//! its lease runs out, and a job that keeps failing stops, visibly (`ringfence jobs list`).
//!
//! [`Job`] names every kind of work; [`Worker`] claims due jobs and runs them. Recurring
//! work is a job that, once done, waits for its next run instead of being deleted.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use ringfence_core::audit::{AuditActor, loggable};
use ringfence_core::clock::Clock;
use ringfence_core::ids::{FirmId, UserId};
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_mail::Mailer;
use ringfence_store::blob_sweep::SWEEP_GRACE;
use ringfence_store::blobs::BlobStore;
use ringfence_store::control::jobs::{ClaimedJob, Failed, NewJob};
use ringfence_store::jobs::Claim;
use ringfence_store::{KEY_SETTLE, Storage, StoreError};
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::app::backups::{self, BackupPlan};
use crate::app::sign_in::recovery::{self, Mailing};
use crate::app::{AppError, exports, incidents, retention};
use crate::audit_shipping::{self, Sink};
use crate::error::ErrorChain;

/// Every kind of background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Sends every firm's new audit entries to the configured sinks.
    ShipAudit,
    /// Signs a checkpoint of each firm's log head when entries came since the last one, so
    /// a quiet log's newest entries are covered within minutes.
    SignCheckpoints,
    /// Removes audit entries older than each firm's retention.
    PurgeAudit,
    /// Carries every firm's key rotation through: re-seals what is left under older
    /// versions, and retires them once nothing needs them.
    FinishRotations,
    /// One firm's rotation, soon after its new key was made (in the same transaction).
    FinishRotation(FirmId),
    /// Moves every firm's matters opened before matters had keys of their own onto one.
    MigrateMatterKeys,
    /// Removes blobs no record names, left by interrupted uploads.
    SweepBlobs,
    /// Tells the leads of closed matters nearing the end of their firm's retention window,
    /// and deletes those whose notice has run (firms that delete automatically only).
    ApplyRetention,
    /// Purges for good what was deleted longer ago than each firm's grace period: rows,
    /// search terms and blobs.
    PurgeDeleted,
    /// Shreds a terminated firm once its retention has ended; queued when it was terminated.
    ShredFirm(FirmId),
    /// Builds one full export of a firm (its id in the payload), queued when it was asked for.
    BuildExport { firm: FirmId, export: Uuid },
    /// Removes exports past their day, and the files of those downloaded.
    ExpireExports,
    /// Backs every firm and the control store up, on the deployment's backup schedule.
    BackUp,
    /// Proves one backup (a firm's, or the control store's when `None`) by restoring it.
    VerifyBackup { firm: Option<FirmId>, backup: Uuid },
    /// Mails a user the password reset link asked for from `from` (or word to ask an
    /// administrator). An address nobody has queues one with no user, which does nothing:
    /// asking costs the same either way. Never merged with another: each ask is on the
    /// record, and the throttles bound how many there are.
    RecoverAccount { firm: FirmId, user: Option<UserId>, from: Option<IpAddr> },
    /// Reads every firm's new audit entries for decoys touched, raises the alerts and
    /// incidents, and mails them: often, so a touch is told within the minute.
    Watch,
}

/// The work done on a schedule, once per deployment, with the time between runs.
pub const SCHEDULES: &[(Job, Duration)] = &[
    (Job::ShipAudit, Duration::seconds(1)),
    (Job::SignCheckpoints, Duration::minutes(10)),
    (Job::PurgeAudit, Duration::days(1)),
    (Job::FinishRotations, Duration::minutes(10)),
    (Job::MigrateMatterKeys, Duration::minutes(10)),
    (Job::SweepBlobs, Duration::hours(6)),
    (Job::ApplyRetention, Duration::days(1)),
    (Job::PurgeDeleted, Duration::days(1)),
    (Job::ExpireExports, Duration::minutes(15)),
    (Job::Watch, Duration::seconds(10)),
];

/// Attempts before a job is given up: with the backoff, over an hour and a half of trouble.
const MAX_ATTEMPTS: i64 = 10;
/// Old key versions are deleted only this long after the rotation: requests that began
/// before it may still seal under the version they started with.
const RETIRE_GRACE: Duration = Duration::hours(24);

impl Job {
    pub fn kind(self) -> &'static str {
        match self {
            Job::ShipAudit => "audit.ship",
            Job::SignCheckpoints => "audit.checkpoint",
            Job::PurgeAudit => "audit.purge",
            Job::FinishRotations => "keys.finish-rotations",
            Job::FinishRotation(_) => "keys.finish-rotation",
            Job::MigrateMatterKeys => "keys.matter-keys",
            Job::SweepBlobs => "blobs.sweep",
            Job::ApplyRetention => "lifecycle.retention",
            Job::PurgeDeleted => "lifecycle.purge",
            Job::ShredFirm(_) => "firm.shred",
            Job::BuildExport { .. } => "export.build",
            Job::ExpireExports => "export.expire",
            Job::BackUp => "backup.create",
            Job::VerifyBackup { .. } => "backup.verify",
            Job::RecoverAccount { .. } => "account.recover",
            Job::Watch => "security.watch",
        }
    }

    /// The firm the job works on.
    fn firm(self) -> Option<FirmId> {
        match self {
            Job::FinishRotation(firm)
            | Job::ShredFirm(firm)
            | Job::BuildExport { firm, .. }
            | Job::RecoverAccount { firm, .. } => Some(firm),
            Job::VerifyBackup { firm, .. } => firm,
            Job::ShipAudit
            | Job::SignCheckpoints
            | Job::PurgeAudit
            | Job::FinishRotations
            | Job::MigrateMatterKeys
            | Job::SweepBlobs
            | Job::ApplyRetention
            | Job::PurgeDeleted => None,
            Job::ExpireExports | Job::BackUp | Job::Watch => None,
        }
    }

    /// The firm its queue row names in `firm_id`. A shred names its firm in its payload
    /// instead: it deletes the firm's row, which that column refers to.
    fn firm_column(self) -> Option<FirmId> {
        match self {
            Job::ShredFirm(_) => None,
            other => other.firm(),
        }
    }

    /// The job a queue row holds; `None` for a kind this binary does not know (a newer
    /// server's).
    pub fn of(kind: &str, firm: Option<FirmId>, payload: &str) -> Option<Job> {
        let job = match (kind, firm) {
            ("audit.ship", None) => Job::ShipAudit,
            ("audit.checkpoint", None) => Job::SignCheckpoints,
            ("audit.purge", None) => Job::PurgeAudit,
            ("keys.finish-rotations", None) => Job::FinishRotations,
            ("keys.finish-rotation", Some(firm)) => Job::FinishRotation(firm),
            ("keys.matter-keys", None) => Job::MigrateMatterKeys,
            ("blobs.sweep", None) => Job::SweepBlobs,
            ("lifecycle.retention", None) => Job::ApplyRetention,
            ("lifecycle.purge", None) => Job::PurgeDeleted,
            ("firm.shred", None) => Job::ShredFirm(payload_firm(payload)?),
            ("export.build", Some(firm)) => Job::BuildExport { firm, export: payload_export(payload)? },
            ("export.expire", None) => Job::ExpireExports,
            ("backup.create", None) => Job::BackUp,
            ("security.watch", None) => Job::Watch,
            ("backup.verify", firm) => Job::VerifyBackup { firm, backup: payload_id(payload, "backup")? },
            ("account.recover", Some(firm)) => Job::RecoverAccount {
                firm,
                user: payload_id(payload, "user"),
                from: payload_id(payload, "from"),
            },
            _ => return None,
        };
        Some(job)
    }

    /// The key that keeps one such job on the queue at a time, per kind and firm.
    pub fn dedupe_key(self) -> String {
        if let Job::BuildExport { firm, export } = self {
            return format!("{}:{firm}:{export}", self.kind());
        }
        if let Job::VerifyBackup { backup, .. } = self {
            return format!("{}:{backup}", self.kind());
        }
        match self.firm() {
            Some(firm) => format!("{}:{firm}", self.kind()),
            None => self.kind().to_owned(),
        }
    }

    /// The queue row for a one-off run of this job at `run_at`; one per kind and firm
    /// waits at a time.
    pub fn once_at(self, run_at: OffsetDateTime) -> NewJob {
        // A firm the row's column does not name is named in the payload.
        let payload = match (self, self.firm()) {
            (Job::BuildExport { export, .. }, _) => {
                serde_json::json!({ "export": export.to_string() }).to_string()
            }
            (Job::VerifyBackup { backup, .. }, _) => {
                serde_json::json!({ "backup": backup.to_string() }).to_string()
            }
            (Job::RecoverAccount { user, from, .. }, _) => serde_json::json!({
                "user": user.map(|user| user.to_string()),
                "from": from.map(|from| from.to_string()),
            })
            .to_string(),
            (_, Some(firm)) if self.firm_column().is_none() => {
                serde_json::json!({ "firm": firm.to_string() }).to_string()
            }
            _ => "{}".to_owned(),
        };
        NewJob {
            kind: self.kind().to_owned(),
            firm: self.firm_column(),
            payload,
            run_at,
            dedupe_key: (!matches!(self, Job::RecoverAccount { .. })).then(|| self.dedupe_key()),
            max_attempts: MAX_ATTEMPTS,
            every: None,
        }
    }

    /// The queue row of this job's recurring schedule, first due at `first`.
    fn every(self, every: Duration, first: OffsetDateTime) -> NewJob {
        NewJob {
            every: Some(every),
            dedupe_key: Some(format!("every:{}", self.kind())),
            ..self.once_at(first)
        }
    }
}

/// The firm a job's payload names (`{"firm": "<id>"}`).
fn payload_firm(payload: &str) -> Option<FirmId> {
    payload_id(payload, "firm")
}

/// The export a job's payload names (`{"export": "<id>"}`).
fn payload_export(payload: &str) -> Option<Uuid> {
    payload_id(payload, "export")
}

fn payload_id<T: std::str::FromStr>(payload: &str, name: &str) -> Option<T> {
    let payload: serde_json::Value = serde_json::from_str(payload).ok()?;
    payload.get(name)?.as_str()?.parse().ok()
}

/// The job that finishes a firm's rotation, for [`Storage::rotate_firm_key`] to enqueue with
/// the new key: due once every server has had time to see the new version.
pub fn after_rotation(firm: FirmId, now: OffsetDateTime) -> NewJob {
    Job::FinishRotation(firm).once_at(now + Duration::try_from(KEY_SETTLE).unwrap_or(Duration::seconds(12)))
}

/// How long a claimed job is this server's before another may take it over; a running job
/// renews it every third of that.
const LEASE: Duration = Duration::seconds(60);
/// Jobs one server runs at once, so a long re-seal does not hold up audit shipping.
const CONCURRENT: usize = 4;
/// How long a stopping worker waits for the jobs it runs.
const DRAIN: StdDuration = StdDuration::from_secs(10);
/// How often an idle worker looks for due jobs.
const POLL: StdDuration = StdDuration::from_millis(500);

/// What running a due job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    RetryAt(OffsetDateTime),
    Dead,
    /// Its server died on every attempt: given up without running.
    Abandoned,
    /// Another server took it over (this one's lease ran out).
    LeaseLost,
}

/// A job a worker ran, by kind, and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub kind: String,
    pub outcome: Outcome,
}

/// Claims due jobs and runs them.
pub struct Worker {
    storage: Arc<Storage>,
    blobs: BlobStore,
    mailer: Arc<Mailer>,
    clock: Arc<dyn Clock>,
    sinks: Mutex<Vec<Sink>>,
    /// Where and when backups are made; none configured, none are.
    backups: Option<Arc<BackupPlan>>,
    /// The address mailed links point at; jobs that mail links fail on a worker without
    /// one, to be retried (perhaps by one that has it).
    public_url: Option<String>,
    /// This worker's name on the leases it holds.
    name: String,
}

impl Worker {
    pub fn new(
        storage: Arc<Storage>,
        blobs: BlobStore,
        mailer: Arc<Mailer>,
        clock: Arc<dyn Clock>,
        sinks: Vec<Sink>,
    ) -> Self {
        let name = format!(
            "{}:{}:{}",
            audit_shipping::hostname(),
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        Self {
            storage,
            blobs,
            mailer,
            clock,
            sinks: Mutex::new(sinks),
            backups: None,
            public_url: None,
            name,
        }
    }

    /// Backs up by `plan`: its schedule is put on the queue with the others.
    pub fn with_backups(self, plan: Arc<BackupPlan>) -> Self {
        Self { backups: Some(plan), ..self }
    }

    /// Mails links to the server at `url` (its public address).
    pub fn with_public_url(self, url: &str) -> Self {
        Self { public_url: Some(url.to_owned()), ..self }
    }

    /// Puts every schedule on the queue unless it is there already (put there by another
    /// server, or by this one before a restart): each runs once per deployment.
    pub async fn ensure_schedules(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        for (job, every) in SCHEDULES {
            self.storage.enqueue_job(&job.every(*every, now), now).await?;
        }
        if let Some(plan) = &self.backups {
            // The timing is a setting: a changed one re-times the queued schedule.
            let timing =
                serde_json::json!({ "every_minutes": plan.every.whole_minutes(), "at": plan.at.to_string() });
            let schedule =
                NewJob { payload: timing.to_string(), ..Job::BackUp.every(plan.every, plan.first_run(now)) };
            self.storage.schedule_job(&schedule, now).await?;
        }
        Ok(())
    }

    /// Runs every job due now, one after another, until none is due: what the loop does
    /// each round, and what tests call to move background work along with their clock.
    pub async fn run_due(&self) -> Result<Vec<Ran>, StoreError> {
        let mut ran = Vec::new();
        while let Some(claim) = self.storage.claim_job(&self.name, self.clock.now(), LEASE).await? {
            ran.push(self.run_claimed(claim).await?);
        }
        Ok(ran)
    }

    /// Claims and runs due jobs, a few at a time, until `stop` resolves; jobs still running
    /// then get a few seconds to finish, after which they are left to their leases and
    /// another worker takes them over.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut running = tokio::task::JoinSet::new();
        let mut schedules_ensured = false;
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(POLL) => {}
            }
            while running.try_join_next().is_some() {}
            if !schedules_ensured {
                match self.ensure_schedules().await {
                    Ok(()) => schedules_ensured = true,
                    Err(e) => {
                        tracing::warn!(error = %ErrorChain(&e), "could not put the schedules on the job queue; will try again")
                    }
                }
            }
            while running.len() < CONCURRENT {
                match self.storage.claim_job(&self.name, self.clock.now(), LEASE).await {
                    Ok(Some(claim)) => {
                        let worker = Arc::clone(&self);
                        running.spawn(async move {
                            if let Err(e) = worker.run_claimed(claim).await {
                                tracing::warn!(error = %ErrorChain(&e), "could not record a job's outcome");
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %ErrorChain(&e), "could not look for due jobs; will try again");
                        break;
                    }
                }
            }
        }
        let drained =
            tokio::time::timeout(DRAIN, async { while running.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                jobs = running.len(),
                "stopping with jobs still running: another worker takes them over when their leases run out"
            );
        }
    }

    async fn run_claimed(&self, claim: Claim) -> Result<Ran, StoreError> {
        let claimed = match claim {
            Claim::Run(claimed) => claimed,
            Claim::Abandoned(claimed) => {
                tracing::error!(job = %claimed.id, kind = %claimed.kind, "a job's server stopped on every attempt: it is dead until retried (`ringfence jobs retry`)");
                return Ok(Ran { kind: claimed.kind, outcome: Outcome::Abandoned });
            }
        };
        // A kind this binary does not know (a newer server's) fails like any other error:
        // retried, by then perhaps on a server that knows it, and dead if none ever does.
        let result = match Job::of(&claimed.kind, claimed.firm, &claimed.payload) {
            Some(job) => self.run_leased(job, &claimed).await,
            None => Err(format!("this server does not know jobs of kind `{}`", claimed.kind)),
        }
        // Error text can carry a remote party's words (a collector's, a CA's): one line.
        .map_err(|error| loggable(&error));
        let now = self.clock.now();
        let outcome = match result {
            Ok(()) if self.storage.complete_job(&claimed, now).await? => Outcome::Done,
            Ok(()) => Outcome::LeaseLost,
            Err(error) => match self.storage.fail_job(&claimed, now, &error).await? {
                Failed::RetryAt(at) => {
                    tracing::warn!(kind = %claimed.kind, attempt = claimed.attempts, %error, "a job failed; it will be retried");
                    Outcome::RetryAt(at)
                }
                Failed::Dead => {
                    tracing::error!(kind = %claimed.kind, job = %claimed.id, %error, "a job failed its last attempt: it is dead until retried (`ringfence jobs retry`)");
                    Outcome::Dead
                }
                Failed::LeaseLost => Outcome::LeaseLost,
            },
        };
        Ok(Ran { kind: claimed.kind, outcome })
    }

    /// Runs the job while renewing its lease; stops it when the lease is lost, or when it
    /// could not be renewed before running out (another server may have the job by then).
    async fn run_leased(&self, job: Job, claimed: &ClaimedJob) -> Result<(), String> {
        let work = self.perform(job);
        tokio::pin!(work);
        let renew_every = StdDuration::try_from(LEASE / 3).unwrap_or(StdDuration::from_secs(20));
        let lease = StdDuration::try_from(LEASE).unwrap_or(StdDuration::from_secs(60));
        let mut held_until = tokio::time::Instant::now() + lease;
        loop {
            tokio::select! {
                result = &mut work => return result,
                () = tokio::time::sleep(renew_every) => {
                    let renewing = tokio::time::Instant::now();
                    match self.storage.extend_job_lease(claimed, self.clock.now(), LEASE).await {
                        Ok(true) => held_until = renewing + lease,
                        Ok(false) => return Err("the job's lease was lost to another server".to_owned()),
                        Err(e) if tokio::time::Instant::now() >= held_until => {
                            return Err(format!("the job's lease ran out and could not be renewed: {}", ErrorChain(&e)));
                        }
                        Err(e) => tracing::warn!(error = %ErrorChain(&e), "could not renew a job's lease; will try again"),
                    }
                }
            }
        }
    }

    /// The backup plan, which a server without a backup target does not have: a backup job
    /// claimed there fails, to be taken by one that has.
    fn plan(&self) -> Result<&BackupPlan, String> {
        self.backups.as_deref().ok_or_else(|| "this server has no backup target (`backup-target`)".to_owned())
    }

    async fn perform(&self, job: Job) -> Result<(), String> {
        let now = self.clock.now();
        let storage = self.storage.as_ref();
        match job {
            Job::ShipAudit => {
                let mut sinks = self.sinks.lock().await;
                audit_shipping::ship_once(storage, &mut sinks)
                    .await
                    .map(drop)
                    .map_err(|e| ErrorChain(&e).to_string())
            }
            Job::SignCheckpoints => {
                each_firm(
                    storage,
                    |firm| async move { storage.firm(firm).await?.checkpoint_audit(now).await },
                )
                .await
            }
            Job::PurgeAudit => {
                each_firm(storage, |firm| async move {
                    if let Some(last) = storage.firm(firm).await?.purge_audit(now).await? {
                        tracing::info!(%firm, last, "purged audit entries past the firm's retention");
                    }
                    Ok::<_, StoreError>(())
                })
                .await
            }
            Job::FinishRotations => {
                each_firm(
                    storage,
                    |firm| async move { storage.finish_rotation(firm, now, RETIRE_GRACE).await },
                )
                .await
            }
            Job::FinishRotation(firm) => {
                storage.finish_rotation(firm, now, RETIRE_GRACE).await.map_err(|e| ErrorChain(&e).to_string())
            }
            Job::MigrateMatterKeys => {
                each_firm(storage, |firm| async move {
                    let report = storage.migrate_matter_keys(firm, now, None).await?;
                    if report.matters > 0 {
                        tracing::info!(%firm, matters = report.matters, moved = report.moved, "matters moved onto keys of their own");
                    }
                    if report.failed > 0 {
                        // Shown as failing in `ringfence jobs list`; every other matter went on.
                        return Err(StoreError::MattersNotMigrated(report.failed));
                    }
                    Ok::<_, StoreError>(())
                })
                .await
            }
            Job::SweepBlobs => {
                let blobs = &self.blobs;
                each_firm(storage, |firm| async move {
                    let swept = storage.sweep_blobs(blobs, firm, now, SWEEP_GRACE, AuditActor::System).await?;
                    tracing::info!(%firm, removed = swept.orphans, staged = swept.staged, fresh = swept.fresh, "swept the blob store");
                    Ok::<_, StoreError>(())
                })
                .await
            }
            Job::ApplyRetention => {
                let mailer = self.mailer.as_ref();
                each_firm(storage, |firm| retention::apply(storage, mailer, firm, now)).await
            }
            Job::PurgeDeleted => {
                let blobs = &self.blobs;
                each_firm(storage, |firm| async move {
                    let purged = storage.purge_deleted(blobs, firm, now).await?;
                    if purged > 0 {
                        tracing::info!(%firm, purged, "purged what was deleted longer ago than the grace period");
                    }
                    Ok::<_, StoreError>(())
                })
                .await
            }
            Job::ShredFirm(firm) => {
                // The firm's log goes with it: whatever the sinks have not had yet is sent
                // first, and a sink that cannot take it holds the shred back (to be retried)
                // rather than lose the entries.
                let mut sinks = self.sinks.lock().await;
                audit_shipping::ship_firm(storage, firm, &mut sinks)
                    .await
                    .map_err(|e| ErrorChain(&e).to_string())?;
                drop(sinks);
                let by = Principal::System(SystemTask::Shredding);
                let tombstone = storage
                    .shred_firm(
                        &self.blobs,
                        self.backups.as_deref().map(|plan| &plan.target),
                        firm,
                        now,
                        &by,
                        None,
                    )
                    .await
                    .map_err(|e| ErrorChain(&e).to_string())?;
                tracing::info!(%firm, slug = %tombstone.slug, "the terminated firm's retention ended: it is shredded");
                Ok(())
            }
            Job::BuildExport { firm, export } => {
                exports::build(storage, &self.blobs, &self.mailer, firm, export, now)
                    .await
                    .map_err(|e| ErrorChain(&e).to_string())
            }
            Job::ExpireExports => {
                let blobs = &self.blobs;
                each_firm(storage, |firm| exports::expire(storage, blobs, firm, now)).await
            }
            Job::BackUp => backups::back_up_all(storage, &self.blobs, &self.mailer, self.plan()?, now).await,
            Job::VerifyBackup { firm, backup } => {
                backups::verify(storage, &self.mailer, self.plan()?, firm, backup, now).await
            }
            Job::Watch => {
                // One firm's trouble (a restore under way, mail that reaches nobody) must not
                // hold back the others' alerts: it is logged, and that firm's entries are
                // read again next round from where it stopped, so nothing is lost.
                let (mailer, public_url) = (self.mailer.as_ref(), self.public_url.as_deref());
                let firms = storage.list_firms().await.map_err(|e| ErrorChain(&e).to_string())?;
                for firm in firms {
                    match incidents::watch(storage, mailer, public_url, firm.id, now).await {
                        Ok(_) => {}
                        Err(e) if e.firm_gone() => {}
                        Err(AppError::Store(StoreError::FirmRestoring)) => {}
                        Err(e) => {
                            tracing::error!(firm = %firm.id, error = %ErrorChain(&e), "could not watch a firm's log; will try again next round")
                        }
                    }
                }
                Ok(())
            }
            Job::RecoverAccount { user: None, .. } => Ok(()),
            Job::RecoverAccount { firm, user: Some(user), from } => {
                let public_url = self
                    .public_url
                    .as_deref()
                    .ok_or_else(|| "this server has no public address to link to".to_owned())?;
                let mailing = Mailing { storage, mailer: &self.mailer, public_url, now };
                recovery::mail_link(&mailing, firm, user, from).await.map_err(|e| ErrorChain(&e).to_string())
            }
        }
    }
}

/// An error of one firm's part of a job, which may be that the firm was shredded meanwhile.
trait FirmWorkError: std::error::Error {
    fn firm_gone(&self) -> bool;
}

impl FirmWorkError for StoreError {
    fn firm_gone(&self) -> bool {
        matches!(self, StoreError::UnknownFirmId)
    }
}

impl FirmWorkError for AppError {
    fn firm_gone(&self) -> bool {
        matches!(self, AppError::Store(StoreError::UnknownFirmId))
    }
}

/// Runs `work` for every firm; one firm's failure does not stop the others, and the job
/// fails (to be retried) naming every firm that failed. A firm shredded meanwhile is passed
/// over.
async fn each_firm<F, Fut, E>(storage: &Storage, work: F) -> Result<(), String>
where
    F: Fn(FirmId) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: FirmWorkError,
{
    let firms = storage.list_firms().await.map_err(|e| ErrorChain(&e).to_string())?;
    let mut failures = Vec::new();
    for firm in firms {
        match work(firm.id).await {
            Ok(()) => {}
            Err(e) if e.firm_gone() => {}
            Err(e) => failures.push(format!("firm {}: {}", firm.id, ErrorChain(&e))),
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}
