//! Invites: owners and admins invite someone by email with a role; the invitee accepts with the
//! code and gets a member's token.
//!
//! The code is `tinv_<org>_<secret>`: 32 random bytes of secret, shown once when the invite is
//! created, with only its SHA-256 kept. Accepting needs no token (the invitee has none yet), so
//! the code itself is the credential: the organization it names is only where its digest is
//! looked up, inside that tenant's scope, and a code whose organization was changed matches
//! nothing.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tandemu_ingest::auth::{self, Role};
use tandemu_schemas::TenantId;
use uuid::Uuid;

use crate::caller::Caller;
use crate::directory::{Invite, parse_role};
use crate::error::ApiError;
use crate::manage::{ApiJson, now_unix};
use crate::roles::{Permission, require, role_name};
use crate::router::ApiState;

type Answer = Result<Response, ApiError>;

const PREFIX: &str = "tinv_";

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new code for `org`, and the digest to keep.
fn new_code(org: Uuid) -> Result<(String, Vec<u8>), ApiError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    let secret = hex::encode(secret);
    Ok((format!("{PREFIX}{}_{secret}", org.simple()), digest(&secret)))
}

/// The organization a code names, and its secret's digest; `None` when it is not a code.
fn parse_code(code: &str) -> Option<(Uuid, Vec<u8>)> {
    let (org, secret) = code.trim().strip_prefix(PREFIX)?.split_once('_')?;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((Uuid::try_parse(org).ok()?, digest(secret)))
}

fn invite_json(i: &Invite, now: u64) -> serde_json::Value {
    let status = match i.accepted_unix {
        Some(_) => "accepted",
        None if i.expires_unix <= now => "expired",
        None => "pending",
    };
    json!({"id": i.id, "email": i.email, "role": role_name(i.role), "expires_unix": i.expires_unix, "accepted_unix": i.accepted_unix, "status": status})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    #[serde(default)]
    pub role: Option<String>,
    /// Days the code is valid (1 to 30, default 7).
    #[serde(default)]
    pub ttl_days: Option<u64>,
}

/// `POST /v1/invites`: owners and admins; only owners invite owners. The answer carries the code,
/// once.
pub async fn create_invite(State(st): State<ApiState>, caller: Caller, ApiJson(body): ApiJson<InviteBody>) -> Answer {
    require(&caller, Permission::InviteMembers)?;
    let role = parse_role(body.role.as_deref().unwrap_or("member")).map_err(ApiError::BadRequest)?;
    if role == Role::Owner && caller.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners may invite an owner".into()));
    }
    let email = body.email.trim();
    if email.is_empty() || !email.contains('@') || email.len() > 320 {
        return Err(ApiError::BadRequest("email: expected an email address".into()));
    }
    let ttl_days = body.ttl_days.unwrap_or(7);
    if !(1..=30).contains(&ttl_days) {
        return Err(ApiError::BadRequest("ttl_days: expected 1 to 30".into()));
    }
    if st.directory.members(caller.tenant).await?.iter().any(|m| m.email == email) {
        return Err(ApiError::Conflict(format!("{email} is a member already")));
    }
    let (code, code_sha256) = new_code(*caller.tenant.as_uuid())?;
    let invite = Invite {
        id: Uuid::new_v4(),
        email: email.to_owned(),
        role,
        code_sha256,
        invited_by: *caller.user.as_uuid(),
        expires_unix: now_unix() + ttl_days * 86_400,
        accepted_unix: None,
    };
    st.directory.put_invite(caller.tenant, &invite).await?;
    let mut answer = invite_json(&invite, now_unix());
    answer["code"] = json!(code);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/invites`: owners and admins; never the codes.
pub async fn list_invites(State(st): State<ApiState>, caller: Caller) -> Answer {
    require(&caller, Permission::InviteMembers)?;
    let now = now_unix();
    let data: Vec<_> = st.directory.invites(caller.tenant).await?.iter().map(|i| invite_json(i, now)).collect();
    Ok(Json(json!({"data": data})).into_response())
}

/// `DELETE /v1/invites/{id}`: withdraw an invite.
pub async fn delete_invite(State(st): State<ApiState>, caller: Caller, Path(id): Path<Uuid>) -> Answer {
    require(&caller, Permission::InviteMembers)?;
    if !st.directory.delete_invite(caller.tenant, id).await? {
        return Err(ApiError::NotFound(format!("no invite {id}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    pub code: String,
    /// Days the member's token is valid (1 to 365, default 30).
    #[serde(default)]
    pub ttl_days: Option<u64>,
}

/// `POST /v1/invites/accept`: no token; the code makes the caller a member and returns their
/// token. A code is accepted once, before it expires.
pub async fn accept_invite(State(st): State<ApiState>, ApiJson(body): ApiJson<AcceptBody>) -> Answer {
    let secret = st.signing_secret.as_ref().ok_or_else(|| ApiError::Unavailable("this API is not configured to issue tokens".into()))?;
    let ttl_days = body.ttl_days.unwrap_or(30);
    if !(1..=365).contains(&ttl_days) {
        return Err(ApiError::BadRequest("ttl_days: expected 1 to 365".into()));
    }
    let (org, code_sha256) = parse_code(&body.code).ok_or_else(|| ApiError::BadRequest("code: not an invite code (tinv_…)".into()))?;
    let tenant = TenantId(org);
    let user = Uuid::new_v4();
    // One answer for unknown, used and expired codes: which one it was is nobody's business.
    let member = st
        .directory
        .accept_invite(tenant, &code_sha256, user, now_unix())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such invite, or it was used or has expired".into()))?;
    st.checks.clear();
    let claims = auth::claims_for(org, member.user, member.role, std::time::Duration::from_secs(ttl_days * 86_400));
    let token = auth::issue_hs256(secret, &claims).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"org": org, "user": member.user, "email": member.email, "role": role_name(member.role), "token": token, "expires_unix": claims.exp})),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_junk_is_refused() {
        let org = Uuid::new_v4();
        let (code, d) = new_code(org).unwrap();
        assert_eq!(parse_code(&code), Some((org, d.clone())));
        assert_ne!(d, code.as_bytes(), "only a digest is kept");
        for junk in ["", "tinv_", "tinv_x_y", &code.replace("tinv_", "inv_"), &code[..code.len() - 1], &format!("{code}0")] {
            assert_eq!(parse_code(junk), None, "{junk:?}");
        }
    }
}
