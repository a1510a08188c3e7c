//! A screening's result taken into its case: the risk level, exploitation types and means of
//! control the form coded, offered to the worker after a screening and, once confirmed,
//! recorded as ordinary field edits (so they sync, merge and are audited like any edit).
//!
//! Taking a result never wipes what the case already says: the two lists are merged, and a
//! risk level is raised, never lowered (lowering a risk someone assessed is a decision for an
//! edit, not a side effect of a screening that asked fewer questions). The edit carries the
//! coded reason [`FROM_SCREENING`] followed by the screening's id, which is how every laptop
//! knows that this screening's result was taken.

use serde::Serialize;

use super::Workspace;
use crate::error::{Error, Result};
use crate::fold::{CaseState, Dated};
use crate::forms::{Level, ScreeningResult};
use crate::ids::{CaseId, EntryId};
use crate::model::{CaseFields, ExploitationType, FieldValue, MeansOfControl, RiskLevel, Screening};

/// The beginning of the reason of an edit that took a screening's result; the screening's id
/// follows. A code, which interfaces show in their own words, never free text.
pub const FROM_SCREENING: &str = "from_screening:";

/// What taking one screening's result would do to its case, field by field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseSuggestion {
    pub screening_id: EntryId,
    pub form_id: String,
    /// When the screening was recorded (milliseconds since the Unix epoch).
    pub recorded_ms: u64,
    pub level: Level,
    pub risk_level: RiskSuggestion,
    pub exploitation_types: ListSuggestion<ExploitationType>,
    pub means_of_control: ListSuggestion<MeansOfControl>,
}

/// The risk level the screening's level stands for, against the case's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RiskSuggestion {
    /// What the case says now.
    pub current: Option<RiskLevel>,
    /// What the screening's level stands for ([`risk_for`]).
    pub suggested: RiskLevel,
    /// The value taking the result sets: `None` when the case keeps its risk level (the same,
    /// or higher than the screening's).
    pub new: Option<RiskLevel>,
}

/// One coded list: what the screening coded, what the case has already and stays, and what
/// taking the result adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListSuggestion<T> {
    pub suggested: Vec<T>,
    pub kept: Vec<T>,
    pub added: Vec<T>,
}

impl<T: Copy + Ord> ListSuggestion<T> {
    /// The case's list and the screening's merged: nothing removed, each value once.
    pub fn merged(&self) -> Vec<T> {
        let mut all: Vec<T> = self.kept.iter().chain(&self.added).copied().collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The case risk level a screening's level stands for: danger or signs of trafficking are a
/// high risk, some signs (or many questions declined) a medium one, none a low one.
pub fn risk_for(level: Level) -> RiskLevel {
    match level {
        Level::ImmediateDanger | Level::ReferNow => RiskLevel::High,
        Level::FollowUp => RiskLevel::Medium,
        Level::NoIndicators => RiskLevel::Low,
    }
}

impl CaseSuggestion {
    /// What taking `result` (of the screening `screening_id`) would do to a case whose fields
    /// are `fields`.
    pub fn of(
        screening_id: EntryId,
        form_id: &str,
        recorded_ms: u64,
        result: &ScreeningResult,
        fields: &CaseFields,
    ) -> CaseSuggestion {
        let suggested = risk_for(result.level);
        let new = match fields.risk_level {
            Some(current) if current >= suggested => None,
            _ => Some(suggested),
        };
        let mut exploitation_types = list(&fields.exploitation_types, &result.codes.exploitation_types);
        // CTDC flags a case with both sexual exploitation and forced labour as `sex_and_labour`,
        // as the form's own coding does: the merged list keeps that true.
        let merged = exploitation_types.merged();
        if merged.contains(&ExploitationType::SexualExploitation)
            && merged.contains(&ExploitationType::ForcedLabour)
            && !merged.contains(&ExploitationType::SexAndLabour)
        {
            exploitation_types.added.push(ExploitationType::SexAndLabour);
            exploitation_types.added.sort();
        }
        CaseSuggestion {
            screening_id,
            form_id: form_id.to_owned(),
            recorded_ms,
            level: result.level,
            risk_level: RiskSuggestion { current: fields.risk_level, suggested, new },
            exploitation_types,
            means_of_control: list(&fields.means_of_control, &result.codes.means_of_control),
        }
    }

    /// The suggestion of the latest screening of `state`, unless its result was taken already
    /// or taking it would change nothing. `state` must be a whole case (with its screenings and
    /// history). A result that no longer reads gives none.
    pub fn latest(state: &CaseState) -> Option<CaseSuggestion> {
        let latest = state.screenings.iter().max_by_key(|dated| (dated.recorded.hlc, dated.recorded.event_id))?;
        if taken(state, latest.entry.id) {
            return None;
        }
        let suggestion = suggestion_of(latest, &state.fields).ok()?;
        (!suggestion.changes().is_empty()).then_some(suggestion)
    }

    /// The field values taking the result records: only the fields it changes.
    pub fn changes(&self) -> Vec<FieldValue> {
        let mut values = Vec::new();
        if let Some(risk) = self.risk_level.new {
            values.push(FieldValue::RiskLevel(Some(risk)));
        }
        if !self.exploitation_types.added.is_empty() {
            values.push(FieldValue::ExploitationTypes(self.exploitation_types.merged()));
        }
        if !self.means_of_control.added.is_empty() {
            values.push(FieldValue::MeansOfControl(self.means_of_control.merged()));
        }
        values
    }
}

impl Workspace {
    /// Takes the result of the screening `screening_id` into its case: one edit of the fields
    /// it changes (see [`CaseSuggestion::changes`]), with the reason [`FROM_SCREENING`] and the
    /// screening's id. Refused when the screening is not on the case or its result is already
    /// there (taken before, or nothing to add).
    pub fn take_screening_result(&mut self, case_id: CaseId, screening_id: EntryId) -> Result<CaseState> {
        let state = self.full_state(case_id)?;
        let screening = state
            .screenings
            .iter()
            .find(|dated| dated.entry.id == screening_id)
            .ok_or_else(|| Error::invalid("screening", "no screening with that id on this case"))?;
        if taken(&state, screening_id) {
            return Err(Error::invalid("screening", "its result was already taken into the case"));
        }
        let values = suggestion_of(screening, &state.fields)?.changes();
        if values.is_empty() {
            return Err(Error::invalid(
                "screening",
                "the case already has its risk level, exploitation types and means of control; nothing to take",
            ));
        }
        self.update_from(state, values, Some(format!("{FROM_SCREENING}{screening_id}")))
    }
}

fn suggestion_of(screening: &Dated<Screening>, fields: &CaseFields) -> Result<CaseSuggestion> {
    let result = screening.entry.stored_result()?;
    Ok(CaseSuggestion::of(screening.entry.id, &screening.entry.form_id, screening.recorded.at_ms(), &result, fields))
}

/// Whether an edit of the case took the result of the screening `id`.
fn taken(state: &CaseState, id: EntryId) -> bool {
    let reason = format!("{FROM_SCREENING}{id}");
    state.history.iter().any(|entry| entry.reason.as_deref() == Some(reason.as_str()))
}

fn list<T: Copy + Ord>(current: &[T], suggested: &[T]) -> ListSuggestion<T> {
    let mut suggested = suggested.to_vec();
    suggested.sort();
    suggested.dedup();
    let mut kept = current.to_vec();
    kept.sort();
    kept.dedup();
    let added = suggested.iter().copied().filter(|value| !kept.contains(value)).collect();
    ListSuggestion { suggested, kept, added }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::CodedSummary;

    fn result(level: Level, exploitation: &[ExploitationType], control: &[MeansOfControl]) -> ScreeningResult {
        ScreeningResult {
            level,
            score: 0,
            reasons: Vec::new(),
            declined: Vec::new(),
            suggested_services: Vec::new(),
            codes: CodedSummary {
                exploitation_types: exploitation.to_vec(),
                means_of_control: control.to_vec(),
                ..CodedSummary::default()
            },
        }
    }

    fn suggest(result: &ScreeningResult, fields: &CaseFields) -> CaseSuggestion {
        CaseSuggestion::of(EntryId::new(), "clinic-screening", 0, result, fields)
    }

    #[test]
    fn each_level_stands_for_a_risk() {
        let risks: Vec<RiskLevel> = Level::ALL.iter().map(|level| risk_for(*level)).collect();
        assert_eq!(risks, [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High, RiskLevel::High]);
    }

    #[test]
    fn a_case_with_nothing_takes_everything_the_screening_coded() {
        let fields = CaseFields::named("Test person").unwrap();
        let found = result(
            Level::ReferNow,
            &[ExploitationType::SexualExploitation],
            &[MeansOfControl::WithholdsDocuments, MeansOfControl::DebtBondage],
        );
        let suggestion = suggest(&found, &fields);
        assert_eq!(
            suggestion.changes(),
            [
                FieldValue::RiskLevel(Some(RiskLevel::High)),
                FieldValue::ExploitationTypes(vec![ExploitationType::SexualExploitation]),
                FieldValue::MeansOfControl(vec![MeansOfControl::DebtBondage, MeansOfControl::WithholdsDocuments]),
            ]
        );
        assert_eq!(
            suggestion.risk_level,
            RiskSuggestion { current: None, suggested: RiskLevel::High, new: Some(RiskLevel::High) }
        );
        assert!(suggestion.means_of_control.kept.is_empty());
    }

    #[test]
    fn values_already_on_the_case_are_kept_and_only_new_ones_added() {
        let mut fields = CaseFields::named("Test person").unwrap();
        fields.risk_level = Some(RiskLevel::Medium);
        fields.exploitation_types = vec![ExploitationType::ForcedLabour];
        fields.means_of_control = vec![MeansOfControl::Threats, MeansOfControl::DebtBondage];
        let found = result(
            Level::FollowUp,
            &[ExploitationType::SexualExploitation],
            &[MeansOfControl::DebtBondage, MeansOfControl::RestrictsMovement],
        );
        let suggestion = suggest(&found, &fields);
        assert_eq!(suggestion.risk_level.new, None, "the same risk level is not set again");
        assert_eq!(suggestion.means_of_control.kept, [MeansOfControl::DebtBondage, MeansOfControl::Threats]);
        assert_eq!(suggestion.means_of_control.added, [MeansOfControl::RestrictsMovement]);
        // Forced labour kept, sexual exploitation added: CTDC's combined flag comes with them.
        assert_eq!(
            suggestion.exploitation_types.added,
            [ExploitationType::SexualExploitation, ExploitationType::SexAndLabour]
        );
        assert_eq!(
            suggestion.changes(),
            [
                FieldValue::ExploitationTypes(vec![
                    ExploitationType::ForcedLabour,
                    ExploitationType::SexualExploitation,
                    ExploitationType::SexAndLabour,
                ]),
                FieldValue::MeansOfControl(vec![
                    MeansOfControl::DebtBondage,
                    MeansOfControl::Threats,
                    MeansOfControl::RestrictsMovement,
                ]),
            ]
        );
    }

    #[test]
    fn a_risk_level_is_raised_never_lowered() {
        let mut fields = CaseFields::named("Test person").unwrap();
        fields.risk_level = Some(RiskLevel::High);
        let calm = suggest(&result(Level::NoIndicators, &[], &[]), &fields);
        assert_eq!(
            calm.risk_level,
            RiskSuggestion { current: Some(RiskLevel::High), suggested: RiskLevel::Low, new: None }
        );
        assert!(calm.changes().is_empty(), "nothing to take");
        fields.risk_level = Some(RiskLevel::Low);
        let danger = suggest(&result(Level::ImmediateDanger, &[], &[]), &fields);
        assert_eq!(danger.changes(), [FieldValue::RiskLevel(Some(RiskLevel::High))]);
    }
}
