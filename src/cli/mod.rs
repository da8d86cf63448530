//! Command-line interface. Each subcommand lives in its own module; this file only routes.

mod api_args;
mod ingest_args;
mod ingest_cmd;
mod inspect;
mod kafka_options;
mod migrate;
mod process;
mod query_api_cmd;
mod replay;
mod retention;
mod secret;
mod serve;
mod setup;
mod store_args;
mod token;

use clap::{Parser, Subcommand};

/// Tandemu telemetry pipeline: receives Claude Code's OpenTelemetry, keeps metadata and never
/// content, and serves team aggregates (sessions, friction, task completion, tools, cost).
#[derive(Debug, Parser)]
#[command(name = "tandemu", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the single-node pipeline: OTLP receivers (:4317 gRPC, :4318 HTTP) into the embedded
    /// event log in --data-dir, and the processor writing the projections beside it. No Kafka,
    /// ClickHouse or PostgreSQL needed.
    Serve(serve::ServeArgs),
    /// Run the ingest role of a distributed deployment: OTLP receivers into a Kafka topic.
    Ingest(ingest_cmd::IngestCmdArgs),
    /// Run the processor role of a distributed deployment: the Kafka topic into ClickHouse, as a
    /// member of a consumer group (start several to share the partitions).
    Process(process::ProcessArgs),
    /// Run the query API role of a distributed deployment: aggregates from ClickHouse, tenancy
    /// data from PostgreSQL (row-level security).
    QueryApi(query_api_cmd::QueryApiArgs),
    /// Apply the ClickHouse (`clickhouse/`) and PostgreSQL (`migrations/`) migrations not
    /// applied yet. Idempotent.
    Migrate(migrate::MigrateArgs),
    /// Rebuild the single node's projections from its event log (stop `serve` first).
    Replay(replay::ReplayArgs),
    /// First run of a single node: create the organization and its owner, issue the owner's
    /// token, and print (or merge into ~/.claude/settings.json) the Claude Code settings.
    Setup(setup::SetupArgs),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// How long projections live: show the policy and what ClickHouse really has, change a
    /// table's default or an organization's override, set the bounds, purge now.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Show what Tandemu would keep from an OTLP export: the canonical events, as JSON lines.
    ///
    /// Reads one export request body (OTLP protobuf or OTLP/JSON, optionally gzip) and runs it
    /// through the same mapping and content allowlist as ingest. Nothing is stored. Useful to
    /// check, before sending telemetry, that no prompt, response, command or file content is kept.
    Inspect(inspect::InspectArgs),
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Decode(#[from] tandemu_schemas::otlp::DecodeError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Token(cmd) => token::run(cmd),
        Command::Setup(args) => runtime()?.block_on(setup::run(args)),
        Command::Serve(args) => runtime()?.block_on(serve::run(args)),
        Command::Ingest(args) => runtime()?.block_on(ingest_cmd::run(args)),
        Command::Process(args) => runtime()?.block_on(process::run(args)),
        Command::QueryApi(args) => runtime()?.block_on(query_api_cmd::run(args)),
        Command::Migrate(args) => runtime()?.block_on(migrate::run(args)),
        Command::Replay(args) => runtime()?.block_on(replay::run(args)),
        Command::Retention(cmd) => runtime()?.block_on(retention::run(cmd)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
