//! Passkey (WebAuthn) ceremonies. The relying party is the public URL's host; ceremony
//! states and credential records travel to the store as JSON, which the store seals
//! (credentials) or keeps only until the ceremony ends (states).

use ringfence_core::ids::UserId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::app::AppError;
use crate::state::HttpSettings;

/// What the browser is sent to run a ceremony, and the state the server keeps meanwhile.
pub(crate) struct Ceremony {
    pub(crate) options: Value,
    pub(crate) state: String,
}

pub(crate) struct RelyingParty(Webauthn);

/// The answer to a passkey that does not verify: one message whatever the cause.
pub(crate) fn refused() -> AppError {
    AppError::unauthenticated("passkey_refused", "the passkey could not be verified")
}

pub(crate) fn already_registered() -> AppError {
    AppError::conflict("passkey_exists", "this passkey is already registered")
}

fn to_json<T: Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(AppError::internal)
}

fn from_json<T: DeserializeOwned>(text: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(text).map_err(AppError::internal)
}

/// A stored credential record.
pub(crate) fn decode(record: &[u8]) -> Result<Passkey, AppError> {
    from_json(record)
}

pub(crate) fn encode(passkey: &Passkey) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec(passkey).map_err(AppError::internal)
}

fn options(value: &impl Serialize) -> Result<Value, AppError> {
    serde_json::to_value(value).map_err(AppError::internal)
}

fn verification_failed(error: WebauthnError) -> AppError {
    tracing::info!(%error, "a passkey did not verify");
    refused()
}

impl RelyingParty {
    /// The relying party of the site at `settings.public_url`.
    pub(crate) fn of(settings: &HttpSettings) -> Result<Self, AppError> {
        let origin = Url::parse(&settings.public_url).map_err(AppError::internal)?;
        let id = origin.host_str().ok_or_else(|| AppError::internal(WebauthnError::Configuration))?;
        let built = WebauthnBuilder::new(id, &origin).and_then(|b| b.rp_name("Ringfence").build());
        built.map(Self).map_err(AppError::internal)
    }

    /// Starts adding a passkey for `user`, excluding the credentials it already has.
    /// Discoverable credentials are preferred, so the passkey can also sign in alone.
    pub(crate) fn start_registration(
        &self,
        user: UserId,
        email: &str,
        display_name: &str,
        existing: &[Passkey],
    ) -> Result<Ceremony, AppError> {
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
        let (challenge, state) = self
            .0
            .start_passkey_registration(user.as_uuid(), email, display_name, Some(exclude))
            .map_err(AppError::internal)?;
        let mut options = options(&challenge)?;
        options["publicKey"]["authenticatorSelection"]["residentKey"] = Value::from("preferred");
        Ok(Ceremony { options, state: to_json(&state)? })
    }

    pub(crate) fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &str,
    ) -> Result<Passkey, AppError> {
        let state: PasskeyRegistration = from_json(state.as_bytes())?;
        self.0.finish_passkey_registration(credential, &state).map_err(verification_failed)
    }

    /// Starts a second-factor check against the user's passkeys.
    pub(crate) fn start_check(&self, passkeys: &[Passkey]) -> Result<Ceremony, AppError> {
        let (challenge, state) = self.0.start_passkey_authentication(passkeys).map_err(AppError::internal)?;
        Ok(Ceremony { options: options(&challenge)?, state: to_json(&state)? })
    }

    pub(crate) fn finish_check(
        &self,
        credential: &PublicKeyCredential,
        state: &str,
    ) -> Result<AuthenticationResult, AppError> {
        let state: PasskeyAuthentication = from_json(state.as_bytes())?;
        self.0.finish_passkey_authentication(credential, &state).map_err(verification_failed)
    }

    /// Starts a passwordless sign-in: the browser offers whichever passkey of this site
    /// the person picks, in a modal prompt rather than the autofill one.
    pub(crate) fn start_passwordless(&self) -> Result<Ceremony, AppError> {
        let (challenge, state) = self.0.start_discoverable_authentication().map_err(AppError::internal)?;
        let mut options = options(&challenge)?;
        if let Some(fields) = options.as_object_mut() {
            fields.remove("mediation");
        }
        Ok(Ceremony { options, state: to_json(&state)? })
    }

    /// Whose passkey the browser answered with, and which one.
    pub(crate) fn identify<'a>(&self, credential: &'a PublicKeyCredential) -> Option<(UserId, &'a [u8])> {
        let (user, credential_id) = self.0.identify_discoverable_authentication(credential).ok()?;
        Some((user.to_string().parse().ok()?, credential_id))
    }

    pub(crate) fn finish_passwordless(
        &self,
        credential: &PublicKeyCredential,
        state: &str,
        passkey: &Passkey,
    ) -> Result<AuthenticationResult, AppError> {
        let state: DiscoverableAuthentication = from_json(state.as_bytes())?;
        self.0.finish_discoverable_authentication_v2(credential, state, passkey).map_err(verification_failed)
    }
}
