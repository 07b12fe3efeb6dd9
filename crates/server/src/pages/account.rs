//! One's own account: sessions, the authenticator app, the password.

use super::*;

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
    state: State<AppState>,
    actor: &Actor,
    csrf: &Option<Extension<BrowserSession>>,
    notice: Option<&'static str>,
    problem: Option<&ApiError>,
) -> Response {
    let loaded = async {
        let Json(me) = me::me(state.clone(), actor.clone()).await?;
        let Json(live) = me::list_sessions(state, actor.clone()).await?;
        let Json(keys) = api_passkeys::list(actor.clone()).await?;
        Ok::<_, ApiError>((me, live, keys, Dates::of(actor).await?))
    }
    .await;
    let (me, live, keys, dates) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&error, signed_in(actor, csrf)),
    };
    let sessions = live
        .items
        .iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            agent: s.user_agent.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| "unknown".to_owned()),
            ip: s.ip.clone().unwrap_or_default(),
            last_seen: dates.minutes(&serde_json::Value::from(s.last_seen_at.as_str())),
            current: s.current,
        })
        .collect();
    let passkeys = rows(&keys, |p| PasskeyRow {
        id: text(&p["id"]),
        name: text(&p["name"]),
        added: dates.minutes(&p["created_at"]),
        last_used: Some(dates.minutes(&p["last_used_at"]))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "never".to_owned()),
    });
    let page = AccountPage {
        signed_in: signed_in(actor, csrf),
        notice,
        problem: problem.map(|e| e.message.clone()),
        sessions,
        totp_enrolled: me.totp_enrolled,
        passkeys,
    };
    render(&page, problem.map_or(StatusCode::OK, |e| e.status))
}

pub async fn account(
    state: State<AppState>,
    actor: Actor,
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
    account_page(state, &actor, &csrf, notice, None).await
}

pub async fn end_session(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Path(id): Path<String>,
) -> Response {
    match me::end_session(state.clone(), actor.clone(), client, Path(id)).await {
        Ok(_) => Redirect::to("/account?done=session").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}

pub async fn end_all_sessions(state: State<AppState>, actor: Actor, client: Client) -> Response {
    match me::end_all_sessions(state, actor, client).await {
        Ok(_) => {
            let mut response = Redirect::to("/sign-in").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie::clear_session());
            response
        }
        Err(error) => error_page(&error, None),
    }
}

pub async fn remove_passkey(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    Path(id): Path<String>,
) -> Response {
    match api_passkeys::remove(actor.clone(), client, Path(id)).await {
        Ok(_) => Redirect::to("/account?done=passkey-removed").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<PasswordForm>,
) -> Response {
    let body = ChangePassword { current_password: form.current_password, new_password: form.new_password };
    match me::change_password(state.clone(), actor.clone(), client, ApiJson(body)).await {
        Ok(_) => Redirect::to("/account?done=password").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    qr_svg: String,
    secret: String,
}

#[derive(Deserialize)]
pub struct TotpForm {
    current_password: Option<String>,
}

pub async fn enrol_totp(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<TotpForm>,
) -> Response {
    let body = me::EnrolTotp { current_password: form.current_password.unwrap_or_default() };
    let started = me::enrol_totp(state.clone(), actor.clone(), client, ApiJson(body)).await;
    let Json(started) = match started {
        Ok(started) => started,
        Err(error) => return account_page(state, &actor, &csrf, None, Some(&error)).await,
    };
    let uri = started["otpauth_uri"].as_str().unwrap_or_default();
    let qr_svg = match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(224, 224).build(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    // The XML declaration has no place inside HTML.
    let qr_svg = qr_svg.split_once("?>").map_or(qr_svg.as_str(), |(_, svg)| svg).to_owned();
    let page = TotpPage {
        signed_in: signed_in(&actor, &csrf),
        problem: None,
        qr_svg,
        secret: started["secret"].as_str().unwrap_or_default().to_owned(),
    };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct TotpConfirmForm {
    code: String,
}

pub async fn confirm_totp(
    state: State<AppState>,
    actor: Actor,
    client: Client,
    csrf: Option<Extension<BrowserSession>>,
    PageForm(form): PageForm<TotpConfirmForm>,
) -> Response {
    match me::confirm_totp(state.clone(), actor.clone(), client, ApiJson(ConfirmTotp { code: form.code }))
        .await
    {
        Ok(_) => Redirect::to("/account?done=totp").into_response(),
        Err(error) => account_page(state, &actor, &csrf, None, Some(&error)).await,
    }
}
