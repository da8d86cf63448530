//! What an event is, for the whole pipeline.
//!
//! - [`event`]: the canonical, versioned event model (metadata only).
//! - [`ids`]: id newtypes, and the deterministic [`EventId`].
//! - [`otlp`]: decoding OTLP bodies and mapping them to canonical events, stamped with the
//!   caller's verified tenant and user.
//! - [`allowlist`]: the only attributes the mapping may read; the privacy promise lives here.
//! - [`file_path`]: the one piece of tool input that is kept, home folded to `~`.
//! - [`encoding`]: the event log's versioned binary encoding.
//!
//! This crate must never gain a path by which payload content (prompts, responses, tool input,
//! commands, error text, bodies) or payload identity reaches an [`Event`].

pub mod allowlist;
pub mod encoding;
pub mod event;
pub mod file_path;
pub mod ids;
pub mod otlp;

pub use event::*;
pub use ids::{EventId, SessionId, TaskId, TenantId, UserId};
pub use otlp::{Mapped, Stamp};

#[cfg(feature = "fixtures")]
pub mod fixtures;
#[cfg(feature = "fixtures")]
pub mod testenv;
