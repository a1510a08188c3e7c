//! Drafts: work on screen that is not a record yet (a half-filled screening, a note being
//! typed). They live in the encrypted database, are never synced, and are replaced whole.

use rusqlite::OptionalExtension;

use super::{Workspace, set_meta};
use crate::error::{Error, Result};

/// A draft larger than this is refused: drafts are form answers and short texts.
pub const MAX_DRAFT_BYTES: usize = 256 * 1024;

const PREFIX: &str = "draft:";

impl Workspace {
    /// Saves (or replaces) the draft under `key`, such as `screening:<case id>`.
    pub fn save_draft(&mut self, key: &str, value: &str) -> Result<()> {
        check_key(key)?;
        if value.len() > MAX_DRAFT_BYTES {
            return Err(Error::invalid(
                "draft",
                format!("a draft may hold at most {} KB; save the work as a record instead", MAX_DRAFT_BYTES / 1024),
            ));
        }
        set_meta(&self.conn, &format!("{PREFIX}{key}"), value)
    }

    pub fn draft(&self, key: &str) -> Result<Option<String>> {
        check_key(key)?;
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([format!("{PREFIX}{key}")], |row| row.get(0))
            .optional()?)
    }

    pub fn discard_draft(&mut self, key: &str) -> Result<()> {
        check_key(key)?;
        self.conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?.execute([format!("{PREFIX}{key}")])?;
        Ok(())
    }
}

fn check_key(key: &str) -> Result<()> {
    let fine = !key.is_empty()
        && key.len() <= 120
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'));
    if fine { Ok(()) } else { Err(Error::invalid("draft key", "use up to 120 letters, digits and : - _ .")) }
}

#[cfg(test)]
mod tests {
    use crate::crypto::KdfParams;
    use crate::store::{CreateOptions, Workspace};

    #[test]
    fn drafts_are_saved_replaced_discarded_and_survive_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        let mut workspace = Workspace::create(dir.path(), "a long test passphrase", &options).unwrap();
        assert_eq!(workspace.draft("screening:new").unwrap(), None);
        workspace.save_draft("screening:new", r#"{"q1":"yes"}"#).unwrap();
        workspace.save_draft("screening:new", r#"{"q1":"no"}"#).unwrap();
        drop(workspace);
        let mut workspace = Workspace::unlock(dir.path(), "a long test passphrase").unwrap();
        assert_eq!(workspace.draft("screening:new").unwrap().as_deref(), Some(r#"{"q1":"no"}"#));
        workspace.discard_draft("screening:new").unwrap();
        assert_eq!(workspace.draft("screening:new").unwrap(), None);
        assert!(workspace.save_draft("../etc", "x").is_err());
        assert!(workspace.save_draft("big", &"x".repeat(super::MAX_DRAFT_BYTES + 1)).is_err());
    }
}
