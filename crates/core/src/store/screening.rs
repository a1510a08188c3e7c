//! Screenings, the duplicate check, the service directory and referral packets: the store's
//! half of the forms engine (`crate::forms`), the matcher (`crate::matching`) and the
//! directory (`crate::directory`).
//!
//! Nothing here logs, and no error repeats an answer or a name: audit details are form ids,
//! versions, directory versions and referral ids only.

use chrono::{Datelike, NaiveDate};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Workspace, format_ms};
use crate::error::{Error, Result};
use crate::fold::CaseState;
use crate::forms::{Answers, Form, FormError, FormLibrary, Lang, ScreeningResult};
use crate::ids::{CaseCode, CaseId, EntryId};
use crate::matching::{self, Candidate, MatchReason, PersonDetails};
use crate::model::{
    AgeEstimate, CaseFields, CaseStatus, Consent, ConsentMethod, ConsentScope, ExploitationType, MeansOfControl, Phone,
    Referral, ReferralStatus, RiskLevel, Screening, Sex,
};

/// How many cases the full-text prefilter hands to the matcher at most.
pub const DUPLICATE_PREFILTER_LIMIT: usize = 200;

/// A case already recorded that may be the same person as one about to be recorded. It carries
/// no name: the worker opens the case (an audited view) to compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateCandidate {
    pub case_id: CaseId,
    pub code: CaseCode,
    /// From [`matching::MATCH_THRESHOLD`] to 100.
    pub score: u8,
    pub reasons: Vec<MatchReason>,
}

/// What may leave this laptop for one referral: the referral, the consent it relies on, and
/// only the parts of the case that consent covers. A part the consent does not cover is
/// absent (`None` or empty), never blank-filled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferralPacket {
    /// The case code, so the service can refer back without a name.
    pub case_code: CaseCode,
    pub referral: Referral,
    pub status: ReferralStatus,
    pub consent: ConsentShared,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityShared>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactShared>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_summary: Option<SummaryShared>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub screenings: Vec<ScreeningShared>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<NoteShared>,
}

/// The consent a referral relies on, without the worker's note about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentShared {
    pub id: EntryId,
    pub scope: Vec<ConsentScope>,
    pub shared_with: String,
    pub given_on: NaiveDate,
    pub method: ConsentMethod,
}

/// `identity`: who the person is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityShared {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_age: Option<AgeEstimate>,
}

/// `contact`: how to reach the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactShared {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// `case_summary`: where the case stands, without notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryShared {
    pub status: CaseStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exploitation_types: Vec<ExploitationType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub means_of_control: Vec<MeansOfControl>,
}

/// `screenings`: a screening's result (level, reasons, codes), not the answers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScreeningShared {
    pub form_id: String,
    pub form_version: u32,
    pub recorded_at: String,
    pub result: serde_json::Value,
}

/// `notes`: a worker's note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoteShared {
    pub recorded_at: String,
    pub text: String,
}

impl Workspace {
    /// Checks answers against `form`, scores them and records the screening on the case. A
    /// refused answer names its question and never repeats the answer; nothing is stored then.
    pub fn record_screening(
        &mut self,
        case_id: CaseId,
        form: &Form,
        answers: Answers,
        language: Lang,
    ) -> Result<(Screening, ScreeningResult, CaseState)> {
        form.validate_answers(&answers).map_err(answer_error)?;
        let result = form.score(&answers);
        let screening = Screening {
            id: EntryId::new(),
            form_id: form.id.clone(),
            form_version: form.version,
            language: language.code().to_owned(),
            answers,
            result: serde_json::to_value(&result).expect("a screening result serializes"),
        };
        let state = self.add_screening(case_id, screening.clone())?;
        Ok((screening, result, state))
    }

    /// Cases already recorded that may be the same person as `fields`, best first.
    ///
    /// The full-text index picks at most [`DUPLICATE_PREFILTER_LIMIT`] cases sharing a name
    /// word's beginning (ranked by how many they share), then [`matching::find_matches`] judges
    /// them on the stored names, aliases, birth years and nationalities. Word beginnings (three
    /// letters, with the first letter's transliteration variants) rather than whole words, so
    /// "Хосе Перес" (folded "khose peres") still meets "José Pérez".
    pub fn likely_duplicates(&self, fields: &CaseFields) -> Result<Vec<DuplicateCandidate>> {
        let person = person_details(fields);
        let Some(query) = duplicate_query(&person) else { return Ok(Vec::new()) };
        let mut statement = self.conn.prepare_cached(
            "SELECT c.id, c.code, s.state
             FROM (SELECT rowid FROM case_search WHERE case_search MATCH ?1 ORDER BY rank LIMIT ?2) m
             JOIN cases c ON c.rowid = m.rowid JOIN case_states s ON s.case_rowid = c.rowid",
        )?;
        let rows = statement.query_map(params![query, DUPLICATE_PREFILTER_LIMIT as i64], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, Vec<u8>>(2)?))
        })?;
        let mut candidates = Vec::new();
        for row in rows {
            let (id, code, state) = row?;
            let json = super::unpack_projection(&state)?;
            let stored: StoredPerson =
                serde_json::from_slice(&json).map_err(|_| Error::Corrupt("case state".into()))?;
            let code = CaseCode::parse(&code).ok_or_else(|| Error::Corrupt("case code".into()))?;
            candidates.push(Candidate { id: (id.parse::<CaseId>()?, code), person: stored_details(stored.fields) });
        }
        Ok(matching::find_matches(&person, &candidates)
            .into_iter()
            .map(|found| DuplicateCandidate {
                case_id: found.candidate.id.0,
                code: found.candidate.id.1.clone(),
                score: found.score,
                reasons: found.reasons,
            })
            .collect())
    }

    /// What may be sent to the service of one referral: only the case fields its consent
    /// covers. Audited as `referral.export`, since it is meant to leave this laptop.
    pub fn referral_packet(&mut self, case_id: CaseId, referral_id: EntryId) -> Result<ReferralPacket> {
        let state = self.full_state(case_id)?;
        let referral = state
            .referral(referral_id)
            .ok_or_else(|| Error::invalid("referral", "no referral with that id on this case"))?;
        let consent = state.consent(referral.referral.consent_id).ok_or_else(|| {
            Error::invalid(
                "consent",
                "the consent this referral relies on is not on this laptop; nothing can be shared",
            )
        })?;
        let packet = packet(&state, referral.referral.clone(), referral.status, consent);
        let scope: Vec<&str> = consent.scope.iter().map(|scope| scope.as_str()).collect();
        self.audit_now("referral.export", Some(case_id), &format!("{referral_id} [{}]", scope.join(",")))?;
        Ok(packet)
    }
}

// Kept here, beside `record_screening`, so all of a screening's life is in one file.
impl Screening {
    /// The exact form version this screening was filled with, from `library`.
    pub fn form<'a>(&self, library: &'a FormLibrary) -> Result<&'a Form> {
        library.get(&self.form_id, self.form_version).ok_or_else(|| {
            Error::invalid(
                "form",
                format!(
                    "{} v{} is not known to this version of Harbour; install the Harbour that has it to read this screening",
                    self.form_id, self.form_version
                ),
            )
        })
    }

    /// The result as computed when it was recorded.
    pub fn stored_result(&self) -> Result<ScreeningResult> {
        serde_json::from_value(self.result.clone()).map_err(|_| Error::Corrupt("screening result".into()))
    }

    /// Scores the answers again with the screening's own form version (never a newer one).
    pub fn rescore(&self, library: &FormLibrary) -> Result<ScreeningResult> {
        Ok(self.form(library)?.score(&self.answers))
    }
}

/// The case fields the duplicate check reads from a stored state; the rest is skipped.
#[derive(Deserialize)]
pub(super) struct StoredPerson {
    pub(super) fields: PersonFields,
}

#[derive(Deserialize)]
pub(super) struct PersonFields {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    birth_date: Option<NaiveDate>,
    estimated_age: Option<AgeEstimate>,
    #[serde(default)]
    nationalities: Vec<String>,
}

pub(super) fn person_details(fields: &CaseFields) -> PersonDetails {
    PersonDetails {
        name: fields.name.clone(),
        aliases: fields.aliases.clone(),
        birth_year: birth_year(fields.birth_date, fields.estimated_age.as_ref()),
        nationalities: fields.nationalities.iter().map(|country| country.as_str().to_owned()).collect(),
    }
}

pub(super) fn stored_details(fields: PersonFields) -> PersonDetails {
    PersonDetails {
        birth_year: birth_year(fields.birth_date, fields.estimated_age.as_ref()),
        name: fields.name,
        aliases: fields.aliases,
        nationalities: fields.nationalities,
    }
}

/// The birth year, or the year an estimated age points to (as of the day it was estimated).
fn birth_year(birth_date: Option<NaiveDate>, estimated_age: Option<&AgeEstimate>) -> Option<i32> {
    birth_date.map(|date| date.year()).or_else(|| estimated_age.map(|age| age.as_of.year() - i32::from(age.years)))
}

/// The prefilter's full-text query: every name and alias word, whole and by its first three
/// letters (with first-letter transliteration variants), as prefixes OR-ed. `None` when no
/// word is long enough to search by.
fn duplicate_query(person: &PersonDetails) -> Option<String> {
    let terms = duplicate_terms(person);
    if terms.is_empty() {
        return None;
    }
    Some(terms.iter().map(|term| format!("\"{term}\"*")).collect::<Vec<_>>().join(" OR "))
}

/// The prefixes of [`duplicate_query`], in its order, each once.
pub(super) fn duplicate_terms(person: &PersonDetails) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut add = |term: String| {
        if !terms.contains(&term) {
            terms.push(term);
        }
    };
    for name in std::iter::once(&person.name).chain(&person.aliases) {
        for word in super::normalize_text(name).split(' ').filter(|word| word.len() >= 2) {
            add(word.to_owned());
            for variant in first_letter_variants(word) {
                add(variant.chars().take(3).collect());
            }
        }
    }
    terms
}

/// A word and the spellings its beginning takes between scripts (as `matching` folds them):
/// kh/h/j, ph/f, c/k/q, z/s, w/v, y/i.
fn first_letter_variants(word: &str) -> Vec<String> {
    let groups: [&[&str]; 6] =
        [&["kh", "j", "h"], &["ph", "f"], &["c", "k", "q"], &["z", "s"], &["w", "v"], &["y", "i"]];
    let mut out = vec![word.to_owned()];
    for group in groups {
        if let Some(start) = group.iter().find(|start| word.starts_with(**start)) {
            let rest = &word[start.len()..];
            for other in group.iter().filter(|other| *other != start) {
                out.push(format!("{other}{rest}"));
            }
            break;
        }
    }
    out
}

/// A refused answer as core's error: the question as the field, what is allowed as the problem.
fn answer_error(error: FormError) -> Error {
    match error {
        FormError::Answer { question, message, .. } => {
            Error::Invalid { field: question, problem: message, fault: None }
        }
        other => Error::invalid("answers", other.to_string()),
    }
}

fn packet(state: &CaseState, referral: Referral, status: ReferralStatus, consent: &Consent) -> ReferralPacket {
    let covers = |scope: ConsentScope| consent.scope.contains(&scope);
    let fields = &state.fields;
    let identity = covers(ConsentScope::Identity).then(|| IdentityShared {
        name: fields.name.clone(),
        aliases: fields.aliases.clone(),
        sex: fields.sex,
        birth_date: fields.birth_date,
        estimated_age: fields.estimated_age,
    });
    let contact = covers(ConsentScope::Contact)
        .then(|| ContactShared { phone: fields.phone.clone(), location: fields.location.clone() });
    let case_summary = covers(ConsentScope::CaseSummary).then(|| SummaryShared {
        status: fields.status,
        risk_level: fields.risk_level,
        exploitation_types: fields.exploitation_types.clone(),
        means_of_control: fields.means_of_control.clone(),
    });
    let screenings = if covers(ConsentScope::Screenings) {
        state
            .screenings
            .iter()
            .map(|dated| ScreeningShared {
                form_id: dated.entry.form_id.clone(),
                form_version: dated.entry.form_version,
                recorded_at: format_ms(dated.recorded.at_ms() as i64),
                result: dated.entry.result.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let notes = if covers(ConsentScope::Notes) {
        state
            .notes
            .iter()
            .map(|dated| NoteShared {
                recorded_at: format_ms(dated.recorded.at_ms() as i64),
                text: dated.entry.text.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    // `health` covers nothing extra yet: Harbour keeps no health record of its own.
    ReferralPacket {
        case_code: state.code.clone(),
        referral,
        status,
        consent: ConsentShared {
            id: consent.id,
            scope: consent.scope.clone(),
            shared_with: consent.shared_with.clone(),
            given_on: consent.given_on,
            method: consent.method,
        },
        identity,
        contact,
        case_summary,
        screenings,
        notes,
    }
}
