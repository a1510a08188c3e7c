//! The load benchmark: many simulated laptops, each with its own workspace, certificate and
//! token, enrolled through the real enrolment path, pushing and pulling through the real sync
//! client (`harbour_sync::client::Client`) against a real `harbour-server` process on
//! 127.0.0.1, on SQLite or on PostgreSQL.
//!
//! Before the clock starts every laptop records its cases in its own workspace (a new case, an
//! edit and a note per round: sealed events with their grants, as the app makes them), so that
//! the measured phase spends the generator's CPU on the protocol, not on SQLCipher. Then each
//! laptop, once per `interval` (starting at a random offset), pushes its next round and pulls
//! its team's feed from its cursor until the server says there is no more. Every request's
//! latency is kept; any error is counted by kind. Afterwards one laptop of every team pulls the
//! whole feed again and every event any teammate had acknowledged must be in it (lost events).
//!
//! `src/bin/load-bench.rs` runs it at full size (docs/PERFORMANCE.md); `it/load.rs` is the
//! seconds-long smoke of the normal test run.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use harbour_core::SealedEvent;
use harbour_core::model::{CaseFields, Field, FieldValue};
use harbour_sync::client::{Client, ClientError};
use harbour_wire::protocol::Team;
use uuid::Uuid;

use crate::devices::{self, Device};
use crate::server::{Backend, ServerStore};

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub laptops: usize,
    /// Laptops per team: a laptop pulls what its team's laptops push.
    pub team_size: usize,
    /// The measured phase.
    pub duration: Duration,
    /// How often each laptop syncs (one push and the pulls that follow).
    pub interval: Duration,
    /// The `harbour-server` binary (a release build for figures).
    pub server: PathBuf,
    pub backend: Backend,
}

/// What was measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub laptops: usize,
    pub teams: usize,
    pub backend: String,
    pub setup: Duration,
    pub measured: Duration,
    pub push_latencies: Vec<Duration>,
    pub pull_latencies: Vec<Duration>,
    pub events_pushed: u64,
    pub events_pulled: u64,
    /// Errors by kind (the client's sentence without URLs or ids).
    pub errors: BTreeMap<String, u64>,
    /// Acknowledged events missing from their team's feed afterwards.
    pub lost_events: u64,
    /// Rounds a laptop had no events left for (the run outlasted what was prepared).
    pub rounds_without_events: u64,
    pub server_rss_peak_kib: u64,
    pub server_rss_end_kib: u64,
    /// CPU seconds used during the measured phase.
    pub server_cpu: Duration,
    pub generator_cpu: Duration,
    /// The machine's 1-minute load average at the start and the end of the measured phase
    /// (other work on the machine competes with both processes).
    pub load_average: (f64, f64),
}

impl LoadReport {
    pub fn requests(&self) -> usize {
        self.push_latencies.len() + self.pull_latencies.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// A text report, for the benchmark's output and docs/PERFORMANCE.md.
    pub fn text(&self) -> String {
        let seconds = self.measured.as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let share = |cpu: Duration| 100.0 * cpu.as_secs_f64() / seconds / cores;
        format!(
            "backend {backend}: {laptops} laptops in {teams} teams, {secs:.1} s measured (setup {setup:.0?})\n\
             requests: {requests} = {rps:.0}/s (push {pushes}, pull {pulls})\n\
             events: pushed {pushed} = {eps_up:.0}/s, pulled {pulled} = {eps_down:.0}/s\n\
             push latency: p50 {push50:.1?}, p99 {push99:.1?}, max {pushmax:.1?}\n\
             pull latency: p50 {pull50:.1?}, p99 {pull99:.1?}, max {pullmax:.1?}\n\
             errors: {errors} {kinds:?}; lost events: {lost}; rounds without events: {starved}\n\
             server RSS: peak {rss_peak} MiB, end {rss_end} MiB\n\
             CPU of the {cores:.0}-core machine: server {server_cpu:.0}%, load generator {generator_cpu:.0}%; \
             load average {load_start:.1} at the start, {load_end:.1} at the end",
            backend = self.backend,
            laptops = self.laptops,
            teams = self.teams,
            secs = seconds,
            setup = self.setup,
            requests = self.requests(),
            rps = self.requests() as f64 / seconds,
            pushes = self.push_latencies.len(),
            pulls = self.pull_latencies.len(),
            pushed = self.events_pushed,
            eps_up = self.events_pushed as f64 / seconds,
            pulled = self.events_pulled,
            eps_down = self.events_pulled as f64 / seconds,
            push50 = percentile(&self.push_latencies, 50.0),
            push99 = percentile(&self.push_latencies, 99.0),
            pushmax = percentile(&self.push_latencies, 100.0),
            pull50 = percentile(&self.pull_latencies, 50.0),
            pull99 = percentile(&self.pull_latencies, 99.0),
            pullmax = percentile(&self.pull_latencies, 100.0),
            errors = self.error_count(),
            kinds = self.errors,
            lost = self.lost_events,
            starved = self.rounds_without_events,
            rss_peak = self.server_rss_peak_kib / 1024,
            rss_end = self.server_rss_end_kib / 1024,
            server_cpu = share(self.server_cpu),
            generator_cpu = share(self.generator_cpu),
            load_start = self.load_average.0,
            load_end = self.load_average.1,
        )
    }
}

/// The `p`-th percentile (nearest rank) of some latencies; zero when there are none.
pub fn percentile(latencies: &[Duration], p: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A laptop of the run: its device, and the rounds of events it will push.
struct Laptop {
    device: Device,
    rounds: Vec<Vec<SealedEvent>>,
}

/// What one laptop measured.
#[derive(Default)]
struct Measured {
    push: Vec<Duration>,
    pull: Vec<Duration>,
    pushed: u64,
    pulled: u64,
    errors: BTreeMap<String, u64>,
    acknowledged: Vec<Uuid>,
    starved: u64,
}

/// Runs the benchmark in `dir` (workspaces, the server's store and log).
pub fn run(config: &LoadConfig, dir: &Path) -> LoadReport {
    let started = Instant::now();
    let store = ServerStore::new(&config.backend, &dir.join("server"));
    let mut server = LoadServer::start(&config.server, &store);
    // Two worker threads: the machine's two cores are shared with the server.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");

    let laptops = runtime.block_on(enrol_all(config, dir, &server));
    let rounds = config.duration.as_millis().div_ceil(config.interval.as_millis().max(1)) as usize + 1;
    let laptops = prepare_rounds(laptops, rounds);
    let teams = config.laptops.div_ceil(config.team_size.max(1));
    let setup = started.elapsed();

    // The measured phase.
    let sampling = Arc::new(AtomicBool::new(true));
    let rss_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, rss_peak, pid) = (sampling.clone(), rss_peak.clone(), server.pid());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                rss_peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let load_before = load_average();
    let server_cpu_before = cpu_time(server.pid());
    let own_cpu_before = cpu_time(std::process::id());
    let measure_start = Instant::now();
    let deadline = measure_start + config.duration;
    let laptops: Vec<Arc<Laptop>> = laptops.into_iter().map(Arc::new).collect();
    let measured: Vec<Measured> = runtime.block_on(async {
        let tasks: Vec<_> = laptops
            .iter()
            .enumerate()
            .map(|(index, laptop)| {
                let laptop = laptop.clone();
                let interval = config.interval;
                // Spread the laptops' first syncs over one interval.
                let offset = interval.mul_f64((index as f64 * 0.618_034) % 1.0);
                tokio::spawn(async move { drive(&laptop, offset, interval, deadline).await })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("a laptop's task ends"));
        }
        out
    });
    let measured_for = measure_start.elapsed();
    let server_cpu = cpu_time(server.pid()).saturating_sub(server_cpu_before);
    let generator_cpu = cpu_time(std::process::id()).saturating_sub(own_cpu_before);
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let rss_end = rss_kib(server.pid());

    let mut report = LoadReport {
        laptops: config.laptops,
        teams,
        backend: config.backend.name().to_owned(),
        setup,
        measured: measured_for,
        server_rss_peak_kib: rss_peak.load(Ordering::Relaxed).max(rss_end),
        server_rss_end_kib: rss_end,
        server_cpu,
        generator_cpu,
        load_average: (load_before, load_average()),
        ..LoadReport::default()
    };
    let mut acknowledged_by_team: BTreeMap<Uuid, HashSet<Uuid>> = BTreeMap::new();
    for (laptop, measured) in laptops.iter().zip(measured) {
        report.push_latencies.extend(measured.push);
        report.pull_latencies.extend(measured.pull);
        report.events_pushed += measured.pushed;
        report.events_pulled += measured.pulled;
        report.rounds_without_events += measured.starved;
        for (kind, count) in measured.errors {
            *report.errors.entry(kind).or_default() += count;
        }
        acknowledged_by_team.entry(laptop.device.team.id).or_default().extend(measured.acknowledged);
    }
    report.lost_events = runtime.block_on(count_lost(&laptops, &acknowledged_by_team));
    server.stop();
    report
}

/// The deployment, its teams, and every laptop enrolled with its own token.
async fn enrol_all(config: &LoadConfig, dir: &Path, server: &LoadServer) -> Vec<Device> {
    let admin = devices::create_deployment(&server.url, &server.bootstrap_token, &dir.join("admin")).await;
    let mut teams: Vec<Team> = Vec::new();
    for index in 0..config.laptops.div_ceil(config.team_size.max(1)) {
        teams.push(devices::create_team(&admin, &format!("Load team {index}")).await);
    }
    let mut laptops = Vec::with_capacity(config.laptops);
    for index in 0..config.laptops {
        let team = &teams[index / config.team_size.max(1)];
        let label = format!("laptop-{index}");
        laptops.push(devices::enrol(&admin, team, &dir.join(&label), &label).await);
    }
    laptops
}

/// Records `rounds` rounds of work in every laptop's workspace (two threads at a time): a new
/// case, an edit of it and a note per round, each sealed with its grants as the app does.
fn prepare_rounds(laptops: Vec<Device>, rounds: usize) -> Vec<Laptop> {
    let chunks: Vec<Vec<Device>> = {
        let mut chunks = vec![Vec::new(), Vec::new()];
        for (index, laptop) in laptops.into_iter().enumerate() {
            chunks[index % 2].push(laptop);
        }
        chunks
    };
    let prepared: Vec<Vec<(usize, Laptop)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(chunk, devices)| {
                scope.spawn(move || {
                    devices
                        .into_iter()
                        .enumerate()
                        .map(|(position, device)| (position * 2 + chunk, prepare(device, rounds)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("preparation succeeds")).collect()
    });
    let mut all: Vec<(usize, Laptop)> = prepared.into_iter().flatten().collect();
    all.sort_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, laptop)| laptop).collect()
}

fn prepare(device: Device, rounds: usize) -> Laptop {
    let mut boundaries = Vec::with_capacity(rounds);
    {
        let mut workspace = device.lock();
        let sex = FieldValue::parse(Field::parse("sex").expect("a field"), "female").expect("a value");
        for round in 0..rounds {
            let name = format!("Load Person {} {round}", device.label);
            let case = workspace.create_case(CaseFields::named(&name).expect("a valid name")).expect("a case");
            workspace.update_case(case.id, vec![sex.clone()], None).expect("an edit");
            workspace.add_note(case.id, "Met at the clinic; follow-up next week.").expect("a note");
            boundaries.push(workspace.pending_count().expect("a count") as usize);
        }
    }
    let all = device.lock().pending_events(usize::MAX).expect("the pending events");
    let mut rounds_out = Vec::with_capacity(rounds);
    let mut from = 0;
    for to in boundaries {
        rounds_out.push(all[from..to.min(all.len())].to_vec());
        from = to.min(all.len());
    }
    Laptop { device, rounds: rounds_out }
}

/// One laptop's measured phase: a sync every `interval` until `deadline`.
async fn drive(laptop: &Laptop, offset: Duration, interval: Duration, deadline: Instant) -> Measured {
    let mut measured = Measured::default();
    let client = &laptop.device.client;
    let mut cursor = 0u64;
    let mut next = Instant::now() + offset;
    let mut round = 0usize;
    // A laptop that falls behind its schedule (a sync slower than its interval) syncs again at
    // once, until the deadline: the phase lasts its duration whatever the server's pace.
    while next < deadline && Instant::now() < deadline {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        match laptop.rounds.get(round) {
            Some(batch) if !batch.is_empty() => {
                let started = Instant::now();
                match client.push(batch).await {
                    Ok(answer) => {
                        measured.push.push(started.elapsed());
                        measured.pushed += answer.events.len() as u64;
                        measured.acknowledged.extend(answer.events.iter().map(|event| event.id));
                        round += 1;
                    }
                    Err(error) => count_error(&mut measured.errors, "push", &error),
                }
            }
            _ => measured.starved += 1,
        }
        loop {
            let started = Instant::now();
            match client.pull(cursor, None).await {
                Ok(page) => {
                    measured.pull.push(started.elapsed());
                    measured.pulled += page.events.len() as u64;
                    cursor = page.next_cursor;
                    if !page.more || Instant::now() >= deadline {
                        break;
                    }
                }
                Err(error) => {
                    count_error(&mut measured.errors, "pull", &error);
                    break;
                }
            }
        }
    }
    measured
}

fn count_error(errors: &mut BTreeMap<String, u64>, what: &str, error: &ClientError) {
    let kind = match error {
        ClientError::Rejected { status, .. } => format!("{what}: HTTP {status}"),
        ClientError::TooManyRequests { .. } => format!("{what}: HTTP 429"),
        ClientError::Timeout { .. } => format!("{what}: timeout"),
        ClientError::Unreachable { .. } => format!("{what}: unreachable"),
        other => format!("{what}: {}", other.code().unwrap_or("other")),
    };
    *errors.entry(kind).or_default() += 1;
}

/// Acknowledged events that one laptop of their team does not find in the team's whole feed.
async fn count_lost(laptops: &[Arc<Laptop>], acknowledged: &BTreeMap<Uuid, HashSet<Uuid>>) -> u64 {
    let mut lost = 0;
    for (team, ids) in acknowledged {
        let Some(reader) = laptops.iter().find(|laptop| laptop.device.team.id == *team) else { continue };
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            let page = pull_patiently(&reader.device.client, cursor).await;
            seen.extend(page.events.iter().map(|event| event.id));
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        lost += ids.iter().filter(|id| !seen.contains(id)).count() as u64;
    }
    lost
}

async fn pull_patiently(client: &Client, cursor: u64) -> harbour_wire::protocol::PullResponse {
    for _ in 0..50 {
        match client.pull(cursor, None).await {
            Ok(page) => return page,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("the server did not answer the final pull of the team's feed");
}

/// The server under load: its own process (not the tests' debug-logging one), quotas as
/// shipped, logging at `warn` so the log does not compete for the disk.
struct LoadServer {
    child: Option<Child>,
    url: String,
    bootstrap_token: String,
}

impl LoadServer {
    fn start(binary: &Path, store: &ServerStore) -> LoadServer {
        let init = Command::new(binary).args(["init", "--db", &store.db, "--json"]).output().expect("the server runs");
        assert!(init.status.success(), "harbour-server init failed: {}", String::from_utf8_lossy(&init.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&init.stdout).expect("init --json prints JSON");
        let bootstrap_token = printed["bootstrap_token"].as_str().expect("a bootstrap token").to_owned();
        let log = std::fs::File::create(store.log()).expect("the log file");
        let mut child = Command::new(binary)
            .args(["serve", "--db", &store.db, "--listen", "127.0.0.1:0"])
            .env("HARBOUR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("harbour-server starts");
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout is piped")),
            &mut line,
        );
        let url = line.trim().strip_prefix("harbour-server listening on ").map(str::to_owned).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("harbour-server did not start: it printed {line:?}")
        });
        LoadServer { child: Some(child), url, bootstrap_token }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LoadServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The machine's 1-minute load average.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Resident memory of a process, in KiB (0 when it cannot be read).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// User + system CPU time of a process (all its threads), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces) start after the last ')'.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some(Duration::from_secs_f64((user + system) / ticks_per_second))
        })
        .unwrap_or_default()
}
