//! The content allowlist: the only attributes the mapping may read.
//!
//! This module owns the privacy promise. The OTLP mapping reads attributes exclusively through
//! [`Fields`], which answers only for the keys named in an allowlist below; anything else (a
//! prompt, a response, tool input, a command, error text, a body, payload identity such as
//! `user.email`, or an attribute Claude Code adds tomorrow) is invisible to the mapper and so can
//! never reach the event log. Values of kept fields are checked too: identifiers must look like
//! identifiers ([`identifier`]), so content smuggled into a metadata field is dropped.
//!
//! It must never gain a key that carries free text. The one exception is structured: tool input
//! is read only by `file_path::from_tool_input`, which keeps a single path and drops the rest.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

/// Attributes every Claude Code log record may contribute to the envelope.
pub const LOG_COMMON: &[&str] = &["event.name", "event.sequence", "event.timestamp", "session.id", "terminal.type"];
/// Resource attributes kept (as [`crate::Client`]). `team.id`, `department`, `user.*` and
/// `organization.id` are payload, not identity, and are dropped.
pub const RESOURCE: &[&str] = &["service.name", "service.version", "os.type", "host.arch"];

pub const USER_PROMPT: &[&str] = &["prompt.id", "prompt_length"];
pub const ASSISTANT_RESPONSE: &[&str] = &["prompt.id", "request_id", "model", "response_length"];
pub const API_REQUEST: &[&str] = &[
    "prompt.id",
    "request_id",
    "model",
    "query_source",
    "cost_usd",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
];
pub const API_ERROR: &[&str] = &["prompt.id", "request_id", "model", "status_code", "attempt", "duration_ms"];
pub const API_RETRIES_EXHAUSTED: &[&str] =
    &["prompt.id", "model", "status_code", "attempt", "attempts", "total_attempts", "duration_ms", "total_retry_duration_ms"];
/// `tool_parameters` is named only so that the file path can be extracted from it.
pub const TOOL_DECISION: &[&str] = &["prompt.id", "tool_use_id", "tool_name", "decision", "source", "tool_input", "tool_parameters"];
/// `tool_input`/`tool_parameters` are named only so that the file path can be extracted from
/// them (`file_path::from_tool_input`); `error` (the text) is not named, `error_type` is.
pub const TOOL_RESULT: &[&str] = &[
    "prompt.id",
    "tool_use_id",
    "tool_name",
    "success",
    "duration_ms",
    "error_type",
    "tool_input",
    "tool_parameters",
    "tool_input_size_bytes",
    "tool_result_size_bytes",
    "decision_type",
    "decision_source",
];
pub const TASK: &[&str] = &["task.id", "task.status", "task.commits", "task.lines.ai", "task.lines.manual", "task.files_changed"];
/// Metric point attributes. `session.id` goes to the envelope.
pub const METRIC_POINT: &[&str] =
    &["session.id", "terminal.type", "type", "model", "decision", "source", "tool_name", "language", "start_type", "query_source"];
/// Span attributes. `file_path` (on `claude_code.tool`) is kept, folded; `full_command`,
/// `user_prompt`, `error` and the status message are not named.
pub const SPAN: &[&str] = &[
    "session.id",
    "terminal.type",
    "duration_ms",
    "tool_name",
    "tool_use_id",
    "decision",
    "source",
    "success",
    "model",
    "attempt",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "file_path",
    "interaction.sequence",
    "interaction.duration_ms",
    "user_prompt_length",
    "request_id",
];

/// A read-only view of an attribute list that answers only for allowlisted keys.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    attrs: &'a [KeyValue],
    allowed: &'static [&'static str],
}

impl<'a> Fields<'a> {
    pub fn new(attrs: &'a [KeyValue], allowed: &'static [&'static str]) -> Self {
        Self { attrs, allowed }
    }

    /// The raw value of an allowlisted key. Asking for a key that is not on the list is a bug in
    /// the mapper: it panics in debug builds (tests) and answers `None` in release.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        if !self.allowed.contains(&key) {
            debug_assert!(false, "attribute {key:?} is not on the allowlist");
            return None;
        }
        // The last occurrence wins, as in most OTLP consumers.
        self.attrs.iter().rev().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v: &AnyValue| v.value.as_ref())
    }

    /// A string value as sent, unchecked: only for values the mapper parses itself (event names,
    /// timestamps, tool input for its file path). Everything kept goes through [`Fields::ident`].
    pub fn text(&self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// An identifier-like value (names, ids, models, decisions, error types); see [`identifier`].
    pub fn ident(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::StringValue(s) => identifier(s),
            Value::IntValue(i) => Some(i.to_string()),
            Value::BoolValue(b) => Some(b.to_string()),
            Value::DoubleValue(d) if d.is_finite() => Some(d.to_string()),
            _ => None,
        }
    }

    /// A non-negative integer from an int, an integral double or a numeric string.
    pub fn uint(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Value::IntValue(i) => u64::try_from(*i).ok(),
            Value::DoubleValue(d) => float_to_uint(*d),
            Value::StringValue(s) => {
                let s = s.trim();
                s.parse::<u64>().ok().or_else(|| s.parse::<f64>().ok().and_then(float_to_uint))
            }
            _ => None,
        }
    }

    /// A finite float from a double, an int or a numeric string.
    pub fn float(&self, key: &str) -> Option<f64> {
        let f = match self.get(key)? {
            Value::DoubleValue(d) => *d,
            Value::IntValue(i) => *i as f64,
            Value::StringValue(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        f.is_finite().then_some(f)
    }

    /// A bool from a bool, `"true"`/`"false"` (any case, also `1`/`0`) or an int 0/1.
    pub fn boolean(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::BoolValue(b) => Some(*b),
            Value::IntValue(0) => Some(false),
            Value::IntValue(1) => Some(true),
            Value::StringValue(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

fn float_to_uint(d: f64) -> Option<u64> {
    (d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d <= u64::MAX as f64).then_some(d as u64)
}

/// Longest identifier kept. Real ones (models, tool names, MCP tool names, ids) are far shorter.
pub const MAX_IDENTIFIER: usize = 128;

/// Keeps a value only if it looks like an identifier: 1 to [`MAX_IDENTIFIER`] characters from
/// letters, digits and `_ - . : / @ [ ] +`. Free text (spaces, quotes, newlines, braces) fails,
/// so an error message or a command put into a metadata field never survives.
pub fn identifier(s: &str) -> Option<String> {
    let ok = !s.is_empty() && s.len() <= MAX_IDENTIFIER && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:/@[]+".contains(c));
    ok.then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, v: Value) -> KeyValue {
        KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    #[test]
    fn numbers_parse_from_every_representation() {
        let attrs = vec![
            kv("duration_ms", Value::StringValue(" 221 ".into())),
            kv("input_tokens", Value::IntValue(38)),
            kv("output_tokens", Value::DoubleValue(1068.0)),
            kv("cost_usd", Value::StringValue("0.0435".into())),
            kv("cache_read_tokens", Value::StringValue("not a number".into())),
            kv("cache_creation_tokens", Value::IntValue(-4)),
        ];
        let f = Fields::new(&attrs, API_REQUEST);
        assert_eq!(f.uint("duration_ms"), Some(221));
        assert_eq!(f.uint("input_tokens"), Some(38));
        assert_eq!(f.uint("output_tokens"), Some(1068));
        assert_eq!(f.float("cost_usd"), Some(0.0435));
        assert_eq!(f.float("input_tokens"), Some(38.0));
        assert_eq!(f.uint("cache_read_tokens"), None);
        assert_eq!(f.uint("cache_creation_tokens"), None);
    }

    #[test]
    fn bools_parse_from_strings_ints_and_bools() {
        for (v, want) in [
            (Value::StringValue("true".into()), Some(true)),
            (Value::StringValue("FALSE".into()), Some(false)),
            (Value::BoolValue(true), Some(true)),
            (Value::IntValue(0), Some(false)),
            (Value::StringValue("maybe".into()), None),
        ] {
            let attrs = vec![kv("success", v)];
            assert_eq!(Fields::new(&attrs, TOOL_RESULT).boolean("success"), want);
        }
    }

    #[test]
    fn identifiers_refuse_free_text() {
        assert_eq!(identifier("ShellError").as_deref(), Some("ShellError"));
        assert_eq!(identifier("claude-opus-4-8[1m]").as_deref(), Some("claude-opus-4-8[1m]"));
        assert_eq!(identifier("mcp__github__create_issue").as_deref(), Some("mcp__github__create_issue"));
        assert_eq!(identifier("Shell command failed"), None);
        assert_eq!(identifier("{\"command\":\"ls\"}"), None);
        assert_eq!(identifier(""), None);
        assert_eq!(identifier(&"a".repeat(MAX_IDENTIFIER + 1)), None);
    }

    #[test]
    fn unlisted_keys_are_invisible_in_release() {
        let attrs = vec![kv("prompt", Value::StringValue("secret".into()))];
        let f = Fields::new(&attrs, USER_PROMPT);
        let read = std::panic::catch_unwind(|| f.text("prompt"));
        // Debug builds flag the mapper bug loudly; release builds see nothing. Either way the
        // value never comes out.
        assert!(matches!(read, Err(_) | Ok(None)));
    }
}
