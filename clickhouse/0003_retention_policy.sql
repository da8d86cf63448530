-- Retention by policy (processor/src/retention.rs). A row's `retention_days` is its
-- organization's override, or 0 for "the table's default", which lives in the TTL expression
-- below: changing a table default is one `ALTER TABLE … MODIFY TTL` (`tandemu retention set`),
-- with no rewrite of the stored rows. Rows written before this migration carry their old explicit
-- days (365); they are stamped 0 below.
--
-- `tandemu migrate` runs these with materialize_ttl_after_modify = 0: the result for every
-- existing row is unchanged, so there is nothing to materialize. `materialize_ttl_recalculate_only`
-- makes a later MATERIALIZE TTL (a default made longer must reach the parts already written, or
-- they would still drop at the old, shorter age) recompute each part's TTL bounds from two
-- columns instead of rewriting the part.

ALTER TABLE session_facts MODIFY SETTING materialize_ttl_recalculate_only = 1;

ALTER TABLE session_facts MODIFY TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 365, retention_days));

ALTER TABLE friction_facts MODIFY SETTING materialize_ttl_recalculate_only = 1;

ALTER TABLE friction_facts MODIFY TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 365, retention_days));

ALTER TABLE tool_call_facts MODIFY SETTING materialize_ttl_recalculate_only = 1;

ALTER TABLE tool_call_facts MODIFY TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 365, retention_days));

ALTER TABLE task_facts MODIFY SETTING materialize_ttl_recalculate_only = 1;

ALTER TABLE task_facts MODIFY TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 365, retention_days));

-- The rollups: each session fact's contribution to its day's usage (cost, tokens, lines,
-- commits), kept longer than the session detail. One row per fact, keyed by event id like every
-- facts table, so a re-written fact replaces itself; the daily sums are read with FINAL.
CREATE TABLE IF NOT EXISTS daily_usage_facts
(
    tenant                UUID,
    user                  UUID,
    event_id              UUID,
    time                  DateTime64(3, 'UTC'),
    model                 LowCardinality(String),
    cost_usd              Float64,
    input_tokens          UInt64,
    output_tokens         UInt64,
    cache_read_tokens     UInt64,
    cache_creation_tokens UInt64,
    lines_added           UInt64,
    lines_removed         UInt64,
    commits               UInt32,
    retention_days        UInt16,
    version               UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY (retention_days, toYYYYMM(time))
ORDER BY (tenant, toDate(time), user, event_id)
TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 730, retention_days))
SETTINGS ttl_only_drop_parts = 1, materialize_ttl_recalculate_only = 1, non_replicated_deduplication_window = 10000;

-- Rows written before this migration carry the explicit days the processor was started with
-- (its old --retention-days, 365 by default). They are stamped 0 here, so they follow their
-- table's default as new rows do (set the defaults to the old value with `tandemu retention set`
-- if it was not 365). The stamp is in the partition key, so the rows are copied into their new
-- partitions and the old ones deleted; on a new database the tables are empty and this is free.
-- `tandemu migrate` runs these with mutations_sync = 2: the copies and the deletions are both
-- done before it records the migration. Stop the processors while it runs.
INSERT INTO session_facts (tenant, user, session, event_id, time, prompts, api_requests, api_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, lines_added, lines_removed, tool_calls, tool_failures, commits, pull_requests, active_time_ms, model, marks_time, retention_days, version)
SELECT tenant, user, session, event_id, time, prompts, api_requests, api_errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, lines_added, lines_removed, tool_calls, tool_failures, commits, pull_requests, active_time_ms, model, marks_time, toUInt16(0), version
FROM session_facts WHERE retention_days != 0;

ALTER TABLE session_facts DELETE WHERE retention_days != 0;

INSERT INTO friction_facts (tenant, user, session, event_id, time, kind, tool, error_type, file_path, tool_use_id, source, end_time, retention_days, version)
SELECT tenant, user, session, event_id, time, kind, tool, error_type, file_path, tool_use_id, source, end_time, toUInt16(0), version
FROM friction_facts WHERE retention_days != 0;

ALTER TABLE friction_facts DELETE WHERE retention_days != 0;

INSERT INTO tool_call_facts (tenant, user, session, event_id, time, tool, success, duration_ms, file_path, error_type, retention_days, version)
SELECT tenant, user, session, event_id, time, tool, success, duration_ms, file_path, error_type, toUInt16(0), version
FROM tool_call_facts WHERE retention_days != 0;

ALTER TABLE tool_call_facts DELETE WHERE retention_days != 0;

INSERT INTO task_facts (tenant, user, task_id, event_id, time, phase, status, commits, ai_lines, manual_lines, files_changed, retention_days, version)
SELECT tenant, user, task_id, event_id, time, phase, status, commits, ai_lines, manual_lines, files_changed, toUInt16(0), version
FROM task_facts WHERE retention_days != 0;

ALTER TABLE task_facts DELETE WHERE retention_days != 0;

-- The rollups of what was stored before: each session fact's contribution to its day's usage.
INSERT INTO daily_usage_facts (tenant, user, event_id, time, model, cost_usd, input_tokens, output_tokens, cache_read_tokens,
                               cache_creation_tokens, lines_added, lines_removed, commits, retention_days, version)
SELECT tenant, user, event_id, time, model, cost_usd, input_tokens, output_tokens, cache_read_tokens,
       cache_creation_tokens, lines_added, lines_removed, commits, 0, version
FROM session_facts FINAL
WHERE cost_usd != 0 OR input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens != 0
   OR lines_added + lines_removed != 0 OR commits != 0;

-- Where each table's default retention change stands (`tandemu retention set`/`show`): pending
-- while it is under way (stage `altering`: the ALTERs are running; `materializing`: ClickHouse is
-- recalculating the TTLs of the parts written before), then applied, or failed with ClickHouse's
-- error. The newest version of a table's row wins; it survives restarts of everything.
CREATE TABLE IF NOT EXISTS retention_changes
(
    policy_table  LowCardinality(String),
    days          UInt16,
    previous_days UInt16,
    status        LowCardinality(String),
    stage         LowCardinality(String),
    error         String,
    changed_at    DateTime64(3, 'UTC'),
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY policy_table;
