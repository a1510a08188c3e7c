//! The current state of a case: a deterministic fold of its events.
//!
//! Events are deduplicated by id and applied in [`EventOrder`], the creation first. Each field
//! is a multi-value register shown as last-writer-wins: an edit removes the versions it
//! `replaces` and adds itself; when more than one version remains, the edits were concurrent,
//! the latest is shown, and the case carries a [`Conflict`] for a person to review. Entries are
//! append-only. Folding the same set of events in any order, with duplicates, gives the same
//! state.
//!
//! The fold does not rely on the clock to follow causality: `Clock::observe` clamps a reading
//! far in the future, so an event may be ordered before one its author had already seen. Hence
//! the creation is applied first whatever its clock, an edit's `replaces` is remembered so that
//! a version arriving after its replacement is not revived, a status change may precede its
//! referral, and a referral's status is the furthest one reached in its lifecycle.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::{Change, Event, EventOrder, Hlc};
use crate::ids::{CaseCode, CaseId, DeviceId, EntryId, EventId};
use crate::model::{
    CaseFields, Consent, Field, FieldValue, JusticeStep, Note, Perpetrator, ProcessEvent, Referral, ReferralStatus,
    Screening, ServiceReceived,
};

/// A case as it stands after all its known events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    pub id: CaseId,
    pub code: CaseCode,
    pub fields: CaseFields,
    pub created: Stamp,
    pub updated: Stamp,
    #[serde(default)]
    pub notes: Vec<Dated<Note>>,
    pub consents: Vec<Dated<Consent>>,
    pub referrals: Vec<ReferralState>,
    #[serde(default)]
    pub screenings: Vec<Dated<Screening>>,
    /// What each screening concluded and when: kept in the stored projection for the figures,
    /// without the answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screening_outcomes: Vec<ScreeningOutcome>,
    /// The stages of the trafficking process (recruitment, transit, exploitation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<Dated<ProcessEvent>>,
    /// The justice response, step by step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub justice: Vec<Dated<JusticeStep>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perpetrators: Vec<Dated<Perpetrator>>,
    /// Services the person received.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Dated<ServiceReceived>>,
    /// Every event, in fold order, described without its values for entries.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Fields edited concurrently on different devices, waiting for a person to choose.
    pub conflicts: Vec<Conflict>,
    /// The current versions of each field (more than one means a conflict).
    pub heads: BTreeMap<Field, Vec<Version>>,
    /// Every version of each field that an edit has replaced, so that a replaced version
    /// ordered after its replacement (a clock clamped by `Clock::observe`) stays replaced.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replaced: BTreeMap<Field, BTreeSet<EventId>>,
    /// Status changes of referrals not folded yet (ordered before the referral itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub early_status_changes: Vec<(EntryId, StatusChange)>,
    /// Receipts of referrals not folded yet (ordered before the referral itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub early_receipts: Vec<(EntryId, Receipt)>,
    /// The greatest event order folded so far; a later event can be applied incrementally.
    pub last: EventOrder,
}

/// Who did something, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub event_id: EventId,
    pub hlc: Hlc,
    pub device_id: DeviceId,
    pub author: String,
}

impl Stamp {
    fn of(event: &Event) -> Stamp {
        Stamp { event_id: event.id, hlc: event.hlc, device_id: event.device_id, author: event.author.clone() }
    }

    /// Milliseconds since the Unix epoch.
    pub fn at_ms(&self) -> u64 {
        self.hlc.wall_ms
    }

    pub fn order(&self) -> EventOrder {
        (self.hlc, self.device_id, self.event_id)
    }
}

/// A referral's status: the furthest step of sent → accepted/declined → completed that any
/// change reached (a later step can be ordered before an earlier one when a clock was
/// clamped); between equals, the latest. `changes` are in fold order.
fn furthest_status(changes: &[StatusChange]) -> ReferralStatus {
    let step = |status: ReferralStatus| match status {
        ReferralStatus::Sent => 0,
        ReferralStatus::Accepted | ReferralStatus::Declined => 1,
        ReferralStatus::Completed => 2,
    };
    changes
        .iter()
        .enumerate()
        .max_by_key(|(index, change)| (step(change.status), *index))
        .map_or(ReferralStatus::Sent, |(_, change)| change.status)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dated<T> {
    #[serde(flatten)]
    pub entry: T,
    pub recorded: Stamp,
}

/// A screening's conclusion: its level (`result.level`) and when it was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreeningOutcome {
    pub id: EntryId,
    pub level: Option<String>,
    pub recorded_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralState {
    #[serde(flatten)]
    pub referral: Referral,
    pub status: ReferralStatus,
    pub recorded: Stamp,
    pub status_history: Vec<StatusChange>,
    /// When a laptop of the receiving team first recorded that the referral reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Receipt>,
}

/// A receiving team's laptop had the referral: which team, and the receipt's stamp (its
/// laptop, its time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub team_id: uuid::Uuid,
    pub recorded: Stamp,
}

impl ReferralState {
    /// Keeps the first receipt in event order (several laptops of a team may each record one).
    fn receive(&mut self, receipt: Receipt) {
        if self.delivered.as_ref().is_none_or(|held| receipt.recorded.order() < held.recorded.order()) {
            self.delivered = Some(receipt);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: ReferralStatus,
    pub note: Option<String>,
    pub recorded: Stamp,
}

/// One version of a field: the value an edit set, and the edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub value: FieldValue,
    pub stamp: Stamp,
}

/// Concurrent edits of one field: every version that no later edit replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub field: Field,
    pub versions: Vec<Version>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub stamp: Stamp,
    pub kind: String,
    /// For field edits: the values set. Entries are in their own lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<FieldValue>,
    pub reason: Option<String>,
    /// True when this edit was concurrent with another edit of the same field.
    #[serde(default)]
    pub concurrent: bool,
}

impl CaseState {
    /// Folds a set of events of one case. Returns `None` when the set has no creation event
    /// (the case's beginning has not arrived yet).
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<CaseState> {
        let mut sorted: Vec<&Event> = events.into_iter().collect();
        sorted.sort_by_key(|event| event.order());
        sorted.dedup_by_key(|event| event.id);
        let create_at = sorted.iter().position(|event| matches!(event.change, Change::CaseCreated { .. }))?;
        let mut state = CaseState::created(sorted[create_at])?;
        for (index, event) in sorted.iter().enumerate() {
            if index != create_at {
                state.fold_in(event);
            }
        }
        Some(state)
    }

    fn created(event: &Event) -> Option<CaseState> {
        let Change::CaseCreated { code, fields } = &event.change else {
            return None;
        };
        let stamp = Stamp::of(event);
        let heads = fields
            .as_values()
            .into_iter()
            .map(|value| (value.field(), vec![Version { value, stamp: stamp.clone() }]))
            .collect();
        Some(CaseState {
            id: event.case_id,
            code: code.clone(),
            fields: fields.clone(),
            created: stamp.clone(),
            updated: stamp.clone(),
            notes: Vec::new(),
            consents: Vec::new(),
            referrals: Vec::new(),
            screenings: Vec::new(),
            screening_outcomes: Vec::new(),
            process: Vec::new(),
            justice: Vec::new(),
            perpetrators: Vec::new(),
            services: Vec::new(),
            history: vec![HistoryEntry {
                stamp,
                kind: event.change.kind().to_owned(),
                set: Vec::new(),
                reason: None,
                concurrent: false,
            }],
            conflicts: Vec::new(),
            heads,
            replaced: BTreeMap::new(),
            early_status_changes: Vec::new(),
            early_receipts: Vec::new(),
            last: event.order(),
        })
    }

    /// Applies an event that comes after every event folded so far. The caller guarantees the
    /// order (`event.order() > self.last`); otherwise it must fold again from all events.
    pub fn apply(&mut self, event: &Event) {
        debug_assert!(event.order() > self.last);
        self.fold_in(event);
    }

    /// Applies one event; `fold` calls it in order, except that the creation comes first.
    fn fold_in(&mut self, event: &Event) {
        let stamp = Stamp::of(event);
        let mut entry = HistoryEntry {
            stamp: stamp.clone(),
            kind: event.change.kind().to_owned(),
            set: Vec::new(),
            reason: None,
            concurrent: false,
        };
        match &event.change {
            // A second creation of the same case id cannot happen with random ids; keep it in
            // history only.
            Change::CaseCreated { .. } => {}
            Change::CaseUpdated { edits, reason } => {
                entry.reason = reason.clone();
                for edit in edits {
                    let field = edit.set.field();
                    let replaced = self.replaced.entry(field).or_default();
                    replaced.extend(edit.replaces.iter().copied());
                    let versions = self.heads.entry(field).or_default();
                    versions.retain(|version| !replaced.contains(&version.stamp.event_id));
                    if !replaced.contains(&event.id) {
                        versions.push(Version { value: edit.set.clone(), stamp: stamp.clone() });
                    }
                    entry.concurrent |= versions.len() > 1;
                    entry.set.push(edit.set.clone());
                    // The latest version still standing is shown.
                    if let Some(latest) = versions.iter().max_by_key(|version| version.stamp.order()) {
                        self.fields.set(latest.value.clone());
                    }
                }
                self.refresh_conflicts();
            }
            Change::NoteAdded { note } => self.notes.push(Dated { entry: note.clone(), recorded: stamp.clone() }),
            Change::ConsentRecorded { consent } => {
                self.consents.push(Dated { entry: consent.clone(), recorded: stamp.clone() })
            }
            Change::ReferralMade { referral } => {
                let (early, later): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.early_status_changes).into_iter().partition(|(id, _)| *id == referral.id);
                self.early_status_changes = later;
                let (receipts, later): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.early_receipts).into_iter().partition(|(id, _)| *id == referral.id);
                self.early_receipts = later;
                let mut state = ReferralState {
                    referral: referral.clone(),
                    status: ReferralStatus::Sent,
                    recorded: stamp.clone(),
                    status_history: early.into_iter().map(|(_, change)| change).collect(),
                    delivered: None,
                };
                state.status = furthest_status(&state.status_history);
                for (_, receipt) in receipts {
                    state.receive(receipt);
                }
                self.referrals.push(state);
            }
            Change::ReferralStatusChanged { referral_id, status, note } => {
                let change = StatusChange { status: *status, note: note.clone(), recorded: stamp.clone() };
                match self.referrals.iter_mut().find(|r| r.referral.id == *referral_id) {
                    Some(referral) => {
                        referral.status_history.push(change);
                        referral.status = furthest_status(&referral.status_history);
                    }
                    None => self.early_status_changes.push((*referral_id, change)),
                }
            }
            Change::ReferralDelivered { referral_id, team_id } => {
                let receipt = Receipt { team_id: *team_id, recorded: stamp.clone() };
                match self.referrals.iter_mut().find(|r| r.referral.id == *referral_id) {
                    Some(referral) => referral.receive(receipt),
                    None => self.early_receipts.push((*referral_id, receipt)),
                }
            }
            Change::ScreeningRecorded { screening } => {
                self.screening_outcomes.push(ScreeningOutcome {
                    id: screening.id,
                    level: screening.result.get("level").and_then(|level| level.as_str()).map(str::to_owned),
                    recorded_ms: stamp.at_ms(),
                });
                self.screenings.push(Dated { entry: screening.clone(), recorded: stamp.clone() })
            }
            Change::ProcessEventAdded { event } => {
                self.process.push(Dated { entry: event.clone(), recorded: stamp.clone() })
            }
            Change::JusticeStepAdded { step } => {
                self.justice.push(Dated { entry: step.clone(), recorded: stamp.clone() })
            }
            Change::PerpetratorAdded { perpetrator } => {
                self.perpetrators.push(Dated { entry: perpetrator.clone(), recorded: stamp.clone() })
            }
            Change::ServiceReceived { service } => {
                self.services.push(Dated { entry: service.clone(), recorded: stamp.clone() })
            }
        }
        self.history.push(entry);
        if event.order() > self.last {
            self.updated = stamp;
            self.last = event.order();
        }
    }

    fn refresh_conflicts(&mut self) {
        self.conflicts = self
            .heads
            .iter()
            .filter(|(_, versions)| versions.len() > 1)
            .map(|(field, versions)| Conflict { field: *field, versions: versions.clone() })
            .collect();
    }

    /// The state without its notes, screenings and history: everything needed to check and
    /// apply the next change. The store keeps this form (the rest is rebuilt from the events
    /// when a person opens the case), so that each change rewrites a small record.
    pub fn without_entries(&self) -> CaseState {
        CaseState {
            id: self.id,
            code: self.code.clone(),
            fields: self.fields.clone(),
            created: self.created.clone(),
            updated: self.updated.clone(),
            notes: Vec::new(),
            consents: self.consents.clone(),
            referrals: self.referrals.clone(),
            screenings: Vec::new(),
            screening_outcomes: self.screening_outcomes.clone(),
            process: self.process.clone(),
            justice: self.justice.clone(),
            perpetrators: self.perpetrators.clone(),
            services: self.services.clone(),
            history: Vec::new(),
            conflicts: self.conflicts.clone(),
            heads: self.heads.clone(),
            replaced: self.replaced.clone(),
            early_status_changes: self.early_status_changes.clone(),
            early_receipts: self.early_receipts.clone(),
            last: self.last,
        }
    }

    /// [`CaseState::without_entries`] as JSON, without copying the state first.
    pub fn without_entries_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Projection<'a> {
            id: &'a CaseId,
            code: &'a CaseCode,
            fields: &'a CaseFields,
            created: &'a Stamp,
            updated: &'a Stamp,
            consents: &'a [Dated<Consent>],
            referrals: &'a [ReferralState],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            screening_outcomes: &'a [ScreeningOutcome],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            process: &'a [Dated<ProcessEvent>],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            justice: &'a [Dated<JusticeStep>],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            perpetrators: &'a [Dated<Perpetrator>],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            services: &'a [Dated<ServiceReceived>],
            conflicts: &'a [Conflict],
            heads: &'a BTreeMap<Field, Vec<Version>>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            replaced: &'a BTreeMap<Field, BTreeSet<EventId>>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            early_status_changes: &'a [(EntryId, StatusChange)],
            last: &'a EventOrder,
        }
        serde_json::to_vec(&Projection {
            id: &self.id,
            code: &self.code,
            fields: &self.fields,
            created: &self.created,
            updated: &self.updated,
            consents: &self.consents,
            referrals: &self.referrals,
            screening_outcomes: &self.screening_outcomes,
            process: &self.process,
            justice: &self.justice,
            perpetrators: &self.perpetrators,
            services: &self.services,
            conflicts: &self.conflicts,
            heads: &self.heads,
            replaced: &self.replaced,
            early_status_changes: &self.early_status_changes,
            last: &self.last,
        })
        .expect("a case state always serializes")
    }

    /// The versions an edit of `field` made now must replace: all current ones.
    pub fn current_versions(&self, field: Field) -> Vec<EventId> {
        self.heads.get(&field).map(|versions| versions.iter().map(|v| v.stamp.event_id).collect()).unwrap_or_default()
    }

    pub fn needs_review(&self) -> bool {
        !self.conflicts.is_empty()
    }

    pub fn referral(&self, id: EntryId) -> Option<&ReferralState> {
        self.referrals.iter().find(|referral| referral.referral.id == id)
    }

    pub fn consent(&self, id: EntryId) -> Option<&Consent> {
        self.consents.iter().map(|dated| &dated.entry).find(|consent| consent.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::FieldEdit;
    use crate::ids::CodePrefix;
    use crate::model::RiskLevel;

    fn event(device: DeviceId, seq: u64, wall: u64, change: Change, case_id: CaseId) -> Event {
        Event {
            id: EventId::new(),
            case_id,
            device_id: device,
            device_seq: seq,
            hlc: Hlc { wall_ms: wall, counter: 0 },
            author: "worker".into(),
            change,
        }
    }

    #[test]
    fn concurrent_edits_are_flagged_and_a_later_edit_resolves_them() {
        let case_id = CaseId::new();
        let (a, b) = (DeviceId::new(), DeviceId::new());
        let create = event(
            a,
            1,
            10,
            Change::CaseCreated {
                code: CaseCode::generate(&CodePrefix::default()),
                fields: CaseFields::named("P").unwrap(),
            },
            case_id,
        );
        let edit = |device, wall, risk, replaces: Vec<EventId>| {
            event(
                device,
                2,
                wall,
                Change::CaseUpdated {
                    edits: vec![FieldEdit { set: FieldValue::RiskLevel(Some(risk)), replaces }],
                    reason: None,
                },
                case_id,
            )
        };
        let on_a = edit(a, 20, RiskLevel::High, vec![create.id]);
        let on_b = edit(b, 21, RiskLevel::Low, vec![create.id]);
        let state = CaseState::fold([&on_b, &create, &on_a, &on_a]).unwrap();
        assert_eq!(state.fields.risk_level, Some(RiskLevel::Low));
        assert_eq!(state.conflicts.len(), 1);
        assert_eq!(state.conflicts[0].versions.len(), 2);
        assert_eq!(state.history.len(), 3);

        let keep_high = edit(a, 30, RiskLevel::High, state.current_versions(Field::RiskLevel));
        let resolved = CaseState::fold([&create, &on_a, &on_b, &keep_high]).unwrap();
        assert!(resolved.conflicts.is_empty());
        assert_eq!(resolved.fields.risk_level, Some(RiskLevel::High));
    }

    #[test]
    fn an_edit_made_after_seeing_a_fast_clock_still_supersedes_it() {
        let case_id = CaseId::new();
        let (fast, slow) = (DeviceId::new(), DeviceId::new());
        let hours = 5 * 3_600_000;
        let create = event(
            fast,
            1,
            10 + hours,
            Change::CaseCreated {
                code: CaseCode::generate(&CodePrefix::default()),
                fields: CaseFields::named("P").unwrap(),
            },
            case_id,
        );
        let set = |device, wall, risk, replaces: Vec<EventId>| {
            event(
                device,
                2,
                wall,
                Change::CaseUpdated {
                    edits: vec![FieldEdit { set: FieldValue::RiskLevel(Some(risk)), replaces }],
                    reason: None,
                },
                case_id,
            )
        };
        let fast_edit = set(fast, 20 + hours, RiskLevel::High, vec![create.id]);
        // The slow device saw the fast edit and changed it, with a clock hours behind.
        let slow_edit = set(slow, 30, RiskLevel::Low, vec![fast_edit.id]);
        for order in
            [[&create, &fast_edit, &slow_edit], [&slow_edit, &fast_edit, &create], [&fast_edit, &slow_edit, &create]]
        {
            let state = CaseState::fold(order).unwrap();
            assert_eq!(state.fields.risk_level, Some(RiskLevel::Low));
            assert!(state.conflicts.is_empty());
            assert_eq!(state.history.len(), 3);
        }
    }

    #[test]
    fn no_creation_no_state() {
        let case_id = CaseId::new();
        let note = event(
            DeviceId::new(),
            1,
            5,
            Change::NoteAdded { note: Note { id: EntryId::new(), text: "x".into() } },
            case_id,
        );
        assert!(CaseState::fold([&note]).is_none());
    }
}
