//! `tandemu replay`: rebuilds the projections from the event log — the single node's embedded
//! log, or (with `--kafka-brokers`) the Kafka topic into ClickHouse.

use std::path::PathBuf;

use clap::Args;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_processor::runner;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_schemas::encoding;

use super::CliError;
use super::store_args::{ClickHouseArgs, RunnerArgs};
use tandemu_processor::runner::KafkaSourceConfig;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The data directory of `tandemu serve` (stop the node first).
    #[arg(long, env = "TANDEMU_DATA_DIR", default_value = "./tandemu-data")]
    pub data_dir: PathBuf,
    /// Where to start: a log offset (`0` rebuilds everything from scratch) or an RFC 3339 time
    /// (`2026-12-01T00:00:00Z`: the first event at or after it). From a later point, events
    /// before it keep their projections and the rest are written again (idempotently).
    #[arg(long, default_value = "0")]
    pub from: String,
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// Distributed: rewind the processors' group on this Kafka cluster (from 0: and clear
    /// ClickHouse, `--clickhouse-url`); the processors, started again, rebuild. Stop them first.
    #[arg(long, env = "TANDEMU_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// The event log topic.
    #[arg(long, env = "TANDEMU_KAFKA_TOPIC", default_value = "tandemu.events")]
    pub kafka_topic: String,
    /// Extra librdkafka settings, `KEY=VALUE`, repeatable.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    pub kafka_options: Vec<String>,
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
}

pub async fn run(args: ReplayArgs) -> Result<(), CliError> {
    if let Some(brokers) = &args.kafka_brokers {
        return run_kafka(&args, brokers).await;
    }
    let log_dir = args.data_dir.join("log");
    if !log_dir.exists() {
        return Err(CliError::Usage(format!("no event log in {} (is --data-dir right?)", log_dir.display())));
    }
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(&log_dir)).map_err(|e| CliError::Usage(format!("event log in {}: {e}", log_dir.display())))?;
    let store_path = super::serve::store_path(&args.data_dir);
    let store = EmbeddedStore::open(&store_path).map_err(|e| CliError::Usage(format!("store {}: {e}", store_path.display())))?;
    let from = start_offset(&log, &args.from)?;
    let cfg = args.runner.config();
    let end = log.end_offset();
    eprintln!("replaying offsets {from}..{end} of {} into {}", log_dir.display(), store_path.display());
    let started = std::time::Instant::now();
    let n = if from == 0 {
        runner::replay_embedded(&log, &store, &cfg, 0).await
    } else {
        log.commit(&cfg.group, from).map_err(|e| CliError::Usage(e.to_string()))?;
        let (_tx, rx) = tokio::sync::watch::channel(false);
        runner::run_embedded(&log, &store, &cfg, rx, true).await
    }
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("replayed {n} records in {secs:.1} s ({:.0} records/s)", n as f64 / secs.max(1e-9));
    Ok(())
}

/// An offset as given, or the first offset whose event is at or after the given time.
fn start_offset(log: &EmbeddedLog, from: &str) -> Result<u64, CliError> {
    if let Ok(offset) = from.parse::<u64>() {
        return Ok(offset.min(log.end_offset()));
    }
    let t = humantime::parse_rfc3339_weak(from)
        .map_err(|_| CliError::Usage(format!("--from {from:?}: expected a log offset or an RFC 3339 time such as 2026-12-01T00:00:00Z")))?;
    let nanos = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut reader = log.reader(0).map_err(|e| CliError::Usage(e.to_string()))?;
    loop {
        let batch = reader.next_batch(10_000).map_err(|e| CliError::Usage(e.to_string()))?;
        if batch.is_empty() {
            return Ok(log.end_offset());
        }
        for (offset, payload) in batch {
            // Undecodable records do not stop the search; the replay sends them to the dead letters.
            if encoding::decode(&payload).map(|e| e.time_unix_nano >= nanos).unwrap_or(false) {
                return Ok(offset);
            }
        }
    }
}

/// The distributed replay: rewind the group, clear ClickHouse; the processors rebuild.
async fn run_kafka(args: &ReplayArgs, brokers: &str) -> Result<(), CliError> {
    let store = args.clickhouse.store()?;
    let pending = store.pending_migrations().await.map_err(|e| CliError::Usage(format!("ClickHouse: {e}")))?;
    if !pending.is_empty() {
        return Err(CliError::Usage(format!("ClickHouse lacks migrations {pending:?}: run `tandemu migrate` first")));
    }
    let from_ms = match args.from.as_str() {
        "0" | "earliest" => None,
        t => {
            let at = humantime::parse_rfc3339_weak(t).map_err(|_| {
                CliError::Usage(format!("--from {t:?}: with Kafka, give 0 (the topic's start) or an RFC 3339 time such as 2026-12-01T00:00:00Z"))
            })?;
            Some(at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
        }
    };
    let kafka =
        KafkaSourceConfig { brokers: brokers.to_owned(), topic: args.kafka_topic.clone(), overrides: super::kafka_options::parse(&args.kafka_options)? };
    let group = &args.runner.group;
    let replay = tandemu_processor::runner::replay_kafka(&kafka, &store, group, from_ms).await.map_err(|e| CliError::Usage(e.to_string()))?;
    let at: Vec<String> = replay.rewound.iter().map(|(p, o)| format!("{p}@{o}")).collect();
    let what = if from_ms.is_some() { "the events from then on are written again (idempotently)" } else { "ClickHouse projections cleared" };
    eprintln!("group {group} rewound on {} (partition@offset: {}); {what}", kafka.topic, at.join(" "));
    eprintln!("start the processors (`tandemu process`) to rebuild; their lag on /metrics shows the progress");
    Ok(())
}
