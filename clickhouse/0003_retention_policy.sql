-- Retention by policy (processor/src/retention.rs). A row's `retention_days` is its
-- organization's override, or 0 for "the table's default", which lives in the TTL expression
-- below: changing a table default is one `ALTER TABLE … MODIFY TTL` (`tandemu retention set`),
-- with no rewrite of the stored rows. Rows written before this migration carry their old explicit
-- days (365), which the new expression honours as it did.
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
