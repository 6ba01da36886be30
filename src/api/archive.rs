//! The archive: uploads (the core of tus 1.0: `POST /v1/uploads` with the signed deposit
//! statement opens a session, `PATCH` appends at `Upload-Offset`, `HEAD` says where to
//! resume, `DELETE` abandons), downloads with `Range`, legal holds, disposal, the custody
//! chain and the fixity runs. Every upload and download request carries the participant's
//! token. The rules are the ledger's ([`crate::ledger::archive`], [`crate::ledger::fixity`]).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

use super::log::Params;
use super::{
    bearer, off_reactor, optional_bearer, read_json_body, write_status, AppState, MAX_BODY_BYTES,
};
use crate::error::{Code, Error};
use crate::http::timeouts::UPLOAD_BODY;
use crate::ledger::archive::{ByteRange, Disposer};
use crate::ledger::fixity::Pace;
use crate::ledger::MAX_PAGE;

/// How many bytes a `PATCH` gathers before handing them to the file (and how many a download
/// reads at a time).
const PIECE: usize = 1 << 20;

fn upload_id(id: &str) -> Result<Uuid, Error> {
    super::parse_uuid(Code::InvalidUploadId, id)
}

fn version(v: &str) -> Result<u64, Error> {
    v.parse::<u64>().ok().filter(|&v| v > 0).ok_or_else(|| {
        Error::new(
            Code::InvalidVersion,
            format!("{v:?} is not a version number (1, 2, ...)"),
        )
    })
}

fn header_value(n: impl ToString) -> HeaderValue {
    // Digits and ASCII only, which every header value accepts.
    HeaderValue::from_str(&n.to_string()).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// `POST /v1/uploads`: 201 with `Location`, `Upload-Offset: 0` and `Upload-Length`.
pub async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let token = bearer(&req)?.to_owned();
    let body = read_json_body(&req, body, MAX_BODY_BYTES).await?;
    let opened = off_reactor(&state, move |ledger| ledger.open_upload(&token, &body)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/uploads/{}", opened.upload_id),
        ))
        .insert_header(("Upload-Offset", header_value(opened.offset)))
        .insert_header(("Upload-Length", header_value(opened.size)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(opened))
}

/// `HEAD` or `GET /v1/uploads/{id}`: where the upload stands.
pub async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let token = bearer(&req)?.to_owned();
    let id = upload_id(&id)?;
    let body = off_reactor(&state, move |ledger| ledger.upload_status(&token, id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Upload-Offset", header_value(body.offset)))
        .insert_header(("Upload-Length", header_value(body.size)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `PATCH /v1/uploads/{id}`: appends the body at `Upload-Offset`. 204 with the new
/// `Upload-Offset` while bytes are missing; the request that brings the last byte answers
/// 201 (202 awaiting the witnesses) with the deposit and the object's `storage` entry.
pub async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    mut body: web::Payload,
) -> Result<HttpResponse, Error> {
    let token = bearer(&req)?.to_owned();
    let id = upload_id(&id)?;
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !media.trim().eq_ignore_ascii_case(UPLOAD_BODY) {
        return Err(Error::new(
            Code::UnsupportedMediaType,
            format!("PATCH /v1/uploads/{{id}} takes Content-Type: {UPLOAD_BODY}"),
        ));
    }
    let offset = req
        .headers()
        .get("Upload-Offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Error::new(
                Code::InvalidOffset,
                "an Upload-Offset header with the offset to write at is required",
            )
        })?;
    let handle = off_reactor(&state, move |ledger| ledger.upload(&token, id)).await?;
    let mut session = handle.try_lock_owned().map_err(|_| {
        Error::new(
            Code::UploadBusy,
            format!("another request is writing to upload {id}"),
        )
    })?;
    crate::archive::uploads::check_offset(&session, offset)
        .map_err(|e| Error::new(Code::OffsetMismatch, e.to_string()))?;
    let size = session.ticket().size;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > size - offset) {
        return Err(Error::new(
            Code::UploadTooLong,
            format!(
                "{n} bytes at offset {offset} would exceed the upload's {size}; nothing was kept"
            ),
        ));
    }
    // The body is read here and written by a blocking task, a few pieces apart: the network
    // and the disk work at once. A failed append ends the task, which ends the reading.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let writer = tokio::task::spawn_blocking(move || {
        let mut appended = Ok(());
        while let Some(piece) = rx.blocking_recv() {
            if let Err(e) = session.append(&piece) {
                appended = Err(e);
                break;
            }
        }
        drop(rx);
        // What was appended is made durable before any offset is answered.
        let synced = session.sync();
        (session, appended, synced)
    });
    let mut piece: Vec<u8> = Vec::with_capacity(PIECE);
    let mut cut: Option<Error> = None;
    loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                piece.extend_from_slice(&chunk);
                if piece.len() >= PIECE {
                    let full = std::mem::replace(&mut piece, Vec::with_capacity(PIECE));
                    if tx.send(full).await.is_err() {
                        break;
                    }
                }
            }
            Some(Err(e)) => {
                // The client stopped (a dropped connection): keep what arrived.
                cut = Some(Error::new(Code::BadBody, format!("the body was cut: {e}")));
                break;
            }
            None => break,
        }
    }
    if !piece.is_empty() {
        let _ = tx.send(piece).await;
    }
    drop(tx);
    let (session, appended, synced) = writer
        .await
        .map_err(|_| Error::new(Code::Unavailable, "the server is stopping; retry"))?;
    synced.map_err(|e| Error::new(Code::ArchiveUnavailable, format!("archive: {e}")))?;
    let failure = match appended {
        Err(e @ crate::archive::uploads::UploadError::TooLong { .. }) => {
            Some(Error::new(Code::UploadTooLong, e.to_string()))
        }
        Err(e) => Some(Error::new(
            Code::ArchiveUnavailable,
            format!("archive: {e}"),
        )),
        Ok(()) => cut,
    };
    if let Some(e) = failure {
        return Err(e);
    }
    let now = session.offset();
    if now < size {
        return Ok(HttpResponse::NoContent()
            .insert_header(("Upload-Offset", header_value(now)))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    let (archived, written) = state.ledger.complete_upload(session).await?;
    Ok(HttpResponse::build(write_status(&written))
        .insert_header(("Upload-Offset", header_value(now)))
        .json(archived))
}

/// `DELETE /v1/uploads/{id}`: abandons the session; 204.
pub async fn abandon(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let token = bearer(&req)?.to_owned();
    let id = upload_id(&id)?;
    off_reactor(&state, move |ledger| ledger.abandon_upload(&token, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/datasets/{id}/versions/{version}/content[?access=<id>]`: the bytes, streamed;
/// one `Range: bytes=` range answers 206. The `download` entry is logged before the first
/// byte leaves; its index is in `Datapole-Custody-Entry`.
pub async fn content(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["access"])?;
    let token = bearer(&req)?.to_owned();
    let dataset = super::parse_uuid(Code::InvalidDatasetId, &path.0)?;
    let version = version(&path.1)?;
    let access =
        match q.get("access") {
            None => None,
            Some(a) => Some(Uuid::parse_str(a).map_err(|_| {
                Error::new(Code::InvalidQuery, format!("access {a:?} is not a UUID"))
            })?),
        };
    let range = match req.headers().get(header::RANGE) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(ByteRange::parse).ok_or_else(|| {
            Error::new(
                Code::RangeNotSatisfiable,
                "Range must be one bytes=a-b, bytes=a- or bytes=-n range",
            )
        })?),
    };
    let download = state
        .ledger
        .download(&token, dataset, version, access, range)
        .await?;
    let mut answer = match download.range {
        None => HttpResponse::Ok(),
        Some(_) => HttpResponse::PartialContent(),
    };
    answer
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CONTENT_TYPE, download.media_type.clone()))
        .insert_header((
            "Datapole-Custody-Entry",
            header_value(download.custody_index),
        ))
        .insert_header(("Datapole-Content-Sha256", download.sha256.clone()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .no_chunking(download.length);
    if let Some((a, b, total)) = download.range {
        answer.insert_header((header::CONTENT_RANGE, format!("bytes {a}-{b}/{total}")));
    }
    // Read by a blocking task a few pieces ahead of the socket.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let mut reader = download.reader;
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; PIECE];
        let mut filled = 0;
        let mut failed = None;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            tracing::error!(error = %e, "a download failed mid-stream");
            let _ = tx.blocking_send(Err(e));
            return;
        }
        if filled == 0 {
            return;
        }
        buf.truncate(filled);
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return; // the client went away
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) });
    Ok(answer.streaming(stream))
}

/// `DELETE /v1/datasets/{id}/versions/{version}/content`: disposal by the depositor (its
/// token) or the operator (the admin token); 200 with the `disposal` entry's receipt.
pub async fn dispose(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let dataset = super::parse_uuid(Code::InvalidDatasetId, &path.0)?;
    let version = version(&path.1)?;
    let (done, written) = if state.require_admin(&req).is_ok() {
        state
            .ledger
            .dispose(Disposer::Operator, dataset, version)
            .await?
    } else {
        let token = bearer(&req)?.to_owned();
        let participant = off_reactor(&state, move |l| l.authenticate(&l.view(), &token)).await?;
        state
            .ledger
            .dispose(Disposer::Depositor(&participant), dataset, version)
            .await?
    };
    Ok(HttpResponse::build(super::settled_status(&written, StatusCode::OK)).json(done))
}

/// The body of a legal hold request.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// `true` places a hold, `false` lifts it.
    pub hold: bool,
    /// The case or order the hold is for: 1 to 200 characters, no control characters.
    pub reference: String,
}

/// `POST /v1/datasets/{id}/versions/{version}/hold` (the admin token): places or lifts a
/// legal hold; 201 with the `legal_hold` entry's receipt.
pub async fn hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    state.require_admin(&req)?;
    let dataset = super::parse_uuid(Code::InvalidDatasetId, &path.0)?;
    let version = version(&path.1)?;
    let body = read_json_body(&req, body, MAX_BODY_BYTES).await?;
    let request: HoldRequest = crate::json::from_slice(&body).map_err(|e| {
        Error::new(
            Code::InvalidHold,
            format!("expected {{\"hold\": bool, \"reference\": string}}: {e}"),
        )
    })?;
    let reference = request.reference.trim();
    if reference.is_empty()
        || reference.chars().count() > 200
        || reference.chars().any(char::is_control)
    {
        return Err(Error::new(
            Code::InvalidHold,
            "reference must be 1 to 200 characters, no control characters",
        ));
    }
    let (done, written) = state
        .ledger
        .legal_hold(dataset, version, request.hold, reference)
        .await?;
    Ok(HttpResponse::build(write_status(&written)).json(done))
}

/// `GET /v1/datasets/{id}/custody[?after=<index>][&limit=<n>]`.
pub async fn custody(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["after", "limit"])?;
    let id = super::parse_uuid(Code::InvalidDatasetId, &id)?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_PAGE)?;
    let chain = off_reactor(&state, move |ledger| ledger.custody_chain(id, after, limit)).await?;
    Ok(HttpResponse::Ok().json(chain))
}

/// `POST /v1/archive/fixity` (the admin token): runs the scrubber now, unthrottled unless
/// `?budget=<bytes per second>`; 201 with the run.
pub async fn fixity_run(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    state.require_admin(&req)?;
    let q = Params::new(query.into_inner(), &["budget"])?;
    let budget = q.u64("budget")?;
    let pace = budget.map_or(Pace::Unthrottled, Pace::PerSecond);
    let run = state.ledger.fixity_run(pace).await?;
    Ok(HttpResponse::Created().json(run))
}

/// `GET /v1/archive/fixity/{index}?object=<id>&location=<name>`: one check of a run and its
/// audit path to the run's `root`.
pub async fn fixity_proof(
    state: web::Data<AppState>,
    req: HttpRequest,
    index: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let _ = optional_bearer(&req)?;
    let q = Params::new(query.into_inner(), &["object", "location"])?;
    let index: u64 = index.parse().map_err(|_| {
        Error::new(
            Code::InvalidIndex,
            format!("{:?} is not an entry index", index.as_str()),
        )
    })?;
    let object = q
        .get("object")
        .and_then(|o| Uuid::parse_str(o).ok())
        .ok_or_else(|| Error::new(Code::InvalidQuery, "object must be an object id"))?;
    let location = q
        .get("location")
        .ok_or_else(|| Error::new(Code::InvalidQuery, "missing parameter location"))?
        .to_owned();
    let proof = off_reactor(&state, move |l| l.fixity_proof(index, object, &location)).await?;
    Ok(HttpResponse::Ok().json(proof))
}
