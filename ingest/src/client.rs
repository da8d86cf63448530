//! An OTLP/gRPC exporter for one export body: sends exactly what an OTLP exporter such as
//! Claude Code's would, so tests and load generators drive the real receivers over gRPC.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tandemu_schemas::otlp::{self, Encoding, Signal};

/// Decodes `body` (an HTTP export body in `encoding`) into its request type and sends it to the
/// OTLP/gRPC receiver at `endpoint` (`http://host:port`), with `authorization` as the
/// `authorization` metadata, gzip-compressed when asked.
pub async fn export_grpc(
    endpoint: &str,
    signal: Signal,
    body: &[u8],
    encoding: Encoding,
    authorization: Option<&str>,
    gzip: bool,
) -> Result<(), tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(endpoint.to_owned())
        .map_err(|e| tonic::Status::invalid_argument(format!("endpoint {endpoint:?}: {e}")))?
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("connect to {endpoint}: {e}")))?;
    let auth: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> = match authorization {
        Some(a) => Some(a.parse().map_err(|_| tonic::Status::invalid_argument("authorization is not a valid header value"))?),
        None => None,
    };
    let bad = |e: otlp::DecodeError| tonic::Status::invalid_argument(format!("body does not decode: {e}"));
    macro_rules! send {
        ($client:ident, $decode:ident) => {{
            let mut client = $client::new(channel);
            if gzip {
                client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            let mut req = tonic::Request::new(otlp::$decode(body, encoding).map_err(bad)?);
            if let Some(a) = auth {
                req.metadata_mut().insert("authorization", a);
            }
            client.export(req).await.map(|_| ())
        }};
    }
    match signal {
        Signal::Logs => send!(LogsServiceClient, decode_logs),
        Signal::Metrics => send!(MetricsServiceClient, decode_metrics),
        Signal::Traces => send!(TraceServiceClient, decode_traces),
    }
}
