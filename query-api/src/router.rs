//! The query API's routes, state and cross-cutting layers (CORS, health, metrics).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{MethodRouter, delete, get, post, put};
use tandemu_ingest::auth::Verifier;
use tandemu_processor::store::ProjectionStore;

use crate::directory::Directory;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::aggregates::{self, COMPLETION_GROUPS, COST_GROUPS, FRICTION_GROUPS, LINES_GROUPS, SESSIONS_SUMMARY_GROUPS};
use crate::error::ApiError;
use crate::openapi::{self, Endpoint};
use crate::{invites, manage, retention};

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn ProjectionStore>,
    pub directory: Arc<dyn Directory>,
    pub verifier: Arc<Verifier>,
    /// The HS256 secret, when this API may issue tokens (`POST /v1/tokens`).
    pub signing_secret: Option<Arc<Vec<u8>>>,
    /// Recent membership and revocation answers, so a removed member's token stops working
    /// within [`crate::caller::RECHECK`] without a directory read per request.
    pub checks: Arc<crate::caller::CheckCache>,
    /// Seals integration tokens (`ENCRYPTION_KEY`); without it integrations cannot be added.
    pub secrets: Option<crate::secrets::SecretBox>,
}

impl ApiState {
    pub fn new(store: Arc<dyn ProjectionStore>, directory: Arc<dyn Directory>, verifier: Verifier) -> Self {
        Self { store, directory, verifier: Arc::new(verifier), signing_secret: None, checks: Default::default(), secrets: None }
    }

    pub fn with_secrets(mut self, secrets: crate::secrets::SecretBox) -> Self {
        self.secrets = Some(secrets);
        self
    }

    pub fn with_signing_secret(mut self, secret: Vec<u8>) -> Self {
        self.signing_secret = Some(Arc::new(secret));
        self
    }
}

/// The API's configuration.
#[derive(Clone, Debug, Default)]
pub struct ApiConfig {
    /// Origins a browser may call the API from (`CORS_ORIGIN`, comma-separated); none by default.
    pub cors_origins: Vec<String>,
}

impl ApiConfig {
    /// Checks origins as an operator gives them: blanks are dropped; `*` is refused (the API is
    /// called with bearer tokens, and a wildcard would let any page a user opens read their
    /// organization's data), as is anything that is not a header value.
    pub fn with_cors_origins(origins: &[String]) -> Result<Self, String> {
        let mut out = Vec::new();
        for o in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            if o == "*" {
                return Err("CORS_ORIGIN \"*\" is refused: list the dashboard's origins, e.g. https://dash.example.com".into());
            }
            HeaderValue::from_str(o).map_err(|_| format!("CORS_ORIGIN {o:?} is not a valid origin"))?;
            out.push(o.to_owned());
        }
        Ok(ApiConfig { cors_origins: out })
    }
}

pub fn router(state: ApiState, cfg: &ApiConfig) -> Router {
    let metrics = tandemu_ingest::server::metrics_handle();
    // `AllowOrigin::list` panics on `*`; [`ApiConfig::with_cors_origins`] refuses it up front.
    let origins: Vec<HeaderValue> = cfg.cors_origins.iter().filter(|o| o.trim() != "*").filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT]);
    let mut app = Router::new();
    for (endpoint, handler) in aggregate_routes() {
        app = app.route(endpoint.path, handler);
    }
    let doc = Arc::new(openapi::document(&aggregate_routes().into_iter().map(|(e, _)| e).collect::<Vec<_>>()));
    let app = app
        .route("/v1/org", get(manage::get_org).post(manage::create_org).delete(manage::delete_org))
        .route("/v1/members", get(manage::list_members))
        .route("/v1/members/{user}", put(manage::put_member).delete(manage::delete_member))
        .route("/v1/teams", get(manage::list_teams).post(manage::create_team))
        .route("/v1/teams/{id}", put(manage::put_team).delete(manage::delete_team))
        .route("/v1/integrations", get(manage::list_integrations).post(manage::create_integration))
        .route("/v1/integrations/{id}", delete(manage::delete_integration))
        .route("/v1/tokens", post(manage::issue_token))
        .route("/v1/tokens/{jti}", delete(manage::revoke_token))
        .route("/v1/invites", get(invites::list_invites).post(invites::create_invite))
        .route("/v1/invites/accept", post(invites::accept_invite))
        .route("/v1/invites/{id}", delete(invites::delete_invite))
        .route("/v1/retention", get(retention::get_retention).put(retention::put_retention));
    app.route("/openapi.json", get(move || std::future::ready(axum::Json((*doc).clone()))))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(move || std::future::ready(metrics.as_ref().map(|h| h.render()).unwrap_or_default())))
        .fallback(|| async { ApiError::NotFound("no such endpoint; see /openapi.json".into()) })
        .layer(cors)
        .with_state(state)
}

/// The aggregate endpoints: the router mounts them and `/openapi.json` describes them.
fn aggregate_routes() -> Vec<(Endpoint, MethodRouter<ApiState>)> {
    let e = |path, summary, group_by, list| Endpoint { path, summary, group_by, list };
    vec![
        (e("/v1/sessions", "Sessions: duration, active time, prompts, API calls, tokens, cost, lines, tools, commits", &[], true), get(aggregates::sessions)),
        (e("/v1/sessions/summary", "Session totals per day or user", SESSIONS_SUMMARY_GROUPS, false), get(aggregates::sessions_summary)),
        (e("/v1/friction", "Friction hotspots by file, tool, kind or user", FRICTION_GROUPS, false), get(aggregates::friction)),
        (e("/v1/friction/events", "Friction events: tool failures, rejections, API errors, exhausted retries", &[], true), get(aggregates::friction_events)),
        (
            e("/v1/completion", "Task completion: tasks, cycle time p50/p90, commits, AI and manual lines", COMPLETION_GROUPS, false),
            get(aggregates::completion),
        ),
        (e("/v1/tools", "Tool calls, failures, success rate, mean and p95 duration per tool", &[], false), get(aggregates::tools)),
        (e("/v1/lines", "Lines added and removed, and commits", LINES_GROUPS, false), get(aggregates::lines)),
        (e("/v1/cost", "Cost in USD and tokens by type", COST_GROUPS, false), get(aggregates::cost)),
    ]
}

/// Ready when the projection store answers.
async fn readyz(axum::extract::State(st): axum::extract::State<ApiState>) -> Result<&'static str, ApiError> {
    st.store.dead_letters().await?;
    Ok("ready\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_checked_and_a_wildcard_never_panics() {
        assert!(ApiConfig::with_cors_origins(&["*".into()]).unwrap_err().contains("refused"));
        assert!(ApiConfig::with_cors_origins(&["https://a.example\n".into(), "bad\u{7f}".into()]).is_err());
        let cfg = ApiConfig::with_cors_origins(&[" https://a.example ".into(), "".into()]).unwrap();
        assert_eq!(cfg.cors_origins, vec!["https://a.example"]);
        // Built by hand with a wildcard, the router still starts (and allows no origin).
        let _ = router(
            ApiState::new(
                Arc::new(tandemu_processor::store::embedded::EmbeddedStore::open(&tempdir().join("s.redb")).unwrap()),
                Arc::new(crate::directory::embedded::EmbeddedDirectory::open(&tempdir().join("d.redb")).unwrap()),
                Verifier::hs256(b"0123456789abcdef0123456789abcdef").unwrap(),
            ),
            &ApiConfig { cors_origins: vec!["*".into()] },
        );
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tandemu-router-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
