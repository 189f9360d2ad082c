//! Prometheus metrics (`[metrics] listen`): the call bridge's counters in the text
//! exposition format at `GET /metrics`. `prometheus-client` (the Prometheus project's Rust
//! client) does the encoding; the HTTP side is one request per connection, all it needs.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

type Labels = Vec<(String, String)>;

/// What the call bridge counts.
#[derive(Debug, Clone)]
pub struct CallMetrics {
    /// Calls being set up or in progress.
    pub active: Gauge,
    /// Calls started, by direction (`sip-to-xmpp`, `xmpp-to-sip`).
    pub attempts: Family<Labels, Counter>,
    /// Calls answered, by direction.
    pub setups: Family<Labels, Counter>,
    /// Calls that ended before an answer, by Jingle reason.
    pub failures: Family<Labels, Counter>,
    /// From the first INVITE or session-initiate to the answer.
    pub setup_seconds: Histogram,
}

impl CallMetrics {
    pub fn direction(direction: &str) -> Labels {
        vec![("direction".into(), direction.into())]
    }

    pub fn reason(reason: &str) -> Labels {
        vec![("reason".into(), reason.into())]
    }
}

/// Every metric tandem exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub calls: CallMetrics,
    /// Stanzas sent to other clusters.
    pub cluster_forwarded: Counter,
    /// Stanzas taken from other clusters' links.
    pub cluster_received: Counter,
    /// Stanzas given up on between clusters, by reason (`max-hops`, `link-full`,
    /// `redis-unavailable`); each is also logged.
    pub cluster_give_ups: Family<Labels, Counter>,
    /// Outbound link connections that failed or dropped.
    pub cluster_link_failures: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let calls = CallMetrics {
            active: Gauge::default(),
            attempts: Family::default(),
            setups: Family::default(),
            failures: Family::default(),
            // 1 ms to ~33 s: a loopback setup to a ringing timeout.
            setup_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        };
        let mut registry = Registry::with_prefix("tandem");
        registry.register(
            "calls_active",
            "Bridged calls in progress",
            calls.active.clone(),
        );
        registry.register(
            "call_attempts",
            "Bridged calls started",
            calls.attempts.clone(),
        );
        registry.register(
            "call_setups",
            "Bridged calls answered",
            calls.setups.clone(),
        );
        registry.register(
            "call_failures",
            "Bridged calls that ended unanswered, by Jingle reason",
            calls.failures.clone(),
        );
        registry.register(
            "call_setup_seconds",
            "Time from the call's first request to its answer",
            calls.setup_seconds.clone(),
        );
        let cluster_forwarded = Counter::default();
        let cluster_received = Counter::default();
        let cluster_give_ups = Family::<Labels, Counter>::default();
        let cluster_link_failures = Counter::default();
        registry.register(
            "cluster_forwarded",
            "Stanzas sent to other clusters",
            cluster_forwarded.clone(),
        );
        registry.register(
            "cluster_received",
            "Stanzas received from other clusters",
            cluster_received.clone(),
        );
        registry.register(
            "cluster_give_ups",
            "Stanzas given up on between clusters, by reason",
            cluster_give_ups.clone(),
        );
        registry.register(
            "cluster_link_failures",
            "Cluster link connections that failed or dropped",
            cluster_link_failures.clone(),
        );
        Arc::new(Metrics {
            registry,
            calls,
            cluster_forwarded,
            cluster_received,
            cluster_give_ups,
            cluster_link_failures,
        })
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Serves `GET /metrics` until shutdown.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut request))
                    .await;
            let Ok(Ok(n)) = read else {
                return;
            };
            let line = String::from_utf8_lossy(&request[..n]);
            let response = if line.starts_with("GET /metrics ") {
                let body = metrics.encode();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_metrics_are_exported_with_their_labels() {
        let m = Metrics::new();
        m.calls.active.inc();
        m.calls
            .attempts
            .get_or_create(&CallMetrics::direction("sip-to-xmpp"))
            .inc();
        m.calls
            .failures
            .get_or_create(&CallMetrics::reason("busy"))
            .inc();
        m.calls.setup_seconds.observe(0.004);
        let text = m.encode();
        for line in [
            "tandem_calls_active 1",
            "tandem_call_attempts_total{direction=\"sip-to-xmpp\"} 1",
            "tandem_call_failures_total{reason=\"busy\"} 1",
            "tandem_call_setup_seconds_count 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
