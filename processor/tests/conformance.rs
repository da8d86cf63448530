//! One conformance suite for both projection stores: the embedded store and ClickHouse (the real
//! engine behind the test HTTP front). Every fixture session goes through a real embedded event
//! log and the processor loop into each store; both must give identical projections, and those
//! must match the numbers in the fixtures' README.

use std::time::Duration;

use clickhouse::Client;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig, EventLog};
use tandemu_processor::aggregate::{SessionRow, TaskRow};
use tandemu_processor::facts::{API_ERROR, TOOL_FAILURE, TOOL_REJECTED};
use tandemu_processor::runner::{self, RunnerConfig};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_schemas::fixtures::{self, VARIANTS};
use tandemu_schemas::otlp::{self, Encoding, Signal};
use tandemu_schemas::{Event, Stamp, TenantId, UserId, testenv};
use tokio::sync::watch;
use uuid::Uuid;

/// The fixtures' README, per variant: (session start ms, end ms, active_time.total s).
const TIMES: [(&str, &str, &str, f64); 5] = [
    ("http_json", "2026-12-03T19:12:27.103Z", "2026-12-03T19:12:28.407Z", 1.474),
    ("http_protobuf", "2026-12-03T19:12:34.116Z", "2026-12-03T19:12:35.375Z", 1.443),
    ("grpc", "2026-12-03T19:12:40.714Z", "2026-12-03T19:12:41.831Z", 1.297),
    ("http_protobuf_gzip", "2026-12-03T19:12:47.085Z", "2026-12-03T19:12:48.139Z", 1.238),
    ("http_json_redacted", "2026-12-03T19:12:53.233Z", "2026-12-03T19:12:54.268Z", 1.111),
];

fn ms_of(rfc3339: &str) -> i64 {
    // 2026-12-03T19:12:27.103Z: the fixtures are all on one day.
    let (h, m, s) = (&rfc3339[11..13], &rfc3339[14..16], &rfc3339[17..23]);
    let day = 1_796_256_000_000i64; // 2026-12-03T00:00:00Z
    day + h.parse::<i64>().unwrap() * 3_600_000 + m.parse::<i64>().unwrap() * 60_000 + (s.parse::<f64>().unwrap() * 1000.0).round() as i64
}

/// A plugin task: started, paused, finished.
fn task_export(session: &str) -> Vec<u8> {
    let rec = |name: &str, t_ms: u64, extra: &str| {
        format!(
            r#"{{"timeUnixNano":"{}","attributes":[{{"key":"event.name","value":{{"stringValue":"{name}"}}}},{{"key":"task.id","value":{{"stringValue":"PROJ-42"}}}},{{"key":"session.id","value":{{"stringValue":"{session}"}}}}{extra}]}}"#,
            t_ms * 1_000_000
        )
    };
    let fin = r#",{"key":"task.status","value":{"stringValue":"done"}},{"key":"task.commits","value":{"intValue":"2"}},{"key":"task.lines.ai","value":{"intValue":14}},{"key":"task.lines.manual","value":{"stringValue":"5"}},{"key":"task.files_changed","value":{"intValue":1}}"#;
    let records = [
        rec("tandemu.task.started", 1_796_325_000_000, ""),
        rec("tandemu.task.paused", 1_796_325_060_000, ""),
        rec("tandemu.task.finished", 1_796_325_600_000, fin),
    ];
    format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, records.join(",")).into_bytes()
}

fn events_of(variant: &str, stamp: &Stamp) -> Vec<Event> {
    let mut out = Vec::new();
    for c in fixtures::load(variant) {
        out.extend(c.map(stamp).expect("fixture maps").events);
    }
    let session = out.iter().find_map(|e| e.session.clone()).expect("a session id").0;
    let mapped = otlp::decode_and_map(Signal::Logs, &task_export(&session), Encoding::Json, stamp).expect("task export maps");
    assert_eq!(mapped.rejected, 0, "{:?}", mapped.first_error);
    out.extend(mapped.events);
    out
}

async fn clickhouse_store() -> ClickHouseStore {
    let url = testenv::clickhouse_url();
    let db = testenv::unique("conformance");
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    // The fixtures are dated 2026-12-03: a retention longer than the default keeps the test
    // from ageing out under ClickHouse's TTL.
    let store = ClickHouseStore::new(root.with_database(&db)).with_retention_days(testenv::TEST_RETENTION_DAYS);
    let applied = store.migrate().await.expect("migrations apply");
    assert!(!applied.is_empty());
    assert!(store.migrate().await.expect("migrations re-apply").is_empty(), "a second migrate applies nothing");
    store
}

/// Everything a store answers for one tenant, in a comparable form (cost rounded to 1e-9: float
/// sums in another order differ in the last bits).
#[derive(Debug, PartialEq)]
struct Answers {
    sessions: Vec<SessionRow>,
    friction: Vec<(String, String, String, String)>,
    loops: usize,
    tools: Vec<(String, String, u64, u64, u64, u64)>,
    daily: Vec<(String, String, i64, u64, u64, u64, u64, u64, u64, u64)>,
    tasks: Vec<TaskRow>,
}

async fn answers(store: &dyn ProjectionStore, tenant: TenantId) -> Answers {
    let mut sessions = store.sessions(tenant).await.expect("sessions");
    for s in &mut sessions {
        s.cost_usd = (s.cost_usd * 1e9).round() / 1e9;
    }
    Answers {
        sessions,
        friction: store.friction(tenant).await.expect("friction").into_iter().map(|f| (f.kind, f.tool, f.error_type, f.file_path)).collect(),
        loops: store.loops(tenant).await.expect("loops").len(),
        tools: store
            .tool_usage(tenant)
            .await
            .expect("tool usage")
            .into_iter()
            .map(|t| (t.day, t.tool, t.calls, t.failures, t.duration_sum_ms, t.duration_max_ms))
            .collect(),
        daily: store
            .daily_usage(tenant)
            .await
            .expect("daily usage")
            .into_iter()
            .map(|d| {
                (
                    d.day,
                    d.model,
                    (d.cost_usd * 1e9).round() as i64,
                    d.input_tokens,
                    d.output_tokens,
                    d.cache_read_tokens,
                    d.cache_creation_tokens,
                    d.lines_added,
                    d.lines_removed,
                    d.commits,
                )
            })
            .collect(),
        tasks: store.tasks(tenant).await.expect("tasks"),
    }
}

fn check_expected(variant: &str, a: &Answers, user: Uuid) {
    let (_, start, end, active_s) = TIMES.iter().find(|t| t.0 == variant).copied().expect("variant times");
    assert_eq!(a.sessions.len(), 1, "{variant}: one session");
    let s = &a.sessions[0];
    assert_eq!(s.user, user, "{variant}: the user is the token's");
    assert_eq!(s.start_ms, ms_of(start), "{variant}: session start");
    assert_eq!(s.active_time_ms, (active_s * 1000.0_f64).round() as u64, "{variant}: active time");
    assert_eq!((s.prompts, s.api_requests, s.api_errors), (1, 6, 0), "{variant}: prompts and API requests");
    assert_eq!((s.tool_calls, s.tool_failures), (5, 2), "{variant}: tool calls and failures");
    assert_eq!((s.lines_added, s.lines_removed, s.commits), (14, 2, 1), "{variant}: lines and commits");
    assert_eq!((s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens), (38, 1068, 92461, 19785), "{variant}: tokens");
    assert!((s.cost_usd - 0.19677675).abs() < 1e-9, "{variant}: cost {}", s.cost_usd);
    assert!(s.models.iter().any(|m| m == "claude-opus-4-8"), "{variant}: models {:?}", s.models);
    assert_eq!((s.end_ms, s.duration_ms), (ms_of(end), ms_of(end) - ms_of(start)), "{variant}: session end and duration");

    let with_path = variant != "http_json_redacted";
    let mut friction = a.friction.clone();
    friction.sort();
    let read_path = if with_path { "~/src/hello-app/does_not_exist.txt" } else { "" };
    assert_eq!(
        friction,
        vec![
            (TOOL_FAILURE.into(), "Bash".into(), "ShellError".into(), String::new()),
            (TOOL_FAILURE.into(), "Read".into(), "TelemetrySafeError".into(), read_path.into()),
        ],
        "{variant}: friction rows"
    );
    assert!(!a.friction.iter().any(|f| f.0 == TOOL_REJECTED || f.0 == API_ERROR), "{variant}: no rejections or API errors");
    assert_eq!(a.loops, 0, "{variant}: no loops");

    let by_tool: Vec<(&str, u64, u64)> = a.tools.iter().map(|t| (t.1.as_str(), t.2, t.3)).collect();
    assert_eq!(by_tool, vec![("Bash", 2, 1), ("Edit", 1, 0), ("Read", 1, 1), ("Write", 1, 0)], "{variant}: tool usage");
    assert!(a.tools.iter().all(|t| t.0 == "2026-12-03"), "{variant}: all on the session's day");

    let cost: i64 = a.daily.iter().map(|d| d.2).sum();
    let lines: (u64, u64) = a.daily.iter().fold((0, 0), |acc, d| (acc.0 + d.7, acc.1 + d.8));
    let commits: u64 = a.daily.iter().map(|d| d.9).sum();
    assert_eq!((cost, lines, commits), (196_776_750, (14, 2), 1), "{variant}: daily usage");
    assert!(a.daily.iter().any(|d| d.1 == "claude-opus-4-8[1m]" && d.5 == 92461), "{variant}: tokens by model");

    assert_eq!(a.tasks.len(), 1, "{variant}: one task");
    let t = &a.tasks[0];
    assert_eq!(t.task_id, "PROJ-42");
    assert_eq!(t.status, "done");
    assert_eq!(t.cycle_time_ms, Some(600_000), "{variant}: cycle time");
    assert_eq!((t.commits, t.ai_lines, t.manual_lines, t.files_changed), (2, 14, 5, 1), "{variant}: task totals");
}

/// Processes `log` into `store` until caught up.
async fn drain(log: &EmbeddedLog, store: &dyn ProjectionStore, group: &str) -> u64 {
    let cfg = RunnerConfig { group: group.into(), batch_max: 7, max_retry: Some(Duration::from_secs(20)), ..Default::default() };
    let (_tx, rx) = watch::channel(false);
    runner::run_embedded(log, store, &cfg, rx, true).await.expect("processor runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_give_the_fixture_numbers_and_agree() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(&dir.path().join("store.redb")).expect("embedded store");
    let clickhouse = clickhouse_store().await;
    let stores: [&dyn ProjectionStore; 2] = [&embedded, &clickhouse];

    for variant in VARIANTS {
        // One tenant per variant, and a second tenant that must never show up in the first's answers.
        let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
        let other = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
        let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path().join(format!("log-{variant}")))).expect("log");
        let events = events_of(variant, &stamp);
        // The same export twice (an exporter retry) and another tenant's copy.
        log.append(&events).await.expect("append");
        log.append(&events).await.expect("append again");
        log.append(&events_of(variant, &other)).await.expect("append other tenant");

        let mut all = Vec::new();
        for store in stores {
            let n = drain(&log, store, &format!("{}-{variant}", store.kind())).await;
            assert_eq!(n, log.end_offset(), "{variant}/{}: every record processed", store.kind());
            let a = answers(store, stamp.tenant).await;
            check_expected(variant, &a, *stamp.user.as_uuid());
            let b = answers(store, other.tenant).await;
            assert_eq!(b.sessions.len(), 1);
            assert_ne!(a.sessions[0].tenant, b.sessions[0].tenant, "tenants stay apart");
            all.push(a);
        }
        assert_eq!(all[0], all[1], "{variant}: the embedded store and ClickHouse agree");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_log_and_a_poison_record_change_nothing_counted() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(&dir.path().join("store.redb")).expect("embedded store");
    let clickhouse = clickhouse_store().await;
    let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path().join("log"))).expect("log");
    log.append(&events_of("grpc", &stamp)).await.expect("append");
    // A record no version of the encoding can read: it must go to the dead letters, not stop the loop.
    log.append_encoded(&[b"not an event".to_vec()]).await.expect("append poison");

    for store in [&embedded as &dyn ProjectionStore, &clickhouse] {
        let group = format!("replay-{}", store.kind());
        drain(&log, store, &group).await;
        let first = answers(store, stamp.tenant).await;
        let dead = store.dead_letters().await.expect("dead letters");
        assert_eq!(dead.len(), 1, "{}: one dead letter", store.kind());
        assert!(dead[0].reason.contains("undecodable"), "{}: {}", store.kind(), dead[0].reason);
        assert_eq!(dead[0].payload, b"not an event");

        // Process everything again from offset 0 without forgetting anything (a crash before the
        // offset commit looks like this), then a full replay that rebuilds from scratch.
        log.commit(&group, 0).expect("rewind");
        drain(&log, store, &group).await;
        assert_eq!(answers(store, stamp.tenant).await, first, "{}: re-processing counts nothing twice", store.kind());
        let cfg = RunnerConfig { group: group.clone(), ..Default::default() };
        let n = runner::replay_embedded(&log, store, &cfg, 0).await.expect("replay");
        assert_eq!(n, log.end_offset());
        assert_eq!(answers(store, stamp.tenant).await, first, "{}: a replay rebuilds the same projections", store.kind());
        check_expected("grpc", &first, *stamp.user.as_uuid());
    }
}

/// A cumulative `lines_of_code` series: 5, then 12 (a delta of 7), then a reset (new start
/// time) to 3, with a duplicate of the second point, processed across two runs of the loop (a
/// restart in between, so the series memory must come back from the store). 5 + 7 + 3 = 15.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_series_become_deltas_across_a_restart() {
    use tandemu_schemas::{Client as ClientInfo, EventBody, EventId, MetricKind, MetricPoint, SessionId, Temporality};
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(&dir.path().join("store.redb")).expect("embedded store");
    let clickhouse = clickhouse_store().await;
    let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
    let point = |id: u8, start: u64, time: u64, value: f64| Event {
        id: EventId([id; 16]),
        tenant: stamp.tenant,
        user: stamp.user,
        session: Some(SessionId::new("cumulative-session")),
        time_unix_nano: time,
        sequence: None,
        client: ClientInfo::default(),
        body: EventBody::Metric(MetricPoint {
            metric: MetricKind::LinesOfCode as i32,
            temporality: Temporality::Cumulative as i32,
            start_time_unix_nano: start,
            value,
            r#type: Some("added".into()),
            ..Default::default()
        }),
    };
    // An hour ago: series memory is measured against the clock, so the test must not age.
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 - 3_600_000_000_000;
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path().join("log"))).expect("log");
    log.append(&[point(1, s, s + 1_000_000_000, 5.0)]).await.unwrap();
    for store in [&embedded as &dyn ProjectionStore, &clickhouse] {
        drain(&log, store, store.kind()).await;
        let sessions = store.sessions(stamp.tenant).await.unwrap();
        assert_eq!(sessions.iter().find(|r| r.session == "cumulative-session").map(|r| r.lines_added), Some(5), "{}", store.kind());
    }
    let second = point(2, s, s + 2_000_000_000, 12.0);
    // A point from the year 2100 in another session must not make this series look old and be
    // forgotten (which would count its next point in full).
    let mut future = point(9, s, 4_102_444_800_000_000_000, 1.0);
    future.session = Some(SessionId::new("from-the-future"));
    log.append(&[future]).await.unwrap();
    for store in [&embedded as &dyn ProjectionStore, &clickhouse] {
        drain(&log, store, store.kind()).await;
    }
    log.append(&[second.clone(), second, point(3, s + 3_000_000_000, s + 4_000_000_000, 3.0)]).await.unwrap();
    for store in [&embedded as &dyn ProjectionStore, &clickhouse] {
        drain(&log, store, store.kind()).await;
        let sessions = store.sessions(stamp.tenant).await.unwrap();
        let ours = sessions.iter().find(|r| r.session == "cumulative-session").expect("the session");
        assert_eq!(ours.lines_added, 15, "{}: 5 + 7 + 3", store.kind());
    }
}
