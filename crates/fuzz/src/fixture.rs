//! The deployment the structure-aware modes sign and seal with: fixed keys, so that a crash
//! found once is found again from the same bytes.

use std::sync::OnceLock;

use harbour_core::crypto::{CaseKey, Secret};
use harbour_core::deployment::{GrantSealer, RootKey, TeamSecret, seal_team_names};
use harbour_core::identity::{DeviceIdentity, SigningSecret, certify_device, issue_credential, seal_worker};
use harbour_core::{CaseId, DeviceId, Hlc, SealedEvent};
use harbour_wire::identity::{Credential, SignedDocument};
use harbour_wire::protocol::{SignedDirectory, TeamDirectory};
use uuid::Uuid;

pub(crate) struct Fixture {
    pub root: RootKey,
    pub root_public: [u8; 32],
    pub deployment_id: Uuid,
    pub team: TeamSecret,
    pub ministry: TeamSecret,
    pub directory_key: Secret,
    pub invitation_key: SigningSecret,
    pub credential: SignedDocument,
    pub device_id: DeviceId,
    pub identity: DeviceIdentity,
    pub case_key: CaseKey,
    /// A grant of a case key to `team`, made by `identity`.
    pub grant: SealedEvent,
    /// The directory naming `ministry` and `team`, names sealed, signed by `root`.
    pub directory: SignedDirectory,
}

/// A fixed-but-valid 32-byte secret.
fn secret(fill: u8) -> Secret {
    Secret::from_bytes([fill; 32])
}

pub(crate) const NOW_MS: u64 = 1_764_279_012_345;
/// When the fixture's invitation expires: 2100, so that what checks expiry against the real
/// clock goes on to the checks after it.
pub(crate) const EXPIRES_MS: u64 = 4_102_444_800_000;

pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = RootKey::from_secret(secret(1));
        let root_public = root.public_key();
        let deployment_id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let team =
            TeamSecret { team_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002), secret: secret(2) };
        let ministry =
            TeamSecret { team_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003), secret: secret(3) };
        let directory_key = secret(4);
        let invitation_key = SigningSecret::from_secret(secret(5));
        let credential = issue_credential(
            &root,
            &Credential {
                deployment_id,
                invitation_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0004),
                team_id: team.team_id,
                admin: false,
                expires_ms: EXPIRES_MS,
                invitation_key: invitation_key.public_key().to_vec(),
            },
        );
        let device_id = DeviceId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0005));
        let key = SigningSecret::from_secret(secret(6));
        let box_secret = secret(7);
        let worker = seal_worker(&ministry.team("Ministry"), "Fuzz Worker").expect("the ministry's key is valid");
        let certificate = certify_device(
            &invitation_key,
            credential.clone(),
            device_id,
            &key,
            NOW_MS,
            Some(worker),
            Some(&box_secret),
        );
        let identity = DeviceIdentity { key, certificate, box_secret: Some(box_secret), listed: false };
        let case_key = CaseKey { id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0006), secret: secret(8) };
        let grant = GrantSealer::new(&identity)
            .seal(
                CaseId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0007)),
                &case_key,
                &team.team("Embassy"),
                device_id,
                1,
                Hlc { wall_ms: NOW_MS, counter: 0 },
            )
            .expect("the team's key is valid");
        let plain = TeamDirectory {
            deployment_id,
            version: 1,
            teams: vec![ministry.team("Ministry"), team.team("Embassy of Fuzzing")],
            devices: Vec::new(),
        };
        let directory = root.sign(&seal_team_names(&plain, &directory_key));
        Fixture {
            root,
            root_public,
            deployment_id,
            team,
            ministry,
            directory_key,
            invitation_key,
            credential,
            device_id,
            identity,
            case_key,
            grant,
            directory,
        }
    })
}

impl Fixture {
    /// Any text as a directory document, signed with the root key.
    pub(crate) fn sign_directory(&self, document: String) -> SignedDirectory {
        use ed25519_dalek::Signer as _;
        let key = ed25519_dalek::SigningKey::from_bytes(self.root.secret().expose());
        let signature = key.sign(&harbour_wire::protocol::directory_signing_message(&document));
        SignedDirectory { document, signature: signature.to_bytes().to_vec() }
    }

    /// Any text as a service directory document, signed with the root key.
    pub(crate) fn sign_service_directory(&self, document: String) -> SignedDocument {
        use ed25519_dalek::Signer as _;
        let key = ed25519_dalek::SigningKey::from_bytes(self.root.secret().expose());
        let message =
            harbour_wire::identity::signing_message(harbour_wire::root::SERVICE_DIRECTORY_CONTEXT, document.as_bytes());
        SignedDocument { document, signature: key.sign(&message).to_bytes().to_vec() }
    }
}
