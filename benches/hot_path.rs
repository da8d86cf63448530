//! The ingest hot path without I/O: token check + decode + allowlist mapping + log encoding, per
//! request. `batch200_*`: one request of 200 log records built from the real capture (the
//! shape of the load targets); `captures_*`: every request of a real session.
//! Run: `cargo bench --bench hot_path`.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use tandemu_ingest::auth::{self, Role, Verifier};
use tandemu_schemas::otlp::{self, Encoding, Signal};
use tandemu_schemas::{encoding, fixtures};

fn batch_of(n: usize) -> ExportLogsServiceRequest {
    let c = &fixtures::load("http_protobuf")[0];
    let mut req = otlp::decode_logs(&c.body(), c.encoding()).unwrap();
    let sl = &mut req.resource_logs[0].scope_logs[0];
    let template = std::mem::take(&mut sl.log_records);
    sl.log_records = (0..n).map(|i| template[i % template.len()].clone()).collect();
    req
}

fn bench(c: &mut Criterion) {
    let secret = b"bench-secret-bench-secret-bench-secret";
    let verifier = Verifier::hs256(secret).unwrap();
    let claims = auth::claims_for(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), Role::Member, Duration::from_secs(3600));
    let header = format!("Bearer {}", auth::issue_hs256(secret, &claims).unwrap());

    let one_request = |signal: Signal, body: &[u8], enc: Encoding, buf: &mut Vec<u8>| {
        let claims = verifier.verify_header(Some(&header)).unwrap();
        let mapped = otlp::decode_and_map(signal, black_box(body), enc, &claims.stamp()).unwrap();
        for ev in &mapped.events {
            encoding::encode_into(ev, buf);
        }
        mapped.events.len()
    };

    let mut group = c.benchmark_group("hot_path");
    let req = batch_of(200);
    for (name, enc, body) in
        [("batch200_protobuf", Encoding::Protobuf, req.encode_to_vec()), ("batch200_json", Encoding::Json, serde_json::to_vec(&req).unwrap())]
    {
        group.throughput(Throughput::Elements(200));
        group.bench_function(name, |b| {
            let mut buf = Vec::with_capacity(128 << 10);
            b.iter(|| {
                buf.clear();
                one_request(Signal::Logs, &body, enc, &mut buf)
            })
        });
    }
    for variant in ["http_protobuf", "http_json"] {
        let bodies: Vec<_> = fixtures::load(variant).into_iter().map(|c| (c.signal, c.encoding(), c.body())).collect();
        let mut buf = Vec::new();
        let events: usize = bodies.iter().map(|(s, e, b)| one_request(*s, b, *e, &mut buf)).sum();
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(format!("captures_{variant}"), |b| {
            b.iter(|| {
                buf.clear();
                bodies.iter().map(|(s, e, body)| one_request(*s, body, *e, &mut buf)).sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
