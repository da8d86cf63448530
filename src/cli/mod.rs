//! Command-line interface. Each subcommand lives in its own module; this file only routes.

mod inspect;

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
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
    }
}
