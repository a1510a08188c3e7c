//! The `case_facts` table: one small row per case with what the figures count
//! ([`CaseFacts`]), written with the case's projection in the same transaction, so the figures
//! never fold events or parse whole cases; and `case_counts`, the same case's compact binary row
//! of what the dashboard counts ([`crate::stats::counted`]), written with it.
//!
//! The dashboard's figures read the compact rows once, then keep them in memory
//! ([`crate::stats::cache::FactsCache`]) and bring them up to date before each use with the rows
//! written since: temporary triggers (on this connection only, not part of the schema) record
//! which case's row each write touched, whichever path wrote it (a local change, a sync,
//! a discard). A commit by another connection (`PRAGMA data_version`) or a connection without
//! the triggers means reading them all again.

use std::cell::Ref;

use rusqlite::{Connection, OptionalExtension, params};

use super::Workspace;
use crate::error::{Error, Result};
use crate::fold::CaseState;
use crate::ids::{CaseCode, CaseId};
use crate::model::CaseStatus;
use crate::stats::cache::FactsCache;
use crate::stats::counted;
use crate::stats::facts::CaseFacts;

impl Workspace {
    /// Every case's facts with its row of `cases`.
    pub(crate) fn all_facts(&self) -> Result<Vec<(i64, CaseFacts)>> {
        read_all(&self.conn)
    }

    /// The figures' rows in memory, brought up to date with the facts written since they were read.
    pub(crate) fn figure_rows(&self) -> Result<Ref<'_, FactsCache>> {
        refresh(&self.conn, &mut self.figures_cache.borrow_mut())?;
        Ok(self.figures_cache.borrow())
    }

    /// The figures' rows in memory as they are, not brought up to date (see
    /// [`Workspace::figure_rows_generation`]).
    pub(crate) fn kept_figure_rows(&self) -> Ref<'_, FactsCache> {
        self.figures_cache.borrow()
    }

    /// The generation of the rows in memory, or `None` before they were first read.
    pub(crate) fn figure_rows_generation(&self) -> Option<u64> {
        let cache = self.figures_cache.borrow();
        cache.data_version.map(|_| cache.generation)
    }

    /// Drops the figures' rows from memory (a wipe).
    pub(crate) fn forget_figure_rows(&mut self) {
        self.figures_cache.get_mut().clear();
    }

    /// Id, code and status of the cases at these rows of `cases`, in the order asked.
    pub(crate) fn cases_by_rowid(&self, rowids: &[i64]) -> Result<Vec<(CaseId, CaseCode, CaseStatus)>> {
        let mut statement = self.conn.prepare_cached("SELECT id, code, status FROM cases WHERE rowid = ?1")?;
        rowids
            .iter()
            .map(|rowid| {
                let (id, code, status): (String, String, String) =
                    statement.query_row([rowid], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
                Ok((
                    id.parse()?,
                    CaseCode::parse(&code).ok_or_else(|| Error::Corrupt("case code".into()))?,
                    CaseStatus::parse(&status).ok_or_else(|| Error::Corrupt("case status".into()))?,
                ))
            })
            .collect()
    }
}

/// Writes the facts of the case stored at `rowid` of `cases`, and its compact row.
pub(super) fn save(conn: &Connection, rowid: i64, state: &CaseState, needs_review: bool) -> Result<()> {
    let facts = CaseFacts::of(state, needs_review);
    save_facts(conn, rowid, &facts)?;
    // A row that would not change is not written again: its page stays clean and the commit
    // writes one fewer. The dashboard's row keeps the day of a case's last change, not its
    // time, so a note on a case already changed that day leaves it as it was.
    conn.prepare_cached(
        "INSERT INTO case_counts (case_rowid, row) VALUES (?1, ?2)
         ON CONFLICT (case_rowid) DO UPDATE SET row = excluded.row WHERE row IS NOT excluded.row",
    )?
    .execute(params![rowid, counted::encode(&facts)])?;
    Ok(())
}

/// Writes the JSON facts only (the migrations before `case_counts` existed).
fn save_facts(conn: &Connection, rowid: i64, facts: &CaseFacts) -> Result<()> {
    let json = serde_json::to_vec(facts).expect("facts always serialize");
    conn.prepare_cached(
        "INSERT INTO case_facts (case_rowid, facts) VALUES (?1, ?2)
         ON CONFLICT (case_rowid) DO UPDATE SET facts = excluded.facts WHERE facts IS NOT excluded.facts",
    )?
    .execute(params![rowid, json])?;
    Ok(())
}

/// Every case's facts with the case's row id, in row order.
pub(crate) fn read_all(conn: &Connection) -> Result<Vec<(i64, CaseFacts)>> {
    let mut statement = conn.prepare_cached("SELECT case_rowid, facts FROM case_facts ORDER BY case_rowid")?;
    let mut rows = statement.query([])?;
    let mut all = Vec::new();
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        let bytes = row.get_ref(1)?.as_blob().map_err(|_| Error::Corrupt("case facts".into()))?;
        let facts = serde_json::from_slice(bytes).map_err(|_| Error::Corrupt("case facts".into()))?;
        all.push((rowid, facts));
    }
    Ok(all)
}

/// Schema 5: the table, filled from every stored projection.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE case_facts (case_rowid INTEGER PRIMARY KEY, facts BLOB NOT NULL)")?;
    derive_all(conn)
}

/// Writes every case's facts again from its stored projection (when the facts gain a field).
pub(super) fn derive_all(conn: &Connection) -> Result<()> {
    let mut statement = conn
        .prepare("SELECT c.rowid, c.needs_review, s.state FROM cases c JOIN case_states s ON s.case_rowid = c.rowid")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        let needs_review: bool = row.get(1)?;
        let packed: Vec<u8> = row.get(2)?;
        let json = super::unpack_projection(&packed)?;
        let state: CaseState = serde_json::from_slice(&json).map_err(|_| Error::Corrupt("case state".into()))?;
        save_facts(conn, rowid, &CaseFacts::of(&state, needs_review))?;
    }
    Ok(())
}

/// Schema 7: every case's compact row, from its stored facts.
pub(super) fn migrate_counts(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE case_counts (case_rowid INTEGER PRIMARY KEY, row BLOB NOT NULL)")?;
    let mut insert = conn.prepare("INSERT INTO case_counts (case_rowid, row) VALUES (?1, ?2)")?;
    for (rowid, facts) in read_all(conn)? {
        insert.execute(params![rowid, counted::encode(&facts)])?;
    }
    Ok(())
}

/// Schema 8: the facts gain the services received, derived again from every stored projection,
/// and every compact row is written again in the format that carries them.
pub(super) fn migrate_services(conn: &Connection) -> Result<()> {
    derive_all(conn)?;
    let mut write = conn.prepare("INSERT OR REPLACE INTO case_counts (case_rowid, row) VALUES (?1, ?2)")?;
    for (rowid, facts) in read_all(conn)? {
        write.execute(params![rowid, counted::encode(&facts)])?;
    }
    Ok(())
}

/// This connection's record of the cases whose facts were written (emptied at each refresh).
/// A trigger's statements take the conflict policy of the statement that fired them (an upsert
/// aborts), so a row already recorded is skipped rather than replaced.
const TRACK_WRITES: &str = "
    CREATE TEMP TABLE IF NOT EXISTS facts_written (case_rowid INTEGER PRIMARY KEY);
    CREATE TEMP TRIGGER IF NOT EXISTS facts_inserted AFTER INSERT ON main.case_counts
        BEGIN
            INSERT INTO facts_written (case_rowid) SELECT new.case_rowid
                WHERE NOT EXISTS (SELECT 1 FROM facts_written WHERE case_rowid = new.case_rowid);
        END;
    CREATE TEMP TRIGGER IF NOT EXISTS facts_updated AFTER UPDATE ON main.case_counts
        BEGIN
            INSERT INTO facts_written (case_rowid) SELECT new.case_rowid
                WHERE NOT EXISTS (SELECT 1 FROM facts_written WHERE case_rowid = new.case_rowid);
            INSERT INTO facts_written (case_rowid) SELECT old.case_rowid
                WHERE NOT EXISTS (SELECT 1 FROM facts_written WHERE case_rowid = old.case_rowid);
        END;
    CREATE TEMP TRIGGER IF NOT EXISTS facts_deleted AFTER DELETE ON main.case_counts
        BEGIN
            INSERT INTO facts_written (case_rowid) SELECT old.case_rowid
                WHERE NOT EXISTS (SELECT 1 FROM facts_written WHERE case_rowid = old.case_rowid);
        END;
    DELETE FROM facts_written;";

/// Brings `cache` up to date: the rows written since the last refresh, or every row.
fn refresh(conn: &Connection, cache: &mut FactsCache) -> Result<()> {
    let data_version: i64 = conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
    if cache.data_version == Some(data_version) {
        // Fails when the triggers are not on this connection: then everything is read again.
        let written: rusqlite::Result<Vec<i64>> = conn
            .prepare_cached("SELECT case_rowid FROM temp.facts_written")
            .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect());
        if let Ok(written) = written {
            if written.is_empty() {
                return Ok(());
            }
            // Even if a row below fails, the rows are no longer those of any figures computed.
            cache.generation += 1;
            let mut read = conn.prepare_cached("SELECT row FROM case_counts WHERE case_rowid = ?1")?;
            for rowid in written {
                let stored: Option<Vec<u8>> = read.query_row([rowid], |row| row.get(0)).optional()?;
                let row = match stored {
                    Some(bytes) => {
                        Some(cache.decode(rowid, &bytes).ok_or_else(|| Error::Corrupt("case counts".into()))?)
                    }
                    None => None,
                };
                cache.put(rowid, row);
            }
            conn.execute_batch("DELETE FROM temp.facts_written")?;
            return Ok(());
        }
    }
    cache.clear();
    conn.execute_batch(TRACK_WRITES)?;
    let mut statement = conn.prepare_cached("SELECT case_rowid, row FROM case_counts ORDER BY case_rowid")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        let bytes = row.get_ref(1)?.as_blob().map_err(|_| Error::Corrupt("case counts".into()))?;
        let row = cache.decode(rowid, bytes).ok_or_else(|| Error::Corrupt("case counts".into()))?;
        cache.rows.push(row);
    }
    // Counting the rows first would read (and decrypt) every page twice: trim the slack instead.
    cache.rows.shrink_to_fit();
    cache.data_version = Some(data_version);
    Ok(())
}
