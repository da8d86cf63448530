//! `tandemu migrate`: applies the migrations not applied yet — ClickHouse (`clickhouse/`) and
//! PostgreSQL (`migrations/`), whichever is configured. Idempotent.

use clap::Args;
use sqlx::postgres::PgPoolOptions;
use tandemu_query_api::directory::MIGRATOR;

use super::CliError;
use super::store_args::ClickHouseArgs;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    /// PostgreSQL for the tenancy data, as the role that owns the schema (not the service role:
    /// the service must not own the tables it reads, or row-level security would not bind it).
    #[arg(long, env = "TANDEMU_MIGRATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

pub async fn run(args: MigrateArgs) -> Result<(), CliError> {
    if args.clickhouse.clickhouse_url.is_none() && args.database_url.is_none() {
        return Err(CliError::Usage("nothing to migrate: give --clickhouse-url and/or --database-url".into()));
    }
    if args.clickhouse.clickhouse_url.is_some() {
        let store = args.clickhouse.store()?;
        let url = args.clickhouse.url()?;
        let applied = store.migrate().await.map_err(|e| CliError::Usage(format!("ClickHouse at {url}: {e}")))?;
        if applied.is_empty() {
            println!("ClickHouse database {}: up to date", args.clickhouse.clickhouse_database);
        } else {
            println!("ClickHouse database {}: applied migrations {applied:?}", args.clickhouse.clickhouse_database);
        }
    }
    if let Some(url) = &args.database_url {
        let pool = PgPoolOptions::new().max_connections(1).connect(url).await.map_err(|e| CliError::Usage(format!("PostgreSQL: {e}")))?;
        let before = applied_count(&pool).await;
        MIGRATOR.run(&pool).await.map_err(|e| CliError::Usage(format!("PostgreSQL migrations: {e}")))?;
        let after = applied_count(&pool).await;
        println!("PostgreSQL: {} migration(s) applied now, {after} in all", after - before);
        pool.close().await;
    }
    Ok(())
}

async fn applied_count(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await.unwrap_or(0)
}
