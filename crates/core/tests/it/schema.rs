//! A database written by a newer Harbour is refused, and left exactly as it was.

use harbour_core::store::SCHEMA_VERSION;
use harbour_core::{Error, Workspace};

use crate::support::*;

#[test]
fn a_newer_schema_is_refused_and_untouched() {
    let (fixture, mut workspace) = new_workspace();
    workspace.create_case(full_fields()).unwrap();
    drop(workspace);
    {
        let conn = raw_db(&fixture.dir);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let before = file_hashes(&fixture.dir);

    let result = Workspace::unlock(&fixture.dir, PASSPHRASE);
    assert!(
        matches!(result, Err(Error::NewerSchema { found: 99, known }) if known == SCHEMA_VERSION),
        "{}",
        outcome(&result)
    );
    assert!(outcome(&result).contains("Nothing was changed"));
    drop(result);
    assert_eq!(file_hashes(&fixture.dir), before, "every file is unchanged");

    // Refused again the same way: the first refusal did not half-migrate anything.
    assert!(matches!(Workspace::unlock(&fixture.dir, PASSPHRASE), Err(Error::NewerSchema { found: 99, .. })));
    assert_eq!(file_hashes(&fixture.dir), before);
}
