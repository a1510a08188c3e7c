//! Round trips through a real workspace: what is written survives locking and unlocking, and
//! every refusal says what to do.

use std::collections::BTreeMap;

use harbour_core::model::{
    CaseFields, ConsentMethod, ConsentScope, Field, FieldValue, ReferralReason, ReferralStatus, Screening, ServiceType,
    Urgency,
};
use harbour_core::{CaseId, CaseQuery, ConsentInput, EntryId, Error, ReferralInput, Workspace};
use serde_json::json;

use crate::support::*;

#[test]
fn cases_survive_lock_and_unlock() {
    let (fixture, mut workspace) = new_workspace();
    let full = workspace.create_case(full_fields()).unwrap();
    let named = workspace.create_case(CaseFields::named("Yelvana Trossik").unwrap()).unwrap();
    assert_same(&full.fields, &full_fields(), "fields as created");
    assert!(full.code.as_str().starts_with("LC-"), "code has the prefix");
    assert_ne!(full.code, named.code);

    let listed = workspace.list_cases(&CaseQuery::default()).unwrap();
    assert_eq!(listed.len(), 2);
    let shown = [workspace.view_case(full.id).unwrap(), workspace.view_case(named.id).unwrap()];
    // Commands return the stored form of the case; a view adds notes, screenings and history.
    assert_same(&shown[0].without_entries(), &full, "view after create");
    drop(workspace);

    let mut workspace = unlock(&fixture.dir);
    assert_same(&workspace.list_cases(&CaseQuery::default()).unwrap(), &listed, "list after unlock");
    for before in &shown {
        assert_same(&workspace.view_case(before.id).unwrap(), before, "case after unlock");
    }
    assert_eq!(workspace.case_count().unwrap(), 2);
    assert_eq!(workspace.integrity_check().unwrap(), "ok");
}

/// Sets `field=value` as typed and shows the field's new value as JSON, or the refusal.
/// Only non-identifying fields go through here: it prints values when it fails.
fn check_set(workspace: &mut Workspace, case: CaseId, field: &str, value: &str, expected: &str) {
    let result = Field::parse(field)
        .and_then(|field| FieldValue::parse(field, value))
        .and_then(|value| workspace.update_case(case, vec![value], None));
    let shown = match &result {
        Ok(state) => {
            let fields = serde_json::to_value(&state.fields).unwrap();
            fields[Field::parse(field).unwrap().as_str()].to_string()
        }
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(shown, expected, "{field}={value}");
}

#[test]
fn fields_update_and_refuse_bad_values() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    let w = &mut workspace;
    check_set(w, case, "risk", "low", r#""low""#);
    check_set(w, case, "risk_level", "", "null");
    check_set(
        w,
        case,
        "risk_level",
        "extreme",
        "error: risk_level: \"extreme\" is not allowed; use one of: low, medium, high",
    );
    check_set(w, case, "status", "follow-up", r#""follow_up""#);
    check_set(w, case, "sex", "unknown", r#""unknown""#);
    check_set(w, case, "nationality", "ve, lc", r#"["VE","LC"]"#);
    check_set(
        w,
        case,
        "nationalities",
        "XX",
        "error: nationality: \"XX\" is not an ISO 3166-1 country code; use two letters such as LC, GY or VE",
    );
    check_set(w, case, "languages", "es,fr", r#"["es","fr"]"#);
    check_set(w, case, "exploitation_types", "forced_marriage", r#"["forced_marriage"]"#);
    check_set(w, case, "means_of_control", "threats,debt-bondage", r#"["threats","debt_bondage"]"#);
    check_set(w, case, "team", "Shelter South", r#""Shelter South""#);
    check_set(w, case, "assigned_worker", "", "null");
    check_set(
        w,
        case,
        "phone",
        "4520000",
        "error: phone: use the international E.164 form: + then country code and number, 7 to 15 digits (such as +1 758 452 0000)",
    );
    check_set(
        w,
        case,
        "colour",
        "red",
        "error: colour: is not a case field; the fields are name, aliases, sex, birth_date, estimated_age, nationalities, languages, phone, location, status, risk_level, exploitation_types, means_of_control, assigned_team, assigned_worker, identification_status, identification_date, identified_by, country_of_exploitation, recruiter_relation, recruitment_methods, labour_sectors, intake_date",
    );
    assert_eq!(
        outcome(&workspace.update_case(case, Vec::new(), None)),
        "error: fields: nothing to change; give at least one FIELD=VALUE"
    );

    // Identifying fields: compared without printing.
    let renamed = "Ostravel Quimby";
    let state = workspace
        .update_case(
            case,
            vec![FieldValue::Name(renamed.into()), FieldValue::Aliases(vec!["Bimsa".into()])],
            Some("spelling corrected".into()),
        )
        .unwrap();
    assert!(state.fields.name == renamed, "the name was updated");
    let history = workspace.view_case(case).unwrap().history;
    let last = history.last().unwrap();
    assert_eq!(last.kind, "case.updated");
    assert_eq!(last.reason.as_deref(), Some("spelling corrected"));
    assert_eq!(last.set.len(), 2);
    assert!(state.conflicts.is_empty());

    drop(workspace);
    let workspace = unlock(&fixture.dir);
    let mut reread = workspace.list_cases(&CaseQuery::default()).unwrap();
    assert!(reread.pop().unwrap().name == renamed, "the new name is listed");
    let after = workspace.resolve(&case.to_string()).unwrap();
    assert_eq!(after, case);
    let mut workspace = workspace;
    assert_same(&workspace.view_case(case).unwrap().without_entries(), &state, "updated case after unlock");
}

/// One step of a case's life: `close`, `close-referred` or `reopen`, with its reason.
fn check_status(workspace: &mut Workspace, case: CaseId, step: &str, reason: &str, expected: &str) {
    let result = match step {
        "close" => workspace.close_case(case, reason, false),
        "close-referred" => workspace.close_case(case, reason, true),
        "reopen" => workspace.reopen_case(case, reason),
        other => panic!("unknown step {other}"),
    };
    let shown = match &result {
        Ok(state) => {
            let history = workspace.view_case(case).unwrap().history;
            let last = history.last().unwrap();
            assert_eq!(last.reason.as_deref(), Some(reason.trim()), "{step}: reason kept");
            state.fields.status.as_str().to_owned()
        }
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(shown, expected, "{step}");
}

#[test]
fn close_and_reopen_with_reasons() {
    let (_fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    let w = &mut workspace;
    check_status(w, case, "reopen", "why not", "error: status: the case is not closed, so it cannot be reopened");
    check_status(w, case, "close", "  ", "error: reason: must not be empty");
    check_status(w, case, "close", "services finished", "closed");
    check_status(
        w,
        case,
        "close",
        "again",
        "error: status: the case is already closed; reopen it first to change how it was closed",
    );
    check_status(
        w,
        case,
        "close-referred",
        "again",
        "error: status: the case is already closed; reopen it first to change how it was closed",
    );
    check_status(w, case, "reopen", "new information", "active");
    check_status(w, case, "close-referred", "handed to the shelter", "closed_referred");
    check_status(w, case, "reopen", "came back", "active");
    let state = workspace.view_case(case).unwrap();
    let kinds: Vec<&str> = state.history.iter().map(|entry| entry.kind.as_str()).collect();
    assert_eq!(kinds, ["case.created", "case.updated", "case.updated", "case.updated", "case.updated"]);
}

fn consent_input(given_on: &str) -> ConsentInput {
    ConsentInput {
        scope: vec![ConsentScope::Identity, ConsentScope::CaseSummary],
        shared_with: "Shelter South".into(),
        given_on: day(given_on),
        method: ConsentMethod::Verbal,
        note: Some("asked twice, agreed".into()),
    }
}

fn referral_input(consent_id: EntryId) -> ReferralInput {
    ReferralInput {
        service: "Harbour Light Shelter".into(),
        service_type: ServiceType::Shelter,
        reason: ReferralReason::AdditionalServicesRequired,
        details: Some("needs a bed tonight".into()),
        urgency: Urgency::Urgent,
        consent_id,
        team: None,
    }
}

#[test]
fn notes_consents_and_screenings_are_kept() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    workspace.add_note(case, NOTE).unwrap();
    assert_eq!(outcome(&workspace.add_note(case, " \n ")), "error: text: must not be empty");
    let (consent_id, _) = workspace.add_consent(case, consent_input("2024-06-01")).unwrap();
    let mut no_scope = consent_input("2024-06-01");
    no_scope.scope.clear();
    assert_eq!(
        outcome(&workspace.add_consent(case, no_scope)),
        "error: share: say what the person agreed to share, such as identity,case_summary"
    );
    let answers =
        BTreeMap::from([("q1_documents_held".to_owned(), json!("yes")), ("q2_hours_per_day".to_owned(), json!(16))]);
    let screening = Screening {
        id: EntryId::new(),
        form_id: "htcds-screening".into(),
        form_version: 3,
        language: "es".into(),
        answers: answers.clone(),
        result: json!({"level": "high", "reasons": ["documents"]}),
    };
    let state = workspace.add_screening(case, screening.clone()).unwrap();
    drop(workspace);

    let mut workspace = unlock(&fixture.dir);
    let reread = workspace.view_case(case).unwrap();
    assert_same(&reread.without_entries(), &state, "case with entries after unlock");
    assert_eq!(reread.notes.len(), 1);
    assert!(reread.notes[0].entry.text == NOTE, "the note text is kept");
    assert_eq!(reread.consents.len(), 1);
    let consent = reread.consent(consent_id).unwrap();
    assert_eq!(consent.scope, [ConsentScope::Identity, ConsentScope::CaseSummary]);
    assert_eq!(consent.given_on, day("2024-06-01"));
    assert_eq!(consent.method, ConsentMethod::Verbal);
    let stored = &reread.screenings[0].entry;
    assert_eq!((stored.form_id.as_str(), stored.form_version), ("htcds-screening", 3));
    assert_same(&stored.answers, &answers, "screening answers");
    assert_same(stored, &screening, "screening");
}

/// Moves a referral to `status`; shows its status afterwards, or the refusal.
fn check_referral(workspace: &mut Workspace, case: CaseId, referral: EntryId, status: &str, expected: &str) {
    let result = ReferralStatus::parse(status)
        .and_then(|status| workspace.set_referral_status(case, referral, status, Some("by phone")));
    let shown = match &result {
        Ok(state) => state.referral(referral).unwrap().status.as_str().to_owned(),
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(shown, expected, "-> {status}");
}

#[test]
fn referrals_rely_on_consent_and_follow_their_lifecycle() {
    let (_fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    let other = workspace.create_case(CaseFields::named("Tamsin Orvello").unwrap()).unwrap().id;
    let refused =
        "error: consent: no consent with that id on this case; record the person's consent first (harbour consent add)";
    assert_eq!(outcome(&workspace.add_referral(case, referral_input(EntryId::new()))), refused);
    // A consent of another person does not cover this one.
    let (others_consent, _) = workspace.add_consent(other, consent_input("2024-01-02")).unwrap();
    assert_eq!(outcome(&workspace.add_referral(case, referral_input(others_consent))), refused);

    let (consent, _) = workspace.add_consent(case, consent_input("2024-01-03")).unwrap();
    let (first, state) = workspace.add_referral(case, referral_input(consent)).unwrap();
    let made = state.referral(first).unwrap();
    assert_eq!(made.status, ReferralStatus::Sent);
    assert_eq!(made.referral.consent_id, consent);
    // The same service again while the first is open is refused; another service is not.
    assert_eq!(
        outcome(&workspace.add_referral(case, referral_input(consent))),
        format!("error: {}", harbour_core::Error::AlreadyReferred)
    );
    let (second, _) = workspace
        .add_referral(case, ReferralInput { service: "Castries Legal Aid".into(), ..referral_input(consent) })
        .unwrap();

    let w = &mut workspace;
    let not_allowed = |from: &str, to: &str| {
        format!(
            "error: status: a referral that is {from} cannot become {to}; the order is sent, then accepted or declined, then completed"
        )
    };
    check_referral(w, case, first, "completed", &not_allowed("sent", "completed"));
    check_referral(w, case, first, "sent", &not_allowed("sent", "sent"));
    check_referral(
        w,
        case,
        first,
        "pending",
        "error: status: \"pending\" is not a referral status; use accepted, declined or completed",
    );
    check_referral(w, case, first, "accepted", "accepted");
    check_referral(w, case, first, "declined", &not_allowed("accepted", "declined"));
    check_referral(w, case, first, "completed", "completed");
    check_referral(w, case, first, "accepted", &not_allowed("completed", "accepted"));
    check_referral(w, case, second, "declined", "declined");
    check_referral(w, case, second, "completed", &not_allowed("declined", "completed"));
    check_referral(w, case, EntryId::new(), "accepted", "error: referral: no referral with that id on this case");

    let state = workspace.view_case(case).unwrap();
    let history: Vec<&str> =
        state.referral(first).unwrap().status_history.iter().map(|change| change.status.as_str()).collect();
    assert_eq!(history, ["accepted", "completed"]);
}

/// Resolves what a person typed; shows which case it found.
fn check_resolve(workspace: &Workspace, cases: &[(CaseId, &str)], typed: &str, expected: &str) {
    let shown = match workspace.resolve(typed) {
        Ok(id) => {
            cases.iter().find(|(case, _)| *case == id).map_or("an unexpected case", |(_, label)| label).to_owned()
        }
        Err(Error::CaseNotFound(echo)) => format!("not found: {echo}"),
        Err(other) => format!("error: {other}"),
    };
    assert_eq!(shown, expected, "resolve {typed:?}");
}

#[test]
fn resolve_by_id_or_code_as_typed() {
    let (_fixture, mut workspace) = new_workspace();
    let a = workspace.create_case(full_fields()).unwrap();
    let b = workspace.create_case(CaseFields::named("Ilsabet Grunn").unwrap()).unwrap();
    let cases = [(a.id, "a"), (b.id, "b")];
    let code = a.code.as_str();
    let w = &workspace;
    check_resolve(w, &cases, &a.id.to_string(), "a");
    check_resolve(w, &cases, &format!("  {}  ", b.id), "b");
    check_resolve(w, &cases, code, "a");
    check_resolve(w, &cases, &code.to_lowercase(), "a");
    check_resolve(w, &cases, &code.replace('-', ""), "a");
    check_resolve(w, &cases, &code.replace('-', "").to_lowercase(), "a");
    check_resolve(w, &cases, &b.code.as_str().replace('-', " "), "b");
    check_resolve(w, &cases, "LC-2222-22", "not found: LC-2222-22");
    check_resolve(w, &cases, "no such case", "not found: no such case");
    let unknown = CaseId::new().to_string();
    check_resolve(w, &cases, &unknown, &format!("not found: {unknown}"));
    check_resolve(w, &cases, "", "not found: ");
}

#[test]
fn acknowledgements_in_any_order_leave_exactly_the_unacknowledged_events_waiting() {
    let (_fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    for _ in 0..9 {
        workspace.add_note(case, NOTE).unwrap();
    }
    let all: Vec<_> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
    assert_eq!(all.len(), 10);
    assert_eq!(workspace.pending_changes().unwrap(), 10);

    // An id the server never had, and the last three first.
    workspace.mark_sent(&[uuid::Uuid::now_v7()]).unwrap();
    assert_eq!(workspace.pending_count().unwrap(), 10);
    workspace.mark_sent(&all[7..]).unwrap();
    let waiting: Vec<_> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
    assert_eq!(waiting, all[..7]);
    // Then the middle, leaving a gap at the front.
    workspace.mark_sent(&all[2..7]).unwrap();
    let waiting: Vec<_> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
    assert_eq!(waiting, all[..2]);
    assert_eq!(workspace.pending_count().unwrap(), 2);
    // Then the front: nothing waits, and a new change is the only one waiting.
    workspace.mark_sent(&all[..2]).unwrap();
    assert_eq!(workspace.pending_count().unwrap(), 0);
    workspace.add_note(case, NOTE).unwrap();
    assert_eq!(workspace.pending_events(100).unwrap().len(), 1);
}
