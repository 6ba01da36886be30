//! The HTTP API (actix-web 4): the c2sp.org/tlog-tiles read paths, the JSON `/v1` API and
//! the participant registry. Handlers parse requests into typed values, call the log and the
//! pure modules, and map every failure to an [`error::Error`]. No log math lives here.

pub mod accesses;
pub mod consents;
pub mod deposits;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod participants;
pub mod receipts;
pub mod statements;
mod test_hooks;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service};
use actix_web::http::header;
use actix_web::middleware::ErrorHandlers;
use actix_web::web;
use actix_web::{App, HttpRequest, HttpServer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Code, Error};
use crate::http::{self, get, resource, timeouts};
pub use crate::http::{parse_json, read_json_body};
use crate::log::{Appended, Sequencer, SignedCheckpoint};
use crate::witnessing::collector::Witnessing;

/// The largest request body accepted by JSON endpoints.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
pub struct AppState {
    /// The log.
    pub log: Sequencer,
    /// SHA-256 of the operator's admin token.
    admin_token_hash: [u8; 32],
    /// What `/metrics` exports.
    pub metrics: Arc<metrics::Metrics>,
    /// Published registrations, parsed once (a registration never changes): every signed
    /// statement and receipt needs its signer's record and key.
    pub(crate) participants: participants::Cache,
    /// The log's witnessing, when witnesses are configured.
    pub witnessing: Option<Arc<Witnessing>>,
}

/// The checkpoint a receipt is built against, and whether it is witnessed (`None` on a log
/// without witnesses).
#[derive(Clone, Copy)]
pub struct Against<'a> {
    /// The checkpoint, which must include the entry.
    pub checkpoint: &'a SignedCheckpoint,
    /// Whether it carries the witness quorum's cosignatures.
    pub witnessed: Option<bool>,
}

/// The checkpoints receipts are built against at one moment: the cosigned one for entries it
/// covers, the latest (unwitnessed) for the others.
pub struct ReceiptBasis {
    latest: Arc<SignedCheckpoint>,
    cosigned: Option<Arc<SignedCheckpoint>>,
    witnessing: bool,
}

impl ReceiptBasis {
    /// What the receipt of entry `index` is built against.
    pub fn against(&self, index: u64) -> Against<'_> {
        match &self.cosigned {
            Some(cp) if self.witnessing && index < cp.size => Against {
                checkpoint: cp,
                witnessed: Some(true),
            },
            _ => Against {
                checkpoint: &self.latest,
                witnessed: self.witnessing.then_some(false),
            },
        }
    }
}

impl AppState {
    /// State for a log administered with `admin_token`.
    pub fn new(log: Sequencer, admin_token: &str) -> Self {
        Self::with_metrics(log, admin_token, Arc::new(metrics::Metrics::new()))
    }

    /// State whose requests are counted in `metrics` (which the sequencer may also report to).
    pub fn with_metrics(log: Sequencer, admin_token: &str, metrics: Arc<metrics::Metrics>) -> Self {
        Self {
            log,
            admin_token_hash: Sha256::digest(admin_token.as_bytes()).into(),
            metrics,
            participants: participants::Cache::default(),
            witnessing: None,
        }
    }

    /// The same state, with witnessing.
    pub fn with_witnessing(mut self, witnessing: Arc<Witnessing>) -> Self {
        self.witnessing = Some(witnessing);
        self
    }

    /// The checkpoint the log serves: with witnesses, the latest that met the quorum (none
    /// before the first); without, the latest signed.
    pub fn served_checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        match &self.witnessing {
            None => Some(self.log.latest()),
            Some(w) => w.cosigned(),
        }
    }

    /// The checkpoints receipts are built against now.
    pub fn receipt_basis(&self) -> ReceiptBasis {
        ReceiptBasis {
            latest: self.log.latest(),
            cosigned: self.witnessing.as_ref().and_then(|w| w.cosigned()),
            witnessing: self.witnessing.is_some(),
        }
    }

    /// After an append: with witnesses, waits (up to the configured time) for a cosigned
    /// checkpoint covering the entry. Returns the checkpoint to build the receipt against and
    /// whether it is witnessed (`None` without witnesses).
    pub async fn after_append(&self, appended: &Appended) -> (Arc<SignedCheckpoint>, Option<bool>) {
        match &self.witnessing {
            None => (appended.checkpoint.clone(), None),
            Some(w) => match w.wait_for(appended.index).await {
                Some(cp) => (cp, Some(true)),
                None => (appended.checkpoint.clone(), Some(false)),
            },
        }
    }

    /// The status of a successful write: 201, or 202 when the log has witnesses and their
    /// quorum did not cosign the entry in time.
    pub fn write_status(witnessed: Option<bool>) -> actix_web::http::StatusCode {
        if witnessed == Some(false) {
            actix_web::http::StatusCode::ACCEPTED
        } else {
            actix_web::http::StatusCode::CREATED
        }
    }

    /// The bytes of entry `index`, which the caller knows to be below the latest size.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        self.log
            .store()
            .entries(index, index + 1)?
            .pop()
            .ok_or_else(|| crate::log::StoreError::Corrupt(format!("missing entry {index}")).into())
    }

    /// Checks `Authorization: Bearer <admin token>` in constant time.
    pub fn require_admin(&self, req: &HttpRequest) -> Result<(), Error> {
        let token = bearer(req)?;
        let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if bool::from(given.ct_eq(&self.admin_token_hash)) {
            Ok(())
        } else {
            Err(Error::new(Code::Unauthorized, "wrong admin token"))
        }
    }
}

/// A record the store's own invariants say must be there is missing or malformed: 500.
pub(crate) fn corrupt(message: String) -> Error {
    crate::log::StoreError::Corrupt(message).into()
}

/// The bearer token of a request.
pub(crate) fn bearer(req: &HttpRequest) -> Result<&str, Error> {
    let unauthorized = |m: &str| Error::new(Code::Unauthorized, m.to_owned());
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer header"))?
        .to_str()
        .map_err(|_| unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized("expected Authorization: Bearer <token>"));
    }
    Ok(token.trim())
}

/// Parses a UUID path parameter: 400 with `code` otherwise.
pub fn parse_uuid(code: Code, s: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(s).map_err(|_| Error::new(code, format!("{s:?} is not a UUID")))
}

/// An entry a listing could not read: reported apart, and the listing goes on.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct UnreadableEntry {
    /// The entry's index.
    pub index: u64,
    /// What could not be read.
    pub message: String,
}

impl UnreadableEntry {
    /// Entry `index`, unreadable because of `message`.
    pub fn new(index: u64, message: impl Into<String>) -> Self {
        Self {
            index,
            message: message.into(),
        }
    }
}

/// One page of a one-to-many index whose keys end with a big-endian number in log order (a
/// leaf index, or a dataset's version): the leaf indexes under `prefix` after
/// `prefix ‖ after`, published ones only, at most `limit`, found by one seek; and whether
/// there are more.
pub(crate) fn page(
    state: &AppState,
    index: crate::log::store::Index,
    prefix: &[u8],
    after: Option<u64>,
    limit: usize,
) -> Result<(Vec<u64>, bool), Error> {
    let size = state.log.latest().size;
    let after = after.map(u64::to_be_bytes);
    let mut found: Vec<u64> = state
        .log
        .store()
        .scan(
            index,
            prefix,
            after.as_ref().map(|a| a.as_slice()),
            limit + 1,
        )?
        .into_iter()
        .map(|(_, leaf)| leaf)
        .filter(|&leaf| leaf < size)
        .collect();
    let truncated = found.len() > limit;
    found.truncate(limit);
    Ok((found, truncated))
}

/// Runs `work` (store reads) on actix-web's blocking thread pool, off the HTTP reactor
/// threads, so that a long listing never holds up `/checkpoint` or any other request. 503
/// `unavailable` if the pool is gone (the server is stopping).
pub(crate) async fn off_reactor<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> Result<T, Error> + Send + 'static,
{
    let state = state.clone();
    web::block(move || work(&state))
        .await
        .map_err(|_| Error::new(Code::Unavailable, "the server is stopping; retry"))?
}

/// Registers every route of the API on an app ([`server`] adds the pages).
pub fn routes(cfg: &mut web::ServiceConfig) {
    const READ: &str = "GET, HEAD";
    cfg.app_data(web::QueryConfig::default().error_handler(http::query_error))
        .app_data(web::PathConfig::default().error_handler(http::path_error))
        .service(resource("/checkpoint", READ).route(get().to(log::checkpoint)))
        .service(resource("/metrics", READ).route(get().to(metrics::metrics)))
        .service(resource("/healthz", READ).route(get().to(metrics::healthz)))
        .service(resource("/readyz", READ).route(get().to(metrics::readyz)))
        .service(resource("/tile/{tail:.*}", READ).route(get().to(log::tile)))
        .service(resource("/v1/log", READ).route(get().to(log::info)))
        .service(resource("/v1/entries/{index}", READ).route(get().to(log::entry)))
        .service(resource("/v1/proofs/inclusion", READ).route(get().to(log::inclusion)))
        .service(resource("/v1/proofs/consistency", READ).route(get().to(log::consistency)))
        .service(resource("/v1/participants", "POST").route(web::post().to(participants::register)))
        .service(resource("/v1/participants/{id}", READ).route(get().to(participants::get)))
        .service(
            resource("/v1/deposits", "GET, HEAD, POST")
                .route(web::post().to(deposits::submit))
                .route(get().to(deposits::search)),
        )
        .service(resource("/v1/datasets/{id}", READ).route(get().to(deposits::dataset)))
        .service(resource("/v1/receipts/{index}", READ).route(get().to(receipts::get)))
        .service(
            resource("/v1/consents", "GET, HEAD, POST")
                .route(web::post().to(consents::record))
                .route(get().to(consents::list)),
        )
        .service(resource("/v1/consents/{id}", READ).route(get().to(consents::get)))
        .service(resource("/v1/consents/{id}/accesses", READ).route(get().to(consents::accesses)))
        .service(
            resource("/v1/consents/{id}/withdraw", "POST")
                .route(web::post().to(consents::withdraw)),
        )
        .service(resource("/v1/consents/{id}/erase", "POST").route(web::post().to(consents::erase)))
        .service(resource("/v1/accesses", "POST").route(web::post().to(accesses::submit)));
}

/// How the HTTP server protects itself.
#[derive(Clone)]
pub struct ServerOptions {
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Concurrent connections per worker.
    pub max_connections: usize,
    /// Time a client has to send a request head, and then its body (slow clients are cut off:
    /// slowloris); see [`timeouts`].
    pub request_timeout: Duration,
    /// How long an idle keep-alive connection is kept (the next request, head and body, must
    /// then arrive within the request timeout).
    pub keep_alive: Duration,
    /// Per-client rate limiting, if any.
    pub rate_limit: Option<Arc<limits::RateLimiter>>,
    /// TLS, for deployments without a reverse proxy.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            workers: None,
            max_connections: 25_000,
            request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(30),
            rate_limit: None,
            tls: None,
        }
    }
}

/// Builds the HTTP server on an already bound listener (port 0 works for tests).
pub fn server(
    listener: TcpListener,
    state: web::Data<AppState>,
    options: ServerOptions,
) -> std::io::Result<Server> {
    let limiter = options.rate_limit.clone();
    let metrics = state.metrics.clone();
    let pages = crate::web::routes(state.log.signer().vkey());
    let bounds = timeouts::Bounds {
        request: options.request_timeout,
        keep_alive: options.keep_alive,
    };
    let mut server = HttpServer::new(move || {
        let limiter = limiter.clone();
        let metrics = metrics.clone();
        App::new()
            .app_data(state.clone())
            .wrap(ErrorHandlers::new().default_handler(http::json_error_body))
            .wrap_fn(move |mut req, srv| {
                let started = Instant::now();
                let bounded = timeouts::start(&mut req, bounds);
                let method = req.method().clone();
                let path = req.path().to_owned();
                // The route's pattern, not the path: a bounded set of metric labels.
                let route = req
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                let metrics = metrics.clone();
                let limited = limiter.as_ref().and_then(|l| {
                    // Every X-Forwarded-For line, in order: a proxy may add its own line
                    // rather than extend the client's.
                    let xff: Vec<&str> = req
                        .headers()
                        .get_all("x-forwarded-for")
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    let xff = (!xff.is_empty()).then(|| xff.join(","));
                    l.check(req.peer_addr().map(|a| a.ip()), xff.as_deref())
                        .err()
                });
                let call = match limited {
                    None => Ok(srv.call(req)),
                    Some(wait) => Err((req, wait)),
                };
                async move {
                    let res = match call {
                        Ok(fut) => fut.await.map(|r| r.map_into_boxed_body()),
                        Err((req, wait)) => Ok(req.error_response(
                            Error::new(
                                Code::RateLimited,
                                format!(
                                    "too many requests from this client; retry in {} ms",
                                    wait.as_millis().max(1)
                                ),
                            )
                            .retry_after(wait.as_secs().max(1)),
                        )),
                    };
                    let status = match &res {
                        Ok(r) => r.status().as_u16(),
                        Err(e) => e.as_response_error().status_code().as_u16(),
                    };
                    let answer = timeouts::finish(bounded, bounds, status);
                    let res = res.map(|r| answer.apply(r));
                    let elapsed = started.elapsed();
                    // Clients may send any method token: unknown ones share one label.
                    let method_label = match method.as_str() {
                        m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS") => m,
                        _ => "other",
                    };
                    metrics.request(&route, method_label, status, elapsed);
                    tracing::info!(
                        %method,
                        path,
                        status,
                        micros = elapsed.as_micros() as u64,
                        "request"
                    );
                    res
                }
            })
            .configure(routes)
            .configure(pages.clone())
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(Error::new(Code::NotFound, "no such resource"))
            }))
    })
    .on_connect(timeouts::on_connect(bounds))
    .max_connections(options.max_connections)
    .client_request_timeout(options.request_timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(options.keep_alive)
    .shutdown_timeout(5);
    if let Some(n) = options.workers {
        server = server.workers(n.max(1));
    }
    let server = match options.tls {
        Some(tls) => server.listen_rustls_0_23(listener, (*tls).clone())?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

impl From<crate::log::AppendError> for Error {
    fn from(e: crate::log::AppendError) -> Self {
        use crate::log::{AppendError, Index};
        let message = e.to_string();
        match e {
            AppendError::TooLarge(_) => Error::new(Code::EntryTooLarge, message),
            AppendError::Conflict(Index::ParticipantKey) => Error::new(
                Code::DuplicateKey,
                "a participant with this public key is already registered",
            ),
            AppendError::Conflict(Index::Nonce) => {
                Error::new(Code::Replayed, "this participant already used this nonce")
            }
            AppendError::Conflict(_) => Error::new(Code::Conflict, message),
            AppendError::Overloaded => Error::new(Code::Overloaded, message),
            AppendError::Storage(_) => Error::new(Code::StorageUnavailable, message),
            AppendError::Stopped => Error::new(Code::Unavailable, message),
        }
    }
}
