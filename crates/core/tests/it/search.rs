//! Finding cases: by name, alias or code fragment, accents and case ignored, with filters.

use chrono::{Days, Utc};
use harbour_core::model::{CaseFields, CaseStatus, FieldValue};
use harbour_core::{CaseId, CaseQuery, Workspace};

use crate::support::*;

struct Cases {
    workspace: Workspace,
    labels: Vec<(CaseId, &'static str)>,
}

/// Lists with `query`; shows the labels of the cases found, sorted. Labels are not names, so a
/// failure prints nothing personal.
fn check(cases: &Cases, what: &str, query: CaseQuery, expected: &[&str]) {
    let mut found: Vec<&str> = cases
        .workspace
        .list_cases(&query)
        .unwrap()
        .iter()
        .map(|summary| cases.labels.iter().find(|(id, _)| *id == summary.id).map_or("?", |(_, label)| label))
        .collect();
    found.sort_unstable();
    assert_eq!(found, expected, "{what}");
}

fn text(search: &str) -> CaseQuery {
    CaseQuery { search: Some(search.into()), ..CaseQuery::default() }
}

fn named(name: &str, aliases: &[&str]) -> CaseFields {
    let mut fields = CaseFields::named(name).unwrap();
    fields.aliases = aliases.iter().map(|alias| (*alias).to_owned()).collect();
    fields
}

#[test]
fn search_ignores_accents_and_case_and_filters() {
    let (fixture, mut workspace) = new_workspace();
    let jose = workspace.create_case(named("José Pelmatrix", &["Pepito Grullón"])).unwrap();
    let maria = workspace.create_case(named("María Ombrevalle", &[])).unwrap();
    let other = workspace.create_case(named("Thandeka Wilbersmoor", &["Flaca Tormenta"])).unwrap();
    workspace.update_case(jose.id, vec![FieldValue::AssignedTeam(Some("Clinic North".into()))], None).unwrap();
    workspace.close_case(maria.id, "referred to the shelter", true).unwrap();
    let code = other.code.as_str().to_owned();
    let cases = Cases { workspace, labels: vec![(jose.id, "jose"), (maria.id, "maria"), (other.id, "other")] };

    let c = &cases;
    check(c, "plain letters find an accented name", text("jose"), &["jose"]);
    check(c, "upper case finds lower case", text("MARIA"), &["maria"]);
    check(c, "accented query", text("maría"), &["maria"]);
    check(c, "surname prefix", text("ombrev"), &["maria"]);
    check(c, "two words in any order", text("pelmatrix jose"), &["jose"]);
    check(c, "alias fragment", text("torm"), &["other"]);
    check(c, "accented alias", text("grullon"), &["jose"]);
    check(c, "middle of the code", text(&code[3..7]), &["other"]);
    check(c, "code in lower case", text(&code.to_lowercase()), &["other"]);
    check(c, "code without dashes", text(&code.replace('-', "")), &["other"]);
    check(c, "code prefix finds every case", text("LC"), &["jose", "maria", "other"]);
    check(c, "code without its prefix or dashes", text(&code[3..].replace('-', "")), &["other"]);
    check(c, "a part from the middle with its dash", text(&code[4..9]), &["other"]);
    check(c, "the last part of the code", text(&code[code.len() - 5..]), &["other"]);
    check(c, "a name is matched from the start of its words only", text("matrix"), &[]);
    check(c, "nothing matches", text("Xylophrax"), &[]);
    check(c, "a word of one case and a word of another", text("jose ombrevalle"), &[]);
    check(c, "punctuation only is no search", text("-- "), &["jose", "maria", "other"]);

    let status = |status| CaseQuery { status: Some(status), ..CaseQuery::default() };
    check(c, "closed (referred)", status(CaseStatus::ClosedReferred), &["maria"]);
    check(c, "active", status(CaseStatus::Active), &["jose", "other"]);
    check(c, "follow-up", status(CaseStatus::FollowUp), &[]);
    check(c, "search and status together", CaseQuery { status: Some(CaseStatus::Active), ..text("maria") }, &[]);

    let team = |team: &str| CaseQuery { team: Some(team.into()), ..CaseQuery::default() };
    check(c, "team", team("Clinic North"), &["jose"]);
    check(c, "another team", team("Shelter South"), &[]);

    let today = Utc::now().date_naive();
    let yesterday = today.checked_sub_days(Days::new(1)).unwrap();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let updated = |from, to| CaseQuery { updated_from: from, updated_to: to, ..CaseQuery::default() };
    let all = ["jose", "maria", "other"];
    check(c, "updated today", updated(Some(today), Some(today)), &all);
    check(c, "updated from yesterday", updated(Some(yesterday), None), &all);
    check(c, "updated until yesterday", updated(None, Some(yesterday)), &[]);
    check(c, "updated from tomorrow", updated(Some(tomorrow), None), &[]);

    let limited = |limit| CaseQuery { limit, ..CaseQuery::default() };
    assert_eq!(cases.workspace.list_cases(&limited(2)).unwrap().len(), 2);
    assert_eq!(cases.workspace.list_cases(&limited(1)).unwrap().len(), 1);
    assert_eq!(cases.workspace.list_cases(&limited(0)).unwrap().len(), 3);

    let review = CaseQuery { needs_review: true, ..CaseQuery::default() };
    check(c, "no case needs review", review.clone(), &[]);
    // Conflicts only arrive from other devices, which the store cannot receive before sync
    // exists; mark the projection directly to test the filter itself.
    raw_db(&fixture.dir).execute("UPDATE cases SET needs_review = 1 WHERE id = ?1", [other.id.to_string()]).unwrap();
    check(c, "needs review", review, &["other"]);

    // The index survives locking.
    drop(cases);
    let cases = Cases {
        workspace: unlock(&fixture.dir),
        labels: vec![(jose.id, "jose"), (maria.id, "maria"), (other.id, "other")],
    };
    check(&cases, "after unlock", text("JOSE"), &["jose"]);
}

/// A workspace whose search entries were written before code parts were indexed finds codes by
/// any part after its next unlock.
#[test]
fn older_search_entries_learn_code_parts_at_the_next_unlock() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(named("Ondrej Paslavicz", &[])).unwrap();
    let code = case.code.as_str().to_owned();
    drop(workspace);
    let old =
        format!("ondrej paslavicz {} {}", code.replace('-', " ").to_lowercase(), code.replace('-', "").to_lowercase());
    let db = raw_db(&fixture.dir);
    db.execute("UPDATE cases SET search_text = ?1", [&old]).unwrap();
    db.execute("DELETE FROM case_search", []).unwrap();
    db.execute("INSERT INTO case_search (rowid, text) SELECT rowid, search_text FROM cases", []).unwrap();
    db.execute("DELETE FROM meta WHERE key = 'search_code_parts'", []).unwrap();
    drop(db);
    let cases = Cases { workspace: unlock(&fixture.dir), labels: vec![(case.id, "case")] };
    check(&cases, "the middle of the code", text(&code[4..9]), &["case"]);
    check(&cases, "the name still", text("paslav"), &["case"]);
}

#[test]
fn search_follows_renames() {
    let (_fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(named("Ondrej Paslavicz", &[])).unwrap();
    workspace
        .update_case(
            case.id,
            vec![FieldValue::Name("Bérénice Hallowmere".into()), FieldValue::Aliases(vec!["Nixie".into()])],
            None,
        )
        .unwrap();
    let cases = Cases { workspace, labels: vec![(case.id, "case")] };
    check(&cases, "old name", text("paslav"), &[]);
    check(&cases, "new name", text("berenice"), &["case"]);
    check(&cases, "new alias", text("nix"), &["case"]);
}

#[test]
fn the_list_is_newest_first() {
    let (fixture, mut workspace) = new_workspace();
    let [a, b, c] = ["Aurel Testcase", "Bettina Testcase", "Cosmin Testcase"]
        .map(|name| workspace.create_case(named(name, &[])).unwrap().id);
    let labels = [(a, "a"), (b, "b"), (c, "c")];
    let order = |workspace: &Workspace| -> Vec<&str> {
        let listed = workspace.list_cases(&CaseQuery::default()).unwrap();
        listed.iter().map(|summary| labels.iter().find(|(id, _)| *id == summary.id).unwrap().1).collect()
    };
    // Last changes set directly, in hours long past: a in one hour, b then c later in the next.
    const HOUR: i64 = 3_600_000;
    let base = (Utc::now().timestamp_millis() / HOUR - 5) * HOUR;
    let set_updated = |case: CaseId, ms: i64| {
        raw_db(&fixture.dir)
            .execute("UPDATE cases SET updated_ms = ?2 WHERE id = ?1", rusqlite::params![case.to_string(), ms])
            .unwrap();
    };
    set_updated(a, base + 10 * 60_000);
    set_updated(b, base + HOUR + 5 * 60_000);
    set_updated(c, base + HOUR + 20 * 60_000);
    assert_eq!(order(&workspace), ["c", "b", "a"]);
    // Within one hour too.
    set_updated(b, base + HOUR + 30 * 60_000);
    assert_eq!(order(&workspace), ["b", "c", "a"]);
    // A change now moves a case to the top (a millisecond apart: the list orders by millisecond).
    let tick = || std::thread::sleep(std::time::Duration::from_millis(2));
    workspace.add_note(a, NOTE).unwrap();
    assert_eq!(order(&workspace), ["a", "b", "c"]);
    tick();
    workspace.add_note(c, NOTE).unwrap();
    assert_eq!(order(&workspace), ["c", "a", "b"]);
    tick();
    workspace.add_note(a, NOTE).unwrap();
    assert_eq!(order(&workspace), ["a", "c", "b"]);
}
