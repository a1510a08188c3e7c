//! Data in and out over 100,000 cases, for docs/PERFORMANCE.md (targets: the CSV export ≤ 2 s,
//! a backup ≤ 5 s, an import of 10,000 rows ≤ 10 s):
//!
//!     CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo --config 'profile.dev.package."*".opt-level=2' test -p harbour-core --bench export --no-run
//!     target/debug/deps/export-… --bench                              (100,000 cases)
//!     HARBOUR_BENCH_CASES=5000 target/debug/deps/export-… --bench     (a quicker run)
//!     HARBOUR_BENCH_ONLY=import target/debug/deps/export-… --bench    (the import alone)
//!     HARBOUR_BENCH_KEEP=/some/dir target/debug/deps/export-… --bench (made once, then copied)
//!     HARBOUR_BENCH_RUNS=1 target/debug/deps/export-… --bench          (one run of each)
//!
//! The workspace is made once (cases imported in batches; one in fifty with a consent and a
//! referral, one in a hundred with a justice step), then each operation is timed three times
//! through the public API, as the CLI calls it: the export of every case with the referral,
//! screening and justice sheets (in clear, and encrypted: the age file's scrypt at work factor
//! 18 is part of the encrypted time), an XLSX export, a backup, and an import of 10,000 rows
//! (read and checked with the duplicate check against every case, then recorded).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use harbour_core::crypto::KdfParams;
use harbour_core::export::{ExportFormat, ExportQuery, Protection, Sheet};
use harbour_core::model::{
    CaseFields, CaseStatus, ConsentMethod, ConsentScope, Country, ExploitationType, IdentificationStatus, JusticeStage,
    ReferralReason, ServiceType, Sex, Urgency,
};
use harbour_core::{ConsentInput, CreateOptions, JusticeInput, ReferralInput, Workspace};

const PASSPHRASE: &str = "benchmark passphrase";
const BATCH: usize = 5_000;
const IMPORT_ROWS: usize = 10_000;

fn populated(dir: &std::path::Path, cases: usize) -> Workspace {
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let mut workspace = Workspace::create(dir, PASSPHRASE, &options).unwrap();
    let teams = ["Clinic North", "Clinic South", "Embassy", "Ministry", "Shelter"];
    let nations = ["LC", "GY", "VE", "DO", "JM", "HT", "CU", "TT"];
    let mut made = 0;
    while made < cases {
        let batch: Vec<CaseFields> = (made..cases.min(made + BATCH))
            .map(|index| {
                let mut fields = CaseFields::named(&format!("Bench Person {index}")).unwrap();
                fields.sex = Some(Sex::ALL[index % Sex::ALL.len()]);
                fields.status = CaseStatus::ALL[index % CaseStatus::ALL.len()];
                fields.assigned_team = Some(teams[index % teams.len()].to_owned());
                fields.nationalities = vec![Country::parse(nations[index % nations.len()]).unwrap()];
                fields.exploitation_types = vec![ExploitationType::ALL[index % 3]];
                fields.identification_status = Some(IdentificationStatus::ALL[index % 4]);
                fields.birth_date = NaiveDate::from_ymd_opt(1970 + (index % 40) as i32, 1 + (index % 12) as u32, 1);
                fields.location = Some(format!("Bench Street {}", index % 300));
                fields.intake_date =
                    NaiveDate::from_ymd_opt(2022, 1, 1).map(|day| day + chrono::Duration::days((index % 1000) as i64));
                fields
            })
            .collect();
        made += batch.len();
        workspace.create_cases(batch).unwrap();
    }
    let ids: Vec<_> = workspace
        .list_cases(&harbour_core::CaseQuery::default())
        .unwrap()
        .into_iter()
        .map(|summary| summary.id)
        .collect();
    for (index, id) in ids.into_iter().enumerate() {
        if index % 50 == 0 {
            let consent = ConsentInput {
                scope: vec![ConsentScope::CaseSummary],
                shared_with: "services".into(),
                given_on: Utc::now().date_naive(),
                method: ConsentMethod::Verbal,
                note: None,
            };
            let (consent_id, _) = workspace.add_consent(id, consent).unwrap();
            let input = ReferralInput {
                service: "Bench service".into(),
                service_type: ServiceType::Shelter,
                reason: ReferralReason::AdditionalServicesRequired,
                details: None,
                urgency: Urgency::Routine,
                consent_id,
                team: None,
            };
            workspace.add_referral(id, input).unwrap();
        }
        if index % 100 == 0 {
            let step = JusticeInput {
                stage: JusticeStage::Reported,
                date: NaiveDate::from_ymd_opt(2024, 1, 2),
                perpetrator: None,
                sentence_months: None,
            };
            workspace.add_justice_step(id, step).unwrap();
        }
    }
    workspace
}

/// A workspace of `cases` cases made once under `keep` (another run reuses it), copied to `dir`
/// so that every run starts from the same files.
fn kept(keep: &std::path::Path, dir: &std::path::Path, cases: usize) -> Workspace {
    let made = keep.join(format!("ws-{cases}"));
    if !made.join("done").exists() {
        let _ = std::fs::remove_dir_all(&made);
        drop(populated(&made, cases));
        std::fs::write(made.join("done"), b"").unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(&made).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "done" {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    Workspace::unlock(dir, PASSPHRASE).unwrap()
}

/// Names made of syllables, so that rows do not all share their words (as people do not).
fn varied_name(index: usize) -> String {
    const SYLLABLES: &[&str] =
        &["ka", "lo", "mi", "re", "su", "ta", "vi", "no", "pe", "da", "zo", "ri", "ban", "tel", "mor"];
    let word = |mut n: usize| {
        let mut word = String::new();
        for _ in 0..3 {
            word.push_str(SYLLABLES[n % SYLLABLES.len()]);
            n /= SYLLABLES.len();
        }
        let mut chars = word.chars();
        chars.next().map(|first| first.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
    };
    format!("{} {}", word(index * 7 + 3), word(index * 13 + 5))
}

fn import_file(rows: usize, round: usize) -> Vec<u8> {
    let mut text = String::from("name,sex,birth_date,nationalities,status,intake_date,location\n");
    for index in round * rows..(round + 1) * rows {
        text.push_str(&format!(
            "{},{},19{:02}-0{}-15,VE,active,2023-0{}-01,Old Town {}\n",
            varied_name(index),
            ["female", "male"][index % 2],
            50 + index % 50,
            1 + index % 9,
            1 + index % 9,
            index % 40
        ));
    }
    text.into_bytes()
}

fn timed<T>(label: &str, runs: usize, mut run: impl FnMut(usize) -> T) -> Vec<Duration> {
    // HARBOUR_BENCH_RUNS=1 for a quicker look (at most the runs asked for here).
    let runs = std::env::var("HARBOUR_BENCH_RUNS").ok().and_then(|text| text.parse().ok()).unwrap_or(runs).min(runs);
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for round in 0..runs {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        let _ = run(round);
        times.push(start.elapsed());
        cpu.push(cpu_seconds() - cpu_start);
    }
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "{label}: median {:.3} s (runs: {}; CPU time of this process: {} s)",
        sorted[sorted.len() / 2].as_secs_f64(),
        times.iter().map(|time| format!("{:.3}", time.as_secs_f64())).collect::<Vec<_>>().join(", "),
        cpu.iter().map(|seconds| format!("{seconds:.2}")).collect::<Vec<_>>().join(", ")
    );
    times
}

/// User and system CPU time of this process so far (Linux's /proc, in 1/100 s), which the other
/// processes of a loaded machine change less than the wall-clock time; 0 elsewhere.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        // `cargo test` runs bench targets without --bench: nothing to measure then.
        return;
    }
    let cases: usize = std::env::var("HARBOUR_BENCH_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let only = std::env::var("HARBOUR_BENCH_ONLY").unwrap_or_default();
    let start = Instant::now();
    let mut workspace = match std::env::var_os("HARBOUR_BENCH_KEEP") {
        Some(keep) => kept(std::path::Path::new(&keep), &dir.path().join("ws"), cases),
        None => populated(&dir.path().join("ws"), cases),
    };
    println!("made {cases} cases in {:.1} s", start.elapsed().as_secs_f64());
    let sheets = [Sheet::Referrals, Sheet::Screenings, Sheet::Justice];
    if only != "import" {
        exports_and_backup(&mut workspace, out.path(), cases, &sheets);
    }
    let files: Vec<Vec<u8>> = (0..3).map(|round| import_file(IMPORT_ROWS, round)).collect();
    timed("import 10,000 rows (check with duplicates, then record)", 3, |round| {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        let plan = harbour_core::import::plan(&workspace, &files[round][..], &Default::default()).unwrap();
        println!(
            "  (round {round}: read and checked in {:.3} s, CPU {:.2} s, {} likely duplicates)",
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu_start,
            plan.duplicates.len()
        );
        assert!(plan.is_clean());
        let summary = workspace.import_cases(plan).unwrap();
        assert_eq!(summary.imported, IMPORT_ROWS);
    });
}

fn exports_and_backup(workspace: &mut Workspace, out: &std::path::Path, cases: usize, sheets: &[Sheet]) {
    let query = ExportQuery::default();
    let encrypted = Protection::passphrase("bench export passphrase").unwrap();
    timed("export csv, every case + 3 sheets, in clear", 3, |round| {
        let path = out.join(format!("clear-{round}.zip"));
        let summary =
            workspace.export_cases(&query, sheets, ExportFormat::CsvArchive, &Protection::Plaintext, &path).unwrap();
        assert_eq!(summary.rows, cases);
    });
    timed("export csv, every case + 3 sheets, encrypted (age)", 3, |round| {
        let path = out.join(format!("sealed-{round}.zip.age"));
        workspace.export_cases(&query, sheets, ExportFormat::CsvArchive, &encrypted, &path).unwrap();
    });
    timed("export xlsx, every case + 3 sheets, encrypted (age)", 1, |round| {
        let path = out.join(format!("sealed-{round}.xlsx.age"));
        workspace.export_cases(&query, sheets, ExportFormat::Xlsx, &encrypted, &path).unwrap();
    });
    let size = std::fs::metadata(out.join("sealed-0.zip.age")).unwrap().len();
    println!("  (the encrypted CSV archive is {:.1} MB)", size as f64 / 1e6);
    timed("backup", 3, |round| {
        let summary = workspace.backup(&out.join(format!("backup-{round}.hbk"))).unwrap();
        if round == 0 {
            println!("  (the backup is {:.1} MB)", summary.bytes as f64 / 1e6);
        }
    });
}
