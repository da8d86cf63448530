//! OTLP/HTTP into the embedded log: every fixture capture, the token checks, bad input, limits,
//! partial success and the operational endpoints.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tandemu_ingest::auth::{self, Role};
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_schemas::fixtures::{self, Capture};
use tandemu_schemas::{EventId, encoding};

fn http_captures() -> Vec<Capture> {
    fixtures::load_all().into_iter().filter(|c| c.transport == "http").collect()
}

fn log_ids(log: &EmbeddedLog) -> Vec<EventId> {
    let mut ids: Vec<EventId> = log.read(0, usize::MAX).unwrap().into_iter().map(|(_, p)| encoding::decode(&p).expect("decodes").id).collect();
    ids.sort();
    ids
}

/// Every byte the embedded log wrote to disk.
fn bytes_on_disk(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("segments")).unwrap() {
        out.extend(std::fs::read(e.unwrap().path()).unwrap());
    }
    out
}

async fn setup(cfg: tandemu_ingest::IngestConfig) -> (tempfile::TempDir, EmbeddedLog, tandemu_ingest::server::RunningIngest, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
    let ingest = start(Arc::new(log.clone()), cfg).await;
    let base = format!("http://{}", ingest.http_addr);
    (dir, log, ingest, base)
}

#[tokio::test]
async fn every_http_capture_lands_in_the_embedded_log_without_content() {
    let (dir, log, ingest, base) = setup(config()).await;
    let who = Identity::new();
    let client = reqwest::Client::new();
    let captures = http_captures();
    assert_eq!(captures.len(), 8 + 6 + 6 + 4);
    for c in &captures {
        let resp = post_capture(&client, &base, c, Some(&who.bearer())).await;
        assert_eq!(resp.status(), 200, "{}/{}: {:?}", c.variant, c.file, resp.text().await);
    }
    assert_eq!(log_ids(&log), expected_ids(&captures, &who));
    let written = bytes_on_disk(dir.path());
    let canaries = fixtures::canaries(&fixtures::load_all());
    let leaks = fixtures::find_leaks(&written, &canaries);
    assert!(leaks.is_empty(), "content on disk: {leaks:?}");
    // Every event is stamped with the token's tenant and user.
    for (_, p) in log.read(0, usize::MAX).unwrap() {
        let ev = encoding::decode(&p).unwrap();
        assert_eq!((ev.tenant, ev.user), (who.stamp().tenant, who.stamp().user));
    }
    ingest.shutdown().await;
}

#[tokio::test]
async fn the_same_export_twice_yields_the_same_ids() {
    let (_dir, log, ingest, base) = setup(config()).await;
    let who = Identity::new();
    let client = reqwest::Client::new();
    let c = &fixtures::load("http_json")[0];
    for _ in 0..2 {
        assert_eq!(post_capture(&client, &base, c, Some(&who.bearer())).await.status(), 200);
    }
    let ids = log_ids(&log);
    let once = expected_ids(std::slice::from_ref(c), &who);
    let mut twice: Vec<EventId> = once.iter().chain(once.iter()).copied().collect();
    twice.sort();
    assert_eq!(ids, twice, "both copies carry the same ids, so the processor counts them once");
    ingest.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_get_401_and_nothing_is_written() {
    let (_dir, log, ingest, base) = setup(config()).await;
    let client = reqwest::Client::new();
    let c = &fixtures::load("http_protobuf")[0];
    let who = Identity::new();

    let mut expired = auth::claims_for(who.org, who.user, Role::Member, Duration::from_secs(60));
    expired.exp = expired.iat - 600;
    let expired = auth::issue_hs256(SECRET, &expired).unwrap();
    let wrong_key =
        auth::issue_hs256(b"some-other-secret-some-other-secret", &auth::claims_for(who.org, who.user, Role::Owner, Duration::from_secs(60))).unwrap();
    let mut parts: Vec<&str> = who.token.split('.').collect();
    let other = Identity::new();
    let other_payload = other.token.split('.').nth(1).unwrap().to_owned();
    parts[1] = &other_payload;
    let tampered = parts.join(".");
    let payload = who.token.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");

    for (name, header) in [
        ("missing", None),
        ("not bearer", Some(format!("Basic {}", who.token))),
        ("expired", Some(format!("Bearer {expired}"))),
        ("tampered", Some(format!("Bearer {tampered}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("wrong key", Some(format!("Bearer {wrong_key}"))),
    ] {
        let resp = post_capture(&client, &base, c, header.as_deref()).await;
        assert_eq!(resp.status(), 401, "{name}");
        let status: tandemu_ingest::rpc_status::Status = prost::Message::decode(resp.bytes().await.unwrap()).expect("a google.rpc.Status body");
        assert!(status.message.starts_with("unauthenticated"), "{name}: {}", status.message);
    }
    assert_eq!(log.end_offset(), 0, "nothing written");
    ingest.shutdown().await;
}

#[tokio::test]
async fn malformed_unsupported_oversize_and_bomb_bodies_are_refused_clearly() {
    let cfg = tandemu_ingest::IngestConfig { max_body_bytes: 64 << 10, max_decompressed_bytes: 256 << 10, ..config() };
    let (_dir, log, ingest, base) = setup(cfg).await;
    let who = Identity::new();
    let client = reqwest::Client::new();
    let post = |path: &str, ct: &str, ce: Option<&str>, body: Vec<u8>| {
        let mut r = client.post(format!("{base}{path}")).header("Content-Type", ct).header("Authorization", who.bearer()).body(body);
        if let Some(ce) = ce {
            r = r.header("Content-Encoding", ce);
        }
        r.send()
    };
    let gzip = |data: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };

    let r = post("/v1/logs", "application/x-protobuf", None, vec![0xff, 0xff, 0xff, 0x0f]).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("malformed protobuf"));
    let r = post("/v1/metrics", "application/json", None, b"{\"resourceMetrics\": [{".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("malformed OTLP/JSON"), "{body}");
    let r = post("/v1/logs", "text/plain", None, b"hello".to_vec()).await.unwrap();
    assert_eq!(r.status(), 415);
    let r = post("/v1/logs", "application/json", Some("br"), b"{}".to_vec()).await.unwrap();
    assert_eq!(r.status(), 415);
    let r = post("/v1/logs", "application/json", Some("gzip"), b"not gzip at all".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post("/v1/traces", "application/x-protobuf", None, vec![0u8; 100 << 10]).await.unwrap();
    assert_eq!(r.status(), 413, "oversize body");
    let bomb = gzip(&vec![b'{'; 8 << 20]);
    assert!(bomb.len() < 64 << 10);
    let r = post("/v1/logs", "application/json", Some("gzip"), bomb).await.unwrap();
    assert_eq!(r.status(), 413, "gzip bomb");

    assert_eq!(log.end_offset(), 0, "nothing written");
    ingest.shutdown().await;
}

#[tokio::test]
async fn invalid_records_are_reported_as_partial_success_and_the_rest_kept() {
    let (_dir, log, ingest, base) = setup(config()).await;
    let who = Identity::new();
    let body = serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1796325147103000000", "attributes": [
            {"key": "event.name", "value": {"stringValue": "tandemu.task.started"}},
            {"key": "task.id", "value": {"stringValue": "PROJ-7"}}]},
        {"timeUnixNano": "1796325147104000000", "attributes": [
            {"key": "event.name", "value": {"stringValue": "tandemu.task.finished"}}]}
    ]}]}]});
    let r = reqwest::Client::new().post(format!("{base}/v1/logs")).header("Authorization", who.bearer()).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let resp: serde_json::Value = r.json().await.unwrap();
    let partial = &resp["partialSuccess"];
    assert_eq!(partial["rejectedLogRecords"].as_i64().or_else(|| partial["rejectedLogRecords"].as_str()?.parse().ok()), Some(1), "{resp}");
    assert!(partial["errorMessage"].as_str().unwrap().contains("task.id"), "{resp}");
    assert_eq!(log.end_offset(), 1);
    ingest.shutdown().await;
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after() {
    let cfg = tandemu_ingest::IngestConfig { tenant_events_per_second: 2, ..config() };
    let (_dir, log, ingest, base) = setup(cfg).await;
    let who = Identity::new();
    let client = reqwest::Client::new();
    let c = &fixtures::load("http_json")[0]; // 11 events: more than 2 s worth of 2 events/s
    let r = post_capture(&client, &base, c, Some(&who.bearer())).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(log.end_offset(), 0);
    ingest.shutdown().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_endpoints_answer() {
    let (_dir, _log, ingest, base) = setup(config()).await;
    let client = reqwest::Client::new();
    let who = Identity::new();
    post_capture(&client, &base, &fixtures::load("http_json")[0], Some(&who.bearer())).await;
    assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    let m = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("tandemu_ingest_requests_total"), "{m}");
    assert!(m.contains("tandemu_ingest_events_accepted_total"), "{m}");
    ingest.shutdown().await;
}
