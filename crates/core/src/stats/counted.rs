//! The stored form of what the dashboard counts of a case (`case_counts.row`): a compact binary
//! row written with the case's facts, so that the first figures after an unlock read ~90 bytes
//! a case instead of parsing a ~260-byte JSON facts row (fewer pages to decrypt, nothing to
//! parse). Like the facts it is a cache, derived again from them whenever needed.
//!
//! Layout (little-endian): the format byte, the registration and last-change days (days since
//! 0001-01-01, `i32`), `needs_review` (`u8`), then the codes as their stored names (`u8` length
//! and bytes; empty = not recorded): status, identification, sex, age band, nationality, form of
//! exploitation, labour sector; the team (`u16` length, `u16::MAX` = none); the referrals (`u16`
//! count; each its id's 16 bytes, service type, status, sent and accepted times in ms as `i64`,
//! `i64::MIN` = not accepted) and the screenings (`u16` count; each its id, level as the team,
//! recorded time), then (format 2) the services received (`u16` count; each its service type,
//! first and last day as `i32`, `i32::MIN` = no end recorded). Names, never positions in a list:
//! a list that gains a value in the middle does not change what a stored row means.
//!
//! Format 1 (schema 7) had no services: such a row still reads, as a case with none (which is
//! what its facts said), and schema 8 wrote every row again in format 2 from facts that count
//! them.

use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use super::cache::{CaseRow, Entries, FactsCache, NONE, REFERRAL_OUTCOMES, ReferralRow, ScreeningRow, ServiceRow};
use super::facts::{AgeBand, CaseFacts, day_of_ms};
use crate::ids::EntryId;
use crate::model::{CaseStatus, IdentificationStatus, ServiceType, Sex};

/// The layout above, with the services received; a row of an unknown format is not read.
const FORMAT: u8 = 2;
/// The layout of schema 7: the same without the services received.
const FORMAT_WITHOUT_SERVICES: u8 = 1;
const ABSENT: u16 = u16::MAX;

/// The stored row of `facts`.
pub(crate) fn encode(facts: &CaseFacts) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT);
    out.extend_from_slice(&facts.registered_on.num_days_from_ce().to_le_bytes());
    out.extend_from_slice(&day_of_ms(facts.updated_ms).num_days_from_ce().to_le_bytes());
    out.push(u8::from(facts.needs_review));
    short(&mut out, facts.status.as_str());
    short(&mut out, facts.identification.map_or("", |value| value.as_str()));
    short(&mut out, facts.sex.map_or("", |value| value.as_str()));
    short(&mut out, facts.age_band.as_str());
    short(&mut out, facts.nationality.as_ref().map_or("", |country| country.as_str()));
    short(&mut out, facts.form());
    short(&mut out, facts.sector());
    long(&mut out, facts.team.as_deref());
    out.extend_from_slice(&(facts.referrals.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
    for referral in facts.referrals.iter().take(usize::from(u16::MAX)) {
        out.extend_from_slice(referral.id.0.as_bytes());
        short(&mut out, referral.service_type.as_str());
        short(&mut out, referral.status.as_str());
        out.extend_from_slice(&referral.sent_ms.to_le_bytes());
        out.extend_from_slice(&referral.accepted_ms.unwrap_or(i64::MIN).to_le_bytes());
    }
    out.extend_from_slice(&(facts.screenings.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
    for screening in facts.screenings.iter().take(usize::from(u16::MAX)) {
        out.extend_from_slice(screening.id.0.as_bytes());
        long(&mut out, screening.level.as_deref());
        out.extend_from_slice(&screening.recorded_ms.to_le_bytes());
    }
    out.extend_from_slice(&(facts.services.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
    for service in facts.services.iter().take(usize::from(u16::MAX)) {
        short(&mut out, service.service_type.as_str());
        out.extend_from_slice(&service.from.num_days_from_ce().to_le_bytes());
        out.extend_from_slice(&service.until.map_or(i32::MIN, |day| day.num_days_from_ce()).to_le_bytes());
    }
    out
}

/// A code's name (at most 255 bytes: every code is a few letters).
fn short(out: &mut Vec<u8>, text: &str) {
    let bytes = &text.as_bytes()[..text.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// A name that may be absent (a team, a screening level), cut at a character boundary below
/// 65,535 bytes (teams and levels are short).
fn long(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.extend_from_slice(&ABSENT.to_le_bytes()),
        Some(text) => {
            let mut end = text.len().min(usize::from(ABSENT) - 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&(end as u16).to_le_bytes());
            out.extend_from_slice(&text.as_bytes()[..end]);
        }
    }
}

/// Reads a stored row, front to back; `None` as soon as it runs short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if self.0.len() < count {
            return None;
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|bytes| u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self) -> Option<i32> {
        self.take(4).and_then(|bytes| bytes.try_into().ok()).map(i32::from_le_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.take(8).and_then(|bytes| bytes.try_into().ok()).map(i64::from_le_bytes)
    }

    fn day(&mut self) -> Option<NaiveDate> {
        NaiveDate::from_num_days_from_ce_opt(self.i32()?)
    }

    fn short(&mut self) -> Option<&'a str> {
        let length = self.u8()?;
        std::str::from_utf8(self.take(usize::from(length))?).ok()
    }

    fn long(&mut self) -> Option<Option<&'a str>> {
        match self.u16()? {
            ABSENT => Some(None),
            length => std::str::from_utf8(self.take(usize::from(length))?).ok().map(Some),
        }
    }

    fn id(&mut self) -> Option<EntryId> {
        Some(EntryId(Uuid::from_bytes(self.take(16)?.try_into().ok()?)))
    }
}

/// The position of the value named `name` in `all`: `all.len()` when the name is empty (not
/// recorded), `None` when no value has that name.
fn code<T: Copy>(all: &[T], name: &str, as_str: fn(T) -> &'static str) -> Option<u8> {
    if name.is_empty() {
        return Some(all.len() as u8);
    }
    all.iter().position(|value| as_str(*value) == name).map(|at| at as u8)
}

impl FactsCache {
    /// The row of a stored `case_counts` row, or `None` when it cannot be read.
    pub fn decode(&mut self, rowid: i64, stored: &[u8]) -> Option<CaseRow> {
        let mut reader = Reader(stored);
        let format = reader.u8()?;
        if format != FORMAT && format != FORMAT_WITHOUT_SERVICES {
            return None;
        }
        let registered = reader.day()?;
        let updated = reader.day()?;
        let needs_review = reader.u8()? != 0;
        let status = code(CaseStatus::ALL, reader.short()?, CaseStatus::as_str)
            .filter(|at| usize::from(*at) < CaseStatus::ALL.len())?;
        let identification = code(IdentificationStatus::ALL, reader.short()?, IdentificationStatus::as_str)?;
        let sex = code(Sex::ALL, reader.short()?, Sex::as_str)?;
        let age_band =
            code(AgeBand::ALL, reader.short()?, AgeBand::as_str).filter(|at| usize::from(*at) < AgeBand::ALL.len())?;
        let names = &mut self.names;
        let nationality = match reader.short()? {
            "" => NONE,
            code => names.intern(code),
        };
        let form = names.intern(reader.short()?);
        let sector = names.intern(reader.short()?);
        let team = reader.long()?.map_or(NONE, |team| names.intern(team));
        let referrals = (0..reader.u16()?)
            .map(|_| {
                Some(ReferralRow {
                    id: reader.id()?,
                    service_type: code(ServiceType::ALL, reader.short()?, ServiceType::as_str)?,
                    status: code(&REFERRAL_OUTCOMES, reader.short()?, |status| status.as_str())?,
                    sent_ms: reader.i64()?,
                    accepted_ms: Some(reader.i64()?).filter(|ms| *ms != i64::MIN),
                })
            })
            .collect::<Option<Box<[ReferralRow]>>>()?;
        let screenings = (0..reader.u16()?)
            .map(|_| {
                Some(ScreeningRow {
                    id: reader.id()?,
                    level: names.intern(reader.long()?.unwrap_or("not_recorded")),
                    recorded_ms: reader.i64()?,
                })
            })
            .collect::<Option<Box<[ScreeningRow]>>>()?;
        let services = if format == FORMAT_WITHOUT_SERVICES {
            Box::default()
        } else {
            (0..reader.u16()?)
                .map(|_| {
                    let service_type = code(ServiceType::ALL, reader.short()?, ServiceType::as_str)
                        .filter(|at| usize::from(*at) < ServiceType::ALL.len())?;
                    let from = reader.day()?;
                    let until = match reader.i32()? {
                        i32::MIN => from,
                        days => NaiveDate::from_num_days_from_ce_opt(days)?,
                    };
                    Some(ServiceRow { service_type, from, until })
                })
                .collect::<Option<Box<[ServiceRow]>>>()?
        };
        if !reader.0.is_empty() {
            return None;
        }
        let entries = (!referrals.is_empty() || !screenings.is_empty() || !services.is_empty())
            .then(|| Box::new(Entries { referrals, screenings, services }));
        Some(CaseRow {
            rowid,
            registered,
            updated,
            team,
            nationality,
            form,
            sector,
            status,
            identification,
            sex,
            age_band,
            needs_review,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::ServiceFact;
    use super::*;

    fn facts(services: Vec<ServiceFact>) -> CaseFacts {
        CaseFacts {
            team: None,
            status: CaseStatus::Active,
            needs_review: false,
            created_ms: 0,
            registered_on: NaiveDate::from_ymd_opt(2024, 2, 3).unwrap(),
            updated_ms: 0,
            identification: Some(IdentificationStatus::Identified),
            identified_on: None,
            sex: Some(Sex::Female),
            age_band: AgeBand::Unknown,
            nationality: None,
            exploitation: Vec::new(),
            sectors: Vec::new(),
            means_of_control: Vec::new(),
            country_of_exploitation: None,
            recruiter_relation: None,
            recruitment_methods: Vec::new(),
            referrals: Vec::new(),
            screenings: Vec::new(),
            justice: Vec::new(),
            perpetrators: Vec::new(),
            services,
        }
    }

    #[test]
    fn services_are_carried_and_a_row_of_schema_7_still_reads() {
        let day = |d| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        let services = vec![
            ServiceFact { id: EntryId::new(), service_type: ServiceType::Shelter, from: day(1), until: Some(day(20)) },
            ServiceFact { id: EntryId::new(), service_type: ServiceType::ReturnAssistance, from: day(5), until: None },
        ];
        // A JSON facts row written before services were counted has no such field: none.
        let mut older = serde_json::to_value(facts(services.clone())).unwrap();
        older.as_object_mut().unwrap().remove("services").expect("services are written");
        assert_eq!(serde_json::from_value::<CaseFacts>(older).unwrap(), facts(Vec::new()));
        let stored = encode(&facts(services));
        assert_eq!(stored[0], FORMAT);
        let mut cache = FactsCache::default();
        let row = cache.decode(1, &stored).expect("a format 2 row reads");
        let read: Vec<(ServiceType, NaiveDate, NaiveDate)> = row
            .entries
            .expect("services are entries")
            .services
            .iter()
            .map(|service| (ServiceType::ALL[usize::from(service.service_type)], service.from, service.until))
            .collect();
        assert_eq!(
            read,
            [(ServiceType::Shelter, day(1), day(20)), (ServiceType::ReturnAssistance, day(5), day(5))],
            "a service without an end lasts its first day"
        );

        // What schema 7 wrote for the same case: format 1, no services section.
        let mut old = encode(&facts(Vec::new()));
        assert_eq!(old.split_off(old.len() - 2), [0, 0], "an empty services section ends the row");
        old[0] = FORMAT_WITHOUT_SERVICES;
        let row = cache.decode(2, &old).expect("a format 1 row still reads");
        assert!(row.entries.is_none(), "a format 1 row has no services");
        assert_eq!(row.identification as usize, 2, "the rest of the row reads as before");
        // A format 2 row cut before its services, and an unknown format, are refused.
        let mut cut = old.clone();
        cut[0] = FORMAT;
        assert!(cache.decode(3, &cut).is_none());
        old[0] = 3;
        assert!(cache.decode(4, &old).is_none());
    }
}
