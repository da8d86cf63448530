//! Management endpoints: the organization, its members, teams and tokens. Each one asks
//! [`roles::require`] for its permission first; the tenant is always the caller's.

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tandemu_ingest::auth::{self, Role};
use uuid::Uuid;

use crate::caller::Caller;
use crate::directory::{Integration, Member, Org, PROVIDERS, Team, parse_role};
use crate::error::ApiError;
use crate::roles::{Permission, require, role_name};
use crate::router::ApiState;

type Answer = Result<Response, ApiError>;

/// `Json<T>` whose rejection is an [`ApiError`] (a 400 in the API's error shape).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

fn member_json(m: &Member) -> serde_json::Value {
    json!({"user": m.user, "email": m.email, "role": role_name(m.role)})
}

fn team_json(t: &Team) -> serde_json::Value {
    json!({"id": t.id, "name": t.name, "members": t.members})
}

/// `GET /v1/org`
pub async fn get_org(State(st): State<ApiState>, caller: Caller) -> Answer {
    require(&caller, Permission::Dashboard)?;
    let org =
        st.directory.org(caller.tenant).await?.ok_or_else(|| ApiError::NotFound("this organization is not set up in the directory (tandemu setup)".into()))?;
    Ok(Json(json!({"id": org.id, "name": org.name, "your_role": role_name(caller.role)})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgBody {
    pub name: String,
    /// The first owner's email (the caller).
    pub email: String,
}

/// `POST /v1/org`: registers the caller's organization in the directory, with the caller as its
/// first owner (the first-run flow of `tandemu setup`). Only with an owner token, and only once.
pub async fn create_org(State(st): State<ApiState>, caller: Caller, ApiJson(body): ApiJson<CreateOrgBody>) -> Answer {
    if caller.role != Role::Owner {
        return Err(ApiError::Forbidden(format!("only an owner token registers its organization; your role is {}", role_name(caller.role))));
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::BadRequest("name: 1 to 200 characters".into()));
    }
    if !body.email.contains('@') {
        return Err(ApiError::BadRequest("email: expected an email address".into()));
    }
    if st.directory.org(caller.tenant).await?.is_some() {
        return Err(ApiError::Conflict("this organization is registered already".into()));
    }
    let org = Org { id: *caller.tenant.as_uuid(), name: name.to_owned() };
    let owner = Member { user: *caller.user.as_uuid(), email: body.email.trim().to_owned(), role: Role::Owner };
    st.directory.create_org(&org, &owner).await?;
    st.checks.clear();
    Ok((StatusCode::CREATED, Json(json!({"id": org.id, "name": org.name, "owner": member_json(&owner)}))).into_response())
}

/// `DELETE /v1/org`: owners only.
pub async fn delete_org(State(st): State<ApiState>, caller: Caller) -> Answer {
    require(&caller, Permission::DeleteOrg)?;
    if !st.directory.delete_org(caller.tenant).await? {
        return Err(ApiError::NotFound("no such organization".into()));
    }
    // Every token of the organization is refused from now on (revocations outlive it).
    st.directory.revoke_token(caller.tenant, crate::caller::ORG_DELETED, 253_402_300_799, *caller.user.as_uuid()).await?;
    st.checks.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/members`
pub async fn list_members(State(st): State<ApiState>, caller: Caller) -> Answer {
    require(&caller, Permission::Dashboard)?;
    let members: Vec<_> = st.directory.members(caller.tenant).await?.iter().map(member_json).collect();
    Ok(Json(json!({"data": members})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    pub email: String,
    #[serde(default)]
    pub role: Option<String>,
}

/// `PUT /v1/members/{user}`: add a member or change one's role. Owners and admins; only an
/// owner may make an owner.
pub async fn put_member(State(st): State<ApiState>, caller: Caller, Path(user): Path<Uuid>, ApiJson(body): ApiJson<MemberBody>) -> Answer {
    require(&caller, Permission::InviteMembers)?;
    let role = parse_role(body.role.as_deref().unwrap_or("member")).map_err(ApiError::BadRequest)?;
    if role == Role::Owner && caller.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners may make an owner".into()));
    }
    if body.email.trim().is_empty() || !body.email.contains('@') {
        return Err(ApiError::BadRequest("email: expected an email address".into()));
    }
    let m = Member { user, email: body.email.trim().to_owned(), role };
    st.directory.put_member(caller.tenant, &m).await?;
    st.checks.clear();
    Ok(Json(member_json(&m)).into_response())
}

/// `DELETE /v1/members/{user}`: owners and admins; the last owner cannot be removed.
pub async fn delete_member(State(st): State<ApiState>, caller: Caller, Path(user): Path<Uuid>) -> Answer {
    require(&caller, Permission::InviteMembers)?;
    if !st.directory.remove_member(caller.tenant, user).await? {
        return Err(ApiError::NotFound(format!("user {user} is not a member")));
    }
    st.checks.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/teams`
pub async fn list_teams(State(st): State<ApiState>, caller: Caller) -> Answer {
    require(&caller, Permission::Dashboard)?;
    let teams: Vec<_> = st.directory.teams(caller.tenant).await?.iter().map(team_json).collect();
    Ok(Json(json!({"data": teams})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    pub name: String,
    #[serde(default)]
    pub members: Vec<Uuid>,
}

/// `POST /v1/teams`: owners and admins.
pub async fn create_team(State(st): State<ApiState>, caller: Caller, ApiJson(body): ApiJson<TeamBody>) -> Answer {
    require(&caller, Permission::ManageTeams)?;
    let team = Team { id: Uuid::new_v4(), name: body.name.trim().to_owned(), members: body.members };
    st.directory.put_team(caller.tenant, &team).await?;
    Ok((StatusCode::CREATED, Json(team_json(&team))).into_response())
}

/// `PUT /v1/teams/{id}`: rename a team or set its members.
pub async fn put_team(State(st): State<ApiState>, caller: Caller, Path(id): Path<Uuid>, ApiJson(body): ApiJson<TeamBody>) -> Answer {
    require(&caller, Permission::ManageTeams)?;
    if !st.directory.teams(caller.tenant).await?.iter().any(|t| t.id == id) {
        return Err(ApiError::NotFound(format!("no team {id}")));
    }
    let team = Team { id, name: body.name.trim().to_owned(), members: body.members };
    st.directory.put_team(caller.tenant, &team).await?;
    Ok(Json(team_json(&team)).into_response())
}

/// `DELETE /v1/teams/{id}`
pub async fn delete_team(State(st): State<ApiState>, caller: Caller, Path(id): Path<Uuid>) -> Answer {
    require(&caller, Permission::ManageTeams)?;
    if !st.directory.delete_team(caller.tenant, id).await? {
        return Err(ApiError::NotFound(format!("no team {id}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The member the token is for.
    pub user: Uuid,
    /// Validity in days (default 30, at most 365).
    #[serde(default)]
    pub ttl_days: Option<u64>,
}

/// `POST /v1/tokens`: a token for a member of the organization (the plugin's setup flow).
/// Owners and admins. The token carries the member's current role.
pub async fn issue_token(State(st): State<ApiState>, caller: Caller, ApiJson(body): ApiJson<TokenBody>) -> Answer {
    require(&caller, Permission::InviteMembers)?;
    let secret = st.signing_secret.as_ref().ok_or_else(|| ApiError::Unavailable("this API is not configured to issue tokens".into()))?;
    let ttl_days = body.ttl_days.unwrap_or(30);
    if !(1..=365).contains(&ttl_days) {
        return Err(ApiError::BadRequest("ttl_days: expected 1 to 365".into()));
    }
    let member = st
        .directory
        .member(caller.tenant, body.user)
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("user {} is not a member of this organization", body.user)))?;
    // A token carries its member's role: an admin minting an owner's would become an owner.
    if member.role == Role::Owner && caller.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners may issue a token for an owner".into()));
    }
    let claims = auth::claims_for(*caller.tenant.as_uuid(), member.user, member.role, std::time::Duration::from_secs(ttl_days * 86_400));
    let token = auth::issue_hs256(secret, &claims).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "jti": claims.jti, "user": member.user, "role": role_name(member.role), "expires_unix": claims.exp})))
        .into_response())
}

/// `DELETE /v1/tokens/{jti}`: revoke a token. Owners and admins revoke any of the organization;
/// anyone may revoke the token they call with.
pub async fn revoke_token(State(st): State<ApiState>, caller: Caller, Path(jti): Path<Uuid>) -> Answer {
    if jti != caller.jti {
        require(&caller, Permission::InviteMembers)?;
    }
    // Unknown expiry for another token: keep the revocation as long as any token can live.
    let expires = if jti == caller.jti { caller.exp } else { now_unix() + 366 * 86_400 };
    st.directory.revoke_token(caller.tenant, jti, expires, *caller.user.as_uuid()).await?;
    st.checks.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    pub provider: String,
    #[serde(default)]
    pub scope: String,
    /// The provider's API token; stored sealed, never returned.
    pub token: String,
}

fn integration_json(i: &Integration) -> serde_json::Value {
    // Deliberately no token field of any kind: not the plaintext, not the ciphertext.
    json!({"id": i.id, "provider": i.provider, "scope": i.scope, "created_by": i.created_by})
}

/// `GET /v1/integrations`: owners and admins.
pub async fn list_integrations(State(st): State<ApiState>, caller: Caller) -> Answer {
    require(&caller, Permission::ManageIntegrations)?;
    let list: Vec<_> = st.directory.integrations(caller.tenant).await?.iter().map(integration_json).collect();
    Ok(Json(json!({"data": list})).into_response())
}

/// `POST /v1/integrations`: owners and admins. The token is sealed with AES-256-GCM under
/// `ENCRYPTION_KEY` before it is stored.
pub async fn create_integration(State(st): State<ApiState>, caller: Caller, ApiJson(body): ApiJson<IntegrationBody>) -> Answer {
    require(&caller, Permission::ManageIntegrations)?;
    let sealer = st.secrets.as_ref().ok_or_else(|| ApiError::Unavailable("integrations need ENCRYPTION_KEY to be configured".into()))?;
    if !PROVIDERS.contains(&body.provider.as_str()) {
        return Err(ApiError::BadRequest(format!("provider {:?}: expected one of {}", body.provider, PROVIDERS.join(", "))));
    }
    if body.token.is_empty() || body.token.len() > 4096 {
        return Err(ApiError::BadRequest("token: expected 1 to 4096 bytes".into()));
    }
    if body.scope.len() > 200 {
        return Err(ApiError::BadRequest("scope: at most 200 characters".into()));
    }
    let id = Uuid::new_v4();
    let (nonce, cipher) = sealer.seal(*caller.tenant.as_uuid(), id, body.token.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let i = Integration { id, provider: body.provider, scope: body.scope, created_by: *caller.user.as_uuid(), nonce: nonce.to_vec(), cipher };
    st.directory.put_integration(caller.tenant, &i).await?;
    Ok((StatusCode::CREATED, Json(integration_json(&i))).into_response())
}

/// `DELETE /v1/integrations/{id}`: owners and admins.
pub async fn delete_integration(State(st): State<ApiState>, caller: Caller, Path(id): Path<Uuid>) -> Answer {
    require(&caller, Permission::ManageIntegrations)?;
    if !st.directory.delete_integration(caller.tenant, id).await? {
        return Err(ApiError::NotFound(format!("no integration {id}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
