//! Who made what: the certificates that tie a laptop's signing key to the deployment's root key,
//! checked the same way by every laptop (offline) and by the server.
//!
//! The chain is root → invitation credential → device:
//! - the administrator's laptop signs a [`Credential`] with the root key when it makes an
//!   invitation (team, administrator or not, expiry, and the invitation's own Ed25519 public key);
//! - at redemption the new laptop makes its own Ed25519 key and signs a [`DeviceDocument`] with
//!   the invitation's private key, which travelled inside the sealed invitation.
//!
//! Only public keys and signatures are here: verifying needs no secret, so the server checks a
//! certificate before it accepts a redemption, and a laptop checks the author of every grant.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Domain separation of the root key's signature over a credential.
pub const CREDENTIAL_CONTEXT: &[u8] = b"harbour-credential-v1\0";
/// Domain separation of an invitation key's signature over a device document.
pub const DEVICE_CONTEXT: &[u8] = b"harbour-device-v1\0";

/// A JSON document and an Ed25519 signature over `context || document`. The exact text that
/// was signed is what travels, so no canonical JSON is needed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDocument {
    pub document: String,
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

/// What the root key vouches for when an invitation is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub deployment_id: Uuid,
    pub invitation_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    /// Milliseconds since the Unix epoch after which the invitation cannot be redeemed.
    pub expires_ms: u64,
    /// The invitation's Ed25519 public key, whose private half certifies the redeeming laptop.
    #[serde(with = "crate::b64")]
    pub invitation_key: Vec<u8>,
}

/// What the invitation key vouches for: this laptop's id and signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDocument {
    pub device_id: Uuid,
    #[serde(with = "crate::b64")]
    pub public_key: Vec<u8>,
    /// When the laptop was certified (its own clock), milliseconds since the Unix epoch.
    pub issued_ms: u64,
    /// The name of the person the laptop was enrolled for, sealed to the ministry team's key
    /// (base64): the administrator's laptop can read it, the server cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_sealed: Option<String>,
    /// The laptop's X25519 public key (base64), to which a new team key is sealed when a
    /// laptop of its team is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_key: Option<String>,
}

/// A laptop's certificate: the root-signed credential and the device document it signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificate {
    pub credential: SignedDocument,
    pub device: SignedDocument,
}

/// A laptop whose certificate verified against the deployment's root key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedDevice {
    pub device_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub invitation_id: Uuid,
    pub public_key: VerifyingKey,
}

/// Why a certificate or a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the laptop's certificate is not signed by this deployment's root key")]
    NotCertified,
    #[error("the laptop's certificate is damaged")]
    Malformed,
    #[error("the laptop was certified after its invitation had expired")]
    Expired,
    #[error("the signature does not match the laptop's certified key")]
    BadSignature,
    /// A grant that names its author without carrying a certificate, by a laptop the team
    /// directory held here does not list (yet): it waits for a newer directory.
    #[error("the laptop that made this is not in the team directory held here")]
    Unlisted,
}

impl SignedDocument {
    /// Checks the signature with `key` over `context || document`.
    pub fn verify(&self, context: &[u8], key: &VerifyingKey) -> Result<(), IdentityError> {
        let signature = signature(&self.signature)?;
        key.verify(&signing_message(context, self.document.as_bytes()), &signature)
            .map_err(|_| IdentityError::BadSignature)
    }
}

/// The bytes a key signs: a context that names what is signed, then the document.
pub fn signing_message(context: &[u8], document: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(context.len() + document.len());
    message.extend_from_slice(context);
    message.extend_from_slice(document);
    message
}

/// An Ed25519 public key from its 32 bytes.
pub fn verifying_key(bytes: &[u8]) -> Result<VerifyingKey, IdentityError> {
    let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| IdentityError::Malformed)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| IdentityError::Malformed)
}

/// An Ed25519 signature from its 64 bytes.
pub fn signature(bytes: &[u8]) -> Result<Signature, IdentityError> {
    let bytes = <[u8; 64]>::try_from(bytes).map_err(|_| IdentityError::Malformed)?;
    Ok(Signature::from_bytes(&bytes))
}

impl DeviceCertificate {
    /// Verifies the whole chain against the deployment's root public key: the credential is the
    /// root's, for this deployment; the device document is the invitation key's, made before the
    /// invitation expired.
    pub fn verify(&self, root_public_key: &[u8], deployment_id: Uuid) -> Result<CertifiedDevice, IdentityError> {
        let root = verifying_key(root_public_key).map_err(|_| IdentityError::NotCertified)?;
        self.credential.verify(CREDENTIAL_CONTEXT, &root).map_err(|_| IdentityError::NotCertified)?;
        let credential: Credential =
            serde_json::from_str(&self.credential.document).map_err(|_| IdentityError::Malformed)?;
        if credential.deployment_id != deployment_id {
            return Err(IdentityError::NotCertified);
        }
        let invitation_key = verifying_key(&credential.invitation_key)?;
        self.device.verify(DEVICE_CONTEXT, &invitation_key).map_err(|_| IdentityError::NotCertified)?;
        let device: DeviceDocument =
            serde_json::from_str(&self.device.document).map_err(|_| IdentityError::Malformed)?;
        if device.issued_ms > credential.expires_ms {
            return Err(IdentityError::Expired);
        }
        Ok(CertifiedDevice {
            device_id: device.device_id,
            team_id: credential.team_id,
            admin: credential.admin,
            invitation_id: credential.invitation_id,
            public_key: verifying_key(&device.public_key)?,
        })
    }

    /// The credential inside, parsed but NOT verified.
    pub fn unverified_credential(&self) -> Result<Credential, IdentityError> {
        serde_json::from_str(&self.credential.document).map_err(|_| IdentityError::Malformed)
    }

    /// The device document inside, parsed but NOT verified.
    pub fn unverified_device(&self) -> Result<DeviceDocument, IdentityError> {
        serde_json::from_str(&self.device.document).map_err(|_| IdentityError::Malformed)
    }
}
