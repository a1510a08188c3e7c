//! The merge, as a property: random histories on 2–5 devices that go offline, edit, and
//! exchange random subsets of events converge to one state whatever the delivery order, lose
//! no event, and flag exactly the fields whose edits were concurrent.
//!
//! Devices are simulated at the `fold` level: each keeps the events it knows, folds them to
//! decide what its next edit replaces (as `Workspace::update_case` does), and advances its
//! hybrid logical clock with `Clock::tick` for its own events and `Clock::observe` on receipt.

use std::collections::{BTreeMap, BTreeSet};

use harbour_core::crypto::{self, CaseKey};
use harbour_core::event::{Change, Clock, FieldEdit};
use harbour_core::fold::CaseState;
use harbour_core::model::{
    CaseFields, CaseStatus, Consent, ConsentMethod, ConsentScope, Field, FieldValue, IdentificationStatus,
    JusticeStage, JusticeStep, Note, Referral, ReferralReason, ReferralStatus, RiskLevel, ServiceType, Urgency,
};
use harbour_core::{CaseCode, CaseId, CodePrefix, DeviceId, EntryId, Event, EventId};
use proptest::prelude::*;

use crate::support::{assert_same, day};

/// Wall-clock time at which the simulated history starts.
const START_MS: u64 = 1_750_000_000_000;

/// What one step of a simulated history does.
#[derive(Clone, Debug)]
enum Step {
    /// The device's wall clock moves on.
    Wait {
        device: usize,
        ms: u64,
    },
    Edit {
        device: usize,
        field: usize,
        value: usize,
    },
    Note {
        device: usize,
    },
    Consent {
        device: usize,
    },
    Refer {
        device: usize,
        consent: usize,
    },
    Advance {
        device: usize,
        referral: usize,
        accept: bool,
    },
    /// A laptop of one of two receiving teams records that a referral reached it.
    Deliver {
        device: usize,
        referral: usize,
        team: bool,
    },
    /// `from` sends `to` the events of its own whose bit is set in `mask` (0 sends nothing,
    /// `u32::MAX` everything it knows).
    Send {
        from: usize,
        to: usize,
        mask: u32,
    },
}

/// The fields edited in the simulation, and the values each may take.
const FIELDS: [Field; 5] =
    [Field::RiskLevel, Field::Status, Field::AssignedTeam, Field::Location, Field::IdentificationStatus];

fn value(field: Field, index: usize) -> FieldValue {
    match field {
        Field::RiskLevel => FieldValue::RiskLevel(
            [None, Some(RiskLevel::Low), Some(RiskLevel::Medium), Some(RiskLevel::High)][index % 4],
        ),
        Field::Status => FieldValue::Status([CaseStatus::Active, CaseStatus::FollowUp, CaseStatus::Closed][index % 3]),
        Field::AssignedTeam => FieldValue::AssignedTeam(Some(format!("team-{}", index % 3))),
        Field::IdentificationStatus => FieldValue::IdentificationStatus(
            [
                None,
                Some(IdentificationStatus::Possible),
                Some(IdentificationStatus::Presumed),
                Some(IdentificationStatus::Identified),
            ][index % 4],
        ),
        _ => FieldValue::Location(Some(format!("place-{}", index % 5))),
    }
}

struct Device {
    id: DeviceId,
    clock: Clock,
    wall_ms: u64,
    seq: u64,
    known: BTreeMap<EventId, Event>,
}

impl Device {
    fn new(skew_ms: u64) -> Device {
        Device {
            id: DeviceId::new(),
            clock: Clock::default(),
            wall_ms: START_MS + skew_ms,
            seq: 0,
            known: BTreeMap::new(),
        }
    }

    fn state(&self) -> Option<CaseState> {
        CaseState::fold(self.known.values())
    }

    fn record(&mut self, case_id: CaseId, change: Change) {
        self.seq += 1;
        let event = Event {
            id: EventId::new(),
            case_id,
            device_id: self.id,
            device_seq: self.seq,
            hlc: self.clock.tick(self.wall_ms),
            author: "worker".into(),
            change,
        };
        self.known.insert(event.id, event);
    }

    fn receive(&mut self, event: &Event) {
        if !self.known.contains_key(&event.id) {
            self.clock.observe(event.hlc, self.wall_ms);
            self.known.insert(event.id, event.clone());
        }
    }
}

/// Plays `steps` on devices whose clocks are off by `skews`; returns every event made.
fn simulate(skews: &[u64], steps: &[Step]) -> Vec<Event> {
    let case_id = CaseId::new();
    let mut devices: Vec<Device> = skews.iter().map(|skew| Device::new(*skew)).collect();
    let n = devices.len();
    devices[0].record(
        case_id,
        Change::CaseCreated {
            code: CaseCode::generate(&CodePrefix::default()),
            fields: CaseFields::named("Simulated Person").unwrap(),
        },
    );
    for step in steps {
        match *step {
            Step::Wait { device, ms } => devices[device % n].wall_ms += ms,
            Step::Send { from, to, mask } => {
                let (from, to) = (from % n, to % n);
                if from == to {
                    continue;
                }
                let sent: Vec<Event> = devices[from]
                    .known
                    .values()
                    .enumerate()
                    .filter(|(index, _)| mask & (1 << (index % 32)) != 0)
                    .map(|(_, event)| event.clone())
                    .collect();
                for event in &sent {
                    devices[to].receive(event);
                }
            }
            Step::Edit { device, field, value: index } => {
                let device = &mut devices[device % n];
                let Some(state) = device.state() else {
                    continue;
                };
                let field = FIELDS[field % FIELDS.len()];
                let edit = FieldEdit { set: value(field, index), replaces: state.current_versions(field) };
                device.record(case_id, Change::CaseUpdated { edits: vec![edit], reason: None });
            }
            Step::Note { device } => {
                let device = &mut devices[device % n];
                if device.state().is_none() {
                    continue;
                }
                // Every other entry is a justice step: the entries the figures count merge alike.
                if device.seq.is_multiple_of(2) {
                    let step = JusticeStep {
                        id: EntryId::new(),
                        stage: JusticeStage::Investigation,
                        date: None,
                        perpetrator: None,
                        sentence_months: None,
                    };
                    device.record(case_id, Change::JusticeStepAdded { step });
                } else {
                    let note = Note { id: EntryId::new(), text: format!("note {}", device.seq) };
                    device.record(case_id, Change::NoteAdded { note });
                }
            }
            Step::Consent { device } => {
                let device = &mut devices[device % n];
                if device.state().is_none() {
                    continue;
                }
                let consent = Consent {
                    id: EntryId::new(),
                    scope: vec![ConsentScope::CaseSummary],
                    shared_with: "any service".into(),
                    given_on: day("2025-01-01"),
                    method: ConsentMethod::Verbal,
                    note: None,
                };
                device.record(case_id, Change::ConsentRecorded { consent });
            }
            Step::Refer { device, consent } => {
                let device = &mut devices[device % n];
                let Some(state) = device.state() else {
                    continue;
                };
                if state.consents.is_empty() {
                    continue;
                }
                let consent_id = state.consents[consent % state.consents.len()].entry.id;
                let referral = Referral {
                    id: EntryId::new(),
                    service: "clinic".into(),
                    service_type: ServiceType::Medical,
                    reason: ReferralReason::AdditionalServicesRequired,
                    details: None,
                    urgency: Urgency::Routine,
                    consent_id,
                    team: None,
                };
                device.record(case_id, Change::ReferralMade { referral });
            }
            Step::Advance { device, referral, accept } => {
                let device = &mut devices[device % n];
                let Some(state) = device.state() else {
                    continue;
                };
                if state.referrals.is_empty() {
                    continue;
                }
                let current = &state.referrals[referral % state.referrals.len()];
                let status = match (current.status, accept) {
                    (ReferralStatus::Sent, true) => ReferralStatus::Accepted,
                    (ReferralStatus::Sent, false) => ReferralStatus::Declined,
                    (ReferralStatus::Accepted, _) => ReferralStatus::Completed,
                    _ => continue,
                };
                let change = Change::ReferralStatusChanged { referral_id: current.referral.id, status, note: None };
                device.record(case_id, change);
            }
            Step::Deliver { device, referral, team } => {
                let device = &mut devices[device % n];
                let Some(state) = device.state() else {
                    continue;
                };
                if state.referrals.is_empty() {
                    continue;
                }
                let referral_id = state.referrals[referral % state.referrals.len()].referral.id;
                let team_id = uuid::Uuid::from_u128(if team { 1 } else { 2 });
                device.record(case_id, Change::ReferralDelivered { referral_id, team_id });
            }
        }
    }
    let mut all = BTreeMap::new();
    for device in &devices {
        all.extend(device.known.iter().map(|(id, event)| (*id, event.clone())));
    }
    all.into_values().collect()
}

fn step() -> impl Strategy<Value = Step> {
    let device = 0usize..5;
    prop_oneof![
        2 => (device.clone(), 0u64..3).prop_map(|(device, ms)| Step::Wait { device, ms }),
        1 => (device.clone(), 0u64..400_000).prop_map(|(device, ms)| Step::Wait { device, ms }),
        6 => (device.clone(), 0usize..4, 0usize..12)
            .prop_map(|(device, field, value)| Step::Edit { device, field, value }),
        1 => device.clone().prop_map(|device| Step::Note { device }),
        1 => device.clone().prop_map(|device| Step::Consent { device }),
        1 => (device.clone(), 0usize..4).prop_map(|(device, consent)| Step::Refer { device, consent }),
        2 => (device.clone(), 0usize..4, any::<bool>())
            .prop_map(|(device, referral, accept)| Step::Advance { device, referral, accept }),
        1 => (device.clone(), 0usize..4, any::<bool>())
            .prop_map(|(device, referral, team)| Step::Deliver { device, referral, team }),
        4 => (device.clone(), device.clone(), prop_oneof![Just(u32::MAX), any::<u32>()])
            .prop_map(|(from, to, mask)| Step::Send { from, to, mask }),
    ]
}

/// Device clock offsets: most within a few seconds of each other, some minutes apart.
fn skews() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(prop_oneof![3 => 0u64..5_000, 1 => 0u64..900_000], 2..=5)
}

/// A small deterministic generator for delivery orders (proptest supplies the seed).
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The events in a random order, some of them delivered two or three times.
    fn delivery<'a>(&mut self, events: &'a [Event]) -> Vec<&'a Event> {
        let mut delivered: Vec<&Event> = events.iter().collect();
        for event in events {
            for _ in 0..self.next() % 3 {
                if self.next() % 3 == 2 {
                    delivered.push(event);
                }
            }
        }
        for i in (1..delivered.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            delivered.swap(i, j);
        }
        delivered
    }
}

/// The versions of `field` that no event replaces: the heads, worked out from the `replaces`
/// lists alone, independently of any order.
fn expected_heads(events: &[Event], field: Field) -> BTreeSet<EventId> {
    let mut versions = BTreeSet::new();
    let mut replaced = BTreeSet::new();
    for event in events {
        match &event.change {
            Change::CaseCreated { .. } => {
                versions.insert(event.id);
            }
            Change::CaseUpdated { edits, .. } => {
                for edit in edits.iter().filter(|edit| edit.set.field() == field) {
                    versions.insert(event.id);
                    replaced.extend(edit.replaces.iter().copied());
                }
            }
            _ => {}
        }
    }
    versions.difference(&replaced).copied().collect()
}

fn check_merge(skews: &[u64], steps: &[Step], seed: u64) -> Result<(), TestCaseError> {
    let events = simulate(skews, steps);
    let state = CaseState::fold(&events).expect("the creation event is in the set");
    let expected = serde_json::to_string(&state).unwrap();

    let mut shuffler = Shuffler(seed | 1);
    for _ in 0..4 {
        let delivered = shuffler.delivery(&events);
        let again = CaseState::fold(delivered).unwrap();
        prop_assert!(serde_json::to_string(&again).unwrap() == expected, "another delivery order gave another state");
    }

    // No event lost: each appears exactly once in the history, and entries are all there.
    let mut in_history: BTreeMap<EventId, usize> = BTreeMap::new();
    for entry in &state.history {
        *in_history.entry(entry.stamp.event_id).or_default() += 1;
    }
    prop_assert_eq!(in_history.len(), events.len(), "events missing from the history");
    prop_assert!(in_history.values().all(|count| *count == 1), "an event twice in the history");
    let count = |kind: &str| events.iter().filter(|event| event.change.kind() == kind).count();
    prop_assert_eq!(state.notes.len(), count("note.added"));
    prop_assert_eq!(state.justice.len(), count("justice.added"));
    prop_assert_eq!(state.consents.len(), count("consent.recorded"));
    prop_assert_eq!(state.referrals.len(), count("referral.made"));
    let status_changes: usize = state.referrals.iter().map(|r| r.status_history.len()).sum();
    prop_assert_eq!(status_changes, count("referral.status"), "a referral status change was lost");

    // A conflict exactly where concurrent edits left more than one head.
    for field in FIELDS {
        let heads = expected_heads(&events, field);
        let folded: BTreeSet<EventId> = state.heads[&field].iter().map(|v| v.stamp.event_id).collect();
        prop_assert_eq!(&folded, &heads, "heads of {}", field);
        let conflict = state.conflicts.iter().find(|conflict| conflict.field == field);
        prop_assert_eq!(conflict.is_some(), heads.len() > 1, "conflict flag of {}", field);
        if let Some(conflict) = conflict {
            let versions: BTreeSet<EventId> = conflict.versions.iter().map(|v| v.stamp.event_id).collect();
            prop_assert_eq!(&versions, &heads, "versions in the conflict on {}", field);
        }
        // The value shown is one of the heads'.
        let shown = serde_json::to_value(&state.fields).unwrap()[field.as_str()].clone();
        let candidates: Vec<_> =
            state.heads[&field].iter().map(|v| serde_json::to_value(&v.value).unwrap()["value"].clone()).collect();
        prop_assert!(candidates.contains(&shown), "the value shown for {} is not a head", field);
    }
    prop_assert_eq!(state.needs_review(), !state.conflicts.is_empty());

    // A later edit on a device that has seen everything replaces every version: resolved.
    let mut resolver = Device::new(0);
    resolver.wall_ms = events.iter().map(|event| event.hlc.wall_ms).max().unwrap();
    for event in &events {
        resolver.receive(event);
    }
    for field in state.conflicts.iter().map(|conflict| conflict.field) {
        let edit = FieldEdit { set: value(field, 1), replaces: state.current_versions(field) };
        resolver.record(state.id, Change::CaseUpdated { edits: vec![edit], reason: Some("reviewed".into()) });
    }
    let all: Vec<Event> = resolver.known.values().cloned().collect();
    let resolved = CaseState::fold(&all).unwrap();
    prop_assert!(resolved.conflicts.is_empty(), "a conflict survived an edit replacing every version");
    for conflict in &state.conflicts {
        prop_assert_eq!(&resolved.heads[&conflict.field].len(), &1);
    }

    // Sealing changes nothing: the fold of opened events is the fold of the plain ones.
    let key = CaseKey::generate();
    let opened: Vec<Event> =
        events.iter().map(|event| crypto::open(&crypto::seal(event, &key), &key).unwrap()).collect();
    prop_assert!(opened == events, "open(seal(event)) differs from the event");
    let reopened = CaseState::fold(shuffler.delivery(&opened)).unwrap();
    prop_assert!(serde_json::to_string(&reopened).unwrap() == expected, "the fold of opened events differs");
    Ok(())
}

/// Histories per run: 256, or `HARBOUR_MERGE_CASES` (tests/long.sh runs 10,000).
fn merge_cases() -> u32 {
    std::env::var("HARBOUR_MERGE_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: merge_cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_converges_and_flags_concurrent_edits(
        skews in skews(),
        steps in prop::collection::vec(step(), 0..60),
        seed in any::<u64>(),
    ) {
        check_merge(&skews, &steps, seed)?;
    }
}

/// Two devices edit the same field offline: flagged; a later edit that saw both settles it.
#[test]
fn concurrent_edits_are_flagged_then_settled() {
    let steps = [
        Step::Send { from: 0, to: 1, mask: u32::MAX },
        Step::Wait { device: 0, ms: 10 },
        Step::Wait { device: 1, ms: 10 },
        Step::Edit { device: 0, field: 0, value: 1 },
        Step::Edit { device: 1, field: 0, value: 3 },
        Step::Edit { device: 1, field: 2, value: 0 },
        Step::Send { from: 0, to: 1, mask: u32::MAX },
    ];
    let events = simulate(&[0, 2], &steps);
    let state = CaseState::fold(&events).unwrap();
    let flagged: Vec<Field> = state.conflicts.iter().map(|conflict| conflict.field).collect();
    assert_eq!(flagged, [Field::RiskLevel], "only the field both edited");
    assert!(state.history.iter().filter(|entry| entry.concurrent).count() == 1);
    check_merge(&[0, 2], &steps, 7).unwrap();

    // The same edits made one after the other (the second device saw the first): no conflict.
    let causal = [
        Step::Send { from: 0, to: 1, mask: u32::MAX },
        Step::Edit { device: 0, field: 0, value: 1 },
        Step::Send { from: 0, to: 1, mask: u32::MAX },
        Step::Edit { device: 1, field: 0, value: 3 },
    ];
    let events = simulate(&[0, 2], &causal);
    let state = CaseState::fold(&events).unwrap();
    assert!(state.conflicts.is_empty());
    assert_eq!(state.fields.risk_level, Some(RiskLevel::High));
    assert_same(&state.heads[&Field::RiskLevel].len(), &1, "one head");
}

/// A laptop whose clock runs ten minutes fast creates a case and a referral; another, on time,
/// edits and completes it. `Clock::observe` clamps the fast readings, so the second laptop's
/// events sort before the ones they follow: nothing may be lost or revived for that.
#[test]
fn a_fast_clock_loses_nothing() {
    let steps = [
        Step::Consent { device: 0 },
        Step::Refer { device: 0, consent: 0 },
        Step::Edit { device: 0, field: 0, value: 2 },
        Step::Send { from: 0, to: 1, mask: u32::MAX },
        Step::Edit { device: 1, field: 0, value: 3 },
        Step::Advance { device: 1, referral: 0, accept: true },
        Step::Advance { device: 1, referral: 0, accept: true },
        Step::Send { from: 1, to: 0, mask: u32::MAX },
    ];
    let events = simulate(&[600_000, 0], &steps);
    let created_at = events.iter().find(|event| event.change.kind() == "case.created").unwrap().hlc;
    assert!(
        events.iter().any(|event| event.hlc < created_at),
        "the on-time laptop's events sort before the case's creation"
    );
    let state = CaseState::fold(&events).unwrap();
    assert_eq!(state.history.len(), events.len());
    assert_eq!(state.fields.risk_level, Some(RiskLevel::High), "the later edit is shown");
    assert!(state.conflicts.is_empty(), "an edit that saw the other is not a conflict");
    assert_eq!(state.referrals[0].status, ReferralStatus::Completed);
    assert_eq!(state.referrals[0].status_history.len(), 2);
    check_merge(&[600_000, 0], &steps, 11).unwrap();
}
