//! Ingest into a real Kafka-protocol broker (a Tansu process this test owns): every capture over
//! HTTP and gRPC reaches the topic without content; with the broker stopped, exports get 503 /
//! UNAVAILABLE; once it is back, the retried export is accepted and nothing acknowledged is
//! missing.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use tandemu_ingest::log::{KafkaLog, KafkaLogConfig};
use tandemu_schemas::fixtures::{self, Capture};
use tandemu_schemas::{EventId, encoding, testenv};

struct Broker {
    port: u16,
    child: Child,
}

impl Broker {
    fn start(port: u16) -> Self {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(testenv::tansu_bin())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", testenv::unreachable("Tansu binary", &testenv::tansu_bin(), e)));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Tansu did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child }
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let r = admin
        .create_topics(&[NewTopic::new(topic, 3, TopicReplication::Fixed(1))], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
        .await
        .expect("create topic");
    // A producer's metadata request may have auto-created it already.
    assert!(r.iter().all(|x| matches!(x, Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)))), "{r:?}");
}

/// Consumes the topic until `want` records have arrived (or 60 s pass).
async fn consume(brokers: &str, topic: &str, want: usize) -> Vec<Vec<u8>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", testenv::unique("ingest_test"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("partition.assignment.strategy", "range,roundrobin")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while out.len() < want {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => out.push(m.payload().unwrap_or_default().to_vec()),
            Ok(Err(e)) => panic!("consume: {e}"),
            Err(_) => break,
        }
    }
    out
}

fn ids_of(payloads: &[Vec<u8>]) -> Vec<EventId> {
    let mut ids: Vec<EventId> = payloads.iter().map(|p| encoding::decode(p).expect("decodes").id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn captures_reach_the_topic_and_a_stopped_broker_means_retry_then_nothing_lost() {
    let broker = Broker::start(free_port());
    let topic = testenv::unique("events");
    create_topic(&broker.brokers(), &topic).await;
    let log =
        KafkaLog::connect(KafkaLogConfig { delivery_timeout: Duration::from_secs(3), ..KafkaLogConfig::new(broker.brokers(), &topic) }).expect("producer");
    let cfg = tandemu_ingest::IngestConfig { request_timeout: Duration::from_secs(8), retry_after: Duration::from_secs(1), ..config() };
    let ingest = start(Arc::new(log), cfg).await;
    let base = format!("http://{}", ingest.http_addr);
    let client = reqwest::Client::new();
    let who = Identity::new();

    // Every capture: HTTP ones over HTTP, gRPC ones over gRPC.
    let all: Vec<Capture> = fixtures::load_all();
    for c in &all {
        if c.transport == "http" {
            let r = post_capture(&client, &base, c, Some(&who.bearer())).await;
            assert_eq!(r.status(), 200, "{}/{}", c.variant, c.file);
        } else {
            grpc_export(ingest.grpc_addr, c, Some(&who.bearer()), false).await.expect("grpc export");
        }
    }
    let expected = expected_ids(&all, &who);
    let payloads = consume(&broker.brokers(), &topic, expected.len()).await;
    assert_eq!(ids_of(&payloads), expected, "the topic holds exactly the mapped events");
    let canaries = fixtures::canaries(&all);
    let leaks = fixtures::find_leaks(&payloads.concat(), &canaries);
    assert!(leaks.is_empty(), "content in the topic: {leaks:?}");

    // The broker goes away: exports are answered "retry", not OK.
    let port = broker.stop();
    let c = &fixtures::load("http_protobuf")[0];
    let r = post_capture(&client, &base, c, Some(&who.bearer())).await;
    assert_eq!(r.status(), 503, "log down");
    assert!(r.headers().get("retry-after").is_some());
    let g = grpc_export(ingest.grpc_addr, &fixtures::load("grpc")[2], Some(&who.bearer()), false).await.unwrap_err();
    assert_eq!(g.code(), tonic::Code::Unavailable, "{g}");
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), 503);

    // It comes back (empty: Tansu's memory storage); the exporter's retry is accepted.
    let broker = Broker::start(port);
    create_topic(&broker.brokers(), &topic).await;
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let r = post_capture(&client, &base, c, Some(&who.bearer())).await;
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503, "only 'retry' while the producer reconnects");
        let why: tandemu_ingest::rpc_status::Status = prost::Message::decode(r.bytes().await.unwrap()).unwrap();
        assert!(Instant::now() < deadline, "the retried export was never accepted: {}", why.message);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let want = expected_ids(std::slice::from_ref(c), &who);
    let got = consume(&broker.brokers(), &topic, want.len()).await;
    let got: BTreeSet<EventId> = ids_of(&got).into_iter().collect();
    assert!(want.iter().all(|id| got.contains(id)), "every event of the acknowledged retry is in the log");
    ingest.shutdown().await;
}
