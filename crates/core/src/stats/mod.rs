//! The task force's figures over the cases this laptop can read: what the dashboard shows and
//! `harbour stats` prints, and the annual tables for the US TIP report and UNODC (`annual`),
//! with small-cell suppression for tables that leave the ministry (`suppress`).
//!
//! Figures read [`facts::CaseFacts`], one small row per case kept beside its projection, never
//! the events. Every figure keeps the list of what it counts ([`Item`]s), so a person can open
//! the cases behind any number, and the list's length is the number.
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
//! - `inactive` cases are open (not closed) with no change for `inactive_days` up to today.

pub mod annual;
pub mod facts;
pub mod suppress;

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::ids::{CaseCode, CaseId, EntryId};
use crate::model::{CaseStatus, IdentificationStatus, ReferralStatus, ServiceType, Sex};
use crate::store::Workspace;
use facts::{AgeBand, CaseFacts, day_of_ms};

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

    fn in_period(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|from| day >= from) && self.to.is_none_or(|to| day <= to)
    }

    fn of_team(&self, facts: &CaseFacts) -> bool {
        self.team.as_deref().is_none_or(|team| facts.team.as_deref() == Some(team))
    }
}

/// One thing a figure counts: a case (its position in the facts read), and for referral and
/// screening figures the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    pub case: u32,
    pub entry: Option<EntryId>,
}

/// Every figure, by its key (`total`, `by_status.active`, `referrals_by_type.shelter` …),
/// with what it counts.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    figures: BTreeMap<String, Vec<Item>>,
    /// Group names in display order, each with its values in display order.
    groups: Vec<(&'static str, Vec<String>)>,
    pub referral_median_days_to_accept: Option<f64>,
}

/// The single-number figures, in display order.
const SINGLES: &[&str] = &["total", "needs_review", "inactive", "unanswered_referrals"];

impl Figures {
    /// Computes every figure over `facts` (in the order read; [`Item::case`] indexes it).
    pub fn compute(facts: &[CaseFacts], query: &StatsQuery) -> Figures {
        let mut g = Groups::default();
        g.seed("by_status", CaseStatus::ALL.iter().map(|v| v.as_str()).collect());
        let mut identification: Vec<&str> = IdentificationStatus::ALL.iter().map(|v| v.as_str()).collect();
        identification.push("not_recorded");
        g.seed("by_identification", identification);
        let mut sexes: Vec<&str> = Sex::ALL.iter().map(|v| v.as_str()).collect();
        sexes.push("not_recorded");
        g.seed("by_sex", sexes);
        g.seed("by_age_band", AgeBand::ALL.iter().map(|v| v.as_str()).collect());
        g.seed("by_nationality", Vec::new());
        g.seed("by_exploitation", Vec::new());
        g.seed("by_labour_sector", Vec::new());
        g.seed("by_team", Vec::new());
        g.seed("new_per_month", Vec::new());
        g.seed("referrals_by_type", ServiceType::ALL.iter().map(|v| v.as_str()).collect());
        g.seed("referrals_by_outcome", vec!["sent", "accepted", "declined", "completed"]);
        g.seed("screenings_by_result", Vec::new());
        // In SINGLES order: total, needs_review, inactive, unanswered_referrals.
        let mut singles: [Vec<Item>; 4] = Default::default();

        let end = query.to.unwrap_or(query.today);
        let end_month = end.year() * 12 + end.month0() as i32;
        let months: Vec<String> = (0..12)
            .rev()
            .map(|back| {
                let month = end_month - back;
                format!("{:04}-{:02}", month.div_euclid(12), month.rem_euclid(12) + 1)
            })
            .collect();
        for month in &months {
            g.bucket("new_per_month", month);
        }
        let inactive_before = query.today - chrono::Duration::days(i64::from(query.inactive_days));
        let unanswered_ms = i64::from(query.unanswered_days) * 86_400_000;
        let today_end_ms = (query.today + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis();
        let mut accept_days = Vec::new();

        for (index, case) in facts.iter().enumerate() {
            if !query.of_team(case) {
                continue;
            }
            let item = Item { case: index as u32, entry: None };
            let registered = case.registered_on;
            let month = registered.year() * 12 + registered.month0() as i32;
            if (end_month - 11..=end_month).contains(&month) {
                g.push("new_per_month", &months[(month - end_month + 11) as usize], item);
            }
            if query.in_period(registered) {
                singles[0].push(item);
                g.push("by_status", case.status.as_str(), item);
                g.push("by_identification", case.identification.map_or("not_recorded", |v| v.as_str()), item);
                g.push("by_sex", case.sex.map_or("not_recorded", |v| v.as_str()), item);
                g.push("by_age_band", case.age_band.as_str(), item);
                g.push("by_nationality", case.nationality.as_ref().map_or("not_recorded", |v| v.as_str()), item);
                g.push("by_exploitation", case.form(), item);
                g.push("by_labour_sector", case.sector(), item);
                g.push("by_team", case.team.as_deref().unwrap_or("no_team"), item);
                if case.needs_review {
                    singles[1].push(item);
                }
                let open = !matches!(case.status, CaseStatus::Closed | CaseStatus::ClosedReferred);
                if open && day_of_ms(case.updated_ms) < inactive_before {
                    singles[2].push(item);
                }
            }
            for referral in &case.referrals {
                if !query.in_period(day_of_ms(referral.sent_ms)) {
                    continue;
                }
                let item = Item { case: index as u32, entry: Some(referral.id) };
                g.push("referrals_by_type", referral.service_type.as_str(), item);
                g.push("referrals_by_outcome", referral.status.as_str(), item);
                if referral.status == ReferralStatus::Sent && today_end_ms - referral.sent_ms > unanswered_ms {
                    singles[3].push(item);
                }
                if let Some(accepted) = referral.accepted_ms {
                    accept_days.push((accepted - referral.sent_ms) as f64 / 86_400_000.0);
                }
            }
            for screening in &case.screenings {
                if query.in_period(day_of_ms(screening.recorded_ms)) {
                    let item = Item { case: index as u32, entry: Some(screening.id) };
                    g.push("screenings_by_result", screening.level.as_deref().unwrap_or("not_recorded"), item);
                }
            }
        }

        let mut figures = Figures { referral_median_days_to_accept: median(&mut accept_days), ..Figures::default() };
        for (name, items) in SINGLES.iter().zip(singles) {
            figures.figures.insert((*name).to_owned(), items);
        }
        g.finish_order();
        let Groups { order, buckets, .. } = g;
        for ((group, values), found) in order.into_iter().zip(buckets) {
            let mut buckets: HashMap<&str, Vec<Item>> = found.into_iter().collect();
            let mut shown = Vec::with_capacity(values.len());
            for value in values {
                let items = buckets.remove(value.as_str()).unwrap_or_default();
                figures.figures.insert(format!("{group}.{value}"), items);
                shown.push(value);
            }
            figures.groups.push((group, shown));
        }
        figures
    }

    /// The number a figure shows, or `None` when there is no such figure.
    pub fn count(&self, key: &str) -> Option<usize> {
        self.figures.get(key).map(Vec::len)
    }

    /// What a figure counts.
    pub fn items(&self, key: &str) -> Option<&[Item]> {
        self.figures.get(key).map(Vec::as_slice)
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
}

/// Buckets of the groups while counting, keyed by strings borrowed from the facts. A group has
/// a few values to tens of them, so a bucket is found by a linear scan (a value coded by the
/// core is the same `&'static str` every time, compared by address first): over 100,000 cases
/// this counts several times faster than two hash lookups per figure.
#[derive(Default)]
struct Groups<'a> {
    order: Vec<(&'static str, Vec<String>)>,
    /// `buckets[group]`: each value found, with what it counts.
    buckets: Vec<Vec<(&'a str, Vec<Item>)>>,
    fixed: Vec<bool>,
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

impl<'a> Groups<'a> {
    /// A group; with values, they are always shown (zeros too) in this order; without, the
    /// values found are shown sorted.
    fn seed(&mut self, group: &'static str, values: Vec<&'a str>) {
        self.fixed.push(!values.is_empty());
        self.order.push((group, values.iter().map(|value| (*value).to_owned()).collect()));
        self.buckets.push(values.into_iter().map(|value| (value, Vec::new())).collect());
    }

    fn index(&self, group: &str) -> usize {
        self.order.iter().position(|(name, _)| same(name, group)).expect("seeded")
    }

    fn items(&mut self, group: &'static str, value: &'a str) -> &mut Vec<Item> {
        let index = self.index(group);
        let buckets = &mut self.buckets[index];
        let at = match buckets.iter().position(|(known, _)| same(known, value)) {
            Some(at) => at,
            None => {
                buckets.push((value, Vec::new()));
                buckets.len() - 1
            }
        };
        &mut buckets[at].1
    }

    fn bucket(&mut self, group: &'static str, value: &'a str) {
        self.items(group, value);
    }

    fn push(&mut self, group: &'static str, value: &'a str, item: Item) {
        self.items(group, value).push(item);
    }
}

impl Groups<'_> {
    fn finish_order(&mut self) {
        for ((_, values), (fixed, buckets)) in self.order.iter_mut().zip(self.fixed.iter().zip(&self.buckets)) {
            if !fixed {
                let mut found: Vec<String> = buckets.iter().map(|(value, _)| (*value).to_owned()).collect();
                found.sort();
                *values = found;
            }
        }
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

/// The figures computed over this laptop's cases, with the cases they count.
#[derive(Clone, Debug)]
pub struct Statistics {
    pub query: StatsQuery,
    pub figures: Figures,
    /// The `cases` row of each item's case.
    rowids: Vec<i64>,
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
        let rows = self.all_facts()?;
        let (rowids, facts): (Vec<i64>, Vec<CaseFacts>) = rows.into_iter().unzip();
        let figures = Figures::compute(&facts, query);
        let detail = format!(
            "from={} to={} team={}",
            query.from.map_or_else(String::new, |day| day.to_string()),
            query.to.map_or_else(String::new, |day| day.to_string()),
            if query.team.is_some() { "given" } else { "all" }
        );
        self.audit_now("stats.view", None, &detail)?;
        Ok(Statistics { query: query.clone(), figures, rowids })
    }

    /// The cases behind one figure of `stats` (its key, such as `by_sex.female`), one line per
    /// item: as many lines as the figure's number.
    pub fn drill_down(&self, stats: &Statistics, key: &str) -> Result<Vec<DrillRow>> {
        let items = stats.figures.items(key).ok_or_else(|| {
            Error::invalid(
                "figure",
                format!("\"{key}\" is not a figure; use a key shown by harbour stats --json, such as by_status.active"),
            )
        })?;
        let rowids: Vec<i64> = items.iter().map(|item| stats.rowids[item.case as usize]).collect();
        let cases = self.cases_by_rowid(&rowids)?;
        Ok(items
            .iter()
            .zip(cases)
            .map(|(item, (case_id, code, status))| DrillRow { case_id, code, status, entry: item.entry })
            .collect())
    }
}
