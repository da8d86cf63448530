//! The ClickHouse projection store (distributed mode).
//!
//! Facts go into the `*_facts` tables of `clickhouse/0002_projection_facts.sql` (ReplacingMergeTree
//! keyed by tenant and event id, so a re-written fact replaces itself), each insert carrying an
//! `insert_deduplication_token` derived from the batch's log offsets, so a retried insert is not
//! applied twice either. Sessions, tool usage, daily usage and tasks are SQL aggregates over the
//! facts (read `FINAL`); friction de-duplication and loops need an ordered walk and reuse the
//! reference code in `aggregate.rs` over the tenant's facts. Every query filters on the tenant.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use tandemu_ingest::log::BoxFuture;
use tandemu_schemas::TenantId;
use uuid::Uuid;

use super::{Batch, DeadLetter, ProjectionStore, PurgeReport, StoreError};
use crate::aggregate::{self, DailyUsageRow, FrictionLoop, SessionRow, TaskRow, ToolUsageRow};
use crate::clickhouse_ddl;
use crate::facts::{FrictionFact, SeriesState, SessionFact, TaskFact, ToolCallFact};
use crate::retention::{PolicyHandle, RetentionPolicy, RetentionTable};

pub use crate::retention::MAX_DAYS as MAX_RETENTION_DAYS;

#[derive(Clone)]
pub struct ClickHouseStore {
    pub(crate) client: Client,
    /// Organizations' overrides, stamped on their rows (see `crate::retention`).
    policy: PolicyHandle,
    /// Stamped instead of 0 on rows without an override (tests: dated fixtures outlive defaults).
    fixed_days: Option<u16>,
    /// Bumped by every reset and part of every deduplication token: after a replay truncates
    /// the facts, ClickHouse must not skip the re-inserts as blocks it has seen.
    epoch: Arc<AtomicU64>,
}

pub(crate) fn classify(e: clickhouse::error::Error) -> StoreError {
    use clickhouse::error::Error as E;
    match e {
        // The server understood the request and refused it: retrying the same data will not help.
        E::BadResponse(msg) if !is_transient(&msg) => StoreError::Rejected(msg),
        E::BadResponse(msg) => StoreError::Unavailable(msg),
        E::SchemaMismatch(msg) => StoreError::Rejected(format!("schema mismatch: {msg}")),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// ClickHouse errors that go away by themselves (overload, a replica catching up).
fn is_transient(msg: &str) -> bool {
    ["TOO_MANY_PARTS", "TOO_MANY_SIMULTANEOUS_QUERIES", "TIMEOUT_EXCEEDED", "NETWORK_ERROR", "MEMORY_LIMIT_EXCEEDED", "TABLE_IS_READ_ONLY"]
        .iter()
        .any(|c| msg.contains(c))
}

impl ClickHouseStore {
    /// A store on `client` (URL, database and credentials already set).
    pub fn new(client: Client) -> Self {
        Self { client, policy: PolicyHandle::default(), fixed_days: None, epoch: Arc::new(AtomicU64::new(0)) }
    }

    /// The retention policy whose overrides new rows carry.
    pub fn with_policy(mut self, policy: PolicyHandle) -> Self {
        self.policy = policy;
        self
    }

    /// Rows without an override live `days` (clamped to 1..=[`MAX_RETENTION_DAYS`]) instead of
    /// following their table's default: for tests whose dated fixtures must outlive any default.
    pub fn with_retention_days(mut self, days: u16) -> Self {
        self.fixed_days = Some(days.clamp(1, MAX_RETENTION_DAYS));
        self
    }

    fn stamp(&self, policy: &RetentionPolicy, tenant: Uuid, table: RetentionTable) -> u16 {
        match policy.override_days(tenant, table) {
            Some(days) => days,
            None => self.fixed_days.unwrap_or(0),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Applies the shipped migrations not yet recorded in `tandemu_migrations`; returns the
    /// versions applied now. Idempotent: every statement is `IF NOT EXISTS`, and applied versions
    /// are skipped.
    pub async fn migrate(&self) -> Result<Vec<u32>, StoreError> {
        let (first_version, first_name, first_sql) = clickhouse_ddl::MIGRATIONS[0];
        for stmt in clickhouse_ddl::statements(first_sql) {
            self.client.query(&stmt).execute().await.map_err(classify)?;
        }
        let applied: Vec<u32> = self.client.query("SELECT DISTINCT version FROM tandemu_migrations FINAL").fetch_all().await.map_err(classify)?;
        let mut now = Vec::new();
        for &(version, name, sql) in clickhouse_ddl::MIGRATIONS {
            if applied.contains(&version) {
                continue;
            }
            if version != first_version {
                for stmt in clickhouse_ddl::statements(sql) {
                    // A migration's TTL change keeps every stored row's expiry, and its
                    // mutations are done before it is recorded (see 0003).
                    let q = self.client.query(&stmt).with_setting("materialize_ttl_after_modify", "0").with_setting("mutations_sync", "2");
                    q.execute().await.map_err(|e| match classify(e) {
                        StoreError::Rejected(m) => StoreError::Rejected(format!("migration {version:04}_{name}: {m}")),
                        other => other,
                    })?;
                }
            }
            self.client
                .query("INSERT INTO tandemu_migrations (version, name) VALUES (?, ?)")
                .bind(version)
                .bind(if version == first_version { first_name } else { name })
                .execute()
                .await
                .map_err(classify)?;
            now.push(version);
        }
        Ok(now)
    }

    /// Whether ClickHouse answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client.query("SELECT 1").execute().await.map_err(classify)
    }

    /// The shipped migrations this database has not recorded yet.
    pub async fn pending_migrations(&self) -> Result<Vec<u32>, StoreError> {
        let exists: u64 = self
            .client
            .query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'tandemu_migrations'")
            .fetch_one()
            .await
            .map_err(classify)?;
        let applied: Vec<u32> = if exists == 0 {
            Vec::new()
        } else {
            self.client.query("SELECT DISTINCT version FROM tandemu_migrations FINAL").fetch_all().await.map_err(classify)?
        };
        Ok(clickhouse_ddl::MIGRATIONS.iter().map(|m| m.0).filter(|v| !applied.contains(v)).collect())
    }

    async fn insert<T>(&self, table: &str, token: &str, rows: &[T]) -> Result<(), StoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<T>(table)
            .await
            .map_err(classify)?
            .with_setting("insert_deduplication_token", format!("{}/{token}/{table}", self.epoch.load(Ordering::Acquire)));
        for row in rows {
            insert.write(row).await.map_err(classify)?;
        }
        insert.end().await.map_err(classify)
    }
}

/// Active parts of a table whose every row has expired: (name, rows).
const EXPIRED_PARTS_SQL: &str = "SELECT name, rows FROM system.parts WHERE database = currentDatabase() AND table = ? AND active AND rows > 0 \
     AND delete_ttl_info_max != toDateTime(0) AND delete_ttl_info_max <= now()";

fn now_version() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct SessionFactRow {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    session: String,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    time: i64,
    prompts: u32,
    api_requests: u32,
    api_errors: u32,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_creation_tokens: u64,
    cost_usd: f64,
    lines_added: u64,
    lines_removed: u64,
    tool_calls: u32,
    tool_failures: u32,
    commits: u32,
    pull_requests: u32,
    active_time_ms: u64,
    model: String,
    marks_time: bool,
    retention_days: u16,
    version: u64,
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct FrictionFactRow {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    session: String,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    time: i64,
    kind: String,
    tool: String,
    error_type: String,
    file_path: String,
    tool_use_id: String,
    source: String,
    end_time: i64,
    retention_days: u16,
    version: u64,
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct ToolCallFactRow {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    session: String,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    time: i64,
    tool: String,
    success: bool,
    duration_ms: u64,
    file_path: String,
    error_type: String,
    retention_days: u16,
    version: u64,
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct TaskFactRow {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    task_id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    time: i64,
    phase: String,
    status: String,
    commits: u64,
    ai_lines: u64,
    manual_lines: u64,
    files_changed: u64,
    retention_days: u16,
    version: u64,
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct DailyUsageFactRow {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    time: i64,
    model: String,
    cost_usd: f64,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_creation_tokens: u64,
    lines_added: u64,
    lines_removed: u64,
    commits: u32,
    retention_days: u16,
    version: u64,
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct DeadLetterRow {
    position: u64,
    reason: String,
    payload: String,
}

#[derive(Row, Serialize, Deserialize, Clone)]
struct StateRow {
    key: String,
    value: String,
    version: u64,
}

#[derive(Row, Deserialize)]
struct SessionAgg {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    session: String,
    start_ms: i64,
    end_ms: i64,
    active_time_ms: u64,
    prompts: u64,
    api_requests: u64,
    api_errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_creation_tokens: u64,
    cost_usd: f64,
    lines_added: u64,
    lines_removed: u64,
    tool_calls: u64,
    tool_failures: u64,
    commits: u64,
    pull_requests: u64,
    models: Vec<String>,
}

#[derive(Row, Deserialize)]
struct ToolUsageAgg {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    day: String,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    tool: String,
    calls: u64,
    failures: u64,
    duration_sum_ms: u64,
    duration_max_ms: u64,
}

#[derive(Row, Deserialize)]
struct DailyUsageAgg {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    day: String,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    model: String,
    cost_usd: f64,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    cache_creation_tokens: u64,
    lines_added: u64,
    lines_removed: u64,
    commits: u64,
}

#[derive(Row, Deserialize)]
struct TaskAgg {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    user: Uuid,
    task_id: String,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    status: String,
    commits: u64,
    ai_lines: u64,
    manual_lines: u64,
    files_changed: u64,
}

const SESSIONS_SQL: &str = "
SELECT tenant, user, session,
       if(countIf(marks_time) > 0, minIf(toUnixTimestamp64Milli(time), marks_time), 0) AS start_ms,
       if(countIf(marks_time) > 0, maxIf(toUnixTimestamp64Milli(time), marks_time), 0) AS end_ms,
       sum(active_time_ms) AS active_time_ms,
       toUInt64(sum(prompts)) AS prompts,
       toUInt64(sum(api_requests)) AS api_requests,
       toUInt64(sum(api_errors)) AS api_errors,
       sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       sum(cache_read_tokens) AS cache_read_tokens,
       sum(cache_creation_tokens) AS cache_creation_tokens,
       sum(cost_usd) AS cost_usd,
       sum(lines_added) AS lines_added,
       sum(lines_removed) AS lines_removed,
       toUInt64(sum(tool_calls)) AS tool_calls,
       toUInt64(sum(tool_failures)) AS tool_failures,
       toUInt64(sum(commits)) AS commits,
       toUInt64(sum(pull_requests)) AS pull_requests,
       arraySort(groupUniqArrayIf(toString(model), model != '')) AS models
FROM session_facts FINAL
WHERE tenant = toUUID(?) AND session != ''
GROUP BY tenant, user, session";

const TOOL_USAGE_SQL: &str = "
SELECT tenant, toString(toDate(time)) AS day, user, toString(tool) AS tool,
       count() AS calls, countIf(NOT success) AS failures,
       sum(duration_ms) AS duration_sum_ms, max(duration_ms) AS duration_max_ms
FROM tool_call_facts FINAL
WHERE tenant = toUUID(?)
GROUP BY tenant, day, user, tool";

const DAILY_USAGE_SQL: &str = "
SELECT f.tenant, toString(toDate(f.time)) AS day, f.user, toString(f.model) AS model,
       sum(f.cost_usd) AS cost_usd,
       sum(f.input_tokens) AS input_tokens, sum(f.output_tokens) AS output_tokens,
       sum(f.cache_read_tokens) AS cache_read_tokens, sum(f.cache_creation_tokens) AS cache_creation_tokens,
       sum(f.lines_added) AS lines_added, sum(f.lines_removed) AS lines_removed,
       toUInt64(sum(f.commits)) AS commits
FROM daily_usage_facts AS f FINAL
WHERE f.tenant = toUUID(?)
GROUP BY f.tenant, day, f.user, model";

// The status of a task: the last finish's (or `done`), else `paused` once paused, else in progress.
const TASKS_SQL: &str = "
SELECT tenant, argMin(t.user, (t.time, t.event_id)) AS user, task_id,
       if(countIf(t.phase = 'started') > 0, minIf(toUnixTimestamp64Milli(t.time), t.phase = 'started'), NULL) AS started_ms,
       if(countIf(t.phase = 'finished') > 0, maxIf(toUnixTimestamp64Milli(t.time), t.phase = 'finished'), NULL) AS finished_ms,
       multiIf(countIf(t.phase = 'finished') > 0,
                   if(argMaxIf(toString(t.status), (t.time, t.event_id), t.phase = 'finished') = '', 'done',
                      argMaxIf(toString(t.status), (t.time, t.event_id), t.phase = 'finished')),
               countIf(t.phase = 'paused') > 0, 'paused',
               'in_progress') AS status,
       if(countIf(t.phase = 'finished') > 0, argMaxIf(t.commits, (t.time, t.event_id), t.phase = 'finished'), 0) AS commits,
       if(countIf(t.phase = 'finished') > 0, argMaxIf(t.ai_lines, (t.time, t.event_id), t.phase = 'finished'), 0) AS ai_lines,
       if(countIf(t.phase = 'finished') > 0, argMaxIf(t.manual_lines, (t.time, t.event_id), t.phase = 'finished'), 0) AS manual_lines,
       if(countIf(t.phase = 'finished') > 0, argMaxIf(t.files_changed, (t.time, t.event_id), t.phase = 'finished'), 0) AS files_changed
FROM task_facts AS t FINAL
WHERE tenant = toUUID(?)
GROUP BY tenant, task_id";

impl ProjectionStore for ClickHouseStore {
    fn kind(&self) -> &'static str {
        "clickhouse"
    }

    fn write<'a>(&'a self, batch: Batch<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let version = now_version();
            let policy = self.policy.current();
            let token = batch.batch_key;
            let f = batch.facts;
            let sessions: Vec<SessionFactRow> = f
                .sessions
                .iter()
                .map(|s| SessionFactRow {
                    tenant: s.tenant,
                    user: s.user,
                    session: s.session.clone(),
                    event_id: s.event_id,
                    time: s.time_ms,
                    prompts: s.prompts,
                    api_requests: s.api_requests,
                    api_errors: s.api_errors,
                    input_tokens: s.input_tokens,
                    output_tokens: s.output_tokens,
                    cache_read_tokens: s.cache_read_tokens,
                    cache_creation_tokens: s.cache_creation_tokens,
                    cost_usd: s.cost_usd,
                    lines_added: s.lines_added,
                    lines_removed: s.lines_removed,
                    tool_calls: s.tool_calls,
                    tool_failures: s.tool_failures,
                    commits: s.commits,
                    pull_requests: s.pull_requests,
                    active_time_ms: s.active_time_ms,
                    model: s.model.clone(),
                    marks_time: s.marks_time,
                    retention_days: self.stamp(&policy, s.tenant, RetentionTable::Sessions),
                    version,
                })
                .collect();
            self.insert::<SessionFactRow>("session_facts", token, &sessions).await?;
            let usage: Vec<DailyUsageFactRow> = f
                .sessions
                .iter()
                .filter(|s| DailyUsageRow::counts(s))
                .map(|s| DailyUsageFactRow {
                    tenant: s.tenant,
                    user: s.user,
                    event_id: s.event_id,
                    time: s.time_ms,
                    model: s.model.clone(),
                    cost_usd: s.cost_usd,
                    input_tokens: s.input_tokens,
                    output_tokens: s.output_tokens,
                    cache_read_tokens: s.cache_read_tokens,
                    cache_creation_tokens: s.cache_creation_tokens,
                    lines_added: s.lines_added,
                    lines_removed: s.lines_removed,
                    commits: s.commits,
                    retention_days: self.stamp(&policy, s.tenant, RetentionTable::Rollups),
                    version,
                })
                .collect();
            self.insert::<DailyUsageFactRow>("daily_usage_facts", token, &usage).await?;
            let friction: Vec<FrictionFactRow> = f
                .friction
                .iter()
                .map(|x| FrictionFactRow {
                    tenant: x.tenant,
                    user: x.user,
                    session: x.session.clone(),
                    event_id: x.event_id,
                    time: x.time_ms,
                    kind: x.kind.clone(),
                    tool: x.tool.clone(),
                    error_type: x.error_type.clone(),
                    file_path: x.file_path.clone(),
                    tool_use_id: x.tool_use_id.clone(),
                    source: x.source.clone(),
                    end_time: x.end_ms,
                    retention_days: self.stamp(&policy, x.tenant, RetentionTable::Friction),
                    version,
                })
                .collect();
            self.insert::<FrictionFactRow>("friction_facts", token, &friction).await?;
            let calls: Vec<ToolCallFactRow> = f
                .tool_calls
                .iter()
                .map(|c| ToolCallFactRow {
                    tenant: c.tenant,
                    user: c.user,
                    session: c.session.clone(),
                    event_id: c.event_id,
                    time: c.time_ms,
                    tool: c.tool.clone(),
                    success: c.success,
                    duration_ms: c.duration_ms,
                    file_path: c.file_path.clone(),
                    error_type: c.error_type.clone(),
                    retention_days: self.stamp(&policy, c.tenant, RetentionTable::Friction),
                    version,
                })
                .collect();
            self.insert::<ToolCallFactRow>("tool_call_facts", token, &calls).await?;
            let tasks: Vec<TaskFactRow> = f
                .tasks
                .iter()
                .map(|t| TaskFactRow {
                    tenant: t.tenant,
                    user: t.user,
                    task_id: t.task_id.clone(),
                    event_id: t.event_id,
                    time: t.time_ms,
                    phase: t.phase.clone(),
                    status: t.status.clone(),
                    commits: t.commits,
                    ai_lines: t.ai_lines,
                    manual_lines: t.manual_lines,
                    files_changed: t.files_changed,
                    retention_days: self.stamp(&policy, t.tenant, RetentionTable::Completion),
                    version,
                })
                .collect();
            self.insert::<TaskFactRow>("task_facts", token, &tasks).await?;
            let dead: Vec<DeadLetterRow> =
                batch.dead_letters.iter().map(|d| DeadLetterRow { position: d.offset, reason: d.reason.clone(), payload: hex::encode(&d.payload) }).collect();
            self.insert::<DeadLetterRow>("dead_letters", token, &dead).await?;
            // The series state last: if anything above failed, the batch is retried with the old
            // state, and the facts it re-derives replace the ones already written.
            let state = serde_json::to_string(batch.series).map_err(|e| StoreError::Rejected(format!("series state: {e}")))?;
            // Versioned by the clock, not the offset: a new log or re-created topic starts its
            // offsets at 0 again, and its state must still win over the old one.
            let state = [StateRow { key: state_key(batch.partition), value: state, version }];
            self.insert::<StateRow>("processor_state", token, &state).await
        })
    }

    fn series_state(&self, partition: i32) -> BoxFuture<'_, Result<SeriesState, StoreError>> {
        Box::pin(async move {
            let epoch: Option<String> = self
                .client
                .query("SELECT argMax(value, version) FROM processor_state WHERE key = 'epoch' GROUP BY key")
                .fetch_optional()
                .await
                .map_err(classify)?;
            self.epoch.store(epoch.and_then(|e| e.parse().ok()).unwrap_or(0), Ordering::Release);
            let value: Option<String> = self
                .client
                .query("SELECT argMax(value, version) FROM processor_state WHERE key = ? GROUP BY key")
                .bind(state_key(partition))
                .fetch_optional()
                .await
                .map_err(classify)?;
            match value {
                Some(v) => serde_json::from_str(&v).map_err(|e| StoreError::Rejected(format!("stored series state: {e}"))),
                None => Ok(SeriesState::default()),
            }
        })
    }

    fn reset(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            for table in ["session_facts", "daily_usage_facts", "friction_facts", "tool_call_facts", "task_facts", "processor_state"] {
                self.client.query(&format!("TRUNCATE TABLE IF EXISTS {table}")).execute().await.map_err(classify)?;
            }
            let epoch = now_version();
            self.client
                .query("INSERT INTO processor_state (key, value, version) VALUES ('epoch', ?, ?)")
                .bind(epoch.to_string())
                .bind(epoch)
                .execute()
                .await
                .map_err(classify)?;
            self.epoch.store(epoch, Ordering::Release);
            Ok(())
        })
    }

    fn purge<'a>(&'a self, _policy: &'a RetentionPolicy, _now_ms: i64) -> BoxFuture<'a, Result<PurgeReport, StoreError>> {
        Box::pin(async move {
            let mut report = PurgeReport::new();
            for table in RetentionTable::ALL {
                let mut removed = 0;
                for name in table.clickhouse_tables() {
                    // With `materialize_ttl_recalculate_only` this recomputes the parts' TTL
                    // bounds without rewriting them; the parts whose every row has expired are
                    // then dropped here and now, not whenever a background TTL merge gets to them.
                    self.client.query(&format!("ALTER TABLE {name} MATERIALIZE TTL")).with_setting("mutations_sync", "2").execute().await.map_err(classify)?;
                    let expired: Vec<(String, u64)> = self.client.query(EXPIRED_PARTS_SQL).bind(*name).fetch_all().await.map_err(classify)?;
                    for (part, rows) in expired {
                        match self.client.query(&format!("ALTER TABLE {name} DROP PART ?")).bind(&part).execute().await {
                            Ok(()) => removed += rows,
                            // A background merge may have taken the part meanwhile: its rows went with it.
                            Err(e) if e.to_string().contains("NO_SUCH_DATA_PART") => {}
                            Err(e) => return Err(classify(e)),
                        }
                    }
                }
                report.insert(table, removed);
            }
            Ok(report)
        })
    }

    fn sessions(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<SessionRow>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<SessionAgg> = self.client.query(SESSIONS_SQL).bind(tenant.to_string()).fetch_all().await.map_err(classify)?;
            let mut out: Vec<SessionRow> = rows
                .into_iter()
                .map(|r| SessionRow {
                    tenant: r.tenant,
                    user: r.user,
                    session: r.session,
                    start_ms: r.start_ms,
                    end_ms: r.end_ms,
                    duration_ms: r.end_ms - r.start_ms,
                    active_time_ms: r.active_time_ms,
                    prompts: r.prompts,
                    api_requests: r.api_requests,
                    api_errors: r.api_errors,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    cache_read_tokens: r.cache_read_tokens,
                    cache_creation_tokens: r.cache_creation_tokens,
                    cost_usd: r.cost_usd,
                    lines_added: r.lines_added,
                    lines_removed: r.lines_removed,
                    tool_calls: r.tool_calls,
                    tool_failures: r.tool_failures,
                    commits: r.commits,
                    pull_requests: r.pull_requests,
                    models: r.models,
                })
                .collect();
            out.sort_by(|a, b| (a.tenant, a.user, &a.session).cmp(&(b.tenant, b.user, &b.session)));
            Ok(out)
        })
    }

    fn friction(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<FrictionFact>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<FrictionFactRow> = self
                .client
                .query("SELECT ?fields FROM friction_facts FINAL WHERE tenant = toUUID(?)")
                .bind(tenant.to_string())
                .fetch_all()
                .await
                .map_err(classify)?;
            let facts: Vec<FrictionFact> = rows
                .into_iter()
                .map(|r| FrictionFact {
                    tenant: r.tenant,
                    user: r.user,
                    session: r.session,
                    event_id: r.event_id,
                    time_ms: r.time,
                    kind: r.kind,
                    tool: r.tool,
                    error_type: r.error_type,
                    file_path: r.file_path,
                    tool_use_id: r.tool_use_id,
                    source: r.source,
                    end_ms: r.end_time,
                })
                .collect();
            Ok(aggregate::friction(&facts))
        })
    }

    fn loops(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<FrictionLoop>, StoreError>> {
        Box::pin(async move {
            // Only calls on a file can be part of a loop.
            let rows: Vec<ToolCallFactRow> = self
                .client
                .query("SELECT ?fields FROM tool_call_facts FINAL WHERE tenant = toUUID(?) AND file_path != ''")
                .bind(tenant.to_string())
                .fetch_all()
                .await
                .map_err(classify)?;
            Ok(aggregate::loops(&rows.into_iter().map(tool_call_fact).collect::<Vec<_>>()))
        })
    }

    fn tool_calls(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<ToolCallFact>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<ToolCallFactRow> = self
                .client
                .query("SELECT ?fields FROM tool_call_facts FINAL WHERE tenant = toUUID(?)")
                .bind(tenant.to_string())
                .fetch_all()
                .await
                .map_err(classify)?;
            let mut calls: Vec<ToolCallFact> = rows.into_iter().map(tool_call_fact).collect();
            calls.sort_by(|a, b| (a.time_ms, a.event_id).cmp(&(b.time_ms, b.event_id)));
            Ok(calls)
        })
    }

    fn tool_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<ToolUsageRow>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<ToolUsageAgg> = self.client.query(TOOL_USAGE_SQL).bind(tenant.to_string()).fetch_all().await.map_err(classify)?;
            let mut out: Vec<ToolUsageRow> = rows
                .into_iter()
                .map(|r| ToolUsageRow {
                    tenant: r.tenant,
                    day: r.day,
                    user: r.user,
                    tool: r.tool,
                    calls: r.calls,
                    failures: r.failures,
                    duration_sum_ms: r.duration_sum_ms,
                    duration_max_ms: r.duration_max_ms,
                })
                .collect();
            out.sort_by(|a, b| (a.tenant, &a.day, a.user, &a.tool).cmp(&(b.tenant, &b.day, b.user, &b.tool)));
            Ok(out)
        })
    }

    fn daily_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<DailyUsageRow>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<DailyUsageAgg> = self.client.query(DAILY_USAGE_SQL).bind(tenant.to_string()).fetch_all().await.map_err(classify)?;
            let mut out: Vec<DailyUsageRow> = rows
                .into_iter()
                .map(|r| DailyUsageRow {
                    tenant: r.tenant,
                    day: r.day,
                    user: r.user,
                    model: r.model,
                    cost_usd: r.cost_usd,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    cache_read_tokens: r.cache_read_tokens,
                    cache_creation_tokens: r.cache_creation_tokens,
                    lines_added: r.lines_added,
                    lines_removed: r.lines_removed,
                    commits: r.commits,
                })
                .collect();
            out.sort_by(|a, b| (a.tenant, &a.day, a.user, &a.model).cmp(&(b.tenant, &b.day, b.user, &b.model)));
            Ok(out)
        })
    }

    fn tasks(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<TaskRow>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<TaskAgg> = self.client.query(TASKS_SQL).bind(tenant.to_string()).fetch_all().await.map_err(classify)?;
            let mut out: Vec<TaskRow> = rows
                .into_iter()
                .map(|r| TaskRow {
                    tenant: r.tenant,
                    user: r.user,
                    task_id: r.task_id,
                    started_ms: r.started_ms,
                    finished_ms: r.finished_ms,
                    cycle_time_ms: aggregate::cycle_time(r.started_ms, r.finished_ms),
                    status: r.status,
                    commits: r.commits,
                    ai_lines: r.ai_lines,
                    manual_lines: r.manual_lines,
                    files_changed: r.files_changed,
                })
                .collect();
            out.sort_by(|a, b| (a.tenant, &a.task_id).cmp(&(b.tenant, &b.task_id)));
            Ok(out)
        })
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<DeadLetterRow> = self.client.query("SELECT ?fields FROM dead_letters FINAL ORDER BY position").fetch_all().await.map_err(classify)?;
            Ok(rows.into_iter().map(|r| DeadLetter { offset: r.position, reason: r.reason, payload: hex::decode(&r.payload).unwrap_or_default() }).collect())
        })
    }
}

fn state_key(partition: i32) -> String {
    format!("series/{partition}")
}

fn tool_call_fact(r: ToolCallFactRow) -> ToolCallFact {
    ToolCallFact {
        tenant: r.tenant,
        user: r.user,
        session: r.session,
        event_id: r.event_id,
        time_ms: r.time,
        tool: r.tool,
        success: r.success,
        duration_ms: r.duration_ms,
        file_path: r.file_path,
        error_type: r.error_type,
    }
}

// Keep the fact types' field sets and the rows' in step: a new fact field must be stored.
const _: fn(SessionFact, TaskFact) = |s, t| {
    let SessionFact {
        tenant: _,
        user: _,
        session: _,
        event_id: _,
        time_ms: _,
        prompts: _,
        api_requests: _,
        api_errors: _,
        input_tokens: _,
        output_tokens: _,
        cache_read_tokens: _,
        cache_creation_tokens: _,
        cost_usd: _,
        lines_added: _,
        lines_removed: _,
        tool_calls: _,
        tool_failures: _,
        commits: _,
        pull_requests: _,
        active_time_ms: _,
        model: _,
        marks_time: _,
    } = s;
    let TaskFact { tenant: _, user: _, task_id: _, event_id: _, time_ms: _, phase: _, status: _, commits: _, ai_lines: _, manual_lines: _, files_changed: _ } =
        t;
};
