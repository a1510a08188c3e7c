//! Device certificates: carried in grants, in the server's device list and at redemption. A
//! certificate is a root-signed credential and a device document signed by the invitation's key.

use harbour_core::identity::certified_box_key;
use harbour_wire::identity::{CREDENTIAL_CONTEXT, DEVICE_CONTEXT, DeviceCertificate, SignedDocument};

use crate::fixture::fixture;
use crate::{seed, split_mode, text};

/// Mode 0: a certificate's JSON. Mode 1: the bytes as the credential, signed by the root key,
/// with the fixture's device document. Mode 2: the fixture's credential, with the bytes as the
/// device document signed by the invitation's key.
pub(crate) fn device_certificate(data: &[u8]) -> bool {
    let fixture = fixture();
    let (mode, rest) = split_mode(data, 3);
    let valid = &fixture.identity.certificate;
    let certificate = match mode {
        0 => match serde_json::from_slice::<DeviceCertificate>(rest) {
            Ok(certificate) => certificate,
            Err(_) => return false,
        },
        1 => {
            let document = text(rest).into_owned();
            let root = harbour_core::identity::SigningSecret::from_secret(fixture.root.secret().clone());
            let signature = root.sign(CREDENTIAL_CONTEXT, document.as_bytes()).to_vec();
            DeviceCertificate { credential: SignedDocument { document, signature }, device: valid.device.clone() }
        }
        _ => {
            let document = text(rest).into_owned();
            let signature = fixture.invitation_key.sign(DEVICE_CONTEXT, document.as_bytes()).to_vec();
            DeviceCertificate { credential: fixture.credential.clone(), device: SignedDocument { document, signature } }
        }
    };
    let _ = certificate.unverified_credential();
    let _ = certificate.unverified_device();
    let verified = certificate.verify(&fixture.root_public, fixture.deployment_id).is_ok();
    if verified {
        let _ = certified_box_key(&certificate);
        // The root key signed one credential, and the invitation key certified one laptop's
        // key (the worker's sealed name differs from process to process, so seeds written by
        // another run are certified too): nothing else may verify from bytes alone.
        if mode == 0 {
            let device = certificate.unverified_device().expect("a verified document parses");
            assert!(
                certificate.credential.document == valid.credential.document
                    && device.device_id == fixture.device_id.0
                    && device.public_key == fixture.identity.key.public_key(),
                "a certificate the fuzzer made verified"
            );
        }
    }
    verified
}

pub(crate) fn device_certificate_seeds() -> Vec<Vec<u8>> {
    let valid = &fixture().identity.certificate;
    vec![
        seed(0, serde_json::to_vec(valid).expect("a certificate serializes")),
        seed(1, &valid.credential.document),
        seed(2, &valid.device.document),
    ]
}
