//! The HTTP error boundary: every failure leaves as `{"error": {"code", "message"}}` with one
//! status per code. Codes are stable, snake_case and documented in the README.

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::log::sequencer::AppendError;
use crate::log::store::{Index, StoreError};
use crate::log::tree::TreeError;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// What went wrong.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ErrorDetail<'a> {
    /// A stable, machine-readable snake_case code.
    pub code: &'a str,
    /// A human-readable explanation.
    pub message: &'a str,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Sets `Retry-After` (seconds) on a 429 or 503.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 with this code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with this code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 422 `invalid_field`, naming the field.
    pub fn invalid_field(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True for a 500: the store holds something its invariants forbid (not a failed read,
    /// which is a 503). A listing reports such an entry apart and goes on.
    pub fn is_internal(&self) -> bool {
        self.status == StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The generic error for a bare status (unknown path, wrong method, ...).
    fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed on this resource")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "unsupported content type")
            }
            s if s.is_client_error() => ("bad_request", "bad request"),
            _ => ("internal", "internal error"),
        };
        Self::new(status, code, message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.code == "unauthorized" {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE
            || self.status == StatusCode::TOO_MANY_REQUESTS
        {
            res.insert_header((
                header::RETRY_AFTER,
                self.retry_after.unwrap_or(1).to_string(),
            ));
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store read failed");
        match e {
            StoreError::Backend { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the store cannot be read right now",
            ),
            StoreError::Corrupt(_) | StoreError::Format(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the store is inconsistent; the operator has been told",
            ),
        }
    }
}

impl From<TreeError> for ApiError {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Store(s) => s.into(),
            TreeError::OutOfRange(m) => Self::bad_request("invalid_range", m),
            TreeError::Tlog(m) => {
                tracing::error!(error = %m, "tree arithmetic failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        let message = e.to_string();
        match e {
            AppendError::TooLarge(_) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "entry_too_large", message)
            }
            AppendError::Conflict(Index::ParticipantKey) => Self::new(
                StatusCode::CONFLICT,
                "duplicate_key",
                "a participant with this public key is already registered",
            ),
            AppendError::Conflict(Index::Nonce) => Self::new(
                StatusCode::CONFLICT,
                "replayed",
                "this participant already used this nonce",
            ),
            AppendError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            AppendError::Overloaded => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
            }
            AppendError::Storage(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            AppendError::Stopped => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        }
    }
}

/// Middleware hook: gives every error response that is not already ours (unknown paths, wrong
/// methods, extractor failures) the JSON error body. A witness's 409 keeps the
/// `text/x.tlog.size` body c2sp.org/tlog-witness prescribes.
pub fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let ours = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v: &HeaderValue| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes() == b"text/x.tlog.size"
        });
    if ours {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let body = ApiError::from_status(status).error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}

/// Extractor errors for query strings.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_query", err.to_string()).into()
}

/// Extractor errors for path parameters.
pub fn path_error(
    err: actix_web::error::PathError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_path", err.to_string()).into()
}
