//! Test support (feature `fixtures`): the real Claude Code captures copied into
//! `schemas/tests/fixtures/claude-code`, and the privacy check every crate's tests share.

use std::path::PathBuf;

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};

use crate::otlp::{self, DecodeError, Encoding, Mapped, Signal, Stamp};

/// The five capture variants (see the fixtures' README).
pub const VARIANTS: [&str; 5] = ["http_json", "http_protobuf", "grpc", "http_protobuf_gzip", "http_json_redacted"];

/// One export request exactly as Claude Code sent it.
#[derive(Clone, Debug)]
pub struct Capture {
    pub variant: String,
    pub seq: u64,
    /// `http` or `grpc`.
    pub transport: String,
    pub signal: Signal,
    /// HTTP path or gRPC method.
    pub path: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body as received (gzip-compressed when `content_encoding` says so).
    pub raw: Vec<u8>,
    pub file: String,
}

impl Capture {
    pub fn encoding(&self) -> Encoding {
        if self.file.contains(".json") { Encoding::Json } else { Encoding::Protobuf }
    }

    pub fn is_gzip(&self) -> bool {
        self.content_encoding.as_deref() == Some("gzip")
    }

    /// The uncompressed body.
    pub fn body(&self) -> Vec<u8> {
        if self.is_gzip() { otlp::gunzip_limited(&self.raw, 64 << 20).expect("fixture gzip") } else { self.raw.clone() }
    }

    pub fn map(&self, stamp: &Stamp) -> Result<Mapped, DecodeError> {
        otlp::decode_and_map(self.signal, &self.body(), self.encoding(), stamp)
    }
}

/// The fixtures' directory, found at run time rather than compile time: a build reused from
/// another checkout (CI shares one `CARGO_TARGET_DIR` across clones) must read *this* checkout's
/// files. Cargo sets `CARGO_MANIFEST_DIR` for the test process to the tested package, which is
/// inside the workspace that holds `schemas/`.
pub fn dir() -> PathBuf {
    workspace_path("schemas/tests/fixtures/claude-code")
}

/// `rel` (relative to the workspace root) in the checkout under test.
pub fn workspace_path(rel: &str) -> PathBuf {
    if let Ok(manifest) = std::env::var("CARGO_MANIFEST_DIR") {
        for dir in std::path::Path::new(&manifest).ancestors() {
            let candidate = dir.join(rel);
            if candidate.exists() {
                return candidate;
            }
        }
    }
    // Run outside cargo (a bench binary started by hand): where this crate was built.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Every request of one variant, in send order.
pub fn load(variant: &str) -> Vec<Capture> {
    let vdir = dir().join(variant);
    let index = std::fs::read_to_string(vdir.join("index.jsonl")).expect("fixture index");
    index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("index line");
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            let file = s("raw_file").expect("raw_file");
            let headers = v["headers"]
                .as_array()
                .map(|hs| hs.iter().filter_map(|h| Some((h.get(0)?.as_str()?.to_owned(), h.get(1)?.as_str()?.to_owned()))).collect())
                .unwrap_or_default();
            Capture {
                variant: variant.to_owned(),
                seq: v["seq"].as_u64().unwrap_or_default(),
                transport: s("transport").expect("transport"),
                signal: s("signal").expect("signal").parse().expect("signal name"),
                path: s("path").expect("path"),
                content_type: s("content_type"),
                content_encoding: s("content_encoding"),
                headers,
                raw: std::fs::read(vdir.join(&file)).expect("fixture body"),
                file,
            }
        })
        .collect()
}

pub fn load_all() -> Vec<Capture> {
    VARIANTS.iter().flat_map(|v| load(v)).collect()
}

/// Attribute keys whose values are content in Claude Code's telemetry (fixtures README, and the
/// content attributes of 2.1.197 that these captures did not enable).
pub const CONTENT_KEYS: &[&str] = &[
    "prompt",
    "response",
    "tool_input",
    "tool_parameters",
    "error",
    "user_prompt",
    "full_command",
    "bash_command",
    "body",
    "body_ref",
    "content",
    "diff",
    "output",
];

/// Payload identity attributes: never tenant or user, never stored.
pub const IDENTITY_KEYS: &[&str] = &["user.id", "user.email", "user.account_uuid", "organization.id"];

/// Every content and identity value found in the captures, plus the string leaves (8 characters
/// or longer, paths excepted) of JSON-valued ones such as `tool_input`: the canaries that must
/// not appear in anything written.
pub fn canaries(captures: &[Capture]) -> Vec<String> {
    fn take(attrs: &[KeyValue], out: &mut Vec<String>) {
        for kv in attrs {
            let Some(Value::StringValue(s)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else { continue };
            if CONTENT_KEYS.contains(&kv.key.as_str()) || IDENTITY_KEYS.contains(&kv.key.as_str()) {
                out.push(s.clone());
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(s) {
                    json_leaves(&json, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for c in captures {
        let body = c.body();
        match c.signal {
            Signal::Logs => {
                for rl in otlp::decode_logs(&body, c.encoding()).expect("fixture decodes").resource_logs {
                    for r in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                        take(&r.attributes, &mut out);
                    }
                }
            }
            Signal::Traces => {
                for rs in otlp::decode_traces(&body, c.encoding()).expect("fixture decodes").resource_spans {
                    for s in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                        take(&s.attributes, &mut out);
                        if let Some(st) = s.status.as_ref().filter(|st| !st.message.is_empty()) {
                            out.push(st.message.clone());
                        }
                    }
                }
            }
            Signal::Metrics => {
                for rm in otlp::decode_metrics(&body, c.encoding()).expect("fixture decodes").resource_metrics {
                    for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
                        if let Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) = &m.data {
                            for p in &sum.data_points {
                                take(&p.attributes, &mut out);
                            }
                        }
                    }
                }
            }
        }
    }
    out.retain(|s| s.len() >= 8);
    out.sort();
    out.dedup();
    out
}

fn json_leaves(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_leaves(x, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                // Paths are kept on purpose (folded); their raw form is still a canary because
                // folding changes the prefix.
                if !matches!(k.as_str(), "file_path" | "notebook_path" | "path") || x.is_string() {
                    json_leaves(x, out);
                }
            }
        }
        _ => {}
    }
}

/// The canaries found in `haystack` (bytes written anywhere: the log, a topic, a table).
pub fn find_leaks<'c>(haystack: &[u8], canaries: &'c [String]) -> Vec<&'c str> {
    canaries
        .iter()
        .filter(|c| {
            let n = c.as_bytes();
            !n.is_empty() && haystack.windows(n.len()).any(|w| w == n)
        })
        .map(|c| c.as_str())
        .collect()
}
