//! Query API: tenant-scoped aggregates out, and the tenancy directory.
//!
//! Every read is scoped to the tenant of the caller's verified token; this crate must never
//! build a query without one, and never take a tenant from a query parameter or a body.

pub mod directory;
