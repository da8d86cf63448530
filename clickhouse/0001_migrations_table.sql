-- Which ClickHouse migrations of this directory have been applied (`tandemu migrate`).
-- ReplacingMergeTree: re-recording a version replaces the row instead of duplicating it.
CREATE TABLE IF NOT EXISTS tandemu_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
