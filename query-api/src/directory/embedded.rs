//! The directory of a single node: a redb file in the data directory. Every key starts with the
//! tenant, so a tenant's rows are one contiguous range and no read can wander into another's.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandemu_ingest::auth::Role;
use tandemu_ingest::log::BoxFuture;
use tandemu_schemas::TenantId;
use uuid::Uuid;

use tandemu_processor::retention::{Bounds, RetentionPolicy, RetentionTable};

use super::{Directory, DirectoryError, Integration, Invite, Member, Org, Team};

/// The key's second half for an override of `table`.
fn override_id(table: RetentionTable) -> Uuid {
    Uuid::from_u128(RetentionTable::ALL.iter().position(|t| *t == table).unwrap_or_default() as u128 + 1)
}

fn table_of(id: &[u8]) -> Option<RetentionTable> {
    let n = u128::from_be_bytes(id.try_into().ok()?);
    RetentionTable::ALL.get(usize::try_from(n).ok()?.checked_sub(1)?).copied()
}

const ORGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("organizations");
const MEMBERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("memberships");
const TEAMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("teams");
const REVOKED: TableDefinition<&[u8], u64> = TableDefinition::new("revoked_tokens");
const INTEGRATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("integrations");
const INVITES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("invites");
/// Organizations' retention overrides, keyed by tenant and [`override_id`].
const RETENTION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("retention_settings");
/// The operator's retention defaults (`default/<table>`) and bounds (`bounds`).
const OPERATOR: TableDefinition<&str, &[u8]> = TableDefinition::new("operator_settings");

#[derive(Clone)]
pub struct EmbeddedDirectory {
    db: Arc<Database>,
}

fn err(e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

fn key(tenant: TenantId, id: Uuid) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(tenant.as_uuid().as_bytes());
    k[16..].copy_from_slice(id.as_bytes());
    k
}

fn range(tenant: TenantId) -> ([u8; 32], [u8; 32]) {
    (key(tenant, Uuid::nil()), key(tenant, Uuid::max()))
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, DirectoryError> {
    postcard::to_allocvec(v).map_err(|e| DirectoryError::Invalid(e.to_string()))
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, DirectoryError> {
    postcard::from_bytes(b).map_err(|e| DirectoryError::Unavailable(format!("stored directory record: {e}")))
}

impl EmbeddedDirectory {
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let db = Database::create(path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(ORGS).map_err(err)?;
        tx.open_table(MEMBERS).map_err(err)?;
        tx.open_table(TEAMS).map_err(err)?;
        tx.open_table(REVOKED).map_err(err)?;
        tx.open_table(INTEGRATIONS).map_err(err)?;
        tx.open_table(INVITES).map_err(err)?;
        tx.open_table(RETENTION).map_err(err)?;
        tx.open_table(OPERATOR).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Whether any organization is registered (a single node's first run has none).
    pub fn has_orgs(&self) -> Result<bool, DirectoryError> {
        let tx = self.db.begin_read().map_err(err)?;
        Ok(!tx.open_table(ORGS).map_err(err)?.is_empty().map_err(err)?)
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Database) -> Result<T, DirectoryError> + Send + 'static) -> Result<T, DirectoryError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db)).await.map_err(err)?
    }

    fn list<T: DeserializeOwned>(db: &Database, table: TableDefinition<&[u8], &[u8]>, tenant: TenantId) -> Result<Vec<T>, DirectoryError> {
        let tx = db.begin_read().map_err(err)?;
        let t = tx.open_table(table).map_err(err)?;
        let (lo, hi) = range(tenant);
        let mut out = Vec::new();
        for item in t.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
            out.push(dec(item.map_err(err)?.1.value())?);
        }
        Ok(out)
    }
}

impl Directory for EmbeddedDirectory {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn create_org<'a>(&'a self, org: &'a Org, owner: &'a Member) -> BoxFuture<'a, Result<(), DirectoryError>> {
        let (org, owner) = (org.clone(), Member { role: tandemu_ingest::auth::Role::Owner, ..owner.clone() });
        Box::pin(self.blocking(move |db| {
            let tenant = TenantId(org.id);
            let tx = db.begin_write().map_err(err)?;
            {
                let mut orgs = tx.open_table(ORGS).map_err(err)?;
                let k = key(tenant, Uuid::nil());
                if orgs.get(k.as_slice()).map_err(err)?.is_some() {
                    return Err(DirectoryError::Conflict(format!("organization {} already exists", org.id)));
                }
                orgs.insert(k.as_slice(), enc(&org)?.as_slice()).map_err(err)?;
                tx.open_table(MEMBERS).map_err(err)?.insert(key(tenant, owner.user).as_slice(), enc(&owner)?.as_slice()).map_err(err)?;
            }
            tx.commit().map_err(err)
        }))
    }

    fn org(&self, tenant: TenantId) -> BoxFuture<'_, Result<Option<Org>, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(ORGS).map_err(err)?;
            t.get(key(tenant, Uuid::nil()).as_slice()).map_err(err)?.map(|v| dec(v.value())).transpose()
        }))
    }

    fn delete_org(&self, tenant: TenantId) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            let (lo, hi) = range(tenant);
            let existed;
            {
                let mut orgs = tx.open_table(ORGS).map_err(err)?;
                existed = orgs.remove(key(tenant, Uuid::nil()).as_slice()).map_err(err)?.is_some();
                for table in [MEMBERS, TEAMS, INTEGRATIONS, INVITES, RETENTION] {
                    let mut t = tx.open_table(table).map_err(err)?;
                    t.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false).map_err(err)?;
                }
                // Revocations stay: a deleted organization's tokens must not come back to life.
            }
            tx.commit().map_err(err)?;
            Ok(existed)
        }))
    }

    fn members(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Member>, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let mut m: Vec<Member> = Self::list(db, MEMBERS, tenant)?;
            m.sort_by(|a, b| a.email.cmp(&b.email));
            Ok(m)
        }))
    }

    fn member(&self, tenant: TenantId, user: Uuid) -> BoxFuture<'_, Result<Option<Member>, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(MEMBERS).map_err(err)?;
            t.get(key(tenant, user).as_slice()).map_err(err)?.map(|v| dec(v.value())).transpose()
        }))
    }

    fn put_member<'a>(&'a self, tenant: TenantId, m: &'a Member) -> BoxFuture<'a, Result<(), DirectoryError>> {
        let m = m.clone();
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            {
                if tx.open_table(ORGS).map_err(err)?.get(key(tenant, Uuid::nil()).as_slice()).map_err(err)?.is_none() {
                    return Err(DirectoryError::Invalid(format!("organization {tenant} does not exist")));
                }
                let mut t = tx.open_table(MEMBERS).map_err(err)?;
                let (lo, hi) = range(tenant);
                let mut owners = Vec::new();
                for item in t.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let other: Member = dec(item.map_err(err)?.1.value())?;
                    if other.email == m.email && other.user != m.user {
                        return Err(DirectoryError::Conflict(format!("{} is already a member", m.email)));
                    }
                    if other.role == Role::Owner {
                        owners.push(other.user);
                    }
                }
                // redb serialises write transactions, so the check and the write are one step.
                if m.role != Role::Owner && owners == [m.user] {
                    return Err(DirectoryError::Conflict(super::LAST_OWNER.into()));
                }
                t.insert(key(tenant, m.user).as_slice(), enc(&m)?.as_slice()).map_err(err)?;
            }
            tx.commit().map_err(err)
        }))
    }

    fn remove_member(&self, tenant: TenantId, user: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            let existed;
            {
                let mut members = tx.open_table(MEMBERS).map_err(err)?;
                let (lo, hi) = range(tenant);
                let mut owners = Vec::new();
                for item in members.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let m: Member = dec(item.map_err(err)?.1.value())?;
                    if m.role == Role::Owner {
                        owners.push(m.user);
                    }
                }
                if owners == [user] {
                    return Err(DirectoryError::Conflict(super::LAST_OWNER.into()));
                }
                existed = members.remove(key(tenant, user).as_slice()).map_err(err)?.is_some();
                drop(members);
                let mut teams = tx.open_table(TEAMS).map_err(err)?;
                let (lo, hi) = range(tenant);
                let mut changed = Vec::new();
                for item in teams.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let mut team: Team = dec(item.map_err(err)?.1.value())?;
                    if team.members.contains(&user) {
                        team.members.retain(|u| *u != user);
                        changed.push(team);
                    }
                }
                for team in changed {
                    teams.insert(key(tenant, team.id).as_slice(), enc(&team)?.as_slice()).map_err(err)?;
                }
            }
            tx.commit().map_err(err)?;
            Ok(existed)
        }))
    }

    fn teams(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Team>, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let mut t: Vec<Team> = Self::list(db, TEAMS, tenant)?;
            t.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(t)
        }))
    }

    fn put_team<'a>(&'a self, tenant: TenantId, team: &'a Team) -> BoxFuture<'a, Result<(), DirectoryError>> {
        let mut team = team.clone();
        team.members.sort();
        team.members.dedup();
        Box::pin(self.blocking(move |db| {
            if team.name.is_empty() || team.name.len() > 200 {
                return Err(DirectoryError::Invalid("a team name has 1 to 200 characters".into()));
            }
            let tx = db.begin_write().map_err(err)?;
            {
                let members = tx.open_table(MEMBERS).map_err(err)?;
                for user in &team.members {
                    if members.get(key(tenant, *user).as_slice()).map_err(err)?.is_none() {
                        return Err(DirectoryError::Invalid(format!("user {user} is not a member of this organization")));
                    }
                }
                let mut teams = tx.open_table(TEAMS).map_err(err)?;
                let (lo, hi) = range(tenant);
                for item in teams.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let other: Team = dec(item.map_err(err)?.1.value())?;
                    if other.name == team.name && other.id != team.id {
                        return Err(DirectoryError::Conflict(format!("a team named {:?} already exists", team.name)));
                    }
                }
                teams.insert(key(tenant, team.id).as_slice(), enc(&team)?.as_slice()).map_err(err)?;
            }
            tx.commit().map_err(err)
        }))
    }

    fn delete_team(&self, tenant: TenantId, team: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            let existed = tx.open_table(TEAMS).map_err(err)?.remove(key(tenant, team).as_slice()).map_err(err)?.is_some();
            tx.commit().map_err(err)?;
            Ok(existed)
        }))
    }

    fn put_integration<'a>(&'a self, tenant: TenantId, i: &'a Integration) -> BoxFuture<'a, Result<(), DirectoryError>> {
        let i = i.clone();
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            {
                if tx.open_table(ORGS).map_err(err)?.get(key(tenant, Uuid::nil()).as_slice()).map_err(err)?.is_none() {
                    return Err(DirectoryError::Invalid(format!("organization {tenant} does not exist")));
                }
                let mut t = tx.open_table(INTEGRATIONS).map_err(err)?;
                let (lo, hi) = range(tenant);
                for item in t.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let other: Integration = dec(item.map_err(err)?.1.value())?;
                    if other.provider == i.provider && other.scope == i.scope {
                        return Err(DirectoryError::Conflict(format!("a {} integration for scope {:?} exists already", i.provider, i.scope)));
                    }
                }
                t.insert(key(tenant, i.id).as_slice(), enc(&i)?.as_slice()).map_err(err)?;
            }
            tx.commit().map_err(err)
        }))
    }

    fn integrations(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Integration>, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let mut v: Vec<Integration> = Self::list(db, INTEGRATIONS, tenant)?;
            v.sort_by(|a, b| (&a.provider, &a.scope).cmp(&(&b.provider, &b.scope)));
            Ok(v)
        }))
    }

    fn delete_integration(&self, tenant: TenantId, id: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            let existed = tx.open_table(INTEGRATIONS).map_err(err)?.remove(key(tenant, id).as_slice()).map_err(err)?.is_some();
            tx.commit().map_err(err)?;
            Ok(existed)
        }))
    }

    fn put_invite<'a>(&'a self, tenant: TenantId, i: &'a Invite) -> BoxFuture<'a, Result<(), DirectoryError>> {
        let i = i.clone();
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            {
                if tx.open_table(ORGS).map_err(err)?.get(key(tenant, Uuid::nil()).as_slice()).map_err(err)?.is_none() {
                    return Err(DirectoryError::Invalid(format!("organization {tenant} does not exist")));
                }
                tx.open_table(INVITES).map_err(err)?.insert(key(tenant, i.id).as_slice(), enc(&i)?.as_slice()).map_err(err)?;
            }
            tx.commit().map_err(err)
        }))
    }

    fn invites(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<Invite>, DirectoryError>> {
        Box::pin(self.blocking(move |db| Self::list(db, INVITES, tenant)))
    }

    fn delete_invite(&self, tenant: TenantId, id: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            let existed = tx.open_table(INVITES).map_err(err)?.remove(key(tenant, id).as_slice()).map_err(err)?.is_some();
            tx.commit().map_err(err)?;
            Ok(existed)
        }))
    }

    fn accept_invite<'a>(
        &'a self,
        tenant: TenantId,
        code_sha256: &'a [u8],
        user: Uuid,
        now_unix: u64,
    ) -> BoxFuture<'a, Result<Option<Member>, DirectoryError>> {
        let digest = code_sha256.to_vec();
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            let member;
            {
                let mut invites = tx.open_table(INVITES).map_err(err)?;
                let (lo, hi) = range(tenant);
                let mut found = None;
                for item in invites.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let i: Invite = dec(item.map_err(err)?.1.value())?;
                    if i.code_sha256 == digest && i.accepted_unix.is_none() && i.expires_unix > now_unix {
                        found = Some(i);
                        break;
                    }
                }
                let Some(mut invite) = found else { return Ok(None) };
                let mut members = tx.open_table(MEMBERS).map_err(err)?;
                let inviter: Option<Member> = members.get(key(tenant, invite.invited_by).as_slice()).map_err(err)?.map(|v| dec(v.value())).transpose()?;
                if !super::may_invite(inviter.map(|m| m.role), invite.role) {
                    return Ok(None);
                }
                for item in members.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                    let m: Member = dec(item.map_err(err)?.1.value())?;
                    if m.email == invite.email {
                        return Err(DirectoryError::Conflict(format!("{} is a member already", invite.email)));
                    }
                }
                member = Member { user, email: invite.email.clone(), role: invite.role };
                members.insert(key(tenant, user).as_slice(), enc(&member)?.as_slice()).map_err(err)?;
                invite.accepted_unix = Some(now_unix);
                invites.insert(key(tenant, invite.id).as_slice(), enc(&invite)?.as_slice()).map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(Some(member))
        }))
    }

    fn revoke_token(&self, tenant: TenantId, jti: Uuid, expires_unix: u64, _by: Uuid) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            tx.open_table(REVOKED).map_err(err)?.insert(key(tenant, jti).as_slice(), expires_unix).map_err(err)?;
            tx.commit().map_err(err)
        }))
    }

    fn is_revoked(&self, tenant: TenantId, jti: Uuid) -> BoxFuture<'_, Result<bool, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            Ok(tx.open_table(REVOKED).map_err(err)?.get(key(tenant, jti).as_slice()).map_err(err)?.is_some())
        }))
    }

    fn retention_policy(&self) -> BoxFuture<'_, Result<RetentionPolicy, DirectoryError>> {
        Box::pin(self.blocking(|db| {
            let tx = db.begin_read().map_err(err)?;
            let mut policy = RetentionPolicy::default();
            let op = tx.open_table(OPERATOR).map_err(err)?;
            for table in RetentionTable::ALL {
                if let Some(v) = op.get(format!("default/{table}").as_str()).map_err(err)? {
                    policy.defaults.insert(table, dec(v.value())?);
                }
            }
            if let Some(v) = op.get("bounds").map_err(err)? {
                policy.bounds = dec(v.value())?;
            }
            for item in tx.open_table(RETENTION).map_err(err)?.iter().map_err(err)? {
                let (k, v) = item.map_err(err)?;
                let k = k.value();
                if let (Some(Ok(tenant)), Some(table)) = (k.get(..16).map(Uuid::from_slice), k.get(16..).and_then(table_of)) {
                    policy.overrides.insert((tenant, table), dec(v.value())?);
                }
            }
            Ok(policy)
        }))
    }

    fn set_retention_default(&self, table: RetentionTable, days: u16) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            tx.open_table(OPERATOR).map_err(err)?.insert(format!("default/{table}").as_str(), enc(&days)?.as_slice()).map_err(err)?;
            tx.commit().map_err(err)
        }))
    }

    fn set_retention_bounds(&self, bounds: Bounds) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            tx.open_table(OPERATOR).map_err(err)?.insert("bounds", enc(&bounds)?.as_slice()).map_err(err)?;
            tx.commit().map_err(err)
        }))
    }

    fn set_retention_override(&self, tenant: TenantId, table: RetentionTable, days: Option<u16>, _by: Uuid) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_write().map_err(err)?;
            {
                let mut t = tx.open_table(RETENTION).map_err(err)?;
                let k = key(tenant, override_id(table));
                match days {
                    Some(days) => t.insert(k.as_slice(), enc(&days)?.as_slice()).map(|_| ()),
                    None => t.remove(k.as_slice()).map(|_| ()),
                }
                .map_err(err)?;
            }
            tx.commit().map_err(err)
        }))
    }

    fn retention_overrides(&self, tenant: TenantId) -> BoxFuture<'_, Result<Vec<(RetentionTable, u16)>, DirectoryError>> {
        Box::pin(self.blocking(move |db| {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(RETENTION).map_err(err)?;
            let (lo, hi) = range(tenant);
            let mut out = Vec::new();
            for item in t.range(lo.as_slice()..=hi.as_slice()).map_err(err)? {
                let (k, v) = item.map_err(err)?;
                if let Some(table) = k.value().get(16..).and_then(table_of) {
                    out.push((table, dec(v.value())?));
                }
            }
            out.sort();
            Ok(out)
        }))
    }
}
