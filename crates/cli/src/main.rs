//! `ringfence`: the one binary. Parses the command line, resolves configuration (flags,
//! then `RINGFENCE_*` environment variables, then the TOML file, then defaults), and runs
//! the chosen command.

mod cli;
mod commands;
mod config;
mod logging;

use std::process::ExitCode;

use clap::Parser;
use ringfence_store::backup::NewCopy;

use crate::cli::{
    AuditCommand, BackupCommand, BlobsCommand, Cli, Command, FirmCommand, JobsCommand, KeysCommand,
    OperatorCommand,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The extractor's child reads no settings and starts no runtime: it parses one file.
    if let Command::ExtractText { content_type, page } = &cli.command {
        return ringfence_server::extractor::child(content_type, *page);
    }
    let settings = match config::Settings::resolve(&cli) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("ringfence: {err}");
            return ExitCode::from(2);
        }
    };
    logging::init(
        settings.log_format,
        if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" },
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ringfence: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(_) => commands::serve::run(&settings).await,
            Command::Migrate => commands::migrate::run(&settings).await,
            Command::Firm { command: FirmCommand::Create(args) } => {
                commands::firm::create(&settings, args).await
            }
            Command::Firm { command: FirmCommand::List } => commands::firm::list(&settings).await,
            Command::Firm { command: FirmCommand::Terminate(args) } => {
                commands::firm::terminate(&settings, args).await
            }
            Command::Firm { command: FirmCommand::Reinstate(args) } => {
                commands::firm::reinstate(&settings, args).await
            }
            Command::Firm { command: FirmCommand::Shred(args) } => {
                commands::firm::shred(&settings, args).await
            }
            Command::Operator { command: OperatorCommand::Create(args) } => {
                commands::operator::create(&settings, args).await
            }
            Command::Operator { command: OperatorCommand::Log { limit } } => {
                commands::operator::log(&settings, limit).await
            }
            Command::Operator { command: OperatorCommand::Verify } => {
                commands::operator::verify(&settings).await
            }
            Command::Audit {
                command: AuditCommand::Verify { export: Some(export), passphrase_stdin, .. },
            } => commands::audit::verify_export(&export, passphrase_stdin),
            Command::Audit {
                command: AuditCommand::Verify { firm: Some(firm), against, export: None, .. },
            } => commands::audit::verify(&settings, &firm, against.as_deref()).await,
            Command::Audit { command: AuditCommand::Verify { firm: None, export: None, .. } } => {
                Err("audit verify needs --firm or --export".into())
            }
            Command::Audit { command: AuditCommand::Purge { firm } } => {
                commands::audit::purge(&settings, &firm).await
            }
            Command::Keys { command: KeysCommand::Rotate { firm } } => {
                commands::keys::rotate(&settings, &firm).await
            }
            Command::Keys { command: KeysCommand::Rewrap { firm } } => {
                commands::keys::rewrap(&settings, &firm).await
            }
            Command::Keys { command: KeysCommand::Retire { firm, grace_minutes } } => {
                commands::keys::retire(&settings, &firm, grace_minutes).await
            }
            Command::Keys { command: KeysCommand::RotateMaster } => {
                commands::keys::rotate_master(&settings).await
            }
            Command::ExtractText { .. } => Ok(()),
            Command::Blobs { command: BlobsCommand::Sweep { firm, grace_hours, .. } } => {
                commands::blobs::sweep(&settings, firm.as_ref(), grace_hours).await
            }
            Command::Jobs { command: JobsCommand::List } => commands::jobs::list(&settings).await,
            Command::Jobs { command: JobsCommand::Retry { id } } => {
                commands::jobs::retry(&settings, id).await
            }
            Command::Backup { command: BackupCommand::Create { firm, .. } } => {
                commands::backup::create(&settings, firm.as_ref()).await
            }
            Command::Backup { command: BackupCommand::List { firm, .. } } => {
                commands::backup::list(&settings, firm.as_ref()).await
            }
            Command::Backup { command: BackupCommand::Verify { firm, id, .. } } => {
                commands::backup::verify(&settings, firm.as_ref(), id).await
            }
            Command::Backup {
                command:
                    BackupCommand::Restore {
                        firm,
                        from,
                        as_slug: Some(slug),
                        admin_email: Some(admin_email),
                        admin_name,
                        ..
                    },
            } => {
                let copy = NewCopy { slug, admin_email, admin_name: admin_name.as_deref() };
                commands::backup::restore_as(&settings, &firm, from, copy).await
            }
            Command::Backup { command: BackupCommand::Restore { firm, from, settle_seconds, .. } } => {
                commands::backup::restore(&settings, &firm, from, settle_seconds).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("ringfence: {message}");
            ExitCode::FAILURE
        }
    }
}
