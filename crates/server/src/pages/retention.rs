//! For administrators: how long the firm keeps closed matters, and the matters past that
//! window to review and dispose of (by number, client and dates, never their content).

use super::*;
use crate::app::retention::{self, RetentionSetting};
use ringfence_store::firm::access::Dispose;

/// A matter due for disposal, as a row of the list.
struct DueRow {
    id: String,
    number: String,
    client: String,
    closed: String,
    due: String,
}

#[derive(Template)]
#[template(path = "retention.html")]
struct RetentionPage {
    signed_in: Option<SignedInUser>,
    notice: Option<&'static str>,
    problem: Option<String>,
    /// Blank when matters are kept indefinitely.
    window_days: String,
    auto_delete: bool,
    notice_days: i64,
    due: Vec<DueRow>,
}

async fn retention_page(
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    notice: Option<&'static str>,
    problem: Option<AppError>,
) -> Response {
    let loaded = async { Ok::<_, AppError>((retention::due(ctx).await?, Dates::of(ctx).await?)) }.await;
    let (listed, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let problem = problem.map(Problem::from);
    let RetentionSetting { window_days, auto_delete, notice_days } = listed.policy;
    let page = RetentionPage {
        signed_in: signed_in(&ctx.actor, csrf),
        notice,
        problem: problem.as_ref().map(|p| p.message.clone()),
        window_days: window_days.map(|days| days.to_string()).unwrap_or_default(),
        auto_delete,
        notice_days,
        due: listed
            .items
            .into_iter()
            .map(|m| DueRow {
                id: m.matter_id.to_string(),
                number: m.number,
                client: m.client_name,
                closed: dates.day(m.closed_at),
                due: dates.day(m.due_at),
            })
            .collect(),
    };
    render_with(&page, problem.as_ref())
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// The policy's form and the matters due for disposal.
pub async fn retention(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("policy") => Some("Saved: the firm keeps closed matters as set below."),
        Some("disposed") => {
            Some("Disposed of: the matter is deleted, restorable by its lead for the grace period.")
        }
        _ => None,
    };
    retention_page(&ctx, &csrf, notice, None).await
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    window_days: String,
    /// Present when the box is ticked.
    auto_delete: Option<String>,
    #[serde(default)]
    notice_days: String,
}

pub async fn set_retention(
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<PolicyForm>,
) -> Response {
    let set = async {
        let window = form.window_days.trim();
        let window_days = match window {
            "" => None,
            days => Some(days.parse().map_err(|_| {
                AppError::invalid("window_days", "a whole number of days, 90 to 1826, or blank")
            })?),
        };
        let notice_days = form
            .notice_days
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("notice_days", "a whole number of days, 1 to 90"))?;
        let asked = RetentionSetting { window_days, auto_delete: form.auto_delete.is_some(), notice_days };
        retention::set_policy(&ctx, asked).await
    }
    .await;
    match set {
        Ok(_) => Redirect::to("/admin/retention?done=policy").into_response(),
        Err(error) => retention_page(&ctx, &csrf, None, Some(error)).await,
    }
}

pub async fn dispose(
    on: On<Dispose, MatterId>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    _: Confirmed<DisposeMatter>,
) -> Response {
    match retention::dispose(&ctx, on).await {
        Ok(()) => Redirect::to("/admin/retention?done=disposed").into_response(),
        Err(error) => retention_page(&ctx, &csrf, None, Some(error)).await,
    }
}
