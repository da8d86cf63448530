//! The distributed path: canonical events in a real Kafka-protocol topic (Tansu), consumed by the
//! processor as a member of a consumer group, written to ClickHouse (the real engine), offsets
//! committed to the group after the writes. A second run of the group resumes from the commit
//! and counts nothing twice.

use std::time::{Duration, Instant};

use clickhouse::Client;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use tandemu_ingest::log::{EventLog, KafkaLog, KafkaLogConfig};
use tandemu_processor::runner::{self, KafkaSourceConfig, RunnerConfig};
use tandemu_processor::store::ProjectionStore;
use tandemu_processor::store::clickhouse::ClickHouseStore;
use tandemu_schemas::fixtures;
use tandemu_schemas::{Stamp, TenantId, UserId, testenv};
use tokio::sync::watch;
use uuid::Uuid;

async fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let r = admin
        .create_topics(&[NewTopic::new(topic, 3, TopicReplication::Fixed(1))], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
        .await
        .unwrap_or_else(|e| panic!("{}", testenv::unreachable("Kafka (Tansu)", brokers, e)));
    assert!(r.iter().all(|x| matches!(x, Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)))), "{r:?}");
}

/// What the group has committed, summed over the topic's three partitions.
fn committed_total(brokers: &str, group: &str, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", group).create().unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(topic, p);
    }
    match c.committed_offsets(tpl, Duration::from_secs(5)) {
        Ok(t) => t
            .elements()
            .iter()
            .map(|e| match e.offset() {
                rdkafka::Offset::Offset(o) => o,
                _ => 0,
            })
            .sum(),
        Err(_) => 0,
    }
}

/// Runs the group until it has committed `want` records in all (or 60 s pass), then stops it.
async fn run_until(kafka: &KafkaSourceConfig, store: &ClickHouseStore, cfg: &RunnerConfig, want: i64) -> u64 {
    let (stop, rx) = watch::channel(false);
    let work = {
        let (kafka, store, cfg) = (kafka.clone(), store.clone(), cfg.clone());
        tokio::spawn(async move { runner::run_kafka(&kafka, &store, &cfg, rx).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = committed_total(&kafka.brokers, &cfg.group, &kafka.topic);
        if done >= want {
            break;
        }
        assert!(!work.is_finished(), "the processor stopped early");
        assert!(Instant::now() < deadline, "the group committed {done} of {want} records in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), work).await.expect("processor stops").expect("task").expect("processor ran")
}

fn rounded(mut rows: Vec<tandemu_processor::aggregate::SessionRow>) -> Vec<tandemu_processor::aggregate::SessionRow> {
    for s in &mut rows {
        s.cost_usd = (s.cost_usd * 1e9).round() / 1e9;
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_topic_into_clickhouse_through_a_consumer_group() {
    let brokers = testenv::kafka_brokers();
    let topic = testenv::unique("processor_topic");
    create_topic(&brokers, &topic).await;

    let url = testenv::clickhouse_url();
    let db = testenv::unique("processor_kafka");
    let root = Client::default().with_url(&url);
    root.query(&format!("CREATE DATABASE {db}")).execute().await.unwrap_or_else(|e| panic!("{}", testenv::unreachable("ClickHouse", &url, e)));
    let store = ClickHouseStore::new(root.with_database(&db)).with_retention_days(testenv::TEST_RETENTION_DAYS);
    store.migrate().await.expect("migrate");

    let stamp = Stamp { tenant: TenantId(Uuid::new_v4()), user: UserId(Uuid::new_v4()) };
    let log = KafkaLog::connect(KafkaLogConfig::new(&brokers, &topic)).expect("producer");
    let mut sent = 0i64;
    for c in fixtures::load("http_protobuf") {
        let events = c.map(&stamp).expect("maps").events;
        log.append(&events).await.expect("append to Kafka");
        sent += events.len() as i64;
    }

    let kafka = KafkaSourceConfig {
        brokers: brokers.clone(),
        topic: topic.clone(),
        // Tansu: a short session timeout makes the first join quick; eager assignors.
        overrides: vec![("session.timeout.ms".into(), "6000".into()), ("partition.assignment.strategy".into(), "range,roundrobin".into())],
    };
    let cfg = RunnerConfig { group: testenv::unique("processor_group"), linger: Duration::from_millis(100), ..Default::default() };
    let n = run_until(&kafka, &store, &cfg, sent).await;
    assert_eq!(n as i64, sent, "every record processed once");

    let sessions = store.sessions(stamp.tenant).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!((s.prompts, s.api_requests, s.tool_calls, s.tool_failures), (1, 6, 5, 2));
    assert_eq!((s.lines_added, s.lines_removed, s.commits), (14, 2, 1));
    assert_eq!((s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens), (38, 1068, 92461, 19785));
    assert_eq!(s.duration_ms, 1259);

    // The same export again (an exporter retry) and a second run of the group: it resumes from
    // the committed offsets, processes only the retry, and the retry changes no number.
    for c in fixtures::load("http_protobuf") {
        log.append(&c.map(&stamp).expect("maps").events).await.expect("append the retry");
    }
    let before = rounded(sessions);
    let n = run_until(&kafka, &store, &cfg, 2 * sent).await;
    assert_eq!(n as i64, sent, "the second run resumed from the committed offsets");
    assert_eq!(rounded(store.sessions(stamp.tenant).await.unwrap()), before, "a retried export counts nothing twice");
    assert_eq!(store.friction(stamp.tenant).await.unwrap().len(), 2);

    // A replay: the group is rewound to the topic's start and the projections forgotten; the
    // group, started again, rebuilds them from every record, to the same numbers.
    let replay = runner::replay_kafka(&kafka, &store, &cfg.group, None).await.expect("replay");
    assert_eq!(replay.rewound.len(), 3, "{replay:?}");
    assert!(replay.rewound.iter().all(|(_, o)| *o == 0), "{replay:?}");
    assert!(store.sessions(stamp.tenant).await.unwrap().is_empty(), "the projections were forgotten");
    let n = run_until(&kafka, &store, &cfg, 2 * sent).await;
    assert_eq!(n as i64, 2 * sent, "every record processed again");
    assert_eq!(rounded(store.sessions(stamp.tenant).await.unwrap()), before, "rebuilt to the same numbers");

    // While a processor of the group runs, a replay is refused (its commits would race the
    // rewind). The member is known to have joined once it commits a new record.
    let (stop, rx) = watch::channel(false);
    let work = {
        let (kafka, store, cfg) = (kafka.clone(), store.clone(), cfg.clone());
        tokio::spawn(async move { runner::run_kafka(&kafka, &store, &cfg, rx).await })
    };
    let one = fixtures::load("http_protobuf")[0].map(&stamp).expect("maps").events;
    log.append(&one).await.expect("append");
    let deadline = Instant::now() + Duration::from_secs(60);
    while committed_total(&brokers, &cfg.group, &topic) < 2 * sent + one.len() as i64 {
        assert!(Instant::now() < deadline, "the member did not join and commit");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = runner::replay_kafka(&kafka, &store, &cfg.group, None).await.expect_err("refused beside a running member");
    assert!(refused.to_string().contains("active member"), "{refused}");
    assert_eq!(rounded(store.sessions(stamp.tenant).await.unwrap()), before, "and nothing was forgotten");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), work).await.expect("stops").expect("task").expect("ran");
}
