//! The processor's aggregation hot path without I/O: decode events from their log encoding and
//! derive their facts (`facts_of`), then the session projection over those facts.
//! Run: `cargo bench --bench aggregate`.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tandemu_processor::aggregate;
use tandemu_processor::facts::{SeriesState, facts_of};
use tandemu_schemas::{Event, SessionId, Stamp, TenantId, UserId, encoding, fixtures};

fn encoded(n: usize) -> Vec<Vec<u8>> {
    let stamp = Stamp { tenant: TenantId(uuid::Uuid::new_v4()), user: UserId(uuid::Uuid::new_v4()) };
    let template: Vec<Event> = fixtures::load("grpc").iter().flat_map(|c| c.map(&stamp).unwrap().events).collect();
    (0..n)
        .map(|i| {
            let mut ev = template[i % template.len()].clone();
            ev.session = Some(SessionId::new(format!("s{}", i / template.len())));
            encoding::encode(&ev)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = encoded(5_000);
    let mut group = c.benchmark_group("processor");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("decode_and_facts_5000", |b| {
        b.iter(|| {
            let events: Vec<Event> = records.iter().map(|r| encoding::decode(black_box(r)).unwrap()).collect();
            facts_of(&events, &mut SeriesState::default()).len()
        })
    });
    let events: Vec<Event> = records.iter().map(|r| encoding::decode(r).unwrap()).collect();
    let facts = facts_of(&events, &mut SeriesState::default());
    group.throughput(Throughput::Elements(facts.sessions.len() as u64));
    group.bench_function("session_projection", |b| b.iter(|| aggregate::sessions(black_box(&facts.sessions)).len()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
