//! The HTTP API (actix-web 4): the c2sp.org/tlog-tiles read paths, the JSON `/v1` API and
//! the participant registry. A handler reads the request (path, query, bearer token, body),
//! calls one service of the [`crate::ledger`], and maps the answer to a status and a JSON
//! body; every failure leaves as an [`Error`]. No domain rule and no log math lives here.

pub mod accesses;
pub mod archive;
pub mod consents;
pub mod deposits;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod openapi;
pub mod participants;
pub mod receipts;

use std::net::TcpListener;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service};
use actix_web::http::header;
use actix_web::middleware::ErrorHandlers;
use actix_web::web;
use actix_web::{App, HttpRequest, HttpServer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Code, Error};
use crate::http::{self, get, timeouts};
pub use crate::http::{parse_json, read_json_body};
use crate::ledger::{Ledger, Written};

/// The largest request body accepted by JSON endpoints.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
pub struct AppState {
    /// The domain services, over the log.
    pub ledger: Ledger,
    /// SHA-256 of the operator's admin token.
    admin_token_hash: [u8; 32],
    /// What `/metrics` exports.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// State for a log administered with `admin_token`.
    pub fn new(ledger: Ledger, admin_token: &str) -> Self {
        Self::with_metrics(ledger, admin_token, Arc::new(metrics::Metrics::new()))
    }

    /// State whose requests are counted in `metrics` (which the sequencer may also report to).
    pub fn with_metrics(ledger: Ledger, admin_token: &str, metrics: Arc<metrics::Metrics>) -> Self {
        Self {
            ledger,
            admin_token_hash: Sha256::digest(admin_token.as_bytes()).into(),
            metrics,
        }
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

/// The status of a successful write: 201, or 202 when the log has witnesses and their
/// quorum did not cosign the entry in time.
pub fn write_status(written: &Written) -> actix_web::http::StatusCode {
    settled_status(written, actix_web::http::StatusCode::CREATED)
}

/// The status of a successful write that answers `done` (201 for what it creates, 200 for a
/// disposal), or 202 when the log has witnesses and their quorum did not cosign the entry in
/// time.
pub fn settled_status(
    written: &Written,
    done: actix_web::http::StatusCode,
) -> actix_web::http::StatusCode {
    if written.witnessed == Some(false) {
        actix_web::http::StatusCode::ACCEPTED
    } else {
        done
    }
}

/// The request's bearer token, if it has a well-formed one.
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    bearer(req).ok().map(str::to_owned)
}

/// The bearer token of a request that has an `Authorization` header (401 if it is not a
/// well-formed bearer token); `None` without the header.
pub(crate) fn optional_bearer(req: &HttpRequest) -> Result<Option<String>, Error> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        bearer(req).map(|t| Some(t.to_owned()))
    } else {
        Ok(None)
    }
}

/// The bearer token of a request: 401 when it has none or a malformed one.
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

/// Runs `work` (store reads) on actix-web's blocking thread pool, off the HTTP reactor
/// threads, so that a long listing never holds up `/checkpoint` or any other request. 503
/// `unavailable` if the pool is gone (the server is stopping).
pub(crate) async fn off_reactor<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&Ledger) -> Result<T, Error> + Send + 'static,
{
    let state = state.clone();
    web::block(move || work(&state.ledger))
        .await
        .map_err(|_| Error::new(Code::Unavailable, "the server is stopping; retry"))?
}

/// One resource of the API: its path pattern, the methods it answers (what its `Allow` header
/// says on a 405) and the actix resource with its handlers.
pub struct Endpoint {
    /// The actix path pattern (`/v1/entries/{index}`).
    pub path: &'static str,
    /// The methods it answers, as its `Allow` header lists them (`GET, HEAD`).
    pub allow: &'static str,
    resource: actix_web::Resource,
}

impl Endpoint {
    /// Adds a handler.
    fn route(mut self, route: actix_web::Route) -> Self {
        self.resource = self.resource.route(route);
        self
    }
}

/// A resource whose only methods are `allow` (any other gets 405 with `Allow`).
fn resource(path: &'static str, allow: &'static str) -> Endpoint {
    Endpoint {
        path,
        allow,
        resource: http::resource(path, allow),
    }
}

/// The list [`endpoints`] builds.
#[derive(Default)]
struct Endpoints(Vec<Endpoint>);

impl Endpoints {
    fn service(&mut self, endpoint: Endpoint) -> &mut Self {
        self.0.push(endpoint);
        self
    }
}

/// Registers every route of the API on an app ([`server`] adds the pages): the
/// [`endpoints`], and nothing else.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(http::query_error))
        .app_data(web::PathConfig::default().error_handler(http::path_error));
    for endpoint in endpoints() {
        cfg.service(endpoint.resource);
    }
}

/// Every resource of the API, with its handlers: the one list that [`routes`] registers and
/// that `tests/openapi.rs` holds the OpenAPI document ([`openapi`]) to, path for path and
/// method for method. A route added here and not described there fails that test.
pub fn endpoints() -> Vec<Endpoint> {
    const READ: &str = "GET, HEAD";
    let mut all = Endpoints::default();
    all.service(resource("/openapi.json", READ).route(get().to(openapi::serve)))
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
            resource("/v1/participants/{id}/roles", "POST")
                .route(web::post().to(participants::change_roles)),
        )
        .service(
            resource("/v1/participants/{id}/token", "POST")
                .route(web::post().to(participants::reissue_token)),
        )
        .service(
            resource("/v1/deposits", "GET, HEAD, POST")
                .route(web::post().to(deposits::submit))
                .route(get().to(deposits::search)),
        )
        .service(resource("/v1/datasets/{id}", READ).route(get().to(deposits::dataset)))
        .service(resource("/v1/datasets/{id}/custody", READ).route(get().to(archive::custody)))
        .service(
            resource(
                "/v1/datasets/{id}/versions/{version}/content",
                "GET, DELETE",
            )
            .route(web::get().to(archive::content))
            .route(web::delete().to(archive::dispose)),
        )
        .service(
            resource("/v1/datasets/{id}/versions/{version}/hold", "POST")
                .route(web::post().to(archive::hold)),
        )
        .service(resource("/v1/uploads", "POST").route(web::post().to(archive::open)))
        .service(
            resource("/v1/uploads/{id}", "GET, HEAD, PATCH, DELETE")
                .route(get().to(archive::status))
                .route(web::patch().to(archive::patch))
                .route(web::delete().to(archive::abandon)),
        )
        .service(resource("/v1/archive/fixity", "POST").route(web::post().to(archive::fixity_run)))
        .service(
            resource("/v1/archive/fixity/{index}", READ).route(get().to(archive::fixity_proof)),
        )
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
    all.0
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
    // The OpenAPI document is built once, now, rather than on its first request.
    LazyLock::force(&openapi::SERVED);
    let limiter = options.rate_limit.clone();
    let metrics = state.metrics.clone();
    let pages = crate::web::routes(state.ledger.log().signer().vkey());
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
