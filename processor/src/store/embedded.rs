//! The embedded projection store (single node): facts in a redb database in the data directory.
//!
//! redb gives ACID transactions on one file, so a batch's facts, its series state and its dead
//! letters land together or not at all. Facts are keyed by tenant then event id: a re-written
//! fact replaces itself, and a tenant's facts are one contiguous range.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandemu_ingest::log::BoxFuture;
use tandemu_schemas::TenantId;
use uuid::Uuid;

use super::{Batch, DeadLetter, ProjectionStore, PurgeReport, StoreError};
use crate::aggregate::{self, DailyUsageRow, FrictionLoop, SessionAcc, SessionRow, TaskRow, ToolUsageRow};
use crate::facts::{FrictionFact, SeriesState, SessionFact, TaskFact, ToolCallFact};
use crate::retention::{RetentionPolicy, RetentionTable};

const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_facts");
const FRICTION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("friction_facts");
const TOOL_CALLS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tool_call_facts");
const TASKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("task_facts");
const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Running sums per session (tenant, user, session) and per day (tenant, day, user, model),
/// updated as new facts arrive, so reading them costs one record per session or day.
const SESSION_ROWS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_rows");
const DAILY_ROWS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("daily_rows");
/// The session facts counted in the daily sums, by tenant and event id (value: the day). The
/// rollups outlive the session facts, so once a fact is purged only this tells that a
/// re-written event is in its day's sums already.
const DAILY_EVENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("daily_events");
/// Set once the running sums cover every stored fact (a store written before they existed gets
/// them rebuilt on open).
const ROWS_MARKER: &str = "rows_v2";

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn key(tenant: Uuid, event: Uuid) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(tenant.as_bytes());
    k[16..].copy_from_slice(event.as_bytes());
    k
}

impl EmbeddedStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let db = Database::create(path).map_err(err)?;
        // Create every table up front so reads never meet a missing one.
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(SESSIONS).map_err(err)?;
        tx.open_table(FRICTION).map_err(err)?;
        tx.open_table(TOOL_CALLS).map_err(err)?;
        tx.open_table(TASKS).map_err(err)?;
        tx.open_table(DEAD).map_err(err)?;
        tx.open_table(META).map_err(err)?;
        tx.open_table(SESSION_ROWS).map_err(err)?;
        tx.open_table(DAILY_ROWS).map_err(err)?;
        tx.open_table(DAILY_EVENTS).map_err(err)?;
        tx.commit().map_err(err)?;
        let store = Self { db: Arc::new(db) };
        store.ensure_rows()?;
        Ok(store)
    }

    /// Rebuilds the running sums from the facts if they were never built.
    fn ensure_rows(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut meta = tx.open_table(META).map_err(err)?;
            if meta.get(ROWS_MARKER).map_err(err)?.is_some() {
                return Ok(());
            }
            let facts = tx.open_table(SESSIONS).map_err(err)?;
            let mut rows = tx.open_table(SESSION_ROWS).map_err(err)?;
            let mut daily = tx.open_table(DAILY_ROWS).map_err(err)?;
            let mut counted = tx.open_table(DAILY_EVENTS).map_err(err)?;
            // From nothing: whatever sums there are were not known to be complete.
            rows.retain(|_, _| false).map_err(err)?;
            daily.retain(|_, _| false).map_err(err)?;
            counted.retain(|_, _| false).map_err(err)?;
            let mut sums = RowSums::default();
            for item in facts.iter().map_err(err)? {
                let (_, v) = item.map_err(err)?;
                let f: SessionFact = postcard::from_bytes(v.value()).map_err(|e| StoreError::Rejected(format!("stored fact: {e}")))?;
                sums.add_session(&f);
                if DailyUsageRow::counts(&f) {
                    counted.insert(key(f.tenant, f.event_id).as_slice(), aggregate::day_of(f.time_ms).as_bytes()).map_err(err)?;
                    sums.add_day(&f);
                }
            }
            sums.apply(&mut rows, &mut daily)?;
            meta.insert(ROWS_MARKER, [1u8].as_slice()).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Every value whose key starts with `prefix`.
    fn scan_prefix<T: DeserializeOwned>(&self, table: TableDefinition<&[u8], &[u8]>, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(table).map_err(err)?;
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(err)? {
            let (k, v) = item.map_err(err)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push(postcard::from_bytes(v.value()).map_err(|e| StoreError::Rejected(format!("stored row: {e}")))?);
        }
        Ok(out)
    }

    fn scan<T: DeserializeOwned>(&self, table: TableDefinition<&[u8], &[u8]>, tenant: Uuid) -> Result<Vec<T>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(table).map_err(err)?;
        let lo = key(tenant, Uuid::nil());
        let hi = key(tenant, Uuid::max());
        let mut out = Vec::new();
        for item in t.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
            let (_, v) = item.map_err(err)?;
            out.push(postcard::from_bytes(v.value()).map_err(|e| StoreError::Rejected(format!("stored fact: {e}")))?);
        }
        Ok(out)
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&EmbeddedStore) -> Result<T, StoreError> + Send + 'static) -> Result<T, StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me)).await.map_err(err)?
    }
}

fn session_row_key(f: &SessionFact) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + f.session.len());
    k.extend_from_slice(f.tenant.as_bytes());
    k.extend_from_slice(f.user.as_bytes());
    k.extend_from_slice(f.session.as_bytes());
    k
}

fn daily_row_key(f: &SessionFact) -> Vec<u8> {
    let mut k = Vec::with_capacity(42 + f.model.len());
    k.extend_from_slice(f.tenant.as_bytes());
    k.extend_from_slice(aggregate::day_of(f.time_ms).as_bytes());
    k.extend_from_slice(f.user.as_bytes());
    k.extend_from_slice(f.model.as_bytes());
    k
}

/// New facts' contributions to the running sums, by row key.
#[derive(Default)]
struct RowSums {
    sessions: HashMap<Vec<u8>, SessionAcc>,
    days: HashMap<Vec<u8>, DailyUsageRow>,
}

impl RowSums {
    fn add_session(&mut self, f: &SessionFact) {
        if !f.session.is_empty() {
            self.sessions.entry(session_row_key(f)).or_insert_with(|| SessionAcc::new(f)).add(f);
        }
    }

    /// Only for a fact that counts (`DailyUsageRow::counts`) and is not in its day's sums yet.
    fn add_day(&mut self, f: &SessionFact) {
        self.days.entry(daily_row_key(f)).or_insert_with(|| DailyUsageRow::new(f)).add(f);
    }

    fn apply(self, rows: &mut redb::Table<&[u8], &[u8]>, daily: &mut redb::Table<&[u8], &[u8]>) -> Result<(), StoreError> {
        let decode_err = |e: postcard::Error| StoreError::Rejected(format!("stored row: {e}"));
        let encode_err = |e: postcard::Error| StoreError::Rejected(e.to_string());
        for (k, delta) in self.sessions {
            let acc = match rows.get(k.as_slice()).map_err(err)? {
                Some(v) => {
                    let mut acc: SessionAcc = postcard::from_bytes(v.value()).map_err(decode_err)?;
                    acc.merge(delta);
                    acc
                }
                None => delta,
            };
            rows.insert(k.as_slice(), postcard::to_allocvec(&acc).map_err(encode_err)?.as_slice()).map_err(err)?;
        }
        for (k, delta) in self.days {
            let row = match daily.get(k.as_slice()).map_err(err)? {
                Some(v) => {
                    let mut row: DailyUsageRow = postcard::from_bytes(v.value()).map_err(decode_err)?;
                    row.merge(&delta);
                    row
                }
                None => delta,
            };
            daily.insert(k.as_slice(), postcard::to_allocvec(&row).map_err(encode_err)?.as_slice()).map_err(err)?;
        }
        Ok(())
    }
}

const DAY_MS: i64 = 86_400_000;

/// Removes the facts of `table` older than their tenant's retention; returns the tenants that
/// lost any and how many facts went.
fn purge_facts<T: DeserializeOwned>(
    t: &mut redb::Table<&[u8], &[u8]>,
    policy: &RetentionPolicy,
    table: RetentionTable,
    now_ms: i64,
    time_of: impl Fn(&T) -> i64,
) -> Result<(Vec<Uuid>, u64), StoreError> {
    let mut removed = 0u64;
    let mut tenants = Vec::new();
    let mut undecodable = 0u64;
    t.retain(|k, v| {
        let Some(Ok(tenant)) = k.get(..16).map(Uuid::from_slice) else { return true };
        // A fact that does not decode is kept (and reported), and does not stop the purge of the rest.
        let Ok(fact) = postcard::from_bytes::<T>(v) else {
            undecodable += 1;
            return true;
        };
        let keep = time_of(&fact) >= now_ms - i64::from(policy.effective(tenant, table)) * DAY_MS;
        if !keep {
            removed += 1;
            if tenants.last() != Some(&tenant) {
                tenants.push(tenant);
            }
        }
        keep
    })
    .map_err(err)?;
    if undecodable > 0 {
        tracing::warn!(table = %table, facts = undecodable, "retention purge skipped facts that do not decode");
    }
    Ok((tenants, removed))
}

fn state_key(partition: i32) -> String {
    format!("series/{partition}")
}

/// Stores a fact; `true` when one with this key was there already.
fn put<T: Serialize>(t: &mut redb::Table<&[u8], &[u8]>, tenant: Uuid, event: Uuid, v: &T) -> Result<bool, StoreError> {
    let bytes = postcard::to_allocvec(v).map_err(|e| StoreError::Rejected(e.to_string()))?;
    Ok(t.insert(key(tenant, event).as_slice(), bytes.as_slice()).map_err(err)?.is_some())
}

impl ProjectionStore for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn write<'a>(&'a self, batch: Batch<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        let facts = batch.facts.clone();
        let series = postcard::to_allocvec(batch.series).map_err(|e| StoreError::Rejected(e.to_string()));
        let dead = batch.dead_letters.to_vec();
        let partition = batch.partition;
        Box::pin(async move {
            let series = series?;
            self.blocking(move |s| {
                let tx = s.db.begin_write().map_err(err)?;
                {
                    let mut t = tx.open_table(SESSIONS).map_err(err)?;
                    let mut rows = tx.open_table(SESSION_ROWS).map_err(err)?;
                    let mut daily = tx.open_table(DAILY_ROWS).map_err(err)?;
                    // The batch's new facts summed in memory first, so each session and day
                    // costs one read and one write per batch, not per fact.
                    let mut counted = tx.open_table(DAILY_EVENTS).map_err(err)?;
                    let mut sums = RowSums::default();
                    for f in &facts.sessions {
                        // A fact already stored is already in the sums: a re-written batch
                        // changes nothing.
                        if put(&mut t, f.tenant, f.event_id, f)? {
                            continue;
                        }
                        sums.add_session(f);
                        // Its day may have it even so, if the fact itself was purged.
                        if DailyUsageRow::counts(f)
                            && counted.insert(key(f.tenant, f.event_id).as_slice(), aggregate::day_of(f.time_ms).as_bytes()).map_err(err)?.is_none()
                        {
                            sums.add_day(f);
                        }
                    }
                    sums.apply(&mut rows, &mut daily)?;
                    let mut t = tx.open_table(FRICTION).map_err(err)?;
                    for f in &facts.friction {
                        put(&mut t, f.tenant, f.event_id, f)?;
                    }
                    let mut t = tx.open_table(TOOL_CALLS).map_err(err)?;
                    for f in &facts.tool_calls {
                        put(&mut t, f.tenant, f.event_id, f)?;
                    }
                    let mut t = tx.open_table(TASKS).map_err(err)?;
                    for f in &facts.tasks {
                        put(&mut t, f.tenant, f.event_id, f)?;
                    }
                    let mut t = tx.open_table(DEAD).map_err(err)?;
                    for d in &dead {
                        let bytes = postcard::to_allocvec(d).map_err(|e| StoreError::Rejected(e.to_string()))?;
                        t.insert(d.offset, bytes.as_slice()).map_err(err)?;
                    }
                    let mut t = tx.open_table(META).map_err(err)?;
                    t.insert(state_key(partition).as_str(), series.as_slice()).map_err(err)?;
                }
                tx.commit().map_err(err)
            })
            .await
        })
    }

    fn series_state(&self, partition: i32) -> BoxFuture<'_, Result<SeriesState, StoreError>> {
        Box::pin(self.blocking(move |s| {
            let tx = s.db.begin_read().map_err(err)?;
            let t = tx.open_table(META).map_err(err)?;
            match t.get(state_key(partition).as_str()).map_err(err)? {
                Some(v) => postcard::from_bytes(v.value()).map_err(|e| StoreError::Rejected(format!("series state: {e}"))),
                None => Ok(SeriesState::default()),
            }
        }))
    }

    fn reset(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.blocking(|s| {
            let tx = s.db.begin_write().map_err(err)?;
            for table in [SESSIONS, FRICTION, TOOL_CALLS, TASKS, SESSION_ROWS, DAILY_ROWS, DAILY_EVENTS] {
                tx.delete_table(table).map_err(err)?;
                tx.open_table(table).map_err(err)?;
            }
            tx.delete_table(META).map_err(err)?;
            // No facts, no sums: the sums are complete.
            tx.open_table(META).map_err(err)?.insert(ROWS_MARKER, [1u8].as_slice()).map_err(err)?;
            tx.commit().map_err(err)
        }))
    }

    fn purge<'a>(&'a self, policy: &'a RetentionPolicy, now_ms: i64) -> BoxFuture<'a, Result<PurgeReport, StoreError>> {
        let policy = policy.clone();
        Box::pin(self.blocking(move |s| {
            let mut report = PurgeReport::new();
            let tx = s.db.begin_write().map_err(err)?;
            {
                let mut t = tx.open_table(SESSIONS).map_err(err)?;
                let (tenants, n) = purge_facts(&mut t, &policy, RetentionTable::Sessions, now_ms, |f: &SessionFact| f.time_ms)?;
                report.insert(RetentionTable::Sessions, n);
                // The running session sums of a tenant that lost facts are summed again from the
                // facts it keeps (a sum cannot take a session's first or last event back out).
                let mut rows = tx.open_table(SESSION_ROWS).map_err(err)?;
                for tenant in tenants {
                    rows.retain(|k, _| !k.starts_with(tenant.as_bytes())).map_err(err)?;
                    let mut sums = RowSums::default();
                    for item in t.range(key(tenant, Uuid::nil()).as_slice()..=key(tenant, Uuid::max()).as_slice()).map_err(err)? {
                        let (_, v) = item.map_err(err)?;
                        let f: SessionFact = postcard::from_bytes(v.value()).map_err(|e| StoreError::Rejected(format!("stored fact: {e}")))?;
                        if !f.session.is_empty() {
                            sums.sessions.entry(session_row_key(&f)).or_insert_with(|| SessionAcc::new(&f)).add(&f);
                        }
                    }
                    for (k, acc) in sums.sessions {
                        rows.insert(k.as_slice(), postcard::to_allocvec(&acc).map_err(|e| StoreError::Rejected(e.to_string()))?.as_slice()).map_err(err)?;
                    }
                }
                // The rollups are per day: a day goes once all of it is past the retention.
                let mut daily = tx.open_table(DAILY_ROWS).map_err(err)?;
                let mut removed = 0u64;
                daily
                    .retain(|k, _| {
                        let (Some(Ok(tenant)), Some(Ok(day))) = (k.get(..16).map(Uuid::from_slice), k.get(16..26).map(std::str::from_utf8)) else {
                            return true;
                        };
                        let days = i64::from(policy.effective(tenant, RetentionTable::Rollups));
                        let keep = day >= aggregate::day_of(now_ms - days * DAY_MS).as_str();
                        removed += u64::from(!keep);
                        keep
                    })
                    .map_err(err)?;
                report.insert(RetentionTable::Rollups, removed);
                // And the record of which events those days counted, by the same rule.
                let mut counted = tx.open_table(DAILY_EVENTS).map_err(err)?;
                counted
                    .retain(|k, day| {
                        let (Some(Ok(tenant)), Ok(day)) = (k.get(..16).map(Uuid::from_slice), std::str::from_utf8(day)) else { return true };
                        let days = i64::from(policy.effective(tenant, RetentionTable::Rollups));
                        day >= aggregate::day_of(now_ms - days * DAY_MS).as_str()
                    })
                    .map_err(err)?;
                let mut t = tx.open_table(FRICTION).map_err(err)?;
                let (_, a) = purge_facts(&mut t, &policy, RetentionTable::Friction, now_ms, |f: &FrictionFact| f.time_ms)?;
                let mut t = tx.open_table(TOOL_CALLS).map_err(err)?;
                let (_, b) = purge_facts(&mut t, &policy, RetentionTable::Friction, now_ms, |f: &ToolCallFact| f.time_ms)?;
                report.insert(RetentionTable::Friction, a + b);
                let mut t = tx.open_table(TASKS).map_err(err)?;
                let (_, n) = purge_facts(&mut t, &policy, RetentionTable::Completion, now_ms, |f: &TaskFact| f.time_ms)?;
                report.insert(RetentionTable::Completion, n);
            }
            tx.commit().map_err(err)?;
            Ok(report)
        }))
    }

    fn daily_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<DailyUsageRow>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| s.scan_prefix::<DailyUsageRow>(DAILY_ROWS, t.as_bytes())))
    }

    fn sessions(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<SessionRow>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(s.scan_prefix::<SessionAcc>(SESSION_ROWS, t.as_bytes())?.into_iter().map(SessionAcc::finish).collect())))
    }

    fn friction(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<FrictionFact>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(aggregate::friction(&s.scan::<FrictionFact>(FRICTION, t)?))))
    }

    fn loops(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<FrictionLoop>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(aggregate::loops(&s.scan::<ToolCallFact>(TOOL_CALLS, t)?))))
    }

    fn tool_calls(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<ToolCallFact>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| {
            let mut calls = s.scan::<ToolCallFact>(TOOL_CALLS, t)?;
            calls.sort_by(|a, b| (a.time_ms, a.event_id).cmp(&(b.time_ms, b.event_id)));
            Ok(calls)
        }))
    }

    fn tool_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<ToolUsageRow>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(aggregate::tool_usage(&s.scan::<ToolCallFact>(TOOL_CALLS, t)?))))
    }

    fn tasks(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<TaskRow>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(aggregate::tasks(&s.scan::<TaskFact>(TASKS, t)?))))
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(self.blocking(|s| {
            let tx = s.db.begin_read().map_err(err)?;
            let t = tx.open_table(DEAD).map_err(err)?;
            let mut out = Vec::new();
            for item in t.iter().map_err(err)? {
                let (_, v) = item.map_err(err)?;
                out.push(postcard::from_bytes(v.value()).map_err(|e| StoreError::Rejected(e.to_string()))?);
            }
            Ok(out)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;

    fn fact(event: u128, session: &str, prompts: u32) -> SessionFact {
        SessionFact {
            tenant: Uuid::from_u128(1),
            user: Uuid::from_u128(2),
            session: session.into(),
            event_id: Uuid::from_u128(event),
            time_ms: 1_000 * event as i64,
            prompts,
            marks_time: true,
            cost_usd: 0.5,
            ..Default::default()
        }
    }

    async fn write(s: &EmbeddedStore, facts: Vec<SessionFact>) {
        let facts = Facts { sessions: facts, ..Default::default() };
        s.write(Batch { batch_key: "k", partition: 0, next_offset: 0, facts: &facts, series: &SeriesState::default(), dead_letters: &[] }).await.unwrap();
    }

    #[tokio::test]
    async fn running_sums_count_each_fact_once_and_survive_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let s = EmbeddedStore::open(&path).unwrap();
        write(&s, vec![fact(1, "a", 1), fact(2, "a", 1), fact(2, "a", 1)]).await;
        write(&s, vec![fact(2, "a", 1), fact(3, "b", 1)]).await;
        let tenant = TenantId(Uuid::from_u128(1));
        let rows = s.sessions(tenant).await.unwrap();
        assert_eq!(rows.iter().map(|r| (r.session.as_str(), r.prompts, r.duration_ms)).collect::<Vec<_>>(), vec![("a", 2, 1_000), ("b", 1, 0)]);
        let facts = s.scan::<SessionFact>(SESSIONS, Uuid::from_u128(1)).unwrap();
        assert_eq!(rows, aggregate::sessions(&facts), "the sums equal the reference over the facts");
        assert_eq!(s.daily_usage(tenant).await.unwrap(), aggregate::daily_usage(&facts));

        // A store whose sums were lost (or never built) rebuilds them once, from the facts.
        {
            let tx = s.db.begin_write().unwrap();
            tx.open_table(META).unwrap().remove(ROWS_MARKER).unwrap();
            tx.commit().unwrap();
        }
        drop(s);
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.sessions(tenant).await.unwrap(), rows);
        drop(s);
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.sessions(tenant).await.unwrap(), rows, "reopening does not add again");
        s.reset().await.unwrap();
        drop(s);
        let s = EmbeddedStore::open(&path).unwrap();
        assert!(s.sessions(tenant).await.unwrap().is_empty());
    }
}
