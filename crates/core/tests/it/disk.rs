//! No name, alias, birth date, note or answer reaches the disk in clear: every file under the
//! data directory is scanned for each invented string, in UTF-8 and UTF-16.

use std::fs;
use std::path::Path;

use harbour_core::model::{ConsentMethod, ConsentScope, FieldValue, Screening};
use harbour_core::store::normalize_text;
use harbour_core::{ConsentInput, EntryId, Workspace};
use serde_json::json;

use crate::support::*;

const ANSWER: &str = "answer-qzx: the Brindlewick farm took my papers";
const NEW_NAME: &str = "Perpetua Quaxmire";

fn encodings(text: &str) -> Vec<Vec<u8>> {
    let utf16: Vec<u16> = text.encode_utf16().collect();
    vec![
        text.as_bytes().to_vec(),
        utf16.iter().flat_map(|unit| unit.to_le_bytes()).collect(),
        utf16.iter().flat_map(|unit| unit.to_be_bytes()).collect(),
    ]
}

/// Fails, naming the file and the string's number (not the string), when one is found.
fn assert_nothing_in_clear(dir: &Path, secrets: &[String]) {
    let files = files_under(dir);
    assert!(!files.is_empty());
    for file in files {
        let bytes = fs::read(&file).unwrap();
        for (index, secret) in secrets.iter().enumerate() {
            for (encoding, needle) in encodings(secret).iter().enumerate() {
                assert!(
                    !bytes.windows(needle.len()).any(|window| window == needle),
                    "{} holds invented string #{index} in clear (encoding #{encoding})",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn no_personal_data_on_disk_in_clear() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    workspace.add_note(case, NOTE).unwrap();
    workspace
        .add_consent(
            case,
            ConsentInput {
                scope: vec![ConsentScope::Screenings],
                shared_with: "Shelter South".into(),
                given_on: day("2024-03-03"),
                method: ConsentMethod::Verbal,
                note: None,
            },
        )
        .unwrap();
    workspace
        .add_screening(
            case,
            Screening {
                id: EntryId::new(),
                form_id: "htcds-screening".into(),
                form_version: 1,
                language: "en".into(),
                answers: [("q7".to_owned(), json!(ANSWER))].into(),
                result: json!({"level": "high"}),
            },
        )
        .unwrap();
    workspace.update_case(case, vec![FieldValue::Name(NEW_NAME.into())], None).unwrap();
    let _ = Workspace::unlock(&fixture.dir, "not the passphrase");

    let secrets: Vec<String> = [NAME, ALIAS, BIRTH_DATE, NOTE, ANSWER, NEW_NAME]
        .iter()
        .flat_map(|text| [text.to_string(), normalize_text(text)])
        .collect();
    // While unlocked (the write-ahead log holds the newest pages), then after locking.
    assert_nothing_in_clear(&fixture.dir, &secrets);
    drop(workspace);
    assert_nothing_in_clear(&fixture.dir, &secrets);
    let workspace = unlock(&fixture.dir);
    assert_eq!(workspace.case_count().unwrap(), 1);
    drop(workspace);
    assert_nothing_in_clear(&fixture.dir, &secrets);
}
