//! Issue 11, item 2, errors people understand on the referral form and the service directory
//! editor, in English at 1366×768 and Spanish at 1024×600: every fault at once, each beside its
//! field in the interface's language and named by its label (never an internal name, nor an
//! English word in Spanish), the field marked, the first scrolled into view and focused. A child
//! of `desktop`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Harbour, frontline_app, translation, truthy};

/// The text of `#<id>-fault`, the place beside the control `id`.
fn fault_beside(app: &Harbour, id: &str) -> String {
    app.text(&format!("#{id}-fault"))
}

fn marked(app: &Harbour, selector: &str) -> bool {
    app.session.find(selector).attribute("aria-invalid").as_deref() == Some("true")
}

fn focused_id(app: &Harbour) -> Value {
    app.session.execute("return document.activeElement.id", json!([]))
}

/// Everything the form says is wrong: its error box and every fault shown beside a field.
fn everything_said(app: &Harbour, form: &str) -> String {
    app.session
        .execute(
            "return [...document.querySelectorAll(arguments[0] + ' .error-box, ' + arguments[0] + ' .field-fault:not([hidden])')].map(e => e.textContent).join(' ')",
            json!([form]),
        )
        .as_str()
        .unwrap_or_default()
        .to_lowercase()
}

/// No internal name, and in Spanish no English word, in what `form` says is wrong.
fn no_internal_or_english_word(app: &Harbour, form: &str, language: &str, internal: &[&str], english: &[&str]) {
    let said = everything_said(app, form);
    assert!(!said.is_empty(), "{form} says something");
    let mut words: Vec<&str> = vec!["ui.", "{", "_missing", "undefined", "null"];
    words.extend(internal);
    if language != "en" {
        words.extend(english);
    }
    for word in words {
        assert!(!said.contains(word), "no internal name or English word `{}` in {form}'s errors: {said}", word.trim());
    }
}

fn check_many(language: &str, labels: &[String]) -> String {
    translation("ui.form.check_many", language)
        .replace("{n}", &labels.len().to_string())
        .replace("{fields}", &labels.join(", "))
}

/// The referral form sent with nothing chosen: the service, what is shared and the consent are
/// each said beside their control at once; then a value core refuses (who it is shared with, too
/// long) is said beside its field the same way.
fn referral_errors(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    app.create_case("Briallen Oskarsdottir");
    app.click("#add-referral");
    app.session.find("#referral-form");
    for scope in ["identity", "case_summary"] {
        app.click(&format!("#consent-scope-{scope}"));
    }
    app.click("#referral-submit");
    app.session.wait_for("#referral-error:not([hidden])", Duration::from_secs(10));

    let expected = [
        ("referral-service", "ui.referral.service_missing"),
        ("referral-scope", "ui.referral.scope_missing"),
        ("referral-consent", "ui.referral.consent_missing"),
    ];
    for (id, key) in expected {
        assert_eq!(fault_beside(&app, id), translation(key, language), "#{id} says what is missing, in {language}");
    }
    for selector in ["#referral-service", "#consent-scope-identity", "#referral-consent"] {
        assert!(marked(&app, selector), "{selector} is marked");
    }
    let styled = app
        .session
        .execute("return getComputedStyle(document.getElementById('referral-service')).borderTopWidth", json!([]));
    assert_eq!(styled, json!("2px"), "the service looks marked");
    let group = app
        .session
        .execute("return document.getElementById('referral-scope').classList.contains('invalid')", json!([]));
    assert!(truthy(&group), "the group of what is shared looks marked");
    let labels =
        ["ui.referral.service", "ui.referral.scope", "ui.referral.consent_short"].map(|key| translation(key, language));
    assert_eq!(app.text("#referral-error"), check_many(language, &labels), "the summary names each field by its label");
    no_internal_or_english_word(
        &app,
        "#referral-form",
        language,
        &["scope", "shared_with", "consent_id"],
        &[" the ", "tick", "choose", "nothing", "check", "service "],
    );
    assert_eq!(focused_id(&app), json!("referral-service"), "the first field at fault has the focus");
    assert!(app.in_view("#referral-service"), "the first field at fault is in view");
    app.shot(&format!("referral-errors-{language}-{width}"));

    // Chosen and agreed, but shared with a name longer than core keeps: said beside that field.
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
    app.click("#consent-scope-identity");
    app.click("#referral-consent");
    let long = "Duty desk of the shelter ".repeat(10);
    app.fill("#referral-shared-with", &long);
    app.click("#referral-submit");
    app.session.wait_until("the refused name beside its field", Duration::from_secs(10), || {
        app.session.try_find("#referral-shared-with-fault:not([hidden])").map(|_| ())
    });
    let label = translation("ui.referral.shared_with", language);
    let sentence = translation("error.fault.too_long", language).replace("{field}", &label).replace("{max}", "200");
    assert_eq!(fault_beside(&app, "referral-shared-with"), sentence);
    assert!(marked(&app, "#referral-shared-with"));
    for id in ["referral-service", "referral-scope", "referral-consent"] {
        let hidden = app.session.find(&format!("#{id}-fault")).property("hidden");
        assert_eq!(hidden, json!(true), "#{id}'s fault, mended, is gone");
    }
    assert!(!marked(&app, "#referral-service") && !marked(&app, "#referral-consent"));
    assert_eq!(app.text("#referral-error"), translation("ui.form.check_one", language).replace("{field}", &label));
    no_internal_or_english_word(
        &app,
        "#referral-form",
        language,
        &["shared_with", "too_long", "consent_id"],
        &[" the ", "at most", "shorten"],
    );
    assert_eq!(focused_id(&app), json!("referral-shared-with"));

    // Mended, the referral is recorded.
    app.fill("#referral-shared-with", "Duty desk");
    app.click("#referral-submit");
    app.session.wait_for(".referral[data-status=\"sent\"]", Duration::from_secs(10));
}

#[test]
fn referral_errors_beside_each_field_in_english_at_1366x768() {
    referral_errors("en", 1366, 768);
}

#[test]
fn referral_errors_beside_each_field_in_spanish_at_1024x600() {
    referral_errors("es", 1024, 600);
}

/// A service saved with its name and hours left empty and a phone without its country code: the
/// three faults at once, each beside its box, named by the label of its text.
fn directory_errors(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    app.click("#settings-button");
    app.wait_screen("settings");
    app.session.wait_for("#directory-panel .directory-edit", Duration::from_secs(10));
    app.click("#directory-panel .directory-edit");
    app.session.wait_for("#directory-form", Duration::from_secs(10));
    app.session.find("#directory-name-en").clear();
    app.session.find("#directory-hours-en").clear();
    app.fill("#directory-phone", "452 0000");
    app.session.execute("document.getElementById('directory-save').scrollIntoView({block: 'nearest'})", json!([]));
    app.click("#directory-save");
    app.session.wait_for("#directory-error:not([hidden])", Duration::from_secs(10));

    let name = translation("ui.directory.name", language);
    let hours = translation("directory.hours", language);
    let missing = |label: &str| translation("ui.directory.missing", language).replace("{field}", label);
    assert_eq!(fault_beside(&app, "directory-name-en"), missing(&name));
    assert_eq!(fault_beside(&app, "directory-hours-en"), missing(&hours));
    assert_eq!(fault_beside(&app, "directory-phone"), translation("ui.directory.phone_invalid", language));
    for selector in ["#directory-name-en", "#directory-hours-en", "#directory-phone"] {
        assert!(marked(&app, selector), "{selector} is marked");
        let styled = app
            .session
            .execute("return getComputedStyle(document.querySelector(arguments[0])).borderTopWidth", json!([selector]));
        assert_eq!(styled, json!("2px"), "{selector} looks marked");
    }
    assert!(!marked(&app, "#directory-contact-en"), "a text left as it was is not marked");
    let labels = [name, hours, translation("ui.directory.phone", language)];
    assert_eq!(app.text("#directory-error"), check_many(language, &labels));
    no_internal_or_english_word(
        &app,
        "#directory-form",
        language,
        &["services[", "e.164", "hours:", "name:"],
        &[" the ", "write", "english", "phone", "hours", "name "],
    );
    assert_eq!(focused_id(&app), json!("directory-name-en"), "the first field at fault has the focus");
    assert!(app.in_view("#directory-name-en"), "the first field at fault is in view");
    app.shot(&format!("directory-errors-{language}-{width}"));

    // Mended, the service is saved.
    app.fill("#directory-name-en", "Clinic of the north");
    app.fill("#directory-hours-en", "Mon–Fri 8:00–16:00");
    app.fill("#directory-phone", "+1 758 452 0000");
    app.session.execute("document.getElementById('directory-save').scrollIntoView({block: 'nearest'})", json!([]));
    app.click("#directory-save");
    app.session.wait_for("#directory-saved", Duration::from_secs(10));
}

#[test]
fn directory_errors_beside_each_field_in_english_at_1366x768() {
    directory_errors("en", 1366, 768);
}

#[test]
fn directory_errors_beside_each_field_in_spanish_at_1024x600() {
    directory_errors("es", 1024, 600);
}
