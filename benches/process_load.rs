//! Processor load figures: fills an embedded event log with `--events` canonical events (the
//! real fixture sessions, replicated over many sessions with fresh ids), then times the processor
//! loop (decode + facts + store write + offset commit) draining it into the embedded store or
//! ClickHouse, and reports events/s.
//!
//! Real run, pinned to one core:
//!   taskset -c 1 cargo bench --bench process_load -- --events 1000000
//!   taskset -c 1 cargo bench --bench process_load -- --events 200000 --clickhouse-url http://127.0.0.1:18123
//! Without `--events` (and under `cargo test`) it runs a small self-check into the embedded store.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use clap::Parser;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_processor::runner::{self, RunnerConfig};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_schemas::{Event, EventId, SessionId, Stamp, TenantId, UserId, encoding, fixtures};
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(about = "Processor throughput: embedded log into the embedded store or ClickHouse")]
struct Args {
    /// Events to process. Without it, a small self-check runs.
    #[arg(long)]
    events: Option<usize>,
    /// Write to ClickHouse at this URL (a fresh database) instead of the embedded store.
    #[arg(long)]
    clickhouse_url: Option<String>,
    /// Records per batch (the processor's default).
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
    /// Cargo passes these to bench targets; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[arg(long, hide = true)]
    test: bool,
}

/// `n` events: the fixture sessions over and over, each copy in its own session (10 users of
/// one tenant) with its own event ids.
fn events(n: usize) -> Vec<Event> {
    let tenant = TenantId(uuid::Uuid::new_v4());
    let users: Vec<UserId> = (0..10).map(|_| UserId(uuid::Uuid::new_v4())).collect();
    let template: Vec<Event> = fixtures::load("grpc").iter().flat_map(|c| c.map(&Stamp { tenant, user: users[0] }).expect("fixture maps").events).collect();
    (0..n)
        .map(|i| {
            let copy = i / template.len();
            let mut ev = template[i % template.len()].clone();
            ev.user = users[copy % users.len()];
            ev.session = Some(SessionId::new(format!("bench-session-{copy}")));
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            id[8..].copy_from_slice(&ev.id.as_bytes()[8..]);
            ev.id = EventId(id);
            ev
        })
        .collect()
}

fn main() {
    let args = Args::parse();
    let n = args.events.unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = EmbeddedLog::open(EmbeddedLogConfig { fsync: false, ..EmbeddedLogConfig::new(dir.path().join("log")) }).expect("log");
        let evs = events(n);
        for chunk in evs.chunks(10_000) {
            let payloads: Vec<Vec<u8>> = chunk.iter().map(encoding::encode).collect();
            log.append_encoded(&payloads).await.expect("fill the log");
        }
        drop(evs);
        let store: Box<dyn ProjectionStore> = match &args.clickhouse_url {
            Some(url) => {
                let db = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let root = clickhouse::Client::default().with_url(url);
                root.query(&format!("CREATE DATABASE {db}")).execute().await.expect("create database");
                let s = ClickHouseStore::new(root.with_database(&db));
                s.migrate().await.expect("migrate");
                Box::new(s)
            }
            None => Box::new(EmbeddedStore::open(&dir.path().join("store.redb")).expect("store")),
        };
        let cfg = RunnerConfig { batch_max: args.batch, max_retry: Some(Duration::from_secs(30)), ..Default::default() };
        let (_tx, rx) = watch::channel(false);
        let started = Instant::now();
        let done = runner::run_embedded(&log, store.as_ref(), &cfg, rx, true).await.expect("processor runs");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(done as usize, n, "every event processed");
        println!("processed {done} events into {} in {secs:.2} s: {:.0} events/s (batch {})", store.kind(), done as f64 / secs, args.batch);
    });
}
