//! Claude Code log events (and the plugin's task events) to canonical events.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::{Mapped, Stamp, client_of, parse_rfc3339_nanos};
use crate::allowlist::{self as list, Fields};
use crate::event::*;
use crate::file_path;
use crate::ids::{EventIdBuilder, SessionId};

/// Maps every log record of an export request. See the module docs of `otlp`.
pub fn map_logs(req: &ExportLogsServiceRequest, stamp: &Stamp) -> Mapped {
    let mut out = Mapped::default();
    for rl in &req.resource_logs {
        let client = client_of(rl.resource.as_ref());
        for sl in &rl.scope_logs {
            for rec in &sl.log_records {
                match map_record(rec, stamp, &client) {
                    Ok(Some(ev)) => out.events.push(ev),
                    Ok(None) => out.ignored += 1,
                    Err(reason) => out.reject(reason),
                }
            }
        }
    }
    out
}

/// `Ok(None)`: not an event the pipeline models.
fn map_record(rec: &LogRecord, stamp: &Stamp, client: &Client) -> Result<Option<Event>, String> {
    let common = Fields::new(&rec.attributes, list::LOG_COMMON);
    let body_name = match rec.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => Some(s.as_str()),
        _ => None,
    };
    let Some(name) = common.text("event.name").or(body_name) else {
        return Ok(None);
    };
    let name = name.strip_prefix("claude_code.").unwrap_or(name);
    let Some(body) = map_body(name, &rec.attributes)? else {
        return Ok(None);
    };

    let time = [rec.time_unix_nano, rec.observed_time_unix_nano]
        .into_iter()
        .find(|t| *t != 0)
        .or_else(|| common.text("event.timestamp").and_then(parse_rfc3339_nanos))
        .ok_or_else(|| format!("log event {name:?} has no timestamp"))?;
    let session = common.ident("session.id").map(SessionId);
    let sequence = common.uint("event.sequence");

    let mut id = EventIdBuilder::new(stamp.tenant, "log");
    id.part(stamp.user.as_uuid().as_bytes())
        .part(name.as_bytes())
        .opt(session.as_ref().map(|s| s.as_str()))
        .num(time)
        .num(sequence.unwrap_or(u64::MAX))
        .opt(discriminator(&body));

    Ok(Some(Event {
        id: id.finish(),
        tenant: stamp.tenant,
        user: stamp.user,
        session,
        time_unix_nano: time,
        sequence,
        client: Client { terminal: common.ident("terminal.type"), ..client.clone() },
        body,
    }))
}

/// The id that tells two events of one kind at one instant apart.
fn discriminator(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::ToolDecision(b) => b.tool_use_id.as_deref(),
        EventBody::ToolResult(b) => b.tool_use_id.as_deref(),
        EventBody::ApiRequest(b) => b.request_id.as_deref(),
        EventBody::ApiError(b) => b.request_id.as_deref(),
        EventBody::AssistantResponse(b) => b.request_id.as_deref(),
        EventBody::Task(b) => Some(b.task_id.as_str()),
        EventBody::UserPrompt(b) => b.prompt_id.as_deref(),
        EventBody::ApiRetriesExhausted(b) => b.prompt_id.as_deref(),
        EventBody::Metric(_) | EventBody::Span(_) => None,
    }
}

fn map_body(name: &str, attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> Result<Option<EventBody>, String> {
    Ok(Some(match name {
        "user_prompt" => {
            let f = Fields::new(attrs, list::USER_PROMPT);
            EventBody::UserPrompt(UserPrompt { prompt_id: f.ident("prompt.id"), prompt_length: f.uint("prompt_length") })
        }
        "assistant_response" => {
            let f = Fields::new(attrs, list::ASSISTANT_RESPONSE);
            EventBody::AssistantResponse(AssistantResponse {
                prompt_id: f.ident("prompt.id"),
                request_id: f.ident("request_id"),
                model: f.ident("model"),
                response_length: f.uint("response_length"),
            })
        }
        "api_request" => {
            let f = Fields::new(attrs, list::API_REQUEST);
            EventBody::ApiRequest(ApiRequest {
                prompt_id: f.ident("prompt.id"),
                request_id: f.ident("request_id"),
                model: f.ident("model"),
                query_source: f.ident("query_source"),
                cost_usd: f.float("cost_usd"),
                duration_ms: f.uint("duration_ms"),
                input_tokens: f.uint("input_tokens"),
                output_tokens: f.uint("output_tokens"),
                cache_read_tokens: f.uint("cache_read_tokens"),
                cache_creation_tokens: f.uint("cache_creation_tokens"),
            })
        }
        "api_error" => {
            let f = Fields::new(attrs, list::API_ERROR);
            EventBody::ApiError(ApiError {
                prompt_id: f.ident("prompt.id"),
                request_id: f.ident("request_id"),
                model: f.ident("model"),
                status_code: f.ident("status_code"),
                attempt: f.uint("attempt"),
                duration_ms: f.uint("duration_ms"),
            })
        }
        "api_retries_exhausted" => {
            let f = Fields::new(attrs, list::API_RETRIES_EXHAUSTED);
            EventBody::ApiRetriesExhausted(ApiRetriesExhausted {
                prompt_id: f.ident("prompt.id"),
                model: f.ident("model"),
                status_code: f.ident("status_code"),
                attempts: f.uint("attempts").or_else(|| f.uint("total_attempts")).or_else(|| f.uint("attempt")),
                duration_ms: f.uint("total_retry_duration_ms").or_else(|| f.uint("duration_ms")),
            })
        }
        "tool_decision" => {
            let f = Fields::new(attrs, list::TOOL_DECISION);
            let tool_name = f.ident("tool_name");
            EventBody::ToolDecision(ToolDecision {
                prompt_id: f.ident("prompt.id"),
                tool_use_id: f.ident("tool_use_id"),
                file_path: path_of(&f, tool_name.as_deref()),
                tool_name,
                decision: f.ident("decision"),
                source: f.ident("source"),
            })
        }
        "tool_result" => {
            let f = Fields::new(attrs, list::TOOL_RESULT);
            let tool_name = f.ident("tool_name");
            EventBody::ToolResult(ToolResult {
                prompt_id: f.ident("prompt.id"),
                tool_use_id: f.ident("tool_use_id"),
                file_path: path_of(&f, tool_name.as_deref()),
                tool_name,
                success: f.boolean("success"),
                duration_ms: f.uint("duration_ms"),
                error_type: f.ident("error_type"),
                input_size_bytes: f.uint("tool_input_size_bytes"),
                result_size_bytes: f.uint("tool_result_size_bytes"),
                decision: f.ident("decision_type"),
                decision_source: f.ident("decision_source"),
            })
        }
        task if task.starts_with("tandemu.task.") => {
            let Some(phase) = TaskPhase::from_event_name(task) else {
                return Err(format!("unknown task event {task:?} (expected tandemu.task.started|finished|paused)"));
            };
            let f = Fields::new(attrs, list::TASK);
            let task_id = f.ident("task.id").ok_or_else(|| format!("{task} without a valid task.id"))?;
            EventBody::Task(TaskEvent {
                task_id,
                phase: phase as i32,
                status: f.ident("task.status"),
                commits: f.uint("task.commits"),
                ai_lines: f.uint("task.lines.ai"),
                manual_lines: f.uint("task.lines.manual"),
                files_changed: f.uint("task.files_changed"),
            })
        }
        _ => return Ok(None),
    }))
}

/// The file path of a tool call: from `tool_input`, else from `tool_parameters`.
fn path_of(f: &Fields<'_>, tool: Option<&str>) -> Option<String> {
    let tool = tool?;
    ["tool_input", "tool_parameters"].into_iter().find_map(|k| f.text(k).and_then(|input| file_path::from_tool_input(tool, input)))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use uuid::Uuid;

    use super::*;
    use crate::ids::{TenantId, UserId};

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }
    fn s(k: &str, v: &str) -> KeyValue {
        kv(k, Value::StringValue(v.into()))
    }
    fn record(time: u64, attrs: Vec<KeyValue>) -> LogRecord {
        LogRecord { time_unix_nano: time, attributes: attrs, ..Default::default() }
    }
    fn request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs { scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }], ..Default::default() }],
        }
    }
    fn stamp() -> Stamp {
        Stamp { tenant: TenantId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)) }
    }

    #[test]
    fn task_events_map_with_typed_counts() {
        let req = request(vec![record(
            5,
            vec![
                s("event.name", "tandemu.task.finished"),
                s("task.id", "PROJ-42"),
                s("task.status", "done"),
                kv("task.commits", Value::IntValue(3)),
                s("task.lines.ai", "120"),
                kv("task.lines.manual", Value::DoubleValue(30.0)),
                kv("task.files_changed", Value::IntValue(4)),
                s("task.title", "Fix the login bug for ACME"),
            ],
        )]);
        let m = map_logs(&req, &stamp());
        assert_eq!((m.events.len(), m.rejected), (1, 0));
        let EventBody::Task(t) = &m.events[0].body else { panic!("not a task") };
        assert_eq!(t.phase(), TaskPhase::Finished);
        assert_eq!(t.id().as_str(), "PROJ-42");
        assert_eq!((t.commits, t.ai_lines, t.manual_lines, t.files_changed, t.status.as_deref()), (Some(3), Some(120), Some(30), Some(4), Some("done")));
    }

    #[test]
    fn bad_records_are_rejected_and_the_rest_kept() {
        let req = request(vec![
            record(0, vec![s("event.name", "user_prompt")]),
            record(7, vec![s("event.name", "tandemu.task.started")]),
            record(7, vec![s("event.name", "tandemu.task.exploded"), s("task.id", "x")]),
            record(8, vec![s("event.name", "user_prompt"), s("prompt_length", "12")]),
            record(9, vec![s("event.name", "some_future_event")]),
            record(9, vec![]),
        ]);
        let m = map_logs(&req, &stamp());
        assert_eq!(m.events.len(), 1);
        assert_eq!(m.rejected, 3);
        assert_eq!(m.ignored, 2);
        assert_eq!(m.partial_success_message().unwrap(), "3 record(s) rejected; first: log event \"user_prompt\" has no timestamp");
    }

    #[test]
    fn timestamp_falls_back_to_event_timestamp() {
        let req = request(vec![record(0, vec![s("event.name", "claude_code.user_prompt"), s("event.timestamp", "2026-12-03T19:12:27.103Z")])]);
        let m = map_logs(&req, &stamp());
        assert_eq!(m.events[0].time_unix_nano, 1_796_325_147_103_000_000);
    }

    #[test]
    fn payload_identity_and_free_text_in_metadata_are_dropped() {
        let req = request(vec![record(
            1,
            vec![
                s("event.name", "tool_result"),
                s("user.email", "dev@example.invalid"),
                s("organization.id", "11111111-1111-1111-1111-111111111111"),
                s("tool_name", "Bash"),
                s("error_type", "error: rm -rf / failed"),
                s("session.id", "a session with spaces"),
            ],
        )]);
        let m = map_logs(&req, &stamp());
        let ev = &m.events[0];
        assert_eq!((ev.tenant, ev.user), (stamp().tenant, stamp().user));
        assert_eq!(ev.session, None);
        let EventBody::ToolResult(t) = &ev.body else { panic!() };
        assert_eq!(t.error_type, None);
        assert_eq!(t.tool_name.as_deref(), Some("Bash"));
    }
}
