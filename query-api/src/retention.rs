//! `GET /v1/retention` and `PUT /v1/retention`: an organization's retention overrides, within the
//! operator's bounds. The table defaults and the bounds are the operator's (`tandemu retention`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tandemu_processor::retention::{RetentionPolicy, RetentionTable};

use crate::caller::Caller;
use crate::error::ApiError;
use crate::manage::ApiJson;
use crate::roles::{Permission, require};
use crate::router::ApiState;

async fn view(st: &ApiState, caller: &Caller, policy: &RetentionPolicy) -> Result<Value, ApiError> {
    let overrides: BTreeMap<RetentionTable, u16> = st.directory.retention_overrides(caller.tenant).await?.into_iter().collect();
    let tables: Vec<Value> = RetentionTable::ALL
        .into_iter()
        .map(|t| {
            let over = overrides.get(&t).map(|d| (*d).clamp(policy.bounds.min_days, policy.bounds.max_days));
            json!({
                "table": t.name(),
                "default_days": policy.default_days(t),
                "override_days": over,
                "effective_days": over.unwrap_or_else(|| policy.default_days(t)),
            })
        })
        .collect();
    // The stores differ in when an override takes effect; say which, so nobody expects rows
    // already written in ClickHouse to follow a new override.
    let applies_to = match st.store.kind() {
        "clickhouse" => "rows written after the override is set (stored rows keep the retention they were written with)",
        _ => "every stored row, at the next purge",
    };
    Ok(json!({"bounds": {"min_days": policy.bounds.min_days, "max_days": policy.bounds.max_days}, "overrides_apply_to": applies_to, "tables": tables}))
}

/// `GET /v1/retention`: every table's default, the organization's override and what applies.
pub async fn get_retention(State(st): State<ApiState>, caller: Caller) -> Result<Response, ApiError> {
    require(&caller, Permission::ManageRetention)?;
    let policy = st.directory.retention_policy().await?;
    Ok(Json(view(&st, &caller, &policy).await?).into_response())
}

/// `PUT /v1/retention`: `{"sessions": 800, "friction": null}` sets the organization's override
/// of sessions and removes that of friction; tables not named are left as they are.
pub async fn put_retention(State(st): State<ApiState>, caller: Caller, ApiJson(body): ApiJson<BTreeMap<String, Option<u16>>>) -> Result<Response, ApiError> {
    require(&caller, Permission::ManageRetention)?;
    let policy = st.directory.retention_policy().await?;
    let bounds = policy.bounds;
    // Everything is checked before anything is written.
    let mut changes = Vec::new();
    for (name, days) in body {
        let table: RetentionTable = name.parse().map_err(ApiError::BadRequest)?;
        let days = days.map(|d| bounds.check(d).map_err(|e| ApiError::BadRequest(format!("{table}: {e}")))).transpose()?;
        changes.push((table, days));
    }
    for (table, days) in changes {
        st.directory.set_retention_override(caller.tenant, table, days, *caller.user.as_uuid()).await?;
    }
    // The defaults and bounds read above still hold; the overrides are re-read by `view`.
    Ok(Json(view(&st, &caller, &policy).await?).into_response())
}
