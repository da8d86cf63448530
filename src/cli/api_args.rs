//! Flags of the query API, and starting it.

use clap::Args;
use std::net::SocketAddr;
use tandemu_query_api::{ApiConfig, ApiState};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::CliError;

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Query API listen address (aggregates under /v1, and /healthz, /readyz, /metrics).
    #[arg(long, env = "TANDEMU_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub api_listen: SocketAddr,
    /// Browser origins allowed to call the API (CORS), comma-separated. None by default.
    #[arg(long, env = "CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
}

pub struct RunningApi {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningApi {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl ApiArgs {
    pub async fn start(&self, state: ApiState) -> Result<RunningApi, CliError> {
        let cfg = ApiConfig::with_cors_origins(&self.cors_origin).map_err(CliError::Usage)?;
        let listener = tokio::net::TcpListener::bind(self.api_listen)
            .await
            .map_err(|e| CliError::Usage(format!("cannot listen for the query API on {}: {e}", self.api_listen)))?;
        let addr = listener.local_addr()?;
        let app = tandemu_query_api::router(state, &cfg);
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "query API server failed");
            }
        });
        Ok(RunningApi { addr, stop, task })
    }
}
