//! The local half of sync: which sealed events wait to be sent, applying a pulled page (in one
//! transaction with the cursor), and the shares waiting for the server's access grant.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::Utc;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use uuid::Uuid;

use super::{
    Stored, Workspace, held_at, insert_sealed, load_case_key, load_state, open_case_events, save_state,
    sealed_from_row, sent_through, set_meta, store_case_key,
};
use crate::crypto::{self, CaseKey, SEALED_FORMAT};
use crate::deployment::{self, GRANT_KIND};
use crate::error::{Error, Result};
use crate::event::{REFERRAL_MADE_KIND, SealedEvent};
use crate::fold::CaseState;
use crate::ids::{CaseId, DeviceId, EventId};
use harbour_wire::identity::{CertifiedDevice, IdentityError};

/// What applying a pulled page did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Events in the page.
    pub received: usize,
    /// Events new to this laptop (the rest were already here).
    pub stored: usize,
    /// Case keys received through grants.
    pub keys_received: usize,
    /// Cases whose state changed.
    pub cases_updated: usize,
    /// Cases whose events arrived but whose key has not (they wait, sealed).
    pub waiting_for_key: usize,
    /// Events refused because they failed to open (altered, or sealed with another key).
    pub refused: usize,
    /// Events whose clock was far ahead of this laptop's (clamped and flagged).
    pub clock_clamped: usize,
    /// Cases into which a referral made on another laptop arrived (each is looked at for
    /// referrals to this laptop's team: [`Workspace::record_referral_receipts`]).
    #[serde(skip)]
    pub referral_cases: BTreeSet<CaseId>,
}

/// An event recorded by a device whose clock was far ahead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClockWarning {
    pub event_id: EventId,
    pub device_id: DeviceId,
    pub ahead_ms: i64,
}

/// How many of a case's events (grants aside) this laptop holds.
fn stored_events(conn: &rusqlite::Connection, case_id: CaseId) -> Result<usize> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM events WHERE case_id = ?1 AND kind <> ?2")?
        .query_row(params![case_id.to_string(), GRANT_KIND], |row| row.get(0))?;
    Ok(count as usize)
}

/// [`Workspace::pending_changes`]'s count.
const PENDING_CHANGES: &str = "SELECT count(*) FROM events e
      WHERE e.device_id = ?1 AND e.device_seq > ?2 AND e.sent = 0 AND e.case_id <> ?4
        AND (e.kind <> ?3 OR NOT EXISTS (
            SELECT 1 FROM events o INDEXED BY events_by_case
             WHERE o.case_id = e.case_id AND o.device_id = ?1 AND o.device_seq > ?2
               AND o.sent = 0 AND o.kind <> ?3))";

impl Workspace {
    /// Stamps the events this laptop records from now on at `at` (`None`: the system's clock
    /// again), as on a laptop whose clock is wrong; never before an event it already recorded
    /// (the clock stays monotonic). For tests that need changes recorded on chosen days (a
    /// referral accepted days after it was sent, a case left alone for weeks); Harbour's own
    /// programs never call it.
    #[doc(hidden)]
    pub fn set_clock_for_tests(&mut self, at: Option<chrono::DateTime<Utc>>) {
        self.clock.fixed_ms = at.map(|at| at.timestamp_millis().max(0) as u64);
    }

    /// How many of this laptop's events wait to be sent.
    pub fn pending_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM events WHERE device_id = ?1 AND device_seq > ?2 AND sent = 0")?
            .query_row(self.unsent_range()?, |row| row.get::<_, i64>(0))? as u64)
    }

    /// How many changes made here wait to be sent, as a person counts them: a new case is one
    /// change, though it travels as its creation and a grant to each team that may read it. A
    /// grant counts only when it is all that waits for its case (a share).
    ///
    /// A grant's case is looked at through the case index: left to itself, SQLite walked every
    /// waiting event for each waiting grant, which took minutes with 75,000 new cases waiting
    /// (the sync bar asks this at every change).
    pub fn pending_changes(&self) -> Result<u64> {
        let (device, cursor) = self.unsent_range()?;
        Ok(self.conn.prepare_cached(PENDING_CHANGES)?.query_row(
            params![device, cursor, GRANT_KIND, super::audit_sync::audit_channel(self.secrets.device_id.0).to_string()],
            |row| row.get::<_, i64>(0),
        )? as u64)
    }

    /// This device's id and the `sent_through` cursor: what waits to be sent is this device's
    /// events after the cursor that are not marked sent.
    pub(super) fn unsent_range(&self) -> Result<(String, i64)> {
        Ok((self.secrets.device_id.to_string(), sent_through(&self.conn)?))
    }

    /// Marks events as acknowledged by the server, in any order, and moves the `sent_through`
    /// cursor past every acknowledged event that has no unacknowledged one before it.
    pub fn mark_sent(&mut self, ids: &[Uuid]) -> Result<()> {
        let acknowledged: HashSet<String> = ids.iter().map(Uuid::to_string).collect();
        let device = self.secrets.device_id.to_string();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let cursor = sent_through(&tx)?;
        // The unacknowledged events after the cursor, oldest first (the order they were sent
        // in), read only until every acknowledged one is found: one batch, not the backlog.
        let mut found = Vec::with_capacity(ids.len());
        {
            let mut statement = tx.prepare_cached(
                "SELECT device_seq, id FROM events WHERE device_id = ?1 AND device_seq > ?2 AND sent = 0
                 ORDER BY device_seq",
            )?;
            let mut rows = statement.query(params![device, cursor])?;
            while found.len() < acknowledged.len() {
                let Some(row) = rows.next()? else { break };
                if acknowledged.contains(&row.get::<_, String>(1)?) {
                    found.push(row.get::<_, i64>(0)?);
                }
            }
        }
        {
            let mut mark = tx.prepare_cached("UPDATE events SET sent = 1 WHERE device_id = ?1 AND device_seq = ?2")?;
            for seq in &found {
                mark.execute(params![device, seq])?;
            }
        }
        let first_waiting: Option<i64> = tx
            .prepare_cached("SELECT min(device_seq) FROM events WHERE device_id = ?1 AND device_seq > ?2 AND sent = 0")?
            .query_row(params![device, cursor], |row| row.get(0))?;
        let through = match first_waiting {
            Some(seq) => seq - 1,
            None => tx
                .prepare_cached("SELECT coalesce(max(device_seq), 0) FROM events WHERE device_id = ?1")?
                .query_row([&device], |row| row.get::<_, i64>(0))?,
        };
        if through > cursor {
            set_meta(&tx, "sent_through", &through.to_string())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Shares whose server-side access grant has not been confirmed yet.
    pub fn pending_shares(&self) -> Result<Vec<(CaseId, Uuid)>> {
        let mut statement = self.conn.prepare("SELECT case_id, team_id FROM shares WHERE granted = 0")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut shares = Vec::new();
        for row in rows {
            let (case_id, team_id) = row?;
            let team_id = Uuid::parse_str(&team_id).map_err(|_| Error::Corrupt("share team".into()))?;
            shares.push((case_id.parse()?, team_id));
        }
        Ok(shares)
    }

    pub fn mark_share_granted(&mut self, case_id: CaseId, team_id: Uuid) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE shares SET granted = 1 WHERE case_id = ?1 AND team_id = ?2")?
            .execute(params![case_id.to_string(), team_id.to_string()])?;
        Ok(())
    }

    /// Where the next pull starts.
    pub fn sync_cursor(&self) -> Result<u64> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'sync_cursor'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        Ok(text.and_then(|text| text.parse().ok()).unwrap_or(0))
    }

    /// When the last complete sync ended (milliseconds since the epoch), if ever.
    pub fn last_sync_ms(&self) -> Result<Option<u64>> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'last_sync'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        Ok(text.and_then(|text| text.parse().ok()))
    }

    pub fn set_last_sync_ms(&mut self, at_ms: u64) -> Result<()> {
        set_meta(&self.conn, "last_sync", &at_ms.to_string())
    }

    /// Events recorded on a device whose clock was far ahead of this laptop's.
    pub fn clock_warnings(&self, case_id: CaseId) -> Result<Vec<ClockWarning>> {
        let mut statement =
            self.conn.prepare("SELECT event_id, device_id, ahead_ms FROM clock_warnings WHERE case_id = ?1")?;
        let rows = statement.query_map([case_id.to_string()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
        })?;
        let mut warnings = Vec::new();
        for row in rows {
            let (event_id, device_id, ahead_ms) = row?;
            warnings.push(ClockWarning { event_id: event_id.parse()?, device_id: device_id.parse()?, ahead_ms });
        }
        Ok(warnings)
    }

    /// Applies a page pulled from the server and saves the cursor after it, in one transaction:
    /// a page is applied whole or not at all, so an interrupted pull resumes from the last page.
    ///
    /// The commit does not wait for the disk (`synchronous = NORMAL`, still atomic in WAL mode):
    /// everything in it is the server's and comes again. A power cut may undo the last pages
    /// with the cursor that came with them, and the next sync pulls them again; nothing written
    /// on this laptop is in such a commit, and the next local write, waiting for the disk,
    /// makes everything before it durable too.
    pub fn apply_pulled(&mut self, events: &[SealedEvent], next_cursor: u64) -> Result<ApplyReport> {
        self.apply_pulled_checked(events, next_cursor, deployment::VerifiedSignatures::default())
    }

    /// [`Workspace::apply_pulled`], with the grant signatures of the page that
    /// [`PulledSignatures::check`] verified beforehand (on the thread that fetched the page):
    /// they are not verified again; any other is.
    pub fn apply_pulled_checked(
        &mut self,
        events: &[SealedEvent],
        next_cursor: u64,
        verified: deployment::VerifiedSignatures,
    ) -> Result<ApplyReport> {
        self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        let applied = self.apply_page(events, next_cursor, verified);
        let restored = self.conn.execute_batch("PRAGMA synchronous = FULL");
        let report = applied?;
        restored?;
        Ok(report)
    }

    /// What checks a pulled page's grant signatures away from this workspace (on another
    /// thread), or `None` outside a deployment.
    pub fn pulled_signatures(&self) -> Result<Option<PulledSignatures>> {
        let Some(membership) = self.secrets.membership.as_ref() else { return Ok(None) };
        Ok(Some(PulledSignatures {
            root_public_key: membership.root_public_key.clone(),
            deployment_id: membership.deployment_id,
            teams: membership.team_secrets.iter().map(|secret| secret.team_id).collect(),
            listed: self.listed_devices()?,
        }))
    }

    fn apply_page(
        &mut self,
        events: &[SealedEvent],
        next_cursor: u64,
        verified: deployment::VerifiedSignatures,
    ) -> Result<ApplyReport> {
        let mut report = ApplyReport { received: events.len(), ..ApplyReport::default() };
        let now_ms = Utc::now().timestamp_millis().max(0) as u64;
        let own_device = self.secrets.device_id.0;
        // A laptop outside a deployment trusts no one: it stores what it is given, opens nothing.
        let trust = match self.secrets.membership.as_ref() {
            Some(membership) => Trust {
                root_public_key: membership.root_public_key.clone(),
                deployment_id: membership.deployment_id,
                ministry_team_id: membership.ministry_team_id,
                team_secrets: membership.team_secrets.clone(),
            },
            None => Trust {
                root_public_key: Vec::new(),
                deployment_id: Uuid::nil(),
                ministry_team_id: Uuid::nil(),
                team_secrets: Vec::new(),
            },
        };
        let mut trust = trust;
        let mut new_team_secrets = false;
        // Laptops the verified directory lists: their grants name them instead of carrying a
        // certificate.
        let listed = self.listed_devices()?;
        // Pulled events change cases behind the in-memory projections: forget them all.
        self.recent.clear();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut new_by_case: BTreeMap<CaseId, Vec<&SealedEvent>> = BTreeMap::new();
        // Cases that received a grant addressed to one of this laptop's teams.
        let mut granted: BTreeSet<CaseId> = BTreeSet::new();
        // Audit channels whose grants came: their key is kept, but they are not cases.
        let mut audit_channels: BTreeSet<CaseId> = BTreeSet::new();
        // Each case's earliest new grant to this laptop's teams: the one whose author is checked.
        let mut first_grants: BTreeMap<CaseId, &SealedEvent> = BTreeMap::new();
        // Cases that received an event whose number another stored event holds.
        let mut contested_cases: BTreeSet<CaseId> = BTreeSet::new();
        for sealed in events {
            if sealed.format != SEALED_FORMAT {
                report.refused += 1;
                continue;
            }
            // This laptop's own events come only from this laptop: one from the network is
            // either the echo of what it sent (ignored) or a forgery (refused).
            if sealed.device_id == own_device {
                if !is_own_echo(&tx, sealed)? {
                    report.refused += 1;
                }
                continue;
            }
            match insert_sealed(&tx, sealed, true)? {
                Stored::New => {}
                Stored::Duplicate => continue,
                Stored::Conflict => {
                    // Kept aside until a case key shows which of the two is real. A contested
                    // creation can be what a grant already here waited for (its creator is
                    // known by it), so the case's grants are looked at again below.
                    contest(&tx, sealed)?;
                    contested_cases.insert(CaseId(sealed.case_id));
                    report.refused += 1;
                    continue;
                }
            }
            report.stored += 1;
            let case_id = CaseId(sealed.case_id);
            if sealed.kind == REFERRAL_MADE_KIND {
                report.referral_cases.insert(case_id);
            }
            if self.clock.observe(sealed.hlc, now_ms) {
                report.clock_clamped += 1;
                tx.prepare_cached("INSERT OR IGNORE INTO clock_warnings (event_id, case_id, device_id, ahead_ms) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
                        sealed.id.to_string(),
                        case_id.to_string(),
                        sealed.device_id.to_string(),
                        sealed.hlc.wall_ms as i64 - now_ms as i64
                    ],
                )?;
            }
            if sealed.kind == super::audit_sync::AUDIT_KIND {
                // Kept sealed; read only by `audit_all_devices`.
                continue;
            }
            if sealed.kind == super::revocation::TEAM_KEY_KIND {
                if let Some(membership) = self.secrets.membership.as_mut()
                    && let Some(secret) = super::revocation::team_key_from(membership, own_device, sealed)
                {
                    trust.team_secrets.push(secret.clone());
                    membership.team_secrets.push(secret);
                    new_team_secrets = true;
                }
                continue;
            }
            if sealed.kind == GRANT_KIND {
                if sealed.case_id == super::audit_sync::audit_channel(sealed.device_id).0 {
                    audit_channels.insert(case_id);
                }
                if deployment::grant_team(sealed).is_some_and(|team| trust.reads_for(team)) {
                    granted.insert(case_id);
                    keep_earliest(&mut first_grants, sealed);
                }
                continue;
            }
            new_by_case.entry(case_id).or_default().push(sealed);
        }

        // Keys: a case's first key is accepted only from a grant made by a certified laptop
        // allowed to grant it, and is then pinned; a grant of any other key is refused.
        let mut grants = GrantCheck {
            trust: &trust,
            verifier: deployment::GrantVerifier::new(&trust.root_public_key, trust.deployment_id)
                .with_listed(&listed)
                .with_verified(verified),
            opener: deployment::GrantOpener::default(),
        };
        // Their signatures are checked together; `accept` checks alone only what this missed.
        grants.verifier.check_together(&first_grants.into_values().collect::<Vec<_>>());
        let mut received_keys = std::collections::HashMap::new();
        let mut rekeyed: BTreeSet<CaseId> = BTreeSet::new();
        // A directory listing more laptops came: grants that waited for one look again.
        let look_again: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM meta WHERE key = 'grants_to_look_at_again')")?
            .query_row([], |row| row.get(0))?;
        if look_again {
            granted.extend(grants_without_key(&tx)?);
            tx.prepare_cached("DELETE FROM meta WHERE key = 'grants_to_look_at_again'")?.execute([])?;
        }
        let mut candidates: BTreeSet<CaseId> =
            granted.iter().chain(new_by_case.keys()).chain(contested_cases.iter()).copied().collect();
        // Twice at most: settling a contested number may bring a grant back into the store.
        for _round in 0..2 {
            for case_id in std::mem::take(&mut candidates) {
                let pinned = load_case_key(&tx, &self.secrets.master_key, case_id)?;
                if pinned.is_some() && !granted.contains(&case_id) {
                    continue;
                }
                let outcome = grants.accept(&tx, case_id, pinned.as_ref().map(|key| key.id))?;
                report.refused += outcome.refused;
                if let Some(key) = outcome.key
                    && pinned.is_none()
                    && store_case_key(&tx, &self.secrets.master_key, case_id, &key)?
                {
                    report.keys_received += 1;
                    rekeyed.insert(case_id);
                    received_keys.insert(case_id, key);
                }
            }
            let settled = settle_contested(&tx, &self.secrets.master_key, &mut grants.verifier)?;
            rekeyed.extend(settled.iter().copied());
            candidates = settled;
            granted.extend(candidates.iter().copied());
            if candidates.is_empty() {
                break;
            }
        }

        rekeyed.retain(|case_id| !audit_channels.contains(case_id));
        let touched: BTreeSet<CaseId> = new_by_case.keys().copied().chain(rekeyed.iter().copied()).collect();
        for case_id in touched {
            let key = match received_keys.remove(&case_id) {
                Some(key) => Some(key),
                None => load_case_key(&tx, &self.secrets.master_key, case_id)?,
            };
            let Some(key) = key else {
                report.waiting_for_key += 1;
                continue;
            };
            let warned: bool = tx
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM clock_warnings WHERE case_id = ?1)")?
                .query_row([case_id.to_string()], |row| row.get(0))?;
            let new_events = new_by_case.remove(&case_id).unwrap_or_default();
            let mut opened = Vec::with_capacity(new_events.len());
            for sealed in &new_events {
                match crypto::open(sealed, &key) {
                    Ok(event) => opened.push(event),
                    Err(_) => {
                        // Never apply what does not open; keep it out of the store too.
                        report.refused += 1;
                        tx.prepare_cached("DELETE FROM events WHERE device_id = ?1 AND device_seq = ?2 AND id = ?3")?
                            .execute(params![
                            sealed.device_id.to_string(),
                            sealed.device_seq as i64,
                            sealed.id.to_string()
                        ])?;
                    }
                }
            }
            opened.sort_by_key(|event| event.order());
            let previous = load_state(&tx, case_id)?;
            let state = match previous {
                // The common case: new events come after everything folded; apply them in order.
                Some(mut state)
                    if !rekeyed.contains(&case_id)
                        && opened.first().is_some_and(|first| first.order() > state.last) =>
                {
                    for event in &opened {
                        state.apply(event);
                    }
                    Some(state)
                }
                // A case whose every event came in this page folds from what was just opened.
                None if stored_events(&tx, case_id)? == opened.len() => CaseState::fold(&opened),
                _ => CaseState::fold(&open_case_events(&tx, &key, case_id)?),
            };
            match state {
                Some(state) => {
                    save_state(&tx, &state, warned)?;
                    report.cases_updated += 1;
                }
                None => report.waiting_for_key += 1,
            }
        }
        set_meta(&tx, "sync_cursor", &next_cursor.to_string())?;
        set_meta(&tx, "hlc", &self.clock.last.to_sortable())?;
        // A new team key is kept in the key file before the page that brought it is committed:
        // were the page lost, it comes again; were the key lost, nothing would bring it again.
        if new_team_secrets {
            crate::keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        }
        tx.commit()?;
        // Keys received in this page may now be cached on use.
        for case_id in rekeyed {
            self.case_keys.remove(&case_id);
        }
        Ok(report)
    }
}

/// Keeps `grant` as its case's earliest grant if it is.
fn keep_earliest<'a>(first_grants: &mut BTreeMap<CaseId, &'a SealedEvent>, grant: &'a SealedEvent) {
    let first = first_grants.entry(CaseId(grant.case_id)).or_insert(grant);
    if grant.hlc < first.hlc {
        *first = grant;
    }
}

/// A pulled page's grant signatures checked before the page is applied, on the thread that
/// fetched it: the signatures `apply_pulled` would check together (each case's earliest grant
/// addressed to one of this laptop's teams), against the root key and the laptops of the
/// directory held when the sync began. Only what verifies counts, each signature with its exact
/// key and message; what does not (an unlisted author, a bad signature) is checked again as
/// always when the page is applied.
#[derive(Clone, Debug)]
pub struct PulledSignatures {
    root_public_key: Vec<u8>,
    deployment_id: Uuid,
    teams: Vec<Uuid>,
    listed: Vec<harbour_wire::protocol::ListedDevice>,
}

impl PulledSignatures {
    pub fn check(&self, events: &[SealedEvent]) -> deployment::VerifiedSignatures {
        let mut first_grants: BTreeMap<CaseId, &SealedEvent> = BTreeMap::new();
        for sealed in events.iter().filter(|sealed| sealed.kind == GRANT_KIND) {
            if deployment::grant_team(sealed).is_some_and(|team| self.teams.contains(&team)) {
                keep_earliest(&mut first_grants, sealed);
            }
        }
        let mut verifier =
            deployment::GrantVerifier::new(&self.root_public_key, self.deployment_id).with_listed(&self.listed);
        verifier.check_together(&first_grants.into_values().collect::<Vec<_>>());
        verifier.into_verified()
    }
}

/// Whether a pulled event bearing this laptop's id is exactly one this laptop made.
fn is_own_echo(conn: &rusqlite::Connection, sealed: &SealedEvent) -> Result<bool> {
    Ok(held_at(conn, sealed.device_id, sealed.device_seq)?.is_some_and(|held| held == *sealed))
}

/// What this laptop trusts: the pinned root key, its deployment, the ministry team, and the
/// secrets of the teams it reads for.
struct Trust {
    root_public_key: Vec<u8>,
    deployment_id: Uuid,
    ministry_team_id: Uuid,
    team_secrets: Vec<deployment::TeamSecret>,
}

impl Trust {
    fn reads_for(&self, team: Uuid) -> bool {
        self.team_secrets.iter().any(|secret| secret.team_id == team)
    }
}

/// How far a chain of grants (each team granted by one granted before it) is followed.
const MAX_GRANT_CHAIN: usize = 8;

/// The outcome of looking at a case's grants.
struct Accepted {
    /// The case key, from a grant this laptop may accept (or the pinned one, confirmed).
    key: Option<CaseKey>,
    /// Grants addressed to this laptop's teams that were refused: not made by a certified
    /// laptop, or carrying another key than the pinned one. They are removed from the store.
    refused: usize,
}

struct GrantCheck<'a> {
    trust: &'a Trust,
    verifier: deployment::GrantVerifier<'a>,
    opener: deployment::GrantOpener,
}

impl GrantCheck<'_> {
    /// Looks at every stored grant of `case_id` addressed to this laptop's teams (in the order
    /// they arrived, so that a reordered feed converges once the missing part arrives).
    fn accept(&mut self, tx: &rusqlite::Connection, case_id: CaseId, pinned: Option<Uuid>) -> Result<Accepted> {
        let mut outcome = Accepted { key: None, refused: 0 };
        for grant in case_grants(tx, case_id)? {
            let Some(team) = deployment::grant_team(&grant) else { continue };
            if !self.trust.reads_for(team) {
                continue;
            }
            if let Some(pinned) = pinned {
                if grant.key_id != pinned {
                    outcome.refused += 1;
                    forget(tx, &grant)?;
                }
                continue;
            }
            if outcome.key.is_some() {
                continue;
            }
            let author = match self.verifier.author(&grant) {
                Ok(author) => author,
                // Its author is not in the directory held here (yet): it waits for a newer one.
                Err(IdentityError::Unlisted) => continue,
                Err(_) => {
                    outcome.refused += 1;
                    forget(tx, &grant)?;
                    continue;
                }
            };
            let Some(key) = self.opener.open(&grant, &self.trust.team_secrets) else {
                outcome.refused += 1;
                forget(tx, &grant)?;
                continue;
            };
            // Not (yet) shown to be allowed: it stays, and is looked at again when more of the
            // case arrives.
            if self.allowed(tx, case_id, &key, &author, 0)? {
                outcome.key = Some(key);
            }
        }
        Ok(outcome)
    }

    /// Whether `author` may grant `key` for this case: a laptop of the ministry; the laptop that
    /// created the case (its creation opens with this key); or a laptop of a team that was
    /// itself granted this key by a laptop allowed to.
    fn allowed(
        &mut self,
        tx: &rusqlite::Connection,
        case_id: CaseId,
        key: &CaseKey,
        author: &CertifiedDevice,
        depth: usize,
    ) -> Result<bool> {
        // The ministry grants anything; a laptop grants its own audit channel.
        if author.team_id == self.trust.ministry_team_id
            || case_id == super::audit_sync::audit_channel(author.device_id)
        {
            return Ok(true);
        }
        if created_by(tx, case_id, author.device_id, key)? {
            return Ok(true);
        }
        if depth >= MAX_GRANT_CHAIN {
            return Ok(false);
        }
        for grant in case_grants(tx, case_id)? {
            if grant.key_id != key.id || deployment::grant_team(&grant) != Some(author.team_id) {
                continue;
            }
            let Ok(granter) = self.verifier.author(&grant) else { continue };
            if granter.device_id != author.device_id && self.allowed(tx, case_id, key, &granter, depth + 1)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The stored grants of a case, in clock order (through the case index: ordering by arrival
/// made SQLite walk the whole table).
pub(super) fn case_grants(conn: &rusqlite::Connection, case_id: CaseId) -> Result<Vec<SealedEvent>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext
         FROM events INDEXED BY events_by_case WHERE case_id = ?1 AND kind = ?2 ORDER BY hlc",
    )?;
    let rows = statement.query_map(params![case_id.to_string(), GRANT_KIND], sealed_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Cases holding a grant but no key yet.
fn grants_without_key(conn: &rusqlite::Connection) -> Result<Vec<CaseId>> {
    let mut statement = conn.prepare(
        "SELECT DISTINCT case_id FROM events WHERE kind = ?1 AND case_id NOT IN (SELECT case_id FROM case_keys)",
    )?;
    let rows = statement.query_map([GRANT_KIND], |row| row.get::<_, String>(0))?;
    rows.map(|row| row?.parse()).collect()
}

/// Whether `device` recorded this case's creation under `key` (a creation whose number a
/// forgery took counts too: it is settled into its place afterwards). The metadata suffices: the
/// grant that asks is signed by `device` itself and names the key, so only that laptop could
/// have made the pair; a creation that does not open under the key is refused when folded.
fn created_by(conn: &rusqlite::Connection, case_id: CaseId, device: Uuid, key: &CaseKey) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM events INDEXED BY events_by_case
                            WHERE case_id = ?1 AND kind = 'case.created' AND device_id = ?2 AND key_id = ?3)
                 OR EXISTS(SELECT 1 FROM contested_events
                            WHERE case_id = ?1 AND kind = 'case.created' AND device_id = ?2 AND key_id = ?3)",
        )?
        .query_row(params![case_id.to_string(), device.to_string(), key.id.to_string()], |row| row.get(0))?)
}

/// Keeps an event whose (device, number) another stored event holds, until one proves real.
fn contest(conn: &rusqlite::Connection, sealed: &SealedEvent) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO contested_events (digest, id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext)
         VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        sealed.id.to_string(),
        sealed.case_id.to_string(),
        sealed.kind,
        sealed.device_id.to_string(),
        sealed.device_seq as i64,
        sealed.hlc.to_sortable(),
        sealed.key_id.to_string(),
        sealed.nonce,
        sealed.ciphertext,
        digest(sealed),
    ])?;
    Ok(())
}

/// What tells two contested events apart: every part of them (an attacker may copy an event
/// and change only its case, its clock or its key id).
fn digest(sealed: &SealedEvent) -> String {
    crypto::sha256_hex(&[&serde_json::to_vec(sealed).expect("a sealed event serializes")])
}

/// Whether an event is what its metadata says, as far as this laptop can tell: a grant signed by
/// the certified laptop it names, or an event that opens under its case's key. `None` when the
/// case's key is not here yet.
fn authentic(
    conn: &rusqlite::Connection,
    master: &crate::crypto::Secret,
    verifier: &mut deployment::GrantVerifier<'_>,
    sealed: &SealedEvent,
) -> Result<Option<bool>> {
    if sealed.kind == GRANT_KIND {
        return Ok(match verifier.author(sealed) {
            Ok(_) => Some(true),
            Err(IdentityError::Unlisted) => None,
            Err(_) => Some(false),
        });
    }
    Ok(load_case_key(conn, master, CaseId(sealed.case_id))?.map(|key| crypto::open(sealed, &key).is_ok()))
}

/// Settles contested numbers once a key tells: a contested event that is authentic takes the
/// place of a holder that is not (the holder is kept aside in its turn); one that is not is
/// dropped. Returns the cases whose stored events changed.
fn settle_contested(
    conn: &rusqlite::Connection,
    master: &crate::crypto::Secret,
    verifier: &mut deployment::GrantVerifier<'_>,
) -> Result<BTreeSet<CaseId>> {
    let contested: Vec<SealedEvent> = {
        let mut statement = conn.prepare_cached(
            "SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext FROM contested_events",
        )?;
        let rows = statement.query_map([], sealed_from_row)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut changed = BTreeSet::new();
    for event in contested {
        let forget_contested = |conn: &rusqlite::Connection, event: &SealedEvent| -> Result<()> {
            conn.prepare_cached("DELETE FROM contested_events WHERE digest = ?1")?.execute([digest(event)])?;
            Ok(())
        };
        match authentic(conn, master, verifier, &event)? {
            None => continue,
            Some(false) => {
                forget_contested(conn, &event)?;
                continue;
            }
            Some(true) => {}
        }
        let holder = held_at(conn, event.device_id, event.device_seq)?;
        if let Some(holder) = &holder {
            if authentic(conn, master, verifier, holder)? == Some(true) {
                forget_contested(conn, &event)?;
                continue;
            }
            forget(conn, holder)?;
            contest(conn, holder)?;
            changed.insert(CaseId(holder.case_id));
        }
        forget_contested(conn, &event)?;
        insert_sealed(conn, &event, true)?;
        changed.insert(CaseId(event.case_id));
    }
    Ok(changed)
}

/// Removes a refused grant from the store: it will never be used.
fn forget(conn: &rusqlite::Connection, grant: &SealedEvent) -> Result<()> {
    conn.prepare_cached("DELETE FROM events WHERE device_id = ?1 AND device_seq = ?2 AND id = ?3")?
        .execute(params![grant.device_id.to_string(), grant.device_seq as i64, grant.id.to_string()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::PENDING_CHANGES;
    use crate::crypto::KdfParams;
    use crate::deployment::GRANT_KIND;
    use crate::store::{CreateOptions, Workspace};

    fn synchronous(workspace: &Workspace) -> i64 {
        workspace.conn.query_row("PRAGMA synchronous", [], |row| row.get(0)).unwrap()
    }

    /// The count the sync bar shows looks at each waiting grant's case through the case index
    /// (the plan is what makes it linear: with 75,000 cases waiting it ran for minutes).
    #[test]
    fn waiting_changes_are_counted_through_the_case_index() {
        let (_dir, workspace) = crate::store::test_workspace();
        let plan: Vec<String> = workspace
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {PENDING_CHANGES}"))
            .unwrap()
            .query_map(params!["d", 0, GRANT_KIND, "c"], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // One search of the case index per waiting grant, never a walk of the waiting events.
        assert!(
            plan.iter().any(|step| step.starts_with("SEARCH o USING INDEX events_by_case (case_id=?)")),
            "{plan:?}"
        );
    }

    /// Pulled pages commit without waiting for the disk; local writes after them still wait
    /// (`synchronous = FULL`, 2).
    #[test]
    fn local_writes_wait_for_the_disk_after_a_pulled_page() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        let mut workspace = Workspace::create(dir.path(), "a long test passphrase", &options).unwrap();
        assert_eq!(synchronous(&workspace), 2);
        workspace.apply_pulled(&[], 7).unwrap();
        assert_eq!(workspace.sync_cursor().unwrap(), 7);
        assert_eq!(synchronous(&workspace), 2);
        drop(workspace);
        let workspace = Workspace::unlock(dir.path(), "a long test passphrase").unwrap();
        assert_eq!(workspace.sync_cursor().unwrap(), 7, "the page's cursor was committed");
    }
}
