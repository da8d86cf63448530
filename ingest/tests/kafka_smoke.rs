//! Smoke test against a real Kafka-protocol broker (Tansu): a canonical event goes through a
//! topic and comes back out of a consumer group, byte for byte, with its offset committed.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tandemu_ingest::partition::partition_key;
use tandemu_schemas::testenv;
use tandemu_schemas::*;
use uuid::Uuid;

fn event() -> Event {
    Event {
        id: EventId([42; 16]),
        tenant: TenantId(Uuid::new_v4()),
        user: UserId(Uuid::new_v4()),
        session: Some(SessionId("73965677-e2c1-4602-b135-6946d405f3ad".into())),
        time_unix_nano: 1_796_325_147_331_000_000,
        sequence: Some(4),
        client: Client { service: Some("claude-code".into()), ..Default::default() },
        body: EventBody::ToolResult(ToolResult {
            tool_name: Some("Read".into()),
            success: Some(false),
            error_type: Some("TelemetrySafeError".into()),
            file_path: Some("~/src/hello-app/does_not_exist.txt".into()),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn canonical_event_round_trips_through_a_consumer_group() {
    let brokers = testenv::kafka_brokers();
    let topic = testenv::unique("smoke_events");

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &brokers).create().expect("admin client");
    let created = admin
        .create_topics(&[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
        .await
        .unwrap_or_else(|e| panic!("{}", testenv::unreachable("Kafka broker", &brokers, e)));
    assert!(created.iter().all(|r| r.is_ok()), "create topic: {created:?}");

    // The production settings of the event log: idempotent, acknowledged by all replicas.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "15000")
        .create()
        .expect("producer");
    let ev = event();
    let payload = encoding::encode(&ev);
    let key = partition_key(&ev);
    let delivery = producer
        .send(FutureRecord::to(&topic).key(&key).payload(&payload), Duration::from_secs(15))
        .await
        .unwrap_or_else(|(e, _)| panic!("{}", testenv::unreachable("Kafka broker", &brokers, e)));
    let (partition, offset) = (delivery.partition, delivery.offset);

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", testenv::unique("smoke_group"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("partition.assignment.strategy", "range,roundrobin")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let msg = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.expect("a message within 60 s").expect("consume");
    assert_eq!((msg.partition(), msg.offset()), (partition, offset));
    assert_eq!(msg.key(), Some(key.as_slice()));
    let decoded = encoding::decode(msg.payload().expect("payload")).expect("decodes");
    assert_eq!(decoded, ev);

    consumer.commit_message(&msg, CommitMode::Sync).expect("commit");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, partition);
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
    let elem = committed.find_partition(&topic, partition).expect("partition in the list");
    assert_eq!(elem.offset(), Offset::Offset(offset + 1), "the group's committed offset is the next message");
}
