//! The canonical event model: what the event log holds and every projection is built from.
//!
//! An [`Event`] is an envelope (id, tenant, user, session, time) around one [`EventBody`]. Bodies
//! hold metadata only: ids, names, counts, durations, sizes, status, model, error *type*, decision
//! and a home-folded file path. There is deliberately no field that could hold a prompt, a
//! response, tool input, a command, error text or a body; adding one is a privacy decision, not a
//! refactor (see `allowlist.rs`).
//!
//! The bodies are protobuf messages (prost derive) so that the log encoding in `encoding.rs` can
//! evolve the usual protobuf way: new optional fields with new tags, old readers skip them, new
//! readers see `None` in old records. Never reuse or renumber a tag.

use serde::Serialize;

use crate::ids::{EventId, SessionId, TaskId, TenantId, UserId};

/// Version of the canonical model written into every encoded event.
pub const SCHEMA_VERSION: u32 = 1;

/// One canonical event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: EventId,
    /// From the verified token, never from the payload.
    pub tenant: TenantId,
    /// From the verified token, never from the payload.
    pub user: UserId,
    pub session: Option<SessionId>,
    /// When it happened (log record time, metric point time, span start).
    pub time_unix_nano: u64,
    /// The client's own per-session counter (`event.sequence`), when it sends one.
    pub sequence: Option<u64>,
    pub client: Client,
    pub body: EventBody,
}

impl Event {
    /// The short name of the body's kind, as used in metrics and dead letters.
    pub fn kind_name(&self) -> &'static str {
        self.body.kind_name()
    }
}

/// What the exporting program says about itself (OTLP resource), allowlisted.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct Client {
    /// `service.name`, e.g. `claude-code`.
    #[prost(string, optional, tag = "1")]
    pub service: Option<String>,
    /// `service.version`, e.g. `2.1.197`.
    #[prost(string, optional, tag = "2")]
    pub version: Option<String>,
    /// `os.type`, e.g. `linux`.
    #[prost(string, optional, tag = "3")]
    pub os_type: Option<String>,
    /// `host.arch`, e.g. `amd64`.
    #[prost(string, optional, tag = "4")]
    pub arch: Option<String>,
    /// `terminal.type`, e.g. `vscode`.
    #[prost(string, optional, tag = "5")]
    pub terminal: Option<String>,
}

/// The payload of an event: one variant per kind of thing that happened.
#[derive(Clone, PartialEq, prost::Oneof, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    #[prost(message, tag = "20")]
    UserPrompt(UserPrompt),
    #[prost(message, tag = "21")]
    AssistantResponse(AssistantResponse),
    #[prost(message, tag = "22")]
    ApiRequest(ApiRequest),
    #[prost(message, tag = "23")]
    ApiError(ApiError),
    #[prost(message, tag = "24")]
    ApiRetriesExhausted(ApiRetriesExhausted),
    #[prost(message, tag = "25")]
    ToolDecision(ToolDecision),
    #[prost(message, tag = "26")]
    ToolResult(ToolResult),
    #[prost(message, tag = "27")]
    Metric(MetricPoint),
    #[prost(message, tag = "28")]
    Span(Span),
    #[prost(message, tag = "29")]
    Task(TaskEvent),
}

impl EventBody {
    pub fn kind_name(&self) -> &'static str {
        match self {
            EventBody::UserPrompt(_) => "user_prompt",
            EventBody::AssistantResponse(_) => "assistant_response",
            EventBody::ApiRequest(_) => "api_request",
            EventBody::ApiError(_) => "api_error",
            EventBody::ApiRetriesExhausted(_) => "api_retries_exhausted",
            EventBody::ToolDecision(_) => "tool_decision",
            EventBody::ToolResult(_) => "tool_result",
            EventBody::Metric(_) => "metric",
            EventBody::Span(_) => "span",
            EventBody::Task(_) => "task",
        }
    }
}

/// `claude_code.user_prompt`: that a prompt was sent, and its length. Never its text.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct UserPrompt {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(uint64, optional, tag = "2")]
    pub prompt_length: Option<u64>,
}

/// `claude_code.assistant_response`: that the model answered, and the answer's length.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct AssistantResponse {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub request_id: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model: Option<String>,
    #[prost(uint64, optional, tag = "4")]
    pub response_length: Option<u64>,
}

/// `claude_code.api_request`: one model call with its tokens, cost and latency.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub struct ApiRequest {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub request_id: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model: Option<String>,
    /// `main`, `subagent`, …: which loop made the call.
    #[prost(string, optional, tag = "4")]
    pub query_source: Option<String>,
    #[prost(double, optional, tag = "5")]
    pub cost_usd: Option<f64>,
    #[prost(uint64, optional, tag = "6")]
    pub duration_ms: Option<u64>,
    #[prost(uint64, optional, tag = "7")]
    pub input_tokens: Option<u64>,
    #[prost(uint64, optional, tag = "8")]
    pub output_tokens: Option<u64>,
    #[prost(uint64, optional, tag = "9")]
    pub cache_read_tokens: Option<u64>,
    #[prost(uint64, optional, tag = "10")]
    pub cache_creation_tokens: Option<u64>,
}

/// `claude_code.api_error`: a failed model call. The status code is kept, the message is not.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct ApiError {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub request_id: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub model: Option<String>,
    /// HTTP status or an error class such as `undefined`; an identifier, never free text.
    #[prost(string, optional, tag = "4")]
    pub status_code: Option<String>,
    #[prost(uint64, optional, tag = "5")]
    pub attempt: Option<u64>,
    #[prost(uint64, optional, tag = "6")]
    pub duration_ms: Option<u64>,
}

/// `claude_code.api_retries_exhausted`: the client gave up on a model call.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct ApiRetriesExhausted {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub model: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub status_code: Option<String>,
    #[prost(uint64, optional, tag = "4")]
    pub attempts: Option<u64>,
    #[prost(uint64, optional, tag = "5")]
    pub duration_ms: Option<u64>,
}

/// `claude_code.tool_decision`: whether a tool call was allowed (`accept`) or not (`reject`).
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct ToolDecision {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub tool_use_id: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tool_name: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub decision: Option<String>,
    /// `config`, `user_permanent`, `user_temporary`, `user_abort`, `user_reject`, `hook`, …
    #[prost(string, optional, tag = "5")]
    pub source: Option<String>,
    /// The file the tool would have touched, home folded to `~`.
    #[prost(string, optional, tag = "6")]
    pub file_path: Option<String>,
}

/// `claude_code.tool_result`: a tool ran, with success, duration, error type and file path.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct ToolResult {
    #[prost(string, optional, tag = "1")]
    pub prompt_id: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub tool_use_id: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub tool_name: Option<String>,
    #[prost(bool, optional, tag = "4")]
    pub success: Option<bool>,
    #[prost(uint64, optional, tag = "5")]
    pub duration_ms: Option<u64>,
    /// The error's class (`ShellError`, …); the error text is dropped.
    #[prost(string, optional, tag = "6")]
    pub error_type: Option<String>,
    /// Extracted from the tool input, home folded to `~`; nothing else of the input survives.
    #[prost(string, optional, tag = "7")]
    pub file_path: Option<String>,
    #[prost(uint64, optional, tag = "8")]
    pub input_size_bytes: Option<u64>,
    #[prost(uint64, optional, tag = "9")]
    pub result_size_bytes: Option<u64>,
    #[prost(string, optional, tag = "10")]
    pub decision: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub decision_source: Option<String>,
}

/// The Claude Code metrics the pipeline understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration, Serialize)]
#[repr(i32)]
pub enum MetricKind {
    Unspecified = 0,
    /// `claude_code.session.count`
    SessionCount = 1,
    /// `claude_code.lines_of_code.count` (attribute `type`: added | removed)
    LinesOfCode = 2,
    /// `claude_code.pull_request.count`
    PullRequestCount = 3,
    /// `claude_code.commit.count`
    CommitCount = 4,
    /// `claude_code.cost.usage` (USD)
    CostUsage = 5,
    /// `claude_code.token.usage` (attribute `type`: input | output | cacheRead | cacheCreation)
    TokenUsage = 6,
    /// `claude_code.code_edit_tool.decision`
    CodeEditToolDecision = 7,
    /// `claude_code.active_time.total` (seconds)
    ActiveTime = 8,
}

impl MetricKind {
    pub fn from_otlp_name(name: &str) -> Option<Self> {
        Some(match name {
            "claude_code.session.count" => Self::SessionCount,
            "claude_code.lines_of_code.count" => Self::LinesOfCode,
            "claude_code.pull_request.count" => Self::PullRequestCount,
            "claude_code.commit.count" => Self::CommitCount,
            "claude_code.cost.usage" => Self::CostUsage,
            "claude_code.token.usage" => Self::TokenUsage,
            "claude_code.code_edit_tool.decision" => Self::CodeEditToolDecision,
            "claude_code.active_time.total" => Self::ActiveTime,
            _ => return None,
        })
    }
}

/// Whether a point's value covers `[start, time]` only (delta) or everything since `start`
/// (cumulative). The processor turns cumulative series into deltas; ingest stays stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration, Serialize)]
#[repr(i32)]
pub enum Temporality {
    Unspecified = 0,
    Delta = 1,
    Cumulative = 2,
}

/// One metric data point with its allowlisted attributes.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub struct MetricPoint {
    #[prost(enumeration = "MetricKind", tag = "1")]
    pub metric: i32,
    #[prost(enumeration = "Temporality", tag = "2")]
    pub temporality: i32,
    #[prost(uint64, tag = "3")]
    pub start_time_unix_nano: u64,
    #[prost(double, tag = "4")]
    pub value: f64,
    /// The `type` attribute: `added`/`removed`, `input`/`output`/`cacheRead`/`cacheCreation`,
    /// `cli`/`user`.
    #[prost(string, optional, tag = "5")]
    pub r#type: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub model: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub decision: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub source: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub tool_name: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub language: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub start_type: Option<String>,
    #[prost(string, optional, tag = "12")]
    pub query_source: Option<String>,
}

/// The Claude Code spans the pipeline understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration, Serialize)]
#[repr(i32)]
pub enum SpanKind {
    Unspecified = 0,
    /// `claude_code.interaction`: one prompt and everything it caused.
    Interaction = 1,
    /// `claude_code.llm_request`
    LlmRequest = 2,
    /// `claude_code.tool`: one tool call, parent of the two below.
    Tool = 3,
    /// `claude_code.tool.blocked_on_user`: the permission wait, with its decision. In some
    /// permission modes a rejection shows up only here.
    ToolBlockedOnUser = 4,
    /// `claude_code.tool.execution`: the tool running, with success.
    ToolExecution = 5,
}

impl SpanKind {
    pub fn from_otlp_name(name: &str) -> Option<Self> {
        Some(match name {
            "claude_code.interaction" => Self::Interaction,
            "claude_code.llm_request" => Self::LlmRequest,
            "claude_code.tool" => Self::Tool,
            "claude_code.tool.blocked_on_user" => Self::ToolBlockedOnUser,
            "claude_code.tool.execution" => Self::ToolExecution,
            _ => return None,
        })
    }
}

/// OTLP span status, without its message (which carries error text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration, Serialize)]
#[repr(i32)]
pub enum SpanStatus {
    Unset = 0,
    Ok = 1,
    Error = 2,
}

/// One span with its allowlisted attributes. Span events are dropped.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct Span {
    #[prost(enumeration = "SpanKind", tag = "1")]
    pub span_kind: i32,
    #[prost(string, tag = "2")]
    pub trace_id: String,
    #[prost(string, tag = "3")]
    pub span_id: String,
    #[prost(string, optional, tag = "4")]
    pub parent_span_id: Option<String>,
    #[prost(uint64, tag = "5")]
    pub end_time_unix_nano: u64,
    #[prost(enumeration = "SpanStatus", tag = "6")]
    pub status: i32,
    #[prost(uint64, optional, tag = "7")]
    pub duration_ms: Option<u64>,
    #[prost(string, optional, tag = "8")]
    pub tool_name: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub tool_use_id: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub decision: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub source: Option<String>,
    #[prost(bool, optional, tag = "12")]
    pub success: Option<bool>,
    #[prost(string, optional, tag = "13")]
    pub model: Option<String>,
    #[prost(uint64, optional, tag = "14")]
    pub attempt: Option<u64>,
    #[prost(uint64, optional, tag = "15")]
    pub ttft_ms: Option<u64>,
    #[prost(uint64, optional, tag = "16")]
    pub input_tokens: Option<u64>,
    #[prost(uint64, optional, tag = "17")]
    pub output_tokens: Option<u64>,
    #[prost(uint64, optional, tag = "18")]
    pub cache_read_tokens: Option<u64>,
    #[prost(uint64, optional, tag = "19")]
    pub cache_creation_tokens: Option<u64>,
    #[prost(string, optional, tag = "20")]
    pub file_path: Option<String>,
    #[prost(uint64, optional, tag = "21")]
    pub interaction_sequence: Option<u64>,
    #[prost(uint64, optional, tag = "22")]
    pub prompt_length: Option<u64>,
    #[prost(string, optional, tag = "23")]
    pub request_id: Option<String>,
}

/// Phase of a plugin task event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration, Serialize)]
#[repr(i32)]
pub enum TaskPhase {
    Unspecified = 0,
    Started = 1,
    Finished = 2,
    Paused = 3,
}

impl TaskPhase {
    pub fn from_event_name(name: &str) -> Option<Self> {
        Some(match name {
            "tandemu.task.started" => Self::Started,
            "tandemu.task.finished" => Self::Finished,
            "tandemu.task.paused" => Self::Paused,
            _ => return None,
        })
    }
}

/// A task event of Tandemu's plugin (contract in `schemas/README.md`).
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct TaskEvent {
    #[prost(string, tag = "1")]
    pub task_id: String,
    #[prost(enumeration = "TaskPhase", tag = "2")]
    pub phase: i32,
    /// `done`, `abandoned`, `blocked`, … for a finished task; `in_progress` otherwise.
    #[prost(string, optional, tag = "3")]
    pub status: Option<String>,
    #[prost(uint64, optional, tag = "4")]
    pub commits: Option<u64>,
    #[prost(uint64, optional, tag = "5")]
    pub ai_lines: Option<u64>,
    #[prost(uint64, optional, tag = "6")]
    pub manual_lines: Option<u64>,
    #[prost(uint64, optional, tag = "7")]
    pub files_changed: Option<u64>,
}

impl TaskEvent {
    pub fn id(&self) -> TaskId {
        TaskId(self.task_id.clone())
    }
}
