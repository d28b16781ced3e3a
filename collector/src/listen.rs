//! What stands between a TCP connection and the services, on both the gRPC and the HTTP port:
//! connections held before they send anything useful are closed, and no client can take all of
//! the collector's connections (or file descriptors).
//!
//! - **Admission** ([`Gate`]): a cap on open connections in total and per source address, shared
//!   by both ports (they draw on one file descriptor table). A connection over a cap is closed at
//!   once, before any TLS or HTTP work.
//! - **Handshake deadline**: a connection must finish its TLS handshake, HTTP/2 preface (or HTTP/1
//!   request line) and the headers of its first request within `handshake_timeout`; idle, half
//!   preface and slowloris connections end there ([`Guarded`]).
//! - **Idle timeout**: a connection that moves no byte either way for `idle_timeout` is closed (the
//!   gRPC side pings every 60 s, so a live agent always answers in time).
//! - **Accept errors back off** (10 ms doubling to 1 s): at the file descriptor limit `accept`
//!   fails at once, and retrying at once would spin a core; the log line is rate-limited.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use crate::throttle::LogThrottle;

/// The connection limits of both listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From accept to the headers of the first request (TLS handshake included).
    pub handshake_timeout: Duration,
    /// Longest a connection may move no byte in either direction.
    pub idle_timeout: Duration,
    /// Open connections in total, both ports together.
    pub max_connections: usize,
    /// Open connections from one source address, both ports together.
    pub max_connections_per_source: usize,
}

/// Connections kept free for the database, the log and the listeners themselves.
const RESERVED_DESCRIPTORS: usize = 64;

/// The default cap on connections when the descriptor limit cannot be read.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The default cap never goes above this, however high the descriptor limit (memory).
const MAX_DEFAULT_CONNECTIONS: usize = 65_536;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: default_max_connections(open_file_limit()),
            max_connections_per_source: 64,
        }
    }
}

/// The process's soft limit on open files (Linux: `/proc/self/limits`); `None` elsewhere or if
/// unlimited.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&text)
}

/// The soft "Max open files" value of a `/proc/<pid>/limits` text.
fn parse_open_file_limit(text: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// The default total cap: below the descriptor limit, so `accept` keeps working and the store
/// can still open files however many clients connect.
fn default_max_connections(file_limit: Option<usize>) -> usize {
    match file_limit {
        Some(limit) => limit.saturating_sub(RESERVED_DESCRIPTORS).max(limit / 2).clamp(1, MAX_DEFAULT_CONNECTIONS),
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64 (a client usually holds a
/// whole /64 and could otherwise take a new address per connection).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() && !v6.is_loopback() => {
            IpAddr::V6(std::net::Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1)))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Admission control: counts open connections per source address and in total.
#[derive(Debug)]
pub struct Gate {
    limits: ConnectionLimits,
    total: AtomicUsize,
    per_source: Mutex<HashMap<IpAddr, usize>>,
    refused: AtomicUsize,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    source: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.total.fetch_sub(1, Ordering::Relaxed);
        let mut sources = self.gate.per_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = sources.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                sources.remove(&self.source);
            }
        }
    }
}

impl Gate {
    /// A gate enforcing `limits`.
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            total: AtomicUsize::new(0),
            per_source: Mutex::default(),
            refused: AtomicUsize::new(0),
        })
    }

    /// The limits this gate enforces.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Connections refused so far because a cap was reached.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    /// Admits a connection from `source`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Option<Permit> {
        let source = source_key(source);
        let mut sources = self.per_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let from_source = sources.get(&source).copied().unwrap_or(0);
        if from_source >= self.limits.max_connections_per_source
            || self.total.load(Ordering::Relaxed) >= self.limits.max_connections
        {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        sources.insert(source, from_source + 1);
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Permit { gate: self.clone(), source })
    }
}

/// What a guarded connection tells the services about itself (gRPC: a request extension, also
/// inside `TlsConnectInfo`).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address.
    pub remote: SocketAddr,
    /// Set when the first request reaches a service: the handshake deadline no longer applies.
    served: Arc<AtomicBool>,
}

impl Peer {
    /// Marks the connection as having delivered a request.
    pub fn mark_served(&self) {
        self.served.store(true, Ordering::Relaxed);
    }
}

/// A TCP connection with the handshake deadline and the idle timeout of [`ConnectionLimits`].
#[derive(Debug)]
pub struct Guarded {
    stream: TcpStream,
    peer: Peer,
    handshake: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    /// When a byte last moved; the idle timer is re-armed from it only when it fires.
    last_progress: Instant,
    _permit: Permit,
}

impl Guarded {
    fn new(stream: TcpStream, remote: SocketAddr, permit: Permit, limits: &ConnectionLimits) -> Self {
        let now = Instant::now();
        Self {
            stream,
            peer: Peer { remote, served: Arc::default() },
            handshake: Box::pin(tokio::time::sleep_until(now + limits.handshake_timeout)),
            idle: Box::pin(tokio::time::sleep_until(now + limits.idle_timeout)),
            idle_timeout: limits.idle_timeout,
            last_progress: now,
            _permit: permit,
        }
    }

    /// The connection's [`Peer`].
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Called when the stream has nothing to give: fails the connection once a deadline passed
    /// (the timers' wakers are registered with the same task, so an idle peer is still noticed).
    fn check_deadlines(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        if !self.peer.served.load(Ordering::Relaxed) && self.handshake.as_mut().poll(cx).is_ready() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no complete request within the handshake timeout",
            ));
        }
        while self.idle.as_mut().poll(cx).is_ready() {
            let due = self.last_progress + self.idle_timeout;
            if due <= Instant::now() {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connection idle"));
            }
            self.idle.as_mut().reset(due);
        }
        Ok(())
    }
}

impl AsyncRead for Guarded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.last_progress = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                self.check_deadlines(cx)?;
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, data) {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    self.last_progress = Instant::now();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                // A peer that stops reading holds the connection no longer than an idle one.
                self.check_deadlines(cx)?;
                Poll::Pending
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Ready(written) => {
                if written.as_ref().is_ok_and(|n| *n > 0) {
                    self.last_progress = Instant::now();
                }
                Poll::Ready(written)
            }
            Poll::Pending => {
                self.check_deadlines(cx)?;
                Poll::Pending
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

/// The first back-off after a failed `accept`, doubled up to [`MAX_ACCEPT_BACKOFF`].
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts connections from `listener` through `gate`: connections over a cap are closed at
/// once, failed accepts back off. Never ends and never yields an error (a yielded error would
/// end tonic's accept loop).
pub fn incoming(
    listener: TcpListener,
    gate: Arc<Gate>,
    port: &'static str,
) -> impl futures_util::Stream<Item = Result<Guarded, std::io::Error>> + Send + 'static {
    let state = (listener, gate, LogThrottle::new(Duration::from_secs(10)), FIRST_ACCEPT_BACKOFF);
    futures_util::stream::unfold(state, move |(listener, gate, mut log, mut backoff)| async move {
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => {
                    backoff = FIRST_ACCEPT_BACKOFF;
                    let Some(permit) = gate.admit(remote.ip()) else {
                        if let Some(suppressed) = log.allow("connection cap") {
                            tracing::warn!(
                                %remote, port, suppressed,
                                max_connections = gate.limits.max_connections,
                                max_connections_per_source = gate.limits.max_connections_per_source,
                                "connection refused: too many open connections (in total or from this address)"
                            );
                        }
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let guarded = Guarded::new(stream, remote, permit, &gate.limits);
                    return Some((Ok(guarded), (listener, gate, log, backoff)));
                }
                Err(error) => {
                    if let Some(suppressed) = log.allow(&error.kind().to_string()) {
                        tracing::error!(
                            %error, port, suppressed, backoff = ?backoff,
                            "accepting a connection failed (at the open file limit?); backing off"
                        );
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                }
            }
        }
    })
}

/// Marks the connection as served when a request reaches the service, so the handshake deadline
/// stops applying (the gRPC server's layer; the HTTP side marks in its own loop).
#[derive(Debug, Clone)]
pub struct MarkServed<S>(pub S);

impl<S, B> tonic::codegen::Service<http::Request<B>> for MarkServed<S>
where
    S: tonic::codegen::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(peer) = peer_of(request.extensions()) {
            peer.mark_served();
        }
        self.0.call(request)
    }
}

/// The [`Peer`] of a request, over TLS or not.
pub fn peer_of(extensions: &http::Extensions) -> Option<&Peer> {
    extensions
        .get::<Peer>()
        .or_else(|| extensions.get::<tonic::transport::server::TlsConnectInfo<Peer>>().map(|tls| tls.get_ref()))
}

/// The layer adding [`MarkServed`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkServedLayer;

impl<S> tower_layer::Layer<S> for MarkServedLayer {
    type Service = MarkServed<S>;

    fn layer(&self, inner: S) -> MarkServed<S> {
        MarkServed(inner)
    }
}

/// Serves `router` over HTTP on `listener` (HTTPS with `tls`: HTTP/2 and HTTP/1.1 by ALPN)
/// through `gate`, until `shutdown` completes; then stops accepting and lets each open connection
/// finish its requests in flight. HTTP/1 request headers must arrive within the handshake
/// timeout on every request of a connection, not only the first.
pub async fn serve_http(
    listener: TcpListener,
    gate: Arc<Gate>,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use futures_util::StreamExt as _;
    use hyper_util::rt::{TokioExecutor, TokioTimer};

    let limits = gate.limits();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.handshake_timeout);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(64);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let incoming = incoming(listener, gate, "http");
    tokio::pin!(incoming, shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(Ok(connection)) = incoming.next() => {
                let task = serve_http_connection(connection, acceptor.clone(), builder.clone(), router.clone(), stop_rx.clone());
                connections.spawn(task);
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Dropping the stream closes the listening socket: new clients are refused, not left hanging.
    drop(incoming);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

type HttpBuilder = hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>;

async fn serve_http_connection(
    connection: Guarded,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    builder: HttpBuilder,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let peer = connection.peer().clone();
    let remote = peer.remote;
    let service = hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
        peer.mark_served();
        request.extensions_mut().insert(peer.clone());
        let mut router = router.clone();
        async move { tonic::codegen::Service::call(&mut router, request).await }
    });
    let io: Box<dyn Io> = match acceptor {
        None => Box::new(connection),
        Some(acceptor) => {
            let handshake = tokio::select! {
                handshake = acceptor.accept(connection) => handshake,
                () = stopped(&mut stop) => return,
            };
            match handshake {
                Ok(tls) => Box::new(tls),
                // Scanners, plain HTTP sent to the HTTPS port and clients that distrust the
                // certificate: worth a debug line, not an error.
                Err(error) => {
                    tracing::debug!(%error, %remote, "HTTPS handshake failed");
                    return;
                }
            }
        }
    };
    let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        // On shutdown the connection takes no new request and finishes those in flight.
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %remote, "HTTP connection ended with an error");
    }
}

/// Completes once `stop` says the server stops (the watch's guard is not held across awaits).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await.map(|_| ());
}

/// A connection's byte stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_stays_below_the_descriptor_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_file_limit(limits), Some(1024));
        assert_eq!(parse_open_file_limit("Max open files  unlimited unlimited files"), None);
        assert_eq!(parse_open_file_limit("nothing"), None);
        assert_eq!(default_max_connections(Some(1024)), 960);
        assert_eq!(default_max_connections(Some(100)), 50);
        assert_eq!(default_max_connections(Some(10)), 5);
        assert_eq!(default_max_connections(Some(1_048_576)), MAX_DEFAULT_CONNECTIONS);
        assert_eq!(default_max_connections(Some(0)), 1);
        assert_eq!(default_max_connections(None), DEFAULT_MAX_CONNECTIONS);
    }

    #[test]
    fn the_gate_caps_each_source_and_the_total_and_frees_on_drop() {
        let gate = Gate::new(ConnectionLimits {
            max_connections: 3,
            max_connections_per_source: 2,
            ..ConnectionLimits::default()
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "a third from one source");
        let _third = gate.admit(b).unwrap();
        assert!(gate.admit("127.0.0.4".parse().unwrap()).is_none(), "a fourth in total");
        assert_eq!(gate.refused(), 2);
        drop(first);
        assert!(gate.admit(a).is_some(), "a freed place is reusable");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let key = |s: &str| source_key(s.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::");
        assert_eq!(key("::ffff:10.0.0.7"), "10.0.0.7");
        assert_eq!(key("::1"), "::1");
        assert_eq!(key("192.0.2.1"), "192.0.2.1");
    }

    fn short_limits() -> ConnectionLimits {
        ConnectionLimits {
            handshake_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(300),
            max_connections: 8,
            max_connections_per_source: 8,
        }
    }

    #[tokio::test]
    async fn a_silent_connection_ends_at_the_handshake_deadline_and_a_served_one_when_idle() {
        use futures_util::StreamExt as _;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let gate = Gate::new(short_limits());
        let mut accepted = Box::pin(incoming(listener, gate.clone(), "test"));

        let _silent = TcpStream::connect(address).await.unwrap();
        let mut connection = accepted.next().await.unwrap().unwrap();
        let error = connection.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(error.to_string(), "no complete request within the handshake timeout");

        // Served: the handshake deadline no longer applies (it is long past when this fails);
        // silence ends the connection at the idle timeout.
        let mut client = TcpStream::connect(address).await.unwrap();
        let mut served = accepted.next().await.unwrap().unwrap();
        served.peer().mark_served();
        client.write_all(b"x").await.unwrap();
        assert_eq!(served.read(&mut [0u8; 8]).await.unwrap(), 1);
        let error = served.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(error.to_string(), "connection idle");
        assert_eq!(gate.total.load(Ordering::Relaxed), 2);
        drop((connection, served));
        assert_eq!(gate.total.load(Ordering::Relaxed), 0, "places are freed with the connections");
    }
}
