-- The processor's facts: one row per canonical event that adds to a projection, keyed by the
-- event id. Sessions, friction hotspots, loops, completion and the daily rollups are aggregates
-- over these tables (see processor/src/store/clickhouse.rs), so a re-written event replaces its
-- row (ReplacingMergeTree, read with FINAL) instead of being counted twice.
--
-- Every table: the tenant first in the sorting key; `retention_days` in the partition key and in
-- the TTL, so one policy's expired rows fill whole parts and `ttl_only_drop_parts` drops them
-- without rewriting anything; `non_replicated_deduplication_window` so an insert retried with the
-- same `insert_deduplication_token` (derived from the batch's log offsets) is not applied twice.

CREATE TABLE IF NOT EXISTS session_facts
(
    tenant                UUID,
    user                  UUID,
    session               String,
    event_id              UUID,
    time                  DateTime64(3, 'UTC'),
    prompts               UInt32,
    api_requests          UInt32,
    api_errors            UInt32,
    input_tokens          UInt64,
    output_tokens         UInt64,
    cache_read_tokens     UInt64,
    cache_creation_tokens UInt64,
    cost_usd              Float64,
    lines_added           UInt64,
    lines_removed         UInt64,
    tool_calls            UInt32,
    tool_failures         UInt32,
    commits               UInt32,
    pull_requests         UInt32,
    active_time_ms        UInt64,
    model                 LowCardinality(String),
    marks_time            Bool,
    retention_days        UInt16,
    version               UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY (retention_days, toYYYYMM(time))
ORDER BY (tenant, user, session, event_id)
TTL toDateTime(time) + toIntervalDay(retention_days)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS friction_facts
(
    tenant         UUID,
    user           UUID,
    session        String,
    event_id       UUID,
    time           DateTime64(3, 'UTC'),
    kind           LowCardinality(String),
    tool           LowCardinality(String),
    error_type     LowCardinality(String),
    file_path      String,
    tool_use_id    String,
    source         LowCardinality(String),
    end_time       DateTime64(3, 'UTC'),
    retention_days UInt16,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY (retention_days, toYYYYMM(time))
ORDER BY (tenant, time, event_id)
TTL toDateTime(time) + toIntervalDay(retention_days)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS tool_call_facts
(
    tenant         UUID,
    user           UUID,
    session        String,
    event_id       UUID,
    time           DateTime64(3, 'UTC'),
    tool           LowCardinality(String),
    success        Bool,
    duration_ms    UInt64,
    file_path      String,
    error_type     LowCardinality(String),
    retention_days UInt16,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY (retention_days, toYYYYMM(time))
ORDER BY (tenant, session, time, event_id)
TTL toDateTime(time) + toIntervalDay(retention_days)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS task_facts
(
    tenant         UUID,
    user           UUID,
    task_id        String,
    event_id       UUID,
    time           DateTime64(3, 'UTC'),
    phase          LowCardinality(String),
    status         LowCardinality(String),
    commits        UInt64,
    ai_lines       UInt64,
    manual_lines   UInt64,
    files_changed  UInt64,
    retention_days UInt16,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY (retention_days, toYYYYMM(time))
ORDER BY (tenant, task_id, event_id)
TTL toDateTime(time) + toIntervalDay(retention_days)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- Events the processor could not use, with the reason. Keyed by log position.
CREATE TABLE IF NOT EXISTS dead_letters
(
    position    UInt64,
    reason      String,
    payload     String,
    recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
PARTITION BY toYYYYMM(recorded_at)
ORDER BY position
TTL toDateTime(recorded_at) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- The processor's own state (the cumulative-metric series memory), written with every batch so
-- it survives a restart. The newest version of a key wins.
CREATE TABLE IF NOT EXISTS processor_state
(
    key     String,
    value   String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY key
SETTINGS non_replicated_deduplication_window = 10000;
