//! Ingest: the only way in.
//!
//! Owns the OTLP receivers (gRPC :4317, HTTP :4318), token verification, and the hand-off of
//! canonical events to the event log. It must never write anything before the content allowlist
//! of `tandemu_schemas` has run, never take the tenant from the payload, and never answer success
//! before the log has the batch.
//!
//! - [`auth`]: the one gate every request passes (bearer JWT).
//! - [`pipeline`]: identity, mapping, per-tenant limit, durable append; shared by both transports.
//! - [`http`], [`grpc`]: the OTLP transports. [`server`]: listeners and shutdown.
//! - [`log`]: the event log trait and its embedded and Kafka backends. [`partition`]: log keys.
//! - [`error`]: the one error type, mapped once to HTTP and gRPC statuses.

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod grpc;
pub mod http;
pub mod log;
pub mod partition;
pub mod pipeline;
pub mod rpc_status;
pub mod server;

pub use config::IngestConfig;
pub use error::IngestError;
pub use pipeline::Pipeline;
