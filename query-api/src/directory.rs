//! The tenancy directory in PostgreSQL (migrations in `migrations/`).
//!
//! Isolation lives in the database (row-level security, see the first migration); this module's
//! job is to make the right thing the only easy thing: a transaction is opened *for a tenant*,
//! with `app.current_tenant` set before any statement runs.

use sqlx::{PgPool, Postgres, Transaction};
use tandemu_schemas::TenantId;

/// The PostgreSQL migrations, embedded at build time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The role that owns nothing and that the service's login role must be a member of.
pub const APP_ROLE: &str = "tandemu_app";

/// Begins a transaction scoped to `tenant`. The setting is transaction-local, so it cannot leak
/// to the next user of a pooled connection.
pub async fn begin_for_tenant(pool: &PgPool, tenant: TenantId) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.current_tenant', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
