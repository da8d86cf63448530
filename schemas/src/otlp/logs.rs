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
    ["tool_input", "tool_parameters"]
        .into_iter()
        .find_map(|k| f.text(k).and_then(|input| file_path::from_tool_input(tool, input)))
}
