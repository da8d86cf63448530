//! The aggregate endpoints. Each one reads the projections of the caller's tenant (and only that
//! tenant: the store is asked with `caller.tenant`, nothing else), applies the time range and
//! filters, groups, and returns a [`Table`] that renders as JSON, CSV or Arrow.
//!
//! Members see exactly what owners and admins see: no endpoint here looks at the role.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use tandemu_processor::aggregate::{SessionRow, day_of};
use uuid::Uuid;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::params::{ApiQuery, Params};
use crate::render::{Kind, Table};
use crate::router::ApiState;

/// `group_by` values of each endpoint (the first is the default); the router's OpenAPI document
/// lists the same constants.
pub const SESSIONS_SUMMARY_GROUPS: &[&str] = &["day", "user", "team"];
pub const FRICTION_GROUPS: &[&str] = &["file", "tool", "kind", "user"];
pub const COMPLETION_GROUPS: &[&str] = &["day", "user", "team"];
pub const LINES_GROUPS: &[&str] = &["day", "user", "model", "team"];
pub const COST_GROUPS: &[&str] = &["model", "user", "day", "team"];

type Answer = Result<Response, ApiError>;

/// The validated parameters with the team filter and grouping resolved through the directory.
struct Scope {
    p: Params,
    /// With `team=`: the team's members.
    team_users: Option<HashSet<Uuid>>,
    /// For `group_by=team`: each user's team names (a user in two teams counts in both).
    teams_of: HashMap<Uuid, Vec<String>>,
}

impl Scope {
    async fn new(st: &ApiState, caller: &Caller, q: ApiQuery, headers: &HeaderMap) -> Result<Self, ApiError> {
        let p = Params::parse(q.0, headers)?;
        let needs_teams = p.team.is_some() || p.group_by.as_deref() == Some("team");
        let mut scope = Scope { team_users: None, teams_of: HashMap::new(), p };
        if !needs_teams {
            return Ok(scope);
        }
        let teams = st.directory.teams(caller.tenant).await?;
        if let Some(wanted) = &scope.p.team {
            let team = teams
                .iter()
                .find(|t| t.id.to_string() == *wanted || t.name == *wanted)
                .ok_or_else(|| ApiError::BadRequest(format!("team={wanted:?}: no such team in this organization (GET /v1/teams lists them)")))?;
            scope.team_users = Some(team.members.iter().copied().collect());
        }
        for t in &teams {
            for u in &t.members {
                scope.teams_of.entry(*u).or_default().push(t.name.clone());
            }
        }
        Ok(scope)
    }

    /// Whether rows of `user` pass the `user` and `team` filters.
    fn wants(&self, user: Uuid) -> bool {
        self.p.user.is_none_or(|u| u == user) && self.team_users.as_ref().is_none_or(|t| t.contains(&user))
    }

    /// The group keys of a row: its teams for `group_by=team`, else the one key given.
    fn keys(&self, group: &str, user: Uuid, key: impl FnOnce() -> String) -> Vec<String> {
        if group == "team" { self.teams_of.get(&user).cloned().unwrap_or_default() } else { vec![key()] }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Keeps the rows after `cursor` (keys sorted ascending) and at most `limit` of them; sets
/// `next_cursor` when more remain.
fn page<T>(rows: Vec<(String, T)>, p: &Params, table: &mut Table, mut push: impl FnMut(&mut Table, T)) -> Result<(), ApiError> {
    let after = match &p.cursor {
        None => None,
        Some(c) => Some(
            hex::decode(c).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| ApiError::BadRequest("cursor: not a cursor this API returned".into()))?,
        ),
    };
    let mut taken = 0;
    let mut last = None;
    for (key, row) in rows {
        if after.as_ref().is_some_and(|a| key <= *a) {
            continue;
        }
        if taken == p.limit {
            table.next_cursor = last.map(|k: String| hex::encode(k.as_bytes()));
            return Ok(());
        }
        push(table, row);
        taken += 1;
        last = Some(key);
    }
    Ok(())
}

const SESSION_COLUMNS: &[(&str, Kind)] = &[
    ("session", Kind::Text),
    ("user", Kind::Text),
    ("start_ms", Kind::Int),
    ("end_ms", Kind::Int),
    ("duration_ms", Kind::Int),
    ("active_time_ms", Kind::UInt),
    ("prompts", Kind::UInt),
    ("api_requests", Kind::UInt),
    ("api_errors", Kind::UInt),
    ("input_tokens", Kind::UInt),
    ("output_tokens", Kind::UInt),
    ("cache_read_tokens", Kind::UInt),
    ("cache_creation_tokens", Kind::UInt),
    ("cost_usd", Kind::Float),
    ("lines_added", Kind::UInt),
    ("lines_removed", Kind::UInt),
    ("tool_calls", Kind::UInt),
    ("tool_failures", Kind::UInt),
    ("commits", Kind::UInt),
    ("pull_requests", Kind::UInt),
    ("models", Kind::Text),
];

/// `GET /v1/sessions`: one row per session that started in the range, oldest first, paged.
pub async fn sessions(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let mut rows: Vec<_> = st
        .store
        .sessions(caller.tenant)
        .await?
        .into_iter()
        .filter(|s| p.in_range(s.start_ms) && sc.wants(s.user))
        .map(|s| (format!("{:020}\u{0}{}\u{0}{}", s.start_ms.max(0), s.user, s.session), s))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut t = Table::new(SESSION_COLUMNS);
    page(rows, p, &mut t, |t, s| {
        t.push(vec![
            s.session.into(),
            s.user.to_string().into(),
            s.start_ms.into(),
            s.end_ms.into(),
            s.duration_ms.into(),
            s.active_time_ms.into(),
            s.prompts.into(),
            s.api_requests.into(),
            s.api_errors.into(),
            s.input_tokens.into(),
            s.output_tokens.into(),
            s.cache_read_tokens.into(),
            s.cache_creation_tokens.into(),
            s.cost_usd.into(),
            s.lines_added.into(),
            s.lines_removed.into(),
            s.tool_calls.into(),
            s.tool_failures.into(),
            s.commits.into(),
            s.pull_requests.into(),
            s.models.join(",").into(),
        ])
    })?;
    t.render(p.format)
}

/// A group of sessions: how many, their summed duration, and their summed counters.
#[derive(Default)]
struct SessionSums {
    sessions: u64,
    duration_ms: i64,
    totals: SessionRow,
}

/// `GET /v1/sessions/summary?group_by=day|user`: sessions and their totals per group.
pub async fn sessions_summary(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let group = p.group_by(SESSIONS_SUMMARY_GROUPS)?;
    let mut by: BTreeMap<String, SessionSums> = BTreeMap::new();
    for s in st.store.sessions(caller.tenant).await? {
        if !p.in_range(s.start_ms) || !sc.wants(s.user) {
            continue;
        }
        for key in sc.keys(group, s.user, || if group == "day" { day_of(s.start_ms) } else { s.user.to_string() }) {
            let g = by.entry(key).or_default();
            g.sessions = g.sessions.saturating_add(1);
            g.duration_ms = g.duration_ms.saturating_add(s.duration_ms);
            g.totals.add_counts(&s);
        }
    }
    let mut t = Table::new(&[
        ("key", Kind::Text),
        ("sessions", Kind::UInt),
        ("duration_ms", Kind::Int),
        ("mean_duration_ms", Kind::Float),
        ("active_time_ms", Kind::UInt),
        ("prompts", Kind::UInt),
        ("api_requests", Kind::UInt),
        ("api_errors", Kind::UInt),
        ("input_tokens", Kind::UInt),
        ("output_tokens", Kind::UInt),
        ("cost_usd", Kind::Float),
        ("lines_added", Kind::UInt),
        ("lines_removed", Kind::UInt),
        ("tool_calls", Kind::UInt),
        ("tool_failures", Kind::UInt),
        ("commits", Kind::UInt),
    ]);
    for (key, g) in by {
        t.push(vec![
            key.into(),
            g.sessions.into(),
            g.duration_ms.into(),
            (g.duration_ms as f64 / g.sessions.max(1) as f64).into(),
            g.totals.active_time_ms.into(),
            g.totals.prompts.into(),
            g.totals.api_requests.into(),
            g.totals.api_errors.into(),
            g.totals.input_tokens.into(),
            g.totals.output_tokens.into(),
            g.totals.cost_usd.into(),
            g.totals.lines_added.into(),
            g.totals.lines_removed.into(),
            g.totals.tool_calls.into(),
            g.totals.tool_failures.into(),
            g.totals.commits.into(),
        ]);
    }
    t.render(p.format)
}

/// `GET /v1/friction?group_by=file|tool|kind|user`: friction hotspots.
pub async fn friction(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let group = p.group_by(FRICTION_GROUPS)?;
    let mut by: BTreeMap<String, (u64, BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for f in st.store.friction(caller.tenant).await? {
        if !p.in_range(f.time_ms) || !sc.wants(f.user) {
            continue;
        }
        let key = match group {
            "file" => f.file_path.clone(),
            "tool" => f.tool.clone(),
            "kind" => f.kind.clone(),
            _ => f.user.to_string(),
        };
        let g = by.entry(key).or_default();
        g.0 = g.0.saturating_add(1);
        g.1.insert(f.session);
        g.2.insert(f.user.to_string());
    }
    let mut rows: Vec<_> = by.into_iter().collect();
    // Hotspots first: most events, then by key.
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
    let mut t = Table::new(&[("key", Kind::Text), ("events", Kind::UInt), ("sessions", Kind::UInt), ("users", Kind::UInt)]);
    for (key, (n, sessions, users)) in rows {
        t.push(vec![key.into(), n.into(), (sessions.len() as u64).into(), (users.len() as u64).into()]);
    }
    t.render(p.format)
}

/// `GET /v1/friction/events`: one row per friction event, oldest first, paged.
pub async fn friction_events(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let rows: Vec<_> = st
        .store
        .friction(caller.tenant)
        .await?
        .into_iter()
        .filter(|f| p.in_range(f.time_ms) && sc.wants(f.user))
        .map(|f| (format!("{:020}\u{0}{}", f.time_ms.max(0), f.event_id), f))
        .collect();
    let mut t = Table::new(&[
        ("time_ms", Kind::Int),
        ("user", Kind::Text),
        ("session", Kind::Text),
        ("kind", Kind::Text),
        ("tool", Kind::Text),
        ("error_type", Kind::Text),
        ("file_path", Kind::Text),
    ]);
    page(rows, p, &mut t, |t, f| {
        t.push(vec![f.time_ms.into(), f.user.to_string().into(), f.session.into(), f.kind.into(), f.tool.into(), f.error_type.into(), f.file_path.into()])
    })?;
    t.render(p.format)
}

/// `GET /v1/completion?group_by=day|user`: tasks, cycle time p50 and p90, commits, lines.
pub async fn completion(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let group = p.group_by(COMPLETION_GROUPS)?;
    #[derive(Default)]
    struct G {
        tasks: u64,
        finished: u64,
        cycles: Vec<i64>,
        commits: u64,
        ai_lines: u64,
        manual_lines: u64,
        files_changed: u64,
    }
    let mut by: BTreeMap<String, G> = BTreeMap::new();
    for task in st.store.tasks(caller.tenant).await? {
        // A task belongs to the day it finished, or started while still open.
        let Some(at) = task.finished_ms.or(task.started_ms) else { continue };
        if !p.in_range(at) || !sc.wants(task.user) {
            continue;
        }
        for key in sc.keys(group, task.user, || if group == "day" { day_of(at) } else { task.user.to_string() }) {
            let g = by.entry(key).or_default();
            g.tasks = g.tasks.saturating_add(1);
            g.finished = g.finished.saturating_add(task.finished_ms.is_some() as u64);
            g.cycles.extend(task.cycle_time_ms);
            g.commits = g.commits.saturating_add(task.commits);
            g.ai_lines = g.ai_lines.saturating_add(task.ai_lines);
            g.manual_lines = g.manual_lines.saturating_add(task.manual_lines);
            g.files_changed = g.files_changed.saturating_add(task.files_changed);
        }
    }
    let mut t = Table::new(&[
        ("key", Kind::Text),
        ("tasks", Kind::UInt),
        ("finished", Kind::UInt),
        ("cycle_time_p50_ms", Kind::Int),
        ("cycle_time_p90_ms", Kind::Int),
        ("commits", Kind::UInt),
        ("ai_lines", Kind::UInt),
        ("manual_lines", Kind::UInt),
        ("files_changed", Kind::UInt),
    ]);
    for (key, mut g) in by {
        g.cycles.sort_unstable();
        t.push(vec![
            key.into(),
            g.tasks.into(),
            g.finished.into(),
            percentile(&g.cycles, 50.0).into(),
            percentile(&g.cycles, 90.0).into(),
            g.commits.into(),
            g.ai_lines.into(),
            g.manual_lines.into(),
            g.files_changed.into(),
        ]);
    }
    t.render(p.format)
}

/// `GET /v1/tools`: per tool, calls, failures, success rate, mean and p95 duration.
pub async fn tools(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let mut by: BTreeMap<String, (u64, Vec<i64>)> = BTreeMap::new();
    for c in st.store.tool_calls(caller.tenant).await? {
        if !p.in_range(c.time_ms) || !sc.wants(c.user) {
            continue;
        }
        let g = by.entry(c.tool).or_default();
        g.0 = g.0.saturating_add((!c.success) as u64);
        g.1.push(i64::try_from(c.duration_ms).unwrap_or(i64::MAX));
    }
    let mut t = Table::new(&[
        ("tool", Kind::Text),
        ("calls", Kind::UInt),
        ("failures", Kind::UInt),
        ("success_rate", Kind::Float),
        ("mean_duration_ms", Kind::Float),
        ("p95_duration_ms", Kind::Int),
    ]);
    for (tool, (failures, mut durations)) in by {
        durations.sort_unstable();
        let calls = durations.len() as u64;
        let mean = durations.iter().map(|d| *d as f64).sum::<f64>() / calls.max(1) as f64;
        t.push(vec![
            tool.into(),
            calls.into(),
            failures.into(),
            ((calls - failures) as f64 / calls.max(1) as f64).into(),
            mean.into(),
            percentile(&durations, 95.0).into(),
        ]);
    }
    t.render(p.format)
}

/// `GET /v1/lines?group_by=day|user|model`: lines added and removed (by AI, from Claude Code's
/// metric), and commits.
pub async fn lines(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let group = p.group_by(LINES_GROUPS)?;
    let mut by: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for d in daily(&st, &caller, &sc).await? {
        for key in sc.keys(group, d.user, || key_of(group, &d)) {
            let g = by.entry(key).or_default();
            g.0 = g.0.saturating_add(d.lines_added);
            g.1 = g.1.saturating_add(d.lines_removed);
            g.2 = g.2.saturating_add(d.commits);
        }
    }
    let mut t = Table::new(&[("key", Kind::Text), ("lines_added", Kind::UInt), ("lines_removed", Kind::UInt), ("commits", Kind::UInt)]);
    for (key, (added, removed, commits)) in by {
        if added > 0 || removed > 0 || commits > 0 {
            t.push(vec![key.into(), added.into(), removed.into(), commits.into()]);
        }
    }
    t.render(p.format)
}

/// `GET /v1/cost?group_by=model|user|day`: cost in USD and tokens by type.
pub async fn cost(State(st): State<ApiState>, caller: Caller, headers: HeaderMap, q: ApiQuery) -> Answer {
    let sc = Scope::new(&st, &caller, q, &headers).await?;
    let p = &sc.p;
    let group = p.group_by(COST_GROUPS)?;
    #[derive(Default)]
    struct G {
        cost: f64,
        input: u64,
        output: u64,
        cache_read: u64,
        cache_creation: u64,
    }
    let mut by: BTreeMap<String, G> = BTreeMap::new();
    for d in daily(&st, &caller, &sc).await? {
        if d.cost_usd == 0.0 && d.input_tokens == 0 && d.output_tokens == 0 && d.cache_read_tokens == 0 && d.cache_creation_tokens == 0 {
            continue;
        }
        for key in sc.keys(group, d.user, || key_of(group, &d)) {
            let g = by.entry(key).or_default();
            g.cost += d.cost_usd;
            g.input = g.input.saturating_add(d.input_tokens);
            g.output = g.output.saturating_add(d.output_tokens);
            g.cache_read = g.cache_read.saturating_add(d.cache_read_tokens);
            g.cache_creation = g.cache_creation.saturating_add(d.cache_creation_tokens);
        }
    }
    let mut t = Table::new(&[
        ("key", Kind::Text),
        ("cost_usd", Kind::Float),
        ("input_tokens", Kind::UInt),
        ("output_tokens", Kind::UInt),
        ("cache_read_tokens", Kind::UInt),
        ("cache_creation_tokens", Kind::UInt),
    ]);
    for (key, g) in by {
        t.push(vec![key.into(), g.cost.into(), g.input.into(), g.output.into(), g.cache_read.into(), g.cache_creation.into()]);
    }
    t.render(p.format)
}

async fn daily(st: &ApiState, caller: &Caller, sc: &Scope) -> Result<Vec<tandemu_processor::aggregate::DailyUsageRow>, ApiError> {
    let p = &sc.p;
    // Daily rows: a day is in range when any of it is.
    let from_day = day_of(p.from_ms);
    let to_day = day_of(p.to_ms.saturating_sub(1).min(253_402_300_799_999));
    Ok(st.store.daily_usage(caller.tenant).await?.into_iter().filter(|d| d.day >= from_day && d.day <= to_day && sc.wants(d.user)).collect())
}

fn key_of(group: &str, d: &tandemu_processor::aggregate::DailyUsageRow) -> String {
    match group {
        "day" => d.day.clone(),
        "user" => d.user.to_string(),
        _ => d.model.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Cell;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 95.0), Some(100));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn pages_follow_the_cursor() {
        let rows = |n: usize| (0..n).map(|i| (format!("{i:03}"), i)).collect::<Vec<_>>();
        let mut p = Params::parse(Default::default(), &HeaderMap::new()).unwrap();
        p.limit = 2;
        let mut t = Table::new(&[("n", Kind::UInt)]);
        page(rows(5), &p, &mut t, |t, i| t.push(vec![(i as u64).into()])).unwrap();
        assert_eq!(t.rows.len(), 2);
        let cursor = t.next_cursor.clone().expect("a next page");
        p.cursor = Some(cursor);
        let mut t2 = Table::new(&[("n", Kind::UInt)]);
        page(rows(5), &p, &mut t2, |t, i| t.push(vec![(i as u64).into()])).unwrap();
        assert_eq!(t2.rows, vec![vec![Cell::UInt(2)], vec![Cell::UInt(3)]]);
        p.cursor = Some("zz".into());
        assert!(page(rows(5), &p, &mut Table::new(&[("n", Kind::UInt)]), |_, _| {}).is_err());
    }
}
