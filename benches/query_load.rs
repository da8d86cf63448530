//! Query API latency over a large embedded store: fills an embedded log with `--events`
//! canonical events (the fixture session replicated over many sessions and 10 users), runs the
//! processor into the embedded store, then times the summary endpoints over HTTP and reports
//! p50, p95 and max per endpoint.
//!
//! Real run:
//!   cargo bench --bench query_load -- --events 1000000 --requests 50
//! Without `--events` (and under `cargo test`) it runs a small self-check.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tandemu_ingest::auth::{self, Role, Verifier};
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
use tandemu_processor::runner::{self, RunnerConfig};
use tandemu_processor::store::embedded::EmbeddedStore;
use tandemu_query_api::directory::embedded::EmbeddedDirectory;
use tandemu_query_api::{ApiConfig, ApiState, router};
use tandemu_schemas::{Event, EventId, SessionId, Stamp, TenantId, UserId, encoding, fixtures};
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(about = "Query API latency over a large embedded store")]
struct Args {
    #[arg(long)]
    events: Option<usize>,
    /// Requests per endpoint.
    #[arg(long, default_value_t = 30)]
    requests: usize,
    #[arg(long, hide = true)]
    bench: bool,
    #[arg(long, hide = true)]
    test: bool,
}

fn main() {
    let args = Args::parse();
    let n = args.events.unwrap_or(5_000);
    let requests = if args.events.is_some() { args.requests } else { 3 };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let tenant = TenantId(uuid::Uuid::new_v4());
        let users: Vec<UserId> = (0..10).map(|_| UserId(uuid::Uuid::new_v4())).collect();
        let template: Vec<Event> = fixtures::load("grpc").iter().flat_map(|c| c.map(&Stamp { tenant, user: users[0] }).expect("fixture").events).collect();
        let log = EmbeddedLog::open(EmbeddedLogConfig { fsync: false, ..EmbeddedLogConfig::new(dir.path().join("log")) }).expect("log");
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..n {
            let copy = i / template.len();
            let mut ev = template[i % template.len()].clone();
            ev.user = users[copy % users.len()];
            ev.session = Some(SessionId::new(format!("bench-session-{copy}")));
            // Spread the sessions over 30 days.
            ev.time_unix_nano = ev.time_unix_nano.saturating_sub((copy as u64 % 30) * 86_400_000_000_000);
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            id[8..].copy_from_slice(&ev.id.as_bytes()[8..]);
            ev.id = EventId(id);
            batch.push(encoding::encode(&ev));
            if batch.len() == 10_000 {
                log.append_encoded(&batch).await.expect("fill");
                batch.clear();
            }
        }
        log.append_encoded(&batch).await.expect("fill");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).expect("store"));
        let (_tx, rx) = watch::channel(false);
        let started = Instant::now();
        runner::run_embedded(&log, store.as_ref(), &RunnerConfig::default(), rx, true).await.expect("process");
        eprintln!("{n} events processed in {:.1} s", started.elapsed().as_secs_f64());

        let secret = b"query-load-secret-of-32-bytes-or-more!!!";
        let directory = Arc::new(EmbeddedDirectory::open(&dir.path().join("directory.redb")).expect("directory"));
        let state = ApiState::new(store, directory, Verifier::hs256(secret).expect("verifier"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router(state, &ApiConfig::default())).await.expect("serve") });
        let claims = auth::claims_for(*tenant.as_uuid(), *users[0].as_uuid(), Role::Member, Duration::from_secs(3600));
        let token = auth::issue_hs256(secret, &claims).expect("token");
        let http = reqwest::Client::new();
        println!("| endpoint | events | requests | p50 ms | p95 ms | max ms |");
        println!("|---|---|---|---|---|---|");
        for path in [
            "/v1/sessions/summary?group_by=day",
            "/v1/sessions/summary?group_by=user",
            "/v1/completion?group_by=day",
            "/v1/friction?group_by=file",
            "/v1/tools",
            "/v1/cost?group_by=model",
            "/v1/lines?group_by=day",
        ] {
            let mut ms = Vec::with_capacity(requests);
            for _ in 0..requests {
                let t = Instant::now();
                let r = http.get(format!("{base}{path}")).bearer_auth(&token).send().await.expect("request");
                assert_eq!(r.status(), 200, "{path}");
                r.bytes().await.expect("body");
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            ms.sort_by(|a, b| a.total_cmp(b));
            let pct = |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
            println!("| `{path}` | {n} | {requests} | {:.1} | {:.1} | {:.1} |", pct(50.0), pct(95.0), ms[ms.len() - 1]);
        }
    });
}
