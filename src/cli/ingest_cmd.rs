//! `tandemu ingest`: the ingest role of a distributed deployment, appending to Kafka.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tandemu_ingest::log::{KafkaLog, KafkaLogConfig};
use tandemu_ingest::{Pipeline, server};

use super::CliError;
use super::ingest_args::IngestArgs;

#[derive(Debug, Args)]
pub struct IngestCmdArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "TANDEMU_KAFKA_BROKERS")]
    pub kafka_brokers: String,
    /// The event log topic.
    #[arg(long, env = "TANDEMU_KAFKA_TOPIC", default_value = "tandemu.events")]
    pub kafka_topic: String,
    /// How long the brokers may take to acknowledge a batch before the client is told to retry.
    #[arg(long, env = "TANDEMU_KAFKA_DELIVERY_TIMEOUT", default_value = "8s", value_parser = humantime::parse_duration)]
    pub kafka_delivery_timeout: Duration,
    /// Extra librdkafka producer settings, `KEY=VALUE`, repeatable (e.g. `--kafka-option
    /// linger.ms=5`). Acknowledgement settings (acks, idempotence, timeouts) cannot be changed.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    pub kafka_options: Vec<String>,
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
        overrides: super::kafka_options::parse(&args.kafka_options)?,
        ..KafkaLogConfig::new(&args.kafka_brokers, &args.kafka_topic)
    };
    let log = KafkaLog::connect(cfg).map_err(|e| CliError::Usage(e.to_string()))?;
    let pipeline = Arc::new(Pipeline::new(Arc::new(log), args.ingest.verifier(&secret)?, args.ingest.config()));
    let running = server::start(pipeline).await?;
    eprintln!("tandemu {} — ingest (Kafka topic {} at {})", env!("CARGO_PKG_VERSION"), args.kafka_topic, args.kafka_brokers);
    eprintln!("  OTLP/gRPC   http://{}", running.grpc_addr);
    eprintln!("  OTLP/HTTP   http://{}  (also /healthz, /readyz, /metrics)", running.http_addr);
    super::shutdown_signal().await;
    eprintln!("stopping: finishing requests in flight…");
    running.shutdown().await;
    Ok(())
}
