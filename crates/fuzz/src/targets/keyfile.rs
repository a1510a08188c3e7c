//! `keyfile.json`: read at every unlock, before the passphrase is known to be right. A file
//! copied from elsewhere, damaged, or forged by whoever had the laptop, must be refused with a
//! sentence, never crash the app or make it allocate without bound.

use std::cell::RefCell;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use harbour_core::crypto::{self, KdfParams, Secret};
use harbour_core::deployment::TeamSecret;
use harbour_core::identity::{DeviceIdentity, SigningSecret};
use harbour_core::keyfile::{self, LocalSecrets, Membership, Sealer};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::fixture::fixture;
use crate::{seed, split_mode};

const PASSPHRASE: &str = "correct horse battery staple";
const CONTEXT: &[u8] = b"harbour-keyfile-v1";
const SALT: [u8; 16] = [11; 16];

thread_local! {
    static DIR: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// Mode 0: the file's bytes. Mode 1: the bytes as the secrets inside, sealed under the
/// passphrase with cheap Argon2 settings, so that the fuzzer reaches what only the passphrase's
/// holder can read.
pub(crate) fn key_file(data: &[u8]) -> bool {
    let (mode, rest) = split_mode(data, 2);
    let file = match mode {
        0 => {
            if let Ok(value) = serde_json::from_slice::<Value>(rest)
                && expensive_kdf(value.get("kdf"))
            {
                return false;
            }
            rest.to_vec()
        }
        _ => sealed_file(rest),
    };
    DIR.with_borrow_mut(|dir| {
        let dir = dir.get_or_insert_with(|| tempfile::tempdir().expect("a temporary folder"));
        std::fs::write(keyfile::path(dir.path()), &file).expect("the temporary folder is writable");
        let _ = keyfile::params(dir.path());
        keyfile::unlock(dir.path(), PASSPHRASE).is_ok()
    })
}

/// `inner` sealed as a key file's secrets under [`PASSPHRASE`].
fn sealed_file(inner: &[u8]) -> Vec<u8> {
    static KEY: OnceLock<Secret> = OnceLock::new();
    let params = KdfParams::INSECURE_FAST_FOR_TESTS;
    let key = KEY.get_or_init(|| crypto::derive_kek(PASSPHRASE, &SALT, params).expect("valid settings"));
    let file = json!({
        "format": 1,
        "kdf": {
            "algorithm": "argon2id",
            "version": 0x13,
            "memory_kib": params.memory_kib,
            "iterations": params.iterations,
            "parallelism": params.parallelism,
            "salt": STANDARD.encode(SALT),
        },
        "sealed": crypto::wrap(key, CONTEXT, inner),
    });
    serde_json::to_vec(&file).expect("JSON serializes")
}

pub(crate) fn key_file_seeds() -> Vec<Vec<u8>> {
    let fixture = fixture();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let secrets = LocalSecrets {
        device_id: fixture.device_id,
        db_key: Secret::from_bytes([12; 32]),
        master_key: Secret::from_bytes([13; 32]),
        membership: Some(Membership {
            deployment_id: fixture.deployment_id,
            server_url: "https://harbour.example.org".into(),
            device_token: Zeroizing::new("hbd_0123456789abcdef".into()),
            root_public_key: fixture.root_public.to_vec(),
            ministry_team_id: fixture.ministry.team_id,
            team_id: fixture.team.team_id,
            admin: false,
            team_secrets: vec![TeamSecret { team_id: fixture.team.team_id, secret: fixture.team.secret.clone() }],
            root_key: None,
            identity: Some(DeviceIdentity {
                key: SigningSecret::from_secret(fixture.identity.key.secret().clone()),
                certificate: fixture.identity.certificate.clone(),
                box_secret: fixture.identity.box_secret.clone(),
                listed: false,
            }),
            directory_key: Some(fixture.directory_key.clone()),
        }),
    };
    let sealer = Sealer::new(PASSPHRASE, KdfParams::INSECURE_FAST_FOR_TESTS).expect("valid settings");
    keyfile::write(dir.path(), &sealer, &secrets).expect("the key file is written");
    let file = std::fs::read(keyfile::path(dir.path())).expect("the key file is read");
    // The secrets inside, opened as unlock opens them: the seed of mode 1.
    let value: Value = serde_json::from_slice(&file).expect("the key file is JSON");
    let salt = STANDARD.decode(value["kdf"]["salt"].as_str().expect("a salt")).expect("base64");
    let key = crypto::derive_kek(PASSPHRASE, &salt, KdfParams::INSECURE_FAST_FOR_TESTS).expect("valid settings");
    let wrapped = serde_json::from_value(value["sealed"].clone()).expect("a sealed part");
    let inner = crypto::unwrap(&key, CONTEXT, &wrapped).expect("the passphrase opens the key file");
    vec![seed(0, &file), seed(1, inner.as_slice())]
}

/// Whether Argon2 settings are within what Harbour accepts (up to 1 GiB, 16 passes, 16 lanes)
/// but cost more than a few milliseconds: the fuzzer skips those inputs; settings outside the
/// bounds still run, since they must be refused before any memory is taken.
pub(crate) fn expensive_kdf(kdf: Option<&Value>) -> bool {
    let field = |name: &str| kdf.and_then(|kdf| kdf.get(name)).and_then(Value::as_u64);
    let (Some(memory), Some(iterations), Some(parallelism)) =
        (field("memory_kib"), field("iterations"), field("parallelism"))
    else {
        return false;
    };
    let accepted = memory <= 1024 * 1024 && (1..=16).contains(&iterations) && (1..=16).contains(&parallelism);
    accepted && memory.saturating_mul(iterations) > 4096
}
