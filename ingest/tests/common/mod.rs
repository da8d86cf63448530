//! Shared helpers of the ingest integration tests: a running ingest on free ports, tokens, and
//! the fixture captures sent as Claude Code sends them.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tandemu_ingest::auth::{self, Role, Verifier};
use tandemu_ingest::log::EventLog;
use tandemu_ingest::server::{self, RunningIngest};
use tandemu_ingest::{IngestConfig, Pipeline};
use tandemu_schemas::fixtures::Capture;
use tandemu_schemas::{EventId, Stamp, TenantId, UserId};
use uuid::Uuid;

pub const SECRET: &[u8] = b"integration-test-secret-0123456789";

pub fn config() -> IngestConfig {
    IngestConfig { grpc_addr: "127.0.0.1:0".parse().unwrap(), http_addr: "127.0.0.1:0".parse().unwrap(), ..IngestConfig::default() }
}

pub async fn start(log: Arc<dyn EventLog>, cfg: IngestConfig) -> RunningIngest {
    let pipeline = Arc::new(Pipeline::new(log, Verifier::hs256(SECRET).unwrap(), cfg));
    server::start(pipeline).await.expect("ingest starts")
}

pub struct Identity {
    pub org: Uuid,
    pub user: Uuid,
    pub token: String,
}

impl Identity {
    pub fn new() -> Self {
        let (org, user) = (Uuid::new_v4(), Uuid::new_v4());
        let claims = auth::claims_for(org, user, Role::Member, Duration::from_secs(3600));
        Self { org, user, token: auth::issue_hs256(SECRET, &claims).unwrap() }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp { tenant: TenantId(self.org), user: UserId(self.user) }
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// The ids the captures map to for this identity: what the log must hold.
pub fn expected_ids(captures: &[Capture], who: &Identity) -> Vec<EventId> {
    let mut ids: Vec<EventId> = captures.iter().flat_map(|c| c.map(&who.stamp()).expect("maps").events.into_iter().map(|e| e.id)).collect();
    ids.sort();
    ids
}

/// Sends an HTTP capture as Claude Code does: its content type and encoding, chunked (no
/// Content-Length), with a bearer token.
pub async fn post_capture(client: &reqwest::Client, base: &str, c: &Capture, auth: Option<&str>) -> reqwest::Response {
    let body = c.raw.clone();
    let stream = futures::stream::iter(body.chunks(4096).map(|ch| Ok::<_, std::io::Error>(ch.to_vec())).collect::<Vec<_>>());
    let mut req = client.post(format!("{base}{}", c.path)).body(reqwest::Body::wrap_stream(stream));
    if let Some(ct) = &c.content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(ce) = &c.content_encoding {
        req = req.header("Content-Encoding", ce);
    }
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    req.send().await.expect("request sent")
}

/// Sends a capture over gRPC (the body decoded into its request type and re-sent by tonic's
/// client), optionally gzip-compressed.
pub async fn grpc_export(addr: std::net::SocketAddr, c: &Capture, auth: Option<&str>, gzip: bool) -> Result<(), tonic::Status> {
    tandemu_ingest::client::export_grpc(&format!("http://{addr}"), c.signal, &c.body(), c.encoding(), auth, gzip).await
}
