//! Sign-in attempts, reserved before they are checked.
//!
//! Every password or second-factor attempt is counted — against the source address and
//! against the account (see `ringfence_core::throttle`) — by one atomic statement that
//! also applies the rule, *before* Argon2id or the code comparison runs. Of any number of
//! parallel attempts, exactly as many are checked as the rule allows; the rest are refused
//! unchecked with `Retry-After` and are not counted (they guessed nothing). A password that
//! turns out right gives its reservation back.
//!
//! Password guesses and second-factor guesses are counted under separate account keys:
//! only someone who knows the password can make the latter, so a stranger flooding the
//! password step cannot stop the owner's authenticator app or passkey from working. Password
//! and code sent together while the password step is throttled are counted per account *and
//! address* (see `crate::app::sign_in::locked`), so a stranger elsewhere cannot stop those
//! either.

use ringfence_core::throttle::{self, FailureRecord, ThrottleRule};
use ringfence_core::user::Email;
use ringfence_store::ThrottleKey;
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::app::AppError;
use crate::client::Client;

/// What an attempt is about, which decides the account key it is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guess {
    /// A password.
    Password,
    /// A second factor: an emailed or TOTP code, or a passkey after the password.
    SecondFactor,
    /// Password and authenticator code together, while the password step is throttled:
    /// counted per account and source address.
    PasswordAndCode,
    /// A second factor given to a password reset link: counted per account, more strictly
    /// (only the mailbox is needed to give one).
    ResetFactor,
    /// An operator's password and authenticator code, given together.
    Operator,
}

impl Guess {
    fn key<'a>(self, email: &'a Email, ip: Option<&'a str>) -> ThrottleKey<'a> {
        match self {
            Guess::Password => ThrottleKey::Account(email.as_str()),
            Guess::SecondFactor => ThrottleKey::SecondFactor(email.as_str()),
            Guess::PasswordAndCode => {
                ThrottleKey::PasswordAndCode { account: email.as_str(), ip: ip.unwrap_or("") }
            }
            Guess::ResetFactor => ThrottleKey::ResetFactors(email.as_str()),
            Guess::Operator => ThrottleKey::Operator(email.as_str()),
        }
    }

    fn rule(self) -> &'static ThrottleRule {
        match self {
            Guess::ResetFactor => &throttle::RESET_FACTORS,
            Guess::Password | Guess::SecondFactor | Guess::PasswordAndCode | Guess::Operator => {
                &throttle::ACCOUNT
            }
        }
    }
}

pub(crate) fn throttled(wait: Duration) -> AppError {
    let seconds = wait.whole_seconds().max(1) + i64::from(wait.subsec_nanoseconds() > 0);
    AppError::Throttled {
        code: "throttled",
        reason: format!("too many failed attempts; retry in {seconds} s"),
        retry_after: seconds,
    }
}

/// The refusal of an attempt `rule` did not allow on `key`, with how long to wait.
async fn refusal(
    state: &AppState,
    key: ThrottleKey<'_>,
    rule: &ThrottleRule,
    now: OffsetDateTime,
) -> Result<AppError, AppError> {
    let record = state.storage.sign_in_failures(key).await?;
    // Whatever the record says by now, this attempt was refused: at least a second to wait.
    let wait = rule.check(record.as_ref(), now).err().unwrap_or(Duration::seconds(1));
    Ok(throttled(wait))
}

/// Reserves one attempt of `key` under `rule`, or the refusal to answer.
pub(crate) async fn reserve(
    state: &AppState,
    key: ThrottleKey<'_>,
    rule: &ThrottleRule,
    now: OffsetDateTime,
) -> Result<Result<FailureRecord, AppError>, AppError> {
    match state.storage.reserve_sign_in_attempt(key, rule, now).await? {
        Some(record) => Ok(Ok(record)),
        None => Ok(Err(refusal(state, key, rule, now).await?)),
    }
}

/// An attempt counted before it was checked.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    guess: Guess,
    email: Option<Email>,
    ip: Option<(String, FailureRecord)>,
    account: Option<FailureRecord>,
}

impl Attempt {
    /// Counts an attempt against the source address and, when one is named, the account;
    /// refused (and counted nowhere) when either is over its rule.
    pub(crate) async fn reserve(
        state: &AppState,
        guess: Guess,
        email: Option<&Email>,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<Self, AppError> {
        let ip = match &client.source {
            Some(ip) => match reserve(state, ThrottleKey::SourceIp(ip), &throttle::SOURCE_IP, now).await? {
                Ok(record) => Some((ip.clone(), record)),
                Err(refused) => return Err(refused),
            },
            None => None,
        };
        let attempt = Self { guess, email: email.cloned(), ip, account: None };
        let Some(email) = email else { return Ok(attempt) };
        match reserve(state, guess.key(email, client.ip.as_deref()), guess.rule(), now).await? {
            Ok(record) => Ok(Self { account: Some(record), ..attempt }),
            Err(refused) => {
                attempt.release_ip(state).await?;
                Err(refused)
            }
        }
    }

    /// True when this attempt was the one that locked the account (a count of one address's
    /// attempts locks no account).
    pub(crate) fn locked(&self) -> bool {
        self.guess != Guess::PasswordAndCode
            && self.account.is_some_and(|record| record.failures == self.guess.rule().lock_after)
    }

    async fn release_ip(&self, state: &AppState) -> Result<(), AppError> {
        if let Some((ip, record)) = &self.ip {
            state.storage.release_sign_in_attempt(ThrottleKey::SourceIp(ip), record).await?;
        }
        Ok(())
    }

    /// The attempt succeeded: it was no failure, so its reservation is given back.
    pub(crate) async fn release(self, state: &AppState) -> Result<(), AppError> {
        self.release_ip(state).await?;
        if let (Some(email), Some(record)) = (&self.email, &self.account) {
            let ip = self.ip.as_ref().map(|(ip, _)| ip.as_str());
            state.storage.release_sign_in_attempt(self.guess.key(email, ip), record).await?;
        }
        Ok(())
    }
}

/// Refuses, without counting, a request from an address that is over its rule (for steps
/// that guess nothing, such as asking for a passkey challenge).
pub(crate) async fn check_ip(state: &AppState, client: &Client, now: OffsetDateTime) -> Result<(), AppError> {
    let Some(ip) = &client.source else { return Ok(()) };
    let record = state.storage.sign_in_failures(ThrottleKey::SourceIp(ip)).await?;
    throttle::SOURCE_IP.check(record.as_ref(), now).map_err(throttled)
}

/// Counts one sign-in code mailed to `email`, or the refusal when the account has mailed as
/// many as [`throttle::CODE_MAILS`] allows. A right password mails a code, so this is what
/// keeps someone who knows the password from flooding the owner's mailbox.
pub(crate) async fn reserve_code_mail(
    state: &AppState,
    email: &Email,
    now: OffsetDateTime,
) -> Result<Result<(), AppError>, AppError> {
    let reserved = reserve(state, ThrottleKey::CodeMails(email.as_str()), &throttle::CODE_MAILS, now).await?;
    Ok(reserved.map(|_| ()).map_err(|refused| AppError::Throttled {
        code: "too_many_codes",
        reason: "too many sign-in codes were mailed to this account; try again later".to_owned(),
        retry_after: match refused {
            AppError::Throttled { retry_after, .. } => retry_after,
            _ => 1,
        },
    }))
}
