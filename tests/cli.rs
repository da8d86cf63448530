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
