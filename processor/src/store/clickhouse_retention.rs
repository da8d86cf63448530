//! Changing a table's default retention in ClickHouse, with a durable status.
//!
//! A change is one `ALTER TABLE … MODIFY TTL` per ClickHouse table of the policy table. Made
//! shorter, it runs with `materialize_ttl_after_modify = 0`: nothing is rewritten now, new parts
//! use the new TTL and older parts take it at their next merge (or at `tandemu retention purge`).
//! Made longer, the parts already written must learn it or they would still drop at the old age,
//! so it materializes; with `materialize_ttl_recalculate_only` (migration 0003) that recomputes
//! each part's TTL bounds without rewriting its data, as a background mutation — the change is
//! `pending` until the mutation is done. The status lives in `retention_changes`.

use std::time::{SystemTime, UNIX_EPOCH};

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::clickhouse::{ClickHouseStore, classify};
use crate::retention::{self, RetentionTable, now_ms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    Pending,
    Applied,
    Failed,
}

impl ChangeStatus {
    pub fn name(self) -> &'static str {
        match self {
            ChangeStatus::Pending => "pending",
            ChangeStatus::Applied => "applied",
            ChangeStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> ChangeStatus {
        match s {
            "pending" => ChangeStatus::Pending,
            "applied" => ChangeStatus::Applied,
            _ => ChangeStatus::Failed,
        }
    }
}

/// The last default change of a policy table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetentionChange {
    pub table: RetentionTable,
    pub days: u16,
    pub previous_days: u16,
    pub status: ChangeStatus,
    /// While pending: `altering` (the ALTERs are running) or `materializing`.
    pub stage: String,
    /// ClickHouse's error, when it failed.
    pub error: String,
    pub changed_at_ms: i64,
}

/// The TTL ClickHouse really has on one of its tables.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableTtl {
    pub clickhouse_table: String,
    /// The TTL clause as ClickHouse prints it (`system.tables.create_table_query`); empty if none.
    pub ttl: String,
    /// The table default that TTL applies (rows stamped 0).
    pub default_days: Option<u16>,
}

#[derive(Row, Serialize, Deserialize)]
struct ChangeRow {
    policy_table: String,
    days: u16,
    previous_days: u16,
    status: String,
    stage: String,
    error: String,
    changed_at: i64,
    version: u64,
}

const ALTERING: &str = "altering";
const MATERIALIZING: &str = "materializing";
/// An ALTER of TTL is metadata only; a change still `altering` after this long has stopped.
const ABANDONED_AFTER_MS: i64 = 5 * 60 * 1000;

/// The TTL clause of a `CREATE TABLE` statement (up to its SETTINGS).
fn ttl_clause(create: &str) -> String {
    let Some(start) = create.find(" TTL ") else { return String::new() };
    let rest = &create[start + 1..];
    rest[..rest.find(" SETTINGS ").unwrap_or(rest.len())].trim().to_owned()
}

impl ClickHouseStore {
    /// The TTL of each ClickHouse table behind `table`, read back from `system.tables`.
    pub async fn ttls(&self, table: RetentionTable) -> Result<Vec<TableTtl>, StoreError> {
        let mut out = Vec::new();
        for name in table.clickhouse_tables() {
            let create: Option<String> = self
                .client
                .query("SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = ?")
                .bind(*name)
                .fetch_optional()
                .await
                .map_err(classify)?;
            let ttl = create.as_deref().map(ttl_clause).unwrap_or_default();
            out.push(TableTtl { clickhouse_table: (*name).to_owned(), default_days: retention::default_of_ttl(&ttl), ttl });
        }
        Ok(out)
    }

    /// The last change of `table`'s default, its status brought up to date first: a pending
    /// change is applied once ClickHouse has no unfinished TTL mutation on its tables, and failed
    /// if one of them reports a failure.
    pub async fn retention_change(&self, table: RetentionTable) -> Result<Option<RetentionChange>, StoreError> {
        let row: Option<ChangeRow> = self
            .client
            .query("SELECT ?fields FROM retention_changes FINAL WHERE policy_table = ?")
            .bind(table.name())
            .fetch_optional()
            .await
            .map_err(classify)?;
        let Some(row) = row else { return Ok(None) };
        let mut change = RetentionChange {
            table,
            days: row.days,
            previous_days: row.previous_days,
            status: ChangeStatus::parse(&row.status),
            stage: row.stage,
            error: row.error,
            changed_at_ms: row.changed_at,
        };
        if change.status == ChangeStatus::Pending && change.stage == ALTERING {
            // Another `set` is running its ALTERs; one that went quiet for this long stopped.
            if now_ms() - change.changed_at_ms > ABANDONED_AFTER_MS {
                change.status = ChangeStatus::Failed;
                change.error = "abandoned: the change stopped before recording its outcome; check the TTL (`tandemu retention show`) and set it again".into();
                self.record(&change).await?;
            }
        } else if change.status == ChangeStatus::Pending {
            let (status, error) = self.mutation_status(table).await?;
            if status != ChangeStatus::Pending {
                change.status = status;
                change.error = error;
                self.record(&change).await?;
            }
        }
        Ok(Some(change))
    }

    async fn mutation_status(&self, table: RetentionTable) -> Result<(ChangeStatus, String), StoreError> {
        let (unfinished, failure): (u64, String) = self
            .client
            .query(
                "SELECT count(), anyIf(latest_fail_reason, latest_fail_reason != '') FROM system.mutations \
                 WHERE database = currentDatabase() AND has(?, table) AND is_done = 0 AND command LIKE '%MATERIALIZE TTL%'",
            )
            .bind(table.clickhouse_tables())
            .fetch_one()
            .await
            .map_err(classify)?;
        Ok(match (unfinished, failure) {
            (0, _) => (ChangeStatus::Applied, String::new()),
            (_, f) if !f.is_empty() => (ChangeStatus::Failed, f),
            _ => (ChangeStatus::Pending, String::new()),
        })
    }

    async fn record(&self, change: &RetentionChange) -> Result<(), StoreError> {
        let row = ChangeRow {
            policy_table: change.table.name().to_owned(),
            days: change.days,
            previous_days: change.previous_days,
            status: change.status.name().to_owned(),
            stage: if change.status == ChangeStatus::Pending { change.stage.clone() } else { String::new() },
            error: change.error.clone(),
            changed_at: change.changed_at_ms,
            // Later records of a table win, even within one millisecond.
            version: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or_default(),
        };
        let mut insert = self.client.insert::<ChangeRow>("retention_changes").await.map_err(classify)?;
        insert.write(&row).await.map_err(classify)?;
        insert.end().await.map_err(classify)
    }

    /// Changes `table`'s default to `days`. Refused while the previous change is pending; the
    /// outcome (applied, pending or failed with ClickHouse's error) is recorded before it returns.
    pub async fn change_default(&self, table: RetentionTable, days: u16) -> Result<RetentionChange, StoreError> {
        let days = retention::check_default(days).map_err(StoreError::Rejected)?;
        if let Some(last) = self.retention_change(table).await?
            && last.status == ChangeStatus::Pending
        {
            let what =
                if last.stage == ALTERING { "another `tandemu retention set` is applying it" } else { "ClickHouse is recalculating the TTLs of stored parts" };
            return Err(StoreError::Rejected(format!(
                "the change of {table} to {} days is still pending ({what}); wait for it (`tandemu retention show`) before changing again",
                last.days
            )));
        }
        // Each ClickHouse table's own default: after a partly failed change they differ, and
        // whether a table must materialize depends on its own.
        let ttls = self.ttls(table).await?;
        let previous = ttls.first().and_then(|t| t.default_days).unwrap_or_else(|| table.shipped_default());
        let mut change = RetentionChange {
            table,
            days,
            previous_days: previous,
            status: ChangeStatus::Pending,
            stage: ALTERING.into(),
            error: String::new(),
            changed_at_ms: now_ms(),
        };
        self.record(&change).await?;
        let mut shrinking = true;
        for ttl in &ttls {
            let name = &ttl.clickhouse_table;
            let before = ttl.default_days.unwrap_or_else(|| table.shipped_default());
            let shorter = days <= before;
            shrinking &= shorter;
            let sql = format!("ALTER TABLE {name} MODIFY TTL {}", retention::ttl_expression(days));
            let run = self.client.query(&sql).with_setting("materialize_ttl_after_modify", if shorter { "0" } else { "1" }).execute().await;
            if let Err(e) = run {
                change.status = ChangeStatus::Failed;
                change.error = format!("ALTER TABLE {name}: {e}");
                self.record(&change).await?;
                return Ok(change);
            }
        }
        (change.status, change.error) = if shrinking { (ChangeStatus::Applied, String::new()) } else { self.mutation_status(table).await? };
        change.stage = MATERIALIZING.into();
        self.record(&change).await?;
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_ttl_clause() {
        let create = "CREATE TABLE db.t (`x` UInt8) ENGINE = ReplacingMergeTree(version) ORDER BY x TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 30, retention_days)) SETTINGS index_granularity = 8192";
        assert_eq!(ttl_clause(create), "TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 30, retention_days))");
        assert_eq!(ttl_clause("CREATE TABLE t (x UInt8) ENGINE = Memory"), "");
    }
}
