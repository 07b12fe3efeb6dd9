//! Key rotation at the command line. Rotation and re-wrapping run while servers serve;
//! only the master key's rotation needs the servers restarted with the new key.

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::firm::FirmSlug;
use ringfence_crypto::MasterKey;
use ringfence_server::jobs::after_rotation;
use ringfence_store::rotation::Retirement;
use ringfence_store::{KEY_SETTLE, MasterKeyOrigin, Storage};
use time::format_description::well_known::Rfc3339;

use super::{CommandResult, open_storage};
use crate::config::Settings;

pub const NEW_MASTER_KEY_VAR: &str = "RINGFENCE_NEW_MASTER_KEY";

async fn rewrap_and_report(storage: &Storage, slug: &FirmSlug) -> CommandResult {
    let firm = storage.firm_by_slug(slug).await?;
    let report = storage.rewrap_firm(firm.id, SystemClock.now()).await?;
    println!("Re-sealed {} values of {slug} under its current key.", report.moved);
    if report.remaining > 0 {
        println!(
            "{} values were written under an older key meanwhile: run `ringfence keys rewrap --firm {slug}` again.",
            report.remaining
        );
    } else {
        println!(
            "Nothing of {slug} uses its older key versions any more; `ringfence keys retire --firm {slug}` \
             deletes them once the grace period has passed (servers also do this on their own)."
        );
    }
    Ok(())
}

pub async fn rotate(settings: &Settings, slug: &FirmSlug) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firm = storage.firm_by_slug(slug).await?;
    let now = SystemClock.now();
    // The servers' workers carry the rotation through too, should this command be stopped.
    let version = storage.rotate_firm_key(firm.id, now, &after_rotation(firm.id, now)).await?;
    println!("{slug} now seals new data under key version {}.", version.0);
    println!("Waiting {} s for every server to pick the new version up…", KEY_SETTLE.as_secs());
    tokio::time::sleep(KEY_SETTLE).await;
    rewrap_and_report(&storage, slug).await
}

pub async fn rewrap(settings: &Settings, slug: &FirmSlug) -> CommandResult {
    let storage = open_storage(settings).await?;
    rewrap_and_report(&storage, slug).await
}

pub async fn retire(settings: &Settings, slug: &FirmSlug, grace_minutes: i64) -> CommandResult {
    if grace_minutes < 0 {
        return Err("--grace-minutes must not be negative".into());
    }
    let storage = open_storage(settings).await?;
    let firm = storage.firm_by_slug(slug).await?;
    let grace = time::Duration::minutes(grace_minutes);
    match storage.retire_old_keys(firm.id, SystemClock.now(), grace).await? {
        Retirement::Retired { versions } => println!("Deleted {versions} older key versions of {slug}."),
        Retirement::StillInUse { values } => {
            return Err(format!(
                "{values} values of {slug} are still sealed under an older key: run `ringfence keys rewrap --firm {slug}` first"
            )
            .into());
        }
        Retirement::TooSoon { after } => {
            return Err(format!(
                "the current key of {slug} is younger than the grace period: retire after {}",
                after.format(&Rfc3339).unwrap_or_default()
            )
            .into());
        }
    }
    Ok(())
}

pub async fn rotate_master(settings: &Settings) -> CommandResult {
    let storage = open_storage(settings).await?;
    let from_env = std::env::var(NEW_MASTER_KEY_VAR).ok().map(zeroize::Zeroizing::new);
    match (storage.master_key_origin(), from_env) {
        (_, Some(text)) => {
            let new = MasterKey::from_base64(&text)?;
            let firms = storage.rotate_master_key(&new).await?;
            println!(
                "Re-wrapped the keys of {firms} firms under master key {}. Set RINGFENCE_MASTER_KEY to the new key \
                 (and remove any DATA/master.key), then restart every server.",
                new.id()
            );
        }
        (MasterKeyOrigin::File(path) | MasterKeyOrigin::Created(path), None) => {
            let new = MasterKey::generate()?;
            let firms = storage.replace_master_key_file(path, &new).await?;
            println!(
                "Re-wrapped the keys of {firms} firms under a new master key, now in {}. Back it up now, apart \
                 from the data, and restart every server.",
                path.display()
            );
        }
        (MasterKeyOrigin::Environment, None) => {
            return Err(format!(
                "the master key comes from RINGFENCE_MASTER_KEY: put the new one in {NEW_MASTER_KEY_VAR} \
                 (base64 of 32 random bytes) and run this again"
            )
            .into());
        }
    }
    Ok(())
}
