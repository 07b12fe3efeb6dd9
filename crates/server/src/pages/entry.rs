//! Getting in: signing in with a second factor, signing out, accepting an invitation.

use super::*;
use crate::app::PublicCtx;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    email: String,
}

pub async fn sign_in_page() -> Response {
    render(&SignInPage { signed_in: None, problem: None, email: String::new() }, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    challenge_id: String,
    emailed: bool,
    /// The factors answered with a typed code: (value, label).
    factors: Vec<(&'static str, &'static str)>,
    passkey: bool,
}

impl CodePage {
    fn new(challenge_id: String, factors: &[SecondFactor], problem: Option<String>) -> Self {
        let codes = factors
            .iter()
            .filter_map(|f| match f {
                SecondFactor::Email => Some(("email", "Code from the email")),
                SecondFactor::Totp => Some(("totp", "Code from your authenticator app")),
                SecondFactor::Passkey => None,
            })
            .collect();
        Self {
            signed_in: None,
            problem,
            challenge_id,
            emailed: false,
            factors: codes,
            passkey: factors.contains(&SecondFactor::Passkey),
        }
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<SignInForm>,
) -> Response {
    if !same_site(&headers) {
        return error_page(&ApiError::forbidden("cross-site sign-in"), None);
    }
    let request =
        LoginRequest { email: form.email.clone(), password: form.password, totp_code: None, cookie: false };
    match sign_in::start_sign_in(&state, &client, &request).await {
        Ok(started) => {
            let emailed = started.factors.contains(&SecondFactor::Email);
            let page = CodePage { emailed, ..CodePage::new(started.challenge_id, &started.factors, None) };
            render(&page, StatusCode::OK)
        }
        Err(error) => {
            let page =
                SignInPage { signed_in: None, problem: Some(error.message.clone()), email: form.email };
            render(&page, error.status)
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    challenge_id: String,
    factor: SecondFactor,
    code: String,
}

pub async fn sign_in_code(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> Response {
    if !same_site(&headers) {
        return error_page(&ApiError::forbidden("cross-site sign-in"), None);
    }
    let request = VerifyRequest {
        challenge_id: form.challenge_id.clone(),
        factor: form.factor,
        code: Some(form.code),
        credential: None,
        cookie: true,
    };
    match sign_in::finish_sign_in(&state, &client, &request).await {
        Ok(signed_in) => {
            let mut response = Redirect::to("/home").into_response();
            if let Some(value) =
                cookie::set_session(&signed_in.scoped, state.settings.session_limits.absolute)
            {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) if error.code == "challenge_expired" => {
            let page =
                SignInPage { signed_in: None, problem: Some(error.message.clone()), email: String::new() };
            render(&page, error.status)
        }
        Err(error) => {
            let page = CodePage::new(form.challenge_id, &[form.factor], Some(error.message.clone()));
            render(&page, error.status)
        }
    }
}

pub async fn sign_out(ctx: Ctx) -> Response {
    match app::account::sign_out(&ctx).await {
        Ok(()) => me::signed_out(Redirect::to("/sign-in").into_response()),
        Err(error) => failure_page(error, None),
    }
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    token: String,
}

pub async fn invite_page() -> Response {
    render(&InvitePage { signed_in: None, problem: None, token: String::new() }, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct InviteForm {
    token: String,
    password: String,
}

pub async fn accept_invite(
    ctx: PublicCtx,
    headers: HeaderMap,
    PageForm(form): PageForm<InviteForm>,
) -> Response {
    if !same_site(&headers) {
        return error_page(&ApiError::forbidden("cross-site form"), None);
    }
    match app::sign_in::accept_invitation(&ctx, &form.token, &form.password).await {
        Ok(()) => render(
            &MessagePage {
                signed_in: None,
                heading: "Password set",
                message: "Your password is set. Sign in with your email address, your password and a second factor.",
                link: "/sign-in",
                link_text: "Sign in",
            },
            StatusCode::OK,
        ),
        Err(error) => {
            let error = ApiError::from(error);
            render(
                &InvitePage { signed_in: None, problem: Some(error.message), token: form.token },
                error.status,
            )
        }
    }
}
