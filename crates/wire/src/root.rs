//! What the deployment's root key signs for every laptop to read: the team directory
//! ([`TeamDirectory`](crate::protocol::TeamDirectory)) and the service directory
//! ([`ServiceDirectoryDocument`]). Both are versioned documents of one deployment whose exact
//! JSON text travels with the root's Ed25519 signature over `context || text`; both are checked
//! the same way, here, by the server before it stores one and by every laptop against the root
//! key it pinned at enrolment. The server holds no root key, so it can relay them, never make one.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::{self, SignedDocument};

/// A versioned document of one deployment, signed by its root key.
pub trait RootSigned: DeserializeOwned {
    /// Domain separation: a signature over one kind of document never passes for another.
    const CONTEXT: &'static [u8];
    /// The deployment the document belongs to.
    fn deployment_id(&self) -> Uuid;
    /// Strictly increasing from one published document to the next.
    fn version(&self) -> u64;
}

/// Why a root-signed document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RootSignedError {
    /// The signature is not the root key's over this text (forged, altered, or signed by
    /// another deployment's key).
    #[error("the document is not signed by this deployment's root key")]
    NotSignedByRoot,
    /// Signed by the root key, but for another deployment.
    #[error("the document belongs to another deployment")]
    OtherDeployment,
    /// The signed text is not the document it should be.
    #[error("the signed document is damaged")]
    Malformed,
}

/// Checks `document` and `signature` against the root public key and the deployment, then
/// parses the document: nothing in it is read before the signature holds.
pub fn verify<T: RootSigned>(
    document: &str,
    signature: &[u8],
    root_public_key: &[u8],
    deployment_id: Uuid,
) -> Result<T, RootSignedError> {
    let root = identity::verifying_key(root_public_key).map_err(|_| RootSignedError::NotSignedByRoot)?;
    let signature = identity::signature(signature).map_err(|_| RootSignedError::NotSignedByRoot)?;
    root.verify_strict(&identity::signing_message(T::CONTEXT, document.as_bytes()), &signature)
        .map_err(|_| RootSignedError::NotSignedByRoot)?;
    let parsed: T = serde_json::from_str(document).map_err(|_| RootSignedError::Malformed)?;
    if parsed.deployment_id() != deployment_id {
        return Err(RootSignedError::OtherDeployment);
    }
    Ok(parsed)
}

/// Domain separation of the root key's signature over a service directory.
pub const SERVICE_DIRECTORY_CONTEXT: &[u8] = b"harbour-service-directory-v2\0";

/// Largest signed service directory (its JSON text, 1 MiB): refused above by the server on
/// `PUT /v1/services`, by a laptop when it is received, and by the administrator's laptop
/// before it signs one. The Saint Lucia template with every text translated is about 30 KiB.
pub const MAX_SERVICE_DIRECTORY_BYTES: usize = 1024 * 1024;

/// The deployment's referral-service directory at one version, as the root key signs it.
/// `PUT /v1/services` takes and `GET /v1/services` serves it as a [`SignedDocument`] whose
/// `document` is this JSON text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceDirectoryDocument {
    pub deployment_id: Uuid,
    /// The directory's own version: strictly increasing, at least 1.
    pub version: u64,
    /// The directory (services, their contacts and translations): a string, sealed under the
    /// deployment's directory key that only laptops hold, or (a deployment without one) the
    /// directory as a JSON object. The server relays it without looking inside.
    pub directory: serde_json::Value,
}

impl RootSigned for ServiceDirectoryDocument {
    const CONTEXT: &'static [u8] = SERVICE_DIRECTORY_CONTEXT;

    fn deployment_id(&self) -> Uuid {
        self.deployment_id
    }

    fn version(&self) -> u64 {
        self.version
    }
}

/// Checks a signed service directory: its size, then [`verify`].
pub fn verify_service_directory(
    signed: &SignedDocument,
    root_public_key: &[u8],
    deployment_id: Uuid,
) -> Result<ServiceDirectoryDocument, RootSignedError> {
    if signed.document.len() > MAX_SERVICE_DIRECTORY_BYTES {
        return Err(RootSignedError::Malformed);
    }
    verify(&signed.document, &signed.signature, root_public_key, deployment_id)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn signed(key: &SigningKey, context: &[u8], document: &str) -> SignedDocument {
        let signature = key.sign(&identity::signing_message(context, document.as_bytes()));
        SignedDocument { document: document.to_owned(), signature: signature.to_bytes().to_vec() }
    }

    #[test]
    fn a_service_directory_verifies_only_under_its_root_its_deployment_and_its_context() {
        let root = SigningKey::from_bytes(&[7; 32]);
        let deployment = Uuid::from_u128(1);
        let text = format!(r#"{{"deployment_id":"{deployment}","version":3,"directory":{{"services":[]}}}}"#);
        let good = signed(&root, SERVICE_DIRECTORY_CONTEXT, &text);
        let public = root.verifying_key().to_bytes();
        assert_eq!(verify_service_directory(&good, &public, deployment).unwrap().version, 3);

        let other_key = SigningKey::from_bytes(&[8; 32]);
        let resigned = signed(&other_key, SERVICE_DIRECTORY_CONTEXT, &text);
        assert_eq!(verify_service_directory(&resigned, &public, deployment), Err(RootSignedError::NotSignedByRoot));
        let team_context = signed(&root, b"harbour-directory-v1\0", &text);
        assert_eq!(
            verify_service_directory(&team_context, &public, deployment),
            Err(RootSignedError::NotSignedByRoot),
            "a signature over a team directory passed for a service directory"
        );
        let altered = SignedDocument { document: text.replace("\"version\":3", "\"version\":9"), ..good.clone() };
        assert_eq!(verify_service_directory(&altered, &public, deployment), Err(RootSignedError::NotSignedByRoot));
        assert_eq!(verify_service_directory(&good, &public, Uuid::from_u128(2)), Err(RootSignedError::OtherDeployment));
        let huge = signed(&root, SERVICE_DIRECTORY_CONTEXT, &" ".repeat(MAX_SERVICE_DIRECTORY_BYTES + 1));
        assert_eq!(verify_service_directory(&huge, &public, deployment), Err(RootSignedError::Malformed));
    }
}
