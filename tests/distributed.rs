//! The distributed roles as an operator runs them, each its own process: `tandemu migrate`
//! (ClickHouse and PostgreSQL), `tandemu ingest` into a Kafka-protocol topic (Tansu), `tandemu
//! process` (a consumer group into ClickHouse) and `tandemu query-api` (ClickHouse, PostgreSQL
//! as the RLS-bound service role). A Claude Code session exported over OTLP/HTTP comes out of
//! the API with the fixtures' numbers. And the query API refuses a database role that row-level
//! security would not bind.

mod common;

use common::{KillOnDrop, free_port};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use tandemu_schemas::{fixtures, testenv};

const SECRET: &str = "distributed-test-secret-of-32-bytes-or-more";
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn tandemu(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandemu"));
    c.args(args)
        .env("JWT_SECRET", SECRET)
        .env("ENCRYPTION_KEY", KEY)
        .env_remove("DATABASE_URL")
        .env_remove("TANDEMU_CLICKHOUSE_URL")
        .env_remove("TANDEMU_KAFKA_BROKERS");
    c
}

fn spawn(name: &'static str, args: &[&str]) -> KillOnDrop {
    KillOnDrop(tandemu(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn psql(db: &str, sql: &str) {
    let url = testenv::database_url();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let out = Command::new("psql").args([&format!("{base}/{db}"), "-v", "ON_ERROR_STOP=1", "-qc", sql]).output().expect("psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

async fn wait_ready(url: &str, what: &str, child: &mut KillOnDrop) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(url).await
            && r.status() == 200
        {
            return;
        }
        assert!(child.0.try_wait().unwrap().is_none(), "{what} exited early");
        assert!(Instant::now() < deadline, "{what} not ready at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distributed_roles_take_a_session_end_to_end() {
    let pg_url = testenv::database_url();
    let base = pg_url.rsplit_once('/').map(|(b, _)| b).unwrap().to_owned();
    let db = testenv::unique("tandemu_dist");
    psql("postgres", &format!("CREATE DATABASE {db}"));
    let ch_url = testenv::clickhouse_url();
    let ch_db = testenv::unique("dist");
    reqwest::Client::new().post(&ch_url).body(format!("CREATE DATABASE {ch_db}")).send().await.unwrap().error_for_status().expect("ClickHouse database");
    let brokers = testenv::kafka_brokers();
    let topic = testenv::unique("dist_events");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    admin.create_topics(&[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))], &AdminOptions::new()).await.expect("topic");

    // Migrate both databases, twice (idempotent).
    for _ in 0..2 {
        let out =
            tandemu(&["migrate", "--clickhouse-url", &ch_url, "--clickhouse-database", &ch_db, "--database-url", &format!("{base}/{db}")]).output().unwrap();
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    }
    let service = "tandemu_dist_service";
    psql(
        &db,
        &format!(
            "DO $$ BEGIN CREATE ROLE {service} LOGIN NOBYPASSRLS IN ROLE tandemu_app; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ),
    );
    let service_url = format!("{}/{db}", base.replacen("postgres@", &format!("{service}@"), 1));
    let owner_url = format!("{base}/{db}");

    // Retention, as the operator: every table's default past the fixtures' date (2026-12-03), and
    // an override for the organization, which the processor reads from PostgreSQL and stamps.
    let org = uuid::Uuid::new_v4().to_string();
    let user = uuid::Uuid::new_v4().to_string();
    // The organization is registered (as `POST /v1/org` would), so overrides can refer to it.
    psql(
        &db,
        &format!(
            "INSERT INTO organizations (id, name) VALUES ('{org}', 'Dist'); \
             INSERT INTO memberships (org_id, user_id, email, role) VALUES ('{org}', '{user}', 'dev@x.invalid', 'owner')"
        ),
    );
    let ch = ["--clickhouse-url", ch_url.as_str(), "--clickhouse-database", ch_db.as_str(), "--database-url", owner_url.as_str()];
    for table in ["sessions", "friction", "completion", "rollups"] {
        let out = tandemu(&[&["retention", "set", "--table", table, "--days", "3650"][..], &ch].concat()).output().unwrap();
        assert!(out.status.success(), "retention set {table}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("→ 3650 days"), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let out = tandemu(&[&["retention", "set", "--table", "sessions", "--days", "3000", "--org", &org][..], &ch].concat()).output().unwrap();
    assert!(out.status.success(), "retention override: {}", String::from_utf8_lossy(&out.stderr));
    let out = tandemu(&[&["retention", "show", "--json"][..], &ch].concat()).output().unwrap();
    assert!(out.status.success(), "retention show: {}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("retention show --json");
    for t in shown["tables"].as_array().unwrap() {
        assert_eq!(t["default_days"], 3650, "{t}");
        for ttl in t["clickhouse"].as_array().unwrap() {
            assert_eq!(ttl["default_days"], 3650, "what ClickHouse really has: {ttl}");
        }
    }
    assert_eq!(shown["tables"][0]["overrides"][0]["days"], 3000);

    // Distributed mode refuses a placeholder or missing JWT_SECRET and a missing ENCRYPTION_KEY,
    // with a message that says what to do.
    let qa = [
        "query-api",
        "--clickhouse-url",
        ch_url.as_str(),
        "--clickhouse-database",
        ch_db.as_str(),
        "--database-url",
        service_url.as_str(),
        "--api-listen",
        "127.0.0.1:0",
    ];
    for (var, value, says) in [
        ("JWT_SECRET", Some("change-me-change-me-change-me-change-me"), "placeholder"),
        ("JWT_SECRET", None, "JWT_SECRET is required"),
        ("ENCRYPTION_KEY", None, "ENCRYPTION_KEY is required"),
        ("ENCRYPTION_KEY", Some("not-hex"), "ENCRYPTION_KEY"),
    ] {
        let mut c = tandemu(&qa);
        match value {
            Some(v) => c.env(var, v),
            None => c.env_remove(var),
        };
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{var}={value:?}: {stderr}");
    }

    // A superuser connection is refused: RLS would not bind it.
    let out = tandemu(&[
        "query-api",
        "--clickhouse-url",
        &ch_url,
        "--clickhouse-database",
        &ch_db,
        "--database-url",
        &format!("{base}/{db}"),
        "--api-listen",
        "127.0.0.1:0",
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("row-level security"), "{}", String::from_utf8_lossy(&out.stderr));

    let (grpc, http, api) = (free_port(), free_port(), free_port());
    let mut ingest = spawn(
        "ingest",
        &[
            "ingest",
            "--kafka-brokers",
            &brokers,
            "--kafka-topic",
            &topic,
            "--grpc-listen",
            &format!("127.0.0.1:{grpc}"),
            "--http-listen",
            &format!("127.0.0.1:{http}"),
        ],
    );
    let _process = spawn(
        "process",
        &[
            "process",
            "--kafka-brokers",
            &brokers,
            "--kafka-topic",
            &topic,
            "--clickhouse-url",
            &ch_url,
            "--clickhouse-database",
            &ch_db,
            "--kafka-option",
            "session.timeout.ms=6000",
            "--kafka-option",
            "partition.assignment.strategy=range,roundrobin",
            "--listen",
            "127.0.0.1:0",
            "--linger",
            "100ms",
            "--database-url",
            &service_url,
        ],
    );
    let mut query = spawn(
        "query-api",
        &[
            "query-api",
            "--clickhouse-url",
            &ch_url,
            "--clickhouse-database",
            &ch_db,
            "--database-url",
            &service_url,
            "--api-listen",
            &format!("127.0.0.1:{api}"),
        ],
    );
    wait_ready(&format!("http://127.0.0.1:{http}/readyz"), "ingest", &mut ingest).await;
    wait_ready(&format!("http://127.0.0.1:{api}/readyz"), "query-api", &mut query).await;

    let out = tandemu(&["token", "issue", "--org", &org, "--user", &user, "--role", "owner"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // The http_protobuf session over OTLP/HTTP.
    let client = reqwest::Client::new();
    for c in fixtures::load("http_protobuf") {
        let r = client
            .post(format!("http://127.0.0.1:{http}{}", c.path))
            .header("Content-Type", "application/x-protobuf")
            .bearer_auth(&token)
            .body(c.raw.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", c.file);
    }

    // The grpc session over OTLP/gRPC, as Claude Code's exporter sends it.
    for c in fixtures::load("grpc") {
        tandemu_ingest::client::export_grpc(&format!("http://127.0.0.1:{grpc}"), c.signal, &c.body(), c.encoding(), Some(&format!("Bearer {token}")), false)
            .await
            .unwrap_or_else(|s| panic!("{}: {s}", c.file));
    }

    // Both sessions, whole (a part of one may show first): 1,259 ms over HTTP, 1,117 ms over gRPC.
    let deadline = Instant::now() + Duration::from_secs(90);
    let complete = |v: &serde_json::Value, ms: i64| {
        v["data"].as_array().into_iter().flatten().find(|s| s["duration_ms"] == ms && s["tool_calls"] == 5 && s["lines_added"] == 14).cloned()
    };
    let (session, _grpc_session) = loop {
        let v: serde_json::Value = client.get(format!("http://127.0.0.1:{api}/v1/sessions")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        if let (Some(a), Some(b)) = (complete(&v, 1259), complete(&v, 1117)) {
            break (a, b);
        }
        assert!(Instant::now() < deadline, "the sessions did not reach the query API: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(session["user"], user.as_str());
    assert_eq!((session["duration_ms"].as_i64(), session["tool_failures"].as_u64(), session["commits"].as_u64()), (Some(1259), Some(2), Some(1)));
    assert!((session["cost_usd"].as_f64().unwrap() - 0.19677675).abs() < 1e-9);
    // A batch lands table by table in ClickHouse: the tool calls may follow the session rows.
    loop {
        let tools: serde_json::Value =
            client.get(format!("http://127.0.0.1:{api}/v1/tools?format=json")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        if tools["data"].as_array().unwrap().len() == 4 && tools["data"][0]["calls"] == 4 {
            assert_eq!(tools["data"][0]["tool"], "Bash");
            assert_eq!((tools["data"][0]["calls"].as_u64(), tools["data"][0]["failures"].as_u64()), (Some(4), Some(2)), "two sessions: {tools}");
            break;
        }
        assert!(Instant::now() < deadline, "tools did not reach the query API: {tools}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A second organization, registered the distributed way: `setup --via-api`, signed with the
    // deployment's JWT_SECRET; its owner's token then works on the query API.
    let out =
        tandemu(&["setup", "--via-api", "--api-url", &format!("http://127.0.0.1:{api}"), "--org", "Second", "--email", "o@second.invalid"]).output().unwrap();
    assert!(out.status.success(), "setup --via-api: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let second = stdout.lines().find(|l| l.starts_with("eyJ")).expect("the owner's token").trim().to_owned();
    let org: serde_json::Value = client.get(format!("http://127.0.0.1:{api}/v1/org")).bearer_auth(&second).send().await.unwrap().json().await.unwrap();
    assert_eq!((org["name"].as_str(), org["your_role"].as_str()), (Some("Second"), Some("owner")), "{org}");
    let out = tandemu(&["setup", "--via-api", "--api-url", &format!("http://127.0.0.1:{api}"), "--org", "X", "--email", "x@x.invalid"])
        .env("JWT_SECRET", "another-secret-of-32-bytes-or-more-0000")
        .output()
        .unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is JWT_SECRET the deployment's?"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The organization's session rows carry its override (read by the processor from PostgreSQL);
    // its other tables follow their defaults (stamp 0).
    let stamps = |table: &str| {
        let sql = format!("SELECT DISTINCT retention_days FROM {ch_db}.{table} FORMAT TSV");
        let ch_url = ch_url.clone();
        async move { reqwest::Client::new().post(&ch_url).body(sql).send().await.unwrap().text().await.unwrap().trim().to_owned() }
    };
    assert_eq!(stamps("session_facts").await, "3000");
    assert_eq!(stamps("tool_call_facts").await, "0");

    // A distributed replay while the processor runs is refused, with what to do.
    let out = tandemu(&["replay", "--kafka-brokers", &brokers, "--kafka-topic", &topic, "--clickhouse-url", &ch_url, "--clickhouse-database", &ch_db])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("stop every `tandemu process` of the group first"), "{stderr}");

    psql("postgres", &format!("DROP DATABASE {db} WITH (FORCE)"));
}
