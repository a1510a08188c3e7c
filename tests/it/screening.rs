//! `harbour form`, `screening`, `directory`, `referral show` and the duplicate warning of
//! `case new`, through the real binary. Names and answers are invented; assertions name what
//! they look for, never print it.

use std::path::{Path, PathBuf};
use std::process::Output;

use harbour_tests::{harbour, harbour_json, plaintext_found};
use serde_json::{Value, json};

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A workspace with one case; returns the data dir and the case code.
fn workspace_with_case(root: &Path, name: &str) -> (PathBuf, String) {
    let data = root.join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let case =
        harbour_json(&data, &["case", "new", "--name", name, "--birth-date", "1988-08-08", "--nationality", "GY"]);
    (data, case["code"].as_str().unwrap().to_owned())
}

fn write_json(root: &Path, file: &str, value: &Value) -> String {
    let path = root.join(file);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn screening_count(data: &Path, code: &str) -> usize {
    harbour_json(data, &["case", "show", code])["screenings"].as_array().unwrap().len()
}

#[test]
fn forms_are_listed_and_shown_in_the_worker_language() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let listed = harbour_json(&data, &["form", "list"]);
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|form| form["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["case-assessment", "clinic-screening", "consular-intake"]);
    assert_eq!(listed[1]["version"], 1);
    let in_spanish = harbour_json(&data, &["form", "list", "--lang", "es"]);
    assert_ne!(in_spanish[1]["title"], listed[1]["title"], "titles follow --lang");

    let text = harbour(&data, &["form", "show", "clinic-screening", "--lang", "fr"]);
    assert!(text.status.success());
    let text = stdout_of(&text);
    let why = harbour_core::forms::Strings::builtin().text("screening.why_we_ask", harbour_core::forms::Lang::Fr);
    assert!(text.contains("[q_documents]") && text.contains(why), "questions with their guidance, in French");
    let definition = harbour_json(&data, &["form", "show", "clinic-screening", "--version", "1"]);
    assert_eq!((definition["id"].as_str(), definition["version"].as_u64()), (Some("clinic-screening"), Some(1)));
    assert!(definition["sections"].as_array().is_some_and(|sections| !sections.is_empty()));

    for (args, says) in [
        (&["form", "show", "clinic-screening", "--version", "9"][..], "there is no form clinic-screening v9"),
        (&["form", "show", "no-such-form"][..], "there is no form no-such-form"),
        (&["form", "list", "--lang", "de"][..], "lang: \"de\" is not a language Harbour has"),
    ] {
        let output = harbour(&data, args);
        assert!(!output.status.success(), "{args:?} fails");
        assert!(stderr_of(&output).contains(says), "{args:?} says what is wrong");
        assert_eq!(stderr_of(&output).trim().lines().count(), 1, "{args:?}: one line");
    }
}

#[test]
fn a_screening_prints_its_result_and_bad_answer_files_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, code) = workspace_with_case(dir.path(), "Brannoc Ylvestra");
    let answers = json!({
        "q_safe_to_talk": "yes", "q_danger_now": "no", "q_documents": "yes", "q_debt": "yes",
        "q_deceived": "declined", "q_wants_help": "yes"
    });
    let file = write_json(dir.path(), "answers.json", &answers);
    let recorded = harbour_json(&data, &["screening", "add", &code, "--form", "clinic-screening", "--answers", &file]);
    for key in ["id", "case_id", "form_id", "form_version", "level", "reasons", "suggested_services", "codes"] {
        assert!(recorded.get(key).is_some(), "screening add --json has {key}");
    }
    assert_eq!(recorded["form_id"], "clinic-screening");
    assert_eq!(recorded["form_version"], 1);
    assert_eq!(recorded["level"], "refer_now");
    let reasons: Vec<&str> =
        recorded["reasons"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["reason.documents_withheld", "reason.debt_bondage"]);
    assert!(recorded["suggested_services"].as_array().is_some_and(|services| !services.is_empty()));
    assert!(
        recorded["codes"]["means_of_control"].as_array().is_some_and(|codes| codes.contains(&json!("debt_bondage")))
    );

    let text = harbour(&data, &["screening", "add", &code, "--form", "clinic-screening", "--answers", &file]);
    assert!(text.status.success());
    let text = stdout_of(&text);
    assert!(text.contains("Result: Refer now"), "the level in words");
    assert!(text.contains("Someone else keeps the person's identity documents."), "a reason in words");
    assert!(text.contains("Service directory:"), "services from the directory");
    let in_spanish = stdout_of(&harbour(
        &data,
        &["screening", "add", &code, "--form", "clinic-screening", "--answers", &file, "--lang", "es"],
    ));
    assert!(in_spanish.contains("Derivar ahora"), "the result in the worker's language");
    assert_eq!(screening_count(&data, &code), 3);

    let secret = "Plombrivex";
    let bad_files = [
        ("not-json.json", "{\"q_safe_to_talk\": \"yes\",".to_owned(), "is not valid JSON (line 1"),
        ("list.json", json!(["yes"]).to_string(), "must hold one JSON object"),
        (
            "unknown.json",
            json!({"q_safe_to_talk": "yes", "q_danger_now": "no", "q_wants_help": "yes", "q_plombrivex": "yes"})
                .to_string(),
            "q_plombrivex: clinic-screening v1 has no such question",
        ),
        (
            "wrong.json",
            json!({"q_safe_to_talk": "yes", "q_danger_now": "no", "q_wants_help": "yes", "q_documents": secret})
                .to_string(),
            "q_documents: answer must be",
        ),
        (
            "missing.json",
            json!({"q_safe_to_talk": "yes", "q_danger_now": "no"}).to_string(),
            "q_wants_help: this question needs an answer",
        ),
    ];
    for (name, content, says) in bad_files {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let output = harbour(
            &data,
            &["screening", "add", &code, "--form", "clinic-screening", "--answers", path.to_str().unwrap()],
        );
        let stderr = stderr_of(&output);
        assert!(!output.status.success(), "{name} is refused");
        assert!(stderr.contains(says), "{name}: the refusal says what is wrong");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: one line");
        assert!(!stderr.contains(secret), "{name}: the refusal does not repeat the answer");
    }
    let absent = harbour(
        &data,
        &["screening", "add", &code, "--form", "clinic-screening", "--answers", "/nonexistent/answers.json"],
    );
    assert!(!absent.status.success() && stderr_of(&absent).contains("could not read the answers file"));
    let unknown_form = harbour(&data, &["screening", "add", &code, "--form", "nope", "--answers", &file]);
    assert!(!unknown_form.status.success() && stderr_of(&unknown_form).contains("there is no form nope"));
    assert_eq!(screening_count(&data, &code), 3, "nothing was stored by a refused screening");
}

#[test]
fn the_service_directory_is_shown_exported_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let shown = harbour_json(&data, &["directory", "show"]);
    assert_eq!((shown["deployment"].as_str(), shown["version"].as_u64()), (Some("saint-lucia"), Some(1)));
    let text = stdout_of(&harbour(&data, &["directory", "show", "--lang", "fr"]));
    assert!(text.starts_with("Répertoire des services (saint-lucia v1)"));

    let file = dir.path().join("directory.json");
    assert!(harbour(&data, &["directory", "export", file.to_str().unwrap()]).status.success());
    let mut edited: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(edited, shown, "the export is the directory");
    edited["version"] = json!(2);
    edited["services"][0]["hours"] = json!("24 hours");
    std::fs::write(&file, edited.to_string()).unwrap();
    let imported = harbour_json(&data, &["directory", "import", file.to_str().unwrap()]);
    assert_eq!(imported["version"], 2);
    assert_eq!(harbour_json(&data, &["directory", "show"]), edited);

    edited["services"][0]["phone"] = json!("555-0100");
    std::fs::write(&file, edited.to_string()).unwrap();
    let refused = harbour(&data, &["directory", "import", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr_of(&refused).contains("service directory: services[0].phone: a phone number is written in E.164"));
    std::fs::write(&file, "{").unwrap();
    assert!(!harbour(&data, &["directory", "import", file.to_str().unwrap()]).status.success());
    assert_eq!(harbour_json(&data, &["directory", "show"])["version"], 2, "a refused import changes nothing");
    let audit = stdout_of(&harbour(&data, &["audit", "show"]));
    assert!(audit.contains("directory.import"));
}

#[test]
fn case_new_warns_of_likely_duplicates_and_still_creates_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let (data, first) = workspace_with_case(dir.path(), "Ildegarde Sørvanneck");
    let second = harbour(
        &data,
        &[
            "--json",
            "case",
            "new",
            "--name",
            "SORVANNECK ildegarde",
            "--birth-date",
            "1989-01-01",
            "--nationality",
            "GY",
        ],
    );
    assert!(second.status.success(), "the case is created");
    let created: Value = serde_json::from_slice(&second.stdout).unwrap();
    for key in ["id", "code", "name"] {
        assert!(created.get(key).is_some(), "case new --json keeps {key}");
    }
    let duplicates = created["possible_duplicates"].as_array().unwrap();
    assert_eq!(duplicates.len(), 1);
    assert_eq!(duplicates[0]["code"], first.as_str());
    assert_eq!(duplicates[0]["reasons"], json!(["same_name", "birth_year_within_one", "shared_nationality"]));
    let warning = stderr_of(&second);
    assert!(warning.contains(&first) && warning.contains("score"), "the warning names the case code and score");
    assert!(!warning.to_lowercase().contains("rvanneck"), "the warning names no one");

    let unrelated = harbour_json(&data, &["case", "new", "--name", "Corvin Aldemarsh"]);
    assert_eq!(unrelated["possible_duplicates"], json!([]));
    let plain = harbour(&data, &["case", "new", "--name", "Ildegarde Sorvanneck"]);
    assert!(plain.status.success() && stderr_of(&plain).contains("warning: this may be the same person as case"));
    assert_eq!(harbour_json(&data, &["case", "list"]).as_array().unwrap().len(), 4);
}

#[test]
fn referral_show_prints_only_what_the_consent_covers() {
    let dir = tempfile::tempdir().unwrap();
    let (data, code) = workspace_with_case(dir.path(), "Mirabeth Quanstrove");
    let location = "Gallowfen Crossing";
    assert!(
        harbour(&data, &["case", "set", &code, &format!("location={location}"), "risk_level=high"]).status.success()
    );
    assert!(harbour(&data, &["note", "add", &code, "--text", "note-skerrivale"]).status.success());
    let consent = harbour_json(&data, &["consent", "add", &code, "--share", "identity", "--with", "Shelter"]);
    let referral = harbour_json(
        &data,
        &[
            "referral",
            "add",
            &code,
            "--service",
            "Safe House",
            "--type",
            "shelter",
            "--consent",
            consent["id"].as_str().unwrap(),
        ],
    );
    let referral_id = referral["id"].as_str().unwrap();

    let packet = harbour_json(&data, &["referral", "show", &code, referral_id]);
    assert_eq!(packet["case_code"], code.as_str());
    assert_eq!(packet["referral"]["id"], referral_id);
    assert_eq!(packet["identity"]["birth_date"], "1988-08-08");
    for absent in ["contact", "case_summary", "notes", "screenings"] {
        assert!(packet.get(absent).is_none(), "{absent} is not shared without consent");
    }
    let whole = packet.to_string();
    assert!(!whole.contains(location) && !whole.contains("skerrivale") && !whole.contains("high"));

    let text = stdout_of(&harbour(&data, &["referral", "show", &code, referral_id]));
    assert!(text.contains("Not shared (no consent): contact, case_summary, screenings, notes"));
    assert!(!text.contains(location));
    let bad = harbour(&data, &["referral", "show", &code, "not-an-id"]);
    assert!(!bad.status.success() && stderr_of(&bad).contains("referral: give the referral's id"));
    assert!(stdout_of(&harbour(&data, &["audit", "show"])).contains("referral.export"));
}

#[test]
fn free_text_answers_leave_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (data, code) = workspace_with_case(dir.path(), "Wystan Corrabeck");
    let needles = ["Frumbleton-Vasquill orchard dormitory", "Vasquill", "Threnody Marchpane recruiter"];
    let answers = json!({
        "q_danger_now": "no",
        "q_citizenship": "GY",
        "q_exploitation_types": ["forced_labour"],
        "q_recruitment_date": "2023-02-14",
        "q_notes": format!("{} {}", needles[0], needles[2]),
    });
    // The answers file is the worker's own; it lives outside the data directory.
    let file = write_json(dir.path(), "assessment.json", &answers);
    for _ in 0..3 {
        harbour_json(&data, &["screening", "add", &code, "--form", "case-assessment", "--answers", &file]);
    }
    assert!(harbour(&data, &["case", "show", &code]).status.success());
    let found = plaintext_found(&data, &needles);
    assert!(found.is_empty(), "plaintext needles found (index, file): {found:?}");
}
