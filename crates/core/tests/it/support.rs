//! What the tests share: a workspace in a temporary directory, a fully filled case, raw access to
//! the database for tampering, and comparisons that never print personal data.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use harbour_core::crypto::{self, KdfParams};
use harbour_core::model::{
    AgeEstimate, CaseFields, CaseStatus, Country, ExploitationType, IdentificationStatus, LabourSector, Language,
    MeansOfControl, OrganisationType, Phone, RecruiterRelation, RecruitmentMethod, RiskLevel, Sex,
};
use harbour_core::{CreateOptions, Workspace, keyfile};
use serde::Serialize;
use serde_json::Value;
use tempfile::TempDir;

pub const PASSPHRASE: &str = "lantern tide harbour 42";

/// Invented personal data; distinctive so that a scan of the disk cannot match by chance.
pub const NAME: &str = "Quillon Varsetti-Ombrelle";
pub const ALIAS: &str = "Zephrine Koldavar";
pub const BIRTH_DATE: &str = "1987-03-14";
pub const LOCATION: &str = "Vieux Fort";
pub const NOTE: &str = "note-wxqz: met at the vellichor bus depot";

/// A data directory inside a temporary directory (so `create` also makes the directory).
pub struct Fixture {
    _tmp: TempDir,
    pub dir: PathBuf,
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("harbour");
    Fixture { _tmp: tmp, dir }
}

/// Fast key derivation: these tests are about other things than Argon2's cost.
pub fn fast() -> CreateOptions {
    CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() }
}

pub fn new_workspace() -> (Fixture, Workspace) {
    let fixture = fixture();
    let workspace = Workspace::create(&fixture.dir, PASSPHRASE, &fast()).unwrap();
    (fixture, workspace)
}

pub fn unlock(dir: &Path) -> Workspace {
    Workspace::unlock(dir, PASSPHRASE).unwrap()
}

pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A case with every field filled.
pub fn full_fields() -> CaseFields {
    CaseFields {
        name: NAME.into(),
        aliases: vec![ALIAS.into(), "Q.V.".into()],
        sex: Some(Sex::Female),
        birth_date: Some(day(BIRTH_DATE)),
        estimated_age: Some(AgeEstimate { years: 37, as_of: day("2024-05-01") }),
        nationalities: vec![Country::parse("LC").unwrap(), Country::parse("GY").unwrap()],
        languages: vec![Language::parse("en").unwrap(), Language::parse("acf").unwrap()],
        phone: Some(Phone::parse("+1 758 452 0000").unwrap()),
        location: Some(LOCATION.into()),
        status: CaseStatus::FollowUp,
        risk_level: Some(RiskLevel::High),
        exploitation_types: vec![ExploitationType::ForcedLabour, ExploitationType::SexualExploitation],
        means_of_control: vec![MeansOfControl::DebtBondage, MeansOfControl::WithholdsDocuments],
        assigned_team: Some("Clinic North".into()),
        assigned_worker: Some("worker-7".into()),
        identification_status: Some(IdentificationStatus::Presumed),
        identification_date: Some(day("2024-05-02")),
        identified_by: Some(OrganisationType::LawEnforcement),
        country_of_exploitation: Some(Country::parse("TT").unwrap()),
        recruiter_relation: Some(RecruiterRelation::Friend),
        recruitment_methods: vec![RecruitmentMethod::JobOffer],
        labour_sectors: vec![LabourSector::Agriculture],
        intake_date: Some(day("2024-04-30")),
    }
}

/// Asserts two values serialize identically. On failure it names the JSON paths that differ,
/// never their contents (which may be personal data, even invented).
#[track_caller]
pub fn assert_same<A: Serialize, B: Serialize>(left: &A, right: &B, what: &str) {
    let left = serde_json::to_value(left).unwrap();
    let right = serde_json::to_value(right).unwrap();
    if left != right {
        let mut paths = Vec::new();
        differing_paths(&left, &right, "$", &mut paths);
        panic!("{what}: differ at {}", paths.join(", "));
    }
}

fn differing_paths(left: &Value, right: &Value, at: &str, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for key in l.keys().chain(r.keys().filter(|key| !l.contains_key(*key))) {
                let (a, b) = (l.get(key), r.get(key));
                match (a, b) {
                    (Some(a), Some(b)) => differing_paths(a, b, &format!("{at}.{key}"), out),
                    _ => out.push(format!("{at}.{key} (only on one side)")),
                }
            }
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            for (index, (a, b)) in l.iter().zip(r).enumerate() {
                differing_paths(a, b, &format!("{at}[{index}]"), out);
            }
        }
        (Value::Array(l), Value::Array(r)) => out.push(format!("{at} (lengths {} and {})", l.len(), r.len())),
        _ if left != right => out.push(at.to_owned()),
        _ => {}
    }
}

/// The outcome of a call as one line: `ok` or `error: <message>`. Core's messages carry no
/// personal data, so they may be printed.
pub fn outcome<T>(result: &harbour_core::Result<T>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(error) => format!("error: {error}"),
    }
}

/// A raw SQLCipher connection to the workspace's database, as an attacker holding the
/// database key would have (to tamper, or to set up states the API cannot reach).
pub fn raw_db(dir: &Path) -> rusqlite::Connection {
    let key = keyfile::unlock(dir, PASSPHRASE).unwrap().0.db_key.to_hex();
    let conn = rusqlite::Connection::open(dir.join("harbour.db")).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\"; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;", key.as_str()))
        .unwrap();
    conn
}

/// SHA-256 of every file under `dir`, by relative path.
pub fn file_hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut hashes = BTreeMap::new();
    for path in files_under(dir) {
        let bytes = fs::read(&path).unwrap();
        let name = path.strip_prefix(dir).unwrap().display().to_string();
        hashes.insert(name, crypto::sha256_hex(&[&bytes]));
    }
    hashes
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
