//! The audit log leaves the laptop: entries are sealed in batches, as events of the laptop's
//! own audit channel, under a key granted (signed) to the ministry team only. The server relays
//! them and cannot read them; the ministry's laptops check each laptop's hash chain across
//! batches, so an entry that reached the server cannot be removed without a visible gap.
//!
//! Batches are made when a sync starts, not on every write: the write path stays as it is.

use chrono::Utc;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Workspace, insert_own, last_device_seq, load_case_key, sealed_from_row, set_meta};
use crate::audit::{self, AuditEntry};
use crate::crypto::{self, CaseKey, Wrapped};
use crate::deployment::GrantSealer;
use crate::error::{Error, Result};
use crate::event::SealedEvent;
use crate::ids::{CaseId, EventId};

/// The kind of an event holding a batch of audit entries.
pub const AUDIT_KIND: &str = "audit.batch";
/// Most entries in one batch (a batch stays far below the largest event).
const BATCH_ENTRIES: i64 = 2_000;
/// A batch is sealed at most this often, unless [`BATCH_ENTRIES`] wait: a sync every minute
/// then carries a batch every quarter of an hour, not one of a few entries each time.
const BATCH_INTERVAL_MS: i64 = 15 * 60 * 1000;
/// A batch's JSON is never unpacked beyond this.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// The case id of a laptop's audit channel.
pub fn audit_channel(device_id: Uuid) -> CaseId {
    let digest = crypto::sha256_hex(&[b"harbour-audit-channel", device_id.as_bytes()]);
    let bytes = hex::decode(&digest[..32]).expect("a SHA-256 digest is hex");
    CaseId(Uuid::from_slice(&bytes).expect("16 bytes"))
}

#[derive(Serialize, Deserialize)]
struct Batch {
    device_id: Uuid,
    entries: Vec<AuditEntry>,
}

/// One laptop's audit log as the ministry received it.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceAudit {
    pub device_id: Uuid,
    pub entries: Vec<AuditEntry>,
    /// What is wrong with the chain, if anything: a gap (entries removed before they reached
    /// this laptop) or an entry changed.
    pub problem: Option<String>,
}

impl Workspace {
    /// Seals the audit entries not sent yet into one event of this laptop's audit channel
    /// (granting the channel's key to the ministry team the first time). Returns how many
    /// entries it sealed. Outside a deployment, or before laptops had certificates, nothing.
    /// Unless `now`, nothing either when the last batch is under a quarter of an hour old and
    /// fewer than a full batch of entries wait.
    pub fn seal_audit(&mut self, now: bool) -> Result<usize> {
        // Every full batch waiting goes at once; a sync does not carry the backlog piecemeal.
        let mut total = 0;
        loop {
            let sealed = self.seal_audit_batch(now)?;
            total += sealed;
            if sealed < BATCH_ENTRIES as usize {
                return Ok(total);
            }
        }
    }

    fn seal_audit_batch(&mut self, now: bool) -> Result<usize> {
        let Some(membership) = self.secrets.membership.as_ref() else { return Ok(0) };
        let Some(author) = membership.identity.as_ref() else { return Ok(0) };
        let ministry_id = membership.ministry_team_id;
        let sent: i64 = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'audit_sent'")?
            .query_row([], |row| row.get::<_, String>(0))
            .optional()?
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        let entries = audit::after(&self.conn, sent, BATCH_ENTRIES)?;
        let Some(last) = entries.last().map(|entry| entry.seq) else { return Ok(0) };
        let sealed_at: Option<i64> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'audit_sealed_at'")?
            .query_row([], |row| row.get::<_, String>(0))
            .optional()?
            .and_then(|text| text.parse().ok());
        let now_ms = Utc::now().timestamp_millis();
        // The first quarter of an hour counts from the laptop's first sync.
        let Some(sealed_at) = sealed_at.or(if now { Some(0) } else { None }) else {
            set_meta(&self.conn, "audit_sealed_at", &now_ms.to_string())?;
            return Ok(0);
        };
        if !now && (entries.len() as i64) < BATCH_ENTRIES && now_ms - sealed_at < BATCH_INTERVAL_MS {
            return Ok(0);
        }
        let device_id = self.secrets.device_id;
        let channel = audit_channel(device_id.0);
        let held = load_case_key(&self.conn, &self.secrets.master_key, channel)?;
        let ministry = match &held {
            Some(_) => None,
            None => Some(
                self.directory()?
                    .and_then(|directory| directory.teams.into_iter().find(|team| team.id == ministry_id))
                    .ok_or_else(|| {
                        Error::invalid("directory", "the ministry team is not in this laptop's directory")
                    })?,
            ),
        };
        let key = held.unwrap_or_else(CaseKey::generate);
        let count = entries.len();
        let body = serde_json::to_vec(&Batch { device_id: device_id.0, entries }).expect("a batch serializes");
        let now = Utc::now();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut device_seq = last_device_seq(&tx)?;
        if let Some(ministry) = &ministry {
            super::store_case_key(&tx, &self.secrets.master_key, channel, &key)?;
            device_seq += 1;
            let hlc = self.clock.tick(now.timestamp_millis().max(0) as u64);
            let grant = GrantSealer::new(author).seal(channel, &key, ministry, device_id, device_seq as u64, hlc)?;
            insert_own(&tx, &grant)?;
        }
        device_seq += 1;
        let mut batch = SealedEvent {
            format: crypto::SEALED_FORMAT,
            id: EventId::new().0,
            case_id: channel.0,
            kind: AUDIT_KIND.to_owned(),
            device_id: device_id.0,
            device_seq: device_seq as u64,
            hlc: self.clock.tick(now.timestamp_millis().max(0) as u64),
            key_id: key.id,
            nonce: Vec::new(),
            ciphertext: Vec::new(),
        };
        let wrapped = crypto::wrap(&key.secret, &batch.associated_data(), &crypto::compress(&body, 3));
        batch.nonce = wrapped.nonce;
        batch.ciphertext = wrapped.ciphertext;
        insert_own(&tx, &batch)?;
        set_meta(&tx, "audit_sent", &last.to_string())?;
        set_meta(&tx, "audit_sealed_at", &now_ms.to_string())?;
        set_meta(&tx, "device_seq", &device_seq.to_string())?;
        set_meta(&tx, "hlc", &self.clock.last.to_sortable())?;
        tx.commit()?;
        Ok(count)
    }

    /// Every laptop's audit log that reached this one (the ministry's laptops hold the keys),
    /// this laptop's own included, each chain checked from its first entry. Audited as one
    /// `audit.view`.
    pub fn audit_all_devices(&mut self) -> Result<Vec<DeviceAudit>> {
        let mut by_device: std::collections::BTreeMap<Uuid, Vec<AuditEntry>> = Default::default();
        let batches: Vec<SealedEvent> = {
            let mut statement = self.conn.prepare(
                "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext
                 FROM events WHERE kind = ?1 AND device_id <> ?2",
            )?;
            let rows = statement.query_map(params![AUDIT_KIND, self.secrets.device_id.to_string()], sealed_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for sealed in batches {
            if sealed.case_id != audit_channel(sealed.device_id).0 {
                continue;
            }
            let Some(key) = load_case_key(&self.conn, &self.secrets.master_key, CaseId(sealed.case_id))? else {
                continue;
            };
            let wrapped = Wrapped { nonce: sealed.nonce.clone(), ciphertext: sealed.ciphertext.clone() };
            let Some(packed) = crypto::unwrap(&key.secret, &sealed.associated_data(), &wrapped) else { continue };
            let Some(body) = crypto::decompress(&packed, MAX_BATCH_BYTES) else { continue };
            let Ok(batch) = serde_json::from_slice::<Batch>(&body) else { continue };
            if batch.device_id != sealed.device_id {
                continue;
            }
            by_device.entry(batch.device_id).or_default().extend(batch.entries);
        }
        self.audit_now("audit.view", None, "all devices")?;
        let own = self.secrets.device_id.0;
        let mut own_entries = audit::recent(&self.conn, usize::MAX >> 1)?;
        own_entries.reverse();
        by_device.insert(own, own_entries);
        Ok(by_device
            .into_iter()
            .map(|(device_id, mut entries)| {
                entries.sort_by_key(|entry| entry.seq);
                entries.dedup_by_key(|entry| entry.seq);
                let problem = chain_problem(&entries);
                DeviceAudit { device_id, entries, problem }
            })
            .collect())
    }
}

/// What breaks a laptop's chain, read from its first entry: a missing entry or a changed one.
fn chain_problem(entries: &[AuditEntry]) -> Option<String> {
    let mut prev = audit::GENESIS.to_owned();
    for (expected, entry) in (1..).zip(entries) {
        if entry.seq != expected {
            return Some(format!(
                "entries {expected} to {} never reached this laptop: they were removed on the way",
                entry.seq - 1
            ));
        }
        let computed = audit::entry_hash(
            &prev,
            entry.seq,
            &entry.at,
            &entry.actor,
            &entry.action,
            entry.case_id.as_deref(),
            &entry.detail,
        );
        if computed != entry.hash {
            return Some(format!("entry {} was changed", entry.seq));
        }
        prev = entry.hash.clone();
    }
    None
}
