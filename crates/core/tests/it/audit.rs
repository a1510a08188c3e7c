//! The audit log: every action on a case is recorded without personal data, and editing or
//! removing an entry is detected.

use harbour_core::model::{
    ConsentMethod, ConsentScope, FieldValue, ReferralReason, ReferralStatus, RiskLevel, ServiceType, Urgency,
};
use harbour_core::{CaseId, ConsentInput, Error, ReferralInput, Workspace};

use crate::support::*;

const CONSENT_NOTE: &str = "consent-note: agreed in the garden of Ostrava";
const REFERRAL_DETAILS: &str = "referral-details: Zanzibarine cousin";
const REASON: &str = "close-reason: Miraflores apartment empty";

/// Does one of every audited action on a new case; returns the case.
fn audited_activity(workspace: &mut Workspace) -> CaseId {
    let case = workspace.create_case(full_fields()).unwrap().id;
    workspace.update_case(case, vec![FieldValue::RiskLevel(Some(RiskLevel::Low))], Some(REASON.into())).unwrap();
    workspace.view_case(case).unwrap();
    workspace.export_case(case).unwrap();
    workspace.add_note(case, NOTE).unwrap();
    let (consent_id, _) = workspace
        .add_consent(
            case,
            ConsentInput {
                scope: vec![ConsentScope::Identity],
                shared_with: "Shelter South".into(),
                given_on: day("2024-02-02"),
                method: ConsentMethod::Written,
                note: Some(CONSENT_NOTE.into()),
            },
        )
        .unwrap();
    let (referral, _) = workspace
        .add_referral(
            case,
            ReferralInput {
                service: "Harbour Light Shelter".into(),
                service_type: ServiceType::Medical,
                reason: ReferralReason::Other,
                details: Some(REFERRAL_DETAILS.into()),
                urgency: Urgency::Routine,
                consent_id,
                team: None,
            },
        )
        .unwrap();
    workspace.set_referral_status(case, referral, ReferralStatus::Accepted, Some(REFERRAL_DETAILS)).unwrap();
    workspace.close_case(case, REASON, false).unwrap();
    case
}

#[test]
fn every_action_is_recorded_without_personal_data() {
    let (fixture, mut workspace) = new_workspace();
    let case = audited_activity(&mut workspace);
    drop(workspace);
    let workspace = unlock(&fixture.dir);

    let mut entries = workspace.audit_log(100).unwrap();
    entries.reverse();
    let shown: Vec<String> = entries
        .iter()
        .map(|entry| {
            let on_case = match &entry.case_id {
                Some(id) if *id == case.to_string() => "case",
                Some(_) => "another case",
                None => "-",
            };
            format!("{} {} {} [{}]", entry.seq, entry.action, on_case, entry.detail)
        })
        .collect();
    assert_eq!(
        shown,
        [
            "1 workspace.create - []",
            "2 case.create case []",
            "3 case.update case [risk_level]",
            "4 case.view case []",
            "5 case.export case []",
            "6 note.add case []",
            "7 consent.add case []",
            "8 referral.add case [medical]",
            "9 referral.status case [accepted]",
            "10 case.update case [status]",
        ]
    );
    let secrets = [NAME, ALIAS, BIRTH_DATE, LOCATION, NOTE, CONSENT_NOTE, REFERRAL_DETAILS, REASON];
    for entry in &entries {
        assert_eq!(entry.actor, "worker");
        let columns = [&entry.at, &entry.actor, &entry.action, &entry.detail];
        for (index, secret) in secrets.iter().enumerate() {
            assert!(
                !columns.iter().any(|column| column.contains(secret)),
                "audit entry {} holds personal data (invented string #{index})",
                entry.seq
            );
        }
    }
    assert_eq!(workspace.verify_audit().unwrap(), 10);
}

/// Tampers with the audit table through a raw connection, then shows what `verify_audit` says.
fn check_tamper(sql: &str, expected: &str) {
    let (fixture, mut workspace) = new_workspace();
    audited_activity(&mut workspace);
    assert_eq!(workspace.verify_audit().unwrap(), 10);
    drop(workspace);
    raw_db(&fixture.dir).execute_batch(sql).unwrap();
    let shown = match unlock(&fixture.dir).verify_audit() {
        Ok(count) => format!("ok: {count} entries"),
        Err(Error::AuditBroken(why)) => format!("broken: {why}"),
        Err(other) => format!("error: {other}"),
    };
    assert_eq!(shown, expected, "{sql}");
}

#[test]
fn tampering_with_the_audit_log_is_detected() {
    check_tamper("SELECT 1", "ok: 10 entries");
    check_tamper("UPDATE audit SET detail = 'name' WHERE seq = 3", "broken: entry 3 was changed");
    check_tamper("UPDATE audit SET actor = 'someone else' WHERE seq = 4", "broken: entry 4 was changed");
    check_tamper("UPDATE audit SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 2", "broken: entry 2 was changed");
    check_tamper("UPDATE audit SET case_id = NULL WHERE seq = 5", "broken: entry 5 was changed");
    check_tamper("UPDATE audit SET action = 'case.view' WHERE seq = 5", "broken: entry 5 was changed");
    check_tamper("DELETE FROM audit WHERE seq = 4", "broken: entry 4 is missing");
    check_tamper(
        "DELETE FROM audit WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 5",
        "broken: entry 4 was changed",
    );
    check_tamper(
        "DELETE FROM audit WHERE seq = 10",
        "broken: the log ends at entry 9 but its recorded head is entry 10: entries were removed",
    );
    check_tamper(
        "DELETE FROM audit",
        "broken: the log ends at entry 0 but its recorded head is entry 10: entries were removed",
    );
}

#[test]
fn redrawing_a_case_just_changed_adds_no_view_but_every_opening_is_recorded() {
    let (_fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    let other = workspace.create_case(full_fields()).unwrap().id;
    let actions = |workspace: &Workspace| -> Vec<String> {
        let mut entries = workspace.audit_log(100).unwrap();
        entries.reverse();
        entries.iter().map(|entry| entry.action.clone()).collect()
    };
    let before = actions(&workspace).len();

    // After a change to the case, its redraw returns the whole case and adds nothing.
    workspace.add_note(case, NOTE).unwrap();
    let redrawn = workspace.case_after_change(case).unwrap();
    assert_eq!(redrawn.notes.len(), 1, "the whole case, with its notes");
    assert_eq!(actions(&workspace)[before..], ["note.add"]);

    // Opening it (not a redraw after a change) is a view; a second redraw after that view is one too.
    workspace.view_case(case).unwrap();
    workspace.case_after_change(case).unwrap();
    // A redraw of a case other than the one just changed is a view as well.
    workspace.add_note(other, NOTE).unwrap();
    workspace.case_after_change(case).unwrap();
    assert_eq!(actions(&workspace)[before..], ["note.add", "case.view", "case.view", "note.add", "case.view"]);
    workspace.verify_audit().unwrap();
}

#[test]
fn a_redraw_after_an_export_is_a_view() {
    let (_fixture, mut workspace) = new_workspace();
    let case = audited_activity(&mut workspace);
    let referral = workspace.view_case(case).unwrap().referrals[0].referral.id;
    workspace.referral_packet(case, referral).unwrap();
    workspace.case_after_change(case).unwrap();
    workspace.export_case(case).unwrap();
    workspace.case_after_change(case).unwrap();
    let mut entries = workspace.audit_log(4).unwrap();
    entries.reverse();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["referral.export", "case.view", "case.export", "case.view"]);
}
