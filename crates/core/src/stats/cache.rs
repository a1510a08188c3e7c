//! The figures' view of every case, kept in memory after the first read: one fixed-size row
//! per case with its coded values as small integers (a position in the value list, or an id in
//! a table of the few names that are not a closed list: teams, nationalities, forms, sectors,
//! screening results), so that the dashboard counts into arrays instead of parsing 100,000 JSON
//! rows each time it is opened.
//!
//! The first read takes each case's stored compact row (`case_counts`, [`super::counted`]).
//! The rows are brought up to date before each use from the `case_counts` rows written since
//! (`store::facts` records which, with temporary triggers on this connection: every write path
//! is followed, the sync apply path included, without a call in any of them). Coded values and
//! dates only, never a name, a note or an answer; dropped with the workspace.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::ids::EntryId;
use crate::model::ReferralStatus;

/// No value recorded (a name id).
pub(crate) const NONE: u32 = u32::MAX;

/// The referral outcomes the figures show, in order; a referral's `status` is its position.
pub(crate) const REFERRAL_OUTCOMES: [ReferralStatus; 4] =
    [ReferralStatus::Sent, ReferralStatus::Accepted, ReferralStatus::Declined, ReferralStatus::Completed];

/// One case as the dashboard counts it (48 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CaseRow {
    /// Its row of `cases`.
    pub rowid: i64,
    pub registered: NaiveDate,
    /// The day it last changed.
    pub updated: NaiveDate,
    pub team: u32,
    pub nationality: u32,
    /// Its one form of exploitation and one labour sector (names: `multiple`, `none` …).
    pub form: u32,
    pub sector: u32,
    /// Position in `CaseStatus::ALL`.
    pub status: u8,
    /// Position in `IdentificationStatus::ALL`, or its length when not recorded.
    pub identification: u8,
    /// Position in `Sex::ALL`, or its length when not recorded.
    pub sex: u8,
    /// Position in `AgeBand::ALL`.
    pub age_band: u8,
    pub needs_review: bool,
    /// Referrals, screenings and services received, for the few cases that have some.
    pub entries: Option<Box<Entries>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entries {
    pub referrals: Box<[ReferralRow]>,
    pub screenings: Box<[ScreeningRow]>,
    pub services: Box<[ServiceRow]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReferralRow {
    pub id: EntryId,
    /// Position in `ServiceType::ALL`.
    pub service_type: u8,
    /// Position in [`REFERRAL_OUTCOMES`].
    pub status: u8,
    pub sent_ms: i64,
    pub accepted_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScreeningRow {
    pub id: EntryId,
    /// A name id (`not_recorded` when the screening has no level).
    pub level: u32,
    pub recorded_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServiceRow {
    /// Position in `ServiceType::ALL`.
    pub service_type: u8,
    pub from: NaiveDate,
    /// The day it ended, else the day it began.
    pub until: NaiveDate,
}

/// The names that are not closed lists, each stored once, by id.
#[derive(Debug, Default)]
pub(crate) struct Names {
    list: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Names {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.list.len() as u32;
        self.list.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.list[id as usize]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

/// Every case's row, in `cases` row order.
#[derive(Debug, Default)]
pub(crate) struct FactsCache {
    pub rows: Vec<CaseRow>,
    pub names: Names,
    /// Changes whenever a row does: figures computed at another generation may count other cases.
    pub generation: u64,
    /// The database's `data_version` when the rows were read (another connection's commit
    /// changes it), or `None` before the first read.
    pub data_version: Option<i64>,
}

impl FactsCache {
    /// Puts the row of the case at `rowid` (`None`: the case is gone).
    pub fn put(&mut self, rowid: i64, row: Option<CaseRow>) {
        match (self.rows.binary_search_by_key(&rowid, |row| row.rowid), row) {
            (Ok(at), Some(row)) => self.rows[at] = row,
            (Ok(at), None) => {
                self.rows.remove(at);
            }
            (Err(at), Some(row)) => self.rows.insert(at, row),
            (Err(_), None) => {}
        }
    }

    /// Forgets every row (the next use reads them all again).
    pub fn clear(&mut self) {
        *self = FactsCache { generation: self.generation + 1, ..FactsCache::default() };
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::{AgeBand, CaseFacts};
    use super::*;
    use crate::model::{CaseStatus, Country, ExploitationType, Sex};

    #[test]
    fn a_row_is_small_and_rows_stay_in_order() {
        assert!(std::mem::size_of::<CaseRow>() <= 48, "{}", std::mem::size_of::<CaseRow>());
        let mut cache = FactsCache::default();
        let facts = CaseFacts {
            team: Some("Clinic \"North\"".into()),
            status: CaseStatus::Active,
            needs_review: false,
            created_ms: 0,
            registered_on: NaiveDate::from_ymd_opt(2024, 2, 3).unwrap(),
            updated_ms: 86_400_000,
            identification: None,
            identified_on: None,
            sex: None,
            age_band: AgeBand::From18To20,
            nationality: Some(Country::parse("LC").unwrap()),
            exploitation: vec![ExploitationType::ForcedLabour, ExploitationType::SexualExploitation],
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
        };
        let row = cache.decode(7, &super::super::counted::encode(&facts)).expect("a stored row reads");
        assert_eq!(cache.names.name(row.team), "Clinic \"North\"");
        assert_eq!(cache.names.name(row.nationality), "LC");
        assert_eq!(cache.names.name(row.form), "sex_and_labour");
        assert_eq!(cache.names.name(row.sector), "none");
        assert_eq!(row.sex as usize, Sex::ALL.len(), "not recorded");
        assert_eq!(row.updated, NaiveDate::from_ymd_opt(1970, 1, 2).unwrap());
        assert!(row.entries.is_none());
        for rowid in [9, 3, 7] {
            cache.put(rowid, Some(CaseRow { rowid, ..row.clone() }));
        }
        cache.put(3, None);
        cache.put(7, Some(CaseRow { needs_review: true, ..row.clone() }));
        let order: Vec<(i64, bool)> = cache.rows.iter().map(|row| (row.rowid, row.needs_review)).collect();
        assert_eq!(order, [(7, true), (9, false)]);
        assert!(cache.decode(8, b"{not a row").is_none());
    }
}
