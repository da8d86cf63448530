//! One conformance suite for both directories: the embedded one and PostgreSQL (as a non-owner
//! service role under row-level security). Same calls, same answers, and one organization's
//! data is never visible from another's.

mod common;

use common::TestDb;
use tandemu_ingest::auth::Role;
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::directory::{Directory, DirectoryError, Member, Org, PostgresDirectory, Team};
use tandemu_schemas::TenantId;
use uuid::Uuid;

fn member(role: Role) -> Member {
    let user = Uuid::new_v4();
    Member { user, email: format!("{user}@example.invalid"), role }
}

async fn conformance(d: &dyn Directory) {
    let kind = d.kind();
    let (a, b) = (Org { id: Uuid::new_v4(), name: "Acme".into() }, Org { id: Uuid::new_v4(), name: "Globex".into() });
    let (ta, tb) = (TenantId(a.id), TenantId(b.id));
    let (owner_a, owner_b) = (member(Role::Owner), member(Role::Owner));
    d.create_org(&a, &owner_a).await.unwrap();
    d.create_org(&b, &owner_b).await.unwrap();
    assert!(matches!(d.create_org(&a, &owner_a).await, Err(DirectoryError::Conflict(_))), "{kind}: an org is created once");
    assert_eq!(d.org(ta).await.unwrap(), Some(a.clone()));

    let dev = member(Role::Member);
    let lead = member(Role::Admin);
    d.put_member(ta, &dev).await.unwrap();
    d.put_member(ta, &lead).await.unwrap();
    assert_eq!(d.members(ta).await.unwrap().len(), 3, "{kind}");
    assert_eq!(d.members(tb).await.unwrap(), vec![owner_b.clone()], "{kind}: B sees only its own");
    assert_eq!(d.member(ta, dev.user).await.unwrap(), Some(dev.clone()));
    assert_eq!(d.member(tb, dev.user).await.unwrap(), None, "{kind}: A's member is not B's");
    // Changing a role.
    d.put_member(ta, &Member { role: Role::Admin, ..dev.clone() }).await.unwrap();
    assert_eq!(d.member(ta, dev.user).await.unwrap().unwrap().role, Role::Admin);

    let mut platform = Team { id: Uuid::new_v4(), name: "platform".into(), members: vec![dev.user, lead.user] };
    platform.members.sort();
    d.put_team(ta, &platform).await.unwrap();
    assert_eq!(d.teams(ta).await.unwrap(), vec![platform.clone()], "{kind}");
    assert!(d.teams(tb).await.unwrap().is_empty(), "{kind}: teams stay in their org");
    let foreign = Team { id: Uuid::new_v4(), name: "x".into(), members: vec![owner_b.user] };
    assert!(matches!(d.put_team(ta, &foreign).await, Err(DirectoryError::Invalid(_))), "{kind}: only members join teams");

    assert!(d.remove_member(ta, dev.user).await.unwrap());
    assert!(!d.remove_member(ta, dev.user).await.unwrap());
    assert_eq!(d.teams(ta).await.unwrap()[0].members, vec![lead.user], "{kind}: a removed member leaves their teams");
    assert!(!d.remove_member(tb, lead.user).await.unwrap(), "{kind}: B cannot remove A's member");

    let jti = Uuid::new_v4();
    d.revoke_token(ta, jti, 4_000_000_000, owner_a.user).await.unwrap();
    d.revoke_token(ta, jti, 4_000_000_000, owner_a.user).await.unwrap();
    assert!(d.is_revoked(ta, jti).await.unwrap());
    assert!(!d.is_revoked(tb, jti).await.unwrap(), "{kind}: revocations are per org");

    // The last owner stays, even when two requests demote the last two owners at once.
    assert!(matches!(d.remove_member(tb, owner_b.user).await, Err(DirectoryError::Conflict(_))), "{kind}: the last owner cannot go");
    assert!(matches!(d.put_member(tb, &Member { role: Role::Admin, ..owner_b.clone() }).await, Err(DirectoryError::Conflict(_))));
    let second = member(Role::Owner);
    d.put_member(tb, &second).await.unwrap();
    for round in 0..5 {
        let demote = |m: &Member| Member { role: Role::Member, ..m.clone() };
        let (x, y) = (demote(&owner_b), demote(&second));
        let (rx, ry) = tokio::join!(d.put_member(tb, &x), d.put_member(tb, &y));
        assert!(rx.is_ok() != ry.is_ok(), "{kind} round {round}: exactly one of two concurrent demotions passes: {rx:?} {ry:?}");
        let owners: Vec<Uuid> = d.members(tb).await.unwrap().iter().filter(|m| m.role == Role::Owner).map(|m| m.user).collect();
        assert_eq!(owners.len(), 1, "{kind} round {round}");
        // Both owners again for the next round.
        let back = if owners[0] == owner_b.user { second.clone() } else { owner_b.clone() };
        d.put_member(tb, &back).await.unwrap();
    }

    assert!(d.delete_team(ta, platform.id).await.unwrap());
    assert!(d.teams(ta).await.unwrap().is_empty());
    assert!(!d.delete_org(TenantId(Uuid::new_v4())).await.unwrap());
    assert!(d.delete_org(ta).await.unwrap());
    assert_eq!(d.org(ta).await.unwrap(), None);
    assert!(d.members(ta).await.unwrap().is_empty(), "{kind}: deleting an org deletes its members");
    assert_eq!(d.org(tb).await.unwrap(), Some(b), "{kind}: and nothing of another org");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_directory() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_directory_as_the_service_role() {
    let db = TestDb::new("tandemu_directory", "tandemu_directory_service").await;
    conformance(&PostgresDirectory::new(db.service.clone())).await;
    db.drop().await;
}
