//! Cases leaving Harbour on purpose: a spreadsheet of cases for the ministry's analyst, with
//! optional sheets for referrals, screenings and justice steps and a data dictionary.
//!
//! An export is identifiable, so it is encrypted to a passphrase by default ([`protect`]: the
//! age format) and written in clear only when the person asks (`Protection::Plaintext`). The
//! clear text exists only in memory: the file is encrypted as it is written. Every export is one
//! `export.cases` audit entry saying its format, protection and how many rows of each sheet.
//!
//! Formats: a ZIP archive of CSV files (`cases.csv`, the optional sheets, `dictionary.csv`;
//! UTF-8 with a byte-order mark so Excel reads accents, CRLF lines, formula-like cells made
//! inert), or an XLSX workbook with the same sheets (cells written as text, never formulas).

pub mod protect;
pub mod sheets;
mod write;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

pub use protect::{Protection, open_export, write_new};
pub use sheets::Sheet;

use crate::error::{Error, Result};
use crate::model::{CaseStatus, IdentificationStatus};
use crate::store::Workspace;
use sheets::ExportedCase;

/// Which cases an export holds.
#[derive(Clone, Debug, Default)]
pub struct ExportQuery {
    pub status: Option<CaseStatus>,
    pub team: Option<String>,
    /// Cases registered (intake date, else recorded) on or after this day.
    pub from: Option<NaiveDate>,
    /// Cases registered on or before this day.
    pub to: Option<NaiveDate>,
    pub identification: Option<Identification>,
}

/// The identification filter: a status, or cases where none is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identification {
    Status(IdentificationStatus),
    NotRecorded,
}

impl Identification {
    pub fn parse(text: &str) -> Result<Identification> {
        if text.trim().eq_ignore_ascii_case("not_recorded") {
            return Ok(Identification::NotRecorded);
        }
        IdentificationStatus::parse(text).map(Identification::Status).ok_or_else(|| {
            Error::invalid("identification", format!("use one of: {}, not_recorded", IdentificationStatus::allowed()))
        })
    }
}

/// An export's filters as a person gives them (`harbour export csv --status …`, the desktop's
/// Data screen): text, an empty one meaning no filter.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportFilters<'a> {
    pub status: Option<&'a str>,
    pub team: Option<&'a str>,
    /// The first day of the registration period, `YYYY-MM-DD`.
    pub from: Option<&'a str>,
    /// The last day of the registration period, `YYYY-MM-DD`.
    pub to: Option<&'a str>,
    /// An identification status, or `not_recorded`.
    pub identification: Option<&'a str>,
}

impl ExportQuery {
    /// Reads the filters as typed: each checked as its field would be (a refusal names the
    /// filter and what is allowed), and a period that ends before it starts refused.
    pub fn parse(filters: &ExportFilters<'_>) -> Result<ExportQuery> {
        fn given(text: Option<&str>) -> Option<&str> {
            text.map(str::trim).filter(|text| !text.is_empty())
        }
        let query = ExportQuery {
            status: given(filters.status).map(|text| crate::model::case::coded("status", text)).transpose()?,
            team: given(filters.team).map(str::to_owned),
            from: given(filters.from).map(|text| crate::model::values::parse_past_date("from", text)).transpose()?,
            to: given(filters.to).map(|text| day("to", text)).transpose()?,
            identification: given(filters.identification).map(Identification::parse).transpose()?,
        };
        if let (Some(from), Some(to)) = (query.from, query.to)
            && to < from
        {
            return Err(Error::invalid("to", "the end of the period is before its start"));
        }
        Ok(query)
    }
}

/// A day written `YYYY-MM-DD`.
fn day(field: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Error::refused(field, crate::model::Fault::NotADate, format!("\"{text}\" is not a date; use YYYY-MM-DD"))
    })
}

impl ExportQuery {
    fn keeps(&self, case: &ExportedCase) -> bool {
        let day = case.registered_on();
        self.from.is_none_or(|from| day >= from)
            && self.to.is_none_or(|to| day <= to)
            && match self.identification {
                None => true,
                Some(Identification::NotRecorded) => case.fields.identification_status.is_none(),
                Some(Identification::Status(status)) => case.fields.identification_status == Some(status),
            }
    }

    /// The names of the filters given (never their values), for the audit entry.
    fn filter_names(&self) -> Vec<&'static str> {
        [
            ("status", self.status.is_some()),
            ("team", self.team.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("identification", self.identification.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }
}

/// The file format of an export of cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// A ZIP archive of CSV files, one per sheet.
    CsvArchive,
    /// An XLSX workbook, one worksheet per sheet.
    Xlsx,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::CsvArchive => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ExportSummary {
    pub path: PathBuf,
    pub format: ExportFormat,
    pub encrypted: bool,
    /// Rows of each sheet written (the dictionary included), in the order written.
    pub sheets: Vec<(String, usize)>,
    /// Rows of the cases sheet.
    pub rows: usize,
}

/// The part of a stored projection an export shows. A projection is written
/// (`CaseState::without_entries_json`, as `CaseState`'s own order) with everything an export
/// shows first and the fields' version history after it (`conflicts`, then `heads`: most of
/// its bytes), so it is read up to its top-level `"conflicts"` key only: the one place that key
/// occurs, since no nested part has a field of that name and a string cannot hold an unescaped
/// quote. A projection laid out otherwise is read whole.
fn exported_case(json: &[u8], buffer: &mut Vec<u8>) -> Result<ExportedCase> {
    if let Some(at) = memchr::memmem::find(json, b",\"conflicts\":") {
        buffer.clear();
        buffer.extend_from_slice(&json[..at]);
        buffer.push(b'}');
        if let Ok(case) = serde_json::from_slice(buffer) {
            return Ok(case);
        }
    }
    serde_json::from_slice(json).map_err(|_| Error::Corrupt("case state".into()))
}

impl Workspace {
    /// Writes the cases `query` selects to the new file `out` with the optional `extra`
    /// sheets and the data dictionary, protected as asked, and records one `export.cases`
    /// audit entry. An existing `out` is refused; a failed export leaves no file.
    pub fn export_cases(
        &mut self,
        query: &ExportQuery,
        extra: &[Sheet],
        format: ExportFormat,
        protection: &Protection,
        out: &Path,
    ) -> Result<ExportSummary> {
        // Created first: an encrypted export's key is derived on another thread meanwhile.
        let sink = protect::Sink::create(out, protection)?;
        let mut cases = Vec::new();
        let mut buffer = Vec::new();
        self.each_projection(query.status, query.team.as_deref(), |json, needs_review| {
            let case = exported_case(json, &mut buffer)?;
            if query.keeps(&case) {
                cases.push((case, needs_review));
            }
            Ok(())
        })?;
        let mut sheets = vec![Sheet::Cases];
        sheets.extend(Sheet::OPTIONAL.iter().copied().filter(|sheet| extra.contains(sheet)));
        sheets.push(Sheet::Dictionary);
        let tables = write::Tables { cases: &cases, sheets: &sheets };
        let counts = match format {
            ExportFormat::CsvArchive => write::csv_archive(&tables, sink, out)?,
            ExportFormat::Xlsx => write::xlsx(&tables, sink, out)?,
        };
        let detail = format!(
            "{} {} filters={} {}",
            format.as_str(),
            protection.as_str(),
            query.filter_names().join(","),
            counts.iter().map(|(sheet, rows)| format!("{sheet}={rows}")).collect::<Vec<_>>().join(" ")
        );
        if let Err(error) = self.audit_now("export.cases", None, &detail) {
            // An export that is not in the audit log does not stay.
            let _ = std::fs::remove_file(out);
            return Err(error);
        }
        Ok(ExportSummary {
            path: out.to_owned(),
            format,
            encrypted: protection.is_encrypted(),
            rows: cases.len(),
            sheets: counts.into_iter().map(|(sheet, rows)| (sheet.to_owned(), rows)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::model::{CaseFields, ConsentMethod, ConsentScope, JusticeStage, ReferralReason, ServiceType, Urgency};
    use crate::{ConsentInput, CreateOptions, JusticeInput, ReferralInput};

    #[test]
    fn filters_are_read_as_typed_and_a_backwards_period_is_refused() {
        let query = ExportQuery::parse(&ExportFilters {
            status: Some("active"),
            team: Some(" "),
            from: Some("2024-01-01"),
            to: Some("2024-12-31"),
            identification: Some("not_recorded"),
        })
        .unwrap();
        assert_eq!(query.status, Some(CaseStatus::Active));
        assert_eq!(query.team, None, "an empty filter is no filter");
        assert_eq!(query.identification, Some(Identification::NotRecorded));
        assert_eq!(query.filter_names(), ["status", "from", "to", "identification"]);
        let backwards = ExportFilters { from: Some("2024-05-01"), to: Some("2024-04-01"), ..Default::default() };
        assert!(matches!(ExportQuery::parse(&backwards), Err(Error::Invalid { field, .. }) if field == "to"));
        let wrong = ExportFilters { status: Some("lost"), ..Default::default() };
        assert!(
            matches!(ExportQuery::parse(&wrong), Err(Error::Invalid { field, fault: Some(_), .. }) if field == "status")
        );
        let day = ExportFilters { to: Some("31/12/2024"), ..Default::default() };
        assert!(matches!(ExportQuery::parse(&day), Err(Error::Invalid { field, .. }) if field == "to"));
    }

    /// Read up to `"conflicts"`, a projection gives what it gives read whole.
    #[test]
    fn the_leading_part_of_a_projection_is_the_whole_of_what_an_export_shows() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
        let mut workspace =
            Workspace::create(&dir.path().join("ws"), "correct horse battery staple", &options).unwrap();
        let mut fields = CaseFields::named("Ærendil \"conflicts\": Quote").unwrap();
        fields.aliases = vec![",\"conflicts\":[]".into()];
        fields.location = Some("Rue des Conflits".into());
        let case = workspace.create_case(fields).unwrap().id;
        workspace.create_case(CaseFields::named("Plain Person").unwrap()).unwrap();
        let consent = ConsentInput {
            scope: vec![ConsentScope::CaseSummary],
            shared_with: "services".into(),
            given_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            method: ConsentMethod::Verbal,
            note: None,
        };
        let (consent_id, _) = workspace.add_consent(case, consent).unwrap();
        let referral = ReferralInput {
            service: "Shelter \"conflicts\":".into(),
            service_type: ServiceType::Shelter,
            reason: ReferralReason::AdditionalServicesRequired,
            details: Some("details".into()),
            urgency: Urgency::Routine,
            consent_id,
            team: None,
        };
        workspace.add_referral(case, referral).unwrap();
        let step = JusticeInput {
            stage: JusticeStage::Reported,
            date: chrono::NaiveDate::from_ymd_opt(2024, 1, 2),
            perpetrator: None,
            sentence_months: None,
        };
        workspace.add_justice_step(case, step).unwrap();
        let mut read = 0;
        let mut buffer = Vec::new();
        workspace
            .each_projection(None, None, |json, _| {
                let whole: ExportedCase = serde_json::from_slice(json).unwrap();
                assert!(memchr::memmem::find(json, b",\"conflicts\":").is_some(), "the projection has its history");
                let leading = exported_case(json, &mut buffer)?;
                assert_eq!(format!("{leading:?}"), format!("{whole:?}"));
                // A projection laid out otherwise (no such key) is read whole.
                let text = String::from_utf8(json.to_vec()).unwrap().replacen(",\"conflicts\":", ",\"disputes\":", 1);
                let other = exported_case(text.as_bytes(), &mut buffer)?;
                assert_eq!(format!("{other:?}"), format!("{whole:?}"));
                read += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(read, 2);
        // What is not a projection is refused, as before.
        let json = br#"{"id":"x"}"#;
        assert!(matches!(exported_case(json, &mut buffer), Err(Error::Corrupt(_))));
    }
}
