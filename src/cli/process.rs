//! `tandemu process`: the processor role of a distributed deployment, Kafka into ClickHouse.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use clap::Args;
use tandemu_processor::runner::{self, KafkaSourceConfig};
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tokio::sync::watch;

use std::sync::Arc;

use sqlx::postgres::PgPoolOptions;
use tandemu_processor::retention::PolicyHandle;
use tandemu_query_api::directory::{Directory, PostgresDirectory};

use super::CliError;
use super::kafka_options::KafkaArgs;

/// How soon an organization's new retention override reaches the rows written.
const POLICY_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);
use super::store_args::{ClickHouseArgs, RunnerArgs};

#[derive(Debug, Args)]
pub struct ProcessArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// PostgreSQL as the service role (as for `tandemu query-api`), to read organizations'
    /// retention overrides, which new rows carry. Without it every row follows its table's default.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Address of /healthz, /readyz (ClickHouse answers) and Prometheus /metrics.
    #[arg(long, env = "TANDEMU_PROCESSOR_LISTEN", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
}

pub async fn run(args: ProcessArgs) -> Result<(), CliError> {
    let store = args.clickhouse.store()?;
    let url = args.clickhouse.url()?.to_owned();
    let pending = store.pending_migrations().await.map_err(|e| CliError::Usage(format!("ClickHouse at {url}: {e}")))?;
    if !pending.is_empty() {
        return Err(CliError::Usage(format!(
            "ClickHouse database {} lacks migrations {pending:?}: run `tandemu migrate` first",
            args.clickhouse.clickhouse_database
        )));
    }
    let store = match &args.database_url {
        Some(url) => {
            let pool = PgPoolOptions::new().max_connections(1).connect(url).await.map_err(|e| CliError::Usage(format!("PostgreSQL: {e}")))?;
            let directory: Arc<dyn Directory> = Arc::new(PostgresDirectory::new(pool));
            // Read once before the first batch, so no row is stamped before the overrides are known.
            let policy = PolicyHandle::new(directory.retention_policy().await.map_err(|e| CliError::Usage(format!("retention policy: {e}")))?);
            super::retention::spawn_policy_refresher(directory, policy.clone(), POLICY_REFRESH);
            store.with_policy(policy)
        }
        None => {
            eprintln!("  no --database-url: organizations' retention overrides are not applied (every row follows its table's default)");
            store
        }
    };
    let cfg = args.runner.config();
    let overrides = args.kafka.options()?;
    let kafka = KafkaSourceConfig { brokers: args.kafka.kafka_brokers.clone(), topic: args.kafka.kafka_topic.clone(), overrides };
    eprintln!(
        "tandemu {} — processor (group {}, Kafka topic {} at {}, ClickHouse {} database {})",
        env!("CARGO_PKG_VERSION"),
        cfg.group,
        kafka.topic,
        kafka.brokers,
        url,
        args.clickhouse.clickhouse_database
    );
    let ops = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| CliError::Usage(format!("cannot listen for /metrics on {}: {e}", args.listen)))?;
    eprintln!("  health and metrics on http://{}", ops.local_addr()?);
    let app = ops_router(store.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(ops, app).await {
            tracing::error!(error = %e, "processor ops server failed");
        }
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut work = tokio::spawn(async move { runner::run_kafka(&kafka, &store, &cfg, stop_rx).await });
    let result = tokio::select! {
        r = &mut work => r,
        _ = super::shutdown_signal() => {
            eprintln!("stopping: finishing the batch in hand…");
            let _ = stop_tx.send(true);
            work.await
        }
    };
    match result {
        Ok(Ok(n)) => {
            eprintln!("stopped after {n} records");
            Ok(())
        }
        Ok(Err(e)) => Err(CliError::Usage(e.to_string())),
        Err(e) => Err(CliError::Usage(format!("processor task: {e}"))),
    }
}

/// `/healthz` (the process runs), `/readyz` (ClickHouse answers), `/metrics` (Prometheus).
fn ops_router(store: ClickHouseStore) -> Router {
    let metrics = tandemu_ingest::server::metrics_handle();
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let store = store.clone();
                async move {
                    match store.ping().await {
                        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
                        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("ClickHouse: {e}\n")),
                    }
                }
            }),
        )
        .route("/metrics", get(move || std::future::ready(metrics.as_ref().map(|h| h.render()).unwrap_or_default())))
}
