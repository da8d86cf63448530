//! OTLP/HTTP receiver: `POST /v1/logs|metrics|traces` with `application/x-protobuf` or
//! `application/json` bodies, optionally gzip, chunked or not; and the operational endpoints
//! `/healthz`, `/readyz`, `/metrics`.
//!
//! Responses follow the OTLP specification: an `Export*ServiceResponse` (with `partial_success`
//! when records were rejected) on 200, a `google.rpc.Status` otherwise, both in the encoding of
//! the request; `Retry-After` on 429 and 503.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use tandemu_schemas::otlp::{self, DecodeError, Encoding, Signal};

use crate::error::IngestError;
use crate::pipeline::{Accepted, Pipeline};
use crate::rpc_status;

#[derive(Clone)]
struct AppState {
    pipeline: Arc<Pipeline>,
    metrics: Option<PrometheusHandle>,
}

/// The HTTP router: OTLP endpoints plus health, readiness and metrics.
pub fn router(pipeline: Arc<Pipeline>, metrics: Option<PrometheusHandle>) -> Router {
    let limit = pipeline.config().max_body_bytes;
    Router::new()
        .route("/v1/logs", post(|s: State<AppState>, h: HeaderMap, b: Bytes| export(s, Signal::Logs, h, b)))
        .route("/v1/metrics", post(|s: State<AppState>, h: HeaderMap, b: Bytes| export(s, Signal::Metrics, h, b)))
        .route("/v1/traces", post(|s: State<AppState>, h: HeaderMap, b: Bytes| export(s, Signal::Traces, h, b)))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(AppState { pipeline, metrics })
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.pipeline.log().ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("event log ({}) is not reachable\n", s.pipeline.log().kind())).into_response()
    }
}

async fn render_metrics(State(s): State<AppState>) -> Response {
    match s.metrics {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

async fn export(State(s): State<AppState>, signal: Signal, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let encoding = request_encoding(&headers);
    let result = handle(&s.pipeline, signal, &headers, &body, encoding).await;
    let status = match &result {
        Ok(_) => "ok",
        Err(e) => e.reason(),
    };
    metrics::counter!("tandemu_ingest_requests_total", "transport" => "http", "signal" => signal.as_str(), "status" => status).increment(1);
    metrics::counter!("tandemu_ingest_bytes_total", "transport" => "http").increment(body.len() as u64);
    metrics::histogram!("tandemu_ingest_request_seconds", "transport" => "http").record(started.elapsed().as_secs_f64());
    let enc = encoding.unwrap_or(Encoding::Json);
    match result {
        Ok(acc) => success(signal, &acc, enc),
        Err(e) => error_response(&e, enc),
    }
}

async fn handle(p: &Pipeline, signal: Signal, headers: &HeaderMap, body: &[u8], encoding: Option<Encoding>) -> Result<Accepted, IngestError> {
    // The token first: nothing of an unauthenticated request is even decoded.
    let claims = p.authorize(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()))?;
    let encoding = encoding.ok_or_else(|| {
        let got = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none");
        IngestError::UnsupportedMediaType(format!("Content-Type {got:?}; use application/x-protobuf or application/json"))
    })?;
    let body = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim) {
        None | Some("") | Some("identity") => std::borrow::Cow::Borrowed(body),
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            std::borrow::Cow::Owned(otlp::gunzip_limited(body, p.config().max_decompressed_bytes).map_err(decode_error)?)
        }
        Some(other) => return Err(IngestError::UnsupportedMediaType(format!("Content-Encoding {other:?}; use gzip or none"))),
    };
    let mapped = otlp::decode_and_map(signal, &body, encoding, &claims.stamp()).map_err(decode_error)?;
    p.accept(signal, &claims, mapped).await
}

fn decode_error(e: DecodeError) -> IngestError {
    match e {
        DecodeError::TooLarge { .. } => IngestError::TooLarge(e.to_string()),
        other => IngestError::Malformed(other.to_string()),
    }
}

fn request_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

fn body_of<M: Message + serde::Serialize>(msg: &M, enc: Encoding) -> (HeaderValue, Vec<u8>) {
    match enc {
        Encoding::Protobuf => (HeaderValue::from_static("application/x-protobuf"), msg.encode_to_vec()),
        Encoding::Json => (HeaderValue::from_static("application/json"), serde_json::to_vec(msg).unwrap_or_default()),
    }
}

fn success(signal: Signal, acc: &Accepted, enc: Encoding) -> Response {
    let msg = acc.message.clone().unwrap_or_default();
    let (ct, body) = match signal {
        Signal::Logs => body_of(
            &ExportLogsServiceResponse {
                partial_success: (acc.rejected > 0).then(|| ExportLogsPartialSuccess { rejected_log_records: acc.rejected as i64, error_message: msg }),
            },
            enc,
        ),
        Signal::Metrics => body_of(
            &ExportMetricsServiceResponse {
                partial_success: (acc.rejected > 0).then(|| ExportMetricsPartialSuccess { rejected_data_points: acc.rejected as i64, error_message: msg }),
            },
            enc,
        ),
        Signal::Traces => body_of(
            &ExportTraceServiceResponse {
                partial_success: (acc.rejected > 0).then(|| ExportTracePartialSuccess { rejected_spans: acc.rejected as i64, error_message: msg }),
            },
            enc,
        ),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
}

fn error_response(e: &IngestError, enc: Encoding) -> Response {
    let status = rpc_status::status(e.grpc_code() as i32, &e.to_string(), e.retry_after());
    let (ct, body) = match enc {
        Encoding::Protobuf => (HeaderValue::from_static("application/x-protobuf"), status.encode_to_vec()),
        Encoding::Json => (
            HeaderValue::from_static("application/json"),
            serde_json::to_vec(&serde_json::json!({"code": status.code, "message": status.message})).unwrap_or_default(),
        ),
    };
    let mut resp = (e.http_status(), [(header::CONTENT_TYPE, ct)], body).into_response();
    if let Some(after) = e.retry_after() {
        if let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}
