//! A new firm's first steps, for its administrators: what is left to set up, each step
//! found done from the firm's own state (never ticked by hand), the list gone once all are.

use ringfence_core::user::FirmRole;
use ringfence_store::firm::audit::{self as audit_log, AuditFilter};
use ringfence_store::firm::{passkeys, preferences, sign_in_policy, users};

use super::{AppError, Ctx};
use crate::AppState;

/// One step: what to do, where, and whether it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub what: &'static str,
    pub why: &'static str,
    /// The page that does it; `None` for a step done where the server is run.
    pub page: Option<&'static str>,
    pub done: bool,
}

/// The steps left for an administrator, with those done; `None` for anyone else, and once
/// every step is done.
pub async fn checklist(ctx: &Ctx, state: &AppState) -> Result<Option<Vec<Step>>, AppError> {
    if !ctx.actor.has_any_role(&[FirmRole::Admin]) {
        return Ok(None);
    }
    let me = ctx.actor.user;
    let backed_up = !state.storage.backup_records(Some(ctx.actor.firm), 1).await?.is_empty();
    let mut tx = ctx.actor.begin_read().await?;
    let people = users::list(&mut tx).await?.len();
    let zone_chosen = preferences::time_zone_chosen(&mut tx).await?;
    let policy_chosen = sign_in_policy::chosen(&mut tx).await?;
    let second_factor = matches!(users::totp_secret(&mut tx, me).await?, Some((_, true)))
        || !passkeys::list(&mut tx, me).await?.is_empty();
    let backups_seen = backed_up && {
        let seen = AuditFilter {
            user: Some(me.to_string()),
            action_prefix: Some("backups.viewed".to_owned()),
            ..AuditFilter::default()
        };
        !audit_log::list(&mut tx, &seen, None, 1).await?.is_empty()
    };
    tx.commit().await?;
    let mut steps = vec![
        Step {
            what: "Invite your team",
            why: "colleagues get an emailed link to set their password",
            page: Some("/admin/users"),
            done: people > 1,
        },
        Step {
            what: "Set the firm's time zone",
            why: "every page and mail shows times on the firm's clock",
            page: Some("/admin/users#time-zone"),
            done: zone_chosen,
        },
        Step {
            what: "Choose how people sign in",
            why: "which second factors the firm accepts, and which roles must use an authenticator app or a passkey",
            page: Some("/admin/users#sign-in"),
            done: policy_chosen,
        },
        Step {
            what: "Enrol an authenticator app or a passkey",
            why: "a stronger second factor than an emailed code",
            page: Some("/account"),
            done: second_factor,
        },
        Step {
            what: "Set up outgoing mail",
            why: "until then mail is written to files on the server: whoever runs it starts it with --mail smtp://host:port",
            page: None,
            done: !state.mailer.is_outbox(),
        },
    ];
    if backed_up {
        steps.push(Step {
            what: "Look at the firm's last backup",
            why: "each one is proven by restoring it",
            page: Some("/admin/backups"),
            done: backups_seen,
        });
    }
    Ok((!steps.iter().all(|s| s.done)).then_some(steps))
}
