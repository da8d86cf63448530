//! Retention on both stores: rows past the policy go, newer ones stay, and an organization's
//! override keeps its old rows while another's go. In ClickHouse also: a default change is one
//! ALTER that rewrites nothing, is recorded with its status, reads back from `system.tables`, and
//! a failed ALTER is recorded as failed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clickhouse::Client;
use tandemu_processor::facts::{Facts, FrictionFact, SeriesState, SessionFact, TOOL_FAILURE, TaskFact, ToolCallFact};
use tandemu_processor::retention::{PolicyHandle, RetentionPolicy, RetentionTable};
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_processor::store::clickhouse_retention::ChangeStatus;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_processor::store::{Batch, ProjectionStore};
use tandemu_schemas::{TenantId, testenv};
use uuid::Uuid;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// One of everything for `tenant` at `time_ms`: a session fact with usage, a friction event, a
/// tool call and a task phase.
fn facts_at(tenant: Uuid, session: &str, time_ms: i64, facts: &mut Facts) {
    let user = Uuid::from_u128(7);
    facts.sessions.push(SessionFact {
        tenant,
        user,
        session: session.into(),
        event_id: Uuid::new_v4(),
        time_ms,
        prompts: 1,
        cost_usd: 0.25,
        lines_added: 3,
        marks_time: true,
        model: "claude-opus-4-8".into(),
        ..Default::default()
    });
    facts.friction.push(FrictionFact {
        tenant,
        user,
        session: session.into(),
        event_id: Uuid::new_v4(),
        time_ms,
        kind: TOOL_FAILURE.into(),
        tool: "Bash".into(),
        source: "log".into(),
        end_ms: time_ms,
        ..Default::default()
    });
    facts.tool_calls.push(ToolCallFact {
        tenant,
        user,
        session: session.into(),
        event_id: Uuid::new_v4(),
        time_ms,
        tool: "Bash".into(),
        duration_ms: 5,
        ..Default::default()
    });
    facts.tasks.push(TaskFact {
        tenant,
        user,
        task_id: format!("T-{session}"),
        event_id: Uuid::new_v4(),
        time_ms,
        phase: "started".into(),
        ..Default::default()
    });
}

async fn write(store: &dyn ProjectionStore, facts: &Facts) {
    let batch = Batch { batch_key: &Uuid::new_v4().to_string(), partition: 0, next_offset: 1, facts, series: &SeriesState::default(), dead_letters: &[] };
    store.write(batch).await.expect("write");
}

/// What a tenant has left: (sessions, friction events, tool calls, tasks, days of rollups).
async fn left(store: &dyn ProjectionStore, tenant: Uuid) -> (usize, usize, usize, usize, usize) {
    let t = TenantId(tenant);
    (
        store.sessions(t).await.unwrap().len(),
        store.friction(t).await.unwrap().len(),
        store.tool_calls(t).await.unwrap().len(),
        store.tasks(t).await.unwrap().len(),
        store.daily_usage(t).await.unwrap().len(),
    )
}

/// A and B both have rows from 1,000 days ago and from now; A's override of 1,200 days for every
/// table keeps its old rows, B's (under the defaults: 365, and 730 for rollups) go.
fn policy_and_facts() -> (RetentionPolicy, Uuid, Uuid, Facts) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut policy = RetentionPolicy::default();
    for t in RetentionTable::ALL {
        policy.overrides.insert((a, t), 1_200);
    }
    let mut facts = Facts::default();
    let (old, new) = (now_ms() - 1_000 * DAY_MS, now_ms() - 60_000);
    for tenant in [a, b] {
        facts_at(tenant, "old", old, &mut facts);
        facts_at(tenant, "new", new, &mut facts);
    }
    (policy, a, b, facts)
}

async fn clickhouse_store(prefix: &str) -> ClickHouseStore {
    let url = testenv::clickhouse_url();
    let db = testenv::unique(prefix);
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    let store = ClickHouseStore::new(root.with_database(&db));
    store.migrate().await.expect("migrations apply");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_purge_drops_what_the_policy_expired_and_keeps_an_overrides_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("s.redb")).unwrap();
    let (policy, a, b, facts) = policy_and_facts();
    write(&store, &facts).await;
    assert_eq!(left(&store, b).await, (2, 2, 2, 2, 2));

    let report = store.purge(&policy, now_ms()).await.expect("purge");
    assert_eq!(left(&store, a).await, (2, 2, 2, 2, 2), "A's override keeps its old rows");
    assert_eq!(left(&store, b).await, (1, 1, 1, 1, 1), "B's old rows are gone, its new ones stay");
    let sessions = store.sessions(TenantId(b)).await.unwrap();
    assert_eq!(sessions[0].session, "new");
    assert_eq!((sessions[0].prompts, sessions[0].lines_added), (1, 3), "the running sums are what is left");
    assert_eq!(report.values().sum::<u64>(), 5, "B's old session, friction, tool call, task and day: {report:?}");
    assert!(store.purge(&policy, now_ms()).await.unwrap().values().all(|n| *n == 0), "a second purge finds nothing");

    // Rollups outlive session facts: an event re-written after its fact was purged (a replay, a
    // late duplicate) is not added to its day a second time.
    let mut short_sessions = RetentionPolicy::default();
    short_sessions.defaults.insert(RetentionTable::Sessions, 30);
    let c = Uuid::new_v4();
    let mut late = Facts::default();
    facts_at(c, "mid", now_ms() - 100 * DAY_MS, &mut late);
    write(&store, &late).await;
    store.purge(&short_sessions, now_ms()).await.unwrap();
    assert_eq!(store.sessions(TenantId(c)).await.unwrap().len(), 0, "the session fact went");
    let day_cost = |rows: Vec<tandemu_processor::aggregate::DailyUsageRow>| rows.iter().map(|d| d.cost_usd).sum::<f64>();
    assert_eq!(day_cost(store.daily_usage(TenantId(c)).await.unwrap()), 0.25, "its day stays");
    write(&store, &late).await;
    assert_eq!(day_cost(store.daily_usage(TenantId(c)).await.unwrap()), 0.25, "and is not counted twice");

    // A shorter default reaches what was written before it.
    let mut shorter = RetentionPolicy::default();
    shorter.defaults.insert(RetentionTable::Sessions, 1);
    store.purge(&shorter, now_ms() + 2 * DAY_MS).await.unwrap();
    assert_eq!(store.sessions(TenantId(b)).await.unwrap().len(), 0);
    assert_eq!(store.friction(TenantId(b)).await.unwrap().len(), 1, "other tables keep their own default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_ttl_drops_what_the_policy_expired_and_keeps_an_overrides_rows() {
    let (policy, a, b, facts) = policy_and_facts();
    let store = clickhouse_store("retention_rows").await.with_policy(PolicyHandle::new(policy.clone()));
    write(&store, &facts).await;
    store.purge(&policy, now_ms()).await.expect("purge (MATERIALIZE TTL)");
    assert_eq!(left(&store, a).await, (2, 2, 2, 2, 2), "A's rows carry its override");
    assert_eq!(left(&store, b).await, (1, 1, 1, 1, 1), "B's old rows are gone, its new ones stay");
}

async fn active_parts(c: &Client, table: &str) -> Vec<String> {
    c.query("SELECT name FROM system.parts WHERE database = currentDatabase() AND table = ? AND active ORDER BY name").bind(table).fetch_all().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_default_change_is_recorded_read_back_and_rewrites_nothing() {
    let store = clickhouse_store("retention_change").await;
    let c = store.client().clone();
    let b = Uuid::new_v4();
    let mut facts = Facts::default();
    facts_at(b, "old", now_ms() - 100 * DAY_MS, &mut facts);
    facts_at(b, "new", now_ms() - 60_000, &mut facts);
    write(&store, &facts).await;
    assert_eq!(store.ttls(RetentionTable::Sessions).await.unwrap()[0].default_days, Some(365), "the shipped default");
    assert!(store.retention_change(RetentionTable::Sessions).await.unwrap().is_none());

    // Shorter: metadata only. The parts are the same parts (a rewrite would rename them).
    let parts = active_parts(&c, "session_facts").await;
    let started = Instant::now();
    let change = store.change_default(RetentionTable::Sessions, 30).await.expect("change");
    assert!(started.elapsed() < Duration::from_secs(10), "returns without a synchronous rewrite: {:?}", started.elapsed());
    assert_eq!((change.status, change.days, change.previous_days), (ChangeStatus::Applied, 30, 365));
    assert_eq!(active_parts(&c, "session_facts").await, parts, "nothing rewritten at change time");
    let ttl = &store.ttls(RetentionTable::Sessions).await.unwrap()[0];
    assert_eq!(ttl.default_days, Some(30), "system.tables has the new TTL: {}", ttl.ttl);
    let recorded = store.retention_change(RetentionTable::Sessions).await.unwrap().expect("recorded");
    assert_eq!((recorded.status, recorded.days), (ChangeStatus::Applied, 30));
    assert_eq!(left(&store, b).await.0, 2, "the 100-day-old session stays until its parts learn the TTL");
    store.purge(&RetentionPolicy::default(), now_ms()).await.unwrap();
    assert_eq!(left(&store, b).await, (1, 2, 2, 2, 2), "after the purge only the session past 30 days is gone");

    // Longer: the stored parts must learn it, in the background; pending until they have.
    let change = store.change_default(RetentionTable::Friction, 400).await.expect("change");
    assert_ne!(change.status, ChangeStatus::Failed, "{}", change.error);
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.retention_change(RetentionTable::Friction).await.unwrap().unwrap().status == ChangeStatus::Pending {
        assert!(Instant::now() < deadline, "the TTL recalculation finishes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for ttl in store.ttls(RetentionTable::Friction).await.unwrap() {
        assert_eq!(ttl.default_days, Some(400), "{}: {}", ttl.clickhouse_table, ttl.ttl);
    }

    // A change in flight (as another operator's `set` leaves it while its ALTERs run) refuses a
    // second one with a clear message.
    c.query("INSERT INTO retention_changes (policy_table, days, previous_days, status, stage, error, changed_at, version) VALUES ('completion', 90, 365, 'pending', 'altering', '', now64(3), 1)")
        .execute()
        .await
        .unwrap();
    let refused = store.change_default(RetentionTable::Completion, 60).await.expect_err("refused while pending");
    assert!(refused.to_string().contains("still pending"), "{refused}");
    assert_eq!(store.ttls(RetentionTable::Completion).await.unwrap()[0].default_days, Some(365), "the refused change did nothing");

    // A failed ALTER is recorded as failed, with ClickHouse's error, not as applied.
    c.query("DROP TABLE daily_usage_facts").execute().await.unwrap();
    let failed = store.change_default(RetentionTable::Rollups, 100).await.expect("recorded");
    assert_eq!(failed.status, ChangeStatus::Failed);
    assert!(failed.error.contains("daily_usage_facts"), "{}", failed.error);
    let recorded = store.retention_change(RetentionTable::Rollups).await.unwrap().expect("recorded");
    assert_eq!(recorded.status, ChangeStatus::Failed, "durably");
    assert!(store.change_default(RetentionTable::Sessions, 0).await.is_err(), "0 days is refused");
}

/// A database migrated before retention by policy (0001 and 0002 only), with rows stamped the
/// old way: `tandemu migrate` re-stamps them to follow their table's default, once (no
/// duplicates), and backfills the rollups, so cost and lines history survives the upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_database_keeps_its_history_and_follows_the_new_defaults() {
    let url = testenv::clickhouse_url();
    let db = testenv::unique("retention_upgrade");
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    let c = root.with_database(&db);
    for &(version, name, sql) in &tandemu_processor::clickhouse_ddl::MIGRATIONS[..2] {
        for stmt in tandemu_processor::clickhouse_ddl::statements(sql) {
            c.query(&stmt).execute().await.unwrap();
        }
        c.query("INSERT INTO tandemu_migrations (version, name) VALUES (?, ?)").bind(version).bind(name).execute().await.unwrap();
    }
    let tenant = Uuid::new_v4();
    // What the old processor wrote: every row stamped with its --retention-days (365).
    let old = |days_ago: i64| (now_ms() - days_ago * DAY_MS) as f64 / 1000.0;
    for (days_ago, cost) in [(100, 0.5), (1, 0.25)] {
        c.query(
            "INSERT INTO session_facts (tenant, user, session, event_id, time, prompts, cost_usd, lines_added, marks_time, model, retention_days, version) \
             VALUES (toUUID(?), toUUID(?), ?, generateUUIDv4(), fromUnixTimestamp64Milli(toInt64(? * 1000)), 1, ?, 3, true, 'm', 365, 1)",
        )
        .bind(tenant.to_string())
        .bind(Uuid::from_u128(7).to_string())
        .bind(format!("s{days_ago}"))
        .bind(old(days_ago))
        .bind(cost)
        .execute()
        .await
        .unwrap();
    }
    let store = ClickHouseStore::new(c.clone());
    assert_eq!(store.migrate().await.unwrap(), vec![3]);
    let stamps: Vec<u16> = c.query("SELECT retention_days FROM session_facts ORDER BY retention_days").fetch_all().await.unwrap();
    assert_eq!(stamps, vec![0, 0], "re-stamped once: no copies left behind");
    let t = TenantId(tenant);
    assert_eq!(store.sessions(t).await.unwrap().len(), 2);
    let cost: f64 = store.daily_usage(t).await.unwrap().iter().map(|d| d.cost_usd).sum();
    assert!((cost - 0.75).abs() < 1e-9, "the rollups were backfilled: {cost}");
    // The old rows follow a new default now.
    store.change_default(RetentionTable::Sessions, 30).await.unwrap();
    store.purge(&RetentionPolicy::default(), now_ms()).await.unwrap();
    assert_eq!(store.sessions(t).await.unwrap().len(), 1, "the 100-day-old session went with the 30-day default");
}
