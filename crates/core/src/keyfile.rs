//! The local key file: the only place the passphrase matters.
//!
//! `keyfile.json` holds the Argon2id parameters and salt, and the device's secrets — database
//! key, master key that wraps case keys, device id and, once the laptop belongs to a deployment,
//! its membership (server, device token, team private keys, the pinned root public key, and for
//! administrators the root signing key) — sealed with AES-256-GCM under the key-encryption key
//! derived from the passphrase. Changing the passphrase re-seals this one small file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, Secret, Wrapped};
use crate::deployment::{RootKey, TeamSecret};
use crate::error::{Error, Result};
use crate::identity::{DeviceIdentity, SigningSecret};
use crate::ids::DeviceId;
use harbour_wire::identity::DeviceCertificate;

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
    pub membership: Option<Membership>,
}

/// What makes this laptop a device of a deployment.
pub struct Membership {
    pub deployment_id: Uuid,
    pub server_url: String,
    pub device_token: Zeroizing<String>,
    /// Pinned at enrolment: every directory must verify against it.
    pub root_public_key: Vec<u8>,
    pub ministry_team_id: Uuid,
    /// This device's own team.
    pub team_id: Uuid,
    pub admin: bool,
    /// The private keys of the teams this device reads for: its own; for administrators, every team.
    pub team_secrets: Vec<TeamSecret>,
    /// The deployment's root signing key, on administrators' devices only.
    pub root_key: Option<RootKey>,
    /// This laptop's signing key and certificate. `None` only for a laptop that joined before
    /// laptops had one: an administrator's certifies itself at unlock, any other must join again.
    pub identity: Option<DeviceIdentity>,
    /// Seals team names in the directory. `None` for a deployment made before names were sealed.
    pub directory_key: Option<Secret>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("deployment_id", &self.deployment_id)
            .field("team_id", &self.team_id)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

/// The key-encryption key of an unlocked key file, kept while unlocked so that the file can be
/// re-sealed (after enrolment or a new team) without asking for the passphrase again.
pub struct Sealer {
    kek: Secret,
    salt: Vec<u8>,
    params: KdfParams,
}

impl Sealer {
    /// Derives a new sealing key from a passphrase, with a fresh salt.
    pub fn new(passphrase: &str, params: KdfParams) -> Result<Sealer> {
        let mut salt = [0u8; 16];
        crypto::fill_random(&mut salt);
        Ok(Sealer { kek: crypto::derive_kek(passphrase, &salt, params)?, salt: salt.to_vec(), params })
    }

    pub fn params(&self) -> KdfParams {
        self.params
    }
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    membership: Option<MembershipJson>,
}

#[derive(Serialize, Deserialize)]
struct MembershipJson {
    deployment_id: Uuid,
    server_url: String,
    device_token: String,
    root_public_key: String,
    ministry_team_id: Uuid,
    team_id: Uuid,
    admin: bool,
    team_secrets: Vec<(Uuid, String)>,
    root_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<DeviceCertificate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    box_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    directory_key: Option<String>,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// Writes the key file sealing `secrets` (atomically: temp file, fsync, rename).
pub fn write(dir: &Path, sealer: &Sealer, secrets: &LocalSecrets) -> Result<()> {
    let membership = secrets.membership.as_ref().map(|m| MembershipJson {
        deployment_id: m.deployment_id,
        server_url: m.server_url.clone(),
        device_token: m.device_token.to_string(),
        root_public_key: hex::encode(&m.root_public_key),
        ministry_team_id: m.ministry_team_id,
        team_id: m.team_id,
        admin: m.admin,
        team_secrets: m.team_secrets.iter().map(|t| (t.team_id, t.secret.to_hex().to_string())).collect(),
        root_key: m.root_key.as_ref().map(|key| key.secret().to_hex().to_string()),
        device_key: m.identity.as_ref().map(|identity| identity.key.secret().to_hex().to_string()),
        certificate: m.identity.as_ref().map(|identity| identity.certificate.clone()),
        box_key: m
            .identity
            .as_ref()
            .and_then(|identity| identity.box_secret.as_ref())
            .map(|secret| secret.to_hex().to_string()),
        directory_key: m.directory_key.as_ref().map(|key| key.to_hex().to_string()),
    });
    let body = Zeroizing::new(
        serde_json::to_vec(&SecretsJson {
            device_id: secrets.device_id,
            db_key: secrets.db_key.to_hex().to_string(),
            master_key: secrets.master_key.to_hex().to_string(),
            membership,
        })
        .expect("secrets always serialize"),
    );
    let file = KeyFileJson {
        format: 1,
        kdf: KdfJson {
            algorithm: "argon2id".into(),
            version: 0x13,
            params: sealer.params,
            salt: STANDARD.encode(&sealer.salt),
        },
        sealed: crypto::wrap(&sealer.kek, CONTEXT, &body),
    };
    let text = serde_json::to_vec_pretty(&file).expect("the key file always serializes");
    write_atomically(&path(dir), &text)
}

/// The Argon2 parameters of an existing key file (to report or benchmark unlock time).
pub fn params(dir: &Path) -> Result<KdfParams> {
    Ok(read_file(dir)?.kdf.params)
}

/// Opens the key file with a passphrase.
pub fn unlock(dir: &Path, passphrase: &str) -> Result<(LocalSecrets, Sealer)> {
    let file = read_file(dir)?;
    let damaged = |why: &str| Error::KeyFile { path: path(dir), why: why.to_owned() };
    let salt = STANDARD.decode(&file.kdf.salt).map_err(|_| damaged("its salt is not base64"))?;
    let kek = crypto::derive_kek(passphrase, &salt, file.kdf.params)?;
    let body = crypto::unwrap(&kek, CONTEXT, &file.sealed).ok_or(Error::WrongPassphrase)?;
    let json: SecretsJson = serde_json::from_slice(&body).map_err(|_| damaged("its content is unreadable"))?;
    let secret = |hex_text: String| {
        let hex_text = Zeroizing::new(hex_text);
        let bytes = Zeroizing::new(hex::decode(hex_text.as_str()).map_err(|_| damaged("a key is not hex"))?);
        Secret::from_slice(&bytes).ok_or_else(|| damaged("a key has the wrong length"))
    };
    let membership = match json.membership {
        None => None,
        Some(m) => Some(Membership {
            deployment_id: m.deployment_id,
            server_url: m.server_url,
            device_token: Zeroizing::new(m.device_token),
            root_public_key: hex::decode(&m.root_public_key).map_err(|_| damaged("the root key is not hex"))?,
            ministry_team_id: m.ministry_team_id,
            team_id: m.team_id,
            admin: m.admin,
            team_secrets: m
                .team_secrets
                .into_iter()
                .map(|(team_id, hex_text)| Ok(TeamSecret { team_id, secret: secret(hex_text)? }))
                .collect::<Result<Vec<_>>>()?,
            root_key: m.root_key.map(secret).transpose()?.map(RootKey::from_secret),
            identity: match (m.device_key, m.certificate) {
                (Some(key), Some(certificate)) => Some(DeviceIdentity {
                    key: SigningSecret::from_secret(secret(key)?),
                    certificate,
                    box_secret: m.box_key.map(secret).transpose()?,
                    listed: false,
                }),
                _ => None,
            },
            directory_key: m.directory_key.map(secret).transpose()?,
        }),
    };
    let secrets = LocalSecrets {
        device_id: json.device_id,
        db_key: secret(json.db_key)?,
        master_key: secret(json.master_key)?,
        membership,
    };
    Ok((secrets, Sealer { kek, salt, params: file.kdf.params }))
}

fn read_file(dir: &Path) -> Result<KeyFileJson> {
    let file_path = path(dir);
    let text = match fs::read(&file_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(Error::NoWorkspace(dir.to_owned())),
        Err(error) => return Err(Error::io(&file_path, error)),
    };
    let file: KeyFileJson = serde_json::from_slice(&text)
        .map_err(|error| Error::KeyFile { path: file_path.clone(), why: format!("it is not valid: {error}") })?;
    if file.format != 1 || file.kdf.algorithm != "argon2id" {
        return Err(Error::KeyFile { path: file_path, why: "it was written by an unknown version".into() });
    }
    // The settings travel in the file: a damaged or forged one naming 4 TiB or four billion
    // passes would exhaust or stall the laptop before the passphrase is even tried.
    if !file.kdf.params.within_bounds() {
        return Err(Error::KeyFile { path: file_path, why: "it asks for impossible key-derivation settings".into() });
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
