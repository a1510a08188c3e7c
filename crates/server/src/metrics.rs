//! Counters served at `/metrics` in Prometheus' text format. Counts only: no ids, no names.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

/// Who may read `/metrics` on a listener.
#[derive(Clone, Debug)]
pub enum MetricsAccess {
    /// Not served (the public listener when no metrics token is set).
    Hidden,
    /// Served to anyone who reaches the listener (the loopback metrics listener).
    Open,
    /// Served to requests that carry the metrics token.
    Token(MetricsToken),
}

/// The metrics token, kept as its SHA-256 and compared in constant time.
#[derive(Clone)]
pub struct MetricsToken([u8; 32]);

impl MetricsToken {
    pub fn new(token: &str) -> MetricsToken {
        MetricsToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `offered` is the token; the time taken does not depend on where they differ.
    pub fn matches(&self, offered: &str) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        self.0.ct_eq(&offered).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by status class: 1xx..5xx at indexes 0..4.
    requests: [AtomicU64; 5],
    pushes: AtomicU64,
    events_stored: AtomicU64,
    events_already_stored: AtomicU64,
    pulls: AtomicU64,
    events_pulled: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[class].fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_push(&self, stored: usize, already_stored: usize) {
        self.pushes.fetch_add(1, Ordering::Relaxed);
        self.events_stored.fetch_add(stored as u64, Ordering::Relaxed);
        self.events_already_stored.fetch_add(already_stored as u64, Ordering::Relaxed);
    }

    pub fn record_pull(&self, events: usize) {
        self.pulls.fetch_add(1, Ordering::Relaxed);
        self.events_pulled.fetch_add(events as u64, Ordering::Relaxed);
    }

    /// The exposition text; `events_in_store` is the store's total, when it answered.
    pub fn render(&self, events_in_store: Option<u64>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP harbour_http_requests_total HTTP requests answered, by status class.");
        let _ = writeln!(out, "# TYPE harbour_http_requests_total counter");
        for (index, counter) in self.requests.iter().enumerate() {
            let _ = writeln!(
                out,
                "harbour_http_requests_total{{status=\"{}xx\"}} {}",
                index + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        let counters = [
            ("harbour_pushes_total", "Acknowledged push batches.", &self.pushes),
            ("harbour_events_stored_total", "Events newly stored by pushes.", &self.events_stored),
            (
                "harbour_events_already_stored_total",
                "Pushed events that were already stored (harmless replays).",
                &self.events_already_stored,
            ),
            ("harbour_pulls_total", "Pull requests answered.", &self.pulls),
            ("harbour_events_pulled_total", "Events served by pulls.", &self.events_pulled),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        if let Some(total) = events_in_store {
            let _ = writeln!(out, "# HELP harbour_events Events held in the store.");
            let _ = writeln!(out, "# TYPE harbour_events gauge");
            let _ = writeln!(out, "harbour_events {total}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_token_matches_only_itself() {
        let token = MetricsToken::new("a-long-random-metrics-token");
        assert!(token.matches("a-long-random-metrics-token"));
        assert!(!token.matches("a-long-random-metrics-tokeN"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("random"));
    }
}
