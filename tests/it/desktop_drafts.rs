//! Issue 11, item 1, never lose typed work, in English at 1366×768 and Spanish at 1024×600: a
//! new case being typed, a referral being made and a screening in progress each come back after a
//! quick exit (Esc twice, then the unlock) and after the Lock button; and when what is on screen
//! could not be stored (a paste larger than a draft may hold), the unlock screen says so instead
//! of "your work was saved". A child of `desktop`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Harbour, frontline_app, translation};

/// The value of the control `selector` once it is on screen and not empty.
fn value_back(app: &Harbour, selector: &str) -> Value {
    app.session.wait_until(&format!("{selector} to come back"), Duration::from_secs(20), || {
        app.session.try_find(selector).map(|field| field.property("value")).filter(|value| value != &json!(""))
    })
}

/// The Lock button, then the unlock: ends on the screen the worker was on.
fn lock_and_back(app: &Harbour, screen: &str) {
    app.click("#lock-button");
    app.wait_screen("unlock");
    app.unlock();
    app.wait_screen(screen);
}

/// A quick exit from `selector`, then the unlock: the unlock screen says the work was saved.
fn quick_exit_saved(app: &Harbour, selector: &str, language: &str, screen: &str) {
    app.quick_exit_and_back(selector);
    assert_eq!(app.text("main .lead"), translation("ui.unlock.reason_quick_exit", language), "said only when true");
    app.unlock();
    app.wait_screen(screen);
}

fn main_says(app: &Harbour, sentence: &str) -> bool {
    let text = app.session.execute("return document.getElementById('main').textContent", json!([]));
    text.as_str().unwrap_or_default().contains(sentence)
}

fn drafts_come_back(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);

    // A new case being typed.
    app.go_to_cases();
    app.click("#new-case");
    app.wait_screen("new-case");
    app.fill("#case-name", "Nerys Calloway");
    app.fill("#case-location", "Soufrière");
    quick_exit_saved(&app, "#case-location", language, "new-case");
    assert_eq!(value_back(&app, "#case-name"), json!("Nerys Calloway"));
    assert_eq!(value_back(&app, "#case-location"), json!("Soufrière"));
    assert!(main_says(&app, &translation("ui.new_case.draft_restored", language)), "the form says it came back");
    lock_and_back(&app, "new-case");
    assert_eq!(value_back(&app, "#case-name"), json!("Nerys Calloway"), "after the Lock button too");
    assert_eq!(value_back(&app, "#case-location"), json!("Soufrière"));
    assert!(app.in_view("#case-save"), "Save is in view above the sync bar");
    app.click("#case-save");
    app.wait_screen("case");
    app.session.wait_until("the case code", Duration::from_secs(10), || {
        app.session.try_find("#case-code").map(|code| code.text()).filter(|code| !code.is_empty())
    });
    assert!(app.invoke("load_draft", json!({"key": "new-case"})).is_null(), "a recorded case leaves no draft");

    // A referral being made: the service and the details come back, the consent is asked again.
    app.click("#add-referral");
    app.session.find("#referral-form");
    let service = app
        .session
        .execute(
            "return [...document.querySelectorAll('#referral-service option')].map(o => o.value).find(v => v) || null",
            json!([]),
        )
        .as_str()
        .expect("the directory offers a service")
        .to_owned();
    app.choose("#referral-service", &service);
    app.fill("#referral-details", "Needs a doctor who speaks Kwéyòl");
    app.click("#referral-consent");
    quick_exit_saved(&app, "#referral-details", language, "case");
    assert_eq!(value_back(&app, "#referral-details"), json!("Needs a doctor who speaks Kwéyòl"));
    assert_eq!(app.session.find("#referral-service").property("value"), json!(service));
    assert_eq!(app.text("#referral-restored"), translation("ui.referral.restored", language));
    assert_eq!(app.session.find("#referral-consent").property("checked"), json!(false), "consent is asked again");
    lock_and_back(&app, "case");
    assert_eq!(
        value_back(&app, "#referral-details"),
        json!("Needs a doctor who speaks Kwéyòl"),
        "after the Lock button too"
    );
    assert_eq!(app.session.find("#referral-service").property("value"), json!(service));
    app.shot(&format!("referral-restored-{language}-{width}"));
    app.click("#referral-consent");
    app.click("#referral-submit");
    app.session.wait_for(".referral[data-status=\"sent\"]", Duration::from_secs(10));
    assert!(app.draft_of("referral").is_null(), "a recorded referral leaves no draft");

    // What could not be stored is not called saved: a note pasted larger than a draft may hold
    // (256 KB) is refused by the store, and the unlock screen says to check the work.
    let pasted = "Account given by the person, pasted from the interpreter's file. ".repeat(4_500);
    assert!(pasted.len() > 256 * 1024);
    app.session.execute(
        "const text = document.getElementById('note-text'); text.value = arguments[0]; text.dispatchEvent(new Event('input', {bubbles: true}));",
        json!([pasted]),
    );
    app.session.find("#note-text").send_keys(".");
    app.quick_exit_and_back("#note-text");
    assert_eq!(app.text("main .lead"), translation("ui.unlock.reason_quick_exit_unsaved", language));
    app.shot(&format!("unlock-work-unsaved-{language}-{width}"));
    app.unlock();
    app.wait_screen("case");
    assert!(app.draft_of("note").is_null(), "nothing of the refused paste was stored");

    // A screening in progress: the answer given and the question reached come back.
    app.click("#start-screening");
    app.wait_screen("wizard");
    app.session.wait_for("#wizard-start", Duration::from_secs(20));
    app.choose("#wizard-form", "clinic-screening");
    app.click("#wizard-start");
    let first = app.session.wait_until("the first question", Duration::from_secs(20), || app.question_shown());
    app.click(&format!("input[name=\"{first}\"][value=\"yes\"]"));
    let second = app.session.wait_until("the second question", Duration::from_secs(10), || {
        app.question_shown().filter(|question| *question != first)
    });
    let answer = format!("input[name=\"{second}\"]");
    // The refused paste does not linger: this quick exit stored everything and says so.
    quick_exit_saved(&app, &answer, language, "wizard");
    let resumed = |when: &str| {
        let shown = app
            .session
            .wait_until(&format!("the question reached, {when}"), Duration::from_secs(20), || app.question_shown());
        assert_eq!(shown, second, "the screening is back where it was, {when}");
        assert!(main_says(&app, &translation("ui.wizard.resumed", language)), "the wizard says it was resumed");
        let code = app.invoke("list_cases", json!({"query": {}}))["cases"][0]["id"].as_str().unwrap().to_owned();
        let draft = app.invoke("load_draft", json!({"key": format!("screening:{code}")}));
        assert_eq!(draft["answers"][first.as_str()], json!("yes"), "the answer given is kept, {when}");
    };
    resumed("after the quick exit");
    lock_and_back(&app, "wizard");
    resumed("after the Lock button");
    app.shot(&format!("screening-resumed-{language}-{width}"));
}

#[test]
fn drafts_come_back_in_english_at_1366x768() {
    drafts_come_back("en", 1366, 768);
}

#[test]
fn drafts_come_back_in_spanish_at_1024x600() {
    drafts_come_back("es", 1024, 600);
}
