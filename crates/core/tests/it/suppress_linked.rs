//! The tables of one annual report leave the ministry together, in one file: a count hidden in
//! one table must not be worked out from the totals of all of them. UNODC's victims by sex and
//! age, by form and by citizenship are the same people, so each sex's total and the grand total
//! appear in all three; TIP's victims referred and assisted are part of the victims identified,
//! cell by cell. The checks here are written from the tables' names, not read from Harbour's
//! links: every hidden entry is tried against every equation the published tables give
//! (each row and column adds up to its total; a total printed in two tables is one number), by
//! the rank test of `stats.rs`.

use chrono::NaiveDate;
use harbour_core::model::{CaseStatus, Country, ExploitationType, IdentificationStatus, Sex};
use harbour_core::stats::annual::{AnnualReport, ReportPeriod, ReportUse};
use harbour_core::stats::facts::{AgeBand, CaseFacts};
use harbour_core::stats::suppress::{self, DEFAULT_THRESHOLD};

type Entry = (usize, usize, usize);

/// The rank of a matrix, by Gaussian elimination (the stats tests use it too).
pub(crate) fn rank(matrix: &[Vec<f64>]) -> usize {
    let mut m: Vec<Vec<f64>> = matrix.to_vec();
    let width = m.first().map_or(0, Vec::len);
    let mut rank = 0;
    for col in 0..width {
        let Some(pivot) = (rank..m.len()).find(|&r| m[r][col].abs() > 1e-9) else { continue };
        m.swap(rank, pivot);
        for r in 0..m.len() {
            if r != rank && m[r][col].abs() > 1e-9 {
                let factor = m[r][col] / m[rank][col];
                let pivot_row = m[rank].clone();
                for (value, pivot_value) in m[r].iter_mut().zip(&pivot_row) {
                    *value -= factor * pivot_value;
                }
            }
        }
        rank += 1;
    }
    rank
}

/// The entries printed twice: in a calendar report, each sex's total and the grand total of
/// the three tables of victims, as (table, row, column) of their grids.
fn printed_twice(report: &AnnualReport) -> Vec<Vec<Entry>> {
    let find = |id: &str| report.tables.iter().position(|table| table.id == id);
    let (Some(by_age), Some(by_form), Some(by_citizenship)) =
        (find("unodc.victims_by_sex_and_age"), find("unodc.victims_by_form"), find("unodc.victims_by_citizenship"))
    else {
        return Vec::new();
    };
    let tables = &report.tables;
    let mut groups = Vec::new();
    for (row, sex) in tables[by_age].rows.iter().enumerate() {
        let mut group = vec![(by_age, row, tables[by_age].columns.len())];
        for t in [by_form, by_citizenship] {
            group.push((t, tables[t].rows.len(), tables[t].columns.iter().position(|c| c == sex).unwrap()));
        }
        groups.push(group);
    }
    groups.push([by_age, by_form, by_citizenship].map(|t| (t, tables[t].rows.len(), tables[t].columns.len())).to_vec());
    groups
}

/// The hidden entries that the report's tables published together give away.
fn given_away(report: &AnnualReport, hide: &[Vec<Vec<bool>>]) -> Vec<Entry> {
    let grids: Vec<Vec<Vec<u64>>> = report.tables.iter().map(|table| table.grid()).collect();
    let mut hidden: Vec<Entry> = Vec::new();
    for (t, grid) in hide.iter().enumerate() {
        for (r, line) in grid.iter().enumerate() {
            for (c, &is_hidden) in line.iter().enumerate() {
                if is_hidden {
                    hidden.push((t, r, c));
                }
            }
        }
    }
    let at = |entry: Entry| hidden.iter().position(|known| *known == entry);
    let mut equations: Vec<Vec<f64>> = Vec::new();
    for (t, grid) in grids.iter().enumerate() {
        let (rows, columns) = (grid.len(), grid[0].len());
        for r in 0..rows {
            let mut eq = vec![0.0; hidden.len()];
            for c in 0..columns {
                if let Some(i) = at((t, r, c)) {
                    eq[i] = if c + 1 == columns { -1.0 } else { 1.0 };
                }
            }
            equations.push(eq);
        }
        for c in 0..columns {
            let mut eq = vec![0.0; hidden.len()];
            for r in 0..rows {
                if let Some(i) = at((t, r, c)) {
                    eq[i] = if r + 1 == rows { -1.0 } else { 1.0 };
                }
            }
            equations.push(eq);
        }
    }
    // A number printed twice: the two are equal; one shown tells the other.
    for group in printed_twice(report) {
        for pair in group.windows(2) {
            let mut eq = vec![0.0; hidden.len()];
            match (at(pair[0]), at(pair[1])) {
                (Some(a), Some(b)) => {
                    eq[a] = 1.0;
                    eq[b] = -1.0;
                }
                (Some(a), None) | (None, Some(a)) => eq[a] = 1.0,
                (None, None) => continue,
            }
            equations.push(eq);
        }
    }
    let base = rank(&equations);
    hidden
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let mut with = equations.clone();
            let mut unit = vec![0.0; hidden.len()];
            unit[*i] = 1.0;
            with.push(unit);
            rank(&with) == base
        })
        .map(|(_, entry)| *entry)
        .collect()
}

/// Shown differences between a TIP table of victims referred or assisted and the victims
/// identified that are small counts (people identified and not referred, or not assisted).
fn small_differences(report: &AnnualReport, hide: &[Vec<Vec<bool>>], threshold: u64) -> Vec<Entry> {
    let find = |id: &str| report.tables.iter().position(|table| table.id == id);
    let Some(whole) = find("tip.victims_identified") else { return Vec::new() };
    let mut found = Vec::new();
    for part in ["tip.victims_referred", "tip.victims_assisted"].into_iter().filter_map(find) {
        let (whole_grid, part_grid) = (report.tables[whole].grid(), report.tables[part].grid());
        for (r, line) in part_grid.iter().enumerate() {
            for (c, &count) in line.iter().enumerate() {
                let left_out = whole_grid[r][c] - count;
                if !hide[part][r][c] && !hide[whole][r][c] && left_out > 0 && left_out < threshold {
                    found.push((part, r, c));
                }
            }
        }
    }
    found
}

/// Checks a report's published tables at `threshold`: true counts where shown, no small count
/// shown, a number printed twice hidden in both or neither, nothing given away, no small
/// difference shown, and the CSV file hides exactly those entries.
#[track_caller]
fn check_published(report: &AnnualReport, threshold: u64) {
    let hide = report.suppression_masks(threshold);
    for (table, mask) in report.tables.iter().zip(&hide) {
        for (line, hidden) in table.grid().iter().zip(mask) {
            for (&count, &hidden) in line.iter().zip(hidden) {
                assert!(hidden || count == 0 || count >= threshold, "{}: a small count is shown", table.id);
            }
        }
    }
    for group in printed_twice(report) {
        let hidden: Vec<bool> = group.iter().map(|&(t, r, c)| hide[t][r][c]).collect();
        assert!(hidden.iter().all(|h| *h == hidden[0]), "a total printed twice is hidden once: {group:?}");
    }
    assert_eq!(
        given_away(report, &hide),
        Vec::<Entry>::new(),
        "{} {}: hidden counts worked out",
        report.year,
        threshold
    );
    assert_eq!(small_differences(report, &hide, threshold), Vec::<Entry>::new(), "small differences shown");
    let csv = report.to_csv(Some(threshold));
    let hidden_in_csv =
        csv.lines().flat_map(|line| line.split(',')).filter(|cell| *cell == format!("<{threshold}")).count();
    assert_eq!(
        hidden_in_csv,
        hide.iter().flatten().flatten().filter(|h| **h).count(),
        "the file hides what was chosen"
    );
}

#[test]
fn the_tables_of_a_report_published_together_give_no_hidden_count_away() {
    let mut population = crate::stats::populate();
    for (period, year) in [(ReportPeriod::Tip, 2024), (ReportPeriod::Calendar, 2023), (ReportPeriod::Calendar, 2024)] {
        let report = population.workspace.annual_report(period, year, ReportUse::Suppressed).unwrap();
        for threshold in [DEFAULT_THRESHOLD, 3, 40] {
            check_published(&report, threshold);
        }
    }
}

fn victim(sex: Sex, age_band: AgeBand, kind: Option<ExploitationType>, nationality: &str) -> CaseFacts {
    let on = NaiveDate::from_ymd_opt(2023, 5, 1).unwrap();
    CaseFacts {
        team: None,
        status: CaseStatus::Active,
        needs_review: false,
        created_ms: 0,
        registered_on: on,
        updated_ms: 0,
        identification: Some(IdentificationStatus::Identified),
        identified_on: Some(on),
        sex: Some(sex),
        age_band,
        nationality: Some(Country::parse(nationality).unwrap()),
        exploitation: kind.into_iter().collect(),
        sectors: Vec::new(),
        means_of_control: Vec::new(),
        country_of_exploitation: None,
        recruiter_relation: None,
        recruitment_methods: Vec::new(),
        referrals: Vec::new(),
        screenings: Vec::new(),
        justice: Vec::new(),
        perpetrators: Vec::new(),
        services: Vec::new(),
    }
}

#[test]
fn tables_suppressed_one_by_one_gave_a_count_away_through_their_shared_totals() {
    let mut facts = Vec::new();
    let mut add = |count: usize, sex: Sex, band: AgeBand, kind: Option<ExploitationType>, country: &str| {
        facts.extend((0..count).map(|_| victim(sex, band, kind, country)));
    };
    use AgeBand::{From9To17 as Child, From30To38 as Adult, Unknown};
    use ExploitationType::{ForcedLabour, SexualExploitation};
    // 65 women and girls, 18 transgender people: a few small groups among large ones.
    add(35, Sex::Female, Adult, Some(ForcedLabour), "GY");
    add(8, Sex::Female, Unknown, Some(SexualExploitation), "VE");
    add(18, Sex::TransgenderNonConforming, Adult, None, "LC");
    add(1, Sex::Female, Child, Some(ForcedLabour), "LC");
    add(1, Sex::Female, Unknown, Some(SexualExploitation), "LC");
    add(2, Sex::Female, Child, None, "LC");
    let report = AnnualReport::compute(&facts, ReportPeriod::Calendar, 2023).unwrap();
    let one_by_one: Vec<Vec<Vec<bool>>> =
        report.tables.iter().map(|table| suppress::suppression_mask(table, DEFAULT_THRESHOLD)).collect();
    assert_ne!(given_away(&report, &one_by_one), Vec::<Entry>::new(), "each table alone hid its small counts");
    check_published(&report, DEFAULT_THRESHOLD);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(150))]

    /// Any mix of victims: the calendar and TIP tables published together give nothing away.
    #[test]
    fn any_victims_published_together_give_nothing_away(
        people in proptest::collection::vec((0usize..4, 0usize..3, 0usize..3, 0usize..3, 0usize..3, 1usize..25), 1..8),
    ) {
        let sexes = [Sex::Female, Sex::Male, Sex::TransgenderNonConforming, Sex::Unknown];
        let bands = [AgeBand::From9To17, AgeBand::From30To38, AgeBand::Unknown];
        let kinds = [Some(ExploitationType::SexualExploitation), Some(ExploitationType::ForcedLabour), None];
        let countries = ["GY", "VE", "LC"];
        let mut facts = Vec::new();
        for (sex, band, kind, country, help, count) in people {
            for _ in 0..count {
                let mut person = victim(sexes[sex], bands[band], kinds[kind], countries[country]);
                if help > 0 {
                    person.referrals.push(harbour_core::stats::facts::ReferralFact {
                        id: harbour_core::EntryId::new(),
                        service_type: harbour_core::model::ServiceType::Shelter,
                        status: harbour_core::model::ReferralStatus::Sent,
                        sent_ms: 0,
                        accepted_ms: None,
                    });
                }
                if help > 1 {
                    person.services.push(harbour_core::stats::facts::ServiceFact {
                        id: harbour_core::EntryId::new(),
                        service_type: harbour_core::model::ServiceType::Medical,
                        from: NaiveDate::from_ymd_opt(2023, 5, 2).unwrap(),
                        until: None,
                    });
                }
                facts.push(person);
            }
        }
        for (period, year) in [(ReportPeriod::Calendar, 2023), (ReportPeriod::Tip, 2023)] {
            check_published(&AnnualReport::compute(&facts, period, year).unwrap(), DEFAULT_THRESHOLD);
        }
    }
}
