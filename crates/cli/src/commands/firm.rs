use std::io::Read;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::firm::{FirmStanding, RetentionDays};
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::user::{Email, Password};
use ringfence_mail::Mailer;
use ringfence_server::app::termination::{self, Notices, OperatorCtx};
use ringfence_store::backup::BackupTarget;
use ringfence_store::blobs::BlobStore;
use ringfence_store::firm::invitations::INVITATION_LIFETIME;
use ringfence_store::{NewFirm, Storage};
use time::format_description::well_known::Rfc3339;

use super::{CommandResult, open_storage};
use crate::cli::{FirmCreateArgs, FirmReinstateArgs, FirmShredArgs, FirmTerminateArgs};
use crate::config::Settings;

pub async fn create(settings: &Settings, args: FirmCreateArgs) -> CommandResult {
    let password_hash = if args.admin_password_stdin {
        let mut raw = zeroize::Zeroizing::new(String::new());
        std::io::stdin().read_to_string(&mut raw)?;
        let password = Password::parse(raw.trim_end_matches(['\r', '\n']))?;
        Some(
            tokio::task::spawn_blocking(move || ringfence_crypto::password::hash(password.expose()))
                .await??,
        )
    } else {
        None
    };
    let storage = open_storage(settings).await?;
    let now = SystemClock.now();
    let created = storage
        .create_firm(
            NewFirm {
                slug: args.slug,
                name: args.name,
                admin_email: args.admin_email.clone(),
                admin_name: args.admin_name.as_deref(),
                admin_password_hash: password_hash,
            },
            now,
        )
        .await?;
    println!(
        "Created firm \"{}\" ({}), id {}.",
        created.firm.name.as_str(),
        created.firm.slug,
        created.firm.id
    );
    match created.invitation {
        Some(token) => {
            let public_url = settings.public_url_for(settings.serve.listen.port());
            // A new firm's clock is UTC until its administrator sets its time zone.
            let expires = FirmTimeZone::utc().in_words(now + INVITATION_LIFETIME);
            println!(
                "Administrator {} is invited. Send them this one-time link (valid until {expires}):",
                args.admin_email
            );
            let link = ringfence_crypto::token::scoped(&created.firm.id.simple(), &token);
            println!("  {public_url}/invite#{}", link.as_str());
        }
        None => println!("Administrator {} can sign in with the password given.", args.admin_email),
    }
    Ok(())
}

/// One firm a line, tab-separated: slug, id, creation time, name, and standing (`active`, or
/// `terminated, shredded after <time>`).
pub async fn list(settings: &Settings) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firms = storage.list_firms().await?;
    if firms.is_empty() {
        println!(
            "No firms yet. Create one with: ringfence firm create --name NAME --slug SLUG --admin-email EMAIL"
        );
    }
    for firm in firms {
        let standing = match storage.firm_standing(firm.id).await? {
            FirmStanding::Active => "active".to_owned(),
            FirmStanding::Suspended { since } => format!("suspended since {}", since.format(&Rfc3339)?),
            FirmStanding::Terminated(termination) => {
                format!("terminated, shredded after {}", termination.shred_after.format(&Rfc3339)?)
            }
        };
        println!(
            "{}\t{}\t{}\t{}\t{standing}",
            firm.slug,
            firm.id,
            firm.created_at.format(&Rfc3339)?,
            firm.name.as_str()
        );
    }
    Ok(())
}

/// The operator at the command line, now.
fn operator(storage: &Storage) -> OperatorCtx<'_> {
    OperatorCtx { storage, principal: Principal::System(SystemTask::CommandLine), now: SystemClock.now() }
}

fn mailer(settings: &Settings) -> Result<Mailer, ringfence_mail::MailError> {
    Mailer::new(settings.serve.mail.as_deref(), &settings.data_dir, &settings.serve.mail_from)
}

/// Says who was mailed, and warns of whoever could not be.
fn report(notices: &Notices) {
    let sent: Vec<&str> = notices.sent.iter().map(Email::as_str).collect();
    match sent.as_slice() {
        [] => println!("No active administrator to mail."),
        sent => println!("Mailed the firm's administrators: {}.", sent.join(", ")),
    }
    for (admin, error) in &notices.failed {
        eprintln!("ringfence: warning: could not mail {admin}: {error}");
    }
}

pub async fn terminate(settings: &Settings, args: FirmTerminateArgs) -> CommandResult {
    let storage = open_storage(settings).await?;
    let mailer = mailer(settings)?;
    let retain = args.retain_days.unwrap_or(RetentionDays::SIX_MONTHS);
    let done = termination::terminate(&operator(&storage), &mailer, &args.firm, retain).await?;
    println!(
        "Terminated firm \"{}\" ({}): read-only from now on. It is shredded after {} ({} days), \
         unless reinstated before then with `ringfence firm reinstate --firm {}`.",
        done.firm.name.as_str(),
        done.firm.slug,
        done.shred_after.format(&Rfc3339)?,
        retain.days(),
        done.firm.slug,
    );
    report(&done.notices);
    Ok(())
}

pub async fn reinstate(settings: &Settings, args: FirmReinstateArgs) -> CommandResult {
    let storage = open_storage(settings).await?;
    let mailer = mailer(settings)?;
    let done = termination::reinstate(&operator(&storage), &mailer, &args.firm).await?;
    println!(
        "Reinstated firm \"{}\" ({}), terminated since {}: it is in service again and will not be shredded.",
        done.firm.name.as_str(),
        done.firm.slug,
        done.terminated_at.format(&Rfc3339)?,
    );
    report(&done.notices);
    Ok(())
}

pub async fn shred(settings: &Settings, args: FirmShredArgs) -> CommandResult {
    let storage = open_storage(settings).await?;
    let blobs = BlobStore::open(&settings.serve.blob_store)?;
    let backups = settings
        .serve
        .backup
        .as_ref()
        .map(|backup| BackupTarget::open(&backup.target, &settings.serve.blob_store, &settings.data_dir))
        .transpose()?;
    let tombstone = termination::shred(
        &operator(&storage),
        &blobs,
        backups.as_ref(),
        &args.firm,
        args.force_reason.as_ref(),
    )
    .await?;
    let shredded_at = tombstone.shredded_at.unwrap_or(tombstone.shred_started_at);
    println!(
        "Firm {} ({}) is shredded: its keys, database and files were destroyed by {} at {}. Its tombstone \
         keeps the audit log's final checkpoint: entry {}, hash {}.",
        tombstone.slug,
        tombstone.firm,
        tombstone.shredded_by,
        shredded_at.format(&Rfc3339)?,
        tombstone.checkpoint.seq,
        tombstone.checkpoint.hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    );
    if let Some(reason) = &tombstone.force_reason {
        println!("It was shredded whatever legal hold it was under, for this reason: {reason}");
    }
    Ok(())
}
