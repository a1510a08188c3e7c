//! Issue 12, item 1, on the desktop: the facts the task force's figures need, shown and recorded
//! on the case page ("Identification and justice"), in English at 1366×768 and Spanish at
//! 1024×600. The identification is set (identified, with its date, by whom, the country of
//! exploitation chosen by name); a recruitment stage with a country from the picker, a
//! conviction with its sentence, a perpetrator (a draft that survives the Lock button) and a
//! service received are added; each shows with its label in the interface's language (never a
//! code, and in Spanish no English word); a bad entry (a date after today, a sentence on a step
//! that is not a conviction) is a sentence beside its field in that language; the dashboard's
//! identification figure counts the case; closed, the case shows the facts without the forms.
//! A child of `desktop`.

use std::time::Duration;

use serde_json::json;

use super::{Harbour, frontline_app, translation};

const WAIT: Duration = Duration::from_secs(20);

/// The fault sentence `fault` about the field labelled by the key `label`.
fn fault(language: &str, fault: &str, label: &str) -> String {
    translation(&format!("error.fault.{fault}"), language).replace("{field}", &translation(label, language))
}

/// The texts of the form's errors (the summary and each field's), lower case.
fn error_texts(app: &Harbour) -> String {
    let all = app.session.execute(
        "return [...document.querySelectorAll('#desk-error, #case-desk .field-fault:not([hidden])')].map(e => e.textContent).join(' ')",
        json!([]),
    );
    all.as_str().unwrap_or_default().to_lowercase()
}

/// Brings `selector` to the middle of the screen, as a person scrolls to what they are about to
/// use (WebKit's driver clicks an element that is on screen where it is, even under the form's
/// sticky buttons).
fn centre(app: &Harbour, selector: &str) {
    app.session.execute("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", json!([selector]));
}

fn press(app: &Harbour, selector: &str) {
    centre(app, selector);
    app.click(selector);
}

fn choose(app: &Harbour, selector: &str, value: &str) {
    centre(app, selector);
    app.choose(selector, value);
}

fn pick(app: &Harbour, selector: &str, typed: &str, value: &str) {
    centre(app, selector);
    app.pick(selector, typed, value);
}

fn wait_text(app: &Harbour, selector: &str) -> String {
    app.session.wait_until(&format!("{selector} to be shown"), WAIT, || {
        app.session.try_find(selector).map(|element| element.text())
    })
}

fn the_desk(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    let code = app.create_case("Anouk Delacroix-Reyes");
    assert_eq!(app.text("#desk-title"), translation("ui.desk.title", language));
    assert_eq!(app.text("#desk-process"), translation("ui.desk.process_none", language));

    // Identification: identified, on a day typed as the locale writes it, by the police, exploited
    // in a country chosen by its name.
    app.click("#desk-edit-identification");
    choose(&app, "#desk-form-identification-status", "identified");
    app.fill("#desk-form-identification-date", "14/03/2024");
    choose(&app, "#desk-form-identified-by", "law_enforcement");
    pick(&app, "#desk-form-country-of-exploitation", if language == "es" { "santa lu" } else { "saint lu" }, "LC");
    choose(&app, "#desk-form-recruiter-relation", "family");
    press(&app, "#desk-form-recruitment-methods input[value=\"job_offer\"]");
    assert!(app.in_view("#desk-save"), "Record is in view above the sync bar");
    press(&app, "#desk-save");
    app.session.wait_for("#desk-identification-status[data-status=\"identified\"]", WAIT);
    assert_eq!(app.text("#desk-identification-status"), translation("code.identification_status.identified", language));
    let date = app.text("#desk-identification-date");
    assert!(date.contains("2024") && date.contains("14") && !date.contains("2024-03"), "the date in the locale's way");
    assert_eq!(app.text("#desk-identified-by"), translation("code.organisation_type.law_enforcement", language));
    assert_eq!(app.text("#desk-recruiter-relation"), translation("code.recruiter_relation.family", language));
    assert_eq!(app.text("#desk-recruitment-methods"), translation("code.recruitment_method.job_offer", language));
    let country = app.text("#desk-country-of-exploitation");
    assert!(country.contains("Luc"), "the country by its name");
    let fields = &app.invoke("get_case", json!({"id": code}))["case"]["fields"];
    assert_eq!(
        (&fields["identification_status"], &fields["identification_date"], &fields["country_of_exploitation"]),
        (&json!("identified"), &json!("2024-03-14"), &json!("LC"))
    );

    // A recruitment stage: the country from the picker, the month alone, approximately.
    app.click("#add-process");
    choose(&app, "#process-stage", "recruitment");
    pick(&app, "#process-country", "venez", "VE");
    app.fill("#process-place", "Maturín");
    app.fill("#process-from", "05/2023");
    press(&app, "#process-approximate");
    press(&app, "#desk-save");
    let stage = wait_text(&app, ".process-event[data-stage=\"recruitment\"][data-country=\"VE\"]");
    assert!(stage.starts_with(&translation("code.process_stage.recruitment", language)), "the stage by its label");
    assert!(stage.contains("Venezuela") && stage.contains("Maturín"), "the country and the place");
    let about = translation("ui.desk.about", language).replace("{date}", "");
    assert!(stage.contains(about.trim()) && stage.contains("2023") && !stage.contains("~"), "an approximate month");

    // A bad justice step: a date after today, then a sentence on an investigation; each a
    // sentence beside its field, in the interface's language.
    app.click("#add-justice");
    choose(&app, "#justice-stage", "investigation");
    app.fill("#justice-date", "01/01/2999");
    app.fill("#justice-sentence", "24");
    press(&app, "#desk-save");
    let future = wait_text(&app, "#justice-date-fault:not([hidden])");
    assert_eq!(future, fault(language, "date_in_future", "ui.desk.date"));
    assert_eq!(app.session.find("#justice-date").attribute("aria-invalid").as_deref(), Some("true"));
    app.fill("#justice-date", "02/03/2024");
    press(&app, "#desk-save");
    let sentence = wait_text(&app, "#justice-sentence-fault:not([hidden])");
    assert_eq!(sentence, fault(language, "only_with_conviction", "ui.desk.sentence"));
    assert_eq!(app.session.find("#justice-sentence").attribute("aria-invalid").as_deref(), Some("true"));
    assert!(app.in_view("#justice-sentence"), "the field at fault is in view");
    let errors = error_texts(&app);
    let mut internal = vec!["sentence_months", "--stage", "yyyy", "convicted"];
    if language != "en" {
        internal.extend([" the ", "future", "conviction", " only"]);
    }
    for word in internal {
        assert!(!errors.contains(word), "no internal name or English word `{}` in the errors", word.trim());
    }
    app.shot(&format!("case-desk-error-{language}-{width}"));
    choose(&app, "#justice-stage", "convicted");
    press(&app, "#desk-save");
    let step = wait_text(&app, ".justice-step[data-stage=\"convicted\"]");
    assert!(step.starts_with(&translation("code.justice_stage.convicted", language)) && step.contains("24"));

    // A perpetrator being recorded, then the Lock button: the form comes back after the unlock.
    app.click("#add-perpetrator");
    press(&app, "#perpetrator-roles input[value=\"recruiter\"]");
    choose(&app, "#perpetrator-sex", "male");
    app.click("#lock-button");
    app.wait_screen("unlock");
    app.unlock();
    app.wait_screen("case");
    assert_eq!(wait_text(&app, "#desk-restored"), translation("ui.desk.restored", language));
    let kept = app.session.find("#perpetrator-roles input[value=\"recruiter\"]").property("checked");
    assert_eq!(kept, json!(true), "the role ticked before the lock");
    assert_eq!(app.session.find("#perpetrator-sex").property("value"), json!("male"));
    press(&app, "#desk-save");
    let perpetrator = wait_text(&app, ".perpetrator");
    assert!(perpetrator.contains(&translation("code.perpetrator_role.recruiter", language)));
    assert!(perpetrator.contains(&translation("code.sex.male", language)));
    assert!(app.draft_of("desk").is_null(), "a recorded entry leaves no draft");

    // A service received.
    app.click("#add-service");
    choose(&app, "#service-type", "shelter");
    app.fill("#service-date", "01/03/2024");
    press(&app, "#desk-save");
    let service = wait_text(&app, ".service-received[data-type=\"shelter\"]");
    assert!(service.starts_with(&translation("service_type.shelter", language)) && service.contains("2024"));

    // Labels, never codes; in Spanish, no English word.
    let section = app.text("#case-desk");
    // (Single words that are also English words in lower case, such as "recruitment", are
    // checked in Spanish below.)
    for code in ["identified", "law_enforcement", "job_offer", "convicted", "shelter", "~2023", "VE ", "2024-03"] {
        assert!(!section.contains(code), "no code `{code}` on the case");
    }
    if language == "es" {
        for english in [
            "Identified victim",
            "Law enforcement",
            "Family member",
            "Job offer",
            "Recruitment",
            "Conviction",
            "Shelter",
            "Recruiter",
            "Male",
            "about",
            "months",
            "Services received",
        ] {
            assert!(!section.contains(english), "no English `{english}` in the Spanish section");
        }
    }
    // The timeline says each change in words too.
    let timeline = app.text("#case-timeline");
    assert!(timeline.contains(&translation("code.identification_status.identified", language)));
    assert!(timeline.contains(&translation("code.justice_stage.convicted", language)));
    assert!(timeline.contains(&translation("ui.timeline.kind_service", language)));
    for code in ["identified", "law_enforcement", "job_offer", "convicted", "shelter", "family", "2024-03-14"] {
        assert!(!timeline.contains(code), "no code `{code}` in the timeline");
    }
    app.session.execute("document.getElementById('case-desk').scrollIntoView({block: 'start'})", json!([]));
    app.shot(&format!("case-desk-{language}-{width}"));

    // The dashboard counts the case as identified.
    app.click("#nav-dashboard");
    app.wait_screen("dashboard");
    app.session.wait_until("the dashboard's figures", WAIT, || {
        app.session.try_find("#dashboard[data-state=\"ready\"]").map(|_| ())
    });
    assert_eq!(app.figure("by_identification.identified"), 1);

    // Closed, the case shows its facts and offers none of the forms.
    app.go_to_cases();
    app.click(".case-row");
    app.wait_screen("case");
    app.click("#close-case");
    app.fill("#status-reason", "Returned home");
    app.click("#status-save");
    app.session.wait_for("#case-closed-note", WAIT);
    app.session.wait_for(".justice-step[data-stage=\"convicted\"]", WAIT);
    for button in ["#desk-edit-identification", "#add-process", "#add-justice", "#add-perpetrator", "#add-service"] {
        assert!(app.session.try_find(button).is_none(), "a closed case offers no {button}");
    }
    assert_eq!(app.text("#desk-identification-status"), translation("code.identification_status.identified", language));
}

#[test]
fn the_desk_facts_in_english_at_1366x768() {
    the_desk("en", 1366, 768);
}

#[test]
fn the_desk_facts_in_spanish_at_1024x600() {
    the_desk("es", 1024, 600);
}
