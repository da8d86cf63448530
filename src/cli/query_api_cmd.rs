//! `tandemu query-api`: the query API role of a distributed deployment — projections from
//! ClickHouse, tenancy data from PostgreSQL under row-level security.

use std::sync::Arc;

use clap::Args;
use sqlx::postgres::PgPoolOptions;
use tandemu_query_api::ApiState;
use tandemu_query_api::directory::PostgresDirectory;

use super::CliError;
use super::api_args::ApiArgs;
use super::ingest_args::TokenArgs;
use super::store_args::ClickHouseArgs;

#[derive(Debug, Args)]
pub struct QueryApiArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    /// PostgreSQL as the service role: a login role that is a member of `tandemu_app`, owns no
    /// table and cannot bypass row-level security (checked at start).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Secret for HS256 tokens; required (32 bytes or more), the same as ingest's.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Key sealing integration tokens with AES-256-GCM: 32 bytes as 64 hex characters
    /// (`openssl rand -hex 32`). Required; back it up, since the tokens cannot be opened without it.
    #[arg(long, env = "ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub tokens: TokenArgs,
}

pub async fn run(args: QueryApiArgs) -> Result<(), CliError> {
    let secret = super::secret::for_distributed(args.jwt_secret.as_deref())?;
    let key = args.encryption_key.as_deref().ok_or_else(|| {
        CliError::Usage("ENCRYPTION_KEY is required in distributed mode: 64 hex characters (openssl rand -hex 32), the same for every query API process; it seals integration tokens".into())
    })?;
    let sealer = tandemu_query_api::secrets::SecretBox::from_hex(key).map_err(|e| CliError::Usage(format!("ENCRYPTION_KEY: {e}")))?;
    let store = args.clickhouse.store()?;
    let pending = store.pending_migrations().await.map_err(|e| CliError::Usage(format!("ClickHouse: {e}")))?;
    if !pending.is_empty() {
        return Err(CliError::Usage(format!("ClickHouse lacks migrations {pending:?}: run `tandemu migrate` first")));
    }
    let pool = PgPoolOptions::new().max_connections(8).connect(&args.database_url).await.map_err(|e| CliError::Usage(format!("PostgreSQL: {e}")))?;
    let directory = PostgresDirectory::new(pool);
    directory.check_service_role().await.map_err(|e| CliError::Usage(e.to_string()))?;
    let verifier = args.tokens.verifier(&secret)?;
    let state = ApiState::new(Arc::new(store), Arc::new(directory), verifier).with_signing_secret(secret).with_secrets(sealer);
    let api = args.api.start(state).await?;
    eprintln!("tandemu {} — query API on http://{} (ClickHouse, PostgreSQL with row-level security)", env!("CARGO_PKG_VERSION"), api.addr);
    super::shutdown_signal().await;
    eprintln!("stopping: finishing requests in flight…");
    api.shutdown().await;
    Ok(())
}
