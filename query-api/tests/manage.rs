//! Management over HTTP, on both directories (embedded, and PostgreSQL as the RLS-bound service
//! role): every cell of the product's role table that has an endpoint, allowed and refused;
//! membership re-checked (a removed member's token stops working) and revocation by `jti`; and
//! no call of one organization reaches another's members or teams.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

mod common;
use common::TestDb;
use tandemu_ingest::auth::{self, Role, Verifier};
use tandemu_processor::retention::{Bounds, RetentionTable};
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::directory::{Directory, Member, Org, PostgresDirectory};
use tandemu_query_api::secrets::SecretBox;
use tandemu_query_api::{ApiConfig, ApiState, router};
use tandemu_schemas::TenantId;
use uuid::Uuid;

const SECRET: &[u8] = b"manage-test-secret-of-32-bytes-or-more!!";

struct Person {
    member: Member,
    token: String,
    jti: Uuid,
}

fn person(org: Uuid, role: Role) -> Person {
    let user = Uuid::new_v4();
    let claims = auth::claims_for(org, user, role, Duration::from_secs(3600));
    Person { member: Member { user, email: format!("{user}@x.invalid"), role }, token: auth::issue_hs256(SECRET, &claims).unwrap(), jti: claims.jti }
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// `operator` is the same directory as the operator reaches it (in PostgreSQL: as the owner of
/// the tables, since the service role may not change retention defaults).
async fn scenario(directory: Arc<dyn Directory>, operator: Arc<dyn Directory>) {
    let kind = directory.kind();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).unwrap());
    let key = SecretBox::generate_hex();
    let sealer = SecretBox::from_hex(&key).unwrap();
    let state = ApiState::new(store, directory.clone(), Verifier::hs256(SECRET).unwrap()).with_signing_secret(SECRET.to_vec()).with_secrets(sealer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api { base: format!("http://{}", listener.local_addr().unwrap()), http: reqwest::Client::new() };
    let app = router(state, &ApiConfig::default());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (owner, admin, member) = (person(a, Role::Owner), person(a, Role::Admin), person(a, Role::Member));
    let other_owner = person(b, Role::Owner);
    directory.create_org(&Org { id: a, name: "Acme".into() }, &owner.member).await.unwrap();
    directory.put_member(TenantId(a), &admin.member).await.unwrap();
    directory.put_member(TenantId(a), &member.member).await.unwrap();
    directory.create_org(&Org { id: b, name: "Globex".into() }, &other_owner.member).await.unwrap();
    let everyone = [(&owner, "owner"), (&admin, "admin"), (&member, "member")];

    // Dashboard: every role.
    for (p, role) in everyone {
        for path in ["/v1/org", "/v1/members", "/v1/teams", "/v1/sessions", "/v1/tools"] {
            let (status, body) = api.call(Method::GET, path, &p.token, None).await;
            assert_eq!(status, 200, "{kind}: {role} GET {path}: {body}");
        }
        let (_, org) = api.call(Method::GET, "/v1/org", &p.token, None).await;
        assert_eq!((org["name"].as_str(), org["your_role"].as_str()), (Some("Acme"), Some(role)));
    }
    let (_, members) = api.call(Method::GET, "/v1/members", &member.token, None).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 3, "{kind}");

    // Manage teams: owner and admin, not member.
    let mut team_id = String::new();
    for (p, role) in everyone {
        let body = json!({"name": format!("team-{role}"), "members": [member.member.user]});
        let (status, t) = api.call(Method::POST, "/v1/teams", &p.token, Some(body)).await;
        let want = if role == "member" { 403 } else { 201 };
        assert_eq!(status, want, "{kind}: {role} POST /v1/teams: {t}");
        if status == 403 {
            assert_eq!(t["error"], "forbidden");
            assert!(t["message"].as_str().unwrap().contains("manage teams"), "{t}");
        } else {
            team_id = t["id"].as_str().unwrap().to_owned();
        }
    }
    let (status, _) = api.call(Method::PUT, &format!("/v1/teams/{team_id}"), &member.token, Some(json!({"name": "x"}))).await;
    assert_eq!(status, 403);
    let (status, _) = api.call(Method::DELETE, &format!("/v1/teams/{team_id}"), &member.token, None).await;
    assert_eq!(status, 403);
    // The team filter resolves through the directory, by name or id.
    let (status, _) = api.call(Method::GET, "/v1/sessions?team=team-owner", &member.token, None).await;
    assert_eq!(status, 200);
    let (status, _) = api.call(Method::GET, &format!("/v1/sessions/summary?group_by=team&team={team_id}"), &member.token, None).await;
    assert_eq!(status, 200);

    // Invite members (add, and issue tokens): owner and admin, not member.
    for (p, role) in everyone {
        let new = Uuid::new_v4();
        let (status, body) = api.call(Method::PUT, &format!("/v1/members/{new}"), &p.token, Some(json!({"email": format!("{new}@x.invalid")}))).await;
        assert_eq!(status, if role == "member" { 403 } else { 200 }, "{kind}: {role} PUT member: {body}");
        let (status, body) = api.call(Method::POST, "/v1/tokens", &p.token, Some(json!({"user": member.member.user, "ttl_days": 7}))).await;
        assert_eq!(status, if role == "member" { 403 } else { 201 }, "{kind}: {role} POST token: {body}");
        if status == 201 {
            let (status, _) = api.call(Method::GET, "/v1/org", body["token"].as_str().unwrap(), None).await;
            assert_eq!(status, 200, "{kind}: an issued token works");
            assert_eq!(body["role"], "member", "{kind}: it carries the member's role");
        }
    }
    // Manage integrations: owner and admin, not member; the token is sealed and never returned.
    let canary = "ghp_CANARY_integration_token_0123456789";
    for (p, role) in everyone {
        let body = json!({"provider": "github", "scope": format!("org-{role}"), "token": canary});
        let (status, created) = api.call(Method::POST, "/v1/integrations", &p.token, Some(body)).await;
        assert_eq!(status, if role == "member" { 403 } else { 201 }, "{kind}: {role} POST integration: {created}");
        assert!(!created.to_string().contains("CANARY"), "{kind}: the token is never returned");
        let (status, list) = api.call(Method::GET, "/v1/integrations", &p.token, None).await;
        assert_eq!(status, if role == "member" { 403 } else { 200 });
        assert!(!list.to_string().contains("CANARY") && !list.to_string().contains("cipher"), "{kind}: {list}");
    }
    let (status, _) = api.call(Method::POST, "/v1/integrations", &owner.token, Some(json!({"provider": "github", "scope": "org-owner", "token": "x"}))).await;
    assert_eq!(status, 409, "{kind}: one integration per provider and scope");
    let (status, _) = api.call(Method::POST, "/v1/integrations", &owner.token, Some(json!({"provider": "myspace", "token": "x"}))).await;
    assert_eq!(status, 400);
    let stored = directory.integrations(TenantId(a)).await.unwrap();
    assert_eq!(stored.len(), 2, "{kind}");
    for i in &stored {
        assert!(!i.cipher.windows(6).any(|w| w == b"CANARY"), "{kind}: stored sealed");
        assert_eq!(sealer.open(a, i.id, &i.nonce, &i.cipher).unwrap(), canary.as_bytes(), "{kind}: and opens with the key");
    }
    let (_, theirs) = api.call(Method::GET, "/v1/integrations", &other_owner.token, None).await;
    assert!(theirs["data"].as_array().unwrap().is_empty(), "{kind}: B sees none of A's integrations");
    let (status, _) = api.call(Method::DELETE, &format!("/v1/integrations/{}", stored[0].id), &other_owner.token, None).await;
    assert_eq!(status, 404, "{kind}: B cannot remove A's integration");
    let (status, _) = api.call(Method::DELETE, &format!("/v1/integrations/{}", stored[0].id), &member.token, None).await;
    assert_eq!(status, 403);
    let (status, _) = api.call(Method::DELETE, &format!("/v1/integrations/{}", stored[0].id), &admin.token, None).await;
    assert_eq!(status, 204);

    // Retention: owners and admins set their organization's overrides within the operator's
    // bounds; members cannot; another organization is untouched.
    operator.set_retention_bounds(Bounds::new(30, 1_000).unwrap()).await.unwrap();
    operator.set_retention_default(RetentionTable::Friction, 90).await.unwrap();
    for (p, role) in everyone {
        let (status, body) = api.call(Method::GET, "/v1/retention", &p.token, None).await;
        assert_eq!(status, if role == "member" { 403 } else { 200 }, "{kind}: {role} GET /v1/retention: {body}");
        let (status, _) = api.call(Method::PUT, "/v1/retention", &p.token, Some(json!({"sessions": 800}))).await;
        assert_eq!(status, if role == "member" { 403 } else { 200 }, "{kind}: {role} PUT /v1/retention");
    }
    let (_, view) = api.call(Method::PUT, "/v1/retention", &owner.token, Some(json!({"completion": 400, "friction": null}))).await;
    let row = |v: &Value, t: &str| v["tables"].as_array().unwrap().iter().find(|r| r["table"] == t).cloned().unwrap();
    assert_eq!(row(&view, "sessions")["effective_days"], 800, "{kind}: {view}");
    assert_eq!(row(&view, "completion")["override_days"], 400);
    assert_eq!((row(&view, "friction")["default_days"].clone(), row(&view, "friction")["override_days"].clone()), (json!(90), Value::Null));
    assert_eq!(view["bounds"], json!({"min_days": 30, "max_days": 1000}));
    let (status, body) = api.call(Method::PUT, "/v1/retention", &owner.token, Some(json!({"sessions": 5000}))).await;
    assert_eq!(status, 400, "{kind}: outside the bounds");
    assert!(body["message"].as_str().unwrap().contains("between 30 and 1000"), "{body}");
    let (status, _) = api.call(Method::PUT, "/v1/retention", &owner.token, Some(json!({"logs": 10}))).await;
    assert_eq!(status, 400, "{kind}: unknown table");
    let (status, _) = api.call(Method::PUT, "/v1/retention", &owner.token, Some(json!({"sessions": 40, "org": b}))).await;
    assert_eq!(status, 400, "{kind}: an org in the body is refused, not obeyed");
    let (_, theirs) = api.call(Method::GET, "/v1/retention", &other_owner.token, None).await;
    assert!(theirs["tables"].as_array().unwrap().iter().all(|r| r["override_days"].is_null()), "{kind}: B has no overrides: {theirs}");
    let policy = directory.retention_policy().await.unwrap();
    assert_eq!(policy.effective(a, RetentionTable::Sessions), 800, "{kind}: the processor's view has A's override");
    assert_eq!(policy.effective(b, RetentionTable::Sessions), 365, "{kind}: and B on the default");
    assert_eq!(policy.effective(a, RetentionTable::Friction), 90);

    // Invites: owners and admins invite; the code is shown once and only its digest is kept;
    // accepting it (no token) makes a member with the invite's role, once, before it expires.
    for (p, role) in everyone {
        let (status, body) = api.call(Method::POST, "/v1/invites", &p.token, Some(json!({"email": format!("new-{role}@x.invalid")}))).await;
        assert_eq!(status, if role == "member" { 403 } else { 201 }, "{kind}: {role} POST /v1/invites: {body}");
        let (status, _) = api.call(Method::GET, "/v1/invites", &p.token, None).await;
        assert_eq!(status, if role == "member" { 403 } else { 200 });
    }
    let (status, _) = api.call(Method::POST, "/v1/invites", &admin.token, Some(json!({"email": "boss@x.invalid", "role": "owner"}))).await;
    assert_eq!(status, 403, "{kind}: only owners invite owners");
    let (status, _) = api.call(Method::POST, "/v1/invites", &owner.token, Some(json!({"email": member.member.email.clone()}))).await;
    assert_eq!(status, 409, "{kind}: a member is not invited again");
    let (status, invite) = api.call(Method::POST, "/v1/invites", &owner.token, Some(json!({"email": "lead@x.invalid", "role": "admin", "ttl_days": 2}))).await;
    assert_eq!(status, 201, "{kind}: {invite}");
    let code = invite["code"].as_str().unwrap().to_owned();
    let (_, listed) = api.call(Method::GET, "/v1/invites", &owner.token, None).await;
    assert!(!listed.to_string().contains(&code[30..]), "{kind}: the code is never listed");
    assert!(listed["data"].as_array().unwrap().iter().any(|i| i["email"] == "lead@x.invalid" && i["status"] == "pending"), "{listed}");
    let stored = directory.invites(TenantId(a)).await.unwrap();
    assert!(stored.iter().all(|i| !i.code_sha256.windows(16).any(|w| code.as_bytes().windows(16).any(|c| c == w))), "{kind}: only a digest is stored");
    let (_, theirs) = api.call(Method::GET, "/v1/invites", &other_owner.token, None).await;
    assert!(theirs["data"].as_array().unwrap().is_empty(), "{kind}: B sees none of A's invites");
    let (status, _) = api.call(Method::DELETE, &format!("/v1/invites/{}", invite["id"].as_str().unwrap()), &other_owner.token, None).await;
    assert_eq!(status, 404, "{kind}: B cannot withdraw A's invite");
    // A code whose organization is changed to B's matches nothing.
    let forged = code.replacen(&a.simple().to_string(), &b.simple().to_string(), 1);
    let (status, _) = api.call(Method::POST, "/v1/invites/accept", "", Some(json!({"code": forged}))).await;
    assert_eq!(status, 404, "{kind}: a code with another org in it opens nothing");
    let (status, _) = api.call(Method::POST, "/v1/invites/accept", "", Some(json!({"code": "tinv_nonsense"}))).await;
    assert_eq!(status, 400);
    let (status, joined) = api.call(Method::POST, "/v1/invites/accept", "", Some(json!({"code": code}))).await;
    assert_eq!(status, 201, "{kind}: {joined}");
    assert_eq!(
        (joined["org"].as_str(), joined["role"].as_str(), joined["email"].as_str()),
        (Some(a.to_string().as_str()), Some("admin"), Some("lead@x.invalid"))
    );
    let (status, org) = api.call(Method::GET, "/v1/org", joined["token"].as_str().unwrap(), None).await;
    assert_eq!((status, org["your_role"].as_str()), (200, Some("admin")), "{kind}: the new member's token works, with the invite's role");
    let (status, _) = api.call(Method::POST, "/v1/invites/accept", "", Some(json!({"code": code}))).await;
    assert_eq!(status, 404, "{kind}: a code is accepted once");
    let expired = tandemu_query_api::directory::Invite {
        id: Uuid::new_v4(),
        email: "late@x.invalid".into(),
        role: Role::Member,
        code_sha256: vec![7; 32],
        invited_by: owner.member.user,
        expires_unix: 1,
        accepted_unix: None,
    };
    directory.put_invite(TenantId(a), &expired).await.unwrap();
    assert_eq!(directory.accept_invite(TenantId(a), &[7; 32], Uuid::new_v4(), 2).await.unwrap(), None, "{kind}: an expired invite opens nothing");
    let (_, listed) = api.call(Method::GET, "/v1/invites", &owner.token, None).await;
    let status_of = |email: &str| listed["data"].as_array().unwrap().iter().find(|i| i["email"] == email).map(|i| i["status"].clone()).unwrap();
    assert_eq!((status_of("lead@x.invalid"), status_of("late@x.invalid")), (json!("accepted"), json!("expired")));
    let (status, _) = api.call(Method::DELETE, &format!("/v1/invites/{}", expired.id), &owner.token, None).await;
    assert_eq!(status, 204);
    // An invite is only as good as its inviter: an admin who invites and is then removed cannot
    // come back through the code.
    let leaver = person(a, Role::Admin);
    directory.put_member(TenantId(a), &leaver.member).await.unwrap();
    let (status, kept) = api.call(Method::POST, "/v1/invites", &leaver.token, Some(json!({"email": "comeback@x.invalid", "role": "admin"}))).await;
    assert_eq!(status, 201, "{kind}: {kept}");
    assert!(directory.remove_member(TenantId(a), leaver.member.user).await.unwrap());
    let (status, _) = api.call(Method::POST, "/v1/invites/accept", "", Some(json!({"code": kept["code"]}))).await;
    assert_eq!(status, 404, "{kind}: the inviter left, the invite no longer opens");

    // An admin cannot mint an owner's token (it would carry the owner role).
    let (status, _) = api.call(Method::POST, "/v1/tokens", &admin.token, Some(json!({"user": owner.member.user}))).await;
    assert_eq!(status, 403, "{kind}: admins do not issue owner tokens");
    let (status, _) = api.call(Method::POST, "/v1/tokens", &owner.token, Some(json!({"user": owner.member.user}))).await;
    assert_eq!(status, 201, "{kind}: owners do");

    // Only an owner makes an owner; the last owner stays.
    let new = Uuid::new_v4();
    let (status, _) = api.call(Method::PUT, &format!("/v1/members/{new}"), &admin.token, Some(json!({"email": "o@x.invalid", "role": "owner"}))).await;
    assert_eq!(status, 403);
    let (status, _) = api.call(Method::DELETE, &format!("/v1/members/{}", owner.member.user), &admin.token, None).await;
    assert_eq!(status, 409, "{kind}: the last owner cannot be removed");

    // Another organization reaches nothing of this one.
    let (_, theirs) = api.call(Method::GET, "/v1/members", &other_owner.token, None).await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 1, "{kind}: B sees its own member only");
    let (status, _) = api.call(Method::DELETE, &format!("/v1/members/{}", member.member.user), &other_owner.token, None).await;
    assert_eq!(status, 404, "{kind}: B cannot remove A's member");
    let (status, _) = api.call(Method::PUT, &format!("/v1/teams/{team_id}"), &other_owner.token, Some(json!({"name": "stolen"}))).await;
    assert_eq!(status, 404, "{kind}: B cannot touch A's team");
    let (status, _) = api.call(Method::GET, &format!("/v1/sessions?team={team_id}"), &other_owner.token, None).await;
    assert_eq!(status, 400, "{kind}: A's team is not a team of B");
    let (status, body) = api.call(Method::POST, "/v1/tokens", &other_owner.token, Some(json!({"user": member.member.user}))).await;
    assert_eq!(status, 400, "{kind}: B cannot issue tokens for A's member: {body}");

    // Revocation by jti, and membership re-checked.
    let (status, _) = api.call(Method::DELETE, &format!("/v1/tokens/{}", admin.jti), &owner.token, None).await;
    assert_eq!(status, 204);
    let (status, body) = api.call(Method::GET, "/v1/org", &admin.token, None).await;
    assert_eq!(status, 401, "{kind}: a revoked token stops working");
    assert!(body["message"].as_str().unwrap().contains("revoked"));
    let (status, _) = api.call(Method::DELETE, &format!("/v1/members/{}", member.member.user), &owner.token, None).await;
    assert_eq!(status, 204);
    let (status, body) = api.call(Method::GET, "/v1/sessions", &member.token, None).await;
    assert_eq!(status, 401, "{kind}: a removed member's token stops working");
    assert!(body["message"].as_str().unwrap().contains("no longer a member"));

    // Delete org: owners only.
    let admin2 = person(a, Role::Admin);
    directory.put_member(TenantId(a), &admin2.member).await.unwrap();
    let (status, _) = api.call(Method::DELETE, "/v1/org", &admin2.token, None).await;
    assert_eq!(status, 403, "{kind}: admins cannot delete the organization");
    let (status, _) = api.call(Method::DELETE, "/v1/org", &owner.token, None).await;
    assert_eq!(status, 204);
    assert!(directory.org(TenantId(a)).await.unwrap().is_none());
    let (status, _) = api.call(Method::GET, "/v1/sessions", &owner.token, None).await;
    assert_eq!(status, 401, "{kind}: a deleted organization's tokens stay refused");
    let (status, _) = api.call(Method::POST, "/v1/org", &owner.token, Some(json!({"name": "again", "email": "o@x.invalid"}))).await;
    assert_eq!(status, 401, "{kind}: and it cannot be registered again");
    assert!(directory.org(TenantId(b)).await.unwrap().is_some(), "{kind}: the other organization is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_on_the_embedded_directory() {
    let dir = tempfile::tempdir().unwrap();
    let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap());
    scenario(directory.clone(), directory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_on_postgres() {
    let db = TestDb::new("tandemu_manage", "tandemu_manage_service").await;
    let as_service = PostgresDirectory::new(db.service.clone());
    let refused = as_service.set_retention_default(RetentionTable::Sessions, 30).await.expect_err("the service role cannot");
    assert!(refused.to_string().contains("the role that ran `tandemu migrate`"), "{refused}");
    scenario(Arc::new(as_service), Arc::new(PostgresDirectory::new(db.owner.clone()))).await;
    db.drop().await;
}
