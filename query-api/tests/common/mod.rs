//! A PostgreSQL database of its own for a test: migrated by its owner, with a login role that
//! is only a member of `tandemu_app` (the service role, as in production).

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Executor, PgPool};
use tandemu_query_api::directory::{APP_ROLE, MIGRATOR};
use tandemu_schemas::testenv;

pub struct TestDb {
    root: PgPool,
    pub name: String,
    /// The owner of the schema (it ran the migrations).
    pub owner: PgPool,
    /// The service role: owns nothing, cannot bypass row-level security.
    pub service: PgPool,
}

impl TestDb {
    pub async fn new(prefix: &str, login: &str) -> Self {
        let url = testenv::database_url();
        let opts: PgConnectOptions = url.parse().unwrap();
        let root = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await
            .unwrap_or_else(|e| panic!("{}", testenv::unreachable("PostgreSQL", &url, e)));
        let name = testenv::unique(prefix);
        root.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        let owner = PgPoolOptions::new().max_connections(1).connect_with(opts.clone().database(&name)).await.unwrap();
        MIGRATOR.run(&owner).await.unwrap();
        owner
            .execute(AssertSqlSafe(format!(
                "DO $$ BEGIN CREATE ROLE {login} LOGIN NOBYPASSRLS IN ROLE {APP_ROLE}; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )))
            .await
            .unwrap();
        let service = PgPoolOptions::new().max_connections(4).connect_with(opts.database(&name).username(login).disable_statement_logging()).await.unwrap();
        TestDb { root, name, owner, service }
    }

    pub async fn drop(self) {
        self.service.close().await;
        self.owner.close().await;
        self.root.execute(AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.name))).await.unwrap();
    }
}
