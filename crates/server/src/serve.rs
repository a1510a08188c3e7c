//! Serving the API over HTTP or HTTPS, with graceful shutdown on SIGTERM or SIGINT.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum_server::Handle;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::api::{self, AppState, Limits};
use crate::connections::{ConnectionLimits, LimitAcceptor, Registry};
use crate::metrics::MetricsAccess;
use crate::store::Store;

/// Certificate chain and private key files (PEM).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where `/metrics` is served: on the public listener with a token, on a loopback listener of
/// its own, both, or (neither given) nowhere.
#[derive(Clone, Debug, Default)]
pub struct MetricsOptions {
    pub token: Option<String>,
    pub listen: Option<SocketAddr>,
}

/// How long in-flight requests may take to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(30);

/// Headers hyper itself accepts per HTTP/1.1 request; above it answers a bare 431. The API's
/// own, lower limit ([`api::MAX_HEADERS`]) answers a JSON 431 first.
const HYPER_MAX_HEADERS: usize = 2 * api::MAX_HEADERS;

/// Serve until SIGTERM/SIGINT. In-flight requests finish (so a push being committed is
/// answered), new connections are refused. Prints the bound address on stdout once listening.
pub async fn serve(
    store: Arc<dyn Store>,
    listen: SocketAddr,
    tls: Option<TlsFiles>,
    limits: Limits,
    metrics: MetricsOptions,
    connections: ConnectionLimits,
) -> anyhow::Result<()> {
    let access = match metrics.token.as_deref() {
        Some(token) => MetricsAccess::Token(crate::metrics::MetricsToken::new(token)),
        None => MetricsAccess::Hidden,
    };
    let state = AppState::new(store, &limits, access);
    let handle = Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    let mut metrics_bound = None;
    if let Some(address) = metrics.listen {
        anyhow::ensure!(
            address.ip().is_loopback(),
            "--metrics-listen must be a loopback address (127.0.0.1:PORT or [::1]:PORT), not {address}: \
             to read the metrics from another machine, set --metrics-token instead"
        );
        let listener = std::net::TcpListener::bind(address)
            .with_context(|| format!("could not listen for metrics on {address}"))?;
        let bound = listener.local_addr()?;
        let app = api::metrics_router(AppState { metrics_access: MetricsAccess::Open, ..state.clone() });
        // No graceful shutdown needed: it stops with the process, once the API has drained.
        let server = axum_server::from_tcp(listener).serve(app.into_make_service());
        tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
        metrics_bound = Some(bound);
    }
    let app = api::router(state, limits);
    let registry = Arc::new(Registry::new(connections));
    tokio::spawn(Arc::clone(&registry).sweep_forever());
    tracing::info!(
        max_connections = connections.max_connections,
        header_timeout_secs = connections.header_timeout.as_secs_f64(),
        idle_timeout_secs = connections.idle_timeout.as_secs_f64(),
        "connection limits"
    );

    let scheme = if tls.is_some() { "https" } else { "http" };
    let announce = {
        let handle = handle.clone();
        async move {
            if let Some(address) = handle.listening().await {
                // A closed stdout (`| head` that went away) must not stop the server.
                let _ = writeln!(std::io::stdout().lock(), "harbour-server listening on {scheme}://{address}");
                tracing::info!(%address, scheme, "listening");
                if let Some(bound) = metrics_bound {
                    // Whoever read the first line may have closed stdout since: not a panic.
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stdout(), "harbour-server metrics on http://{bound}/metrics");
                    tracing::info!(address = %bound, "metrics listening");
                }
            }
        }
    };
    tokio::spawn(announce);

    // With the peer address, so failed invitation redemptions are limited per client too.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let limiter = LimitAcceptor::new(registry);
    let mut server = axum_server::bind(listen).handle(handle);
    server.http_builder().http1().max_headers(HYPER_MAX_HEADERS);
    match tls {
        Some(files) => {
            let config = RustlsConfig::from_config(Arc::new(tls_config(&files)?));
            let acceptor = RustlsAcceptor::new(config).handshake_timeout(connections.header_timeout).acceptor(limiter);
            server.acceptor(acceptor).serve(service).await
        }
        None => server.acceptor(limiter).serve(service).await,
    }
    .with_context(|| format!("could not serve on {listen}"))?;
    tracing::info!("stopped");
    Ok(())
}

fn tls_config(files: &TlsFiles) -> anyhow::Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("could not read the certificate {}", files.cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("the certificate {} is not valid PEM", files.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("could not read the private key {}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and private key do not form a usable pair")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

async fn shutdown_on_signal(handle: Handle) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
    handle.graceful_shutdown(Some(DRAIN));
}
