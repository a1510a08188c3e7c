//! Requests and responses of the sync protocol, version 1 (`/v1/...`).
//!
//! Every body is JSON, optionally compressed with gzip or zstd. Authenticated requests carry
//! `Authorization: Bearer <device token>`. Every refusal is an [`ErrorBody`] with a 4xx status.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SealedEvent;

/// Path prefix of this protocol version.
pub const API_PREFIX: &str = "/v1";
/// Most events one push may carry; a larger batch is refused with 413.
pub const MAX_PUSH_EVENTS: usize = 1000;
/// Most events one pull page returns, whatever `limit` asks for.
pub const MAX_PULL_LIMIT: u32 = 1000;
/// Page size when a pull names no `limit`.
pub const DEFAULT_PULL_LIMIT: u32 = 500;
/// Largest ciphertext of one sealed event (1 MiB). The server refuses a bigger event on push
/// (413), a device refuses to send one and refuses one pulled from a server.
pub const MAX_SEALED_EVENT_BYTES: usize = 1024 * 1024;
/// A pull page stops before its events' ciphertext passes this many bytes (4 MiB), with `more`
/// still true; an event alone is always served, so a page never holds less than one.
pub const MAX_PULL_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Largest answer body a client reads, after decompression (16 MiB): a full pull page in JSON
/// (base64 makes ciphertext a third larger) with room to spare, far from filling memory.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Domain separation for the root key's signature over a directory document.
pub const DIRECTORY_SIGNING_CONTEXT: &[u8] = b"harbour-directory-v1\0";

/// Every 4xx/5xx response body: a stable machine `error` code and a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// A team as published in the directory: a clinic, an embassy, a shelter or the ministry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    /// The team's X25519 public key (32 bytes), to which case keys are sealed.
    #[serde(with = "crate::b64")]
    pub public_key: Vec<u8>,
}

/// `POST /v1/deployment` — once, with the bootstrap token printed by `harbour-server init`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDeploymentRequest {
    pub bootstrap_token: String,
    pub deployment_id: Uuid,
    /// The root Ed25519 public key (32 bytes) that signs every team directory.
    #[serde(with = "crate::b64")]
    pub root_public_key: Vec<u8>,
    pub ministry_team: Team,
    /// The administrator's device, which becomes the first device of the ministry team.
    pub admin_device_id: Uuid,
}

/// Answer to [`RegisterDeploymentRequest`]: the administrator device's token, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDeploymentResponse {
    pub device_token: String,
}

/// `GET /v1/deployment` — what the server knows about the deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentInfo {
    pub deployment_id: Uuid,
    #[serde(with = "crate::b64")]
    pub root_public_key: Vec<u8>,
    pub ministry_team_id: Uuid,
}

/// The team directory, before signing. Serialised to JSON text, that exact text is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDirectory {
    pub deployment_id: Uuid,
    /// Strictly increasing: a server refuses a directory that is not newer than the one it has.
    pub version: u64,
    pub teams: Vec<Team>,
    /// Laptops whose certificates an administrator's laptop checked against the root key: a
    /// grant made by one of them names its author and carries no certificate (absent in
    /// directories made before, and from older laptops' directories).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<ListedDevice>,
}

/// A certified laptop as the root-signed directory lists it: what its certificate says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedDevice {
    pub device_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub invitation_id: Uuid,
    /// Its Ed25519 public key (32 bytes), which signs its grants.
    #[serde(with = "crate::b64")]
    pub public_key: Vec<u8>,
}

impl ListedDevice {
    /// What a verified certificate says, to be listed.
    pub fn from_certified(device: &crate::identity::CertifiedDevice) -> ListedDevice {
        ListedDevice {
            device_id: device.device_id,
            team_id: device.team_id,
            admin: device.admin,
            invitation_id: device.invitation_id,
            public_key: device.public_key.to_bytes().to_vec(),
        }
    }

    /// The listed laptop as a certified one (the directory's root signature is its proof).
    pub fn certified(&self) -> Result<crate::identity::CertifiedDevice, crate::identity::IdentityError> {
        Ok(crate::identity::CertifiedDevice {
            device_id: self.device_id,
            team_id: self.team_id,
            admin: self.admin,
            invitation_id: self.invitation_id,
            public_key: crate::identity::verifying_key(&self.public_key)?,
        })
    }
}

/// `PUT /v1/directory` body and `GET /v1/directory` answer.
///
/// `document` is the JSON text of a [`TeamDirectory`]; `signature` is the root key's Ed25519
/// signature over [`directory_signing_message`]`(document)`. Carrying the exact signed text
/// avoids any question of canonical JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDirectory {
    pub document: String,
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

impl SignedDirectory {
    /// The directory inside, parsed but NOT verified: verify the signature first.
    pub fn unverified_directory(&self) -> Result<TeamDirectory, serde_json::Error> {
        serde_json::from_str(&self.document)
    }

    /// The directory, checked against the root public key and the deployment
    /// ([`crate::root::verify`], as for every root-signed document).
    pub fn verify(
        &self,
        root_public_key: &[u8],
        deployment_id: Uuid,
    ) -> Result<TeamDirectory, crate::root::RootSignedError> {
        crate::root::verify(&self.document, &self.signature, root_public_key, deployment_id)
    }
}

impl crate::root::RootSigned for TeamDirectory {
    const CONTEXT: &'static [u8] = DIRECTORY_SIGNING_CONTEXT;

    fn deployment_id(&self) -> Uuid {
        self.deployment_id
    }

    fn version(&self) -> u64 {
        self.version
    }
}

/// The bytes the root key signs for a directory document.
pub fn directory_signing_message(document: &str) -> Vec<u8> {
    crate::identity::signing_message(DIRECTORY_SIGNING_CONTEXT, document.as_bytes())
}

/// `PUT /v1/directory` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishDirectoryResponse {
    pub version: u64,
}

/// `POST /v1/invitations` (administrators only): a pending device in a team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInvitationRequest {
    pub team_id: Uuid,
    /// Only meaningful for the ministry team: the new device may administer the deployment.
    #[serde(default)]
    pub admin: bool,
    /// Days the invitation may wait to be redeemed: 1 to [`MAX_INVITATION_DAYS`], default
    /// [`DEFAULT_INVITATION_DAYS`].
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// Default of [`CreateInvitationRequest::expires_in_days`].
pub const DEFAULT_INVITATION_DAYS: u32 = 7;
/// Most days an invitation may wait.
pub const MAX_INVITATION_DAYS: u32 = 90;

/// Answer to [`CreateInvitationRequest`]. The token redeems the invitation once; the inviting
/// device seals it (with the team's private key, the directory and a root-signed credential)
/// under a one-time code. It is not the device's token: that is made at redemption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInvitationResponse {
    pub invitation_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub invitation_token: String,
    /// Milliseconds since the Unix epoch after which it cannot be redeemed.
    pub expires_at_ms: u64,
}

/// `POST /v1/invitations/redeem`, authenticated with the invitation's token: once only, before
/// it expires or is cancelled. The certificate must be made with this invitation's credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemInvitationRequest {
    pub device_id: Uuid,
    pub certificate: crate::identity::DeviceCertificate,
}

/// Answer to [`RedeemInvitationRequest`]: the new device and its own token, made now and shown
/// only to it (the server keeps its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemInvitationResponse {
    pub device: DeviceInfo,
    pub device_token: String,
}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Redeemed,
    Cancelled,
    Expired,
}

/// An invitation as the server knows it. `GET /v1/invitations` returns `{ "invitations": [...] }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationInfo {
    pub invitation_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub status: InvitationStatus,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// The device that redeemed it, once redeemed.
    #[serde(default)]
    pub device_id: Option<Uuid>,
}

/// `GET /v1/invitations` answer (administrators only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationList {
    pub invitations: Vec<InvitationInfo>,
}

/// A device as the server knows it. `GET /v1/devices` returns `{ "devices": [...] }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub revoked: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The device's certificate (its signing key, certified from the root key), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<crate::identity::DeviceCertificate>,
    /// The administrator's wipe order for this device and whether it was carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe: Option<crate::wipe::WipeStatus>,
}

/// `GET /v1/devices` answer (administrators only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
}

/// `POST /v1/events`: a batch of at most [`MAX_PUSH_EVENTS`] sealed events of the pushing device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub events: Vec<SealedEvent>,
}

/// One event of an acknowledged push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedEvent {
    pub id: Uuid,
    /// The server's monotonic sequence number for this event.
    pub seq: u64,
    /// True when the event was already stored (a replay): harmless.
    pub already_stored: bool,
}

/// Answer to [`PushRequest`]; sent only once the whole batch is durably committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    pub events: Vec<PushedEvent>,
}

/// Query of `GET /v1/events?after=CURSOR&limit=N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullQuery {
    /// The `next_cursor` of the previous page; 0 (or absent) for the beginning.
    #[serde(default)]
    pub after: u64,
    /// Page size, capped at [`MAX_PULL_LIMIT`].
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A page of the pulling device's team feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub events: Vec<SealedEvent>,
    /// Position to pass as `after` next time; equal to `after` when the page is empty.
    pub next_cursor: u64,
    /// True when more events wait after `next_cursor`.
    pub more: bool,
}

/// `POST /v1/cases/{case_id}/grants`: let another team pull a case (and its older events).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    pub team_id: Uuid,
}

/// Answer to [`GrantRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantResponse {
    pub case_id: Uuid,
    pub team_id: Uuid,
    /// How many of the case's existing events were added to the team's feed (0 if re-granted).
    pub backfilled: u64,
}

/// `GET /v1/health` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_message_is_domain_separated() {
        let message = directory_signing_message("{}");
        assert!(message.starts_with(b"harbour-directory-v1\0"));
        assert!(message.ends_with(b"{}"));
    }

    #[test]
    fn pull_query_defaults() {
        let query: PullQuery = serde_json::from_str("{}").unwrap();
        assert_eq!(query, PullQuery { after: 0, limit: None });
    }
}
