//! `tandemu ingest`: the ingest role of a distributed deployment, appending to Kafka.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tandemu_ingest::log::{KafkaLog, KafkaLogConfig};
use tandemu_ingest::{Pipeline, server};

use super::CliError;
use super::ingest_args::IngestArgs;
use super::kafka_options::KafkaArgs;

#[derive(Debug, Args)]
pub struct IngestCmdArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// How long the brokers may take to acknowledge a batch before the client is told to retry.
    #[arg(long, env = "TANDEMU_KAFKA_DELIVERY_TIMEOUT", default_value = "8s", value_parser = humantime::parse_duration)]
    pub kafka_delivery_timeout: Duration,
    /// Secret for HS256 tokens; required (32 bytes or more).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    #[command(flatten)]
    pub ingest: IngestArgs,
}

pub async fn run(args: IngestCmdArgs) -> Result<(), CliError> {
    let secret = super::secret::for_distributed(args.jwt_secret.as_deref())?;
    let cfg = KafkaLogConfig {
        delivery_timeout: args.kafka_delivery_timeout,
        overrides: args.kafka.options()?,
        ..KafkaLogConfig::new(&args.kafka.kafka_brokers, &args.kafka.kafka_topic)
    };
    let log = KafkaLog::connect(cfg).map_err(|e| CliError::Usage(e.to_string()))?;
    let pipeline = Arc::new(Pipeline::new(Arc::new(log), args.ingest.verifier(&secret)?, args.ingest.config()));
    let running = server::start(pipeline).await?;
    eprintln!("tandemu {} — ingest (Kafka topic {} at {})", env!("CARGO_PKG_VERSION"), args.kafka.kafka_topic, args.kafka.kafka_brokers);
    eprintln!("  OTLP/gRPC   http://{}", running.grpc_addr);
    eprintln!("  OTLP/HTTP   http://{}  (also /healthz, /readyz, /metrics)", running.http_addr);
    super::shutdown_signal().await;
    eprintln!("stopping: finishing requests in flight…");
    running.shutdown().await;
    Ok(())
}
