//! Creating and unlocking: passphrases, refusals, and what a refusal leaves on disk.

use harbour_core::crypto::KdfParams;
use harbour_core::model::CaseFields;
use harbour_core::{CaseQuery, CreateOptions, Error, Workspace, keyfile};

use crate::support::*;

#[test]
fn a_wrong_passphrase_is_refused_and_audited_at_the_next_unlock() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    drop(workspace);

    for attempt in ["lantern tide harbour 43", ""] {
        let result = Workspace::unlock(&fixture.dir, attempt);
        assert!(matches!(result, Err(Error::WrongPassphrase)), "a wrong passphrase: {}", outcome(&result));
    }
    assert_eq!(
        outcome(&Workspace::unlock(&fixture.dir, "nope")),
        "error: The passphrase is not correct. Check the keyboard layout and Caps Lock, and try again."
    );

    let mut workspace = unlock(&fixture.dir);
    let failed: Vec<_> =
        workspace.audit_log(100).unwrap().into_iter().filter(|entry| entry.action == "unlock.failed").collect();
    assert_eq!(failed.len(), 3, "every failed attempt is audited");
    assert!(failed.iter().all(|entry| entry.case_id.is_none()));
    assert_eq!(workspace.verify_audit().unwrap(), 5);
    assert!(workspace.view_case(case).is_ok());
    drop(workspace);

    // Imported once, not again at the following unlock.
    let workspace = unlock(&fixture.dir);
    let failed = workspace.audit_log(100).unwrap().iter().filter(|entry| entry.action == "unlock.failed").count();
    assert_eq!(failed, 3);
}

#[test]
fn short_passphrases_are_refused_at_create_and_change() {
    let fixture = fixture();
    let too_short = "seven c";
    assert_eq!(
        outcome(&Workspace::create(&fixture.dir, too_short, &fast())),
        "error: passphrase: use at least 8 characters; a few unrelated words are easy to remember"
    );
    assert!(!fixture.dir.exists(), "nothing was created");
    // Eight characters, counted as characters rather than bytes.
    assert!(Workspace::create(&fixture.dir, "ñandú ñu", &fast()).is_ok());

    let (_fixture, mut workspace) = new_workspace();
    assert_eq!(
        outcome(&workspace.change_passphrase("short")),
        "error: passphrase: use at least 8 characters; a few unrelated words are easy to remember"
    );
}

#[test]
fn changing_the_passphrase_rewraps_only_the_key_file() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap();
    let new_passphrase = "second passphrase, longer";
    workspace.change_passphrase(new_passphrase).unwrap();
    drop(workspace);

    assert!(matches!(Workspace::unlock(&fixture.dir, PASSPHRASE), Err(Error::WrongPassphrase)));
    let mut workspace = Workspace::unlock(&fixture.dir, new_passphrase).unwrap();
    assert_same(&workspace.view_case(case.id).unwrap().without_entries(), &case, "case after change");
    assert_eq!(
        keyfile::params(&fixture.dir).unwrap(),
        KdfParams::INSECURE_FAST_FOR_TESTS,
        "the key derivation parameters are kept"
    );
    let actions: Vec<String> = workspace.audit_log(100).unwrap().into_iter().map(|entry| entry.action).collect();
    assert!(actions.contains(&"passphrase.change".to_owned()));
    assert!(actions.contains(&"unlock.failed".to_owned()));
}

#[test]
fn the_standard_key_derivation_works() {
    let fixture = fixture();
    let options = CreateOptions::default();
    assert_eq!(options.kdf, KdfParams::STANDARD);
    let mut workspace = Workspace::create(&fixture.dir, PASSPHRASE, &options).unwrap();
    let case = workspace.create_case(full_fields()).unwrap();
    drop(workspace);
    assert_eq!(keyfile::params(&fixture.dir).unwrap(), KdfParams::STANDARD);
    let mut workspace = unlock(&fixture.dir);
    assert_same(&workspace.view_case(case.id).unwrap().without_entries(), &case, "case");
}

#[test]
fn create_refuses_an_existing_workspace_and_changes_nothing() {
    let (fixture, mut workspace) = new_workspace();
    workspace.create_case(CaseFields::named("Corvinia Hasslebeck").unwrap()).unwrap();
    drop(workspace);
    let before = file_hashes(&fixture.dir);
    let result = Workspace::create(&fixture.dir, "another passphrase", &fast());
    assert!(matches!(&result, Err(Error::WorkspaceExists(dir)) if *dir == fixture.dir), "{}", outcome(&result));
    assert!(outcome(&result).contains("Nothing was changed"));
    assert_eq!(file_hashes(&fixture.dir), before);
    assert_eq!(unlock(&fixture.dir).list_cases(&CaseQuery::default()).unwrap().len(), 1);

    // A key file alone, or a database alone, is a workspace too.
    for only in [keyfile::KEY_FILE, "harbour.db"] {
        let other = fixture_with_file(only);
        assert!(matches!(Workspace::create(&other.dir, PASSPHRASE, &fast()), Err(Error::WorkspaceExists(_))));
    }
}

fn fixture_with_file(name: &str) -> Fixture {
    let fixture = fixture();
    std::fs::create_dir_all(&fixture.dir).unwrap();
    std::fs::write(fixture.dir.join(name), b"left over").unwrap();
    fixture
}

#[test]
fn unlock_without_a_workspace_says_so_and_writes_nothing() {
    let fixture = fixture();
    std::fs::create_dir_all(&fixture.dir).unwrap();
    for dir in [fixture.dir.clone(), fixture.dir.join("missing")] {
        let result = Workspace::unlock(&dir, PASSPHRASE);
        assert!(matches!(&result, Err(Error::NoWorkspace(reported)) if *reported == dir), "{}", outcome(&result));
        assert!(outcome(&result).contains("harbour init"));
    }
    assert!(files_under(&fixture.dir).is_empty(), "no file was written");
    assert!(!fixture.dir.join("missing").exists());
}
