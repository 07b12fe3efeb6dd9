use std::io::Read;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::user::Password;
use ringfence_store::NewFirm;
use ringfence_store::firm::invitations::INVITATION_LIFETIME;
use time::format_description::well_known::Rfc3339;

use super::{CommandResult, open_storage};
use crate::cli::FirmCreateArgs;
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
            let expires = (now + INVITATION_LIFETIME).format(&Rfc3339)?;
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

pub async fn list(settings: &Settings) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firms = storage.list_firms().await?;
    if firms.is_empty() {
        println!(
            "No firms yet. Create one with: ringfence firm create --name NAME --slug SLUG --admin-email EMAIL"
        );
    }
    for firm in firms {
        println!("{}\t{}\t{}\t{}", firm.slug, firm.id, firm.created_at.format(&Rfc3339)?, firm.name.as_str());
    }
    Ok(())
}
