//! The `case_facts` table: one small row per case with what the figures count
//! ([`CaseFacts`]), written with the case's projection in the same transaction, so the figures
//! never fold events or parse whole cases.

use rusqlite::{Connection, params};

use super::Workspace;
use crate::error::{Error, Result};
use crate::fold::CaseState;
use crate::ids::{CaseCode, CaseId};
use crate::model::CaseStatus;
use crate::stats::facts::CaseFacts;

impl Workspace {
    /// Every case's facts with its row of `cases`.
    pub(crate) fn all_facts(&self) -> Result<Vec<(i64, CaseFacts)>> {
        read_all(&self.conn)
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

/// Writes the facts of the case stored at `rowid` of `cases`.
pub(super) fn save(conn: &Connection, rowid: i64, state: &CaseState, needs_review: bool) -> Result<()> {
    let json = serde_json::to_vec(&CaseFacts::of(state, needs_review)).expect("facts always serialize");
    conn.prepare_cached("INSERT OR REPLACE INTO case_facts (case_rowid, facts) VALUES (?1, ?2)")?
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
        save(conn, rowid, &state, needs_review)?;
    }
    Ok(())
}
