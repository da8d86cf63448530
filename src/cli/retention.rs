//! `tandemu retention show|set|bounds|purge`: the operator's side of the retention policy.
//!
//! Single node (the default): the policy lives in the data directory's directory file and the
//! embedded store is purged by it (`serve` does so every `--purge-interval`). Distributed (with
//! `--clickhouse-url`): table defaults are ClickHouse TTLs, changed by `ALTER TABLE … MODIFY TTL`
//! with a recorded status, and the policy is kept in PostgreSQL (`--database-url`, the role that
//! ran `tandemu migrate`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use tandemu_processor::retention::{self, Bounds, PolicyHandle, RetentionTable, now_ms};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_processor::store::clickhouse_retention::ChangeStatus;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::directory::{Directory, PostgresDirectory};
use tandemu_schemas::TenantId;
use uuid::Uuid;

use super::CliError;
use super::store_args::ClickHouseArgs;

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Each table's default, organizations' overrides and, with ClickHouse, the TTL ClickHouse
    /// really has (read from system.tables) and the status of the last change.
    Show {
        #[command(flatten)]
        target: Target,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a table's default, or (with --org) one organization's override.
    ///
    /// In ClickHouse a shorter default is a metadata change: nothing is rewritten, rows already
    /// stored expire at their parts' next merge (or `tandemu retention purge`). A longer one
    /// recalculates the stored parts' TTL bounds in the background; it is `pending` until done,
    /// and a second change waits for it. An override in ClickHouse applies to rows written after
    /// it (the running processors pick it up within a minute).
    Set {
        /// sessions, friction, completion or rollups.
        #[arg(long)]
        table: RetentionTable,
        /// Days rows live (1 to 3650).
        #[arg(long)]
        days: Option<u16>,
        /// Set this organization's override instead of the table default.
        #[arg(long)]
        org: Option<Uuid>,
        /// With --org: remove the override instead of setting one.
        #[arg(long, conflicts_with = "days")]
        clear: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Set the range organizations' overrides must stay within.
    Bounds {
        #[arg(long)]
        min_days: u16,
        #[arg(long)]
        max_days: u16,
        #[command(flatten)]
        target: Target,
    },
    /// Remove what the policy has expired now, instead of waiting for the next purge (single
    /// node) or for ClickHouse's merges.
    Purge {
        #[command(flatten)]
        target: Target,
    },
}

/// Where the policy and the data are: the single node's data directory, or ClickHouse and
/// PostgreSQL.
#[derive(Debug, Args)]
pub struct Target {
    /// The single node's data directory (stop `serve` first: it holds the files open).
    #[arg(long, env = "TANDEMU_DATA_DIR", default_value = "./tandemu-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    /// Distributed: PostgreSQL as the role that ran `tandemu migrate` (the policy's home).
    #[arg(long, env = "TANDEMU_MIGRATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

enum Opened {
    Single { directory: EmbeddedDirectory, store: EmbeddedStore },
    Distributed { directory: PostgresDirectory, store: ClickHouseStore },
}

impl Opened {
    fn directory(&self) -> &dyn Directory {
        match self {
            Opened::Single { directory, .. } => directory,
            Opened::Distributed { directory, .. } => directory,
        }
    }
}

async fn open(t: &Target) -> Result<Opened, CliError> {
    if t.clickhouse.clickhouse_url.is_none() {
        let in_use = |what: &str, e: &dyn std::fmt::Display| {
            CliError::Usage(format!("{what} in {}: {e} (if `tandemu serve` is running on it, stop it first)", t.data_dir.display()))
        };
        let directory = EmbeddedDirectory::open(&super::serve::directory_path(&t.data_dir)).map_err(|e| in_use("directory", &e))?;
        let store = EmbeddedStore::open(&super::serve::store_path(&t.data_dir)).map_err(|e| in_use("projection store", &e))?;
        return Ok(Opened::Single { directory, store });
    }
    let url = t.database_url.as_deref().ok_or_else(|| {
        CliError::Usage("with --clickhouse-url, give --database-url (TANDEMU_MIGRATE_DATABASE_URL) too: the policy is kept with the tenancy data".into())
    })?;
    let pool = PgPoolOptions::new().max_connections(2).connect(url).await.map_err(|e| CliError::Usage(format!("PostgreSQL: {e}")))?;
    let store = t.clickhouse.store()?;
    let pending = store.pending_migrations().await.map_err(|e| CliError::Usage(format!("ClickHouse: {e}")))?;
    if !pending.is_empty() {
        return Err(CliError::Usage(format!("ClickHouse lacks migrations {pending:?}: run `tandemu migrate` first")));
    }
    Ok(Opened::Distributed { directory: PostgresDirectory::new(pool), store })
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

pub async fn run(cmd: RetentionCommand) -> Result<(), CliError> {
    match cmd {
        RetentionCommand::Show { target, json } => show(&open(&target).await?, json).await,
        RetentionCommand::Set { table, days, org, clear, target } => {
            let opened = open(&target).await?;
            match (org, days, clear) {
                (Some(org), None, true) => {
                    opened.directory().set_retention_override(TenantId(org), table, None, Uuid::nil()).await.map_err(usage)?;
                    println!("{table}: override of organization {org} removed (it follows the default again)");
                    Ok(())
                }
                (Some(org), Some(days), false) => {
                    if opened.directory().org(TenantId(org)).await.map_err(usage)?.is_none() {
                        return Err(CliError::Usage(format!("organization {org} is not registered in the directory (`tandemu setup`, or POST /v1/org)")));
                    }
                    let bounds = opened.directory().retention_policy().await.map_err(usage)?.bounds;
                    let days = bounds.check(days).map_err(usage)?;
                    opened.directory().set_retention_override(TenantId(org), table, Some(days), Uuid::nil()).await.map_err(usage)?;
                    println!("{table}: organization {org} keeps rows {days} days");
                    Ok(())
                }
                (None, Some(days), false) => set_default(&opened, table, days).await,
                (None, _, true) => Err(CliError::Usage("--clear removes an organization's override: give --org".into())),
                (_, None, false) => Err(CliError::Usage("give --days N (or --org O --clear)".into())),
                (_, Some(_), true) => Err(CliError::Usage("--days and --clear exclude each other".into())),
            }
        }
        RetentionCommand::Bounds { min_days, max_days, target } => {
            let bounds = Bounds::new(min_days, max_days).map_err(usage)?;
            open(&target).await?.directory().set_retention_bounds(bounds).await.map_err(usage)?;
            println!(
                "organizations' overrides must now be between {min_days} and {max_days} days; existing ones outside are held to them for rows written from now on (and, on a single node, at the next purge)"
            );
            Ok(())
        }
        RetentionCommand::Purge { target } => {
            let opened = open(&target).await?;
            let policy = opened.directory().retention_policy().await.map_err(usage)?;
            let started = std::time::Instant::now();
            let report = match &opened {
                Opened::Single { store, .. } => store.purge(&policy, now_ms()).await,
                Opened::Distributed { store, .. } => store.purge(&policy, now_ms()).await,
            }
            .map_err(usage)?;
            let total: u64 = report.values().sum();
            let per: Vec<String> = report.iter().map(|(t, n)| format!("{t} {n}")).collect();
            println!("purged {total} rows in {:.1} s ({})", started.elapsed().as_secs_f64(), per.join(", "));
            Ok(())
        }
    }
}

async fn set_default(opened: &Opened, table: RetentionTable, days: u16) -> Result<(), CliError> {
    let days = retention::check_default(days).map_err(usage)?;
    match opened {
        Opened::Single { directory, .. } => {
            directory.set_retention_default(table, days).await.map_err(usage)?;
            println!("{table}: default {days} days, applied; rows past it go at the next purge (`serve` purges every hour; `tandemu retention purge` now)");
            Ok(())
        }
        Opened::Distributed { directory, store } => {
            let started = std::time::Instant::now();
            let change = store.change_default(table, days).await.map_err(usage)?;
            let secs = started.elapsed().as_secs_f64();
            match change.status {
                ChangeStatus::Failed => Err(CliError::Usage(format!("{table}: the change to {days} days failed (recorded as failed): {}", change.error))),
                status => {
                    directory.set_retention_default(table, days).await.map_err(usage)?;
                    let how = if status == ChangeStatus::Applied {
                        "applied (no data rewritten; stored rows past it go at their parts' next merge, or `tandemu retention purge`)"
                    } else {
                        "pending: ClickHouse is recalculating the stored parts' TTLs in the background (`tandemu retention show` tells when done)"
                    };
                    println!("{table}: default {} → {days} days in {secs:.2} s, {how}", change.previous_days);
                    Ok(())
                }
            }
        }
    }
}

async fn show(opened: &Opened, as_json: bool) -> Result<(), CliError> {
    let policy = opened.directory().retention_policy().await.map_err(usage)?;
    let mut rows = Vec::new();
    for table in RetentionTable::ALL {
        let mut overrides: Vec<(Uuid, u16)> = policy.overrides.iter().filter(|((_, t), _)| *t == table).map(|((o, _), d)| (*o, *d)).collect();
        overrides.sort();
        let mut row = json!({
            "table": table.name(),
            "default_days": policy.default_days(table),
            "overrides": overrides.iter().map(|(o, d)| json!({"org": o, "days": d})).collect::<Vec<_>>(),
        });
        if let Opened::Distributed { store, .. } = opened {
            let ttls = store.ttls(table).await.map_err(usage)?;
            let change = store.retention_change(table).await.map_err(usage)?;
            row["clickhouse"] = json!(ttls);
            row["last_change"] = json!(change);
        }
        rows.push(row);
    }
    let doc = json!({"bounds": policy.bounds, "tables": rows});
    if as_json {
        println!("{}", serde_json::to_string_pretty(&doc).map_err(usage)?);
        return Ok(());
    }
    println!("overrides must be within {}..{} days", policy.bounds.min_days, policy.bounds.max_days);
    println!("{:<11} {:>8}  {:<9}  {:<34}  last change", "table", "default", "overrides", "ClickHouse TTL default (system.tables)");
    for (table, row) in RetentionTable::ALL.iter().zip(&rows) {
        let overrides = row["overrides"].as_array().map(|a| a.len()).unwrap_or(0);
        let (ttl, change) = match row.get("clickhouse") {
            Some(ch) => {
                let defaults: Vec<String> = ch
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        format!("{}={}", t["clickhouse_table"].as_str().unwrap_or(""), t["default_days"].as_u64().map(|d| d.to_string()).unwrap_or("?".into()))
                    })
                    .collect();
                let change = match row["last_change"].as_object() {
                    Some(c) => format!(
                        "{} → {} days: {}{}",
                        c["previous_days"],
                        c["days"],
                        c["status"].as_str().unwrap_or(""),
                        c["error"].as_str().filter(|e| !e.is_empty()).map(|e| format!(" ({e})")).unwrap_or_default()
                    ),
                    None => "none".into(),
                };
                (defaults.join(" "), change)
            }
            None => ("(single node: purged by serve)".into(), String::new()),
        };
        println!("{:<11} {:>8}  {:<9}  {:<34}  {change}", table.name(), policy.default_days(*table), overrides, ttl);
    }
    for (table, row) in RetentionTable::ALL.iter().zip(&rows) {
        for o in row["overrides"].as_array().into_iter().flatten() {
            println!("  override  {:<11} org {}  {} days", table.name(), o["org"].as_str().unwrap_or(""), o["days"]);
        }
    }
    Ok(())
}

/// Keeps `handle` at the directory's current policy, reading it every `every`; a failed read
/// keeps the last policy (and is logged), so an outage of the directory never stops processing.
pub fn spawn_policy_refresher(directory: Arc<dyn Directory>, handle: PolicyHandle, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match directory.retention_policy().await {
                Ok(p) => handle.replace(p),
                Err(e) => tracing::warn!(error = %e, "cannot read the retention policy; keeping the last one"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// The single node's purge: at start, then every `every`, by the handle's policy.
pub fn spawn_purger(store: EmbeddedStore, handle: PolicyHandle, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let started = std::time::Instant::now();
            match store.purge(&handle.current(), now_ms()).await {
                Ok(report) => {
                    let total: u64 = report.values().sum();
                    if total > 0 {
                        tracing::info!(rows = total, ms = started.elapsed().as_millis() as u64, ?report, "retention purge");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "retention purge failed; trying again at the next interval"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
