//! The one error type of ingest, mapped once to HTTP and gRPC statuses.
//!
//! Retryable conditions use the signals OTLP exporters understand: HTTP 503/429 with
//! `Retry-After`, gRPC `UNAVAILABLE`, or `RESOURCE_EXHAUSTED` with `RetryInfo`. Everything else
//! is the client's fault and must not be retried.

use std::time::Duration;

use axum::http::StatusCode;
use tonic::Code;

use crate::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unauthenticated: {0}")]
    Auth(#[from] AuthError),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("payload too large: {0}")]
    TooLarge(String),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("rate limit of this organization exceeded; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    #[error("temporarily unavailable, retry in {} s: {reason}", retry_after.as_secs().max(1))]
    Unavailable { reason: String, retry_after: Duration },
}

impl IngestError {
    /// Label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Auth(_) => "unauthenticated",
            IngestError::UnsupportedMediaType(_) => "unsupported_media_type",
            IngestError::TooLarge(_) => "too_large",
            IngestError::Malformed(_) => "malformed",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::Unavailable { .. } => "unavailable",
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            IngestError::Auth(_) => StatusCode::UNAUTHORIZED,
            IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Malformed(_) => StatusCode::BAD_REQUEST,
            IngestError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            IngestError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn grpc_code(&self) -> Code {
        match self {
            IngestError::Auth(_) => Code::Unauthenticated,
            IngestError::UnsupportedMediaType(_) | IngestError::Malformed(_) => Code::InvalidArgument,
            // Without RetryInfo an exporter does not retry RESOURCE_EXHAUSTED: right for a body
            // that will never fit.
            IngestError::TooLarge(_) => Code::InvalidArgument,
            IngestError::RateLimited { .. } => Code::ResourceExhausted,
            IngestError::Unavailable { .. } => Code::Unavailable,
        }
    }

    /// How long the client should wait before retrying, for retryable errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IngestError::RateLimited { retry_after } | IngestError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn to_grpc(&self) -> tonic::Status {
        let code = self.grpc_code();
        let msg = self.to_string();
        match self.retry_after() {
            Some(d) => {
                let details = prost::Message::encode_to_vec(&crate::rpc_status::status(code as i32, &msg, Some(d)));
                tonic::Status::with_details(code, msg, details.into())
            }
            None => tonic::Status::new(code, msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_carry_retry_signals() {
        let e = IngestError::Unavailable { reason: "log down".into(), retry_after: Duration::from_secs(5) };
        assert_eq!(e.http_status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.grpc_code(), Code::Unavailable);
        let rl = IngestError::RateLimited { retry_after: Duration::from_secs(2) };
        assert_eq!(rl.http_status(), StatusCode::TOO_MANY_REQUESTS);
        let st = rl.to_grpc();
        assert_eq!(st.code(), Code::ResourceExhausted);
        let details: crate::rpc_status::Status = prost::Message::decode(st.details()).unwrap();
        assert_eq!(details.details[0].type_url, "type.googleapis.com/google.rpc.RetryInfo");
        assert_eq!(IngestError::Auth(AuthError::Missing).grpc_code(), Code::Unauthenticated);
        assert_eq!(IngestError::Malformed("x".into()).retry_after(), None);
    }
}
