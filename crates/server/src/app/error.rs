//! What a use case answers when it does not do what was asked, in the domain's words. The
//! JSON API and the pages each turn it into their own shape, once (`crate::edge`).

use ringfence_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Something sent is not acceptable: which field, and why (shown to the caller).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A field names something the ring-fence refused the caller, and the refusal is on the
    /// record: answered exactly as [`AppError::Invalid`], so a refusal and an absence read
    /// the same.
    #[error("{field}: {reason}")]
    RefusedInput { field: &'static str, reason: String },
    /// Nothing here the caller may see.
    #[error("not found")]
    NotFound,
    /// The ring-fence refused the caller, and the refusal is on the record: answered
    /// exactly as [`AppError::NotFound`], so a refusal and an absence read the same.
    #[error("not found")]
    Concealed,
    /// The caller's firm role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The data's state does not allow the change: a stable code and the reason.
    #[error("{reason}")]
    Conflict { code: &'static str, reason: String },
    /// What was asked for existed but is gone for good (deleted longer ago than the grace
    /// period, an export downloaded already or past its day): a stable code and the reason.
    #[error("{reason}")]
    Gone { code: &'static str, reason: String },
    /// The caller has not proved who they are (a wrong password or code, a dead sign-in, a
    /// passkey that does not verify): a stable code and the reason.
    #[error("{reason}")]
    Unauthenticated { code: &'static str, reason: String },
    /// The firm's policy leaves the caller no way to do this: a stable code and the reason.
    #[error("{reason}")]
    NotPermitted { code: &'static str, reason: &'static str },
    /// Too many attempts: a stable code, the reason, and how many seconds to wait.
    #[error("{reason}")]
    Throttled { code: &'static str, reason: String, retry_after: i64 },
    /// A service the use case needs cannot answer for now: a stable code and the reason.
    #[error("{reason}")]
    Unavailable { code: &'static str, reason: String },
    /// The store failed (or refused a value), as the store says.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Mail could not be sent.
    #[error(transparent)]
    Mail(#[from] ringfence_mail::MailError),
    /// Something failed that the caller cannot mend (the cause goes to the log).
    #[error(transparent)]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid { field, reason: reason.into() }
    }

    pub fn unavailable(code: &'static str, reason: impl Into<String>) -> Self {
        Self::Unavailable { code, reason: reason.into() }
    }

    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(cause))
    }

    pub fn unauthenticated(code: &'static str, reason: impl Into<String>) -> Self {
        Self::Unauthenticated { code, reason: reason.into() }
    }

    pub fn conflict(code: &'static str, reason: impl Into<String>) -> Self {
        Self::Conflict { code, reason: reason.into() }
    }
}
