//! Reading every case's stored projection in one pass: what exports read (`crate::export`).

use super::Workspace;
use crate::error::Result;
use crate::model::CaseStatus;

impl Workspace {
    /// Calls `each` with the JSON of every stored case projection (fields, consents, referrals,
    /// screening outcomes and the desk's entries; no notes or answers) and its needs-review flag,
    /// in the order the cases were stored, filtered on the list's status and team columns.
    pub(crate) fn each_projection(
        &self,
        status: Option<CaseStatus>,
        team: Option<&str>,
        mut each: impl FnMut(&[u8], bool) -> Result<()>,
    ) -> Result<()> {
        let mut statement = self.conn.prepare_cached(
            "SELECT c.needs_review, s.state FROM cases c JOIN case_states s ON s.case_rowid = c.rowid
             WHERE (?1 IS NULL OR c.status = ?1) AND (?2 IS NULL OR c.team = ?2) ORDER BY c.rowid",
        )?;
        let mut rows = statement.query(rusqlite::params![status.map(|status| status.as_str()), team])?;
        while let Some(row) = rows.next()? {
            let needs_review: bool = row.get(0)?;
            let packed = row.get_ref(1)?.as_blob().map_err(|_| crate::Error::Corrupt("case state".into()))?;
            let json = super::unpack_projection(packed)?;
            each(&json, needs_review)?;
        }
        Ok(())
    }

    /// Gives back the database pages a scan left in this connection's cache (`PRAGMA
    /// shrink_memory`): after the figures are counted the rows they need are in memory, and an
    /// app that keeps the dashboard on screen need not hold tens of MiB of pages it will not read
    /// again soon. The next reads take their pages from the file again.
    pub fn release_page_cache(&self) -> crate::error::Result<()> {
        self.conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }
}
