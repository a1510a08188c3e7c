//! Connection limits: at most `max_connections` open connections, a deadline for a request's
//! headers and one for an idle connection, for HTTP/1.1, HTTP/2 and TLS alike.
//!
//! Every accepted TCP connection is registered here (by [`LimitAcceptor`], the innermost
//! acceptor, before any TLS handshake). A connection is *busy* while the server is answering
//! one of its requests (from the moment its headers are read until the response body is
//! sent) and *waiting* otherwise. Waiting connections are closed when
//!
//! - they started a request (or just opened) and did not finish its headers within
//!   `header_timeout` (a client sending one header byte every few seconds is dropped), or
//! - they sent nothing for `idle_timeout` after their last response (keep-alive), or
//! - the cap is reached and a new connection arrives: the connection waiting the longest makes
//!   room for it, so idle connections, however many, never lock a device out.
//!
//! Only when every connection is busy does a new one get `503 Service Unavailable` with
//! `Retry-After` and the JSON error body, and then the connection is closed. Reaching the cap
//! is logged (at most one line per ten seconds, with counts).
//!
//! A connection is closed by ending its input: its reads return end-of-file, so hyper finishes
//! the connection as if the client had gone, and the socket is released.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum_server::accept::Accept;
use harbour_wire::protocol::ErrorBody;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Seconds a refused client is asked to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// How long a refused connection may stay open without sending its request.
const REFUSED_GRACE: Duration = Duration::from_secs(1);

/// At most one "limit reached" log line per this period.
const WARNING_PERIOD: Duration = Duration::from_secs(10);

/// File descriptors kept for the database, logs and TLS files, beyond connections.
pub const RESERVED_FDS: u64 = 64;

/// The connection limits of a server.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Open connections at most (busy or waiting).
    pub max_connections: usize,
    /// Time to send a request's headers, counted from the connection's opening or the first
    /// byte of the request.
    pub header_timeout: Duration,
    /// Time a connection may wait, silent, after its last response.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// The soft limit on open file descriptors of this process, where the system says (Linux).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// The open connections of a server.
#[derive(Debug)]
pub struct Registry {
    limits: ConnectionLimits,
    state: Mutex<RegistryState>,
}

#[derive(Debug, Default)]
struct RegistryState {
    next_id: u64,
    open: HashMap<u64, Arc<Connection>>,
    /// Connections counted against the cap: open, not refused, not being closed.
    counted: usize,
    last_warning: Option<Instant>,
    evicted_since_warning: u64,
    refused_since_warning: u64,
}

#[derive(Debug)]
struct Connection {
    id: u64,
    opened: Instant,
    /// Over the cap with every other connection busy: every request is answered 503.
    refused: bool,
    closing: AtomicBool,
    progress: Mutex<Progress>,
    reader: Mutex<Option<Waker>>,
}

#[derive(Debug)]
struct Progress {
    busy: usize,
    /// When the connection last became waiting (opened or answered its last request).
    waiting_since: Instant,
    /// When the request being received began (its first byte, or the opening), if any.
    request_started: Option<Instant>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    /// End the connection's input; its reader wakes up to end-of-file.
    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        if let Some(waker) = lock(&self.reader).take() {
            waker.wake();
        }
    }

    fn begin_request(self: &Arc<Self>) -> BusyGuard {
        let mut progress = lock(&self.progress);
        progress.busy += 1;
        progress.request_started = None;
        BusyGuard(Arc::clone(self))
    }

    fn read_bytes(&self) {
        let mut progress = lock(&self.progress);
        if progress.busy == 0 && progress.request_started.is_none() {
            progress.request_started = Some(Instant::now());
        }
    }
}

/// Holds a connection busy until the response body is sent (or dropped).
#[derive(Debug)]
struct BusyGuard(Arc<Connection>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut progress = lock(&self.0.progress);
        progress.busy = progress.busy.saturating_sub(1);
        if progress.busy == 0 {
            progress.waiting_since = Instant::now();
        }
    }
}

impl Registry {
    pub fn new(limits: ConnectionLimits) -> Registry {
        Registry { limits, state: Mutex::new(RegistryState::default()) }
    }

    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Connections open now, refused ones included.
    pub fn open_connections(&self) -> usize {
        lock(&self.state).open.len()
    }

    /// Register a new connection; at the cap, close the longest-waiting one to make room, or
    /// mark the new one refused when every connection is busy.
    fn admit(&self) -> Arc<Connection> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let mut refused = false;
        if state.counted >= self.limits.max_connections {
            let oldest = state
                .open
                .values()
                .filter(|c| !c.refused && !c.closing.load(Ordering::Acquire))
                .filter_map(|c| {
                    let progress = lock(&c.progress);
                    (progress.busy == 0).then_some((progress.waiting_since, Arc::clone(c)))
                })
                .min_by_key(|(since, _)| *since);
            match oldest {
                Some((_, victim)) => {
                    Self::close_locked(&mut state, &victim);
                    state.evicted_since_warning += 1;
                }
                None => {
                    refused = true;
                    state.refused_since_warning += 1;
                }
            }
            self.warn_locked(&mut state, now);
        }
        state.next_id += 1;
        let connection = Arc::new(Connection {
            id: state.next_id,
            opened: now,
            refused,
            closing: AtomicBool::new(false),
            progress: Mutex::new(Progress { busy: 0, waiting_since: now, request_started: Some(now) }),
            reader: Mutex::new(None),
        });
        if !refused {
            state.counted += 1;
        }
        state.open.insert(connection.id, Arc::clone(&connection));
        connection
    }

    fn close_locked(state: &mut RegistryState, connection: &Connection) {
        if !connection.closing.swap(true, Ordering::AcqRel) && !connection.refused {
            state.counted -= 1;
        }
        connection.close();
    }

    fn remove(&self, connection: &Connection) {
        let mut state = lock(&self.state);
        Self::close_locked(&mut state, connection);
        state.open.remove(&connection.id);
    }

    fn warn_locked(&self, state: &mut RegistryState, now: Instant) {
        if state.last_warning.is_some_and(|last| now.duration_since(last) < WARNING_PERIOD) {
            return;
        }
        state.last_warning = Some(now);
        tracing::warn!(
            max_connections = self.limits.max_connections,
            open = state.open.len(),
            closed_waiting = state.evicted_since_warning,
            refused_busy = state.refused_since_warning,
            "connection limit reached: closed the longest-waiting connections to make room, and \
             answered 503 when every connection was busy (raise --max-connections and LimitNOFILE if \
             this is real traffic)"
        );
        state.evicted_since_warning = 0;
        state.refused_since_warning = 0;
    }

    /// Close the waiting connections past their deadline; returns how many.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let due: Vec<Arc<Connection>> = state
            .open
            .values()
            .filter(|c| !c.closing.load(Ordering::Acquire))
            .filter(|c| {
                let progress = lock(&c.progress);
                if progress.busy > 0 {
                    return false;
                }
                if c.refused {
                    return now.duration_since(c.opened) >= REFUSED_GRACE;
                }
                match progress.request_started {
                    Some(started) => now.duration_since(started) >= self.limits.header_timeout,
                    None => now.duration_since(progress.waiting_since) >= self.limits.idle_timeout,
                }
            })
            .cloned()
            .collect();
        for connection in &due {
            Self::close_locked(&mut state, connection);
        }
        due.len()
    }

    /// Sweep for ever, a few times per header timeout.
    pub async fn sweep_forever(self: Arc<Self>) {
        let period = (self.limits.header_timeout.min(self.limits.idle_timeout) / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let closed = self.sweep();
            if closed > 0 {
                tracing::debug!(closed, "closed connections past their header or idle deadline");
            }
        }
    }
}

/// The innermost acceptor: registers each TCP connection with the [`Registry`].
#[derive(Clone, Debug)]
pub struct LimitAcceptor {
    registry: Arc<Registry>,
}

impl LimitAcceptor {
    pub fn new(registry: Arc<Registry>) -> LimitAcceptor {
        LimitAcceptor { registry }
    }
}

impl<S> Accept<TcpStream, S> for LimitAcceptor {
    type Stream = LimitedStream;
    type Service = LimitedService<S>;
    type Future = std::future::Ready<io::Result<(LimitedStream, LimitedService<S>)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let connection = self.registry.admit();
        let stream =
            LimitedStream { inner: stream, connection: Arc::clone(&connection), registry: Arc::clone(&self.registry) };
        std::future::ready(Ok((stream, LimitedService { inner: service, connection })))
    }
}

/// A registered TCP connection; its reads end when the registry closes it.
#[derive(Debug)]
pub struct LimitedStream {
    inner: TcpStream,
    connection: Arc<Connection>,
    registry: Arc<Registry>,
}

impl Drop for LimitedStream {
    fn drop(&mut self) {
        self.registry.remove(&self.connection);
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.connection.closing.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        {
            let mut reader = lock(&this.connection.reader);
            if !reader.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                *reader = Some(cx.waker().clone());
            }
        }
        // Closed between the first check and the waker's registration.
        if this.connection.closing.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.connection.read_bytes();
        }
        result
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The application, seen from one connection: marks the connection busy while a request is
/// answered, and answers 503 on a refused connection.
#[derive(Clone, Debug)]
pub struct LimitedService<S> {
    inner: S,
    connection: Arc<Connection>,
}

impl<S, B> tower_service::Service<Request<B>> for LimitedService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if self.connection.refused {
            return Box::pin(std::future::ready(Ok(busy_response())));
        }
        let guard = self.connection.begin_request();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Body::new(GuardedBody { inner: body, _guard: guard })))
        })
    }
}

/// `503` with `Retry-After`, the JSON error body and `Connection: close`.
fn busy_response() -> Response<Body> {
    let body = ErrorBody {
        error: "server_busy".into(),
        message: format!(
            "The server has too many connections open right now; nothing was changed. Try again in \
             {RETRY_AFTER_SECS} seconds."
        ),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = Response::new(Body::from(json));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A response body that keeps its connection busy until it is sent.
struct GuardedBody {
    inner: Body,
    _guard: BusyGuard,
}

impl HttpBody for GuardedBody {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections,
            header_timeout: Duration::from_millis(50),
            idle_timeout: Duration::from_millis(200),
        }
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let registry = Registry::new(limits(2));
        let first = registry.admit();
        let second = registry.admit();
        let _busy = second.begin_request();
        let third = registry.admit();
        assert!(first.closing.load(Ordering::Acquire), "the waiting connection was closed");
        assert!(!second.closing.load(Ordering::Acquire) && !third.refused);
        let _also_busy = third.begin_request();
        let fourth = registry.admit();
        assert!(fourth.refused, "every connection busy: the new one is refused");
        registry.remove(&first);
        assert_eq!(registry.open_connections(), 3);
    }

    #[test]
    fn deadlines_close_only_waiting_connections() {
        let registry = Registry::new(limits(10));
        let silent = registry.admit();
        let busy = registry.admit();
        let guard = busy.begin_request();
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(registry.sweep(), 1);
        assert!(silent.closing.load(Ordering::Acquire));
        assert!(!busy.closing.load(Ordering::Acquire), "a busy connection has no header deadline");
        drop(guard);
        assert_eq!(lock(&busy.progress).busy, 0);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(registry.sweep(), 0, "after a response the idle deadline applies, not the header one");
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(registry.sweep(), 1);
    }
}
