//! The task force's figures and annual tables, on a generated population with known answers.
//!
//! The test draws a few thousand cases (fields through one import transaction on the
//! ministry's laptop of a deployment, a few on a clinic nurse's laptop), remembers what it drew,
//! and computes every expected figure, drill-down list and table cell from that record, not from
//! Harbour's code. Entries for a subset go through the ordinary commands on chosen days after
//! today (the ministry's clock set to each day, as on a laptop whose clock runs ahead): referrals sent, accepted, declined or completed days apart, screenings, and services
//! received with their own dates. The nurse and the ministry edit some of the nurse's cases at
//! the same time, so those need review. The population holds invented coded values only: no
//! name in it is personal data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, Utc};
use harbour_core::model::{
    AgeEstimate, CaseFields, CaseStatus, ConsentMethod, ConsentScope, Country, ExploitationType, FieldValue,
    IdentificationStatus, JusticeStage, LabourSector, PerpetratorRole, ReferralReason, ReferralStatus, RiskLevel,
    Screening, ServiceType, Sex, Urgency,
};
use harbour_core::stats::annual::{AnnualReport, ReportPeriod, ReportUse};
use harbour_core::stats::suppress::{self, DEFAULT_THRESHOLD, Shown, Table};
use harbour_core::stats::{Statistics, StatsQuery};
use harbour_core::{CaseId, ConsentInput, EntryId, JusticeInput, PerpetratorInput, ReferralInput, Workspace};

use crate::stats_kept::{join, relay};
use crate::support::{PASSPHRASE, day, fast, new_workspace};

/// Cases made on the ministry's laptop, and on the nurse's.
const CASES: usize = 3_000;
const NURSE_CASES: usize = 60;
/// Every this-many cases also gets referrals, screenings and justice steps.
const WITH_ENTRIES: usize = 20;
/// Every this-many cases received services.
const WITH_SERVICES: usize = 7;
/// Entries are recorded on the days from tomorrow to this many days after today.
const ENTRY_DAYS: usize = 40;

const TEAMS: &[Option<&str>] = &[Some("Clinic North"), Some("Embassy Caracas"), Some("Ministry"), None];
const NATIONS: &[&str] = &["LC", "GY", "VE", "DO", "JM"];
const KINDS: &[ExploitationType] = &[
    ExploitationType::ForcedLabour,
    ExploitationType::SexualExploitation,
    ExploitationType::ForcedMarriage,
    ExploitationType::Other,
];
const SECTORS: &[LabourSector] = &[LabourSector::Agriculture, LabourSector::Construction, LabourSector::DomesticWork];
const LEVELS: &[&str] = &["low", "follow_up", "high"];
const SERVICES: &[ServiceType] =
    &[ServiceType::Shelter, ServiceType::Medical, ServiceType::LegalAid, ServiceType::ReturnAssistance];

/// A small deterministic generator (SplitMix64): the population is the same on every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
    fn day_in(&mut self, first: &str, days: i64) -> NaiveDate {
        day(first) + Duration::days(self.below(days as usize) as i64)
    }
}

/// What the test drew for one referral: the day it was sent and, when accepted, the day.
#[derive(Clone, Debug)]
struct DrawnReferral {
    id: EntryId,
    service_type: ServiceType,
    status: ReferralStatus,
    sent_on: NaiveDate,
    accepted_on: Option<NaiveDate>,
}

/// A justice step as drawn: its stage, day, and perpetrator (by position in the case's list).
#[derive(Clone, Debug)]
struct DrawnStep {
    stage: JusticeStage,
    on: NaiveDate,
    perpetrator: Option<usize>,
}

/// A service received as drawn.
#[derive(Clone, Debug)]
struct DrawnService {
    service_type: ServiceType,
    from: NaiveDate,
    until: Option<NaiveDate>,
}

/// Everything the test drew for one case.
#[derive(Clone, Debug)]
struct Drawn {
    id: CaseId,
    team: Option<&'static str>,
    status: CaseStatus,
    identification: Option<IdentificationStatus>,
    identified_on: Option<NaiveDate>,
    sex: Option<Sex>,
    age: Option<u32>,
    nationality: Option<&'static str>,
    kinds: Vec<ExploitationType>,
    sectors: Vec<LabourSector>,
    intake: NaiveDate,
    referrals: Vec<DrawnReferral>,
    screenings: Vec<(EntryId, &'static str, NaiveDate)>,
    perpetrator_sexes: Vec<Option<Sex>>,
    steps: Vec<DrawnStep>,
    services: Vec<DrawnService>,
    /// Two laptops edited the case at the same time.
    needs_review: bool,
    /// The day of the case's last change.
    changed_on: NaiveDate,
}

pub(crate) struct Population {
    _dir: tempfile::TempDir,
    pub workspace: Workspace,
    cases: Vec<Drawn>,
    today: NaiveDate,
}

/// One thing done on a case on a chosen day, in the order drawn.
enum Action {
    Consent,
    Refer(usize),
    Status(usize, ReferralStatus),
    Screen(usize),
    Perpetrator(usize),
    Step(usize),
    Service(usize),
}

pub(crate) fn populate() -> Population {
    let dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::create(&dir.path().join("ministry"), PASSPHRASE, &fast()).unwrap();
    let plan = workspace.plan_deployment("https://harbour.example.org", "Ministry").unwrap();
    workspace.complete_deployment(plan, "admin-token").unwrap();
    let (clinic, _) = workspace.create_team("Clinic North").unwrap();
    let mut nurse = join(&workspace, &clinic, &dir.path().join("nurse"), "Nurse");
    let today = Utc::now().date_naive();
    let mut draw = Draw(12);
    let mut drawn = Vec::with_capacity(CASES + NURSE_CASES);
    let mut all_fields = Vec::with_capacity(CASES + NURSE_CASES);
    for index in 0..CASES + NURSE_CASES {
        let mut fields = CaseFields::named(&format!("Generated person {index}")).unwrap();
        let intake = draw.day_in("2023-01-01", 730);
        let team = draw.pick(TEAMS);
        let status = draw.pick(CaseStatus::ALL);
        let identification = [None, Some(IdentificationStatus::Possible)]
            .into_iter()
            .chain(IdentificationStatus::ALL.iter().copied().map(Some))
            .nth(draw.below(5))
            .unwrap();
        // Most identified people have an identification date; a few only the day it was recorded.
        let identified_on = match identification {
            None => None,
            Some(_) if index % 7 == 0 => Some(today),
            Some(_) => Some(draw.day_in("2022-10-01", 900).min(today)),
        };
        let sex = [None].into_iter().chain(Sex::ALL.iter().copied().map(Some)).nth(draw.below(5)).unwrap();
        let age = match draw.below(3) {
            0 => None,
            1 => {
                let years = draw.below(70) as u32;
                fields.birth_date = Some(intake - Duration::days(i64::from(years) * 366 + 10));
                Some(years)
            }
            _ => {
                let years = draw.below(70) as u8;
                fields.estimated_age = Some(AgeEstimate { years, as_of: intake });
                Some(u32::from(years))
            }
        };
        let nationality = (draw.below(6) > 0).then(|| draw.pick(NATIONS));
        if let Some(code) = nationality {
            fields.nationalities.push(Country::parse(code).unwrap());
            if draw.below(4) == 0 {
                fields.nationalities.push(Country::parse("TT").unwrap());
            }
        }
        let mut kinds = Vec::new();
        for _ in 0..draw.below(3) {
            let kind = draw.pick(KINDS);
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        let mut sectors = Vec::new();
        for _ in 0..draw.below(3) {
            let sector = draw.pick(SECTORS);
            if !sectors.contains(&sector) {
                sectors.push(sector);
            }
        }
        fields.assigned_team = team.map(str::to_owned);
        fields.status = status;
        fields.identification_status = identification;
        fields.identification_date = identified_on.filter(|_| index % 7 != 0);
        fields.sex = sex;
        fields.exploitation_types = kinds.clone();
        fields.labour_sectors = sectors.clone();
        fields.intake_date = Some(intake);
        all_fields.push(fields);
        drawn.push(Drawn {
            id: CaseId::new(),
            team,
            status,
            identification,
            identified_on,
            sex,
            age,
            nationality,
            kinds,
            sectors,
            intake,
            referrals: Vec::new(),
            screenings: Vec::new(),
            perpetrator_sexes: Vec::new(),
            steps: Vec::new(),
            services: Vec::new(),
            needs_review: false,
            changed_on: today,
        });
    }
    let nurse_fields = all_fields.split_off(CASES);
    let states = workspace.create_cases(all_fields).unwrap();
    let nurse_states = nurse.create_cases(nurse_fields).unwrap();
    for (case, state) in drawn.iter_mut().zip(states.iter().chain(&nurse_states)) {
        case.id = state.id;
    }
    // The nurse's cases reach the ministry; then both change the risk level of every third one
    // without seeing the other's change, and the nurse's change arrives.
    relay(&mut nurse, &mut workspace);
    for (at, case) in drawn[CASES..].iter_mut().enumerate().filter(|(at, _)| at % 3 == 0) {
        workspace.update_case(case.id, vec![FieldValue::RiskLevel(Some(RiskLevel::ALL[0]))], None).unwrap();
        nurse.update_case(case.id, vec![FieldValue::RiskLevel(Some(RiskLevel::ALL[1 + at % 2]))], None).unwrap();
        case.needs_review = true;
    }
    relay(&mut nurse, &mut workspace);

    // What each case gets, on which day (days after today, so that the ministry's clock only
    // moves forward): drawn first, done afterwards in the order of the days.
    let mut plan: Vec<(NaiveDate, usize, usize, Action)> = Vec::new();
    let mut step = 0;
    let mut at = |plan: &mut Vec<(NaiveDate, usize, usize, Action)>, on: NaiveDate, case: usize, action: Action| {
        step += 1;
        plan.push((on, case, step, action));
    };
    for (index, case) in drawn.iter_mut().enumerate() {
        if index % WITH_SERVICES == 0 {
            for service in 0..1 + draw.below(2) {
                let from = draw.day_in("2023-01-01", 800).min(today);
                let until = match draw.below(3) {
                    0 => None,
                    _ => Some((from + Duration::days(draw.below(90) as i64)).min(today)),
                };
                case.services.push(DrawnService { service_type: draw.pick(SERVICES), from, until });
                at(&mut plan, today + Duration::days(1), index, Action::Service(service));
            }
        }
        if index % WITH_ENTRIES != 0 {
            continue;
        }
        let first = today + Duration::days(1 + draw.below(ENTRY_DAYS / 2) as i64);
        at(&mut plan, first, index, Action::Consent);
        for n in 0..draw.below(3) {
            let service_type = draw.pick(&[ServiceType::Shelter, ServiceType::Medical, ServiceType::LegalAid]);
            let status = draw.pick(&[
                ReferralStatus::Sent,
                ReferralStatus::Accepted,
                ReferralStatus::Declined,
                ReferralStatus::Completed,
            ]);
            let sent_on = first + Duration::days(draw.below(5) as i64);
            at(&mut plan, sent_on, index, Action::Refer(n));
            let answered_on = sent_on + Duration::days(1 + draw.below(9) as i64);
            let accepted_on = match status {
                ReferralStatus::Sent => None,
                ReferralStatus::Declined => {
                    at(&mut plan, answered_on, index, Action::Status(n, ReferralStatus::Declined));
                    None
                }
                ReferralStatus::Accepted | ReferralStatus::Completed => {
                    at(&mut plan, answered_on, index, Action::Status(n, ReferralStatus::Accepted));
                    if status == ReferralStatus::Completed {
                        let done = answered_on + Duration::days(draw.below(3) as i64);
                        at(&mut plan, done, index, Action::Status(n, ReferralStatus::Completed));
                    }
                    Some(answered_on)
                }
            };
            case.referrals.push(DrawnReferral { id: EntryId::new(), service_type, status, sent_on, accepted_on });
        }
        if draw.below(2) == 0 {
            let on = first + Duration::days(draw.below(ENTRY_DAYS / 2) as i64);
            case.screenings.push((EntryId::new(), draw.pick(LEVELS), on));
            at(&mut plan, on, index, Action::Screen(0));
        }
        // Justice: one or two perpetrators, and steps some of which name one.
        for perpetrator in 0..1 + draw.below(2) {
            case.perpetrator_sexes.push(draw.pick(&[Some(Sex::Male), Some(Sex::Female), None]));
            at(&mut plan, first, index, Action::Perpetrator(perpetrator));
        }
        for step in 0..draw.below(5) {
            let stage = draw.pick(&[
                JusticeStage::Reported,
                JusticeStage::Investigation,
                JusticeStage::Charged,
                JusticeStage::Prosecution,
                JusticeStage::Convicted,
                JusticeStage::Acquitted,
            ]);
            let on = draw.day_in("2022-12-01", 700).min(today);
            let perpetrator = (draw.below(3) > 0).then(|| draw.below(case.perpetrator_sexes.len()));
            case.steps.push(DrawnStep { stage, on, perpetrator });
            at(&mut plan, first, index, Action::Step(step));
        }
    }
    // Done in the order of the days (and as drawn within a day), the clock moved to noon of each.
    plan.sort_by_key(|(on, case, step, _)| (*on, *case, *step));
    let mut consents = BTreeMap::new();
    let mut referral_ids: BTreeMap<(usize, usize), EntryId> = BTreeMap::new();
    let mut perpetrator_ids: BTreeMap<(usize, usize), EntryId> = BTreeMap::new();
    for (on, index, _, action) in plan {
        workspace.set_clock_for_tests(Some(on.and_hms_opt(12, 0, 0).unwrap().and_utc()));
        let case = &mut drawn[index];
        case.changed_on = case.changed_on.max(on);
        match action {
            Action::Consent => {
                let consent = ConsentInput {
                    scope: vec![ConsentScope::CaseSummary],
                    shared_with: "any service in the referral".into(),
                    given_on: today,
                    method: ConsentMethod::Verbal,
                    note: None,
                };
                consents.insert(index, workspace.add_consent(case.id, consent).unwrap().0);
            }
            Action::Refer(n) => {
                let input = ReferralInput {
                    // One service per referral: a second open referral to one service is refused.
                    service: format!("Generated service {n}"),
                    service_type: case.referrals[n].service_type,
                    reason: ReferralReason::AdditionalServicesRequired,
                    details: None,
                    urgency: Urgency::Routine,
                    consent_id: consents[&index],
                    team: None,
                };
                let (id, _) = workspace.add_referral(case.id, input).unwrap();
                case.referrals[n].id = id;
                referral_ids.insert((index, n), id);
            }
            Action::Status(n, status) => {
                workspace.set_referral_status(case.id, referral_ids[&(index, n)], status, None).unwrap();
            }
            Action::Screen(n) => {
                let (id, level, _) = case.screenings[n];
                let screening = Screening {
                    id,
                    form_id: "generated".into(),
                    form_version: 1,
                    language: "en".into(),
                    answers: BTreeMap::new(),
                    result: serde_json::json!({ "level": level }),
                };
                workspace.add_screening(case.id, screening).unwrap();
            }
            Action::Perpetrator(n) => {
                let input = PerpetratorInput {
                    roles: vec![PerpetratorRole::Recruiter],
                    sex: case.perpetrator_sexes[n],
                    nationality: None,
                    relationship: None,
                };
                perpetrator_ids.insert((index, n), workspace.add_perpetrator(case.id, input).unwrap().0);
            }
            Action::Step(n) => {
                let step = &case.steps[n];
                let input = JusticeInput {
                    stage: step.stage,
                    date: Some(step.on),
                    perpetrator: step.perpetrator.map(|at| perpetrator_ids[&(index, at)]),
                    sentence_months: (step.stage == JusticeStage::Convicted).then_some(36),
                };
                workspace.add_justice_step(case.id, input).unwrap();
            }
            Action::Service(n) => {
                let service = &case.services[n];
                workspace.add_service_received(case.id, service.service_type, service.from, service.until).unwrap();
            }
        }
    }
    Population { _dir: dir, workspace, cases: drawn, today }
}

fn band(age: Option<u32>) -> &'static str {
    match age {
        None => "unknown",
        Some(0..=8) => "0-8",
        Some(9..=17) => "9-17",
        Some(18..=20) => "18-20",
        Some(21..=23) => "21-23",
        Some(24..=26) => "24-26",
        Some(27..=29) => "27-29",
        Some(30..=38) => "30-38",
        Some(39..=47) => "39-47",
        Some(_) => "48+",
    }
}

fn form(kinds: &[ExploitationType]) -> &'static str {
    match kinds {
        [] => "not_recorded",
        [one] => one.as_str(),
        [a, b]
            if BTreeSet::from([*a, *b])
                == BTreeSet::from([ExploitationType::ForcedLabour, ExploitationType::SexualExploitation]) =>
        {
            "sex_and_labour"
        }
        _ => "multiple",
    }
}

fn sector(sectors: &[LabourSector]) -> &'static str {
    match sectors {
        [] => "none",
        [one] => one.as_str(),
        _ => "multiple",
    }
}

/// Every figure's expected list of cases, from what was drawn.
fn expected(cases: &[Drawn], query: &StatsQuery) -> BTreeMap<String, Vec<CaseId>> {
    let mut out: BTreeMap<String, Vec<CaseId>> = BTreeMap::new();
    let mut add = |key: String, id: CaseId| out.entry(key).or_default().push(id);
    let within = |d: NaiveDate| query.from.is_none_or(|f| d >= f) && query.to.is_none_or(|t| d <= t);
    let end = query.to.unwrap_or(query.today);
    let months: Vec<String> = (0..12)
        .map(|back| (end.with_day(1).unwrap() - chrono::Months::new(back)).format("%Y-%m").to_string())
        .collect();
    for case in cases {
        if query.team.as_deref().is_some_and(|team| case.team != Some(team)) {
            continue;
        }
        let month = case.intake.format("%Y-%m").to_string();
        if months.contains(&month) {
            add(format!("new_per_month.{month}"), case.id);
        }
        // Referrals and screenings count on the day they were recorded (at noon).
        let unanswered_ms = i64::from(query.unanswered_days) * 86_400_000;
        for referral in case.referrals.iter().filter(|referral| within(referral.sent_on)) {
            add(format!("referrals_by_type.{}", referral.service_type.as_str()), case.id);
            add(format!("referrals_by_outcome.{}", referral.status.as_str()), case.id);
            let waited_ms = (query.today + Duration::days(1) - referral.sent_on).num_milliseconds() - 43_200_000;
            if referral.status == ReferralStatus::Sent && waited_ms > unanswered_ms {
                add("unanswered_referrals".into(), case.id);
            }
        }
        for (_, level, _) in case.screenings.iter().filter(|(_, _, on)| within(*on)) {
            add(format!("screenings_by_result.{level}"), case.id);
        }
        // A person assisted in the period: a service begun by its end and ended (else begun)
        // on or after its start; once, and once under each type.
        let received: BTreeSet<&str> = case
            .services
            .iter()
            .filter(|service| {
                query.to.is_none_or(|to| service.from <= to)
                    && query.from.is_none_or(|from| service.until.unwrap_or(service.from).max(service.from) >= from)
            })
            .map(|service| service.service_type.as_str())
            .collect();
        if !received.is_empty() {
            add("assisted".into(), case.id);
        }
        for service_type in received {
            add(format!("assisted_by_service.{service_type}"), case.id);
        }
        if !within(case.intake) {
            continue;
        }
        add("total".into(), case.id);
        add(format!("by_status.{}", case.status.as_str()), case.id);
        add(format!("by_identification.{}", case.identification.map_or("not_recorded", |v| v.as_str())), case.id);
        add(format!("by_sex.{}", case.sex.map_or("not_recorded", |v| v.as_str())), case.id);
        add(format!("by_age_band.{}", band(case.age)), case.id);
        add(format!("by_nationality.{}", case.nationality.unwrap_or("not_recorded")), case.id);
        add(format!("by_exploitation.{}", form(&case.kinds)), case.id);
        add(format!("by_labour_sector.{}", sector(&case.sectors)), case.id);
        add(format!("by_team.{}", case.team.unwrap_or("no_team")), case.id);
        if case.needs_review {
            add("needs_review".into(), case.id);
        }
        let open = !matches!(case.status, CaseStatus::Closed | CaseStatus::ClosedReferred);
        if open && query.today - Duration::days(i64::from(query.inactive_days)) > case.changed_on {
            add("inactive".into(), case.id);
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// Every non-zero figure with its drill-down, as case lists; checks each list's length is its figure.
fn actual(workspace: &Workspace, stats: &Statistics) -> BTreeMap<String, Vec<CaseId>> {
    let mut out = BTreeMap::new();
    for key in stats.figures.keys() {
        let rows = workspace.drill_down(stats, key).unwrap();
        assert_eq!(rows.len(), stats.figures.count(key).unwrap(), "{key}: the list has as many lines as the figure");
        if !rows.is_empty() {
            let mut ids: Vec<CaseId> = rows.iter().map(|row| row.case_id).collect();
            ids.sort();
            out.insert(key.to_owned(), ids);
        }
    }
    out
}

#[track_caller]
fn check_figures(population: &mut Population, query: &StatsQuery) -> Statistics {
    let stats = population.workspace.statistics(query).unwrap();
    let want = expected(&population.cases, query);
    let got = actual(&population.workspace, &stats);
    let differing: Vec<String> = want
        .keys()
        .chain(got.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|key| want.get(*key) != got.get(*key))
        .map(|key| {
            format!("{key}: expected {}, got {}", want.get(key).map_or(0, Vec::len), got.get(key).map_or(0, Vec::len))
        })
        .collect();
    assert!(differing.is_empty(), "figures differ: {differing:?}");
    // Totals equal the sum of their parts.
    let total = stats.figures.count("total").unwrap();
    for group in [
        "by_status",
        "by_identification",
        "by_sex",
        "by_age_band",
        "by_nationality",
        "by_exploitation",
        "by_labour_sector",
        "by_team",
    ] {
        let sum: usize = stats
            .figures
            .group(group)
            .unwrap()
            .iter()
            .map(|v| stats.figures.count(&format!("{group}.{v}")).unwrap())
            .sum();
        assert_eq!(sum, total, "{group} adds up to the total");
    }
    let referrals = |group: &str| -> usize {
        stats.figures.group(group).unwrap().iter().map(|v| stats.figures.count(&format!("{group}.{v}")).unwrap()).sum()
    };
    assert_eq!(referrals("referrals_by_type"), referrals("referrals_by_outcome"));
    // Each person assisted once, under each type received at least once.
    let assisted = stats.figures.count("assisted").unwrap();
    for value in stats.figures.group("assisted_by_service").unwrap() {
        assert!(stats.figures.count(&format!("assisted_by_service.{value}")).unwrap() <= assisted);
    }
    assert!(referrals("assisted_by_service") >= assisted);
    assert_eq!(
        stats.figures.referral_median_days_to_accept,
        expected_median(&population.cases, query),
        "the median days from sent to accepted"
    );
    stats
}

/// The median of the days from sent to accepted of the referrals a query counts, from what
/// was drawn (sent and accepted at noon of their days: whole days).
fn expected_median(cases: &[Drawn], query: &StatsQuery) -> Option<f64> {
    let within = |d: NaiveDate| query.from.is_none_or(|f| d >= f) && query.to.is_none_or(|t| d <= t);
    let mut days: Vec<i64> = cases
        .iter()
        .filter(|case| query.team.as_deref().is_none_or(|team| case.team == Some(team)))
        .flat_map(|case| &case.referrals)
        .filter(|referral| within(referral.sent_on))
        .filter_map(|referral| referral.accepted_on.map(|accepted| (accepted - referral.sent_on).num_days()))
        .collect();
    days.sort();
    match days.len() {
        0 => None,
        n if n % 2 == 1 => Some(days[n / 2] as f64),
        n => Some((days[n / 2 - 1] + days[n / 2]) as f64 / 2.0),
    }
}

#[test]
fn every_figure_and_its_cases_match_what_was_drawn() {
    let mut population = populate();
    let today = population.today;
    let all = StatsQuery::new(today);
    let stats = check_figures(&mut population, &all);
    assert_eq!(stats.figures.count("total"), Some(CASES + NURSE_CASES));
    // Known answers that are not zero: cases two laptops changed at once, people assisted.
    assert_eq!(stats.figures.count("needs_review"), Some(NURSE_CASES / 3));
    assert!(stats.figures.count("assisted").unwrap() > 100);
    assert!(stats.figures.count("assisted_by_service.return_assistance").unwrap() > 0);
    let json = stats.figures.to_json();
    assert!(json["by_status"]["active"].as_u64().unwrap() > 0, "JSON keeps the case fields' value names");
    assert!(json["by_sex"]["female"].is_u64());
    let accepted = population
        .cases
        .iter()
        .flat_map(|c| &c.referrals)
        .filter(|r| matches!(r.status, ReferralStatus::Accepted | ReferralStatus::Completed));
    assert!(accepted.count() > 0);
    // Referral figures list the referrals themselves.
    let sent: BTreeSet<EntryId> = population
        .cases
        .iter()
        .flat_map(|case| &case.referrals)
        .filter(|referral| referral.status == ReferralStatus::Sent)
        .map(|referral| referral.id)
        .collect();
    let listed: BTreeSet<EntryId> = population
        .workspace
        .drill_down(&stats, "referrals_by_outcome.sent")
        .unwrap()
        .into_iter()
        .map(|row| row.entry.expect("a referral figure lists referrals"))
        .collect();
    assert_eq!(listed, sent);
    let median = stats.figures.referral_median_days_to_accept.expect("some referrals were accepted");
    assert!(median >= 1.0 && median.fract() % 0.5 == 0.0, "whole days apart, as drawn: {median}");

    // Later "today": open cases become inactive, sent referrals unanswered.
    let later = StatsQuery { today: today + Duration::days(40), ..StatsQuery::new(today) };
    let stats = check_figures(&mut population, &later);
    assert!(stats.figures.count("inactive").unwrap() > 0);
    assert!(stats.figures.count("unanswered_referrals").unwrap() > 0);

    // Periods and teams change exactly the cases expected.
    let first_half =
        StatsQuery { from: Some(day("2023-01-01")), to: Some(day("2023-06-30")), ..StatsQuery::new(today) };
    let first = check_figures(&mut population, &first_half);
    let wider = StatsQuery { to: Some(day("2023-09-30")), ..first_half.clone() };
    let second = check_figures(&mut population, &wider);
    let ids = |stats: &Statistics| -> BTreeSet<CaseId> {
        population.workspace.drill_down(stats, "total").unwrap().into_iter().map(|row| row.case_id).collect()
    };
    let added: BTreeSet<CaseId> = ids(&second).difference(&ids(&first)).copied().collect();
    let drawn_in_quarter: BTreeSet<CaseId> = population
        .cases
        .iter()
        .filter(|case| case.intake >= day("2023-07-01") && case.intake <= day("2023-09-30"))
        .map(|case| case.id)
        .collect();
    assert_eq!(added, drawn_in_quarter, "widening the period adds exactly the cases of the added months");
    for team in ["Clinic North", "Ministry"] {
        let query = StatsQuery { team: Some(team.into()), ..wider.clone() };
        let stats = check_figures(&mut population, &query);
        let by_team = stats.figures.group("by_team").unwrap();
        assert_eq!(by_team, [team.to_owned()], "only the team's cases");
        assert!(stats.figures.count("assisted").unwrap() > 0, "people assisted in 2023 by {team}");
    }

    // A team and a period holding some of the referrals and screenings, not all: the figures
    // over the entries recorded in it, none registered in it.
    let window = StatsQuery {
        from: Some(today + Duration::days(8)),
        to: Some(today + Duration::days(20)),
        team: Some("Clinic North".into()),
        ..StatsQuery::new(today + Duration::days(30))
    };
    let stats = check_figures(&mut population, &window);
    let in_window = |on: NaiveDate| on >= today + Duration::days(8) && on <= today + Duration::days(20);
    let north: Vec<&Drawn> = population.cases.iter().filter(|case| case.team == Some("Clinic North")).collect();
    let referrals_inside = north.iter().flat_map(|case| &case.referrals).filter(|r| in_window(r.sent_on)).count();
    let screenings_inside = north.iter().flat_map(|case| &case.screenings).filter(|s| in_window(s.2)).count();
    let count_of = |group: &str| -> usize {
        let values = stats.figures.group(group).unwrap();
        values.iter().map(|v| stats.figures.count(&format!("{group}.{v}")).unwrap()).sum()
    };
    assert_eq!(count_of("referrals_by_type"), referrals_inside);
    assert_eq!(count_of("screenings_by_result"), screenings_inside);
    assert!(referrals_inside > 0 && screenings_inside > 0, "some entries fall inside the window");
    assert!(
        north.iter().flat_map(|case| &case.referrals).count() > referrals_inside,
        "and some outside, for the period to matter"
    );
    assert!(stats.figures.referral_median_days_to_accept.is_some_and(|days| days >= 1.0));
    assert_eq!(stats.figures.count("total"), Some(0));
}

#[test]
fn figures_are_one_audit_entry_and_never_a_view_per_case() {
    let (_fixture, mut workspace) = new_workspace();
    for index in 0..5 {
        workspace.create_case(CaseFields::named(&format!("Audit person {index}")).unwrap()).unwrap();
    }
    let before = workspace.audit_log(1000).unwrap().len();
    let stats = workspace.statistics(&StatsQuery::new(Utc::now().date_naive())).unwrap();
    workspace.drill_down(&stats, "by_status.active").unwrap();
    let log = workspace.audit_log(1000).unwrap();
    assert_eq!(log.len(), before + 1);
    let newest = serde_json::to_value(&log[0]).unwrap();
    assert_eq!(newest["action"], "stats.view");
    assert!(workspace.drill_down(&stats, "by_colour.red").unwrap_err().to_string().starts_with("figure:"));
}

/// Expected annual tables, cell by cell, from what was drawn: the case of each victim or person
/// a cell counts (its number is their count).
fn expected_cells(
    cases: &[Drawn],
    period: ReportPeriod,
    year: i32,
) -> BTreeMap<String, BTreeMap<(String, String), Vec<CaseId>>> {
    let (from, to) = period.days(year).unwrap();
    let within = |d: NaiveDate| d >= from && d <= to;
    let sex = |s: Option<Sex>| s.unwrap_or(Sex::Unknown).as_str().to_owned();
    let report_form = |kinds: &[ExploitationType]| match form(kinds) {
        f @ ("sexual_exploitation" | "forced_labour" | "sex_and_labour" | "not_recorded") => f.to_owned(),
        _ => "other".to_owned(),
    };
    let mut out: BTreeMap<String, BTreeMap<(String, String), Vec<CaseId>>> = BTreeMap::new();
    for case in cases {
        let mut add = |table: &str, row: String, column: String| {
            out.entry(table.into()).or_default().entry((row, column)).or_default().push(case.id);
        };
        let victim =
            matches!(case.identification, Some(IdentificationStatus::Presumed | IdentificationStatus::Identified))
                && case.identified_on.is_some_and(within);
        // Persons per step kind: (case, perpetrator) once.
        let persons = |stages: &[JusticeStage]| -> Vec<Option<Sex>> {
            let mut seen = BTreeSet::new();
            case.steps
                .iter()
                .filter(|step| stages.contains(&step.stage) && within(step.on) && seen.insert(step.perpetrator))
                .map(|step| step.perpetrator.and_then(|at| case.perpetrator_sexes[at]))
                .collect()
        };
        let investigated = persons(&[JusticeStage::Investigation]);
        let prosecuted = persons(&[JusticeStage::Charged, JusticeStage::Prosecution]);
        let convicted = persons(&[JusticeStage::Convicted]);
        match period {
            ReportPeriod::Tip => {
                if victim {
                    add("tip.victims_identified", report_form(&case.kinds), sex(case.sex));
                    if !case.referrals.is_empty() {
                        add("tip.victims_referred", report_form(&case.kinds), sex(case.sex));
                    }
                    if case.services.iter().any(|service| service.from <= to) {
                        add("tip.victims_assisted", report_form(&case.kinds), sex(case.sex));
                    }
                }
                for (column, people) in
                    [("investigated", &investigated), ("prosecuted", &prosecuted), ("convicted", &convicted)]
                {
                    for _ in people.iter() {
                        add("tip.law_enforcement", report_form(&case.kinds), column.into());
                    }
                }
            }
            ReportPeriod::Calendar => {
                if victim {
                    let age = match case.age {
                        None => "age_unknown",
                        Some(0..=17) => "child",
                        Some(_) => "adult",
                    };
                    add("unodc.victims_by_sex_and_age", sex(case.sex), age.into());
                    add("unodc.victims_by_form", report_form(&case.kinds), sex(case.sex));
                    add(
                        "unodc.victims_by_citizenship",
                        case.nationality.unwrap_or("not_recorded").into(),
                        sex(case.sex),
                    );
                }
                for (column, people) in [("prosecuted", &prosecuted), ("convicted", &convicted)] {
                    for person in people {
                        add("unodc.persons_prosecuted_convicted", sex(*person), column.into());
                    }
                }
            }
        }
    }
    out
}

/// Whether a hidden entry of the grid can be worked out exactly from the shown entries and the
/// row and column sums: true when its unit vector lies in the row space of the constraints on
/// the hidden entries (Gaussian elimination; the tables are small).
fn determinable(grid: &[Vec<u64>], shown: &[Vec<Shown>]) -> Vec<(usize, usize)> {
    let rows = grid.len();
    let columns = grid[0].len();
    let hidden: Vec<(usize, usize)> = (0..rows)
        .flat_map(|r| (0..columns).map(move |c| (r, c)))
        .filter(|&(r, c)| matches!(shown[r][c], Shown::Hidden(_)))
        .collect();
    let position = |cell: (usize, usize)| hidden.iter().position(|&h| h == cell);
    // One equation per grid row and column: inner entries minus the total entry = 0.
    let mut equations: Vec<Vec<f64>> = Vec::new();
    for r in 0..rows {
        let mut eq = vec![0.0; hidden.len()];
        for c in 0..columns {
            if let Some(at) = position((r, c)) {
                eq[at] = if c + 1 == columns { -1.0 } else { 1.0 };
            }
        }
        equations.push(eq);
    }
    for c in 0..columns {
        let mut eq = vec![0.0; hidden.len()];
        for r in 0..rows {
            if let Some(at) = position((r, c)) {
                eq[at] = if r + 1 == rows { -1.0 } else { 1.0 };
            }
        }
        equations.push(eq);
    }
    let rank = crate::suppress_linked::rank;
    let base = rank(&equations);
    hidden
        .iter()
        .enumerate()
        .filter(|(at, _)| {
            let mut with = equations.clone();
            let mut unit = vec![0.0; hidden.len()];
            unit[*at] = 1.0;
            with.push(unit);
            rank(&with) == base
        })
        .map(|(_, cell)| *cell)
        .collect()
}

#[track_caller]
fn check_suppressed(table: &Table, threshold: u64) {
    let grid = table.grid();
    let shown = suppress::suppress(table, threshold);
    for (r, line) in grid.iter().enumerate() {
        for (c, &count) in line.iter().enumerate() {
            match shown[r][c] {
                Shown::Count(value) => {
                    assert_eq!(value, count, "{} shows true counts", table.id);
                    assert!(value == 0 || value >= threshold, "{}: a small count is shown", table.id);
                }
                Shown::Hidden(limit) => assert_eq!(limit, threshold),
            }
        }
    }
    assert_eq!(
        determinable(&grid, &shown),
        Vec::<(usize, usize)>::new(),
        "{}: hidden cells can be worked out",
        table.id
    );
}

#[test]
fn annual_tables_match_what_was_drawn_and_suppression_holds() {
    let mut population = populate();
    for (period, year) in [(ReportPeriod::Tip, 2024), (ReportPeriod::Calendar, 2023), (ReportPeriod::Calendar, 2024)] {
        let report = population.workspace.annual_report(period, year, ReportUse::Shown).unwrap();
        let want = expected_cells(&population.cases, period, year);
        for table in &report.tables {
            let expected = want.get(&table.id).cloned().unwrap_or_default();
            let sorted = |mut ids: Vec<CaseId>| {
                ids.sort();
                ids
            };
            let listed = |r: usize, c: usize| -> Vec<CaseId> {
                let rows = population.workspace.annual_cell_cases(&report, &table.id, r, c).unwrap();
                sorted(rows.into_iter().map(|row| row.case_id).collect())
            };
            for (r, row) in table.rows.iter().enumerate() {
                for (c, column) in table.columns.iter().enumerate() {
                    let cases = sorted(expected.get(&(row.clone(), column.clone())).cloned().unwrap_or_default());
                    assert_eq!(table.cells[r][c], cases.len() as u64, "{} {row} {column}", table.id);
                    // The cell's cases, one line per victim or person: the cases drawn for it.
                    assert_eq!(listed(r, c), cases, "{} {row} {column}: the cases behind the cell", table.id);
                }
            }
            // Totals (one past the last row or column) list the cases of their row, column or table.
            let grid = table.grid();
            for (r, line) in grid.iter().enumerate() {
                for (c, count) in line.iter().enumerate() {
                    if r == table.rows.len() || c == table.columns.len() {
                        assert_eq!(listed(r, c).len() as u64, *count, "{} total at {r},{c}", table.id);
                    }
                }
            }
            let all: usize = expected.values().map(Vec::len).sum();
            assert_eq!(table.total(), all as u64, "{}: nothing counted outside its rows", table.id);
            assert!(
                population.workspace.annual_cell_cases(&report, &table.id, table.rows.len() + 1, 0).is_err(),
                "a cell outside the table is refused"
            );
            for threshold in [DEFAULT_THRESHOLD, 3, 40] {
                check_suppressed(table, threshold);
            }
        }
        let csv = report.to_csv(Some(DEFAULT_THRESHOLD));
        assert_eq!(csv.lines().filter(|line| line.is_empty()).count(), report.tables.len());
    }
    let log = population.workspace.audit_log(5).unwrap();
    let newest = serde_json::to_value(&log[0]).unwrap();
    assert_eq!(newest["action"], "report.export");
}

#[test]
fn four_victims_are_all_hidden_in_a_published_table() {
    let (_fixture, mut workspace) = new_workspace();
    for (index, (sex, kind)) in [
        (Sex::Female, ExploitationType::SexualExploitation),
        (Sex::Female, ExploitationType::ForcedLabour),
        (Sex::Male, ExploitationType::ForcedLabour),
        (Sex::Female, ExploitationType::SexualExploitation),
    ]
    .into_iter()
    .enumerate()
    {
        let mut fields = CaseFields::named(&format!("Person {index}")).unwrap();
        fields.sex = Some(sex);
        fields.exploitation_types = vec![kind];
        fields.identification_status = Some(IdentificationStatus::Identified);
        fields.identification_date = Some(day("2023-05-10"));
        workspace.create_case(fields).unwrap();
    }
    let report = workspace.annual_report(ReportPeriod::Calendar, 2023, ReportUse::Suppressed).unwrap();
    let table = report.tables.iter().find(|t| t.id == "unodc.victims_by_form").unwrap();
    assert_eq!(table.total(), 4);
    let shown = suppress::suppress(table, DEFAULT_THRESHOLD);
    let grid = table.grid();
    for (r, line) in grid.iter().enumerate() {
        for (c, &count) in line.iter().enumerate() {
            if count > 0 {
                assert_eq!(shown[r][c], Shown::Hidden(11), "a non-zero count of a 4-victim table is shown");
            }
        }
    }
    let csv = report.to_csv(Some(DEFAULT_THRESHOLD));
    assert!(csv.contains("total,<11,<11,0,0,<11"), "the total row hides every small count");
    // With true counts (the internal file), the same table shows them.
    assert!(report.to_csv(None).contains("total,3,1,0,0,4"));
    // No case, no victim: every table is zeros and nothing is hidden.
    let empty = AnnualReport::compute(&[], ReportPeriod::Tip, 2024).unwrap();
    for table in &empty.tables {
        assert!(suppress::suppress(table, DEFAULT_THRESHOLD).iter().flatten().all(|cell| *cell == Shown::Count(0)));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

    /// Any small table, any mix of small and large counts: nothing hidden can be worked out
    /// from what is shown, and what is shown is true.
    #[test]
    fn suppression_cannot_be_undone_from_the_totals(
        rows in 1usize..6,
        columns in 1usize..6,
        values in proptest::collection::vec(proptest::prop_oneof![0u64..3, 1u64..11, 11u64..80], 36),
    ) {
        let table = Table {
            id: "generated".into(),
            title: "generated".into(),
            row_header: "row".into(),
            rows: (0..rows).map(|r| format!("r{r}")).collect(),
            columns: (0..columns).map(|c| format!("c{c}")).collect(),
            cells: (0..rows).map(|r| values[r * 6..r * 6 + columns].to_vec()).collect(),
        };
        check_suppressed(&table, DEFAULT_THRESHOLD);
    }
}
