//! From OTLP requests (the prost types of `opentelemetry-proto`) to canonical events.
//!
//! The caller passes the verified identity as a [`Stamp`]; the payload's own identity attributes
//! (`user.id`, `user.email`, `user.account_uuid`, `organization.id`) are never read. Each record
//! maps on its own: a record that cannot be mapped is counted as rejected with a reason, and the
//! rest of the batch is kept (OTLP partial success). Records of kinds the pipeline does not model
//! (other programs' logs, histograms, unknown spans) are counted as ignored.

mod decode;
mod logs;
mod metrics;
mod traces;

pub use decode::{DecodeError, Encoding, decode_logs, decode_metrics, decode_traces, gunzip_limited};
pub use logs::map_logs;
pub use metrics::map_metrics;
pub use traces::map_traces;

use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::allowlist::{self, Fields};
use crate::event::{Client, Event};
use crate::ids::{TenantId, UserId};

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

impl Signal {
    pub fn as_str(&self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }
}

impl std::str::FromStr for Signal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "logs" => Ok(Signal::Logs),
            "metrics" => Ok(Signal::Metrics),
            "traces" => Ok(Signal::Traces),
            other => Err(format!("unknown OTLP signal {other:?} (expected logs, metrics or traces)")),
        }
    }
}

/// Decodes an (uncompressed) export request body of `signal` and maps it.
pub fn decode_and_map(signal: Signal, body: &[u8], enc: Encoding, stamp: &Stamp) -> Result<Mapped, DecodeError> {
    Ok(match signal {
        Signal::Logs => map_logs(&decode_logs(body, enc)?, stamp),
        Signal::Metrics => map_metrics(&decode_metrics(body, enc)?, stamp),
        Signal::Traces => map_traces(&decode_traces(body, enc)?, stamp),
    })
}

/// Who sent the batch, from the verified token. The only source of tenant and user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub tenant: TenantId,
    pub user: UserId,
}

/// The result of mapping one export request.
#[derive(Debug, Default)]
pub struct Mapped {
    pub events: Vec<Event>,
    /// Records that were invalid (no timestamp, bad ids, no value, …).
    pub rejected: u64,
    /// Records of kinds the pipeline does not model; not an error.
    pub ignored: u64,
    /// The first rejection's reason, for the OTLP partial-success message.
    pub first_error: Option<String>,
}

impl Mapped {
    fn reject(&mut self, reason: impl Into<String>) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(reason.into());
        }
    }

    /// A partial-success message naming the count and the first reason, or `None` when nothing
    /// was rejected.
    pub fn partial_success_message(&self) -> Option<String> {
        let reason = self.first_error.as_deref()?;
        Some(format!("{} record(s) rejected; first: {reason}", self.rejected))
    }
}

/// The allowlisted resource attributes, shared by every record under that resource.
fn client_of(resource: Option<&Resource>) -> Client {
    let attrs = resource.map(|r| r.attributes.as_slice()).unwrap_or_default();
    let f = Fields::new(attrs, allowlist::RESOURCE);
    Client { service: f.ident("service.name"), version: f.ident("service.version"), os_type: f.ident("os.type"), arch: f.ident("host.arch"), terminal: None }
}

/// Parses an RFC 3339 timestamp (`event.timestamp`) into Unix nanoseconds.
fn parse_rfc3339_nanos(s: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(s.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(d.as_nanos()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_claude_code_timestamps() {
        assert_eq!(parse_rfc3339_nanos("2026-12-03T19:12:27.103Z"), Some(1_796_325_147_103_000_000));
        assert_eq!(parse_rfc3339_nanos("yesterday"), None);
    }
}
