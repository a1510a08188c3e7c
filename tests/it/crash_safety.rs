//! Crash safety: a process recording changes is killed with SIGKILL at random moments; after
//! each kill the workspace reopens with every acknowledged change present, SQLite's integrity
//! check passing and the audit chain intact.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use harbour_core::crypto::KdfParams;
use harbour_core::model::CaseFields;
use harbour_core::{CaseQuery, CreateOptions, Workspace};
use harbour_tests::{PASSPHRASE, TestRng};

/// Kills per run: 50, or `HARBOUR_CRASH_KILLS` (tests/long.sh runs 1,000).
fn kills() -> usize {
    std::env::var("HARBOUR_CRASH_KILLS").ok().and_then(|text| text.parse().ok()).unwrap_or(50)
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let case_id = {
        let mut workspace = Workspace::create(&data, PASSPHRASE, &options).unwrap();
        workspace.create_case(CaseFields::named("Crash Test").unwrap()).unwrap().id
    };
    let mut rng = TestRng::from_time();
    let seed = rng.next_u64();
    let mut rng = TestRng::seeded(seed);
    let mut notes = Vec::new();
    let mut cases = vec![case_id];
    let mut updates = 0usize;

    for kill in 0..kills() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(&data)
            .arg(case_id.to_string())
            .env("HARBOUR_PASSPHRASE", PASSPHRASE)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("crash-writer starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(rng.range(20, 250)));
        child.kill().expect("SIGKILL is delivered");
        child.wait().unwrap();
        reader.join().unwrap();
        // Only complete lines count: each was printed after its change returned.
        for line in receiver.try_iter() {
            match line.split_once(' ') {
                Some(("note", id)) => notes.push(id.to_owned()),
                Some(("case", id)) => cases.push(id.parse().unwrap()),
                Some(("update", _)) => updates += 1,
                _ => {}
            }
        }

        let mut workspace = Workspace::unlock(&data, PASSPHRASE)
            .unwrap_or_else(|error| panic!("seed {seed}, kill {kill}: reopening failed: {error}"));
        assert_eq!(workspace.integrity_check().unwrap(), "ok", "seed {seed}, kill {kill}");
        workspace.verify_audit().unwrap_or_else(|error| panic!("seed {seed}, kill {kill}: {error}"));
        let state = workspace.view_case(case_id).unwrap();
        let stored: std::collections::HashSet<String> =
            state.notes.iter().map(|note| note.entry.id.to_string()).collect();
        let lost = notes.iter().filter(|id| !stored.contains(*id)).count();
        assert_eq!(lost, 0, "seed {seed}, kill {kill}: acknowledged notes lost");
        let updates_stored = state.history.iter().filter(|entry| entry.kind == "case.updated").count();
        assert!(updates_stored >= updates, "seed {seed}, kill {kill}: acknowledged updates lost");
        let listed = workspace.list_cases(&CaseQuery::default()).unwrap();
        for id in &cases {
            assert!(listed.iter().any(|summary| summary.id == *id), "seed {seed}, kill {kill}: a case was lost");
        }
        // Every event on disk opens and folds to the same state as the projection.
        let events = workspace.case_events(case_id).unwrap();
        assert_eq!(events.len(), state.history.len(), "seed {seed}, kill {kill}");
    }
    assert!(notes.len() + updates > kills(), "the writer made progress between kills (seed {seed})");
}
