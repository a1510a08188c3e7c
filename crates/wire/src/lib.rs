//! The wire types shared by Harbour devices and `harbour-server`.
//!
//! Everything here is either routing metadata or ciphertext: the server depends on this crate
//! only, so it cannot open an event even by mistake.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod identity;
pub mod protocol;
pub mod root;
pub mod wipe;

/// Version of the sealed-event format; bound into the associated data of every event.
pub const SEALED_FORMAT: u8 = 1;

/// A hybrid logical clock reading: wall-clock milliseconds since the Unix epoch, then a
/// counter that orders events made within the same millisecond (or after a clock jump back).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u32,
}

impl Hlc {
    /// A fixed-width, sortable text form (`0001764279012345-00000001`), used as a database key.
    pub fn to_sortable(self) -> String {
        format!("{:016}-{:08}", self.wall_ms, self.counter)
    }

    pub fn from_sortable(text: &str) -> Option<Hlc> {
        let (wall, counter) = text.split_once('-')?;
        Some(Hlc { wall_ms: wall.parse().ok()?, counter: counter.parse().ok()? })
    }
}

/// One immutable change to one case, sealed with AES-256-GCM under that case's key.
///
/// Every field except `nonce` and `ciphertext` is routing metadata, and all of it is bound
/// into the associated data, so none of it can be changed or swapped between events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedEvent {
    pub format: u8,
    pub id: Uuid,
    pub case_id: Uuid,
    /// Coarse kind (`case.created`, `case.updated`, `note.added` …): lets the server and the
    /// sync client route without reading the payload.
    pub kind: String,
    pub device_id: Uuid,
    /// Per-device contiguous sequence number, starting at 1.
    pub device_seq: u64,
    pub hlc: Hlc,
    /// Which key of the case sealed this event.
    pub key_id: Uuid,
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
}

impl SealedEvent {
    /// The associated data that AES-GCM authenticates alongside the ciphertext.
    pub fn associated_data(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(128);
        aad.extend_from_slice(b"harbour-event");
        aad.push(self.format);
        aad.extend_from_slice(self.case_id.as_bytes());
        aad.extend_from_slice(self.id.as_bytes());
        aad.extend_from_slice(self.device_id.as_bytes());
        aad.extend_from_slice(&self.device_seq.to_be_bytes());
        aad.extend_from_slice(&(self.kind.len() as u32).to_be_bytes());
        aad.extend_from_slice(self.kind.as_bytes());
        aad.extend_from_slice(&self.hlc.wall_ms.to_be_bytes());
        aad.extend_from_slice(&self.hlc.counter.to_be_bytes());
        aad.extend_from_slice(self.key_id.as_bytes());
        aad
    }
}

/// Base64 (standard alphabet) for byte fields in JSON.
pub mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_sortable_round_trip_and_order() {
        let a = Hlc { wall_ms: 1_764_279_012_345, counter: 2 };
        let b = Hlc { wall_ms: 1_764_279_012_346, counter: 0 };
        assert_eq!(Hlc::from_sortable(&a.to_sortable()), Some(a));
        assert!(a.to_sortable() < b.to_sortable());
        assert!(a < b);
    }
}
