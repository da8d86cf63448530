//! The product's role table, in one place. Every management endpoint asks [`require`] for its
//! permission; nothing else decides who may do what.
//!
//! | role | dashboard | manage teams | manage integrations | invite members | retention | delete org |
//! |---|---|---|---|---|---|---|
//! | owner | yes | yes | yes | yes | yes | yes |
//! | admin | yes | yes | yes | yes | yes | no |
//! | member | yes | no | no | no | no | no |

use tandemu_ingest::auth::Role;

use crate::caller::Caller;
use crate::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Read every aggregate (members see what leads see).
    Dashboard,
    ManageTeams,
    ManageIntegrations,
    InviteMembers,
    /// The organization's retention overrides.
    ManageRetention,
    DeleteOrg,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Dashboard,
        Permission::ManageTeams,
        Permission::ManageIntegrations,
        Permission::InviteMembers,
        Permission::ManageRetention,
        Permission::DeleteOrg,
    ];

    fn describe(self) -> &'static str {
        match self {
            Permission::Dashboard => "view the dashboard",
            Permission::ManageTeams => "manage teams",
            Permission::ManageIntegrations => "manage integrations",
            Permission::InviteMembers => "invite members",
            Permission::ManageRetention => "manage retention",
            Permission::DeleteOrg => "delete the organization",
        }
    }
}

pub fn allows(role: Role, p: Permission) -> bool {
    match role {
        Role::Owner => true,
        Role::Admin => p != Permission::DeleteOrg,
        Role::Member => p == Permission::Dashboard,
    }
}

/// `Ok` when the caller's role has `p`, else a 403 that says who may.
pub fn require(caller: &Caller, p: Permission) -> Result<(), ApiError> {
    if allows(caller.role, p) {
        return Ok(());
    }
    let who = if p == Permission::DeleteOrg { "owners" } else { "owners and admins" };
    Err(ApiError::Forbidden(format!("only {who} may {}; your role is {}", p.describe(), role_name(caller.role))))
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandemu_schemas::{TenantId, UserId};
    use uuid::Uuid;

    /// The product's table, cell by cell: (role, [dashboard, teams, integrations, invite, retention, delete]).
    const TABLE: [(Role, [bool; 6]); 3] = [
        (Role::Owner, [true, true, true, true, true, true]),
        (Role::Admin, [true, true, true, true, true, false]),
        (Role::Member, [true, false, false, false, false, false]),
    ];

    #[test]
    fn every_cell_of_the_role_table() {
        for (role, row) in TABLE {
            for (p, expected) in Permission::ALL.into_iter().zip(row) {
                assert_eq!(allows(role, p), expected, "{role:?} / {p:?}");
                let caller = Caller { tenant: TenantId(Uuid::nil()), user: UserId(Uuid::nil()), role, jti: Uuid::nil(), exp: 0 };
                match require(&caller, p) {
                    Ok(()) => assert!(expected),
                    Err(e) => {
                        assert!(!expected);
                        assert_eq!(e.status(), axum::http::StatusCode::FORBIDDEN);
                        assert!(e.to_string().contains(role_name(role)), "{e}");
                    }
                }
            }
        }
    }
}
