//! The witness's HTTP service (actix-web): `POST /add-checkpoint` as c2sp.org/tlog-witness
//! specifies it, `GET /` describing the witness, `GET /healthz`. Refusals other than the
//! spec's `409` with a `text/x.tlog.size` body carry the usual JSON error body.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::header;
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Serialize;

use super::{AddError, Refusal, Witness, SIZE_CONTENT_TYPE};
use crate::error::{Code, Error};
use crate::http::json_error_body;
use crate::http::timeouts;

/// The largest `add-checkpoint` body accepted: 63 proof lines and a checkpoint with its
/// signatures take a few kilobytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Seconds since the epoch; `None` if the clock is before it (a cosignature's timestamp must
/// not be zero).
fn now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
        .filter(|&t| t > 0)
}

/// `POST /add-checkpoint`.
async fn add_checkpoint(
    witness: web::Data<Witness>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    let body = crate::http::read_body(&req, payload, MAX_BODY_BYTES).await?;
    let now = now().ok_or_else(|| {
        Error::new(
            Code::ClockUnset,
            "the witness's clock is not set; nothing was cosigned",
        )
    })?;
    let w = witness.into_inner();
    let result = web::block(move || w.add_checkpoint(&body, now))
        .await
        .map_err(|_| Error::new(Code::Unavailable, "the witness is shutting down"))?;
    match result {
        Ok(signature) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(signature.to_bytes())),
        Err(AddError::Refused(Refusal::Conflict { latest, .. })) => Ok(HttpResponse::Conflict()
            .insert_header((header::CONTENT_TYPE, SIZE_CONTENT_TYPE))
            .body(format!("{latest}\n"))),
        Err(AddError::Refused(refusal)) => Err(Error::new(refusal.code(), refusal.to_string())),
        Err(AddError::State(e)) => {
            tracing::error!(error = %e, "witness store failure");
            Err(Error::new(
                Code::StorageUnavailable,
                "the witness cannot persist its record right now; nothing was cosigned",
            )
            .retry_after(1))
        }
    }
}

/// `GET /`: who this witness is and what it has cosigned.
#[derive(Serialize, schemars::JsonSchema)]
pub struct WitnessInfo {
    /// The witness's key name.
    pub name: String,
    /// Its cosignature/v1 verifier key.
    pub vkey: String,
    /// The logs it follows.
    pub logs: Vec<WitnessedLog>,
}

/// A log a witness follows.
#[derive(Serialize, schemars::JsonSchema)]
pub struct WitnessedLog {
    /// The log's origin.
    pub origin: String,
    /// The log's verifier keys.
    pub keys: Vec<String>,
    /// The size last cosigned (0 if never).
    pub size: u64,
    /// The root last cosigned (base64), if any.
    pub root: Option<String>,
}

async fn info(witness: web::Data<Witness>) -> Result<HttpResponse, Error> {
    let mut logs = Vec::new();
    for (origin, keys) in witness.logs().origins() {
        let record = witness.record(origin).map_err(|e| {
            tracing::error!(error = %e, "witness store failure");
            Error::new(
                Code::StorageUnavailable,
                "the witness store cannot be read right now",
            )
        })?;
        logs.push(WitnessedLog {
            origin: origin.to_owned(),
            keys: keys.to_vec(),
            size: record.map_or(0, |r| r.size),
            root: record.map(|r| r.root.to_string()),
        });
    }
    logs.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(HttpResponse::Ok().json(WitnessInfo {
        name: witness.cosigner().name().to_owned(),
        vkey: witness.cosigner().vkey(),
        logs,
    }))
}

/// Builds the witness's HTTP server on a bound listener.
pub fn server(listener: TcpListener, witness: Arc<Witness>) -> std::io::Result<Server> {
    let witness = web::Data::from(witness);
    // actix-web's own defaults, which bound only a connection's first head and idle time: the
    // watchdog bounds every request, head and body, and every kept-alive one.
    let bounds = timeouts::Bounds {
        request: Duration::from_secs(5),
        keep_alive: Duration::from_secs(5),
    };
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(witness.clone())
            .wrap(ErrorHandlers::new().default_handler(json_error_body))
            .wrap_fn(move |mut req, srv| {
                let bounded = timeouts::start(&mut req, bounds);
                let fut = srv.call(req);
                async move {
                    let res = fut.await;
                    let status = match &res {
                        Ok(r) => r.status().as_u16(),
                        Err(e) => e.as_response_error().status_code().as_u16(),
                    };
                    let answer = timeouts::finish(bounded, bounds, status);
                    res.map(|r| answer.apply(r.map_into_boxed_body()))
                }
            })
            .service(
                crate::http::resource("/add-checkpoint", "POST")
                    .route(web::post().to(add_checkpoint)),
            )
            .service(crate::http::resource("/", "GET, HEAD").route(crate::http::get().to(info)))
            .service(
                crate::http::resource("/healthz", "GET, HEAD")
                    .route(crate::http::get().to(|| async { HttpResponse::Ok().body("ok\n") })),
            )
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(Error::new(
                    Code::NotFound,
                    "no such resource on this witness",
                ))
            }))
    })
    .workers(2)
    .on_connect(timeouts::on_connect(bounds))
    .client_request_timeout(bounds.request)
    .keep_alive(bounds.keep_alive)
    .listen(listener)?
    .run())
}
