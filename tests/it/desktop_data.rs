//! Data that leaves the desktop app on purpose (issue 13): a referral's printed letter and case
//! summary saved as a PDF from the case page, and Settings → Back up restored by `harbour
//! restore`. A submodule of `desktop`, so it drives the app with the same `Harbour` fixture.

use std::path::Path;
use std::process::Command;

use super::*;

/// The text of a PDF, read back by poppler's `pdftotext` (another program than the writer).
fn pdf_text(pdf: &Path) -> String {
    let output = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils; tests/run.sh installs it)");
    assert!(output.status.success(), "pdftotext could not read the letter");
    String::from_utf8(output.stdout).expect("pdftotext writes UTF-8")
}

/// The app with an empty data directory and a home folder of its own (where the letters'
/// default folder is).
fn start_with_home(home: &Path) -> Harbour {
    let (data, config) = (home.join("data"), home.join(".config"));
    let env = [("HOME", home.to_str().unwrap()), ("XDG_CONFIG_HOME", config.to_str().unwrap())];
    let desktop = Desktop::start_on(&binary("harbour-desktop"), &data, &env);
    let session = desktop.session();
    Harbour { session, desktop, shots: Screenshots::new() }
}

/// Where `selector`, the main area and the sync bar are (for a failed "on screen" check).
fn rects(app: &Harbour, selector: &str) -> Value {
    app.session.execute(
        "const r = (e) => e ? [Math.round(e.getBoundingClientRect().top), Math.round(e.getBoundingClientRect().bottom)] : null;
         return {element: r(document.querySelector(arguments[0])), main: r(document.getElementById('main')),
                 bar: r(document.getElementById('sync-bar')), window: window.innerHeight};",
        json!([selector]),
    )
}

/// The case page of `code`, from the case list.
fn open_case(app: &Harbour, code: &str) {
    app.go_to_cases();
    app.click(&format!(".case-row[data-code=\"{code}\"]"));
    app.wait_screen("case");
    app.session.wait_until("the case page", Duration::from_secs(10), || (app.text("#case-code") == code).then_some(()));
}

/// Save letter as PDF, in `language` at `width`×`height`: the letter and case summary are written
/// where the worker said (or to the documented folder when they said nothing), in the language
/// chosen, with what the consent covers and nothing it leaves out; a file is never replaced.
fn a_referral_letter_is_saved_as_pdf(language: &str, width: u32, height: u32) {
    let home = tempfile::tempdir().unwrap();
    let app = with_workspace_in(start_with_home(home.path()), language, width, height);
    let (phone, place, note) = ("+17584529911", "Vieux-Fort Quarry Road", "Mentioned an uncle in Soufrière");
    let code = case_with(&app, "Thessaly Marrowind", &[("sex", "female"), ("phone", phone), ("location", place)]);
    let id = app.invoke("get_case", json!({"id": code}))["case"]["id"].as_str().unwrap().to_owned();
    app.invoke("add_note", json!({"id": id, "text": note}));
    open_case(&app, &code);

    // A referral with the default consent: identity and case summary, not contact or notes.
    app.refer_to_first_service();

    // Saved where the worker says, in the interface's language by default.
    app.click(".referral-letter");
    app.session.wait_for("#letter-form", Duration::from_secs(10));
    assert_eq!(app.session.find("#letter-lang").property("value"), json!(language), "the letter's language");
    let chosen = home.path().join(format!("letter-{language}.pdf"));
    app.fill("#letter-path", chosen.to_str().unwrap());
    assert!(app.in_view("#letter-save"), "Save is on screen, above the sync bar: {}", rects(&app, "#letter-save"));
    app.shot(&format!("referral-letter-{language}-{width}"));
    app.click("#letter-save");
    let saved = app.session.wait_until("the letter to be saved", Duration::from_secs(20), || {
        app.session.try_find("#letter-saved").map(|done| done.text()).filter(|text| !text.is_empty())
    });
    let expected = translation("ui.letter.saved", language).replace("{path}", chosen.to_str().unwrap());
    assert_eq!(saved, expected, "the notice says where the letter is, in the interface's language");
    let titles = [("en", "Referral letter"), ("es", "Carta de derivación"), ("fr", "Lettre d'orientation")];
    let title = |lang: &str| titles.iter().find(|(code, _)| *code == lang).unwrap().1;
    let check = |pdf: &Path, lang: &str| {
        assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF-"), "a PDF was written");
        let text = pdf_text(pdf);
        for expected in [title(lang), "Thessaly Marrowind", code.as_str()] {
            assert!(text.contains(expected), "the {lang} letter holds {expected:?}");
        }
        for (other, words) in titles.iter().filter(|(other, _)| *other != lang) {
            assert!(!text.contains(words), "the {lang} letter has no {other} title");
        }
        // Not consented: the contact (phone, place) and the notes.
        for absent in [phone, "Vieux-Fort", "Quarry", "uncle", "Soufrière", WORKER] {
            assert!(!text.contains(absent), "the {lang} letter must not carry a detail the consent leaves out");
        }
    };
    check(&chosen, language);

    // The same file again is refused and left as it was; with no path, the documented folder.
    let before = std::fs::read(&chosen).unwrap();
    app.click("#letter-save");
    app.session.wait_until("the refusal", Duration::from_secs(20), || {
        app.session.try_find("#letter-error").filter(|error| !error.text().is_empty()).map(|error| error.text())
    });
    assert_eq!(app.text("#letter-error"), translation("error.file_exists", language));
    assert_eq!(std::fs::read(&chosen).unwrap(), before, "the first letter is untouched");
    app.choose("#letter-lang", "fr");
    app.session.find("#letter-path").clear();
    app.click("#letter-save");
    let saved = app.session.wait_until("the second letter", Duration::from_secs(20), || {
        app.session.try_find("#letter-saved").map(|done| done.text()).filter(|text| !text.is_empty())
    });
    let folder = home.path().join("Harbour letters");
    let written: Vec<_> = std::fs::read_dir(&folder).expect("the default folder was made").flatten().collect();
    assert_eq!(written.len(), 1, "one letter in the default folder");
    let path = written[0].path();
    assert!(path.file_name().unwrap().to_str().unwrap().ends_with("-fr.pdf"), "named with its language");
    assert!(saved.contains(path.to_str().unwrap()), "the notice shows the default folder's path");
    check(&path, "fr");

    let audit = harbour_json_unlocked(app.desktop.data_dir(), &["audit", "show", "--limit", "20"]);
    let exports = audit.as_array().unwrap().iter().filter(|entry| entry["action"] == "referral.export").count();
    assert_eq!(exports, 2, "each letter written is recorded as the referral's export, as the CLI's are");
}

#[test]
fn a_referral_letter_is_saved_as_pdf_in_english_at_1366x768() {
    a_referral_letter_is_saved_as_pdf("en", 1366, 768);
}

#[test]
fn a_referral_letter_is_saved_as_pdf_in_spanish_at_1024x600() {
    a_referral_letter_is_saved_as_pdf("es", 1024, 600);
}

/// Settings → Back up, in `language` at `width`×`height`: the backup written while the app runs
/// restores on another laptop with `harbour restore` and the workspace's passphrase, with its
/// cases; a second backup to the same file is refused.
fn settings_back_up_restores_with_harbour_restore(language: &str, width: u32, height: u32) {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let size = app.session.set_window_size(width, height);
    assert_eq!([size[2], size[3]], [width, height], "the window's size");
    let first = case_with(&app, "Corisande Pellworth", &[("sex", "female")]);
    let second = case_with(&app, "Idris Tamworthy", &[]);
    if language == "en" {
        app.click("#settings-button");
        app.wait_screen("settings");
    } else {
        app.set_language(language);
    }
    let stick = tempfile::tempdir().unwrap();
    let file = stick.path().join("harbour.hbk");
    app.session.wait_for("#backup-path", Duration::from_secs(10));
    app.fill("#backup-path", file.to_str().unwrap());
    app.session.execute("document.getElementById('backup-save').scrollIntoView({block: 'center'})", json!([]));
    assert!(app.in_view("#backup-save"), "the backup button is on screen: {}", rects(&app, "#backup-save"));
    app.click("#backup-save");
    let done = app.session.wait_until("the backup", Duration::from_secs(60), || {
        app.session.try_find("#backup-done").map(|done| done.text()).filter(|text| !text.is_empty())
    });
    let expected = translation("ui.settings.backup_done", language)
        .replace("{cases}", "2")
        .replace("{path}", file.to_str().unwrap());
    assert_eq!(done, expected, "the notice says how many cases and where, in the interface's language");
    assert!(
        plaintext_found(stick.path(), &["Corisande", "Pellworth", "Tamworthy"]).is_empty(),
        "the backup is encrypted"
    );

    // The same file again: refused, nothing replaced.
    let bytes = std::fs::read(&file).unwrap();
    app.click("#backup-save");
    app.session.wait_until("the refusal", Duration::from_secs(20), || {
        app.session.try_find("#backup-error").filter(|error| !error.text().is_empty()).map(|_| ())
    });
    assert_eq!(app.text("#backup-error"), translation("error.file_exists", language));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    // Another laptop restores it with the command line and the workspace's passphrase.
    let new_laptop = tempfile::tempdir().unwrap();
    let restored_dir = new_laptop.path().join("harbour");
    let restored = harbour_json_unlocked(&restored_dir, &["restore", file.to_str().unwrap()]);
    assert_eq!(restored["cases"], 2);
    let listed = harbour_json_unlocked(&restored_dir, &["case", "list"]);
    let mut codes: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|case| case["code"].as_str()).collect();
    codes.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(codes, expected, "the restored laptop holds the same cases");
    let shown = harbour_json_unlocked(&restored_dir, &["case", "show", &first]);
    assert!(shown["fields"]["name"] == "Corisande Pellworth", "the restored case reads as it was written");
    assert!(harbour_json_unlocked(&restored_dir, &["audit", "verify"])["ok"] == true, "the audit chain is intact");
}

#[test]
fn settings_back_up_restores_in_english_at_1366x768() {
    settings_back_up_restores_with_harbour_restore("en", 1366, 768);
}

#[test]
fn settings_back_up_restores_in_spanish_at_1024x600() {
    settings_back_up_restores_with_harbour_restore("es", 1024, 600);
}

/// The cases sheet of an export archive as rows of cells, read by the zip and csv crates.
fn cases_sheet(archive: &[u8]) -> Vec<Vec<String>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("the export is a ZIP archive");
    let mut bytes = Vec::new();
    zip.by_name("cases.csv").expect("the archive has cases.csv").read_to_end(&mut bytes).unwrap();
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).expect("cases.csv starts with a byte-order mark");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text);
    reader.records().map(|record| record.unwrap().iter().map(str::to_owned).collect()).collect()
}

/// Opens an age file with its passphrase through the age crate (not Harbour's code).
fn age_open(path: &Path, passphrase: &str) -> Vec<u8> {
    use std::io::Read as _;
    let decryptor = age::Decryptor::new(std::fs::File::open(path).unwrap()).unwrap();
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).unwrap();
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).unwrap();
    plain
}

/// Waits for the text of `selector` to be something else than empty, and returns it.
fn shown(app: &Harbour, selector: &str, what: &str) -> String {
    app.session.wait_until(what, Duration::from_secs(60), || {
        app.session.try_find(selector).map(|element| element.text()).filter(|text| !text.is_empty())
    })
}

/// Clicks `selector` once it is scrolled to the middle of the window.
fn press(app: &Harbour, selector: &str) {
    app.session.execute("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", json!([selector]));
    app.click(selector);
}

/// Types `text` into `selector` once it is scrolled to the middle of the window (a small window
/// keeps the lower fields under the sync bar).
fn type_in(app: &Harbour, selector: &str, text: &str) {
    app.session.execute("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", json!([selector]));
    app.fill(selector, text);
}

/// Data → Export and Import, in `language` at `width`×`height`: cases leave encrypted to a
/// passphrase typed twice (refused in the interface's language when the two differ or it is too
/// short), open with Debian's Go `age` and hold the cases; nothing else is written and nothing
/// in clear; an import lists a bad row's problem by row and field label without its value,
/// imports nothing until the file is right, then imports every row after one confirmation.
fn data_leaves_encrypted_and_past_cases_come_in_checked(language: &str, width: u32, height: u32) {
    const EXPORT_PASSPHRASE: &str = "tidewater lantern orchard";
    let app = frontline_app(language, width, height);
    let (name, place) = ("Oriel Fenwhistle", "Marigot Hollow Lane");
    let first = case_with(&app, name, &[("sex", "female"), ("location", place)]);
    let second = case_with(&app, "Bastien Crowmarsh", &[]);
    let needles = [name, "Fenwhistle", place, "Crowmarsh"];

    app.click("#nav-data");
    app.wait_screen("data");
    let exports = tempfile::tempdir().unwrap();
    let out = exports.path().join("cases.zip.age");
    type_in(&app, "#export-path", out.to_str().unwrap());
    press(&app, "#export-sheet-referrals");

    // Two passphrases that differ, then one too short: refused in the interface's language,
    // the field at fault marked, nothing written.
    let refused = translation("error.export_passphrase", language);
    for (typed, again, marked) in [
        (EXPORT_PASSPHRASE, "tidewater lantern orchid", "#export-passphrase-again"),
        ("short", "short", "#export-passphrase"),
    ] {
        type_in(&app, "#export-passphrase", typed);
        type_in(&app, "#export-passphrase-again", again);
        press(&app, "#export-save");
        app.session.wait_for(&format!("{marked}[aria-invalid=\"true\"]"), Duration::from_secs(20));
        assert_eq!(shown(&app, "#export-error", "the refusal"), refused);
        assert!(!out.exists(), "a refused export writes nothing");
    }
    type_in(&app, "#export-passphrase", EXPORT_PASSPHRASE);
    type_in(&app, "#export-passphrase-again", EXPORT_PASSPHRASE);
    app.session.execute("document.getElementById('export-save').scrollIntoView({block: 'center'})", json!([]));
    assert!(app.in_view("#export-save"), "Export is on screen, above the sync bar: {}", rects(&app, "#export-save"));
    app.shot(&format!("data-export-{language}-{width}"));
    app.click("#export-save");
    let done = shown(&app, "#export-done-text", "the export");
    let expected = translation("ui.data.cases_done_encrypted", language)
        .replace("{rows}", "2")
        .replace("{path}", out.to_str().unwrap());
    assert_eq!(done, expected, "the app says what was written, how many and where, in its language");

    // Nothing in clear: the one file written is the age file asked for, and no name or place
    // is readable in it or in the data directory.
    assert_eq!(
        harbour_tests::files_below(exports.path()),
        std::slice::from_ref(&out),
        "the export is the only file written"
    );
    assert!(std::fs::read(&out).unwrap().starts_with(b"age-encryption.org/v1\n-> scrypt "));
    assert_eq!(plaintext_found(exports.path(), &needles), []);
    assert_eq!(plaintext_found(app.desktop.data_dir(), &needles), []);

    // Debian's Go `age` opens it with the passphrase; the cases sheet holds both cases.
    let opened = exports.path().join("opened.zip");
    let go = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("it/age_tty.py"))
        .arg(&out)
        .arg(&opened)
        .env("AGE_TEST_PASSPHRASE", EXPORT_PASSPHRASE)
        .output()
        .expect("python3 runs");
    assert!(go.status.success(), "age -d failed (is Debian's `age` installed?)");
    let rows = cases_sheet(&std::fs::read(&opened).unwrap());
    let column = |name: &str| rows[0].iter().position(|header| header == name).unwrap_or_else(|| panic!("no {name}"));
    let (code, person, location) = (column("case_code"), column("name"), column("location"));
    let mut found: Vec<(&str, &str, &str)> =
        rows[1..].iter().map(|row| (row[code].as_str(), row[person].as_str(), row[location].as_str())).collect();
    found.sort_unstable();
    let mut wanted = vec![(first.as_str(), name, place), (second.as_str(), "Bastien Crowmarsh", "")];
    wanted.sort_unstable();
    assert!(found == wanted, "the export holds the two cases as recorded");
    std::fs::remove_file(&opened).unwrap();
    let audit = harbour_json_unlocked(app.desktop.data_dir(), &["audit", "show", "--limit", "20"]);
    let entry = audit.as_array().unwrap().iter().find(|entry| entry["action"] == "export.cases").expect("audited");
    let detail = entry["detail"].as_str().unwrap();
    assert!(detail.starts_with("csv age") && detail.contains("cases=2") && detail.contains("referrals=0"), "{detail}");

    // Import: "Full name" is mapped by hand, `sex` maps itself; row 3's sex is not allowed.
    let past = tempfile::tempdir().unwrap();
    let file = past.path().join("past.csv");
    let csv = |sex: &str| {
        format!(
            "Full name,sex,birth_date,Remarks\nAmarantha Quillfeather,female,1990-01-02,x\nSecretvalue Person,{sex},1985-03-04,y\n"
        )
    };
    std::fs::write(&file, csv("dragon")).unwrap();
    type_in(&app, "#import-path", file.to_str().unwrap());
    press(&app, "#import-read");
    app.session.wait_for("#import-map-3", Duration::from_secs(20));
    assert_eq!(
        app.session.find("#import-map-1").property("value"),
        json!("sex"),
        "a column named like a field maps itself"
    );
    assert_eq!(app.session.find("#import-map-0").property("value"), json!(""));
    let label = app
        .session
        .execute("return document.querySelector('#import-map-0 option[value=\"name\"]').textContent", json!([]));
    assert_eq!(label, json!(translation("ui.field.name", language)), "fields are offered by their labels");
    app.choose("#import-map-0", "name");
    press(&app, "#import-check");
    let problem = shown(&app, ".import-problem", "the dry run's problems");
    let allowed =
        translation("ui.data.import_allowed", language).replace("{allowed}", &harbour_core::model::Sex::allowed());
    let expected = translation("ui.data.import_problem", language)
        .replace("{row}", "3")
        .replace("{field}", &translation("ui.field.sex", language))
        .replace("{what}", &allowed);
    assert_eq!(problem, expected, "the problem by row and label, with what is allowed");
    let report = app.text("#import-report");
    assert!(!report.contains("dragon") && !report.contains("Secretvalue"), "the report never repeats a value");
    assert_eq!(app.session.find_all(".import-problem").len(), 1, "one problem");
    assert!(!truthy(&app.session.execute("return !document.getElementById('import-submit').hidden", json!([]))));
    app.session.execute("document.getElementById('import-report').scrollIntoView({block: 'center'})", json!([]));
    app.shot(&format!("data-import-{language}-{width}"));

    // Corrected, checked again, imported after one confirmation: the cases are in the list.
    std::fs::write(&file, csv("male")).unwrap();
    press(&app, "#import-check");
    let clean = translation("ui.data.import_clean", language).replace("{rows}", "2");
    app.session.wait_until("the clean check", Duration::from_secs(20), || {
        (app.session.try_find("#import-summary").map(|summary| summary.text()) == Some(clean.clone())).then_some(())
    });
    press(&app, "#import-submit");
    press(&app, "#import-confirm");
    let imported = shown(&app, "#import-done", "the import");
    assert_eq!(imported, translation("ui.data.import_done", language).replace("{rows}", "2"));
    app.go_to_cases();
    app.session.wait_until("four cases in the list", Duration::from_secs(20), || {
        (app.session.find_all(".case-row").len() == 4).then_some(())
    });
    let listed = app.text("#main");
    assert!(
        listed.contains("Amarantha Quillfeather") && listed.contains("Secretvalue Person"),
        "imported cases listed"
    );
    let codes: Vec<String> =
        app.session.find_all(".case-row").iter().filter_map(|row| row.attribute("data-code")).collect();

    // In clear only when ticked, after the warning: an XLSX workbook of the four cases.
    app.click("#nav-data");
    app.wait_screen("data");
    let clear = exports.path().join("cases.xlsx");
    type_in(&app, "#export-path", clear.to_str().unwrap());
    app.choose("#export-format", "xlsx");
    press(&app, "#export-plaintext");
    assert_eq!(app.text("#export-plaintext-warning"), translation("ui.data.plaintext_warning", language));
    press(&app, "#export-save");
    let said = shown(&app, "#export-done-text", "the export in clear");
    let expected = translation("ui.data.cases_done_clear", language)
        .replace("{rows}", "4")
        .replace("{path}", clear.to_str().unwrap());
    assert_eq!(said, expected, "the app says it was written in clear");
    assert!(std::fs::read(&clear).unwrap().starts_with(b"PK\x03\x04"), "a workbook, in clear, as asked");
    press(&app, "#export-plaintext");

    // The CTDC set of four cases, none a victim: refused, and the app says why in words.
    let ctdc = exports.path().join("ctdc.csv");
    app.session.execute("document.getElementById('export-kind').scrollIntoView({block: 'center'})", json!([]));
    app.choose("#export-kind", "ctdc");
    type_in(&app, "#export-path", ctdc.to_str().unwrap());
    press(&app, "#export-save");
    let said = shown(&app, "#export-done-text", "the CTDC export");
    let why = translation("ui.data.ctdc_refused_too_few", language).replace("{k}", "11");
    let expected = translation("ui.data.ctdc_refused", language)
        .replace("{why}", &why)
        .replace("{k}", "11")
        .replace("{path}", ctdc.to_str().unwrap());
    let before_count = &expected[..expected.find("{suppressed}").unwrap()];
    assert!(said.starts_with(before_count), "the refusal and the tables written instead are said in words");
    assert!(std::fs::read_to_string(&ctdc).is_ok_and(|tables| !tables.contains("Fenwhistle")), "tables, no names");

    // The HTCDS transfer of every case to the organisation chosen from the list: the first case's
    // consent was given for it and goes; the second's names another organisation and is left out
    // for that reason; the two imported cases have no consent and are left out for theirs.
    for (code, with) in [(&first, "Partner NGO"), (&second, "Harbour Light Shelter")] {
        let consent = json!({"scope": ["identity", "case_summary"], "shared_with": with, "method": "verbal"});
        app.invoke("add_consent", json!({"id": code, "input": consent}));
    }
    let htcds = exports.path().join("transfer.json.age");
    app.session.execute("document.getElementById('export-kind').scrollIntoView({block: 'center'})", json!([]));
    app.choose("#export-kind", "htcds");
    type_in(&app, "#export-path", htcds.to_str().unwrap());
    type_in(&app, "#export-passphrase", EXPORT_PASSPHRASE);
    type_in(&app, "#export-passphrase-again", EXPORT_PASSPHRASE);
    // No organisation chosen: refused in the interface's language, nothing written.
    press(&app, "#export-save");
    app.session.wait_for("#export-recipient[aria-invalid=\"true\"]", Duration::from_secs(20));
    assert_eq!(
        shown(&app, "#export-error", "the missing recipient"),
        translation("ui.data.htcds_to_missing", language)
    );
    assert!(!htcds.exists(), "nothing written without a recipient");
    app.session.wait_for("#export-recipient option[value=\"Harbour Light Shelter\"]", Duration::from_secs(20));
    let offered = app.session.execute(
        "return [...document.querySelectorAll('#export-recipient option')].map((option) => option.value).filter(Boolean)",
        json!([]),
    );
    let offered: Vec<&str> = offered.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        offered.contains(&"Partner NGO") && offered.contains(&"Harbour Light Shelter") && offered.len() > 2,
        "the consents' recipients and the directory's services are offered: {offered:?}"
    );
    app.choose("#export-recipient", "Partner NGO");
    press(&app, "#export-save");
    let said = shown(&app, "#export-done-text", "the HTCDS export");
    let expected = translation("ui.data.htcds_done_encrypted", language)
        .replace("{rows}", "1")
        .replace("{path}", htcds.to_str().unwrap())
        .replace("{to}", "Partner NGO");
    assert_eq!(said, expected);
    let other = translation("ui.data.htcds_left_out_other", language)
        .replace("{to}", "Partner NGO")
        .replace("{codes}", &second);
    assert_eq!(app.text("#export-left-out-other"), other, "left out for its consent's recipient, by code");
    let left_out = app.text("#export-left-out");
    assert!(
        codes.len() == 4
            && codes
                .iter()
                .filter(|code| **code != first && **code != second)
                .all(|code| left_out.contains(code.as_str()))
            && !left_out.contains(first.as_str())
            && !left_out.contains(second.as_str()),
        "the cases without consent left out by code"
    );
    assert!(std::fs::read(&htcds).unwrap().starts_with(b"age-encryption.org/v1\n"), "the transfer is encrypted");
    let transfer: Value = serde_json::from_slice(&age_open(&htcds, EXPORT_PASSPHRASE)).unwrap();
    assert_eq!(transfer["recipient"], "Partner NGO");
    let sent: Vec<&str> =
        transfer["cases"].as_array().unwrap().iter().filter_map(|case| case["harbour"]["case_code"].as_str()).collect();
    assert_eq!(sent, [first.as_str()], "only the case consented for the chosen organisation goes");
    let audit = harbour_json_unlocked(app.desktop.data_dir(), &["audit", "show", "--limit", "40"]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|entry| entry["action"].as_str()).collect();
    for action in ["export.cases", "import.cases", "export.ctdc", "export.htcds"] {
        assert!(actions.contains(&action), "{action} is in the audit log");
    }
}

#[test]
fn data_export_and_import_in_english_at_1366x768() {
    data_leaves_encrypted_and_past_cases_come_in_checked("en", 1366, 768);
}

#[test]
fn data_export_and_import_in_spanish_at_1024x600() {
    data_leaves_encrypted_and_past_cases_come_in_checked("es", 1024, 600);
}
