//! The projections as aggregates over facts, computed in Rust: what the embedded store answers,
//! and the reference the ClickHouse queries must agree with (the conformance suite checks it).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::facts::*;

/// One session: per tenant, user and session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    pub tenant: Uuid,
    pub user: Uuid,
    pub session: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub duration_ms: i64,
    pub active_time_ms: u64,
    pub prompts: u64,
    pub api_requests: u64,
    pub api_errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_usd: f64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub tool_calls: u64,
    pub tool_failures: u64,
    pub commits: u64,
    pub pull_requests: u64,
    pub models: Vec<String>,
}

/// Tool usage per tenant, day (UTC, `YYYY-MM-DD`), user and tool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolUsageRow {
    pub tenant: Uuid,
    pub day: String,
    pub user: Uuid,
    pub tool: String,
    pub calls: u64,
    pub failures: u64,
    pub duration_sum_ms: u64,
    pub duration_max_ms: u64,
}

/// Lines, commits, cost and tokens per tenant, day (UTC), user and model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyUsageRow {
    pub tenant: Uuid,
    pub day: String,
    pub user: Uuid,
    /// Empty for facts that name no model (commits).
    pub model: String,
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub commits: u64,
}

/// The same tool failing 3 or more times in a row on the same file within a session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FrictionLoop {
    pub tenant: Uuid,
    pub user: Uuid,
    pub session: String,
    pub tool: String,
    pub file_path: String,
    pub failures: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// One task of the plugin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub tenant: Uuid,
    pub user: Uuid,
    pub task_id: String,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub cycle_time_ms: Option<i64>,
    pub status: String,
    pub commits: u64,
    pub ai_lines: u64,
    pub manual_lines: u64,
    pub files_changed: u64,
}

/// Minimum run of failures that makes a loop.
pub const LOOP_MIN: u64 = 3;

impl SessionRow {
    /// Adds another row's counters (not its bounds, duration or models): how sessions are
    /// summed into one, and how the API sums sessions into a group.
    pub fn add_counts(&mut self, o: &SessionRow) {
        self.active_time_ms = self.active_time_ms.saturating_add(o.active_time_ms);
        self.prompts = self.prompts.saturating_add(o.prompts);
        self.api_requests = self.api_requests.saturating_add(o.api_requests);
        self.api_errors = self.api_errors.saturating_add(o.api_errors);
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
        self.cache_creation_tokens = self.cache_creation_tokens.saturating_add(o.cache_creation_tokens);
        self.cost_usd += o.cost_usd;
        self.lines_added = self.lines_added.saturating_add(o.lines_added);
        self.lines_removed = self.lines_removed.saturating_add(o.lines_removed);
        self.tool_calls = self.tool_calls.saturating_add(o.tool_calls);
        self.tool_failures = self.tool_failures.saturating_add(o.tool_failures);
        self.commits = self.commits.saturating_add(o.commits);
        self.pull_requests = self.pull_requests.saturating_add(o.pull_requests);
    }
}

/// A session being summed up, fact by fact: the embedded store keeps one per session and adds
/// each new fact to it, so reading sessions costs one record per session, not one per event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionAcc {
    pub row: SessionRow,
    pub models: BTreeSet<String>,
    /// Whether any fact bounded the session in time.
    pub timed: bool,
}

impl SessionAcc {
    pub fn new(f: &SessionFact) -> Self {
        let row = SessionRow { tenant: f.tenant, user: f.user, session: f.session.clone(), start_ms: i64::MAX, end_ms: i64::MIN, ..Default::default() };
        Self { row, models: BTreeSet::new(), timed: false }
    }

    pub fn add(&mut self, f: &SessionFact) {
        let row = &mut self.row;
        if f.marks_time {
            row.start_ms = row.start_ms.min(f.time_ms);
            row.end_ms = row.end_ms.max(f.time_ms);
            self.timed = true;
        }
        row.active_time_ms = row.active_time_ms.saturating_add(f.active_time_ms);
        row.prompts = row.prompts.saturating_add(f.prompts as u64);
        row.api_requests = row.api_requests.saturating_add(f.api_requests as u64);
        row.api_errors = row.api_errors.saturating_add(f.api_errors as u64);
        row.input_tokens = row.input_tokens.saturating_add(f.input_tokens);
        row.output_tokens = row.output_tokens.saturating_add(f.output_tokens);
        row.cache_read_tokens = row.cache_read_tokens.saturating_add(f.cache_read_tokens);
        row.cache_creation_tokens = row.cache_creation_tokens.saturating_add(f.cache_creation_tokens);
        row.cost_usd += f.cost_usd;
        row.lines_added = row.lines_added.saturating_add(f.lines_added);
        row.lines_removed = row.lines_removed.saturating_add(f.lines_removed);
        row.tool_calls = row.tool_calls.saturating_add(f.tool_calls as u64);
        row.tool_failures = row.tool_failures.saturating_add(f.tool_failures as u64);
        row.commits = row.commits.saturating_add(f.commits as u64);
        row.pull_requests = row.pull_requests.saturating_add(f.pull_requests as u64);
        if !f.model.is_empty() && !self.models.contains(&f.model) {
            self.models.insert(f.model.clone());
        }
    }

    /// Adds another accumulator of the same session.
    pub fn merge(&mut self, other: SessionAcc) {
        let (row, o) = (&mut self.row, other.row);
        if other.timed {
            row.start_ms = row.start_ms.min(o.start_ms);
            row.end_ms = row.end_ms.max(o.end_ms);
            self.timed = true;
        }
        row.add_counts(&o);
        self.models.extend(other.models);
    }

    pub fn finish(self) -> SessionRow {
        let mut row = self.row;
        if !self.timed {
            row.start_ms = 0;
            row.end_ms = 0;
        }
        row.duration_ms = row.end_ms - row.start_ms;
        row.models = self.models.into_iter().collect();
        row
    }
}

pub fn sessions(facts: &[SessionFact]) -> Vec<SessionRow> {
    let mut by: BTreeMap<(Uuid, Uuid, String), SessionAcc> = BTreeMap::new();
    for f in facts.iter().filter(|f| !f.session.is_empty()) {
        by.entry((f.tenant, f.user, f.session.clone())).or_insert_with(|| SessionAcc::new(f)).add(f);
    }
    by.into_values().map(SessionAcc::finish).collect()
}

/// Friction events, each counted once: a span rejection inside the window of a logged
/// rejection of the same session is the same decision.
pub fn friction(facts: &[FrictionFact]) -> Vec<FrictionFact> {
    let logged: Vec<&FrictionFact> = facts.iter().filter(|f| f.kind == TOOL_REJECTED && f.source == "log").collect();
    let mut out: Vec<FrictionFact> = facts
        .iter()
        .filter(|f| {
            f.source != "span" || !logged.iter().any(|l| l.tenant == f.tenant && l.session == f.session && l.time_ms >= f.time_ms && l.time_ms <= f.end_ms)
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| (a.tenant, a.time_ms, a.event_id).cmp(&(b.tenant, b.time_ms, b.event_id)));
    out
}

pub fn day_of(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{:02}-{:02}", if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn tool_usage(calls: &[ToolCallFact]) -> Vec<ToolUsageRow> {
    let mut by: BTreeMap<(Uuid, String, Uuid, String), ToolUsageRow> = BTreeMap::new();
    for c in calls {
        let day = day_of(c.time_ms);
        let row = by.entry((c.tenant, day.clone(), c.user, c.tool.clone())).or_insert_with(|| ToolUsageRow {
            tenant: c.tenant,
            day,
            user: c.user,
            tool: c.tool.clone(),
            ..Default::default()
        });
        row.calls = row.calls.saturating_add(1);
        row.failures = row.failures.saturating_add((!c.success) as u64);
        row.duration_sum_ms = row.duration_sum_ms.saturating_add(c.duration_ms);
        row.duration_max_ms = row.duration_max_ms.max(c.duration_ms);
    }
    by.into_values().collect()
}

impl DailyUsageRow {
    /// Whether `f` adds anything to a daily usage row (cost, tokens, lines or commits).
    pub fn counts(f: &SessionFact) -> bool {
        let tokens = f.input_tokens + f.output_tokens + f.cache_read_tokens + f.cache_creation_tokens;
        f.cost_usd != 0.0 || tokens != 0 || f.lines_added + f.lines_removed != 0 || f.commits != 0
    }

    pub fn new(f: &SessionFact) -> Self {
        DailyUsageRow { tenant: f.tenant, day: day_of(f.time_ms), user: f.user, model: f.model.clone(), ..Default::default() }
    }

    pub fn add(&mut self, f: &SessionFact) {
        self.cost_usd += f.cost_usd;
        self.input_tokens = self.input_tokens.saturating_add(f.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(f.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(f.cache_read_tokens);
        self.cache_creation_tokens = self.cache_creation_tokens.saturating_add(f.cache_creation_tokens);
        self.lines_added = self.lines_added.saturating_add(f.lines_added);
        self.lines_removed = self.lines_removed.saturating_add(f.lines_removed);
        self.commits = self.commits.saturating_add(f.commits as u64);
    }
}

impl DailyUsageRow {
    /// Adds another row of the same key.
    pub fn merge(&mut self, o: &DailyUsageRow) {
        self.cost_usd += o.cost_usd;
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
        self.cache_creation_tokens = self.cache_creation_tokens.saturating_add(o.cache_creation_tokens);
        self.lines_added = self.lines_added.saturating_add(o.lines_added);
        self.lines_removed = self.lines_removed.saturating_add(o.lines_removed);
        self.commits = self.commits.saturating_add(o.commits);
    }
}

pub fn daily_usage(facts: &[SessionFact]) -> Vec<DailyUsageRow> {
    let mut by: BTreeMap<(Uuid, String, Uuid, String), DailyUsageRow> = BTreeMap::new();
    for f in facts.iter().filter(|f| DailyUsageRow::counts(f)) {
        by.entry((f.tenant, day_of(f.time_ms), f.user, f.model.clone())).or_insert_with(|| DailyUsageRow::new(f)).add(f);
    }
    by.into_values().collect()
}

/// Runs of at least [`LOOP_MIN`] consecutive failing calls of one tool on one file in a session
/// (calls of other tools or files in between do not break the run; a success does).
pub fn loops(calls: &[ToolCallFact]) -> Vec<FrictionLoop> {
    let mut sorted: Vec<&ToolCallFact> = calls.iter().filter(|c| !c.file_path.is_empty()).collect();
    sorted.sort_by(|a, b| (a.tenant, &a.session, a.time_ms, a.event_id).cmp(&(b.tenant, &b.session, b.time_ms, b.event_id)));
    let mut runs: BTreeMap<(Uuid, String, String, String), FrictionLoop> = BTreeMap::new();
    let mut out = Vec::new();
    let close = |run: FrictionLoop, out: &mut Vec<FrictionLoop>| {
        if run.failures >= LOOP_MIN {
            out.push(run);
        }
    };
    for c in sorted {
        let key = (c.tenant, c.session.clone(), c.tool.clone(), c.file_path.clone());
        if c.success {
            if let Some(run) = runs.remove(&key) {
                close(run, &mut out);
            }
            continue;
        }
        let run = runs.entry(key).or_insert_with(|| FrictionLoop {
            tenant: c.tenant,
            user: c.user,
            session: c.session.clone(),
            tool: c.tool.clone(),
            file_path: c.file_path.clone(),
            failures: 0,
            first_ms: c.time_ms,
            last_ms: c.time_ms,
        });
        run.failures = run.failures.saturating_add(1);
        run.last_ms = c.time_ms;
    }
    for run in runs.into_values() {
        close(run, &mut out);
    }
    out.sort_by(|a, b| (a.tenant, &a.session, a.first_ms, &a.tool).cmp(&(b.tenant, &b.session, b.first_ms, &b.tool)));
    out
}

pub fn tasks(facts: &[TaskFact]) -> Vec<TaskRow> {
    let mut sorted: Vec<&TaskFact> = facts.iter().collect();
    sorted.sort_by(|a, b| (a.tenant, &a.task_id, a.time_ms, a.event_id).cmp(&(b.tenant, &b.task_id, b.time_ms, b.event_id)));
    let mut by: BTreeMap<(Uuid, String), TaskRow> = BTreeMap::new();
    for f in sorted {
        let row = by.entry((f.tenant, f.task_id.clone())).or_insert_with(|| TaskRow {
            tenant: f.tenant,
            user: f.user,
            task_id: f.task_id.clone(),
            status: "in_progress".into(),
            ..Default::default()
        });
        match f.phase.as_str() {
            "started" => row.started_ms = Some(row.started_ms.map_or(f.time_ms, |s| s.min(f.time_ms))),
            "finished" => {
                row.finished_ms = Some(f.time_ms);
                row.status = if f.status.is_empty() { "done".into() } else { f.status.clone() };
                // The finished event carries the task's totals.
                row.commits = f.commits;
                row.ai_lines = f.ai_lines;
                row.manual_lines = f.manual_lines;
                row.files_changed = f.files_changed;
            }
            "paused" if row.finished_ms.is_none() => row.status = "paused".into(),
            _ => {}
        }
    }
    by.into_values()
        .map(|mut r| {
            r.cycle_time_ms = cycle_time(r.started_ms, r.finished_ms);
            r
        })
        .collect()
}

/// From the first start to the last finish; none while either is missing.
pub fn cycle_time(started_ms: Option<i64>, finished_ms: Option<i64>) -> Option<i64> {
    match (started_ms, finished_ms) {
        (Some(s), Some(f)) if f >= s => Some(f - s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day_of(1_796_325_147_103), "2026-12-03");
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
    }

    fn call(t: i64, tool: &str, file: &str, ok: bool) -> ToolCallFact {
        ToolCallFact {
            session: "s".into(),
            time_ms: t,
            tool: tool.into(),
            file_path: file.into(),
            success: ok,
            event_id: Uuid::from_u128(t as u128),
            ..Default::default()
        }
    }

    #[test]
    fn three_failures_in_a_row_on_one_file_make_a_loop() {
        let calls = vec![
            call(1, "Edit", "a.rs", false),
            call(2, "Edit", "a.rs", false),
            call(3, "Read", "b.rs", true),
            call(4, "Edit", "a.rs", false),
            call(5, "Edit", "c.rs", false),
            call(6, "Edit", "c.rs", false),
            call(7, "Edit", "c.rs", true),
            call(8, "Edit", "c.rs", false),
        ];
        let l = loops(&calls);
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].file_path.as_str(), l[0].failures, l[0].first_ms, l[0].last_ms), ("a.rs", 3, 1, 4));
    }

    #[test]
    fn a_span_rejection_inside_a_logged_rejection_counts_once() {
        let logged = FrictionFact {
            kind: TOOL_REJECTED.into(),
            source: "log".into(),
            session: "s".into(),
            time_ms: 150,
            end_ms: 150,
            event_id: Uuid::from_u128(1),
            ..Default::default()
        };
        let span = FrictionFact {
            kind: TOOL_REJECTED.into(),
            source: "span".into(),
            session: "s".into(),
            time_ms: 100,
            end_ms: 200,
            event_id: Uuid::from_u128(2),
            ..Default::default()
        };
        let lone = FrictionFact { time_ms: 500, end_ms: 600, event_id: Uuid::from_u128(3), ..span.clone() };
        assert_eq!(friction(&[logged.clone(), span, lone.clone()]), vec![logged, lone]);
    }

    #[test]
    fn tasks_have_cycle_time_and_the_finished_totals() {
        let t = |time: i64, phase: &str| TaskFact {
            task_id: "T".into(),
            time_ms: time,
            phase: phase.into(),
            event_id: Uuid::from_u128(time as u128),
            ..Default::default()
        };
        let mut fin = t(5_000, "finished");
        fin.commits = 2;
        fin.status = "done".into();
        let rows = tasks(&[t(1_000, "started"), t(3_000, "paused"), fin]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].cycle_time_ms, rows[0].commits, rows[0].status.as_str()), (Some(4_000), 2, "done"));
    }
}
