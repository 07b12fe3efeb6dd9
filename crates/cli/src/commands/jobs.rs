use ringfence_core::clock::{Clock, SystemClock};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{CommandResult, open_storage};
use crate::config::Settings;

/// One job a line, tab-separated: id, state, kind, firm, next run, attempts of the most,
/// runs completed (recurring jobs), last error.
pub async fn list(settings: &Settings) -> CommandResult {
    let storage = open_storage(settings).await?;
    let now = SystemClock.now();
    let jobs = storage.list_jobs(now).await?;
    if jobs.is_empty() {
        println!("No jobs are queued: servers put their schedules on the queue when they start.");
    }
    for job in jobs {
        let firm = job.firm.map_or_else(|| "-".to_owned(), |firm| firm.to_string());
        let error: String = job
            .last_error
            .as_deref()
            .unwrap_or("-")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let runs = match job.every {
            Some(every) => format!("every {every}, ran {}", job.runs),
            None => "once".to_owned(),
        };
        println!(
            "{}\t{}\t{}\t{firm}\t{}\t{}/{}\t{runs}\t{error}",
            job.id,
            job.state.name(),
            job.kind,
            job.run_at.format(&Rfc3339)?,
            job.attempts,
            job.max_attempts,
        );
    }
    Ok(())
}

pub async fn retry(settings: &Settings, id: Uuid) -> CommandResult {
    let storage = open_storage(settings).await?;
    if !storage.retry_job(id, SystemClock.now()).await? {
        return Err(format!("no dead job has the id {id}: see `ringfence jobs list`").into());
    }
    println!("Job {id} is queued again and runs as soon as a worker is free.");
    Ok(())
}
