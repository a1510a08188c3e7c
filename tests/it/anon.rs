//! Data out of Harbour on purpose, through the real `harbour` binary: the CTDC-coded anonymised
//! data set, checked by an independent reader (Python's csv module) that finds no combination
//! of released values describing fewer than k people.

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use harbour_core::crypto::KdfParams;
use harbour_core::model::{
    CaseFields, Country, ExploitationType, IdentificationStatus, LabourSector, MeansOfControl, RecruiterRelation,
    RecruitmentMethod, Sex,
};
use harbour_core::{CreateOptions, Workspace};
use harbour_tests::{PASSPHRASE, harbour, harbour_json};

/// A small deterministic generator, so every run makes the same population.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }

    /// Index into `weights`, drawn in proportion to them.
    fn weighted(&mut self, weights: &[usize]) -> usize {
        let mut draw = self.next(weights.iter().sum());
        for (index, weight) in weights.iter().enumerate() {
            if draw < *weight {
                return index;
            }
            draw -= weight;
        }
        weights.len() - 1
    }
}

/// A workspace with `people` cases, as a country's records might look: most people from a few
/// countries, a few common forms of exploitation; `diverse` draws every value evenly instead.
/// One in ten is not a victim (and must not be released).
fn population(dir: &Path, people: usize, diverse: bool, seed: u64) -> Vec<String> {
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let mut workspace = Workspace::create(dir, PASSPHRASE, &options).unwrap();
    let mut dice = Dice(seed);
    let nations = ["LC", "GY", "VE", "DO", "JM", "HT", "CU", "TT", "NG", "CN", "PH", "RO"];
    let nation_weights = [30, 20, 20, 10, 8, 5, 3, 2, 1, 1, 1, 1];
    let mut names = Vec::new();
    let cases: Vec<CaseFields> = (0..people)
        .map(|index| {
            let name = format!("Zeferina Quarantotto {index}");
            names.push(name.clone());
            let mut fields = CaseFields::named(&name).unwrap();
            let pick = |dice: &mut Dice, weights: &[usize], len: usize| {
                if diverse { dice.next(len) } else { dice.weighted(&weights[..len.min(weights.len())]) }
            };
            fields.sex =
                Some([Sex::Female, Sex::Male, Sex::TransgenderNonConforming][pick(&mut dice, &[60, 38, 2], 3)]);
            let born = if diverse {
                1960 + dice.next(50) as i32
            } else {
                1988 + dice.weighted(&[3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) as i32
            };
            fields.birth_date = NaiveDate::from_ymd_opt(born, 1 + dice.next(12) as u32, 1 + dice.next(28) as u32);
            fields.nationalities =
                vec![Country::parse(nations[pick(&mut dice, &nation_weights, nations.len())]).unwrap()];
            fields.country_of_exploitation =
                Some(Country::parse(if dice.next(10) < 8 || diverse { "LC" } else { "TT" }).unwrap());
            if diverse {
                fields.country_of_exploitation = Some(Country::parse(nations[dice.next(nations.len())]).unwrap());
            }
            fields.exploitation_types = vec![
                [
                    ExploitationType::SexualExploitation,
                    ExploitationType::ForcedLabour,
                    ExploitationType::ForcedMarriage,
                ][pick(&mut dice, &[55, 40, 5], 3)],
            ];
            if fields.exploitation_types[0] == ExploitationType::ForcedLabour {
                fields.labour_sectors = vec![
                    [
                        LabourSector::Agriculture,
                        LabourSector::DomesticWork,
                        LabourSector::Construction,
                        LabourSector::Aquafarming,
                    ][pick(&mut dice, &[50, 30, 15, 5], 4)],
                ];
            }
            let control = [
                vec![MeansOfControl::Threats],
                vec![MeansOfControl::DebtBondage, MeansOfControl::WithholdsDocuments],
                vec![MeansOfControl::FalsePromises],
                vec![],
                vec![MeansOfControl::PhysicalAbuse, MeansOfControl::RestrictsMovement, MeansOfControl::UsesChildren],
            ];
            fields.means_of_control = control[pick(&mut dice, &[60, 30, 8, 2, 0], control.len())].clone();
            fields.recruiter_relation = Some(RecruiterRelation::ALL[pick(&mut dice, &[5, 10, 60, 20, 5], 5)]);
            fields.recruitment_methods = vec![
                [RecruitmentMethod::JobOffer, RecruitmentMethod::Internet, RecruitmentMethod::Abduction]
                    [pick(&mut dice, &[70, 28, 2], 3)],
            ];
            fields.identification_status = Some(if index % 10 == 9 {
                IdentificationStatus::NotAVictim
            } else {
                [IdentificationStatus::Presumed, IdentificationStatus::Identified][dice.next(2)]
            });
            fields.intake_date = NaiveDate::from_ymd_opt(2019 + pick(&mut dice, &[1, 1, 1, 2, 3, 4], 6) as i32, 3, 15);
            fields
        })
        .collect();
    workspace.create_cases(cases).unwrap();
    names
}

/// Runs Python on `script` with the file as its argument and returns what it printed.
fn python(script: &str, file: &Path, k: u64) -> String {
    let output =
        Command::new("python3").arg("-c").arg(script).arg(file).arg(k.to_string()).output().expect("python3 runs");
    assert!(output.status.success(), "the independent check failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The independent reader of a record-level file: every combination of every released column
/// (and so every combination of any of them) describes k people or more.
const CHECK_RECORDS: &str = r#"
import csv, sys, collections, itertools
path, k = sys.argv[1], int(sys.argv[2])
with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
header, records = rows[0], rows[1:]
assert all(len(r) == len(header) for r in records), "ragged rows"
for forbidden in ("name", "id", "code", "location", "phone", "birth"):
    assert forbidden not in [h.lower() for h in header], forbidden
whole = collections.Counter(tuple(r) for r in records)
assert min(whole.values()) >= k, "a whole record describes %d people" % min(whole.values())
# Any pair of columns, counted directly (implied by the whole record; checked all the same).
for a, b in itertools.combinations(range(len(header)), 2):
    pairs = collections.Counter((r[a], r[b]) for r in records)
    assert min(pairs.values()) >= k, (header[a], header[b])
year = header.index("yearOfRegistration")
assert all(len(r[year]) in (3, 4, 10) for r in records), "a date finer than a year"
print(len(records), len(header), min(whole.values()))
"#;

/// The independent reader of aggregate tables: each shown count is 0 or at least k, and no
/// row or column of a table (totals included) hides exactly one count, which its total would
/// give away.
const CHECK_TABLES: &str = r#"
import csv, sys
path, k = sys.argv[1], int(sys.argv[2])
with open(path, newline="", encoding="utf-8") as f:
    lines = list(csv.reader(f))
tables, current = [], None
for line in lines:
    if not line:
        current = None
        continue
    if current is None:
        current = {"id": line[0], "header": None, "rows": []}
        tables.append(current)
    elif current["header"] is None:
        current["header"] = line
    else:
        current["rows"].append(line[1:])
hidden_total = 0
for t in tables:
    grid = t["rows"]
    assert grid[-1] is not None and t["header"][-1] == "total"
    for row in grid:
        for cell in row:
            if cell == "<%d" % k:
                hidden_total += 1
            else:
                assert int(cell) == 0 or int(cell) >= k, (t["id"], cell)
    for row in grid:
        assert sum(c.startswith("<") for c in row) != 1, (t["id"], "a row hides one count")
    for column in zip(*grid):
        assert sum(c.startswith("<") for c in column) != 1, (t["id"], "a column hides one count")
print(len(tables), hidden_total)
"#;

#[test]
fn a_few_thousand_victims_are_released_record_by_record_with_no_class_under_k() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let names = population(&data, 3_000, false, 7);
    let out = dir.path().join("ctdc.csv");
    let written = harbour_json(&data, &["export", "ctdc", "--out", out.to_str().unwrap()]);
    assert_eq!(written["release"], "records", "{written}");
    assert_eq!(written["k"], 11);
    assert_eq!(written["people"], 2_700, "victims only: one in ten is not a victim");
    let rows = written["rows"].as_u64().unwrap();
    assert_eq!(rows + written["withheld_records"].as_u64().unwrap(), 2_700);
    assert!(rows >= 2_430, "at most a tenth withheld: {written}");
    assert_eq!(written["path"], out.to_str().unwrap());

    let checked = python(CHECK_RECORDS, &out, 11);
    let counted: Vec<u64> = checked.split(' ').map(|n| n.parse().unwrap()).collect();
    assert_eq!(counted[0], rows, "Python reads as many records as Harbour says it wrote");
    assert!(counted[2] >= 11);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!names.iter().any(|name| text.contains(name.as_str())) && !text.contains("Zeferina"));
    assert!(!text.contains("LC-"), "no case code");
    for column in [
        "gender",
        "ageBroad",
        "majorityStatus",
        "citizenship",
        "CountryOfExploitation",
        "isForcedLabour",
        "meansOfControlDebtBondage",
        "typeOfLabourAgriculture",
        "isAbduction",
        "RecruiterRelationship",
        "recruiterRelationFamily",
    ] {
        assert!(text.lines().next().unwrap().split(',').any(|name| name == column), "{column} is a column");
    }

    // A smaller k releases more detail, still checked independently.
    let out5 = dir.path().join("ctdc-5.csv");
    let five = harbour_json(&data, &["export", "ctdc", "--out", out5.to_str().unwrap(), "--k", "5"]);
    assert_eq!(five["release"], "records");
    python(CHECK_RECORDS, &out5, 5);
    assert!(
        five["suppressed_values"].as_u64().unwrap() <= written["suppressed_values"].as_u64().unwrap(),
        "k = 5 hides no more than k = 11"
    );

    // One audit entry per export, saying what and how many, never a value.
    let audit = harbour_json(&data, &["audit", "show", "--limit", "5"]);
    let exports: Vec<&serde_json::Value> =
        audit.as_array().unwrap().iter().filter(|entry| entry["action"] == "export.ctdc").collect();
    assert_eq!(exports.len(), 2);
    assert!(
        exports
            .iter()
            .any(|entry| entry["detail"].as_str().unwrap().contains(&format!("records k=11 people=2700 rows={rows}")))
    );
}

#[test]
fn a_handful_of_victims_gets_the_aggregate_tables_instead() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    population(&data, 40, true, 11);
    let out = dir.path().join("ctdc.csv");
    let written = harbour_json(&data, &["export", "ctdc", "--out", out.to_str().unwrap()]);
    assert_ne!(written["release"], "records", "{written}");
    assert_eq!(written["people"], 36);
    let checked = python(CHECK_TABLES, &out, 11);
    let counted: Vec<u64> = checked.split(' ').map(|n| n.parse().unwrap()).collect();
    assert_eq!(counted[0], 8, "eight tables");
    assert_eq!(counted[1], written["suppressed_values"].as_u64().unwrap(), "hidden cells as Harbour reports");
    assert!(counted[1] > 0);

    // Fewer victims than k: refused for that reason, said in the worker's language.
    let tiny = dir.path().join("tiny");
    population(&tiny, 8, true, 3);
    let out = dir.path().join("tiny.csv");
    let refused = Command::new(harbour_tests::binary("harbour"))
        .args(["--data-dir", tiny.to_str().unwrap(), "export", "ctdc", "--out", out.to_str().unwrap()])
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env("HARBOUR_LANG", "es")
        .output()
        .unwrap();
    assert!(refused.status.success());
    let said = String::from_utf8(refused.stdout).unwrap();
    assert!(said.contains("Se rechazó") && said.contains("hay menos de 11 víctimas"), "{said}");
    python(CHECK_TABLES, &out, 11);

    let bad_k = harbour(&data, &["export", "ctdc", "--out", out.to_str().unwrap(), "--k", "1"]);
    assert!(!bad_k.status.success());
    assert!(String::from_utf8_lossy(&bad_k.stderr).contains("k: use a k of 2 or more"));
}

/// The HTCDS transfer: only cases whose consent covers identity and case summary, contact only
/// when consented, the rest listed by code; encrypted by default in the age format.
#[test]
fn htcds_transfer_carries_only_consented_cases_and_is_encrypted_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    assert!(harbour(&data, &["init", "--worker", "Nurse Joseph"]).status.success());
    let mut codes = Vec::new();
    for (name, share) in [
        ("Rosalía Núñez", Some("identity,case_summary,contact")),
        ("Amadou Diallo", Some("identity,case_summary")),
        ("Céline Moreau", Some("case_summary")),
        ("Dmitri Volkov", None),
    ] {
        let created = harbour_json(
            &data,
            &["case", "new", "--name", name, "--sex", "female", "--phone", "+17584520000", "--location", "Castries"],
        );
        let code = created["code"].as_str().unwrap().to_owned();
        assert!(harbour(&data, &["case", "set", &code, "means_of_control=debt_bondage,threats"]).status.success());
        if let Some(share) = share {
            assert!(
                harbour(&data, &["consent", "add", &code, "--share", share, "--with", "Partner NGO"]).status.success()
            );
        }
        codes.push(code);
    }
    let clear = dir.path().join("transfer.json");
    let written = harbour_json(
        &data,
        &[
            "export",
            "htcds",
            "--plaintext",
            "--out",
            clear.to_str().unwrap(),
            "--to",
            "Partner NGO",
            &codes[0],
            &codes[1],
            &codes[2],
        ],
    );
    assert_eq!(written["rows"], 2);
    assert_eq!(written["left_out"], serde_json::json!([codes[2]]));
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(&clear).unwrap()).unwrap();
    assert_eq!(document["version"], "2.0");
    let cases = document["cases"].as_array().unwrap();
    assert_eq!(cases[0]["harbour"]["full_name"], "Rosalía Núñez");
    assert_eq!(cases[0]["prs"]["prs_MobilePhone"], "+17584520000", "contact consented");
    assert_eq!(cases[0]["harbour"]["location"], "Castries");
    assert_eq!(cases[0]["prs"]["prs_Gender"], "Feminine", "HTCDS v2.0's value name");
    assert_eq!(cases[0]["vic"]["vic_MethodsOfControl"], serde_json::json!(["DebtBondage", "PhysicalThreats"]));
    assert_eq!(cases[0]["con"]["con_Consent"], true);
    assert_eq!(cases[0]["cas"]["cas_Status"], "Active");
    assert_eq!(cases[1]["harbour"]["full_name"], "Amadou Diallo");
    assert!(cases[1]["prs"].get("prs_MobilePhone").is_none() && cases[1]["harbour"].get("location").is_none());
    // Every key is a field of HTCDS v2.0, a grouping, or inside a `harbour` object.
    fn keys_outside_harbour(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    if key != "harbour" {
                        found.push(key.clone());
                        keys_outside_harbour(inner, found);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| keys_outside_harbour(item, found)),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    keys_outside_harbour(&document["cases"], &mut keys);
    let groups = ["prs", "vic", "con", "hte", "per", "cas", "outgoing_referrals"];
    for key in &keys {
        assert!(
            groups.contains(&key.as_str()) || harbour_core::htcds::HTCDS_V2_FIELDS.contains(&key.as_str()),
            "{key} is not an HTCDS v2.0 field"
        );
    }
    assert!(keys.iter().any(|key| key == "vic_MethodsOfControl") && keys.iter().any(|key| key == "prs_Gender"));
    let text = std::fs::read_to_string(&clear).unwrap();
    assert!(!text.contains("Céline") && !text.contains("Dmitri") && !text.contains("Nurse Joseph"));

    // Encrypted by default: nothing readable in the file; it opens with the passphrase.
    let sealed = dir.path().join("transfer.age");
    let output = Command::new(harbour_tests::binary("harbour"))
        .args(["--json", "--data-dir", data.to_str().unwrap(), "export", "htcds", "--out", sealed.to_str().unwrap()])
        .args(["--to", "partner  ngo"])
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env("HARBOUR_EXPORT_PASSPHRASE", "a passphrase for the partner")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let written: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(written["encrypted"], true);
    assert_eq!(written["left_out"].as_array().unwrap().len(), 2, "every case considered when none is named");
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    assert!(harbour_tests::plaintext_found(dir.path(), &["Amadou"]).iter().all(|(_, file)| *file == clear));
    let opened = age_open(&bytes, "a passphrase for the partner").expect("opens with its passphrase");
    let reopened: serde_json::Value = serde_json::from_slice(&opened).unwrap();
    assert_eq!(reopened["cases"].as_array().unwrap().len(), 2);
    assert!(age_open(&bytes, "the wrong passphrase").is_none(), "a wrong passphrase opens nothing");

    let audit = harbour_json(&data, &["audit", "show", "--limit", "3"]);
    assert!(
        audit.as_array().unwrap().iter().any(|entry| entry["action"] == "export.htcds"
            && entry["detail"] == "age included=2 left_out=2 other_recipient=0")
    );
}

/// Opens an age file with a passphrase, through the age library (not Harbour's code).
fn age_open(bytes: &[u8], passphrase: &str) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let decryptor = age::Decryptor::new(bytes).ok()?;
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).ok()?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).ok()?;
    Some(plain)
}

/// The text of a PDF, read back by poppler's `pdftotext` (another program than the one that wrote it).
fn pdf_text(pdf: &Path) -> String {
    let output = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils; tests/run.sh installs it)");
    assert!(output.status.success(), "pdftotext read the letter: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The printed referral letter carries what the consent covers and nothing else, in English,
/// Spanish and French, accents and all.
#[test]
fn the_referral_letter_prints_only_what_the_consent_covers_in_three_languages() {
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
            "--phone",
            "+17584520000",
            "--location",
            "Anse-la-Raye",
            "--risk-level",
            "high",
        ],
    );
    let code = created["code"].as_str().unwrap().to_owned();
    assert!(
        harbour(&data, &["case", "set", &code, "means_of_control=threats", "exploitation_types=forced_labour"])
            .status
            .success()
    );
    assert!(harbour(&data, &["note", "add", &code, "--text", "Mentioned a cousin in Vieux-Fort"]).status.success());
    let consent =
        harbour_json(&data, &["consent", "add", &code, "--share", "identity,case_summary", "--with", "Maison Sûre"]);
    let referral = harbour_json(
        &data,
        &[
            "referral",
            "add",
            &code,
            "--service",
            "Maison Sûre",
            "--type",
            "shelter",
            "--consent",
            consent["id"].as_str().unwrap(),
            "--urgency",
            "urgent",
        ],
    );
    let referral_id = referral["id"].as_str().unwrap().to_owned();

    for (lang, title, words) in [
        ("en", "Referral letter", ["Female", "Threats", "Forced labour", "Urgent"]),
        ("es", "Carta de derivación", ["Mujer", "Amenazas", "Trabajo forzoso", "Urgente"]),
        ("fr", "Lettre d'orientation", ["Femme", "Menaces", "Travail forcé", "Urgente"]),
    ] {
        let pdf = dir.path().join(format!("letter-{lang}.pdf"));
        let written = harbour_json(
            &data,
            &["referral", "letter", &code, &referral_id, "--out", pdf.to_str().unwrap(), "--lang", lang],
        );
        assert_eq!(written["lang"], lang);
        assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
        let text = pdf_text(&pdf);
        for expected in [title, "Rosalía Núñez", "Rosa", &code, "Maison Sûre"].into_iter().chain(words) {
            assert!(text.contains(expected), "the {lang} letter says {expected:?}:\n{text}");
        }
        // Not consented: contact (phone, location) and notes.
        for absent in ["+17584520000", "Anse-la-Raye", "cousin", "Vieux-Fort", "Nurse Joseph"] {
            assert!(!text.contains(absent), "the {lang} letter must not carry an unconsented detail");
        }
    }
    let audit = harbour_json(&data, &["audit", "show", "--limit", "5"]);
    let letters = audit.as_array().unwrap().iter().filter(|entry| entry["action"] == "referral.export").count();
    assert_eq!(letters, 3, "each letter is recorded as the referral's export");

    let wrong = harbour(&data, &["referral", "letter", &code, &referral_id, "--out", "x.pdf", "--lang", "de"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("lang: \"de\" is not a language of the letter"));
}
