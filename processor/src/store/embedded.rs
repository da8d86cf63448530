//! The embedded projection store (single node): facts in a redb database in the data directory.
//!
//! redb gives ACID transactions on one file, so a batch's facts, its series state and its dead
//! letters land together or not at all. Facts are keyed by tenant then event id: a re-written
//! fact replaces itself, and a tenant's facts are one contiguous range.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandemu_ingest::log::BoxFuture;
use tandemu_schemas::TenantId;
use uuid::Uuid;

use super::{Batch, DeadLetter, ProjectionStore, StoreError};
use crate::aggregate::{self, DailyUsageRow, FrictionLoop, SessionRow, TaskRow, ToolUsageRow};
use crate::facts::{FrictionFact, SeriesState, SessionFact, TaskFact, ToolCallFact};

const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_facts");
const FRICTION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("friction_facts");
const TOOL_CALLS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tool_call_facts");
const TASKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("task_facts");
const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

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
        tx.commit().map_err(err)?;
        Ok(Self { db: Arc::new(db) })
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

fn state_key(partition: i32) -> String {
    format!("series/{partition}")
}

fn put<T: Serialize>(t: &mut redb::Table<&[u8], &[u8]>, tenant: Uuid, event: Uuid, v: &T) -> Result<(), StoreError> {
    let bytes = postcard::to_allocvec(v).map_err(|e| StoreError::Rejected(e.to_string()))?;
    t.insert(key(tenant, event).as_slice(), bytes.as_slice()).map_err(err)?;
    Ok(())
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
                    for f in &facts.sessions {
                        put(&mut t, f.tenant, f.event_id, f)?;
                    }
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
            for table in [SESSIONS, FRICTION, TOOL_CALLS, TASKS] {
                tx.delete_table(table).map_err(err)?;
                tx.open_table(table).map_err(err)?;
            }
            tx.delete_table(META).map_err(err)?;
            tx.open_table(META).map_err(err)?;
            tx.commit().map_err(err)
        }))
    }

    fn daily_usage(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<DailyUsageRow>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(aggregate::daily_usage(&s.scan::<SessionFact>(SESSIONS, t)?))))
    }

    fn sessions(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<SessionRow>, StoreError>> {
        let t = *tenant.as_uuid();
        Box::pin(self.blocking(move |s| Ok(aggregate::sessions(&s.scan::<SessionFact>(SESSIONS, t)?))))
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
