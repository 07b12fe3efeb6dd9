//! Operator accounts at the command line: whoever runs this on the server holds the master
//! key already, so it is where the first operator comes from.

use std::io::Read;

use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::principal::{Principal, SystemTask};
use ringfence_core::user::Password;
use ringfence_crypto::otp::TotpSecret;
use ringfence_store::control::operators::OperatorLogVerification;
use ringfence_store::operators::NewOperator;

use super::{CommandResult, open_storage};
use crate::cli::OperatorCreateArgs;
use crate::config::Settings;

/// Creates an operator with the password read from standard input, and prints the
/// authenticator app's secret: shown this once, it is sealed under the master key.
pub async fn create(settings: &Settings, args: OperatorCreateArgs) -> CommandResult {
    let mut raw = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut raw)?;
    let password = Password::parse(raw.trim_end_matches(['\r', '\n']))?;
    let password_hash =
        tokio::task::spawn_blocking(move || ringfence_crypto::password::hash(password.expose())).await??;
    let totp = TotpSecret::generate()?;
    let storage = open_storage(settings).await?;
    let new = NewOperator { email: &args.email, name: &args.name, password_hash, totp: &totp };
    let id =
        storage.create_operator(new, &Principal::System(SystemTask::CommandLine), SystemClock.now()).await?;
    let (base32, url) = totp.provisioning("Ringfence operators", args.email.as_str())?;
    let public_url = settings.public_url_for(settings.serve.listen.port());
    println!("Created operator {} <{}>, id {id}.", args.name, args.email);
    println!("Add this key to their authenticator app now; it is not shown again:");
    println!("  {}", base32.as_str());
    println!("  {}", url.as_str());
    println!(
        "They sign in at {public_url}/operator/sign-in with the password given and a code from the app."
    );
    Ok(())
}

/// Prints the newest entries of the operator log, one a line, tab-separated: sequence,
/// time, actor, action, resource, outcome.
pub async fn log(settings: &Settings, limit: i64) -> CommandResult {
    let storage = open_storage(settings).await?;
    for entry in storage.operator_log(limit).await? {
        let actor = entry.actor_email.as_deref().unwrap_or(&entry.actor_kind);
        let resource = match (&entry.resource_type, &entry.resource_id) {
            (Some(kind), Some(id)) => format!("{kind} {id}"),
            _ => "-".to_owned(),
        };
        println!("{}\t{}\t{actor}\t{}\t{resource}\t{}", entry.seq, entry.at, entry.action, entry.outcome);
    }
    Ok(())
}

/// Replays the operator log's chain; a broken log is an error (exit 1) naming where.
pub async fn verify(settings: &Settings) -> CommandResult {
    let storage = open_storage(settings).await?;
    match storage.verify_operator_log().await? {
        OperatorLogVerification::Intact { entries } => {
            println!("The operator log is intact: {entries} entries.");
            Ok(())
        }
        OperatorLogVerification::Broken { seq, problem } => {
            Err(format!("the operator log fails at entry {seq}: {problem}").into())
        }
    }
}
