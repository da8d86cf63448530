//! The tenant gate: every endpoint takes a [`Caller`], and the only way to get one is a verified
//! bearer token. The tenant of every query is the caller's; no parameter or body can change it.
//!
//! Beyond the signature: a revoked token (`jti`) is refused, and when the organization is in the
//! directory the user must still be a member — with the role the directory has now, not the one
//! the token was issued with. Answers are cached for [`RECHECK`], so a removed member's token
//! stops working within that time. (Tokens of an organization the directory does not know, such
//! as ones an operator issued with `tandemu token issue` before `setup`, are checked by signature,
//! expiry and revocation only.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tandemu_ingest::auth::{AuthError, Role};
use tandemu_schemas::{TenantId, UserId};
use uuid::Uuid;

use crate::error::ApiError;
use crate::router::ApiState;

/// The `jti` under which a deleted organization is recorded as revoked: every token of it is
/// refused from then on, so a deleted organization cannot be re-registered or read.
pub const ORG_DELETED: Uuid = Uuid::nil();

/// How long a membership or revocation answer is trusted.
pub const RECHECK: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: Role,
    /// The token's id and expiry (for revoking it).
    pub jti: Uuid,
    pub exp: u64,
}

#[derive(Clone, Copy, Debug)]
enum Verdict {
    Allowed(Role),
    Revoked,
    NotAMember,
}

/// Membership and revocation answers by (tenant, user, jti).
#[derive(Default)]
pub struct CheckCache {
    entries: Mutex<HashMap<(Uuid, Uuid, Uuid), (Instant, Verdict)>>,
}

impl CheckCache {
    fn get(&self, key: (Uuid, Uuid, Uuid)) -> Option<Verdict> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&key).filter(|(at, _)| at.elapsed() < RECHECK).map(|(_, v)| *v)
    }

    fn put(&self, key: (Uuid, Uuid, Uuid), v: Verdict) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (at, _)| at.elapsed() < RECHECK);
        }
        map.insert(key, (Instant::now(), v));
    }

    /// Forgets everything (after a change that must take effect at once, such as a revocation
    /// through this API).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
        let claims = state.verifier.verify_header(header)?;
        let stamp = claims.stamp();
        let key = (claims.org, claims.sub, claims.jti);
        let verdict = match state.checks.get(key) {
            Some(v) => v,
            None => {
                let v = if state.directory.is_revoked(stamp.tenant, claims.jti).await? || state.directory.is_revoked(stamp.tenant, ORG_DELETED).await? {
                    Verdict::Revoked
                } else if state.directory.org(stamp.tenant).await?.is_none() {
                    Verdict::Allowed(claims.role)
                } else {
                    match state.directory.member(stamp.tenant, claims.sub).await? {
                        Some(m) => Verdict::Allowed(m.role),
                        None => Verdict::NotAMember,
                    }
                };
                state.checks.put(key, v);
                v
            }
        };
        match verdict {
            Verdict::Allowed(role) => Ok(Caller { tenant: stamp.tenant, user: stamp.user, role, jti: claims.jti, exp: claims.exp }),
            Verdict::Revoked => Err(ApiError::Unauthenticated(AuthError::Invalid("token has been revoked".into()))),
            Verdict::NotAMember => Err(ApiError::Unauthenticated(AuthError::Invalid("the token's user is no longer a member of its organization".into()))),
        }
    }
}
