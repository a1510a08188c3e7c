//! The task force's desk through the real `harbour` binary: the facts with the fixed command
//! names, `harbour stats` with its drill-down, and `harbour report annual` with the suppressed
//! CSV file, the internal one, and their audit entries.

use std::path::Path;
use std::process::{Command, Output};

const PASSPHRASE: &str = "desk test passphrase 7";

fn harbour(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harbour"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env_remove("HARBOUR_DATA_DIR")
        .output()
        .expect("harbour runs")
}

#[track_caller]
fn ok(data: &Path, args: &[&str]) -> String {
    let output = harbour(data, args);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[track_caller]
fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    serde_json::from_str(&ok(data, &with_json)).unwrap()
}

#[test]
fn facts_figures_and_the_annual_report_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    ok(&data, &["init", "--worker", "Task force"]);
    let mut codes = Vec::new();
    for (sex, kind) in [("female", "sexual_exploitation"), ("female", "forced_labour"), ("male", "forced_labour")] {
        let case = json(&data, &["case", "new", "--name", "Invented Person", "--sex", sex, "--nationality", "GY"]);
        let code = case["code"].as_str().unwrap().to_owned();
        ok(
            &data,
            &[
                "case",
                "set",
                &code,
                "identification_status=identified",
                "identification_date=2023-06-01",
                &format!("exploitation_types={kind}"),
            ],
        );
        codes.push(code);
    }
    let code = codes[0].as_str();
    ok(&data, &["case", "set", code, "country_of_exploitation=TT"]);
    ok(
        &data,
        &["process", "add", code, "--stage", "recruitment", "--country", "GY", "--from", "~2023-01", "--to", "2023-02"],
    );
    let perpetrator = json(&data, &["perpetrator", "add", code, "--role", "recruiter,exploiter", "--sex", "male"]);
    let perpetrator = perpetrator["id"].as_str().unwrap();
    ok(&data, &["justice", "add", code, "--stage", "reported", "--date", "2023-06-02"]);
    ok(
        &data,
        &["justice", "add", code, "--stage", "prosecution", "--date", "2023-09-01", "--perpetrator", perpetrator],
    );
    ok(
        &data,
        &[
            "justice",
            "add",
            code,
            "--stage",
            "convicted",
            "--date",
            "2023-11-20",
            "--perpetrator",
            perpetrator,
            "--sentence-months",
            "60",
        ],
    );
    ok(&data, &["service", "add", code, "--type", "shelter", "--date", "2023-06-02"]);

    let refused = harbour(&data, &["justice", "add", code, "--stage", "sentenced"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stage: \"sentenced\" is not allowed; use one of: reported")
    );
    let refused = harbour(&data, &["case", "set", code, "identification_status=victim"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("use one of: possible, presumed, identified, not_a_victim")
    );

    let shown = ok(&data, &["case", "show", code]);
    for line in [
        "identification: Identified victim",
        "country of exploitation: TT",
        "Trafficking process:",
        "Recruitment: GY from ~2023-01 to 2023-02",
        "Justice:",
        "sentence 60 months",
        "Services received:",
    ] {
        assert!(shown.contains(line), "case show has {line:?}");
    }

    let stats = json(&data, &["stats"]);
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["by_sex"]["female"], 2);
    assert_eq!(stats["by_status"]["active"], 3);
    assert_eq!(stats["by_identification"]["identified"], 3);
    assert_eq!(stats["by_exploitation"]["forced_labour"], 2);
    let drill = json(&data, &["stats", "--cases", "by_sex.female"]);
    let listed: Vec<&str> = drill.as_array().unwrap().iter().map(|row| row["code"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&codes[0].as_str()) && listed.contains(&codes[1].as_str()));
    // The shelter given on 2023-06-02 counts its person as assisted, by value name.
    assert_eq!((stats["assisted"].as_u64(), stats["assisted_by_service"]["shelter"].as_u64()), (Some(1), Some(1)));
    assert_eq!(stats["assisted_by_service"]["medical"], 0);
    let assisted = json(&data, &["stats", "--cases", "assisted_by_service.shelter"]);
    assert_eq!(assisted[0]["code"], codes[0].as_str());
    let later = json(&data, &["stats", "--from", "2023-06-03"]);
    assert_eq!(later["assisted"], 0, "a service with no end counts on the day it began only");
    let none = json(&data, &["stats", "--from", "2020-01-01", "--to", "2020-12-31"]);
    assert_eq!(none["total"], 0, "nothing registered in 2020");
    let team = json(&data, &["stats", "--team", "Nobody"]);
    assert_eq!(team["total"], 0);

    let report = json(&data, &["report", "annual", "--period", "calendar", "--year", "2023"]);
    let by_form = report["tables"].as_array().unwrap().iter().find(|t| t["id"] == "unodc.victims_by_form").unwrap();
    assert_eq!(by_form["cells"][1], serde_json::json!([1, 1, 0, 0]), "JSON shows true counts");
    let published = dir.path().join("unodc-2023.csv");
    ok(&data, &["report", "annual", "--period", "calendar", "--year", "2023", "--csv", published.to_str().unwrap()]);
    let csv = std::fs::read_to_string(&published).unwrap();
    assert!(csv.contains("total,<11,<11,0,0,<11"), "the published file hides small counts");
    assert!(!csv.lines().any(|line| line.split(',').any(|cell| cell == "1" || cell == "2" || cell == "3")));
    let internal = dir.path().join("unodc-2023-internal.csv");
    ok(
        &data,
        &[
            "report",
            "annual",
            "--period",
            "calendar",
            "--year",
            "2023",
            "--csv",
            internal.to_str().unwrap(),
            "--internal",
        ],
    );
    assert!(std::fs::read_to_string(&internal).unwrap().contains("total,2,1,0,0,3"));
    let tip = json(&data, &["report", "annual", "--period", "tip", "--year", "2024"]);
    assert_eq!(tip["from"], "2023-04-01");
    let assisted = tip["tables"].as_array().unwrap().iter().find(|t| t["id"] == "tip.victims_assisted").unwrap();
    assert_eq!(assisted["cells"][0], serde_json::json!([1, 0, 0, 0]), "the sheltered woman, sexually exploited");
    assert_eq!(assisted["cells"][1], serde_json::json!([0, 0, 0, 0]));
    let law = tip["tables"].as_array().unwrap().iter().find(|t| t["id"] == "tip.law_enforcement").unwrap();
    assert_eq!(
        law["cells"][0],
        serde_json::json!([0, 1, 1]),
        "one person prosecuted and convicted for sexual exploitation"
    );

    // --json and --csv together: refused before anything is read, not one of them ignored.
    let (before, after) = (
        ["--json", "report", "annual", "--period", "tip", "--year", "2024", "--csv", "x.csv"],
        ["report", "annual", "--period", "tip", "--year", "2024", "--csv", "x.csv", "--json"],
    );
    for args in [before, after] {
        let both = harbour(&data, &args);
        assert_eq!(both.status.code(), Some(2), "a usage error");
        let said = String::from_utf8_lossy(&both.stderr);
        assert!(said.contains("'--csv <FILE>' cannot be used with '--json'"), "{args:?}: {said}");
        assert!(!Path::new("x.csv").exists());
    }

    let audit = json(&data, &["audit", "show", "--limit", "20"]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|action| **action == "report.export").count(), 4);
    assert_eq!(actions.iter().filter(|action| **action == "stats.view").count(), 6);
    let details: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|entry| entry["detail"].as_str()).collect();
    assert!(details.contains(&"calendar 2023 internal") && details.contains(&"calendar 2023 suppressed"));
}
