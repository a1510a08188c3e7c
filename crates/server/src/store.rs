//! The storage trait: one narrow method per use case of the server, and the types it speaks.
//!
//! Two backends implement it, [`crate::sqlite::SqliteStore`] and
//! [`crate::postgres::PostgresStore`]; `tests/it/conformance.rs` runs one suite against both.
//! Every write method is one transaction: when it returns `Ok`, the change is durable.

use async_trait::async_trait;
use harbour_wire::SealedEvent;
use harbour_wire::identity::DeviceCertificate;
use harbour_wire::identity::SignedDocument;
use harbour_wire::protocol::{DeviceInfo, InvitationInfo, InvitationStatus, PushedEvent, SignedDirectory, Team};
use uuid::Uuid;

use crate::token::TokenHash;

/// Everything a backend can answer besides success.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(Missing),
    /// `initialize` on a store that already has a bootstrap token.
    #[error("the store is already initialized")]
    AlreadyInitialized,
    /// The bootstrap token is wrong, or was already used to register the deployment.
    #[error("the bootstrap token is not valid")]
    BootstrapRefused,
    /// A directory whose version is not newer than the stored one.
    #[error("directory version {offered} is not newer than {current}")]
    StaleDirectory { offered: u64, current: u64 },
    /// A service directory whose version is not newer than the stored one.
    #[error("service directory version {offered} is not newer than {current}")]
    StaleServiceDirectory { offered: u64, current: u64 },
    /// An invitation redeemed already (presented a second time, or cancelled after use).
    #[error("the invitation was already used")]
    InvitationUsed,
    /// An invitation redeemed after its expiry (by the server's clock).
    #[error("the invitation has expired")]
    InvitationExpired,
    /// An invitation that an administrator cancelled.
    #[error("the invitation was cancelled")]
    InvitationCancelled,
    /// A redemption for a device id that is already enrolled.
    #[error("device {0} is already enrolled")]
    DeviceAlreadyEnrolled(Uuid),
    /// A certificate for a device that already has a different one.
    #[error("device {0} already has a certificate")]
    CertificateAlreadyStored(Uuid),
    /// A push or grant touching a case the acting team cannot see.
    #[error("case {0} is not visible to this team")]
    CaseNotVisible(Uuid),
    /// A write that would contradict what is stored (an event id or device sequence number
    /// already used by a different event, a device id already enrolled).
    #[error("{0}")]
    Conflict(String),
    /// The database itself failed.
    #[error("database error: {0}")]
    Backend(String),
}

/// What [`StoreError::NotFound`] could not find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Deployment,
    Directory,
    Token,
    Team,
    Case,
    Device,
    Invitation,
    WipeOrder,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Missing::Deployment => "deployment",
            Missing::Directory => "team directory",
            Missing::Token => "token",
            Missing::Team => "team",
            Missing::Case => "case",
            Missing::Device => "device",
            Missing::Invitation => "invitation",
            Missing::WipeOrder => "wipe order",
        })
    }
}

/// The registered deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub deployment_id: Uuid,
    pub root_public_key: Vec<u8>,
    pub ministry_team_id: Uuid,
}

/// What `register_deployment` records.
#[derive(Clone, Debug)]
pub struct NewDeployment {
    pub deployment_id: Uuid,
    pub root_public_key: Vec<u8>,
    pub ministry_team: Team,
    pub admin_device_id: Uuid,
    pub admin_token: TokenHash,
}

/// An enrolled device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub revoked: bool,
}

/// A created invitation that is not redeemed, cancelled or expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingInvitation {
    pub id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    /// Milliseconds since the Unix epoch after which it cannot be redeemed.
    pub expires_at_ms: u64,
}

/// Whose token a bearer token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Device(Device),
    Invitation(PendingInvitation),
}

/// What `create_invitation` records.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub token: TokenHash,
    pub created_by: Uuid,
    /// Milliseconds since the Unix epoch after which it cannot be redeemed.
    pub expires_at_ms: u64,
}

/// What `order_wipe` records.
#[derive(Clone, Debug)]
pub struct NewWipeOrder {
    pub device_id: Uuid,
    pub order_id: Uuid,
    pub send_first: bool,
    /// The signed order as JSON (a `SignedDocument`), relayed to the laptop as it is.
    pub signed_order: String,
}

/// A wipe order waiting for its laptop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWipe {
    pub order_id: Uuid,
    pub send_first: bool,
    pub signed_order: String,
}

/// What `wipe_done` records.
#[derive(Clone, Debug)]
pub struct WipeDone {
    pub device_id: Uuid,
    pub order_id: Uuid,
    pub sent_first: u64,
    pub destroyed_unsent: u64,
    /// The signed report as JSON.
    pub report: String,
}

/// A page of a team's feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<SealedEvent>,
    /// Feed position of the last event in the page, or `after` when the page is empty.
    pub next_cursor: u64,
    pub more: bool,
}

/// Builds an [`EventPage`] from feed rows in order, stopping at `limit` events or before the
/// ciphertext passes `max_bytes` (but never before the first event, so every event is served).
#[derive(Debug)]
pub(crate) struct PageFill {
    page: EventPage,
    limit: usize,
    max_bytes: u64,
    bytes: u64,
}

impl PageFill {
    pub(crate) fn new(after: u64, limit: u32, max_bytes: u64) -> PageFill {
        PageFill {
            page: EventPage { events: Vec::new(), next_cursor: after, more: false },
            limit: limit as usize,
            max_bytes,
            bytes: 0,
        }
    }

    /// Takes the next row; false once the page is full (then `more` is set and the row left out).
    pub(crate) fn offer(&mut self, position: u64, event: SealedEvent) -> bool {
        let size = event.ciphertext.len() as u64;
        let full = self.page.events.len() >= self.limit
            || (!self.page.events.is_empty() && self.bytes.saturating_add(size) > self.max_bytes);
        if full {
            self.page.more = true;
            return false;
        }
        self.bytes += size;
        self.page.next_cursor = position;
        self.page.events.push(event);
        true
    }

    pub(crate) fn finish(self) -> EventPage {
        self.page
    }
}

/// The server's storage. Each method is one use case and one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create the schema's first state with a bootstrap token. Fails on a store that has one.
    async fn initialize(&self, bootstrap: &TokenHash) -> Result<(), StoreError>;

    /// Register the deployment, its ministry team and the first administrator device, and
    /// spend the bootstrap token.
    async fn register_deployment(&self, bootstrap: &TokenHash, deployment: &NewDeployment) -> Result<(), StoreError>;

    async fn deployment(&self) -> Result<Deployment, StoreError>;

    /// Whose token this is: a device (revoked or not), or an invitation that is still pending
    /// (not redeemed, cancelled nor expired). A redeemed invitation's token is nobody's.
    async fn authenticate(&self, token: &TokenHash) -> Result<Credential, StoreError>;

    /// The latest published (already verified) directory.
    async fn directory(&self) -> Result<SignedDirectory, StoreError>;

    /// Store a verified directory of `version` and record its teams. Refuses an older version.
    async fn publish_directory(
        &self,
        version: u64,
        directory: &SignedDirectory,
        teams: &[Team],
    ) -> Result<(), StoreError>;

    /// The latest published (already verified) service directory, `None` before the first.
    async fn service_directory(&self) -> Result<Option<SignedDocument>, StoreError>;

    /// Store a verified service directory of `version`. Refuses one that is not newer than the
    /// stored one ([`StoreError::StaleServiceDirectory`]).
    async fn publish_service_directory(&self, version: u64, directory: &SignedDocument) -> Result<(), StoreError>;

    /// Record a pending device (an invitation) in an existing team, with its expiry.
    async fn create_invitation(&self, invitation: &NewInvitation) -> Result<(), StoreError>;

    /// The invitation whose token this is, whatever its status (by the server's clock).
    /// `NotFound(Token)` when no invitation has that token.
    async fn invitation_by_token(&self, token: &TokenHash) -> Result<InvitationInfo, StoreError>;

    /// Turn a pending invitation into the device `device_id`, authenticated from now on by
    /// `device_token` (made at redemption) and holding `certificate` (verified by the caller).
    /// Refuses, changing nothing, an invitation redeemed already (`InvitationUsed`), cancelled
    /// (`InvitationCancelled`) or expired by the server's clock at commit time
    /// (`InvitationExpired`), an unknown token (`NotFound(Token)`) and a device id already
    /// enrolled (`DeviceAlreadyEnrolled`).
    async fn redeem_invitation(
        &self,
        invitation_token: &TokenHash,
        device_id: Uuid,
        device_token: &TokenHash,
        certificate: &DeviceCertificate,
    ) -> Result<DeviceInfo, StoreError>;

    /// Every invitation, oldest first, with its status by the server's clock.
    async fn list_invitations(&self) -> Result<Vec<InvitationInfo>, StoreError>;

    /// Cancel an invitation so it can no longer be redeemed. Cancelling a cancelled (or
    /// expired) one is harmless; a redeemed one is refused (`InvitationUsed`); an unknown id
    /// is `NotFound(Invitation)`.
    async fn cancel_invitation(&self, invitation_id: Uuid) -> Result<(), StoreError>;

    /// Record the certificate of a device made before certificates (the administrator's first
    /// laptop, older laptops). Storing the same certificate again is harmless; a device with
    /// another one is refused (`CertificateAlreadyStored`); an unknown device is
    /// `NotFound(Device)`. The caller verified the certificate.
    async fn set_device_certificate(&self, device_id: Uuid, certificate: &DeviceCertificate) -> Result<(), StoreError>;

    /// Store a batch of events pushed by `device` (whose device_id the caller checked), all or
    /// nothing, idempotent by event id; fills the feed of every team that can see each case.
    async fn push_events(&self, device: &Device, events: &[SealedEvent]) -> Result<Vec<PushedEvent>, StoreError>;

    /// Events of `team`'s feed after position `after`: at most `limit`, and no more than fit in
    /// `max_bytes` of ciphertext, except that the first event is always included.
    async fn pull_events(&self, team: Uuid, after: u64, limit: u32, max_bytes: u64) -> Result<EventPage, StoreError>;

    /// Let `to_team` see `case_id` (acting for `by_team`, which must see it); back-fills the
    /// case's existing events into `to_team`'s feed. Returns how many were back-filled.
    async fn grant_case(&self, by_team: Uuid, case_id: Uuid, to_team: Uuid) -> Result<u64, StoreError>;

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StoreError>;

    /// Revoke a device at once. Revoking a revoked device is not an error.
    async fn revoke_device(&self, device_id: Uuid) -> Result<(), StoreError>;

    /// Record the administrator's wipe order for `device_id` (its root signature checked by the
    /// caller), replacing an earlier one that was not carried out. An unknown device is
    /// `NotFound(Device)`; a device already wiped is `Conflict`.
    async fn order_wipe(&self, order: &NewWipeOrder) -> Result<(), StoreError>;

    /// The wipe order waiting for `device_id`, if there is one not yet carried out.
    async fn pending_wipe(&self, device_id: Uuid) -> Result<Option<PendingWipe>, StoreError>;

    /// Record the laptop's report (its signature checked by the caller) and revoke the laptop,
    /// in one transaction. No pending order with that id is `NotFound(WipeOrder)`; the same
    /// report again is harmless.
    async fn wipe_done(&self, done: &WipeDone) -> Result<(), StoreError>;

    /// Total events stored (for metrics).
    async fn event_count(&self) -> Result<u64, StoreError>;

    /// Is the database answering?
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Where an invitation stands at `now_ms`, from its stored columns.
pub(crate) fn invitation_status(redeemed: bool, cancelled: bool, expires_at_ms: i64, now_ms: i64) -> InvitationStatus {
    if redeemed {
        InvitationStatus::Redeemed
    } else if cancelled {
        InvitationStatus::Cancelled
    } else if now_ms > expires_at_ms {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    }
}

/// A certificate as stored (its JSON text).
pub(crate) fn certificate_json(certificate: &DeviceCertificate) -> Result<String, StoreError> {
    serde_json::to_string(certificate).map_err(|e| StoreError::Backend(format!("certificate not encodable: {e}")))
}

/// A stored certificate; `None` when the device has none.
pub(crate) fn certificate_from_json(text: Option<String>) -> Result<Option<DeviceCertificate>, StoreError> {
    text.map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Backend(format!("a stored device certificate is damaged: {e}")))
}

/// Milliseconds since the Unix epoch, for bookkeeping columns.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Open the store named by `--db`: `sqlite:PATH` or `postgres://...`.
pub async fn open(spec: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_with_busy_timeout(spec, crate::sqlite::DEFAULT_BUSY_TIMEOUT).await
}

/// [`open`], a SQLite write waiting at most `busy_timeout` for the write lock (choose it
/// shorter than the request timeout, so the client gets `storage_unavailable`, not a timeout).
pub async fn open_with_busy_timeout(
    spec: &str,
    busy_timeout: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        let store =
            crate::sqlite::SqliteStore::open_with_busy_timeout(std::path::Path::new(path), busy_timeout).await?;
        Ok(std::sync::Arc::new(store))
    } else if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        let store = crate::postgres::PostgresStore::connect(spec).await?;
        Ok(std::sync::Arc::new(store))
    } else {
        Err(StoreError::Backend("the database must be given as sqlite:PATH or postgres://...".into()))
    }
}
