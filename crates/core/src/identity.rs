//! This laptop's signing identity: its Ed25519 key and the certificate that ties it to the
//! deployment's root key (see `harbour_wire::identity` for the chain and its checks), and the
//! making of credentials and certificates on the administrator's and the new laptop's side.

use ed25519_dalek::{Signer, SigningKey};
use harbour_wire::identity::{
    CREDENTIAL_CONTEXT, CertifiedDevice, Credential, DEVICE_CONTEXT, DeviceCertificate, DeviceDocument, SignedDocument,
    signing_message,
};
use uuid::Uuid;

use crate::crypto::Secret;
use crate::deployment::RootKey;
use crate::error::{Error, Result};
use crate::ids::DeviceId;

pub use harbour_wire::protocol::{DEFAULT_INVITATION_DAYS, MAX_INVITATION_DAYS};

/// An Ed25519 private key: a laptop's own, or an invitation's one-use key.
pub struct SigningSecret(Secret);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    pub fn generate() -> SigningSecret {
        SigningSecret(Secret::random())
    }

    pub fn from_secret(secret: Secret) -> SigningSecret {
        SigningSecret(secret)
    }

    pub fn secret(&self) -> &Secret {
        &self.0
    }

    pub fn public_key(&self) -> [u8; 32] {
        SigningKey::from_bytes(self.0.expose()).verifying_key().to_bytes()
    }

    /// Signs `context || document`.
    pub fn sign(&self, context: &[u8], document: &[u8]) -> [u8; 64] {
        SigningKey::from_bytes(self.0.expose()).sign(&signing_message(context, document)).to_bytes()
    }

    pub(crate) fn sign_document(&self, context: &[u8], document: String) -> SignedDocument {
        let signature = self.sign(context, document.as_bytes()).to_vec();
        SignedDocument { document, signature }
    }
}

/// This laptop's identity: its signing key and its certificate (the certificate's JSON text is
/// kept as made, so that what is carried in grants is byte for byte what was signed).
pub struct DeviceIdentity {
    pub key: SigningSecret,
    pub certificate: DeviceCertificate,
    /// The X25519 secret whose public half the certificate names: new team keys are sealed to it.
    pub box_secret: Option<Secret>,
    /// Whether the signed team directory held here lists this laptop (with this key): then its
    /// grants name it instead of carrying the certificate. Known at unlock, not stored.
    pub listed: bool,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity").finish_non_exhaustive()
    }
}

impl DeviceIdentity {
    /// The certificate as carried inside grants.
    pub fn certificate_json(&self) -> String {
        serde_json::to_string(&self.certificate).expect("a certificate serializes")
    }

    /// What this laptop's grants carry after their signature: nothing once the directory lists
    /// it (receivers find its key there), its certificate until then.
    pub fn grant_certificate(&self) -> Vec<u8> {
        if self.listed { Vec::new() } else { self.certificate_json().into_bytes() }
    }
}

/// The root key vouches for an invitation: its team, whether it makes an administrator, until
/// when it can be redeemed, and the invitation's own public key.
pub fn issue_credential(root: &RootKey, credential: &Credential) -> SignedDocument {
    let document = serde_json::to_string(credential).expect("a credential serializes");
    SigningSecret::from_secret(root.secret().clone()).sign_document(CREDENTIAL_CONTEXT, document)
}

/// Domain separation of a worker's name sealed to the ministry inside a certificate.
pub const WORKER_CONTEXT: &[u8] = b"harbour-device-worker-v1";

/// The new laptop certifies its own signing key with the invitation's private key.
/// `worker_sealed` is the worker's name sealed to the ministry team ([`seal_worker`]).
pub fn certify_device(
    invitation_key: &SigningSecret,
    credential: SignedDocument,
    device_id: DeviceId,
    device_key: &SigningSecret,
    now_ms: u64,
    worker_sealed: Option<String>,
    box_secret: Option<&Secret>,
) -> DeviceCertificate {
    let document = DeviceDocument {
        device_id: device_id.0,
        public_key: device_key.public_key().to_vec(),
        issued_ms: now_ms,
        worker_sealed,
        box_key: box_secret
            .map(|secret| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, box_public_key(secret))),
    };
    let device = invitation_key
        .sign_document(DEVICE_CONTEXT, serde_json::to_string(&document).expect("a device document serializes"));
    DeviceCertificate { credential, device }
}

/// An administrator's laptop certifies itself through a credential it issues to itself with the
/// root key it holds (at deployment creation, or once for a laptop made before certificates).
pub fn self_certify(
    root: &RootKey,
    deployment_id: Uuid,
    team_id: Uuid,
    device_id: DeviceId,
    now_ms: u64,
    worker_sealed: Option<String>,
) -> DeviceIdentity {
    let invitation_key = SigningSecret::generate();
    let credential = Credential {
        deployment_id,
        invitation_id: Uuid::now_v7(),
        team_id,
        admin: true,
        expires_ms: now_ms,
        invitation_key: invitation_key.public_key().to_vec(),
    };
    let key = SigningSecret::generate();
    let box_secret = Secret::random();
    let certificate = certify_device(
        &invitation_key,
        issue_credential(root, &credential),
        device_id,
        &key,
        now_ms,
        worker_sealed,
        Some(&box_secret),
    );
    DeviceIdentity { key, certificate, box_secret: Some(box_secret), listed: false }
}

/// The X25519 public key of a laptop's box secret.
pub fn box_public_key(secret: &Secret) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret.expose())).to_bytes()
}

/// The X25519 public key a certificate names, if any.
pub fn certified_box_key(certificate: &DeviceCertificate) -> Option<[u8; 32]> {
    let text = certificate.unverified_device().ok()?.box_key?;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// Seals a worker's name to the ministry team, for the certificate of the laptop they use.
pub fn seal_worker(ministry: &harbour_wire::protocol::Team, worker: &str) -> Result<String> {
    crate::deployment::seal_to_team(ministry, WORKER_CONTEXT, worker)
}

/// Checks a certificate against the deployment's root key.
pub fn verify_certificate(
    certificate: &DeviceCertificate,
    root_public_key: &[u8],
    deployment_id: Uuid,
) -> Result<CertifiedDevice> {
    certificate.verify(root_public_key, deployment_id).map_err(|why| Error::invalid("certificate", why.to_string()))
}

/// The expiry of an invitation made now for `days` days, checked against the allowed range.
pub fn invitation_expiry(now_ms: u64, days: u32) -> Result<u64> {
    if !(1..=MAX_INVITATION_DAYS).contains(&days) {
        return Err(Error::invalid(
            "expires",
            format!("an invitation can wait from 1 to {MAX_INVITATION_DAYS} days; give a number of days in that range"),
        ));
    }
    Ok(now_ms + u64::from(days) * 24 * 60 * 60 * 1000)
}

pub(crate) fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

#[cfg(test)]
mod tests {
    use harbour_wire::identity::IdentityError;

    use super::*;

    fn credential(root: &RootKey, deployment_id: Uuid, key: &SigningSecret, expires_ms: u64) -> SignedDocument {
        issue_credential(
            root,
            &Credential {
                deployment_id,
                invitation_id: Uuid::now_v7(),
                team_id: Uuid::from_u128(3),
                admin: false,
                expires_ms,
                invitation_key: key.public_key().to_vec(),
            },
        )
    }

    #[test]
    fn a_certificate_verifies_only_through_the_whole_chain() {
        let (root, deployment) = (RootKey::generate(), Uuid::from_u128(7));
        let invitation = SigningSecret::generate();
        let device = SigningSecret::generate();
        let id = DeviceId::new();
        let good = certify_device(
            &invitation,
            credential(&root, deployment, &invitation, 2_000),
            id,
            &device,
            1_000,
            None,
            None,
        );
        let certified = good.verify(&root.public_key(), deployment).unwrap();
        assert_eq!((certified.device_id, certified.team_id), (id.0, Uuid::from_u128(3)));
        assert_eq!(certified.public_key.to_bytes(), device.public_key());

        // Another root, another deployment.
        assert_eq!(good.verify(&RootKey::generate().public_key(), deployment), Err(IdentityError::NotCertified));
        assert_eq!(good.verify(&root.public_key(), Uuid::from_u128(8)), Err(IdentityError::NotCertified));
        // A device document signed by a key the credential does not name (a self-made certificate).
        let stranger = SigningSecret::generate();
        let forged = certify_device(
            &stranger,
            credential(&root, deployment, &invitation, 2_000),
            id,
            &device,
            1_000,
            None,
            None,
        );
        assert_eq!(forged.verify(&root.public_key(), deployment), Err(IdentityError::NotCertified));
        // A credential altered after signing (made an administrator).
        let mut promoted = good.clone();
        promoted.credential.document = promoted.credential.document.replace("\"admin\":false", "\"admin\":true");
        assert_eq!(promoted.verify(&root.public_key(), deployment), Err(IdentityError::NotCertified));
        // Certified after the invitation expired.
        let late = certify_device(
            &invitation,
            credential(&root, deployment, &invitation, 999),
            id,
            &device,
            1_000,
            None,
            None,
        );
        assert_eq!(late.verify(&root.public_key(), deployment), Err(IdentityError::Expired));
    }

    #[test]
    fn an_administrator_certifies_itself_with_the_root_key() {
        let (root, deployment) = (RootKey::generate(), Uuid::from_u128(7));
        let id = DeviceId::new();
        let identity = self_certify(&root, deployment, Uuid::from_u128(1), id, 5, None);
        let certified = identity.certificate.verify(&root.public_key(), deployment).unwrap();
        assert!(certified.admin);
        assert_eq!(certified.public_key.to_bytes(), identity.key.public_key());
    }

    #[test]
    fn invitations_wait_one_to_ninety_days() {
        assert_eq!(invitation_expiry(0, 7).unwrap(), 7 * 86_400_000);
        assert!(invitation_expiry(0, 0).unwrap_err().to_string().starts_with("expires:"));
        assert!(invitation_expiry(0, 91).is_err());
    }
}
