//! A compromised server, attacked for real: a real `harbour-server` on 127.0.0.1 whose SQLite
//! store an attacker rewrites while it runs (a bribed administrator, a stolen backup put back),
//! and real laptops that sync through it. The attacker injects a grant of its own key for a
//! case, plants a case under a nurse's name, replays a laptop's own device id and next number,
//! and serves an older signed directory; then a lost laptop is revoked, and what is shared
//! afterwards is out of reach of its copy of the team key.
//!
//! `crates/core/tests/it/relay.rs` covers the same attacks, and a property over schedules,
//! without a server.

use std::path::Path;

use chrono::Utc;
use harbour_core::crypto::{self, CaseKey};
use harbour_core::deployment::{self, GRANT_KIND, GrantSealer, RootKey};
use harbour_core::model::{CaseFields, Note};
use harbour_core::{CaseCode, CaseId, Change, CodePrefix, DeviceId, EntryId, Event, EventId, Hlc};
use harbour_sync::client::ClientError;
use harbour_sync::sync_once;
use harbour_tests::devices::{self, Device};
use harbour_tests::server::{Backend, ServerStore};
use harbour_wire::SealedEvent;
use harbour_wire::protocol::{SignedDirectory, Team};
use uuid::Uuid;

/// The attacker's hold on the server: its SQLite store, written behind the server's back.
struct Attacker {
    db: rusqlite::Connection,
}

impl Attacker {
    fn on(store: &ServerStore) -> Attacker {
        let db = rusqlite::Connection::open(store.dir.join("server.db")).expect("the server's store opens");
        db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        Attacker { db }
    }

    /// Puts an event into the store and into the feeds of `teams`, as the server would for a
    /// push, so that every laptop of those teams pulls it. Returns false (nothing done) when
    /// the store already holds that device's number.
    fn inject(&self, event: &SealedEvent, teams: &[Uuid]) -> bool {
        self.db
            .execute(
                "INSERT OR IGNORE INTO cases (case_id, owner_team_id, created_at_ms) VALUES (?1, ?2, 0)",
                rusqlite::params![event.case_id.as_bytes().as_slice(), teams[0].as_bytes().as_slice()],
            )
            .unwrap();
        let inserted = self
            .db
            .execute(
                "INSERT OR IGNORE INTO events (event_id, format, case_id, kind, device_id, device_seq, hlc_wall_ms, hlc_counter,
                                     key_id, nonce, ciphertext, received_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0)",
                rusqlite::params![
                    event.id.as_bytes().as_slice(),
                    event.format,
                    event.case_id.as_bytes().as_slice(),
                    event.kind,
                    event.device_id.as_bytes().as_slice(),
                    event.device_seq as i64,
                    event.hlc.wall_ms as i64,
                    event.hlc.counter,
                    event.key_id.as_bytes().as_slice(),
                    event.nonce,
                    event.ciphertext,
                ],
            )
            .unwrap();
        if inserted == 0 {
            return false;
        }
        let seq = self.db.last_insert_rowid();
        for team in teams {
            self.db
                .execute(
                    "INSERT INTO feed (team_id, event_seq) VALUES (?1, ?2)",
                    rusqlite::params![team.as_bytes().as_slice(), seq],
                )
                .unwrap();
        }
        true
    }

    /// Takes an injected event out again (so that the real one can be pushed in its number).
    fn remove(&self, event: &SealedEvent) {
        let seq: i64 = self
            .db
            .query_row(
                "SELECT seq FROM events WHERE event_id = ?1",
                rusqlite::params![event.id.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .unwrap();
        self.db.execute("DELETE FROM feed WHERE event_seq = ?1", [seq]).unwrap();
        self.db.execute("DELETE FROM events WHERE seq = ?1", [seq]).unwrap();
    }

    /// Serves an older signed directory in place of the current one.
    fn serve_directory(&self, signed: &SignedDirectory, version: u64) {
        self.db
            .execute(
                "UPDATE directory SET version = ?1, document = ?2, signature = ?3",
                rusqlite::params![version as i64, signed.document, signed.signature],
            )
            .unwrap();
    }
}

fn now() -> Hlc {
    Hlc { wall_ms: Utc::now().timestamp_millis() as u64, counter: 0 }
}

fn sealed(key: &CaseKey, case_id: CaseId, device: DeviceId, seq: u64, change: Change) -> SealedEvent {
    let event = Event {
        id: EventId::new(),
        case_id,
        device_id: device,
        device_seq: seq,
        hlc: now(),
        author: "Ministry".into(),
        change,
    };
    crypto::seal(&event, key)
}

fn note(text: &str) -> Change {
    Change::NoteAdded { note: Note { id: EntryId::new(), text: text.into() } }
}

/// A grant made by a laptop the attacker certified with a root key of its own.
fn forged_grant(case_id: CaseId, key: &CaseKey, team: &Team, claimed: DeviceId, seq: u64) -> SealedEvent {
    let identity =
        harbour_core::identity::self_certify(&RootKey::generate(), Uuid::now_v7(), Uuid::now_v7(), claimed, 1, None);
    GrantSealer::new(&identity).seal(case_id, key, team, claimed, seq, now()).unwrap()
}

fn notes(device: &Device, case_id: CaseId) -> Vec<String> {
    device.lock().view_case(case_id).unwrap().notes.into_iter().map(|note| note.entry.text).collect()
}

struct Deployment {
    _root: tempfile::TempDir,
    store: ServerStore,
    _server: harbour_tests::server::Server,
    admin: Device,
    ministry: Team,
    clinic: Team,
    nurse_a: Device,
    nurse_b: Device,
}

async fn deployment() -> Deployment {
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(&Backend::Sqlite, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let ministry = admin.team.clone();
    let clinic = devices::create_team(&admin, "Clinic").await;
    let nurse_a = devices::enrol(&admin, &clinic, &root.path().join("a"), "Nurse A").await;
    let nurse_b = devices::enrol(&admin, &clinic, &root.path().join("b"), "Nurse B").await;
    Deployment { _root: root, store, _server: server, admin, ministry, clinic, nurse_a, nurse_b }
}

fn new_case(device: &Device, name: &str) -> CaseId {
    device.lock().create_case(CaseFields::named(name).unwrap()).unwrap().id
}

#[tokio::test]
async fn a_compromised_server_can_neither_take_over_nor_plant_a_case() {
    let d = deployment().await;
    let attacker = Attacker::on(&d.store);
    let case_id = new_case(&d.nurse_a, "Invented Person Lambda");
    d.nurse_a.sync().await;
    d.nurse_b.sync().await;
    d.admin.sync().await;

    // A grant of the attacker's key for the existing case, and a note sealed under it.
    let stolen = CaseKey::generate();
    let intruder = DeviceId::new();
    attacker.inject(&forged_grant(case_id, &stolen, &d.clinic, intruder, 7), &[d.clinic.id, d.ministry.id]);
    attacker.inject(&sealed(&stolen, case_id, intruder, 1, note("Urgent: call this number")), &[d.clinic.id]);
    // A planted case under nurse A's name, granted to both teams.
    let planted = CaseId::new();
    let planted_key = CaseKey::generate();
    let nurse_a = d.nurse_a.device_id();
    let creation = Change::CaseCreated {
        code: CaseCode::generate(&CodePrefix::default()),
        fields: CaseFields::named("Urgent referral from the ministry").unwrap(),
    };
    attacker.inject(&sealed(&planted_key, planted, nurse_a, 3_000, creation), &[d.clinic.id, d.ministry.id]);
    for (seq, team) in [(4_000, &d.clinic), (4_001, &d.ministry)] {
        attacker.inject(&forged_grant(planted, &planted_key, team, nurse_a, seq), &[d.clinic.id, d.ministry.id]);
    }

    let summary = d.nurse_b.sync().await;
    assert_eq!(summary.keys_received, 0, "nurse B took a key from the attacker");
    assert!(summary.refused >= 2, "the forged grant and note were not refused");
    d.admin.sync().await;
    for laptop in [&d.nurse_b, &d.admin] {
        assert!(laptop.lock().view_case(planted).is_err(), "{} shows a planted case", laptop.label);
        assert!(notes(laptop, case_id).is_empty(), "{} shows the attacker's note", laptop.label);
    }

    // Nurse B's next note is sealed under the case's own key: the ministry reads it.
    d.nurse_b.lock().add_note(case_id, "Seen again at the clinic").unwrap();
    d.nurse_b.sync().await;
    d.admin.sync().await;
    assert_eq!(notes(&d.admin, case_id), ["Seen again at the clinic"]);

    // Nurse B's audit log reaches the ministry through the same server, whole.
    assert!(d.nurse_b.lock().seal_audit(true).unwrap() > 0);
    d.nurse_b.sync().await;
    d.admin.sync().await;
    let logs = d.admin.lock().audit_all_devices().unwrap();
    let nurse_b = d.nurse_b.device_id().0;
    let log = logs.iter().find(|log| log.device_id == nurse_b).expect("nurse B's audit reached the ministry");
    assert_eq!(log.problem, None);
    assert!(log.entries.iter().any(|entry| entry.action == "note.add"));
}

#[tokio::test]
async fn a_replay_of_a_laptops_own_id_loses_none_of_its_work() {
    let d = deployment().await;
    let attacker = Attacker::on(&d.store);
    let case_id = new_case(&d.nurse_a, "Invented Person Mu");
    d.nurse_a.sync().await;
    let own = d.nurse_a.device_id();
    let last = d.nurse_a.lock().case_events(case_id).unwrap().iter().map(|e| e.device_seq).max().unwrap();
    // The attacker serves nurse A events in its own name, in every number after its case's that
    // the server does not hold yet: its next change's number among them.
    let forged: Vec<SealedEvent> = (1..=200)
        .map(|offset| sealed(&CaseKey::generate(), CaseId::new(), own, last + offset, note("forged")))
        .filter(|event| attacker.inject(event, &[d.clinic.id]))
        .collect();
    assert!(forged.len() >= 190);
    let summary = d.nurse_a.sync().await;
    assert_eq!(summary.stored, 0);
    assert_eq!(summary.refused, forged.len() as u64);
    for event in &forged {
        attacker.remove(event);
    }

    d.nurse_a.lock().add_note(case_id, "First visit").unwrap();
    assert_eq!(notes(&d.nurse_a, case_id), ["First visit"]);
    assert_eq!(d.nurse_a.sync().await.pushed, 1, "the note was not sent");
    d.admin.sync().await;
    assert_eq!(notes(&d.admin, case_id), ["First visit"]);
}

#[tokio::test]
async fn an_older_signed_directory_is_not_taken_back() {
    let d = deployment().await;
    let attacker = Attacker::on(&d.store);
    let old = d.admin.lock().signed_directory().unwrap();
    let old_version = d.admin.lock().directory().unwrap().unwrap().version;
    devices::create_team(&d.admin, "Shelter").await;
    d.nurse_b.sync().await;
    assert!(d.nurse_b.lock().team("Shelter").is_ok());
    attacker.serve_directory(&old, old_version);
    let summary = d.nurse_b.sync().await;
    assert!(!summary.directory_updated);
    assert!(d.nurse_b.lock().team("Shelter").is_ok(), "an older directory replaced the newer one");
}

#[tokio::test]
async fn a_lost_laptop_is_revoked_and_opens_nothing_shared_afterwards() {
    let d = deployment().await;
    let before = new_case(&d.nurse_a, "Invented Person Nu");
    d.nurse_a.sync().await;
    d.nurse_b.sync().await;

    // Nurse A's laptop is lost; the administrator revokes it and replaces the clinic's key.
    let lost_secrets = d.nurse_a.lock().membership().unwrap().team_secrets.clone();
    let lost = d.nurse_a.device_id();
    d.admin.client.revoke_device(lost.0).await.unwrap();
    let listed = d.admin.client.devices().await.unwrap();
    let keep: Vec<_> = listed
        .iter()
        .filter(|device| device.team_id == d.clinic.id && !device.revoked)
        .filter_map(|device| device.certificate.clone())
        .collect();
    assert_eq!(keep.len(), 1, "the server lists nurse B's certificate");
    let rotation = d.admin.lock().rotate_team_key(d.clinic.id, &keep).unwrap();
    d.admin.client.publish_directory(&rotation.directory).await.unwrap();
    d.admin.sync().await;

    // The lost laptop is refused at once.
    let refused = sync_once(&d.nurse_a.workspace, &d.nurse_a.client, &mut |_| {}).await.unwrap_err();
    assert!(
        matches!(&refused, harbour_sync::SyncError::Client(ClientError::Unauthorized { .. })),
        "the lost laptop was not refused: {refused}"
    );
    // Nurse B receives the new key, keeps the old cases, and reads what is shared afterwards.
    d.nurse_b.sync().await;
    assert_eq!(d.nurse_b.lock().membership().unwrap().team_secrets.len(), 2);
    let after = new_case(&d.admin, "Invented Person Xi");
    // Shared with the team as the caller knew it before the rotation: its new key is used.
    let stale = d.clinic.clone();
    d.admin.lock().share_case(after, &stale).unwrap();
    d.admin.sync().await;
    d.nurse_b.sync().await;
    assert!(d.nurse_b.lock().view_case(after).is_ok());
    assert!(d.nurse_b.lock().view_case(before).is_ok());
    // Even with the whole feed (a stolen server backup), the lost laptop's key opens nothing new.
    let grants: Vec<SealedEvent> =
        d.admin.lock().case_events(after).unwrap().into_iter().filter(|event| event.kind == GRANT_KIND).collect();
    assert!(!grants.is_empty());
    assert!(grants.iter().all(|grant| deployment::open_grant(grant, &lost_secrets).is_none()));
    // Nothing of the cases reached the server's files in clear, nor the team's name.
    let leaked = d.store.plaintext_found(&["Invented Person Nu", "Invented Person Xi", "Clinic"]);
    assert!(
        leaked.is_empty(),
        "plaintext found in the server's files: {:?}",
        leaked.iter().map(|(i, _)| i).collect::<Vec<_>>()
    );
    let _ = Path::new("");
}
