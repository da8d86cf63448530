//! The real Claude Code captures map without error, reproduce the numbers of the fixtures'
//! README, keep no content, and map to the same ids when sent twice.

use std::collections::{BTreeMap, BTreeSet};

use tandemu_schemas::fixtures::{self, Capture};
use tandemu_schemas::otlp::Signal;
use tandemu_schemas::*;
use uuid::Uuid;

fn stamp() -> Stamp {
    Stamp { tenant: TenantId(Uuid::from_u128(0xA11CE)), user: UserId(Uuid::from_u128(0xB0B)) }
}

fn map_all(captures: &[Capture], stamp: &Stamp) -> Vec<Event> {
    let mut events = Vec::new();
    for c in captures {
        let m = c.map(stamp).unwrap_or_else(|e| panic!("{}/{}: {e}", c.variant, c.file));
        assert_eq!(m.rejected, 0, "{}/{}: {:?}", c.variant, c.file, m.first_error);
        events.extend(m.events);
    }
    events
}

/// The aggregates the fixtures' README lists, computed straight from canonical events.
#[derive(Default, Debug)]
struct Summary {
    sessions: BTreeSet<String>,
    log_kinds: BTreeMap<&'static str, u64>,
    metric_points: BTreeMap<String, u64>,
    spans: BTreeMap<String, u64>,
    tools: BTreeMap<String, (u64, u64, u64)>,
    decisions: BTreeMap<(String, String), u64>,
    friction: Vec<(String, Option<String>, Option<String>)>,
    lines: BTreeMap<String, f64>,
    tokens: BTreeMap<String, f64>,
    commits: f64,
    cost: f64,
    session_count: f64,
    active_time_s: f64,
    first_log: u64,
    last_log: u64,
}

fn summarize(events: &[Event]) -> Summary {
    let mut s = Summary { first_log: u64::MAX, ..Default::default() };
    for ev in events {
        if let Some(sess) = &ev.session {
            s.sessions.insert(sess.to_string());
        }
        let is_log = !matches!(ev.body, EventBody::Metric(_) | EventBody::Span(_));
        if is_log {
            *s.log_kinds.entry(ev.kind_name()).or_default() += 1;
            s.first_log = s.first_log.min(ev.time_unix_nano);
            s.last_log = s.last_log.max(ev.time_unix_nano);
        }
        match &ev.body {
            EventBody::ToolResult(t) => {
                let e = s.tools.entry(t.tool_name.clone().unwrap_or_default()).or_default();
                e.0 += 1;
                if t.success == Some(true) {
                    e.1 += 1
                } else {
                    e.2 += 1
                }
                if t.success == Some(false) {
                    s.friction.push((t.tool_name.clone().unwrap_or_default(), t.error_type.clone(), t.file_path.clone()));
                }
            }
            EventBody::ToolDecision(d) => {
                *s.decisions.entry((d.tool_name.clone().unwrap_or_default(), d.decision.clone().unwrap_or_default())).or_default() += 1;
            }
            EventBody::Metric(m) => {
                assert_eq!(m.temporality(), Temporality::Delta);
                *s.metric_points.entry(format!("{:?}", m.metric())).or_default() += 1;
                let ty = m.r#type.clone().unwrap_or_default();
                match m.metric() {
                    MetricKind::LinesOfCode => *s.lines.entry(ty).or_default() += m.value,
                    MetricKind::TokenUsage => *s.tokens.entry(ty).or_default() += m.value,
                    MetricKind::CommitCount => s.commits += m.value,
                    MetricKind::CostUsage => s.cost += m.value,
                    MetricKind::SessionCount => s.session_count += m.value,
                    MetricKind::ActiveTime => s.active_time_s += m.value,
                    _ => {}
                }
            }
            EventBody::Span(sp) => *s.spans.entry(format!("{:?}", sp.span_kind())).or_default() += 1,
            _ => {}
        }
    }
    s
}

fn nanos(rfc3339: &str) -> u64 {
    humantime_nanos(rfc3339)
}

fn humantime_nanos(s: &str) -> u64 {
    // Same parser the mapping uses for `event.timestamp`; a separate crate dependency is not
    // worth it for five constants.
    let t = std::time::SystemTime::UNIX_EPOCH;
    let d = s.trim_end_matches('Z');
    let (date, time) = d.split_once('T').unwrap();
    let mut it = date.split('-').map(|x| x.parse::<i64>().unwrap());
    let (y, mo, da) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let (hms, ms) = time.split_once('.').unwrap();
    let mut it = hms.split(':').map(|x| x.parse::<i64>().unwrap());
    let (h, mi, se) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + h * 3600 + mi * 60 + se;
    let _ = t;
    (secs as u64) * 1_000_000_000 + ms.parse::<u64>().unwrap() * 1_000_000
}

#[test]
fn every_capture_maps_without_rejections() {
    let all = fixtures::load_all();
    assert_eq!(all.len(), 8 + 6 + 6 + 6 + 4, "every request of every variant is loaded");
    let events = map_all(&all, &stamp());
    assert!(events.len() > 200);
    assert!(events.iter().all(|e| e.tenant == stamp().tenant && e.user == stamp().user));
}

#[test]
fn expected_numbers_of_the_fixtures_readme_come_out() {
    // variant, session start, session end, duration ms, active_time.total s, traced
    let table = [
        ("http_json", "2026-12-03T19:12:27.103Z", "2026-12-03T19:12:28.407Z", 1304, 1.474, true),
        ("http_protobuf", "2026-12-03T19:12:34.116Z", "2026-12-03T19:12:35.375Z", 1259, 1.443, true),
        ("grpc", "2026-12-03T19:12:40.714Z", "2026-12-03T19:12:41.831Z", 1117, 1.297, true),
        ("http_protobuf_gzip", "2026-12-03T19:12:47.085Z", "2026-12-03T19:12:48.139Z", 1054, 1.238, true),
        ("http_json_redacted", "2026-12-03T19:12:53.233Z", "2026-12-03T19:12:54.268Z", 1035, 1.111, false),
    ];
    for (variant, start, end, duration_ms, active_s, traced) in table {
        let s = summarize(&map_all(&fixtures::load(variant), &stamp()));
        let ctx = variant;
        assert_eq!(s.sessions.len(), 1, "{ctx}: sessions");
        assert_eq!(
            s.log_kinds,
            BTreeMap::from([("api_request", 6), ("assistant_response", 4), ("tool_decision", 5), ("tool_result", 5), ("user_prompt", 1)]),
            "{ctx}: log records"
        );
        let tools = BTreeMap::from([
            ("Bash".to_string(), (2, 1, 1)),
            ("Edit".to_string(), (1, 1, 0)),
            ("Read".to_string(), (1, 0, 1)),
            ("Write".to_string(), (1, 1, 0)),
        ]);
        assert_eq!(s.tools, tools, "{ctx}: tool calls (calls, ok, failed)");
        let accept = |t: &str| (t.to_string(), "accept".to_string());
        assert_eq!(s.decisions, BTreeMap::from([(accept("Bash"), 2), (accept("Edit"), 1), (accept("Read"), 1), (accept("Write"), 1)]), "{ctx}: decisions");
        let read_path = (variant != "http_json_redacted").then(|| "~/src/hello-app/does_not_exist.txt".to_string());
        let mut friction = s.friction.clone();
        friction.sort();
        assert_eq!(
            friction,
            vec![("Bash".into(), Some("ShellError".into()), None), ("Read".into(), Some("TelemetrySafeError".into()), read_path),],
            "{ctx}: friction candidates"
        );
        assert_eq!(s.lines, BTreeMap::from([("added".into(), 14.0), ("removed".into(), 2.0)]), "{ctx}: lines");
        assert_eq!(s.commits, 1.0, "{ctx}: commits");
        assert!((s.cost - 0.19677675).abs() < 1e-9, "{ctx}: cost {}", s.cost);
        assert_eq!(
            s.tokens,
            BTreeMap::from([("input".into(), 38.0), ("output".into(), 1068.0), ("cacheRead".into(), 92461.0), ("cacheCreation".into(), 19785.0)]),
            "{ctx}: tokens"
        );
        assert_eq!(s.session_count, 1.0, "{ctx}: session.count");
        assert_eq!(
            s.metric_points,
            BTreeMap::from([
                ("ActiveTime".into(), 1),
                ("CodeEditToolDecision".into(), 2),
                ("CommitCount".into(), 1),
                ("CostUsage".into(), 2),
                ("LinesOfCode".into(), 2),
                ("SessionCount".into(), 1),
                ("TokenUsage".into(), 8)
            ]),
            "{ctx}: metric points"
        );
        let spans = if traced {
            BTreeMap::from([
                ("Interaction".into(), 1),
                ("LlmRequest".into(), 6),
                ("Tool".into(), 5),
                ("ToolBlockedOnUser".into(), 5),
                ("ToolExecution".into(), 5),
            ])
        } else {
            BTreeMap::new()
        };
        assert_eq!(s.spans, spans, "{ctx}: spans");
        assert_eq!(s.first_log, nanos(start), "{ctx}: session start");
        assert_eq!(s.last_log, nanos(end), "{ctx}: session end");
        assert_eq!((s.last_log - s.first_log) / 1_000_000, duration_ms, "{ctx}: duration");
        assert!((s.active_time_s - active_s).abs() < 1e-9, "{ctx}: active time {}", s.active_time_s);
    }
}

#[test]
fn same_export_twice_gives_the_same_ids_and_ids_are_unique() {
    for variant in fixtures::VARIANTS {
        let captures = fixtures::load(variant);
        let a: Vec<EventId> = map_all(&captures, &stamp()).iter().map(|e| e.id).collect();
        let b: Vec<EventId> = map_all(&captures, &stamp()).iter().map(|e| e.id).collect();
        assert_eq!(a, b, "{variant}");
        let unique: BTreeSet<_> = a.iter().collect();
        assert_eq!(unique.len(), a.len(), "{variant}: every event has its own id");
        let other = Stamp { tenant: TenantId(Uuid::from_u128(0xE7E)), ..stamp() };
        let c: Vec<EventId> = map_all(&captures, &other).iter().map(|e| e.id).collect();
        assert!(a.iter().zip(&c).all(|(x, y)| x != y), "{variant}: ids are per tenant");
    }
}

#[test]
fn the_same_session_over_json_and_protobuf_maps_alike() {
    // The http_json and grpc captures are different sessions, but one request decoded from its
    // protobuf and from an OTLP/JSON rendering of it must map identically.
    for c in fixtures::load("http_protobuf") {
        let body = c.body();
        let json = match c.signal {
            Signal::Logs => serde_json::to_vec(&tandemu_schemas::otlp::decode_logs(&body, c.encoding()).unwrap()),
            Signal::Metrics => serde_json::to_vec(&tandemu_schemas::otlp::decode_metrics(&body, c.encoding()).unwrap()),
            Signal::Traces => serde_json::to_vec(&tandemu_schemas::otlp::decode_traces(&body, c.encoding()).unwrap()),
        }
        .unwrap();
        let from_pb = c.map(&stamp()).unwrap().events;
        let from_json = tandemu_schemas::otlp::decode_and_map(c.signal, &json, tandemu_schemas::otlp::Encoding::Json, &stamp()).unwrap().events;
        assert_eq!(from_pb, from_json, "{}", c.file);
    }
}

#[test]
fn payload_identity_never_becomes_tenant_or_user() {
    let captures = fixtures::load("http_json");
    let events = map_all(&captures, &stamp());
    let encoded: Vec<u8> = events.iter().flat_map(encoding::encode).collect();
    // The payload's user.id (a hash) and its team.id are not kept anywhere.
    let payload_user = "b90bb35d8d7f1843c985c6b24d9f6c808b99a580c18d32a3ec9d3bdab0546f5d".to_string();
    assert!(fixtures::find_leaks(&encoded, &[payload_user.clone()]).is_empty());
    assert!(fixtures::find_leaks(&encoded, &["platform".to_string()]).is_empty());
    // And the canary check can see it if it were there.
    assert_eq!(fixtures::find_leaks(payload_user.as_bytes(), &[payload_user.clone()]), vec![payload_user.as_str()]);
}
