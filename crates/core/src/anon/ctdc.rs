//! The CTDC-coded anonymised data set (IOM's Counter Trafficking Data Collaborative): one row
//! per victim (identification status presumed or identified) with CTDC's variable names and
//! codings, and no name, id, place or date finer than a year.
//!
//! **k-anonymity over the whole released record.** Every column is a quasi-identifier: no
//! combination of released values may describe fewer than `k` people (11 by default, as
//! CTDC). It is reached in three steps:
//!
//! 1. *Generalisation* for the whole file (each column at one level): year → five-year period;
//!    age band → wider band; citizenship and country of exploitation → UN M49 intermediate
//!    region → sub-region → region; a column (or a group of flags) may finally be withheld
//!    whole (−99). Greedy: each step takes the column whose next level brings most people out
//!    of classes smaller than `k` for the information it costs (entropy lost; the cheapest
//!    step while none helps), until at most 10 % of the people are in small classes.
//! 2. *Suppression* of values in the records still in small classes: one column at a time
//!    (the one that brings most of them into a class of `k` or more) is set to −99 for them.
//! 3. *Withholding*: the records still in a small class when every value is suppressed.
//!
//! When `k` cannot be met without destroying the data — fewer than `k` victims, more than
//! 10 % of records withheld, or more than half of the known values lost — the record-level
//! file is refused and the aggregate tables are written instead, counts under `k` shown as
//! `<k` with complementary suppression ([`crate::stats::suppress`]).
//!
//! Rows are sorted by their released values, so their order says nothing about the cases.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use chrono::Datelike;
use serde::Serialize;

use super::regions::M49;
use crate::error::{Error, Result};
use crate::model::{ExploitationType, LabourSector, MeansOfControl, RecruiterRelation, RecruitmentMethod, Sex};
use crate::stats::facts::{AgeBand, CaseFacts};
use crate::stats::suppress::{self, Table};
use crate::store::Workspace;

/// CTDC's threshold: no combination of released values describes fewer people.
pub const DEFAULT_K: u64 = 11;

/// People left in small classes after generalisation that suppression may take care of.
const SUPPRESSION_BUDGET: f64 = 0.10;
/// More withheld records than this share, and the record-level file is refused.
const MAX_WITHHELD: f64 = 0.10;
/// More lost known values than this share, and the record-level file is refused.
const MAX_LOST: f64 = 0.50;

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CtdcExport {
    pub release: CtdcRelease,
    pub k: u64,
    /// Victims the data set is made from.
    pub people: usize,
    /// Data rows written (records, or table lines with their totals).
    pub rows: usize,
    /// Released cells that held a known value and were generalised (a year to a period …).
    pub generalised_values: usize,
    /// Cells that held a known value and are written as −99 (or, in tables, counts shown as `<k`).
    pub suppressed_values: usize,
    /// Released records with at least one value generalised or suppressed.
    pub changed_records: usize,
    /// Records left out because no suppression could hide them among `k` people.
    pub withheld_records: usize,
    /// Each column's level in the file (`citizenship: sub-region`).
    pub generalisations: Vec<String>,
    #[serde(skip)]
    pub content: String,
}

/// The record-level file, or the aggregate tables when it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CtdcRelease {
    Records,
    /// Refused: fewer victims than `k`.
    AggregatesTooFewPeople,
    /// Refused: more than a tenth of the records would be withheld.
    AggregatesTooManyWithheld,
    /// Refused: more than half of the known values would be lost.
    AggregatesTooMuchLost,
}

impl CtdcExport {
    /// Anonymises the victims among `facts` at threshold `k` (2 or more).
    pub fn compute(facts: &[CaseFacts], k: u64) -> Result<CtdcExport> {
        if k < 2 {
            return Err(Error::invalid("k", "use a k of 2 or more (11 by default, as CTDC)"));
        }
        let victims: Vec<&CaseFacts> = facts.iter().filter(|case| case.is_victim()).collect();
        let k32 = u32::try_from(k).unwrap_or(u32::MAX);
        if victims.len() < k as usize {
            return Ok(aggregates(&victims, k, CtdcRelease::AggregatesTooFewPeople));
        }
        let records: Vec<Raw> = victims.iter().map(|case| Raw::of(case)).collect();
        let plan = anonymise(&records, k32);
        let n = records.len();
        if plan.withheld.iter().filter(|withheld| **withheld).count() as f64 > MAX_WITHHELD * n as f64 {
            return Ok(aggregates(&victims, k, CtdcRelease::AggregatesTooManyWithheld));
        }
        let (known, lost) = plan.loss(&records);
        if lost as f64 > MAX_LOST * known as f64 {
            return Ok(aggregates(&victims, k, CtdcRelease::AggregatesTooMuchLost));
        }
        Ok(plan.render(&records, k))
    }
}

impl Workspace {
    /// Writes the CTDC data set (or its aggregate tables) to the new file `out`, in clear: it holds no name,
    /// id, place or date finer than a year, and no combination of values describing fewer
    /// than `k` people. One `export.ctdc` audit entry says what was written and how much.
    pub fn export_ctdc(&mut self, out: &Path, k: u64) -> Result<CtdcExport> {
        let facts: Vec<CaseFacts> = self.all_facts()?.into_iter().map(|(_, facts)| facts).collect();
        let export = CtdcExport::compute(&facts, k)?;
        // A new file, never a replaced one (as every export), removed if writing fails.
        let mut sink = crate::export::protect::Sink::create(out, &crate::export::Protection::Plaintext)?;
        std::io::Write::write_all(&mut sink, export.content.as_bytes()).map_err(|error| Error::io(out, error))?;
        sink.finish()?;
        let release = match export.release {
            CtdcRelease::Records => "records",
            _ => "aggregates",
        };
        self.audit_now(
            "export.ctdc",
            None,
            &format!(
                "{release} k={} people={} rows={} suppressed={} withheld={}",
                export.k, export.people, export.rows, export.suppressed_values, export.withheld_records
            ),
        )?;
        Ok(export)
    }
}

// ---------------------------------------------------------------------------------------------
// The columns.

/// The released attributes; a group of flags is one attribute (generalised and suppressed whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attr {
    Year,
    Gender,
    Age,
    Majority,
    Citizenship,
    Exploitation,
    ExploitationType,
    MeansOfControl,
    Labour,
    Abduction,
    Recruiter,
}

const ATTRS: [Attr; 11] = [
    Attr::Year,
    Attr::Gender,
    Attr::Age,
    Attr::Majority,
    Attr::Citizenship,
    Attr::Exploitation,
    Attr::ExploitationType,
    Attr::MeansOfControl,
    Attr::Labour,
    Attr::Abduction,
    Attr::Recruiter,
];

/// Bits of each attribute in a record's key.
const WIDTH: [u32; 11] = [14, 2, 4, 2, 8, 8, 9, 19, 14, 2, 3];

const GENDERS: [&str; 3] = ["Woman", "Man", "Trans/Transgender/NonConforming"];
const MAJORITY: [&str; 2] = ["Adult", "Minor"];
const WIDE_AGES: [&str; 4] = ["0--17", "18--29", "30--47", "48+"];
const RECRUITERS: [&str; 5] = ["Intimate Partner", "Friend", "Family/Relative", "Other", "Unknown"];
const MISSING: &str = "-99";

impl Attr {
    /// The names of the levels, the last being "withheld" (−99).
    fn levels(self) -> &'static [&'static str] {
        match self {
            Attr::Year => &["year", "five-year period", "withheld"],
            Attr::Age => &["CTDC age band", "wide age band", "withheld"],
            Attr::Citizenship | Attr::Exploitation => {
                &["country", "M49 intermediate region", "M49 sub-region", "M49 region", "withheld"]
            }
            _ => &["as recorded", "withheld"],
        }
    }

    fn top(self) -> usize {
        self.levels().len() - 1
    }

    fn name(self) -> &'static str {
        match self {
            Attr::Year => "yearOfRegistration",
            Attr::Gender => "gender",
            Attr::Age => "ageBroad",
            Attr::Majority => "majorityStatus",
            Attr::Citizenship => "citizenship",
            Attr::Exploitation => "CountryOfExploitation",
            Attr::ExploitationType => "typeOfExploit",
            Attr::MeansOfControl => "meansOfControl",
            Attr::Labour => "typeOfLabour",
            Attr::Abduction => "isAbduction",
            Attr::Recruiter => "RecruiterRelationship",
        }
    }

    /// The CSV columns this attribute writes.
    fn columns(self) -> Vec<String> {
        match self {
            Attr::ExploitationType => ExploitationType::ALL.iter().map(|v| v.standard_code().to_owned()).collect(),
            Attr::MeansOfControl => {
                let mut columns: Vec<String> =
                    MeansOfControl::ALL.iter().map(|v| v.standard_code().to_owned()).collect();
                columns.push("meansOfControlNotSpecified".into());
                columns
            }
            Attr::Labour => LabourSector::ALL.iter().map(|v| v.standard_code().to_owned()).collect(),
            Attr::Recruiter => {
                let mut columns = vec!["RecruiterRelationship".to_owned()];
                columns.extend(RecruiterRelation::ALL.iter().map(|v| v.standard_code().to_owned()));
                columns
            }
            other => vec![other.name().to_owned()],
        }
    }

    /// The code of a raw value at `level`; 0 is missing or withheld.
    fn generalise(self, raw: u32, level: usize) -> u32 {
        if raw == 0 || level >= self.top() {
            return 0;
        }
        match (self, level) {
            (_, 0) => raw,
            (Attr::Year, _) => raw / 5,
            (Attr::Age, _) => match raw {
                1 | 2 => 1,
                3..=6 => 2,
                7 | 8 => 3,
                _ => 4,
            },
            (Attr::Citizenship | Attr::Exploitation, level) => Regions::get().code(raw, level),
            _ => raw,
        }
    }

    /// The CSV cells of a code at `level` (code 0: every cell −99).
    fn cells(self, code: u32, level: usize) -> Vec<String> {
        let width = self.columns().len();
        if code == 0 {
            return vec![MISSING.to_owned(); width];
        }
        let flags = |mask: u32| (0..width).map(|bit| ((mask >> bit) & 1).to_string()).collect();
        match (self, level) {
            (Attr::Year, 0) => vec![code.to_string()],
            (Attr::Year, _) => vec![format!("{}--{}", code * 5, code * 5 + 4)],
            (Attr::Gender, _) => vec![GENDERS[code as usize - 1].to_owned()],
            (Attr::Age, 0) => vec![AgeBand::ALL[code as usize - 1].ctdc_code().to_owned()],
            (Attr::Age, _) => vec![WIDE_AGES[code as usize - 1].to_owned()],
            (Attr::Majority, _) => vec![MAJORITY[code as usize - 1].to_owned()],
            (Attr::Citizenship | Attr::Exploitation, level) => vec![Regions::get().name(code, level).to_owned()],
            (Attr::ExploitationType | Attr::MeansOfControl | Attr::Labour, _) => flags(code - 1),
            (Attr::Abduction, _) => vec![(code - 1).to_string()],
            (Attr::Recruiter, _) => {
                let mut cells = vec![RECRUITERS[code as usize - 1].to_owned()];
                cells.extend((1..width as u32).map(|index| u32::from(index == code).to_string()));
                cells
            }
        }
    }
}

/// A victim's values as small numbers, 0 when not recorded.
struct Raw([u32; 11]);

impl Raw {
    fn of(case: &CaseFacts) -> Raw {
        let mask = |bits: &mut dyn Iterator<Item = usize>| bits.fold(0u32, |mask, bit| mask | (1 << bit)) + 1;
        let country = |code: Option<&crate::model::Country>| {
            code.and_then(|country| M49.binary_search_by(|row| row.0.cmp(country.as_str())).ok())
                .map_or(0, |index| index as u32 + 1)
        };
        let gender = match case.sex {
            Some(Sex::Female) => 1,
            Some(Sex::Male) => 2,
            Some(Sex::TransgenderNonConforming) => 3,
            Some(Sex::Unknown) | None => 0,
        };
        let age = match case.age_band {
            AgeBand::Unknown => 0,
            band => position(AgeBand::ALL, band) as u32 + 1,
        };
        let majority = match case.age_band.is_minor() {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        let exploitation = if case.exploitation.is_empty() {
            0
        } else {
            mask(&mut case.exploitation.iter().map(|kind| position(ExploitationType::ALL, *kind)))
        };
        // Nothing recorded is CTDC's "not specified" (the flag after the 17 named ones).
        let control = if case.means_of_control.is_empty() {
            mask(&mut std::iter::once(MeansOfControl::ALL.len()))
        } else {
            mask(&mut case.means_of_control.iter().map(|means| position(MeansOfControl::ALL, *means)))
        };
        let labour = if case.sectors.is_empty() {
            0
        } else {
            mask(&mut case.sectors.iter().map(|sector| position(LabourSector::ALL, *sector)))
        };
        let abduction = match case.recruitment_methods.as_slice() {
            [] => 0,
            methods => 1 + u32::from(methods.contains(&RecruitmentMethod::Abduction)),
        };
        let recruiter =
            case.recruiter_relation.map_or(0, |relation| position(RecruiterRelation::ALL, relation) as u32 + 1);
        Raw([
            case.registered_on.year().clamp(1, 9999) as u32,
            gender,
            age,
            majority,
            country(case.nationality.as_ref()),
            country(case.country_of_exploitation.as_ref()),
            exploitation,
            control,
            labour,
            abduction,
            recruiter,
        ])
    }
}

/// Where `value` stands in `all` (every coded list holds all its values).
fn position<T: PartialEq + Copy>(all: &[T], value: T) -> usize {
    all.iter().position(|known| *known == value).unwrap_or(0)
}

/// The M49 names at each level, numbered, for codes.
struct Regions {
    /// For each level 1..=3: each country's region number (1-based), and the names.
    codes: [Vec<u32>; 3],
    names: [Vec<&'static str>; 3],
}

impl Regions {
    fn get() -> &'static Regions {
        static REGIONS: std::sync::OnceLock<Regions> = std::sync::OnceLock::new();
        REGIONS.get_or_init(|| {
            let mut codes: [Vec<u32>; 3] = Default::default();
            let mut names: [Vec<&'static str>; 3] = Default::default();
            for &(_, intermediate, sub, region) in M49 {
                for (level, name) in [intermediate, sub, region].into_iter().enumerate() {
                    let number = match names[level].iter().position(|known| *known == name) {
                        Some(index) => index,
                        None => {
                            names[level].push(name);
                            names[level].len() - 1
                        }
                    };
                    codes[level].push(number as u32 + 1);
                }
            }
            Regions { codes, names }
        })
    }

    fn code(&self, country: u32, level: usize) -> u32 {
        self.codes[level - 1][country as usize - 1]
    }

    fn name(&self, code: u32, level: usize) -> &'static str {
        if level == 0 { M49[code as usize - 1].0 } else { self.names[level - 1][code as usize - 1] }
    }
}

// ---------------------------------------------------------------------------------------------
// k-anonymity.

/// A fast, non-cryptographic hasher for the records' keys (the keys are not chosen by anyone).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*byte)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u128(&mut self, value: u128) {
        let folded = (value as u64) ^ ((value >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = (self.0 ^ folded).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Counts = HashMap<u128, u32, BuildHasherDefault<KeyHasher>>;

/// How the file is made: each attribute's level, the values suppressed in each record
/// (a bit per attribute), and the records withheld.
struct Plan {
    levels: [usize; 11],
    suppressed: Vec<u16>,
    withheld: Vec<bool>,
}

fn key(raw: &Raw, levels: &[usize; 11], suppressed: u16) -> u128 {
    let mut key = 0u128;
    for (index, attr) in ATTRS.iter().enumerate() {
        let code = if suppressed & (1 << index) != 0 { 0 } else { attr.generalise(raw.0[index], levels[index]) };
        key = (key << WIDTH[index]) | u128::from(code);
    }
    key
}

fn count(keys: impl Iterator<Item = u128>) -> Counts {
    let mut counts = Counts::default();
    for key in keys {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn anonymise(records: &[Raw], k: u32) -> Plan {
    let n = records.len();
    let mut levels = [0usize; 11];
    let small_people = |levels: &[usize; 11]| -> usize {
        let keys: Vec<u128> = records.iter().map(|raw| key(raw, levels, 0)).collect();
        let counts = count(keys.iter().copied());
        keys.iter().filter(|key| counts[key] < k).count()
    };
    // What each column tells at each level (Shannon entropy, in bits): a step's cost.
    let entropy: Vec<Vec<f64>> = (0..ATTRS.len())
        .map(|index| {
            (0..=ATTRS[index].top())
                .map(|level| {
                    let counts =
                        count(records.iter().map(|raw| u128::from(ATTRS[index].generalise(raw.0[index], level))));
                    counts.values().map(|&c| c as f64 / n as f64).map(|p| -p * p.log2()).sum()
                })
                .collect()
        })
        .collect();
    let mut small = small_people(&levels);
    // 1. Generalisation, one column one level at a time: the step that brings most people out
    // of small classes for what it costs in information (the cheapest, while none does).
    while small as f64 > SUPPRESSION_BUDGET * n as f64 {
        let best = (0..ATTRS.len())
            .filter(|&index| levels[index] < ATTRS[index].top())
            .map(|index| {
                let mut next = levels;
                next[index] += 1;
                let after = small_people(&next);
                let cost = (entropy[index][levels[index]] - entropy[index][next[index]]).max(0.0);
                let gain = small.saturating_sub(after) as f64;
                ((gain + 0.5) / (cost + 0.01), -cost, after, next)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let Some((_, _, after, next)) = best else { break };
        levels = next;
        small = after;
    }
    // 2. Suppression in the records still in small classes, one column at a time.
    let mut suppressed = vec![0u16; n];
    let mut keys: Vec<u128> = records.iter().map(|raw| key(raw, &levels, 0)).collect();
    let mut counts = count(keys.iter().copied());
    let mut pending: Vec<usize> = (0..n).filter(|&index| counts[&keys[index]] < k).collect();
    let mut done = 0u16;
    while !pending.is_empty() && done != (1 << ATTRS.len()) - 1 {
        let mut settled = counts.clone();
        for &index in &pending {
            let entry = settled.get_mut(&keys[index]).expect("counted");
            *entry -= 1;
        }
        let rescued = |attr: usize| -> usize {
            let moved: Vec<u128> =
                pending.iter().map(|&index| key(&records[index], &levels, suppressed[index] | (1 << attr))).collect();
            let mut after = settled.clone();
            for key in &moved {
                *after.entry(*key).or_insert(0) += 1;
            }
            moved.iter().filter(|key| after[key] >= k).count()
        };
        let best = (0..ATTRS.len())
            .filter(|&attr| done & (1 << attr) == 0)
            .map(|attr| (rescued(attr), attr))
            .max_by_key(|(rescued, attr)| (*rescued, std::cmp::Reverse(*attr)));
        let Some((_, attr)) = best else { break };
        done |= 1 << attr;
        for &index in &pending {
            suppressed[index] |= 1 << attr;
            keys[index] = key(&records[index], &levels, suppressed[index]);
        }
        counts = count(keys.iter().copied());
        pending.retain(|&index| counts[&keys[index]] < k);
    }
    // 3. What no suppression could hide is withheld.
    let mut withheld = vec![false; n];
    for index in pending {
        withheld[index] = true;
    }
    Plan { levels, suppressed, withheld }
}

impl Plan {
    fn code(&self, raw: &Raw, record: usize, attr: usize) -> u32 {
        if self.suppressed[record] & (1 << attr) != 0 {
            0
        } else {
            ATTRS[attr].generalise(raw.0[attr], self.levels[attr])
        }
    }

    /// Known values (attributes recorded), and how many of them the file would lose.
    fn loss(&self, records: &[Raw]) -> (usize, usize) {
        let (mut known, mut lost) = (0, 0);
        for (record, raw) in records.iter().enumerate() {
            for attr in 0..ATTRS.len() {
                if raw.0[attr] != 0 {
                    known += 1;
                    if self.withheld[record] || self.code(raw, record, attr) == 0 {
                        lost += 1;
                    }
                }
            }
        }
        (known, lost)
    }

    fn render(&self, records: &[Raw], k: u64) -> CtdcExport {
        let mut header: Vec<String> = vec![Attr::Year.name().into(), "Datasource".into()];
        for attr in &ATTRS[1..] {
            header.extend(attr.columns());
        }
        let (mut generalised, mut suppressed, mut changed, mut withheld) = (0, 0, 0, 0);
        let mut rows: Vec<Vec<String>> = Vec::with_capacity(records.len());
        for (record, raw) in records.iter().enumerate() {
            if self.withheld[record] {
                withheld += 1;
                continue;
            }
            let mut row = Vec::with_capacity(header.len());
            let mut touched = false;
            for (index, attr) in ATTRS.iter().enumerate() {
                let code = self.code(raw, record, index);
                let cells = attr.cells(code, self.levels[index]);
                if raw.0[index] != 0 {
                    if code == 0 {
                        suppressed += cells.len();
                        touched = true;
                    } else if self.levels[index] > 0 {
                        generalised += cells.len();
                        touched = true;
                    }
                }
                row.extend(cells);
                if index == 0 {
                    row.push("Case Management".into());
                }
            }
            changed += usize::from(touched);
            rows.push(row);
        }
        rows.sort_unstable();
        let mut content = suppress::csv_line(&header);
        for row in &rows {
            content.push_str(&suppress::csv_line(row));
        }
        CtdcExport {
            release: CtdcRelease::Records,
            k,
            people: records.len(),
            rows: rows.len(),
            generalised_values: generalised,
            suppressed_values: suppressed,
            changed_records: changed,
            withheld_records: withheld,
            generalisations: ATTRS
                .iter()
                .zip(self.levels)
                .map(|(attr, level)| format!("{}: {}", attr.name(), attr.levels()[level]))
                .collect(),
            content,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The aggregate tables, when the record-level file is refused.

fn aggregates(victims: &[&CaseFacts], k: u64, release: CtdcRelease) -> CtdcExport {
    let records: Vec<Raw> = victims.iter().map(|case| Raw::of(case)).collect();
    let genders: Vec<String> = GENDERS.iter().map(|g| (*g).to_owned()).chain([MISSING.to_owned()]).collect();
    let gender_column = |raw: &Raw| if raw.0[1] == 0 { GENDERS.len() } else { raw.0[1] as usize - 1 };
    // A table of people by one attribute's values (rows) and gender (columns); `rows_of` gives
    // the rows a person counts in (several for flags).
    let by_gender = |id: &str, title: &str, row_header: &str, rows_of: &dyn Fn(&Raw) -> Vec<String>| {
        let mut names: Vec<String> = Vec::new();
        let mut cells: Vec<Vec<u64>> = Vec::new();
        for raw in &records {
            for row in rows_of(raw) {
                let index = match names.iter().position(|known| *known == row) {
                    Some(index) => index,
                    None => {
                        names.push(row);
                        cells.push(vec![0; genders.len()]);
                        names.len() - 1
                    }
                };
                cells[index][gender_column(raw)] += 1;
            }
        }
        if names.is_empty() {
            names.push(MISSING.to_owned());
            cells.push(vec![0; genders.len()]);
        }
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|a, b| names[*a].cmp(&names[*b]));
        Table {
            id: id.to_owned(),
            title: title.to_owned(),
            row_header: row_header.to_owned(),
            rows: order.iter().map(|&index| names[index].clone()).collect(),
            columns: genders.clone(),
            cells: order.iter().map(|&index| cells[index].clone()).collect(),
        }
    };
    let single = |attr: Attr, level: usize| {
        move |raw: &Raw| -> Vec<String> {
            let index = ATTRS.iter().position(|known| *known == attr).expect("an attribute");
            vec![attr.cells(attr.generalise(raw.0[index], level), level).remove(0)]
        }
    };
    let flags = |attr: Attr| {
        move |raw: &Raw| -> Vec<String> {
            let index = ATTRS.iter().position(|known| *known == attr).expect("an attribute");
            let code = raw.0[index];
            if code == 0 {
                return vec![MISSING.to_owned()];
            }
            let columns = attr.columns();
            attr.cells(code, 0).iter().zip(columns).filter(|(cell, _)| *cell == "1").map(|(_, column)| column).collect()
        }
    };
    let tables = vec![
        by_gender("ctdc.age_by_gender", "Victims by age (ageBroad) and gender", "ageBroad", &single(Attr::Age, 0)),
        by_gender(
            "ctdc.year_by_gender",
            "Victims by year of registration and gender",
            "yearOfRegistration",
            &single(Attr::Year, 0),
        ),
        by_gender(
            "ctdc.citizenship_by_gender",
            "Victims by citizenship and gender",
            "citizenship",
            &single(Attr::Citizenship, 0),
        ),
        by_gender(
            "ctdc.country_of_exploitation_by_gender",
            "Victims by country of exploitation and gender",
            "CountryOfExploitation",
            &single(Attr::Exploitation, 0),
        ),
        by_gender(
            "ctdc.type_of_exploitation_by_gender",
            "Victims by type of exploitation and gender; a person counts under each type recorded, so the total counts mentions",
            "typeOfExploit",
            &flags(Attr::ExploitationType),
        ),
        by_gender(
            "ctdc.means_of_control_by_gender",
            "Victims by means of control and gender; a person counts under each means recorded, so the total counts mentions",
            "meansOfControl",
            &flags(Attr::MeansOfControl),
        ),
        by_gender(
            "ctdc.type_of_labour_by_gender",
            "Victims by labour sector and gender; a person counts under each sector recorded, so the total counts mentions",
            "typeOfLabour",
            &flags(Attr::Labour),
        ),
        by_gender(
            "ctdc.recruiter_relationship_by_gender",
            "Victims by their relationship to the recruiter and gender",
            "RecruiterRelationship",
            &single(Attr::Recruiter, 0),
        ),
    ];
    let hidden: usize = tables
        .iter()
        .map(|table| suppress::suppression_mask(table, k).iter().flatten().filter(|hide| **hide).count())
        .sum();
    let rows = tables.iter().map(|table| table.rows.len() + 1).sum();
    CtdcExport {
        release,
        k,
        people: victims.len(),
        rows,
        generalised_values: 0,
        suppressed_values: hidden,
        changed_records: 0,
        withheld_records: victims.len(),
        generalisations: Vec::new(),
        content: suppress::tables_csv(&tables, Some(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_has_its_regions_and_the_table_is_sorted() {
        assert_eq!(M49.len(), 249);
        assert!(M49.windows(2).all(|pair| pair[0].0 < pair[1].0));
        let lc = M49.binary_search_by(|row| row.0.cmp("LC")).unwrap() as u32 + 1;
        let regions = Regions::get();
        assert_eq!(regions.name(regions.code(lc, 1), 1), "Caribbean");
        assert_eq!(regions.name(regions.code(lc, 3), 3), "Americas");
        let widths: u32 = WIDTH.iter().sum();
        assert!(widths <= 128);
    }

    #[test]
    fn codes_fit_their_width() {
        assert!(ATTRS.iter().zip(WIDTH).all(|(attr, width)| {
            let biggest = match attr {
                Attr::Year => 9999,
                Attr::MeansOfControl => 1 << 18,
                Attr::Labour => 1 << 13,
                Attr::ExploitationType => 1 << 8,
                Attr::Citizenship | Attr::Exploitation => M49.len() as u32,
                Attr::Gender => GENDERS.len() as u32,
                Attr::Age => AgeBand::ALL.len() as u32 - 1,
                Attr::Majority | Attr::Abduction => 2,
                Attr::Recruiter => RECRUITERS.len() as u32,
            };
            biggest < (1 << width)
        }));
    }
}
