//! Claude Code spans to canonical span events. Span events and status messages are dropped.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{self as otlp_trace, status::StatusCode};

use super::{Mapped, Stamp, client_of};
use crate::allowlist::{self as list, Fields};
use crate::event::*;
use crate::file_path;
use crate::ids::{EventIdBuilder, SessionId};

/// Maps every span of an export request. See the module docs of `otlp`.
pub fn map_traces(req: &ExportTraceServiceRequest, stamp: &Stamp) -> Mapped {
    let mut out = Mapped::default();
    for rs in &req.resource_spans {
        let client = client_of(rs.resource.as_ref());
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                let Some(kind) = SpanKind::from_otlp_name(&span.name) else {
                    out.ignored += 1;
                    continue;
                };
                match map_span(span, kind, stamp, &client) {
                    Ok(ev) => out.events.push(ev),
                    Err(reason) => out.reject(format!("span {}: {reason}", span.name)),
                }
            }
        }
    }
    out
}

fn map_span(span: &otlp_trace::Span, kind: SpanKind, stamp: &Stamp, client: &Client) -> Result<Event, String> {
    if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
        return Err("invalid trace id".into());
    }
    if span.span_id.len() != 8 || span.span_id.iter().all(|b| *b == 0) {
        return Err("invalid span id".into());
    }
    if span.start_time_unix_nano == 0 {
        return Err("no start time".into());
    }
    let f = Fields::new(&span.attributes, list::SPAN);
    let status = match span.status.as_ref().map(|s| StatusCode::try_from(s.code)) {
        Some(Ok(StatusCode::Ok)) => SpanStatus::Ok,
        Some(Ok(StatusCode::Error)) => SpanStatus::Error,
        _ => SpanStatus::Unset,
    };
    let elapsed_ms = span.end_time_unix_nano.checked_sub(span.start_time_unix_nano).map(|ns| ns / 1_000_000);
    let parent = (span.parent_span_id.len() == 8).then(|| hex::encode(&span.parent_span_id));

    let mut id = EventIdBuilder::new(stamp.tenant, "span");
    id.part(stamp.user.as_uuid().as_bytes()).part(&span.trace_id).part(&span.span_id);

    Ok(Event {
        id: id.finish(),
        tenant: stamp.tenant,
        user: stamp.user,
        session: f.ident("session.id").map(SessionId),
        time_unix_nano: span.start_time_unix_nano,
        sequence: None,
        client: Client { terminal: f.ident("terminal.type"), ..client.clone() },
        body: EventBody::Span(Span {
            span_kind: kind as i32,
            trace_id: hex::encode(&span.trace_id),
            span_id: hex::encode(&span.span_id),
            parent_span_id: parent,
            end_time_unix_nano: span.end_time_unix_nano,
            status: status as i32,
            duration_ms: f.uint("duration_ms").or_else(|| f.uint("interaction.duration_ms")).or(elapsed_ms),
            tool_name: f.ident("tool_name"),
            tool_use_id: f.ident("tool_use_id"),
            decision: f.ident("decision"),
            source: f.ident("source"),
            success: f.boolean("success"),
            model: f.ident("model"),
            attempt: f.uint("attempt"),
            ttft_ms: f.uint("ttft_ms"),
            input_tokens: f.uint("input_tokens"),
            output_tokens: f.uint("output_tokens"),
            cache_read_tokens: f.uint("cache_read_tokens"),
            cache_creation_tokens: f.uint("cache_creation_tokens"),
            file_path: f.text("file_path").and_then(file_path::clean),
            interaction_sequence: f.uint("interaction.sequence"),
            prompt_length: f.uint("user_prompt_length"),
            request_id: f.ident("request_id"),
        }),
    })
}
