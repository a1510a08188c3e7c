//! The `harbour` command line as a script or an administrator uses it.

use harbour_tests::{harbour, harbour_json};

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_case_from_creation_to_closing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init", "--worker", "Nurse Joseph"]).status.success());

    let created = harbour_json(
        &data,
        &[
            "case",
            "new",
            "--name",
            "Rosalía Núñez",
            "--alias",
            "Rosa",
            "--sex",
            "female",
            "--age",
            "29",
            "--nationality",
            "VE",
        ],
    );
    let (id, code) = (created["id"].as_str().unwrap(), created["code"].as_str().unwrap());
    assert_eq!(created["name"], "Rosalía Núñez");
    assert!(code.starts_with("LC-") && code.len() == 10);

    let found = harbour_json(&data, &["case", "list", "--search", "rosalia"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    for key in ["id", "code", "name", "status", "updated_at"] {
        assert!(found[0].get(key).is_some(), "case list --json has {key}");
    }
    assert_eq!(found[0]["status"], "active");
    let by_code_fragment = harbour_json(&data, &["case", "list", "--search", &code[3..7].to_lowercase()]);
    assert_eq!(by_code_fragment[0]["id"], id);

    let lower_code = code.to_lowercase().replace('-', "");
    assert!(harbour(&data, &["case", "set", &lower_code, "risk_level=high", "location=Castries"]).status.success());
    let note = harbour_json(&data, &["note", "add", code, "--text", "First visit"]);
    assert_eq!(note["case_id"], id);
    let consent =
        harbour_json(&data, &["consent", "add", code, "--share", "identity,case_summary", "--with", "Shelter"]);
    let referral = harbour_json(
        &data,
        &[
            "referral",
            "add",
            code,
            "--service",
            "Safe House",
            "--type",
            "shelter",
            "--consent",
            consent["id"].as_str().unwrap(),
            "--urgency",
            "urgent",
        ],
    );
    let referral_id = referral["id"].as_str().unwrap();
    assert!(harbour(&data, &["referral", "status", code, referral_id, "accepted"]).status.success());
    assert!(harbour(&data, &["referral", "status", code, referral_id, "completed"]).status.success());
    assert!(harbour(&data, &["case", "close", code, "--reason", "Safe and settled", "--referred"]).status.success());

    let shown = harbour_json(&data, &["case", "show", id]);
    assert_eq!(shown["fields"]["status"], "closed_referred");
    assert_eq!(shown["fields"]["risk_level"], "high");
    assert_eq!(shown["notes"].as_array().unwrap().len(), 1);
    assert_eq!(shown["referrals"][0]["status"], "completed");
    assert_eq!(shown["history"].as_array().unwrap().len(), 8);
    assert_eq!(shown["needs_review"], false);

    let closed = harbour_json(&data, &["case", "list", "--status", "closed_referred"]);
    assert_eq!(closed.as_array().unwrap().len(), 1);
    assert!(harbour(&data, &["case", "reopen", code, "--reason", "Came back"]).status.success());
    assert_eq!(harbour_json(&data, &["case", "list", "--status", "closed_referred"]).as_array().unwrap().len(), 0);

    let audit = harbour_json(&data, &["audit", "verify"]);
    assert_eq!(audit["ok"], true);
    let entries = harbour_json(&data, &["audit", "show", "--limit", "100"]);
    let actions: Vec<&str> =
        entries.as_array().unwrap().iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    for action in ["case.create", "case.update", "case.view", "note.add", "consent.add", "referral.add"] {
        assert!(actions.contains(&action), "audit has {action}");
    }
}

#[test]
fn bad_input_gets_one_clear_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let created = harbour_json(&data, &["case", "new", "--name", "Test Person"]);
    let code = created["code"].as_str().unwrap();

    let refused = [
        (vec!["init"], "already exists"),
        (
            vec!["case", "new", "--name", "X", "--sex", "woman"],
            "sex: \"woman\" is not allowed; use one of: female, male",
        ),
        (
            vec!["case", "new", "--name", "X", "--birth-date", "14/03/1990"],
            "birth_date: \"14/03/1990\" is not a date; use YYYY-MM-DD",
        ),
        (
            vec!["case", "new", "--name", "X", "--nationality", "XX"],
            "nationality: \"XX\" is not an ISO 3166-1 country code",
        ),
        (vec!["case", "new", "--name", "X", "--phone", "12345"], "phone: use the international E.164 form"),
        (vec!["case", "new", "--name", "   "], "name: must not be empty"),
        (
            vec!["case", "set", code, "risk_level=extreme"],
            "risk_level: \"extreme\" is not allowed; use one of: low, medium, high",
        ),
        (vec!["case", "set", code, "risk_level"], "write each change as FIELD=VALUE"),
        (vec!["case", "set", code, "colour=red"], "colour: is not a case field"),
        (vec!["case", "show", "LC-2222-22"], "No case has the id or code \"LC-2222-22\""),
        (vec!["case", "reopen", code, "--reason", "x"], "the case is not closed"),
        (
            vec!["referral", "add", code, "--service", "S", "--type", "shelter", "--consent", "nope"],
            "give the consent's id",
        ),
        (vec!["case", "list", "--status", "open"], "status: \"open\" is not allowed"),
    ];
    for (args, expected) in refused {
        let output = harbour(&data, &args);
        let stderr = stderr_of(&output);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: one line: {stderr}");
    }
    let list = harbour_json(&data, &["case", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "no refused command created anything");
    let shown = harbour_json(&data, &["case", "show", code]);
    assert_eq!(shown["history"].as_array().unwrap().len(), 1, "no refused command changed the case");
}

#[test]
fn a_wrong_passphrase_is_refused_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let output = std::process::Command::new(harbour_tests::binary("harbour"))
        .args(["--data-dir"])
        .arg(&data)
        .args(["case", "list"])
        .env("HARBOUR_PASSPHRASE", "not the passphrase")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr_of(&output).contains("The passphrase is not correct"));
    let audit = harbour_json(&data, &["audit", "show"]);
    assert!(audit.as_array().unwrap().iter().any(|entry| entry["action"] == "unlock.failed"));
    assert_eq!(harbour_json(&data, &["audit", "verify"])["ok"], true);

    let missing = harbour(&dir.path().join("nothing-here"), &["case", "list"]);
    assert!(stderr_of(&missing).contains("There is no Harbour workspace"));
}

#[test]
fn passphrase_change_rewraps_the_key_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let created = harbour_json(&data, &["case", "new", "--name", "Kept Across Change"]);
    let output = std::process::Command::new(harbour_tests::binary("harbour"))
        .arg("--data-dir")
        .arg(&data)
        .args(["passphrase", "change"])
        .env("HARBOUR_PASSPHRASE", harbour_tests::PASSPHRASE)
        .env("HARBOUR_NEW_PASSPHRASE", "a brand new passphrase")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(!harbour(&data, &["case", "list"]).status.success(), "the old passphrase no longer works");
    let listed = std::process::Command::new(harbour_tests::binary("harbour"))
        .arg("--data-dir")
        .arg(&data)
        .args(["--json", "case", "list"])
        .env("HARBOUR_PASSPHRASE", "a brand new passphrase")
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list[0]["id"], created["id"]);
}

/// Plain HTTP can be read and rewritten by anyone on the way: a server address that is not this
/// machine must be https://, unless `--allow-insecure-http` says this is a test network.
#[test]
fn a_plain_http_server_elsewhere_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    // 0.0.0.0 is not loopback, yet a connection to it fails at once on this machine.
    let create = ["deployment", "create", "--server", "http://0.0.0.0:1", "--bootstrap-token", "t"];
    let output = harbour(&data, &create);
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    assert!(stderr.contains("The server address \"http://0.0.0.0:1\" uses plain http://"), "{stderr}");

    let allowed: Vec<&str> = std::iter::once("--allow-insecure-http").chain(create).collect();
    let output = harbour(&data, &allowed);
    assert!(!output.status.success(), "nothing listens there");
    let stderr = stderr_of(&output);
    assert!(stderr.contains("warning: plain http:// server addresses are allowed"), "{stderr}");
    assert!(stderr.contains("could not be reached"), "past the check, the address was tried: {stderr}");
}

#[test]
fn a_case_created_by_mistake_is_discarded_or_closed_in_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init", "--worker", "Nurse Joseph"]).status.success());
    let mistaken = harbour_json(&data, &["case", "new", "--name", "Typed By Mistake"]);
    let kept = harbour_json(&data, &["case", "new", "--name", "Kept Person"]);
    let code = mistaken["code"].as_str().unwrap();
    assert!(harbour(&data, &["note", "add", code, "--text", "wrong person"]).status.success());

    let discarded = harbour(&data, &["case", "discard", code]);
    assert!(discarded.status.success(), "{}", stderr_of(&discarded));
    assert!(harbour_json(&data, &["case", "list", "--search", "mistake"]).as_array().unwrap().is_empty());
    let again = harbour(&data, &["case", "discard", code]);
    assert!(!again.status.success());
    assert!(stderr_of(&again).contains("No case has the id or code"), "{}", stderr_of(&again));
    let entries = harbour_json(&data, &["audit", "show", "--limit", "100"]);
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["action"] == "case.discard" && entry["case_id"] == mistaken["id"])
    );
    assert_eq!(harbour_json(&data, &["audit", "verify"])["ok"], true);

    // Closing as created in error needs no reason, and records the coded one.
    let kept_code = kept["code"].as_str().unwrap();
    let both = harbour(&data, &["case", "close", kept_code, "--in-error", "--reason", "x"]);
    assert!(!both.status.success(), "--in-error takes no free-text reason");
    assert!(harbour(&data, &["case", "close", kept_code, "--in-error"]).status.success());
    let shown = harbour_json(&data, &["case", "show", kept_code]);
    assert_eq!(shown["fields"]["status"], "closed");
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["reason"], "created_in_error");
    let unnamed = harbour(&data, &["case", "close", kept_code]);
    assert!(!unnamed.status.success(), "a close needs --reason or --in-error");
}
