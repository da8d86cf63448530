//! `tandemu migrate`: applies the ClickHouse migrations of `clickhouse/` that are not applied yet.

use clap::Args;

use super::CliError;
use super::store_args::ClickHouseArgs;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
}

pub async fn run(args: MigrateArgs) -> Result<(), CliError> {
    let store = args.clickhouse.store();
    let applied = store.migrate().await.map_err(|e| CliError::Usage(format!("ClickHouse at {}: {e}", args.clickhouse.clickhouse_url)))?;
    if applied.is_empty() {
        println!("ClickHouse database {}: up to date", args.clickhouse.clickhouse_database);
    } else {
        println!("ClickHouse database {}: applied migrations {applied:?}", args.clickhouse.clickhouse_database);
    }
    Ok(())
}
