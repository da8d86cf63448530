//! The Kafka event log: an idempotent producer, `acks=all`, LZ4, events keyed by tenant and
//! session (see `partition`), and every delivery awaited before `append` returns.
//!
//! A producer that failed a delivery is replaced by a fresh one before the next append. After
//! a broker outage, librdkafka's idempotence state (producer id, sequence numbers, timed-out
//! messages) can keep an old producer failing long after the broker is back; a new producer
//! starts clean, and the deterministic event ids make any late copy from the old one harmless.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tandemu_schemas::{Event, encoding};

use super::{BoxFuture, EventLog, LogError};
use crate::partition::partition_key;

#[derive(Clone, Debug)]
pub struct KafkaLogConfig {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    pub topic: String,
    /// How long a batch may take to be acknowledged by the brokers before the request is
    /// answered "unavailable, retry".
    pub delivery_timeout: Duration,
    /// Extra librdkafka producer settings (security, batching), applied after the defaults. The
    /// settings acknowledgements rest on are not among them: see [`PINNED`].
    pub overrides: Vec<(String, String)>,
}

/// Producer settings that make "OK only once the log has it" true; an override may not weaken them.
pub const PINNED: &[&str] = &["enable.idempotence", "acks", "request.required.acks", "message.timeout.ms", "delivery.timeout.ms"];

impl KafkaLogConfig {
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> Self {
        Self { brokers: brokers.into(), topic: topic.into(), delivery_timeout: Duration::from_secs(10), overrides: Vec::new() }
    }
}

pub struct KafkaLog {
    producer: RwLock<Arc<FutureProducer>>,
    /// Set when a delivery failed: the next append builds a new producer first.
    poisoned: AtomicBool,
    cfg: KafkaLogConfig,
}

impl KafkaLog {
    pub fn connect(cfg: KafkaLogConfig) -> Result<Self, LogError> {
        let producer = Self::producer(&cfg)?;
        Ok(Self { producer: RwLock::new(Arc::new(producer)), poisoned: AtomicBool::new(false), cfg })
    }

    fn producer(cfg: &KafkaLogConfig) -> Result<FutureProducer, LogError> {
        if let Some((k, _)) = cfg.overrides.iter().find(|(k, _)| PINNED.contains(&k.as_str())) {
            return Err(LogError::Unavailable(format!(
                "Kafka producer setting {k} cannot be overridden: acknowledgements depend on it (use --kafka-delivery-timeout for the timeout)"
            )));
        }
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &cfg.brokers)
            // Exactly-once into the partition log per producer session, ordered per key.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "2")
            .set("message.timeout.ms", cfg.delivery_timeout.as_millis().to_string())
            .set("queue.buffering.max.messages", "1000000");
        // The operator's settings after the defaults, so they win (the pinned ones are refused).
        for (k, v) in &cfg.overrides {
            client.set(k, v);
        }
        client.create().map_err(|e| LogError::Unavailable(format!("Kafka producer: {e}")))
    }

    /// The current producer, replaced first if the last delivery failed.
    fn current(&self) -> Result<Arc<FutureProducer>, LogError> {
        if self.poisoned.swap(false, Ordering::AcqRel) {
            tracing::warn!(topic = %self.cfg.topic, "replacing the Kafka producer after a failed delivery");
            let fresh = Arc::new(Self::producer(&self.cfg)?);
            *self.producer.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
            return Ok(fresh);
        }
        Ok(self.producer.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn fail(&self, reason: String) -> LogError {
        self.poisoned.store(true, Ordering::Release);
        LogError::Unavailable(reason)
    }

    pub fn topic(&self) -> &str {
        &self.cfg.topic
    }
}

impl EventLog for KafkaLog {
    fn append<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async move {
            let producer = self.current()?;
            let mut pending = Vec::with_capacity(events.len());
            let mut payload = Vec::with_capacity(512);
            for ev in events {
                payload.clear();
                encoding::encode_into(ev, &mut payload);
                let key = partition_key(ev);
                let record = FutureRecord::to(&self.cfg.topic).key(&key).payload(&payload);
                match producer.send_result(record) {
                    Ok(delivery) => pending.push(delivery),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        return Err(LogError::Unavailable("Kafka producer queue is full".into()));
                    }
                    Err((e, _)) => return Err(self.fail(format!("Kafka: {e}"))),
                }
            }
            let deadline = self.cfg.delivery_timeout + Duration::from_secs(1);
            let results = tokio::time::timeout(deadline, futures::future::join_all(pending))
                .await
                .map_err(|_| self.fail("Kafka did not acknowledge the batch in time".into()))?;
            for r in results {
                match r {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => return Err(self.fail(format!("Kafka delivery: {e}"))),
                    Err(_) => return Err(self.fail("Kafka producer shut down".into())),
                }
            }
            Ok(())
        })
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let producer = self.producer.read().unwrap_or_else(|e| e.into_inner()).clone();
            let topic = self.cfg.topic.clone();
            tokio::task::spawn_blocking(move || {
                producer
                    .client()
                    .fetch_metadata(Some(&topic), Duration::from_secs(2))
                    .map(|m| m.topics().iter().any(|t| t.name() == topic && t.error().is_none()))
                    .unwrap_or(false)
            })
            .await
            .unwrap_or(false)
        })
    }

    fn kind(&self) -> &'static str {
        "kafka"
    }
}
