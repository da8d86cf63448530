//! ClickHouse going away under the processor: the real engine behind a TCP relay this test can
//! cut. While it is cut (before a batch, and in the middle of batches) the processor retries
//! with backoff and commits nothing; once it is back, every number is exactly the fixtures' —
//! nothing lost, nothing counted twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clickhouse::Client;
use tandemu_ingest::log::{EmbeddedLog, EmbeddedLogConfig, EventLog};
use tandemu_processor::runner::{self, RunnerConfig};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_schemas::{Stamp, TenantId, UserId, fixtures, testenv};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

/// A relay to ClickHouse's HTTP port that can be cut: while cut, new connections are closed at
/// once and open ones are dropped.
struct Relay {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = watch::channel(0u64);
        let is_up = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                if !is_up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let mut cuts = cuts.clone();
                // Only cuts from now on end this connection.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_outage_delays_but_never_loses_or_doubles() {
    let url = testenv::clickhouse_url();
    let target = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let db = testenv::unique("outage");
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    let direct = ClickHouseStore::new(root.clone().with_database(&db)).with_retention_days(testenv::TEST_RETENTION_DAYS);
    direct.migrate().await.expect("migrate");

    let relay = Relay::start(target).await;
    let relayed =
        ClickHouseStore::new(Client::default().with_url(format!("http://{}", relay.addr)).with_database(&db)).with_retention_days(testenv::TEST_RETENTION_DAYS);

    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path().join("log"))).unwrap();
    let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
    for c in fixtures::load("http_protobuf_gzip") {
        log.append(&c.map(&stamp).unwrap().events).await.unwrap();
    }

    // Down before the first write: the loop retries and commits nothing.
    relay.set(false);
    let group = "outage";
    // Small batches, so the cut below lands between and inside them.
    let cfg = RunnerConfig { group: group.into(), batch_max: 4, ..Default::default() };
    let (stop, rx) = watch::channel(false);
    let work = {
        let (log, store, cfg) = (log.clone(), relayed.clone(), cfg.clone());
        tokio::spawn(async move { runner::run_embedded(&log, &store, &cfg, rx, false).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(log.committed(group).unwrap(), 0, "nothing is committed while the store is down");
    assert!(direct.sessions(stamp.tenant).await.unwrap().is_empty());

    // Up: it goes through; then cut again in the middle of the run, and back.
    relay.set(true);
    tokio::time::sleep(Duration::from_millis(150)).await;
    relay.set(false);
    tokio::time::sleep(Duration::from_millis(700)).await;
    relay.set(true);

    let deadline = Instant::now() + Duration::from_secs(60);
    while log.committed(group).unwrap() < log.end_offset() {
        assert!(Instant::now() < deadline, "the processor did not catch up after the outage");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    work.await.unwrap().expect("the loop ends cleanly");

    let sessions = direct.sessions(stamp.tenant).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!((s.prompts, s.api_requests, s.tool_calls, s.tool_failures), (1, 6, 5, 2));
    assert_eq!((s.lines_added, s.lines_removed, s.commits), (14, 2, 1));
    assert_eq!((s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens), (38, 1068, 92461, 19785));
    assert!((s.cost_usd - 0.19677675).abs() < 1e-9);
    assert_eq!(s.duration_ms, 1054);
    assert_eq!(direct.friction(stamp.tenant).await.unwrap().len(), 2);
}

/// Stopping while the store is down ends the loop at once, with a clear error, and commits nothing
/// (instead of retrying until the store comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_an_outage_ends_the_loop_without_committing() {
    let url = testenv::clickhouse_url();
    let target = url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let db = testenv::unique("outage_stop");
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    ClickHouseStore::new(root.clone().with_database(&db)).migrate().await.expect("migrate");
    let relay = Relay::start(target).await;
    let relayed = ClickHouseStore::new(Client::default().with_url(format!("http://{}", relay.addr)).with_database(&db));
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path().join("log"))).unwrap();
    let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
    let (stop, rx) = watch::channel(false);
    let cfg = RunnerConfig { group: "outage-stop".into(), idle_poll: Duration::from_millis(20), ..Default::default() };
    // The store is up while the loop starts (it reads the series state) on an empty log...
    let work = {
        let (log, store, cfg) = (log.clone(), relayed.clone(), cfg.clone());
        tokio::spawn(async move {
            let r = runner::run_embedded(&log, &store, &cfg, rx, false).await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // ... and down when the events arrive, so their write is retried until the stop.
    relay.set(false);
    for c in fixtures::load("http_json") {
        log.append(&c.map(&stamp).unwrap().events).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let asked = Instant::now();
    stop.send(true).unwrap();
    let (result, ended) = tokio::time::timeout(Duration::from_secs(10), work).await.expect("the loop ends soon after the stop").unwrap();
    let err = result.expect_err("the batch could not be written");
    assert!(err.to_string().contains("processed again at the next start"), "{err}");
    assert!(ended.duration_since(asked) < Duration::from_secs(5));
    assert_eq!(log.committed("outage-stop").unwrap(), 0, "nothing committed");

    // Down from the start: the stop ends the wait for the series state as well.
    let (stop, rx) = watch::channel(false);
    let work = {
        let (log, store, cfg) = (log.clone(), relayed.clone(), cfg.clone());
        tokio::spawn(async move { runner::run_embedded(&log, &store, &cfg, rx, false).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), work).await.expect("ends soon").unwrap().expect_err("nothing processed");
    assert!(err.to_string().contains("before processing anything"), "{err}");
}
