//! Counters served at `/metrics` in Prometheus' text format. Counts only: no ids, no names.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
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
