use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::firm::FirmSlug;
use ringfence_store::firm::audit::{self, Verification};

use super::{CommandResult, open_storage};
use crate::config::Settings;

/// Verifies the firm's audit chain and checkpoints; a broken log is an error (exit 1)
/// naming the first entry that fails.
pub async fn verify(settings: &Settings, slug: &FirmSlug) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firm = storage.firm_by_slug(slug).await?;
    let store = storage.firm(firm.id).await?;
    let mut tx = store.begin().await?;
    let verification = audit::verify(&mut tx).await?;
    tx.commit().await?;
    match verification {
        Verification::Intact { entries, checkpoints } => {
            println!(
                "The audit log of {slug} is intact: {entries} entries, {checkpoints} signed checkpoints."
            );
            Ok(())
        }
        Verification::Broken { seq, problem } => {
            Err(format!("the audit log of {slug} fails at entry {seq}: {problem}").into())
        }
    }
}

/// Applies the firm's audit retention now.
pub async fn purge(settings: &Settings, slug: &FirmSlug) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firm = storage.firm_by_slug(slug).await?;
    let store = storage.firm(firm.id).await?;
    match store.purge_audit(SystemClock.now()).await? {
        Some(up_to) => println!("Removed audit entries 1 to {up_to} of {slug}, past its retention."),
        None => println!("No audit entries of {slug} are past its retention."),
    }
    Ok(())
}
