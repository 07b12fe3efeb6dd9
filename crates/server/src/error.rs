//! The API's error contract: `{"error": {"code", "message"}}` with a fitting status.
//! Internal causes are logged with the request id; the client gets only the public text.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for `Retry-After`, on 429s.
    pub retry_after: Option<i64>,
    /// The refusal is in the audit log already (see [`crate::refusals`]).
    pub recorded: bool,
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail<'a> {
    /// A stable, machine-readable code such as `invalid_input`, `not_signed_in`, `csrf`,
    /// `forbidden`, `not_found`, `conflict` or `throttled`.
    code: &'a str,
    /// What went wrong, for a person; never an internal cause.
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, recorded: false }
    }

    /// Marks a refusal its handler has recorded, so it is not recorded twice.
    pub fn recorded(self) -> Self {
        Self { recorded: true, ..self }
    }

    pub fn with_retry_after(self, seconds: i64) -> Self {
        Self { retry_after: Some(seconds), ..self }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// An internal failure: log the cause with the request's span, show nothing of it.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; quote the X-Request-Id header when reporting it",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: &self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = http::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(http::header::RETRY_AFTER, value);
        }
        if self.recorded {
            response.extensions_mut().insert(crate::refusals::Recorded);
        }
        response
    }
}

/// Prints an error with its whole chain of sources, for the logs only.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A JSON request body whose rejections follow the error contract (400 naming the problem,
/// 415 for a missing content type, 413 for an oversized body).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let request = axum::extract::Request::from_parts(parts.clone(), body);
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large")
            } else {
                ApiError::invalid("the request body could not be read")
            }
        })?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::invalid("text may not contain NUL characters"));
        }
        let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// Whether a JSON text holds a `\u0000` escape (a raw NUL is not valid JSON at all). No
/// field of the API takes one, and PostgreSQL cannot store one.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut bytes = json.iter().enumerate();
    while let Some((i, &b)) = bytes.next() {
        if b == b'\\' {
            if json.get(i + 1..i + 6) == Some(b"u0000".as_slice()) {
                return true;
            }
            bytes.next();
        }
    }
    false
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        // serde names the offending field ("missing field `email`", "unknown variant …").
        JsonRejection::JsonDataError(err) => ApiError::invalid(err.body_text()),
        JsonRejection::JsonSyntaxError(_) => ApiError::invalid("the request body is not valid JSON"),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large")
        }
        _ => ApiError::invalid("the request body could not be read"),
    }
}

pub async fn unknown_route(request: axum::extract::Request) -> Response {
    crate::refusals::unmatched(request, ApiError::not_found()).await
}

pub async fn method_not_allowed(request: axum::extract::Request) -> Response {
    let answer = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed on this path",
    );
    crate::refusals::unmatched(request, answer).await
}

impl From<ringfence_store::StoreError> for ApiError {
    fn from(err: ringfence_store::StoreError) -> Self {
        use ringfence_store::StoreError;
        match err {
            StoreError::EmailTaken(_) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "email: a user with this email address already exists",
            ),
            StoreError::SlugTaken(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "slug: already taken")
            }
            StoreError::FirmRestoring => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "firm_restoring",
                "the firm is being restored from a backup; it opens again when the restore ends",
            )
            .with_retry_after(60),
            StoreError::FirmSuspended => ApiError::new(
                StatusCode::FORBIDDEN,
                "firm_suspended",
                "the firm's service is suspended by its hosting provider: nobody can sign in until it is resumed",
            ),
            StoreError::OperatorExists => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "email: an operator with this address exists")
            }
            other if other.is_refused_value() => {
                tracing::info!(error = %ErrorChain(&other), "a value was refused by the database");
                ApiError::invalid(
                    "a value could not be stored as given: leave out control characters and keep it shorter",
                )
            }
            other => match other.fault() {
                Some(fault) => ApiError::storage(fault, &other),
                None => ApiError::internal(&other),
            },
        }
    }
}

impl ApiError {
    /// A storage fault, answered at once with what the caller can do about it.
    fn storage(fault: ringfence_store::StorageFault, cause: &dyn std::error::Error) -> Self {
        use ringfence_store::StorageFault;
        tracing::error!(error = %ErrorChain(cause), ?fault, "storage fault");
        match fault {
            StorageFault::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "storage is unavailable for the moment; try again shortly",
            )
            .with_retry_after(5),
            StorageFault::Full => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "storage is full; nothing new can be saved until the operator frees space",
            ),
        }
    }
}

impl From<ringfence_mail::MailError> for ApiError {
    fn from(err: ringfence_mail::MailError) -> Self {
        ApiError::internal(&err)
    }
}

/// Query parameters whose rejections follow the error contract (400 naming the problem).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k.chars().chain(v.chars()).any(char::is_control))
        {
            return Err(ApiError::invalid("query: control characters are not allowed"));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_faults_are_answered_as_such() {
        // Which errors are faults is the store's to say (and tested there, a full disk too).
        let unavailable = ApiError::from(ringfence_store::StoreError::from(sqlx::Error::PoolTimedOut));
        assert_eq!(
            (unavailable.status, unavailable.code),
            (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
        );
        assert_eq!(unavailable.retry_after, Some(5));
        assert!(has_escaped_nul(br#"{"name": "a\u0000b"}"#));
        assert!(!has_escaped_nul(br#"{"name": "a\\u0000b"}"#));
        let other = ApiError::from(ringfence_store::StoreError::BlobMissing);
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
