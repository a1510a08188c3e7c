//! The facts the annual figures need: typed and validated at the edge, kept across lock and
//! unlock, and shown with the whole case.

use harbour_core::model::{
    ApproxDate, CaseFields, Country, Field, FieldValue, IdentificationStatus, JusticeStage, PerpetratorRole,
    ProcessStage, RecruiterRelation, ServiceType, Sex,
};
use harbour_core::{EntryId, JusticeInput, PerpetratorInput, ProcessInput};

use crate::support::*;

#[test]
fn process_justice_perpetrators_and_services_are_checked_and_kept() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(CaseFields::named("Desk person").unwrap()).unwrap().id;
    let values = ["identification_status=presumed", "identification_date=2024-03-02", "country_of_exploitation=TT"]
        .iter()
        .map(|text| {
            let (field, value) = text.split_once('=').unwrap();
            FieldValue::parse(Field::parse(field).unwrap(), value).unwrap()
        })
        .collect();
    workspace.update_case(case, values, None).unwrap();

    let process = |stage, from: Option<&str>, to: Option<&str>| ProcessInput {
        stage,
        country: Country::parse_for("country", "VE").unwrap(),
        place: Some("Port town".into()),
        from: from.map(|text| ApproxDate::parse("from", text).unwrap()),
        to: to.map(|text| ApproxDate::parse("to", text).unwrap()),
    };
    workspace.add_process_event(case, process(ProcessStage::Recruitment, Some("~2023-02"), Some("2023-03"))).unwrap();
    assert_eq!(
        outcome(&workspace.add_process_event(case, process(ProcessStage::Transit, Some("2023-05"), Some("2023-04")))),
        "error: to: the end is before the start; give the start in --from and the end in --to"
    );

    let perpetrator = PerpetratorInput {
        roles: vec![PerpetratorRole::Recruiter],
        sex: Some(Sex::Male),
        nationality: Some(Country::parse("LC").unwrap()),
        relationship: Some(RecruiterRelation::Friend),
    };
    let (perpetrator_id, _) = workspace.add_perpetrator(case, perpetrator.clone()).unwrap();
    assert!(
        outcome(&workspace.add_perpetrator(case, PerpetratorInput { roles: vec![], ..perpetrator }))
            .starts_with("error: role: say what the perpetrator did")
    );
    let step = |stage, perpetrator, sentence_months| JusticeInput {
        stage,
        date: Some(day("2024-01-15")),
        perpetrator,
        sentence_months,
    };
    workspace.add_justice_step(case, step(JusticeStage::Investigation, None, None)).unwrap();
    workspace.add_justice_step(case, step(JusticeStage::Convicted, Some(perpetrator_id), Some(48))).unwrap();
    assert!(
        outcome(&workspace.add_justice_step(case, step(JusticeStage::Charged, Some(EntryId::new()), None)))
            .starts_with("error: perpetrator: no perpetrator with that id on this case")
    );
    assert!(
        outcome(&workspace.add_justice_step(case, step(JusticeStage::Prosecution, None, Some(12))))
            .starts_with("error: sentence: a sentence is recorded with a conviction only")
    );
    workspace.add_service_received(case, ServiceType::Shelter, day("2024-01-20"), Some(day("2024-02-20"))).unwrap();
    assert_eq!(
        outcome(&workspace.add_service_received(
            case,
            ServiceType::Medical,
            day("2024-01-20"),
            Some(day("2024-01-19"))
        )),
        "error: until: the end is before the start date"
    );
    drop(workspace);

    let mut workspace = unlock(&fixture.dir);
    let state = workspace.view_case(case).unwrap();
    assert_eq!(state.fields.identification_status, Some(IdentificationStatus::Presumed));
    assert_eq!(state.fields.country_of_exploitation.as_ref().map(|c| c.as_str()), Some("TT"));
    assert_eq!(state.process.len(), 1);
    assert_eq!(state.process[0].entry.from.unwrap().to_string(), "~2023-02");
    assert_eq!(state.perpetrators.len(), 1);
    let stages: Vec<JusticeStage> = state.justice.iter().map(|step| step.entry.stage).collect();
    assert_eq!(stages, [JusticeStage::Investigation, JusticeStage::Convicted]);
    assert_eq!(state.justice[1].entry.sentence_months, Some(48));
    assert_eq!(state.services.len(), 1);
    let kinds: Vec<&str> = state.history.iter().map(|entry| entry.kind.as_str()).collect();
    for kind in ["process.added", "perpetrator.added", "justice.added", "service.added"] {
        assert!(kinds.contains(&kind), "{kind} in the history");
    }
    // The audit log names what was recorded by its code only.
    let log = serde_json::to_string(&workspace.audit_log(50).unwrap()).unwrap();
    assert!(log.contains("justice.add") && log.contains("convicted") && !log.contains("Port town"));
}

/// Each refusal of the desk's entries carries its fault as data, which the desktop says in the
/// worker's language beside the field (`error.fault.<code>`); the command line's sentence stays.
#[test]
fn every_refusal_of_a_desk_entry_names_its_fault() {
    use harbour_core::Error;
    use harbour_core::model::Fault;
    fn fault<T>(result: harbour_core::Result<T>) -> (String, Option<Fault>) {
        match result {
            Err(Error::Invalid { field, fault, .. }) => (field, fault),
            Err(other) => panic!("not a refused value: {other}"),
            Ok(_) => panic!("accepted"),
        }
    }
    let (_fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(CaseFields::named("Desk faults").unwrap()).unwrap().id;
    assert_eq!(fault(ApproxDate::parse("from", "May 2023")), ("from".into(), Some(Fault::NotAPartialDate)));
    assert_eq!(fault(ApproxDate::parse("from", "2999-01")), ("from".into(), Some(Fault::DateInFuture)));
    assert_eq!(fault(ApproxDate::parse("to", "1850")), ("to".into(), Some(Fault::DateTooEarly)));
    let process = ProcessInput {
        stage: ProcessStage::Transit,
        country: Country::parse_for("country", "VE").unwrap(),
        place: None,
        from: Some(ApproxDate::parse("from", "2023-05").unwrap()),
        to: Some(ApproxDate::parse("to", "2023-04").unwrap()),
    };
    assert_eq!(fault(workspace.add_process_event(case, process)), ("to".into(), Some(Fault::EndBeforeStart)));
    let step = JusticeInput {
        stage: JusticeStage::Acquitted,
        date: Some(day("2024-01-15")),
        perpetrator: None,
        sentence_months: Some(6),
    };
    assert_eq!(fault(workspace.add_justice_step(case, step)), ("sentence".into(), Some(Fault::OnlyWithConviction)));
    let step = JusticeInput {
        stage: JusticeStage::Charged,
        date: None,
        perpetrator: Some(EntryId::new()),
        sentence_months: None,
    };
    assert_eq!(fault(workspace.add_justice_step(case, step)), ("perpetrator".into(), Some(Fault::NotAllowed)));
    let nobody = PerpetratorInput { roles: vec![], sex: None, nationality: None, relationship: None };
    assert_eq!(fault(workspace.add_perpetrator(case, nobody)), ("role".into(), Some(Fault::Empty)));
    let ended_before =
        workspace.add_service_received(case, ServiceType::LegalAid, day("2024-01-20"), Some(day("2024-01-02")));
    assert_eq!(fault(ended_before), ("until".into(), Some(Fault::EndBeforeStart)));
    assert!(workspace.view_case(case).unwrap().justice.is_empty(), "nothing refused was recorded");
}
