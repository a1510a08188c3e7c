//! A case — one person of concern — and the edits that change its fields.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::codes::{
    CaseStatus, ExploitationType, IdentificationStatus, LabourSector, MeansOfControl, OrganisationType,
    RecruiterRelation, RecruitmentMethod, RiskLevel, Sex,
};
use super::values::{self, AgeEstimate, Country, Language, Phone};
use crate::error::{Error, Result};

/// The registers of a case. Each is a last-writer-wins register in the merge (see `fold`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFields {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    pub estimated_age: Option<AgeEstimate>,
    #[serde(default)]
    pub nationalities: Vec<Country>,
    #[serde(default)]
    pub languages: Vec<Language>,
    pub phone: Option<Phone>,
    pub location: Option<String>,
    pub status: CaseStatus,
    pub risk_level: Option<RiskLevel>,
    #[serde(default)]
    pub exploitation_types: Vec<ExploitationType>,
    #[serde(default)]
    pub means_of_control: Vec<MeansOfControl>,
    pub assigned_team: Option<String>,
    pub assigned_worker: Option<String>,
    #[serde(default)]
    pub identification_status: Option<IdentificationStatus>,
    #[serde(default)]
    pub identification_date: Option<NaiveDate>,
    #[serde(default)]
    pub identified_by: Option<OrganisationType>,
    #[serde(default)]
    pub country_of_exploitation: Option<Country>,
    #[serde(default)]
    pub recruiter_relation: Option<RecruiterRelation>,
    #[serde(default)]
    pub recruitment_methods: Vec<RecruitmentMethod>,
    #[serde(default)]
    pub labour_sectors: Vec<LabourSector>,
    /// The day the person first came to the service, when the case is recorded later (from
    /// paper); the figures count a case from this day, else from the day it was recorded.
    #[serde(default)]
    pub intake_date: Option<NaiveDate>,
}

impl CaseFields {
    /// A new active case with only a name.
    pub fn named(name: &str) -> Result<CaseFields> {
        Ok(CaseFields {
            name: values::short_text("name", name)?,
            aliases: Vec::new(),
            sex: None,
            birth_date: None,
            estimated_age: None,
            nationalities: Vec::new(),
            languages: Vec::new(),
            phone: None,
            location: None,
            status: CaseStatus::Active,
            risk_level: None,
            exploitation_types: Vec::new(),
            means_of_control: Vec::new(),
            assigned_team: None,
            assigned_worker: None,
            identification_status: None,
            identification_date: None,
            identified_by: None,
            country_of_exploitation: None,
            recruiter_relation: None,
            recruitment_methods: Vec::new(),
            labour_sectors: Vec::new(),
            intake_date: None,
        })
    }

    /// Every field's current value, as edits; used to seed the merge registers at creation.
    pub fn as_values(&self) -> Vec<FieldValue> {
        vec![
            FieldValue::Name(self.name.clone()),
            FieldValue::Aliases(self.aliases.clone()),
            FieldValue::Sex(self.sex),
            FieldValue::BirthDate(self.birth_date),
            FieldValue::EstimatedAge(self.estimated_age),
            FieldValue::Nationalities(self.nationalities.clone()),
            FieldValue::Languages(self.languages.clone()),
            FieldValue::Phone(self.phone.clone()),
            FieldValue::Location(self.location.clone()),
            FieldValue::Status(self.status),
            FieldValue::RiskLevel(self.risk_level),
            FieldValue::ExploitationTypes(self.exploitation_types.clone()),
            FieldValue::MeansOfControl(self.means_of_control.clone()),
            FieldValue::AssignedTeam(self.assigned_team.clone()),
            FieldValue::AssignedWorker(self.assigned_worker.clone()),
            FieldValue::IdentificationStatus(self.identification_status),
            FieldValue::IdentificationDate(self.identification_date),
            FieldValue::IdentifiedBy(self.identified_by),
            FieldValue::CountryOfExploitation(self.country_of_exploitation.clone()),
            FieldValue::RecruiterRelation(self.recruiter_relation),
            FieldValue::RecruitmentMethods(self.recruitment_methods.clone()),
            FieldValue::LabourSectors(self.labour_sectors.clone()),
            FieldValue::IntakeDate(self.intake_date),
        ]
    }

    pub fn set(&mut self, value: FieldValue) {
        match value {
            FieldValue::Name(v) => self.name = v,
            FieldValue::Aliases(v) => self.aliases = v,
            FieldValue::Sex(v) => self.sex = v,
            FieldValue::BirthDate(v) => self.birth_date = v,
            FieldValue::EstimatedAge(v) => self.estimated_age = v,
            FieldValue::Nationalities(v) => self.nationalities = v,
            FieldValue::Languages(v) => self.languages = v,
            FieldValue::Phone(v) => self.phone = v,
            FieldValue::Location(v) => self.location = v,
            FieldValue::Status(v) => self.status = v,
            FieldValue::RiskLevel(v) => self.risk_level = v,
            FieldValue::ExploitationTypes(v) => self.exploitation_types = v,
            FieldValue::MeansOfControl(v) => self.means_of_control = v,
            FieldValue::AssignedTeam(v) => self.assigned_team = v,
            FieldValue::AssignedWorker(v) => self.assigned_worker = v,
            FieldValue::IdentificationStatus(v) => self.identification_status = v,
            FieldValue::IdentificationDate(v) => self.identification_date = v,
            FieldValue::IdentifiedBy(v) => self.identified_by = v,
            FieldValue::CountryOfExploitation(v) => self.country_of_exploitation = v,
            FieldValue::RecruiterRelation(v) => self.recruiter_relation = v,
            FieldValue::RecruitmentMethods(v) => self.recruitment_methods = v,
            FieldValue::LabourSectors(v) => self.labour_sectors = v,
            FieldValue::IntakeDate(v) => self.intake_date = v,
        }
    }
}

/// The name of a case field, as written in `harbour case set FIELD=VALUE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Aliases,
    Sex,
    BirthDate,
    EstimatedAge,
    Nationalities,
    Languages,
    Phone,
    Location,
    Status,
    RiskLevel,
    ExploitationTypes,
    MeansOfControl,
    AssignedTeam,
    AssignedWorker,
    IdentificationStatus,
    IdentificationDate,
    IdentifiedBy,
    CountryOfExploitation,
    RecruiterRelation,
    RecruitmentMethods,
    LabourSectors,
    IntakeDate,
}

impl Field {
    pub const ALL: &'static [Field] = &[
        Field::Name,
        Field::Aliases,
        Field::Sex,
        Field::BirthDate,
        Field::EstimatedAge,
        Field::Nationalities,
        Field::Languages,
        Field::Phone,
        Field::Location,
        Field::Status,
        Field::RiskLevel,
        Field::ExploitationTypes,
        Field::MeansOfControl,
        Field::AssignedTeam,
        Field::AssignedWorker,
        Field::IdentificationStatus,
        Field::IdentificationDate,
        Field::IdentifiedBy,
        Field::CountryOfExploitation,
        Field::RecruiterRelation,
        Field::RecruitmentMethods,
        Field::LabourSectors,
        Field::IntakeDate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Aliases => "aliases",
            Field::Sex => "sex",
            Field::BirthDate => "birth_date",
            Field::EstimatedAge => "estimated_age",
            Field::Nationalities => "nationalities",
            Field::Languages => "languages",
            Field::Phone => "phone",
            Field::Location => "location",
            Field::Status => "status",
            Field::RiskLevel => "risk_level",
            Field::ExploitationTypes => "exploitation_types",
            Field::MeansOfControl => "means_of_control",
            Field::AssignedTeam => "assigned_team",
            Field::AssignedWorker => "assigned_worker",
            Field::IdentificationStatus => "identification_status",
            Field::IdentificationDate => "identification_date",
            Field::IdentifiedBy => "identified_by",
            Field::CountryOfExploitation => "country_of_exploitation",
            Field::RecruiterRelation => "recruiter_relation",
            Field::RecruitmentMethods => "recruitment_methods",
            Field::LabourSectors => "labour_sectors",
            Field::IntakeDate => "intake_date",
        }
    }

    /// The codes a field of a coded list takes (`female, male, …`), or `None` for a field of
    /// free text, dates, numbers, countries or languages.
    pub fn allowed_codes(self) -> Option<String> {
        Some(match self {
            Field::Sex => Sex::allowed(),
            Field::Status => CaseStatus::allowed(),
            Field::RiskLevel => RiskLevel::allowed(),
            Field::ExploitationTypes => ExploitationType::allowed(),
            Field::MeansOfControl => MeansOfControl::allowed(),
            Field::IdentificationStatus => IdentificationStatus::allowed(),
            Field::IdentifiedBy => OrganisationType::allowed(),
            Field::RecruiterRelation => RecruiterRelation::allowed(),
            Field::RecruitmentMethods => RecruitmentMethod::allowed(),
            Field::LabourSectors => LabourSector::allowed(),
            _ => return None,
        })
    }

    /// Reads a field name; `age` is accepted for `estimated_age`, singular forms for lists.
    pub fn parse(text: &str) -> Result<Field> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match wanted.as_str() {
            "age" => Some(Field::EstimatedAge),
            "alias" => Some(Field::Aliases),
            "nationality" => Some(Field::Nationalities),
            "language" => Some(Field::Languages),
            "risk" => Some(Field::RiskLevel),
            "exploitation_type" => Some(Field::ExploitationTypes),
            "team" => Some(Field::AssignedTeam),
            "worker" => Some(Field::AssignedWorker),
            "recruitment_method" => Some(Field::RecruitmentMethods),
            "labour_sector" => Some(Field::LabourSectors),
            _ => None,
        };
        alias.or_else(|| Field::ALL.iter().copied().find(|field| field.as_str() == wanted)).ok_or_else(|| {
            let names: Vec<&str> = Field::ALL.iter().map(|field| field.as_str()).collect();
            Error::invalid(text.trim(), format!("is not a case field; the fields are {}", names.join(", ")))
        })
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new value for one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    Name(String),
    Aliases(Vec<String>),
    Sex(Option<Sex>),
    BirthDate(Option<NaiveDate>),
    EstimatedAge(Option<AgeEstimate>),
    Nationalities(Vec<Country>),
    Languages(Vec<Language>),
    Phone(Option<Phone>),
    Location(Option<String>),
    Status(CaseStatus),
    RiskLevel(Option<RiskLevel>),
    ExploitationTypes(Vec<ExploitationType>),
    MeansOfControl(Vec<MeansOfControl>),
    AssignedTeam(Option<String>),
    AssignedWorker(Option<String>),
    IdentificationStatus(Option<IdentificationStatus>),
    IdentificationDate(Option<NaiveDate>),
    IdentifiedBy(Option<OrganisationType>),
    CountryOfExploitation(Option<Country>),
    RecruiterRelation(Option<RecruiterRelation>),
    RecruitmentMethods(Vec<RecruitmentMethod>),
    LabourSectors(Vec<LabourSector>),
    IntakeDate(Option<NaiveDate>),
}

impl FieldValue {
    pub fn field(&self) -> Field {
        match self {
            FieldValue::Name(_) => Field::Name,
            FieldValue::Aliases(_) => Field::Aliases,
            FieldValue::Sex(_) => Field::Sex,
            FieldValue::BirthDate(_) => Field::BirthDate,
            FieldValue::EstimatedAge(_) => Field::EstimatedAge,
            FieldValue::Nationalities(_) => Field::Nationalities,
            FieldValue::Languages(_) => Field::Languages,
            FieldValue::Phone(_) => Field::Phone,
            FieldValue::Location(_) => Field::Location,
            FieldValue::Status(_) => Field::Status,
            FieldValue::RiskLevel(_) => Field::RiskLevel,
            FieldValue::ExploitationTypes(_) => Field::ExploitationTypes,
            FieldValue::MeansOfControl(_) => Field::MeansOfControl,
            FieldValue::AssignedTeam(_) => Field::AssignedTeam,
            FieldValue::AssignedWorker(_) => Field::AssignedWorker,
            FieldValue::IdentificationStatus(_) => Field::IdentificationStatus,
            FieldValue::IdentificationDate(_) => Field::IdentificationDate,
            FieldValue::IdentifiedBy(_) => Field::IdentifiedBy,
            FieldValue::CountryOfExploitation(_) => Field::CountryOfExploitation,
            FieldValue::RecruiterRelation(_) => Field::RecruiterRelation,
            FieldValue::RecruitmentMethods(_) => Field::RecruitmentMethods,
            FieldValue::LabourSectors(_) => Field::LabourSectors,
            FieldValue::IntakeDate(_) => Field::IntakeDate,
        }
    }

    /// Reads `FIELD=VALUE` as typed at the command line or in a form. Lists are comma-separated;
    /// an empty value clears an optional field. Refusals name the field and what is allowed.
    pub fn parse(field: Field, text: &str) -> Result<FieldValue> {
        let text = text.trim();
        let empty = text.is_empty();
        let name = field.as_str();
        Ok(match field {
            Field::Name => FieldValue::Name(values::short_text(name, text)?),
            Field::Aliases => FieldValue::Aliases(list(text, |item| values::short_text(name, item))?),
            Field::Sex => FieldValue::Sex(optional(empty, || coded::<Sex>(name, text))?),
            Field::BirthDate => FieldValue::BirthDate(optional(empty, || values::parse_birth_date(text))?),
            Field::EstimatedAge => FieldValue::EstimatedAge(optional(empty, || AgeEstimate::parse(text))?),
            Field::Nationalities => FieldValue::Nationalities(list(text, Country::parse)?),
            Field::Languages => FieldValue::Languages(list(text, Language::parse)?),
            Field::Phone => FieldValue::Phone(optional(empty, || Phone::parse(text))?),
            Field::Location => FieldValue::Location(optional(empty, || values::short_text(name, text))?),
            Field::Status => FieldValue::Status(coded::<CaseStatus>(name, text)?),
            Field::RiskLevel => FieldValue::RiskLevel(optional(empty, || coded::<RiskLevel>(name, text))?),
            Field::ExploitationTypes => {
                FieldValue::ExploitationTypes(list(text, |item| coded::<ExploitationType>(name, item))?)
            }
            Field::MeansOfControl => {
                FieldValue::MeansOfControl(list(text, |item| coded::<MeansOfControl>(name, item))?)
            }
            Field::AssignedTeam => FieldValue::AssignedTeam(optional(empty, || values::short_text(name, text))?),
            Field::AssignedWorker => FieldValue::AssignedWorker(optional(empty, || values::short_text(name, text))?),
            Field::IdentificationStatus => {
                FieldValue::IdentificationStatus(optional(empty, || coded::<IdentificationStatus>(name, text))?)
            }
            Field::IdentificationDate => {
                FieldValue::IdentificationDate(optional(empty, || values::parse_past_date(name, text))?)
            }
            Field::IdentifiedBy => FieldValue::IdentifiedBy(optional(empty, || coded::<OrganisationType>(name, text))?),
            Field::CountryOfExploitation => {
                FieldValue::CountryOfExploitation(optional(empty, || Country::parse_for(name, text))?)
            }
            Field::RecruiterRelation => {
                FieldValue::RecruiterRelation(optional(empty, || coded::<RecruiterRelation>(name, text))?)
            }
            Field::RecruitmentMethods => {
                FieldValue::RecruitmentMethods(list(text, |item| coded::<RecruitmentMethod>(name, item))?)
            }
            Field::LabourSectors => FieldValue::LabourSectors(list(text, |item| coded::<LabourSector>(name, item))?),
            Field::IntakeDate => FieldValue::IntakeDate(optional(empty, || values::parse_past_date(name, text))?),
        })
    }
}

/// A coded value list that can be parsed from text (see `codes`).
pub trait Coded: Sized + Copy {
    fn parse_code(text: &str) -> Option<Self>;
    fn allowed_values() -> String;
}

macro_rules! impl_coded {
    ($($name:ty),+) => {$(
        impl Coded for $name {
            fn parse_code(text: &str) -> Option<Self> { <$name>::parse(text) }
            fn allowed_values() -> String { <$name>::allowed() }
        }
    )+};
}

impl_coded!(
    Sex,
    CaseStatus,
    RiskLevel,
    ExploitationType,
    MeansOfControl,
    super::codes::ServiceType,
    super::codes::Urgency,
    super::codes::ReferralReason,
    IdentificationStatus,
    OrganisationType,
    RecruiterRelation,
    RecruitmentMethod,
    LabourSector,
    super::codes::ProcessStage,
    super::codes::JusticeStage,
    super::codes::PerpetratorRole
);

/// Parses one value of a coded list, or says which values are allowed.
pub fn coded<T: Coded>(field: &str, text: &str) -> Result<T> {
    T::parse_code(text).ok_or_else(|| {
        Error::refused(
            field,
            super::fault::Fault::NotAllowed,
            format!("\"{}\" is not allowed; use one of: {}", text.trim(), T::allowed_values()),
        )
    })
}

fn optional<T>(empty: bool, parse: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    if empty { Ok(None) } else { parse().map(Some) }
}

fn list<T: PartialEq>(text: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let mut items = Vec::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let item = parse(part)?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: &str, value: &str, expected: &str) {
        let outcome = Field::parse(field).and_then(|field| FieldValue::parse(field, value));
        let shown = match outcome {
            Ok(value) => serde_json::to_string(&value).unwrap(),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(shown, expected, "{field}={value}");
    }

    #[test]
    fn every_field_validates_at_the_edge() {
        check("name", " Ana Lucía ", r#"{"field":"name","value":"Ana Lucía"}"#);
        check("name", "", "error: name: must not be empty");
        check("aliases", "Ani, Lu ,Ani", r#"{"field":"aliases","value":["Ani","Lu"]}"#);
        check("sex", "female", r#"{"field":"sex","value":"female"}"#);
        check("sex", "Transgender/NonConforming", r#"{"field":"sex","value":"transgender_non_conforming"}"#);
        check(
            "sex",
            "woman",
            "error: sex: \"woman\" is not allowed; use one of: female, male, transgender_non_conforming, unknown",
        );
        check("sex", "", r#"{"field":"sex","value":null}"#);
        check("birth_date", "1999-12-31", r#"{"field":"birth_date","value":"1999-12-31"}"#);
        check("birth_date", "31/12/1999", "error: birth_date: \"31/12/1999\" is not a date; use YYYY-MM-DD");
        check("age", "130", "error: age: \"130\" is not an age; use whole years from 0 to 120");
        check("nationality", "lc,GY", r#"{"field":"nationalities","value":["LC","GY"]}"#);
        check(
            "nationalities",
            "ZZ",
            "error: nationality: \"ZZ\" is not an ISO 3166-1 country code; use two letters such as LC, GY or VE",
        );
        check("languages", "en, acf", r#"{"field":"languages","value":["en","acf"]}"#);
        check("phone", "+1 758 452 0000", r#"{"field":"phone","value":"+17584520000"}"#);
        check("location", "Vieux Fort", r#"{"field":"location","value":"Vieux Fort"}"#);
        check("status", "follow-up", r#"{"field":"status","value":"follow_up"}"#);
        check(
            "status",
            "",
            "error: status: \"\" is not allowed; use one of: active, follow_up, closed, closed_referred",
        );
        check("risk_level", "high", r#"{"field":"risk_level","value":"high"}"#);
        check("risk_level", "extreme", "error: risk_level: \"extreme\" is not allowed; use one of: low, medium, high");
        check(
            "exploitation_types",
            "forced_labour,sexual_exploitation",
            r#"{"field":"exploitation_types","value":["forced_labour","sexual_exploitation"]}"#,
        );
        check(
            "means_of_control",
            "debt_bondage, withholds-documents",
            r#"{"field":"means_of_control","value":["debt_bondage","withholds_documents"]}"#,
        );
        check("assigned_team", "Shelter", r#"{"field":"assigned_team","value":"Shelter"}"#);
        check("assigned_worker", "", r#"{"field":"assigned_worker","value":null}"#);
        check("identification_status", "presumed", r#"{"field":"identification_status","value":"presumed"}"#);
        check(
            "identification_status",
            "victim",
            "error: identification_status: \"victim\" is not allowed; use one of: possible, presumed, identified, not_a_victim",
        );
        check("identification_date", "2024-02-03", r#"{"field":"identification_date","value":"2024-02-03"}"#);
        check("identified_by", "law-enforcement", r#"{"field":"identified_by","value":"law_enforcement"}"#);
        check("country_of_exploitation", "tt", r#"{"field":"country_of_exploitation","value":"TT"}"#);
        check(
            "country_of_exploitation",
            "XX",
            "error: country_of_exploitation: \"XX\" is not an ISO 3166-1 country code; use two letters such as LC, GY or VE",
        );
        check("recruiter_relation", "family", r#"{"field":"recruiter_relation","value":"family"}"#);
        check(
            "recruitment_method",
            "job_offer,internet",
            r#"{"field":"recruitment_methods","value":["job_offer","internet"]}"#,
        );
        check("labour_sector", "agriculture", r#"{"field":"labour_sectors","value":["agriculture"]}"#);
        check(
            "colour",
            "red",
            "error: colour: is not a case field; the fields are name, aliases, sex, birth_date, estimated_age, nationalities, languages, phone, location, status, risk_level, exploitation_types, means_of_control, assigned_team, assigned_worker, identification_status, identification_date, identified_by, country_of_exploitation, recruiter_relation, recruitment_methods, labour_sectors, intake_date",
        );
    }
}
