//! Issue 10's malicious relay, aimed at Harbour as it was before the trust work: commit
//! 9233082, the tip before issue 10's first commit (2c5fcec). There grants were anonymous (a case
//! key sealed to a team's public key, signed by no one), a pulled page was applied by
//! `apply_pulled` with `INSERT OR IGNORE`, a case's key was the newest one stored
//! (`ORDER BY rowid DESC LIMIT 1`), and the sync client read an answer whole, however large.
//!
//! Each test is one attack of the issue and asserts what a laptop SHOULD do: refuse the attack,
//! lose nothing, refuse the page. It prints one `observed:` line (counts and yes/no only, never a
//! name or a note) saying what the laptop did, then asserts. On 9233082 an attack that works makes
//! its test fail; the tests on main that make the same attacks pass.
//!
//! Not part of any build: `tests/attacks_before.sh` copies this file into a temporary worktree of
//! 9233082 as `crates/sync/tests/attacks.rs` (an integration test of harbour-sync, which has the
//! core, the wire types and the sync client of that commit) and runs it there.
//!
//! The relay is played two ways, as on main: handing pages straight to `apply_pulled` (what a
//! laptop accepts, `crates/core/tests/it/relay.rs` on main), and as a small hostile HTTP server
//! that the real sync client of 9233082 talks to (the older directory, the oversized page).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use harbour_core::crypto::{self, CaseKey, KdfParams};
use harbour_core::deployment::{GRANT_KIND, GrantSealer};
use harbour_core::model::{CaseFields, Field, FieldValue, Note};
use harbour_core::store::ApplyReport;
use harbour_core::{
    CaseCode, CaseId, Change, CodePrefix, CreateOptions, DeviceId, EntryId, Event, EventId, Hlc, SealedEvent, Workspace,
};
use harbour_sync::client::Client;
use harbour_sync::sync_once;
use harbour_wire::protocol::{
    CreateInvitationResponse, PullResponse, PushResponse, PushedEvent, SignedDirectory, Team,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

const PASSPHRASE: &str = "test passphrase for harbour";

// ----- a deployment on this machine (the API of 9233082) -----

/// A directory below the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("harbour-before-{}", Uuid::now_v7()));
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An administrator (the ministry) and a clinic team with two laptops.
struct Org {
    _dir: Scratch,
    admin: Workspace,
    clinic: Team,
    nurse_a: Workspace,
    nurse_b: Workspace,
}

fn options(worker: &str) -> CreateOptions {
    CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, worker: worker.to_owned(), ..CreateOptions::default() }
}

fn org() -> Org {
    let dir = Scratch::new();
    let mut admin = Workspace::create(&dir.path().join("admin"), PASSPHRASE, &options("Administrator")).unwrap();
    let plan = admin.plan_deployment("https://harbour.example.org", "Ministry").unwrap();
    admin.complete_deployment(plan, "admin-token").unwrap();
    let (clinic, _) = admin.create_team("Clinic").unwrap();
    let nurse_a = join(&admin, &clinic, &dir.path().join("a"), "Nurse A");
    let nurse_b = join(&admin, &clinic, &dir.path().join("b"), "Nurse B");
    Org { _dir: dir, admin, clinic, nurse_a, nurse_b }
}

fn join(admin: &Workspace, team: &Team, dir: &Path, worker: &str) -> Workspace {
    let created = CreateInvitationResponse {
        invitation_id: Uuid::now_v7(),
        team_id: team.id,
        admin: false,
        device_token: "device-token".into(),
    };
    let invitation = admin.invitation(team, &created).unwrap();
    Workspace::join(dir, PASSPHRASE, &options(worker), &invitation, DeviceId::new()).unwrap()
}

/// Everything a laptop made and has not given the relay yet, marked sent (as after a push).
fn push(workspace: &mut Workspace) -> Vec<SealedEvent> {
    let events = workspace.pending_events(100_000).unwrap();
    let ids: Vec<Uuid> = events.iter().map(|event| event.id).collect();
    workspace.mark_sent(&ids).unwrap();
    events
}

/// Hands a page to a laptop, as a pull would.
fn pull(workspace: &mut Workspace, page: &[SealedEvent]) -> ApplyReport {
    let cursor = workspace.sync_cursor().unwrap() + 1;
    workspace.apply_pulled(page, cursor).unwrap()
}

fn new_case(workspace: &mut Workspace, name: &str) -> CaseId {
    workspace.create_case(CaseFields::named(name).unwrap()).unwrap().id
}

/// The notes a laptop shows on a case; `None` when the case does not open there.
fn note_texts(workspace: &mut Workspace, case_id: CaseId) -> Option<Vec<String>> {
    let state = workspace.view_case(case_id).ok()?;
    Some(state.notes.into_iter().map(|note| note.entry.text).collect())
}

fn now() -> Hlc {
    let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    Hlc { wall_ms, counter: 0 }
}

/// The relay's own event: sealed under a key of its choosing, claiming any device and author.
fn sealed_by(key: &CaseKey, case_id: CaseId, device: DeviceId, seq: u64, author: &str, change: Change) -> SealedEvent {
    let event = Event {
        id: EventId::new(),
        case_id,
        device_id: device,
        device_seq: seq,
        hlc: now(),
        author: author.into(),
        change,
    };
    crypto::seal(&event, key)
}

fn note(text: &str) -> Change {
    Change::NoteAdded { note: Note { id: EntryId::new(), text: text.into() } }
}

/// A grant of `key` for `case_id` to `team`, as anyone who knows the team's public key (it is in
/// the directory the server relays) could make one on 9233082: sealed, signed by no one.
fn grant(case_id: CaseId, key: &CaseKey, team: &Team, device: DeviceId, seq: u64) -> SealedEvent {
    GrantSealer::new().seal(case_id, key, team, device, seq, now()).unwrap()
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

// ----- the attacks -----

/// The relay grants its own key for a case nurse B already holds, and adds a note under it.
/// What nurse B should do: refuse the key, so that its next note is sealed under the case's
/// own key, which the relay does not have and the ministry does.
/// On main: `relay::a_grant_injected_for_an_existing_case_cannot_take_it_over`.
#[test]
fn a_grant_injected_for_an_existing_case_cannot_take_it_over() {
    let mut org = org();
    let case_id = new_case(&mut org.nurse_a, "Invented Person Alpha");
    let created = push(&mut org.nurse_a);
    pull(&mut org.nurse_b, &created);
    pull(&mut org.admin, &created);
    let genuine = created.iter().find(|event| event.kind != GRANT_KIND).unwrap().key_id;

    let relay_key = CaseKey::generate();
    let intruder = DeviceId::new();
    let injected = vec![
        grant(case_id, &relay_key, &org.clinic, intruder, 7),
        sealed_by(&relay_key, case_id, intruder, 1, "Ministry", note("Urgent: call this number")),
    ];
    let report = pull(&mut org.nurse_b, &injected);

    org.nurse_b.add_note(case_id, "Seen again at the clinic").unwrap();
    let written = push(&mut org.nurse_b);
    let next_note = written.iter().find(|event| event.kind == "note.added").expect("nurse B's note was sent");
    let under_relay_key = next_note.key_id == relay_key.id;
    let relay_reads_it = crypto::open(next_note, &relay_key).is_ok();
    pull(&mut org.admin, &written);
    let ministry_reads_it = note_texts(&mut org.admin, case_id).is_some_and(|notes| notes.len() == 1);
    let still_opens = note_texts(&mut org.nurse_b, case_id).is_some();

    println!(
        "observed: nurse B took {} key(s) from the relay and refused {} event(s); its next note was sealed under the \
         relay's key: {}; the relay opens that note: {}; the ministry reads it: {}; the case still opens on nurse B's \
         laptop: {}",
        report.keys_received,
        report.refused,
        yes(under_relay_key),
        yes(relay_reads_it),
        yes(ministry_reads_it),
        yes(still_opens)
    );
    assert_eq!(report.keys_received, 0, "nurse B took the relay's key for a case it already held");
    assert!(!relay_reads_it, "the relay reads nurse B's next note");
    assert!(next_note.key_id == genuine, "nurse B's next note is not sealed under the case's own key");
    assert!(ministry_reads_it, "the ministry cannot read nurse B's next note");
    assert!(still_opens, "the case no longer opens on nurse B's laptop");
}

/// The relay invents a case "from nurse A" (its creation carries nurse A's device id and
/// name) and grants its key to the clinic and the ministry. What they should do: not show it.
/// On main: `relay::a_planted_case_with_forged_authorship_is_not_accepted`.
#[test]
fn a_planted_case_with_forged_authorship_is_not_accepted() {
    let mut org = org();
    let planted = CaseId::new();
    let key = CaseKey::generate();
    let nurse_a = org.nurse_a.device_id();
    let creation = Change::CaseCreated {
        code: CaseCode::generate(&CodePrefix::default()),
        fields: CaseFields::named("Urgent referral from the ministry").unwrap(),
    };
    let ministry = org.admin.team("Ministry").unwrap();
    let mut page = vec![sealed_by(&key, planted, nurse_a, 500, "Nurse A", creation)];
    for (seq, team) in [(501, &org.clinic), (502, &ministry)] {
        page.push(grant(planted, &key, team, nurse_a, seq));
    }

    let mut seen = Vec::new();
    for laptop in [&mut org.nurse_b, &mut org.admin] {
        let report = pull(laptop, &page);
        let listed = laptop.list_cases(&Default::default()).unwrap().iter().any(|case| case.id == planted);
        let opens = laptop.view_case(planted).is_ok();
        let in_nurse_as_name = laptop
            .case_events(planted)
            .unwrap()
            .iter()
            .any(|event| event.kind == "case.created" && event.device_id == nurse_a.0);
        seen.push((report.keys_received, listed, opens, in_nurse_as_name));
    }

    for (label, (keys, listed, opens, named)) in ["nurse B", "the ministry"].iter().zip(&seen) {
        println!(
            "observed: {label} took {keys} key(s) for the planted case; lists it: {}; opens it: {}; its creation \
             carries nurse A's device id: {}",
            yes(*listed),
            yes(*opens),
            yes(*named)
        );
    }
    for (label, (keys, listed, opens, _)) in ["nurse B", "the ministry"].iter().zip(&seen) {
        assert_eq!(*keys, 0, "{label} took a key for a case the relay planted under nurse A's name");
        assert!(!listed && !opens, "{label} shows a case the relay planted under nurse A's name");
    }
}

/// The relay hands nurse A an event in nurse A's own name, with the number its next change
/// will take (in a case nurse A holds no key for, so it cannot be opened and dropped). What
/// nurse A should do: refuse it, and keep and send its next change.
/// On main: `relay::events_bearing_this_laptops_own_id_are_refused_and_its_next_change_is_kept`.
#[test]
fn events_bearing_this_laptops_own_id_are_refused_and_its_next_change_is_kept() {
    let mut org = org();
    let case_id = new_case(&mut org.nurse_a, "Invented Person Delta");
    let created = push(&mut org.nurse_a);
    pull(&mut org.admin, &created);
    let own = org.nurse_a.device_id();
    let next = org.nurse_a.case_events(case_id).unwrap().iter().map(|event| event.device_seq).max().unwrap() + 1;
    let forged = sealed_by(&CaseKey::generate(), CaseId::new(), own, next, "Nurse A", note("forged"));
    let report = pull(&mut org.nurse_a, &[forged]);

    org.nurse_a.add_note(case_id, "First visit").unwrap();
    let shown = note_texts(&mut org.nurse_a, case_id).is_some_and(|notes| notes.len() == 1);
    let waiting = org.nurse_a.pending_count().unwrap();
    let sent = push(&mut org.nurse_a);
    pull(&mut org.admin, &sent);
    let ministry_has_it = note_texts(&mut org.admin, case_id).is_some_and(|notes| notes.len() == 1);

    println!(
        "observed: nurse A stored {} and refused {} event(s) in its own name; its next note shows on its case: {}; \
         changes waiting to be sent: {}; events sent: {}; the ministry has the note: {}",
        report.stored,
        report.refused,
        yes(shown),
        waiting,
        sent.len(),
        yes(ministry_has_it)
    );
    assert!(shown, "nurse A's next note was lost on its own laptop");
    assert_eq!(waiting, 1, "nurse A's next note is not waiting to be sent");
    assert!(ministry_has_it, "nurse A's next note never reached the ministry");
    assert_eq!((report.stored, report.refused), (0, 1), "an event in nurse A's own name was stored");
}

/// The relay serves an older signed directory (before a team was added) to a laptop that holds
/// the newer one, through the real sync client. What the laptop should do: keep the newer one.
/// On main: `relay_attacks::an_older_signed_directory_is_not_taken_back`.
#[tokio::test]
async fn an_older_signed_directory_is_not_taken_back() {
    let Org { _dir, mut admin, nurse_b, .. } = org();
    let old = admin.signed_directory().unwrap();
    let (_, newer) = admin.create_team("Shelter").unwrap();
    let relay = Relay::start().await;
    let nurse_b = Mutex::new(nurse_b);
    let client = Client::new(&relay.url).unwrap().with_token("device-token");

    relay.state.lock().unwrap().directory = Some(newer);
    let first = sync_once(&nurse_b, &client, &mut |_| {}).await.unwrap();
    assert!(
        first.directory_updated && nurse_b.lock().unwrap().team("Shelter").is_ok(),
        "the newer directory was not taken"
    );

    relay.state.lock().unwrap().directory = Some(old);
    let second = sync_once(&nurse_b, &client, &mut |_| {}).await;
    let kept = nurse_b.lock().unwrap().team("Shelter").is_ok();
    println!(
        "observed: the sync with the older directory {}; directory replaced: {}; the newer directory's team is still \
         known: {}",
        if second.is_ok() { "succeeded" } else { "failed" },
        yes(second.as_ref().is_ok_and(|summary| summary.directory_updated)),
        yes(kept)
    );
    assert!(
        second.as_ref().is_ok_and(|summary| !summary.directory_updated),
        "an older directory replaced the newer one"
    );
    assert!(kept, "an older directory replaced the newer one");
}

/// The relay drops and reorders what it delivers: each delivery to a laptop is a subset of
/// what it holds (chosen by a mask), shuffled, with a duplicate; at the end it delivers
/// everything. What the laptops should do: agree on every case and lose no event. The schedule
/// is the property on main without its forgeries (those are the tests above), over fixed seeds.
/// On main: the property `relay::no_relay_schedule_makes_honest_laptops_disagree_or_lose_an_event`.
#[test]
fn no_schedule_of_drops_and_reorders_makes_honest_laptops_disagree_or_lose_an_event() {
    let schedules: u64 =
        std::env::var("HARBOUR_BEFORE_SCHEDULES").ok().and_then(|text| text.parse().ok()).unwrap_or(24);
    let mut failed = Vec::new();
    for seed in 1..=schedules {
        if let Err(problem) = check_schedule(seed) {
            failed.push((seed, problem));
        }
    }
    println!(
        "observed: {} of {schedules} schedules of drops, duplicates and reorders ended with the laptops agreeing and \
         no event lost",
        schedules - failed.len() as u64
    );
    for (seed, problem) in &failed {
        println!("observed: schedule {seed}: {problem}");
    }
    assert!(failed.is_empty(), "{} schedule(s) made honest laptops disagree or lose an event", failed.len());
}

/// The relay serves a page holding one event of 12 MiB, to the real sync client. What the laptop
/// should do: refuse the page (no event in it is applied, the cursor does not move) instead of
/// reading it whole and storing it.
/// On main: harbour-sync's `an_oversized_event_in_a_page_is_refused` and
/// `a_server_answering_100_mib_is_refused_before_it_fills_memory` (crates/sync/tests/it/main.rs).
#[tokio::test]
async fn a_page_holding_an_oversized_event_is_refused() {
    let Org { _dir, admin, nurse_b, .. } = org();
    let relay = Relay::start().await;
    let oversized = SealedEvent {
        format: crypto::SEALED_FORMAT,
        id: Uuid::now_v7(),
        case_id: Uuid::now_v7(),
        kind: "note.added".into(),
        device_id: Uuid::now_v7(),
        device_seq: 1,
        hlc: now(),
        key_id: Uuid::now_v7(),
        nonce: vec![0; 12],
        ciphertext: vec![7; 12 * 1024 * 1024],
    };
    let case_id = CaseId(oversized.case_id);
    {
        let mut state = relay.state.lock().unwrap();
        state.directory = Some(admin.signed_directory().unwrap());
        state.feed.push(oversized);
    }
    let nurse_b = Mutex::new(nurse_b);
    let client = Client::new(&relay.url).unwrap().with_token("device-token");
    let result = sync_once(&nurse_b, &client, &mut |_| {}).await;
    let workspace = nurse_b.lock().unwrap();
    let cursor = workspace.sync_cursor().unwrap();
    let held: usize = workspace.case_events(case_id).unwrap().iter().map(|event| event.ciphertext.len()).sum();
    match &result {
        Ok(summary) => println!(
            "observed: the sync succeeded: {} event(s) pulled, {} stored, {} bytes read from the relay; cursor {cursor}; \
             the laptop's database holds {held} bytes of the oversized event",
            summary.pulled, summary.stored, summary.bytes_down
        ),
        Err(error) => println!(
            "observed: the sync failed ({}); cursor {cursor}; the laptop's database holds {held} bytes of the oversized \
             event",
            error
        ),
    }
    assert!(result.is_err(), "the laptop took a page holding a 12 MiB event");
    assert_eq!(cursor, 0, "the cursor moved past the oversized page");
    assert_eq!(held, 0, "the oversized event was stored");
}

// ----- drops and reorders: one schedule -----

/// A small deterministic random source (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn shuffled<T: Clone>(items: &[T], rng: &mut Rng) -> Vec<T> {
    let mut items = items.to_vec();
    for index in (1..items.len()).rev() {
        items.swap(index, rng.below(index as u64 + 1) as usize);
    }
    items
}

fn readable(workspace: &Workspace) -> Vec<CaseId> {
    let mut ids: Vec<CaseId> = workspace.list_cases(&Default::default()).unwrap().into_iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

/// What a laptop shows of a case, for comparison (never printed): fields, notes, conflicts.
fn shown(workspace: &mut Workspace, case_id: CaseId) -> Option<String> {
    let state = workspace.view_case(case_id).ok()?;
    let notes: Vec<String> = state.notes.into_iter().map(|note| note.entry.text).collect();
    Some(serde_json::to_string(&(state.fields, notes, state.conflicts.len())).unwrap())
}

/// One schedule: up to 24 steps of the three laptops (0: nurse A, 1: nurse B, 2: ministry)
/// recording cases, notes and edits, and of partial, shuffled deliveries; then one honest
/// delivery of everything to everyone. The problem found, in words without data, if any.
fn check_schedule(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut org = org();
    let mut relay: Vec<SealedEvent> = Vec::new();
    let mut made: Vec<(usize, CaseId)> = Vec::new();
    let mut counter = 0;
    let steps = 1 + rng.below(24);
    for _ in 0..steps {
        let mut laptops = [&mut org.nurse_a, &mut org.nurse_b, &mut org.admin];
        let laptop = rng.below(3) as usize;
        match rng.below(4) {
            0 => {
                counter += 1;
                made.push((laptop, new_case(laptops[laptop], &format!("Invented Person {counter}"))));
            }
            kind @ (1 | 2) => {
                let cases = readable(laptops[laptop]);
                let nth = rng.below(4) as usize;
                let Some(case_id) = cases.get(nth % cases.len().max(1)).copied() else { continue };
                counter += 1;
                if kind == 1 {
                    laptops[laptop].add_note(case_id, &format!("note {counter}")).unwrap();
                } else {
                    let value =
                        FieldValue::parse(Field::parse("location").unwrap(), &format!("Place {counter}")).unwrap();
                    laptops[laptop].update_case(case_id, vec![value], None).unwrap();
                }
            }
            _ => {
                for each in laptops.iter_mut() {
                    relay.extend(push(each));
                }
                let mask = rng.next();
                let mut page: Vec<SealedEvent> = relay
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
                    .map(|(_, event)| event.clone())
                    .collect();
                if let Some(first) = page.first().cloned() {
                    page.push(first);
                }
                let page = shuffled(&page, &mut rng);
                pull(laptops[laptop], &page);
            }
        }
    }
    let mut laptops = [&mut org.nurse_a, &mut org.nurse_b, &mut org.admin];
    for each in laptops.iter_mut() {
        relay.extend(push(each));
    }
    for each in laptops.iter_mut() {
        pull(each, &relay);
    }
    let everyone = readable(laptops[2]);
    if everyone.len() != made.len() {
        return Err(format!("the ministry reads {} of the {} cases made", everyone.len(), made.len()));
    }
    for case_id in everyone {
        let reference = shown(laptops[2], case_id).ok_or("a case listed by the ministry does not open there")?;
        for each in laptops.iter_mut().take(2) {
            if each.view_case(case_id).is_ok() && shown(each, case_id).as_ref() != Some(&reference) {
                return Err("a nurse and the ministry show a case differently".into());
            }
        }
    }
    for (maker, case_id) in &made {
        if *maker < 2 && laptops[1 - maker].view_case(*case_id).is_err() {
            return Err("a clinic case did not reach the other nurse".into());
        }
    }
    for event in &relay {
        for each in laptops.iter() {
            if readable(each).contains(&CaseId(event.case_id))
                && !each.case_events(CaseId(event.case_id)).unwrap().iter().any(|held| held.id == event.id)
            {
                return Err("an event the relay delivered is missing on a laptop that reads its case".into());
            }
        }
    }
    Ok(())
}

// ----- a hostile relay over HTTP, for the real sync client -----

/// What the relay serves: a directory of its choosing and a feed (everyone pulls the same one).
#[derive(Default)]
struct RelayState {
    directory: Option<SignedDirectory>,
    feed: Vec<SealedEvent>,
}

/// A few lines of raw HTTP/1.1 on 127.0.0.1 that answer the sync client of 9233082.
struct Relay {
    url: String,
    state: Arc<Mutex<RelayState>>,
}

impl Relay {
    async fn start() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(RelayState::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, &state).await;
                });
            }
        });
        Relay { url, state }
    }
}

fn json_reply(status: u16, body: &impl serde::Serialize) -> (u16, Vec<u8>) {
    (status, serde_json::to_vec(body).unwrap())
}

fn answer(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    state: &Mutex<RelayState>,
) -> (u16, Vec<u8>) {
    let mut state = state.lock().unwrap();
    let not_found = serde_json::json!({ "error": "not_found", "message": "Nothing here." });
    match (method, path.split('?').next().unwrap_or_default()) {
        ("GET", "/v1/directory") => match &state.directory {
            Some(directory) => json_reply(200, directory),
            None => json_reply(404, &not_found),
        },
        ("GET", "/v1/events") => {
            let query = path.split_once('?').map_or("", |(_, query)| query);
            let number = |name: &str| {
                query.split('&').find_map(|part| part.strip_prefix(name)).and_then(|value| value.parse::<usize>().ok())
            };
            let after = number("after=").unwrap_or(0).min(state.feed.len());
            let limit = number("limit=").unwrap_or(1000);
            let events: Vec<SealedEvent> = state.feed.iter().skip(after).take(limit).cloned().collect();
            let next_cursor = (after + events.len()) as u64;
            let more = (after + events.len()) < state.feed.len();
            json_reply(200, &PullResponse { events, next_cursor, more })
        }
        ("POST", "/v1/events") => {
            let compressed =
                headers.iter().any(|(key, value)| key.eq_ignore_ascii_case("content-encoding") && value == "zstd");
            let plain = if compressed { zstd::decode_all(body).unwrap() } else { body.to_vec() };
            let request: harbour_wire::protocol::PushRequest = serde_json::from_slice(&plain).unwrap();
            let mut acknowledged = Vec::new();
            for event in request.events {
                state.feed.push(event.clone());
                acknowledged.push(PushedEvent { id: event.id, seq: state.feed.len() as u64, already_stored: false });
            }
            json_reply(200, &PushResponse { events: acknowledged })
        }
        _ => json_reply(404, &not_found),
    }
}

async fn serve(mut stream: TcpStream, state: &Mutex<RelayState>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (request_line.next().unwrap_or_default(), request_line.next().unwrap_or_default());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let (status, reply) = answer(method, path, &headers, &body, state);
    let head = format!(
        "HTTP/1.1 {status} Relay\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        reply.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&reply).await?;
    stream.shutdown().await
}
