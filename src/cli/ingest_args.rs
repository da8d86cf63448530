//! Flags shared by every command that runs ingest.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use tandemu_ingest::IngestConfig;

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// OTLP/gRPC listen address. Loopback by default: use 0.0.0.0:4317 to accept other machines.
    #[arg(long, env = "TANDEMU_GRPC_LISTEN", default_value = "127.0.0.1:4317")]
    pub grpc_listen: SocketAddr,
    /// OTLP/HTTP listen address (also /healthz, /readyz, /metrics).
    #[arg(long, env = "TANDEMU_HTTP_LISTEN", default_value = "127.0.0.1:4318")]
    pub http_listen: SocketAddr,
    /// Largest request body as sent, in bytes.
    #[arg(long, env = "TANDEMU_MAX_BODY_BYTES", default_value_t = 8 << 20)]
    pub max_body_bytes: usize,
    /// Largest request body once decompressed, in bytes.
    #[arg(long, env = "TANDEMU_MAX_DECOMPRESSED_BYTES", default_value_t = 32 << 20)]
    pub max_decompressed_bytes: usize,
    /// Events per second one organization may send (bursts of two seconds' worth).
    #[arg(long, env = "TANDEMU_TENANT_EVENTS_PER_SECOND", default_value_t = 500_000)]
    pub tenant_events_per_second: u32,
    /// Longest a request may take before it is answered "unavailable, retry" (e.g. 10s).
    #[arg(long, env = "TANDEMU_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    #[command(flatten)]
    pub tokens: TokenArgs,
}

/// How bearer tokens are checked (ingest and the query API take the same flags).
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// JWT issuer to require (`iss`), if any.
    #[arg(long, env = "TANDEMU_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// JWT audience to require (`aud`), if any.
    #[arg(long, env = "TANDEMU_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Also accept RS256 tokens signed by this RSA public key (PEM file).
    #[arg(long, env = "TANDEMU_JWT_RS256_PUBLIC_KEY")]
    pub jwt_rs256_public_key: Option<std::path::PathBuf>,
    /// Also accept EdDSA tokens signed by this Ed25519 public key (PEM file).
    #[arg(long, env = "TANDEMU_JWT_EDDSA_PUBLIC_KEY")]
    pub jwt_eddsa_public_key: Option<std::path::PathBuf>,
}

impl IngestArgs {
    pub fn verifier(&self, secret: &[u8]) -> Result<tandemu_ingest::auth::Verifier, super::CliError> {
        self.tokens.verifier(secret)
    }

    pub fn config(&self) -> IngestConfig {
        IngestConfig {
            grpc_addr: self.grpc_listen,
            http_addr: self.http_listen,
            max_body_bytes: self.max_body_bytes,
            max_decompressed_bytes: self.max_decompressed_bytes,
            request_timeout: self.request_timeout,
            tenant_events_per_second: self.tenant_events_per_second,
            ..IngestConfig::default()
        }
    }
}

impl TokenArgs {
    pub fn verifier(&self, secret: &[u8]) -> Result<tandemu_ingest::auth::Verifier, super::CliError> {
        let read = |p: &std::path::PathBuf| std::fs::read(p).map_err(|source| super::CliError::Read { path: p.display().to_string(), source });
        let mut v = tandemu_ingest::auth::Verifier::hs256(secret).map_err(|e| super::CliError::Usage(e.to_string()))?;
        if let Some(p) = &self.jwt_rs256_public_key {
            v = v.with_rs256_pem(&read(p)?).map_err(|e| super::CliError::Usage(e.to_string()))?;
        }
        if let Some(p) = &self.jwt_eddsa_public_key {
            v = v.with_eddsa_pem(&read(p)?).map_err(|e| super::CliError::Usage(e.to_string()))?;
        }
        Ok(v.with_issuer(self.jwt_issuer.clone()).with_audience(self.jwt_audience.clone()))
    }
}
