mod export;
mod external;

use std::path::Path;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::firm::FirmSlug;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_store::firm::audit::{self, Verification};

use super::{CommandResult, open_storage};
use crate::config::Settings;

/// Verifies the firm's audit chain and checkpoints, and with `against` also compares it
/// with checkpoints kept outside the database; a broken log is an error (exit 1) naming
/// the first entry (or audit key) that fails.
pub async fn verify(settings: &Settings, slug: &FirmSlug, against: Option<&Path>) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firm = storage.firm_by_slug(slug).await?;
    let outside = match against {
        Some(path) => external::read(path, &firm.id.to_string())?,
        None => Vec::new(),
    };
    let store = storage.firm(firm.id).await?;
    let mut tx = store.begin(&Principal::System(SystemTask::CommandLine)).await?;
    let verification = audit::verify_against(&mut tx, &outside).await?;
    tx.commit().await?;
    match verification {
        Verification::Intact { entries, checkpoints, external } => {
            let compared = match against {
                Some(path) => format!(" {external} checkpoints kept in {} match it.", path.display()),
                None => String::new(),
            };
            println!(
                "The audit log of {slug} is intact: {entries} entries, {checkpoints} signed checkpoints.{compared}"
            );
            Ok(())
        }
        Verification::Broken { seq, problem } => {
            Err(format!("the audit log of {slug} fails at entry {seq}: {problem}").into())
        }
        Verification::UnprovenKey { key_id } => Err(format!(
            "the audit log of {slug} is forged: audit key {key_id} is not the firm's (its seed does not \
             open under the firm key, and no key of the firm certifies it)"
        )
        .into()),
    }
}

/// Checks a full export's ZIP offline (see `export`): exit 1 naming the first problem.
pub fn verify_export(path: &Path, passphrase_stdin: bool) -> CommandResult {
    let passphrase = if passphrase_stdin {
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin().read_line(&mut line)?;
        Some(zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned()))
    } else {
        None
    };
    let checked = export::check(path, passphrase)?;
    let (key_id, public_key) = &checked.anchor;
    println!(
        "The export {} ({} scope) is intact: {} files match its manifest; its audit log holds {} entries, \
         {} of them covered by its {} signed checkpoints, signed by {} audit keys.",
        path.display(),
        checked.scope,
        checked.files,
        checked.entries,
        checked.covered,
        checked.checkpoints,
        checked.keys,
    );
    if !key_id.is_empty() {
        println!(
            "Every key is proven through the newest, {key_id} (public key {public_key}): compare it with a \
             checkpoint or public key kept outside the firm's database."
        );
    }
    Ok(())
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
