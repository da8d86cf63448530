//! `tandemu serve`: the single-node pipeline in one process, on the embedded defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_ingest::{Pipeline, server};
use tandemu_processor::retention::PolicyHandle;
use tandemu_processor::runner;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_query_api::ApiState;
use tandemu_query_api::directory::Directory;
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::secrets::SecretBox;
use tokio::sync::watch;

use super::CliError;
use super::api_args::ApiArgs;
use super::ingest_args::IngestArgs;
use super::store_args::RunnerArgs;

/// How soon a retention override set through the API reaches the purge.
const POLICY_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

/// The embedded tenancy directory of a data directory.
pub fn directory_path(data_dir: &Path) -> PathBuf {
    data_dir.join("store").join("directory.redb")
}

/// The embedded projection store of a data directory.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join("store").join("projections.redb")
}

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
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// Key sealing integration tokens (32 bytes, hex). Default: one generated in the data directory.
    #[arg(long, env = "ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
    /// How often the retention policy is applied to the embedded store (also once at start).
    #[arg(long, env = "TANDEMU_PURGE_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub purge_interval: std::time::Duration,
}

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let secret = super::secret::for_single_node(args.jwt_secret.as_deref(), &args.data_dir)?;
    let log_dir = args.data_dir.join("log");
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(&log_dir)).map_err(|e| CliError::Usage(format!("event log in {}: {e}", log_dir.display())))?;
    let records = log.end_offset();
    let store_file = store_path(&args.data_dir);
    let store = EmbeddedStore::open(&store_file).map_err(|e| CliError::Usage(format!("projection store {}: {e}", store_file.display())))?;
    let verifier = args.ingest.verifier(&secret)?;
    let pipeline = Arc::new(Pipeline::new(Arc::new(log.clone()), verifier.clone(), args.ingest.config()));
    let running = server::start(pipeline).await?;
    let directory_file = directory_path(&args.data_dir);
    let directory = EmbeddedDirectory::open(&directory_file).map_err(|e| CliError::Usage(format!("directory {}: {e}", directory_file.display())))?;
    let first_run = !directory.has_orgs().unwrap_or(true);
    let key = super::secret::encryption_key_for_single_node(args.encryption_key.as_deref(), &args.data_dir)?;
    let sealer = SecretBox::from_hex(&key).map_err(|e| CliError::Usage(e.to_string()))?;
    // The retention policy follows the directory (overrides set through the API included) and
    // the store is purged by it.
    let policy = PolicyHandle::new(directory.retention_policy().await.map_err(|e| CliError::Usage(format!("retention policy: {e}")))?);
    let refresher = super::retention::spawn_policy_refresher(Arc::new(directory.clone()), policy.clone(), POLICY_REFRESH);
    let purger = super::retention::spawn_purger(store.clone(), policy, args.purge_interval);
    let state = ApiState::new(Arc::new(store.clone()), Arc::new(directory), verifier).with_signing_secret(secret.clone()).with_secrets(sealer);
    let api = args.api.start(state).await?;

    // The processor follows the log from the group's committed offset; it stops after ingest
    // has answered its last request and has written everything acknowledged by then.
    let (stop_tx, stop_rx) = watch::channel(false);
    let cfg = args.runner.config();
    let processor = tokio::spawn(async move {
        let r = runner::run_embedded(&log, &store, &cfg, stop_rx, false).await;
        if r.is_ok() {
            // Catch up with what ingest accepted before it stopped.
            let (_tx, rx) = watch::channel(false);
            return runner::run_embedded(&log, &store, &cfg, rx, true).await;
        }
        r
    });

    eprintln!("tandemu {} — single node (embedded event log)", env!("CARGO_PKG_VERSION"));
    eprintln!("  OTLP/gRPC   http://{}", running.grpc_addr);
    eprintln!("  OTLP/HTTP   http://{}  (also /healthz, /readyz, /metrics)", running.http_addr);
    eprintln!("  query API   http://{}/v1/…  (bearer token of the organization)", api.addr);
    eprintln!("  data        {} ({records} events in the log)", args.data_dir.display());
    eprintln!("  retention   purged every {} (tandemu retention show)", humantime::format_duration(args.purge_interval));
    if first_run {
        eprintln!("  first run   in a second terminal: tandemu setup --org NAME --email EMAIL --write-claude-settings");
    } else {
        eprintln!("  tokens      tandemu token issue --data-dir {} --org <uuid> --user <uuid>", args.data_dir.display());
    }
    eprintln!("Ctrl-C stops after the requests in flight are answered.");

    super::shutdown_signal().await;
    eprintln!("stopping: finishing requests in flight…");
    running.shutdown().await;
    api.shutdown().await;
    let _ = stop_tx.send(true);
    refresher.abort();
    purger.abort();
    eprintln!("stopping: processing what was accepted…");
    match processor.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("processor: {e}"),
        Err(e) => eprintln!("processor task: {e}"),
    }
    eprintln!("stopped");
    Ok(())
}
