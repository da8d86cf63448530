//! The query API's routes, state and cross-cutting layers (CORS, health, metrics).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use tandemu_ingest::auth::Verifier;
use tandemu_processor::store::ProjectionStore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::aggregates;
use crate::error::ApiError;

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn ProjectionStore>,
    pub verifier: Arc<Verifier>,
}

/// The API's configuration.
#[derive(Clone, Debug, Default)]
pub struct ApiConfig {
    /// Origins a browser may call the API from (`CORS_ORIGIN`, comma-separated); none by default.
    pub cors_origins: Vec<String>,
}

pub fn router(state: ApiState, cfg: &ApiConfig) -> Router {
    let metrics = tandemu_ingest::server::metrics_handle();
    let origins: Vec<HeaderValue> = cfg.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT]);
    Router::new()
        .route("/v1/sessions", get(aggregates::sessions))
        .route("/v1/sessions/summary", get(aggregates::sessions_summary))
        .route("/v1/friction", get(aggregates::friction))
        .route("/v1/friction/events", get(aggregates::friction_events))
        .route("/v1/completion", get(aggregates::completion))
        .route("/v1/tools", get(aggregates::tools))
        .route("/v1/lines", get(aggregates::lines))
        .route("/v1/cost", get(aggregates::cost))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(move || std::future::ready(metrics.as_ref().map(|h| h.render()).unwrap_or_default())))
        .fallback(|| async { ApiError::NotFound("no such endpoint; see /openapi.json".into()) })
        .layer(cors)
        .with_state(state)
}

/// Ready when the projection store answers.
async fn readyz(axum::extract::State(st): axum::extract::State<ApiState>) -> Result<&'static str, ApiError> {
    st.store.dead_letters().await?;
    Ok("ready\n")
}
