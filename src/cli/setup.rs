//! `tandemu setup`: the first run of a single node. Creates the organization and its owner,
//! issues the owner's token, and prints (or merges into `~/.claude/settings.json`) the Claude
//! Code settings that send telemetry here — content flags off.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::{Map, Value, json};
use tandemu_ingest::auth::{self, Role};
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::directory::{Directory, Member, Org};
use uuid::Uuid;

use super::CliError;

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The organization's name.
    #[arg(long)]
    pub org: String,
    /// The owner's email.
    #[arg(long)]
    pub email: String,
    /// The single node's data directory (as for `serve`).
    #[arg(long, env = "TANDEMU_DATA_DIR", default_value = "./tandemu-data")]
    pub data_dir: PathBuf,
    /// Where a running `serve` answers (used when it holds the directory open), or with
    /// `--via-api` the query API of a distributed deployment.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub api_url: String,
    /// Register the organization through the query API at `--api-url` only, never in a local
    /// data directory: for a distributed deployment (JWT_SECRET must be the deployment's).
    #[arg(long)]
    pub via_api: bool,
    /// The OTLP endpoint Claude Code should export to.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    pub otlp_endpoint: String,
    /// Token validity (e.g. 30d).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Merge the settings into Claude Code's settings file instead of only printing them.
    #[arg(long)]
    pub write_claude_settings: bool,
    /// The settings file to merge into.
    #[arg(long, default_value_os_t = default_settings_path())]
    pub claude_settings: PathBuf,
    /// Secret for HS256 tokens. Default: the data directory's.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Do not export traces. With traces (the default), a tool a user rejects in a permission
    /// mode that logs no decision still counts as friction (its `blocked_on_user` span).
    #[arg(long)]
    pub no_traces: bool,
    /// Also send tool details (OTEL_LOG_TOOL_DETAILS=1), so friction is attributed to file paths.
    /// Claude Code then sends tool parameters; ingest keeps only the file path and drops every
    /// other parameter, command and content before anything is stored. Off by default.
    #[arg(long)]
    pub file_paths: bool,
}

/// What Claude Code is asked to export besides logs and metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exports {
    pub traces: bool,
    pub file_paths: bool,
}

fn default_settings_path() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".claude").join("settings.json")
}

/// The `env` block Claude Code needs: telemetry on, OTLP over gRPC to this node, the token, and
/// every content flag off (tool details only when asked for, for file paths).
pub fn claude_env(endpoint: &str, token: &str, exports: Exports) -> Map<String, Value> {
    let mut env = Map::new();
    let on = |b: bool| if b { "1" } else { "0" };
    for (k, v) in [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_HEADERS", &format!("Authorization=Bearer {token}")),
        // Set either way, so running setup again switches traces off as well as on.
        ("OTEL_TRACES_EXPORTER", if exports.traces { "otlp" } else { "none" }),
        ("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", on(exports.traces)),
        ("OTEL_LOG_USER_PROMPTS", "0"),
        ("OTEL_LOG_TOOL_DETAILS", on(exports.file_paths)),
        ("OTEL_LOG_TOOL_CONTENT", "0"),
        ("OTEL_LOG_RAW_API_BODIES", "0"),
    ] {
        env.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    env
}

pub async fn run(args: SetupArgs) -> Result<(), CliError> {
    let secret = if args.via_api {
        super::secret::for_distributed(args.jwt_secret.as_deref())?
    } else {
        super::secret::for_single_node(args.jwt_secret.as_deref(), &args.data_dir)?
    };
    let (org_id, user) = (Uuid::new_v4(), Uuid::new_v4());
    let claims = auth::claims_for(org_id, user, Role::Owner, args.ttl);
    let token = auth::issue_hs256(&secret, &claims).map_err(|e| CliError::Usage(e.to_string()))?;
    let org = Org { id: org_id, name: args.org.trim().to_owned() };
    let owner = Member { user, email: args.email.trim().to_owned(), role: Role::Owner };
    if org.name.is_empty() || !owner.email.contains('@') {
        return Err(CliError::Usage("--org needs a name and --email an email address".into()));
    }

    // The directory is one file; a running `serve` holds it, and then the API registers the org.
    let path = super::serve::directory_path(&args.data_dir);
    let local = if args.via_api { None } else { EmbeddedDirectory::open(&path).ok() };
    match local {
        Some(dir) => dir.create_org(&org, &owner).await.map_err(|e| CliError::Usage(e.to_string()))?,
        None => {
            let r = reqwest::Client::new()
                .post(format!("{}/v1/org", args.api_url.trim_end_matches('/')))
                .bearer_auth(&token)
                .json(&json!({"name": org.name, "email": owner.email}))
                .send()
                .await
                .map_err(|e| {
                    let why = if args.via_api { String::new() } else { format!("the directory in {} is in use and ", path.display()) };
                    CliError::Usage(format!("{why}the API at {} did not answer: {e}", args.api_url))
                })?;
            if !r.status().is_success() {
                let status = r.status();
                let hint = if status == reqwest::StatusCode::UNAUTHORIZED { " (is JWT_SECRET the deployment's?)" } else { "" };
                return Err(CliError::Usage(format!("the API refused to register the organization ({status}){hint}: {}", r.text().await.unwrap_or_default())));
            }
        }
    }

    let env = claude_env(&args.otlp_endpoint, &token, Exports { traces: !args.no_traces, file_paths: args.file_paths });
    println!("Organization {} ({org_id}), owner {} ({user}).", org.name, owner.email);
    println!("Owner token (also for the query API, valid {}):\n{token}\n", describe_ttl(args.ttl));
    println!("For the query API in this shell:\n  export TOKEN={token}\n");
    if args.write_claude_settings {
        let existed = args.claude_settings.exists();
        merge_settings(&args.claude_settings, &env)?;
        if existed {
            println!("Claude Code settings merged into {} (other settings kept).", args.claude_settings.display());
        } else {
            println!("Claude Code settings written to {}.", args.claude_settings.display());
        }
        println!("Claude Code sessions started from now on send their telemetry here.");
    } else {
        println!("Add this to the \"env\" block of {} (or run again with --write-claude-settings):", args.claude_settings.display());
        println!("{}", serde_json::to_string_pretty(&Value::Object(env)).unwrap_or_default());
    }
    Ok(())
}

/// Merges `env` into the settings file's `env` object, keeping every other setting.
pub fn merge_settings(path: &std::path::Path, env: &Map<String, Value>) -> Result<(), CliError> {
    let mut settings: Value = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{} is not valid JSON ({e}); fix or move it first", path.display())))?
        }
        Ok(_) => json!({}),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(CliError::Read { path: path.display().to_string(), source: e }),
    };
    let obj = settings.as_object_mut().ok_or_else(|| CliError::Usage(format!("{} is not a JSON object", path.display())))?;
    let block = obj.entry("env").or_insert_with(|| json!({}));
    let block = block.as_object_mut().ok_or_else(|| CliError::Usage(format!("\"env\" in {} is not an object", path.display())))?;
    for (k, v) in env {
        block.insert(k.clone(), v.clone());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tandemu-tmp");
    let _ = std::fs::remove_file(&tmp);
    // The file holds a bearer token: created readable by its owner only, never wider, even briefly.
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(&tmp)?;
    std::io::Write::write_all(&mut file, (serde_json::to_string_pretty(&settings).unwrap_or_default() + "\n").as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// `30 days`, `12h`: whole days in words, anything else as humantime prints it.
fn describe_ttl(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    match secs {
        86_400 => "1 day".into(),
        s if s > 0 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        _ => humantime::format_duration(ttl).to_string(),
    }
}
