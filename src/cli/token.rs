//! `tandemu token issue`: a bearer token for the plugin's OTLP exporter.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use tandemu_ingest::auth::{self, Role};
use uuid::Uuid;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a signed token (printed on stdout) for a user of an organization.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The organization (tenant) id.
    #[arg(long)]
    pub org: Uuid,
    /// The user id.
    #[arg(long)]
    pub user: Uuid,
    /// The user's role.
    #[arg(long, value_enum, default_value = "member")]
    pub role: RoleArg,
    /// How long the token is valid (e.g. 30d, 12h).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Sign with the secret of this single node's data directory (when JWT_SECRET is not set).
    #[arg(long, env = "TANDEMU_DATA_DIR", default_value = "./tandemu-data")]
    pub data_dir: PathBuf,
    /// Secret for HS256 tokens.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Owner,
    Admin,
    Member,
}

pub fn run(cmd: TokenCommand) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Issue(a) => {
            let secret = super::secret::for_single_node(a.jwt_secret.as_deref(), &a.data_dir)?;
            let role = match a.role {
                RoleArg::Owner => Role::Owner,
                RoleArg::Admin => Role::Admin,
                RoleArg::Member => Role::Member,
            };
            let claims = auth::claims_for(a.org, a.user, role, a.ttl);
            let token = auth::issue_hs256(&secret, &claims).map_err(|e| CliError::Usage(e.to_string()))?;
            println!("{token}");
            Ok(())
        }
    }
}
