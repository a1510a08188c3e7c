//! The figures' facts kept in memory after the first read: every later write is seen by the
//! next figures, whichever path made it (a change on this laptop, a discard, a sync, another
//! connection to the same file), and a drill-down lists exactly what its number counted or
//! says the figures must be computed again.

use chrono::Utc;
use harbour_core::model::{CaseFields, FieldValue, Sex};
use harbour_core::stats::{Statistics, StatsQuery};
use harbour_core::{CaseId, Workspace};
use harbour_wire::protocol::{CreateInvitationResponse, Team};
use uuid::Uuid;

use crate::support::{PASSPHRASE, fast, new_workspace, unlock};

fn figures(workspace: &mut Workspace) -> Statistics {
    workspace.statistics(&StatsQuery::new(Utc::now().date_naive())).unwrap()
}

fn count(stats: &Statistics, key: &str) -> usize {
    stats.figures.count(key).unwrap_or(0)
}

fn listed(workspace: &Workspace, stats: &Statistics, key: &str) -> Vec<CaseId> {
    let mut ids: Vec<CaseId> = workspace.drill_down(stats, key).unwrap().into_iter().map(|row| row.case_id).collect();
    ids.sort();
    ids
}

fn person(name: &str, sex: Sex, team: &str) -> CaseFields {
    let mut fields = CaseFields::named(name).unwrap();
    fields.sex = Some(sex);
    fields.assigned_team = Some(team.to_owned());
    fields
}

#[test]
fn figures_follow_every_write_after_the_first_read() {
    let (fixture, mut workspace) = new_workspace();
    let mut women: Vec<CaseId> = (0..3)
        .map(|index| workspace.create_case(person(&format!("Kept person {index}"), Sex::Female, "North")).unwrap().id)
        .collect();
    women.sort();
    let first = figures(&mut workspace);
    assert_eq!((count(&first, "total"), count(&first, "by_sex.female"), count(&first, "by_sex.male")), (3, 3, 0));

    // A change after the first read: the figures already shown still list what they counted.
    let changed = women[1];
    workspace.update_case(changed, vec![FieldValue::Sex(Some(Sex::Male))], None).unwrap();
    assert_eq!(listed(&workspace, &first, "by_sex.female"), women, "exactly the cases the number counted");
    let second = figures(&mut workspace);
    assert_eq!((count(&second, "by_sex.female"), count(&second, "by_sex.male")), (2, 1));
    assert_eq!(listed(&workspace, &second, "by_sex.male"), [changed]);
    // Once the facts were read again, the old number cannot be listed any more: it is refused.
    // Its own error, so an interface can say it in its language, with the numbers for the CLI.
    let stale = workspace.drill_down(&first, "by_sex.female").unwrap_err();
    assert!(
        matches!(&stale, harbour_core::Error::FiguresChanged { key, shown: 3, now: 2 } if key == "by_sex.female"),
        "{stale}"
    );
    assert!(stale.to_string().contains("(by_sex.female is now 2, not 3). Open the figures again"), "{stale}");
    // A number that did not change is still listed.
    assert_eq!(listed(&workspace, &first, "total").len(), 3);

    // A new case, a new team, and a discarded case.
    let south = workspace.create_case(person("Kept person south", Sex::Male, "South")).unwrap().id;
    let third = figures(&mut workspace);
    assert_eq!((count(&third, "total"), count(&third, "by_team.South")), (4, 1));
    assert_eq!(third.figures.group("by_team").unwrap(), ["North", "South"]);
    workspace.discard_case(south).unwrap();
    let fourth = figures(&mut workspace);
    assert_eq!((count(&fourth, "total"), count(&fourth, "by_team.South")), (3, 0));
    assert_eq!(fourth.figures.group("by_team").unwrap(), ["North"]);
    let query = StatsQuery { team: Some("South".into()), ..StatsQuery::new(Utc::now().date_naive()) };
    assert_eq!(workspace.statistics(&query).unwrap().figures.count("total"), Some(0));

    // Another connection to the same file (the command line beside the app) writes: seen too.
    let mut other = unlock(&fixture.dir);
    other.create_case(person("Kept person other", Sex::Female, "North")).unwrap();
    drop(other);
    let fifth = figures(&mut workspace);
    assert_eq!((count(&fifth, "total"), count(&fifth, "by_sex.female")), (4, 3));
    assert_eq!(listed(&workspace, &fifth, "by_sex.female").len(), 3);

    // What is kept equals what a workspace reading everything from the file computes.
    let mut fresh = unlock(&fixture.dir);
    let all = figures(&mut fresh);
    assert_eq!(all.figures.to_json(), fifth.figures.to_json());
}

pub(crate) fn join(admin: &Workspace, team: &Team, dir: &std::path::Path, worker: &str) -> Workspace {
    let created = CreateInvitationResponse {
        invitation_id: Uuid::now_v7(),
        team_id: team.id,
        admin: false,
        invitation_token: "invitation".into(),
        expires_at_ms: Utc::now().timestamp_millis() as u64 + 86_400_000,
    };
    let invitation = admin.invitation(team, &created).unwrap();
    let enrolment = Workspace::prepare_enrolment(&invitation, worker).unwrap();
    Workspace::join(dir, PASSPHRASE, &fast(), &invitation, enrolment, "device-token").unwrap()
}

/// Hands a laptop everything another made, as a push then a pull through the server would.
pub(crate) fn relay(from: &mut Workspace, to: &mut Workspace) {
    let events = from.pending_events(100_000).unwrap();
    let ids: Vec<Uuid> = events.iter().map(|event| event.id).collect();
    from.mark_sent(&ids).unwrap();
    let cursor = to.sync_cursor().unwrap() + 1;
    to.apply_pulled(&events, cursor).unwrap();
}

#[test]
fn figures_follow_cases_received_by_sync_after_the_first_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut ministry = Workspace::create(&dir.path().join("ministry"), PASSPHRASE, &fast()).unwrap();
    let plan = ministry.plan_deployment("https://harbour.example.org", "Ministry").unwrap();
    ministry.complete_deployment(plan, "admin-token").unwrap();
    let (clinic, _) = ministry.create_team("Clinic").unwrap();
    let mut nurse = join(&ministry, &clinic, &dir.path().join("nurse"), "Nurse");
    let before = figures(&mut ministry);
    assert_eq!(count(&before, "total"), 0);

    let case = nurse.create_case(person("Synced person", Sex::Female, "Clinic")).unwrap().id;
    relay(&mut nurse, &mut ministry);
    let after = figures(&mut ministry);
    assert_eq!((count(&after, "total"), count(&after, "by_sex.female")), (1, 1));
    assert_eq!(listed(&ministry, &after, "by_sex.female"), [case]);

    nurse.update_case(case, vec![FieldValue::Sex(Some(Sex::Male))], None).unwrap();
    relay(&mut nurse, &mut ministry);
    let changed = figures(&mut ministry);
    assert_eq!((count(&changed, "by_sex.female"), count(&changed, "by_sex.male")), (0, 1));
}
