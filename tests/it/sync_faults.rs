//! The server SIGKILLed while a laptop pushes a large backlog, and again while another pulls
//! it, then restarted on the same store and port: the next sync finishes, the server holds
//! each event exactly once with no hole in any device's sequence, at most one batch is sent
//! twice, and no pulled page is applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harbour_core::model::CaseFields;
use harbour_core::{CaseId, CaseQuery};
use harbour_sync::Progress;
use harbour_sync::engine::sync_applying;
use harbour_sync::engine::{PULL_PAGE, PUSH_BATCH, Phase};
use harbour_tests::TestRng;
use harbour_tests::devices::{self, Device};
use harbour_tests::server::{Backend, METRICS_TOKEN, Server, ServerStore, sigkill};
use harbour_wire::SealedEvent;
use uuid::Uuid;

/// Kills of the server mid-push, and again mid-pull: 4 each, or `HARBOUR_SERVER_KILLS` each
/// (tests/long.sh runs 100 of each, 200 on each backend).
fn kills() -> usize {
    std::env::var("HARBOUR_SERVER_KILLS").ok().and_then(|text| text.parse().ok()).filter(|&n| n > 0).unwrap_or(4)
}

/// 750 cases per kill, 3,000 for four: a creation and two grants each, 9,000 events, 18
/// batches and 18 pages: enough for each kill, after one batch (or page) and at most two more
/// in flight, to land before the end.
fn cases() -> usize {
    750 * kills()
}

#[tokio::test]
async fn sigkill_mid_push_and_mid_pull_on_sqlite() {
    sigkill_mid_sync(&Backend::Sqlite).await;
}

#[tokio::test]
async fn sigkill_mid_push_and_mid_pull_on_postgres() {
    match harbour_tests::server::postgres_url() {
        Some(url) => sigkill_mid_sync(&Backend::Postgres(url)).await,
        None => eprintln!("skipped: HARBOUR_TEST_POSTGRES_URL is not set"),
    }
}

/// Runs one sync of `device` and SIGKILLs the server from another thread once `phase` has
/// moved `threshold` events: after a random part (0–120 %) of the time the last batch or page
/// took, so that the kill lands anywhere in the next one — before the server commits it,
/// during, or after the commit but before the laptop heard of it. The sync must fail (the
/// server died under it); returns the last progress it reported.
async fn sync_killed(device: &Device, server: &Server, phase: Phase, threshold: u64, rng: &mut TestRng) -> Progress {
    let pid = server.pid().expect("the server runs");
    let fraction = rng.range(0, 1200) as f64 / 1000.0;
    // The delay before the kill, once the threshold is passed.
    let signal: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let last = Arc::new(Mutex::new(Progress::default()));
    let killer = {
        let (signal, done) = (Arc::clone(&signal), Arc::clone(&done));
        std::thread::spawn(move || {
            let started = Instant::now();
            loop {
                if let Some(delay) = *signal.lock().unwrap() {
                    std::thread::sleep(delay);
                    break;
                }
                if done.load(Ordering::SeqCst) {
                    return;
                }
                assert!(started.elapsed() < Duration::from_secs(120), "the sync never reached the kill point");
                std::thread::sleep(Duration::from_millis(1));
            }
            sigkill(pid);
        })
    };
    let mut on_progress = {
        let (signal, last) = (Arc::clone(&signal), Arc::clone(&last));
        let mut previous = Instant::now();
        move |progress: &Progress| {
            let moved = if phase == Phase::Pushing { progress.pushed } else { progress.pulled };
            let took = previous.elapsed();
            previous = Instant::now();
            let mut signal = signal.lock().unwrap();
            if progress.phase == phase && moved >= threshold && signal.is_none() {
                *signal = Some(took.mul_f64(fraction));
            }
            *last.lock().unwrap() = progress.clone();
        }
    };
    // A page a transaction, as the feed is sized for (`sync_once` applies four together: the
    // syncs after the kills below do).
    let outcome = sync_applying(&device.workspace, &device.client, &mut on_progress, 1).await;
    done.store(true, Ordering::SeqCst); // never leave the killer waiting
    killer.join().expect("the killer thread");
    let error = outcome.expect_err("the sync finished before the server was killed: make the backlog larger");
    assert!(error.is_transient(), "a dead server is a transient failure: {error}");
    last.lock().unwrap().clone()
}

/// A counter or gauge of the server's `/metrics`.
async fn metric(device: &Device, name: &str) -> u64 {
    let metrics = device.client.metrics(Some(METRICS_TOKEN)).await.expect("metrics");
    let prefix = format!("{name} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("the server reports no {name}"))
}

async fn sigkill_mid_sync(backend: &Backend) {
    let seed = TestRng::from_time().next_u64();
    println!("fault test on {}: seed {seed}", backend.name());
    let mut rng = TestRng::seeded(seed);
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(backend, &root.path().join("server"));
    let bootstrap = store.init();
    let mut server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let clinic_team = devices::create_team(&admin, "Clinic").await;
    let clinic = devices::enrol(&admin, &clinic_team, &root.path().join("clinic"), "clinic").await;

    let fields: Vec<CaseFields> =
        (0..cases()).map(|index| CaseFields::named(&format!("Invented Person {index}")).unwrap()).collect();
    clinic.lock().create_cases(fields).unwrap();
    let backlog = clinic.lock().pending_count().unwrap();
    assert_eq!(backlog, 3 * cases() as u64);
    // A person counts a new case as one change, not as its creation and two grants.
    assert_eq!(clinic.lock().pending_changes().unwrap(), cases() as u64);

    // Killed mid-push, twice: what was acknowledged stays sent, and at any kill at most one
    // batch is committed on the server without the laptop knowing (the one it will re-send).
    for round in 1..=kills() {
        let threshold = PUSH_BATCH as u64;
        let before = sync_killed(&clinic, &server, Phase::Pushing, threshold, &mut rng).await;
        server.restart();
        let waiting = clinic.lock().pending_count().unwrap();
        assert!(waiting > 0, "the kill came after the last batch");
        let stored = metric(&clinic, "harbour_events").await;
        // The audit log's batches sealed on the way wait and are sent like the backlog.
        let channel = harbour_core::store::audit_channel(clinic.device_id().0);
        let audit = clinic.lock().case_events(channel).unwrap().len() as u64;
        let unacknowledged = stored - (backlog + audit - waiting);
        assert!(unacknowledged <= PUSH_BATCH as u64, "{unacknowledged} events stored but unacknowledged");
        println!(
            "push kill {round}: {} acknowledged before the kill, {unacknowledged} committed but unacknowledged",
            before.pushed
        );
    }
    let waiting = clinic.lock().pending_count().unwrap();
    let after = clinic.sync().await;
    assert_eq!(after.pushed, waiting);
    let resent = metric(&clinic, "harbour_events_already_stored_total").await;
    assert!(resent <= PUSH_BATCH as u64, "{resent} events were sent twice, more than one batch");
    // The backlog, and the audit log's batches sealed on the way (3,000 entries fill one).
    let channel = harbour_core::store::audit_channel(clinic.device_id().0);
    let audit = clinic.lock().case_events(channel).unwrap().len();
    assert_eq!(
        metric(&clinic, "harbour_events").await,
        backlog + audit as u64,
        "the server does not hold the whole backlog"
    );
    println!("push resumed: {} sent, {resent} of them already stored", after.pushed);
    assert_eq!(clinic.lock().pending_count().unwrap(), 0);

    // Killed mid-pull, twice: the pages applied stay applied with their cursor; each next
    // sync starts after the last of them, so no page is applied twice and none is skipped.
    let mut pulled = 0;
    for round in 1..=kills() {
        let threshold = u64::from(PULL_PAGE);
        let before = sync_killed(&admin, &server, Phase::Pulling, threshold, &mut rng).await;
        server.restart();
        println!("pull kill {round}: {} pulled before the kill", before.pulled);
        pulled += before.pulled;
    }
    let after = admin.sync().await;
    let feed = pull_everything(&admin).await;
    assert_eq!(pulled + after.pulled, feed.len() as u64, "a page was applied twice, or one was skipped");

    // The server holds each event once, every device's sequence without a hole.
    let ids: BTreeSet<Uuid> = feed.iter().map(|event| event.id).collect();
    assert_eq!(ids.len(), feed.len(), "an event is stored twice");
    let mut sequences: BTreeMap<Uuid, Vec<u64>> = BTreeMap::new();
    for event in &feed {
        sequences.entry(event.device_id).or_default().push(event.device_seq);
    }
    let clinic_seqs = sequences.get_mut(&clinic.device_id().0).expect("the clinic's events are on the server");
    clinic_seqs.sort_unstable();
    let numbered = backlog + audit as u64;
    assert!(*clinic_seqs == (1..=numbered).collect::<Vec<u64>>(), "the clinic's device_seq has a hole or a duplicate");

    // And the ministry holds every case whole, exactly the server's events of each.
    let listed = admin.lock().list_cases(&CaseQuery { limit: 0, ..CaseQuery::default() }).unwrap();
    assert_eq!(listed.len(), cases(), "the ministry does not show every case");
    let mut by_case: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    for event in &feed {
        by_case.entry(event.case_id).or_default().insert(event.id);
    }
    for (case_id, events) in &by_case {
        let held: BTreeSet<Uuid> =
            admin.lock().case_events(CaseId(*case_id)).unwrap().into_iter().map(|event| event.id).collect();
        assert!(held == *events, "the ministry does not hold exactly the server's events of a case");
    }
}

async fn pull_everything(device: &Device) -> Vec<SealedEvent> {
    let (mut events, mut cursor) = (Vec::new(), 0);
    loop {
        let page = device.client.pull(cursor, Some(1000)).await.expect("pull");
        events.extend(page.events);
        cursor = page.next_cursor;
        if !page.more {
            return events;
        }
    }
}
