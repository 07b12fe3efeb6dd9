//! Backups at the command line: made and proven now, listed, verified, and restored (on a
//! machine with nothing but the backup target and the master key, too).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::document::readable_size as size;
use ringfence_core::firm::FirmSlug;
use ringfence_core::ids::FirmId;
use ringfence_store::backup::{BackupSummary, BackupTarget, NewCopy, Progress, Restoring, VerifiedBackup};
use ringfence_store::blobs::BlobStore;
use ringfence_store::firm::invitations::INVITATION_LIFETIME;
use ringfence_store::{Storage, StoreError};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{CommandResult, open_storage};
use crate::config::Settings;

fn target(settings: &Settings) -> Result<BackupTarget, Box<dyn std::error::Error + Send + Sync>> {
    let backup = settings
        .serve
        .backup
        .as_ref()
        .ok_or("no backup target: give --backup-target (local:/dir or s3://bucket/prefix) or RINGFENCE_BACKUP_TARGET")?;
    Ok(BackupTarget::open(&backup.target, &settings.serve.blob_store, &settings.data_dir)?)
}

fn say_verified(what: &str, verified: &VerifiedBackup) -> bool {
    match &verified.problem {
        None => {
            println!(
                "  verified {what} by restoring it: {} rows, {} documents ({}) whole, audit chain of {} entries intact",
                verified.rows,
                verified.documents,
                size(verified.document_bytes),
                verified.audit_entries
            );
            true
        }
        Some(problem) => {
            println!("  VERIFICATION FAILED for {what}: {problem}");
            false
        }
    }
}

pub async fn create(settings: &Settings, only: Option<&FirmSlug>) -> CommandResult {
    let storage = open_storage(settings).await?;
    let target = target(settings)?;
    let blobs = BlobStore::open(&settings.serve.blob_store)?;
    let firms = match only {
        Some(slug) => vec![storage.firm_by_slug(slug).await?],
        None => storage.list_firms().await?,
    };
    let mut failed = 0;
    for firm in &firms {
        let now = SystemClock.now();
        match storage.back_up_firm(&target, &blobs, firm.id, now).await {
            Ok(record) => {
                println!(
                    "Backed up {} as {}: {} covered, {} added to the target.",
                    firm.slug,
                    record.id,
                    size(record.covered_bytes),
                    size(record.added_bytes)
                );
                let verified =
                    storage.verify_backup(&target, Some(firm.id), record.id, SystemClock.now()).await?;
                failed += usize::from(!say_verified(&format!("{}'s backup", firm.slug), &verified));
            }
            Err(e) => {
                println!("BACKUP FAILED for {}: {e}", firm.slug);
                failed += 1;
            }
        }
    }
    if only.is_none() {
        let record = storage.back_up_control(&target, SystemClock.now()).await?;
        println!("Backed up the control store as {}: {}.", record.id, size(record.covered_bytes));
        let verified = storage.verify_backup(&target, None, record.id, SystemClock.now()).await?;
        failed += usize::from(!say_verified("the control store's backup", &verified));
    }
    if failed > 0 {
        return Err(format!("{failed} backups or verifications failed (see above)").into());
    }
    Ok(())
}

pub async fn list(settings: &Settings, only: Option<&FirmSlug>) -> CommandResult {
    let storage = open_storage(settings).await?;
    let target = target(settings)?;
    let scope = match only {
        Some(slug) => Some(Some(firm_id(&storage, &target, slug, None).await?)),
        None => None,
    };
    let found = storage.list_backups(&target, scope).await?;
    if found.is_empty() {
        println!("No backups on the target.");
        return Ok(());
    }
    println!(
        "{:<36}  {:<20}  {:<20}  {:>10}  {:>9}  {:>10}  state",
        "id", "of", "taken (UTC)", "rows", "documents", "size"
    );
    for backup in found {
        let state = match storage.backup_record(backup.id).await? {
            Some(record) => match record.problem {
                Some(problem) => format!("{}: {problem}", record.state.as_str()),
                None => record.state.as_str().to_owned(),
            },
            None => "not on record here".to_owned(),
        };
        println!(
            "{:<36}  {:<20}  {:<20}  {:>10}  {:>9}  {:>10}  {state}",
            backup.id,
            backup.slug.as_deref().unwrap_or("(control store)"),
            backup.taken_at.format(&Rfc3339)?,
            backup.rows,
            backup.documents,
            size(backup.covered_bytes),
        );
    }
    let failures = storage.backup_records(scope.flatten(), 1).await?;
    if let Some(latest) = failures.first()
        && let Some(problem) = &latest.problem
    {
        println!("The latest backup on record FAILED: {problem}");
    }
    Ok(())
}

pub async fn verify(settings: &Settings, firm: Option<&FirmSlug>, id: Option<Uuid>) -> CommandResult {
    let storage = open_storage(settings).await?;
    let target = target(settings)?;
    let firm = match firm {
        Some(slug) => Some(firm_id(&storage, &target, slug, id).await?),
        None => None,
    };
    let id = match id {
        Some(id) => id,
        None => newest(&storage, &target, firm).await?.id,
    };
    let verified = storage.verify_backup(&target, firm, id, SystemClock.now()).await?;
    if say_verified(&format!("backup {id}"), &verified) {
        Ok(())
    } else {
        Err(format!("backup {id} failed its verification").into())
    }
}

/// What a restore starts from: the firm, and its backup as the target lists it.
struct Restorable {
    storage: Storage,
    target: BackupTarget,
    blobs: BlobStore,
    firm: FirmId,
    backup: BackupSummary,
}

async fn restorable(
    settings: &Settings,
    slug: &FirmSlug,
    from: Uuid,
) -> Result<Restorable, Box<dyn std::error::Error + Send + Sync>> {
    let storage = open_storage(settings).await?;
    let target = target(settings)?;
    let blobs = BlobStore::open(&settings.serve.blob_store)?;
    if storage.tombstone_by_slug(slug).await?.is_some() {
        return Err(format!("{slug} was shredded: a shredded firm is never restored").into());
    }
    let firm = firm_id(&storage, &target, slug, Some(from)).await?;
    let backup = storage
        .list_backups(&target, Some(Some(firm)))
        .await?
        .into_iter()
        .find(|b| b.id == from)
        .ok_or_else(|| format!("backup {from} is not one of {slug}'s"))?;
    Ok(Restorable { storage, target, blobs, firm, backup })
}

pub async fn restore(settings: &Settings, slug: &FirmSlug, from: Uuid, settle: u64) -> CommandResult {
    let Restorable { storage, target, blobs, firm, backup } = restorable(settings, slug, from).await?;
    println!(
        "Restoring {slug} from backup {from}, taken {}: the firm is closed to requests until it is done.",
        backup.taken_at.format(&Rfc3339)?
    );
    let bar = Bar::new();
    let restored = storage
        .restore_firm(
            &target,
            &blobs,
            firm,
            from,
            Restoring { settle: Duration::from_secs(settle), progress: &bar },
            SystemClock.now(),
        )
        .await?;
    bar.done();
    println!(
        "Restored {slug}: {} rows, {} documents copied back, {} purges since the backup re-applied ({} found again).",
        restored.rows,
        restored.documents_copied,
        restored.purges_replayed.purges,
        restored.purges_replayed.found
    );
    if restored.addresses_taken > 0 {
        println!(
            "{} of its users' addresses now belong to another firm: those users are restored but cannot sign in.",
            restored.addresses_taken
        );
    }
    println!("The firm is open again. Its audit log records the restore and the backup it came from.");
    Ok(())
}

pub async fn restore_as(
    settings: &Settings,
    slug: &FirmSlug,
    from: Uuid,
    copy: NewCopy<'_>,
) -> CommandResult {
    let Restorable { storage, target, blobs, firm, backup } = restorable(settings, slug, from).await?;
    let admin_email = copy.admin_email.clone();
    println!(
        "Restoring {slug}'s backup {from}, taken {}, as the new firm {}; {slug} is not touched.",
        backup.taken_at.format(&Rfc3339)?,
        copy.slug
    );
    let bar = Bar::new();
    let now = SystemClock.now();
    let restored = storage.restore_firm_as(&target, &blobs, (firm, from), copy, &bar, now).await?;
    bar.done();
    println!(
        "Restored the copy \"{}\" ({}), id {}: {} rows, {} documents, {} purges re-applied ({} found again).",
        restored.firm.name.as_str(),
        restored.firm.slug,
        restored.firm.id,
        restored.rows,
        restored.documents_copied,
        restored.purges_replayed.purges,
        restored.purges_replayed.found
    );
    println!(
        "None of {slug}'s people can sign in to it. Its administrator {admin_email} is invited; send them this one-time link (valid until {}):",
        ringfence_core::local_time::FirmTimeZone::utc().in_words(now + INVITATION_LIFETIME)
    );
    let link = ringfence_crypto::token::scoped(&restored.firm.id.simple(), &restored.invitation);
    println!("  {}/invite#{}", settings.public_url_for(settings.serve.listen.port()), link.as_str());
    println!(
        "Its audit log records the backup it came from. When the inspection is over: ringfence firm terminate --firm {0} --retain-days 1, then ringfence firm shred --firm {0}",
        restored.firm.slug
    );
    Ok(())
}

/// The firm `slug` names: this deployment's, or on a machine that has never seen it, the
/// firm whose backup `from` is (found on the target).
async fn firm_id(
    storage: &Storage,
    target: &BackupTarget,
    slug: &FirmSlug,
    from: Option<Uuid>,
) -> Result<FirmId, Box<dyn std::error::Error + Send + Sync>> {
    match storage.firm_by_slug(slug).await {
        Ok(firm) => return Ok(firm.id),
        Err(StoreError::UnknownFirm(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let found = storage.list_backups(target, None).await?;
    let of_slug = |b: &&BackupSummary| b.slug.as_deref() == Some(slug.as_str()) && b.firm.is_some();
    let backup = match from {
        Some(from) => found.iter().filter(of_slug).find(|b| b.id == from),
        None => found.iter().find(of_slug),
    };
    backup.and_then(|b| b.firm).ok_or_else(|| {
        format!(
            "no firm {slug} here, and no backup of one on the target{}",
            from.map(|f| format!(" with id {f}")).unwrap_or_default()
        )
        .into()
    })
}

async fn newest(
    storage: &Storage,
    target: &BackupTarget,
    firm: Option<FirmId>,
) -> Result<BackupSummary, Box<dyn std::error::Error + Send + Sync>> {
    storage
        .list_backups(target, Some(firm))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| "no backup of it on the target".into())
}

/// A progress line on standard error: how far, and about how long is left.
struct Bar {
    state: Mutex<BarState>,
    terminal: bool,
}

struct BarState {
    total: u64,
    done: u64,
    stage: String,
    started: Instant,
    shown: Option<Instant>,
}

impl Bar {
    fn new() -> Self {
        Self {
            state: Mutex::new(BarState {
                total: 0,
                done: 0,
                stage: String::new(),
                started: Instant::now(),
                shown: None,
            }),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, state: &mut BarState, force: bool) {
        let now = Instant::now();
        let every = if self.terminal { Duration::from_millis(200) } else { Duration::from_secs(5) };
        if !force && state.shown.is_some_and(|at| now - at < every) {
            return;
        }
        state.shown = Some(now);
        let fraction = if state.total == 0 { 1.0 } else { (state.done as f64 / state.total as f64).min(1.0) };
        let elapsed = state.started.elapsed().as_secs_f64();
        let left = if fraction > 0.01 {
            format!(", about {:.0} s left", elapsed / fraction - elapsed)
        } else {
            String::new()
        };
        let line = format!(
            "{}: {:>3.0}% ({} of {}){left}",
            state.stage,
            fraction * 100.0,
            size(state.done.min(state.total)),
            size(state.total)
        );
        let mut err = std::io::stderr();
        let _ = if self.terminal { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }

    fn done(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

impl Progress for Bar {
    fn total(&self, bytes: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.total = bytes;
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.done += bytes;
            self.show(&mut state, false);
        }
    }

    fn stage(&self, stage: &str) {
        if let Ok(mut state) = self.state.lock() {
            if self.terminal && !state.stage.is_empty() {
                eprintln!();
            }
            state.stage = stage.to_owned();
            self.show(&mut state, true);
        }
    }
}
