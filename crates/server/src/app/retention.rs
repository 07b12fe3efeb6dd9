//! How long closed matters are kept, and their disposal at the end (see
//! `ringfence_core::retention`). Administrators set the policy and review the matters past
//! their window without reading them: a list names each by number, client and dates only.
//! Disposal is a soft delete, purged after the grace period like any other deletion.

use ringfence_core::audit::AuditAction;
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::{FirmId, MatterId};
use ringfence_core::retention::{RetentionPolicy, RetentionPolicyView};
use ringfence_mail::{Mail, Mailer};
use ringfence_store::Storage;
use ringfence_store::firm::access::Dispose;
use ringfence_store::firm::retention::{self, ClosedMatter};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::{self, On};
use super::legal_holds::refuse_if_held;
use super::{AppError, Ctx};

/// How long the firm keeps a closed matter.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSetting {
    /// Days a closed matter is kept, 90 to 1826 (five years); `null` keeps it indefinitely.
    #[schema(minimum = 90, maximum = 1826)]
    pub window_days: Option<i64>,
    /// Delete matters past their window automatically (after mailing their leads); off,
    /// they are listed for an administrator to dispose of.
    pub auto_delete: bool,
    /// Days before automatic deletion that the matter's leads are told, 1 to 90.
    #[serde(default = "default_notice")]
    #[schema(minimum = 1, maximum = 90, default = 30)]
    pub notice_days: i64,
}

fn default_notice() -> i64 {
    ringfence_core::retention::DEFAULT_NOTICE_DAYS
}

impl From<RetentionPolicy> for RetentionSetting {
    fn from(policy: RetentionPolicy) -> Self {
        let RetentionPolicyView { window_days, auto_delete, notice_days } = policy.into();
        Self { window_days, auto_delete, notice_days }
    }
}

/// A closed matter past its window, as an administrator reviews it.
#[derive(Serialize, ToSchema)]
pub struct DueMatter {
    pub matter_id: Uuid,
    pub number: String,
    pub client_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
    /// When its window ended.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
}

/// The matters due for disposal, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DueList {
    pub policy: RetentionSetting,
    pub items: Vec<DueMatter>,
}

pub async fn policy(ctx: &Ctx) -> Result<RetentionSetting, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let policy = retention::policy(&mut tx).await?;
    tx.commit().await?;
    Ok(policy.into())
}

pub async fn set_policy(ctx: &Ctx, asked: RetentionSetting) -> Result<RetentionSetting, AppError> {
    let policy =
        RetentionPolicy::new(asked.window_days, asked.auto_delete, asked.notice_days).map_err(|e| {
            let field = match e {
                ringfence_core::retention::RetentionError::Notice => "notice_days",
                _ => "window_days",
            };
            AppError::invalid(field, e.to_string())
        })?;
    let mut tx = ctx.actor.begin().await?;
    retention::set_policy(&mut tx, &policy).await?;
    ctx.record(&mut tx, AuditAction::FirmRetentionPolicyChanged, Some(("firm", ctx.actor.firm.to_string())))
        .await?;
    tx.commit().await?;
    Ok(policy.into())
}

/// The closed matters past the firm's window; none while matters are kept indefinitely.
pub async fn due(ctx: &Ctx) -> Result<DueList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let policy = retention::policy(&mut tx).await?;
    let matters = match policy.closed_by_for_disposal(ctx.now()) {
        Some(closed_by) => retention::closed_by(&mut tx, closed_by).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let items = matters.into_iter().filter_map(|matter| due_matter(&policy, matter)).collect();
    Ok(DueList { policy: policy.into(), items })
}

fn due_matter(policy: &RetentionPolicy, matter: ClosedMatter) -> Option<DueMatter> {
    Some(DueMatter {
        due_at: policy.due_at(matter.closed_at)?,
        matter_id: matter.id,
        number: matter.number,
        client_name: matter.client_name,
        closed_at: matter.closed_at,
    })
}

/// Disposes of one matter past its window: deleted softly, restorable by its lead for the
/// grace period, then purged.
pub async fn dispose(ctx: &Ctx, on: On<Dispose, MatterId>) -> Result<(), AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    refuse_if_held(&mut tx, access.matter()).await?;
    let policy = retention::policy(&mut tx).await?;
    let disposed = match policy.closed_by_for_disposal(ctx.now()) {
        Some(closed_by) => retention::dispose(&mut tx, &access, closed_by, ctx.now()).await?,
        None => false,
    };
    if !disposed {
        return Err(AppError::conflict(
            "not_due",
            "only a closed matter past the firm's retention window can be disposed of",
        ));
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterDisposed, ("matter", on.id().to_string()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The scheduled work for one firm: tells the leads of matters entering the notice period
/// (mail first, then the record, so a failed mail is tried again rather than skipped), then
/// deletes the matters whose notice has run. Does nothing unless the firm deletes
/// automatically, nor for a terminated firm; a matter on legal hold is neither noticed nor
/// deleted.
pub async fn apply(
    storage: &Storage,
    mailer: &Mailer,
    firm: FirmId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    // A terminated firm is read-only until its shred: nothing of it is deleted meanwhile.
    if let FirmStanding::Terminated(_) = storage.firm_standing(firm).await? {
        return Ok(());
    }
    let store = storage.firm(firm).await?;
    for notice in store.retention_notices_due(now).await? {
        let ClosedMatter { id, number, closed_at, .. } = &notice.matter;
        for to in &notice.recipients {
            let body = format!(
                "Dear {},\n\nMatter {number} (id {id}), closed on {}, reaches the end of your firm's \
                 retention window soon and will then be deleted automatically.\n\
                 A deleted matter can be restored for the firm's grace period, then it is purged for good.\n\
                 If it must be kept, ask an administrator to place a legal hold or change the retention policy.\n",
                to.display_name(),
                closed_at.date()
            );
            mailer
                .send(Mail {
                    to: to.email.as_str(),
                    to_name: to.name.as_deref(),
                    subject: "Ringfence: a matter will be deleted at the end of its retention",
                    body,
                })
                .await?;
        }
        store.record_retention_notice(*id, now).await?;
    }
    let disposed = store.dispose_noticed_matters(now).await?;
    if !disposed.is_empty() {
        tracing::info!(%firm, matters = disposed.len(), "deleted matters at the end of their retention");
    }
    Ok(())
}
