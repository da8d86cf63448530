//! OTLP/gRPC receiver: the logs, metrics and trace services, gzip accepted, the token read from
//! the `authorization` metadata. Decoding is tonic's; the rest is the shared pipeline.

use std::sync::Arc;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};
use tandemu_schemas::otlp::{self, Mapped, Signal};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::auth::Claims;
use crate::pipeline::{Accepted, Pipeline};

#[derive(Clone)]
pub struct GrpcIngest {
    pipeline: Arc<Pipeline>,
}

/// The three OTLP services, ready to be served by `tonic::transport::Server`.
pub fn routes(pipeline: Arc<Pipeline>) -> tonic::service::Routes {
    let limit = pipeline.config().max_decompressed_bytes;
    let svc = GrpcIngest { pipeline };
    tonic::service::Routes::new(LogsServiceServer::new(svc.clone()).accept_compressed(CompressionEncoding::Gzip).max_decoding_message_size(limit))
        .add_service(MetricsServiceServer::new(svc.clone()).accept_compressed(CompressionEncoding::Gzip).max_decoding_message_size(limit))
        .add_service(TraceServiceServer::new(svc).accept_compressed(CompressionEncoding::Gzip).max_decoding_message_size(limit))
}

impl GrpcIngest {
    async fn run<T>(&self, signal: Signal, req: &Request<T>, map: impl FnOnce(&T, &Claims) -> Mapped) -> Result<Accepted, Status> {
        let started = Instant::now();
        let result = async {
            let claims = self.pipeline.authorize(req.metadata().get("authorization").and_then(|v| v.to_str().ok()))?;
            let mapped = map(req.get_ref(), &claims);
            self.pipeline.accept(signal, &claims, mapped).await
        }
        .await;
        let status = match &result {
            Ok(_) => "ok",
            Err(e) => e.reason(),
        };
        metrics::counter!("tandemu_ingest_requests_total", "transport" => "grpc", "signal" => signal.as_str(), "status" => status).increment(1);
        metrics::histogram!("tandemu_ingest_request_seconds", "transport" => "grpc").record(started.elapsed().as_secs_f64());
        result.map_err(|e| e.to_grpc())
    }
}

#[tonic::async_trait]
impl LogsService for GrpcIngest {
    async fn export(&self, req: Request<ExportLogsServiceRequest>) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let acc = self.run(Signal::Logs, &req, |r, c| otlp::map_logs(r, &c.stamp())).await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (acc.rejected > 0)
                .then(|| ExportLogsPartialSuccess { rejected_log_records: acc.rejected as i64, error_message: acc.message.unwrap_or_default() }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcIngest {
    async fn export(&self, req: Request<ExportMetricsServiceRequest>) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let acc = self.run(Signal::Metrics, &req, |r, c| otlp::map_metrics(r, &c.stamp())).await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: (acc.rejected > 0)
                .then(|| ExportMetricsPartialSuccess { rejected_data_points: acc.rejected as i64, error_message: acc.message.unwrap_or_default() }),
        }))
    }
}

#[tonic::async_trait]
impl TraceService for GrpcIngest {
    async fn export(&self, req: Request<ExportTraceServiceRequest>) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let acc = self.run(Signal::Traces, &req, |r, c| otlp::map_traces(r, &c.stamp())).await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (acc.rejected > 0)
                .then(|| ExportTracePartialSuccess { rejected_spans: acc.rejected as i64, error_message: acc.message.unwrap_or_default() }),
        }))
    }
}
