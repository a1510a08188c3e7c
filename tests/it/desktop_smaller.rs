//! Issue 11, item 7, the smaller points a new user met, in English at 1366×768 and Spanish at
//! 1024×600: the case list finds a case by any part of its code, with or without its prefix and
//! hyphens; a fragment from inside a name finds nothing, and the search's hint says so (a word's
//! beginning); the count says "The only case on this laptop matches" while there is one, then
//! "1 of 2 cases matches", in the interface's language; a closed case
//! offers neither a screening nor a referral and says why. A child of `desktop`.

use std::time::Duration;

use super::{Harbour, frontline_app, translation};

/// The count under the search, once it shows `expected`.
fn count_becomes(app: &Harbour, expected: &str) {
    app.session.wait_until(&format!("the count to read {expected:?}"), Duration::from_secs(10), || {
        (app.text("#case-count") == expected).then_some(())
    });
}

/// Types `typed` into the search and returns the codes of the rows it leaves.
fn search(app: &Harbour, typed: &str, rows: usize) -> Vec<String> {
    app.fill("#case-search", typed);
    app.session.wait_until(&format!("{rows} row(s) for {typed:?}"), Duration::from_secs(10), || {
        let found = app.session.find_all(".case-row");
        (found.len() == rows).then(|| found.iter().filter_map(|row| row.attribute("data-code")).collect())
    })
}

fn smaller_points(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    let code = app.create_case("Amaia Etxeberria");
    // Found while it is the only case on the laptop: the count says so, not "1 of 1 cases".
    app.go_to_cases();
    assert_eq!(search(&app, "amaia", 1), std::slice::from_ref(&code));
    count_becomes(&app, &translation("ui.cases.count_found_only", language));
    app.create_case("Tobias Quennell");
    app.go_to_cases();
    assert_eq!(app.text("#case-search-hint"), translation("ui.cases.search_hint", language));

    // Any part of the code, with or without its prefix and hyphens, finds the case.
    let parts: Vec<&str> = code.split('-').collect();
    assert!(parts.len() >= 3, "a code is a prefix and parts: {code}");
    let body = parts[1..].concat();
    let inner = format!("{}-{}", &parts[1][1..], parts[2]);
    let prefixed = format!("{}-{}", parts[0], parts[1]).to_lowercase();
    for typed in [body.clone(), inner, prefixed, body[2..].to_lowercase()] {
        assert_eq!(search(&app, &typed, 1), std::slice::from_ref(&code), "{typed:?} finds {code}");
    }
    let one_of_two = translation("ui.cases.count_found_one", language).replace("{total}", "2");
    count_becomes(&app, &one_of_two);

    // A word's beginning finds the person; a fragment from inside it does not, as the hint says.
    assert_eq!(search(&app, "etxe", 1), std::slice::from_ref(&code));
    app.fill("#case-search", "berria");
    count_becomes(&app, &translation("ui.cases.none_found", language));
    assert!(app.session.find_all(".case-row").is_empty());
    app.shot(&format!("case-search-code-{language}-{width}"));

    // Closed, the case offers no screening and no referral, and says what to do.
    app.fill("#case-search", &body);
    count_becomes(&app, &one_of_two);
    app.click(".case-row");
    app.wait_screen("case");
    assert!(app.session.try_find("#start-screening").is_some() && app.session.try_find("#add-referral").is_some());
    app.click("#close-case");
    app.fill("#status-reason", "Returned home with her family's help");
    assert!(app.in_view("#status-save"), "Close is above the sync bar");
    app.click("#status-save");
    let note = app.session.wait_until("the closed case's note", Duration::from_secs(10), || {
        app.session.try_find("#case-closed-note").map(|note| note.text())
    });
    assert_eq!(note, translation("ui.case.closed_note", language));
    assert!(app.session.try_find("#start-screening").is_none(), "a closed case offers no screening");
    assert!(app.session.try_find("#add-referral").is_none(), "a closed case offers no referral");
    app.shot(&format!("case-closed-{language}-{width}"));
}

#[test]
fn the_smaller_points_in_english_at_1366x768() {
    smaller_points("en", 1366, 768);
}

#[test]
fn the_smaller_points_in_spanish_at_1024x600() {
    smaller_points("es", 1024, 600);
}
