//! Time bounds on every HTTP/1 request, head and body, and on every kept-alive connection, so
//! that clients that stall cannot hold connections (and file descriptors) for ever.
//!
//! actix-http 3 bounds only the head of a connection's *first* request
//! (`client_request_timeout`) and the idle time between requests (`keep_alive`): once a head is
//! read, nothing bounds its body; once a byte of the next request arrives on a kept-alive
//! connection, nothing bounds that request at all; and a chunked body its handler never read
//! is drained for as long as the client keeps the connection. This module adds a per-connection
//! watchdog that shuts the socket down when its deadline passes:
//!
//! - from the connection's start, the first head has the request timeout (plus a grace period:
//!   actix-http answers 408 itself first);
//! - from each request's head, its body has the request timeout ([`RequestDeadline`], which
//!   `read_body` turns into a 408 `request_timeout` before the watchdog acts); a request
//!   without a body, or whose body was read to its end, has no deadline while its handler runs;
//! - from each answer, the connection has the keep-alive time plus the request timeout to send
//!   the next request, head and body, or to finish reading the answer.
//!
//! An answer to a request whose body was left unread (a `GET` with a body, a 404, a 405, a
//! 408) closes the connection: the middleware keeps the body alive in the answer's body, so
//! that actix-http closes rather than drains, and the watchdog gives it a grace period.
//!
//! The watchdog holds a duplicate of the connection's socket descriptor, closed with the
//! connection. When it cannot have one (no descriptor left), the connection is not kept alive:
//! its answers say `Connection: close`, and the request deadline still bounds its body.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType};
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;
use tokio::sync::Notify;
use tokio::time::Instant;

/// After a deadline, the time the server's own answer (a 408) has to leave before the socket
/// is shut down.
pub const GRACE: Duration = Duration::from_secs(1);

/// The instant by which a request's body must have been read, in the request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct RequestDeadline(pub Instant);

/// The time bounds a server applies.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Time for a request head, and for a request body from its head.
    pub request: Duration,
    /// Idle time allowed between two requests on a connection.
    pub keep_alive: Duration,
}

/// One connection's watchdog state: its deadline and the duplicate socket to shut down.
struct State {
    deadline: Cell<Option<Instant>>,
    socket: RefCell<Option<socket2::Socket>>,
    changed: Notify,
}

impl State {
    fn set(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
        self.changed.notify_one();
    }

    /// Moves a deadline later without waking the watchdog: it reads the deadline again when
    /// the earlier one passes.
    fn extend(&self, deadline: Instant) {
        self.deadline.set(Some(deadline));
    }
}

/// A connection's watchdog, in the connection's data: dropped with the connection, it closes
/// the duplicate descriptor and stops the watchdog.
pub struct Watch(Rc<State>);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.socket.borrow_mut().take();
        self.0.set(None);
    }
}

/// The socket under a connection's I/O, plain or TLS.
fn tcp(io: &dyn Any) -> Option<&actix_web::rt::net::TcpStream> {
    io.downcast_ref::<actix_web::rt::net::TcpStream>().or_else(|| {
        io.downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>>()
            .map(|tls| tls.get_ref().0)
    })
}

/// The `on_connect` hook: starts the watchdog of a new connection, with its first head's
/// deadline. Must run on the worker that serves the connection (actix calls it there).
pub fn on_connect(bounds: Bounds) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
    move |io: &dyn Any, data: &mut Extensions| {
        let Some(socket) = tcp(io).and_then(|s| socket2::SockRef::from(s).try_clone().ok()) else {
            tracing::debug!("no descriptor for a connection watchdog: no keep-alive");
            return;
        };
        let state = Rc::new(State {
            deadline: Cell::new(Some(Instant::now() + bounds.request + GRACE)),
            socket: RefCell::new(Some(socket)),
            changed: Notify::new(),
        });
        actix_web::rt::spawn(watchdog(state.clone()));
        data.insert(Watch(state));
    }
}

/// Shuts the socket down when the deadline passes; returns when it did, or when the
/// connection is gone.
async fn watchdog(state: Rc<State>) {
    loop {
        if state.socket.borrow().is_none() {
            return;
        }
        match state.deadline.get() {
            None => state.changed.notified().await,
            Some(at) if at > Instant::now() => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = state.changed.notified() => {}
                }
            }
            Some(_) => {
                if let Some(socket) = state.socket.borrow_mut().take() {
                    tracing::info!("a client stalled past its deadline: connection shut down");
                    let _ = socket.shutdown(std::net::Shutdown::Both);
                }
                return;
            }
        }
    }
}

/// Whether a request announces a body (any `Transfer-Encoding`, or a `Content-Length` that is
/// not 0).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) != Some(0))
}

/// What the middleware keeps of one request between its head and its answer.
pub struct Request {
    watch: Option<Rc<State>>,
    body: Option<Shared>,
}

/// A request body, shared by the handler's stream and the middleware (which keeps it alive
/// until the answer is sent when the handler left it unread: actix-http then closes the
/// connection instead of draining the rest for as long as the client sends it).
struct Shared {
    payload: Rc<RefCell<Payload>>,
    done: Rc<Cell<bool>>,
}

/// Called on each request's head: sets its [`RequestDeadline`] and the connection's deadline,
/// and wraps its body to lift that deadline once the body is read to its end.
pub fn start(req: &mut ServiceRequest, bounds: Bounds) -> Request {
    let now = Instant::now();
    req.extensions_mut()
        .insert(RequestDeadline(now + bounds.request));
    let watch = req.conn_data::<Watch>().map(|w| w.0.clone());
    if !has_body(req) {
        if let Some(w) = &watch {
            w.set(None);
        }
        return Request { watch, body: None };
    }
    if let Some(w) = &watch {
        w.set(Some(now + bounds.request + GRACE));
    }
    // An upload's body (tus's `application/offset+octet-stream`) may take hours: its
    // deadline is an idle one, moved on by every piece that arrives.
    let idle = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(UPLOAD_BODY))
        .then_some(bounds.request);
    let shared = Shared {
        payload: Rc::new(RefCell::new(req.take_payload())),
        done: Rc::new(Cell::new(false)),
    };
    let body = Body {
        payload: shared.payload.clone(),
        watch: watch.clone(),
        done: shared.done.clone(),
        idle,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    Request {
        watch,
        body: Some(shared),
    }
}

/// What an answer must carry for its connection's sake.
#[must_use]
pub struct Answer {
    close: bool,
    unread: Option<Rc<RefCell<Payload>>>,
}

impl Answer {
    /// Marks the answer `Connection: close` if it must close, and keeps an unread body alive
    /// until the answer is sent (so that actix-http closes the connection rather than drain
    /// the rest of the body for as long as the client sends it).
    pub fn apply(self, mut res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
        if self.close {
            res.response_mut()
                .head_mut()
                .set_connection_type(ConnectionType::Close);
        }
        match self.unread {
            None => res,
            Some(unread) => res
                .map_body(|_, body| {
                    BoxBody::new(Holding {
                        body,
                        _unread: unread,
                    })
                })
                .map_into_boxed_body(),
        }
    }
}

/// An answer's body, holding the request body its handler left unread: actix-http checks
/// whether the request body was dropped when the answer's body ends.
struct Holding {
    body: BoxBody,
    _unread: Rc<RefCell<Payload>>,
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Called with each answer (of `status`): gives the connection its deadline for the next
/// request, and says what the answer must carry: `Connection: close` on an unwatched
/// connection, after a body left unread and after a 408.
pub fn finish(request: Request, bounds: Bounds, status: u16) -> Answer {
    let unread = request.body.filter(|b| !b.done.get()).map(|b| b.payload);
    let now = Instant::now();
    let close = unread.is_some() || status == 408;
    match &request.watch {
        None => {
            return Answer {
                close: true,
                unread,
            }
        }
        Some(w) if close => w.set(Some(now + GRACE)),
        Some(w) => w.set(Some(now + bounds.keep_alive + bounds.request + GRACE)),
    }
    Answer { close, unread }
}

/// The media type of upload bodies, whose deadline is an idle one.
pub const UPLOAD_BODY: &str = "application/offset+octet-stream";

/// A request body that lifts the connection's deadline once read to its end (and, for an
/// upload, moves it on with each piece).
struct Body {
    payload: Rc<RefCell<Payload>>,
    watch: Option<Rc<State>>,
    done: Rc<Cell<bool>>,
    idle: Option<Duration>,
}

impl Stream for Body {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut *self.payload.borrow_mut()).poll_next(cx);
        if let (Poll::Ready(Some(Ok(_))), Some(idle), Some(w)) = (&next, self.idle, &self.watch) {
            w.extend(Instant::now() + idle + GRACE);
        }
        if let Poll::Ready(None) = next {
            if !self.done.replace(true) {
                if let Some(w) = &self.watch {
                    w.set(None);
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const BOUNDS: Bounds = Bounds {
        request: Duration::from_secs(2),
        keep_alive: Duration::from_secs(5),
    };

    #[test]
    fn a_body_is_announced_by_a_non_zero_length_or_any_transfer_encoding() {
        let req = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::default();
            for h in headers {
                r = r.insert_header(*h);
            }
            r.to_srv_request()
        };
        assert!(!has_body(&req(&[])));
        assert!(!has_body(&req(&[("content-length", "0")])));
        assert!(has_body(&req(&[("content-length", "7")])));
        assert!(has_body(&req(&[("content-length", "junk")])));
        assert!(has_body(&req(&[("transfer-encoding", "chunked")])));
    }

    #[actix_web::test]
    async fn answers_close_unwatched_connections_unread_bodies_and_408s() {
        // No watchdog (no connection data in a test request): every answer closes.
        let mut req = TestRequest::default().to_srv_request();
        assert!(finish(start(&mut req, BOUNDS), BOUNDS, 200).close);

        let watched = || {
            Rc::new(State {
                deadline: Cell::new(None),
                socket: RefCell::new(None),
                changed: Notify::new(),
            })
        };
        let unread = || Shared {
            payload: Rc::new(RefCell::new(Payload::None)),
            done: Rc::new(Cell::new(false)),
        };
        let w = watched();
        let request = Request {
            watch: Some(w.clone()),
            body: None,
        };
        let answer = finish(request, BOUNDS, 200);
        assert!(!answer.close && answer.unread.is_none());
        let next = w.deadline.get().expect("a deadline for the next request");
        assert!(next > Instant::now() + BOUNDS.keep_alive);

        let answer = finish(
            Request {
                watch: Some(w.clone()),
                body: Some(unread()),
            },
            BOUNDS,
            200,
        );
        assert!(answer.close && answer.unread.is_some());
        assert!(w.deadline.get().expect("a grace deadline") <= Instant::now() + GRACE);

        let read = unread();
        read.done.set(true);
        let answer = finish(
            Request {
                watch: Some(w.clone()),
                body: Some(read),
            },
            BOUNDS,
            408,
        );
        assert!(answer.close && answer.unread.is_none());
    }
}
