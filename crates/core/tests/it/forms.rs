//! Data-driven tests of the forms engine, the shipped forms, the translation table and the
//! service directory. Each case is one line through a `check…` helper with an inline
//! expectation; `UPDATE_EXPECT=1 cargo test -p harbour-core --test forms` rewrites them.

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use harbour_core::directory::Directory;
use harbour_core::forms::{Answers, Code, Form, FormLibrary, Lang, Level, QuestionType, Strings};
use harbour_core::model::codes::ServiceType;
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Answers written `q_a=yes q_b=[x,y] q_c=42`; `[…]` is a list, a number is a number.
fn answers(text: &str) -> Answers {
    text.split_whitespace()
        .map(|pair| {
            let (id, value) = pair.split_once('=').expect("answers are written id=value");
            let value = if let Some(list) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                Value::Array(list.split(',').filter(|v| !v.is_empty()).map(|v| json!(v)).collect())
            } else if let Ok(number) = value.parse::<f64>() {
                json!(number)
            } else {
                json!(value)
            };
            (id.to_owned(), value)
        })
        .collect()
}

/// Scores answers with the latest shipped version of a form and prints
/// `level score | reasons (questions) | declined | services`.
fn check(form: &str, text: &str, expect: Expect) {
    let library = FormLibrary::builtin();
    let form = library.latest(form).expect("shipped form");
    let answers = answers(text);
    form.validate_answers(&answers).unwrap_or_else(|error| panic!("{error}"));
    expect.assert_eq(&summary(form, &answers));
}

fn summary(form: &Form, answers: &Answers) -> String {
    let result = form.score(answers);
    let reasons: Vec<String> = result
        .reasons
        .iter()
        .map(|r| format!("{}({})", r.key.trim_start_matches("reason."), r.questions.join(",")))
        .collect();
    let services: Vec<&str> = result.suggested_services.iter().map(|s| s.as_str()).collect();
    format!(
        "{} {} | {} | declined: {} | {}",
        result.level.as_str(),
        result.score,
        reasons.join(" "),
        result.declined.join(","),
        services.join(",")
    )
}

#[test]
fn clinic_screening_scoring() {
    let c = "clinic-screening";
    check(c, "q_safe_to_talk=yes q_danger_now=no q_wants_help=no", expect!["no_indicators 0 |  | declined:  | "]);
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=yes q_safety_needs=[safe_place,medical] q_wants_help=yes",
        expect![[
            "immediate_danger 3 | danger_now(q_danger_now) needs_shelter(q_safety_needs) needs_medical(q_safety_needs) | declined:  | police,shelter,medical,ngo,psychosocial"
        ]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=unsure q_wants_help=unsure",
        expect![["refer_now 2 | danger_unsure(q_danger_now) | declined:  | shelter,psychosocial,ngo"]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_documents=yes q_wants_help=yes",
        expect![["follow_up 3 | documents_withheld(q_documents) | declined:  | legal_aid,police,ngo"]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_documents=yes q_debt=yes q_wants_help=yes",
        expect![[
            "refer_now 6 | documents_withheld(q_documents) debt_bondage(q_debt) | declined:  | legal_aid,police,labour_inspection,ngo,psychosocial"
        ]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_deceived=yes q_pay_withheld=yes q_movement=yes q_wants_help=yes",
        expect![[
            "refer_now 7 | movement_restricted(q_movement) deception(q_deceived) wages_withheld(q_pay_withheld) | declined:  | shelter,police,labour_inspection,legal_aid,ngo,psychosocial"
        ]],
    );
    // Violence and sexual exploitation are red flags on their own.
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_harmed=yes q_wants_help=no",
        expect!["refer_now 3 | violence(q_harmed) | declined:  | medical,psychosocial,police,ngo"],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_minor=yes q_sexual=yes q_wants_help=yes",
        expect![[
            "refer_now 4 | sexual_exploitation(q_sexual) minor_exploited(q_minor,q_sexual,q_harmed,q_movement,q_debt,q_documents) minor(q_minor) | declined:  | medical,psychosocial,shelter,police,ngo"
        ]],
    );
    // Declined is never a yes: one strong indicator declined adds nothing…
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_documents=declined q_debt=declined q_wants_help=no",
        expect!["no_indicators 0 |  | declined: q_debt,q_documents | "],
    );
    // …but a screening mostly declined is not a clear one.
    check(
        c,
        "q_safe_to_talk=declined q_danger_now=declined q_documents=declined q_debt=declined q_wants_help=declined",
        expect![[
            "follow_up 0 | many_declined(q_safe_to_talk,q_danger_now,q_debt,q_documents,q_wants_help) | declined: q_safe_to_talk,q_danger_now,q_debt,q_documents,q_wants_help | ngo"
        ]],
    );
    // Unsure answers are weak indicators, merged into one reason.
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_documents=unsure q_debt=unsure q_wants_help=unsure",
        expect!["follow_up 2 | unsure_indicators(q_documents,q_debt) | declined:  | ngo"],
    );
    check(
        c,
        "q_safe_to_talk=no q_danger_now=no q_wants_help=no",
        expect!["follow_up 2 | not_safe_to_talk(q_safe_to_talk) | declined:  | ngo"],
    );
    // The safety branch is ignored once danger is answered "no".
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_safety_needs=[police] q_wants_help=no",
        expect!["no_indicators 0 |  | declined:  | "],
    );
}

#[test]
fn consular_intake_scoring() {
    let c = "consular-intake";
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_return=stay q_wants_help=no",
        expect!["no_indicators 0 |  | declined:  | "],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=yes q_return=undecided q_wants_help=yes",
        expect![["immediate_danger 3 | danger_now(q_danger_now) | declined:  | police,shelter,medical,ngo,legal_aid"]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_no_documents=yes q_documents=yes q_fee=yes q_debt=yes q_sector=domestic q_return=return_home q_needs=[document] q_wants_help=yes",
        expect![[
            "refer_now 7 | documents_withheld(q_documents) debt_bondage(q_debt) recruitment_fee(q_fee) no_documents(q_no_documents,q_needs) wants_return(q_return) | declined:  | legal_aid,police,labour_inspection,consular,return_assistance,ngo"
        ]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_recruitment=taken q_return=return_home q_wants_help=yes",
        expect![[
            "refer_now 3 | coerced_recruitment(q_recruitment) wants_return(q_return) | declined:  | police,shelter,return_assistance,consular,ngo,legal_aid"
        ]],
    );
    check(
        c,
        "q_safe_to_talk=yes q_danger_now=no q_threat_authorities=yes q_isolation=yes q_hours=yes q_return=stay q_wants_help=yes",
        expect![[
            "refer_now 5 | threat_of_authorities(q_threat_authorities) isolation(q_isolation) excessive_hours(q_hours) | declined:  | legal_aid,psychosocial,labour_inspection,ngo"
        ]],
    );
    check(
        c,
        "q_safe_to_talk=declined q_danger_now=no q_documents=declined q_debt=declined q_movement=declined q_threats=declined q_return=declined q_wants_help=no",
        expect![[
            "follow_up 0 | many_declined(q_safe_to_talk,q_documents,q_debt,q_movement,q_threats,q_return) | declined: q_safe_to_talk,q_documents,q_debt,q_movement,q_threats,q_return | ngo"
        ]],
    );
}

#[test]
fn case_assessment_scoring() {
    let c = "case-assessment";
    check(c, "q_danger_now=no", expect!["no_indicators 0 |  | declined:  | "]);
    check(
        c,
        "q_danger_now=yes q_exploitation_types=[forced_labour]",
        expect![[
            "immediate_danger 6 | danger_now(q_danger_now) exploitation_reported(q_exploitation_types) | declined:  | police,shelter,ngo,psychosocial"
        ]],
    );
    check(
        c,
        "q_age=16 q_danger_now=no q_exploitation_types=[sexual_exploitation] q_sexual_types=[prostitution]",
        expect![[
            "refer_now 4 | exploitation_reported(q_exploitation_types) minor_exploited(q_minor_at_exploitation,q_age,q_exploitation_types) minor(q_age) | declined:  | police,psychosocial,ngo"
        ]],
    );
    check(
        c,
        "q_danger_now=no q_means_of_control=[withholds_documents,debt_bondage,false_promises] q_needs=[legal,wages]",
        expect![[
            "refer_now 8 | documents_withheld(q_means_of_control) debt_bondage(q_means_of_control) deception(q_means_of_control) needs_legal(q_needs) wages_withheld(q_needs) | declined:  | legal_aid,immigration,labour_inspection,ngo,psychosocial"
        ]],
    );
    check(
        c,
        "q_danger_now=no q_still_controlled=yes q_means_of_control=[physical_abuse]",
        expect![[
            "refer_now 5 | violence(q_means_of_control) still_controlled(q_still_controlled) | declined:  | medical,psychosocial,police,shelter,ngo"
        ]],
    );
    check(
        c,
        "q_danger_now=no q_vulnerabilities=[poverty] q_means_of_control=[excessive_working_hours]",
        expect![[
            "follow_up 2 | excessive_hours(q_means_of_control) abuse_of_vulnerability(q_vulnerabilities) | declined:  | labour_inspection,ngo"
        ]],
    );
}

#[test]
fn case_assessment_codes_the_answers() {
    let library = FormLibrary::builtin();
    let form = library.latest("case-assessment").unwrap();
    let answers = answers(
        "q_age=24 q_citizenship=[VE,CO] q_country_of_exploitation=[LC] q_danger_now=no q_recruitment_method=[job_offer,internet] \
         q_recruiter_relation=[friend] q_exploitation_types=[forced_labour,sexual_exploitation] q_labour_sectors=[hospitality] \
         q_sexual_types=[prostitution] q_means_of_control=[withholds_documents,threats] q_vulnerabilities=[migration,poverty] \
         q_needs=[return] q_notes=declined",
    );
    form.validate_answers(&answers).unwrap();
    let result = form.score(&answers);
    expect![[r#"
        {
          "exploitation_types": [
            "forced_labour",
            "sexual_exploitation",
            "sex_and_labour"
          ],
          "means_of_control": [
            "threats",
            "withholds_documents"
          ],
          "labour_sectors": [
            "hospitality"
          ],
          "sexual_exploitation_types": [
            "prostitution"
          ],
          "recruiter_relations": [
            "friend"
          ],
          "recruitment_methods": [
            "internet",
            "job_offer"
          ],
          "vulnerabilities": [
            "poverty",
            "migration"
          ],
          "citizenship": [
            "CO",
            "VE"
          ],
          "countries_of_exploitation": [
            "LC"
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&result.codes).unwrap());
    expect![[r#"["isForcedLabour", "isSexualExploit", "isSexAndLabour", "meansOfControlThreats", "meansOfControlWithholdsDocuments", "typeOfLabourHospitality", "typeOfSexProstitution", "recruiterRelationFriend", "Internet", "JobOfferOrAdvertisement", "Poverty", "Migration"]"#]]
        .assert_eq(&format!("{:?}", result.codes.flags()));
    // The result survives a round trip through storage.
    let stored = serde_json::to_string(&result).unwrap();
    assert_eq!(serde_json::from_str::<harbour_core::forms::ScreeningResult>(&stored).unwrap(), result);
}

#[test]
fn clinic_codes_only_yes_answers() {
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").unwrap();
    let answers =
        answers("q_safe_to_talk=yes q_danger_now=no q_documents=yes q_debt=unsure q_threats=declined q_wants_help=yes");
    expect![[r#"{"means_of_control":["withholds_documents"]}"#]]
        .assert_eq(&serde_json::to_string(&form.score(&answers).codes).unwrap());
}

/// Validates answers against the latest version of a form and prints the error, or `ok`.
fn check_answers(form: &str, text: &str, expect: Expect) {
    let library = FormLibrary::builtin();
    let form = library.latest(form).unwrap();
    let outcome = match form.validate_answers(&answers(text)) {
        Ok(()) => "ok".to_owned(),
        Err(error) => {
            assert!(Strings::builtin().contains(error.translation_key()), "{}", error.translation_key());
            format!("{error} [{}]", error.translation_key())
        }
    };
    expect.assert_eq(&outcome);
}

#[test]
fn answers_are_checked_and_errors_name_the_question() {
    let c = "clinic-screening";
    let base = "q_safe_to_talk=yes q_danger_now=no q_wants_help=no";
    check_answers(c, base, expect!["ok"]);
    check_answers(
        c,
        &format!("{base} q_documents=maybe"),
        expect!["q_documents: answer must be one of yes, no, unsure, declined [error.answer_does_not_fit]"],
    );
    check_answers(
        c,
        "q_danger_now=no q_wants_help=no",
        expect![[
            r#"q_safe_to_talk: this question needs an answer; "prefers not to answer" (declined) is one [error.answer_missing]"#
        ]],
    );
    check_answers(c, "q_safe_to_talk=declined q_danger_now=declined q_wants_help=declined", expect!["ok"]);
    check_answers(
        c,
        &format!("{base} q_favourite_colour=blue"),
        expect![
            "q_favourite_colour: clinic-screening v1 has no such question; remove this answer [error.answer_unknown_question]"
        ],
    );
    check_answers(
        c,
        &format!("{base} q_safety_needs=[safe_place,teleport]"),
        expect![
            "q_safety_needs: every option chosen must be one of safe_place, police, medical, trusted_person, nothing_now [error.answer_does_not_fit]"
        ],
    );
    check_answers(
        c,
        &format!("{base} q_safety_needs=[police,police]"),
        expect!["q_safety_needs: an option is chosen twice; keep it once [error.answer_does_not_fit]"],
    );
    let a = "case-assessment";
    check_answers(
        a,
        "q_danger_now=no q_age=16.5",
        expect!["q_age: answer must be a whole number [error.answer_does_not_fit]"],
    );
    check_answers(
        a,
        "q_danger_now=no q_age=140",
        expect!["q_age: answer must be between 0 and 120 [error.answer_does_not_fit]"],
    );
    check_answers(a, "q_danger_now=no q_age=declined", expect!["ok"]);
    check_answers(
        a,
        "q_danger_now=no q_citizenship=[Saint-Lucia]",
        expect![[
            r#"q_citizenship: answer must be a list of ISO 3166-1 two-letter country codes in capitals (e.g. ["LC", "VE"]), or declined [error.answer_does_not_fit]"#
        ]],
    );
    check_answers(
        a,
        "q_danger_now=no q_recruitment_date=12/03/2024",
        expect![
            "q_recruitment_date: answer must be a date written YYYY-MM-DD, or declined [error.answer_does_not_fit]"
        ],
    );
    check_answers(a, "q_danger_now=no q_recruitment_date=2024-03-12", expect!["ok"]);
    check_answers(a, "q_danger_now=no q_notes=42", expect!["q_notes: answer must be text [error.answer_does_not_fit]"]);
}

#[test]
fn answer_errors_never_repeat_the_answer() {
    let library = FormLibrary::builtin();
    let form = library.latest("case-assessment").unwrap();
    let secret = "Maria-Secret-1987";
    for question in ["q_age", "q_citizenship", "q_recruitment_date", "q_exploitation_types", "q_danger_now"] {
        let answers = Answers::from([("q_danger_now".to_owned(), json!("no")), (question.to_owned(), json!(secret))]);
        let error = form.validate_answers(&answers).unwrap_err().to_string();
        assert!(!error.contains(secret), "{error}");
    }
}

fn clinic_json() -> Value {
    serde_json::from_str(include_str!("../../../../assets/forms/clinic-screening.v1.json")).unwrap()
}

/// Sets (or with `None` removes) the value at a JSON pointer in the clinic screening and
/// prints the load error.
fn check_bad(pointer: &str, value: Option<Value>, expect: Expect) {
    let mut form = clinic_json();
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let target = form.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent} in the form"));
    match (target, value) {
        (Value::Object(map), Some(value)) => drop(map.insert(last.to_owned(), value)),
        (Value::Object(map), None) => drop(map.remove(last)),
        (Value::Array(list), Some(value)) => list[last.parse::<usize>().unwrap()] = value,
        (Value::Array(list), None) => drop(list.remove(last.parse::<usize>().unwrap())),
        _ => panic!("{parent} is not an object or a list"),
    }
    let error = Form::from_json("test.json", &form.to_string()).unwrap_err();
    expect.assert_eq(&error.to_string());
}

#[test]
fn malformed_definitions_are_refused_with_the_path_of_the_fault() {
    check_bad(
        "/sections/0/questions/2/options/3/code",
        Some(json!("means_of_control.kindness")),
        expect![[
            r#"clinic-screening v1: sections[0].questions[2].options[3].code: `kindness` is not a means of control in the CTDC/HTCDS list; use one of debt_bondage, takes_earnings, restricts_financial_access, threats, psychological_abuse, physical_abuse, sexual_abuse, false_promises, psychoactive_substances, restricts_movement, restricts_medical_care, excessive_working_hours, uses_children, threat_of_law_enforcement, withholds_necessities, withholds_documents, other"#
        ]],
    );
    check_bad(
        "/sections/1/questions/0/code",
        Some(json!("feelings.sad")),
        expect![[
            "clinic-screening v1: sections[1].questions[0].code: `feelings` is not a code list; use one of exploitation_type, means_of_control, labour_sector, sexual_exploitation_type, recruiter_relation, recruitment_method, vulnerability"
        ]],
    );
    check_bad(
        "/sections/0/questions/1/colour",
        Some(json!("red")),
        expect![[
            "clinic-screening v1: sections[0].questions[1].colour: unknown field `colour`, expected one of `id`, `type`, `text`, `help`, `why`, `required`, `show_if`, `options`, `code`, `min`, `max`, `integer`, `multiple`, `stop`"
        ]],
    );
    check_bad(
        "/sections/1/questions/3/text/fr",
        None,
        expect![[
            r#"clinic-screening v1: sections[1].questions[3].text: the French (fr) translation is missing; add "fr": "…""#
        ]],
    );
    check_bad(
        "/title/de",
        Some(json!("Klinik")),
        expect![["clinic-screening v1: title: `de` is not a language Harbour ships; give the text in en, es and fr"]],
    );
    check_bad(
        "/sections/0/questions/2/options/1/label/es",
        Some(json!(" ")),
        expect![[
            "clinic-screening v1: sections[0].questions[2].options[1].label: the Spanish (es) text is empty; write the translation"
        ]],
    );
    check_bad(
        "/sections/1/questions/1/id",
        Some(json!("q_deceived")),
        expect![[
            "clinic-screening v1: sections[1].questions[1].id: question id `q_deceived` is used twice; every question needs its own id"
        ]],
    );
    check_bad(
        "/sections/1/questions/1/type",
        Some(json!("essay")),
        expect![[
            "clinic-screening v1: sections[1].questions[1].type: unknown variant `essay`, expected one of `yes_no_unsure_declined`, `single_choice`, `multiple_choice`, `short_text`, `long_text`, `date`, `number`, `country`"
        ]],
    );
    check_bad(
        "/sections/0/questions/2/show_if",
        Some(json!({"question": "q_danger_now", "is": ["maybe"]})),
        expect![[
            "clinic-screening v1: sections[0].questions[2].show_if.is[0]: `maybe` is not an answer to `q_danger_now`; it can be yes, no, unsure"
        ]],
    );
    check_bad(
        "/sections/0/questions/2/show_if",
        Some(json!({"question": "q_sexual", "is": "yes"})),
        expect![[
            "clinic-screening v1: sections[0].questions[2].show_if.question: `q_sexual` is not a question that comes before this one; show_if can only depend on earlier questions"
        ]],
    );
    check_bad(
        "/sections/0/questions/2/show_if",
        Some(json!({"question": "q_danger_now"})),
        expect![[
            r#"clinic-screening v1: sections[0].questions[2].show_if: this condition does not have one of the accepted shapes; write {"question": "q_id", "is": ["yes"]}, {"question": "q_id", "at_least": 1}, {"question": "q_id", "less_than": 18}, {"all": […]} or {"any": […]}"#
        ]],
    );
    check_bad(
        "/scoring/rules/0/when",
        Some(json!({"question": "q_nope", "is": "yes"})),
        expect![["clinic-screening v1: scoring.rules[0].when.question: `q_nope` is not a question in this form"]],
    );
    check_bad(
        "/scoring/rules/0/when",
        Some(json!({"question": "q_danger_now", "is": ["declined"]})),
        expect![[
            "clinic-screening v1: scoring.rules[0].when.is[0]: a scoring rule cannot match `declined`: not answering is never counted as an indicator"
        ]],
    );
    check_bad(
        "/scoring/rules/0/when",
        Some(json!({"question": "q_danger_now", "at_least": 3})),
        expect![[
            "clinic-screening v1: scoring.rules[0].when.question: `at_least` and `less_than` compare numbers; `q_danger_now` is yes_no_unsure_declined"
        ]],
    );
    check_bad(
        "/scoring/rules/0/reason",
        Some(json!("reason.made_up")),
        expect![[
            "clinic-screening v1: scoring.rules[0].reason: translation key `reason.made_up` is in neither assets/i18n/strings.json nor this form's `strings`; add it with en, es and fr"
        ]],
    );
    check_bad(
        "/scoring/rules/0/services/0",
        Some(json!("astrologer")),
        expect![[
            "clinic-screening v1: scoring.rules[0].services[0]: unknown variant `astrologer`, expected one of `shelter`, `medical`, `psychosocial`, `legal_aid`, `police`, `labour_inspection`, `immigration`, `consular`, `return_assistance`, `ngo`, `other`"
        ]],
    );
    check_bad(
        "/scoring/thresholds/refer_now",
        Some(json!(1)),
        expect![[
            "clinic-screening v1: scoring.thresholds: thresholds must satisfy 1 ≤ follow_up ≤ refer_now (a total of 0 always means no indicators)"
        ]],
    );
    check_bad(
        "/scoring/rules/1/id",
        Some(json!("danger_now")),
        expect!["clinic-screening v1: scoring.rules[1].id: rule id `danger_now` is used twice"],
    );
    check_bad(
        "/sections/0/questions/2/options/0/value",
        Some(json!("declined")),
        expect![[
            r#"clinic-screening v1: sections[0].questions[2].options[0].value: `declined` is the built-in "prefers not to answer" and is always offered; remove this option"#
        ]],
    );
    check_bad(
        "/sections/0/questions/0/code",
        Some(json!("citizenship")),
        expect![[
            "clinic-screening v1: sections[0].questions[0].code: a yes/no question codes a list value (`list.value`), not a country role"
        ]],
    );
    check_bad(
        "/sections/0/questions/0/min",
        Some(json!(3)),
        expect![[
            "clinic-screening v1: sections[0].questions[0]: `min`, `max` and `integer` belong on number questions only"
        ]],
    );
    check_bad(
        "/id",
        Some(json!("Clinic Screening")),
        expect![[
            "Clinic Screening v1: id: a form id is lowercase letters and digits joined by `-`, e.g. `clinic-screening`"
        ]],
    );
    check_bad(
        "/sections/0/questions/0/stop/when",
        Some(json!(["maybe"])),
        expect![[
            "clinic-screening v1: sections[0].questions[0].stop.when[0]: `maybe` is not an answer of this question; use one of: yes, no, unsure, declined"
        ]],
    );
    check_bad(
        "/sections/0/questions/0/stop/when",
        Some(json!([])),
        expect![
            "clinic-screening v1: sections[0].questions[0].stop.when: name at least one answer that stops the interview"
        ],
    );
    check_bad("/opening_script", None, expect!["clinic-screening v1: (top level): missing field `opening_script`"]);
    let error = Form::from_json("broken.json", "{\"id\": \"x\",").unwrap_err();
    expect!["broken.json: line 1, column 11: this is not valid JSON (EOF while parsing a value at line 1 column 11); check commas, quotes and brackets"]
        .assert_eq(&error.to_string());
}

/// "Is it safe to talk here?" answered "no" ends the clinic and consular interviews, with
/// advice in every language; no other answer of theirs does.
#[test]
fn an_unsafe_answer_stops_the_interview_as_data() {
    let library = FormLibrary::builtin();
    for id in ["clinic-screening", "consular-intake"] {
        let form = library.latest(id).unwrap();
        let questions: Vec<_> = form.sections.iter().flat_map(|section| &section.questions).collect();
        let safe = questions.iter().find(|question| question.id == "q_safe_to_talk").unwrap();
        let stop = safe.stops_at("no").unwrap_or_else(|| panic!("{id}: \"no\" stops"));
        for lang in [Lang::En, Lang::Es, Lang::Fr] {
            assert!(!stop.advice.get(lang).is_empty(), "{id}: advice in {lang:?}");
        }
        for answer in ["yes", "unsure", "declined"] {
            assert!(safe.stops_at(answer).is_none(), "{id}: {answer} does not stop");
        }
        assert_eq!(questions.iter().filter(|question| question.stop.is_some()).count(), 1, "{id}");
    }
}

#[test]
fn a_form_can_bring_its_own_reason_translations() {
    let mut form = clinic_json();
    form["scoring"]["rules"][0]["reason"] = json!("reason.new_indicator");
    form["strings"] = json!({"reason.new_indicator": {"en": "New", "es": "Nuevo", "fr": "Nouveau"}});
    let form = Form::from_json("new.json", &form.to_string()).unwrap();
    let result = form.score(&answers("q_safe_to_talk=yes q_danger_now=yes q_wants_help=yes"));
    assert_eq!(form.describe_result(&result, Lang::Es, Strings::builtin()).reasons, ["Nuevo"]);
}

#[test]
fn every_shipped_form_loads_and_matches_the_assets_folder() {
    let dir = FormLibrary::load_dir(&root().join("assets/forms")).unwrap_or_else(|error| panic!("{error}"));
    let builtin = FormLibrary::builtin();
    let ids = |library: &FormLibrary| library.all().map(Form::label).collect::<Vec<_>>();
    assert_eq!(ids(&dir), ids(&builtin), "a file in assets/forms is missing from BUILTIN_FORMS, or the reverse");
    expect!["case-assessment v1, clinic-screening v1, consular-intake v1"].assert_eq(&ids(&builtin).join(", "));
    for form in builtin.all() {
        assert_eq!(Some(form), dir.get(&form.id, form.version));
    }
}

#[test]
fn every_text_is_in_three_languages_and_every_code_is_a_standard_value() {
    let strings = Strings::builtin();
    for form in FormLibrary::builtin().all() {
        let texts_in = |lang: Lang| {
            let mut texts = vec![form.title.get(lang), form.description.get(lang), form.opening_script.get(lang)];
            for section in &form.sections {
                texts.push(section.title.get(lang));
                for question in &section.questions {
                    texts.push(question.text.get(lang));
                    texts.push(question.why.get(lang));
                    texts.extend(question.help.as_ref().map(|help| help.get(lang)));
                    texts.extend(question.options.iter().map(|option| option.label.get(lang)));
                }
            }
            texts.extend(form.scoring.rules.iter().map(|rule| form.string(strings, &rule.reason, lang)));
            texts
        };
        let english = texts_in(Lang::En);
        for lang in Lang::ALL {
            let texts = texts_in(lang);
            assert!(texts.iter().all(|text| !text.trim().is_empty()), "{} has an empty {lang:?} text", form.label());
            if lang != Lang::En {
                // A long sentence identical to the English one was not translated.
                let copied: Vec<&&str> =
                    texts.iter().zip(&english).filter(|(t, en)| t == en && t.len() > 30).map(|(t, _)| t).collect();
                assert!(copied.is_empty(), "{} {lang:?} copies English: {copied:?}", form.label());
            }
        }
        for question in form.questions() {
            let codes = question.code.into_iter().chain(question.options.iter().filter_map(|option| option.code));
            for code in codes {
                let written: String = code.into();
                assert_eq!(Code::try_from(written.clone()), Ok(code), "{written}");
                assert!(!code.standard_code().is_empty());
                if question.kind == QuestionType::Country {
                    assert!(code.is_country_role());
                }
            }
        }
        // Every choice question of the assessment codes every option.
        if form.id == "case-assessment" {
            for question in form.questions().filter(|q| q.kind.is_choice() && q.id != "q_needs") {
                assert!(
                    question.options.iter().all(|option| option.code.is_some()),
                    "{} has an uncoded option",
                    question.id
                );
            }
        }
    }
}

#[test]
fn v1_answers_still_validate_display_and_score_after_v2() {
    // v2 drops q_pay_withheld, adds q_hours and makes deception a strong indicator.
    let mut v2 = clinic_json();
    v2["version"] = json!(2);
    let work = v2.pointer_mut("/sections/1/questions").unwrap().as_array_mut().unwrap();
    work.retain(|question| question["id"] != "q_pay_withheld");
    let mut hours = work[0].clone();
    hours["id"] = json!("q_hours");
    hours.as_object_mut().unwrap().remove("code");
    work.push(hours);
    let rules = v2.pointer_mut("/scoring/rules").unwrap().as_array_mut().unwrap();
    rules.retain(|rule| rule["id"] != "wages_withheld");
    for rule in rules.iter_mut().filter(|rule| rule["id"] == "deception") {
        rule["weight"] = json!(3);
    }

    let mut library = FormLibrary::builtin();
    library.insert_json("clinic-screening.v2.json", &v2.to_string()).unwrap();
    assert_eq!(library.latest("clinic-screening").unwrap().version, 2);
    assert!(library.insert_json("again.json", &v2.to_string()).is_err(), "a version is never replaced");

    let filled_on_v1 = answers("q_safe_to_talk=yes q_danger_now=no q_deceived=yes q_pay_withheld=yes q_wants_help=yes");
    let v1 = library.get("clinic-screening", 1).unwrap();
    v1.validate_answers(&filled_on_v1).unwrap();
    expect!["follow_up 4 | deception(q_deceived) wages_withheld(q_pay_withheld) | declined:  | labour_inspection,legal_aid,ngo"]
        .assert_eq(&summary(v1, &filled_on_v1));
    let shown = v1.display_answers(&filled_on_v1, Lang::Es, Strings::builtin());
    let shown: Vec<String> = shown.iter().map(|line| format!("{} → {}", line.question_id, line.answer)).collect();
    expect!["q_safe_to_talk → Sí; q_danger_now → No; q_deceived → Sí; q_pay_withheld → Sí; q_wants_help → Sí"]
        .assert_eq(&shown.join("; "));

    // The same answers do not fit v2: that is why a screening keeps its version.
    let latest = library.latest("clinic-screening").unwrap();
    expect!["q_pay_withheld: clinic-screening v2 has no such question; remove this answer"]
        .assert_eq(&latest.validate_answers(&filled_on_v1).unwrap_err().to_string());
}

#[test]
fn results_read_in_the_worker_language() {
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").unwrap();
    let answers = answers(
        "q_safe_to_talk=yes q_danger_now=yes q_safety_needs=[safe_place] q_documents=declined q_wants_help=yes",
    );
    let result = form.score(&answers);
    let text = form.describe_result(&result, Lang::Fr, Strings::builtin());
    expect![[r#"
        ResultText {
            level: "Danger immédiat",
            next_step: "Agissez tout de suite pour sa sécurité : gardez la personne dans un endroit privé, suivez votre procédure de sécurité et contactez la police ou un refuge si la personne est d'accord.",
            reasons: [
                "La personne craint d'être blessée, ou qu'un proche le soit, si elle part aujourd'hui.",
                "A demandé un endroit sûr où loger.",
            ],
            declined: [
                "Quelqu'un d'autre garde-t-il votre passeport ou vos papiers d'identité et refuse-t-il de vous les rendre quand vous les demandez ?",
            ],
            services: [
                "Police",
                "Hébergement d'urgence",
                "Soins médicaux",
                "Soutien de l'OIM ou d'une ONG",
                "Soutien psychosocial",
            ],
        }
    "#]]
    .assert_debug_eq(&text);
    assert_eq!(result.level, Level::ImmediateDanger);
    let line = form.display_answers(&answers, Lang::Es, Strings::builtin());
    assert_eq!(line.iter().find(|l| l.question_id == "q_documents").unwrap().answer, "Prefiere no responder");
}

// ---- Translation table -------------------------------------------------------------------

/// Where translation keys are used. A key in `assets/i18n/strings.json` must appear as a
/// quoted literal in one of these files (or folders, searched recursively), or belong to a
/// family built from a coded list (see `generated_keys`). `ui` is the desktop interface, whose
/// JavaScript writes every key out in full, as `t("ui.unlock.title")`.
const SCANNED: &[&str] = &[
    "crates/core/src/forms",
    "crates/core/src/directory.rs",
    "crates/core/src/matching.rs",
    "assets/forms",
    "assets/directory",
    "ui",
];

/// Namespaces of the desktop interface's own keys: a key of these used in `ui/` must be in the
/// table even before any key of its namespace is.
const UI_NAMESPACES: &[&str] = &["ui", "code", "error"];

/// The value lists the interface shows in the worker's language as `code.<list>.<value>`
/// (`ui/js/codes.js`); every value needs a translation. `ReferralStatus` and `ConsentMethod`
/// have no `ALL`, so their values are written out and checked to parse.
fn ui_code_keys() -> Vec<String> {
    use harbour_core::model::{
        CaseStatus, ConsentMethod, ConsentScope, ExploitationType, MeansOfControl, ReferralReason, ReferralStatus,
        RiskLevel, Sex, Urgency,
    };
    fn family(list: &str, values: impl IntoIterator<Item = &'static str>) -> impl Iterator<Item = String> {
        let list = list.to_owned();
        values.into_iter().map(move |value| format!("code.{list}.{value}"))
    }
    let referral_status = ["sent", "accepted", "declined", "completed"];
    assert!(referral_status.iter().all(|value| ReferralStatus::parse(value).is_ok_and(|s| s.as_str() == *value)));
    let consent_method = ["verbal", "written"];
    assert!(consent_method.iter().all(|value| ConsentMethod::parse(value).is_ok()));
    let mut keys = Vec::new();
    keys.extend(family("sex", Sex::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("case_status", CaseStatus::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("risk_level", RiskLevel::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("urgency", Urgency::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("referral_reason", ReferralReason::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("exploitation_type", ExploitationType::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("means_of_control", MeansOfControl::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("consent_scope", ConsentScope::ALL.iter().map(|v| v.as_str())));
    keys.extend(family("referral_status", referral_status));
    keys.extend(family("consent_method", consent_method));
    // The task force's facts on the case page (`ui/js/screens/case-desk.js`).
    {
        use harbour_core::model::{
            IdentificationStatus, JusticeStage, OrganisationType, PerpetratorRole, ProcessStage, RecruiterRelation,
            RecruitmentMethod,
        };
        keys.extend(family("identification_status", IdentificationStatus::ALL.iter().map(|v| v.as_str())));
        keys.extend(family("organisation_type", OrganisationType::ALL.iter().map(|v| v.as_str())));
        keys.extend(family("recruiter_relation", RecruiterRelation::ALL.iter().map(|v| v.as_str())));
        keys.extend(family("recruitment_method", RecruitmentMethod::ALL.iter().map(|v| v.as_str())));
        keys.extend(family("process_stage", ProcessStage::ALL.iter().map(|v| v.as_str())));
        keys.extend(family("justice_stage", JusticeStage::ALL.iter().map(|v| v.as_str())));
        keys.extend(family("perpetrator_role", PerpetratorRole::ALL.iter().map(|v| v.as_str())));
    }
    keys
}

/// Keys built in code with `format!`, from the coded lists they name.
fn generated_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for level in Level::ALL {
        keys.push(level.translation_key());
        keys.push(level.next_step_key());
    }
    keys.extend(ServiceType::ALL.iter().map(|service| harbour_core::forms::service_type_key(*service)));
    keys.extend(harbour_core::directory::Accepts::ALL.iter().map(|accepts| accepts.translation_key()));
    keys.extend(ui_code_keys());
    // Every refusal of a typed value core can give reaches the desktop as a fault code that
    // it says in the worker's language.
    keys.extend(harbour_core::model::Fault::CODES.iter().map(|code| format!("error.fault.{code}")));
    keys
}

fn scanned_files() -> Vec<(PathBuf, String)> {
    fn walk(path: &Path, out: &mut Vec<(PathBuf, String)>) {
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            entries.iter().for_each(|entry| walk(entry, out));
        } else if path.extension().is_some_and(|ext| ["rs", "json", "js", "html"].iter().any(|e| ext == *e)) {
            out.push((path.to_owned(), std::fs::read_to_string(path).unwrap()));
        }
    }
    let mut out = Vec::new();
    for scanned in SCANNED {
        walk(&root().join(scanned), &mut out);
    }
    out
}

/// Quoted literals that look like translation keys (`namespace.word…`). In JavaScript, string
/// literals in either quote are read with comments and template literals skipped (an apostrophe
/// in a comment must not shift the quotes); elsewhere, every other `"`-separated piece.
fn quoted_keys(path: &Path, text: &str, namespaces: &[&str]) -> Vec<String> {
    let literals = if path.extension().is_some_and(|ext| ext == "js") {
        js_string_literals(text)
    } else {
        text.split('"').skip(1).step_by(2).map(str::to_owned).collect()
    };
    literals
        .into_iter()
        .filter(|literal| {
            literal.split_once('.').is_some_and(|(namespace, rest)| {
                namespaces.contains(&namespace)
                    && !rest.is_empty()
                    && literal.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
            })
        })
        .collect()
}

/// The contents of the `'…'` and `"…"` string literals of a JavaScript source, including those
/// inside the `${…}` of template literals, outside comments. Enough for the interface's plain ES
/// modules (no regex literal there holds a quote).
fn js_string_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    js_code(&mut text.chars().peekable(), &mut out, false);
    out
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Reads code up to the end, or up to the `}` closing a template's `${` when `in_template`.
fn js_code(chars: &mut Chars<'_>, out: &mut Vec<String>, in_template: bool) {
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '\'' | '"' => {
                let mut literal = String::new();
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        _ if inner == c => break,
                        _ => literal.push(inner),
                    }
                }
                out.push(literal);
            }
            '`' => js_template(chars, out),
            '{' => depth += 1,
            '}' if in_template && depth == 0 => return,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

/// Reads a template literal after its opening backtick; its text is not a key, its `${…}` is code.
fn js_template(chars: &mut Chars<'_>, out: &mut Vec<String>) {
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '`' => return,
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                js_code(chars, out, true);
            }
            _ => {}
        }
    }
}

#[test]
fn translation_table_has_every_language_and_no_unused_or_missing_key() {
    let json = std::fs::read_to_string(root().join("assets/i18n/strings.json")).unwrap();
    let strings = Strings::from_json(&json).unwrap_or_else(|error| panic!("{error}"));
    let raw: serde_json::Map<String, Value> = serde_json::from_str(&json).unwrap();
    for (key, text) in &raw {
        let languages: Vec<&String> = text.as_object().unwrap().keys().collect();
        assert_eq!(languages, ["en", "es", "fr"], "{key}");
    }

    let namespaces: Vec<&str> = {
        let mut all: Vec<&str> = strings.keys().filter_map(|key| key.split_once('.')).map(|(ns, _)| ns).collect();
        all.extend(UI_NAMESPACES);
        all.sort_unstable();
        all.dedup();
        all
    };
    let files = scanned_files();
    assert!(
        files.iter().any(|(path, _)| path.ends_with("ui/js/main.js")),
        "the desktop interface (ui/js) was not scanned for translation keys"
    );
    let mut used: Vec<String> = generated_keys();
    for (path, text) in &files {
        for key in quoted_keys(path, text, &namespaces) {
            assert!(strings.contains(&key), "{} uses `{key}`, which is not in strings.json", path.display());
            used.push(key);
        }
    }
    for key in generated_keys() {
        assert!(strings.contains(&key), "`{key}` is built in code but missing from strings.json");
    }
    let unused: Vec<&str> = strings.keys().filter(|key| !used.iter().any(|u| u == key)).collect();
    assert!(unused.is_empty(), "keys in strings.json used nowhere in {SCANNED:?}: {unused:?}");
}

// ---- Service directory -------------------------------------------------------------------

fn check_directory(json: &str, expect: Expect) {
    let outcome = match Directory::from_json(json) {
        Ok(directory) => format!("ok: {} services", directory.services.len()),
        Err(error) => error.to_string(),
    };
    expect.assert_eq(&outcome);
}

#[test]
fn directory_template_loads_and_bad_directories_are_refused() {
    let template = Directory::saint_lucia_template();
    assert!(template.services.len() >= 9);
    let path = root().join("assets/directory/saint-lucia.json");
    assert_eq!(&Directory::load(&path).unwrap(), template);
    for service in &template.services {
        assert!(service.phone.is_none(), "the template never invents a phone number: {}", service.id);
    }
    for kind in ServiceType::ALL.iter().filter(|kind| **kind != ServiceType::Other) {
        assert!(template.services.iter().any(|s| s.types.contains(kind)), "no template service of type {kind}");
    }

    let service = r#"{"id": "s1", "name": "Shelter", "types": ["shelter"], "languages": ["en"], "hours": "24/7", "contact": "To be filled in"}"#;
    check_directory(
        &format!(r#"{{"deployment": "lc", "version": 1, "services": [{service}]}}"#),
        expect!["ok: 1 services"],
    );
    check_directory(
        &format!(r#"{{"deployment": "lc", "version": 1, "services": [{service}, {service}]}}"#),
        expect![["service directory: services[1].id: service id `s1` is used twice; give each service its own id"]],
    );
    check_directory(
        r#"{"deployment": "lc", "version": 1, "services": [{"id": "s1", "name": "Shelter", "types": [], "languages": ["en"], "hours": "24/7", "contact": "x"}]}"#,
        expect!["service directory: services[0].types: a service needs at least one type"],
    );
    check_directory(
        r#"{"deployment": "lc", "version": 1, "services": [{"id": "s1", "name": "Shelter", "types": ["spa"], "languages": ["en"], "hours": "24/7", "contact": "x"}]}"#,
        expect![[
            "service directory: services[0].types[0]: unknown variant `spa`, expected one of `shelter`, `medical`, `psychosocial`, `legal_aid`, `police`, `labour_inspection`, `immigration`, `consular`, `return_assistance`, `ngo`, `other`"
        ]],
    );
    check_directory(
        r#"{"deployment": "lc", "version": 1, "services": [{"id": "s1", "name": "Shelter", "types": ["shelter"], "languages": ["English"], "hours": "24/7", "contact": "x"}]}"#,
        expect![[
            "service directory: services[0].languages[0]: `English` is not a language code; use ISO 639 codes such as en, es, fr or acf (Kwéyòl)"
        ]],
    );
    check_directory(
        r#"{"deployment": "lc", "version": 1, "services": [{"id": "s1", "name": "Shelter", "types": ["shelter"], "languages": ["en"], "hours": "24/7", "contact": "x", "phone": "758 555"}]}"#,
        expect![[
            "service directory: services[0].phone: a phone number is written in E.164 form: + then country code and number, up to 15 digits (e.g. +1758…)"
        ]],
    );
    check_directory(
        r#"{"deployment": "lc", "version": 1, "services": [], "extra": 1}"#,
        expect![[
            "service directory: extra: unknown field `extra`, expected one of `$schema`, `deployment`, `version`, `services`"
        ]],
    );
}

#[test]
fn directory_round_trips_and_suggests_services_for_a_result() {
    let template = Directory::saint_lucia_template();
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("directory.json");
    template.export(&exported).unwrap();
    assert_eq!(&Directory::import(&exported).unwrap(), template);

    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").unwrap();
    let result = form.score(&answers("q_safe_to_talk=yes q_danger_now=yes q_wants_help=yes"));
    let suggested: Vec<&str> = template.suggest(&result).iter().map(|service| service.id.as_str()).collect();
    expect!["police-emergency, police-trafficking-unit, shelter-women, shelter-emergency, hospital-emergency, health-centre, iom, ngo-support, counselling"]
        .assert_eq(&suggested.join(", "));
    let calm = form.score(&answers("q_safe_to_talk=yes q_danger_now=no q_wants_help=no"));
    assert!(template.suggest(&calm).is_empty());
}

#[test]
fn terminal_reports_read_well() {
    let strings = Strings::builtin();
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").unwrap();
    let result = form.score(&answers(
        "q_safe_to_talk=yes q_danger_now=no q_documents=yes q_debt=yes q_threats=declined q_wants_help=yes",
    ));
    expect![[r#"
        Result: Refer now
        There are signs of trafficking. With the person's consent, refer them today to the services suggested.

        Why this result:
          - Someone else keeps the person's identity documents.
          - A debt ties the person to the work.

        The person preferred not to answer:
          - Has anyone threatened you or your family, or threatened to report you to the police or immigration?

        Suggested services:
          - Legal aid
          - Police
          - Labour inspection
          - IOM or NGO support
          - Psychosocial support

        Coded summary (CTDC/HTCDS):
          - meansOfControlDebtBondage
          - meansOfControlWithholdsDocuments
    "#]]
    .assert_eq(&form.result_report(&result, Lang::En, strings));
    let question = form.question("q_documents").unwrap();
    expect![[r#"
        ¿Otra persona guarda su pasaporte o sus documentos de identidad y se niega a devolvérselos cuando los pide?
          Sí · No · No está seguro/a · Prefiere no responder
          Por qué preguntamos: Quedarse con los documentos de alguien le impide irse o pedir ayuda; es un indicador fuerte."#]].assert_eq(&form.question_text(question, Lang::Es, strings));
    let template = Directory::saint_lucia_template();
    let one = Directory { services: template.services[..1].to_vec(), ..template.clone() };
    expect![[r#"
        Répertoire des services (saint-lucia v1)

        Police emergency response [police-emergency]
          Services proposés : Police
          Langues : en, acf
          Horaires : To be filled in by the administrator
          Contact : To be filled in by the administrator
          Public accueilli : Urgences à toute heure, Sans rendez-vous, Personnes étrangères
    "#]]
    .assert_eq(&one.report(Lang::Fr, strings));
}
