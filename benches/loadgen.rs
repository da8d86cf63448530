//! OTLP load generator: sends Claude Code log exports (the real capture's records, replicated to
//! `--batch` records per request) to an OTLP/HTTP endpoint at a target rate, and reports events/s
//! and latency percentiles. Latency is measured from each request's *scheduled* send time, so a
//! slow server cannot hide its queueing (no coordinated omission).
//!
//! Real run (ingest started separately, e.g. `taskset -c 1 tandemu serve`):
//!   cargo bench --bench loadgen -- --url http://127.0.0.1:4318 --token "$TOKEN" --rate 150000 --duration 20s
//! Without `--url` (and under `cargo test`), it starts an in-process ingest on an embedded log in a
//! temporary directory and runs briefly: a self-check that the generator and the path work.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use prost::Message;
use tandemu_schemas::fixtures;
use tandemu_schemas::otlp;

#[derive(Parser, Debug)]
#[command(about = "OTLP/HTTP load generator for Tandemu ingest")]
struct Args {
    /// OTLP/HTTP base URL. Without it, an in-process ingest is started (self-check).
    #[arg(long)]
    url: Option<String>,
    /// Bearer token for --url.
    #[arg(long, env = "TANDEMU_TOKEN")]
    token: Option<String>,
    /// Target events per second.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Records per request.
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// How long to send.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Body encoding.
    #[arg(long, default_value = "protobuf", value_parser = ["protobuf", "json"])]
    encoding: String,
    /// Cargo passes these to bench targets; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[arg(long, hide = true)]
    test: bool,
}

/// One request body of `batch` records built from the real capture's records, each with its own
/// `event.sequence` so every event gets its own id.
fn body(batch: usize, json: bool, salt: u64) -> Vec<u8> {
    let capture = &fixtures::load("http_protobuf")[0];
    let mut req: ExportLogsServiceRequest = otlp::decode_logs(&capture.body(), capture.encoding()).unwrap();
    let sl = &mut req.resource_logs[0].scope_logs[0];
    let template = std::mem::take(&mut sl.log_records);
    for i in 0..batch {
        let mut rec = template[i % template.len()].clone();
        rec.attributes.retain(|kv| kv.key != "event.sequence");
        rec.attributes.push(KeyValue {
            key: "event.sequence".into(),
            value: Some(AnyValue { value: Some(Value::IntValue((salt * batch as u64 + i as u64) as i64)) }),
            ..Default::default()
        });
        sl.log_records.push(rec);
    }
    if json { serde_json::to_vec(&req).unwrap() } else { req.encode_to_vec() }
}

async fn run(args: &Args, url: &str, token: &str) -> Result<(), String> {
    let json = args.encoding == "json";
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new((0..16).map(|s| bytes::Bytes::from(body(args.batch, json, s))).collect());
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build().map_err(|e| e.to_string())?;
    let per_request = Duration::from_secs_f64(args.batch as f64 / args.rate.max(1) as f64);
    let total = (args.duration.as_secs_f64() / per_request.as_secs_f64()).ceil() as u64;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let ct = if json { "application/json" } else { "application/x-protobuf" };
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, bodies, next, ok, failed) = (client.clone(), bodies.clone(), next.clone(), ok.clone(), failed.clone());
        let (url, auth) = (format!("{url}/v1/logs"), format!("Bearer {token}"));
        workers.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return hist;
                }
                let scheduled = start + per_request.mul_f64(i as f64);
                tokio::time::sleep_until(scheduled.into()).await;
                let resp = client.post(&url).header("Content-Type", ct).header("Authorization", &auth).body(bodies[(i % 16) as usize].clone()).send().await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = hist.record(scheduled.elapsed().as_micros().max(1) as u64);
            }
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for w in workers {
        hist.add(w.await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "target {} events/s, batch {}, {}: sent {} requests in {:.1} s: {} ok, {} failed",
        args.rate,
        args.batch,
        args.encoding,
        ok + failed.load(Ordering::Relaxed),
        elapsed,
        ok,
        failed.load(Ordering::Relaxed)
    );
    println!(
        "achieved {:.0} events/s acknowledged; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        (ok * args.batch as u64) as f64 / elapsed,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    if failed.load(Ordering::Relaxed) > 0 { Err("some requests failed".into()) } else { Ok(()) }
}

/// The self-check: an in-process ingest on a temporary embedded log.
async fn self_check(args: &Args) -> Result<(), String> {
    use tandemu_ingest::auth::{self, Role, Verifier};
    use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig};
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).map_err(|e| e.to_string())?;
    let secret = b"loadgen-self-check-secret-0123456789";
    let cfg = tandemu_ingest::IngestConfig { grpc_addr: "127.0.0.1:0".parse().unwrap(), http_addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let pipeline = Arc::new(tandemu_ingest::Pipeline::new(Arc::new(log.clone()), Verifier::hs256(secret).unwrap(), cfg));
    let running = tandemu_ingest::server::start(pipeline).await.map_err(|e| e.to_string())?;
    let claims = auth::claims_for(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), Role::Member, Duration::from_secs(600));
    let token = auth::issue_hs256(secret, &claims).map_err(|e| e.to_string())?;
    let result = run(args, &format!("http://{}", running.http_addr), &token).await;
    running.shutdown().await;
    let written = log.end_offset();
    println!("self-check: {written} events in the embedded log");
    if written == 0 {
        return Err("nothing reached the log".into());
    }
    result
}

fn main() {
    let mut args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let result = match (&args.url, &args.token) {
        (Some(url), Some(token)) => rt.block_on(run(&args, url, token)),
        (Some(_), None) => Err("--url needs --token (or TANDEMU_TOKEN)".into()),
        (None, _) => {
            if !args.bench {
                // Under `cargo test`: short and light.
                args.duration = Duration::from_millis(500);
                args.rate = args.rate.min(5_000);
            }
            rt.block_on(self_check(&args))
        }
    };
    if let Err(e) = result {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}
