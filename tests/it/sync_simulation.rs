//! A seeded random simulation of a deployment: 2–5 laptops (the administrator's and others in
//! random teams), enrolled through the library against a real `harbour-server` process, work
//! offline at random — new cases, edits of the same fields, notes, shares with other teams —
//! and sync unreliably: pushes of some batches only, out of order, repeated, or acknowledged
//! by the server but never marked sent (the client died); pulls of some pages only, applied
//! twice, applied out of order, or fetched and dropped; share grants repeated. Then everyone
//! syncs fully, twice around, and:
//!
//! - the server holds every event of every laptop exactly once, `device_seq` 1..n without a hole;
//! - a laptop whose team may see a case holds exactly the server's events of it, and all those
//!   laptops show the same case state (the serialized `CaseState`, conflicts included);
//! - a laptop whose team may not see a case holds nothing of it;
//! - nothing waits to be sent, and the server's files hold none of the seeded text in clear.
//!
//! The seed is printed; replay a run with `HARBOUR_SIM_SEED=<seed>` (the same operations; clock
//! readings and ids differ). The size defaults to 1,000 cases; for 10,000:
//!
//! ```sh
//! cargo build --workspace --bins
//! HARBOUR_SIM_CASES=10000 cargo test -p harbour-tests --test it -- sync_simulation --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use harbour_core::model::{CaseFields, Field, FieldValue};
use harbour_core::{CaseId, CaseQuery};
use harbour_tests::TestRng;
use harbour_tests::devices::{self, Device};
use harbour_tests::server::{Backend, Server, ServerStore};
use harbour_wire::SealedEvent;
use harbour_wire::protocol::Team;
use uuid::Uuid;

const DEFAULT_CASES: usize = 1_000;

#[tokio::test]
async fn unreliable_syncs_converge_on_sqlite() {
    simulate(&Backend::Sqlite, cases_wanted()).await;
}

#[tokio::test]
async fn unreliable_syncs_converge_on_postgres() {
    match harbour_tests::server::postgres_url() {
        Some(url) => simulate(&Backend::Postgres(url), cases_wanted()).await,
        None => eprintln!("skipped: HARBOUR_TEST_POSTGRES_URL is not set"),
    }
}

fn cases_wanted() -> usize {
    std::env::var("HARBOUR_SIM_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// A laptop of the simulation and what the simulation remembers about it.
struct Laptop {
    device: Device,
    /// Cases this laptop can open now (refreshed after each pull).
    known: Vec<CaseId>,
    /// The last batch the server acknowledged, to send again.
    last_acknowledged: Vec<SealedEvent>,
}

/// Invented text for the seeded cases: syllables nobody is named after.
fn invented(rng: &mut TestRng, words: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "qua", "zel", "mirt", "oxa", "bry", "tuv", "kelm", "ysh", "dro", "vani", "plo", "gex", "ruth", "ne", "sor",
        "fa",
    ];
    (0..words)
        .map(|_| {
            let word: String = (0..3).map(|_| SYLLABLES[rng.range(0, 16) as usize]).collect();
            let mut chars = word.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        })
        .collect::<Vec<String>>()
        .join(" ")
}

fn pick<'a, T>(rng: &mut TestRng, items: &'a [T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[rng.range(0, items.len() as u64) as usize])
}

async fn simulate(backend: &Backend, cases_wanted: usize) {
    let seed = std::env::var("HARBOUR_SIM_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| TestRng::from_time().next_u64());
    println!(
        "sync simulation on {}: seed {seed} (replay with HARBOUR_SIM_SEED={seed}), {cases_wanted} cases",
        backend.name()
    );
    let mut rng = TestRng::seeded(seed);
    let started = Instant::now();

    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(backend, &root.path().join("server"));
    let bootstrap = store.init();
    let mut server: Server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let mut teams: Vec<Team> = vec![admin.team.clone()];
    for name in ["Clinic", "Consulate", "Shelter"] {
        teams.push(devices::create_team(&admin, name).await);
    }
    let device_count = rng.range(2, 6) as usize;
    let mut laptops = vec![Laptop { device: admin, known: Vec::new(), last_acknowledged: Vec::new() }];
    for index in 1..device_count {
        let team = pick(&mut rng, &teams).unwrap().clone();
        let label = format!("laptop {index} ({})", team.name);
        let device =
            devices::enrol(&laptops[0].device, &team, &root.path().join(format!("laptop-{index}")), &label).await;
        laptops.push(Laptop { device, known: Vec::new(), last_acknowledged: Vec::new() });
    }
    println!("laptops: {:?}", laptops.iter().map(|laptop| laptop.device.label.as_str()).collect::<Vec<_>>());

    // Which teams may see each case: its creator's team and the ministry, then every share.
    let ministry = teams[0].id;
    let mut visible: BTreeMap<CaseId, BTreeSet<Uuid>> = BTreeMap::new();
    let mut seeded_text: Vec<String> = Vec::new();
    let mut created = 0usize;
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let average_batch = (cases_wanted / 150).max(1) as u64;

    while created < cases_wanted {
        let index = rng.range(0, laptops.len() as u64) as usize;
        let operation = rng.range(0, 100);
        let laptop = &mut laptops[index];
        let team_id = laptop.device.team.id;
        let name: &'static str = match operation {
            // Offline work.
            0..=19 => {
                let count = rng.range(1, 2 * average_batch + 1).min((cases_wanted - created) as u64) as usize;
                let mut batch = Vec::with_capacity(count);
                for _ in 0..count {
                    let name = invented(&mut rng, 2);
                    let mut fields = CaseFields::named(&name).unwrap();
                    let birth = format!("19{:02}-{:02}-{:02}", rng.range(50, 99), rng.range(1, 13), rng.range(1, 29));
                    fields.set(FieldValue::parse(Field::BirthDate, &birth).unwrap());
                    if seeded_text.len() < 4 {
                        seeded_text.push(name);
                    }
                    batch.push(fields);
                }
                let states = laptop.device.lock().create_cases(batch).unwrap();
                for state in states {
                    visible.insert(state.id, BTreeSet::from([team_id, ministry]));
                    laptop.known.push(state.id);
                }
                created += count;
                "create cases"
            }
            20..=39 => {
                let Some(&case_id) = pick(&mut rng, &laptop.known) else { continue };
                let field = if rng.range(0, 2) == 0 { Field::RiskLevel } else { Field::Location };
                let text = match field {
                    Field::RiskLevel => ["low", "medium", "high"][rng.range(0, 3) as usize].to_owned(),
                    _ => invented(&mut rng, 1),
                };
                let value = FieldValue::parse(field, &text).unwrap();
                laptop.device.lock().update_case(case_id, vec![value], None).unwrap();
                "edit a field"
            }
            40..=51 => {
                let Some(&case_id) = pick(&mut rng, &laptop.known) else { continue };
                let text = invented(&mut rng, 6);
                if seeded_text.len() < 6 {
                    seeded_text.push(text.clone());
                }
                laptop.device.lock().add_note(case_id, &text).unwrap();
                "add a note"
            }
            52..=57 => {
                let Some(&case_id) = pick(&mut rng, &laptop.known) else { continue };
                let team = pick(&mut rng, &teams).unwrap().clone();
                laptop.device.lock().share_case(case_id, &team).unwrap();
                visible.get_mut(&case_id).expect("a known case is in the model").insert(team.id);
                "share a case"
            }
            // Unreliable syncs.
            58..=71 => push_unreliably(&mut rng, laptop).await,
            72..=75 => {
                let shares = laptop.device.lock().pending_shares().unwrap();
                for (case_id, team) in shares {
                    match laptop.device.client.grant(case_id.0, team).await {
                        // Sometimes the answer is lost: the grant is asked again later.
                        Ok(_) if rng.range(0, 3) == 0 => {}
                        Ok(_) => laptop.device.lock().mark_share_granted(case_id, team).unwrap(),
                        // Asked before the case's events were pushed (sync_once pushes first):
                        // refused, and asked again later.
                        Err(error) if error.code() == Some("unknown_case") => {}
                        Err(error) => panic!("{}: a grant was refused: {error}", laptop.device.label),
                    }
                }
                "grant shares"
            }
            76..=93 => pull_unreliably(&mut rng, laptop).await,
            _ => {
                laptop.device.sync().await;
                refresh(laptop);
                "full sync"
            }
        };
        *counts.entry(name).or_default() += 1;
    }
    println!("operations: {counts:?} in {:.1?}", started.elapsed());

    // Everyone syncs, twice around.
    let syncing = Instant::now();
    for _ in 0..2 {
        for laptop in &mut laptops {
            laptop.device.sync().await;
        }
    }
    println!("full sync of every laptop, twice: {:.1?}", syncing.elapsed());

    check_convergence(&mut laptops, &visible).await;

    server.kill();
    let needles: Vec<&str> = seeded_text.iter().map(String::as_str).collect();
    let found = store.plaintext_found(&needles);
    assert!(found.is_empty(), "seeded text on the server (needle index, file): {found:?}");
    println!("simulation on {} with seed {seed}: {:.1?}", backend.name(), started.elapsed());
}

/// Pushes some pending events, the way a flaky link and a dying client do.
async fn push_unreliably(rng: &mut TestRng, laptop: &mut Laptop) -> &'static str {
    let limit = rng.range(1, 200) as usize;
    let pending = laptop.device.lock().pending_events(2 * limit).unwrap();
    if pending.is_empty() {
        return "push (nothing pending)";
    }
    let client = laptop.device.client.clone();
    match rng.range(0, 4) {
        0 => {
            // Acknowledged, but the client died before marking the batch sent.
            let batch = &pending[..limit.min(pending.len())];
            client.push(batch).await.expect("push");
            "push, die before marking sent"
        }
        1 => {
            // Two batches, the later one first.
            let (first, second) = pending.split_at(pending.len() / 2);
            for batch in [second, first] {
                if batch.is_empty() {
                    continue;
                }
                let answer = client.push(batch).await.expect("push");
                let ids: Vec<Uuid> = answer.events.iter().map(|event| event.id).collect();
                laptop.device.lock().mark_sent(&ids).unwrap();
                laptop.last_acknowledged = batch.to_vec();
            }
            "push two batches in reverse order"
        }
        2 if !laptop.last_acknowledged.is_empty() => {
            // A batch the server already acknowledged arrives again.
            let answer = client.push(&laptop.last_acknowledged).await.expect("push again");
            assert!(answer.events.iter().all(|event| event.already_stored), "a repeated batch was stored again");
            "push an acknowledged batch again"
        }
        _ => {
            let batch = &pending[..limit.min(pending.len())];
            let answer = client.push(batch).await.expect("push");
            let ids: Vec<Uuid> = answer.events.iter().map(|event| event.id).collect();
            laptop.device.lock().mark_sent(&ids).unwrap();
            laptop.last_acknowledged = batch.to_vec();
            "push one batch"
        }
    }
}

/// Pulls a few pages, the way a flaky link and a dying client do.
async fn pull_unreliably(rng: &mut TestRng, laptop: &mut Laptop) -> &'static str {
    let client = laptop.device.client.clone();
    let variant = rng.range(0, 5);
    // Small pages for the reordering, so that there is a next page to apply first.
    let limit = if variant == 2 { rng.range(5, 40) } else { rng.range(5, 300) } as u32;
    let cursor = laptop.device.lock().sync_cursor().unwrap();
    let first = client.pull(cursor, Some(limit)).await.expect("pull");
    let name = match variant {
        0 => "pull a page and drop it",
        1 => {
            let mut workspace = laptop.device.lock();
            workspace.apply_pulled(&first.events, first.next_cursor).unwrap();
            let again = workspace.apply_pulled(&first.events, first.next_cursor).unwrap();
            assert_eq!(again.stored, 0, "a page applied twice stored events twice");
            "pull a page, apply it twice"
        }
        2 if first.more => {
            // The next page is applied first (its events before the ones they follow).
            let second = client.pull(first.next_cursor, Some(limit)).await.expect("pull");
            let mut workspace = laptop.device.lock();
            workspace.apply_pulled(&second.events, second.next_cursor).unwrap();
            workspace.apply_pulled(&first.events, first.next_cursor).unwrap();
            "pull two pages, apply them in reverse order"
        }
        _ => {
            let pages = rng.range(1, 4);
            let mut page = first;
            for _ in 0..pages {
                laptop.device.lock().apply_pulled(&page.events, page.next_cursor).unwrap();
                if !page.more {
                    break;
                }
                page = client.pull(page.next_cursor, Some(limit)).await.expect("pull");
            }
            "pull some pages"
        }
    };
    refresh(laptop);
    name
}

fn refresh(laptop: &mut Laptop) {
    let query = CaseQuery { limit: 0, ..CaseQuery::default() };
    laptop.known = laptop.device.lock().list_cases(&query).unwrap().into_iter().map(|case| case.id).collect();
}

async fn check_convergence(laptops: &mut [Laptop], visible: &BTreeMap<CaseId, BTreeSet<Uuid>>) {
    // The ministry's feed holds every event: each once, and every device's sequence whole.
    let mut everything = Vec::new();
    let mut cursor = 0;
    loop {
        let page = laptops[0].device.client.pull(cursor, Some(1000)).await.expect("pull the ministry's feed");
        everything.extend(page.events);
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    let ids: BTreeSet<Uuid> = everything.iter().map(|event| event.id).collect();
    assert_eq!(ids.len(), everything.len(), "the ministry's feed holds an event twice");
    let mut sequences: BTreeMap<Uuid, Vec<u64>> = BTreeMap::new();
    for event in &everything {
        sequences.entry(event.device_id).or_default().push(event.device_seq);
    }
    for laptop in laptops.iter() {
        let device = laptop.device.device_id().0;
        let mut seqs = sequences.remove(&device).unwrap_or_default();
        seqs.sort_unstable();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert!(seqs == expected, "{}: the server's device_seq has a hole or a duplicate", laptop.device.label);
        let workspace = laptop.device.lock();
        assert_eq!(workspace.pending_count().unwrap(), 0, "{}: events still wait to be sent", laptop.device.label);
        assert!(workspace.pending_shares().unwrap().is_empty(), "{}: shares still wait", laptop.device.label);
    }
    assert!(sequences.is_empty(), "the server holds events of a device the simulation does not know");

    // Each laptop's audit log travels to the ministry sealed in a channel of its own, a batch
    // once 2,000 entries wait (the long run's 10,000 cases get there): those are not cases.
    let channels: BTreeSet<Uuid> =
        laptops.iter().map(|laptop| harbour_core::store::audit_channel(laptop.device.device_id().0).0).collect();
    let mut by_case: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    for event in &everything {
        if channels.contains(&event.case_id) {
            assert!(
                [harbour_core::store::AUDIT_KIND, harbour_core::deployment::GRANT_KIND].contains(&event.kind.as_str()),
                "an audit channel holds only audit batches and their grants, not {}",
                event.kind
            );
            continue;
        }
        by_case.entry(event.case_id).or_default().insert(event.id);
    }
    let modelled: BTreeSet<Uuid> = visible.keys().map(|case| case.0).collect();
    assert!(
        by_case.keys().copied().collect::<BTreeSet<_>>() == modelled,
        "the server's cases differ from those created"
    );

    let mut compared = 0;
    for (case_id, teams) in visible {
        let on_server = &by_case[&case_id.0];
        let mut reference: Option<serde_json::Value> = None;
        for laptop in laptops.iter_mut() {
            let label = laptop.device.label.clone();
            let mut workspace = laptop.device.lock();
            let held: BTreeSet<Uuid> =
                workspace.case_events(*case_id).unwrap().into_iter().map(|event| event.id).collect();
            if !teams.contains(&laptop.device.team.id) {
                assert!(held.is_empty(), "{label} holds events of a case its team may not see");
                assert!(workspace.resolve(&case_id.to_string()).is_err(), "{label} shows a case it may not see");
                continue;
            }
            assert!(held == *on_server, "{label} does not hold exactly the server's events of a case");
            let state = serde_json::to_value(workspace.view_case(*case_id).unwrap()).unwrap();
            match &reference {
                None => reference = Some(state),
                Some(reference) => assert!(state == *reference, "{label} shows another state of a case"),
            }
            compared += 1;
        }
    }
    println!("{} cases, {} events, {compared} case states compared", visible.len(), everything.len());
}
