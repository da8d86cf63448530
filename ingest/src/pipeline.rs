//! What every export goes through, whatever the transport: the identity from the verified
//! token, the mapping (and its allowlist), the per-tenant limit, and the durable append.
//! Transports (`http`, `grpc`) only decode and encode around it.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tandemu_schemas::TenantId;
use tandemu_schemas::otlp::{Mapped, Signal};

use crate::auth::{Claims, Verifier};
use crate::config::IngestConfig;
use crate::error::IngestError;
use crate::log::EventLog;

/// The outcome of an accepted export: what to report as OTLP partial success.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Accepted {
    pub events: u64,
    pub rejected: u64,
    pub message: Option<String>,
}

pub struct Pipeline {
    log: Arc<dyn EventLog>,
    verifier: Verifier,
    limiter: DefaultKeyedRateLimiter<TenantId>,
    config: IngestConfig,
}

impl Pipeline {
    pub fn new(log: Arc<dyn EventLog>, verifier: Verifier, config: IngestConfig) -> Self {
        let rate = NonZeroU32::new(config.tenant_events_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Self { log, verifier, limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)), config }
    }

    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// Verifies an `Authorization` header value.
    pub fn authorize(&self, header: Option<&str>) -> Result<Claims, IngestError> {
        self.verifier.verify_header(header).map_err(|e| {
            metrics::counter!("tandemu_ingest_rejected_requests_total", "reason" => "unauthenticated").increment(1);
            IngestError::Auth(e)
        })
    }

    /// Limits, appends and accounts for a mapped export. Answers only once the log has it.
    pub async fn accept(&self, signal: Signal, claims: &Claims, mapped: Mapped) -> Result<Accepted, IngestError> {
        let sig = signal.as_str();
        if mapped.rejected > 0 {
            metrics::counter!("tandemu_ingest_events_rejected_total", "signal" => sig, "reason" => "invalid").increment(mapped.rejected);
        }
        if mapped.ignored > 0 {
            metrics::counter!("tandemu_ingest_records_ignored_total", "signal" => sig).increment(mapped.ignored);
        }
        let n = mapped.events.len() as u32;
        if let Some(nz) = NonZeroU32::new(n) {
            let over = match self.limiter.check_key_n(&claims.stamp().tenant, nz) {
                Ok(Ok(())) => None,
                Ok(Err(not_until)) => Some(not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()))),
                // A single batch larger than the burst can never fit: ask for a retry later
                // rather than accept it over the limit.
                Err(_) => Some(Duration::from_secs(1)),
            };
            if let Some(wait) = over {
                metrics::counter!("tandemu_ingest_events_rejected_total", "signal" => sig, "reason" => "rate_limited").increment(n as u64);
                return Err(IngestError::RateLimited { retry_after: wait.max(Duration::from_secs(1)) });
            }
        }
        let started = Instant::now();
        let appended = tokio::time::timeout(self.config.request_timeout, self.log.append(&mapped.events)).await;
        metrics::histogram!("tandemu_ingest_log_append_seconds", "log" => self.log.kind()).record(started.elapsed().as_secs_f64());
        let unavailable = |reason: String| {
            metrics::counter!("tandemu_ingest_events_rejected_total", "signal" => sig, "reason" => "log_unavailable").increment(n as u64);
            IngestError::Unavailable { reason, retry_after: self.config.retry_after }
        };
        match appended {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Err(_) => return Err(unavailable("the event log did not confirm the batch in time".into())),
        }
        metrics::counter!("tandemu_ingest_events_accepted_total", "signal" => sig).increment(n as u64);
        Ok(Accepted { events: n as u64, rejected: mapped.rejected, message: mapped.partial_success_message() })
    }
}
