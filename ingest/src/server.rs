//! Starting and stopping ingest: both listeners, the metrics recorder, graceful shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::pipeline::Pipeline;

/// The process-wide Prometheus recorder (a recorder can be installed once per process).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "Prometheus metrics recorder not installed");
                None
            }
        })
        .clone()
}

/// A running ingest: its bound addresses, and a way to stop it.
pub struct RunningIngest {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningIngest {
    /// Stops accepting, lets requests in flight finish (they are acknowledged only once
    /// durable), and returns when both listeners are closed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds both listeners (port 0 picks a free one) and serves until `shutdown`.
pub async fn start(pipeline: Arc<Pipeline>) -> std::io::Result<RunningIngest> {
    let cfg = pipeline.config().clone();
    let http_listener = TcpListener::bind(cfg.http_addr).await.map_err(|e| bind_error("OTLP/HTTP", cfg.http_addr, e))?;
    let grpc_listener = TcpListener::bind(cfg.grpc_addr).await.map_err(|e| bind_error("OTLP/gRPC", cfg.grpc_addr, e))?;
    let http_addr = http_listener.local_addr()?;
    let grpc_addr = grpc_listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);

    let app = crate::http::router(pipeline.clone(), metrics_handle());
    let mut rx = stopped.clone();
    let http = tokio::spawn(async move {
        let serve = axum::serve(http_listener, app).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "OTLP/HTTP server failed");
        }
    });

    let routes = crate::grpc::routes(pipeline);
    let mut rx = stopped;
    let grpc = tokio::spawn(async move {
        let incoming = tokio_stream_from(grpc_listener);
        let serve = tonic::transport::Server::builder().timeout(cfg.request_timeout).add_routes(routes).serve_with_incoming_shutdown(incoming, async move {
            let _ = rx.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "OTLP/gRPC server failed");
        }
    });
    Ok(RunningIngest { grpc_addr, http_addr, stop, tasks: vec![http, grpc] })
}

fn tokio_stream_from(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

fn bind_error(what: &str, addr: SocketAddr, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot listen for {what} on {addr}: {e}"))
}
