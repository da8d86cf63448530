//! `tandemu setup` as a new user runs it: on a fresh data directory (serve not running yet) and
//! against a running `serve` (which holds the directory); the Claude Code settings are merged
//! without clobbering others, and the owner's token works on the query API.

mod common;

use common::{KillOnDrop, free_port};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tandemu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandemu"));
    c.env_remove("JWT_SECRET").env_remove("ENCRYPTION_KEY").env_remove("TANDEMU_DATA_DIR");
    c
}

fn token_of(stdout: &str) -> String {
    stdout.lines().find(|l| l.starts_with("eyJ")).expect("a token line").trim().to_owned()
}

#[tokio::test]
async fn setup_creates_the_org_and_writes_claude_settings() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let settings = data.path().join("claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"theme": "dark", "env": {"FOO": "bar"}}"#).unwrap();

    let out = tandemu()
        .args(["setup", "--org", "Acme", "--email", "owner@acme.invalid", "--data-dir", d, "--write-claude-settings"])
        .args(["--claude-settings", settings.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = token_of(&stdout);
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(merged["theme"], "dark", "other settings kept");
    assert_eq!(merged["env"]["FOO"], "bar", "other env kept");
    assert_eq!(merged["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
    assert_eq!(merged["env"]["OTEL_EXPORTER_OTLP_HEADERS"], format!("Authorization=Bearer {token}"));
    for flag in ["OTEL_LOG_USER_PROMPTS", "OTEL_LOG_TOOL_DETAILS", "OTEL_LOG_TOOL_CONTENT", "OTEL_LOG_RAW_API_BODIES"] {
        assert_eq!(merged["env"][flag], "0", "content flags off: {flag}");
    }
    assert_eq!((merged["env"]["OTEL_TRACES_EXPORTER"].as_str(), merged["env"]["OTEL_EXPORTER_OTLP_PROTOCOL"].as_str()), (Some("otlp"), Some("grpc")));
    assert!(stdout.contains("valid 30 days") && stdout.contains(&format!("export TOKEN={token}")), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&settings).unwrap().permissions().mode() & 0o777, 0o600, "the token is readable by its owner only");
    }

    let (grpc, http, api) = (free_port(), free_port(), free_port());
    let mut serve = KillOnDrop(
        tandemu()
            .args(["serve", "--data-dir", d, "--grpc-listen", &format!("127.0.0.1:{grpc}"), "--http-listen", &format!("127.0.0.1:{http}")])
            .args(["--api-listen", &format!("127.0.0.1:{api}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{api}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(serve.0.try_wait().unwrap().is_none(), "serve exited");
        assert!(Instant::now() < deadline, "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let org: serde_json::Value = client.get(format!("{base}/v1/org")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!((org["name"].as_str(), org["your_role"].as_str()), (Some("Acme"), Some("owner")));

    // Again while serve holds the directory: registered through the API.
    let out = tandemu()
        .args(["setup", "--org", "Globex", "--email", "o@globex.invalid", "--data-dir", d, "--api-url", &base, "--file-paths", "--no-traces"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "prints the settings: {stdout}");
    assert!(stdout.contains(r#""OTEL_LOG_TOOL_DETAILS": "1""#) && stdout.contains(r#""OTEL_TRACES_EXPORTER": "none""#), "opt-ins: {stdout}");
    assert!(stdout.contains(r#""OTEL_LOG_USER_PROMPTS": "0""#), "content stays off: {stdout}");
    let second = token_of(&stdout);
    let org: serde_json::Value = client.get(format!("{base}/v1/org")).bearer_auth(&second).send().await.unwrap().json().await.unwrap();
    assert_eq!(org["name"], "Globex");
    let members: serde_json::Value = client.get(format!("{base}/v1/members")).bearer_auth(&second).send().await.unwrap().json().await.unwrap();
    assert_eq!(members["data"].as_array().unwrap().len(), 1, "each organization sees its own owner only");
    assert_eq!(members["data"][0]["email"], "o@globex.invalid");
}
