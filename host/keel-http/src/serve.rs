//! Serving the router on a TCP listener, with a bound on how long a request
//! head may take to arrive.
//! It also gives the agent its stop signal (SIGINT or SIGTERM).
//!
//! `axum::serve` builds hyper connections without a timer, and without one
//! hyper's header read timeout never fires: a client that sends half a
//! request line holds its connection forever. This loop is axum's, with the
//! timer set.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long connections still open at shutdown may take to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish their requests (for at most [`DRAIN_TIMEOUT`]). A
/// connection whose request head is not complete `head_timeout` after it
/// started is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    head_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(head_timeout);
    // Every connection holds a receiver: the sender sees them all closed
    // when the last connection has ended.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors passes; spinning on it
                    // would not help it pass.
                    tracing::warn!(%error, "accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let builder = builder.clone();
        let service = TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => return log_end(result, remote),
                _ = stop.changed() => connection.as_mut().graceful_shutdown(),
            }
            log_end(connection.await, remote);
        });
    }
    drop(listener);
    drop(stop_rx);
    // Sending fails only when no connection is open, which is fine.
    let _ = stop_tx.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, stop_tx.closed()).await.is_err() {
        tracing::warn!("HTTP connections still open at shutdown were cut off");
    }
    Ok(())
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>, remote: std::net::SocketAddr) {
    if let Err(error) = result {
        tracing::debug!(%error, %remote, "HTTP connection ended");
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
