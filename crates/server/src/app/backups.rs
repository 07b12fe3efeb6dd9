//! Backups as the deployment runs them: every firm and the control store backed up on a
//! schedule to the backup target, the rotation applied, and each new backup proven by a
//! restore into a scratch store (a job of its own). A backup or a verification that fails
//! is recorded (the administrators' page and `ringfence backup list` show it), logged, and
//! mailed to the firm's administrators and the operator: never silent.
//!
//! The mechanics are the store's (`ringfence_store::backup`); administrators only ever see
//! when their firm's backups were taken, their size and whether they were proven. The
//! backup itself is no download: a firm that wants its data asks for an export.

use ringfence_core::audit::AuditAction;
use ringfence_core::ids::FirmId;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::user::Email;
use ringfence_mail::{Mail, Mailer};
use ringfence_store::backup::{BackupTarget, Generations};
use ringfence_store::blobs::BlobStore;
use ringfence_store::control::backups::{BackupRecord, BackupState};
use ringfence_store::{Storage, StoreError};
use time::{Duration, OffsetDateTime, Time};
use uuid::Uuid;

use super::termination::{OperatorCtx, tell_admins};
use super::{AppError, Ctx};
use crate::error::ErrorChain;
use crate::jobs::Job;

/// How the deployment backs up: where to, how often, how much is kept, whom to tell.
#[derive(Debug, Clone)]
pub struct BackupPlan {
    pub target: BackupTarget,
    /// Time between scheduled backups.
    pub every: Duration,
    /// When in the day (UTC) the schedule's runs fall.
    pub at: Time,
    pub keep: Generations,
    /// The operator's address, told of every failure beside the firm's administrators.
    pub operator: Option<Email>,
}

impl BackupPlan {
    /// The first scheduled run at or after `now`: the next `at` of the day, then every
    /// `every` from it.
    pub fn first_run(&self, now: OffsetDateTime) -> OffsetDateTime {
        let today = now.replace_time(self.at);
        if today >= now { today } else { today + Duration::days(1) }
    }
}

/// How long after its backup a verification runs: at once.
const VERIFY_DELAY: Duration = Duration::ZERO;

/// One scheduled round: every firm (terminated ones too, until they are shredded) and the
/// control store are backed up, the rotation is applied to each, and a verification is
/// queued for each new backup. One firm's failure keeps no other from its backup; the
/// round then fails, naming them, after telling whom it must.
pub async fn back_up_all(
    storage: &Storage,
    blobs: &BlobStore,
    mailer: &Mailer,
    plan: &BackupPlan,
    now: OffsetDateTime,
) -> Result<(), String> {
    let firms = storage.list_firms().await.map_err(|e| ErrorChain(&e).to_string())?;
    let mut failures = Vec::new();
    match storage.delete_shredded_backups(&plan.target).await {
        Ok(0) => {}
        Ok(firms) => tracing::info!(firms, "deleted the backups of firms shredded here"),
        Err(e) => failures.push(format!("shredded firms' backups: {}", ErrorChain(&e))),
    }
    for firm in firms {
        let made = storage.back_up_firm(&plan.target, blobs, firm.id, now).await;
        match made {
            Ok(record) => {
                tracing::info!(firm = %firm.id, backup = %record.id, bytes = record.covered_bytes, added = record.added_bytes, "backed up a firm");
                if let Err(e) = after_backup(storage, plan, Some(firm.id), &record, now).await {
                    failures.push(format!("firm {}: {e}", firm.id));
                }
            }
            Err(StoreError::UnknownFirmId) => {}
            Err(e) => {
                let problem = ErrorChain(&e).to_string();
                tracing::error!(firm = %firm.id, error = %problem, "a firm's backup failed");
                alert(storage, mailer, plan, Some(firm.id), "backup failed", &problem, now).await;
                failures.push(format!("firm {}: {problem}", firm.id));
            }
        }
    }
    match storage.back_up_control(&plan.target, now).await {
        Ok(record) => {
            if let Err(e) = after_backup(storage, plan, None, &record, now).await {
                failures.push(format!("control store: {e}"));
            }
        }
        Err(e) => {
            let problem = ErrorChain(&e).to_string();
            tracing::error!(error = %problem, "the control store's backup failed");
            alert(storage, mailer, plan, None, "backup failed", &problem, now).await;
            failures.push(format!("control store: {problem}"));
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// Queues the new backup's verification and applies the rotation.
async fn after_backup(
    storage: &Storage,
    plan: &BackupPlan,
    firm: Option<FirmId>,
    record: &BackupRecord,
    now: OffsetDateTime,
) -> Result<(), String> {
    let verify = Job::VerifyBackup { firm, backup: record.id };
    storage
        .enqueue_job(&verify.once_at(now + VERIFY_DELAY), now)
        .await
        .map_err(|e| ErrorChain(&e).to_string())?;
    let rotated = storage
        .rotate_backups(&plan.target, firm, plan.keep, now)
        .await
        .map_err(|e| ErrorChain(&e).to_string())?;
    if rotated > 0 {
        tracing::info!(firm = ?firm, rotated, "deleted backups the rotation does not keep");
    }
    Ok(())
}

/// Proves one backup by restoring it into a scratch store; a failure is recorded and told.
pub async fn verify(
    storage: &Storage,
    mailer: &Mailer,
    plan: &BackupPlan,
    firm: Option<FirmId>,
    backup: Uuid,
    now: OffsetDateTime,
) -> Result<(), String> {
    let verified = storage
        .verify_backup(&plan.target, firm, backup, now)
        .await
        .map_err(|e| ErrorChain(&e).to_string())?;
    match verified.problem {
        None => {
            tracing::info!(firm = ?firm, %backup, rows = verified.rows, documents = verified.documents, "verified a backup by restoring it");
            Ok(())
        }
        Some(problem) => {
            tracing::error!(firm = ?firm, %backup, %problem, "a backup failed its verification");
            alert(storage, mailer, plan, firm, "backup failed its verification", &problem, now).await;
            // Recorded and told; the job itself did its work.
            Ok(())
        }
    }
}

/// Tells the firm's administrators (when it is a firm's) and the operator that a backup
/// failed: the operator why (ids, times and the error: no firm data), the administrators
/// only that it did. A mail that cannot be sent is logged; the failure is on record anyway.
async fn alert(
    storage: &Storage,
    mailer: &Mailer,
    plan: &BackupPlan,
    firm: Option<FirmId>,
    what: &str,
    problem: &str,
    now: OffsetDateTime,
) {
    let scope = firm.map_or_else(|| "the deployment's control store".to_owned(), |f| format!("firm {f}"));
    let subject = format!("Ringfence: {what}");
    let next = "Ringfence tries again at the next scheduled backup. Until a backup succeeds and is verified, \
                the newest good backup is older than it should be.";
    // The operator is told why; the firm's administrators that it failed and that the
    // operator knows why (the error names the deployment's storage, not theirs to see).
    let when = ringfence_core::local_time::FirmTimeZone::utc().in_words(now);
    let body = format!("The backup of {scope} on {when}: {what}.\n\n{problem}\n\n{next}");
    let admins_body = format!(
        "The backup of your firm on {when}: {what}. Your hosting operator has been told why.\n\n{next}"
    );
    if let Some(firm) = firm {
        let ctx = OperatorCtx { storage, principal: Principal::System(SystemTask::Backup), now };
        match storage.firm_by_id(firm).await {
            Ok(found) => match tell_admins(&ctx, mailer, &found, &subject, &admins_body).await {
                Ok(notices) => {
                    for (to, error) in notices.failed {
                        tracing::warn!(%to, %error, "could not mail an administrator of a backup's failure");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %ErrorChain(&e), "could not tell the firm's administrators of a backup's failure")
                }
            },
            Err(e) => tracing::warn!(error = %ErrorChain(&e), "could not find the firm whose backup failed"),
        }
    }
    if let Some(operator) = &plan.operator
        && let Err(e) = mailer
            .send(Mail { to: operator.as_str(), to_name: None, subject: &subject, body: body.clone() })
            .await
    {
        tracing::warn!(error = %ErrorChain(&e), "could not mail the operator of a backup's failure");
    }
}

/// A backup as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSeen {
    pub taken_at: OffsetDateTime,
    pub covered_bytes: u64,
    pub state: BackupState,
    pub verified_at: Option<OffsetDateTime>,
}

/// The firm's most recent backups, newest first (administrators only: the route says so).
pub async fn recent(ctx: &Ctx, storage: &Storage) -> Result<Vec<BackupSeen>, AppError> {
    let records = storage.backup_records(Some(ctx.actor.firm), 30).await?;
    let mut tx = ctx.actor.begin().await?;
    ctx.record(&mut tx, AuditAction::BackupsViewed, Some(("firm", ctx.actor.firm.to_string()))).await?;
    tx.commit().await?;
    Ok(records
        .into_iter()
        .filter(|r| r.state != BackupState::Rotated)
        .map(|r| BackupSeen {
            taken_at: r.taken_at,
            covered_bytes: r.covered_bytes,
            state: r.state,
            verified_at: r.verified_at,
        })
        .collect())
}
