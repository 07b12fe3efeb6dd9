//! Getting in: signing in with a second factor, signing out, accepting an invitation.

use ringfence_crypto::secret::SecretText;

use super::*;
use crate::app::PublicCtx;
use crate::app::sign_in::recovery::ResetAnswer;
use crate::app::sign_in::{ChallengeId, SecondFactorAnswer, SignInInput, SignedIn, Started};

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
    /// Mail is written to the data directory's outbox folder, not sent.
    outbox: bool,
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
            outbox: false,
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

pub async fn sign_in(ctx: PublicCtx, headers: HeaderMap, PageForm(form): PageForm<SignInForm>) -> Response {
    if !same_site(&headers) {
        return failure_page(AppError::Forbidden("cross-site sign-in"), None);
    }
    let started = match SignInInput::parse(&form.email, &form.password, None) {
        Ok(input) => app::sign_in::start(&ctx, &input).await,
        Err(error) => Err(error),
    };
    match started {
        Ok(Started::Challenge(started)) => {
            let emailed = started.factors.contains(&SecondFactor::Email);
            let outbox = emailed && ctx.state.mailer.is_outbox();
            let page =
                CodePage { emailed, outbox, ..CodePage::new(started.challenge_id, &started.factors, None) };
            render(&page, StatusCode::OK)
        }
        // Only a sign-in carrying an authenticator code comes to a session at once.
        Ok(Started::SignedIn(signed_in)) => signed_in_page(&ctx, &signed_in),
        Err(error) => {
            let Failure { status, message, .. } = failure(error);
            render(&SignInPage { signed_in: None, problem: Some(message), email: form.email }, status)
        }
    }
}

/// On to the home page with the new session's cookie.
fn signed_in_page(ctx: &PublicCtx, signed_in: &SignedIn) -> Response {
    let mut response = Redirect::to("/home").into_response();
    let lifetime = ctx.state.settings.session_limits.absolute;
    if let Some(value) = cookie::set_session(signed_in.scoped.expose(), lifetime) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub struct CodeForm {
    challenge_id: String,
    factor: SecondFactor,
    code: String,
}

pub async fn sign_in_code(
    ctx: PublicCtx,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> Response {
    if !same_site(&headers) {
        return failure_page(AppError::Forbidden("cross-site sign-in"), None);
    }
    let answer = SecondFactorAnswer {
        challenge: ChallengeId::parse(&form.challenge_id),
        factor: form.factor,
        code: Some(SecretText::new(zeroize::Zeroizing::new(form.code))),
        credential: None,
    };
    match app::sign_in::verify(&ctx, &answer).await {
        Ok(signed_in) => signed_in_page(&ctx, &signed_in),
        Err(error) => {
            let dead = matches!(error, AppError::Unauthenticated { code: "challenge_expired", .. });
            let Failure { status, message, .. } = failure(error);
            if dead {
                render(&SignInPage { signed_in: None, problem: Some(message), email: String::new() }, status)
            } else {
                render(&CodePage::new(form.challenge_id, &[form.factor], Some(message)), status)
            }
        }
    }
}

pub async fn sign_out(ctx: Ctx) -> Response {
    match app::account::sign_out(&ctx).await {
        Ok(()) => cookie::signed_out(Redirect::to("/sign-in").into_response()),
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
        return failure_page(AppError::Forbidden("cross-site form"), None);
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
            let Failure { status, message, .. } = failure(error);
            render(&InvitePage { signed_in: None, problem: Some(message), token: form.token }, status)
        }
    }
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    email: String,
    /// The address a link was asked for, once it was.
    sent_to: Option<String>,
    /// Mail is written to the data directory's outbox folder, not sent.
    outbox: bool,
}

pub async fn forgot_password_page() -> Response {
    let page =
        ForgotPage { signed_in: None, problem: None, email: String::new(), sent_to: None, outbox: false };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot_password(
    ctx: PublicCtx,
    headers: HeaderMap,
    PageForm(form): PageForm<ForgotForm>,
) -> Response {
    if !same_site(&headers) {
        return failure_page(AppError::Forbidden("cross-site form"), None);
    }
    let (problem, sent_to, status) = match app::sign_in::recovery::request(&ctx, &form.email).await {
        Ok(()) => (None, Some(form.email.trim().to_owned()), StatusCode::OK),
        Err(error) => {
            let Failure { status, message, .. } = failure(error);
            (Some(message), None, status)
        }
    };
    let outbox = ctx.state.mailer.is_outbox();
    render(&ForgotPage { signed_in: None, problem, email: form.email, sent_to, outbox }, status)
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    signed_in: Option<SignedInUser>,
    problem: Option<String>,
    token: String,
}

pub async fn reset_page() -> Response {
    render(&ResetPage { signed_in: None, problem: None, token: String::new() }, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// A reset link completed with an authenticator code, or with nothing more for a link an
/// administrator sent to an account with no second factor (a passkey answers by the API).
pub async fn reset_password(
    ctx: PublicCtx,
    headers: HeaderMap,
    PageForm(form): PageForm<ResetForm>,
) -> Response {
    if !same_site(&headers) {
        return failure_page(AppError::Forbidden("cross-site form"), None);
    }
    let secret = |text: &str| SecretText::new(zeroize::Zeroizing::new(text.to_owned()));
    let code = form.code.trim();
    let answer = ResetAnswer {
        link: form.token.clone(),
        password: secret(&form.password),
        factor: (!code.is_empty()).then_some(SecondFactor::Totp),
        code: (!code.is_empty()).then(|| secret(code)),
        credential: None,
    };
    match app::sign_in::recovery::complete(&ctx, &answer).await {
        Ok(()) => render(
            &MessagePage {
                signed_in: None,
                heading: "Password set",
                message: "Your new password is set, and every session of yours is signed out. Sign in with it and your second factor.",
                link: "/sign-in",
                link_text: "Sign in",
            },
            StatusCode::OK,
        ),
        Err(error) => {
            let Failure { status, message, .. } = failure(error);
            render(&ResetPage { signed_in: None, problem: Some(message), token: form.token }, status)
        }
    }
}
