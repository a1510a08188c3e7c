//! A screening's result taken into its case: offered once, taken with one confirmation as an
//! ordinary edit that merges with what the case already says, and never offered again. Every
//! name and answer is invented; assertions report codes, never values typed.

use harbour_core::forms::{Answers, FormLibrary, Lang, Level};
use harbour_core::model::{CaseFields, ExploitationType, FieldValue, MeansOfControl, RiskLevel};
use harbour_core::store::{CaseSuggestion, FROM_SCREENING};
use serde_json::json;

use crate::support::*;

fn clinic_answers() -> Answers {
    [
        ("q_safe_to_talk", json!("yes")),
        ("q_danger_now", json!("no")),
        ("q_documents", json!("yes")),
        ("q_debt", json!("yes")),
        ("q_sexual", json!("unsure")),
        ("q_movement", json!("declined")),
        ("q_wants_help", json!("yes")),
    ]
    .into_iter()
    .map(|(id, value)| (id.to_owned(), value))
    .collect()
}

#[test]
fn a_screenings_result_is_taken_once_as_an_edit_that_keeps_what_the_case_had() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(CaseFields::named("Maelis Corrowen").unwrap()).unwrap();
    workspace.update_case(case.id, vec![FieldValue::MeansOfControl(vec![MeansOfControl::Threats])], None).unwrap();
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").unwrap();
    let (screening, result, _) = workspace.record_screening(case.id, form, clinic_answers(), Lang::En).unwrap();
    assert_eq!(result.level, Level::ReferNow);

    let state = workspace.view_case(case.id).unwrap();
    let suggestion = CaseSuggestion::latest(&state).expect("a new screening's result is offered");
    assert_eq!(suggestion.screening_id, screening.id);
    assert_eq!(suggestion.risk_level.new, Some(RiskLevel::High));
    // "Not sure" and "prefers not to answer" are never coded.
    assert_eq!(suggestion.exploitation_types.suggested, Vec::<ExploitationType>::new());
    assert_eq!(suggestion.means_of_control.kept, [MeansOfControl::Threats]);
    assert_eq!(suggestion.means_of_control.added, [MeansOfControl::DebtBondage, MeansOfControl::WithholdsDocuments]);

    let taken = workspace.take_screening_result(case.id, screening.id).unwrap();
    assert_eq!(taken.fields.risk_level, Some(RiskLevel::High));
    assert_eq!(
        taken.fields.means_of_control,
        [MeansOfControl::DebtBondage, MeansOfControl::Threats, MeansOfControl::WithholdsDocuments]
    );
    let audit: Vec<String> =
        workspace.audit_log(5).unwrap().into_iter().map(|entry| format!("{} {}", entry.action, entry.detail)).collect();
    assert!(audit.contains(&"case.update risk_level,means_of_control".to_owned()), "audited as an edit: {audit:?}");

    // Taken once: after a lock it is no longer offered, and a second take is refused.
    drop(workspace);
    let mut workspace = unlock(&fixture.dir);
    let state = workspace.view_case(case.id).unwrap();
    let edit = state.history.last().expect("the edit is in the history");
    assert_eq!(edit.kind, "case.updated");
    assert_eq!(edit.reason.as_deref(), Some(format!("{FROM_SCREENING}{}", screening.id).as_str()));
    assert_eq!(CaseSuggestion::latest(&state), None);
    let again = workspace.take_screening_result(case.id, screening.id).unwrap_err();
    assert!(again.to_string().contains("already taken"), "{again}");
    // An ordinary edit: it waits to be sent like any other.
    assert_eq!(workspace.pending_events(100).unwrap().len(), 4, "creation, edit, screening and the taken result");
}

#[test]
fn a_result_with_nothing_new_is_not_offered_and_cannot_be_taken() {
    let (_fixture, mut workspace) = new_workspace();
    let mut fields = CaseFields::named("Teodric Vallmoor").unwrap();
    fields.risk_level = Some(RiskLevel::High);
    let case = workspace.create_case(fields).unwrap();
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").unwrap();
    let calm: Answers = [("q_safe_to_talk", "yes"), ("q_danger_now", "no"), ("q_wants_help", "no")]
        .into_iter()
        .map(|(id, value)| (id.to_owned(), json!(value)))
        .collect();
    let (screening, result, _) = workspace.record_screening(case.id, form, calm, Lang::En).unwrap();
    assert_eq!(result.level, Level::NoIndicators);
    let state = workspace.view_case(case.id).unwrap();
    assert_eq!(CaseSuggestion::latest(&state), None, "a high risk is not lowered by a calm screening");
    let refused = workspace.take_screening_result(case.id, screening.id).unwrap_err();
    assert!(refused.to_string().contains("nothing to take"), "{refused}");
    assert_eq!(workspace.view_case(case.id).unwrap().fields.risk_level, Some(RiskLevel::High));
}
