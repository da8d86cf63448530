//! The tenancy directory: organizations, members and their roles, teams, revoked tokens.
//!
//! One trait, two backends: PostgreSQL (distributed; isolation enforced by row-level security,
//! see `migrations/`) and the embedded store (single node, a redb file in the data directory).
//! Every method takes the tenant it works in; there is no cross-tenant call except creating an
//! organization and reading the retention policy (operator defaults, and every organization's
//! override as numbers only, which the processor needs to stamp and purge rows).

pub mod embedded;
pub mod postgres;

use serde::{Deserialize, Serialize};
use tandemu_ingest::auth::Role;
use tandemu_ingest::log::BoxFuture;
use tandemu_processor::retention::{Bounds, RetentionPolicy, RetentionTable};
use tandemu_schemas::TenantId;
use uuid::Uuid;

pub use postgres::{APP_ROLE, MIGRATOR, PostgresDirectory, begin_for_tenant};

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: Uuid,
    pub email: String,
    #[serde(with = "role_serde")]
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    /// Sorted user ids.
    pub members: Vec<Uuid>,
}

/// An integration of an organization (Jira, Linear, GitHub, …). The token is stored sealed
/// (`nonce`, `cipher`: see `secrets.rs`) and never returned by the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub id: Uuid,
    pub provider: String,
    pub scope: String,
    pub created_by: Uuid,
    pub nonce: Vec<u8>,
    pub cipher: Vec<u8>,
}

/// An invitation to join an organization. Only the digest of its code is kept: the code is
/// shown once, to whoever created the invite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: Uuid,
    pub email: String,
    #[serde(with = "role_serde")]
    pub role: Role,
    pub code_sha256: Vec<u8>,
    pub invited_by: Uuid,
    pub expires_unix: u64,
    pub accepted_unix: Option<u64>,
}

/// Whether an invite made by someone now holding `inviter` (`None`: no longer a member) for
/// `role` still stands: an invite is only as good as its inviter's standing when it is accepted.
pub fn may_invite(inviter: Option<Role>, role: Role) -> bool {
    match inviter {
        Some(Role::Owner) => true,
        Some(Role::Admin) => role != Role::Owner,
        _ => false,
    }
}

/// Why a change of members was refused: it would leave the organization without an owner.
pub const LAST_OWNER: &str = "an organization keeps at least one owner";

/// The providers an integration may be for (the PostgreSQL table checks the same list).
pub const PROVIDERS: &[&str] = &["jira", "linear", "github", "gitlab", "slack"];

mod role_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use tandemu_ingest::auth::Role;

    pub fn serialize<S: Serializer>(r: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::roles::role_name(*r))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        super::parse_role(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

pub fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(format!("unknown role {other:?}: expected owner, admin or member")),
    }
}

pub trait Directory: Send + Sync + 'static {
    fn kind(&self) -> &'static str;

    /// Creates an organization with its first owner. Fails with `Conflict` if it exists.
    fn create_org<'a>(&'a self, org: &'a Org, owner: &'a Member) -> BoxFuture<'a, Result<(), DirectoryError>>;
    fn org(&self, tenant: TenantId) -> BoxFuture<'_, Result<Option<Org>, DirectoryError>>;
    /// Deletes the organization and everything of it.
    fn delete_org(&self, tenant: TenantId) -> BoxFuture<'_, Result<bool, DirectoryError>>;

    fn members(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Member>, DirectoryError>>;
    fn member(&self, tenant: TenantId, user: Uuid) -> BoxFuture<'_, Result<Option<Member>, DirectoryError>>;
    /// Adds a member or changes one's email and role. `Conflict` when it would demote the last
    /// owner (checked in the same transaction as the write).
    fn put_member<'a>(&'a self, tenant: TenantId, member: &'a Member) -> BoxFuture<'a, Result<(), DirectoryError>>;
    /// Removes a member (and from every team). `false` when there was none; `Conflict` for the
    /// last owner.
    fn remove_member(&self, tenant: TenantId, user: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>>;

    fn teams(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Team>, DirectoryError>>;
    /// Creates a team or replaces its name and members (who must be members of the org).
    fn put_team<'a>(&'a self, tenant: TenantId, team: &'a Team) -> BoxFuture<'a, Result<(), DirectoryError>>;
    fn delete_team(&self, tenant: TenantId, team: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>>;

    /// Adds an integration; `Conflict` when the organization has one for that provider and scope.
    fn put_integration<'a>(&'a self, tenant: TenantId, integration: &'a Integration) -> BoxFuture<'a, Result<(), DirectoryError>>;
    fn integrations(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Integration>, DirectoryError>>;
    fn delete_integration(&self, tenant: TenantId, id: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>>;

    fn put_invite<'a>(&'a self, tenant: TenantId, invite: &'a Invite) -> BoxFuture<'a, Result<(), DirectoryError>>;
    fn invites(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Invite>, DirectoryError>>;
    fn delete_invite(&self, tenant: TenantId, id: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>>;
    /// Accepts the invite whose code has this digest, if it is neither used nor expired at
    /// `now_unix` and its inviter may still invite to its role ([`may_invite`]): in one
    /// transaction it is marked used and `user` becomes a member with the invite's email and
    /// role. `None` otherwise; `Conflict` when the email is a member already (the invite then
    /// stays unused).
    fn accept_invite<'a>(&'a self, tenant: TenantId, code_sha256: &'a [u8], user: Uuid, now_unix: u64)
    -> BoxFuture<'a, Result<Option<Member>, DirectoryError>>;

    /// Revokes a token by its `jti` until `expires_unix` (when it would have expired anyway).
    fn revoke_token(&self, tenant: TenantId, jti: Uuid, expires_unix: u64, by: Uuid) -> BoxFuture<'_, Result<(), DirectoryError>>;
    fn is_revoked(&self, tenant: TenantId, jti: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>>;

    /// The whole retention policy: table defaults, bounds and every organization's overrides.
    fn retention_policy(&self) -> BoxFuture<'_, Result<RetentionPolicy, DirectoryError>>;
    /// Sets a table's default (the operator's `tandemu retention set`).
    fn set_retention_default(&self, table: RetentionTable, days: u16) -> BoxFuture<'_, Result<(), DirectoryError>>;
    /// Sets the bounds of organizations' overrides (the operator's).
    fn set_retention_bounds(&self, bounds: Bounds) -> BoxFuture<'_, Result<(), DirectoryError>>;
    /// Sets (`Some`) or removes (`None`) an organization's override of one table. Callers check the
    /// bounds first.
    fn set_retention_override(&self, tenant: TenantId, table: RetentionTable, days: Option<u16>, by: Uuid) -> BoxFuture<'_, Result<(), DirectoryError>>;
    /// An organization's overrides.
    fn retention_overrides(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<(RetentionTable, u16)>, DirectoryError>>;
}
