//! `tandemu process`: the processor role of a distributed deployment, Kafka into ClickHouse.

use clap::Args;
use tandemu_processor::runner::{self, KafkaSourceConfig};
use tokio::sync::watch;

use super::CliError;
use super::store_args::{ClickHouseArgs, RunnerArgs};

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "TANDEMU_KAFKA_BROKERS")]
    pub kafka_brokers: String,
    /// The event log topic.
    #[arg(long, env = "TANDEMU_KAFKA_TOPIC", default_value = "tandemu.events")]
    pub kafka_topic: String,
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    #[command(flatten)]
    pub runner: RunnerArgs,
}

pub async fn run(args: ProcessArgs) -> Result<(), CliError> {
    let store = args.clickhouse.store();
    let pending = store.pending_migrations().await.map_err(|e| CliError::Usage(format!("ClickHouse at {}: {e}", args.clickhouse.clickhouse_url)))?;
    if !pending.is_empty() {
        return Err(CliError::Usage(format!(
            "ClickHouse database {} lacks migrations {pending:?}: run `tandemu migrate` first",
            args.clickhouse.clickhouse_database
        )));
    }
    let cfg = args.runner.config();
    let kafka = KafkaSourceConfig { brokers: args.kafka_brokers.clone(), topic: args.kafka_topic.clone(), overrides: Vec::new() };
    eprintln!(
        "tandemu {} — processor (group {}, Kafka topic {} at {}, ClickHouse {} database {})",
        env!("CARGO_PKG_VERSION"),
        cfg.group,
        kafka.topic,
        kafka.brokers,
        args.clickhouse.clickhouse_url,
        args.clickhouse.clickhouse_database
    );
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
