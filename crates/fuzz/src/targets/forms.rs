//! Form definitions (a deployment's own forms, loaded from a folder), the translation table,
//! and answers files (`harbour screen --answers FILE`).

use harbour_core::forms::{Answers, BUILTIN_FORMS, Form, FormLibrary, Lang, Strings};
use serde_json::Value;

use crate::{seed, split_mode, text};

const STRINGS: &str = include_str!("../../../../assets/i18n/strings.json");

/// Mode 0: a form definition. Mode 1: a translation table.
pub(crate) fn form_definition(data: &[u8]) -> bool {
    let (mode, rest) = split_mode(data, 2);
    let json = text(rest);
    match mode {
        0 => {
            let Ok(form) = Form::from_json("fuzz.v1.json", &json) else { return false };
            use_form(&form, &Answers::new());
            // What loads also loads into a library, which checks it against the others.
            let _ = FormLibrary::builtin().insert(form);
            true
        }
        _ => {
            let Ok(strings) = Strings::from_json(&json) else { return false };
            for key in strings.keys().take(50) {
                for lang in Lang::ALL {
                    let _ = strings.text(key, lang);
                }
            }
            true
        }
    }
}

pub(crate) fn form_definition_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = BUILTIN_FORMS.iter().map(|(_, json)| seed(0, json)).collect();
    seeds.push(seed(1, STRINGS));
    seeds
}

/// Everything the app and the CLI do with a loaded form and a set of answers.
fn use_form(form: &Form, answers: &Answers) {
    let strings = Strings::builtin();
    let _ = form.validate_answers(answers);
    let _ = form.visible_questions(answers);
    let result = form.score(answers);
    for lang in Lang::ALL {
        let _ = form.display_answers(answers, lang, strings);
        let _ = form.result_report(&result, lang, strings);
        let _ = form.opening_text(lang, strings);
    }
}

/// Mode 0: an answers file, as the CLI reads it, against every shipped form. Mode 1: answers
/// built from the bytes for one shipped form's own questions (each byte picks an answer among
/// the question's options and values that break them), so scoring and `show_if` are reached.
pub(crate) fn answers(data: &[u8]) -> bool {
    let (mode, rest) = split_mode(data, 2);
    let library = FormLibrary::shipped();
    match mode {
        0 => {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text(rest)) else { return false };
            let answers: Answers = map.into_iter().collect();
            for form in library.latest_forms() {
                use_form(form, &answers);
            }
            true
        }
        _ => {
            let forms = library.latest_forms();
            let Some((pick, choices)) = rest.split_first() else { return false };
            let form = forms[*pick as usize % forms.len()];
            let mut answers = Answers::new();
            for (question, &choice) in form.questions().zip(choices) {
                let value = match choice % 12 {
                    0 => continue,
                    1..=4 => match question.options.get(choice as usize / 12 % question.options.len().max(1)) {
                        Some(option) => Value::from(option.value.clone()),
                        None => Value::from("yes"),
                    },
                    5 => Value::from("declined"),
                    6 => Value::from(question.options.iter().map(|o| Value::from(o.value.clone())).collect::<Vec<_>>()),
                    7 => Value::from(i64::from(choice) - 100),
                    8 => Value::from("2024-02-30"),
                    9 => Value::from("LC"),
                    10 => Value::from(f64::from(choice) * 1e300),
                    _ => Value::Null,
                };
                answers.insert(question.id.clone(), value);
            }
            use_form(form, &answers);
            true
        }
    }
}

pub(crate) fn answers_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        seed(0, r#"{"q_documents": "yes"}"#),
        seed(0, r#"{"q_documents": "declined", "q_age": 17, "q_country": "LC"}"#),
    ];
    for form in 0..3u8 {
        seeds.push(seed(1, [&[form][..], &[1; 64]].concat()));
        seeds.push(seed(1, [&[form][..], &(0..64u32).map(|i| (i * 7 + 1) as u8).collect::<Vec<u8>>()[..]].concat()));
    }
    seeds
}
