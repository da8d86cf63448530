//! Smoke test against a real PostgreSQL: the migrations apply, and row-level security really
//! isolates tenants for a non-owner login role.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Executor, PgPool, Row};
use tandemu_query_api::directory::{self, APP_ROLE, MIGRATOR};
use tandemu_schemas::{TenantId, testenv};
use uuid::Uuid;

const LOGIN_ROLE: &str = "tandemu_smoke_service";

async fn admin(db: &str) -> PgPool {
    let url = testenv::database_url();
    let opts: PgConnectOptions = url.parse().expect("TANDEMU_TEST_DATABASE_URL");
    PgPoolOptions::new().max_connections(2).connect_with(opts.database(db)).await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("PostgreSQL", &url, e)))
}

#[tokio::test]
async fn migrations_apply_and_rls_isolates_tenants_for_a_non_owner_role() {
    let db = testenv::unique("tandemu_smoke");
    let root = admin("postgres").await;
    root.execute(AssertSqlSafe(format!("CREATE DATABASE {db}"))).await.expect("create database");

    let owner = admin(&db).await;
    MIGRATOR.run(&owner).await.expect("migrations apply");
    MIGRATOR.run(&owner).await.expect("migrations are idempotent");

    // Two organizations, set up by the owner (a superuser here; RLS does not bind it).
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for (org, n) in [(a, 2), (b, 3)] {
        sqlx::query("INSERT INTO organizations (id, name) VALUES ($1, $2)").bind(org).bind(format!("org {org}")).execute(&owner).await.unwrap();
        for i in 0..n {
            sqlx::query("INSERT INTO memberships (org_id, user_id, email) VALUES ($1, $2, $3)")
                .bind(org)
                .bind(Uuid::new_v4())
                .bind(format!("u{i}@{org}.invalid"))
                .execute(&owner)
                .await
                .unwrap();
        }
    }

    // A login role that is only a member of the app role, as in production.
    owner
        .execute(AssertSqlSafe(format!(
            "DO $$ BEGIN CREATE ROLE {LOGIN_ROLE} LOGIN NOBYPASSRLS IN ROLE {APP_ROLE}; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )))
        .await
        .expect("login role");
    let url: PgConnectOptions = testenv::database_url().parse().unwrap();
    let service = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(url.database(&db).username(LOGIN_ROLE).disable_statement_logging())
        .await
        .expect("connect as the service role");

    // The guarantees are structural, not just observed.
    let row = sqlx::query(
        "SELECT r.rolsuper, r.rolbypassrls, c.relrowsecurity, c.relforcerowsecurity, \
                pg_get_userbyid(c.relowner) = current_user AS owns \
         FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.relname = 'memberships'",
    )
    .fetch_one(&service)
    .await
    .unwrap();
    let flags: (bool, bool, bool, bool, bool) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(flags, (false, false, true, true, false), "(super, bypassrls, rls, force rls, owner)");

    // Tenant A sees its own rows only.
    let mut tx = directory::begin_for_tenant(&service, TenantId(a)).await.unwrap();
    let orgs: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM organizations").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(orgs, vec![a]);
    let members: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(members, 2);
    // Even naming tenant B explicitly finds nothing.
    let leaked: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships WHERE org_id = $1").bind(b).fetch_one(&mut *tx).await.unwrap();
    assert_eq!(leaked, 0);
    // And writing into tenant B is refused by the policy's WITH CHECK.
    let write =
        sqlx::query("INSERT INTO memberships (org_id, user_id, email) VALUES ($1, $2, 'x@b.invalid')").bind(b).bind(Uuid::new_v4()).execute(&mut *tx).await;
    assert!(write.is_err(), "cross-tenant insert must fail");
    tx.rollback().await.unwrap();

    // Tenant B sees its three.
    let mut tx = directory::begin_for_tenant(&service, TenantId(b)).await.unwrap();
    let members: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(members, 3);
    tx.commit().await.unwrap();

    // No tenant set (the pooled connection now holds ''): nothing at all.
    for (table, sql) in [("organizations", "SELECT count(*) FROM organizations"), ("memberships", "SELECT count(*) FROM memberships")] {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&service).await.unwrap();
        assert_eq!(n, 0, "{table} without a tenant");
    }

    service.close().await;
    owner.close().await;
    root.execute(AssertSqlSafe(format!("DROP DATABASE {db} WITH (FORCE)"))).await.expect("drop database");
}
