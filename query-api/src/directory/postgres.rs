//! The directory in PostgreSQL (migrations in `migrations/`).
//!
//! Isolation lives in the database (row-level security, see the first migration); this module's
//! job is to make the right thing the only easy thing: every statement runs in a transaction
//! opened *for a tenant* ([`begin_for_tenant`]), with `app.current_tenant` set before anything
//! else, and the service connects as a role that owns nothing and cannot bypass RLS.

use sqlx::{PgPool, Postgres, Row, Transaction};
use tandemu_ingest::auth::Role;
use tandemu_ingest::log::BoxFuture;
use tandemu_schemas::TenantId;
use uuid::Uuid;

use tandemu_processor::retention::{Bounds, RetentionPolicy, RetentionTable};

use super::{Directory, DirectoryError, Integration, Invite, Member, Org, Team, parse_role};
use crate::roles::role_name;

/// The PostgreSQL migrations, embedded at build time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The role that owns nothing and that the service's login role must be a member of.
pub const APP_ROLE: &str = "tandemu_app";

/// Begins a transaction scoped to `tenant`. The setting is transaction-local, so it cannot leak
/// to the next user of a pooled connection.
pub async fn begin_for_tenant(pool: &PgPool, tenant: TenantId) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.current_tenant', $1, true)").bind(tenant.to_string()).execute(&mut *tx).await?;
    Ok(tx)
}

#[derive(Clone)]
pub struct PostgresDirectory {
    pool: PgPool,
}

impl PostgresDirectory {
    /// A directory on `pool`, which must log in as a member of [`APP_ROLE`] (not a table owner).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Refuses a connection that row-level security would not bind: a superuser, a role with
    /// BYPASSRLS, or one that owns (or may act as the owner of) a tenancy table.
    pub async fn check_service_role(&self) -> Result<(), DirectoryError> {
        let (user, sup, bypass): (String, bool, bool) =
            sqlx::query_as("SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
        if sup || bypass {
            return Err(DirectoryError::Invalid(format!(
                "PostgreSQL role {user} is a superuser or has BYPASSRLS, so row-level security would not isolate tenants; connect as a login role that is only a member of {APP_ROLE}"
            )));
        }
        let owned: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_has_role(current_user, c.relowner, 'USAGE')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        if owned > 0 {
            return Err(DirectoryError::Invalid(format!(
                "PostgreSQL role {user} owns {owned} table(s); owners bypass row-level security. Run `tandemu migrate` as another role and connect the service as a member of {APP_ROLE}"
            )));
        }
        let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'MEMBER')").bind(APP_ROLE).fetch_one(&self.pool).await.map_err(err)?;
        if !member {
            return Err(DirectoryError::Invalid(format!("PostgreSQL role {user} is not a member of {APP_ROLE}: GRANT {APP_ROLE} TO {user}")));
        }
        Ok(())
    }

    async fn tx(&self, tenant: TenantId) -> Result<Transaction<'static, Postgres>, DirectoryError> {
        begin_for_tenant(&self.pool, tenant).await.map_err(err)
    }
}

fn err(e: sqlx::Error) -> DirectoryError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => DirectoryError::Conflict(format!("already exists ({})", d.message())),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            DirectoryError::Invalid(format!("refers to something that does not exist ({})", d.message()))
        }
        sqlx::Error::Database(d) if d.is_check_violation() => DirectoryError::Invalid(d.message().to_owned()),
        _ => DirectoryError::Unavailable(e.to_string()),
    }
}

fn member_of(row: &sqlx::postgres::PgRow) -> Result<Member, DirectoryError> {
    let role: String = row.try_get("role").map_err(err)?;
    Ok(Member {
        user: row.try_get("user_id").map_err(err)?,
        email: row.try_get("email").map_err(err)?,
        role: parse_role(&role).map_err(DirectoryError::Invalid)?,
    })
}

impl Directory for PostgresDirectory {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn create_org<'a>(&'a self, org: &'a Org, owner: &'a Member) -> BoxFuture<'a, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(TenantId(org.id)).await?;
            sqlx::query("INSERT INTO organizations (id, name) VALUES ($1, $2)").bind(org.id).bind(&org.name).execute(&mut *tx).await.map_err(err)?;
            sqlx::query("INSERT INTO memberships (org_id, user_id, email, role) VALUES ($1, $2, $3, 'owner')")
                .bind(org.id)
                .bind(owner.user)
                .bind(&owner.email)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)
        })
    }

    fn org(&self, tenant: TenantId) -> BoxFuture<'_, Result<Option<Org>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            // RLS scopes this already; the predicate keeps it right for a role RLS does not bind
            // (the operator's, in `tandemu retention`).
            let row = sqlx::query("SELECT id, name FROM organizations WHERE id = $1").bind(tenant.as_uuid()).fetch_optional(&mut *tx).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            row.map(|r| Ok(Org { id: r.try_get("id").map_err(err)?, name: r.try_get("name").map_err(err)? })).transpose()
        })
    }

    fn delete_org(&self, tenant: TenantId) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            // Row-level security already limits this to the tenant's own row; the WHERE says so too.
            let n = sqlx::query("DELETE FROM organizations WHERE id = $1").bind(tenant.as_uuid()).execute(&mut *tx).await.map_err(err)?.rows_affected();
            tx.commit().await.map_err(err)?;
            Ok(n > 0)
        })
    }

    fn members(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Member>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let rows = sqlx::query("SELECT user_id, email, role::text AS role FROM memberships ORDER BY email").fetch_all(&mut *tx).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            rows.iter().map(member_of).collect()
        })
    }

    fn member(&self, tenant: TenantId, user: Uuid) -> BoxFuture<'_, Result<Option<Member>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let row = sqlx::query("SELECT user_id, email, role::text AS role FROM memberships WHERE user_id = $1")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            row.as_ref().map(member_of).transpose()
        })
    }

    fn put_member<'a>(&'a self, tenant: TenantId, m: &'a Member) -> BoxFuture<'a, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            if m.role != Role::Owner {
                keep_an_owner(&mut tx, m.user).await?;
            }
            sqlx::query(
                "INSERT INTO memberships (org_id, user_id, email, role) VALUES ($1, $2, $3, $4::member_role) \
                 ON CONFLICT (org_id, user_id) DO UPDATE SET email = EXCLUDED.email, role = EXCLUDED.role",
            )
            .bind(tenant.as_uuid())
            .bind(m.user)
            .bind(&m.email)
            .bind(role_name(m.role))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)
        })
    }

    fn remove_member(&self, tenant: TenantId, user: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            keep_an_owner(&mut tx, user).await?;
            let n = sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(user).execute(&mut *tx).await.map_err(err)?.rows_affected();
            tx.commit().await.map_err(err)?;
            Ok(n > 0)
        })
    }

    fn teams(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Team>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let rows = sqlx::query(
                "SELECT t.id, t.name, COALESCE(array_agg(m.user_id ORDER BY m.user_id) FILTER (WHERE m.user_id IS NOT NULL), '{}') AS members \
                 FROM teams t LEFT JOIN team_members m ON m.org_id = t.org_id AND m.team_id = t.id GROUP BY t.id, t.name ORDER BY t.name",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)?;
            rows.iter()
                .map(|r| Ok(Team { id: r.try_get("id").map_err(err)?, name: r.try_get("name").map_err(err)?, members: r.try_get("members").map_err(err)? }))
                .collect()
        })
    }

    fn put_team<'a>(&'a self, tenant: TenantId, team: &'a Team) -> BoxFuture<'a, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            sqlx::query("INSERT INTO teams (org_id, id, name) VALUES ($1, $2, $3) ON CONFLICT (org_id, id) DO UPDATE SET name = EXCLUDED.name")
                .bind(tenant.as_uuid())
                .bind(team.id)
                .bind(&team.name)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            sqlx::query("DELETE FROM team_members WHERE team_id = $1").bind(team.id).execute(&mut *tx).await.map_err(err)?;
            for user in &team.members {
                sqlx::query("INSERT INTO team_members (org_id, team_id, user_id) VALUES ($1, $2, $3)")
                    .bind(tenant.as_uuid())
                    .bind(team.id)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match err(e) {
                        DirectoryError::Invalid(_) => DirectoryError::Invalid(format!("user {user} is not a member of this organization")),
                        other => other,
                    })?;
            }
            tx.commit().await.map_err(err)
        })
    }

    fn delete_team(&self, tenant: TenantId, team: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let n = sqlx::query("DELETE FROM teams WHERE id = $1").bind(team).execute(&mut *tx).await.map_err(err)?.rows_affected();
            tx.commit().await.map_err(err)?;
            Ok(n > 0)
        })
    }

    fn put_integration<'a>(&'a self, tenant: TenantId, i: &'a Integration) -> BoxFuture<'a, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            sqlx::query("INSERT INTO integrations (org_id, id, provider, scope, token_nonce, token_cipher, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(tenant.as_uuid())
                .bind(i.id)
                .bind(&i.provider)
                .bind(&i.scope)
                .bind(&i.nonce)
                .bind(&i.cipher)
                .bind(i.created_by)
                .execute(&mut *tx)
                .await
                .map_err(|e| match err(e) {
                    DirectoryError::Conflict(_) => DirectoryError::Conflict(format!("a {} integration for scope {:?} exists already", i.provider, i.scope)),
                    other => other,
                })?;
            tx.commit().await.map_err(err)
        })
    }

    fn integrations(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Integration>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let rows = sqlx::query("SELECT id, provider, scope, created_by, token_nonce, token_cipher FROM integrations ORDER BY provider, scope")
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            rows.iter()
                .map(|r| {
                    Ok(Integration {
                        id: r.try_get("id").map_err(err)?,
                        provider: r.try_get("provider").map_err(err)?,
                        scope: r.try_get("scope").map_err(err)?,
                        created_by: r.try_get("created_by").map_err(err)?,
                        nonce: r.try_get("token_nonce").map_err(err)?,
                        cipher: r.try_get("token_cipher").map_err(err)?,
                    })
                })
                .collect()
        })
    }

    fn delete_integration(&self, tenant: TenantId, id: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let n = sqlx::query("DELETE FROM integrations WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(err)?.rows_affected();
            tx.commit().await.map_err(err)?;
            Ok(n > 0)
        })
    }

    fn put_invite<'a>(&'a self, tenant: TenantId, i: &'a Invite) -> BoxFuture<'a, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            sqlx::query(
                "INSERT INTO invites (org_id, id, email, role, code_sha256, invited_by, expires_at) \
                 VALUES ($1, $2, $3, $4::member_role, $5, $6, to_timestamp($7))",
            )
            .bind(tenant.as_uuid())
            .bind(i.id)
            .bind(&i.email)
            .bind(role_name(i.role))
            .bind(&i.code_sha256)
            .bind(i.invited_by)
            .bind(i.expires_unix as f64)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)
        })
    }

    fn invites(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Invite>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let rows = sqlx::query(
                "SELECT id, email, role::text AS role, code_sha256, invited_by, extract(epoch FROM expires_at)::bigint AS expires, \
                 extract(epoch FROM accepted_at)::bigint AS accepted FROM invites ORDER BY created_at, id",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)?;
            rows.iter()
                .map(|r| {
                    Ok(Invite {
                        id: r.try_get("id").map_err(err)?,
                        email: r.try_get("email").map_err(err)?,
                        role: parse_role(&r.try_get::<String, _>("role").map_err(err)?).map_err(DirectoryError::Unavailable)?,
                        code_sha256: r.try_get("code_sha256").map_err(err)?,
                        invited_by: r.try_get("invited_by").map_err(err)?,
                        expires_unix: r.try_get::<i64, _>("expires").map_err(err)?.max(0) as u64,
                        accepted_unix: r.try_get::<Option<i64>, _>("accepted").map_err(err)?.map(|t| t.max(0) as u64),
                    })
                })
                .collect()
        })
    }

    fn delete_invite(&self, tenant: TenantId, id: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let n = sqlx::query("DELETE FROM invites WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(err)?.rows_affected();
            tx.commit().await.map_err(err)?;
            Ok(n > 0)
        })
    }

    fn accept_invite<'a>(
        &'a self,
        tenant: TenantId,
        code_sha256: &'a [u8],
        user: Uuid,
        now_unix: u64,
    ) -> BoxFuture<'a, Result<Option<Member>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            // The UPDATE takes the invite's row lock: of two accepts of one code, the second
            // finds it used.
            let row: Option<(String, String, Uuid)> = sqlx::query_as(
                "UPDATE invites SET accepted_at = to_timestamp($2) \
                 WHERE code_sha256 = $1 AND accepted_at IS NULL AND expires_at > to_timestamp($2) RETURNING email, role::text, invited_by",
            )
            .bind(code_sha256)
            .bind(now_unix as f64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            let Some((email, role, inviter)) = row else { return Ok(None) };
            let member = Member { user, email, role: parse_role(&role).map_err(DirectoryError::Unavailable)? };
            let inviter: Option<String> = sqlx::query_scalar("SELECT role::text FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(tenant.as_uuid())
                .bind(inviter)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            let inviter = inviter.map(|r| parse_role(&r)).transpose().map_err(DirectoryError::Unavailable)?;
            if !super::may_invite(inviter, member.role) {
                // Dropping the transaction rolls the acceptance back.
                return Ok(None);
            }
            sqlx::query("INSERT INTO memberships (org_id, user_id, email, role) VALUES ($1, $2, $3, $4::member_role)")
                .bind(tenant.as_uuid())
                .bind(member.user)
                .bind(&member.email)
                .bind(role_name(member.role))
                .execute(&mut *tx)
                .await
                .map_err(|e| match err(e) {
                    DirectoryError::Conflict(_) => DirectoryError::Conflict(format!("{} is a member already", member.email)),
                    other => other,
                })?;
            tx.commit().await.map_err(err)?;
            Ok(Some(member))
        })
    }

    fn revoke_token(&self, tenant: TenantId, jti: Uuid, expires_unix: u64, by: Uuid) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            sqlx::query(
                "INSERT INTO revoked_tokens (org_id, jti, expires_at, revoked_by) VALUES ($1, $2, to_timestamp($3), $4) ON CONFLICT (org_id, jti) DO NOTHING",
            )
            .bind(tenant.as_uuid())
            .bind(jti)
            .bind(expires_unix as f64)
            .bind(by)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)
        })
    }

    fn is_revoked(&self, tenant: TenantId, jti: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM revoked_tokens WHERE jti = $1").bind(jti).fetch_one(&mut *tx).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok(n > 0)
        })
    }

    fn retention_policy(&self) -> BoxFuture<'_, Result<RetentionPolicy, DirectoryError>> {
        Box::pin(async move {
            let mut policy = RetentionPolicy::default();
            let defaults: Vec<(String, i32)> = sqlx::query_as("SELECT table_name, days FROM retention_defaults").fetch_all(&self.pool).await.map_err(err)?;
            for (table, days) in defaults {
                policy.defaults.insert(parse_table(&table)?, days_of(days)?);
            }
            let bounds: Option<(i32, i32)> = sqlx::query_as("SELECT min_days, max_days FROM retention_bounds").fetch_optional(&self.pool).await.map_err(err)?;
            if let Some((lo, hi)) = bounds {
                policy.bounds = Bounds::new(days_of(lo)?, days_of(hi)?).map_err(DirectoryError::Invalid)?;
            }
            let overrides: Vec<(Uuid, String, i32)> =
                sqlx::query_as("SELECT org_id, table_name, days FROM tandemu_retention_overrides()").fetch_all(&self.pool).await.map_err(err)?;
            for (org, table, days) in overrides {
                policy.overrides.insert((org, parse_table(&table)?), days_of(days)?);
            }
            Ok(policy)
        })
    }

    fn set_retention_default(&self, table: RetentionTable, days: u16) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO retention_defaults (table_name, days) VALUES ($1, $2) \
                 ON CONFLICT (table_name) DO UPDATE SET days = EXCLUDED.days, updated_at = now()",
            )
            .bind(table.name())
            .bind(i32::from(days))
            .execute(&self.pool)
            .await
            .map_err(operator_err)?;
            Ok(())
        })
    }

    fn set_retention_bounds(&self, bounds: Bounds) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO retention_bounds (min_days, max_days) VALUES ($1, $2) \
                 ON CONFLICT (singleton) DO UPDATE SET min_days = EXCLUDED.min_days, max_days = EXCLUDED.max_days, updated_at = now()",
            )
            .bind(i32::from(bounds.min_days))
            .bind(i32::from(bounds.max_days))
            .execute(&self.pool)
            .await
            .map_err(operator_err)?;
            Ok(())
        })
    }

    fn set_retention_override(&self, tenant: TenantId, table: RetentionTable, days: Option<u16>, by: Uuid) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            match days {
                Some(days) => sqlx::query(
                    "INSERT INTO retention_settings (org_id, table_name, days, updated_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (org_id, table_name) DO UPDATE SET days = EXCLUDED.days, updated_by = EXCLUDED.updated_by, updated_at = now()",
                )
                .bind(tenant.as_uuid())
                .bind(table.name())
                .bind(i32::from(days))
                .bind(by),
                None => sqlx::query("DELETE FROM retention_settings WHERE org_id = $1 AND table_name = $2").bind(tenant.as_uuid()).bind(table.name()),
            }
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)
        })
    }

    fn retention_overrides(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<(RetentionTable, u16)>, DirectoryError>> {
        Box::pin(async move {
            let mut tx = self.tx(tenant).await?;
            let rows: Vec<(String, i32)> = sqlx::query_as("SELECT table_name, days FROM retention_settings WHERE org_id = $1 ORDER BY table_name")
                .bind(tenant.as_uuid())
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            let mut out = rows.into_iter().map(|(t, d)| Ok((parse_table(&t)?, days_of(d)?))).collect::<Result<Vec<_>, DirectoryError>>()?;
            out.sort();
            Ok(out)
        })
    }
}

/// Refuses, inside the transaction about to demote or remove `user`, a change that would leave the
/// organization without an owner. The owners' rows stay locked until the transaction ends, so two
/// concurrent demotions of the last two owners cannot both pass: the second sees the first's.
async fn keep_an_owner(tx: &mut Transaction<'static, Postgres>, user: Uuid) -> Result<(), DirectoryError> {
    let owners: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM memberships WHERE role = 'owner' FOR UPDATE").fetch_all(&mut **tx).await.map_err(err)?;
    if owners == [user] {
        return Err(DirectoryError::Conflict(super::LAST_OWNER.into()));
    }
    Ok(())
}

fn parse_table(name: &str) -> Result<RetentionTable, DirectoryError> {
    name.parse().map_err(DirectoryError::Unavailable)
}

fn days_of(days: i32) -> Result<u16, DirectoryError> {
    u16::try_from(days).map_err(|_| DirectoryError::Unavailable(format!("stored retention of {days} days")))
}

/// The operator's tables are written by their owner: say so when the service role tries.
fn operator_err(e: sqlx::Error) -> DirectoryError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("42501") => {
            DirectoryError::Invalid(format!("{d}: retention defaults and bounds are the operator's; connect with the role that ran `tandemu migrate`"))
        }
        _ => err(e),
    }
}
