//! Issue 11, item 4: the result reaches the case. A nurse goes from the locked screen to a
//! referral: the screening takes one click per question with the mouse (in English), one key per
//! question with the keyboard only (in Spanish; counted by the page itself), its result
//! is taken into the case with one confirmation, merged with what the case had, shown in the
//! interface's language, and its answers ("not sure" and "prefers not to answer" among them)
//! are read back on the case. A child of `desktop`, so it drives the app with the same `Harbour`.

use std::collections::BTreeMap;
use std::time::Duration;

use harbour_core::forms::{Answers, FormLibrary, Lang};
use harbour_core::model::{ExploitationType, MeansOfControl};
use harbour_tests::plaintext_found;
use harbour_tests::webdriver::{keys, truthy};
use serde_json::{Value, json};

use super::{Harbour, PASSPHRASE, frontline_app, translation};

/// Records in the page every click and every key that is not typing into a text field (there,
/// only Enter, Tab and the arrows up and down count), with the question on screen when it
/// happened (the ids of what was used, never a text). A click that a key made (Enter or Space on
/// a button, `detail` 0) is that key's, counted once.
const COUNT_ACTIONS: &str = "
    window.__actions = [];
    const record = (kind, event) => {
      const question = document.querySelector('form.question');
      const target = event.target;
      window.__actions.push({
        kind,
        question: question ? question.dataset.question : null,
        target: target.id || target.getAttribute('name') || target.getAttribute('class') || target.tagName,
      });
    };
    document.addEventListener('click', (event) => event.isTrusted && event.detail > 0 && record('click', event), true);
    document.addEventListener('keydown', (event) => {
      const target = event.target;
      const typing = target.tagName === 'TEXTAREA'
        || (target.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit'].includes(target.type));
      const moving = ['Enter', 'Tab', 'ArrowDown', 'ArrowUp'].includes(event.key);
      if (event.isTrusted && (moving || !typing)) record(event.key === 'Tab' ? 'Tab' : 'key', event);
    }, true);";

/// The clinic screening's answers: three strong indicators, one "not sure" and one "prefers not
/// to answer"; every question the form shows for them is in the plan.
const PLAN: &[(&str, &str)] = &[
    ("q_safe_to_talk", "yes"),
    ("q_danger_now", "no"),
    ("q_minor", "no"),
    ("q_deceived", "declined"),
    ("q_pay_withheld", "no"),
    ("q_debt", "yes"),
    ("q_documents", "yes"),
    ("q_movement", "unsure"),
    ("q_threats", "no"),
    ("q_harmed", "no"),
    ("q_sexual", "yes"),
    ("q_wants_help", "yes"),
];

/// How the nurse works: clicks, or keys only (Tab to move between controls, Enter, Space, arrows
/// and the key shown beside each answer).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum By {
    Mouse,
    Keyboard,
}

fn the_result_reaches_the_case(language: &str, width: u32, height: u32, by: By) {
    let lang = Lang::parse(language).expect("en, es or fr");
    let app = frontline_app(language, width, height);
    let name = "Ilsabet Quorrigan Varrow";
    let code = app.create_case(name);
    // What the case says already, which the screening's result must keep.
    app.invoke("update_case", json!({"id": code, "values": {"means_of_control": "threats"}}));
    app.go_to_cases();
    app.click("#lock-button");
    app.wait_screen("unlock");

    // ---- From the locked screen: every click and key from here is counted by the page.
    app.session.execute(COUNT_ACTIONS, json!([]));
    app.session.wait_for("#unlock-passphrase", Duration::from_secs(10));
    if by == By::Keyboard {
        // The passphrase box has the focus: typing goes there.
        assert_focused(&app, "#unlock-passphrase");
        app.session.focused().send_keys(PASSPHRASE);
    } else {
        app.fill("#unlock-passphrase", PASSPHRASE);
    }
    app.session.find("#unlock-passphrase").send_keys(keys::ENTER);
    app.wait_screen("cases");
    app.session.wait_for("#case-search", Duration::from_secs(10));
    if by == By::Keyboard {
        assert_focused(&app, "#case-search");
        app.session.focused().send_keys(&code);
    } else {
        app.fill("#case-search", &code);
    }
    app.session.wait_until("the case in the list", Duration::from_secs(10), || {
        (app.session.find_all(".case-row").len() == 1).then_some(())
    });
    if by == By::Keyboard {
        // Down from the search box to the case, Enter opens it.
        app.session.focused().send_keys(keys::ARROW_DOWN);
        assert_focused(&app, ".case-row");
        app.session.focused().send_keys(keys::ENTER);
    } else {
        app.click(".case-row");
    }
    app.wait_screen("case");
    activate(&app, by, "#start-screening");
    app.session.wait_for("#wizard-start", Duration::from_secs(20));
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").expect("the clinic screening is built in");
    assert_eq!(app.text("#wizard h1"), form.title.get(lang), "the clinic screening is offered first");
    if by == By::Keyboard {
        // "The person agrees" has the focus after the opening script.
        assert_focused(&app, "#wizard-start");
    }
    activate(&app, by, "#wizard-start");
    let answers = answer_screening(&app, by, &format!("{language}-{width}"));
    let asked: Vec<&str> = answers.keys().map(String::as_str).collect();
    let mut planned: Vec<&str> = PLAN.iter().map(|(id, _)| *id).collect();
    planned.sort();
    assert_eq!(asked, planned, "the form showed exactly the questions of the plan");
    let expected = form.score(&answers);
    app.session.wait_for("#result-level", Duration::from_secs(20));
    assert_eq!(app.session.find("#result-level").attribute("data-level").as_deref(), Some(expected.level.as_str()));
    activate(&app, by, "#result-open-case");
    app.wait_screen("case");

    // ---- The result, offered once, in the interface's words.
    app.session.wait_for("#screening-suggestion", Duration::from_secs(10));
    let label = |list: &str, value: &str| translation(&format!("code.{list}.{value}"), language);
    let labels =
        |list: &str, values: &[&str]| values.iter().map(|value| label(list, value)).collect::<Vec<_>>().join(", ");
    assert_eq!(expected.codes.exploitation_types, [ExploitationType::SexualExploitation]);
    assert_eq!(expected.codes.means_of_control, [MeansOfControl::DebtBondage, MeansOfControl::WithholdsDocuments]);
    let risk = label("risk_level", "high");
    let summary = translation("ui.suggestion.summary", language)
        .replace("{risk}", &risk)
        .replace("{exploitation}", &label("exploitation_type", "sexual_exploitation"))
        .replace("{control}", &labels("means_of_control", &["debt_bondage", "withholds_documents"]));
    assert!(app.text("#suggestion-summary") == summary, "the suggestion names risk, exploitation and control by label");
    let control_change = translation("ui.suggestion.adds_keeps", language)
        .replace("{field}", &translation("ui.field.means_of_control", language))
        .replace("{added}", &labels("means_of_control", &["debt_bondage", "withholds_documents"]))
        .replace("{kept}", &label("means_of_control", "threats"));
    assert!(
        app.text("#suggestion-changes li[data-field=\"means_of_control\"]") == control_change,
        "the suggestion says what it adds and what it keeps"
    );
    let risk_change = translation("ui.suggestion.risk_set", language)
        .replace("{from}", &translation("ui.common.not_assessed", language))
        .replace("{to}", &risk);
    assert!(app.text("#suggestion-changes li[data-field=\"risk_level\"]") == risk_change, "the risk level's change");
    app.session.execute("document.getElementById('screening-suggestion').scrollIntoView()", json!([]));
    app.shot(&format!("case-screening-suggestion-{language}-{width}"));
    activate(&app, by, "#suggestion-take");
    app.session.wait_for("#suggestion-taken", Duration::from_secs(10));
    assert!(app.session.try_find("#screening-suggestion").is_none(), "taken once, the suggestion is gone");
    assert_eq!(app.text("#case-risk"), risk, "the case's risk level, in the interface's language");
    let field = |name: &str| app.text(&format!(".summary .kv[data-field=\"{name}\"] dd"));
    assert!(field("exploitation_types") == label("exploitation_type", "sexual_exploitation"), "exploitation types");
    assert!(
        field("means_of_control") == labels("means_of_control", &["debt_bondage", "threats", "withholds_documents"]),
        "means of control merged with what the case had"
    );

    // ---- The answers, read back on the case in the interface's language.
    let screening = "#case-screenings .screening[data-state=\"recorded\"]";
    app.session.execute(&format!("document.querySelector('{screening}').scrollIntoView()"), json!([]));
    activate(&app, by, &format!("{screening} summary"));
    app.session.wait_for(&format!("{screening} .screening-answer"), Duration::from_secs(10));
    let rows = app.session.execute(
        "return [...document.querySelectorAll(arguments[0])]
           .map(row => [row.dataset.question, row.querySelector('dt').textContent, row.querySelector('dd').textContent])",
        json!([format!("{screening} .screening-answer")]),
    );
    let shown: Vec<(String, String, String)> = serde_json::from_value(rows).expect("rows of three texts");
    assert_eq!(shown.len(), answers.len(), "every answer is listed");
    for (question, text, answer) in &shown {
        let asked = form.question(question).unwrap_or_else(|| panic!("{question} is a question of the form"));
        assert!(*text == asked.text.get(lang), "{question} is shown in the interface's language");
        let key = match answers[question].as_str() {
            Some("unsure") => "answer.unsure",
            Some("declined") => "answer.declined",
            Some("yes") => "answer.yes",
            _ => "answer.no",
        };
        assert!(*answer == translation(key, language), "{question}'s answer reads as {key}");
    }
    app.session.execute(&format!("document.querySelector('{screening}').scrollIntoView()"), json!([]));
    app.shot(&format!("case-screening-answers-{language}-{width}"));

    // ---- And on to a referral.
    app.session.execute("document.getElementById('add-referral').scrollIntoView()", json!([]));
    if by == By::Keyboard {
        refer_by_keyboard(&app);
    } else {
        app.refer_to_first_service();
    }

    let actions: Vec<Value> = app
        .session
        .execute("return window.__actions || null", json!([]))
        .as_array()
        .cloned()
        .expect("the page counted every action since the locked screen (it was not reloaded)");
    let mut per_question: BTreeMap<String, usize> = BTreeMap::new();
    let mut other: Vec<String> = Vec::new();
    let mut tabs = 0;
    let mut clicks = 0;
    for action in &actions {
        let target = action["target"].as_str().unwrap_or_default();
        let kind = action["kind"].as_str().unwrap_or_default();
        if kind == "click" {
            clicks += 1;
        }
        if kind == "Tab" {
            // Moving between controls, not a choice: counted apart.
            tabs += 1;
            continue;
        }
        match action["question"].as_str() {
            Some(question) => *per_question.entry(question.to_owned()).or_default() += 1,
            // Finish, on the check of the answers after the last question, records the
            // screening: a step of its own, like "The person agrees".
            None => other.push(format!("{kind} {target}")),
        }
    }
    assert_eq!(per_question.len(), PLAN.len(), "an action was counted on every question: {per_question:?}");
    assert!(per_question.values().all(|count| *count == 1), "one click or key per question: {per_question:?}");
    if by == By::Keyboard {
        assert_eq!(clicks, 0, "the keyboard run used no mouse: {other:?}");
    } else {
        assert!(
            actions.iter().all(|action| action["kind"] == "click" || action["target"] == "unlock-passphrase"),
            "the mouse run used no key but Enter to unlock: {other:?}"
        );
    }
    // Unlock (Enter), open the case, start, agree, finish, open the case, take the result, read
    // the answers, and the referral (add, service, consent, send); with the keyboard, Down to
    // the case first and Tab between controls: nothing else.
    assert!(other.len() <= 13, "{} actions besides the questions: {other:?}", other.len());
    eprintln!(
        "{language} {width}x{height} by {by:?}: {} questions, {} actions on them, {} other actions (and {tabs} Tab) from the locked screen to the referral",
        per_question.len(),
        per_question.values().sum::<usize>(),
        other.len()
    );

    // ---- A later screening's result can be set aside: it stays aside, and the case unchanged.
    let later = json!({"q_safe_to_talk": "yes", "q_danger_now": "no", "q_harmed": "yes", "q_wants_help": "yes"});
    let recorded =
        app.invoke("record_screening", json!({"id": code, "form": form.id, "answers": later, "lang": language}));
    assert_eq!(recorded["result"]["codes"]["means_of_control"], json!(["physical_abuse"]));
    let open_case = || {
        app.go_to_cases();
        app.fill("#case-search", &code);
        app.session.wait_until("the case in the list", Duration::from_secs(10), || {
            (app.session.find_all(".case-row").len() == 1).then_some(())
        });
        app.click(".case-row");
        app.wait_screen("case");
        app.session.wait_for("#case-screenings .screening", Duration::from_secs(10));
    };
    open_case();
    app.session.wait_for("#screening-suggestion", Duration::from_secs(10));
    app.click("#suggestion-dismiss");
    assert!(app.session.try_find("#screening-suggestion").is_none(), "set aside, the suggestion is gone");
    open_case();
    assert!(app.session.try_find("#screening-suggestion").is_none(), "and it stays aside");
    assert!(
        field("means_of_control") == labels("means_of_control", &["debt_bondage", "threats", "withholds_documents"]),
        "setting it aside changed nothing"
    );

    // ---- A screening paused half-way is on the case as paused.
    app.click("#start-screening");
    app.session.wait_for("#wizard-start", Duration::from_secs(20));
    app.click("#wizard-start");
    app.session.wait_for("form.question[data-question=\"q_safe_to_talk\"]", Duration::from_secs(10));
    app.click("input[name=\"q_safe_to_talk\"][value=\"yes\"]");
    app.session.wait_for("form.question[data-question=\"q_danger_now\"]", Duration::from_secs(10));
    app.click("#wizard-pause");
    app.wait_screen("case");
    let paused = "#case-screenings .screening[data-state=\"paused\"]";
    app.session.wait_for(paused, Duration::from_secs(10));
    assert_eq!(app.text(&format!("{paused} .badge")), translation("ui.screenings.paused", language));
    assert_eq!(app.session.find_all("#case-screenings .screening").len(), 3, "the two recorded and the paused one");
    assert!(truthy(&app.session.execute("return !document.getElementById('screening-suggestion')", json!([]))));

    let secrets = [name, PASSPHRASE];
    assert_eq!(plaintext_found(app.desktop.data_dir(), &secrets), [], "nothing typed is stored in clear");
    assert_eq!(app.log_has(&secrets), [false, false], "nothing typed reaches the app's log");
}

/// Answers the questions on screen by the plan, one click or one key each (the key shown beside
/// the answer, sent to whatever has the focus), then Finish on the check of the answers; returns
/// the answers given (the page's own count is checked by the caller).
/// `tag` names the screenshots of the first question and of the check of the answers.
fn answer_screening(app: &Harbour, by: By, tag: &str) -> Answers {
    let mut answers = Answers::new();
    let mut previous = String::new();
    loop {
        assert!(answers.len() <= PLAN.len(), "the wizard asked a question that is not in the plan");
        let next =
            app.session.wait_until("the next question or the check of the answers", Duration::from_secs(10), || {
                if app.session.try_find("#wizard-review").is_some() {
                    return Some(None);
                }
                app.question_shown().filter(|id| *id != previous).map(Some)
            });
        let Some(question) = next else {
            assert_eq!(answers.len(), PLAN.len(), "the check of the answers comes after the last question");
            let listed = app.session.find_all("#wizard-review .review-answer").len();
            assert_eq!(listed, PLAN.len(), "every answer is there to check");
            app.shot(&format!("wizard-check-{tag}"));
            if by == By::Keyboard {
                // Finish has the focus: Enter records.
                assert_focused(app, "#wizard-finish");
            }
            activate(app, by, "#wizard-finish");
            return answers;
        };
        let answer = PLAN
            .iter()
            .find(|(id, _)| *id == question)
            .map(|(_, answer)| *answer)
            .unwrap_or_else(|| panic!("{question} is not in the plan"));
        let choice = format!("input[name=\"{question}\"][value=\"{answer}\"]");
        if answers.is_empty() {
            app.shot(&format!("wizard-keys-{tag}"));
        }
        match by {
            By::Mouse => app.click(&choice),
            By::Keyboard => {
                // The question opens with its first (or chosen) answer focused and in sight, the
                // key to press shown beside each answer.
                let placed = app.session.execute(
                    "const form = document.querySelector('form.question');
                     const focused = document.activeElement;
                     const legend = form.querySelector('legend').getBoundingClientRect();
                     const box = focused.getBoundingClientRect();
                     return [form.contains(focused) && focused.type === 'radio',
                             legend.top >= 0 && box.bottom <= window.innerHeight];",
                    json!([]),
                );
                assert_eq!(
                    placed,
                    json!([true, true]),
                    "{question}: an answer has the focus, the question and it in sight"
                );
                let key = app.session.find(&choice).attribute("aria-keyshortcuts").expect("each answer has its key");
                let shown = app.session.execute(
                    "return arguments[0].closest('.choice').querySelector('.answer-key').textContent",
                    json!([app.session.find(&choice).as_arg()]),
                );
                assert_eq!(shown, json!(key), "{question}: the key is shown beside the answer");
                app.session.focused().send_keys(&key);
            }
        }
        answers.insert(question.clone(), json!(answer));
        previous = question;
    }
}

/// Checks that `selector` has the keyboard focus.
fn assert_focused(app: &Harbour, selector: &str) {
    app.session.wait_until(&format!("the focus on `{selector}`"), Duration::from_secs(10), || {
        truthy(&app.session.execute("return document.activeElement.matches(arguments[0])", json!([selector])))
            .then_some(())
    });
}

/// Moves the focus to `selector` with Tab (at most 80 presses).
fn tab_to(app: &Harbour, selector: &str) {
    app.session.wait_for(selector, Duration::from_secs(10));
    for _ in 0..80 {
        if truthy(&app.session.execute("return document.activeElement.matches(arguments[0])", json!([selector]))) {
            return;
        }
        app.session.focused().send_keys(keys::TAB);
    }
    panic!("Tab never reached `{selector}`");
}

/// Uses a button (or a `summary`): a click, or Tab to it and Enter.
fn activate(app: &Harbour, by: By, selector: &str) {
    match by {
        By::Mouse => app.click(selector),
        By::Keyboard => {
            tab_to(app, selector);
            app.session.focused().send_keys(keys::ENTER);
        }
    }
}

/// A referral to the directory's first service, by keyboard: Add a referral, Down in the list of
/// services, Space on the consent box, Enter on Send.
fn refer_by_keyboard(app: &Harbour) {
    activate(app, By::Keyboard, "#add-referral");
    app.session.wait_for("#referral-form", Duration::from_secs(10));
    tab_to(app, "#referral-service");
    app.session.focused().send_keys(keys::ARROW_DOWN);
    assert!(
        app.session.find("#referral-service").property("value").as_str().is_some_and(|value| !value.is_empty()),
        "Down chose a service"
    );
    tab_to(app, "#referral-consent");
    app.session.focused().send_keys(keys::SPACE);
    assert_eq!(app.session.find("#referral-consent").property("checked"), json!(true), "Space ticked the consent");
    activate(app, By::Keyboard, "#referral-submit");
    app.session.wait_for(".referral[data-status=\"sent\"]", Duration::from_secs(10));
}

#[test]
fn the_result_reaches_the_case_in_english_at_1366x768() {
    the_result_reaches_the_case("en", 1366, 768, By::Mouse);
}

#[test]
fn the_result_reaches_the_case_in_spanish_at_1024x600_by_keyboard() {
    the_result_reaches_the_case("es", 1024, 600, By::Keyboard);
}
