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
    /// Too many attempts; try again after this many seconds.
    #[error("too many attempts")]
    Throttled { retry_after: i64 },
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
    /// A refusal of the sign-in machinery shared with the JSON API (throttles, password
    /// rules, passkey ceremonies), kept in the words, status and `Retry-After` it was
    /// given in.
    #[error("{}", .0.message)]
    Answered(crate::error::ApiError),
}

impl From<crate::error::ApiError> for AppError {
    fn from(error: crate::error::ApiError) -> Self {
        Self::Answered(error)
    }
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

    pub fn conflict(code: &'static str, reason: impl Into<String>) -> Self {
        Self::Conflict { code, reason: reason.into() }
    }
}
