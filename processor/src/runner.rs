//! The consume → write → commit loop.
//!
//! For each batch of log records: decode (an undecodable record becomes a dead letter, and the
//! loop goes on), derive the facts (turning cumulative series into deltas), write them with the
//! series state and the dead letters in one idempotent store write (retried with exponential
//! backoff while the store is unavailable), and only then commit the log offset. A crash anywhere
//! before the commit replays the batch, and the replay replaces what was written.
//!
//! Two sources: the embedded log (one partition, offsets committed in the log's directory) and a
//! Kafka consumer group (offsets committed to the group, so processors share the partitions).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backoff::ExponentialBackoff;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tandemu_ingest::log::EmbeddedLog;
use tandemu_schemas::{Event, encoding};
use tokio::sync::watch;

use crate::facts::{SERIES_MAX_AGE_NANOS, SeriesState, facts_of};
use crate::store::{Batch, DeadLetter, ProjectionStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("event log: {0}")]
    Log(String),
    #[error("projection store: {0}")]
    Store(#[from] StoreError),
}

/// How the loop batches and retries.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Consumer group whose committed offset the processor advances.
    pub group: String,
    /// At most this many records per batch.
    pub batch_max: usize,
    /// How long a partial batch may wait for more records before it is written.
    pub linger: Duration,
    /// How long to sleep when the embedded log has nothing new.
    pub idle_poll: Duration,
    /// Give up retrying a store write after this long (`None`: retry until stopped).
    pub max_retry: Option<Duration>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            group: "tandemu-processor".into(),
            batch_max: 20_000,
            linger: Duration::from_millis(200),
            idle_poll: Duration::from_millis(100),
            max_retry: None,
        }
    }
}

/// What one batch did, for progress reports and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub records: usize,
    pub facts: usize,
    pub dead_letters: usize,
}

/// Decodes, derives and writes one batch of `(offset, payload)` records of one partition;
/// resolves once the store has it. `series` is updated only when the write succeeded. A `stop`
/// while the write is being retried gives up on the batch (it is not committed, so the next
/// start processes it again) instead of retrying on.
pub async fn process_records<S: ProjectionStore + ?Sized>(
    store: &S,
    cfg: &RunnerConfig,
    stop: &watch::Receiver<bool>,
    source: &str,
    partition: i32,
    records: &[(u64, Vec<u8>)],
    series: &mut SeriesState,
) -> Result<BatchOutcome, StoreError> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else { return Ok(BatchOutcome::default()) };
    let mut events: Vec<Event> = Vec::with_capacity(records.len());
    let mut dead = Vec::new();
    for (offset, payload) in records {
        match encoding::decode(payload) {
            Ok(ev) => events.push(ev),
            Err(e) => {
                tracing::warn!(offset, partition, error = %e, "undecodable event sent to the dead letters");
                dead.push(DeadLetter { offset: position(partition, *offset), reason: format!("undecodable event: {e}"), payload: payload.clone() });
            }
        }
    }
    let mut next_series = series.clone();
    let facts = facts_of(&events, &mut next_series);
    // Age is measured from the newest point seen, but never from later than now: one client's
    // point from the future must not make every real series look old (and be forgotten).
    if let Some(newest) = next_series.newest() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(u64::MAX);
        next_series.prune(newest.min(now), SERIES_MAX_AGE_NANOS);
    }
    // Offsets alone do not name a batch (a new embedded log starts at 0 again, a topic can be
    // re-created): the digest of the records makes the key unique to this content, so the store
    // skips a re-insert only when it really is the same batch.
    let mut digest = blake3::Hasher::new();
    for (_, payload) in records {
        digest.update(&(payload.len() as u64).to_le_bytes());
        digest.update(payload);
    }
    let batch_key = format!("{source}/{partition}/{}-{}/{}", first.0, last.0, &digest.finalize().to_hex()[..32]);
    let started = Instant::now();
    write_with_retry(store, cfg, stop, || Batch {
        batch_key: &batch_key,
        partition,
        next_offset: last.0 + 1,
        facts: &facts,
        series: &next_series,
        dead_letters: &dead,
    })
    .await?;
    metrics::histogram!("tandemu_processor_write_seconds", "store" => store.kind()).record(started.elapsed().as_secs_f64());
    metrics::histogram!("tandemu_processor_batch_records").record(records.len() as f64);
    metrics::counter!("tandemu_processor_events_total").increment(events.len() as u64);
    metrics::counter!("tandemu_processor_dead_letters_total").increment(dead.len() as u64);
    *series = next_series;
    Ok(BatchOutcome { records: records.len(), facts: facts.len(), dead_letters: dead.len() })
}

/// A dead letter's position: the offset, with the Kafka partition in the top 16 bits.
fn position(partition: i32, offset: u64) -> u64 {
    ((partition as u64 & 0xffff) << 48) | (offset & ((1 << 48) - 1))
}

fn backoff_policy(cfg: &RunnerConfig) -> ExponentialBackoff {
    ExponentialBackoff {
        initial_interval: Duration::from_millis(100),
        max_interval: Duration::from_secs(10),
        max_elapsed_time: cfg.max_retry,
        ..Default::default()
    }
}

/// The series state of `partition`, retried like a write: a processor that starts while the
/// store is down waits for it instead of exiting.
async fn series_with_retry<S: ProjectionStore + ?Sized>(
    store: &S,
    cfg: &RunnerConfig,
    stop: &watch::Receiver<bool>,
    partition: i32,
) -> Result<SeriesState, StoreError> {
    let retries = backoff::future::retry_notify(
        backoff_policy(cfg),
        || async {
            store.series_state(partition).await.map_err(|e| if e.is_retryable() { backoff::Error::transient(e) } else { backoff::Error::permanent(e) })
        },
        |e: StoreError, wait: Duration| tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "reading the series state failed; retrying"),
    );
    tokio::select! {
        r = retries => r,
        _ = stopped(stop) => Err(StoreError::Unavailable("stopped while the projection store was unavailable, before processing anything".into())),
    }
}

/// Resolves when `stop` turns true; never, if its sender is gone.
async fn stopped(stop: &watch::Receiver<bool>) {
    let mut stop = stop.clone();
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn write_with_retry<'b, S: ProjectionStore + ?Sized>(
    store: &S,
    cfg: &RunnerConfig,
    stop: &watch::Receiver<bool>,
    batch: impl Fn() -> Batch<'b>,
) -> Result<(), StoreError> {
    // The first attempt is never interrupted: a stop finishes the batch in hand.
    match store.write(batch()).await {
        Ok(()) => return Ok(()),
        Err(e) if !e.is_retryable() => return Err(e),
        Err(e) => {
            metrics::counter!("tandemu_processor_write_retries_total", "store" => store.kind()).increment(1);
            tracing::warn!(error = %e, "projection store write failed; retrying");
        }
    }
    let retries = backoff::future::retry_notify(
        backoff_policy(cfg),
        || async { store.write(batch()).await.map_err(|e| if e.is_retryable() { backoff::Error::transient(e) } else { backoff::Error::permanent(e) }) },
        |e: StoreError, wait: Duration| {
            metrics::counter!("tandemu_processor_write_retries_total", "store" => store.kind()).increment(1);
            tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "projection store write failed; retrying");
        },
    );
    tokio::select! {
        r = retries => r,
        _ = stopped(stop) => Err(StoreError::Unavailable(
            "stopped while the projection store was unavailable; the batch in hand was not committed and is processed again at the next start".into(),
        )),
    }
}

/// Processes the embedded log from the group's committed offset until `stop` turns true (then
/// finishes the batch in hand) or, with `until_caught_up`, until the log's end.
pub async fn run_embedded<S: ProjectionStore + ?Sized>(
    log: &EmbeddedLog,
    store: &S,
    cfg: &RunnerConfig,
    mut stop: watch::Receiver<bool>,
    until_caught_up: bool,
) -> Result<u64, ProcessError> {
    let mut series = series_with_retry(store, cfg, &stop, 0).await?;
    let mut next = log.committed(&cfg.group).map_err(|e| ProcessError::Log(e.to_string()))?;
    let mut reader = log.reader(next).map_err(|e| ProcessError::Log(e.to_string()))?;
    let mut processed = 0u64;
    loop {
        if *stop.borrow() {
            return Ok(processed);
        }
        let records = reader.next_batch(cfg.batch_max).map_err(|e| ProcessError::Log(e.to_string()))?;
        let end = log.end_offset();
        metrics::gauge!("tandemu_processor_lag_records", "source" => "embedded").set(end.saturating_sub(next) as f64);
        if records.is_empty() {
            if until_caught_up {
                return Ok(processed);
            }
            tokio::select! {
                _ = tokio::time::sleep(cfg.idle_poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let outcome = process_records(store, cfg, &stop, "log", 0, &records, &mut series).await?;
        next = records.last().map(|r| r.0 + 1).unwrap_or(next);
        log.commit(&cfg.group, next).map_err(|e| ProcessError::Log(e.to_string()))?;
        processed += outcome.records as u64;
    }
}

/// Kafka settings of the processor.
#[derive(Clone, Debug)]
pub struct KafkaSourceConfig {
    pub brokers: String,
    pub topic: String,
    /// Extra librdkafka settings (tests shorten the session timeout).
    pub overrides: Vec<(String, String)>,
}

/// Consumer settings "offsets are committed after the writes" rests on; an override may not change them.
pub const CONSUMER_PINNED: &[&str] = &["enable.auto.commit", "enable.auto.offset.store", "group.id", "isolation.level"];

/// Consumes the Kafka topic as a member of `cfg.group` until `stop` turns true.
pub async fn run_kafka<S: ProjectionStore + ?Sized>(
    kafka: &KafkaSourceConfig,
    store: &S,
    cfg: &RunnerConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, ProcessError> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", &cfg.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed");
    if let Some((k, _)) = kafka.overrides.iter().find(|(k, _)| CONSUMER_PINNED.contains(&k.as_str())) {
        return Err(ProcessError::Log(format!(
            "Kafka consumer setting {k} cannot be overridden: offsets are committed only after the writes, by this group (--group)"
        )));
    }
    for (k, v) in &kafka.overrides {
        client.set(k, v);
    }
    let consumer: StreamConsumer = client.create().map_err(|e| ProcessError::Log(format!("Kafka consumer: {e}")))?;
    consumer.subscribe(&[&kafka.topic]).map_err(|e| ProcessError::Log(format!("subscribe to {}: {e}", kafka.topic)))?;

    // Per partition: the series state, and the offset after the last batch this processor
    // wrote. A batch that does not start there means another member had the partition in
    // between, so its series state is read back from the store first.
    let mut states: HashMap<i32, (SeriesState, u64)> = HashMap::new();
    let mut processed = 0u64;
    loop {
        if *stop.borrow() {
            return Ok(processed);
        }
        // Gather a batch: wait for a first message, then take what comes within the linger.
        let mut by_partition: HashMap<i32, Vec<(u64, Vec<u8>)>> = HashMap::new();
        let mut count = 0usize;
        let first = tokio::select! {
            m = consumer.recv() => Some(m),
            _ = stop.changed() => None,
        };
        let Some(first) = first else { continue };
        let mut push = |m: rdkafka::message::BorrowedMessage<'_>| {
            by_partition.entry(m.partition()).or_default().push((m.offset() as u64, m.payload().unwrap_or_default().to_vec()));
        };
        match first {
            Ok(m) => {
                push(m);
                count += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Kafka consumer error");
                continue;
            }
        }
        let deadline = tokio::time::Instant::now() + cfg.linger;
        while count < cfg.batch_max {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(m)) => {
                    push(m);
                    count += 1;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "Kafka consumer error"),
                Err(_) => break,
            }
        }
        let mut commit = TopicPartitionList::new();
        for (partition, records) in by_partition {
            let first_offset = records[0].0;
            let state = match states.remove(&partition) {
                Some((s, next)) if next == first_offset => s,
                _ => series_with_retry(store, cfg, &stop, partition).await?,
            };
            let mut series = state;
            let outcome = process_records(store, cfg, &stop, &format!("kafka/{}", kafka.topic), partition, &records, &mut series).await?;
            let next = records.last().map(|r| r.0 + 1).unwrap_or(first_offset);
            states.insert(partition, (series, next));
            commit.add_partition_offset(&kafka.topic, partition, Offset::Offset(next as i64)).map_err(|e| ProcessError::Log(e.to_string()))?;
            processed += outcome.records as u64;
        }
        // After the writes: a crash before this line replays the batch, harmlessly.
        consumer.commit(&commit, CommitMode::Sync).map_err(|e| ProcessError::Log(format!("commit offsets: {e}")))?;
        report_kafka_lag(&consumer, &kafka.topic, &commit);
    }
}

/// Lag from the committed offsets (the broker's high watermark minus what the group committed).
fn report_kafka_lag(consumer: &StreamConsumer, topic: &str, committed: &TopicPartitionList) {
    for elem in committed.elements_for_topic(topic) {
        let Offset::Offset(done) = elem.offset() else { continue };
        if let Ok((_, high)) = consumer.fetch_watermarks(topic, elem.partition(), Duration::from_millis(200)) {
            metrics::gauge!("tandemu_processor_lag_records", "source" => "kafka", "partition" => elem.partition().to_string()).set((high - done).max(0) as f64);
        }
    }
}

/// Rebuilds every projection from the embedded log, from `from` on: forgets the store's facts,
/// replays, and leaves the group's offset at the log's end. Returns the records replayed.
pub async fn replay_embedded<S: ProjectionStore + ?Sized>(log: &EmbeddedLog, store: &S, cfg: &RunnerConfig, from: u64) -> Result<u64, ProcessError> {
    // Rewind first: a crash between the two then re-processes everything onto the old facts
    // (harmless, idempotent) instead of resuming past facts that were just forgotten.
    log.commit(&cfg.group, from).map_err(|e| ProcessError::Log(e.to_string()))?;
    store.reset().await?;
    let (_tx, rx) = watch::channel(false);
    run_embedded(log, store, cfg, rx, true).await
}

/// What [`replay_kafka`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaReplay {
    /// (partition, offset the group now starts from).
    pub rewound: Vec<(i32, i64)>,
}

/// Replays the Kafka topic into the projections: rewinds `group` to the topic's start and
/// forgets the store's facts, so the group's processors, started again, rebuild everything; or,
/// with `from_ms`, rewinds to the first offsets at or after that time and keeps the facts, which
/// the events from then on re-write idempotently (as `tandemu replay --from <time>` does on a
/// single node). Refuses while the group has members (their commits would race the rewind).
/// Rewind first, as in [`replay_embedded`]: a crash between the two re-processes everything onto
/// the old facts, harmlessly.
pub async fn replay_kafka<S: ProjectionStore + ?Sized>(
    kafka: &KafkaSourceConfig,
    store: &S,
    group: &str,
    from_ms: Option<i64>,
) -> Result<KafkaReplay, ProcessError> {
    use rdkafka::consumer::BaseConsumer;
    let timeout = Duration::from_secs(10);
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &kafka.brokers).set("group.id", group).set("enable.auto.commit", "false");
    for (k, v) in kafka.overrides.iter().filter(|(k, _)| !CONSUMER_PINNED.contains(&k.as_str())) {
        client.set(k, v);
    }
    let consumer: BaseConsumer = client.create().map_err(|e| ProcessError::Log(format!("Kafka consumer: {e}")))?;
    let groups = consumer.fetch_group_list(Some(group), timeout).map_err(|e| ProcessError::Log(format!("describe group {group}: {e}")))?;
    if let Some(g) = groups.groups().iter().find(|g| g.name() == group && !g.members().is_empty()) {
        return Err(ProcessError::Log(format!(
            "group {group} has {} active member(s): stop every `tandemu process` of the group first, then replay",
            g.members().len()
        )));
    }
    let metadata = consumer.fetch_metadata(Some(&kafka.topic), timeout).map_err(|e| ProcessError::Log(format!("topic {}: {e}", kafka.topic)))?;
    let partitions: Vec<i32> = metadata.topics().iter().filter(|t| t.name() == kafka.topic).flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    if partitions.is_empty() {
        return Err(ProcessError::Log(format!("topic {} has no partitions (does it exist?)", kafka.topic)));
    }
    let mut start = TopicPartitionList::new();
    for p in &partitions {
        let offset = match from_ms {
            Some(ms) => Offset::Offset(ms),
            None => Offset::Beginning,
        };
        start.add_partition_offset(&kafka.topic, *p, offset).map_err(|e| ProcessError::Log(e.to_string()))?;
    }
    // Concrete offsets: the earliest, or the first at or after the time (the end when none is).
    let resolved = match from_ms {
        Some(_) => consumer.offsets_for_times(start, timeout).map_err(|e| ProcessError::Log(format!("offsets for the time: {e}")))?,
        None => {
            let mut tpl = TopicPartitionList::new();
            for p in &partitions {
                let (low, _) = consumer.fetch_watermarks(&kafka.topic, *p, timeout).map_err(|e| ProcessError::Log(format!("partition {p}: {e}")))?;
                tpl.add_partition_offset(&kafka.topic, *p, Offset::Offset(low)).map_err(|e| ProcessError::Log(e.to_string()))?;
            }
            tpl
        }
    };
    let mut commit = TopicPartitionList::new();
    let mut rewound = Vec::new();
    for e in resolved.elements_for_topic(&kafka.topic) {
        let offset = match e.offset() {
            Offset::Offset(o) => o,
            // No record at or after the time: start at the end.
            _ => consumer.fetch_watermarks(&kafka.topic, e.partition(), timeout).map_err(|e| ProcessError::Log(e.to_string()))?.1,
        };
        commit.add_partition_offset(&kafka.topic, e.partition(), Offset::Offset(offset)).map_err(|e| ProcessError::Log(e.to_string()))?;
        rewound.push((e.partition(), offset));
    }
    consumer.commit(&commit, CommitMode::Sync).map_err(|e| ProcessError::Log(format!("rewind group {group}: {e}")))?;
    if from_ms.is_none() {
        store.reset().await?;
    }
    rewound.sort();
    Ok(KafkaReplay { rewound })
}

/// A shared handle for `serve`: the store, behind an `Arc`.
pub type SharedStore = Arc<dyn ProjectionStore>;
