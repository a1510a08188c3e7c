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

/// The layout of version 2, rebuilt from a current database, with the send flags as they were.
const BACK_TO_VERSION_2: &str = "BEGIN;
     CREATE TABLE events_v2 (
         id TEXT PRIMARY KEY, case_id TEXT NOT NULL, kind TEXT NOT NULL, device_id TEXT NOT NULL,
         device_seq INTEGER NOT NULL, hlc TEXT NOT NULL, key_id TEXT NOT NULL, nonce BLOB NOT NULL,
         ciphertext BLOB NOT NULL, sent INTEGER NOT NULL DEFAULT 0, UNIQUE (device_id, device_seq));
     INSERT INTO events_v2 SELECT id, case_id, kind, device_id, device_seq, hlc, key_id, nonce, ciphertext, sent
         FROM events ORDER BY seq;
     DROP TABLE events;
     ALTER TABLE events_v2 RENAME TO events;
     CREATE INDEX events_by_case ON events (case_id, hlc);
     CREATE INDEX events_unsent ON events (device_seq) WHERE sent = 0;
     CREATE INDEX cases_by_status ON cases (status, updated_ms);
     DELETE FROM meta WHERE key = 'sent_through';
     DROP TABLE case_facts;
     DROP TABLE case_counts;
     PRAGMA user_version = 2;
     COMMIT;";

#[test]
fn a_version_2_database_is_migrated_with_every_event_and_what_waits_to_be_sent() {
    let (fixture, mut workspace) = new_workspace();
    let mut cases = Vec::new();
    for _ in 0..3 {
        let case = workspace.create_case(full_fields()).unwrap().id;
        workspace.add_note(case, NOTE).unwrap();
        cases.push(case);
    }
    // The server acknowledged the second half of the backlog but not the first: the flags have
    // a gap, which the migration must keep.
    let pending = workspace.pending_events(100).unwrap();
    let later: Vec<_> = pending[pending.len() / 2..].iter().map(|event| event.id).collect();
    workspace.mark_sent(&later).unwrap();
    let waiting: Vec<_> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
    assert_eq!(waiting.len(), pending.len() - later.len());
    let views: Vec<_> = cases.iter().map(|case| workspace.view_case(*case).unwrap()).collect();
    let listed = workspace.list_cases(&harbour_core::CaseQuery::default()).unwrap();
    let events: Vec<_> = cases.iter().map(|case| workspace.case_events(*case).unwrap()).collect();
    let figures_query = harbour_core::stats::StatsQuery::new(chrono::Utc::now().date_naive());
    let figures = workspace.statistics(&figures_query).unwrap().figures.to_json();
    drop(workspace);
    raw_db(&fixture.dir).execute_batch(BACK_TO_VERSION_2).unwrap();

    let mut workspace = unlock(&fixture.dir);
    let version: i64 = raw_db(&fixture.dir).query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let integrity: String = raw_db(&fixture.dir).query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let after: Vec<_> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
    assert_eq!(after, waiting, "the same events wait to be sent, in the same order");
    assert_eq!(workspace.pending_count().unwrap(), waiting.len() as u64);
    for (index, case) in cases.iter().enumerate() {
        assert_same(&workspace.view_case(*case).unwrap(), &views[index], "a migrated case");
        assert_same(&workspace.case_events(*case).unwrap(), &events[index], "a migrated case's sealed events");
    }
    assert_same(&workspace.list_cases(&harbour_core::CaseQuery::default()).unwrap(), &listed, "the case list");
    workspace.verify_audit().unwrap();
    // The figures' facts are derived from the migrated projections (schema 5).
    assert_eq!(workspace.statistics(&figures_query).unwrap().figures.to_json(), figures);
    assert_eq!(figures["by_identification"]["presumed"], 3);

    // Writing and sending go on from where they were.
    workspace.add_note(cases[0], NOTE).unwrap();
    let pending = workspace.pending_events(100).unwrap();
    assert_eq!(pending.len(), waiting.len() + 1);
    let device_seqs: Vec<u64> = pending.iter().map(|event| event.device_seq).collect();
    assert!(device_seqs.windows(2).all(|pair| pair[0] < pair[1]), "oldest first: {device_seqs:?}");
    workspace.mark_sent(&pending.iter().map(|event| event.id).collect::<Vec<_>>()).unwrap();
    assert_eq!(workspace.pending_count().unwrap(), 0);
    assert!(workspace.pending_events(100).unwrap().is_empty());
}

#[test]
fn a_version_6_database_gains_the_dashboards_compact_rows_with_the_same_figures() {
    let (fixture, mut workspace) = new_workspace();
    let mut fields = full_fields();
    workspace.create_case(full_fields()).unwrap();
    fields.sex = Some(harbour_core::model::Sex::Male);
    fields.assigned_team = Some("Clinic South".into());
    workspace.create_case(fields).unwrap();
    let query = harbour_core::stats::StatsQuery::new(chrono::Utc::now().date_naive());
    let figures = workspace.statistics(&query).unwrap().figures.to_json();
    drop(workspace);
    raw_db(&fixture.dir).execute_batch("BEGIN; DROP TABLE case_counts; PRAGMA user_version = 6; COMMIT;").unwrap();

    let mut workspace = unlock(&fixture.dir);
    let conn = raw_db(&fixture.dir);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let rows: i64 = conn.query_row("SELECT count(*) FROM case_counts", [], |row| row.get(0)).unwrap();
    assert_eq!(rows, 2, "one compact row per case");
    let again = workspace.statistics(&query).unwrap().figures.to_json();
    assert_eq!(again, figures, "the figures read from the migrated rows are the same");
    assert_eq!((again["by_sex"]["female"].as_u64(), again["by_sex"]["male"].as_u64()), (Some(1), Some(1)));
}

#[test]
fn a_version_7_database_counts_the_services_received_after_its_migration() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    workspace.create_case(full_fields()).unwrap();
    let shelter = harbour_core::model::ServiceType::Shelter;
    workspace.add_service_received(case, shelter, chrono::Utc::now().date_naive(), None).unwrap();
    let query = harbour_core::stats::StatsQuery::new(chrono::Utc::now().date_naive());
    let figures = workspace.statistics(&query).unwrap().figures.to_json();
    assert_eq!((figures["assisted"].as_u64(), figures["assisted_by_service"]["shelter"].as_u64()), (Some(1), Some(1)));
    drop(workspace);
    // What Harbour 7 had written: facts without the services, compact rows of format 1 (the
    // same bytes without the services section: its count, then for the shelter its type's
    // name and its first and last day).
    let conn = raw_db(&fixture.dir);
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT case_rowid, row FROM case_counts")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut sheltered = 0;
    for (rowid, mut row) in rows {
        assert_eq!(row[0], 2, "written in format 2");
        let with_shelter = [&[1u8, 0, 7][..], b"shelter"].concat();
        let section = if row.len() > 18 && row[row.len() - 18..row.len() - 8] == with_shelter[..] {
            sheltered += 1;
            18
        } else {
            2
        };
        row.truncate(row.len() - section);
        row[0] = 1;
        conn.execute("UPDATE case_counts SET row = ?2 WHERE case_rowid = ?1", rusqlite::params![rowid, row]).unwrap();
    }
    assert_eq!(sheltered, 1);
    conn.execute_batch(
        "UPDATE case_facts SET facts = CAST(json_remove(CAST(facts AS TEXT), '$.services') AS BLOB);
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);

    let mut workspace = unlock(&fixture.dir);
    let conn = raw_db(&fixture.dir);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let formats: Vec<u8> = conn
        .prepare("SELECT substr(row, 1, 1) FROM case_counts")
        .unwrap()
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|first| first.unwrap()[0])
        .collect();
    assert_eq!(formats, [2, 2], "every compact row written again with the services");
    let again = workspace.statistics(&query).unwrap().figures.to_json();
    assert_eq!(again, figures, "the person sheltered counts as assisted again, from the derived facts");
}
