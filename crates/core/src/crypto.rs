//! Keys and sealing. AES-256-GCM (aes-gcm), Argon2id (argon2), SHA-256 (sha2): no crypto is
//! written here, only their use.
//!
//! - [`seal`] / [`open`] turn an [`Event`] into a [`SealedEvent`] and back, under the case's key,
//!   with all routing metadata bound as associated data.
//! - [`Secret`] holds key material: zeroized on drop, never `Serialize`, `Debug` prints nothing.
//! - [`wrap`] / [`unwrap`] seal small secrets (case keys, the key file) under another key.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::event::{Change, Event, SealedEvent};
use crate::ids::{CaseId, DeviceId, EventId};

pub use harbour_wire::SEALED_FORMAT;

/// Largest payload accepted when opening an event, after decompression.
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
const NONCE_LEN: usize = 12;

/// Compresses with a zstd context kept per thread: creating one costs more than compressing a
/// small event.
pub fn compress(data: &[u8], level: i32) -> Vec<u8> {
    thread_local! {
        static COMPRESSORS: std::cell::RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    COMPRESSORS.with(|cell| {
        let mut compressors = cell.borrow_mut();
        if !compressors.iter().any(|(known, _)| *known == level) {
            let compressor = zstd::bulk::Compressor::new(level).expect("a zstd level from 1 to 19 is valid");
            compressors.push((level, compressor));
        }
        let (_, compressor) = compressors.iter_mut().find(|(known, _)| *known == level).expect("just added");
        compressor.compress(data).expect("compression of a buffer cannot fail")
    })
}

/// Decompresses with a zstd context kept per thread; refuses output larger than `limit`.
pub fn decompress(data: &[u8], limit: usize) -> Option<Vec<u8>> {
    thread_local! {
        static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new().ok()?);
        }
        // The frame states its size: allocate exactly that (a buffer of `limit` bytes would be
        // zeroed on every call), and refuse what claims more than the limit.
        let size = zstd::zstd_safe::get_frame_content_size(data).ok()??;
        let size = usize::try_from(size).ok().filter(|size| *size <= limit)?;
        slot.as_mut()?.decompress(data, size).ok()
    })
}

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) {
    // The OS random source failing is unrecoverable: no key may be made without it.
    getrandom::getrandom(buf).expect("the operating system's random source is unavailable");
}

/// 256 bits of key material.
#[derive(Clone, Zeroize, zeroize::ZeroizeOnDrop, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl Secret {
    pub fn random() -> Secret {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes);
        Secret(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Secret> {
        <[u8; 32]>::try_from(bytes).ok().map(Secret)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, in a buffer that is wiped when dropped (for SQLCipher's `PRAGMA key`).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A case's own key, with the id that sealed events name.
#[derive(Clone, Debug)]
pub struct CaseKey {
    pub id: Uuid,
    pub secret: Secret,
}

impl CaseKey {
    pub fn generate() -> CaseKey {
        CaseKey { id: Uuid::new_v4(), secret: Secret::random() }
    }
}

/// The sealed part of an event: what only holders of the case key may read.
#[derive(Serialize, Deserialize)]
struct Payload_ {
    author: String,
    change: Change,
}

/// Seals an event under its case's key: compress, then AES-256-GCM with the routing metadata
/// as associated data.
pub fn seal(event: &Event, key: &CaseKey) -> SealedEvent {
    let mut sealed = routing(event, key);
    let compressed = compressed_payload(event);
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce);
    let aad = sealed.associated_data();
    sealed.ciphertext = cipher(&key.secret)
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: &compressed, aad: &aad })
        .expect("AES-GCM sealing cannot fail for in-memory buffers");
    sealed.nonce = nonce.to_vec();
    sealed
}

/// An event's routing metadata under `key`, with no nonce or ciphertext yet.
fn routing(event: &Event, key: &CaseKey) -> SealedEvent {
    SealedEvent {
        format: SEALED_FORMAT,
        id: event.id.0,
        case_id: event.case_id.0,
        kind: event.change.kind().to_owned(),
        device_id: event.device_id.0,
        device_seq: event.device_seq,
        hlc: event.hlc,
        key_id: key.id,
        nonce: Vec::new(),
        ciphertext: Vec::new(),
    }
}

/// What a sealed event's ciphertext holds once opened: the author and the change, compressed.
fn compressed_payload(event: &Event) -> Zeroizing<Vec<u8>> {
    let body = Zeroizing::new(
        serde_json::to_vec(&PayloadRef { author: &event.author, change: &event.change })
            .expect("an event always serializes"),
    );
    Zeroizing::new(compress(&body, 3))
}

/// For the write benchmark's baseline only: an event prepared exactly as [`seal`] does, but
/// with the compressed payload left unencrypted. Built only with the `unencrypted-baseline`
/// feature, which the app, the CLI and the server never enable.
#[cfg(feature = "unencrypted-baseline")]
pub fn unsealed_for_baseline(event: &Event, key: &CaseKey) -> SealedEvent {
    SealedEvent { nonce: vec![0; NONCE_LEN], ciphertext: compressed_payload(event).to_vec(), ..routing(event, key) }
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    author: &'a str,
    change: &'a Change,
}

/// Opens a sealed event. Refuses (with [`Error::Tampered`]) a changed ciphertext, changed or
/// swapped metadata, or the wrong key.
pub fn open(sealed: &SealedEvent, key: &CaseKey) -> Result<Event> {
    if sealed.format != SEALED_FORMAT || sealed.key_id != key.id || sealed.nonce.len() != NONCE_LEN {
        return Err(Error::Tampered);
    }
    let aad = sealed.associated_data();
    let compressed = Zeroizing::new(
        cipher(&key.secret)
            .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| Error::Tampered)?,
    );
    let body = Zeroizing::new(decompress(&compressed, MAX_PAYLOAD).ok_or(Error::Tampered)?);
    let payload: Payload_ = serde_json::from_slice(&body).map_err(|_| Error::Tampered)?;
    if payload.change.kind() != sealed.kind {
        return Err(Error::Tampered);
    }
    Ok(Event {
        id: EventId(sealed.id),
        case_id: CaseId(sealed.case_id),
        device_id: DeviceId(sealed.device_id),
        device_seq: sealed.device_seq,
        hlc: sealed.hlc,
        author: payload.author,
        change: payload.change,
    })
}

fn cipher(key: &Secret) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(key.expose()).expect("a 32-byte key is always valid for AES-256")
}

/// A small secret sealed under another key, with a context string as associated data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapped {
    #[serde(with = "harbour_wire::b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "harbour_wire::b64")]
    pub ciphertext: Vec<u8>,
}

pub fn wrap(key: &Secret, context: &[u8], secret: &[u8]) -> Wrapped {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce);
    let ciphertext = cipher(key)
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: context })
        .expect("AES-GCM sealing cannot fail for in-memory buffers");
    Wrapped { nonce: nonce.to_vec(), ciphertext }
}

/// Opens a [`Wrapped`] secret; `None` when the key or the context is wrong, or it was altered.
pub fn unwrap(key: &Secret, context: &[u8], wrapped: &Wrapped) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.nonce.len() != NONCE_LEN {
        return None;
    }
    cipher(key)
        .decrypt(Nonce::from_slice(&wrapped.nonce), Payload { msg: &wrapped.ciphertext, aad: context })
        .ok()
        .map(Zeroizing::new)
}

/// Argon2id parameters, stored beside the salt in the key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// The default for new workspaces: 64 MiB, 3 passes, 4 lanes (DESIGN.md's floor).
    pub const STANDARD: KdfParams = KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 4 };
    /// Cheap parameters for tests and benchmarks of other things than the KDF. Never the default.
    pub const INSECURE_FAST_FOR_TESTS: KdfParams = KdfParams { memory_kib: 256, iterations: 1, parallelism: 1 };
    /// Most memory settings read from a file or an invitation may ask of this laptop (1 GiB, in KiB).
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// Most Argon2id passes settings read from a file or an invitation may ask for.
    pub const MAX_ITERATIONS: u32 = 16;
    /// Most Argon2id lanes settings read from a file or an invitation may ask for.
    pub const MAX_PARALLELISM: u32 = 16;

    /// Whether these are settings Harbour could have chosen: from the tests' floor up to the
    /// maxima above. Settings that travel with what they protect (a key file, an invitation)
    /// are checked with this before Argon2 runs, which would otherwise take whatever memory
    /// and time they name (4 TiB, or four billion passes).
    pub fn within_bounds(self) -> bool {
        let floor = KdfParams::INSECURE_FAST_FOR_TESTS;
        (floor.memory_kib..=KdfParams::MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (1..=KdfParams::MAX_ITERATIONS).contains(&self.iterations)
            && (1..=KdfParams::MAX_PARALLELISM).contains(&self.parallelism)
    }
}

/// Derives the key-encryption key from a passphrase.
pub fn derive_kek(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<Secret> {
    let argon_params = argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
        .map_err(|error| Error::invalid("key file", format!("unusable Argon2 parameters: {error}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|error| Error::invalid("key file", format!("Argon2 failed: {error}")))?;
    let secret = Secret(out);
    out.zeroize();
    Ok(secret)
}

/// SHA-256, hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Hlc;
    use crate::ids::EntryId;
    use crate::model::Note;
    use proptest::prelude::*;

    fn note_event(text: &str) -> Event {
        Event {
            id: EventId::new(),
            case_id: CaseId::new(),
            device_id: DeviceId::new(),
            device_seq: 7,
            hlc: Hlc { wall_ms: 1_700_000_000_000, counter: 1 },
            author: "nurse".into(),
            change: Change::NoteAdded { note: Note { id: EntryId::new(), text: text.into() } },
        }
    }

    proptest! {
        #[test]
        fn open_of_seal_is_identity(text in ".{0,400}", author in "[a-zA-Z ]{0,30}") {
            let key = CaseKey::generate();
            let mut event = note_event(&text);
            event.author = author;
            prop_assert_eq!(open(&seal(&event, &key), &key).unwrap(), event);
        }
    }

    #[test]
    fn sealed_bytes_do_not_contain_the_text() {
        let key = CaseKey::generate();
        let sealed = seal(&note_event("Maribel Quispe-Ochoa"), &key);
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains("Maribel"));
        assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains("Maribel"));
    }

    #[test]
    fn tampering_is_refused() {
        let key = CaseKey::generate();
        let event = note_event("text");
        let sealed = seal(&event, &key);

        let mut flipped = sealed.clone();
        flipped.ciphertext[3] ^= 1;
        assert!(matches!(open(&flipped, &key), Err(Error::Tampered)));

        let mut moved = sealed.clone();
        moved.case_id = Uuid::now_v7();
        assert!(matches!(open(&moved, &key), Err(Error::Tampered)));

        let mut renumbered = sealed.clone();
        renumbered.device_seq += 1;
        assert!(matches!(open(&renumbered, &key), Err(Error::Tampered)));

        let mut retimed = sealed.clone();
        retimed.hlc.wall_ms += 1;
        assert!(matches!(open(&retimed, &key), Err(Error::Tampered)));

        let mut rekinded = sealed.clone();
        rekinded.kind = "case.updated".into();
        assert!(matches!(open(&rekinded, &key), Err(Error::Tampered)));

        // Metadata swapped between two events of the same case and key.
        let other = seal(&note_event("other"), &key);
        let mut swapped = sealed.clone();
        swapped.ciphertext = other.ciphertext.clone();
        swapped.nonce = other.nonce.clone();
        assert!(matches!(open(&swapped, &key), Err(Error::Tampered)));

        let wrong_key = CaseKey { id: key.id, secret: Secret::random() };
        assert!(matches!(open(&sealed, &wrong_key), Err(Error::Tampered)));
        assert!(matches!(open(&sealed, &CaseKey::generate()), Err(Error::Tampered)));
        assert_eq!(open(&sealed, &key).unwrap(), event);
    }

    #[test]
    fn wrapped_secrets_need_the_key_and_the_context() {
        let kek = Secret::random();
        let wrapped = wrap(&kek, b"case-key:1", b"secret bytes");
        assert_eq!(unwrap(&kek, b"case-key:1", &wrapped).unwrap().as_slice(), b"secret bytes");
        assert!(unwrap(&kek, b"case-key:2", &wrapped).is_none());
        assert!(unwrap(&Secret::random(), b"case-key:1", &wrapped).is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::random()), "Secret(..)");
    }
}
