//! The event log: the source of truth every projection is rebuilt from.
//!
//! One trait, two backends: the embedded log (single node, on disk, the default) and Kafka
//! (distributed). `append` returns only once the batch is durable in the log; until then the
//! caller must not acknowledge anything to its client.

pub mod embedded;
pub mod kafka;

use std::future::Future;
use std::pin::Pin;

use tandemu_schemas::Event;

pub use embedded::{EmbeddedLog, EmbeddedLogConfig};
pub use kafka::{KafkaLog, KafkaLogConfig};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log cannot take the batch now (down, full, slower than the deadline). Retryable.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// A local I/O failure of the embedded log.
    #[error("event log I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Data in the log is damaged (a bad frame before the tail).
    #[error("event log corrupt: {0}")]
    Corrupt(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where ingest appends canonical events.
pub trait EventLog: Send + Sync + 'static {
    /// Appends a batch; resolves once every event of it is durable. On error, any part of the
    /// batch may or may not be in the log: the client retries, and the deterministic event ids
    /// make the retry harmless downstream.
    fn append<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, Result<(), LogError>>;

    /// Whether the log can take writes now (for `/readyz`).
    fn ready(&self) -> BoxFuture<'_, bool>;

    /// A short name for logs and metrics: `embedded` or `kafka`.
    fn kind(&self) -> &'static str;
}
