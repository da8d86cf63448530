//! From canonical events to facts: the rows every projection is computed from.
//!
//! Each fact is keyed by the id of the event it comes from, so writing it again (a retried
//! batch, a crash before the offset commit, a replay) replaces it instead of adding to it: the
//! stores keep facts, and sessions, friction hotspots, completion and rollups are aggregates over
//! them. The one piece of state is [`SeriesState`], which turns cumulative metric series into
//! deltas and recognises points it has already seen.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tandemu_schemas::*;
use uuid::Uuid;

/// What one event adds to its session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionFact {
    pub tenant: Uuid,
    pub user: Uuid,
    pub session: String,
    pub event_id: Uuid,
    pub time_ms: i64,
    pub prompts: u32,
    pub api_requests: u32,
    pub api_errors: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_usd: f64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub tool_calls: u32,
    pub tool_failures: u32,
    pub commits: u32,
    pub pull_requests: u32,
    pub active_time_ms: u64,
    /// The model of an API request or a cost/token point, for "models used".
    pub model: String,
    /// Whether this fact's time bounds the session: log events do; a metric point's time is
    /// when it was exported, not when anything happened.
    pub marks_time: bool,
}

/// The kinds of friction.
pub const TOOL_FAILURE: &str = "tool_failure";
pub const TOOL_REJECTED: &str = "tool_rejected";
pub const API_ERROR: &str = "api_error";
pub const RETRIES_EXHAUSTED: &str = "retries_exhausted";

/// One friction event: a failing tool, a rejected tool decision, an API error, exhausted retries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FrictionFact {
    pub tenant: Uuid,
    pub user: Uuid,
    pub session: String,
    pub event_id: Uuid,
    pub time_ms: i64,
    pub kind: String,
    pub tool: String,
    pub error_type: String,
    pub file_path: String,
    /// The tool call's id, when known.
    pub tool_use_id: String,
    /// `span` for a rejection seen only as a `claude_code.tool.blocked_on_user` span, else `log`.
    pub source: String,
    /// End of the permission wait for a span rejection (else `time_ms`): a `tool_decision`
    /// rejection in the same session inside `[time_ms, end_ms]` is the same decision, and the
    /// friction queries count it once.
    pub end_ms: i64,
}

/// One tool call (a `tool_result`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallFact {
    pub tenant: Uuid,
    pub user: Uuid,
    pub session: String,
    pub event_id: Uuid,
    pub time_ms: i64,
    pub tool: String,
    pub success: bool,
    pub duration_ms: u64,
    pub file_path: String,
    pub error_type: String,
}

/// One plugin task event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskFact {
    pub tenant: Uuid,
    pub user: Uuid,
    pub task_id: String,
    pub event_id: Uuid,
    pub time_ms: i64,
    /// `started`, `finished`, `paused`.
    pub phase: String,
    pub status: String,
    pub commits: u64,
    pub ai_lines: u64,
    pub manual_lines: u64,
    pub files_changed: u64,
}

/// The facts of a batch of events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub sessions: Vec<SessionFact>,
    pub friction: Vec<FrictionFact>,
    pub tool_calls: Vec<ToolCallFact>,
    pub tasks: Vec<TaskFact>,
}

impl Facts {
    pub fn len(&self) -> usize {
        self.sessions.len() + self.friction.len() + self.tool_calls.len() + self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Per-series memory of cumulative metrics: the last point seen of each series, so a cumulative
/// point becomes the delta since the previous one (a new start time is a reset: the value is
/// the delta), and a point at or before the last one is recognised as already counted.
/// How long a cumulative series is remembered after its last point.
pub const SERIES_MAX_AGE_NANOS: u64 = 7 * 24 * 3600 * 1_000_000_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesState {
    last: HashMap<String, (u64, u64, f64)>,
}

impl SeriesState {
    /// The delta this point contributes, or `None` if it was seen before.
    pub fn delta(&mut self, ev: &Event, p: &MetricPoint) -> Option<f64> {
        if p.temporality() != Temporality::Cumulative {
            return Some(p.value);
        }
        let key = series_key(ev, p);
        match self.last.get(&key) {
            Some(&(start, time, value)) if start == p.start_time_unix_nano => {
                if ev.time_unix_nano <= time {
                    return None;
                }
                self.last.insert(key, (start, ev.time_unix_nano, p.value));
                // A counter that went down without a new start time is a reset nonetheless.
                Some(if p.value >= value { p.value - value } else { p.value })
            }
            Some(&(start, _, _)) if p.start_time_unix_nano < start => None,
            _ => {
                self.last.insert(key, (p.start_time_unix_nano, ev.time_unix_nano, p.value));
                Some(p.value)
            }
        }
    }

    /// Forgets series whose last point is more than `max_age_nanos` older than `now_nanos`:
    /// Claude Code's series live as long as a session, so without this the memory (and the state
    /// written with every batch) would grow forever. A forgotten series that comes back starts
    /// over: its next point counts in full, as after a reset.
    pub fn prune(&mut self, now_nanos: u64, max_age_nanos: u64) {
        let horizon = now_nanos.saturating_sub(max_age_nanos);
        self.last.retain(|_, (_, time, _)| *time >= horizon);
    }

    /// The newest point time seen, if any.
    pub fn newest(&self) -> Option<u64> {
        self.last.values().map(|v| v.1).max()
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

fn series_key(ev: &Event, p: &MetricPoint) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        ev.tenant,
        ev.user,
        ev.session.as_ref().map(|s| s.as_str()).unwrap_or(""),
        p.metric,
        p.r#type.as_deref().unwrap_or(""),
        p.model.as_deref().unwrap_or(""),
        p.decision.as_deref().unwrap_or(""),
        p.source.as_deref().unwrap_or(""),
        p.tool_name.as_deref().unwrap_or(""),
        p.language.as_deref().unwrap_or(""),
        p.start_type.as_deref().unwrap_or(""),
        p.query_source.as_deref().unwrap_or(""),
    )
}

/// The largest count, cost or duration one point may add. Client values are untrusted: a huge
/// or negative one must not wrap a sum or panic an aggregate, and no real point comes near this.
pub const MAX_COUNT: u64 = 1_000_000_000_000;

/// A metric delta as a count: rounded, negative or not-a-number as 0, capped at [`MAX_COUNT`].
fn count(delta: f64) -> u64 {
    if delta.is_finite() && delta > 0.0 { (delta.round() as u64).min(MAX_COUNT) } else { 0 }
}

fn ms(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

/// Derives the facts of a batch, updating the series state for cumulative metrics.
pub fn facts_of(events: &[Event], series: &mut SeriesState) -> Facts {
    let mut out = Facts::default();
    // A blocked_on_user span names neither its tool nor the call; its parent `claude_code.tool`
    // span does, and usually travels in the same batch.
    let tool_spans: HashMap<&str, &Span> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Span(s) if s.span_kind() == SpanKind::Tool => Some((s.span_id.as_str(), s)),
            _ => None,
        })
        .collect();
    for ev in events {
        let base = || SessionFact {
            tenant: *ev.tenant.as_uuid(),
            user: *ev.user.as_uuid(),
            session: ev.session.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
            event_id: ev.id.as_uuid(),
            time_ms: ms(ev.time_unix_nano),
            marks_time: !matches!(ev.body, EventBody::Metric(_)),
            ..Default::default()
        };
        let friction = |kind: &str, tool: &Option<String>, error_type: &Option<String>, path: &Option<String>, tuid: &Option<String>| FrictionFact {
            tenant: *ev.tenant.as_uuid(),
            user: *ev.user.as_uuid(),
            session: ev.session.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
            event_id: ev.id.as_uuid(),
            time_ms: ms(ev.time_unix_nano),
            kind: kind.into(),
            tool: tool.clone().unwrap_or_default(),
            error_type: error_type.clone().unwrap_or_default(),
            file_path: path.clone().unwrap_or_default(),
            tool_use_id: tuid.clone().unwrap_or_default(),
            source: "log".into(),
            end_ms: ms(ev.time_unix_nano),
        };
        match &ev.body {
            EventBody::UserPrompt(_) => out.sessions.push(SessionFact { prompts: 1, ..base() }),
            EventBody::AssistantResponse(_) => out.sessions.push(base()),
            EventBody::ApiRequest(a) => out.sessions.push(SessionFact { api_requests: 1, model: a.model.clone().unwrap_or_default(), ..base() }),
            EventBody::ApiError(a) => {
                out.sessions.push(SessionFact { api_errors: 1, model: a.model.clone().unwrap_or_default(), ..base() });
                out.friction.push(friction(API_ERROR, &None, &a.status_code, &None, &a.request_id));
            }
            EventBody::ApiRetriesExhausted(a) => {
                out.sessions.push(base());
                out.friction.push(friction(RETRIES_EXHAUSTED, &None, &a.status_code, &None, &None));
            }
            EventBody::ToolDecision(d) => {
                out.sessions.push(base());
                if d.decision.as_deref() == Some("reject") {
                    out.friction.push(friction(TOOL_REJECTED, &d.tool_name, &d.source, &d.file_path, &d.tool_use_id));
                }
            }
            EventBody::ToolResult(t) => {
                let failed = t.success == Some(false);
                out.sessions.push(SessionFact { tool_calls: 1, tool_failures: failed as u32, ..base() });
                out.tool_calls.push(ToolCallFact {
                    tenant: *ev.tenant.as_uuid(),
                    user: *ev.user.as_uuid(),
                    session: ev.session.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
                    event_id: ev.id.as_uuid(),
                    time_ms: ms(ev.time_unix_nano),
                    tool: t.tool_name.clone().unwrap_or_default(),
                    success: !failed,
                    duration_ms: t.duration_ms.unwrap_or_default().min(MAX_COUNT),
                    file_path: t.file_path.clone().unwrap_or_default(),
                    error_type: t.error_type.clone().unwrap_or_default(),
                });
                if failed {
                    out.friction.push(friction(TOOL_FAILURE, &t.tool_name, &t.error_type, &t.file_path, &t.tool_use_id));
                }
            }
            EventBody::Metric(p) => {
                let Some(delta) = series.delta(ev, p) else { continue };
                let mut f = base();
                match p.metric() {
                    MetricKind::LinesOfCode => {
                        match p.r#type.as_deref() {
                            Some("added") => f.lines_added = count(delta),
                            Some("removed") => f.lines_removed = count(delta),
                            _ => continue,
                        }
                        f.model = p.model.clone().unwrap_or_default();
                    }
                    MetricKind::CommitCount => f.commits = count(delta).min(u32::MAX as u64) as u32,
                    MetricKind::PullRequestCount => f.pull_requests = count(delta).min(u32::MAX as u64) as u32,
                    MetricKind::CostUsage => {
                        f.cost_usd = if delta.is_finite() { delta.clamp(0.0, MAX_COUNT as f64) } else { 0.0 };
                        f.model = p.model.clone().unwrap_or_default();
                    }
                    MetricKind::TokenUsage => {
                        let n = count(delta);
                        match p.r#type.as_deref() {
                            Some("input") => f.input_tokens = n,
                            Some("output") => f.output_tokens = n,
                            Some("cacheRead") => f.cache_read_tokens = n,
                            Some("cacheCreation") => f.cache_creation_tokens = n,
                            _ => continue,
                        }
                        f.model = p.model.clone().unwrap_or_default();
                    }
                    MetricKind::ActiveTime => f.active_time_ms = count(delta * 1000.0),
                    // Counted elsewhere (session starts from events, decisions from logs).
                    MetricKind::SessionCount | MetricKind::CodeEditToolDecision | MetricKind::Unspecified => continue,
                }
                out.sessions.push(f);
            }
            EventBody::Span(s) => {
                // Some permission modes report a rejection only as this span. When the log has a
                // tool_decision rejection for it too, the friction queries count one (see
                // `FrictionFact::end_ms`).
                if s.span_kind() == SpanKind::ToolBlockedOnUser && s.decision.as_deref() == Some("reject") {
                    let parent = s.parent_span_id.as_deref().and_then(|p| tool_spans.get(p));
                    let tool = s.tool_name.clone().or_else(|| parent.and_then(|p| p.tool_name.clone()));
                    let path = s.file_path.clone().or_else(|| parent.and_then(|p| p.file_path.clone()));
                    let tuid = s.tool_use_id.clone().or_else(|| parent.and_then(|p| p.tool_use_id.clone()));
                    let mut f = friction(TOOL_REJECTED, &tool, &s.source, &path, &tuid);
                    f.source = "span".into();
                    f.end_ms = ms(s.end_time_unix_nano).max(f.time_ms);
                    out.friction.push(f);
                }
            }
            EventBody::Task(t) => out.tasks.push(TaskFact {
                tenant: *ev.tenant.as_uuid(),
                user: *ev.user.as_uuid(),
                task_id: t.task_id.clone(),
                event_id: ev.id.as_uuid(),
                time_ms: ms(ev.time_unix_nano),
                phase: match t.phase() {
                    TaskPhase::Started => "started",
                    TaskPhase::Finished => "finished",
                    TaskPhase::Paused => "paused",
                    TaskPhase::Unspecified => "unspecified",
                }
                .into(),
                status: t.status.clone().unwrap_or_default(),
                commits: t.commits.unwrap_or_default(),
                ai_lines: t.ai_lines.unwrap_or_default(),
                manual_lines: t.manual_lines.unwrap_or_default(),
                files_changed: t.files_changed.unwrap_or_default(),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(time: u64, start: u64, value: f64, temporality: Temporality) -> (Event, MetricPoint) {
        let p =
            MetricPoint { metric: MetricKind::CommitCount as i32, temporality: temporality as i32, start_time_unix_nano: start, value, ..Default::default() };
        let ev = Event {
            id: EventId([time as u8; 16]),
            tenant: TenantId(Uuid::nil()),
            user: UserId(Uuid::nil()),
            session: Some(SessionId::new("s")),
            time_unix_nano: time,
            sequence: None,
            client: Client::default(),
            body: EventBody::Metric(p.clone()),
        };
        (ev, p)
    }

    #[test]
    fn cumulative_points_become_deltas_and_resets_and_repeats_are_handled() {
        let mut s = SeriesState::default();
        let mut d = |t, start, v| {
            let (ev, p) = point(t, start, v, Temporality::Cumulative);
            s.delta(&ev, &p)
        };
        assert_eq!(d(10, 1, 2.0), Some(2.0));
        assert_eq!(d(20, 1, 5.0), Some(3.0));
        assert_eq!(d(20, 1, 5.0), None, "the same point again");
        assert_eq!(d(15, 1, 4.0), None, "an older point");
        assert_eq!(d(30, 25, 1.0), Some(1.0), "a new start time is a reset");
        assert_eq!(d(40, 25, 0.5), Some(0.5), "a value that went down is a reset too");
        assert_eq!(d(5, 1, 9.0), None, "a point of the series before the reset");
    }

    #[test]
    fn huge_negative_and_nan_values_count_as_capped_or_nothing() {
        assert_eq!(count(1e25), MAX_COUNT);
        assert_eq!(count(-5.0), 0);
        assert_eq!(count(f64::NAN), 0);
        assert_eq!(count(f64::INFINITY), 0);
        assert_eq!(count(2.4), 2);
    }

    #[test]
    fn delta_points_pass_through_and_old_series_are_forgotten() {
        let mut s = SeriesState::default();
        let (ev, p) = point(10, 1, 2.0, Temporality::Delta);
        assert_eq!(s.delta(&ev, &p), Some(2.0));
        assert!(s.is_empty(), "delta series need no memory");
        let (ev, p) = point(100, 1, 2.0, Temporality::Cumulative);
        s.delta(&ev, &p);
        s.prune(150, 100);
        assert_eq!(s.len(), 1);
        s.prune(300, 100);
        assert!(s.is_empty());
    }
}
