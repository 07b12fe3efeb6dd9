//! One's own account: sessions, the authenticator app, the password.

use ringfence_core::ids::{PasskeyId, SessionId};
use ringfence_crypto::SecretText;

use super::*;
use crate::edge::PathId;

struct SessionRow {
    id: String,
    agent: String,
    ip: String,
    last_seen: String,
    current: bool,
}

struct PasskeyRow {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    signed_in: Option<SignedInUser>,
    notice: Option<&'static str>,
    problem: Option<String>,
    sessions: Vec<SessionRow>,
    totp_enrolled: bool,
    passkeys: Vec<PasskeyRow>,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

async fn account_page(
    state: &AppState,
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
    notice: Option<&'static str>,
    problem: Option<AppError>,
) -> Response {
    let loaded = async {
        let me = app::account::me(ctx, state).await?;
        let live = app::account::sessions(ctx).await?;
        let keys = app::account::passkeys(ctx).await?;
        Ok::<_, AppError>((me, live, keys, Dates::of(ctx).await?))
    }
    .await;
    let (me, live, keys, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return failure_page(error, signed_in(&ctx.actor, csrf)),
    };
    let sessions = live
        .items
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            agent: s.user_agent.filter(|a| !a.is_empty()).unwrap_or_else(|| "unknown".to_owned()),
            ip: s.ip.unwrap_or_default(),
            last_seen: dates.moment(s.last_seen_at),
            current: s.current,
        })
        .collect();
    let passkeys = keys
        .items
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id.to_string(),
            name: p.name,
            added: dates.moment(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "never".to_owned(), |t| dates.moment(t)),
        })
        .collect();
    let problem = problem.map(Problem::from);
    let status = problem.as_ref().map_or(StatusCode::OK, |p| p.status);
    let problem = problem.map(|p| p.message);
    let page = AccountPage {
        signed_in: signed_in(&ctx.actor, csrf),
        notice,
        problem,
        sessions,
        totp_enrolled: me.totp_enrolled,
        passkeys,
    };
    render(&page, status)
}

/// After a form on the account page: on to `to` when it worked, else the page again saying why.
async fn account_done(
    done: Result<(), AppError>,
    to: &str,
    state: &AppState,
    ctx: &Ctx,
    csrf: &Option<Extension<BrowserSession>>,
) -> Response {
    match done {
        Ok(()) => Redirect::to(to).into_response(),
        Err(error) => account_page(state, ctx, csrf, None, Some(error)).await,
    }
}

pub async fn account(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    Query(query): Query<AccountQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("totp") => Some("Your authenticator app is set up: sign in with its codes from now on."),
        Some("password") => Some("Your password is changed; every other session has ended."),
        Some("session") => Some("That session has ended."),
        Some("passkey") => Some("Your passkey is added: use it to sign in."),
        Some("passkey-removed") => Some("That passkey is removed."),
        _ => None,
    };
    account_page(&state, &ctx, &csrf, notice, None).await
}

pub async fn end_session(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PathId(id): PathId<SessionId>,
) -> Response {
    let done = app::account::end_session(&ctx, id).await;
    account_done(done, "/account?done=session", &state, &ctx, &csrf).await
}

pub async fn end_all_sessions(ctx: Ctx) -> Response {
    match app::account::end_all_sessions(&ctx).await {
        Ok(()) => cookie::signed_out(Redirect::to("/sign-in").into_response()),
        Err(error) => failure_page(error, None),
    }
}

pub async fn remove_passkey(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PathId(id): PathId<PasskeyId>,
    _: Confirmed<RemovePasskey>,
) -> Response {
    let done = app::account::remove_passkey(&ctx, id).await;
    account_done(done, "/account?done=passkey-removed", &state, &ctx, &csrf).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<PasswordForm>,
) -> Response {
    let done = app::account::change_password(&ctx, &state, &form.current_password, &form.new_password).await;
    account_done(done, "/account?done=password", &state, &ctx, &csrf).await
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage<'a> {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    qr_svg: String,
    /// Rendered with `expose()` into the page and nowhere else.
    secret: &'a SecretText,
}

#[derive(Deserialize)]
pub struct TotpForm {
    current_password: Option<String>,
}

pub async fn enrol_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<TotpForm>,
) -> Response {
    let password = form.current_password.unwrap_or_default();
    let started = match app::account::enrol_totp(&ctx, &state, &password).await {
        Ok(started) => started,
        Err(error) => return account_page(&state, &ctx, &csrf, None, Some(error)).await,
    };
    let qr_svg = match qrcode::QrCode::new(started.otpauth_uri.expose().as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(224, 224).build(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    // The XML declaration has no place inside HTML.
    let qr_svg = qr_svg.split_once("?>").map_or(qr_svg.as_str(), |(_, svg)| svg).to_owned();
    let page =
        TotpPage { signed_in: signed_in(&ctx.actor, &csrf), problem: None, qr_svg, secret: &started.secret };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct TotpConfirmForm {
    code: String,
}

pub async fn confirm_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<TotpConfirmForm>,
) -> Response {
    let done = app::account::confirm_totp(&ctx, &state, &form.code).await;
    account_done(done, "/account?done=totp", &state, &ctx, &csrf).await
}
