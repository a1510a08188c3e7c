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
