//! The step that asks before a page destroys or withdraws something. A route declared
//! [`after_asking`](crate::access::after_asking) takes [`Confirmed`] last: a post without
//! `confirmed=yes` is answered with a page that says what will follow and posts the same
//! form again, confirmed; nothing changes until then.

use std::marker::PhantomData;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use ringfence_store::firm::access::{Action, Dispose, Hold};
use serde::de::DeserializeOwned;

use super::*;
use crate::access::Confirmation;
use crate::app::access::Target;

/// Words that ask before a page destroys or withdraws something, as a type: the route's
/// declaration (`after_asking`) and its handler's [`Confirmed`] name the same one.
pub trait Asks {
    const CONFIRMATION: Confirmation;
    /// What the question is about, checked before it is asked.
    type About: About;
}

/// What a confirmation is about, checked before the page asks: a matter, or a record of
/// one, passes the ring-fence first (refused as not found, and recorded, like any access);
/// anything else was settled by the route's own policy.
pub trait About {
    fn may(parts: &mut Parts, ctx: &Ctx) -> impl Future<Output = Result<(), AppError>> + Send;
}

impl About for () {
    async fn may(_: &mut Parts, _: &Ctx) -> Result<(), AppError> {
        Ok(())
    }
}

impl<A: Action, I: Target> About for On<A, I> {
    async fn may(parts: &mut Parts, ctx: &Ctx) -> Result<(), AppError> {
        let on = On::<A, I>::from_request_parts(parts, &()).await.map_err(|_| AppError::NotFound)?;
        app::access::may(ctx, on).await
    }
}

/// A form field the page shows beside its question: what is about to go ("exhibit-a.pdf").
const SUBJECT_FIELD: &str = "subject";
/// A form field naming the page to go back to when the person thinks better of it.
const BACK_FIELD: &str = "back";
const CONFIRMED_FIELD: &str = "confirmed";

/// What the grace period means, said once for everything that goes to Recently deleted.
macro_rules! restorable {
    ($what:literal) => {
        concat!(
            $what,
            " moves to Recently deleted: it can be restored from there until the firm's grace \
             period ends, when it is purged for good."
        )
    };
}

macro_rules! asks {
    ($name:ident about $about:ty: $question:expr, $consequence:expr, $button:expr) => {
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Asks for $name {
            const CONFIRMATION: Confirmation =
                Confirmation { question: $question, consequence: $consequence, button: $button };
            type About = $about;
        }
    };
}

asks!(
    DeleteDocument about On<WriteContent, DocumentId>: "Delete this document?",
    restorable!("It, with every version,"),
    "Delete the document"
);
asks!(
    DeleteNote about On<WriteContent, NoteId>: "Delete this note?",
    restorable!("It, with its earlier versions,"),
    "Delete the note"
);
asks!(
    RemoveMember about On<ManageMembers, MatterId>: "Take away this person's role on the matter?",
    "They no longer see the matter, its documents or its notes, unless their firm role lets them. \
     The change is on the matter's record.",
    "Take the role away"
);
asks!(
    LiftWall about On<ManageWalls, MatterId>: "Lift this wall?",
    "The person is no longer screened from the matter: a lead can give them a role on it again.",
    "Lift the wall"
);
asks!(
    LiftMatterHold about On<Hold, MatterId>: "Lift this legal hold?",
    HOLD_LIFTED,
    "Lift the hold"
);
asks!(
    LiftClientHold about (): "Lift this legal hold?",
    HOLD_LIFTED,
    "Lift the hold"
);

const HOLD_LIFTED: &str =
    "What it held can be deleted again, and retention disposes of it when its time comes.";
asks!(
    DisposeMatter about On<Dispose, MatterId>: "Dispose of this matter now?",
    restorable!("Its retention has run out. It, with its notes, documents and files,"),
    "Dispose of the matter"
);
asks!(
    EraseSubject about (): "Answer this erasure request?",
    "Unless the firm must keep records of a matter held on them, the person's name is replaced \
     and their email address, phone number, address and identity number are removed. This cannot \
     be undone.",
    "Erase"
);
asks!(
    RemovePasskey about (): "Remove this passkey?",
    "You can no longer sign in with it. Make sure you have another way to sign in first.",
    "Remove the passkey"
);
asks!(
    DisableUser about (): "Disable this account?",
    "The person is signed out everywhere at once and cannot sign in until an administrator \
     enables the account again. Nothing they wrote is lost.",
    "Disable the account"
);
asks!(
    WithdrawInvitation about (): "Withdraw this invitation?",
    "The link already sent stops working and the account is disabled. Enabling it and sending a \
     new invitation brings the person back.",
    "Withdraw the invitation"
);

/// A form with nothing to read but its confirmation.
#[derive(Deserialize)]
pub struct NoFields {}

/// A confirmed post of a form `F`, in the words of `C`: taken last by the handler of a route
/// declared `after_asking(…, C)`. An unconfirmed post never reaches the handler: it is
/// answered with the page that asks.
pub struct Confirmed<C, F = NoFields>(pub F, pub PhantomData<C>);

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    signed_in: Option<SignedInUser>,
    question: &'static str,
    consequence: &'static str,
    button: &'static str,
    subject: Option<String>,
    action: String,
    /// The form as posted, to post again (its CSRF token comes from the session).
    fields: Vec<(String, String)>,
    back: String,
}

impl<S, C, F> FromRequest<S> for Confirmed<C, F>
where
    S: Send + Sync,
    C: Asks,
    F: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, cookie::MAX_FORM_BYTES)
            .await
            .map_err(|_| unreadable_form(StatusCode::PAYLOAD_TOO_LARGE))?;
        let form = fields(&bytes);
        // Echoed into the page that asks: a form carrying control characters is refused.
        let hostile = |text: &str| text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        if form.iter().any(|(name, value)| hostile(name) || hostile(value)) {
            return Err(unreadable_form(StatusCode::BAD_REQUEST));
        }
        if field(&form, CONFIRMED_FIELD) != "yes" {
            let mut parts = parts;
            let ctx =
                Ctx::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
            let session = parts.extensions.get::<BrowserSession>().cloned().map(Extension);
            if let Err(refused) = C::About::may(&mut parts, &ctx).await {
                return Err(failure_page(refused, signed_in(&ctx.actor, &session)));
            }
            return Err(ask(C::CONFIRMATION, &parts, &ctx.actor, &session, form));
        }
        let PageForm(value) =
            PageForm::<F>::from_request(Request::from_parts(parts, Body::from(bytes)), state).await?;
        Ok(Self(value, PhantomData))
    }
}

/// The page that asks, posting the same form again with `confirmed=yes`.
fn ask(
    confirmation: Confirmation,
    parts: &Parts,
    actor: &Actor,
    session: &Option<Extension<BrowserSession>>,
    form: Vec<(String, String)>,
) -> Response {
    let subject = Some(field(&form, SUBJECT_FIELD))
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty());
    let back = local_path(&field(&form, BACK_FIELD)).unwrap_or("/home").to_owned();
    let page = ConfirmPage {
        signed_in: signed_in(actor, session),
        question: confirmation.question,
        consequence: confirmation.consequence,
        button: confirmation.button,
        subject,
        action: parts.uri.path().to_owned(),
        fields: form.into_iter().filter(|(name, _)| name != "_csrf" && name != CONFIRMED_FIELD).collect(),
        back,
    };
    render(&page, StatusCode::OK)
}

/// A path on this site, never another's: "/matters/…", not "//evil.example" or "https:…".
fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    local.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn going_back_stays_on_this_site() {
        assert_eq!(local_path("/matters/1#documents"), Some("/matters/1#documents"));
        for elsewhere in
            ["", "//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x", "/a\nb"]
        {
            assert_eq!(local_path(elsewhere), None, "{elsewhere:?}");
        }
    }
}
