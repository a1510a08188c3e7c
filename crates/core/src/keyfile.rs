//! The local key file: the only place the passphrase matters.
//!
//! `keyfile.json` holds the Argon2id parameters and salt, and the device's secrets (database
//! key, master key that wraps case keys, device id) sealed with AES-256-GCM under the
//! key-encryption key derived from the passphrase. Changing the passphrase re-seals this one
//! small file; the data is never touched.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, Secret, Wrapped};
use crate::error::{Error, Result};
use crate::ids::DeviceId;

pub const KEY_FILE: &str = "keyfile.json";
const CONTEXT: &[u8] = b"harbour-keyfile-v1";

/// The unlocked secrets of a device. Never serialized in clear: only sealed into the key file.
#[derive(Debug)]
pub struct LocalSecrets {
    pub device_id: DeviceId,
    /// SQLCipher's raw key for the database.
    pub db_key: Secret,
    /// Wraps case keys stored in the database.
    pub master_key: Secret,
}

#[derive(Serialize, Deserialize)]
struct KeyFileJson {
    format: u32,
    kdf: KdfJson,
    sealed: Wrapped,
}

#[derive(Serialize, Deserialize)]
struct KdfJson {
    algorithm: String,
    version: u32,
    #[serde(flatten)]
    params: KdfParams,
    salt: String,
}

/// The sealed content, in clear only inside a zeroized buffer.
#[derive(Serialize, Deserialize)]
struct SecretsJson {
    device_id: DeviceId,
    db_key: String,
    master_key: String,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// Writes a new key file sealing `secrets` under `passphrase` (atomically: temp file, fsync, rename).
pub fn write(dir: &Path, passphrase: &str, params: KdfParams, secrets: &LocalSecrets) -> Result<()> {
    let mut salt = [0u8; 16];
    crypto::fill_random(&mut salt);
    let kek = crypto::derive_kek(passphrase, &salt, params)?;
    let body = Zeroizing::new(
        serde_json::to_vec(&SecretsJson {
            device_id: secrets.device_id,
            db_key: secrets.db_key.to_hex().to_string(),
            master_key: secrets.master_key.to_hex().to_string(),
        })
        .expect("secrets always serialize"),
    );
    let file = KeyFileJson {
        format: 1,
        kdf: KdfJson { algorithm: "argon2id".into(), version: 0x13, params, salt: STANDARD.encode(salt) },
        sealed: crypto::wrap(&kek, CONTEXT, &body),
    };
    let text = serde_json::to_vec_pretty(&file).expect("the key file always serializes");
    write_atomically(&path(dir), &text)
}

/// The Argon2 parameters of an existing key file (to report or benchmark unlock time).
pub fn params(dir: &Path) -> Result<KdfParams> {
    Ok(read_file(dir)?.kdf.params)
}

/// Opens the key file with a passphrase.
pub fn unlock(dir: &Path, passphrase: &str) -> Result<LocalSecrets> {
    let file = read_file(dir)?;
    let damaged = |why: &str| Error::KeyFile { path: path(dir), why: why.to_owned() };
    let salt = STANDARD.decode(&file.kdf.salt).map_err(|_| damaged("its salt is not base64"))?;
    let kek = crypto::derive_kek(passphrase, &salt, file.kdf.params)?;
    let body = crypto::unwrap(&kek, CONTEXT, &file.sealed).ok_or(Error::WrongPassphrase)?;
    let json: SecretsJson = serde_json::from_slice(&body).map_err(|_| damaged("its content is unreadable"))?;
    let (db_hex, master_hex) = (Zeroizing::new(json.db_key), Zeroizing::new(json.master_key));
    let secret = |hex_text: &str| {
        let bytes = Zeroizing::new(hex::decode(hex_text).map_err(|_| damaged("a key is not hex"))?);
        Secret::from_slice(&bytes).ok_or_else(|| damaged("a key has the wrong length"))
    };
    Ok(LocalSecrets { device_id: json.device_id, db_key: secret(&db_hex)?, master_key: secret(&master_hex)? })
}

fn read_file(dir: &Path) -> Result<KeyFileJson> {
    let file_path = path(dir);
    let text = match fs::read(&file_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoWorkspace(dir.to_owned()));
        }
        Err(error) => return Err(Error::io(&file_path, error)),
    };
    let file: KeyFileJson = serde_json::from_slice(&text)
        .map_err(|error| Error::KeyFile { path: file_path.clone(), why: format!("it is not valid: {error}") })?;
    if file.format != 1 || file.kdf.algorithm != "argon2id" {
        return Err(Error::KeyFile { path: file_path, why: "it was written by an unknown version".into() });
    }
    Ok(file)
}

/// Replaces a file so that a crash leaves either the old or the new content, never a mix.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let temp = target.with_extension("tmp");
    let mut file = fs::File::create(&temp).map_err(|error| Error::io(&temp, error))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|error| Error::io(&temp, error))?;
    fs::rename(&temp, target).map_err(|error| Error::io(target, error))?;
    // Make the rename itself durable.
    if let Ok(dir_handle) = fs::File::open(dir) {
        let _ = dir_handle.sync_all();
    }
    Ok(())
}
