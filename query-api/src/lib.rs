//! Query API: tenant-scoped aggregates out, and the tenancy directory.
//!
//! Every read is scoped to the tenant of the caller's verified token ([`caller::Caller`], the one
//! gate); this crate must never build a query without one, and never take a tenant from a query
//! parameter or a body.
//!
//! - [`router`]: routes, state, CORS, health and metrics.
//! - [`caller`]: the bearer token → tenant, user and role.
//! - [`params`]: time range, filters, grouping, paging, output format.
//! - [`aggregates`]: the aggregate endpoints.
//! - [`manage`]: organization, members, teams and tokens, gated by [`roles`].
//! - [`invites`]: invite by email and role; accept with the code for a member's token.
//! - [`retention`]: the organization's retention overrides.
//! - [`openapi`]: `/openapi.json`, from the router's own endpoint table.
//! - [`render`]: one table, three encodings (JSON, CSV, Arrow IPC stream).
//! - [`roles`]: the product's role table; the one place that decides who may manage what.
//! - [`secrets`]: integration tokens sealed with AES-256-GCM under `ENCRYPTION_KEY`.
//! - [`error`]: the one error type and its statuses.
//! - [`directory`]: tenancy data in PostgreSQL under row-level security.

pub mod aggregates;
pub mod caller;
pub mod directory;
pub mod error;
pub mod invites;
pub mod manage;
pub mod openapi;
pub mod params;
pub mod render;
pub mod retention;
pub mod roles;
pub mod router;
pub mod secrets;

pub use error::ApiError;
pub use router::{ApiConfig, ApiState, router};
