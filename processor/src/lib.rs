//! Processor: turns the event log into the projections teams query.
//!
//! Owns the session, friction, completion and rollup projections and their stores (ClickHouse,
//! or the embedded store). It must commit log offsets only after its writes are durable, and
//! every write must be idempotent, so a crash or a replay never counts an event twice.
//!
//! - [`facts`]: events to facts (keyed by event id), cumulative metrics to deltas.
//! - [`aggregate`]: the projections as aggregates over facts (the reference implementation).
//! - [`store`]: the store trait and its embedded and ClickHouse backends.
//! - [`runner`]: the consume → write → commit loop, with retries and dead letters.
//! - [`clickhouse_ddl`]: the shipped ClickHouse migrations.
//! - [`retention`]: how long each projection lives, per table and per organization.

pub mod aggregate;
pub mod clickhouse_ddl;
pub mod facts;
pub mod retention;
pub mod runner;
pub mod store;
