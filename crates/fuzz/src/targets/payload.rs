//! Event payloads: what a case key opens (zstd, then JSON of the author and the change), and
//! then the merge that folds them into the case. The ciphertext is authenticated, so only a
//! holder of the case key can write one; a laptop of the team that was revoked still holds it.

use harbour_core::crypto::{self, compress};
use harbour_core::event::FieldEdit;
use harbour_core::ids::CodePrefix;
use harbour_core::model::{CaseFields, Field, FieldValue};
use harbour_core::{CaseCode, CaseId, CaseState, Change, Event, EventId, Hlc, SealedEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::fixture::{NOW_MS, fixture};
use crate::{seed, split_mode};

/// Largest decompressed size the fuzzer asks of [`crypto::decompress`] directly.
const SMALL_LIMIT: usize = 64 * 1024;

/// Mode 0: the bytes as the payload JSON, compressed and sealed under the fixture's case key,
/// then opened and folded after a creation. Mode 1: the bytes as the compressed payload (zstd
/// frames that lie about their size, bombs). Mode 2: the bytes to `decompress` with a small
/// limit, which must hold.
pub(crate) fn event_payload(data: &[u8]) -> bool {
    let (mode, rest) = split_mode(data, 3);
    match mode {
        0 => open_and_fold(&compress(rest, 3), kind_of(rest)),
        1 => {
            let kind = crypto::decompress(rest, SMALL_LIMIT).map_or("case.updated", |body| kind_of(&body));
            open_and_fold(rest, kind)
        }
        _ => {
            let Some(out) = crypto::decompress(rest, SMALL_LIMIT) else { return false };
            assert!(out.len() <= SMALL_LIMIT, "decompression went past its limit");
            true
        }
    }
}

/// The kind a payload's change names (`type`), as the sealed event carries it in clear.
fn kind_of(payload: &[u8]) -> &'static str {
    let kind = serde_json::from_slice::<Value>(payload).ok().and_then(|value| {
        let name = value.get("change")?.get("type")?.as_str()?.to_owned();
        KINDS.iter().find(|(tag, _)| *tag == name).map(|(_, kind)| *kind)
    });
    kind.unwrap_or("case.updated")
}

const KINDS: &[(&str, &str)] = &[
    ("case_created", "case.created"),
    ("case_updated", "case.updated"),
    ("note_added", "note.added"),
    ("consent_recorded", "consent.recorded"),
    ("referral_made", "referral.made"),
    ("referral_status_changed", "referral.status"),
    ("referral_delivered", "referral.delivered"),
    ("screening_recorded", "screening.recorded"),
    ("process_event_added", "process.added"),
    ("justice_step_added", "justice.added"),
    ("perpetrator_added", "perpetrator.added"),
    ("service_received", "service.added"),
];

fn case_id() -> CaseId {
    CaseId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0007))
}

/// Seals `compressed` as it is (no compression of its own) under the fixture's case key.
fn sealed(compressed: &[u8], kind: &str) -> SealedEvent {
    let key = &fixture().case_key;
    let mut sealed = SealedEvent {
        format: crypto::SEALED_FORMAT,
        id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0010),
        case_id: case_id().0,
        kind: kind.to_owned(),
        device_id: fixture().device_id.0,
        device_seq: 2,
        hlc: Hlc { wall_ms: NOW_MS + 1, counter: 0 },
        key_id: key.id,
        nonce: Vec::new(),
        ciphertext: Vec::new(),
    };
    let wrapped = crypto::wrap(&key.secret, &sealed.associated_data(), compressed);
    sealed.nonce = wrapped.nonce;
    sealed.ciphertext = wrapped.ciphertext;
    sealed
}

fn open_and_fold(compressed: &[u8], kind: &str) -> bool {
    let Ok(event) = crypto::open(&sealed(compressed, kind), &fixture().case_key) else { return false };
    let created = creation();
    let _ = CaseState::fold([&created, &event]);
    let _ = CaseState::fold([&event]);
    true
}

/// The case the fuzzed events change.
fn creation() -> Event {
    Event {
        id: EventId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0009)),
        case_id: case_id(),
        device_id: fixture().device_id,
        device_seq: 1,
        hlc: Hlc { wall_ms: NOW_MS, counter: 0 },
        author: "Fuzz Worker".into(),
        change: Change::CaseCreated {
            code: CaseCode::generate(&CodePrefix::default()),
            fields: CaseFields::named("Fuzz Person").expect("a valid name"),
        },
    }
}

pub(crate) fn event_payload_seeds() -> Vec<Vec<u8>> {
    let payload = |change: Change| {
        serde_json::to_vec(&serde_json::json!({"author": "Fuzz Worker", "change": change})).expect("serializes")
    };
    let created = creation();
    let mut seeds = vec![seed(0, payload(created.change.clone()))];
    let edits: Vec<FieldEdit> =
        [("sex", "female"), ("birth_date", "1990-02-01"), ("nationality", "LC"), ("phone", "+17585550100")]
            .into_iter()
            .filter_map(|(field, text)| {
                let set = FieldValue::parse(Field::parse(field).ok()?, text).ok()?;
                Some(FieldEdit { set, replaces: vec![created.id] })
            })
            .collect();
    seeds.push(seed(0, payload(Change::CaseUpdated { edits, reason: Some("checked".into()) })));
    let compressed: Vec<Vec<u8>> = seeds.iter().map(|s| compress(&s[1..], 3)).collect();
    seeds.extend(compressed.iter().map(|c| seed(1, c)));
    seeds.extend(compressed.iter().map(|c| seed(2, c)));
    seeds
}
