//! Ingest settings, as one typed struct. The CLI (`tandemu serve`, `tandemu ingest`) fills it
//! from flags and environment variables; the defaults are written beside each field.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// OTLP/gRPC listener. Default `127.0.0.1:4317` (loopback: expose it on purpose).
    pub grpc_addr: SocketAddr,
    /// OTLP/HTTP listener, also serving `/healthz`, `/readyz` and `/metrics`. Default `127.0.0.1:4318`.
    pub http_addr: SocketAddr,
    /// Largest request body as sent (compressed). Default 8 MiB.
    pub max_body_bytes: usize,
    /// Largest request body once decompressed. Default 32 MiB; a gzip bomb stops here.
    pub max_decompressed_bytes: usize,
    /// Longest a request may take end to end before it is answered "unavailable, retry". Default 10 s.
    pub request_timeout: Duration,
    /// Events per second one organization may send (bursts up to two seconds' worth). Default 500,000.
    pub tenant_events_per_second: u32,
    /// What `Retry-After` / `RetryInfo` tell a client to wait when the log is unavailable. Default 5 s.
    pub retry_after: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            max_body_bytes: 8 << 20,
            max_decompressed_bytes: 32 << 20,
            request_timeout: Duration::from_secs(10),
            tenant_events_per_second: 500_000,
            retry_after: Duration::from_secs(5),
        }
    }
}
