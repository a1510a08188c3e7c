//! Scoring: answers → level, reasons, services and the CTDC/HTCDS-coded summary.
//!
//! Each rule whose condition holds adds its weight and its reason; a rule with `at_least`
//! (a red flag) lifts the level to at least that. The total reaches `follow_up` and
//! `refer_now` at the form's thresholds. "Declined" never matches a rule, so it never counts
//! as yes; declined questions are listed in the result, and when nothing was found but many
//! were declined (`declined_for_follow_up`) the result is `follow_up`, not a clear
//! `no_indicators`. Answers of hidden questions are ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answers::is_declined;
use super::definition::{Code, Form, Level, QuestionType};
use super::{Answers, Strings};
use crate::model::codes::{
    ExploitationType, LabourSector, MeansOfControl, RecruiterRelation, RecruitmentMethod, ServiceType,
    SexualExploitationType, Vulnerability,
};

/// What a screening found. Stored with the screening (beside the form id and version).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScreeningResult {
    pub level: Level,
    /// Sum of the weights of the rules that matched.
    pub score: u32,
    /// Why: red flags first, then by weight, then in the form's order.
    pub reasons: Vec<Reason>,
    /// Questions the person preferred not to answer, in form order.
    pub declined: Vec<String>,
    /// Kinds of service to refer to, most pressing first.
    pub suggested_services: Vec<ServiceType>,
    /// The answers as CTDC/HTCDS codes.
    pub codes: CodedSummary,
}

/// One rule that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Translation key of the sentence (in `strings.json` or the form's `strings`).
    pub key: String,
    /// The ids of the rules that gave this reason (several rules may share one).
    pub rules: Vec<String>,
    /// The questions the rule looked at.
    pub questions: Vec<String>,
    pub weight: u32,
    /// The level this red flag forced, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forces: Option<Level>,
}

/// The coded picture: one list per CTDC/HTCDS variable, each sorted and without repeats.
/// Only a "yes" or a chosen option is coded; "unsure" and "declined" are not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodedSummary {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exploitation_types: Vec<ExploitationType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub means_of_control: Vec<MeansOfControl>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labour_sectors: Vec<LabourSector>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sexual_exploitation_types: Vec<SexualExploitationType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recruiter_relations: Vec<RecruiterRelation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recruitment_methods: Vec<RecruitmentMethod>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    /// ISO 3166-1 alpha-2 (CTDC `citizenship`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citizenship: Vec<String>,
    /// ISO 3166-1 alpha-2 (CTDC `CountryOfExploitation`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub countries_of_exploitation: Vec<String>,
}

impl CodedSummary {
    pub fn is_empty(&self) -> bool {
        self == &CodedSummary::default()
    }

    /// The standard flags set (`isForcedLabour`, `meansOfControlDebtBondage`, …), for
    /// statistics and exports.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        flags.extend(self.exploitation_types.iter().map(|v| v.standard_code()));
        flags.extend(self.means_of_control.iter().map(|v| v.standard_code()));
        flags.extend(self.labour_sectors.iter().map(|v| v.standard_code()));
        flags.extend(self.sexual_exploitation_types.iter().map(|v| v.standard_code()));
        flags.extend(self.recruiter_relations.iter().map(|v| v.standard_code()));
        flags.extend(self.recruitment_methods.iter().map(|v| v.standard_code()));
        flags.extend(self.vulnerabilities.iter().map(|v| v.standard_code()));
        flags
    }

    fn add(&mut self, code: Code) {
        fn push<T: Ord>(list: &mut Vec<T>, value: T) {
            if let Err(at) = list.binary_search(&value) {
                list.insert(at, value);
            }
        }
        match code {
            Code::ExploitationType(v) => push(&mut self.exploitation_types, v),
            Code::MeansOfControl(v) => push(&mut self.means_of_control, v),
            Code::LabourSector(v) => push(&mut self.labour_sectors, v),
            Code::SexualExploitationType(v) => push(&mut self.sexual_exploitation_types, v),
            Code::RecruiterRelation(v) => push(&mut self.recruiter_relations, v),
            Code::RecruitmentMethod(v) => push(&mut self.recruitment_methods, v),
            Code::Vulnerability(v) => push(&mut self.vulnerabilities, v),
            // Countries come with their answer; see `codes`.
            Code::Citizenship | Code::CountryOfExploitation => {}
        }
    }

    fn add_country(&mut self, role: Code, country: &str) {
        let list = match role {
            Code::Citizenship => &mut self.citizenship,
            Code::CountryOfExploitation => &mut self.countries_of_exploitation,
            _ => return,
        };
        if let Err(at) = list.binary_search_by(|c| c.as_str().cmp(country)) {
            list.insert(at, country.to_owned());
        }
    }

    /// CTDC flags a case with both sexual exploitation and forced labour as `isSexAndLabour`;
    /// a sexual-exploitation type implies sexual exploitation.
    fn derive(&mut self) {
        if !self.sexual_exploitation_types.is_empty() {
            self.add(Code::ExploitationType(ExploitationType::SexualExploitation));
        }
        let has = |v| self.exploitation_types.contains(&v);
        if has(ExploitationType::SexualExploitation) && has(ExploitationType::ForcedLabour) {
            self.add(Code::ExploitationType(ExploitationType::SexAndLabour));
        }
    }
}

impl Form {
    /// Scores answers with this form's rules. Answers should have passed
    /// [`Form::validate_answers`]; an answer that does not fit simply matches nothing.
    pub fn score(&self, answers: &Answers) -> ScreeningResult {
        let shown = self.shown_answers(answers);
        let scoring = &self.scoring;

        // (rule position, reason) for every rule that holds.
        let mut matched = Vec::new();
        let mut score = 0u32;
        let mut forced = Level::NoIndicators;
        for (position, rule) in scoring.rules.iter().enumerate() {
            if !rule.when.holds(&shown) {
                continue;
            }
            score = score.saturating_add(rule.weight);
            if let Some(level) = rule.at_least {
                forced = forced.max(level);
            }
            let reason = Reason {
                key: rule.reason.clone(),
                rules: vec![rule.id.clone()],
                questions: rule.when.questions().into_iter().map(str::to_owned).collect(),
                weight: rule.weight,
                forces: rule.at_least,
            };
            matched.push((position, reason, &rule.services));
        }

        let declined: Vec<String> = self
            .questions()
            .filter(|question| shown.get(&question.id).is_some_and(is_declined))
            .map(|question| question.id.clone())
            .collect();

        let thresholds = scoring.thresholds;
        let by_score = if score >= thresholds.refer_now {
            Level::ReferNow
        } else if score >= thresholds.follow_up {
            Level::FollowUp
        } else {
            Level::NoIndicators
        };
        let mut level = by_score.max(forced);
        let many_declined = scoring.declined_for_follow_up.is_some_and(|limit| declined.len() as u32 >= limit);
        if level == Level::NoIndicators && many_declined {
            level = Level::FollowUp;
        }

        // Red flags first (most urgent first), then heavier indicators, then form order.
        matched
            .sort_by(|(pa, a, _), (pb, b, _)| b.forces.cmp(&a.forces).then(b.weight.cmp(&a.weight)).then(pa.cmp(pb)));

        let mut suggested_services: Vec<ServiceType> = Vec::new();
        let mut suggest = |service: &ServiceType| {
            if !suggested_services.contains(service) {
                suggested_services.push(*service);
            }
        };
        for (_, _, services) in &matched {
            services.iter().for_each(&mut suggest);
        }
        // Levels from the most urgent reached down, so a level's own services come after the
        // rules' and the lower levels' last.
        for reached in Level::ALL.iter().rev().filter(|candidate| **candidate <= level) {
            if let Some(services) = scoring.level_services.get(reached) {
                services.iter().for_each(&mut suggest);
            }
        }

        // One reason per key: rules sharing a sentence (e.g. several "unsure" answers) merge.
        let mut reasons: Vec<Reason> = Vec::new();
        for (_, reason, _) in matched {
            match reasons.iter_mut().find(|kept| kept.key == reason.key) {
                Some(kept) => {
                    kept.rules.extend(reason.rules);
                    for question in reason.questions {
                        if !kept.questions.contains(&question) {
                            kept.questions.push(question);
                        }
                    }
                    kept.weight += reason.weight;
                    kept.forces = kept.forces.max(reason.forces);
                }
                None => reasons.push(reason),
            }
        }
        if level == Level::FollowUp && by_score == Level::NoIndicators && forced == Level::NoIndicators {
            reasons.push(Reason {
                key: "reason.many_declined".to_owned(),
                rules: Vec::new(),
                questions: declined.clone(),
                weight: 0,
                forces: Some(Level::FollowUp),
            });
        }

        ScreeningResult { level, score, reasons, declined, suggested_services, codes: self.codes(&shown) }
    }

    /// The CTDC/HTCDS codes the shown answers stand for.
    fn codes(&self, shown: &Answers) -> CodedSummary {
        let mut summary = CodedSummary::default();
        for question in self.questions() {
            let Some(value) = shown.get(&question.id) else {
                continue;
            };
            match question.kind {
                QuestionType::YesNoUnsureDeclined if value.as_str() == Some("yes") => {
                    if let Some(code) = question.code {
                        summary.add(code);
                    }
                }
                QuestionType::SingleChoice | QuestionType::MultipleChoice => {
                    let chosen: Vec<&str> = match value {
                        Value::String(one) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    for option in question.options.iter().filter(|option| chosen.contains(&option.value.as_str())) {
                        if let Some(code) = option.code {
                            summary.add(code);
                        }
                    }
                }
                QuestionType::Country => {
                    let Some(role) = question.code else { continue };
                    let countries: Vec<&str> = match value {
                        Value::String(one) if !is_declined(value) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    for country in countries.into_iter().filter(|c| super::is_country_code(c)) {
                        summary.add_country(role, country);
                    }
                }
                _ => {}
            }
        }
        summary.derive();
        summary
    }
}

impl ScreeningResult {
    /// Every translation key this result uses, for the UI to check or preload.
    pub fn translation_keys(&self) -> Vec<String> {
        let mut keys = vec![self.level.translation_key(), self.level.next_step_key()];
        keys.extend(self.reasons.iter().map(|reason| reason.key.clone()));
        keys.extend(self.suggested_services.iter().map(|service| format!("service_type.{service}")));
        keys
    }

    /// The level's name in a language.
    pub fn level_text<'a>(&self, strings: &'a Strings, lang: super::Lang) -> &'a str {
        strings.get(&self.level.translation_key(), lang).unwrap_or(self.level.as_str())
    }
}
