//! The HTTP server loop: hyper's HTTP/1.1 connections with the limits axum's `serve` does not
//! expose, on a runtime of its own ([`serve_apart`]) so that the probes answered from memory never
//! wait for a worker busy decoding a broker's answer. A connection cap (a connection over it is closed at once, so a flood cannot exhaust
//! file descriptors or memory), a header-read timeout (a slow or idle client that never finishes
//! its request head is dropped), and a graceful stop: idle connections close, requests in flight
//! finish within a bound.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::tls::ListenTls;

#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Time a client has to send a complete request head.
    pub header_read_timeout: Duration,
    /// How long requests in flight may take to finish after the stop signal.
    pub drain: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        // Under the usual 1,024 open-file limit, with room for the broker connections and logs.
        ServerLimits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(2),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true; over TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ListenTls>>,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => break,
            accepted = listener.accept() => accepted,
            // Reap finished connections as we go, so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors (or a similar resource): back off instead of spinning.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; pausing 50 ms");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!("connection cap reached; closing a new connection");
            continue;
        };
        let (app, stop, tls) = (app.clone(), stop.clone(), tls.clone());
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(stream, app, limits, stop).await,
                // The handshake has the same bound as a request head.
                Some(tls) => {
                    match tokio::time::timeout(limits.header_read_timeout, tls.acceptor().accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, app, limits, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake with an HTTP client failed"),
                        Err(_) => tracing::debug!("an HTTP client did not finish its TLS handshake in time"),
                    }
                }
            }
        });
    }
    let drained = tokio::time::timeout(limits.drain, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        connections.abort_all();
    }
}

async fn connection<S>(stream: S, app: Router, limits: ServerLimits, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = async { stop.wait_for(|s| *s).await.is_ok() } => {
            // Idle connections close now; a request in flight gets its answer first.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Serves each (listener, app) pair on a single-threaded runtime in a thread of its own until
/// `stop` turns true; the thread ends when every server has stopped. The kubelet's and
/// KubeBlocks' probes then never queue behind the worker runtime's work (16 MiB broker bodies
/// decoded by a metrics refresh or a scan): the routes with work hand it to the workers
/// (`layers::on_workers`), the rest answer here.
pub fn serve_apart(
    servers: Vec<(TcpListener, Router, Option<Arc<ListenTls>>)>,
    limits: ServerLimits,
    stop: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // A tokio listener belongs to the runtime that made it: move it over as a std one.
    let servers = servers
        .into_iter()
        .map(|(listener, app, tls)| Ok((listener.into_std()?, app, tls)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("http".into()).spawn(move || {
        runtime.block_on(async move {
            let mut running = JoinSet::new();
            for (listener, app, tls) in servers {
                match TcpListener::from_std(listener) {
                    Ok(listener) => drop(running.spawn(serve(listener, app, tls, limits, stop.clone()))),
                    Err(e) => tracing::error!(error = %e, "cannot serve a listener on the HTTP runtime"),
                }
            }
            while running.join_next().await.is_some() {}
        })
    })
}
