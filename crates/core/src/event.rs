//! Plain events: every change to a case. What leaves this module for storage or the network
//! is always a [`SealedEvent`] (see `crypto`).

use serde::{Deserialize, Serialize};

pub use harbour_wire::{Hlc, SealedEvent};

use crate::ids::{CaseCode, CaseId, DeviceId, EntryId, EventId};
use crate::model::{
    CaseFields, Consent, FieldValue, JusticeStep, Note, Perpetrator, ProcessEvent, Referral, ReferralStatus, Screening,
    ServiceReceived,
};

/// One change to one case, in clear. Never written anywhere as is: seal it first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub case_id: CaseId,
    pub device_id: DeviceId,
    pub device_seq: u64,
    pub hlc: Hlc,
    /// Who recorded it (the worker's name on that device).
    pub author: String,
    pub change: Change,
}

/// What an event does to its case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// A creation carries every field once per case; events live briefly in memory (sealed at once).
#[allow(clippy::large_enum_variant)]
pub enum Change {
    CaseCreated {
        code: CaseCode,
        fields: CaseFields,
    },
    CaseUpdated {
        edits: Vec<FieldEdit>,
        reason: Option<String>,
    },
    NoteAdded {
        note: Note,
    },
    ConsentRecorded {
        consent: Consent,
    },
    ReferralMade {
        referral: Referral,
    },
    ReferralStatusChanged {
        referral_id: EntryId,
        status: ReferralStatus,
        note: Option<String>,
    },
    /// Written by a laptop of the receiving team when a referral naming its team reached it.
    ReferralDelivered {
        referral_id: EntryId,
        team_id: uuid::Uuid,
    },
    ScreeningRecorded {
        screening: Screening,
    },
    ProcessEventAdded {
        event: ProcessEvent,
    },
    JusticeStepAdded {
        step: JusticeStep,
    },
    PerpetratorAdded {
        perpetrator: Perpetrator,
    },
    ServiceReceived {
        service: ServiceReceived,
    },
}

/// The kind of a referral's event (the sync looks for it among pulled events).
pub const REFERRAL_MADE_KIND: &str = "referral.made";

impl Change {
    /// The coarse kind carried in clear with the sealed event.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::CaseCreated { .. } => "case.created",
            Change::CaseUpdated { .. } => "case.updated",
            Change::NoteAdded { .. } => "note.added",
            Change::ConsentRecorded { .. } => "consent.recorded",
            Change::ReferralMade { .. } => REFERRAL_MADE_KIND,
            Change::ReferralStatusChanged { .. } => "referral.status",
            Change::ReferralDelivered { .. } => "referral.delivered",
            Change::ScreeningRecorded { .. } => "screening.recorded",
            Change::ProcessEventAdded { .. } => "process.added",
            Change::JusticeStepAdded { .. } => "justice.added",
            Change::PerpetratorAdded { .. } => "perpetrator.added",
            Change::ServiceReceived { .. } => "service.added",
        }
    }
}

/// A new value for one field, and the edits it replaces: the field's versions its author saw.
/// An edit that does not replace every current version of the field was made concurrently
/// with another, and the case is flagged for review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldEdit {
    pub set: FieldValue,
    pub replaces: Vec<EventId>,
}

/// The order in which events are folded: hybrid logical clock, then device, then event id.
pub type EventOrder = (Hlc, DeviceId, EventId);

impl Event {
    pub fn order(&self) -> EventOrder {
        (self.hlc, self.device_id, self.id)
    }
}

/// The local hybrid logical clock. `tick` for a local event; `observe` when an event from
/// another device is received, with the remote reading clamped to at most `MAX_SKEW_MS` ahead of
/// this device's clock so a device whose clock runs hours fast cannot win every edit forever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub last: Hlc,
    /// A wall-clock reading used instead of the system's (tests only:
    /// [`crate::store::Workspace::set_clock_for_tests`]).
    pub fixed_ms: Option<u64>,
}

/// How far ahead of local time a remote clock reading may pull this device's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

impl Clock {
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        let now_ms = self.fixed_ms.unwrap_or(now_ms);
        self.last = if now_ms > self.last.wall_ms {
            Hlc { wall_ms: now_ms, counter: 0 }
        } else {
            Hlc { wall_ms: self.last.wall_ms, counter: self.last.counter + 1 }
        };
        self.last
    }

    /// Moves the clock past a received reading. Returns true when the reading was more than
    /// [`MAX_SKEW_MS`] ahead and was clamped (the event should be flagged).
    pub fn observe(&mut self, remote: Hlc, now_ms: u64) -> bool {
        let limit = now_ms + MAX_SKEW_MS;
        let clamped = remote.wall_ms > limit;
        let remote = if clamped { Hlc { wall_ms: limit, counter: 0 } } else { remote };
        if remote > self.last {
            self.last = remote;
        }
        clamped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic_and_bounded() {
        let mut clock = Clock::default();
        let a = clock.tick(1_000);
        let b = clock.tick(1_000);
        let c = clock.tick(900);
        assert!(a < b && b < c);
        assert!(!clock.observe(Hlc { wall_ms: 2_000, counter: 3 }, 1_000));
        assert!(clock.tick(1_000) > Hlc { wall_ms: 2_000, counter: 3 });
        let hours_ahead = Hlc { wall_ms: 1_000 + 3 * 3_600_000, counter: 0 };
        assert!(clock.observe(hours_ahead, 1_000));
        assert!(clock.last.wall_ms <= 1_000 + MAX_SKEW_MS);
    }
}
