//! Claude Code metrics to canonical metric points.
//!
//! Each data point becomes one event that keeps its temporality, start time and value; turning
//! cumulative series into deltas needs per-series state, which belongs to the processor, so that
//! any number of stateless ingest replicas can see the same series.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, NumberDataPoint, metric::Data, number_data_point};
use prost::Message;

use super::{Mapped, Stamp, client_of};
use crate::allowlist::{self as list, Fields};
use crate::event::*;
use crate::ids::{EventIdBuilder, SessionId};

/// Maps every data point of an export request. See the module docs of `otlp`.
pub fn map_metrics(req: &ExportMetricsServiceRequest, stamp: &Stamp) -> Mapped {
    let mut out = Mapped::default();
    for rm in &req.resource_metrics {
        let client = client_of(rm.resource.as_ref());
        let resource_print = rm.resource.as_ref().map(|r| fingerprint(&r.attributes)).unwrap_or_default();
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                let kind = MetricKind::from_otlp_name(&metric.name);
                let (points, temporality) = match &metric.data {
                    Some(Data::Sum(sum)) => (&sum.data_points, sum.aggregation_temporality),
                    Some(Data::Gauge(g)) => {
                        out.ignored += g.data_points.len() as u64;
                        continue;
                    }
                    _ => {
                        out.ignored += 1;
                        continue;
                    }
                };
                let Some(kind) = kind else {
                    out.ignored += points.len() as u64;
                    continue;
                };
                let temporality = match AggregationTemporality::try_from(temporality) {
                    Ok(AggregationTemporality::Delta) => Temporality::Delta,
                    Ok(AggregationTemporality::Cumulative) => Temporality::Cumulative,
                    _ => {
                        for _ in points {
                            out.reject(format!("{}: sum without a valid aggregation temporality", metric.name));
                        }
                        continue;
                    }
                };
                for p in points {
                    match map_point(p, kind, temporality, stamp, &client, &resource_print) {
                        Ok(ev) => out.events.push(ev),
                        Err(reason) => out.reject(format!("{}: {reason}", metric.name)),
                    }
                }
            }
        }
    }
    out
}

fn map_point(p: &NumberDataPoint, kind: MetricKind, temporality: Temporality, stamp: &Stamp, client: &Client, resource_print: &[u8]) -> Result<Event, String> {
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => return Err("data point without a value".into()),
    };
    if !value.is_finite() {
        return Err("data point value is not a finite number".into());
    }
    if p.time_unix_nano == 0 {
        return Err("data point without a time".into());
    }
    let f = Fields::new(&p.attributes, list::METRIC_POINT);
    let session = f.ident("session.id").map(SessionId);

    // Points of one series at one time are the same point; the full attribute set (hashed, never
    // stored) separates series that differ only in attributes the allowlist drops.
    let mut id = EventIdBuilder::new(stamp.tenant, "metric");
    id.part(stamp.user.as_uuid().as_bytes())
        .num(kind as u64)
        .num(p.start_time_unix_nano)
        .num(p.time_unix_nano)
        .part(resource_print)
        .part(&fingerprint(&p.attributes));

    Ok(Event {
        id: id.finish(),
        tenant: stamp.tenant,
        user: stamp.user,
        session,
        time_unix_nano: p.time_unix_nano,
        sequence: None,
        client: Client { terminal: f.ident("terminal.type"), ..client.clone() },
        body: EventBody::Metric(MetricPoint {
            metric: kind as i32,
            temporality: temporality as i32,
            start_time_unix_nano: p.start_time_unix_nano,
            value,
            r#type: f.ident("type"),
            model: f.ident("model"),
            decision: f.ident("decision"),
            source: f.ident("source"),
            tool_name: f.ident("tool_name"),
            language: f.ident("language"),
            start_type: f.ident("start_type"),
            query_source: f.ident("query_source"),
        }),
    })
}

/// A one-way digest of an attribute set, used only inside event ids.
fn fingerprint(attrs: &[KeyValue]) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    for kv in attrs {
        h.update(&kv.encode_to_vec());
    }
    h.finalize().as_bytes()[..16].to_vec()
}
