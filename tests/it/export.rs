//! Data in and out through the real `harbour` binary: encrypted exports opened by other code
//! (the age crate's decryptor and the Go `age` command), formula injection, filters, the
//! no-plaintext scan over everything an export writes, backup and restore, and imports.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harbour_tests::traced::{Traced, traced};
use harbour_tests::{PASSPHRASE, binary, files_below, harbour, harbour_json, plaintext_found};

const EXPORT_PASSPHRASE: &str = "correct horse battery staple";

/// OWASP's CSV-injection payloads, DDE examples included.
const PAYLOADS: &[&str] = &[
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(1+1)",
    "=cmd|' /C calc'!A0",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "+cmd|' /C notepad'!'B1'",
];

/// `harbour` with the workspace passphrase and, when given, the export passphrase.
fn run(data: &Path, args: &[&str], export_passphrase: Option<&str>) -> Output {
    let mut command = Command::new(binary("harbour"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env_remove("HARBOUR_DATA_DIR")
        .env_remove("HARBOUR_EXPORT_PASSPHRASE");
    if let Some(passphrase) = export_passphrase {
        command.env("HARBOUR_EXPORT_PASSPHRASE", passphrase);
    }
    command.output().expect("harbour runs")
}

fn ok_json(output: Output) -> serde_json::Value {
    assert!(output.status.success(), "harbour failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Decrypts an age file with the age crate's own decryptor: a path independent of Harbour's.
fn age_decrypt(path: &Path, passphrase: &str) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap();
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).unwrap();
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).unwrap();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).unwrap();
    bytes
}

/// The CSV files of an export archive, by name, as rows of cells (the byte-order mark checked
/// and removed).
fn csv_sheets(archive: &[u8]) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut sheets = std::collections::BTreeMap::new();
    for index in 0..zip.len() {
        let mut file = zip.by_index(index).unwrap();
        let name = file.name().unwrap().to_string();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()), "{name} starts with a UTF-8 byte-order mark");
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[3..]);
        let rows = reader.records().map(|record| record.unwrap().iter().map(str::to_owned).collect()).collect();
        sheets.insert(name, rows);
    }
    sheets
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let index = rows[0].iter().position(|header| header == name).unwrap_or_else(|| panic!("no column {name}"));
    rows[1..].iter().map(|row| row[index].clone()).collect()
}

/// A workspace with a case per payload and two named cases, one with a referral and a justice step.
fn workspace_with_cases(data: &Path) -> String {
    assert!(harbour(data, &["init"]).status.success());
    for payload in PAYLOADS {
        // `--name=…`: a value starting with `-` would otherwise read as an option.
        assert!(harbour(data, &["case", "new", &format!("--name={payload}")]).status.success());
    }
    let case = harbour_json(
        data,
        &[
            "case",
            "new",
            "--name",
            "Zoë Ærendil-Núñez",
            "--sex",
            "female",
            "--birth-date",
            "1990-02-03",
            "--nationality",
            "VE",
        ],
    );
    let code = case["code"].as_str().unwrap().to_owned();
    assert!(
        harbour(
            data,
            &[
                "case",
                "set",
                &code,
                "identification_status=identified",
                "identification_date=2024-03-01",
                "intake_date=2024-02-28"
            ]
        )
        .status
        .success()
    );
    let consent = harbour_json(data, &["consent", "add", &code, "--share", "identity", "--with", "Shelter"]);
    assert!(
        harbour(
            data,
            &[
                "referral",
                "add",
                &code,
                "--service",
                "Safe House",
                "--type",
                "shelter",
                "--consent",
                consent["id"].as_str().unwrap()
            ]
        )
        .status
        .success()
    );
    assert!(harbour(data, &["justice", "add", &code, "--stage", "reported", "--date", "2024-03-02"]).status.success());
    let closed = harbour_json(data, &["case", "new", "--name", "Closed Person"]);
    assert!(harbour(data, &["case", "close", closed["code"].as_str().unwrap(), "--reason", "done"]).status.success());
    code
}

/// A consented transfer goes only to the organisation the consent was given for: a case whose
/// only covering consent names another organisation is left out, with that reason; the command
/// without `--to` writes nothing and says what to add, naming the organisations it knows.
#[test]
fn an_htcds_transfer_carries_only_cases_consented_for_that_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let mut codes = Vec::new();
    for (name, with) in [
        ("Ysolde Partner", Some("Partner NGO")),
        ("Wendeline Elsewhere", Some("Harbour Light Shelter")),
        ("Quintus Nobody", None),
    ] {
        let code = harbour_json(&data, &["case", "new", "--name", name])["code"].as_str().unwrap().to_owned();
        if let Some(with) = with {
            let share = ["consent", "add", &code, "--share", "identity,case_summary,contact", "--with", with];
            assert!(harbour(&data, &share).status.success());
        }
        codes.push(code);
    }
    // A narrower consent for the partner does not cover the transfer either.
    assert!(
        harbour(&data, &["consent", "add", &codes[1], "--share", "identity", "--with", "Partner NGO"]).status.success()
    );

    // Without --to, the consents naming two organisations: refused before anything is written,
    // saying what to add and to whom it may go.
    let out = dir.path().join("transfer.json");
    let refused = run(&data, &["export", "htcds", "--plaintext", "--out", out.to_str().unwrap()], None);
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(said.contains("add --to ORGANISATION") && said.contains("Nothing was written"), "{said}");
    assert!(said.contains("\"Partner NGO\"") && said.contains("\"Harbour Light Shelter\""), "{said}");
    assert!(!out.exists(), "nothing written without a recipient");

    let written = ok_json(run(
        &data,
        &["--json", "export", "htcds", "--plaintext", "--out", out.to_str().unwrap(), "--to", "Partner NGO"],
        None,
    ));
    assert_eq!(written["recipient"], "Partner NGO");
    assert_eq!(written["included"], serde_json::json!([codes[0]]));
    assert_eq!((written["rows"].as_u64(), written["withheld_records"].as_u64()), (Some(1), Some(2)));
    let reasons: Vec<(String, String)> = written["left_out_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|left| (left["case"].as_str().unwrap().to_owned(), left["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert!(reasons.contains(&(codes[1].clone(), "other_recipient".to_owned())), "{reasons:?}");
    assert!(reasons.contains(&(codes[2].clone(), "not_consented".to_owned())), "{reasons:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("Ysolde Partner") && !text.contains("Wendeline") && !text.contains("Quintus"));
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["recipient"], "Partner NGO");

    // In words: each reason on its own line, with the codes.
    let other = dir.path().join("other.json");
    let said = run(
        &data,
        &["export", "htcds", "--plaintext", "--out", other.to_str().unwrap(), "--to", "harbour light shelter"],
        None,
    );
    assert!(said.status.success(), "{}", stderr(&said));
    let said = String::from_utf8(said.stdout).unwrap();
    assert!(said.contains("1 cases whose consent covers the transfer to harbour light shelter"), "{said}");
    assert!(said.contains(&format!("another organisation than harbour light shelter: {}.", codes[0])), "{said}");
    assert!(said.contains(&format!("does not cover identity and case summary: {}.", codes[2])), "{said}");
    let text = std::fs::read_to_string(&other).unwrap();
    assert!(text.contains("Wendeline Elsewhere") && !text.contains("Ysolde"));

    let audit = harbour_json(&data, &["audit", "show", "--limit", "5"]);
    let details: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "export.htcds")
        .filter_map(|entry| entry["detail"].as_str())
        .collect();
    assert_eq!(details.len(), 2);
    assert!(details.iter().all(|detail| *detail == "plaintext included=1 left_out=2 other_recipient=1"), "{details:?}");
}

/// A workspace with one case, its consent for "Safe House" and a referral there; returns the
/// case code and the referral id.
fn workspace_with_a_referral(data: &Path) -> (String, String) {
    assert!(harbour(data, &["init"]).status.success());
    let code = harbour_json(data, &["case", "new", "--name", "Ottoline Brackenbury", "--sex", "female"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let consent =
        harbour_json(data, &["consent", "add", &code, "--share", "identity,case_summary", "--with", "Safe House"]);
    let referral = harbour_json(
        data,
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
    (code, referral["id"].as_str().unwrap().to_owned())
}

/// The commands that write a file, each writing to `out`.
fn writers<'a>(code: &'a str, referral: &'a str, out: &'a str) -> Vec<(&'static str, Vec<&'a str>)> {
    vec![
        ("referral letter", vec!["referral", "letter", code, referral, "--out", out]),
        ("backup", vec!["backup", "--out", out]),
        ("export csv", vec!["export", "csv", "--out", out]),
        ("export csv --plaintext", vec!["export", "csv", "--plaintext", "--out", out]),
        ("export ctdc", vec!["export", "ctdc", "--out", out]),
        ("export htcds", vec!["export", "htcds", "--to", "Safe House", "--out", out]),
        // Without --to: the one organisation the consents name.
        ("export htcds, its recipient from the consents", vec!["export", "htcds", "--out", out]),
        ("report annual --csv", vec!["report", "annual", "--period", "calendar", "--year", "2024", "--csv", out]),
        ("directory export", vec!["directory", "export", out]),
    ]
}

/// No command replaces a file that is there: each refuses, names the file, says what to do,
/// leaves the file as it was and records no export.
#[test]
fn no_command_replaces_a_file_that_is_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let (code, referral) = workspace_with_a_referral(&data);
    let taken = dir.path().join("taken.file");
    std::fs::write(&taken, b"kept as it was").unwrap();
    let audit_before = harbour_json(&data, &["audit", "show", "--limit", "1000"]).as_array().unwrap().len();
    for (name, args) in writers(&code, &referral, taken.to_str().unwrap()) {
        let refused = run(&data, &args, Some(EXPORT_PASSPHRASE));
        assert!(!refused.status.success(), "{name} replaced an existing file");
        let said = stderr(&refused);
        assert!(
            said.contains(&format!(
                "{} already exists. Nothing was written: choose another file name",
                taken.display()
            )),
            "{name} says which file is there and what to do: {said}"
        );
        assert_eq!(std::fs::read(&taken).unwrap(), b"kept as it was", "{name} left the file as it was");
    }
    let audit = harbour_json(&data, &["audit", "show", "--limit", "1000"]);
    let entries = audit.as_array().unwrap();
    let new: Vec<&str> =
        entries[..entries.len() - audit_before].iter().filter_map(|entry| entry["action"].as_str()).collect();
    assert!(new.iter().all(|action| *action == "audit.view" || *action == "case.list"), "nothing left: {new:?}");
}

/// With --json every command that writes a file prints what it wrote: at least its path and
/// how many rows.
#[test]
fn every_writing_command_prints_its_path_and_rows_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let (code, referral) = workspace_with_a_referral(&data);
    let expected_rows = [
        ("referral letter", 1),
        ("backup", 1),
        ("export csv", 1),
        ("export csv --plaintext", 1),
        ("export htcds", 1),
        ("export htcds, its recipient from the consents", 1),
        ("directory export", harbour_json(&data, &["directory", "show"])["services"].as_array().unwrap().len() as u64),
    ];
    for (index, (name, _)) in writers(&code, &referral, "").into_iter().enumerate() {
        // `report annual` takes --json or --csv, not both: --json prints the tables themselves.
        if name.starts_with("report") {
            continue;
        }
        let out = dir.path().join(format!("written-{index}"));
        let path = out.to_str().unwrap();
        let mut args = vec!["--json"];
        args.extend(writers(&code, &referral, path).remove(index).1);
        let written = ok_json(run(&data, &args, Some(EXPORT_PASSPHRASE)));
        assert_eq!(written["path"], path, "{name} prints the path it wrote: {written}");
        assert!(out.exists(), "{name} wrote {path}");
        match expected_rows.iter().find(|(writer, _)| *writer == name) {
            Some((_, rows)) => assert_eq!(written["rows"], *rows, "{name}: {written}"),
            None => assert!(written["rows"].as_u64().is_some_and(|rows| rows > 0), "{name}: {written}"),
        }
    }
    // Reading a file in: the import says how many rows it took.
    let past = dir.path().join("past.csv");
    std::fs::write(&past, "name,sex\nAurelio Past,male\nBenedetta Past,female\n").unwrap();
    let checked = ok_json(run(&data, &["--json", "import", "cases", past.to_str().unwrap(), "--dry-run"], None));
    assert_eq!((checked["rows"].as_u64(), checked["imported"].as_u64()), (Some(2), Some(0)), "{checked}");
    let imported = ok_json(run(&data, &["--json", "import", "cases", past.to_str().unwrap()], None));
    assert_eq!((imported["rows"].as_u64(), imported["imported"].as_u64()), (Some(2), Some(2)), "{imported}");
}

#[test]
fn an_encrypted_export_opens_elsewhere_with_its_passphrase_and_its_cells_are_inert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let code = workspace_with_cases(&data);
    let out = dir.path().join("cases.zip.age");
    let summary = ok_json(run(
        &data,
        &["--json", "export", "csv", "--out", out.to_str().unwrap(), "--sheets", "referrals,screenings,justice"],
        Some(EXPORT_PASSPHRASE),
    ));
    assert_eq!(summary["encrypted"], true);
    assert_eq!(summary["rows"], PAYLOADS.len() + 2);
    assert_eq!(summary["sheets"]["referrals"], 1);
    assert_eq!(summary["sheets"]["justice"], 1);
    assert!(std::fs::read(&out).unwrap().starts_with(b"age-encryption.org/v1\n-> scrypt "));

    // Opened by the age crate's decryptor, not Harbour's code.
    let archive = age_decrypt(&out, EXPORT_PASSPHRASE);
    let sheets = csv_sheets(&archive);
    let names: Vec<&str> = sheets.keys().map(String::as_str).collect();
    assert_eq!(names, ["cases.csv", "dictionary.csv", "justice.csv", "referrals.csv", "screenings.csv"]);
    let cases = &sheets["cases.csv"];
    let names = column(cases, "name");
    for payload in PAYLOADS {
        assert!(names.contains(&format!("'{payload}")), "{payload:?} is made inert");
    }
    assert!(names.iter().all(|name| !name.starts_with(['=', '+', '-', '@', '\t', '\r'])));
    let row = column(cases, "case_code").iter().position(|c| *c == code).unwrap();
    assert_eq!(names[row], "Zoë Ærendil-Núñez", "accents survive");
    assert_eq!(column(cases, "birth_date")[row], "1990-02-03");
    assert_eq!(column(cases, "registered_on")[row], "2024-02-28");
    assert!(column(cases, "created_at")[row].ends_with('Z') && column(cases, "created_at")[row].contains('T'));
    assert_eq!(column(&sheets["referrals.csv"], "service_type"), ["shelter"]);
    assert_eq!(column(&sheets["justice.csv"], "date"), ["2024-03-02"]);
    let dictionary = &sheets["dictionary.csv"];
    assert_eq!(
        dictionary.len() - 1,
        cases[0].len()
            + sheets["referrals.csv"][0].len()
            + sheets["screenings.csv"][0].len()
            + sheets["justice.csv"][0].len()
    );

    // Harbour's own opener: the right passphrase gives the same archive, a wrong one says so.
    let opened = dir.path().join("opened.zip");
    assert!(
        run(
            &data,
            &["export", "open", out.to_str().unwrap(), "--out", opened.to_str().unwrap()],
            Some(EXPORT_PASSPHRASE)
        )
        .status
        .success()
    );
    assert_eq!(std::fs::read(&opened).unwrap(), archive);
    let wrong = run(
        &data,
        &["export", "open", out.to_str().unwrap(), "--out", dir.path().join("x.zip").to_str().unwrap()],
        Some("not the passphrase"),
    );
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("The passphrase does not open this export"), "{}", stderr(&wrong));
    assert!(!dir.path().join("x.zip").exists());

    // The Go implementation of age (Debian's `age`, installed by tests/run.sh) opens it too.
    let by_go = dir.path().join("by-go.zip");
    let go = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("it/age_tty.py"))
        .arg(&out)
        .arg(&by_go)
        .env("AGE_TEST_PASSPHRASE", EXPORT_PASSPHRASE)
        .output()
        .expect("python3 runs");
    assert!(go.status.success(), "age -d failed (is Debian's `age` installed?): {}", stderr(&go));
    assert_eq!(std::fs::read(&by_go).unwrap(), archive);

    let audit = harbour_json(&data, &["audit", "show", "--limit", "5"]);
    let export = audit.as_array().unwrap().iter().find(|entry| entry["action"] == "export.cases").unwrap();
    assert!(export["detail"].as_str().unwrap().contains(&format!("cases={}", PAYLOADS.len() + 2)));
}

#[test]
fn filters_choose_the_cases_and_a_truncated_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let code = workspace_with_cases(&data);
    let export = |name: &str, filters: &[&str]| -> serde_json::Value {
        let out = dir.path().join(name);
        let mut args = vec!["--json", "export", "csv", "--plaintext", "--out", out.to_str().unwrap()];
        args.extend_from_slice(filters);
        ok_json(run(&data, &args, None))
    };
    assert_eq!(export("closed.zip", &["--status", "closed"])["rows"], 1);
    assert_eq!(export("identified.zip", &["--identification", "identified"])["rows"], 1);
    assert_eq!(export("unidentified.zip", &["--identification", "not_recorded"])["rows"], PAYLOADS.len() + 1);
    // Registered on its intake date, 2024-02-28: inside February, outside March.
    let february = export("february.zip", &["--from", "2024-02-01", "--to", "2024-02-29"]);
    assert_eq!(february["rows"], 1);
    let sheets = csv_sheets(&std::fs::read(dir.path().join("february.zip")).unwrap());
    assert_eq!(column(&sheets["cases.csv"], "case_code"), [code]);
    assert_eq!(export("march.zip", &["--from", "2024-03-01", "--to", "2024-03-31"])["rows"], 0);
    let backwards = run(
        &data,
        &["export", "csv", "--plaintext", "--out", "/nonexistent/x", "--from", "2024-03-01", "--to", "2024-02-01"],
        None,
    );
    assert!(stderr(&backwards).contains("to: the end of the period is before its start"));

    // An existing file is never replaced.
    let again =
        run(&data, &["export", "csv", "--plaintext", "--out", dir.path().join("march.zip").to_str().unwrap()], None);
    assert!(!again.status.success() && stderr(&again).contains("already exists"), "{}", stderr(&again));

    // A cut-short encrypted export is refused, and nothing is written in clear.
    let out = dir.path().join("all.age");
    ok_json(run(&data, &["--json", "export", "csv", "--out", out.to_str().unwrap()], Some(EXPORT_PASSPHRASE)));
    let bytes = std::fs::read(&out).unwrap();
    let cut = dir.path().join("cut.age");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let opened = dir.path().join("cut.zip");
    let refused = run(
        &data,
        &["export", "open", cut.to_str().unwrap(), "--out", opened.to_str().unwrap()],
        Some(EXPORT_PASSPHRASE),
    );
    assert!(!refused.status.success() && stderr(&refused).contains("is damaged"), "{}", stderr(&refused));
    assert!(!opened.exists());
}

/// `harbour` as [`run`] runs it, with the system's temporary folder at `tmp`, traced by strace:
/// every file it or any of its threads opened for writing or created, temporary files included.
fn run_traced(data: &Path, args: &[&str], export_passphrase: Option<&str>, tmp: &Path) -> Traced {
    let mut command = Command::new(binary("harbour"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env("TMPDIR", tmp)
        .env_remove("HARBOUR_DATA_DIR")
        .env_remove("HARBOUR_EXPORT_PASSPHRASE");
    if let Some(passphrase) = export_passphrase {
        command.env("HARBOUR_EXPORT_PASSPHRASE", passphrase);
    }
    traced(&command)
}

/// What an export may write besides the file asked for: the workspace's SQLCipher database (the
/// audit entry), its write-ahead log (encrypted pages), SQLite's shared-memory index of that log
/// (page numbers and checksums, no page content) and its rollback journal (encrypted pages).
/// A backup may also write its snapshot, a SQLCipher copy of the database under the same key.
fn may_write(data: &Path, out: &Path, backup: bool) -> Vec<PathBuf> {
    let mut allowed: Vec<PathBuf> = ["harbour.db", "harbour.db-wal", "harbour.db-shm", "harbour.db-journal"]
        .iter()
        .map(|file| data.join(file))
        .collect();
    if backup {
        allowed.push(data.join("backup-snapshot.tmp"));
    }
    allowed.push(out.to_owned());
    allowed
}

/// Every export, backup and letter, traced while it runs (strace: a temporary file made and
/// deleted is seen), with the system's temporary folder pointed at a scanned folder: each writes
/// the file asked for and the workspace's own encrypted files, nothing else; what is encrypted
/// is encrypted from its first byte, and no name or place is readable anywhere but in what was
/// asked for in clear.
#[test]
fn an_export_writes_nothing_in_clear_but_what_was_asked_for_in_clear() {
    const NAME: &str = "Quintessa Marbleforth";
    const LOCATION: &str = "Wrenfield Crossing";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let exports = dir.path().join("exports");
    let clear_exports = dir.path().join("clear");
    let tmp = dir.path().join("tmp");
    for folder in [&exports, &clear_exports, &tmp] {
        std::fs::create_dir(folder).unwrap();
    }
    assert!(harbour(&data, &["init"]).status.success());
    let code = harbour_json(&data, &["case", "new", "--name", NAME, "--location", LOCATION])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let consent = harbour_json(
        &data,
        &["consent", "add", &code, "--share", "identity,case_summary,contact", "--with", "Safe House"],
    );
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
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let needles = [NAME, "Marbleforth", LOCATION];

    let checked = |args: &[&str], out: &Path, passphrase: Option<&str>| {
        let traced = run_traced(&data, args, passphrase, &tmp);
        assert!(traced.output.status.success(), "{args:?}: {}", stderr(&traced.output));
        let allowed = may_write(&data, out, args[0] == "backup");
        let others: Vec<&PathBuf> = traced.written.iter().filter(|path| !allowed.contains(path)).collect();
        assert_eq!(others, Vec::<&PathBuf>::new(), "{args:?} wrote only the file asked for and the workspace's files");
        assert!(traced.written.iter().any(|path| path == out), "the trace saw {args:?} write {}", out.display());
    };

    // Encrypted: each file an age file from its first byte (the backup: sealed under the workspace's keys).
    let (csv, xlsx, htcds, backup) = (
        exports.join("cases.age"),
        exports.join("cases.xlsx.age"),
        exports.join("transfer.age"),
        exports.join("ws.hbk"),
    );
    let sheets = ["--sheets", "referrals,justice"];
    checked(&[&["export", "csv", "--out", csv.to_str().unwrap()][..], &sheets].concat(), &csv, Some(EXPORT_PASSPHRASE));
    checked(
        &[&["export", "csv", "--xlsx", "--out", xlsx.to_str().unwrap()][..], &sheets].concat(),
        &xlsx,
        Some(EXPORT_PASSPHRASE),
    );
    checked(
        &["export", "htcds", "--to", "Safe House", "--out", htcds.to_str().unwrap()],
        &htcds,
        Some(EXPORT_PASSPHRASE),
    );
    checked(&["backup", "--out", backup.to_str().unwrap()], &backup, None);
    let mut written: Vec<PathBuf> = files_below(&exports);
    written.sort();
    assert_eq!(written, [csv.clone(), xlsx.clone(), htcds.clone(), backup.clone()], "no other file is left");
    for file in [&csv, &xlsx, &htcds] {
        assert!(std::fs::read(file).unwrap().starts_with(b"age-encryption.org/v1\n"));
    }
    assert_eq!(plaintext_found(&exports, &needles), []);
    // The XLSX inside opens as a workbook with the name in it (its shared strings).
    let workbook = age_decrypt(&xlsx, EXPORT_PASSPHRASE);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(workbook)).unwrap();
    let mut strings = String::new();
    zip.by_name("xl/sharedStrings.xml").unwrap().read_to_string(&mut strings).unwrap();
    assert!(strings.contains(NAME));
    for sheet in ["cases", "referrals", "justice", "dictionary"] {
        let mut workbook_xml = String::new();
        zip.by_name("xl/workbook.xml").unwrap().read_to_string(&mut workbook_xml).unwrap();
        assert!(workbook_xml.contains(&format!("name=\"{sheet}\"")), "the workbook has the {sheet} sheet");
    }

    // In clear only on request, with a warning; then too the export is the one file written,
    // and in it the name is readable (inside the workbook's compressed parts).
    let clear = clear_exports.join("clear.xlsx");
    let warned =
        run_traced(&data, &["export", "csv", "--plaintext", "--xlsx", "--out", clear.to_str().unwrap()], None, &tmp);
    assert!(stderr(&warned.output).contains("warning: writing the export in clear"));
    assert!(warned.written.iter().all(|path| may_write(&data, &clear, false).contains(path)), "{:?}", warned.written);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&clear).unwrap()).unwrap();
    let mut strings = String::new();
    zip.by_name("xl/sharedStrings.xml").unwrap().read_to_string(&mut strings).unwrap();
    assert!(strings.contains(NAME));
    let (transfer, ctdc, letter) =
        (clear_exports.join("transfer.json"), clear_exports.join("ctdc.csv"), clear_exports.join("letter.pdf"));
    checked(
        &["export", "htcds", "--plaintext", "--to", "Safe House", "--out", transfer.to_str().unwrap()],
        &transfer,
        None,
    );
    checked(&["export", "ctdc", "--out", ctdc.to_str().unwrap()], &ctdc, None);
    checked(&["referral", "letter", &code, &referral, "--out", letter.to_str().unwrap()], &letter, None);
    assert!(std::fs::read_to_string(&transfer).unwrap().contains(NAME), "asked for in clear");

    // Nothing was left in the temporary folder, and the workspace holds nothing readable.
    assert_eq!(files_below(&tmp), Vec::<PathBuf>::new(), "no temporary file is left");
    assert_eq!(plaintext_found(&data, &needles), []);
    assert!(
        files_below(&data).iter().all(|file| !file.file_name().unwrap().to_string_lossy().contains("tmp")),
        "no temporary file is left in the workspace"
    );
}

fn case_codes(data: &Path) -> Vec<String> {
    let mut codes: Vec<String> = harbour_json(data, &["case", "list", "--limit", "0"])
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

#[test]
fn backup_and_restore_give_the_same_cases_history_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    workspace_with_cases(&data);
    let codes = case_codes(&data);
    let audit_before = harbour_json(&data, &["audit", "show", "--limit", "1000"]);
    let backup = dir.path().join("stick").join("harbour.hbk");
    std::fs::create_dir(backup.parent().unwrap()).unwrap();
    let made = harbour_json(&data, &["backup", "--out", backup.to_str().unwrap()]);
    assert_eq!(made["cases"], codes.len());
    // The backup is audited with how many cases and bytes it holds.
    let newest = harbour_json(&data, &["audit", "show", "--limit", "1"]);
    assert_eq!(newest[0]["action"], "backup.create");
    assert_eq!(newest[0]["detail"], format!("cases={} bytes={}", codes.len(), made["bytes"]));
    assert_eq!(plaintext_found(backup.parent().unwrap(), &["Ærendil", "Closed Person"]), []);

    let laptop = dir.path().join("new-laptop");
    let restored = harbour_json(&laptop, &["restore", backup.to_str().unwrap()]);
    assert_eq!(restored["cases"], codes.len());
    assert_eq!(case_codes(&laptop), codes);
    // The audit: every entry as it was (hashes included), then the backup and the restore.
    let audit_after = harbour_json(&laptop, &["audit", "show", "--limit", "1000"]);
    let after = audit_after.as_array().unwrap();
    let before = audit_before.as_array().unwrap();
    assert_eq!(after.len(), before.len() + 1, "the restore is the one entry added after the snapshot");
    assert_eq!(after[0]["action"], "backup.restore");
    assert_eq!(&after[1..], &before[..], "the audit log is restored entry for entry");
    assert_eq!(harbour_json(&laptop, &["audit", "verify"])["ok"], true);
    // Every case whole, with its entries and history (exported last: each export is audited).
    for code in &codes {
        assert_eq!(
            harbour_json(&laptop, &["case", "export", code]),
            harbour_json(&data, &["case", "export", code]),
            "case {code} is the same"
        );
    }

    // Nothing overwritten without asking; with --force the old one is kept aside.
    let again = run(&laptop, &["restore", backup.to_str().unwrap()], None);
    assert!(!again.status.success() && stderr(&again).contains("--force"), "{}", stderr(&again));
    let forced = harbour_json(&laptop, &["restore", "--force", backup.to_str().unwrap()]);
    let aside = PathBuf::from(forced["moved_aside"].as_str().unwrap());
    assert!(aside.join("keyfile.json").exists());

    // A wrong passphrase, a cut-short or an altered backup is refused, and no workspace appears.
    let elsewhere = dir.path().join("elsewhere");
    let wrong = Command::new(binary("harbour"))
        .arg("--data-dir")
        .arg(&elsewhere)
        .args(["restore", backup.to_str().unwrap()])
        .env("HARBOUR_PASSPHRASE", "wrong wrong wrong")
        .output()
        .unwrap();
    assert!(stderr(&wrong).contains("The passphrase is not correct"), "{}", stderr(&wrong));
    let bytes = std::fs::read(&backup).unwrap();
    for (name, damaged, why) in [
        ("cut.hbk", bytes[..bytes.len() - 1000].to_vec(), "cut short"),
        (
            "flipped.hbk",
            {
                let mut flipped = bytes.clone();
                let middle = flipped.len() / 2;
                flipped[middle] ^= 0x01;
                flipped
            },
            "altered",
        ),
        ("not.hbk", b"not a backup at all".to_vec(), "not a Harbour backup"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, damaged).unwrap();
        let refused = run(&elsewhere, &["restore", path.to_str().unwrap()], None);
        assert!(!refused.status.success() && stderr(&refused).contains(why), "{name}: {}", stderr(&refused));
        assert!(!elsewhere.join("keyfile.json").exists() && !elsewhere.join("harbour.db").exists());
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "no staging directory is left behind");
}

#[test]
fn import_checks_every_row_then_imports_all_or_nothing_and_exports_what_it_imported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let existing = harbour_json(&data, &["case", "new", "--name", "Marisol Quintanilla", "--birth-date", "1991-04-05"]);

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "\u{feff}Full name,sex,birth_date,nationality,Remarks\n\
         Ana Belén Ruiz,female,1990-01-02,VE,first\n\
         Secretvalue Person,dragon,31/02/1990,VE,second\n\
         Marisol Quintanilla,female,1991-04-05,LC,third\n\
         ,male,,GY,fourth\n",
    )
    .unwrap();
    let mapping = dir.path().join("mapping.json");
    std::fs::write(&mapping, r#"{"Full name": "name"}"#).unwrap();
    let mapping_arg = mapping.to_str().unwrap();
    let dry =
        run(&data, &["--json", "import", "cases", bad.to_str().unwrap(), "--dry-run", "--mapping", mapping_arg], None);
    assert!(!dry.status.success(), "a file with problems fails even as a dry run");
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let problems = report["plan"]["problems"].as_array().unwrap();
    let found: Vec<(u64, &str)> =
        problems.iter().map(|p| (p["row"].as_u64().unwrap(), p["field"].as_str().unwrap())).collect();
    assert_eq!(found, [(3, "sex"), (3, "birth_date"), (5, "name")]);
    assert!(problems[0]["problem"].as_str().unwrap().contains("use one of: female"));
    let printed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        !printed.contains("dragon") && !printed.contains("31/02") && !printed.contains("Secretvalue"),
        "values are never repeated"
    );
    assert_eq!(report["plan"]["ignored_columns"], serde_json::json!(["Remarks"]));
    let duplicates = report["plan"]["duplicates"].as_array().unwrap();
    assert_eq!(duplicates.len(), 1);
    assert_eq!((duplicates[0]["row"].as_u64(), &duplicates[0]["code"]), (Some(4), &existing["code"]));

    // A bad row stops the whole import.
    let refused = run(&data, &["import", "cases", bad.to_str().unwrap(), "--mapping", mapping_arg], None);
    assert!(!refused.status.success() && stderr(&refused).contains("nothing was imported"));
    assert_eq!(case_codes(&data).len(), 1);

    // A good file comes in whole, and an export gives back what was imported.
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "name,sex,birth_date,nationalities,languages,exploitation_types,intake_date,status\n\
         Ana Belén Ruiz,female,1990-01-02,\"VE,CO\",es,sexual_exploitation,2023-06-07,active\n\
         '=1+2 Person,male,,GY,,,,closed\n",
    )
    .unwrap();
    let dry = harbour_json(&data, &["import", "cases", good.to_str().unwrap(), "--dry-run"]);
    assert_eq!((dry["imported"].as_u64(), dry["plan"]["rows"].as_u64()), (Some(0), Some(2)));
    assert_eq!(case_codes(&data).len(), 1, "a dry run imports nothing");
    let imported = harbour_json(&data, &["import", "cases", good.to_str().unwrap()]);
    assert_eq!(imported["imported"], 2);
    let out = dir.path().join("back.zip");
    ok_json(run(&data, &["--json", "export", "csv", "--plaintext", "--out", out.to_str().unwrap()], None));
    let sheets = csv_sheets(&std::fs::read(&out).unwrap());
    let cases = &sheets["cases.csv"];
    let row = column(cases, "name").iter().position(|name| name == "Ana Belén Ruiz").unwrap();
    for (field, value) in [
        ("sex", "female"),
        ("birth_date", "1990-01-02"),
        ("nationalities", "VE,CO"),
        ("languages", "es"),
        ("exploitation_types", "sexual_exploitation"),
        ("intake_date", "2023-06-07"),
        ("status", "active"),
    ] {
        assert_eq!(column(cases, field)[row], value, "{field}");
    }
    let formula =
        column(cases, "name").iter().position(|name| name == "'=1+2 Person").expect("made inert again on export");
    assert_eq!(column(cases, "status")[formula], "closed");

    // The export itself imports into another workspace as the same cases.
    let other = dir.path().join("other");
    assert!(harbour(&other, &["init"]).status.success());
    let sheet = dir.path().join("cases.csv");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(std::fs::read(&out).unwrap())).unwrap();
    std::io::copy(&mut zip.by_name("cases.csv").unwrap(), &mut std::fs::File::create(&sheet).unwrap()).unwrap();
    assert_eq!(harbour_json(&other, &["import", "cases", sheet.to_str().unwrap()])["imported"], 3);
    let names: Vec<String> = harbour_json(&other, &["case", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"=1+2 Person".to_owned()) && names.contains(&"Marisol Quintanilla".to_owned()));
}

/// The cells of the `cases.csv` of a plain export that describe the person (ids, codes and
/// times left out), one row per case, sorted.
fn case_values(data: &Path, out: &Path) -> Vec<Vec<String>> {
    ok_json(run(data, &["--json", "export", "csv", "--plaintext", "--out", out.to_str().unwrap()], None));
    let sheets = csv_sheets(&std::fs::read(out).unwrap());
    let cases = &sheets["cases.csv"];
    let kept: Vec<usize> = cases[0]
        .iter()
        .enumerate()
        .filter(|(_, header)| {
            !["case_id", "case_code", "registered_on", "created_at", "updated_at", "age_estimated_on"]
                .contains(&header.as_str())
        })
        .map(|(index, _)| index)
        .collect();
    let mut rows: Vec<Vec<String>> =
        cases[1..].iter().map(|row| kept.iter().map(|index| row[*index].clone()).collect()).collect();
    rows.sort();
    rows
}

#[test]
fn an_xlsx_export_imports_into_another_workspace_as_the_same_cases() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    workspace_with_cases(&data);
    assert!(
        harbour(&data, &["case", "new", "--name", "Aged Person", "--age", "34", "--nationality", "GY,VE"])
            .status
            .success()
    );
    let workbook = dir.path().join("cases.xlsx");
    let summary = ok_json(run(
        &data,
        &["--json", "export", "csv", "--xlsx", "--plaintext", "--out", workbook.to_str().unwrap()],
        None,
    ));
    assert_eq!(summary["format"], "xlsx");

    let other = dir.path().join("other");
    assert!(harbour(&other, &["init"]).status.success());
    let dry = harbour_json(&other, &["import", "cases", workbook.to_str().unwrap(), "--dry-run"]);
    assert_eq!(dry["plan"]["rows"], PAYLOADS.len() + 3);
    assert_eq!(dry["plan"]["problems"], serde_json::json!([]));
    assert!(case_codes(&other).is_empty(), "a dry run imports nothing");
    let imported = harbour_json(&other, &["import", "cases", workbook.to_str().unwrap()]);
    assert_eq!(imported["imported"], PAYLOADS.len() + 3);

    let before = case_values(&data, &dir.path().join("before.zip"));
    let after = case_values(&other, &dir.path().join("after.zip"));
    assert_eq!(after, before, "every value of every case came back");
    assert!(after.iter().any(|row| row.contains(&"'=1+1".to_owned())), "a formula-like name stays text");
}

#[test]
fn an_xlsx_workbook_is_checked_row_by_row_with_its_dates_read_as_dates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    let existing = harbour_json(&data, &["case", "new", "--name", "Marisol Quintanilla", "--birth-date", "1991-04-05"]);

    // A task force's own sheet: its own headers, a date cell, a serial number, a typed date.
    let write = |path: &Path, rows: &[[&str; 5]]| {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
        for (column, header) in ["Full name", "Date of birth", "sex", "intake_date", "Remarks"].iter().enumerate() {
            sheet.write_string(0, column as u16, *header).unwrap();
        }
        for (index, row) in rows.iter().enumerate() {
            let at = index as u32 + 1;
            sheet.write_string(at, 0, row[0]).unwrap();
            match chrono::NaiveDate::parse_from_str(row[1], "%Y-%m-%d") {
                Ok(day) => {
                    let day =
                        rust_xlsxwriter::ExcelDateTime::from_ymd(day.year() as u16, day.month() as u8, day.day() as u8)
                            .unwrap();
                    sheet.write_datetime_with_format(at, 1, &day, &date).unwrap();
                }
                Err(_) => {
                    sheet.write_string(at, 1, row[1]).unwrap();
                }
            }
            sheet.write_string(at, 2, row[2]).unwrap();
            match row[3].parse::<f64>() {
                Ok(serial) => sheet.write_number(at, 3, serial).unwrap(),
                Err(_) => sheet.write_string(at, 3, row[3]).unwrap(),
            };
            sheet.write_string(at, 4, row[4]).unwrap();
        }
        workbook.save(path).unwrap();
    };
    use chrono::Datelike;
    let mapping = dir.path().join("mapping.json");
    std::fs::write(&mapping, r#"{"Full name": "name", "Date of birth": "birth_date"}"#).unwrap();
    let mapping_arg = mapping.to_str().unwrap();

    let bad = dir.path().join("bad.xlsx");
    write(
        &bad,
        &[
            ["Ana Belén Ruiz", "1990-01-02", "female", "45292", "first"],
            ["Secretvalue Person", "31/02/1990", "dragon", "2024-01-05", "second"],
            ["Marisol Quintanilla", "1991-04-05", "female", "", "third"],
            ["Negative Serial", "", "male", "-41977", "fourth"],
        ],
    );
    let dry =
        run(&data, &["--json", "import", "cases", bad.to_str().unwrap(), "--dry-run", "--mapping", mapping_arg], None);
    assert!(!dry.status.success(), "a workbook with problems fails even as a dry run");
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let problems = report["plan"]["problems"].as_array().unwrap();
    let found: Vec<(u64, &str)> =
        problems.iter().map(|p| (p["row"].as_u64().unwrap(), p["field"].as_str().unwrap())).collect();
    assert_eq!(found, [(3, "birth_date"), (3, "sex"), (5, "intake_date")]);
    assert!(problems[2]["problem"].as_str().unwrap().contains("not a spreadsheet date"));
    let printed = format!("{}{}", String::from_utf8_lossy(&dry.stdout), stderr(&dry));
    for secret in ["dragon", "31/02", "Secretvalue", "-41977"] {
        assert!(!printed.contains(secret), "the value {secret:?} is never repeated");
    }
    assert_eq!(report["plan"]["ignored_columns"], serde_json::json!(["Remarks"]));
    let duplicates = report["plan"]["duplicates"].as_array().unwrap();
    assert_eq!((duplicates[0]["row"].as_u64(), &duplicates[0]["code"]), (Some(4), &existing["code"]));
    let refused = run(&data, &["import", "cases", bad.to_str().unwrap(), "--mapping", mapping_arg], None);
    assert!(!refused.status.success() && stderr(&refused).contains("nothing was imported"));
    assert_eq!(case_codes(&data).len(), 1, "all or nothing");

    let good = dir.path().join("good.xlsx");
    write(&good, &[["Ana Belén Ruiz", "1990-01-02", "female", "45292", "first"], ["Jo Blank", "", "", "", ""]]);
    let imported = harbour_json(&data, &["import", "cases", good.to_str().unwrap(), "--mapping", mapping_arg]);
    assert_eq!(imported["imported"], 2);
    let newest = harbour_json(&data, &["audit", "show", "--limit", "1"]);
    assert_eq!(
        (&newest[0]["action"], &newest[0]["detail"]),
        (&serde_json::json!("import.cases"), &serde_json::json!("rows=2"))
    );
    let values = case_values(&data, &dir.path().join("out.zip"));
    let ana = values.iter().find(|row| row[0] == "Ana Belén Ruiz").unwrap();
    assert!(ana.contains(&"1990-01-02".to_owned()), "the date cell: {ana:?}");
    assert!(ana.contains(&"2024-01-01".to_owned()), "the serial number 45292: {ana:?}");
}

#[test]
fn a_damaged_or_foreign_file_is_refused_with_what_to_do_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init"]).status.success());
    assert!(harbour(&data, &["case", "new", "--name", "Only Case"]).status.success());
    let mut workbook = rust_xlsxwriter::Workbook::new();
    workbook.add_worksheet().write_string(0, 0, "name").unwrap();
    let whole = workbook.save_to_buffer().unwrap();
    let cases = [
        ("cut.xlsx", whole[..whole.len() / 2].to_vec(), "not a readable XLSX workbook"),
        ("garbage.xlsx", b"PK\x03\x04\x14\x00 then nothing of a workbook".to_vec(), "not a readable XLSX workbook"),
        ("export.zip.age", b"age-encryption.org/v1\n-> scrypt xyz 18\n".to_vec(), "harbour export open"),
        ("old.xls", vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0], "old Excel workbook"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for dry in [true, false] {
            let mut args = vec!["import", "cases", path.to_str().unwrap()];
            if dry {
                args.push("--dry-run");
            }
            let output = run(&data, &args, None);
            assert!(!output.status.success(), "{name} is refused");
            assert!(stderr(&output).contains(says), "{name}: {}", stderr(&output));
        }
    }
    assert_eq!(case_codes(&data).len(), 1, "nothing was imported");
}
