//! The tenant gate: every endpoint takes a [`Caller`], and the only way to get one is a verified
//! bearer token. The tenant of every query is the caller's; no parameter or body can change it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tandemu_ingest::auth::Role;
use tandemu_schemas::{TenantId, UserId};

use crate::error::ApiError;
use crate::router::ApiState;

#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: Role,
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
        let claims = state.verifier.verify_header(header)?;
        let stamp = claims.stamp();
        Ok(Caller { tenant: stamp.tenant, user: stamp.user, role: claims.role })
    }
}
