//! The task force's figures over the cases this laptop can read: what the dashboard shows and
//! `harbour stats` prints, and the annual tables for the US TIP report and UNODC (`annual`),
//! with small-cell suppression for tables that leave the ministry (`suppress`).
//!
//! Figures read [`facts::CaseFacts`], one small row per case kept beside its projection, never
//! the events; the dashboard keeps them in memory after the first read, as small integers
//! ([`cache`]), and counts each figure into an array indexed by code. A figure keeps only its
//! number: the cases behind it are counted again by the same code when a person opens them
//! ([`Workspace::drill_down`]), so the list's length is the number.
//!
//! What is counted (the filters are a period `from`–`to`, both days included, and a team):
//! - case figures (`total`, `by_status`, `by_identification`, `by_sex`, `by_age_band`,
//!   `by_nationality`, `by_exploitation`, `by_labour_sector`, `by_team`, `needs_review`,
//!   `inactive`) count the team's cases registered in the period, each person once: under the
//!   first nationality, one form of exploitation (`sex_and_labour` or `multiple` when several),
//!   one labour sector (`multiple` or `none`);
//! - `new_per_month` counts the team's cases registered in each of the 12 months that end with
//!   the month of `to` (or of today): the period's start does not apply;
//! - referral figures (`referrals_by_type`, `referrals_by_outcome`, `unanswered_referrals`,
//!   `referral_median_days_to_accept`) count the referrals sent in the period on the team's
//!   cases, one item per referral; a referral is unanswered when it is still `sent` more than
//!   `unanswered_days` after it was sent;
//! - `screenings_by_result` counts the screenings recorded in the period on the team's cases;
//! - `assisted` counts the team's people who received a service on some day of the period
//!   (begun by its end, and ended — or, without a recorded end, begun — on or after its start),
//!   whenever they were registered; `assisted_by_service` counts them once under each type of
//!   service so received (a person with shelter and medical care counts under both, so the
//!   group can add up to more than `assisted`);
//! - `inactive` cases are open (not closed) with no change for `inactive_days` up to today.

pub mod annual;
pub(crate) mod cache;
pub(crate) mod counted;
pub mod facts;
pub mod suppress;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::ids::{CaseCode, CaseId, EntryId};
use crate::model::{CaseStatus, IdentificationStatus, ReferralStatus, ServiceType, Sex};
use crate::store::Workspace;
use cache::{CaseRow, FactsCache, NONE};
use facts::{AgeBand, day_of_ms, received_during};

/// Days without a change after which an open case counts as inactive, unless asked otherwise.
pub const DEFAULT_INACTIVE_DAYS: u32 = 30;
/// Days a referral may wait for an answer before it counts as unanswered, unless asked otherwise.
pub const DEFAULT_UNANSWERED_DAYS: u32 = 7;

/// Which cases the figures count, and the day they are computed on.
#[derive(Clone, Debug)]
pub struct StatsQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub team: Option<String>,
    pub today: NaiveDate,
    pub inactive_days: u32,
    pub unanswered_days: u32,
}

impl StatsQuery {
    pub fn new(today: NaiveDate) -> StatsQuery {
        StatsQuery {
            from: None,
            to: None,
            team: None,
            today,
            inactive_days: DEFAULT_INACTIVE_DAYS,
            unanswered_days: DEFAULT_UNANSWERED_DAYS,
        }
    }
}

/// One thing a figure counts: a case (its position in the facts read), and for referral and
/// screening figures the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    pub case: u32,
    pub entry: Option<EntryId>,
}

/// Every figure's number, by its key (`total`, `by_status.active`, `referrals_by_type.shelter`
/// …). What a figure counts is not kept: [`Workspace::drill_down`] counts it again.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    figures: BTreeMap<String, usize>,
    /// Group names in display order, each with its values in display order.
    groups: Vec<(&'static str, Vec<String>)>,
    pub referral_median_days_to_accept: Option<f64>,
}

/// The single-number figures, in display order; then the groups (a figure's `slot` is its
/// position in `SINGLES` followed by `GROUPS`).
const SINGLES: &[&str] = &["total", "needs_review", "inactive", "unanswered_referrals", "assisted"];
const GROUPS: &[&str] = &[
    "by_status",
    "by_identification",
    "by_sex",
    "by_age_band",
    "by_nationality",
    "by_exploitation",
    "by_labour_sector",
    "by_team",
    "new_per_month",
    "referrals_by_type",
    "referrals_by_outcome",
    "screenings_by_result",
    "assisted_by_service",
];
const TOTAL: u8 = 0;
const NEEDS_REVIEW: u8 = 1;
const INACTIVE: u8 = 2;
const UNANSWERED: u8 = 3;
const ASSISTED: u8 = 4;
const BY_STATUS: u8 = 5;
const BY_IDENTIFICATION: u8 = 6;
const BY_SEX: u8 = 7;
const BY_AGE_BAND: u8 = 8;
const BY_NATIONALITY: u8 = 9;
const BY_EXPLOITATION: u8 = 10;
const BY_LABOUR_SECTOR: u8 = 11;
const BY_TEAM: u8 = 12;
const NEW_PER_MONTH: u8 = 13;
const REFERRALS_BY_TYPE: u8 = 14;
const REFERRALS_BY_OUTCOME: u8 = 15;
const SCREENINGS_BY_RESULT: u8 = 16;
const ASSISTED_BY_SERVICE: u8 = 17;
const SLOTS: usize = SINGLES.len() + GROUPS.len();

/// The values of a group whose values are a closed list, in display order (a value's code is
/// its position); `None` for groups of names (and months) found while counting.
fn closed_values(slot: u8) -> Option<Vec<&'static str>> {
    let with_missing = |mut values: Vec<&'static str>| {
        values.push("not_recorded");
        values
    };
    Some(match slot {
        BY_STATUS => CaseStatus::ALL.iter().map(|v| v.as_str()).collect(),
        BY_IDENTIFICATION => with_missing(IdentificationStatus::ALL.iter().map(|v| v.as_str()).collect()),
        BY_SEX => with_missing(Sex::ALL.iter().map(|v| v.as_str()).collect()),
        BY_AGE_BAND => AgeBand::ALL.iter().map(|v| v.as_str()).collect(),
        REFERRALS_BY_TYPE | ASSISTED_BY_SERVICE => ServiceType::ALL.iter().map(|v| v.as_str()).collect(),
        REFERRALS_BY_OUTCOME => cache::REFERRAL_OUTCOMES.iter().map(|v| v.as_str()).collect(),
        _ => return None,
    })
}

/// The team asked for is not any case's team.
const NO_SUCH_TEAM: u32 = u32::MAX - 1;

/// A query made ready for counting over the rows in memory.
struct Plan {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// `None`: every team; else the team's name id (`NO_SUCH_TEAM`: a team no case has).
    team: Option<u32>,
    /// Where a case without a team counts in `by_team`: under `no_team` (a team of that name
    /// shares it, as it always did).
    no_team: u32,
    end_month: i32,
    inactive_before: NaiveDate,
    today_end_ms: i64,
    unanswered_ms: i64,
}

fn month_number(day: NaiveDate) -> i32 {
    day.year() * 12 + day.month0() as i32
}

impl Plan {
    fn new(query: &StatsQuery, names: &cache::Names) -> Plan {
        Plan {
            from: query.from,
            to: query.to,
            team: query.team.as_deref().map(|team| names.id(team).unwrap_or(NO_SUCH_TEAM)),
            no_team: names.id("no_team").unwrap_or(NONE),
            end_month: month_number(query.to.unwrap_or(query.today)),
            inactive_before: query.today - chrono::Duration::days(i64::from(query.inactive_days)),
            today_end_ms: (query.today + chrono::Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .timestamp_millis(),
            unanswered_ms: i64::from(query.unanswered_days) * 86_400_000,
        }
    }

    fn in_period(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|from| day >= from) && self.to.is_none_or(|to| day <= to)
    }

    /// The 12 months of `new_per_month`, oldest first (`2024-01`).
    fn months(&self) -> Vec<String> {
        (0..12)
            .rev()
            .map(|back| {
                let month = self.end_month - back;
                format!("{:04}-{:02}", month.div_euclid(12), month.rem_euclid(12) + 1)
            })
            .collect()
    }

    /// Hands every (figure, value code, item) the cases count to `count`, and every referral's
    /// days from sent to accepted to `accepted`. The one definition of what each figure counts:
    /// the numbers and their drill-downs both come from it.
    fn visit(&self, rows: &[CaseRow], mut count: impl FnMut(u8, u32, Item), mut accepted: impl FnMut(f64)) {
        let closed = |status: u8| {
            matches!(CaseStatus::ALL.get(status as usize), Some(CaseStatus::Closed | CaseStatus::ClosedReferred))
        };
        for (index, case) in rows.iter().enumerate() {
            if self.team.is_some_and(|team| team != case.team) {
                continue;
            }
            let item = Item { case: index as u32, entry: None };
            let month = month_number(case.registered);
            if (self.end_month - 11..=self.end_month).contains(&month) {
                count(NEW_PER_MONTH, (month - self.end_month + 11) as u32, item);
            }
            if self.in_period(case.registered) {
                count(TOTAL, 0, item);
                count(BY_STATUS, u32::from(case.status), item);
                count(BY_IDENTIFICATION, u32::from(case.identification), item);
                count(BY_SEX, u32::from(case.sex), item);
                count(BY_AGE_BAND, u32::from(case.age_band), item);
                count(BY_NATIONALITY, case.nationality, item);
                count(BY_EXPLOITATION, case.form, item);
                count(BY_LABOUR_SECTOR, case.sector, item);
                count(BY_TEAM, if case.team == NONE { self.no_team } else { case.team }, item);
                if case.needs_review {
                    count(NEEDS_REVIEW, 0, item);
                }
                if !closed(case.status) && case.updated < self.inactive_before {
                    count(INACTIVE, 0, item);
                }
            }
            let Some(entries) = &case.entries else { continue };
            for referral in &entries.referrals {
                if !self.in_period(day_of_ms(referral.sent_ms)) {
                    continue;
                }
                let item = Item { case: index as u32, entry: Some(referral.id) };
                count(REFERRALS_BY_TYPE, u32::from(referral.service_type), item);
                count(REFERRALS_BY_OUTCOME, u32::from(referral.status), item);
                if cache::REFERRAL_OUTCOMES.get(referral.status as usize) == Some(&ReferralStatus::Sent)
                    && self.today_end_ms - referral.sent_ms > self.unanswered_ms
                {
                    count(UNANSWERED, 0, item);
                }
                if let Some(at) = referral.accepted_ms {
                    accepted((at - referral.sent_ms) as f64 / 86_400_000.0);
                }
            }
            for screening in &entries.screenings {
                if self.in_period(day_of_ms(screening.recorded_ms)) {
                    let item = Item { case: index as u32, entry: Some(screening.id) };
                    count(SCREENINGS_BY_RESULT, screening.level, item);
                }
            }
            // People, not services: each person once, and once under each type received.
            let mut types_received = 0u32;
            for service in &entries.services {
                if received_during(service.from, service.until, self.from, self.to) {
                    types_received |= 1 << service.service_type;
                }
            }
            if types_received != 0 {
                count(ASSISTED, 0, item);
                for service_type in 0..ServiceType::ALL.len() as u32 {
                    if types_received & (1 << service_type) != 0 {
                        count(ASSISTED_BY_SERVICE, service_type, item);
                    }
                }
            }
        }
    }
}

impl Figures {
    /// Counts every figure over the rows in memory, into one array per figure indexed by code.
    fn compute(rows: &FactsCache, query: &StatsQuery) -> Figures {
        let plan = Plan::new(query, &rows.names);
        let names = rows.names.len();
        // A name's code is its id; NONE (no team, no nationality) counts at `names`.
        let mut counts: Vec<Vec<u32>> = (0..SLOTS as u8)
            .map(|slot| match (slot, closed_values(slot)) {
                (_, Some(values)) => vec![0; values.len()],
                (NEW_PER_MONTH, None) => vec![0; 12],
                (slot, None) if (slot as usize) < SINGLES.len() => vec![0; 1],
                _ => vec![0; names + 1],
            })
            .collect();
        let mut accept_days = Vec::new();
        plan.visit(
            &rows.rows,
            |slot, code, _| {
                let slot = &mut counts[slot as usize];
                let at = (code as usize).min(slot.len() - 1);
                // Closed lists have no code past their end, names none past `names` (NONE).
                slot[at] += 1;
            },
            |days| accept_days.push(days),
        );

        let mut figures = Figures { referral_median_days_to_accept: median(&mut accept_days), ..Figures::default() };
        for (slot, name) in SINGLES.iter().enumerate() {
            figures.figures.insert((*name).to_owned(), counts[slot][0] as usize);
        }
        for (group, name) in GROUPS.iter().enumerate() {
            let slot = (SINGLES.len() + group) as u8;
            let found = &counts[slot as usize];
            let values: Vec<(String, u32)> = match closed_values(slot) {
                Some(values) => values.into_iter().map(str::to_owned).zip(found.iter().copied()).collect(),
                None if slot == NEW_PER_MONTH => plan.months().into_iter().zip(found.iter().copied()).collect(),
                None => {
                    let missing = if slot == BY_TEAM { "no_team" } else { "not_recorded" };
                    let mut values: Vec<(String, u32)> = found
                        .iter()
                        .enumerate()
                        .filter(|(_, count)| **count > 0)
                        .map(|(id, count)| {
                            let value = if id == names { missing } else { rows.names.name(id as u32) };
                            (value.to_owned(), *count)
                        })
                        .collect();
                    values.sort();
                    values
                }
            };
            let mut shown = Vec::with_capacity(values.len());
            for (value, count) in values {
                figures.figures.insert(format!("{name}.{value}"), count as usize);
                shown.push(value);
            }
            figures.groups.push((name, shown));
        }
        figures
    }

    /// The number a figure shows, or `None` when there is no such figure.
    pub fn count(&self, key: &str) -> Option<usize> {
        self.figures.get(key).copied()
    }

    /// Every figure's key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.figures.keys().map(String::as_str)
    }

    /// The values of a group in display order (`by_sex` → female, male …).
    pub fn group(&self, group: &str) -> Option<&[String]> {
        self.groups.iter().find(|(name, _)| *name == group).map(|(_, values)| values.as_slice())
    }

    pub fn group_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.groups.iter().map(|(name, _)| *name)
    }

    /// The counts as JSON: singles as numbers, groups as objects of counts, with the case
    /// fields' value names (`by_status.active`, `by_sex.female`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for name in SINGLES {
            out.insert((*name).to_owned(), json!(self.count(name).unwrap_or(0)));
        }
        for (group, values) in &self.groups {
            let counts: Map<String, Value> = values
                .iter()
                .map(|value| (value.clone(), json!(self.count(&format!("{group}.{value}")).unwrap_or(0))))
                .collect();
            out.insert((*group).to_owned(), Value::Object(counts));
        }
        out.insert("referral_median_days_to_accept".into(), json!(self.referral_median_days_to_accept));
        Value::Object(out)
    }

    /// The figure and value code of a key of these figures, as [`Plan::visit`] hands them.
    fn slot_of(&self, key: &str, names: &cache::Names) -> Option<(u8, u32)> {
        self.figures.get(key)?;
        if let Some(single) = SINGLES.iter().position(|name| *name == key) {
            return Some((single as u8, 0));
        }
        let (group, value) = key.split_once('.')?;
        let slot = (SINGLES.len() + GROUPS.iter().position(|name| *name == group)?) as u8;
        let code = match closed_values(slot) {
            Some(values) => values.iter().position(|known| *known == value)? as u32,
            None if slot == NEW_PER_MONTH => self.group(group)?.iter().position(|known| known == value)? as u32,
            None => match (slot, value) {
                (BY_TEAM, "no_team") => names.id("no_team").unwrap_or(NONE),
                (BY_NATIONALITY, "not_recorded") => NONE,
                _ => names.id(value)?,
            },
        };
        Some((slot, code))
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] })
}

/// The figures computed over this laptop's cases: their numbers and the query, not the cases
/// they count (a drill-down counts its figure again).
#[derive(Clone, Debug)]
pub struct Statistics {
    pub query: StatsQuery,
    pub figures: Figures,
    /// The generation of the rows in memory the figures were counted on.
    generation: u64,
}

/// One line of a drill-down: a case, and the referral or screening when the figure counts those.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DrillRow {
    pub case_id: CaseId,
    pub code: CaseCode,
    pub status: CaseStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryId>,
}

impl Workspace {
    /// Computes the figures. The audit log records one `stats.view` (with the filters, never
    /// the numbers), not one view per case.
    pub fn statistics(&mut self, query: &StatsQuery) -> Result<Statistics> {
        let (figures, generation) = {
            let rows = self.figure_rows()?;
            (Figures::compute(&rows, query), rows.generation)
        };
        let detail = format!(
            "from={} to={} team={}",
            query.from.map_or_else(String::new, |day| day.to_string()),
            query.to.map_or_else(String::new, |day| day.to_string()),
            if query.team.is_some() { "given" } else { "all" }
        );
        self.audit_now("stats.view", None, &detail)?;
        Ok(Statistics { query: query.clone(), figures, generation })
    }

    /// The cases behind one figure of `stats` (its key, such as `by_sex.female`), one line per
    /// item: as many lines as the figure's number. The figure is counted again: over the very
    /// rows it was counted on when nothing was read since, else over the cases as they are now,
    /// and refused if its number changed (the figures must then be computed again).
    pub fn drill_down(&self, stats: &Statistics, key: &str) -> Result<Vec<DrillRow>> {
        let not_a_figure = || {
            Error::invalid(
                "figure",
                format!("\"{key}\" is not a figure; use a key shown by harbour stats --json, such as by_status.active"),
            )
        };
        let shown = stats.figures.count(key).ok_or_else(not_a_figure)?;
        let rows = if self.figure_rows_generation() == Some(stats.generation) {
            self.kept_figure_rows()
        } else {
            self.figure_rows()?
        };
        let changed = |now: usize| Error::FiguresChanged { key: key.to_owned(), shown, now };
        let mut items = Vec::with_capacity(shown);
        // A value no case has any more (after the rows were read again) counts nothing.
        if let Some((slot, code)) = stats.figures.slot_of(key, &rows.names) {
            let plan = Plan::new(&stats.query, &rows.names);
            let collect = |at: u8, found: u32, item: Item| {
                if at == slot && found == code {
                    items.push(item);
                }
            };
            plan.visit(&rows.rows, collect, |_| {});
        }
        if items.len() != shown {
            return Err(changed(items.len()));
        }
        let rowids: Vec<i64> = items.iter().map(|item| rows.rows[item.case as usize].rowid).collect();
        drop(rows);
        let cases = self.cases_by_rowid(&rowids)?;
        Ok(items
            .iter()
            .zip(cases)
            .map(|(item, (case_id, code, status))| DrillRow { case_id, code, status, entry: item.entry })
            .collect())
    }
}
