//! The `tandemu` binary, as a user runs it.

use assert_cmd::Command;

fn fixture(rel: &str) -> String {
    tandemu_schemas::fixtures::workspace_path(&format!("schemas/tests/fixtures/claude-code/{rel}")).display().to_string()
}

#[test]
fn help_lists_the_subcommands() {
    let out = Command::cargo_bin("tandemu").unwrap().arg("--help").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("inspect"), "{text}");
}

#[test]
fn inspect_prints_canonical_events_without_content() {
    let out = Command::cargo_bin("tandemu").unwrap().args(["inspect", &fixture("http_json/http_0001_logs.json")]).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stdout.lines().count() >= 10, "{stdout}");
    assert!(stdout.contains("\"kind\":\"tool_result\""), "{stdout}");
    assert!(stdout.contains("~/src/hello-app/hello.py"));
    assert!(!stdout.contains("greeting script"), "content leaked: {stdout}");
    assert!(stderr.contains("0 rejected"), "{stderr}");
}

#[test]
fn inspect_reads_gzip_protobuf_and_summarizes() {
    let out = Command::cargo_bin("tandemu").unwrap().args(["inspect", "--summary", &fixture("http_protobuf_gzip/http_0002_metrics.pb.gz")]).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("metrics") && stdout.contains("0 rejected"), "{stdout}");
}

#[test]
fn inspect_reports_malformed_input_clearly() {
    let dir = std::env::temp_dir().join(format!("tandemu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("broken_logs.json");
    std::fs::write(&bad, b"{\"resourceLogs\": [").unwrap();
    let out = Command::cargo_bin("tandemu").unwrap().args(["inspect", bad.to_str().unwrap()]).assert().failure();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.starts_with("error: malformed OTLP/JSON"), "{stderr}");
    let out = Command::cargo_bin("tandemu").unwrap().args(["inspect", "/nonexistent/x.pb"]).assert().failure();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("cannot tell the signal"), "{stderr}");
}

#[test]
fn retention_on_a_single_node_sets_shows_bounds_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("tandemu").unwrap();
        cmd.env_remove("TANDEMU_CLICKHOUSE_URL").arg("retention").args(args).args(["--data-dir", data]);
        cmd.assert()
    };
    let out = run(&["set", "--table", "sessions", "--days", "30"]).success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("default 30 days, applied"));
    run(&["bounds", "--min-days", "10", "--max-days", "400"]).success();
    let out = run(&["show", "--json"]).success();
    let shown: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(shown["tables"][0]["table"], "sessions");
    assert_eq!(shown["tables"][0]["default_days"], 30);
    assert_eq!(shown["tables"][3]["default_days"], 730, "rollups keep their shipped default");
    assert_eq!(shown["bounds"], serde_json::json!({"min_days": 10, "max_days": 400}));
    let out = run(&["show"]).success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("within 10..400 days"));

    let out = run(&["set", "--table", "sessions", "--days", "50", "--org", "0195f0e0-0000-7000-8000-000000000001"]).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("is not registered"));
    let out = run(&["set", "--table", "logs", "--days", "5"]).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("expected sessions, friction, completion or rollups"));
    let out = run(&["set", "--table", "sessions", "--days", "0"]).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("between 1 and 3650"));
    let out = run(&["bounds", "--min-days", "500", "--max-days", "400"]).failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("bounds must satisfy"));
    let out = run(&["purge"]).success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("purged 0 rows"));
}

#[test]
fn ingest_refuses_kafka_options_that_would_weaken_acknowledgements() {
    let out = Command::cargo_bin("tandemu")
        .unwrap()
        .env("JWT_SECRET", "cli-test-secret-of-32-bytes-or-more-xyz")
        .args(["ingest", "--kafka-brokers", "127.0.0.1:1", "--kafka-option", "acks=1"])
        // Were the option accepted, ingest would start and serve: bound the wait.
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("acks cannot be overridden"), "{stderr}");
    let out = Command::cargo_bin("tandemu")
        .unwrap()
        .env("JWT_SECRET", "cli-test-secret-of-32-bytes-or-more-xyz")
        .args(["ingest", "--kafka-brokers", "127.0.0.1:1", "--kafka-option", "acks"])
        .assert()
        .failure();
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("expected KEY=VALUE"));
}
