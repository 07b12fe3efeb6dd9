//! The end of a firm's service, for the deployment's operator (at the command line or on
//! the operator pages): terminating a firm leaves it read-only — its people
//! still sign in, read and export — until its retention ends and it is shredded; it can be
//! reinstated until then. The shred runs as a job, and the operator can run it (or finish
//! one that stopped) at once, giving a reason to override any legal hold. The rules are the
//! store's (`Storage::terminate_firm` and the rest); here the firm is found by its slug, a
//! shredded one answered as such, and its administrators told.

use ringfence_core::firm::{Firm, FirmSlug, ForceReason, RetentionDays};
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::user::{Email, FirmRole};
use ringfence_mail::{Mail, Mailer};
use ringfence_store::backup::BackupTarget;
use ringfence_store::blobs::BlobStore;
use ringfence_store::firm::users::{self, UserStatus};
use ringfence_store::firm::{decoys, preferences};
use ringfence_store::{FirmStore, Storage, StoreError, Tombstone};
use time::OffsetDateTime;

use super::AppError;
use crate::jobs::Job;

/// The context of an operator's use case: the deployment's storage, who acts, and when.
pub struct OperatorCtx<'a> {
    pub storage: &'a Storage,
    /// An operator signed in to the operator pages, the command line
    /// (`SystemTask::CommandLine`), or the deployment's own work.
    pub principal: Principal,
    pub now: OffsetDateTime,
}

/// The firm's administrators that a notice was mailed to, and those it could not reach.
#[derive(Debug, Default)]
pub struct Notices {
    pub sent: Vec<Email>,
    pub failed: Vec<(Email, String)>,
}

/// A firm just terminated.
#[derive(Debug)]
pub struct Terminated {
    pub firm: Firm,
    pub since: OffsetDateTime,
    /// When it is shredded, unless reinstated first.
    pub shred_after: OffsetDateTime,
    pub notices: Notices,
}

/// A firm just put back in service.
#[derive(Debug)]
pub struct Reinstated {
    pub firm: Firm,
    /// When it had been terminated.
    pub terminated_at: OffsetDateTime,
    pub notices: Notices,
}

/// Terminates the firm `slug`: read-only from now on, shredded after `retain`.
pub async fn terminate(
    ctx: &OperatorCtx<'_>,
    mailer: &Mailer,
    slug: &FirmSlug,
    retain: RetentionDays,
) -> Result<Terminated, AppError> {
    let firm = find(ctx, slug).await?;
    let shred_after = ctx.now + retain.duration();
    let shred = Job::ShredFirm(firm.id).once_at(shred_after);
    ctx.storage
        .terminate_firm(firm.id, &ctx.principal, ctx.now, shred_after, &shred)
        .await
        .map_err(refusal)?;
    let body = format!(
        "The Ringfence service of {name} ({slug}) was terminated on {today} (UTC).\n\n\
         From now on the firm is read-only: its people can still sign in, read and download \
         everything, and export it, but nothing can be changed.\n\n\
         On {shred} (UTC) the firm's data, documents and encryption keys will be destroyed. \
         They cannot be recovered after that.\n\n\
         If this is a mistake, ask your provider to reinstate the firm before then.\n",
        name = firm.name.as_str(),
        today = ctx.now.date(),
        shred = shred_after.date(),
    );
    let notices = tell_admins(ctx, mailer, &firm, "Ringfence: your firm's service has ended", &body).await?;
    Ok(Terminated { firm, since: ctx.now, shred_after, notices })
}

/// Puts the terminated firm `slug` back in service and cancels its shred.
pub async fn reinstate(
    ctx: &OperatorCtx<'_>,
    mailer: &Mailer,
    slug: &FirmSlug,
) -> Result<Reinstated, AppError> {
    let firm = find(ctx, slug).await?;
    let shred = Job::ShredFirm(firm.id).dedupe_key();
    let ended =
        ctx.storage.reinstate_firm(firm.id, &ctx.principal, ctx.now, &shred).await.map_err(refusal)?;
    let body = format!(
        "The Ringfence service of {name} ({slug}) was reinstated on {today} (UTC): its people \
         can work in it as before. The destruction of its data planned for {shred} will not \
         happen.\n",
        name = firm.name.as_str(),
        today = ctx.now.date(),
        shred = ended.shred_after.date(),
    );
    let notices = tell_admins(ctx, mailer, &firm, "Ringfence: your firm is in service again", &body).await?;
    Ok(Reinstated { firm, terminated_at: ended.since, notices })
}

/// Shreds the terminated firm `slug` now that its retention has ended (or finishes a shred
/// that stopped; a firm shredded already is answered as it is), and takes its shred job off
/// the queue. `force_reason` overrides any legal hold on the firm and is kept in its
/// tombstone.
pub async fn shred(
    ctx: &OperatorCtx<'_>,
    blobs: &BlobStore,
    backups: Option<&BackupTarget>,
    slug: &FirmSlug,
    force_reason: Option<&ForceReason>,
) -> Result<Tombstone, AppError> {
    let id = match ctx.storage.firm_by_slug(slug).await {
        Ok(firm) => firm.id,
        Err(StoreError::UnknownFirm(unknown)) => match ctx.storage.tombstone_by_slug(slug).await? {
            Some(tombstone) => tombstone.firm,
            None => return Err(StoreError::UnknownFirm(unknown).into()),
        },
        Err(e) => return Err(e.into()),
    };
    let tombstone = ctx
        .storage
        .shred_firm(blobs, backups, id, ctx.now, &ctx.principal, force_reason)
        .await
        .map_err(refusal)?;
    ctx.storage.cancel_job(&Job::ShredFirm(id).dedupe_key()).await?;
    Ok(tombstone)
}

/// The firm `slug`; a shredded firm's slug is answered as such.
async fn find(ctx: &OperatorCtx<'_>, slug: &FirmSlug) -> Result<Firm, AppError> {
    match ctx.storage.firm_by_slug(slug).await {
        Err(StoreError::UnknownFirm(unknown)) => Err(match ctx.storage.tombstone_by_slug(slug).await? {
            Some(tombstone) => {
                refusal(StoreError::Shredded { slug: unknown, at: tombstone.shred_started_at })
            }
            None => StoreError::UnknownFirm(unknown).into(),
        }),
        found => Ok(found?),
    }
}

/// A store's refusal of a change the firm's standing does not allow, as a conflict.
fn refusal(error: StoreError) -> AppError {
    let code = match &error {
        StoreError::AlreadyTerminated { .. } => "already_terminated",
        StoreError::SuspendedNotTerminable => "firm_suspended",
        StoreError::NotTerminated => "not_terminated",
        StoreError::RetentionRunning { .. } => "retention_running",
        StoreError::UnderLegalHold => "legal_hold",
        StoreError::CopiesRemain(_) => "copies_remain",
        StoreError::Shredded { .. } => "shredded",
        _ => return error.into(),
    };
    AppError::conflict(code, error.to_string())
}

/// Mails `body` to each of the firm's active administrators and its Information Officer;
/// one that cannot be reached does not keep the others from being told.
pub(crate) async fn tell_admins(
    ctx: &OperatorCtx<'_>,
    mailer: &Mailer,
    firm: &Firm,
    subject: &str,
    body: &str,
) -> Result<Notices, AppError> {
    tell_admins_of(&*ctx.storage.firm(firm.id).await?, mailer, subject, body).await
}

/// Mails `body` to each of the firm's active administrators and its Information Officer
/// (a decoy never: nobody reads its mail); one that cannot be reached does not keep the
/// others from being told.
pub(crate) async fn tell_admins_of(
    store: &FirmStore,
    mailer: &Mailer,
    subject: &str,
    body: &str,
) -> Result<Notices, AppError> {
    let mut tx = store.begin_read(&Principal::System(SystemTask::Notices)).await?;
    let everyone = users::list(&mut tx).await?;
    let officer = preferences::information_officer(&mut tx).await?;
    let decoys = decoys::tripwire_set(&mut tx).await?;
    tx.commit().await?;
    let mut notices = Notices::default();
    // The administrators, and the Information Officer when the firm named one.
    let admins = everyone.into_iter().filter(|user| {
        user.status == UserStatus::Active
            && (user.roles.contains(&FirmRole::Admin) || Some(user.id) == officer)
            && !decoys.contains(&user.id.to_string())
    });
    for admin in admins {
        let body = format!("Dear {},\n\n{body}", admin.display_name());
        let mail = Mail { to: admin.email.as_str(), to_name: admin.name.as_deref(), subject, body };
        match mailer.send(mail).await {
            Ok(()) => notices.sent.push(admin.email),
            Err(e) => notices.failed.push((admin.email, crate::error::ErrorChain(&e).to_string())),
        }
    }
    Ok(notices)
}
