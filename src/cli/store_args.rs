//! Flags shared by the commands that talk to ClickHouse or run the processor loop.

use std::time::Duration;

use clap::Args;

use super::CliError;
use tandemu_processor::runner::RunnerConfig;
use tandemu_processor::store::clickhouse::ClickHouseStore;

#[derive(Debug, Clone, Args)]
pub struct ClickHouseArgs {
    /// ClickHouse HTTP endpoint, e.g. http://clickhouse:8123.
    #[arg(long, env = "TANDEMU_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    /// The database holding Tandemu's tables (it must exist).
    #[arg(long, env = "TANDEMU_CLICKHOUSE_DATABASE", default_value = "default")]
    pub clickhouse_database: String,
    #[arg(long, env = "TANDEMU_CLICKHOUSE_USER", default_value = "default")]
    pub clickhouse_user: String,
    #[arg(long, env = "TANDEMU_CLICKHOUSE_PASSWORD", default_value = "", hide_env_values = true)]
    pub clickhouse_password: String,
}

impl ClickHouseArgs {
    /// The URL, which this command needs.
    pub fn url(&self) -> Result<&str, CliError> {
        self.clickhouse_url.as_deref().ok_or_else(|| CliError::Usage("TANDEMU_CLICKHOUSE_URL (--clickhouse-url) is required here".into()))
    }

    pub fn store(&self) -> Result<ClickHouseStore, CliError> {
        let client = clickhouse::Client::default()
            .with_url(self.url()?)
            .with_database(&self.clickhouse_database)
            .with_user(&self.clickhouse_user)
            .with_password(&self.clickhouse_password);
        Ok(ClickHouseStore::new(client))
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunnerArgs {
    /// Consumer group: processors of one group share the work (Kafka partitions).
    #[arg(long, env = "TANDEMU_PROCESSOR_GROUP", default_value = "tandemu-processor")]
    pub group: String,
    /// Most records written in one batch.
    #[arg(long, env = "TANDEMU_PROCESSOR_BATCH", default_value_t = 20_000)]
    pub batch_max: usize,
    /// How long a partial batch waits for more records (e.g. 200ms).
    #[arg(long, env = "TANDEMU_PROCESSOR_LINGER", default_value = "200ms", value_parser = humantime::parse_duration)]
    pub linger: Duration,
}

impl RunnerArgs {
    pub fn config(&self) -> RunnerConfig {
        RunnerConfig { group: self.group.clone(), batch_max: self.batch_max.max(1), linger: self.linger, ..RunnerConfig::default() }
    }
}
