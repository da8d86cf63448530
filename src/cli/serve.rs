//! `tandemu serve`: the single-node pipeline in one process, on the embedded defaults.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_ingest::{Pipeline, server};

use super::CliError;
use super::ingest_args::IngestArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the single node keeps everything (event log, stores, its token secret).
    #[arg(long, env = "TANDEMU_DATA_DIR", default_value = "./tandemu-data")]
    pub data_dir: PathBuf,
    /// Secret for HS256 tokens. Default: a random one generated in the data directory.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    #[command(flatten)]
    pub ingest: IngestArgs,
}

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let secret = super::secret::for_single_node(args.jwt_secret.as_deref(), &args.data_dir)?;
    let log_dir = args.data_dir.join("log");
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(&log_dir)).map_err(|e| CliError::Usage(format!("event log in {}: {e}", log_dir.display())))?;
    let records = log.end_offset();
    let pipeline = Arc::new(Pipeline::new(Arc::new(log), args.ingest.verifier(&secret)?, args.ingest.config()));
    let running = server::start(pipeline).await?;

    eprintln!("tandemu {} — single node (embedded event log)", env!("CARGO_PKG_VERSION"));
    eprintln!("  OTLP/gRPC   http://{}", running.grpc_addr);
    eprintln!("  OTLP/HTTP   http://{}  (also /healthz, /readyz, /metrics)", running.http_addr);
    eprintln!("  data        {} ({records} events in the log)", args.data_dir.display());
    eprintln!("  tokens      tandemu token issue --data-dir {} --org <uuid> --user <uuid>", args.data_dir.display());
    eprintln!("Ctrl-C stops after the requests in flight are answered.");

    super::shutdown_signal().await;
    eprintln!("stopping: finishing requests in flight…");
    running.shutdown().await;
    eprintln!("stopped");
    Ok(())
}
