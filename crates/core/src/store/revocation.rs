//! Revoking a laptop replaces its team's key: a lost laptop's copy of the team secret must open
//! nothing granted afterwards. The administrator's laptop makes the team a new key pair,
//! publishes it in a new signed directory (grants made from then on are sealed to it), and
//! seals the new secret to each remaining laptop of the team (to the X25519 key its certificate
//! names). The sealed secrets travel as one root-signed notice, an event of the team's own key
//! channel that the server relays to the team like any case.

use chrono::Utc;
use harbour_wire::identity::{DeviceCertificate, signing_message};
use harbour_wire::protocol::SignedDirectory;
use rusqlite::{TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Workspace, insert_own, last_device_seq, set_meta};
use crate::crypto::{self, Secret};
use crate::deployment::{self, TeamSecret};
use crate::error::{Error, Result};
use crate::event::{Hlc, SealedEvent};
use crate::identity::{self, SigningSecret};
use crate::ids::{CaseId, EventId};
use crate::keyfile;

/// The kind of the event that carries a team's new key to its remaining laptops.
pub const TEAM_KEY_KIND: &str = "team.key_rotated";
const NOTICE_CONTEXT: &[u8] = b"harbour-team-key-notice-v1\0";
const ENVELOPE_CONTEXT: &[u8] = b"harbour-team-key-envelope-v1";

/// What the root key signs when a team's key is replaced.
#[derive(Serialize, Deserialize)]
struct Notice {
    deployment_id: Uuid,
    team_id: Uuid,
    /// The directory version that publishes the new public key.
    directory_version: u64,
    /// The new secret, sealed to each remaining laptop of the team.
    envelopes: Vec<Envelope>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    device_id: Uuid,
    sealed: String,
}

/// The case id of a team's key channel: fixed for the team, so every notice reaches the team
/// through one server-side grant.
pub fn team_key_channel(team_id: Uuid) -> CaseId {
    let digest = crypto::sha256_hex(&[b"harbour-team-key-channel", team_id.as_bytes()]);
    let bytes = hex::decode(&digest[..32]).expect("a SHA-256 digest is hex");
    CaseId(Uuid::from_slice(&bytes).expect("16 bytes"))
}

/// What [`Workspace::rotate_team_key`] did.
#[derive(Debug)]
pub struct Rotation {
    /// The new directory, to publish.
    pub directory: SignedDirectory,
    /// Laptops that received the new key.
    pub kept: Vec<Uuid>,
}

impl Workspace {
    /// Administrators, after revoking a laptop of `team_id`: makes the team a new key, publishes
    /// it in a new signed directory, and seals it to each laptop in `keep` (the team's other
    /// laptops, with the certificates the server lists; a certificate that does not verify, or
    /// of another team, is left out). The notice waits to be sent with the next sync.
    pub fn rotate_team_key(&mut self, team_id: Uuid, keep: &[DeviceCertificate]) -> Result<Rotation> {
        let membership = self.membership().ok_or_else(super::membership::not_enrolled)?;
        let root = membership
            .root_key
            .as_ref()
            .ok_or_else(|| Error::invalid("deployment", "only an administrator's laptop can do this"))?;
        let (deployment_id, root_public_key) = (membership.deployment_id, membership.root_public_key.clone());
        let mut directory = self.directory()?.ok_or_else(super::membership::not_enrolled)?;
        let new = TeamSecret { team_id, secret: Secret::random() };
        let team = directory
            .teams
            .iter_mut()
            .find(|team| team.id == team_id)
            .ok_or_else(|| Error::invalid("team", "no such team in the directory"))?;
        team.public_key = new.public_key().to_vec();
        directory.version += 1;
        let signed = root.sign(&super::membership::seal_names(membership, &directory));

        let mut envelopes = Vec::new();
        for certificate in keep {
            let Ok(device) = identity::verify_certificate(certificate, &root_public_key, deployment_id) else {
                continue;
            };
            let Some(box_key) = identity::certified_box_key(certificate) else { continue };
            if device.team_id != team_id || envelopes.iter().any(|e: &Envelope| e.device_id == device.device_id) {
                continue;
            }
            let sealed = deployment::seal_to_key(&box_key, &envelope_context(team_id), &new.secret.to_hex());
            envelopes.push(Envelope { device_id: device.device_id, sealed });
        }
        let kept = envelopes.iter().map(|envelope| envelope.device_id).collect();
        let notice = Notice { deployment_id, team_id, directory_version: directory.version, envelopes };
        let document = serde_json::to_vec(&notice).expect("a notice serializes");
        let signature = SigningSecret::from_secret(root.secret().clone()).sign(NOTICE_CONTEXT, &document);

        let membership = self.secrets.membership.as_mut().expect("checked above");
        membership.team_secrets.push(new);
        keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        self.store_directory(&signed)?;

        let channel = team_key_channel(team_id);
        let now = Utc::now();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let device_seq = last_device_seq(&tx)? + 1;
        let hlc: Hlc = self.clock.tick(now.timestamp_millis().max(0) as u64);
        let mut nonce = vec![0u8; 12];
        crypto::fill_random(&mut nonce);
        let notice_event = SealedEvent {
            format: crypto::SEALED_FORMAT,
            id: EventId::new().0,
            case_id: channel.0,
            kind: TEAM_KEY_KIND.to_owned(),
            device_id: self.secrets.device_id.0,
            device_seq: device_seq as u64,
            hlc,
            key_id: Uuid::nil(),
            nonce,
            ciphertext: [document.as_slice(), &signature].concat(),
        };
        insert_own(&tx, &notice_event)?;
        tx.prepare_cached("INSERT OR IGNORE INTO shares (case_id, team_id, granted) VALUES (?1, ?2, 0)")?
            .execute(params![channel.to_string(), team_id.to_string()])?;
        crate::audit::append(&tx, now, &self.worker, "team.key_rotate", None, &team_id.to_string())?;
        set_meta(&tx, "device_seq", &device_seq.to_string())?;
        set_meta(&tx, "hlc", &self.clock.last.to_sortable())?;
        tx.commit()?;
        Ok(Rotation { directory: signed, kept })
    }
}

/// A pulled notice of a new team key: if the root key signed it and it holds an envelope for
/// this laptop (`own`), the new secret joins the ones this laptop reads with (the old ones stay:
/// they open older grants). Returns the secret when it is new here.
pub(super) fn team_key_from(membership: &keyfile::Membership, own: Uuid, sealed: &SealedEvent) -> Option<TeamSecret> {
    {
        let box_secret = membership.identity.as_ref()?.box_secret.as_ref()?;
        let (document, signature) = sealed.ciphertext.split_at(sealed.ciphertext.len().checked_sub(64)?);
        let root = harbour_wire::identity::verifying_key(&membership.root_public_key).ok()?;
        let signature = harbour_wire::identity::signature(signature).ok()?;
        root.verify_strict(&signing_message(NOTICE_CONTEXT, document), &signature).ok()?;
        let notice: Notice = serde_json::from_slice(document).ok()?;
        if notice.deployment_id != membership.deployment_id
            || sealed.case_id != team_key_channel(notice.team_id).0
            || membership.team_secrets.iter().all(|secret| secret.team_id != notice.team_id)
        {
            return None;
        }
        let envelope = notice.envelopes.iter().find(|envelope| envelope.device_id == own)?;
        let hex_text = zeroize::Zeroizing::new(deployment::open_with_secret(
            box_secret,
            &envelope_context(notice.team_id),
            &envelope.sealed,
        )?);
        let bytes = zeroize::Zeroizing::new(hex::decode(hex_text.as_str()).ok()?);
        let secret = TeamSecret { team_id: notice.team_id, secret: Secret::from_slice(&bytes)? };
        let held = membership
            .team_secrets
            .iter()
            .any(|held| held.team_id == secret.team_id && held.secret.expose() == secret.secret.expose());
        (!held).then_some(secret)
    }
}

fn envelope_context(team_id: Uuid) -> Vec<u8> {
    [ENVELOPE_CONTEXT, team_id.as_bytes()].concat()
}
