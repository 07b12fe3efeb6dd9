//! Serving: HTTPS on one socket, and on another a plain-HTTP listener whose only answer is
//! a permanent redirect to the HTTPS public URL. Behind reverse proxies that end TLS, a
//! third socket may serve the whole application over plain HTTP to those proxies alone:
//! any other peer's connection is closed before a byte is read. Responses there are the
//! HTTPS ones (HSTS, `Secure` cookies), since browsers reach them over the proxy's HTTPS.
//! Shutdown drains in-flight requests.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Redirect;
use axum_server::Handle;
use axum_server::accept::Accept;
use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use tokio::net::TcpStream;

use crate::forwarded::TrustedProxies;

pub struct ServeOptions {
    /// Where the plain-HTTP listener sends everyone, without a trailing slash.
    pub public_url: String,
    pub tls: Arc<ServerConfig>,
    /// How long shutdown waits for in-flight requests.
    pub drain: Duration,
}

/// The sockets, bound (so their real ports are known) but not serving yet.
pub struct Bound {
    https: TcpListener,
    http: Option<TcpListener>,
    /// Plain HTTP for the trusted reverse proxies only.
    proxy_http: Option<(TcpListener, TrustedProxies)>,
}

impl Bound {
    pub fn bind(listen: SocketAddr, http_listen: Option<SocketAddr>) -> io::Result<Self> {
        let https = TcpListener::bind(listen)?;
        let http = http_listen.map(TcpListener::bind).transpose()?;
        for listener in std::iter::once(&https).chain(&http) {
            listener.set_nonblocking(true)?;
        }
        Ok(Self { https, http, proxy_http: None })
    }

    /// Also binds `listen` to serve the whole application over plain HTTP to `proxies`.
    pub fn with_proxy_http(mut self, listen: SocketAddr, proxies: TrustedProxies) -> io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        self.proxy_http = Some((listener, proxies));
        Ok(self)
    }

    pub fn https_addr(&self) -> io::Result<SocketAddr> {
        self.https.local_addr()
    }

    pub fn http_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.http.as_ref().map(TcpListener::local_addr).transpose()
    }

    pub fn proxy_http_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.proxy_http.as_ref().map(|(listener, _)| listener.local_addr()).transpose()
    }

    /// Serves until `shutdown` resolves, then stops accepting and waits up to the drain
    /// time for in-flight requests.
    pub async fn run(
        self,
        app: Router,
        options: ServeOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let handle: Handle<SocketAddr> = Handle::new();
        let drain = options.drain;
        let (stop_redirects, redirects_stopped) = tokio::sync::watch::channel(false);
        let signal_handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests");
            signal_handle.graceful_shutdown(Some(drain));
            let _ = stop_redirects.send(true);
        });

        let redirect = match self.http {
            Some(listener) => {
                let router =
                    Router::new().fallback(redirect_to_https).with_state(Arc::new(options.public_url));
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let mut stopped = redirects_stopped;
                Some(tokio::spawn(async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        })
                        .await
                }))
            }
            None => None,
        };

        // Drained with the HTTPS listener: the same handle stops both.
        let proxied = match self.proxy_http {
            Some((listener, proxies)) => {
                let server = axum_server::from_tcp(listener)?
                    .acceptor(ProxiesOnly(Arc::new(proxies)))
                    .handle(handle.clone())
                    .serve(app.clone().into_make_service_with_connect_info::<SocketAddr>());
                Some(tokio::spawn(server))
            }
            None => None,
        };

        let https = axum_server::from_tcp_rustls(self.https, RustlsConfig::from_config(options.tls))?
            .handle(handle)
            .serve(app.into_make_service_with_connect_info::<SocketAddr>());
        let served = https.await;
        if let Some(redirect) = redirect {
            redirect.await.map_err(io::Error::other)??;
        }
        if let Some(proxied) = proxied {
            proxied.await.map_err(io::Error::other)??;
        }
        served
    }
}

/// Lets through connections from trusted proxies only; any other is closed unanswered.
#[derive(Clone)]
struct ProxiesOnly(Arc<TrustedProxies>);

impl<S> Accept<TcpStream, S> for ProxiesOnly {
    type Stream = TcpStream;
    type Service = S;
    type Future = std::future::Ready<io::Result<(TcpStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        std::future::ready(match stream.peer_addr() {
            Ok(peer) if self.0.contains(peer.ip()) => Ok((stream, service)),
            Ok(peer) => {
                // At debug: anyone who reaches the port could otherwise fill the log.
                tracing::debug!(peer = %peer.ip(), "closed a plain-HTTP connection from outside the trusted proxies");
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "not a trusted proxy"))
            }
            Err(err) => Err(err),
        })
    }
}

async fn redirect_to_https(State(public_url): State<Arc<String>>, request: Request) -> Redirect {
    let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    Redirect::permanent(&format!("{public_url}{path}"))
}

/// A future that resolves on SIGTERM or Ctrl-C. The handlers are installed now, before
/// the caller announces readiness, so an early SIGTERM is never missed.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
