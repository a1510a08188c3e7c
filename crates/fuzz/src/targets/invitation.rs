//! Invitations: one line of text pasted into a new laptop, sealed under a one-time code.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use harbour_core::Workspace;
use harbour_core::crypto::{self, KdfParams, Secret};
use harbour_core::deployment::{Invitation, open_invitation, seal_invitation};
use serde_json::{Value, json};

use crate::fixture::fixture;
use crate::{seed, split_mode, text};

const PREFIX: &str = "HARBOUR-INVITATION-1.";
const CONTEXT: &[u8] = b"harbour-invitation-v1";
/// The code, as typed, and as the key is derived from it.
const CODE: &str = "FUZZ-CODE-2345";
const NORMALIZED_CODE: &str = "FUZZCODE2345";
const SALT: [u8; 16] = [9; 16];

/// Mode 0: the pasted text. Mode 1: the bytes as the invitation inside, sealed under the code
/// with cheap Argon2 settings, so that the fuzzer reaches what only the code's holder can read.
pub(crate) fn invitation(data: &[u8]) -> bool {
    let (mode, rest) = split_mode(data, 2);
    let pasted = match mode {
        0 => {
            let pasted = text(rest).into_owned();
            if too_slow(&pasted) {
                return false;
            }
            pasted
        }
        _ => sealed_text(rest),
    };
    let Ok(invitation) = open_invitation(&pasted, CODE) else { return false };
    // What the new laptop does next, before it asks the server anything.
    Workspace::prepare_enrolment(&invitation, "Fuzz Worker").is_ok()
}

pub(crate) fn invitation_seeds() -> Vec<Vec<u8>> {
    let body = serde_json::to_vec(&valid_invitation()).expect("an invitation serializes");
    let sealed = seal_invitation(&valid_invitation(), CODE, KdfParams::INSECURE_FAST_FOR_TESTS)
        .expect("cheap Argon2 settings are valid");
    vec![seed(0, sealed), seed(1, body)]
}

/// An invitation the fixture's deployment could have made.
fn valid_invitation() -> Invitation {
    let fixture = fixture();
    Invitation {
        server_url: "https://harbour.example.org".into(),
        deployment_id: fixture.deployment_id,
        ministry_team_id: fixture.ministry.team_id,
        root_public_key: fixture.root_public.to_vec(),
        team_id: fixture.team.team_id,
        team_name: "Embassy of Fuzzing".into(),
        team_secret: fixture.team.secret.to_hex().to_string(),
        invitation_id: uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0004),
        invitation_token: "hbi_0123456789abcdef".into(),
        invitation_key: fixture.invitation_key.secret().to_hex().to_string(),
        credential: fixture.credential.clone(),
        expires_ms: crate::fixture::EXPIRES_MS,
        admin: false,
        directory: fixture.directory.clone(),
        directory_key: Some(fixture.directory_key.to_hex().to_string()),
    }
}

/// `inner` sealed as an invitation under [`CODE`], as `seal_invitation` does.
fn sealed_text(inner: &[u8]) -> String {
    static KEY: OnceLock<Secret> = OnceLock::new();
    let params = KdfParams::INSECURE_FAST_FOR_TESTS;
    let key = KEY.get_or_init(|| crypto::derive_kek(NORMALIZED_CODE, &SALT, params).expect("valid settings"));
    let wrapped = crypto::wrap(key, CONTEXT, inner);
    let sealed = json!({
        "kdf": params,
        "salt": STANDARD.encode(SALT),
        "sealed": wrapped,
    });
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&sealed).expect("JSON serializes")))
}

/// Whether opening this text would run Argon2 with settings Harbour accepts but that take more
/// than a few milliseconds (up to 1 GiB and 16 passes are allowed): the fuzzer skips those, the
/// bounds themselves are tested in the core crate.
fn too_slow(pasted: &str) -> bool {
    let Some(body) = pasted.trim().strip_prefix(PREFIX) else { return false };
    let Ok(json) = URL_SAFE_NO_PAD.decode(body.trim()) else { return false };
    let Ok(value) = serde_json::from_slice::<Value>(&json) else { return false };
    super::keyfile::expensive_kdf(value.get("kdf"))
}
