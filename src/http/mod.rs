//! The small HTTP kit the log's API, its pages and the witness server share (actix-web 4):
//! reading bounded request bodies before a deadline, strict JSON bodies, resources that answer
//! 405 with `Allow`, GET-and-HEAD routes, the connection watchdog ([`timeouts`]) and the JSON
//! error body every [`Error`] leaves as. It knows nothing of the log or of what is served.

pub mod timeouts;

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::web::{self, Bytes};
use actix_web::{guard, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde::Serialize;

use crate::error::{Code, Error};

/// The body of every error response.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// What went wrong.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ErrorDetail<'a> {
    /// A stable, machine-readable snake_case code (docs/reference/errors.md).
    pub code: &'a str,
    /// A human-readable explanation (when the request's fields are at fault, it names them
    /// all, as `errors` does one by one).
    pub message: &'a str,
    /// Every problem of the request's fields at once: empty when the error is not about
    /// them (an unknown route, a conflict, an unavailable store ...).
    pub errors: Vec<FieldError<'a>>,
}

/// One broken field of a request.
#[derive(Serialize, schemars::JsonSchema)]
pub struct FieldError<'a> {
    /// Where: a JSON path into the request (`payload.purposes[1].code`); empty for the body
    /// as a whole.
    pub field: &'a str,
    /// What is wrong with it.
    pub message: &'a str,
}

/// The actix status of a code.
pub fn status(code: Code) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        status(self.code())
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        // RFC 9110 §15.5.2: every 401 names the scheme it expects.
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            res.insert_header((
                header::RETRY_AFTER,
                self.retry_after_secs().unwrap_or(1).to_string(),
            ));
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().as_str(),
                message: self.message(),
                errors: self
                    .problems()
                    .iter()
                    .map(|p| FieldError {
                        field: &p.field,
                        message: &p.reason,
                    })
                    .collect(),
            },
        })
    }
}

/// The generic error for a bare status (unknown path, wrong method, ...).
fn from_status(status: StatusCode) -> Error {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (Code::NotFound, "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            Code::MethodNotAllowed,
            "method not allowed on this resource",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (Code::PayloadTooLarge, "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (Code::UnsupportedMediaType, "unsupported content type")
        }
        s if s.is_client_error() => (Code::BadRequest, "bad request"),
        _ => (Code::Internal, "internal error"),
    };
    Error::new(code, message)
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
    let body = from_status(status).error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}

/// Extractor errors for query strings.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    Error::new(Code::InvalidQuery, err.to_string()).into()
}

/// Extractor errors for path parameters.
pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    Error::new(Code::InvalidPath, err.to_string()).into()
}

/// Reads a JSON request body of at most `limit` bytes: 415 for another content type.
pub async fn read_json_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Bytes, Error> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                format!("expected application/json, got {mime:?}"),
            ));
        }
    }
    read_body(req, payload, limit).await
}

/// The time a request body has, from the start of its reading, on a server that set no
/// [`timeouts::RequestDeadline`]: the default request timeout.
const DEFAULT_BODY_TIME: Duration = Duration::from_secs(5);

/// Reads a request body of at most `limit` bytes (413 `payload_too_large` beyond), all of it
/// before the request's deadline (408 `request_timeout` after: a client that stalls its body
/// does not hold the connection).
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Bytes, Error> {
    let deadline = actix_web::HttpMessage::extensions(req)
        .get::<timeouts::RequestDeadline>()
        .map(|d| d.0)
        .unwrap_or_else(|| tokio::time::Instant::now() + DEFAULT_BODY_TIME);
    tokio::time::timeout_at(deadline, read_body_unbounded(req, payload, limit))
        .await
        .unwrap_or_else(|_| {
            Err(Error::new(
                Code::RequestTimeout,
                "the request body did not arrive in time",
            ))
        })
}

/// [`read_body`] without its deadline.
async fn read_body_unbounded(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, Error> {
    let too_large = || {
        Error::new(
            Code::PayloadTooLarge,
            format!("request body is larger than {limit} bytes"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::new(Code::BadBody, e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body into `T` with the log's strict reader ([`crate::json`]): 400
/// `malformed_json` when it is not JSON, 422 `invalid_field` when a key is repeated at any
/// depth, a number is beyond 2^53−1, or fields do not fit `T`, listing every such field at
/// once ([`crate::shape`]).
pub fn parse_json<T: serde::de::DeserializeOwned + schemars::JsonSchema + 'static>(
    body: &[u8],
) -> Result<T, Error> {
    crate::json::from_slice(body)
        .map_err(|e| crate::shape::refusal::<T>(body, e, crate::shape::Document::Body))
}

/// A resource whose only methods are `allow`; any other method gets 405 with `Allow`.
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut res = Error::new(
            Code::MethodNotAllowed,
            format!("this resource allows {allow}"),
        )
        .error_response();
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        Ok::<_, actix_web::Error>(res)
    }))
}

/// A route answering GET, and HEAD with the same headers and no body.
pub fn get() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
