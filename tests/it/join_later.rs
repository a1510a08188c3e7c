//! A laptop started on its own joins its organisation later and keeps its cases: a real
//! `harbour-server` on 127.0.0.1, the ministry's laptop driven through the `harbour` binary, and
//! the standalone workspace joined through core and the sync client, as the desktop does.

use harbour_core::Workspace;
use harbour_sync::client::Client;
use harbour_tests::server::Organisation;
use harbour_tests::{PASSPHRASE, harbour, harbour_json};

#[test]
fn a_standalone_laptop_joins_later_and_its_cases_reach_the_ministry() {
    let root = tempfile::tempdir().unwrap();
    let Organisation { store, server: _server, ministry, invited, .. } = Organisation::start(root.path(), "Clinic");

    // A clinic laptop worked alone for a while.
    let clinic = root.path().join("clinic");
    assert!(harbour(&clinic, &["init", "--worker", "Nurse"]).status.success());
    let first = harbour_json(&clinic, &["case", "new", "--name", "Invented Zephyrine Talbrook"]);
    harbour_json(&clinic, &["note", "add", first["code"].as_str().unwrap(), "--text", "Invented note"]);
    let second = harbour_json(&clinic, &["case", "new", "--name", "Invented Corwin Ashdale"]);
    let before = Workspace::unlock(&clinic, PASSPHRASE).unwrap().device_id();

    // It joins: the invitation is redeemed for a certificate made for its own id.
    let mut workspace = Workspace::unlock(&clinic, PASSPHRASE).unwrap();
    let invitation = harbour_core::deployment::open_invitation(
        invited["invitation"].as_str().unwrap(),
        invited["code"].as_str().unwrap(),
    )
    .unwrap();
    let enrolment = Workspace::prepare_enrolment_as(&invitation, workspace.worker(), workspace.device_id()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let redeemer = Client::new(&invitation.server_url).unwrap().with_token(&invitation.invitation_token);
    let redeemed =
        runtime.block_on(redeemer.redeem_invitation(enrolment.device_id.0, &enrolment.identity.certificate)).unwrap();
    assert_eq!(workspace.join_later(&invitation, enrolment, &redeemed.device_token).unwrap(), 2);
    assert!(
        workspace
            .join_later(&invitation, Workspace::prepare_enrolment_as(&invitation, "x", before).unwrap(), "t")
            .is_err(),
        "a second join is refused"
    );
    drop(workspace);

    // Unlocked again it is a laptop of the organisation, with the same id and its cases.
    let workspace = Workspace::unlock(&clinic, PASSPHRASE).unwrap();
    assert_eq!(workspace.device_id(), before, "the laptop keeps its id");
    assert!(workspace.membership().is_some());
    drop(workspace);
    let sent = harbour_json(&clinic, &["sync"]);
    assert!(sent["pushed"].as_u64().unwrap() >= 7, "the cases, the note and their grants are sent: {}", sent["pushed"]);

    // The ministry receives both cases and can read them.
    harbour_json(&ministry, &["sync"]);
    for case in [&first, &second] {
        let shown = harbour_json(&ministry, &["case", "show", case["code"].as_str().unwrap()]);
        assert!(
            shown["fields"]["name"] == case["name"],
            "the ministry reads a case the clinic recorded before joining"
        );
    }
    assert_eq!(
        harbour_json(&ministry, &["case", "show", first["code"].as_str().unwrap()])["notes"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(
        store.plaintext_found(&["Zephyrine", "Talbrook", "Ashdale"]).is_empty(),
        "the server holds no name in clear"
    );
}

/// `harbour join`: the same, from the command line, with the invitation read from a file; the
/// first sync runs at once, and a second join is refused without touching the workspace.
#[test]
fn harbour_join_moves_a_standalone_workspace_into_the_organisation() {
    let root = tempfile::tempdir().unwrap();
    let Organisation { store, server: _server, ministry, invited, .. } = Organisation::start(root.path(), "Embassy");

    let embassy = root.path().join("embassy");
    assert!(harbour(&embassy, &["init", "--worker", "Consul"]).status.success());
    let case = harbour_json(&embassy, &["case", "new", "--name", "Invented Quillon Marsbury"]);
    harbour_json(&embassy, &["note", "add", case["code"].as_str().unwrap(), "--text", "Invented first meeting"]);
    let before = Workspace::unlock(&embassy, PASSPHRASE).unwrap().device_id();
    let invitation_file = root.path().join("invitation.txt");
    std::fs::write(&invitation_file, invited["invitation"].as_str().unwrap()).unwrap();

    let joined = harbour_json(
        &embassy,
        &[
            "join",
            "--invitation",
            &format!("@{}", invitation_file.display()),
            "--code",
            invited["code"].as_str().unwrap(),
        ],
    );
    assert_eq!(joined["team"], "Embassy");
    assert_eq!(joined["cases"], 1);
    assert_eq!(joined["device_id"], serde_json::json!(before), "the laptop keeps its id");
    assert!(
        joined["first_sync"]["pushed"].as_u64().unwrap() >= 4,
        "the case, its note and their grants are sent at once: {joined}"
    );
    let status = harbour_json(&embassy, &["sync"]);
    assert_eq!(status["pushed"], 0, "nothing was left waiting");

    let again = harbour(&embassy, &["join", "--invitation", invited["invitation"].as_str().unwrap(), "--code", "x"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already belongs to an organisation"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    harbour_json(&ministry, &["sync"]);
    let shown = harbour_json(&ministry, &["case", "show", case["code"].as_str().unwrap()]);
    assert_eq!(shown["fields"]["name"], case["name"], "the ministry reads the case recorded before joining");
    assert_eq!(shown["notes"].as_array().map(Vec::len), Some(1));
    assert!(store.plaintext_found(&["Quillon", "Marsbury"]).is_empty(), "the server holds no name in clear");
}
