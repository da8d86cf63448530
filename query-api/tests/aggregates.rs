//! The aggregate endpoints over HTTP, on both projection stores: the fixture sessions of two
//! organizations go through a real embedded log and the processor into the embedded store and
//! into ClickHouse; every endpoint answers the caller's organization only, with the fixtures'
//! numbers, in JSON, CSV and Arrow (read back with the arrow crate).

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, Float64Array, StringArray, UInt64Array};
use serde_json::Value;
use tandemu_ingest::auth::{self, Role, Verifier};
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig, EventLog};
use tandemu_processor::runner::{self, RunnerConfig};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::directory::{Directory, Member, Org as DirOrg, Team};
use tandemu_query_api::{ApiConfig, ApiState, router};
use tandemu_schemas::{Stamp, TenantId, UserId, fixtures, testenv};
use tokio::sync::watch;
use uuid::Uuid;

const SECRET: &[u8] = b"query-api-test-secret-of-32-bytes-or-more";

struct Org {
    stamp: Stamp,
    token: String,
}

fn org(role: Role) -> Org {
    let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
    let claims = auth::claims_for(*stamp.tenant.as_uuid(), *stamp.user.as_uuid(), role, Duration::from_secs(3600));
    Org { stamp, token: auth::issue_hs256(SECRET, &claims).unwrap() }
}

/// Two organizations' fixture sessions (A: http_json, B: grpc twice over, as two users… of one
/// user), processed into `store`; returns the API's base URL.
async fn serve(store: Arc<dyn ProjectionStore>, dir: &std::path::Path, a: &Org, b: Option<&Org>) -> String {
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.join(format!("log-{}-{}", store.kind(), Uuid::new_v4())))).unwrap();
    for c in fixtures::load("http_json") {
        log.append(&c.map(&a.stamp).unwrap().events).await.unwrap();
    }
    if let Some(b) = b {
        for c in fixtures::load("grpc") {
            log.append(&c.map(&b.stamp).unwrap().events).await.unwrap();
        }
    }
    let (_tx, rx) = watch::channel(false);
    let cfg = RunnerConfig { max_retry: Some(Duration::from_secs(20)), ..Default::default() };
    runner::run_embedded(&log, store.as_ref(), &cfg, rx, true).await.unwrap();

    let directory = Arc::new(EmbeddedDirectory::open(&dir.join(format!("directory-{}-{}.redb", store.kind(), Uuid::new_v4()))).unwrap());
    // Each organization registered, with a team of the same name ("core"), for the team filter.
    for (o, role) in std::iter::once((a, Role::Member)).chain(b.map(|b| (b, Role::Owner))) {
        let (tenant, user) = (o.stamp.tenant, *o.stamp.user.as_uuid());
        let owner = Member { user, email: format!("{user}@x.invalid"), role: Role::Owner };
        directory.create_org(&DirOrg { id: *tenant.as_uuid(), name: "org".into() }, &owner).await.unwrap();
        if role != Role::Owner {
            // A second owner, so the caller can be a plain member.
            let other = Uuid::new_v4();
            directory.put_member(tenant, &Member { user: other, email: format!("{other}@x.invalid"), role: Role::Owner }).await.unwrap();
            directory.put_member(tenant, &Member { role, ..owner }).await.unwrap();
        }
        directory.put_team(tenant, &Team { id: team_of(tenant), name: "core".into(), members: vec![user] }).await.unwrap();
    }
    let state = ApiState::new(store, directory, Verifier::hs256(SECRET).unwrap());
    let app = router(state, &ApiConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The same team id for an organization in every directory of the test.
fn team_of(tenant: TenantId) -> Uuid {
    Uuid::from_u128(tenant.as_uuid().as_u128() ^ 1)
}

async fn get_json(base: &str, path: &str, token: &str) -> Value {
    let r = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn data(v: &Value) -> &Vec<Value> {
    v["data"].as_array().expect("data array")
}

/// `store` holds both organizations; `solo` (an empty store of the same kind) gets A's data only.
async fn check_store(store: Arc<dyn ProjectionStore>, solo: Arc<dyn ProjectionStore>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (org(Role::Member), org(Role::Owner));
    let base = serve(store.clone(), dir.path(), &a, Some(&b)).await;
    let kind = store.kind();
    cross_tenant_sweep(&base, &serve(solo, dir.path(), &a, None).await, &a, &b, kind).await;

    // Sessions: each organization sees its own one session, with the fixtures' numbers.
    for (o, duration) in [(&a, 1304), (&b, 1117)] {
        let v = get_json(&base, "/v1/sessions", &o.token).await;
        let rows = data(&v);
        assert_eq!(rows.len(), 1, "{kind}: one session");
        let s = &rows[0];
        assert_eq!(s["user"], o.stamp.user.to_string(), "{kind}: the caller's own user");
        assert_eq!((s["duration_ms"].as_i64(), s["tool_calls"].as_u64(), s["tool_failures"].as_u64()), (Some(duration), Some(5), Some(2)));
        assert_eq!((s["lines_added"].as_u64(), s["lines_removed"].as_u64(), s["commits"].as_u64()), (Some(14), Some(2), Some(1)));
        assert!((s["cost_usd"].as_f64().unwrap() - 0.19677675).abs() < 1e-9);
        assert!(v["next_cursor"].is_null());
    }
    // The other organization's user, named as a filter, finds nothing; a forged org is refused.
    let v = get_json(&base, &format!("/v1/sessions?user={}", b.stamp.user), &a.token).await;
    assert!(data(&v).is_empty(), "{kind}: no cross-tenant rows by user filter");
    let r = reqwest::Client::new().get(format!("{base}/v1/sessions?org={}", b.stamp.tenant)).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(r.status(), 400, "{kind}: org is not a parameter");
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "bad_request");

    let v = get_json(&base, "/v1/sessions/summary?group_by=day", &a.token).await;
    assert_eq!(data(&v)[0]["key"], "2026-12-03");
    assert_eq!(data(&v)[0]["sessions"], 1);
    assert_eq!(data(&v)[0]["prompts"], 1);
    assert_eq!(data(&v)[0]["api_requests"], 6);

    // Friction hotspots by file and by tool.
    let v = get_json(&base, "/v1/friction?group_by=file", &a.token).await;
    let files: Vec<(String, u64)> = data(&v).iter().map(|r| (r["key"].as_str().unwrap().to_owned(), r["events"].as_u64().unwrap())).collect();
    assert_eq!(files, vec![(String::new(), 1), ("~/src/hello-app/does_not_exist.txt".into(), 1)], "{kind}");
    let v = get_json(&base, "/v1/friction?group_by=tool", &a.token).await;
    assert_eq!(data(&v).len(), 2);
    let v = get_json(&base, "/v1/friction/events?limit=1", &a.token).await;
    assert_eq!(data(&v).len(), 1);
    let cursor = v["next_cursor"].as_str().expect("a second page").to_owned();
    let v = get_json(&base, &format!("/v1/friction/events?limit=1&cursor={cursor}"), &a.token).await;
    assert_eq!(data(&v).len(), 1);
    assert!(v["next_cursor"].is_null());

    // Tools: the fixtures' table.
    let v = get_json(&base, "/v1/tools", &a.token).await;
    let tools: Vec<(String, u64, u64)> =
        data(&v).iter().map(|r| (r["tool"].as_str().unwrap().to_owned(), r["calls"].as_u64().unwrap(), r["failures"].as_u64().unwrap())).collect();
    assert_eq!(tools, vec![("Bash".into(), 2, 1), ("Edit".into(), 1, 0), ("Read".into(), 1, 1), ("Write".into(), 1, 0)], "{kind}");
    assert_eq!(data(&v)[0]["success_rate"], 0.5);

    let v = get_json(&base, "/v1/lines?group_by=user", &a.token).await;
    assert_eq!((data(&v)[0]["lines_added"].as_u64(), data(&v)[0]["lines_removed"].as_u64()), (Some(14), Some(2)));
    let v = get_json(&base, "/v1/cost?group_by=model", &a.token).await;
    let cost: f64 = data(&v).iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!((cost - 0.19677675).abs() < 1e-9, "{kind}: cost {cost}");
    let tokens: u64 = data(&v).iter().map(|r| r["cache_read_tokens"].as_u64().unwrap()).sum();
    assert_eq!(tokens, 92461);

    // A time range before the session: nothing.
    let v = get_json(&base, "/v1/sessions?to=2026-12-01T00:00:00Z", &a.token).await;
    assert!(data(&v).is_empty());

    // CSV.
    let r = reqwest::Client::new().get(format!("{base}/v1/tools?format=csv")).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "tool,calls,failures,success_rate,mean_duration_ms,p95_duration_ms");
    assert!(lines[1].starts_with("Bash,2,1,0.5,"), "{kind}: {csv}");

    // Arrow IPC stream, read back with the arrow crate.
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/sessions"))
        .header("Accept", "application/vnd.apache.arrow.stream")
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.apache.arrow.stream");
    let bytes = r.bytes().await.unwrap();
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None).unwrap();
    let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    let batch = &batches[0];
    let col = |name: &str| batch.column_by_name(name).unwrap().clone();
    let users = col("user");
    assert_eq!(users.as_any().downcast_ref::<StringArray>().unwrap().value(0), a.stamp.user.to_string());
    let calls = col("tool_calls");
    assert_eq!(calls.as_any().downcast_ref::<UInt64Array>().unwrap().value(0), 5);
    let cost = col("cost_usd");
    assert!((cost.as_any().downcast_ref::<Float64Array>().unwrap().value(0) - 0.19677675).abs() < 1e-9);
    assert_eq!(col("lines_added").as_any().downcast_ref::<UInt64Array>().unwrap().value(0), 14);
    assert!(col("lines_added").null_count() == 0);

    // No token, a bad token, an unknown endpoint: clear JSON errors.
    let r = reqwest::Client::new().get(format!("{base}/v1/sessions")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthenticated");
    let r = reqwest::Client::new().get(format!("{base}/v1/sessions")).bearer_auth("not.a.token").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new().get(format!("{base}/v1/friction?group_by=planet")).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("file, tool, kind, user"));
    let r = reqwest::Client::new().get(format!("{base}/v1/nothing")).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

/// Every aggregate endpoint (as `/openapi.json` lists them) with every filter and grouping: what
/// A sees beside B's data is exactly what A sees in a store that never had B's, and a forged
/// organization parameter is refused everywhere.
async fn cross_tenant_sweep(shared: &str, solo: &str, a: &Org, b: &Org, kind: &str) {
    let doc = get_json(shared, "/openapi.json", &a.token).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(params) = item["get"]["parameters"].as_array() else { continue };
        if !params.iter().any(|p| p["name"] == "from") {
            continue; // not an aggregate endpoint
        }
        let groups: Vec<String> = params
            .iter()
            .find(|p| p["name"] == "group_by")
            .map(|p| p["schema"]["enum"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let mut queries = vec![
            String::new(),
            "from=2026-12-03T00:00:00Z".into(),
            "to=2026-12-04T00:00:00Z".into(),
            "from=2026-12-03T19:00:00Z&to=2026-12-03T20:00:00Z".into(),
            format!("user={}", a.stamp.user),
            format!("user={}", b.stamp.user),
            format!("user={}&from=2026-12-01T00:00:00Z", b.stamp.user),
            "team=core".into(),
            format!("team={}", team_of(a.stamp.tenant)),
        ];
        let base_queries = queries.clone();
        for g in &groups {
            queries.extend(base_queries.iter().map(|q| if q.is_empty() { format!("group_by={g}") } else { format!("{q}&group_by={g}") }));
        }
        for q in &queries {
            let url = format!("{path}?{q}");
            let seen = get_json(shared, &url, &a.token).await;
            let alone = get_json(solo, &url, &a.token).await;
            assert_eq!(seen, alone, "{kind}: {url} shows A exactly what A has, nothing of B's");
            assert!(!seen.to_string().contains(&b.stamp.user.to_string()), "{kind}: {url} names B's user");
            checked += 1;
        }
        // B's team is not a team of A's.
        let r = reqwest::Client::new().get(format!("{shared}{path}?team={}", team_of(b.stamp.tenant))).bearer_auth(&a.token).send().await.unwrap();
        assert_eq!(r.status(), 400, "{kind}: {path}?team=<B's team>");
        for forged in ["org", "tenant", "org_id", "tenant_id"] {
            let r = reqwest::Client::new().get(format!("{shared}{path}?{forged}={}", b.stamp.tenant)).bearer_auth(&a.token).send().await.unwrap();
            assert_eq!(r.status(), 400, "{kind}: {path}?{forged}= is refused, not obeyed");
        }
    }
    assert!(checked >= 8 * 7, "{kind}: swept {checked} endpoint × filter combinations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
    let solo = EmbeddedStore::open(&dir.path().join("solo.redb")).unwrap();
    check_store(Arc::new(store), Arc::new(solo)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_on_clickhouse() {
    let url = testenv::clickhouse_url();
    let mut stores = Vec::new();
    for prefix in ["query_api", "query_api_solo"] {
        let db = testenv::unique(prefix);
        let root = clickhouse::Client::default().with_url(&url);
        root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
        let store = ClickHouseStore::new(root.with_database(&db)).with_retention_days(testenv::TEST_RETENTION_DAYS);
        store.migrate().await.unwrap();
        stores.push(Arc::new(store));
    }
    check_store(stores[0].clone(), stores[1].clone()).await;
}

/// `/openapi.json` lists exactly the routes the router serves: every documented `/v1` path
/// answers 401 without a token (it exists), and an undocumented one is 404. CORS answers only
/// the configured origin.
#[tokio::test]
async fn openapi_matches_the_routes_and_cors_is_restricted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).unwrap());
    let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap());
    let state = ApiState::new(store, directory, Verifier::hs256(SECRET).unwrap());
    let app = router(state, &ApiConfig { cors_origins: vec!["https://dash.example".into()] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();

    let doc: Value = http.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let v1: Vec<&String> = paths.iter().filter(|p| p.starts_with("/v1/")).collect();
    assert_eq!(v1.len(), 8 + 13, "{paths:?}: 8 aggregate and 13 management paths");
    for p in v1 {
        for (method, _) in doc["paths"][p].as_object().unwrap() {
            let url = format!(
                "{base}{}",
                p.replace("{user}", &Uuid::nil().to_string()).replace("{id}", &Uuid::nil().to_string()).replace("{jti}", &Uuid::nil().to_string())
            );
            let r = http.request(method.to_uppercase().parse().unwrap(), url).send().await.unwrap();
            if p == "/v1/invites/accept" {
                // No token needed (the code is the credential): routed, and the missing body is a 400.
                assert_eq!(r.status(), 400, "{method} {p} is routed");
                assert_eq!(doc["paths"][p][method]["security"], serde_json::json!([]));
                continue;
            }
            assert_eq!(r.status(), 401, "{method} {p} is routed and gated");
        }
    }
    let groups = &doc["paths"]["/v1/friction"]["get"]["parameters"];
    assert!(groups.as_array().unwrap().iter().any(|p| p["name"] == "group_by" && p["schema"]["enum"][0] == "file"));

    let allowed = http.get(format!("{base}/healthz")).header("Origin", "https://dash.example").send().await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://dash.example");
    let other = http.get(format!("{base}/healthz")).header("Origin", "https://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
