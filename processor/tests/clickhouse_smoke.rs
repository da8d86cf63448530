//! Smoke test against the real ClickHouse engine (chDB behind the test HTTP front), through the
//! `clickhouse` crate with its default LZ4 compression: the shipped migrations apply, a MergeTree
//! table with a TTL takes rows, returns them, and drops the expired ones on a merge.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use tandemu_processor::clickhouse_ddl;
use tandemu_schemas::testenv;
use uuid::Uuid;

#[derive(Row, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct ToolCall {
    #[serde(with = "clickhouse::serde::uuid")]
    tenant: Uuid,
    /// DateTime as Unix seconds.
    ts: u32,
    tool: String,
    failures: u64,
}

fn now_secs() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32
}

#[tokio::test]
async fn ttl_table_round_trip_through_the_clickhouse_crate() {
    let url = testenv::clickhouse_url();
    let db = testenv::unique("smoke");
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    let client = root.clone().with_database(&db);

    for (_, _, sql) in clickhouse_ddl::MIGRATIONS {
        for stmt in clickhouse_ddl::statements(sql) {
            client.query(&stmt).execute().await.expect("migration statement");
        }
    }

    client
        .query(
            "CREATE TABLE tool_calls (tenant UUID, ts DateTime('UTC'), tool LowCardinality(String), failures UInt64) \
             ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (tenant, ts, tool) \
             TTL ts + INTERVAL 30 DAY SETTINGS ttl_only_drop_parts = 1",
        )
        .execute()
        .await
        .expect("create table with TTL");

    let tenant = Uuid::new_v4();
    let other = Uuid::new_v4();
    let now = now_secs();
    let rows = vec![
        ToolCall { tenant, ts: now - 90 * 86_400, tool: "Bash".into(), failures: 7 },
        ToolCall { tenant, ts: now - 60, tool: "Read".into(), failures: 1 },
        ToolCall { tenant: other, ts: now - 60, tool: "Edit".into(), failures: 2 },
    ];
    // Insert with the TTL merge kept from running in between, so the test decides when rows expire.
    client.query("SYSTEM STOP TTL MERGES tool_calls").execute().await.ok();
    let mut insert = client.insert::<ToolCall>("tool_calls").await.expect("insert");
    for r in &rows {
        insert.write(r).await.expect("write row");
    }
    insert.end().await.expect("end insert");

    let fetch = |t: Uuid| client.query("SELECT ?fields FROM tool_calls WHERE tenant = toUUID(?) ORDER BY ts").bind(t.to_string()).fetch_all::<ToolCall>();
    let mine = fetch(tenant).await.expect("select");
    assert!(mine.len() <= 2 && mine.last() == Some(&rows[1]), "tenant-scoped select: {mine:?}");

    // A merge applies the TTL: the 90-day-old row goes, the fresh ones stay.
    client.query("SYSTEM START TTL MERGES tool_calls").execute().await.ok();
    client.query("OPTIMIZE TABLE tool_calls FINAL").execute().await.expect("optimize");
    assert_eq!(fetch(tenant).await.unwrap(), vec![rows[1].clone()]);
    assert_eq!(fetch(other).await.unwrap(), vec![rows[2].clone()]);

    let ttl: String = client
        .query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'tool_calls'")
        .fetch_one()
        .await
        .expect("system.tables");
    assert!(ttl.contains("TTL"), "{ttl}");

    let applied: u64 =
        client.query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'tandemu_migrations'").fetch_one().await.unwrap();
    assert_eq!(applied, 1, "the shipped migrations created their table");

    root.query(&format!("DROP DATABASE {db}")).execute().await.expect("drop database");
}
