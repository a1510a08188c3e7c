//! The shape of a form definition, as read from `assets/forms/*.json`.
//!
//! Structural rules (unknown keys, wrong types, missing translations, malformed conditions,
//! unknown codes) are enforced while deserialising, so serde's path names the fault; rules
//! that need the whole form (ids, references between questions, rule values) are checked in
//! `validate.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::codes::{
    ExploitationType, LabourSector, MeansOfControl, RecruiterRelation, RecruitmentMethod, ServiceType,
    SexualExploitationType, Vulnerability,
};

/// A language Harbour ships every text in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Es,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Es, Lang::Fr];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Fr => "fr",
        }
    }

    /// Accepts `en`, `es`, `fr`, in any case, with or without a region (`fr-LC`).
    pub fn parse(text: &str) -> Option<Lang> {
        let base = text.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        Lang::ALL.into_iter().find(|lang| lang.code() == base)
    }

    fn name(self) -> &'static str {
        match self {
            Lang::En => "English (en)",
            Lang::Es => "Spanish (es)",
            Lang::Fr => "French (fr)",
        }
    }
}

/// One text in every shipped language. In JSON: `{"en": "…", "es": "…", "fr": "…"}`; a missing
/// or empty language is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct Text {
    en: String,
    es: String,
    fr: String,
}

impl Text {
    pub fn new(en: &str, es: &str, fr: &str) -> Text {
        Text { en: en.to_owned(), es: es.to_owned(), fr: fr.to_owned() }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Es => &self.es,
            Lang::Fr => &self.fr,
        }
    }
}

impl TryFrom<BTreeMap<String, String>> for Text {
    type Error = String;

    fn try_from(mut map: BTreeMap<String, String>) -> Result<Text, String> {
        if let Some(other) = map.keys().find(|key| Lang::parse(key).is_none_or(|lang| lang.code() != key.as_str())) {
            return Err(format!("`{other}` is not a language Harbour ships; give the text in en, es and fr"));
        }
        let mut take = |lang: Lang| -> Result<String, String> {
            match map.remove(lang.code()) {
                Some(text) if !text.trim().is_empty() => Ok(text),
                Some(_) => Err(format!("the {} text is empty; write the translation", lang.name())),
                None => Err(format!("the {} translation is missing; add \"{}\": \"…\"", lang.name(), lang.code())),
            }
        };
        Ok(Text { en: take(Lang::En)?, es: take(Lang::Es)?, fr: take(Lang::Fr)? })
    }
}

impl From<Text> for BTreeMap<String, String> {
    fn from(text: Text) -> Self {
        BTreeMap::from([("en".to_owned(), text.en), ("es".to_owned(), text.es), ("fr".to_owned(), text.fr)])
    }
}

/// A versioned form: an opening script, sections of questions, scoring rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// Lets an editor find `schema.json`; ignored by Harbour.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Lowercase words joined by `-`, e.g. `clinic-screening`. Never changes between versions.
    pub id: String,
    /// Starts at 1; a new version of a form is a new file with a higher number.
    pub version: u32,
    pub title: Text,
    pub description: Text,
    /// Read to the person before the first question: privacy, consent, the right not to answer.
    pub opening_script: Text,
    /// Read after the last question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_script: Option<Text>,
    pub sections: Vec<Section>,
    pub scoring: Scoring,
    /// Translations this form adds to `assets/i18n/strings.json` (e.g. a new reason), so a
    /// ministry can add a rule without a new release of Harbour.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub strings: BTreeMap<String, Text>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: Text,
    /// Said to the person when the section starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<Text>,
    pub questions: Vec<Question>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Lowercase, `_` between words, unique in the form and kept across versions while the
    /// meaning is the same, e.g. `q_documents`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    /// The question as it is asked.
    pub text: Text,
    /// How to ask it, for the interviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Text>,
    /// Why we ask, for the interviewer to explain when the person wants to know.
    pub why: Text,
    /// A visible required question needs an answer; "prefers not to answer" is always one.
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<Condition>,
    /// For single and multiple choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    /// For yes/no: the code a "yes" stands for. For country: `citizenship` or
    /// `country_of_exploitation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    /// For number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub integer: bool,
    /// For country: a list of countries rather than one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
    /// Answers that end the interview at once because going on would not be safe (such as
    /// "no" to "is it safe to talk here?"), with what the interviewer does now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
}

/// When a choice question's answer ends the interview, and the advice shown instead of the
/// next question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// The answers (values of the question) that stop.
    pub when: Vec<String>,
    /// What to do now, for the interviewer.
    pub advice: Text,
}

impl Question {
    /// The stop this answer triggers, if any.
    pub fn stops_at(&self, answer: &str) -> Option<&Stop> {
        self.stop.as_ref().filter(|stop| stop.when.iter().any(|value| value == answer))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    /// Answer `yes`, `no`, `unsure` or `declined`.
    YesNoUnsureDeclined,
    /// One option value, or `declined`.
    SingleChoice,
    /// A list of option values, or `declined`.
    MultipleChoice,
    ShortText,
    LongText,
    /// `YYYY-MM-DD`.
    Date,
    Number,
    /// ISO 3166-1 alpha-2 (`LC`), or a list of them when `multiple`.
    Country,
}

impl QuestionType {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionType::YesNoUnsureDeclined => "yes_no_unsure_declined",
            QuestionType::SingleChoice => "single_choice",
            QuestionType::MultipleChoice => "multiple_choice",
            QuestionType::ShortText => "short_text",
            QuestionType::LongText => "long_text",
            QuestionType::Date => "date",
            QuestionType::Number => "number",
            QuestionType::Country => "country",
        }
    }

    pub fn is_choice(self) -> bool {
        matches!(self, QuestionType::SingleChoice | QuestionType::MultipleChoice)
    }
}

/// One option of a choice question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: Text,
    /// The CTDC/HTCDS code this option stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
}

/// When a question is shown, or when a scoring rule applies. In JSON one of:
/// `{"question": "q_x", "is": ["yes", "unsure"]}` (for multiple choice: any of them chosen),
/// `{"question": "q_age", "at_least": 60}`, `{"question": "q_age", "less_than": 18}`,
/// `{"all": [ … ]}`, `{"any": [ … ]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCondition", into = "RawCondition")]
pub enum Condition {
    Is { question: String, values: Vec<String> },
    AtLeast { question: String, value: f64 },
    LessThan { question: String, value: f64 },
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

impl Condition {
    /// Every question the condition reads, in order, without repeats.
    pub fn questions(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_questions(&mut out);
        out
    }

    fn collect_questions<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Is { question, .. }
            | Condition::AtLeast { question, .. }
            | Condition::LessThan { question, .. } => {
                if !out.contains(&question.as_str()) {
                    out.push(question);
                }
            }
            Condition::All(all) | Condition::Any(all) => all.iter().for_each(|c| c.collect_questions(out)),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    question: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    less_than: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any: Option<Vec<Condition>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

const CONDITION_SHAPES: &str = "write {\"question\": \"q_id\", \"is\": [\"yes\"]}, {\"question\": \"q_id\", \"at_least\": 1}, \
     {\"question\": \"q_id\", \"less_than\": 18}, {\"all\": […]} or {\"any\": […]}";

impl TryFrom<RawCondition> for Condition {
    type Error = String;

    fn try_from(raw: RawCondition) -> Result<Condition, String> {
        match raw {
            RawCondition {
                question: Some(question),
                is: Some(is),
                at_least: None,
                less_than: None,
                all: None,
                any: None,
            } => {
                let values = match is {
                    OneOrMany::One(value) => vec![value],
                    OneOrMany::Many(values) => values,
                };
                if values.is_empty() {
                    return Err("`is` lists no value; name at least one answer".to_owned());
                }
                Ok(Condition::Is { question, values })
            }
            RawCondition {
                question: Some(question),
                is: None,
                at_least: Some(value),
                less_than: None,
                all: None,
                any: None,
            } => Ok(Condition::AtLeast { question, value }),
            RawCondition {
                question: Some(question),
                is: None,
                at_least: None,
                less_than: Some(value),
                all: None,
                any: None,
            } => Ok(Condition::LessThan { question, value }),
            RawCondition { question: None, is: None, at_least: None, less_than: None, all: Some(all), any: None }
                if !all.is_empty() =>
            {
                Ok(Condition::All(all))
            }
            RawCondition { question: None, is: None, at_least: None, less_than: None, all: None, any: Some(any) }
                if !any.is_empty() =>
            {
                Ok(Condition::Any(any))
            }
            _ => Err(format!("this condition does not have one of the accepted shapes; {CONDITION_SHAPES}")),
        }
    }
}

impl From<Condition> for RawCondition {
    fn from(condition: Condition) -> RawCondition {
        match condition {
            Condition::Is { question, values } => {
                RawCondition { question: Some(question), is: Some(OneOrMany::Many(values)), ..Default::default() }
            }
            Condition::AtLeast { question, value } => {
                RawCondition { question: Some(question), at_least: Some(value), ..Default::default() }
            }
            Condition::LessThan { question, value } => {
                RawCondition { question: Some(question), less_than: Some(value), ..Default::default() }
            }
            Condition::All(all) => RawCondition { all: Some(all), ..Default::default() },
            Condition::Any(any) => RawCondition { any: Some(any), ..Default::default() },
        }
    }
}

/// A CTDC/HTCDS code an answer stands for, written `list.value` in JSON
/// (`means_of_control.withholds_documents`), or `citizenship` / `country_of_exploitation` on a
/// country question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Code {
    ExploitationType(ExploitationType),
    MeansOfControl(MeansOfControl),
    LabourSector(LabourSector),
    SexualExploitationType(SexualExploitationType),
    RecruiterRelation(RecruiterRelation),
    RecruitmentMethod(RecruitmentMethod),
    Vulnerability(Vulnerability),
    Citizenship,
    CountryOfExploitation,
}

/// The lists a `list.value` code may name, for messages.
pub const CODE_LISTS: &str = "exploitation_type, means_of_control, labour_sector, sexual_exploitation_type, \
     recruiter_relation, recruitment_method, vulnerability";

impl Code {
    /// True for the country roles, which only a country question may carry.
    pub fn is_country_role(self) -> bool {
        matches!(self, Code::Citizenship | Code::CountryOfExploitation)
    }

    /// The code in the standard (`meansOfControlDebtBondage`, `citizenship`).
    pub fn standard_code(self) -> &'static str {
        match self {
            Code::ExploitationType(v) => v.standard_code(),
            Code::MeansOfControl(v) => v.standard_code(),
            Code::LabourSector(v) => v.standard_code(),
            Code::SexualExploitationType(v) => v.standard_code(),
            Code::RecruiterRelation(v) => v.standard_code(),
            Code::RecruitmentMethod(v) => v.standard_code(),
            Code::Vulnerability(v) => v.standard_code(),
            Code::Citizenship => "citizenship",
            Code::CountryOfExploitation => "CountryOfExploitation",
        }
    }
}

fn parse_in<T: Copy>(
    value: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
    allowed: fn() -> String,
) -> Result<T, String> {
    parse(value).ok_or_else(|| format!("`{value}` is not a {what} in the CTDC/HTCDS list; use one of {}", allowed()))
}

impl TryFrom<String> for Code {
    type Error = String;

    fn try_from(text: String) -> Result<Code, String> {
        match text.as_str() {
            "citizenship" => return Ok(Code::Citizenship),
            "country_of_exploitation" => return Ok(Code::CountryOfExploitation),
            _ => {}
        }
        let Some((list, value)) = text.split_once('.') else {
            return Err(format!(
                "`{text}` is not a code; write `list.value` with a list among {CODE_LISTS}, \
                 or `citizenship` / `country_of_exploitation` on a country question"
            ));
        };
        Ok(match list {
            "exploitation_type" => Code::ExploitationType(parse_in(
                value,
                ExploitationType::parse,
                ExploitationType::WHAT,
                ExploitationType::allowed,
            )?),
            "means_of_control" => Code::MeansOfControl(parse_in(
                value,
                MeansOfControl::parse,
                MeansOfControl::WHAT,
                MeansOfControl::allowed,
            )?),
            "labour_sector" => {
                Code::LabourSector(parse_in(value, LabourSector::parse, LabourSector::WHAT, LabourSector::allowed)?)
            }
            "sexual_exploitation_type" => Code::SexualExploitationType(parse_in(
                value,
                SexualExploitationType::parse,
                SexualExploitationType::WHAT,
                SexualExploitationType::allowed,
            )?),
            "recruiter_relation" => Code::RecruiterRelation(parse_in(
                value,
                RecruiterRelation::parse,
                RecruiterRelation::WHAT,
                RecruiterRelation::allowed,
            )?),
            "recruitment_method" => Code::RecruitmentMethod(parse_in(
                value,
                RecruitmentMethod::parse,
                RecruitmentMethod::WHAT,
                RecruitmentMethod::allowed,
            )?),
            "vulnerability" => {
                Code::Vulnerability(parse_in(value, Vulnerability::parse, Vulnerability::WHAT, Vulnerability::allowed)?)
            }
            _ => {
                return Err(format!("`{list}` is not a code list; use one of {CODE_LISTS}"));
            }
        })
    }
}

impl From<Code> for String {
    fn from(code: Code) -> String {
        match code {
            Code::ExploitationType(v) => format!("exploitation_type.{v}"),
            Code::MeansOfControl(v) => format!("means_of_control.{v}"),
            Code::LabourSector(v) => format!("labour_sector.{v}"),
            Code::SexualExploitationType(v) => format!("sexual_exploitation_type.{v}"),
            Code::RecruiterRelation(v) => format!("recruiter_relation.{v}"),
            Code::RecruitmentMethod(v) => format!("recruitment_method.{v}"),
            Code::Vulnerability(v) => format!("vulnerability.{v}"),
            Code::Citizenship => "citizenship".to_owned(),
            Code::CountryOfExploitation => "country_of_exploitation".to_owned(),
        }
    }
}

/// How a form's answers become a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// Total weights at which the result reaches `follow_up` and `refer_now`.
    pub thresholds: Thresholds,
    /// With no indicator found, this many declined questions make the result `follow_up`
    /// rather than `no_indicators`: a screening mostly declined is not a clear one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined_for_follow_up: Option<u32>,
    pub rules: Vec<Rule>,
    /// Services suggested whenever the result reaches a level, besides those of the rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub level_services: BTreeMap<Level, Vec<ServiceType>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub follow_up: u32,
    pub refer_now: u32,
}

/// One indicator: when its condition holds it adds its weight, may force a level (a red
/// flag), gives a reason and suggests services.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub when: Condition,
    /// 3 for a strong indicator, 2 medium, 1 weak (the ILO–EC grading).
    #[serde(default)]
    pub weight: u32,
    /// A red flag: the result is at least this level whatever the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<Level>,
    /// Translation key of the reason shown with the result.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceType>,
    /// Where the indicator comes from, for the people who maintain the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The result of a screening, from least to most urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// No indicator of trafficking was found in the answers given.
    NoIndicators,
    /// Some indicators, or many questions declined: offer support and see the person again.
    FollowUp,
    /// Indicators of trafficking: refer to the services suggested now, with consent.
    ReferNow,
    /// The person is in danger now: act on safety before anything else.
    ImmediateDanger,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::NoIndicators, Level::FollowUp, Level::ReferNow, Level::ImmediateDanger];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::NoIndicators => "no_indicators",
            Level::FollowUp => "follow_up",
            Level::ReferNow => "refer_now",
            Level::ImmediateDanger => "immediate_danger",
        }
    }

    /// Key of the level's name in the translation table.
    pub fn translation_key(self) -> String {
        format!("level.{}", self.as_str())
    }

    /// Key of what to do now at this level.
    pub fn next_step_key(self) -> String {
        format!("level.{}.next_step", self.as_str())
    }
}
