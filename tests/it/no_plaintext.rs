//! No name, alias, note or birth date reaches the disk in clear: every file under the data
//! directory is scanned, in UTF-8 and UTF-16, while the workspace is open and after it closed.

use harbour_core::crypto::KdfParams;
use harbour_core::model::{CaseFields, FieldValue};
use harbour_core::{ConsentInput, CreateOptions, Workspace};
use harbour_tests::{PASSPHRASE, harbour, harbour_json, plaintext_found};

const NAME: &str = "Zéphyrine Quarterbridge";
const ALIAS: &str = "Xanthippa Moonwhistle";
const NOTE: &str = "Vexillology-clinic-appointment-Ouvrard";
const BIRTH_DATE: &str = "1937-11-23";
const LOCATION: &str = "Quillfeather Lane";

fn needles() -> Vec<&'static str> {
    vec![NAME, "Zéphyrine", "zephyrine", "Quarterbridge", ALIAS, "Moonwhistle", NOTE, "Ouvrard", BIRTH_DATE, LOCATION]
}

fn assert_clean(dir: &std::path::Path, when: &str) {
    let found = plaintext_found(dir, &needles());
    // Report which needle (by index) and which file, never the text itself.
    assert!(found.is_empty(), "{when}: plaintext needles found (index, file): {found:?}");
}

#[test]
fn the_cli_leaves_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    for round in 0..3 {
        let case = harbour_json(
            &data,
            &["case", "new", "--name", NAME, "--alias", ALIAS, "--birth-date", BIRTH_DATE, "--location", LOCATION],
        );
        let code = case["code"].as_str().unwrap();
        assert!(harbour(&data, &["note", "add", code, "--text", &format!("{NOTE} {round}")]).status.success());
        assert!(harbour(&data, &["case", "set", code, &format!("aliases={ALIAS},Other")]).status.success());
        assert!(harbour(&data, &["case", "show", code]).status.success());
    }
    // A wrong passphrase leaves a record on disk too: it must hold no case data either.
    let _ = std::process::Command::new(harbour_tests::binary("harbour"))
        .arg("--data-dir")
        .arg(&data)
        .args(["case", "list"])
        .env("HARBOUR_PASSPHRASE", "wrong wrong wrong")
        .output();
    assert_clean(&data, "after the CLI");
}

#[test]
fn an_open_workspace_leaves_no_plaintext_in_database_wal_or_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let mut workspace = Workspace::create(&data, PASSPHRASE, &options).unwrap();
    for round in 0..50 {
        let mut fields = CaseFields::named(&format!("{NAME} {round}")).unwrap();
        fields.set(FieldValue::parse(harbour_core::model::Field::Aliases, ALIAS).unwrap());
        fields.set(FieldValue::parse(harbour_core::model::Field::BirthDate, BIRTH_DATE).unwrap());
        let state = workspace.create_case(fields).unwrap();
        workspace.add_note(state.id, NOTE).unwrap();
        workspace
            .add_consent(
                state.id,
                ConsentInput {
                    scope: vec![harbour_core::model::ConsentScope::Identity],
                    shared_with: LOCATION.into(),
                    given_on: chrono_today(),
                    method: harbour_core::model::ConsentMethod::Written,
                    note: Some(NOTE.into()),
                },
            )
            .unwrap();
    }
    assert!(!workspace.list_cases(&Default::default()).unwrap().is_empty());
    // The WAL and shared-memory files exist now: scan them while open.
    assert_clean(&data, "while the workspace is open");
    drop(workspace);
    assert_clean(&data, "after locking");
}

fn chrono_today() -> harbour_core::model::values::Date {
    harbour_core::model::values::today()
}

#[test]
fn the_scanner_finds_utf8_and_utf16_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.txt"), format!("xx{}yy", NAME.to_uppercase())).unwrap();
    let utf16: Vec<u8> = NOTE.encode_utf16().flat_map(|unit| unit.to_le_bytes()).collect();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub").join("wide.bin"), utf16).unwrap();
    let found = plaintext_found(dir.path(), &needles());
    assert!(found.iter().any(|(index, _)| *index == 0), "upper-case UTF-8 is found");
    assert!(found.iter().any(|(index, _)| *index == 6), "UTF-16 is found");
}
