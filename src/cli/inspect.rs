//! `tandemu inspect`: the mapping and the allowlist, on a file, with nothing stored.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tandemu_schemas::otlp::{self, Encoding, Signal};
use tandemu_schemas::{Stamp, TenantId, UserId};
use uuid::Uuid;

use super::CliError;

/// Largest decompressed body read, as ingest's default limit.
const MAX_BODY: usize = 64 << 20;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The export request body: `.pb`/`.bin` (protobuf) or `.json` (OTLP/JSON), `.gz` if gzipped.
    pub file: PathBuf,
    /// Which OTLP signal the body holds. Default: guessed from the file name (logs, metrics, traces).
    #[arg(long, value_enum)]
    pub signal: Option<SignalArg>,
    /// Body encoding. Default: guessed from the extension (`.json` is JSON, anything else protobuf).
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// Print one summary line only, not the events.
    #[arg(long)]
    pub summary: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SignalArg {
    Logs,
    Metrics,
    Traces,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EncodingArg {
    Protobuf,
    Json,
}

pub fn run(args: InspectArgs) -> Result<(), CliError> {
    let name = args.file.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let signal = match args.signal {
        Some(SignalArg::Logs) => Signal::Logs,
        Some(SignalArg::Metrics) => Signal::Metrics,
        Some(SignalArg::Traces) => Signal::Traces,
        None => ["logs", "metrics", "traces"]
            .into_iter()
            .find(|s| name.contains(s))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| CliError::Usage(format!("cannot tell the signal from {name:?}; pass --signal logs|metrics|traces")))?,
    };
    let encoding = match args.encoding {
        Some(EncodingArg::Protobuf) => Encoding::Protobuf,
        Some(EncodingArg::Json) => Encoding::Json,
        None if name.contains(".json") => Encoding::Json,
        None => Encoding::Protobuf,
    };
    let raw = std::fs::read(&args.file).map_err(|source| CliError::Read { path: args.file.display().to_string(), source })?;
    let body = if raw.starts_with(&[0x1f, 0x8b]) { otlp::gunzip_limited(&raw, MAX_BODY)? } else { raw };

    // Inspection has no token: a fixed placeholder identity stands in for the verified one.
    let stamp = Stamp { tenant: TenantId(Uuid::nil()), user: UserId(Uuid::nil()) };
    let mapped = otlp::decode_and_map(signal, &body, encoding, &stamp)?;

    let mut out = std::io::stdout().lock();
    if !args.summary {
        for ev in &mapped.events {
            serde_json::to_writer(&mut out, ev).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
    }
    let mut summary = format!(
        "{}: {} {} record(s) -> {} event(s) kept, {} rejected, {} ignored",
        args.file.display(),
        signal.as_str(),
        mapped.events.len() as u64 + mapped.rejected + mapped.ignored,
        mapped.events.len(),
        mapped.rejected,
        mapped.ignored
    );
    if let Some(msg) = mapped.partial_success_message() {
        summary.push_str(&format!(" ({msg})"));
    }
    if args.summary {
        writeln!(out, "{summary}")?;
    } else {
        eprintln!("{summary}");
    }
    Ok(())
}
