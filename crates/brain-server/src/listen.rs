//! The HTTP listener: accepts connections (at most [`HttpSettings::max_connections`]), optionally speaks
//! TLS (rustls), and serves each connection with hyper's HTTP/1.1 + HTTP/2 builder with a header-read
//! timeout and an idle timeout, so that slow or silent clients cannot hold sockets forever.
//!
//! Owned here: [`HttpSettings`] (listener limits, host check, TLS files), the accept loop and the TLS
//! configuration. The per-request guards (Host check, request timeout, stream caps, failed-key limits)
//! are in `api/guard.rs`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How long shutdown waits for open connections (SSE streams included) before closing them.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Listener limits, the allowed `Host` names and TLS. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Host names (without port) the server answers to; others get 421. `None`: `localhost`,
    /// `127.0.0.1`, `[::1]` and the bind host. A `"*"` entry allows any host.
    pub allowed_hosts: Option<Vec<String>>,
    /// A client must send a request's headers within this time, or the connection is closed.
    pub header_read_timeout: Duration,
    /// A connection without a byte in either direction for this long is closed.
    pub idle_timeout: Duration,
    /// A request that is not an SSE stream or a WebSocket must be answered within this time (503
    /// `request_timeout` otherwise).
    pub request_timeout: Duration,
    /// Open connections at most; further ones are closed right after accept.
    pub max_connections: usize,
    /// Open SSE streams per API key at most (429 `too_many_streams` beyond).
    pub max_streams_per_key: usize,
    /// Open SSE streams in total at most (429 `too_many_streams` beyond).
    pub max_streams: usize,
    /// Failed key checks allowed per client address and minute before that address gets 429
    /// `too_many_failures`.
    pub auth_failures_per_minute: u32,
    /// Serve HTTPS with this certificate chain and key; `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            allowed_hosts: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_streams_per_key: 8,
            max_streams: 1000,
            auth_failures_per_minute: 20,
            tls: None,
        }
    }
}

/// PEM files of the server's TLS certificate chain (leaf first) and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Reads the PEM files into a rustls acceptor (TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`).
///
/// # Errors
/// A file cannot be read, holds no certificate or key, or the key does not fit the certificate.
pub(crate) fn tls_acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the TLS certificate {}", files.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("the TLS certificate file {} holds no certificate", files.cert.display());
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).with_context(|| format!("cannot read the TLS private key {}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS key does not match the certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets open connections
/// finish their requests for up to [`CLOSE_GRACE`] and closes the rest.
///
/// # Errors
/// None today: accept errors are logged and retried. (The signature keeps room for fatal ones.)
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &HttpSettings,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    let mut refused: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(%remote, refused, max = settings.max_connections, "connection limit reached: closing new connections");
            }
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = Conn {
            builder: builder.clone(),
            app: app.clone(),
            remote,
            idle: settings.idle_timeout,
            stop: stop.clone(),
            activity: Arc::new(Activity::new()),
        };
        let tls = tls.clone();
        let handshake_timeout = settings.header_read_timeout;
        connections.spawn(async move {
            let _permit = permit;
            let io = Tracked { inner: tcp, activity: conn.activity.clone() };
            match tls {
                None => conn.serve(io).await,
                Some(acceptor) => match tokio::time::timeout(handshake_timeout, acceptor.accept(io)).await {
                    Ok(Ok(stream)) => conn.serve(stream).await,
                    Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                },
            }
        });
    }
    stop.cancel();
    let drained = tokio::time::timeout(CLOSE_GRACE, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(open = connections.len(), "connections still open after the shutdown grace period: closing them");
        connections.abort_all();
    }
    Ok(())
}

/// One accepted connection.
struct Conn {
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    remote: SocketAddr,
    idle: Duration,
    stop: CancellationToken,
    activity: Arc<Activity>,
}

impl Conn {
    /// Serves requests (and upgrades) until the client leaves, the connection idles out or shutdown.
    async fn serve<I: AsyncRead + AsyncWrite + Unpin + Send + 'static>(self, io: I) {
        let Self { builder, app, remote, idle, stop, activity } = self;
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(req)
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
        tokio::pin!(conn);
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%remote, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = stop.cancelled(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = activity.idle_for(idle) => {
                    if closing {
                        // Asked to close once already and still silent: drop it.
                        return;
                    }
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a connection last moved a byte.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self { start: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        self.last_ms.store(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let deadline = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// An I/O stream that records activity on every byte read or written.
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
