//! The 200-laptop load benchmark (docs/PERFORMANCE.md, "Load"): simulated laptops with their
//! own workspaces and tokens push and pull through the real sync client against the real
//! `harbour-server` on 127.0.0.1, on SQLite, then on PostgreSQL when
//! `HARBOUR_TEST_POSTGRES_URL` names one (`bash .ci/postgres.sh start` starts a throwaway one).
//!
//!     cargo build --release -p harbour-server -p harbour-tests --bin harbour-server --bin load-bench
//!     target/release/load-bench
//!
//! Sizes (environment): HARBOUR_LOAD_LAPTOPS=200, HARBOUR_LOAD_SECONDS=60,
//! HARBOUR_LOAD_INTERVAL_MS=1000 (each laptop syncs that often), HARBOUR_LOAD_TEAM_SIZE=10,
//! HARBOUR_LOAD_SERVER=path of the server binary (default: target/release/harbour-server),
//! HARBOUR_LOAD_BACKENDS=sqlite,postgres. Exits non-zero on any error or lost event.

use std::path::PathBuf;
use std::time::Duration;

use harbour_tests::load::{LoadConfig, percentile, run};
use harbour_tests::server::{Backend, postgres_url};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(default)
}

fn main() {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(2).map(PathBuf::from))
        .expect("the benchmark runs from target/<profile>/");
    let server = std::env::var_os("HARBOUR_LOAD_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("release").join("harbour-server"));
    if !server.exists() {
        eprintln!("load-bench: {} is not built; run `cargo build --release -p harbour-server`", server.display());
        std::process::exit(2);
    }
    let wanted: String = env("HARBOUR_LOAD_BACKENDS", "sqlite,postgres".to_owned());
    let mut backends = Vec::new();
    if wanted.split(',').any(|name| name.trim() == "sqlite") {
        backends.push(Backend::Sqlite);
    }
    if wanted.split(',').any(|name| name.trim() == "postgres") {
        match postgres_url() {
            Some(url) => backends.push(Backend::Postgres(url)),
            None => eprintln!("load-bench: HARBOUR_TEST_POSTGRES_URL is not set, so PostgreSQL is not measured"),
        }
    }
    let mut failed = false;
    for backend in backends {
        let config = LoadConfig {
            laptops: env("HARBOUR_LOAD_LAPTOPS", 200),
            team_size: env("HARBOUR_LOAD_TEAM_SIZE", 10),
            duration: Duration::from_secs(env("HARBOUR_LOAD_SECONDS", 60)),
            interval: Duration::from_millis(env("HARBOUR_LOAD_INTERVAL_MS", 1000)),
            server: server.clone(),
            backend,
        };
        let dir = tempfile::Builder::new().prefix("harbour-load").tempdir_in(&target).expect("a scratch folder");
        println!(
            "Load: {} laptops, teams of {}, one sync each per {:?}, {:?}, server {}",
            config.laptops,
            config.team_size,
            config.interval,
            config.duration,
            server.display()
        );
        let report = run(&config, dir.path());
        println!("{}\n", report.text());
        let target_p99 = Duration::from_millis(500);
        for (what, latencies) in [("push", &report.push_latencies), ("pull", &report.pull_latencies)] {
            let p99 = percentile(latencies, 99.0);
            println!(
                "{what} p99 {p99:.1?}: target ≤ {target_p99:?} {}",
                if p99 <= target_p99 { "met" } else { "MISSED" }
            );
        }
        failed |= report.error_count() > 0 || report.lost_events > 0;
    }
    if failed {
        eprintln!("load-bench: errors or lost events (see above)");
        std::process::exit(1);
    }
}
