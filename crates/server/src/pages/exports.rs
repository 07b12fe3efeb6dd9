//! Full exports in the browser: the export section of a matter's page (its leads), and the
//! firm's exports (administrators). Asking posts a form; the download is the API's link,
//! which the session cookie opens, once.

use crate::app::exports::{ExportRequest, ExportView};
use ringfence_store::firm::access::Export;

use super::*;

/// An export as a page lists it.
pub struct ExportRow {
    pub requested: String,
    pub status: &'static str,
    pub encrypted: bool,
    pub expires: Option<String>,
    pub size: Option<String>,
    pub failure: Option<String>,
    pub download: Option<String>,
}

pub(super) fn export_rows(dates: &Dates, exports: Vec<ExportView>) -> Vec<ExportRow> {
    exports
        .into_iter()
        .map(|e| ExportRow {
            requested: dates.moment(e.requested_at),
            status: match e.status {
                "queued" => "being built",
                "ready" => "ready to download, once",
                "failed" => "failed",
                "downloaded" => "downloaded, and removed",
                _ => "expired unread, and removed",
            },
            encrypted: e.encrypted,
            expires: e.expires_at.filter(|_| e.download.is_some()).map(|t| dates.moment(t)),
            size: e.size.map(size),
            failure: e.failure,
            download: e.download,
        })
        .collect()
}

/// What the export forms post: an optional passphrase.
#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    passphrase: String,
}

impl ExportForm {
    fn request(self) -> ExportRequest {
        ExportRequest { passphrase: Some(self.passphrase).filter(|p| !p.is_empty()) }
    }
}

pub async fn request_matter_export(
    on: On<Export, MatterId>,
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ExportForm>,
) -> Response {
    let asked = app::exports::request_matter(&ctx, &state.storage, on, form.request()).await;
    done_or_failure(asked, &format!("/matters/{}#exports", on.id()), &ctx.actor, &csrf)
}

#[derive(Template)]
#[template(path = "exports.html")]
struct FirmExportsPage {
    signed_in: Option<SignedInUser>,
    exports: Vec<ExportRow>,
}

pub async fn firm_exports(ctx: Ctx, csrf: Option<Extension<BrowserSession>>) -> Response {
    let shown = async {
        let dates = Dates::of(&ctx).await?;
        let exports = app::exports::list_firm(&ctx).await?;
        Ok::<_, AppError>(export_rows(&dates, exports.items))
    };
    match shown.await {
        Ok(exports) => {
            render(&FirmExportsPage { signed_in: signed_in(&ctx.actor, &csrf), exports }, StatusCode::OK)
        }
        Err(error) => failure_page(error, signed_in(&ctx.actor, &csrf)),
    }
}

pub async fn request_firm_export(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<ExportForm>,
) -> Response {
    let asked = app::exports::request_firm(&ctx, &state.storage, form.request()).await;
    done_or_failure(asked, "/admin/exports", &ctx.actor, &csrf)
}
