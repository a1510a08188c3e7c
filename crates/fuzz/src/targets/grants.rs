//! Sealed grants (`case.key_granted` events), pulled from the server: who made one (its
//! author's certificate and signature), and opening it with a team's secret.

use harbour_core::SealedEvent;
use harbour_core::deployment::{GRANT_KIND, GrantOpener, GrantVerifier, grant_team};

use crate::fixture::fixture;
use crate::{seed, split_mode};

/// Bytes of a grant covered by its author's signature (team hint, ephemeral key, sealed key).
const SIGNED_LEN: usize = 96;
/// Bytes of a grant before the author's certificate.
const CERTIFICATE_AT: usize = SIGNED_LEN + 64;

/// Mode 0: a whole event's JSON. Mode 1: the fixture's grant with the bytes as its ciphertext.
/// Mode 2: the fixture's grant up to its certificate, then the bytes as the certificate.
/// Mode 3: the fixture's grant with the bytes XORed over its ciphertext (and then its nonce).
///
/// Whatever the bytes, only the one grant the fixture's laptop signed may pass as signed, and
/// only the fixture's case key may come out of opening one.
pub(crate) fn sealed_grant(data: &[u8]) -> bool {
    let fixture = fixture();
    let valid = &fixture.grant;
    let (mode, rest) = split_mode(data, 4);
    let sealed = match mode {
        0 => match serde_json::from_slice::<SealedEvent>(rest) {
            Ok(sealed) => sealed,
            Err(_) => return false,
        },
        1 => SealedEvent { ciphertext: rest.to_vec(), ..valid.clone() },
        2 => SealedEvent { ciphertext: [&valid.ciphertext[..CERTIFICATE_AT], rest].concat(), ..valid.clone() },
        _ => {
            let mut sealed = valid.clone();
            let (over_ciphertext, over_nonce) = rest.split_at(rest.len().min(sealed.ciphertext.len()));
            sealed.ciphertext.iter_mut().zip(over_ciphertext).for_each(|(byte, mask)| *byte ^= mask);
            sealed.nonce.iter_mut().zip(over_nonce).for_each(|(byte, mask)| *byte ^= mask);
            sealed
        }
    };
    let _ = grant_team(&sealed);
    let author = GrantVerifier::new(&fixture.root_public, fixture.deployment_id).author(&sealed);
    let signed = author.is_ok();
    if let Ok(author) = author {
        // Only the fixture's laptop signs grants. A grant it signed in another run (a seed
        // written by another process: new ephemeral key, nonce and event id) is genuine; one
        // made from this run's grant must be that grant, unchanged where it is signed.
        assert_eq!(author.device_id, fixture.device_id.0, "a grant passed as signed by another laptop");
        assert!(
            mode == 0
                || (sealed.kind == GRANT_KIND
                    && sealed.associated_data() == valid.associated_data()
                    && sealed.ciphertext.get(..SIGNED_LEN) == valid.ciphertext.get(..SIGNED_LEN)),
            "a grant the fuzzer changed passed as signed by the fixture's laptop"
        );
    }
    let teams = [fixture.team.clone(), fixture.ministry.clone()];
    let mut opener = GrantOpener::default();
    for _ in 0..2 {
        // Twice: the second time through the remembered key agreement.
        if let Some(key) = opener.open(&sealed, &teams) {
            assert_eq!(key.secret.expose(), fixture.case_key.secret.expose(), "a grant opened to another key");
        }
    }
    signed
}

pub(crate) fn sealed_grant_seeds() -> Vec<Vec<u8>> {
    let valid = &fixture().grant;
    vec![
        seed(0, serde_json::to_vec(valid).expect("an event serializes")),
        seed(1, &valid.ciphertext),
        seed(2, &valid.ciphertext[CERTIFICATE_AT..]),
        seed(3, [0u8; 8]),
    ]
}
