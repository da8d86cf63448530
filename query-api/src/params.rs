//! Query parameters shared by the aggregate endpoints: time range, filters, grouping, paging and
//! output format. Parsed strictly: an unknown value is a 400 with the accepted ones named.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub team: Option<String>,
    pub group_by: Option<String>,
    pub format: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Arrow,
}

/// Validated parameters.
#[derive(Clone, Debug)]
pub struct Params {
    /// Inclusive lower bound, Unix ms.
    pub from_ms: i64,
    /// Exclusive upper bound, Unix ms.
    pub to_ms: i64,
    pub user: Option<Uuid>,
    pub team: Option<String>,
    pub group_by: Option<String>,
    pub format: Format,
    pub cursor: Option<String>,
    pub limit: usize,
}

impl Params {
    pub fn parse(raw: RawParams, headers: &HeaderMap) -> Result<Self, ApiError> {
        let time = |name: &str, v: &Option<String>, default: i64| -> Result<i64, ApiError> {
            match v {
                None => Ok(default),
                Some(s) => humantime::parse_rfc3339_weak(s)
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64)
                    .ok_or_else(|| ApiError::BadRequest(format!("{name}={s:?}: expected an RFC 3339 time such as 2026-12-01T00:00:00Z"))),
            }
        };
        let from_ms = time("from", &raw.from, 0)?;
        let to_ms = time("to", &raw.to, i64::MAX)?;
        if from_ms >= to_ms {
            return Err(ApiError::BadRequest("from must be before to".into()));
        }
        let user = match &raw.user {
            None => None,
            Some(u) => Some(u.parse().map_err(|_| ApiError::BadRequest(format!("user={u:?}: expected a user id (UUID)")))?),
        };
        let accept_arrow = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(ARROW_STREAM));
        let format = match (raw.format.as_deref(), accept_arrow) {
            (Some("arrow"), _) | (None, true) => Format::Arrow,
            (Some("csv"), _) => Format::Csv,
            (Some("json"), _) | (None, false) => Format::Json,
            (Some(other), _) => return Err(ApiError::BadRequest(format!("format={other:?}: expected json, csv or arrow"))),
        };
        let limit = raw.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!("limit={limit}: expected 1 to {MAX_LIMIT}")));
        }
        Ok(Params { from_ms, to_ms, user, team: raw.team, group_by: raw.group_by, format, cursor: raw.cursor, limit })
    }

    pub fn in_range(&self, ms: i64) -> bool {
        ms >= self.from_ms && ms < self.to_ms
    }

    /// The `group_by` value, which must be one of `allowed` (the first is the default).
    pub fn group_by<'a>(&self, allowed: &[&'a str]) -> Result<&'a str, ApiError> {
        match self.group_by.as_deref() {
            None => Ok(allowed[0]),
            Some(g) => allowed
                .iter()
                .find(|a| **a == g)
                .copied()
                .ok_or_else(|| ApiError::BadRequest(format!("group_by={g:?}: expected one of {}", allowed.join(", ")))),
        }
    }
}

/// `Query<RawParams>` whose rejection (an unknown parameter, a malformed value) is an
/// [`ApiError`], so it answers in the API's JSON error shape.
pub struct ApiQuery(pub RawParams);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<RawParams>::from_request_parts(parts, state).await {
            Ok(q) => Ok(ApiQuery(q.0)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}
