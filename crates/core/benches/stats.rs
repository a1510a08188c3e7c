//! The task force's figures over 100,000 cases (target: median ≤ 150 ms), for
//! docs/PERFORMANCE.md:
//!
//!     cargo bench -p harbour-core --bench stats
//!     HARBOUR_BENCH_CASES=20000 cargo bench -p harbour-core --bench stats   (a quicker run)
//!
//! The workspace is made once (cases imported in batches, one in twenty with referrals and a
//! screening), then criterion times `Workspace::statistics`: the first call after an unlock
//! (read every case's facts into memory, count every figure, append the one `stats.view` audit
//! entry), the calls after it (the facts are in memory: count and audit), and a call after one
//! case changed (that case's facts read again); a change to one case before the figures were
//! ever computed and after (the write path also records, through a temporary trigger, which
//! case's facts it wrote; each change goes to another case, so no projection grows); a drill-down (its figure counted again); the annual tables; and the
//! CTDC data set (read the facts,
//! anonymise with its k-check, write the file, audit; target ≤ 2 s); and a referral letter's
//! PDF (the packet read and audited, the letter typeset; target ≤ 1 s).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use harbour_core::crypto::KdfParams;
use harbour_core::model::{
    CaseFields, CaseStatus, ConsentMethod, ConsentScope, Country, ExploitationType, FieldValue, IdentificationStatus,
    LabourSector, ReferralReason, ReferralStatus, RiskLevel, ServiceType, Sex, Urgency,
};
use harbour_core::stats::StatsQuery;
use harbour_core::stats::annual::{ReportPeriod, ReportUse};
use harbour_core::{ConsentInput, CreateOptions, ReferralInput, Workspace};

const PASSPHRASE: &str = "benchmark passphrase";
const BATCH: usize = 5_000;

fn populated(dir: &std::path::Path, cases: usize) -> Workspace {
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let mut workspace = Workspace::create(dir, PASSPHRASE, &options).unwrap();
    let teams = ["Clinic North", "Clinic South", "Embassy", "Ministry", "Shelter"];
    let nations = ["LC", "GY", "VE", "DO", "JM", "HT", "CU", "TT"];
    let mut made = 0;
    while made < cases {
        let batch: Vec<CaseFields> = (made..cases.min(made + BATCH))
            .map(|index| {
                let mut fields = CaseFields::named(&format!("Bench person {index}")).unwrap();
                fields.sex = Some(Sex::ALL[index % Sex::ALL.len()]);
                fields.status = CaseStatus::ALL[index % CaseStatus::ALL.len()];
                fields.assigned_team = Some(teams[index % teams.len()].to_owned());
                fields.nationalities = vec![Country::parse(nations[index % nations.len()]).unwrap()];
                fields.exploitation_types = vec![ExploitationType::ALL[index % 3]];
                fields.labour_sectors = vec![LabourSector::ALL[index % LabourSector::ALL.len()]];
                fields.identification_status = Some(IdentificationStatus::ALL[index % 4]);
                fields.intake_date =
                    NaiveDate::from_ymd_opt(2022, 1, 1).map(|day| day + chrono::Duration::days((index % 1000) as i64));
                fields
            })
            .collect();
        made += batch.len();
        workspace.create_cases(batch).unwrap();
    }
    // One case in twenty with a consent, a referral that was accepted, and another waiting.
    let ids: Vec<_> = workspace
        .list_cases(&harbour_core::CaseQuery::default())
        .unwrap()
        .into_iter()
        .map(|summary| summary.id)
        .step_by(20)
        .collect();
    for id in ids {
        let consent = ConsentInput {
            scope: vec![ConsentScope::CaseSummary],
            shared_with: "services".into(),
            given_on: Utc::now().date_naive(),
            method: ConsentMethod::Verbal,
            note: None,
        };
        let (consent_id, _) = workspace.add_consent(id, consent).unwrap();
        for service_type in [ServiceType::Shelter, ServiceType::Medical] {
            let input = ReferralInput {
                // One service per referral: a second open referral to one service is refused.
                service: format!("Bench service {}", service_type.as_str()),
                service_type,
                reason: ReferralReason::AdditionalServicesRequired,
                details: None,
                urgency: Urgency::Routine,
                consent_id,
                team: None,
            };
            let (referral, _) = workspace.add_referral(id, input).unwrap();
            if service_type == ServiceType::Shelter {
                workspace.set_referral_status(id, referral, ReferralStatus::Accepted, None).unwrap();
            }
        }
    }
    workspace
}

fn figures(c: &mut Criterion) {
    let cases: usize = std::env::var("HARBOUR_BENCH_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(100_000);
    let root = tempfile::tempdir().unwrap();
    let mut workspace = populated(&root.path().join("stats"), cases);
    let today = Utc::now().date_naive();
    let all = StatsQuery::new(today);
    let filtered = StatsQuery {
        from: NaiveDate::from_ymd_opt(2022, 6, 1),
        to: NaiveDate::from_ymd_opt(2023, 5, 31),
        team: Some("Embassy".into()),
        ..StatsQuery::new(today)
    };
    let dir = root.path().join("stats");
    // Each change goes to the next case: changing one case thousands of times would time a
    // projection that grows with every change (its history), not the write path (the first
    // measurements of "before/after the figures" were 5.7 vs 9.1 ms mostly for that reason).
    let every: Vec<_> =
        workspace.list_cases(&harbour_core::CaseQuery::default()).unwrap().into_iter().map(|case| case.id).collect();
    // A case with referrals, found before the changes reorder the list.
    let referred = every.iter().copied().find(|id| !workspace.view_case(*id).unwrap().referrals.is_empty()).unwrap();
    let mut changes = 0usize;
    let mut change = move |workspace: &mut harbour_core::Workspace| {
        changes += 1;
        let level = if changes.is_multiple_of(2) { RiskLevel::High } else { RiskLevel::Medium };
        let changed = every[changes % every.len()];
        workspace.update_case(changed, vec![FieldValue::RiskLevel(Some(level))], None).unwrap();
    };
    let mut group = c.benchmark_group(format!("stats_{cases}_cases"));
    group.sample_size(20).measurement_time(Duration::from_secs(20));
    drop(workspace);
    // One connection for the change before and after the first figures: before, the write
    // path is as it was, without the temporary triggers.
    let mut workspace = Workspace::unlock(&dir, PASSPHRASE).unwrap();
    group.bench_function("a_change_before_any_figure", |b| b.iter(|| change(&mut workspace)));
    group.bench_function("statistics_first_after_unlock", |b| {
        b.iter_batched(
            || Workspace::unlock(&dir, PASSPHRASE).unwrap(),
            |mut fresh| {
                fresh.statistics(&all).unwrap();
                fresh
            },
            BatchSize::PerIteration,
        )
    });
    workspace.statistics(&all).unwrap();
    group.bench_function("a_change_after_figures", |b| b.iter(|| change(&mut workspace)));
    group.bench_function("statistics_all", |b| b.iter(|| workspace.statistics(&all).unwrap()));
    group.bench_function("statistics_after_a_change", |b| {
        // Only the figures are timed, not the change before each.
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                change(&mut workspace);
                let start = Instant::now();
                std::hint::black_box(workspace.statistics(&all).unwrap());
                spent += start.elapsed();
            }
            spent
        })
    });
    group.bench_function("statistics_period_and_team", |b| b.iter(|| workspace.statistics(&filtered).unwrap()));
    let stats = workspace.statistics(&all).unwrap();
    group.bench_function("drill_down_by_status_active", |b| {
        b.iter(|| workspace.drill_down(&stats, "by_status.active").unwrap())
    });
    group.bench_function("annual_report_calendar", |b| {
        b.iter(|| workspace.annual_report(ReportPeriod::Calendar, 2022, ReportUse::Shown).unwrap())
    });
    let ctdc = root.path().join("ctdc.csv");
    group.bench_function("export_ctdc_k11", |b| {
        b.iter(|| {
            // An export never replaces a file: the last one is removed first (a few µs).
            let _ = std::fs::remove_file(&ctdc);
            workspace.export_ctdc(&ctdc, harbour_core::anon::DEFAULT_K).unwrap()
        })
    });
    let referral = workspace.view_case(referred).unwrap().referrals[0].referral.id;
    group.bench_function("referral_letter_pdf", |b| {
        b.iter(|| workspace.referral_letter(referred, referral, harbour_core::forms::Lang::Fr).unwrap())
    });
    group.finish();
}

criterion_group!(benches, figures);
criterion_main!(benches);
