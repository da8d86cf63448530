//! Ingest: the only way in.
//!
//! Owns the OTLP receivers (gRPC :4317, HTTP :4318), token verification, and the hand-off of
//! canonical events to the event log. It must never write anything before the content allowlist
//! of `tandemu_schemas` has run, never take the tenant from the payload, and never answer success
//! before the log has the batch.

pub mod auth;
pub mod log;
pub mod partition;
