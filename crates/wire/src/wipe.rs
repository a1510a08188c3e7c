//! Remote wipe: an order signed by the deployment's root key that a lost laptop obeys at its
//! next contact, and the laptop's signed report that it did.
//!
//! The server stores and relays both but can make neither: an order verifies only against the
//! root public key every laptop pinned at enrolment, and a report only against the laptop's
//! certified signing key. A relayed order names the one laptop it is for, so an order for
//! another laptop (or another deployment) is refused.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::{IdentityError, SignedDocument};

/// Domain separation of the root key's signature over a wipe order.
pub const WIPE_ORDER_CONTEXT: &[u8] = b"harbour-wipe-order-v1\0";
/// Domain separation of a laptop's signature over its wipe report.
pub const WIPE_REPORT_CONTEXT: &[u8] = b"harbour-wipe-report-v1\0";

/// What the administrator orders, signed with the root key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeOrder {
    pub order_id: Uuid,
    pub deployment_id: Uuid,
    /// The one laptop to wipe.
    pub device_id: Uuid,
    /// Send the changes still waiting on the laptop before destroying it.
    pub send_first: bool,
    /// Milliseconds since the Unix epoch, by the administrator's clock.
    pub issued_ms: u64,
}

/// What the wiped laptop reports, signed with its own certified key just before the key is
/// destroyed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeReport {
    pub order_id: Uuid,
    pub device_id: Uuid,
    /// Events the laptop sent before wiping (0 unless the order said to send first).
    pub sent_first: u64,
    /// Events still waiting that were destroyed unsent.
    pub destroyed_unsent: u64,
    /// Milliseconds since the Unix epoch, by the laptop's clock.
    pub wiped_ms: u64,
}

/// Why a wipe order or report was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WipeError {
    #[error("the wipe order is not signed by this deployment's root key")]
    NotSignedByRoot,
    #[error("the wipe order is for another deployment")]
    OtherDeployment,
    #[error("the wipe order is for another laptop")]
    OtherDevice,
    #[error("the wipe report is not signed by the laptop's certified key")]
    BadReportSignature,
    #[error("the wipe document is damaged")]
    Malformed,
}

impl From<IdentityError> for WipeError {
    fn from(_: IdentityError) -> WipeError {
        WipeError::Malformed
    }
}

/// Checks an order against the root key, the deployment and the laptop it must be for.
pub fn verify_order(
    signed: &SignedDocument,
    root_public_key: &[u8],
    deployment_id: Uuid,
    device_id: Uuid,
) -> Result<WipeOrder, WipeError> {
    let root = crate::identity::verifying_key(root_public_key)?;
    signed.verify(WIPE_ORDER_CONTEXT, &root).map_err(|_| WipeError::NotSignedByRoot)?;
    let order: WipeOrder = serde_json::from_str(&signed.document).map_err(|_| WipeError::Malformed)?;
    if order.deployment_id != deployment_id {
        return Err(WipeError::OtherDeployment);
    }
    if order.device_id != device_id {
        return Err(WipeError::OtherDevice);
    }
    Ok(order)
}

/// Checks a report against the laptop's certified key.
pub fn verify_report(signed: &SignedDocument, device_key: &VerifyingKey) -> Result<WipeReport, WipeError> {
    signed.verify(WIPE_REPORT_CONTEXT, device_key).map_err(|_| WipeError::BadReportSignature)?;
    serde_json::from_str(&signed.document).map_err(|_| WipeError::Malformed)
}

/// Where a laptop's wipe stands, as `GET /v1/devices` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeStatus {
    pub order_id: Uuid,
    pub send_first: bool,
    /// When the server received the order (milliseconds since the Unix epoch).
    pub issued_at_ms: u64,
    /// When the server received the laptop's report; `None` while the order waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at_ms: Option<u64>,
    /// From the report: events sent first, and events destroyed unsent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_first: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed_unsent: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn sign(key: &SigningKey, context: &[u8], document: &str) -> SignedDocument {
        let message = crate::identity::signing_message(context, document.as_bytes());
        SignedDocument { document: document.into(), signature: key.sign(&message).to_bytes().to_vec() }
    }

    fn order(deployment_id: Uuid, device_id: Uuid) -> String {
        serde_json::to_string(&WipeOrder {
            order_id: Uuid::new_v4(),
            deployment_id,
            device_id,
            send_first: true,
            issued_ms: 1,
        })
        .unwrap()
    }

    #[test]
    fn an_order_verifies_only_for_its_root_deployment_and_laptop() {
        let root = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let (deployment, device) = (Uuid::new_v4(), Uuid::new_v4());
        let root_public = root.verifying_key().to_bytes();
        let signed = sign(&root, WIPE_ORDER_CONTEXT, &order(deployment, device));
        assert!(verify_order(&signed, &root_public, deployment, device).unwrap().send_first);
        let forged = sign(&other, WIPE_ORDER_CONTEXT, &order(deployment, device));
        assert_eq!(verify_order(&forged, &root_public, deployment, device), Err(WipeError::NotSignedByRoot));
        assert_eq!(verify_order(&signed, &root_public, deployment, Uuid::new_v4()), Err(WipeError::OtherDevice));
        assert_eq!(verify_order(&signed, &root_public, Uuid::new_v4(), device), Err(WipeError::OtherDeployment));
        // A root signature made for something else (a credential) is not an order.
        let wrong_context = sign(&root, crate::identity::CREDENTIAL_CONTEXT, &order(deployment, device));
        assert_eq!(verify_order(&wrong_context, &root_public, deployment, device), Err(WipeError::NotSignedByRoot));
        let mut tampered = signed.clone();
        tampered.document = tampered.document.replace("true", "false");
        assert_eq!(verify_order(&tampered, &root_public, deployment, device), Err(WipeError::NotSignedByRoot));
    }

    #[test]
    fn a_report_verifies_only_with_the_laptops_key() {
        let laptop = SigningKey::from_bytes(&[9; 32]);
        let report = WipeReport {
            order_id: Uuid::new_v4(),
            device_id: Uuid::new_v4(),
            sent_first: 3,
            destroyed_unsent: 0,
            wiped_ms: 2,
        };
        let signed = sign(&laptop, WIPE_REPORT_CONTEXT, &serde_json::to_string(&report).unwrap());
        assert_eq!(verify_report(&signed, &laptop.verifying_key()), Ok(report));
        let other = SigningKey::from_bytes(&[10; 32]);
        assert_eq!(verify_report(&signed, &other.verifying_key()), Err(WipeError::BadReportSignature));
    }
}
