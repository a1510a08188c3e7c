//! Service-directory files (imported by an administrator), the signed service directory (pulled
//! from the server, signed by the deployment's root key) and the signed team directory (pulled
//! from the server, signed by the deployment's root key, team names sealed).

use harbour_core::deployment::{open_team_names, open_text, seal_text, service_directory_context, verify_directory};
use harbour_core::directory::Directory;
use harbour_core::forms::{FormLibrary, Lang, Strings};
use harbour_wire::identity::SignedDocument;
use harbour_wire::protocol::SignedDirectory;
use harbour_wire::root::{ServiceDirectoryDocument, verify_service_directory};

use crate::fixture::fixture;
use crate::{seed, split_mode, text};

const SAINT_LUCIA: &str = include_str!("../../../../assets/directory/saint-lucia.json");

/// A service-directory file. What loads must export and load again to the same file.
pub(crate) fn service_directory(data: &[u8]) -> bool {
    let Ok(directory) = Directory::from_json(&text(data)) else { return false };
    let exported = directory.to_json();
    let again = Directory::from_json(&exported).expect("an exported directory loads again");
    assert_eq!(again.to_json(), exported, "export → load → export changed the directory");
    let strings = Strings::builtin();
    for form in FormLibrary::shipped().latest_forms() {
        let _ = directory.suggest(&form.score(&Default::default()));
    }
    for lang in Lang::ALL {
        let _ = directory.report(lang, strings);
    }
    true
}

pub(crate) fn service_directory_seeds() -> Vec<Vec<u8>> {
    vec![SAINT_LUCIA.as_bytes().to_vec()]
}

/// Mode 0: a `GET /v1/directory` body as the server sends it. Mode 1: the bytes as the
/// document, signed with the deployment's root key, so that what only the root key could have
/// written is parsed too.
pub(crate) fn signed_directory(data: &[u8]) -> bool {
    let fixture = fixture();
    let (mode, rest) = split_mode(data, 2);
    let signed = match mode {
        0 => match serde_json::from_slice::<SignedDirectory>(rest) {
            Ok(signed) => signed,
            Err(_) => return false,
        },
        _ => fixture.sign_directory(text(rest).into_owned()),
    };
    let Ok(directory) = verify_directory(&signed, &fixture.root_public, fixture.deployment_id) else { return false };
    let opened = open_team_names(directory.clone(), Some(&fixture.directory_key)).is_ok();
    let _ = open_team_names(directory, None);
    opened
}

pub(crate) fn signed_directory_seeds() -> Vec<Vec<u8>> {
    let signed = &fixture().directory;
    vec![seed(0, serde_json::to_vec(signed).expect("a directory serializes")), seed(1, &signed.document)]
}

/// Mode 0: a `GET /v1/services` body as the server sends it. Mode 1: the bytes as the signed
/// document (`{deployment_id, version, directory}`), signed with the deployment's root key, so
/// that what only the administrator's laptop could have written is read as a laptop reads it:
/// verified, then the directory inside checked (`Workspace::accept_service_directory`).
pub(crate) fn signed_service_directory(data: &[u8]) -> bool {
    let fixture = fixture();
    let (mode, rest) = split_mode(data, 2);
    let signed = match mode {
        0 => match serde_json::from_slice::<SignedDocument>(rest) {
            Ok(signed) => signed,
            Err(_) => return false,
        },
        _ => fixture.sign_service_directory(text(rest).into_owned()),
    };
    let Ok(document) = verify_service_directory(&signed, &fixture.root_public, fixture.deployment_id) else {
        return false;
    };
    let json = match &document.directory {
        serde_json::Value::String(sealed) => {
            let context = service_directory_context(document.deployment_id, document.version);
            let Some(json) = open_text(&fixture.directory_key, &context, sealed) else { return false };
            json
        }
        clear => clear.to_string(),
    };
    Directory::from_json(&json).is_ok_and(|directory| u64::from(directory.version) == document.version)
}

pub(crate) fn signed_service_directory_seeds() -> Vec<Vec<u8>> {
    let fixture = fixture();
    let template: serde_json::Value = serde_json::from_str(SAINT_LUCIA).expect("the template is JSON");
    let clear = ServiceDirectoryDocument { deployment_id: fixture.deployment_id, version: 1, directory: template };
    let context = service_directory_context(fixture.deployment_id, 1);
    let sealed = ServiceDirectoryDocument {
        directory: serde_json::Value::String(seal_text(&fixture.directory_key, &context, SAINT_LUCIA)),
        ..clear.clone()
    };
    let (clear, sealed) = (fixture.root.sign_document(&clear), fixture.root.sign_document(&sealed));
    vec![
        seed(0, serde_json::to_vec(&sealed).expect("a document serializes")),
        seed(1, &sealed.document),
        seed(1, &clear.document),
    ]
}
