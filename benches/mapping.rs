//! The mapping hot path on the real captures: decode (protobuf and OTLP/JSON) + map with the
//! allowlist + encode for the log. Run: `cargo bench --bench mapping`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tandemu_schemas::fixtures;
use tandemu_schemas::otlp;
use tandemu_schemas::{Stamp, TenantId, UserId, encoding};
use uuid::Uuid;

fn bench(c: &mut Criterion) {
    let stamp = Stamp { tenant: TenantId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)) };
    let mut group = c.benchmark_group("decode_map_encode");
    for variant in ["http_protobuf", "http_json"] {
        let bodies: Vec<_> = fixtures::load(variant).into_iter().map(|c| (c.signal, c.encoding(), c.body())).collect();
        let events: usize = bodies
            .iter()
            .map(|(s, e, b)| otlp::decode_and_map(*s, b, *e, &stamp).unwrap().events.len())
            .sum();
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(variant, |b| {
            let mut buf = Vec::with_capacity(64 << 10);
            b.iter(|| {
                buf.clear();
                for (signal, enc, body) in &bodies {
                    let mapped = otlp::decode_and_map(*signal, black_box(body), *enc, &stamp).unwrap();
                    for ev in &mapped.events {
                        encoding::encode_into(ev, &mut buf);
                    }
                }
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
