//! Sync figures for docs/PERFORMANCE.md, against the real `harbour-server` (release build) on
//! 127.0.0.1 with its SQLite store:
//!
//!     cargo build --release -p harbour-server && cargo bench -p harbour-tests --bench sync
//!     HARBOUR_BENCH_SYNC_CASES=2000 cargo bench -p harbour-tests --bench sync   (a quicker run)
//!     mkfifo ctl; HARBOUR_BENCH_PERF_CTL=ctl perf record -g --control fifo:ctl -D -1 BENCH --bench
//!         (perf samples the download only; HARBOUR_BENCH_PERF_PHASE=write: the local writes only)
//!
//! It measures the upload rate (push of sealed events); the download + decrypt + apply rate on
//! another device; the bytes on the wire per batch against plain JSON of the same events; and a
//! 50-event sync over a link throttled to 64 kbit/s with 800 ms round trip (a throttling proxy
//! in this process).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use harbour_core::crypto::KdfParams;
use harbour_core::deployment::{self, Invitation};
use harbour_core::model::CaseFields;
use harbour_core::{CreateOptions, DeviceId, Workspace};
use harbour_sync::client::Client;
use harbour_sync::sync_once;

const PASSPHRASE: &str = "benchmark passphrase";

fn main() {
    let cases: usize =
        std::env::var("HARBOUR_BENCH_SYNC_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(10_000);
    let root = tempfile::Builder::new().prefix("harbour-sync-bench").tempdir_in(target_dir()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = Server::start(root.path());
    let (admin, clinic) = runtime.block_on(deployment_with_clinic(root.path(), &server.url));
    println!("Harbour sync benchmark: real harbour-server (release, SQLite) on 127.0.0.1\n");

    // The administrator's laptop lists the clinic's laptop in the signed directory at its
    // first sync after the enrolment, and the clinic takes that directory at its own: from then
    // on the clinic's grants name it instead of carrying its certificate, as on any laptop
    // enrolled for more than a sync. `HARBOUR_BENCH_INLINE_CERTIFICATES=1` skips this (every
    // grant then carries its author's certificate, as before) for a comparison in one build.
    let inline_certificates = std::env::var_os("HARBOUR_BENCH_INLINE_CERTIFICATES").is_some();
    if !inline_certificates {
        for laptop in [&admin, &clinic] {
            let client = harbour_sync::client_for(&laptop.lock().unwrap()).unwrap();
            runtime.block_on(sync_once(laptop, &client, &mut |_| {})).unwrap();
        }
    }

    // 1. Upload: a clinic with many new cases (each: creation + grants to clinic and ministry).
    let fields: Vec<CaseFields> =
        (0..cases).map(|index| CaseFields::named(&format!("Sync Benchmark Person {index}")).unwrap()).collect();
    for chunk in fields.chunks(1000) {
        clinic.lock().unwrap().create_cases(chunk.to_vec()).unwrap();
    }
    let pending = clinic.lock().unwrap().pending_count().unwrap();
    let client = harbour_sync::client_for(&clinic.lock().unwrap()).unwrap();
    let start = Instant::now();
    let pushed = runtime.block_on(push_all(&clinic, &client));
    let upload = start.elapsed();
    assert_eq!(pushed, pending);
    println!(
        "Upload (push, batches of {}): {pushed} events in {upload:.2?} = {:.0} events/s",
        harbour_sync::engine::PUSH_BATCH,
        pushed as f64 / upload.as_secs_f64()
    );

    // 2. Download, decrypt and apply on the ministry's laptop.
    let admin_client = harbour_sync::client_for(&admin.lock().unwrap()).unwrap();
    let profiler = Profiler::from_env("download");
    let (thread_cpu, process_cpu, server_cpu, machine) =
        (thread_cpu_time(), process_cpu_time(), server.cpu_time(), machine_cpu());
    let queued = thread_schedstat().1;
    let start = Instant::now();
    let summary = runtime.block_on(sync_once(&admin, &admin_client, &mut |_| {})).unwrap();
    let download = start.elapsed();
    let (thread_cpu, process_cpu) = (thread_cpu_time() - thread_cpu, process_cpu_time() - process_cpu);
    let server_cpu = server.cpu_time() - server_cpu;
    let queued = thread_schedstat().1 - queued;
    let machine = {
        let now = machine_cpu();
        (now.0 - machine.0, now.1 - machine.1)
    };
    drop(profiler);
    assert_eq!(summary.cases_updated as usize, cases);
    println!(
        "Download + decrypt + apply (pages of {}, {} a transaction): {} events ({} cases) in {download:.2?} = {:.0} events/s",
        harbour_sync::engine::PULL_PAGE,
        harbour_sync::engine::PULL_PAGES_TOGETHER,
        summary.pulled,
        summary.cases_updated,
        summary.pulled as f64 / download.as_secs_f64()
    );

    // CPU time, steadier than the wall clock on a shared machine: the thread that applies the
    // pages (this one: the sync runs on it, the prefetch and the HTTP client on the runtime's
    // workers), and this whole process (the server is another process, not counted).
    println!(
        "Download CPU time: applying thread {:.0} ms ({:.1} µs an event; {:.0} ms more ready but waiting for a CPU), this process {:.0} ms, the server {:.0} ms; \
         the machine's CPUs busy {:.0} ms of {:.0} ms",
        thread_cpu * 1e3,
        thread_cpu * 1e6 / summary.pulled as f64,
        queued * 1e3,
        process_cpu * 1e3,
        server_cpu * 1e3,
        machine.0 * 1e3,
        machine.1 * 1e3
    );

    // What the signature checks cost within that download, two ways: every grant of the feed
    // (each author checked, its key from the directory or its certificate once per page, the
    // page's signatures together); and what `apply_pulled` checks, the earliest grant of each
    // case addressed to one of this laptop's teams, a page's together. The second is the cost
    // the download pays — since session 16 on the runtime's blocking thread that checks each
    // group of pages once fetched, beside the thread applying the previous group.
    let (all, applied) = runtime.block_on(async {
        let mut feed = Vec::new();
        let mut cursor = 0;
        loop {
            let page = admin_client.pull(cursor, Some(harbour_sync::engine::PULL_PAGE)).await.unwrap();
            cursor = page.next_cursor;
            feed.push(page.events);
            if !page.more {
                break;
            }
        }
        let (root_public_key, deployment_id, teams) = admin
            .lock()
            .unwrap()
            .membership()
            .map(|m| {
                let teams: Vec<uuid::Uuid> = m.team_secrets.iter().map(|secret| secret.team_id).collect();
                (m.root_public_key.clone(), m.deployment_id, teams)
            })
            .unwrap();
        let listed = admin.lock().unwrap().directory().unwrap().unwrap().devices;
        let check = |pages: Vec<Vec<&harbour_wire::SealedEvent>>| {
            let start = Instant::now();
            let (mut checked, mut carrying) = (0u64, 0u64);
            for grants in pages {
                let mut verifier =
                    harbour_core::deployment::GrantVerifier::new(&root_public_key, deployment_id).with_listed(&listed);
                verifier.check_together(&grants);
                for grant in grants {
                    verifier.author(grant).unwrap();
                    checked += 1;
                    carrying += u64::from(grant.ciphertext.len() > 160);
                }
            }
            (checked, carrying, start.elapsed())
        };
        let every = check(feed.iter().map(|page| every_grant(page)).collect());
        // `sync_once` applies (and checks) pages together.
        let together: Vec<Vec<harbour_wire::SealedEvent>> =
            feed.chunks(harbour_sync::engine::PULL_PAGES_TOGETHER).map(|pages| pages.concat()).collect();
        let applied = check(together.iter().map(|pages| earliest_grants(pages, &teams)).collect());
        (every, applied)
    });
    for (what, (grants, carrying, verify_time)) in
        [("every grant of the feed", all), ("what the download checks", applied)]
    {
        println!(
            "Signature checks, {what}: {grants} grants ({carrying} carrying a certificate) in {verify_time:.2?} = {:.1} µs each, {:.0} % of the download's time",
            verify_time.as_secs_f64() * 1e6 / grants as f64,
            100.0 * verify_time.as_secs_f64() / download.as_secs_f64()
        );
    }

    // The clinic catches up first (fast link), its audit of the 10,000 creations included, so
    // that the slow sync carries only the new events.
    clinic.lock().unwrap().seal_audit(true).unwrap();
    runtime.block_on(sync_once(&clinic, &client, &mut |_| {})).unwrap();

    // 3 and 4: 50 new events (notes, creations, grants) synced through the throttling proxy,
    // which also counts the bytes that really cross the link.
    let proxy = Proxy::start(&server.url, Duration::from_millis(400), 8_000);
    {
        let mut clinic = clinic.lock().unwrap();
        let first = clinic.list_cases(&Default::default()).unwrap()[0].id;
        for index in 0..50 {
            clinic
                .add_note(first, &format!("Follow-up call number {index}: the person is safe and in touch."))
                .unwrap();
        }
    }
    let batch: Vec<_> = clinic.lock().unwrap().pending_events(500).unwrap();
    let sealed_json = serde_json::to_vec(&harbour_wire::protocol::PushRequest { events: batch.clone() }).unwrap().len();
    let plain_json = plain_json_size(&batch);
    let slow_client = client.with_base_url(&proxy.url).unwrap();
    let before = proxy.bytes_up.load(Ordering::SeqCst);
    let start = Instant::now();
    let slow = runtime.block_on(sync_once(&clinic, &slow_client, &mut |_| {})).unwrap();
    let slow_time = start.elapsed();
    let wire_up = proxy.bytes_up.load(Ordering::SeqCst) - before;
    assert_eq!(slow.pushed, 50);
    println!(
        "Bytes for a batch of {} events: plain JSON of the events {plain_json} B; sealed JSON {sealed_json} B; \
         on the wire (HTTP, zstd, all requests of the sync) {wire_up} B = {:.2}x plain JSON",
        batch.len(),
        wire_up as f64 / plain_json as f64
    );
    println!(
        "50-event sync over 64 kbit/s with 800 ms round trip: {slow_time:.2?} (pushed {}, pulled {})",
        slow.pushed, slow.pulled
    );

    // 5. A local write in the same run, on the ministry's laptop now holding every case: one
    //    note at a time, each its own transaction, as a person saves them.
    let mut admin = admin.lock().unwrap();
    let cases = admin.list_cases(&Default::default()).unwrap();
    let profiler = Profiler::from_env("write");
    let mut times: Vec<Duration> = (0..301)
        .map(|index| {
            let case = cases[index * 7 % cases.len()].id;
            let start = Instant::now();
            admin.add_note(case, "Called back; the appointment is confirmed.").unwrap();
            start.elapsed()
        })
        .collect();
    drop(profiler);
    times.sort();
    println!(
        "A local write (one note, its own transaction) with {} cases held: median {:.3} ms (p10 {:.3}, p90 {:.3})",
        cases.len(),
        times[150].as_secs_f64() * 1e3,
        times[30].as_secs_f64() * 1e3,
        times[270].as_secs_f64() * 1e3
    );
}

/// Seconds this thread has run on a CPU (the kernel's scheduler statistics, in nanoseconds).
fn thread_cpu_time() -> f64 {
    thread_schedstat().0
}

/// Seconds this thread has run on a CPU, and seconds it waited for one while ready to run.
fn thread_schedstat() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux's scheduler statistics");
    let mut fields = text.split_whitespace().map(|ns| ns.parse::<f64>().expect("nanoseconds") * 1e-9);
    (fields.next().expect("a run time"), fields.next().expect("a wait time"))
}

/// Seconds of CPU time of this process, all its threads (user and system, in clock ticks of
/// 10 ms).
fn process_cpu_time() -> f64 {
    cpu_time_of("/proc/self/stat")
}

/// Seconds the machine's CPUs were busy and seconds they were there (all CPUs summed), since boot.
fn machine_cpu() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/stat").expect("Linux's CPU statistics");
    let ticks: Vec<f64> =
        text.lines().next().unwrap().split_whitespace().skip(1).map(|field| field.parse().unwrap()).collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user already).
    let total: f64 = ticks.iter().take(8).sum();
    (((total - ticks[3] - ticks[4]) / 100.0), total / 100.0)
}

/// Seconds of CPU time (user and system) of the process whose `stat` file is at `path`.
fn cpu_time_of(path: &str) -> f64 {
    let text = std::fs::read_to_string(path).expect("Linux's process statistics");
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = text.rsplit_once(')').expect("a command name").1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Every grant of a pulled page.
fn every_grant(page: &[harbour_wire::SealedEvent]) -> Vec<&harbour_wire::SealedEvent> {
    page.iter().filter(|event| event.kind == harbour_core::deployment::GRANT_KIND).collect()
}

/// The grants of a page whose signatures `apply_pulled` checks: each case's earliest grant
/// addressed to one of this laptop's teams.
fn earliest_grants<'a>(
    page: &'a [harbour_wire::SealedEvent],
    teams: &[uuid::Uuid],
) -> Vec<&'a harbour_wire::SealedEvent> {
    let mut first: std::collections::BTreeMap<uuid::Uuid, &harbour_wire::SealedEvent> = Default::default();
    for grant in every_grant(page) {
        if harbour_core::deployment::grant_team(grant).is_some_and(|team| teams.contains(&team)) {
            let held = first.entry(grant.case_id).or_insert(grant);
            if grant.hlc < held.hlc {
                *held = grant;
            }
        }
    }
    first.into_values().collect()
}

/// `perf record --control fifo:CTL -D -1 …` samples only the download when
/// `HARBOUR_BENCH_PERF_CTL=CTL` names the same control FIFO: enabled here, disabled on drop;
/// only the local writes instead with `HARBOUR_BENCH_PERF_PHASE=write`.
struct Profiler(Option<std::fs::File>);

impl Profiler {
    fn from_env(phase: &str) -> Profiler {
        let chosen = std::env::var("HARBOUR_BENCH_PERF_PHASE").unwrap_or_else(|_| "download".into());
        if chosen != phase {
            return Profiler(None);
        }
        let control = std::env::var_os("HARBOUR_BENCH_PERF_CTL").map(|path| {
            let mut fifo = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            fifo.write_all(b"enable\n").unwrap();
            fifo
        });
        Profiler(control)
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if let Some(fifo) = &mut self.0 {
            let _ = fifo.write_all(b"disable\n");
        }
    }
}

/// The size of the same events as plain JSON, as a system without encryption would send them:
/// the notes written above, with the same metadata.
fn plain_json_size(batch: &[harbour_wire::SealedEvent]) -> usize {
    let events: Vec<harbour_core::Event> = batch
        .iter()
        .enumerate()
        .map(|(index, sealed)| harbour_core::Event {
            id: harbour_core::EventId(sealed.id),
            case_id: harbour_core::CaseId(sealed.case_id),
            device_id: DeviceId(sealed.device_id),
            device_seq: sealed.device_seq,
            hlc: sealed.hlc,
            author: "worker".into(),
            change: harbour_core::Change::NoteAdded {
                note: harbour_core::model::Note {
                    id: harbour_core::EntryId::new(),
                    text: format!("Follow-up call number {index}: the person is safe and in touch."),
                },
            },
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap().len()
}

async fn push_all(workspace: &Mutex<Workspace>, client: &Client) -> u64 {
    let mut pushed = 0;
    loop {
        let batch = workspace.lock().unwrap().pending_events(harbour_sync::engine::PUSH_BATCH).unwrap();
        if batch.is_empty() {
            return pushed;
        }
        let answer = client.push(&batch).await.unwrap();
        let ids: Vec<_> = answer.events.iter().map(|event| event.id).collect();
        workspace.lock().unwrap().mark_sent(&ids).unwrap();
        pushed += ids.len() as u64;
    }
}

/// An administrator's laptop with a deployment, and a clinic laptop enrolled into it.
async fn deployment_with_clinic(root: &Path, url: &str) -> (Arc<Mutex<Workspace>>, Arc<Mutex<Workspace>>) {
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let mut admin = Workspace::create(&root.join("admin"), PASSPHRASE, &options).unwrap();
    let plan = admin.plan_deployment(url, "Ministry").unwrap();
    let client = Client::new(url).unwrap();
    let registered =
        client.register_deployment(&plan.registration(&server_token(root), admin.device_id())).await.unwrap();
    admin.complete_deployment(plan, &registered.device_token).unwrap();
    let admin_client = client.with_token(&registered.device_token);
    let (team, signed) = admin.create_team("Clinic").unwrap();
    admin_client.publish_directory(&signed).await.unwrap();
    let created = admin_client.create_invitation(team.id, false, None).await.unwrap();
    let code = deployment::new_invitation_code();
    let text = admin.seal_invitation(&team, &created, &code).unwrap();
    let invitation: Invitation = deployment::open_invitation(&text, &code).unwrap();
    let enrolment = Workspace::prepare_enrolment(&invitation, "Clinic nurse").unwrap();
    let redeemed = client
        .with_token(&invitation.invitation_token)
        .redeem_invitation(enrolment.device_id.0, &enrolment.identity.certificate)
        .await
        .unwrap();
    let clinic =
        Workspace::join(&root.join("clinic"), PASSPHRASE, &options, &invitation, enrolment, &redeemed.device_token)
            .unwrap();
    (Arc::new(Mutex::new(admin)), Arc::new(Mutex::new(clinic)))
}

fn server_token(root: &Path) -> String {
    std::fs::read_to_string(root.join("bootstrap")).unwrap()
}

fn target_dir() -> PathBuf {
    std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_owned()
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(root: &Path) -> Server {
        let binary = target_dir().join("release").join("harbour-server");
        assert!(binary.exists(), "build the server first: cargo build --release -p harbour-server");
        let db = format!("sqlite:{}", root.join("server.db").display());
        let init = Command::new(&binary).args(["init", "--db", &db, "--json"]).output().unwrap();
        let printed: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
        std::fs::write(root.join("bootstrap"), printed["bootstrap_token"].as_str().unwrap()).unwrap();
        let mut child = Command::new(&binary)
            .args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
            // The benchmark measures throughput, not the per-device quota.
            .args(["--quota-events-per-minute", "0", "--quota-bytes-per-day", "0"])
            .env("HARBOUR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("harbour-server listening on ").expect("the server started").to_owned();
        Server { child, url }
    }
}

impl Server {
    /// Seconds of CPU time the server process has used.
    fn cpu_time(&self) -> f64 {
        cpu_time_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy on 127.0.0.1 that delays every chunk by `one_way` and limits each direction to
/// `bytes_per_second`, counting the bytes that go up (device → server).
struct Proxy {
    url: String,
    bytes_up: Arc<AtomicU64>,
}

impl Proxy {
    fn start(server_url: &str, one_way: Duration, bytes_per_second: u64) -> Proxy {
        let upstream = server_url.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bytes_up = Arc::new(AtomicU64::new(0));
        let counter = bytes_up.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let counter = counter.clone();
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    one_way,
                    bytes_per_second,
                    Some(counter),
                );
                pipe(server, client, one_way, bytes_per_second, None);
            }
        });
        Proxy { url, bytes_up }
    }
}

/// Copies `from` to `to` with a fixed delay per chunk and a bandwidth limit.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    bytes_per_second: u64,
    counter: Option<Arc<AtomicU64>>,
) {
    let (sender, receiver) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if sender.send((Instant::now() + delay, buffer[..read].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in receiver {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            std::thread::sleep(Duration::from_secs_f64(chunk.len() as f64 / bytes_per_second as f64));
            if let Some(counter) = &counter {
                counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
            if to.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
