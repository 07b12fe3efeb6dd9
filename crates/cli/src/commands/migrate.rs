use super::{CommandResult, open_storage};
use crate::config::Settings;

/// Opening the storage applies every pending migration; this reports the result.
pub async fn run(settings: &Settings) -> CommandResult {
    let storage = open_storage(settings).await?;
    let firms = storage.list_firms().await?;
    println!("migrations applied: the control store and {} firm store(s) are up to date", firms.len());
    Ok(())
}
