//! Processor: turns the event log into the projections teams query.
//!
//! Owns the session, friction, completion and rollup projections and their stores (ClickHouse,
//! or the embedded store). It must commit log offsets only after its writes are durable, and
//! every write must be idempotent, so a crash or a replay never counts an event twice.

pub mod clickhouse_ddl;
