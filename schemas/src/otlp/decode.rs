//! Decoding OTLP request bodies: protobuf or OTLP/JSON, optionally gzip-compressed.

use std::io::Read;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;

/// The body encodings OTLP defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf` (and gRPC).
    Protobuf,
    /// `application/json` (OTLP/JSON: camelCase, hex ids, 64-bit ints as strings).
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("malformed OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed gzip body: {0}")]
    Gzip(std::io::Error),
    #[error("body exceeds {limit} bytes once decompressed")]
    TooLarge { limit: usize },
}

fn decode<M: Message + Default + DeserializeOwned>(body: &[u8], enc: Encoding) -> Result<M, DecodeError> {
    Ok(match enc {
        Encoding::Protobuf => M::decode(body)?,
        Encoding::Json => serde_json::from_slice(body)?,
    })
}

pub fn decode_logs(body: &[u8], enc: Encoding) -> Result<ExportLogsServiceRequest, DecodeError> {
    decode(body, enc)
}

pub fn decode_metrics(body: &[u8], enc: Encoding) -> Result<ExportMetricsServiceRequest, DecodeError> {
    decode(body, enc)
}

pub fn decode_traces(body: &[u8], enc: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode(body, enc)
}

/// Decompresses a gzip body, refusing to produce more than `limit` bytes, so a small bomb cannot
/// take the process's memory.
pub fn gunzip_limited(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut reader = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    reader.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_refuses_bombs() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(gunzip_limited(&bomb, 1 << 20), Err(DecodeError::TooLarge { .. })));
        assert_eq!(gunzip_limited(&gzip(b"hello"), 5).unwrap(), b"hello");
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(decode_logs(b"\xff\xff\xff", Encoding::Protobuf).is_err());
        assert!(decode_logs(b"{\"resourceLogs\": 7}", Encoding::Json).is_err());
        assert!(gunzip_limited(b"not gzip", 100).is_err());
    }
}
