//! Row-level security over every tenancy table, on a real PostgreSQL: each table that holds an
//! organization's rows has RLS enabled and forced, the service role owns none of them, and as
//! that role with no tenant set a plain `SELECT` sees zero rows in every one; with a tenant set,
//! only that tenant's.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Executor, PgPool};
use tandemu_query_api::directory::{self, APP_ROLE, MIGRATOR};
use tandemu_schemas::{TenantId, testenv};
use uuid::Uuid;

const LOGIN_ROLE: &str = "tandemu_rls_service";

async fn pool(db: &str, user: Option<&str>) -> PgPool {
    let url = testenv::database_url();
    let mut opts: PgConnectOptions = url.parse().expect("TANDEMU_TEST_DATABASE_URL");
    opts = opts.database(db).disable_statement_logging();
    if let Some(u) = user {
        opts = opts.username(u);
    }
    PgPoolOptions::new().max_connections(2).connect_with(opts).await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("PostgreSQL", &url, e)))
}

/// Fills every tenancy table with rows of `org`; returns how many rows each table got.
async fn fill(owner: &PgPool, org: Uuid) -> Vec<(&'static str, i64)> {
    let user = Uuid::new_v4();
    let team = Uuid::new_v4();
    let stmts: Vec<(&'static str, String)> = vec![
        ("organizations", format!("INSERT INTO organizations (id, name) VALUES ('{org}', 'org {org}')")),
        ("memberships", format!("INSERT INTO memberships (org_id, user_id, email, role) VALUES ('{org}', '{user}', '{user}@x.invalid', 'owner')")),
        ("teams", format!("INSERT INTO teams (org_id, id, name) VALUES ('{org}', '{team}', 'platform')")),
        ("team_members", format!("INSERT INTO team_members (org_id, team_id, user_id) VALUES ('{org}', '{team}', '{user}')")),
        (
            "invites",
            format!(
                "INSERT INTO invites (org_id, id, email, code_sha256, invited_by, expires_at) \
                 VALUES ('{org}', '{}', 'new@x.invalid', '\\x00', '{user}', now() + interval '7 days')",
                Uuid::new_v4()
            ),
        ),
        (
            "integrations",
            format!(
                "INSERT INTO integrations (org_id, id, provider, token_nonce, token_cipher, created_by) \
                 VALUES ('{org}', '{}', 'github', '\\x000000000000000000000000', '\\x01', '{user}')",
                Uuid::new_v4()
            ),
        ),
        ("retention_settings", format!("INSERT INTO retention_settings (org_id, table_name, days, updated_by) VALUES ('{org}', 'sessions', 30, '{user}')")),
        (
            "revoked_tokens",
            format!(
                "INSERT INTO revoked_tokens (org_id, jti, expires_at, revoked_by) VALUES ('{org}', '{}', now() + interval '1 day', '{user}')",
                Uuid::new_v4()
            ),
        ),
    ];
    let mut out = Vec::new();
    for (table, sql) in stmts {
        owner.execute(AssertSqlSafe(sql)).await.unwrap_or_else(|e| panic!("fill {table}: {e}"));
        out.push((table, 1));
    }
    out
}

/// Not tenant data: the operator's retention defaults and bounds (`migrations/…_retention_policy.sql`).
const OPERATOR_TABLES: [&str; 2] = ["retention_bounds", "retention_defaults"];

#[tokio::test]
async fn every_tenancy_table_is_isolated_for_the_service_role() {
    let db = testenv::unique("tandemu_rls");
    let root = pool("postgres", None).await;
    root.execute(AssertSqlSafe(format!("CREATE DATABASE {db}"))).await.expect("create database");
    let owner = pool(&db, None).await;
    MIGRATOR.run(&owner).await.expect("migrations apply");

    // Every table of the schema except sqlx's bookkeeping and the operator's settings is tenant
    // data and must be covered.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    let tables: Vec<String> = tables.into_iter().filter(|t| !OPERATOR_TABLES.contains(&t.as_str())).collect();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let filled = fill(&owner, a).await;
    fill(&owner, b).await;
    let mut covered: Vec<String> = filled.iter().map(|(t, _)| t.to_string()).collect();
    covered.sort();
    assert_eq!(tables, covered, "the test fills every tenancy table");

    let flags: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' \
         AND c.relname <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    for (t, rls, force) in flags.iter().filter(|f| !OPERATOR_TABLES.contains(&f.0.as_str())) {
        assert!(*rls && *force, "{t}: ENABLE and FORCE ROW LEVEL SECURITY");
    }

    owner
        .execute(AssertSqlSafe(format!(
            "DO $$ BEGIN CREATE ROLE {LOGIN_ROLE} LOGIN NOBYPASSRLS IN ROLE {APP_ROLE}; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )))
        .await
        .expect("login role");
    let service = pool(&db, Some(LOGIN_ROLE)).await;
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'USAGE')",
    )
    .fetch_one(&service)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the service role owns no table (owners bypass RLS)");

    for table in &tables {
        let sql = format!("SELECT count(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_one(&service).await.unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(n, 0, "{table}: no tenant set, no rows");
        let mut tx = directory::begin_for_tenant(&service, TenantId(a)).await.unwrap();
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(n, 1, "{table}: tenant A sees its own row only");
        tx.rollback().await.unwrap();
    }
    // The operator's settings: the service reads them and cannot change them.
    for table in OPERATOR_TABLES {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(&service).await.expect("readable");
        let e = sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&service).await.expect_err("not writable by the service");
        assert!(e.to_string().contains("permission denied"), "{table}: {e}");
    }
    // The processor's one cross-tenant read: every organization's overrides, numbers only.
    let overrides: Vec<(Uuid, String, i32)> = sqlx::query_as("SELECT org_id, table_name, days FROM tandemu_retention_overrides() ORDER BY org_id")
        .fetch_all(&service)
        .await
        .expect("the service may call it");
    let mut orgs: Vec<Uuid> = overrides.iter().map(|o| o.0).collect();
    orgs.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(orgs, want, "both organizations' overrides");

    // And the setting does not outlive its transaction on a pooled connection.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM teams").fetch_one(&service).await.unwrap();
    assert_eq!(n, 0);

    service.close().await;
    owner.close().await;
    root.execute(AssertSqlSafe(format!("DROP DATABASE {db} WITH (FORCE)"))).await.expect("drop database");
}
