//! The annual tables for the two reports the task force sends:
//!
//! - the US TIP report, over 1 April to 31 March (`--year 2024` is 1 April 2023 – 31 March
//!   2024, the period ending in that year): victims identified, victims referred to services and
//!   victims assisted, by form of exploitation and sex; persons investigated, prosecuted and
//!   convicted by form of exploitation;
//! - UNODC's Global Report questionnaire, over the calendar year: victims by sex and age group,
//!   by form of exploitation and sex, by citizenship and sex; persons prosecuted and convicted
//!   by sex.
//!
//! A victim is a person whose identification status is presumed or identified, counted in the
//! period that holds their identification date (else the day the status was recorded); a
//! victim was referred when any referral was made on their case, and assisted when they received
//! a service (shelter, medical care, legal aid, return …) that began by the period's last day.
//! UNODC's questionnaire counts victims detected, not assisted: its tables have no such cell.
//! A person investigated, prosecuted or convicted is a perpetrator named by a justice step dated
//! in the period (the step's date, else the day it was recorded), counted once per step kind; a
//! step that names no perpetrator counts one person for its case. Prosecuted counts `charged`
//! and `prosecution` steps. The form of exploitation of a justice step is its case's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use super::facts::CaseFacts;
use super::suppress::{self, Links, Table};
use super::{DrillRow, Item};
use crate::error::{Error, Result};
use crate::ids::EntryId;
use crate::model::{JusticeStage, Sex};
use crate::store::Workspace;

/// Which report the tables are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportPeriod {
    /// US TIP report: 1 April of the year before to 31 March of the year.
    Tip,
    /// UNODC: 1 January to 31 December.
    Calendar,
}

impl ReportPeriod {
    pub fn parse(text: &str) -> Result<ReportPeriod> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tip" => Ok(ReportPeriod::Tip),
            "calendar" | "unodc" => Ok(ReportPeriod::Calendar),
            other => Err(Error::invalid("period", format!("\"{other}\" is not a report period; use tip or calendar"))),
        }
    }

    /// The first and last day of the report's year.
    pub fn days(self, year: i32) -> Result<(NaiveDate, NaiveDate)> {
        let day = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .ok_or_else(|| Error::invalid("year", format!("{year} is not a year Harbour can report on")))
        };
        if !(1900..=9998).contains(&year) {
            return Err(Error::invalid("year", format!("{year} is not a year Harbour can report on; use four digits")));
        }
        Ok(match self {
            ReportPeriod::Tip => (day(year - 1, 4, 1)?, day(year, 3, 31)?),
            ReportPeriod::Calendar => (day(year, 1, 1)?, day(year, 12, 31)?),
        })
    }
}

/// How a report leaves the laptop, for the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportUse {
    /// Shown on screen or printed as JSON: true counts.
    Shown,
    /// A file with small cells suppressed.
    Suppressed,
    /// A file with true counts, for use inside the ministry.
    Internal,
}

impl ReportUse {
    fn as_str(self) -> &'static str {
        match self {
            ReportUse::Shown => "shown",
            ReportUse::Suppressed => "suppressed",
            ReportUse::Internal => "internal",
        }
    }
}

/// The annual tables with their true counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnnualReport {
    pub period: ReportPeriod,
    pub year: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tables: Vec<Table>,
    /// What each cell counts: `items[table][row][column]`, one item per victim or person.
    #[serde(skip)]
    pub items: Vec<Vec<Vec<Vec<Item>>>>,
    /// The `cases` row of each fact an item indexes (filled by [`Workspace::annual_report`]).
    #[serde(skip)]
    rowids: Vec<i64>,
}

/// The items of a table while they are counted; its counts are their numbers.
struct Grid {
    items: Vec<Vec<Vec<Item>>>,
}

impl Grid {
    fn new(rows: usize, columns: usize) -> Grid {
        Grid { items: vec![vec![Vec::new(); columns]; rows] }
    }

    fn add(&mut self, row: usize, column: usize, item: Item) {
        self.items[row][column].push(item);
    }

    fn table(
        self,
        id: &str,
        title: String,
        row_header: &str,
        rows: Vec<String>,
        columns: Vec<String>,
    ) -> (Table, Vec<Vec<Vec<Item>>>) {
        let cells = self.items.iter().map(|row| row.iter().map(|cell| cell.len() as u64).collect()).collect();
        (Table { id: id.to_owned(), title, row_header: row_header.to_owned(), rows, columns, cells }, self.items)
    }
}

/// The sexes as the reports count them: not recorded counts as unknown.
const SEXES: &[Sex] = &[Sex::Female, Sex::Male, Sex::TransgenderNonConforming, Sex::Unknown];

/// The forms of exploitation as the reports count them.
const FORMS: &[&str] = &["sexual_exploitation", "forced_labour", "sex_and_labour", "other", "not_recorded"];

fn report_form(facts: &CaseFacts) -> &'static str {
    match facts.form() {
        "sexual_exploitation" => "sexual_exploitation",
        "forced_labour" => "forced_labour",
        "sex_and_labour" => "sex_and_labour",
        "not_recorded" => "not_recorded",
        _ if facts.exploitation.is_empty() => "not_recorded",
        _ => "other",
    }
}

fn sex_column(sex: Option<Sex>) -> usize {
    SEXES.iter().position(|known| Some(*known) == sex).unwrap_or(SEXES.len() - 1)
}

fn names<T: Copy>(values: &[T], name: impl Fn(T) -> &'static str) -> Vec<String> {
    values.iter().map(|value| name(*value).to_owned()).collect()
}

impl AnnualReport {
    /// Computes the tables over `facts` for the report year.
    pub fn compute(facts: &[CaseFacts], period: ReportPeriod, year: i32) -> Result<AnnualReport> {
        let (from, to) = period.days(year)?;
        let within = |day: NaiveDate| day >= from && day <= to;
        let victims: Vec<(usize, &CaseFacts)> = facts
            .iter()
            .enumerate()
            .filter(|(_, case)| case.is_victim() && case.identified_on.is_some_and(within))
            .collect();
        let sex_names = names(SEXES, Sex::as_str);
        let form_rows: Vec<String> = FORMS.iter().map(|form| (*form).to_owned()).collect();
        let form_row = |case: &CaseFacts| FORMS.iter().position(|form| *form == report_form(case)).expect("a row");
        let case_item = |index: usize| Item { case: index as u32, entry: None };
        let form_by_sex = |id: &str, title: String, people: &[(usize, &CaseFacts)]| {
            let mut grid = Grid::new(FORMS.len(), SEXES.len());
            for (index, case) in people {
                grid.add(form_row(case), sex_column(case.sex), case_item(*index));
            }
            grid.table(id, title, "form_of_exploitation", form_rows.clone(), sex_names.clone())
        };
        // One item per person: the case, and the perpetrator when the step names one.
        let persons = |stages: &[JusticeStage]| -> Vec<(usize, Option<Sex>, Item)> {
            let mut seen: BTreeSet<(usize, Option<EntryId>)> = BTreeSet::new();
            let mut found = Vec::new();
            for (index, case) in facts.iter().enumerate() {
                for step in &case.justice {
                    if stages.contains(&step.stage) && within(step.on) && seen.insert((index, step.perpetrator)) {
                        let sex = step
                            .perpetrator
                            .and_then(|id| case.perpetrators.iter().find(|known| known.id == id))
                            .and_then(|known| known.sex);
                        found.push((index, sex, Item { case: index as u32, entry: step.perpetrator }));
                    }
                }
            }
            found
        };
        let investigated = persons(&[JusticeStage::Investigation]);
        let prosecuted = persons(&[JusticeStage::Charged, JusticeStage::Prosecution]);
        let convicted = persons(&[JusticeStage::Convicted]);
        let span = format!("{from} to {to}");

        let tables = match period {
            ReportPeriod::Tip => {
                let referred: Vec<(usize, &CaseFacts)> =
                    victims.iter().copied().filter(|(_, case)| !case.referrals.is_empty()).collect();
                let assisted: Vec<(usize, &CaseFacts)> = victims
                    .iter()
                    .copied()
                    .filter(|(_, case)| case.services.iter().any(|service| service.from <= to))
                    .collect();
                let mut justice = Grid::new(FORMS.len(), 3);
                for (column, people) in [&investigated, &prosecuted, &convicted].into_iter().enumerate() {
                    for (index, _, item) in people {
                        justice.add(form_row(&facts[*index]), column, *item);
                    }
                }
                vec![
                    form_by_sex(
                        "tip.victims_identified",
                        format!("Victims identified, by form of exploitation and sex ({span})"),
                        &victims,
                    ),
                    form_by_sex(
                        "tip.victims_referred",
                        format!(
                            "Victims identified and referred to services, by form of exploitation and sex ({span})"
                        ),
                        &referred,
                    ),
                    form_by_sex(
                        "tip.victims_assisted",
                        format!(
                            "Victims identified and assisted (a service received), by form of exploitation and sex ({span})"
                        ),
                        &assisted,
                    ),
                    justice.table(
                        "tip.law_enforcement",
                        format!(
                            "Persons investigated, prosecuted and convicted, by form of exploitation ({span}); the total counts steps, not persons"
                        ),
                        "form_of_exploitation",
                        form_rows.clone(),
                        vec!["investigated".into(), "prosecuted".into(), "convicted".into()],
                    ),
                ]
            }
            ReportPeriod::Calendar => {
                let age_columns = ["child", "adult", "age_unknown"];
                let mut by_age = Grid::new(SEXES.len(), age_columns.len());
                let mut by_citizenship: BTreeMap<String, Vec<Vec<Item>>> = BTreeMap::new();
                for (index, case) in &victims {
                    let column = match case.age_band.is_minor() {
                        Some(true) => 0,
                        Some(false) => 1,
                        None => 2,
                    };
                    by_age.add(sex_column(case.sex), column, case_item(*index));
                    let country = case.nationality.as_ref().map_or("not_recorded", |country| country.as_str());
                    by_citizenship.entry(country.to_owned()).or_insert_with(|| vec![Vec::new(); SEXES.len()])
                        [sex_column(case.sex)]
                    .push(case_item(*index));
                }
                let mut justice = Grid::new(SEXES.len(), 2);
                for (column, people) in [&prosecuted, &convicted].into_iter().enumerate() {
                    for (_, sex, item) in people {
                        justice.add(sex_column(*sex), column, *item);
                    }
                }
                let (citizenships, citizenship_items): (Vec<String>, Vec<Vec<Vec<Item>>>) = if by_citizenship.is_empty()
                {
                    (vec!["not_recorded".into()], vec![vec![Vec::new(); SEXES.len()]])
                } else {
                    by_citizenship.into_iter().unzip()
                };
                vec![
                    by_age.table(
                        "unodc.victims_by_sex_and_age",
                        format!("Victims detected, by sex and age group ({span})"),
                        "sex",
                        sex_names.clone(),
                        age_columns.iter().map(|column| (*column).to_owned()).collect(),
                    ),
                    form_by_sex(
                        "unodc.victims_by_form",
                        format!("Victims detected, by form of exploitation and sex ({span})"),
                        &victims,
                    ),
                    Grid { items: citizenship_items }.table(
                        "unodc.victims_by_citizenship",
                        format!("Victims detected, by citizenship and sex ({span})"),
                        "citizenship",
                        citizenships,
                        sex_names.clone(),
                    ),
                    justice.table(
                        "unodc.persons_prosecuted_convicted",
                        format!("Persons prosecuted and convicted, by sex ({span})"),
                        "sex",
                        sex_names.clone(),
                        vec!["prosecuted".into(), "convicted".into()],
                    ),
                ]
            }
        };
        let (tables, items) = tables.into_iter().unzip();
        Ok(AnnualReport { period, year, from, to, tables, items, rowids: Vec::new() })
    }

    /// What a cell counts (`row` and `column` index the table's rows and columns; one past the
    /// last is its total), or `None` when there is no such table or cell.
    pub fn cell_items(&self, table: &str, row: usize, column: usize) -> Option<Vec<Item>> {
        let index = self.tables.iter().position(|known| known.id == table)?;
        let (rows, columns) = (&self.items[index], self.tables[index].columns.len());
        if row > rows.len() || column > columns {
            return None;
        }
        let rows_wanted: Vec<usize> = if row == rows.len() { (0..rows.len()).collect() } else { vec![row] };
        let columns_wanted: Vec<usize> = if column == columns { (0..columns).collect() } else { vec![column] };
        Some(
            rows_wanted
                .iter()
                .flat_map(|row| columns_wanted.iter().flat_map(move |column| rows[*row][*column].iter().copied()))
                .collect(),
        )
    }

    /// The tables as CSV ([`suppress::linked_tables_csv`]). With `threshold`, small cells are
    /// suppressed, the tables together over their [`links`](AnnualReport::links).
    pub fn to_csv(&self, threshold: Option<u64>) -> String {
        suppress::linked_tables_csv(&self.tables, &self.links(), threshold)
    }

    /// Which entries of each table's grid to hide in a published file.
    pub fn suppression_masks(&self, threshold: u64) -> Vec<Vec<Vec<bool>>> {
        suppress::suppress_together(&self.tables, &self.links(), threshold)
    }

    /// How the tables are tied: UNODC's three tables of victims share the per-sex totals (the
    /// row totals of the table by sex and age, the column totals of the others) and the grand
    /// total; TIP's victims referred and victims assisted are each part of the victims
    /// identified, cell by cell. TIP's law enforcement table and UNODC's persons prosecuted
    /// and convicted count other people and share nothing.
    pub fn links(&self) -> Links {
        let find = |id: &str| self.tables.iter().position(|table| table.id == id);
        let mut links = Links::default();
        if let Some(identified) = find("tip.victims_identified") {
            for part in ["tip.victims_referred", "tip.victims_assisted"].into_iter().filter_map(find) {
                links.nested.push((part, identified));
            }
        }
        let by_age = find("unodc.victims_by_sex_and_age");
        let by_sex_columns: Vec<usize> =
            ["unodc.victims_by_form", "unodc.victims_by_citizenship"].into_iter().filter_map(find).collect();
        if let Some(by_age) = by_age {
            let corner = |t: usize| (t, self.tables[t].rows.len(), self.tables[t].columns.len());
            let age_columns = self.tables[by_age].columns.len();
            for (row, sex) in self.tables[by_age].rows.iter().enumerate() {
                let mut group = vec![(by_age, row, age_columns)];
                for &t in &by_sex_columns {
                    let column = self.tables[t].columns.iter().position(|known| known == sex).expect("the same sexes");
                    group.push((t, self.tables[t].rows.len(), column));
                }
                links.equal.push(group);
            }
            let mut grand = vec![corner(by_age)];
            grand.extend(by_sex_columns.iter().map(|&t| corner(t)));
            links.equal.push(grand);
        }
        links
    }
}

impl Workspace {
    /// The annual tables, with true counts. The audit log records one `report.export` saying
    /// which report and how it leaves (`shown`, `suppressed` or `internal`).
    pub fn annual_report(&mut self, period: ReportPeriod, year: i32, report_use: ReportUse) -> Result<AnnualReport> {
        let (rowids, facts): (Vec<i64>, Vec<CaseFacts>) = self.all_facts()?.into_iter().unzip();
        let mut report = AnnualReport::compute(&facts, period, year)?;
        report.rowids = rowids;
        let period_name = match period {
            ReportPeriod::Tip => "tip",
            ReportPeriod::Calendar => "calendar",
        };
        self.audit_now("report.export", None, &format!("{period_name} {year} {}", report_use.as_str()))?;
        Ok(report)
    }

    /// The cases behind one cell of `report` (a row or column one past the last is its total),
    /// one line per victim or person counted: as many lines as the cell's number.
    pub fn annual_cell_cases(
        &self,
        report: &AnnualReport,
        table: &str,
        row: usize,
        column: usize,
    ) -> Result<Vec<DrillRow>> {
        let items = report.cell_items(table, row, column).ok_or_else(|| {
            Error::invalid("cell", format!("the annual tables have no cell {row},{column} in \"{table}\""))
        })?;
        let rowids: Vec<i64> = items.iter().map(|item| report.rowids[item.case as usize]).collect();
        let cases = self.cases_by_rowid(&rowids)?;
        Ok(items
            .iter()
            .zip(cases)
            .map(|(item, (case_id, code, status))| DrillRow { case_id, code, status, entry: item.entry })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let day = |text| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        assert_eq!(ReportPeriod::Tip.days(2024).unwrap(), (day("2023-04-01"), day("2024-03-31")));
        assert_eq!(ReportPeriod::Calendar.days(2023).unwrap(), (day("2023-01-01"), day("2023-12-31")));
        assert!(ReportPeriod::parse("fiscal").unwrap_err().to_string().starts_with("period:"));
        assert!(ReportPeriod::Tip.days(23).unwrap_err().to_string().starts_with("year:"));
    }
}
