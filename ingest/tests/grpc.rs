//! OTLP/gRPC into the embedded log: every capture (the gRPC ones and the HTTP protobuf ones
//! re-sent over gRPC), gzip, and the token check.

mod common;

use std::sync::Arc;

use common::*;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_schemas::fixtures;
use tandemu_schemas::{EventId, encoding};

#[tokio::test]
async fn every_capture_over_grpc_lands_in_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
    let ingest = start(Arc::new(log.clone()), config()).await;
    let who = Identity::new();
    let captures: Vec<_> = ["grpc", "http_protobuf", "http_json"].iter().flat_map(|v| fixtures::load(v)).collect();
    for (i, c) in captures.iter().enumerate() {
        grpc_export(ingest.grpc_addr, c, Some(&who.bearer()), i % 2 == 0).await.unwrap_or_else(|s| panic!("{}/{}: {s}", c.variant, c.file));
    }
    let mut ids: Vec<EventId> = log.read(0, usize::MAX).unwrap().into_iter().map(|(_, p)| encoding::decode(&p).unwrap().id).collect();
    ids.sort();
    assert_eq!(ids, expected_ids(&captures, &who));
    let mut disk = Vec::new();
    for e in std::fs::read_dir(dir.path().join("segments")).unwrap() {
        disk.extend(std::fs::read(e.unwrap().path()).unwrap());
    }
    assert!(fixtures::find_leaks(&disk, &fixtures::canaries(&fixtures::load_all())).is_empty());
    ingest.shutdown().await;
}

#[tokio::test]
async fn grpc_without_a_valid_token_is_unauthenticated_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
    let ingest = start(Arc::new(log.clone()), config()).await;
    let c = &fixtures::load("grpc")[0];
    let err = grpc_export(ingest.grpc_addr, c, None, false).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("missing bearer token"), "{}", err.message());
    let err = grpc_export(ingest.grpc_addr, c, Some("Bearer not.a.jwt"), false).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(log.end_offset(), 0);
    ingest.shutdown().await;
}
