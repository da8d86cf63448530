//! How long projections live: a default per table, optional per-organization overrides within
//! operator-set bounds.
//!
//! The policy is kept with the tenancy data (the directory); the processor holds the current one
//! in a [`PolicyHandle`] that its owner refreshes. Rows are stamped when written:
//! [`RetentionPolicy::stamp`] is the organization's override, or 0 for "the table's default".
//! ClickHouse's TTL reads the stamp (`if(retention_days = 0, <default>, retention_days)`), so a
//! change of a table's default is one `ALTER TABLE … MODIFY TTL`, and the stamp is in the
//! partition key so expired parts drop whole. The embedded store purges by the same rule.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest retention: ClickHouse's `DateTime` (which the TTL expression uses) ends in 2106,
/// and a TTL beyond it wraps around and expires rows at once.
pub const MAX_DAYS: u16 = 3_650;

/// The tables a policy names, as operators and the API call them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionTable {
    /// Session facts (durations, prompts, tokens, cost, lines per event).
    Sessions,
    /// Friction events and the tool calls behind loops and tool success rates.
    Friction,
    /// Task phases (cycle time, commits, AI and manual lines).
    Completion,
    /// Per-day, per-user, per-model usage (cost, tokens, lines, commits).
    Rollups,
}

impl RetentionTable {
    pub const ALL: [RetentionTable; 4] = [RetentionTable::Sessions, RetentionTable::Friction, RetentionTable::Completion, RetentionTable::Rollups];

    pub fn name(self) -> &'static str {
        match self {
            RetentionTable::Sessions => "sessions",
            RetentionTable::Friction => "friction",
            RetentionTable::Completion => "completion",
            RetentionTable::Rollups => "rollups",
        }
    }

    /// The shipped default: rollups are small and answer year-over-year questions, so they
    /// outlive the detail.
    pub fn shipped_default(self) -> u16 {
        match self {
            RetentionTable::Rollups => 730,
            _ => 365,
        }
    }

    /// The ClickHouse tables that hold this table's rows.
    pub fn clickhouse_tables(self) -> &'static [&'static str] {
        match self {
            RetentionTable::Sessions => &["session_facts"],
            RetentionTable::Friction => &["friction_facts", "tool_call_facts"],
            RetentionTable::Completion => &["task_facts"],
            RetentionTable::Rollups => &["daily_usage_facts"],
        }
    }
}

impl fmt::Display for RetentionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RetentionTable {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RetentionTable::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown table {s:?}: expected sessions, friction, completion or rollups"))
    }
}

/// The range organizations' overrides must stay within (set by the operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    pub min_days: u16,
    pub max_days: u16,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { min_days: 1, max_days: MAX_DAYS }
    }
}

impl Bounds {
    /// Checks an operator's bounds.
    pub fn new(min_days: u16, max_days: u16) -> Result<Self, String> {
        if min_days == 0 || min_days > max_days || max_days > MAX_DAYS {
            return Err(format!("bounds must satisfy 1 <= min ({min_days}) <= max ({max_days}) <= {MAX_DAYS}"));
        }
        Ok(Bounds { min_days, max_days })
    }

    /// Checks an organization's override against the bounds.
    pub fn check(&self, days: u16) -> Result<u16, String> {
        if days < self.min_days || days > self.max_days {
            return Err(format!("days must be between {} and {} (the operator's bounds); got {days}", self.min_days, self.max_days));
        }
        Ok(days)
    }
}

/// Checks a table default set by an operator.
pub fn check_default(days: u16) -> Result<u16, String> {
    if days == 0 || days > MAX_DAYS {
        return Err(format!("days must be between 1 and {MAX_DAYS} (ClickHouse's DateTime ends in 2106); got {days}"));
    }
    Ok(days)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days per table; a table missing here has its shipped default.
    pub defaults: BTreeMap<RetentionTable, u16>,
    /// Per-organization overrides.
    pub overrides: HashMap<(Uuid, RetentionTable), u16>,
    pub bounds: Bounds,
}

impl RetentionPolicy {
    pub fn default_days(&self, table: RetentionTable) -> u16 {
        self.defaults.get(&table).copied().unwrap_or_else(|| table.shipped_default())
    }

    /// An organization's override, brought within the bounds (bounds tightened after an
    /// override was set win).
    pub fn override_days(&self, tenant: Uuid, table: RetentionTable) -> Option<u16> {
        self.overrides.get(&(tenant, table)).map(|d| (*d).clamp(self.bounds.min_days, self.bounds.max_days))
    }

    /// Days rows of `tenant` in `table` live.
    pub fn effective(&self, tenant: Uuid, table: RetentionTable) -> u16 {
        self.override_days(tenant, table).unwrap_or_else(|| self.default_days(table))
    }

    /// The `retention_days` a new row carries: the override, or 0 for "the table's default".
    pub fn stamp(&self, tenant: Uuid, table: RetentionTable) -> u16 {
        self.override_days(tenant, table).unwrap_or(0)
    }
}

/// The current policy, shared by the processor (stamps, purge) and whoever refreshes it.
#[derive(Clone, Default)]
pub struct PolicyHandle(Arc<RwLock<Arc<RetentionPolicy>>>);

impl PolicyHandle {
    pub fn new(policy: RetentionPolicy) -> Self {
        PolicyHandle(Arc::new(RwLock::new(Arc::new(policy))))
    }

    pub fn current(&self) -> Arc<RetentionPolicy> {
        // A poisoned lock still holds a whole policy (it is replaced in one assignment).
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, policy: RetentionPolicy) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
    }
}

/// Milliseconds since the epoch: what "now" means to a purge and to a change's record.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// The ClickHouse TTL expression for a table default.
pub fn ttl_expression(default_days: u16) -> String {
    format!("toDateTime(time) + toIntervalDay(if(retention_days = 0, {default_days}, retention_days))")
}

/// The table default a TTL expression of [`ttl_expression`] names (as ClickHouse prints it back).
pub fn default_of_ttl(ttl: &str) -> Option<u16> {
    let rest = &ttl[ttl.find("retention_days = 0,")? + "retention_days = 0,".len()..];
    rest.trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_effective_days() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut p = RetentionPolicy::default();
        p.defaults.insert(RetentionTable::Sessions, 90);
        p.overrides.insert((a, RetentionTable::Sessions), 800);
        assert_eq!(p.stamp(a, RetentionTable::Sessions), 800);
        assert_eq!(p.stamp(b, RetentionTable::Sessions), 0, "no override: follow the table default");
        assert_eq!(p.effective(b, RetentionTable::Sessions), 90);
        assert_eq!(p.effective(b, RetentionTable::Rollups), 730, "shipped default");
        p.bounds = Bounds::new(7, 400).unwrap();
        assert_eq!(p.effective(a, RetentionTable::Sessions), 400, "bounds tightened later win");
    }

    #[test]
    fn bounds_and_defaults_are_checked() {
        assert!(Bounds::new(0, 10).is_err());
        assert!(Bounds::new(11, 10).is_err());
        assert!(Bounds::new(1, MAX_DAYS + 1).is_err());
        let b = Bounds::new(30, 400).unwrap();
        assert!(b.check(29).unwrap_err().contains("between 30 and 400"));
        assert_eq!(b.check(400), Ok(400));
        assert!(check_default(0).is_err());
        assert!(check_default(MAX_DAYS + 1).is_err());
        assert_eq!("friction".parse::<RetentionTable>(), Ok(RetentionTable::Friction));
        assert!("logs".parse::<RetentionTable>().unwrap_err().contains("expected sessions"));
    }

    #[test]
    fn reads_the_default_back_from_a_ttl() {
        assert_eq!(default_of_ttl(&ttl_expression(42)), Some(42));
        // As ClickHouse prints it in `create_table_query`.
        assert_eq!(default_of_ttl("TTL toDateTime(time) + toIntervalDay(if(retention_days = 0, 365, retention_days)) SETTINGS"), Some(365));
        assert_eq!(default_of_ttl("TTL toDateTime(time) + toIntervalDay(retention_days)"), None);
    }
}
