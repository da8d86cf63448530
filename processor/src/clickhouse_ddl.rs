//! The ClickHouse DDL shipped in `clickhouse/`: the production files are the tested files.

/// The ordered migrations of `clickhouse/`, embedded at build time: (version, name, SQL).
pub const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "migrations_table", include_str!("../../clickhouse/0001_migrations_table.sql")),
    (2, "projection_facts", include_str!("../../clickhouse/0002_projection_facts.sql")),
    (3, "retention_policy", include_str!("../../clickhouse/0003_retention_policy.sql")),
];

/// Splits a migration file into statements (the HTTP interface takes one per request).
/// Statements end with `;` at the end of a line; `--` comment lines are dropped.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_and_drops_comments() {
        let sql = "-- a comment\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\nSELECT 1;\nSELECT 2";
        assert_eq!(statements(sql), vec!["CREATE TABLE a (x UInt8)\nENGINE = Memory", "SELECT 1", "SELECT 2"]);
    }

    #[test]
    fn shipped_migrations_are_ordered_and_non_empty() {
        for (i, (version, _, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, i + 1);
            assert!(!statements(sql).is_empty());
        }
    }
}
