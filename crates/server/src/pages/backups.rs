//! For administrators: when the firm was last backed up, how large each backup is, and
//! whether it was proven by a restore. The backups themselves are no download: the firm's
//! data leaves as an export.

use super::*;
use ringfence_core::document::readable_size as size;
use ringfence_store::control::backups::BackupState;

/// A backup, as a row of the list.
struct BackupRow {
    taken: String,
    size: String,
    state: &'static str,
    verified: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    signed_in: Option<SignedInUser>,
    backups: Vec<BackupRow>,
}

pub async fn backups(
    ctx: Ctx,
    State(state): State<AppState>,
    csrf: Option<Extension<BrowserSession>>,
) -> Response {
    let loaded = async {
        Ok::<_, AppError>((app::backups::recent(&ctx, &state.storage).await?, Dates::of(&ctx).await?))
    }
    .await;
    let (backups, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, &csrf)),
    };
    let page = BackupsPage {
        signed_in: signed_in(&ctx.actor, &csrf),
        backups: backups
            .into_iter()
            .map(|b| BackupRow {
                taken: dates.moment(b.taken_at),
                size: size(b.covered_bytes),
                state: match b.state {
                    BackupState::Verified => "Verified by a restore",
                    BackupState::Made => "Made, not yet verified",
                    BackupState::Failed => "FAILED: the operator has been told why",
                    BackupState::Rotated => "Deleted by the rotation",
                },
                verified: b.verified_at.map(|at| dates.moment(at)).unwrap_or_default(),
                failed: b.state == BackupState::Failed,
            })
            .collect(),
    };
    render(&page, StatusCode::OK)
}
