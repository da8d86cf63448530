//! Events written by earlier versions keep decoding.
//!
//! `tests/data/events-v<N>.bin` holds one event of every body kind as written by format/schema
//! version N (each frame prefixed by its length, u32 little endian). A release that changes the
//! model adds a new file and keeps every old one: these tests must pass for all of them.
//! Regenerate only the *current* version's file, and only before it is released:
//! `cargo test -p tandemu-schemas --test encoding_compat -- --ignored write_current_golden`.

use std::path::PathBuf;

use tandemu_schemas::encoding::{self, FORMAT_VERSION};
use tandemu_schemas::*;
use uuid::Uuid;

fn golden(version: u8) -> PathBuf {
    tandemu_schemas::fixtures::workspace_path(&format!("schemas/tests/data/events-v{version}.bin"))
}

/// The events of `events-v1.bin`, as version 1 wrote them.
fn v1_events() -> Vec<Event> {
    let base = |n: u8, body: EventBody| Event {
        id: EventId([n; 16]),
        tenant: TenantId(Uuid::from_u128(0x7e4a47)),
        user: UserId(Uuid::from_u128(0x05e5)),
        session: Some(SessionId("73965677-e2c1-4602-b135-6946d405f3ad".into())),
        time_unix_nano: 1_796_325_147_103_000_000 + n as u64,
        sequence: Some(n as u64),
        client: Client {
            service: Some("claude-code".into()),
            version: Some("2.1.197".into()),
            os_type: Some("linux".into()),
            arch: Some("amd64".into()),
            terminal: Some("dumb".into()),
        },
        body,
    };
    vec![
        base(1, EventBody::UserPrompt(UserPrompt { prompt_id: Some("p1".into()), prompt_length: Some(180) })),
        base(
            2,
            EventBody::AssistantResponse(AssistantResponse {
                prompt_id: Some("p1".into()),
                request_id: Some("req_1".into()),
                model: Some("claude-opus-4-8".into()),
                response_length: Some(50),
            }),
        ),
        base(
            3,
            EventBody::ApiRequest(ApiRequest {
                prompt_id: Some("p1".into()),
                request_id: Some("req_1".into()),
                model: Some("claude-opus-4-8".into()),
                query_source: Some("main".into()),
                cost_usd: Some(0.119435),
                duration_ms: Some(129),
                input_tokens: Some(12),
                output_tokens: Some(412),
                cache_read_tokens: Some(0),
                cache_creation_tokens: Some(17452),
            }),
        ),
        base(
            4,
            EventBody::ApiError(ApiError {
                model: Some("claude-opus-4-8".into()),
                status_code: Some("529".into()),
                attempt: Some(2),
                duration_ms: Some(800),
                ..Default::default()
            }),
        ),
        base(
            5,
            EventBody::ApiRetriesExhausted(ApiRetriesExhausted {
                model: Some("claude-opus-4-8".into()),
                status_code: Some("529".into()),
                attempts: Some(10),
                ..Default::default()
            }),
        ),
        base(
            6,
            EventBody::ToolDecision(ToolDecision {
                tool_use_id: Some("toolu_1".into()),
                tool_name: Some("Edit".into()),
                decision: Some("reject".into()),
                source: Some("user_reject".into()),
                file_path: Some("~/src/app/main.rs".into()),
                ..Default::default()
            }),
        ),
        base(
            7,
            EventBody::ToolResult(ToolResult {
                tool_use_id: Some("toolu_2".into()),
                tool_name: Some("Read".into()),
                success: Some(false),
                duration_ms: Some(3),
                error_type: Some("TelemetrySafeError".into()),
                file_path: Some("~/src/app/missing.txt".into()),
                input_size_bytes: Some(61),
                ..Default::default()
            }),
        ),
        base(
            8,
            EventBody::Metric(MetricPoint {
                metric: MetricKind::TokenUsage as i32,
                temporality: Temporality::Cumulative as i32,
                start_time_unix_nano: 1_796_325_146_000_000_000,
                value: 766.0,
                r#type: Some("output".into()),
                model: Some("claude-opus-4-8[1m]".into()),
                query_source: Some("main".into()),
                ..Default::default()
            }),
        ),
        base(
            9,
            EventBody::Span(Span {
                span_kind: SpanKind::ToolBlockedOnUser as i32,
                trace_id: "95f5cc2ead87c8211faaf6c162404058".into(),
                span_id: "108abbf99dfff08c".into(),
                parent_span_id: Some("efe0fd3d61a504dc".into()),
                end_time_unix_nano: 1_796_325_147_308_683_764,
                status: SpanStatus::Unset as i32,
                duration_ms: Some(14),
                decision: Some("reject".into()),
                source: Some("user_reject".into()),
                ..Default::default()
            }),
        ),
        base(
            10,
            EventBody::Task(TaskEvent {
                task_id: "PROJ-42".into(),
                phase: TaskPhase::Finished as i32,
                status: Some("done".into()),
                commits: Some(3),
                ai_lines: Some(120),
                manual_lines: Some(30),
                files_changed: Some(4),
            }),
        ),
    ]
}

fn read_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        let (frame, tail) = tail.split_at(len);
        frames.push(frame);
        rest = tail;
    }
    frames
}

#[test]
fn version_1_events_still_decode() {
    let bytes = std::fs::read(golden(1)).expect("golden file events-v1.bin");
    let decoded: Vec<Event> = read_frames(&bytes).into_iter().map(|f| encoding::decode(f).expect("decodes")).collect();
    assert_eq!(decoded, v1_events());
    assert_eq!(decoded.len(), 10, "one event of every body kind");
}

#[test]
#[ignore = "writes the golden file of the current version"]
fn write_current_golden() {
    assert_eq!(FORMAT_VERSION, 1, "write a new events-v{FORMAT_VERSION}.bin with that version's events");
    let mut out = Vec::new();
    for ev in v1_events() {
        let frame = encoding::encode(&ev);
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    std::fs::write(golden(FORMAT_VERSION), out).unwrap();
}
