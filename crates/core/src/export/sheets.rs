//! What an export of cases holds: the sheets, their columns, one row per case (or per
//! referral, screening, justice step), and the data dictionary that says what each column means.
//!
//! Every cell is text: dates in ISO 8601 (`2024-05-14`, times `2024-05-14T09:30:00.000Z` in
//! UTC), coded values as Harbour's snake_case names (the dictionary lists them), lists joined by
//! commas. The `cases` sheet's columns for case fields are named like `harbour case set`'s
//! fields, so an export can be imported again (`harbour import cases`).

use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;

use crate::fold::{Dated, ReferralState, ScreeningOutcome, Stamp};
use crate::ids::{CaseCode, CaseId};
use crate::model::{
    CaseFields, CaseStatus, ExploitationType, IdentificationStatus, JusticeStage, JusticeStep, LabourSector,
    MeansOfControl, OrganisationType, RecruiterRelation, RecruitmentMethod, ReferralReason, ReferralStatus, RiskLevel,
    ServiceType, Sex, Urgency,
};

/// A sheet of an export: a CSV file in the archive, or a worksheet of the workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sheet {
    Cases,
    Referrals,
    Screenings,
    Justice,
    Dictionary,
}

impl Sheet {
    /// The sheets a person may add to the cases.
    pub const OPTIONAL: &'static [Sheet] = &[Sheet::Referrals, Sheet::Screenings, Sheet::Justice];

    pub fn as_str(self) -> &'static str {
        match self {
            Sheet::Cases => "cases",
            Sheet::Referrals => "referrals",
            Sheet::Screenings => "screenings",
            Sheet::Justice => "justice",
            Sheet::Dictionary => "dictionary",
        }
    }

    /// Reads an optional sheet's name as typed (`--sheets referrals,justice`).
    pub fn parse_optional(text: &str) -> crate::Result<Sheet> {
        let wanted = text.trim().to_ascii_lowercase();
        Sheet::OPTIONAL
            .iter()
            .copied()
            .find(|sheet| sheet.as_str() == wanted)
            .ok_or_else(|| crate::Error::invalid("sheets", "use referrals, screenings or justice (comma-separated)"))
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Sheet::Cases => CASE_COLUMNS,
            Sheet::Referrals => REFERRAL_COLUMNS,
            Sheet::Screenings => SCREENING_COLUMNS,
            Sheet::Justice => JUSTICE_COLUMNS,
            Sheet::Dictionary => DICTIONARY_COLUMNS,
        }
    }
}

/// A column: its header, what it means, and the values it may hold.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub meaning: &'static str,
    pub values: Values,
}

/// What a column may hold, for the dictionary.
#[derive(Clone, Copy, Debug)]
pub enum Values {
    Text,
    Date,
    Timestamp,
    Number,
    /// One value of a coded list.
    One(fn() -> String),
    /// Comma-separated values of a coded list.
    Many(fn() -> String),
    Fixed(&'static str),
}

impl Values {
    pub fn describe(self) -> String {
        match self {
            Values::Text => "free text".into(),
            Values::Date => "a date, YYYY-MM-DD (ISO 8601)".into(),
            Values::Timestamp => "a date and time in UTC, YYYY-MM-DDThh:mm:ss.sssZ (ISO 8601)".into(),
            Values::Number => "a whole number".into(),
            Values::One(allowed) => format!("one of: {}", allowed()),
            Values::Many(allowed) => format!("comma-separated, each one of: {}", allowed()),
            Values::Fixed(text) => text.into(),
        }
    }
}

const fn col(name: &'static str, meaning: &'static str, values: Values) -> Column {
    Column { name, meaning, values }
}

pub const CASE_COLUMNS: &[Column] = &[
    col("case_id", "The case's permanent id in Harbour", Values::Fixed("a UUID")),
    col("case_code", "The case's short code", Values::Fixed("prefix-XXXX-XX")),
    col("name", "The person's name", Values::Text),
    col("aliases", "Other names the person is known by", Values::Fixed("comma-separated free text")),
    col("sex", "Sex or gender (HTCDS prs_Gender)", Values::One(Sex::allowed)),
    col("birth_date", "Date of birth", Values::Date),
    col("estimated_age", "Age estimated when the birth date is unknown, in years", Values::Number),
    col("age_estimated_on", "The day the age was estimated", Values::Date),
    col("nationalities", "Citizenships", Values::Fixed("comma-separated ISO 3166-1 alpha-2 codes")),
    col("languages", "Languages spoken", Values::Fixed("comma-separated ISO 639 codes")),
    col("phone", "Phone number", Values::Fixed("E.164, such as +17584520000")),
    col("location", "Where the person can be found", Values::Text),
    col("status", "Case status (HTCDS)", Values::One(CaseStatus::allowed)),
    col("risk_level", "Risk level", Values::One(RiskLevel::allowed)),
    col("exploitation_types", "Forms of exploitation", Values::Many(ExploitationType::allowed)),
    col("means_of_control", "Means of control", Values::Many(MeansOfControl::allowed)),
    col("assigned_team", "Team responsible for the case", Values::Text),
    col("assigned_worker", "Worker responsible for the case", Values::Text),
    col("identification_status", "Identification as a victim", Values::One(IdentificationStatus::allowed)),
    col("identification_date", "Day of identification", Values::Date),
    col("identified_by", "Kind of organisation that identified the person", Values::One(OrganisationType::allowed)),
    col("country_of_exploitation", "Country of exploitation", Values::Fixed("ISO 3166-1 alpha-2 code")),
    col("recruiter_relation", "Relationship to the recruiter", Values::One(RecruiterRelation::allowed)),
    col("recruitment_methods", "How the person was recruited", Values::Many(RecruitmentMethod::allowed)),
    col("labour_sectors", "Sectors of forced labour", Values::Many(LabourSector::allowed)),
    col("intake_date", "The day the person first came to the service (cases recorded later)", Values::Date),
    col("registered_on", "The day the case counts from: intake date, else the day it was recorded", Values::Date),
    col("created_at", "When the case was recorded in Harbour", Values::Timestamp),
    col("updated_at", "When the case last changed", Values::Timestamp),
    col("needs_review", "Concurrent edits wait for a person to choose", Values::Fixed("true or false")),
];

pub const REFERRAL_COLUMNS: &[Column] = &[
    col("case_code", "The case's short code (see the cases sheet)", Values::Fixed("prefix-XXXX-XX")),
    col("referral_id", "The referral's id", Values::Fixed("a UUID")),
    col("service", "The service referred to", Values::Text),
    col("service_type", "Kind of service", Values::One(ServiceType::allowed)),
    col("reason", "Reason for the referral", Values::One(ReferralReason::allowed)),
    col("urgency", "Urgency", Values::One(Urgency::allowed)),
    col("details", "Details given with the referral", Values::Text),
    col("status", "Where the referral stands", Values::One(referral_statuses)),
    col("sent_at", "When the referral was recorded", Values::Timestamp),
    col("consent_id", "The consent the referral relies on", Values::Fixed("a UUID")),
];

pub const SCREENING_COLUMNS: &[Column] = &[
    col("case_code", "The case's short code (see the cases sheet)", Values::Fixed("prefix-XXXX-XX")),
    col("screening_id", "The screening's id", Values::Fixed("a UUID")),
    col("level", "The screening's result level (the answers are not exported)", Values::Text),
    col("recorded_at", "When the screening was recorded", Values::Timestamp),
];

pub const JUSTICE_COLUMNS: &[Column] = &[
    col("case_code", "The case's short code (see the cases sheet)", Values::Fixed("prefix-XXXX-XX")),
    col("step_id", "The step's id", Values::Fixed("a UUID")),
    col("stage", "Stage of the justice response", Values::One(JusticeStage::allowed)),
    col("date", "The day it happened", Values::Date),
    col("perpetrator_id", "The coded perpetrator record it concerns", Values::Fixed("a UUID")),
    col("sentence_months", "For a conviction: months of imprisonment", Values::Number),
    col("recorded_at", "When the step was recorded", Values::Timestamp),
];

pub const DICTIONARY_COLUMNS: &[Column] = &[
    col("sheet", "The sheet (CSV file) the column is in", Values::Text),
    col("column", "The column's header", Values::Text),
    col("meaning", "What the column holds", Values::Text),
    col("values", "What values it may hold", Values::Text),
];

fn referral_statuses() -> String {
    [ReferralStatus::Sent, ReferralStatus::Accepted, ReferralStatus::Declined, ReferralStatus::Completed]
        .iter()
        .map(|status| status.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The part of a stored projection an export reads: what the sheets show, nothing of the
/// fields' version history (which is most of a projection, and is skipped by the parser).
#[derive(Debug, Deserialize)]
pub struct ExportedCase {
    pub id: CaseId,
    pub code: CaseCode,
    pub fields: CaseFields,
    pub created: Stamp,
    pub updated: Stamp,
    #[serde(default)]
    pub referrals: Vec<ReferralState>,
    #[serde(default)]
    pub screening_outcomes: Vec<ScreeningOutcome>,
    #[serde(default)]
    pub justice: Vec<Dated<JusticeStep>>,
}

impl ExportedCase {
    /// The day the case counts from: its intake date, else the day it was recorded (as the figures).
    pub fn registered_on(&self) -> NaiveDate {
        self.fields.intake_date.unwrap_or_else(|| day_of_ms(self.created.at_ms() as i64))
    }

    /// The cells of its row of the `cases` sheet, in [`CASE_COLUMNS`]' order.
    pub fn case_row(&self, needs_review: bool) -> Vec<String> {
        let f = &self.fields;
        vec![
            self.id.to_string(),
            self.code.as_str().to_owned(),
            f.name.clone(),
            f.aliases.join(","),
            opt(f.sex.map(Sex::as_str)),
            date(f.birth_date),
            f.estimated_age.map(|age| age.years.to_string()).unwrap_or_default(),
            date(f.estimated_age.map(|age| age.as_of)),
            join(f.nationalities.iter().map(|country| country.as_str())),
            join(f.languages.iter().map(|language| language.as_str())),
            f.phone.as_ref().map(|phone| phone.as_str().to_owned()).unwrap_or_default(),
            f.location.clone().unwrap_or_default(),
            f.status.as_str().to_owned(),
            opt(f.risk_level.map(RiskLevel::as_str)),
            join(f.exploitation_types.iter().map(|value| value.as_str())),
            join(f.means_of_control.iter().map(|value| value.as_str())),
            f.assigned_team.clone().unwrap_or_default(),
            f.assigned_worker.clone().unwrap_or_default(),
            opt(f.identification_status.map(IdentificationStatus::as_str)),
            date(f.identification_date),
            opt(f.identified_by.map(OrganisationType::as_str)),
            f.country_of_exploitation.as_ref().map(|country| country.as_str().to_owned()).unwrap_or_default(),
            opt(f.recruiter_relation.map(RecruiterRelation::as_str)),
            join(f.recruitment_methods.iter().map(|value| value.as_str())),
            join(f.labour_sectors.iter().map(|value| value.as_str())),
            date(f.intake_date),
            self.registered_on().to_string(),
            timestamp(self.created.at_ms() as i64),
            timestamp(self.updated.at_ms() as i64),
            needs_review.to_string(),
        ]
    }

    pub fn referral_rows(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.referrals.iter().map(|referral| {
            let r = &referral.referral;
            vec![
                self.code.as_str().to_owned(),
                r.id.to_string(),
                r.service.clone(),
                r.service_type.as_str().to_owned(),
                r.reason.as_str().to_owned(),
                r.urgency.as_str().to_owned(),
                r.details.clone().unwrap_or_default(),
                referral.status.as_str().to_owned(),
                timestamp(referral.recorded.at_ms() as i64),
                r.consent_id.to_string(),
            ]
        })
    }

    pub fn screening_rows(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.screening_outcomes.iter().map(|outcome| {
            vec![
                self.code.as_str().to_owned(),
                outcome.id.to_string(),
                outcome.level.clone().unwrap_or_default(),
                timestamp(outcome.recorded_ms as i64),
            ]
        })
    }

    pub fn justice_rows(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.justice.iter().map(|step| {
            vec![
                self.code.as_str().to_owned(),
                step.entry.id.to_string(),
                step.entry.stage.as_str().to_owned(),
                date(step.entry.date),
                step.entry.perpetrator.map(|id| id.to_string()).unwrap_or_default(),
                step.entry.sentence_months.map(|months| months.to_string()).unwrap_or_default(),
                timestamp(step.recorded.at_ms() as i64),
            ]
        })
    }
}

/// The rows of the data dictionary: one per column of every sheet written.
pub fn dictionary_rows(sheets: &[Sheet]) -> Vec<Vec<String>> {
    sheets
        .iter()
        .filter(|sheet| **sheet != Sheet::Dictionary)
        .flat_map(|sheet| {
            sheet.columns().iter().map(move |column| {
                vec![
                    sheet.as_str().to_owned(),
                    column.name.to_owned(),
                    column.meaning.to_owned(),
                    column.values.describe(),
                ]
            })
        })
        .collect()
}

/// A cell that a spreadsheet would run as a formula, made inert. OWASP's advice for CSV
/// injection: a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed
/// with a single quote, so Excel, LibreOffice and Google Sheets show it as text (DDE payloads
/// such as `=cmd|' /C calc'!A0` begin with one of these). Quoting of commas and quotes is the
/// CSV writer's.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

fn opt(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

fn date(day: Option<NaiveDate>) -> String {
    day.map(|day| day.to_string()).unwrap_or_default()
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

fn timestamp(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn day_of_ms(ms: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_owasp_formula_payload_is_made_inert() {
        // OWASP "CSV Injection" payloads, with the DDE examples.
        let payloads = [
            "=1+1",
            "+1+1",
            "-1+1",
            "@SUM(1+1)",
            "\t=1+1",
            "\r=1+1",
            "=cmd|' /C calc'!A0",
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "@SUM(1+9)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "+cmd|' /C notepad'!'B1'",
            "=10+20+cmd|' /C calc'!A0",
            "=DDE(\"cmd\";\"/C calc\";\"!A0\")A0",
        ];
        for payload in payloads {
            let cell = neutralise(payload);
            assert!(cell.starts_with('\''), "{payload:?} was left as {cell:?}");
            assert_eq!(&cell[1..], payload, "the text itself is kept");
        }
        for harmless in ["José", "LC-7K3P-Q9", "", "2024-05-14", "a=b"] {
            assert_eq!(neutralise(harmless), harmless);
        }
    }

    #[test]
    fn the_dictionary_describes_every_column_of_every_sheet_written() {
        let rows = dictionary_rows(&[Sheet::Cases, Sheet::Justice, Sheet::Dictionary]);
        assert_eq!(rows.len(), CASE_COLUMNS.len() + JUSTICE_COLUMNS.len());
        let sex = rows.iter().find(|row| row[1] == "sex").unwrap();
        assert!(sex[3].contains("female") && sex[3].starts_with("one of"), "{sex:?}");
    }
}
