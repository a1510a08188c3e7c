//! Remote wipe, on the laptop: an administrator signs an order with the root key; the lost
//! laptop, at its next contact, checks the order against the root key it pinned at enrolment,
//! sends what is waiting if the order says so (the sync engine does that), then destroys its key
//! file and its database and reports, signed with its own key, that it did.
//!
//! Destroying the key file is what makes the data unreadable: the database and every case key
//! in it are encrypted under keys that exist nowhere else. The key file is overwritten with
//! random bytes and flushed before it is removed, so a copy of the disk taken afterwards finds
//! neither (on an SSD the old blocks may survive the overwrite; they still hold only the key file
//! sealed under the person's passphrase).

use std::io::Write;
use std::path::Path;

use harbour_wire::identity::SignedDocument;
use harbour_wire::wipe::{WIPE_ORDER_CONTEXT, WIPE_REPORT_CONTEXT, WipeError, WipeOrder, WipeReport, verify_order};
use rusqlite::Connection;
use uuid::Uuid;

use super::membership::not_enrolled;
use super::{DB_FILE, Workspace};
use crate::error::{Error, Result};
use crate::identity::SigningSecret;
use crate::keyfile::{self, KEY_FILE};

/// A file a wipe left behind, naming the server its report is for: the report could not be
/// delivered at once. It holds no secret (ids, counts, a signature).
pub const UNSENT_REPORT_FILE: &str = "wipe-report.json";

/// The report a wiped laptop still has to deliver.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct UnsentReport {
    pub server_url: String,
    pub report: SignedDocument,
}

impl Workspace {
    /// Signs an order to wipe the laptop `device_id` (administrators: it takes the root key).
    pub fn sign_wipe_order(&self, device_id: Uuid, send_first: bool) -> Result<SignedDocument> {
        let membership = self.membership().ok_or_else(not_enrolled)?;
        let root = membership
            .root_key
            .as_ref()
            .ok_or_else(|| Error::invalid("deployment", "only an administrator's laptop can order a wipe"))?;
        if device_id == self.device_id().0 {
            return Err(Error::invalid("device", "a laptop cannot order its own wipe"));
        }
        let order = WipeOrder {
            order_id: Uuid::now_v7(),
            deployment_id: membership.deployment_id,
            device_id,
            send_first,
            issued_ms: chrono::Utc::now().timestamp_millis().max(0) as u64,
        };
        let document = serde_json::to_string(&order).map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(SigningSecret::from_secret(root.secret().clone()).sign_document(WIPE_ORDER_CONTEXT, document))
    }

    /// Checks an order the server relayed: it must be signed by the root key this laptop pinned,
    /// for this deployment and this laptop. Anything else is refused and changes nothing.
    pub fn check_wipe_order(&self, signed: &SignedDocument) -> std::result::Result<WipeOrder, WipeError> {
        let membership = self.membership().ok_or(WipeError::OtherDeployment)?;
        verify_order(signed, &membership.root_public_key, membership.deployment_id, self.device_id().0)
    }

    /// Destroys this laptop's data as `order` says, and returns the report to send, signed with
    /// this laptop's key before the key is destroyed. `sent_first` is how many events were sent
    /// because the order asked. Afterwards the workspace holds an empty in-memory database:
    /// the caller drops it.
    pub fn wipe(&mut self, order: &WipeOrder, sent_first: u64) -> Result<SignedDocument> {
        let destroyed_unsent = self.pending_count()?;
        let identity = self
            .membership()
            .and_then(|membership| membership.identity.as_ref())
            .ok_or_else(|| Error::invalid("device", "this laptop has no signing key to report its wipe with"))?;
        let report = WipeReport {
            order_id: order.order_id,
            device_id: self.device_id().0,
            sent_first,
            destroyed_unsent,
            wiped_ms: chrono::Utc::now().timestamp_millis().max(0) as u64,
        };
        let document = serde_json::to_string(&report).map_err(|e| Error::Corrupt(e.to_string()))?;
        let signed = identity.key.sign_document(WIPE_REPORT_CONTEXT, document);

        // Close the database before its files go; nothing is kept in memory either.
        self.conn = Connection::open_in_memory()?;
        self.case_keys.clear();
        self.recent.clear();
        self.forget_figure_rows();
        destroy_files(&self.dir)?;
        if let Some(membership) = self.secrets.membership.as_mut() {
            membership.team_secrets.clear();
            membership.root_key = None;
            membership.identity = None;
            membership.directory_key = None;
        }
        Ok(signed)
    }
}

/// Overwrites the key file with random bytes, flushes it, and removes it and every database file.
fn destroy_files(dir: &Path) -> Result<()> {
    let key_path = keyfile::path(dir);
    if let Ok(metadata) = std::fs::metadata(&key_path) {
        let mut noise = vec![0u8; metadata.len().max(4096) as usize];
        crate::crypto::fill_random(&mut noise);
        let mut file = std::fs::OpenOptions::new().write(true).open(&key_path).map_err(|e| Error::io(&key_path, e))?;
        file.write_all(&noise).and_then(|()| file.sync_all()).map_err(|e| Error::io(&key_path, e))?;
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(KEY_FILE) || name.starts_with(DB_FILE) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    // The directory entry removals reach the disk too.
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Keeps a report that could not be delivered, to send at the next chance.
pub fn keep_unsent_report(dir: &Path, unsent: &UnsentReport) -> Result<()> {
    let path = dir.join(UNSENT_REPORT_FILE);
    let text = serde_json::to_vec_pretty(unsent).map_err(|e| Error::Corrupt(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

/// A report a wipe left behind in `dir`, if any.
pub fn unsent_report(dir: &Path) -> Option<UnsentReport> {
    let text = std::fs::read(dir.join(UNSENT_REPORT_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The report was delivered: forget it.
pub fn forget_unsent_report(dir: &Path) -> Result<()> {
    let path = dir.join(UNSENT_REPORT_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::io(&path, error)),
    }
}
