//! The load benchmark's smoke (the full size is `src/bin/load-bench.rs`, in tests/long.sh):
//! ten laptops with their own tokens push and pull for a few seconds on each backend; every
//! request succeeds and no acknowledged event is missing from its team's feed. Latency is not
//! asserted here (the machine is shared).

use std::time::Duration;

use harbour_tests::binary;
use harbour_tests::load::{LoadConfig, run};
use harbour_tests::server::Backend;

#[test]
fn ten_laptops_push_and_pull_for_seconds_without_an_error_or_a_lost_event() {
    for backend in Backend::all() {
        let dir = tempfile::tempdir().unwrap();
        let config = LoadConfig {
            laptops: 10,
            team_size: 5,
            duration: Duration::from_secs(4),
            interval: Duration::from_millis(400),
            server: binary("harbour-server"),
            backend,
        };
        let report = run(&config, dir.path());
        let text = report.text();
        assert_eq!(report.error_count(), 0, "{text}");
        assert_eq!(report.lost_events, 0, "{text}");
        assert_eq!(report.teams, 2, "{text}");
        // Every laptop pushed at least once, and pulled what its teammates pushed.
        assert!(report.push_latencies.len() >= 10, "{text}");
        assert!(report.events_pushed > 0 && report.events_pulled > 0, "{text}");
        assert!(report.server_rss_peak_kib > 0 && report.generator_cpu > Duration::ZERO, "{text}");
    }
}
