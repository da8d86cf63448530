//! `tandemu serve` as a user runs it: start, get a token, export a session over OTLP/HTTP and one
//! over OTLP/gRPC, stop with SIGTERM,
//! and find the events in the data directory's log, and the projections the processor wrote
//! from them, after the graceful shutdown.

mod common;

use common::{KillOnDrop, free_port};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_schemas::fixtures;

#[tokio::test]
async fn serve_accepts_claude_code_exports_and_stops_cleanly() {
    let bin = env!("CARGO_BIN_EXE_tandemu");
    let data = tempfile::tempdir().unwrap();
    let (grpc, http, api) = (free_port(), free_port(), free_port());
    let child = Command::new(bin)
        .args(["serve", "--data-dir", data.path().to_str().unwrap()])
        .args(["--grpc-listen", &format!("127.0.0.1:{grpc}"), "--http-listen", &format!("127.0.0.1:{http}")])
        .args(["--api-listen", &format!("127.0.0.1:{api}")])
        .env_remove("JWT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let org = uuid::Uuid::new_v4().to_string();
    let user = uuid::Uuid::new_v4().to_string();
    let out = Command::new(bin)
        .args(["token", "issue", "--org", &org, "--user", &user, "--data-dir", data.path().to_str().unwrap()])
        .env_remove("JWT_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // The whole http_json session, as Claude Code sent it.
    let captures = fixtures::load("http_json");
    for c in &captures {
        let r = client
            .post(format!("{base}{}", c.path))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {token}"))
            .body(c.raw.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", c.file);
    }

    // And the grpc session over OTLP/gRPC, as Claude Code's exporter sends it.
    let grpc_captures = fixtures::load("grpc");
    for c in &grpc_captures {
        tandemu_ingest::client::export_grpc(&format!("http://127.0.0.1:{grpc}"), c.signal, &c.body(), c.encoding(), Some(&format!("Bearer {token}")), true)
            .await
            .unwrap_or_else(|s| panic!("{}: {s}", c.file));
    }

    // The processor follows the log; the query API shows both sessions once it has.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = client.get(format!("http://127.0.0.1:{api}/v1/sessions")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        // Every export was acknowledged, so the processor gets to all of it; until then a part
        // of a session may show (its tool calls before its last records, say).
        let whole = |ms: i64| v["data"].as_array().into_iter().flatten().any(|s| s["tool_calls"] == 5 && s["duration_ms"] == ms && s["lines_added"] == 14);
        if whole(1304) && whole(1117) {
            break;
        }
        assert!(Instant::now() < deadline, "the query API did not show both sessions: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // SIGTERM: graceful stop.
    let _ = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("OTLP/HTTP") && stderr.contains("stopped"), "{stderr}");
    assert!(stderr.contains("first run   in a second terminal: tandemu setup"), "no organization yet: the summary says what to do: {stderr}");

    let stamp = tandemu_schemas::Stamp { tenant: org.parse().unwrap(), user: user.parse().unwrap() };
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(data.path().join("log"))).unwrap();
    let expected: usize = captures.iter().chain(&grpc_captures).map(|c| c.map(&stamp).unwrap().events.len()).sum();
    assert_eq!(log.end_offset() as usize, expected);

    // The processor ran beside ingest and wrote everything acknowledged before the stop.
    let store = EmbeddedStore::open(&data.path().join("store/projections.redb")).unwrap();
    let mut sessions = store.sessions(stamp.tenant).await.unwrap();
    sessions.sort_by_key(|s| s.duration_ms);
    assert_eq!(sessions.len(), 2);
    for (s, ms) in sessions.iter().zip([1117, 1304]) {
        assert_eq!((s.prompts, s.api_requests, s.tool_calls, s.tool_failures), (1, 6, 5, 2));
        assert_eq!((s.lines_added, s.lines_removed, s.commits, s.duration_ms), (14, 2, 1, ms));
    }
    assert_eq!(store.friction(stamp.tenant).await.unwrap().len(), 4);
}
