//! The encrypted local store: a [`Workspace`] is one unlocked data directory.
//!
//! `harbour.db` is a SQLCipher database (every page, the WAL and the full-text index are
//! ciphertext) keyed with a random key from the key file. It holds the sealed events (what
//! syncs), the case keys wrapped under the device's master key, a projection of each case's
//! current state for listing and search, and the audit log. Every command that returns success
//! has committed its event, projection and audit entry in one transaction.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use uuid::Uuid;

mod audit_sync;
mod backup;
mod discard;
mod drafts;
mod duplicate_batch;
mod exchange;
pub(crate) mod facts;
mod join_later;
mod membership;
mod migrations;
mod projections;
mod referral_receipts;
mod referrals;
mod revocation;
mod screening;
mod screening_result;
mod search;
mod services;
mod services_rebase;
mod trafficking;
pub mod wipe;

pub use audit_sync::{AUDIT_KIND, DeviceAudit, audit_channel};
pub use backup::{BackupSummary, RestoreSummary};
pub use discard::{CREATED_IN_ERROR, Held};
pub use exchange::{ApplyReport, ClockWarning, PulledSignatures};
pub use membership::{DeploymentPlan, Enrolment};
pub use referrals::{Delivery, ReferralInput, ReferralNews};
pub use revocation::{Rotation, TEAM_KEY_KIND, team_key_channel};
pub use screening::{
    ConsentShared, ContactShared, DUPLICATE_PREFILTER_LIMIT, DuplicateCandidate, IdentityShared, NoteShared,
    ReferralPacket, ScreeningShared, SummaryShared,
};
pub use screening_result::{CaseSuggestion, FROM_SCREENING, ListSuggestion, RiskSuggestion, risk_for};
pub use services::{Refusal, ServiceDirectoryReceived};
pub use trafficking::{JusticeInput, PerpetratorInput, ProcessInput};

use crate::audit::{self, AuditEntry};
use crate::crypto::{self, CaseKey, KdfParams, Secret};
use crate::error::{Error, Result};
use crate::event::{Change, Clock, Event, FieldEdit, Hlc, SealedEvent};
use crate::fold::CaseState;
use crate::ids::{CaseCode, CaseId, CodePrefix, DeviceId, EntryId, EventId};
use crate::keyfile::{self, LocalSecrets};
use crate::model::{
    CaseFields, CaseStatus, Consent, ConsentMethod, ConsentScope, Field, FieldValue, Note, RiskLevel, Screening, values,
};

pub const DB_FILE: &str = "harbour.db";
const FAILED_UNLOCKS_FILE: &str = "failed-unlocks.log";
/// The newest database layout this version understands.
pub const SCHEMA_VERSION: i64 = 8;
/// The shortest passphrase accepted for a new workspace.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// How a new workspace is set up.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    pub kdf: KdfParams,
    pub code_prefix: CodePrefix,
    /// The worker's name on this laptop, recorded as the author of changes and in the audit log.
    pub worker: String,
}

impl Default for CreateOptions {
    fn default() -> CreateOptions {
        CreateOptions { kdf: KdfParams::STANDARD, code_prefix: CodePrefix::default(), worker: "worker".into() }
    }
}

/// One line of the case list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    pub id: CaseId,
    pub code: CaseCode,
    pub name: String,
    pub status: CaseStatus,
    pub risk_level: Option<RiskLevel>,
    pub team: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub needs_review: bool,
}

/// What to list: a search text (name, alias or code fragment; accents and case ignored) and filters.
#[derive(Clone, Debug, Default)]
pub struct CaseQuery {
    pub search: Option<String>,
    pub status: Option<CaseStatus>,
    pub team: Option<String>,
    /// Cases last changed on or after this day (UTC).
    pub updated_from: Option<NaiveDate>,
    /// Cases last changed on or before this day (UTC).
    pub updated_to: Option<NaiveDate>,
    pub needs_review: bool,
    /// At most this many, newest first; 0 means no limit.
    pub limit: usize,
}

/// A consent as typed by a worker.
#[derive(Clone, Debug)]
pub struct ConsentInput {
    pub scope: Vec<ConsentScope>,
    pub shared_with: String,
    pub given_on: NaiveDate,
    pub method: ConsentMethod,
    pub note: Option<String>,
}

/// An unlocked workspace. Dropping it locks: the connection closes and every key is zeroized.
///
/// Commands return the case as stored after the change: its fields, conflicts, consents and
/// referrals, without notes, screenings or history; [`Workspace::view_case`] gives the whole case.
pub struct Workspace {
    dir: PathBuf,
    conn: Connection,
    secrets: LocalSecrets,
    clock: Clock,
    worker: String,
    code_prefix: CodePrefix,
    case_keys: HashMap<CaseId, CaseKey>,
    /// Projections of recently written cases, so that a change does not read and parse the
    /// case back from the database first. Always equal to the stored projection.
    recent: HashMap<CaseId, CaseState>,
    /// Every case's facts as the figures count them, once read (`facts.rs`).
    figures_cache: std::cell::RefCell<crate::stats::cache::FactsCache>,
    sealer: keyfile::Sealer,
    /// Set only by [`Workspace::create_unencrypted_baseline`].
    #[cfg(feature = "unencrypted-baseline")]
    unencrypted: bool,
}

/// How many case projections [`Workspace`] keeps in memory.
const RECENT_CASES: usize = 256;

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace").field("dir", &self.dir).field("device", &self.secrets.device_id).finish()
    }
}

#[cfg(feature = "unencrypted-baseline")]
impl Workspace {
    /// For the write benchmark's baseline only: a workspace doing exactly the same work per
    /// write, with neither of the two encryption layers: its database is a plain SQLite file
    /// and its events are compressed but not sealed. Writes only; it cannot be unlocked again.
    /// Built only with the `unencrypted-baseline` feature, which the app, the CLI and the
    /// server never enable.
    pub fn create_unencrypted_baseline(dir: &Path, options: &CreateOptions) -> Result<Workspace> {
        create_private_dir(dir)?;
        let conn = prepare_database(dir, Connection::open(dir.join(DB_FILE))?)?;
        conn.execute_batch("BEGIN")?;
        conn.prepare_cached("INSERT INTO meta (key, value) VALUES ('worker', ?1)")?.execute([&options.worker])?;
        audit::append(&conn, Utc::now(), &options.worker, "workspace.create", None, "")?;
        conn.execute_batch("COMMIT")?;
        Ok(Workspace {
            dir: dir.to_owned(),
            conn,
            secrets: LocalSecrets {
                device_id: DeviceId::new(),
                db_key: Secret::random(),
                master_key: Secret::random(),
                membership: None,
            },
            clock: Clock::default(),
            worker: options.worker.clone(),
            code_prefix: options.code_prefix.clone(),
            case_keys: HashMap::new(),
            recent: HashMap::new(),
            figures_cache: Default::default(),
            sealer: keyfile::Sealer::new("unused baseline passphrase", options.kdf)?,
            unencrypted: true,
        })
    }
}

impl Workspace {
    /// Whether `dir` holds a workspace.
    pub fn exists(dir: &Path) -> bool {
        keyfile::path(dir).exists() || dir.join(DB_FILE).exists()
    }

    /// Creates a new workspace in `dir`; refuses when one is already there.
    pub fn create(dir: &Path, passphrase: &str, options: &CreateOptions) -> Result<Workspace> {
        Workspace::create_with(dir, passphrase, options, DeviceId::new(), None)
    }

    /// Creates a workspace that is a device of a deployment from the start (enrolment).
    pub fn create_member(
        dir: &Path,
        passphrase: &str,
        options: &CreateOptions,
        device_id: DeviceId,
        membership: keyfile::Membership,
    ) -> Result<Workspace> {
        Workspace::create_with(dir, passphrase, options, device_id, Some(membership))
    }

    fn create_with(
        dir: &Path,
        passphrase: &str,
        options: &CreateOptions,
        device_id: DeviceId,
        membership: Option<keyfile::Membership>,
    ) -> Result<Workspace> {
        check_new_passphrase(passphrase)?;
        let worker = values::short_text("worker", &options.worker)?;
        if Workspace::exists(dir) {
            return Err(Error::WorkspaceExists(dir.to_owned()));
        }
        create_private_dir(dir)?;
        let secrets = LocalSecrets { device_id, db_key: Secret::random(), master_key: Secret::random(), membership };
        let sealer = keyfile::Sealer::new(passphrase, options.kdf)?;
        let conn = open_database(dir, &secrets.db_key)?;
        conn.execute_batch("BEGIN")?;
        conn.prepare_cached("INSERT INTO meta (key, value) VALUES ('worker', ?1)")?.execute([&worker])?;
        conn.prepare_cached("INSERT INTO meta (key, value) VALUES ('code_prefix', ?1)")?
            .execute([serde_json::to_string(&options.code_prefix).expect("a prefix serializes")])?;
        conn.prepare_cached("INSERT INTO meta (key, value) VALUES ('device_id', ?1)")?
            .execute([secrets.device_id.to_string()])?;
        audit::append(&conn, Utc::now(), &worker, "workspace.create", None, "")?;
        conn.execute_batch("COMMIT")?;
        // The key file is written last: a workspace without it is unusable, never half-open.
        keyfile::write(dir, &sealer, &secrets)?;
        Ok(Workspace {
            dir: dir.to_owned(),
            conn,
            secrets,
            clock: Clock::default(),
            worker,
            code_prefix: options.code_prefix.clone(),
            case_keys: HashMap::new(),
            recent: HashMap::new(),
            figures_cache: Default::default(),
            sealer,
            #[cfg(feature = "unencrypted-baseline")]
            unencrypted: false,
        })
    }

    /// Unlocks the workspace in `dir`. A wrong passphrase is recorded and reported to the audit
    /// log at the next successful unlock.
    pub fn unlock(dir: &Path, passphrase: &str) -> Result<Workspace> {
        let (secrets, sealer) = match keyfile::unlock(dir, passphrase) {
            Ok(unlocked) => unlocked,
            Err(Error::WrongPassphrase) => {
                record_failed_unlock(dir)?;
                return Err(Error::WrongPassphrase);
            }
            Err(other) => return Err(other),
        };
        let conn = open_database(dir, &secrets.db_key)?;
        let meta = |key: &str| -> Result<Option<String>> {
            Ok(conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |row| row.get(0))
                .optional()?)
        };
        let worker = meta("worker")?.unwrap_or_else(|| "worker".into());
        let code_prefix = meta("code_prefix")?.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
        let last = match (meta("hlc")?, meta("device_seq")?) {
            (Some(hlc), _) => Hlc::from_sortable(&hlc).ok_or_else(|| Error::Corrupt("clock".into()))?,
            _ => Hlc::default(),
        };
        let mut workspace = Workspace {
            dir: dir.to_owned(),
            conn,
            secrets,
            clock: Clock { last, fixed_ms: None },
            worker,
            code_prefix,
            case_keys: HashMap::new(),
            recent: HashMap::new(),
            figures_cache: Default::default(),
            sealer,
            #[cfg(feature = "unencrypted-baseline")]
            unencrypted: false,
        };
        workspace.import_failed_unlocks()?;
        workspace.ensure_identity()?;
        workspace.note_listing()?;
        Ok(workspace)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn device_id(&self) -> DeviceId {
        self.secrets.device_id
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Re-seals the key file under a new passphrase. The data is not touched.
    pub fn change_passphrase(&mut self, new_passphrase: &str) -> Result<()> {
        check_new_passphrase(new_passphrase)?;
        self.sealer = keyfile::Sealer::new(new_passphrase, self.sealer.params())?;
        keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        self.audit_now("passphrase.change", None, "")
    }

    // ----- cases -----

    /// Records a new case. Its key is made here, and granted to no one else yet.
    pub fn create_case(&mut self, fields: CaseFields) -> Result<CaseState> {
        let mut states = self.create_cases(vec![fields])?;
        Ok(states.pop().expect("one case in, one case out"))
    }

    /// Records many new cases in one transaction (an import from paper or another system):
    /// all are stored, or none.
    pub fn create_cases(&mut self, cases: Vec<CaseFields>) -> Result<Vec<CaseState>> {
        let mut pending = Vec::with_capacity(cases.len());
        let mut codes = std::collections::HashSet::new();
        for fields in cases {
            let case_id = CaseId::new();
            let key = CaseKey::generate();
            let wrapped =
                crypto::wrap(&self.secrets.master_key, &case_key_context(case_id, key.id), key.secret.expose());
            let new_key = (key.id, wrapped);
            self.case_keys.insert(case_id, key);
            let code = loop {
                let code = self.unused_code()?;
                if codes.insert(code.clone()) {
                    break code;
                }
            };
            let change = Change::CaseCreated { code, fields };
            pending.push(Pending {
                case_id,
                change,
                action: "case.create",
                detail: String::new(),
                new_key: Some(new_key),
                state: None,
            });
        }
        self.record_all(pending)
    }

    /// Sets fields of a case. Each edit replaces the versions this device currently sees.
    pub fn update_case(
        &mut self,
        case_id: CaseId,
        values: Vec<FieldValue>,
        reason: Option<String>,
    ) -> Result<CaseState> {
        if values.is_empty() {
            return Err(Error::invalid("fields", "nothing to change; give at least one FIELD=VALUE"));
        }
        let state = self.state(case_id)?;
        self.update_from(state, values, reason)
    }

    /// Records field edits against a state already loaded (one read of the projection per command).
    fn update_from(&mut self, state: CaseState, values: Vec<FieldValue>, reason: Option<String>) -> Result<CaseState> {
        let detail = values.iter().map(|value| value.field().as_str()).collect::<Vec<_>>().join(",");
        let edits = values
            .into_iter()
            .map(|value| FieldEdit { replaces: state.current_versions(value.field()), set: value })
            .collect();
        self.record_on(state, Change::CaseUpdated { edits, reason }, "case.update", &detail)
    }

    /// Closes a case (HTCDS Closed, or ClosedReferred when the person was referred on).
    pub fn close_case(&mut self, case_id: CaseId, reason: &str, referred: bool) -> Result<CaseState> {
        let reason = values::long_text("reason", reason)?;
        let state = self.state(case_id)?;
        if matches!(state.fields.status, CaseStatus::Closed | CaseStatus::ClosedReferred) {
            return Err(Error::invalid(
                "status",
                "the case is already closed; reopen it first to change how it was closed",
            ));
        }
        let status = if referred { CaseStatus::ClosedReferred } else { CaseStatus::Closed };
        self.update_from(state, vec![FieldValue::Status(status)], Some(reason))
    }

    /// Reopens a closed case as active.
    pub fn reopen_case(&mut self, case_id: CaseId, reason: &str) -> Result<CaseState> {
        let reason = values::long_text("reason", reason)?;
        let state = self.state(case_id)?;
        if !matches!(state.fields.status, CaseStatus::Closed | CaseStatus::ClosedReferred) {
            return Err(Error::invalid("status", "the case is not closed, so it cannot be reopened"));
        }
        self.update_from(state, vec![FieldValue::Status(CaseStatus::Active)], Some(reason))
    }

    /// Settles a conflict by keeping one of the concurrent versions of a field.
    pub fn resolve_conflict(&mut self, case_id: CaseId, field: Field, keep: EventId) -> Result<CaseState> {
        let state = self.state(case_id)?;
        let conflict = state
            .conflicts
            .iter()
            .find(|conflict| conflict.field == field)
            .ok_or_else(|| Error::invalid(field.as_str(), "has no conflicting versions to choose between"))?;
        let version = conflict
            .versions
            .iter()
            .find(|version| version.stamp.event_id == keep)
            .ok_or_else(|| Error::invalid(field.as_str(), "that version is not one of the conflicting ones"))?;
        self.update_case(case_id, vec![version.value.clone()], Some("conflict resolved".into()))
    }

    pub fn add_note(&mut self, case_id: CaseId, text: &str) -> Result<(EntryId, CaseState)> {
        let note = Note { id: EntryId::new(), text: values::long_text("text", text)? };
        let id = note.id;
        Ok((id, self.record(case_id, Change::NoteAdded { note }, "note.add", "")?))
    }

    pub fn add_consent(&mut self, case_id: CaseId, input: ConsentInput) -> Result<(EntryId, CaseState)> {
        if input.scope.is_empty() {
            return Err(Error::invalid("share", "say what the person agreed to share, such as identity,case_summary"));
        }
        let consent = Consent {
            id: EntryId::new(),
            scope: input.scope,
            shared_with: values::short_text("with", &input.shared_with)?,
            given_on: input.given_on,
            method: input.method,
            note: input.note.as_deref().map(|note| values::long_text("note", note)).transpose()?,
        };
        let id = consent.id;
        let state = self.record(case_id, Change::ConsentRecorded { consent }, "consent.add", "")?;
        Ok((id, state))
    }

    /// Records a filled screening (validated and scored by the form engine before it gets here).
    pub fn add_screening(&mut self, case_id: CaseId, screening: Screening) -> Result<CaseState> {
        let detail = format!("{} v{}", screening.form_id, screening.form_version);
        self.record(case_id, Change::ScreeningRecorded { screening }, "screening.add", &detail)
    }

    /// Finds a case by id or code (as typed: case and dashes forgiven).
    pub fn resolve(&self, id_or_code: &str) -> Result<CaseId> {
        let found: Option<String> = if let Ok(id) = id_or_code.parse::<CaseId>() {
            self.conn
                .prepare_cached("SELECT id FROM cases WHERE id = ?1")?
                .query_row([id.to_string()], |row| row.get(0))
                .optional()?
        } else if let Some(code) = CaseCode::parse(id_or_code) {
            self.conn
                .prepare_cached("SELECT id FROM cases WHERE code = ?1")?
                .query_row([code.as_str()], |row| row.get(0))
                .optional()?
        } else {
            None
        };
        match found {
            Some(id) => id.parse(),
            None => Err(Error::CaseNotFound(id_or_code.trim().to_owned())),
        }
    }

    /// The whole case, for a person to read. Recorded in the audit log as a view.
    pub fn view_case(&mut self, case_id: CaseId) -> Result<CaseState> {
        let state = self.full_state(case_id)?;
        self.audit_now("case.view", Some(case_id), "")?;
        Ok(state)
    }

    /// The whole case, to redraw it on the screen of the person who has just changed it. The
    /// change's own audit entry already records that they had the case open, so no view is
    /// added when the newest entry is their change to this case, made within the last minute;
    /// otherwise this is [`Workspace::view_case`].
    pub fn case_after_change(&mut self, case_id: CaseId) -> Result<CaseState> {
        if !audit::last_is_change_to(&self.conn, &self.worker, case_id, Utc::now(), chrono::Duration::minutes(1))? {
            return self.view_case(case_id);
        }
        self.full_state(case_id)
    }

    /// The whole case, to leave this laptop in clear (a file, a printout). Audited as an export.
    pub fn export_case(&mut self, case_id: CaseId) -> Result<CaseState> {
        let state = self.full_state(case_id)?;
        self.audit_now("case.export", Some(case_id), "")?;
        Ok(state)
    }

    /// Lists cases, newest change first.
    pub fn list_cases(&self, query: &CaseQuery) -> Result<Vec<CaseSummary>> {
        let search = query.search.as_deref().map(search::fts_query).filter(|text| !text.is_empty());
        let from_ms = query.updated_from.map(day_start_ms);
        let to_ms = query.updated_to.map(|day| day_start_ms(day) + 86_400_000 - 1);
        let limit = if query.limit == 0 { -1 } else { query.limit as i64 };
        // A search lists the newest cases first straight from the full-text index, so it stops
        // after `limit` matches instead of sorting every case that matches a short fragment.
        let (source, order) = if search.is_some() {
            ("FROM case_search s JOIN cases c ON c.rowid = s.rowid WHERE case_search MATCH ?1", "s.rowid DESC")
        } else {
            ("FROM cases c WHERE ?1 IS NULL", "c.updated_ms DESC")
        };
        let sql = format!(
            "SELECT c.id, c.code, c.name, c.status, c.risk, c.team, c.created_ms, c.updated_ms, c.needs_review {source}
               AND (?2 IS NULL OR c.status = ?2) AND (?3 IS NULL OR c.team = ?3)
               AND (?4 IS NULL OR c.updated_ms >= ?4) AND (?5 IS NULL OR c.updated_ms <= ?5)
               AND (?6 = 0 OR c.needs_review = 1)
             ORDER BY {order} LIMIT ?7"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            params![
                search,
                query.status.map(|status| status.as_str()),
                query.team,
                from_ms,
                to_ms,
                query.needs_review,
                limit
            ],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, bool>(8)?,
                ))
            },
        )?;
        let mut summaries = Vec::new();
        for row in rows {
            let (id, code, name, status, risk, team, created, updated, needs_review) = row?;
            summaries.push(CaseSummary {
                id: id.parse()?,
                code: CaseCode::parse(&code).ok_or_else(|| Error::Corrupt("case code".into()))?,
                name,
                status: CaseStatus::parse(&status).ok_or_else(|| Error::Corrupt("case status".into()))?,
                risk_level: risk.as_deref().and_then(RiskLevel::parse),
                team,
                created_at: format_ms(created),
                updated_at: format_ms(updated),
                needs_review,
            });
        }
        Ok(summaries)
    }

    pub fn case_count(&self) -> Result<i64> {
        Ok(self.conn.prepare_cached("SELECT count(*) FROM cases")?.query_row([], |row| row.get(0))?)
    }

    // ----- audit -----

    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        audit::recent(&self.conn, limit)
    }

    /// Checks the whole audit chain; returns how many entries it holds.
    pub fn verify_audit(&self) -> Result<i64> {
        audit::verify(&self.conn)
    }

    // ----- events (what sync exchanges) -----

    /// Sealed events of this device not yet acknowledged by the server, oldest first. Handing
    /// them out is remembered: they may reach the server from now on, so their cases can no
    /// longer be discarded ([`Workspace::discard_case`]).
    pub fn pending_events(&self, limit: usize) -> Result<Vec<SealedEvent>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext
             FROM events WHERE device_id = ?1 AND device_seq > ?2 AND sent = 0 ORDER BY device_seq LIMIT ?3",
        )?;
        let (device, cursor) = self.unsent_range()?;
        let rows = statement.query_map(params![device, cursor, limit as i64], sealed_from_row)?;
        let events = rows.collect::<Result<Vec<_>, _>>()?;
        discard::note_handed_out(&self.conn, &events)?;
        Ok(events)
    }

    /// Every sealed event of a case, in fold order.
    pub fn case_events(&self, case_id: CaseId) -> Result<Vec<SealedEvent>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext
             FROM events WHERE case_id = ?1 ORDER BY hlc, device_id, id",
        )?;
        let rows = statement.query_map([case_id.to_string()], sealed_from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Integrity check of the database file (SQLite's own).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }

    // ----- internals -----

    /// The current state of a case from its projection: fields, conflicts, consents and
    /// referrals, but not notes, screenings or history (see [`CaseState::without_entries`]).
    fn state(&self, case_id: CaseId) -> Result<CaseState> {
        if let Some(state) = self.recent.get(&case_id) {
            return Ok(state.clone());
        }
        load_state(&self.conn, case_id)?.ok_or_else(|| Error::CaseNotFound(case_id.to_string()))
    }

    /// Remembers the projections just committed (in the stored form, without entries).
    fn remember(&mut self, states: &[CaseState]) {
        if self.recent.len() + states.len() > RECENT_CASES {
            self.recent.clear();
        }
        for state in states.iter().take(RECENT_CASES) {
            self.recent.insert(state.id, state.clone());
        }
    }

    /// The whole case, entries and history included: folded again from its events.
    pub(crate) fn full_state(&mut self, case_id: CaseId) -> Result<CaseState> {
        let key = self.case_key(case_id)?;
        let events = open_case_events(&self.conn, &key, case_id)?;
        CaseState::fold(&events).ok_or_else(|| Error::CaseNotFound(case_id.to_string()))
    }

    fn case_key(&mut self, case_id: CaseId) -> Result<CaseKey> {
        if let Some(key) = self.case_keys.get(&case_id) {
            return Ok(key.clone());
        }
        let key = load_case_key(&self.conn, &self.secrets.master_key, case_id)?
            .ok_or_else(|| Error::MissingCaseKey(case_id.to_string()))?;
        self.case_keys.insert(case_id, key.clone());
        Ok(key)
    }

    fn unused_code(&self) -> Result<CaseCode> {
        loop {
            let code = CaseCode::generate(&self.code_prefix);
            let taken: bool = self
                .conn
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM cases WHERE code = ?1)")?
                .query_row([code.as_str()], |row| row.get(0))?;
            if !taken {
                return Ok(code);
            }
        }
    }

    fn record(&mut self, case_id: CaseId, change: Change, action: &'static str, detail: &str) -> Result<CaseState> {
        let pending = Pending { case_id, change, action, detail: detail.to_owned(), new_key: None, state: None };
        Ok(self.record_all(vec![pending])?.pop().expect("one change in, one state out"))
    }

    /// [`Workspace::record`] for a case whose state the caller has just read.
    fn record_on(&mut self, state: CaseState, change: Change, action: &'static str, detail: &str) -> Result<CaseState> {
        let pending =
            Pending { case_id: state.id, change, action, detail: detail.to_owned(), new_key: None, state: Some(state) };
        Ok(self.record_all(vec![pending])?.pop().expect("one change in, one state out"))
    }

    /// Makes local changes durable: seals each event, stores it, updates the case's projection
    /// and search index, and appends the audit entry — all in one transaction.
    fn record_all(&mut self, pending: Vec<Pending>) -> Result<Vec<CaseState>> {
        let keys = pending.iter().map(|item| self.case_key(item.case_id)).collect::<Result<Vec<_>>>()?;
        // A new case of a deployment's device is granted to its team and to the ministry.
        let grant_to = if pending.iter().any(|item| item.new_key.is_some()) { self.home_teams()? } else { Vec::new() };
        #[cfg(feature = "unencrypted-baseline")]
        let seal = if self.unencrypted { crypto::unsealed_for_baseline } else { crypto::seal };
        #[cfg(not(feature = "unencrypted-baseline"))]
        let seal = crypto::seal;
        let now = Utc::now();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut device_seq = last_device_seq(&tx)?;
        let mut states = Vec::with_capacity(pending.len());
        // Made on the first grant: its ephemeral key costs an X25519 key generation.
        let mut grants: Option<crate::deployment::GrantSealer> = None;
        let author = self.secrets.membership.as_ref().and_then(|membership| membership.identity.as_ref());
        for (item, key) in pending.into_iter().zip(keys) {
            device_seq += 1;
            let event = Event {
                id: EventId::new(),
                case_id: item.case_id,
                device_id: self.secrets.device_id,
                device_seq: device_seq as u64,
                hlc: self.clock.tick(now.timestamp_millis().max(0) as u64),
                author: self.worker.clone(),
                change: item.change,
            };
            let mut state = match &event.change {
                Change::CaseCreated { .. } => CaseState::fold([&event]).expect("a creation event folds"),
                _ => {
                    let mut state = match item.state.or_else(|| self.recent.remove(&item.case_id)) {
                        Some(state) => state,
                        None => load_state(&tx, item.case_id)?
                            .ok_or_else(|| Error::CaseNotFound(item.case_id.to_string()))?,
                    };
                    if event.order() > state.last {
                        state.apply(&event);
                        state
                    } else {
                        // A received event carries a later clock than ours (clamped skew): fold again.
                        let mut events = open_case_events(&tx, &key, item.case_id)?;
                        events.push(event.clone());
                        CaseState::fold(&events).ok_or_else(|| Error::CaseNotFound(item.case_id.to_string()))?
                    }
                }
            };
            let sealed = seal(&event, &key);
            let max = harbour_wire::protocol::MAX_SEALED_EVENT_BYTES;
            if sealed.ciphertext.len() > max {
                return Err(Error::ChangeTooLarge { bytes: sealed.ciphertext.len(), max });
            }
            insert_own(&tx, &sealed)?;
            if item.new_key.is_some() {
                for team in &grant_to {
                    device_seq += 1;
                    let hlc = self.clock.tick(now.timestamp_millis().max(0) as u64);
                    let author = author.ok_or_else(membership::needs_new_invitation)?;
                    let grant = grants.get_or_insert_with(|| crate::deployment::GrantSealer::new(author)).seal(
                        item.case_id,
                        &key,
                        team,
                        self.secrets.device_id,
                        device_seq as u64,
                        hlc,
                    )?;
                    insert_own(&tx, &grant)?;
                }
            }
            if let Some((key_id, wrapped)) = &item.new_key {
                tx.prepare_cached("INSERT INTO case_keys (key_id, case_id, wrapped) VALUES (?1, ?2, ?3)")?.execute(
                    params![
                        key_id.to_string(),
                        item.case_id.to_string(),
                        serde_json::to_string(wrapped).expect("wrapped keys serialize")
                    ],
                )?;
            }
            save_state(&tx, &state, false)?;
            audit::append(&tx, now, &self.worker, item.action, Some(item.case_id), &item.detail)?;
            // What commands return is the stored form (see `CaseState::without_entries`).
            state.notes.clear();
            state.screenings.clear();
            state.history.clear();
            states.push(state);
        }
        set_meta(&tx, "device_seq", &device_seq.to_string())?;
        set_meta(&tx, "hlc", &self.clock.last.to_sortable())?;
        tx.commit()?;
        self.remember(&states);
        Ok(states)
    }

    pub(crate) fn audit_now(&mut self, action: &str, case_id: Option<CaseId>, detail: &str) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        audit::append(&tx, Utc::now(), &self.worker, action, case_id, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Moves failed-unlock records (timestamps only) into the audit chain.
    fn import_failed_unlocks(&mut self) -> Result<()> {
        let path = self.dir.join(FAILED_UNLOCKS_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(Error::io(&path, error)),
        };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let at = DateTime::parse_from_rfc3339(line.trim())
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now());
            audit::append(&tx, at, "unknown", "unlock.failed", None, "wrong passphrase")?;
        }
        tx.commit()?;
        fs::remove_file(&path).map_err(|error| Error::io(&path, error))
    }
}

/// A case's key from the database, unwrapped with the device's master key.
fn load_case_key(conn: &Connection, master: &Secret, case_id: CaseId) -> Result<Option<CaseKey>> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT key_id, wrapped FROM case_keys WHERE case_id = ?1 ORDER BY rowid LIMIT 1")?
        .query_row([case_id.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((key_id, wrapped)) = row else { return Ok(None) };
    let key_id = Uuid::parse_str(&key_id).map_err(|_| Error::Corrupt("case key id".into()))?;
    let wrapped = serde_json::from_str(&wrapped).map_err(|_| Error::Corrupt("wrapped case key".into()))?;
    let bytes = crypto::unwrap(master, &case_key_context(case_id, key_id), &wrapped).ok_or(Error::Tampered)?;
    let secret = Secret::from_slice(&bytes).ok_or_else(|| Error::Corrupt("case key length".into()))?;
    Ok(Some(CaseKey { id: key_id, secret }))
}

/// Stores a case key wrapped under the master key; a key already held is left as it is.
fn store_case_key(conn: &Connection, master: &Secret, case_id: CaseId, key: &CaseKey) -> Result<bool> {
    let wrapped = crypto::wrap(master, &case_key_context(case_id, key.id), key.secret.expose());
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO case_keys (key_id, case_id, wrapped) VALUES (?1, ?2, ?3)")?
        .execute(params![
            key.id.to_string(),
            case_id.to_string(),
            serde_json::to_string(&wrapped).expect("wrapped keys serialize")
        ])?;
    Ok(inserted == 1)
}

/// Every event of a case that opens with `key`, in clear (grants and events that fail to open
/// are left out: they are not the case's changes).
fn open_case_events(conn: &Connection, key: &CaseKey, case_id: CaseId) -> Result<Vec<Event>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext
         FROM events WHERE case_id = ?1 AND kind <> ?2",
    )?;
    let rows = statement.query_map(params![case_id.to_string(), crate::deployment::GRANT_KIND], sealed_from_row)?;
    let mut events = Vec::new();
    for sealed in rows {
        if let Ok(event) = crypto::open(&sealed?, key) {
            events.push(event);
        }
    }
    Ok(events)
}

/// One change waiting to be recorded.
struct Pending {
    case_id: CaseId,
    change: Change,
    action: &'static str,
    detail: String,
    /// For a new case: its key, wrapped under the master key, to store beside the event.
    new_key: Option<(Uuid, crypto::Wrapped)>,
    /// The case's current state, when the caller has already read it.
    state: Option<CaseState>,
}

fn case_key_context(case_id: CaseId, key_id: Uuid) -> Vec<u8> {
    format!("harbour-case-key:{case_id}:{key_id}").into_bytes()
}

fn check_new_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::invalid(
            "passphrase",
            format!("use at least {MIN_PASSPHRASE_CHARS} characters; a few unrelated words are easy to remember"),
        ));
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|error| Error::io(dir, error))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|error| Error::io(dir, error))?;
    }
    Ok(())
}

fn record_failed_unlock(dir: &Path) -> Result<()> {
    let path = dir.join(FAILED_UNLOCKS_FILE);
    let mut file =
        fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|error| Error::io(&path, error))?;
    writeln!(file, "{}", Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true))
        .and_then(|()| file.sync_all())
        .map_err(|error| Error::io(&path, error))
}

/// Opens (creating if needed) the SQLCipher database with its raw key, refusing a newer layout
/// without writing to it, then migrates an older one.
fn open_database(dir: &Path, key: &Secret) -> Result<Connection> {
    prepare_database(dir, keyed_connection(&dir.join(DB_FILE), key)?)
}

/// Opens the SQLCipher file `path` with its raw key and the workspace's cipher settings.
fn keyed_connection(path: &Path, key: &Secret) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // SQLCipher reports failed page checks on stderr by default; errors reach the caller instead.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    let pragma = zeroize::Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()));
    conn.execute_batch(&pragma)?;
    // HMAC-SHA256 for page authentication: as strong here, and much faster than SHA-512 on
    // processors with SHA extensions. Set on every open, before the first page is read.
    conn.execute_batch("PRAGMA cipher_hmac_algorithm = HMAC_SHA256;")?;
    Ok(conn)
}

/// Everything an opened database gets after its key: settings, the version check, migrations.
fn prepare_database(dir: &Path, conn: Connection) -> Result<Connection> {
    conn.set_prepared_statement_cache_capacity(64);
    // Plans never depend on the values bound: without this, SQLite marks a statement whose
    // WHERE compares a column with a parameter as "re-plan when rebound", and the statement
    // cache clears every statement's bindings when it takes it back, so most cached queries
    // were parsed and planned again at every use (15 % of applying a pulled page).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Temporary tables and sorts stay in memory: nothing in clear in temp files.
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(|error| match error {
        rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::NotADatabase => {
            Error::KeyFile { path: keyfile::path(dir), why: "its database key does not open harbour.db".into() }
        }
        other => Error::Database(other),
    })?;
    if version > SCHEMA_VERSION {
        return Err(Error::NewerSchema { found: version, known: SCHEMA_VERSION });
    }
    conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0))?;
    // A 64 MiB page cache: decrypted pages stay in memory instead of being decrypted again.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536;",
    )?;
    migrations::migrate(&conn, version)?;
    search::index_code_parts(&conn)?;
    Ok(conn)
}

/// This device's events up to this sequence number have all been acknowledged by the server.
fn sent_through(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'sent_through'")?
        .query_row([], |row| row.get::<_, String>(0))
        .optional()?
        .map_or(Ok(0), |text| text.parse::<i64>().map_err(|_| Error::Corrupt("sent events cursor".into())))
}

/// The sequence number of this device's last event (0 before the first).
fn last_device_seq(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'device_seq'")?
        .query_row([], |row| row.get::<_, String>(0))
        .optional()?
        .map_or(Ok(0), |text| text.parse::<i64>().map_err(|_| Error::Corrupt("device sequence".into())))
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// What storing a sealed event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    /// A new event.
    New,
    /// This very event was already here (same device, number and id): harmless.
    Duplicate,
    /// Another event already holds this device's number: one of the two was forged, or the
    /// device reused a number. The new one is not stored.
    Conflict,
}

fn insert_sealed(conn: &Connection, sealed: &SealedEvent, sent: bool) -> Result<Stored> {
    let inserted = conn.prepare_cached("INSERT OR IGNORE INTO events (id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext, sent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(params![
            sealed.id.to_string(),
            sealed.case_id.to_string(),
            sealed.kind,
            sealed.device_id.to_string(),
            sealed.device_seq as i64,
            sealed.hlc.to_sortable(),
            sealed.key_id.to_string(),
            sealed.nonce,
            sealed.ciphertext,
            sent
        ],
    )?;
    if inserted == 1 {
        return Ok(Stored::New);
    }
    Ok(match held_at(conn, sealed.device_id, sealed.device_seq)? {
        // The same event in every part, metadata included (one moved to another case is not).
        Some(held) if held == *sealed => Stored::Duplicate,
        _ => Stored::Conflict,
    })
}

/// The stored event holding a device's number, if any.
fn held_at(conn: &Connection, device_id: Uuid, device_seq: u64) -> Result<Option<SealedEvent>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext
             FROM events WHERE device_id = ?1 AND device_seq = ?2",
        )?
        .query_row(params![device_id.to_string(), device_seq as i64], sealed_from_row)
        .optional()?)
}

/// Stores an event made on this laptop: its number must be free.
fn insert_own(conn: &Connection, sealed: &SealedEvent) -> Result<()> {
    match insert_sealed(conn, sealed, false)? {
        Stored::New => Ok(()),
        Stored::Duplicate | Stored::Conflict => Err(Error::SequenceTaken(sealed.device_seq)),
    }
}

fn sealed_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SealedEvent> {
    let uuid = |index: usize| -> rusqlite::Result<Uuid> {
        let text: String = row.get(index)?;
        Uuid::parse_str(&text).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error))
        })
    };
    let hlc_text: String = row.get(5)?;
    Ok(SealedEvent {
        format: crypto::SEALED_FORMAT,
        id: uuid(0)?,
        case_id: uuid(1)?,
        kind: row.get(2)?,
        device_id: uuid(3)?,
        device_seq: row.get::<_, i64>(4)? as u64,
        hlc: Hlc::from_sortable(&hlc_text).unwrap_or_default(),
        key_id: uuid(6)?,
        nonce: row.get(7)?,
        ciphertext: row.get(8)?,
    })
}

/// Largest case projection accepted when reading it back.
const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

fn load_state(conn: &Connection, case_id: CaseId) -> Result<Option<CaseState>> {
    let packed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT s.state FROM cases c JOIN case_states s ON s.case_rowid = c.rowid WHERE c.id = ?1")?
        .query_row([case_id.to_string()], |row| row.get(0))
        .optional()?;
    let Some(packed) = packed else { return Ok(None) };
    let json = unpack_projection(&packed)?;
    serde_json::from_slice(&json).map(Some).map_err(|_| Error::Corrupt("case state".into()))
}

/// zstd's fast mode for projections: LZ matches without entropy coding. A projection is
/// rewritten on every change to its case, so the time to pack it counts more than the last
/// bytes (a level-1 frame with its Huffman tables cost ~15 % of applying a pulled page).
const PROJECTION_LEVEL: i32 = -1;

/// Projections under this size are stored as they are: compressing them costs more than it saves.
const COMPRESS_PROJECTION_FROM: usize = 2048;

/// A projection as stored: its JSON, zstd-compressed when large (a JSON object starts with `{`,
/// a zstd frame never does).
fn pack_projection(json: Vec<u8>) -> Vec<u8> {
    if json.len() < COMPRESS_PROJECTION_FROM { json } else { crypto::compress(&json, PROJECTION_LEVEL) }
}

pub(crate) fn unpack_projection(packed: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if packed.first() == Some(&b'{') {
        return Ok(std::borrow::Cow::Borrowed(packed));
    }
    crypto::decompress(packed, MAX_STATE_BYTES)
        .map(std::borrow::Cow::Owned)
        .ok_or_else(|| Error::Corrupt("case state".into()))
}

/// Writes the projection of a case and, when its names changed, its search entry.
fn save_state(conn: &Connection, state: &CaseState, clock_warning: bool) -> Result<()> {
    let search_text = search::search_text(state);
    // Compressed: a case with a long history rewrites fewer (encrypted) pages on every change.
    let json = pack_projection(state.without_entries_json());
    let previous: Option<(i64, String)> = conn
        .prepare_cached("SELECT rowid, search_text FROM cases WHERE id = ?1")?
        .query_row([state.id.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let status = state.fields.status.as_str();
    let risk = state.fields.risk_level.map(|risk| risk.as_str());
    let created = state.created.at_ms() as i64;
    let updated = state.updated.at_ms() as i64;
    let needs_review = state.needs_review() || clock_warning;
    match previous {
        None => {
            conn.prepare_cached("INSERT INTO cases (id, code, name, status, risk, team, created_ms, updated_ms, needs_review, search_text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(params![
                    state.id.to_string(),
                    state.code.as_str(),
                    state.fields.name,
                    status,
                    risk,
                    state.fields.assigned_team,
                    created,
                    updated,
                    needs_review,
                    search_text
                ],
            )?;
            let rowid = conn.last_insert_rowid();
            conn.prepare_cached("INSERT INTO case_states (case_rowid, state) VALUES (?1, ?2)")?
                .execute(params![rowid, json])?;
            conn.prepare_cached("INSERT INTO case_search (rowid, text) VALUES (?1, ?2)")?
                .execute(params![rowid, search_text])?;
            facts::save(conn, rowid, state, needs_review)?;
        }
        Some((rowid, old_search)) => {
            conn.prepare_cached(
                "UPDATE cases SET name = ?2, status = ?3, risk = ?4, team = ?5, updated_ms = max(updated_ms, ?6),
                     needs_review = ?7, search_text = ?8 WHERE rowid = ?1",
            )?
            .execute(params![
                rowid,
                state.fields.name,
                status,
                risk,
                state.fields.assigned_team,
                updated,
                needs_review,
                search_text
            ])?;
            conn.prepare_cached("UPDATE case_states SET state = ?2 WHERE case_rowid = ?1")?
                .execute(params![rowid, json])?;
            facts::save(conn, rowid, state, needs_review)?;
            if old_search != search_text {
                conn.prepare_cached("DELETE FROM case_search WHERE rowid = ?1")?.execute([rowid])?;
                conn.prepare_cached("INSERT INTO case_search (rowid, text) VALUES (?1, ?2)")?
                    .execute(params![rowid, search_text])?;
            }
        }
    }
    Ok(())
}

/// Folds accents, transliterates other scripts to Latin, lower-cases and keeps letters and
/// digits as words: "José-María O'Brien" → "jose maria obrien". The same folding as the
/// duplicate check, so that search and duplicates agree on what a name is.
pub use crate::matching::normalize_name as normalize_text;

fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis()
}

fn format_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
/// A new workspace in a temporary directory (kept while the directory lives), with the fast
/// key derivation tests use.
pub(crate) fn test_workspace() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let options = CreateOptions { kdf: crypto::KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
    let workspace = Workspace::create(&dir.path().join("ws"), "correct horse battery staple", &options).unwrap();
    (dir, workspace)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many times the cached statement `sql` was parsed and planned again since prepared.
    fn times_prepared_again(conn: &Connection, sql: &str) -> i32 {
        conn.prepare_cached(sql).unwrap().get_status(rusqlite::StatementStatus::RePrepare)
    }

    /// A cached query is planned once: reading a case's key or state again for other cases
    /// does not parse and plan the query again (it did at every use: 15 % of applying a page).
    #[test]
    fn cached_queries_are_not_prepared_again_at_each_use() {
        const KEY: &str = "SELECT key_id, wrapped FROM case_keys WHERE case_id = ?1 ORDER BY rowid LIMIT 1";
        const STATE: &str = "SELECT s.state FROM cases c JOIN case_states s ON s.case_rowid = c.rowid WHERE c.id = ?1";
        let (_dir, mut workspace) = test_workspace();
        let cases: Vec<CaseId> = (0..3)
            .map(|index| {
                workspace
                    .create_case(crate::model::CaseFields::named(&format!("Plan Test {index}")).unwrap())
                    .unwrap()
                    .id
            })
            .collect();
        let read_all = |workspace: &Workspace| {
            for case in &cases {
                assert!(load_case_key(&workspace.conn, &workspace.secrets.master_key, *case).unwrap().is_some());
                assert!(load_state(&workspace.conn, *case).unwrap().is_some());
            }
        };
        workspace.conn.flush_prepared_statement_cache();
        read_all(&workspace);
        assert_eq!(times_prepared_again(&workspace.conn, KEY), 0);
        assert_eq!(times_prepared_again(&workspace.conn, STATE), 0);
        // The cause: without the setting, the same reads plan their queries again at each use.
        workspace.conn.flush_prepared_statement_cache();
        workspace.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, false).unwrap();
        read_all(&workspace);
        let again = times_prepared_again(&workspace.conn, KEY) + times_prepared_again(&workspace.conn, STATE);
        assert!(again >= 2, "prepared again {again} times without the setting");
    }

    /// Pages a commit writes are what a local write costs (each is encrypted, authenticated and
    /// written to the log before the fsync). A note changes the case's event, projection, list
    /// row and facts (their last activity), and the audit chain; its search entry and its
    /// dashboard row stay as they were and are not written again.
    #[test]
    fn a_note_writes_only_the_pages_it_changes() {
        let (_dir, mut workspace) = test_workspace();
        let fields: Vec<_> =
            (0..2000).map(|index| crate::model::CaseFields::named(&format!("Page Count {index}")).unwrap()).collect();
        let cases: Vec<CaseId> = fields
            .chunks(500)
            .flat_map(|chunk| workspace.create_cases(chunk.to_vec()).unwrap())
            .map(|state| state.id)
            .collect();
        workspace.conn.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
        let mut frames = Vec::new();
        for index in 0..40 {
            // Everything before is copied into the database: the next commit starts the log again.
            workspace.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
            workspace.add_note(cases[index * 37 % cases.len()], "Called back; all is well.").unwrap();
            let logged: i64 = workspace.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1)).unwrap();
            frames.push(logged);
        }
        frames.sort();
        // Measured: 11 when the dashboard's counts row was written again unchanged, 10 since.
        assert!(frames[20] <= 10, "a note wrote {} pages (median; all: {frames:?})", frames[20]);
    }

    /// The model already bounds every text (a note: 20,000 characters); this is the last line:
    /// a change larger, sealed, than any server accepts is refused when it is made, so it never
    /// blocks the changes after it. Built past the model's checks to reach it.
    #[test]
    fn a_change_too_large_to_sync_is_refused_when_made() {
        let (_dir, mut workspace) = test_workspace();
        let case = workspace.create_case(crate::model::CaseFields::named("Limit Test").unwrap()).unwrap().id;
        let waiting = workspace.pending_count().unwrap();
        // Random letters barely compress: 2 MB of them seal to well over 1 MiB.
        let mut bytes = vec![0u8; 2_000_000];
        crypto::fill_random(&mut bytes);
        let text: String = bytes.iter().map(|byte| char::from(b'a' + byte % 26)).collect();
        let huge = Change::NoteAdded { note: Note { id: EntryId::new(), text: text.clone() } };
        let refused = workspace.record(case, huge, "note.add", "").unwrap_err();
        assert!(matches!(refused, Error::ChangeTooLarge { max, .. } if max == 1024 * 1024), "{refused}");
        assert!(refused.to_string().contains("Nothing was saved"));
        assert_eq!(workspace.pending_count().unwrap(), waiting, "nothing of the refused change waits");
        assert!(workspace.view_case(case).unwrap().notes.is_empty());
        // A large change under the limit is an ordinary change.
        let large = Change::NoteAdded { note: Note { id: EntryId::new(), text: text[..600_000].to_owned() } };
        workspace.record(case, large, "note.add", "").unwrap();
        assert_eq!(workspace.pending_count().unwrap(), waiting + 1);
    }
}
