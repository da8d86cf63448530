//! Where projections live: one trait, two backends (the embedded store, ClickHouse), and one
//! conformance suite (`processor/tests/conformance.rs`) that both must pass identically.
//!
//! Stores keep *facts* keyed by event id (writing one again replaces it) and answer the
//! projections as aggregates over them, so a batch written twice (a retry, a crash before the
//! offset commit, a replay) changes nothing.

pub mod clickhouse;
pub mod clickhouse_retention;
pub mod embedded;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tandemu_ingest::log::BoxFuture;
use tandemu_schemas::TenantId;

use crate::aggregate::{DailyUsageRow, FrictionLoop, SessionRow, TaskRow, ToolUsageRow};
use crate::facts::{Facts, FrictionFact, SeriesState, ToolCallFact};
use crate::retention::{RetentionPolicy, RetentionTable};

/// Rows a purge removed, per policy table.
pub type PurgeReport = BTreeMap<RetentionTable, u64>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Worth retrying: the store is down, slow or busy.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Not worth retrying: the data or the schema is wrong.
    #[error("store rejected the write: {0}")]
    Rejected(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// An event the processor could not use, kept with the reason instead of crashing on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Log offset (embedded log) or `partition << 48 | offset` (Kafka).
    pub offset: u64,
    pub reason: String,
    /// The undecodable record as read (already content-free: only canonical events are logged).
    pub payload: Vec<u8>,
}

/// One batch to write: its facts, the series state after it, and its dead letters. `batch_key`
/// names the batch (its log offsets) so a retried insert can be recognised.
pub struct Batch<'a> {
    pub batch_key: &'a str,
    /// The log partition the batch came from (0 for the embedded log); series state is kept per
    /// partition, since a series (one session's metric) always lands in one partition.
    pub partition: i32,
    /// The offset after the batch's last record.
    pub next_offset: u64,
    pub facts: &'a Facts,
    pub series: &'a SeriesState,
    pub dead_letters: &'a [DeadLetter],
}

pub trait ProjectionStore: Send + Sync + 'static {
    fn kind(&self) -> &'static str;

    /// Writes a batch; resolves once it is durable. Idempotent.
    fn write<'a>(&'a self, batch: Batch<'a>) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The series state of `partition` as of the last write (empty for a new store).
    fn series_state(&self, partition: i32) -> BoxFuture<'_, Result<SeriesState, StoreError>>;

    /// Forgets every fact and the series state, before a replay rebuilds them from the log.
    fn reset(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Removes what the retention policy has expired as of `now_ms` (the embedded store), or has
    /// ClickHouse apply its TTLs now instead of at the parts' next merge (ClickHouse, whose TTLs
    /// carry the policy and use its own clock).
    fn purge<'a>(&'a self, policy: &'a RetentionPolicy, now_ms: i64) -> BoxFuture<'a, Result<PurgeReport, StoreError>>;

    fn sessions(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<SessionRow>, StoreError>>;
    /// Friction events, each counted once, oldest first.
    fn friction(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<FrictionFact>, StoreError>>;
    fn loops(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<FrictionLoop>, StoreError>>;
    /// Every tool call (for duration percentiles), oldest first.
    fn tool_calls(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<ToolCallFact>, StoreError>>;
    fn tool_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<ToolUsageRow>, StoreError>>;
    /// Lines, commits, cost and tokens per day, user and model.
    fn daily_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<DailyUsageRow>, StoreError>>;
    fn tasks(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<TaskRow>, StoreError>>;
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>>;
}
