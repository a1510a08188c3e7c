//! Taking back a case created by mistake. Before any of it has left this laptop, a case can be
//! discarded: its events, key, projection, search entry, figures and drafts are deleted from the
//! encrypted store, and one `case.discard` audit entry (the case id, no value) says it was.
//! Once one of its events was acknowledged by the server, handed to a sync to be sent, came from
//! another laptop, or the case was shared, other laptops may hold it: it can then only be closed
//! as created in error, a close whose reason is the code [`CREATED_IN_ERROR`].
//!
//! The check and the deletion are one: both run in the same immediate transaction, under the
//! `&mut Workspace` every sync step also needs. The sync engine hands events out with
//! [`Workspace::pending_events`], which records (`handed_out_through`, in the same database)
//! the last of this laptop's sequence numbers it gave away before any of them is sent; a case
//! with an event at or below it is refused, whatever the server answers later. So no discard
//! can slip between a push reading a case's events and the server storing them.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::{Workspace, sent_through, set_meta};
use crate::audit;
use crate::error::{Error, Result};
use crate::event::SealedEvent;
use crate::fold::CaseState;
use crate::ids::CaseId;
use crate::model::{CaseStatus, FieldValue};

/// The reason recorded with a close of a case created in error: a code, which interfaces show
/// in their own words ("Created in error"), never free text.
pub const CREATED_IN_ERROR: &str = "created_in_error";

/// Why a case is no longer this laptop's alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    /// The server acknowledged one of its events.
    Sent,
    /// One of its events was handed to a sync to be sent: it may be on the server already.
    Sending,
    /// One of its events came from another laptop.
    Received,
    /// It was shared with another team.
    Shared,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Held::Sent => "some of its changes were already sent to the server",
            Held::Sending => "some of its changes are being sent to the server, or may have reached it",
            Held::Received => "some of its changes came from another laptop",
            Held::Shared => "it was shared with another team",
        })
    }
}

/// The meta key of the last sequence number of this laptop handed out to be sent.
const HANDED_OUT: &str = "handed_out_through";

/// Remembers that `events` (this laptop's, oldest first) are being handed to a sync: from now
/// on they may reach the server. Written only when the mark moves forward.
pub(super) fn note_handed_out(conn: &Connection, events: &[SealedEvent]) -> Result<()> {
    let Some(last) = events.iter().map(|event| event.device_seq).max() else { return Ok(()) };
    if handed_out_through(conn)? < last as i64 {
        set_meta(conn, HANDED_OUT, &last.to_string())?;
    }
    Ok(())
}

fn handed_out_through(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([HANDED_OUT], |row| row.get::<_, String>(0))
        .optional()?
        .map_or(Ok(0), |text| text.parse::<i64>().map_err(|_| Error::Corrupt("handed-out events mark".into())))
}

/// Why the case is no longer this laptop's alone, read on `conn` (the discard's transaction).
fn held(conn: &Connection, device: &str, case_id: CaseId) -> Result<Option<Held>> {
    let (cursor, handed_out) = (sent_through(conn)?, handed_out_through(conn)?);
    let known: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM cases WHERE id = ?1)")?
        .query_row([case_id.to_string()], |row| row.get(0))?;
    if !known {
        return Err(Error::CaseNotFound(case_id.to_string()));
    }
    let case = case_id.to_string();
    let first: Option<(String, bool, i64)> = conn
        .prepare_cached(
            "SELECT device_id, sent, device_seq FROM events
              WHERE case_id = ?1 AND (device_id <> ?2 OR sent = 1 OR device_seq <= max(?3, ?4))
              ORDER BY device_id <> ?2 DESC, sent DESC LIMIT 1",
        )?
        .query_row(params![case, device, cursor, handed_out], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    if let Some((from, sent, seq)) = first {
        return Ok(Some(if from != device {
            Held::Received
        } else if sent || seq <= cursor {
            Held::Sent
        } else {
            Held::Sending
        }));
    }
    let shared: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM shares WHERE case_id = ?1)")?
        .query_row([&case], |row| row.get(0))?;
    Ok(shared.then_some(Held::Shared))
}

impl Workspace {
    /// Whether the case is still this laptop's alone (`None`: it can be discarded), else why not.
    pub fn discard_check(&self, case_id: CaseId) -> Result<Option<Held>> {
        held(&self.conn, &self.secrets.device_id.to_string(), case_id)
    }

    /// Deletes a case that never left this laptop, with everything recorded on it and its
    /// drafts, in one transaction with its `case.discard` audit entry and the check that none of
    /// it has left (or been handed to a sync). Refused with [`Error::NotDiscardable`] otherwise.
    pub fn discard_case(&mut self, case_id: CaseId) -> Result<()> {
        let case = case_id.to_string();
        let device = self.secrets.device_id.to_string();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(why) = held(&tx, &device, case_id)? {
            return Err(Error::NotDiscardable { why });
        }
        let rowid: i64 =
            tx.prepare_cached("SELECT rowid FROM cases WHERE id = ?1")?.query_row([&case], |row| row.get(0))?;
        tx.prepare_cached("DELETE FROM events WHERE case_id = ?1")?.execute([&case])?;
        tx.prepare_cached("DELETE FROM contested_events WHERE case_id = ?1")?.execute([&case])?;
        tx.prepare_cached("DELETE FROM case_keys WHERE case_id = ?1")?.execute([&case])?;
        tx.prepare_cached("DELETE FROM clock_warnings WHERE case_id = ?1")?.execute([&case])?;
        tx.prepare_cached("DELETE FROM case_search WHERE rowid = ?1")?.execute([rowid])?;
        tx.prepare_cached("DELETE FROM case_states WHERE case_rowid = ?1")?.execute([rowid])?;
        tx.prepare_cached("DELETE FROM case_facts WHERE case_rowid = ?1")?.execute([rowid])?;
        tx.prepare_cached("DELETE FROM case_counts WHERE case_rowid = ?1")?.execute([rowid])?;
        tx.prepare_cached("DELETE FROM cases WHERE rowid = ?1")?.execute([rowid])?;
        // Drafts of the case's forms are kept as `draft:<form>:<case id>`.
        tx.prepare_cached("DELETE FROM meta WHERE key LIKE 'draft:%' AND substr(key, -length(?1)) = ?1")?
            .execute([&case])?;
        audit::append(&tx, chrono::Utc::now(), &self.worker, "case.discard", Some(case_id), "")?;
        tx.commit()?;
        self.recent.remove(&case_id);
        self.case_keys.remove(&case_id);
        Ok(())
    }

    /// Closes a case as created in error: for a case that can no longer be discarded.
    pub fn close_in_error(&mut self, case_id: CaseId) -> Result<CaseState> {
        let state = self.state(case_id)?;
        if matches!(state.fields.status, CaseStatus::Closed | CaseStatus::ClosedReferred) {
            return Err(Error::invalid(
                "status",
                "the case is already closed; reopen it first to change how it was closed",
            ));
        }
        self.update_from(state, vec![FieldValue::Status(CaseStatus::Closed)], Some(CREATED_IN_ERROR.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::model::CaseFields;
    use crate::store::{CaseQuery, CreateOptions};

    const PASSPHRASE: &str = "a long test passphrase";

    fn workspace(dir: &std::path::Path) -> Workspace {
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        Workspace::create(dir, PASSPHRASE, &options).unwrap()
    }

    fn count(workspace: &Workspace, sql: &str, case: CaseId) -> i64 {
        workspace.conn.query_row(sql, [case.to_string()], |row| row.get(0)).unwrap()
    }

    #[test]
    fn a_case_that_never_left_is_discarded_whole_and_audited() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        let kept = workspace.create_case(CaseFields::named("Kept Person").unwrap()).unwrap();
        let state = workspace.create_case(CaseFields::named("Mistaken Entry").unwrap()).unwrap();
        workspace.add_note(state.id, "typed by mistake").unwrap();
        workspace.save_draft(&format!("edit:{}", state.id), "{}").unwrap();
        workspace.save_draft(&format!("edit:{}", kept.id), "{}").unwrap();
        assert_eq!(workspace.discard_check(state.id).unwrap(), None);

        workspace.discard_case(state.id).unwrap();

        assert_eq!(count(&workspace, "SELECT count(*) FROM events WHERE case_id = ?1", state.id), 0);
        assert_eq!(count(&workspace, "SELECT count(*) FROM case_keys WHERE case_id = ?1", state.id), 0);
        assert_eq!(count(&workspace, "SELECT count(*) FROM cases WHERE id = ?1", state.id), 0);
        let rows: i64 = workspace
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM case_states) + (SELECT count(*) FROM case_facts)
                     + (SELECT count(*) FROM case_counts)",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(rows, 3, "only the kept case's projection, facts and compact row remain");
        let search = CaseQuery { search: Some("mistaken".into()), ..CaseQuery::default() };
        assert!(workspace.list_cases(&search).unwrap().is_empty());
        assert_eq!(workspace.draft(&format!("edit:{}", state.id)).unwrap(), None);
        assert!(workspace.draft(&format!("edit:{}", kept.id)).unwrap().is_some());
        assert!(matches!(workspace.resolve(state.code.as_str()), Err(Error::CaseNotFound(_))));
        assert!(workspace.view_case(state.id).is_err());
        let audit = workspace.audit_log(10).unwrap();
        assert!(
            audit.iter().any(|entry| entry.action == "case.discard" && entry.case_id == Some(state.id.to_string()))
        );
        workspace.verify_audit().unwrap();
        // Numbering goes on after the deleted events: the next change takes a fresh number.
        workspace.add_note(kept.id, "still here").unwrap();
        drop(workspace);
        let workspace = Workspace::unlock(dir.path(), PASSPHRASE).unwrap();
        assert_eq!(workspace.case_count().unwrap(), 1);
    }

    #[test]
    fn a_case_sent_to_the_server_is_refused_and_can_be_closed_in_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        let state = workspace.create_case(CaseFields::named("Sent Person").unwrap()).unwrap();
        let ids: Vec<uuid::Uuid> = workspace.pending_events(10).unwrap().iter().map(|event| event.id).collect();
        workspace.mark_sent(&ids).unwrap();
        workspace.add_note(state.id, "after the sync").unwrap();

        assert_eq!(workspace.discard_check(state.id).unwrap(), Some(Held::Sent));
        let error = workspace.discard_case(state.id).unwrap_err();
        assert!(matches!(error, Error::NotDiscardable { why: Held::Sent }));
        assert!(error.to_string().contains("already sent to the server"), "{error}");
        assert_eq!(workspace.case_count().unwrap(), 1);

        let closed = workspace.close_in_error(state.id).unwrap();
        assert_eq!(closed.fields.status, CaseStatus::Closed);
        let whole = workspace.view_case(state.id).unwrap();
        assert_eq!(whole.history.last().unwrap().reason.as_deref(), Some(CREATED_IN_ERROR));
        assert!(workspace.close_in_error(state.id).is_err(), "a closed case is not closed twice");
    }

    #[test]
    fn a_case_handed_to_a_sync_is_refused_before_the_server_answers_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        let handed = workspace.create_case(CaseFields::named("Handed Person").unwrap()).unwrap();
        // A sync reads the waiting events to push them; the server has not answered yet.
        let batch = workspace.pending_events(100).unwrap();
        assert!(batch.iter().any(|event| event.case_id == handed.id.0));
        let later = workspace.create_case(CaseFields::named("Later Person").unwrap()).unwrap();

        assert_eq!(workspace.discard_check(handed.id).unwrap(), Some(Held::Sending));
        let error = workspace.discard_case(handed.id).unwrap_err();
        assert!(matches!(error, Error::NotDiscardable { why: Held::Sending }), "{error}");
        assert_eq!(count(&workspace, "SELECT count(*) FROM cases WHERE id = ?1", handed.id), 1);
        // A case made after the hand-out never left: it can go.
        assert_eq!(workspace.discard_check(later.id).unwrap(), None);

        // The push failed (no answer): the events may still be on the server, and the mark is
        // in the database, so a restart does not forget it.
        drop(workspace);
        let mut workspace = Workspace::unlock(dir.path(), PASSPHRASE).unwrap();
        assert!(matches!(workspace.discard_case(handed.id), Err(Error::NotDiscardable { why: Held::Sending })));
        workspace.discard_case(later.id).unwrap();
        // Once acknowledged, it is simply sent.
        let ids: Vec<uuid::Uuid> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
        workspace.mark_sent(&ids).unwrap();
        assert_eq!(workspace.discard_check(handed.id).unwrap(), Some(Held::Sent));
    }

    #[test]
    fn an_unknown_case_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        assert!(matches!(workspace.discard_case(CaseId::new()), Err(Error::CaseNotFound(_))));
    }
}
