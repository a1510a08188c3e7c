//! The checks that need the whole form: ids, references between questions, the values named
//! by conditions and rules, codes in the right place, translation keys that exist. Each fault
//! comes back as (path, what to do).

use std::collections::{HashMap, HashSet};

use super::DECLINED;
use super::definition::{Condition, Form, Level, Question, QuestionType};
use super::i18n::Strings;

type Fault = (String, String);

/// Answers to a yes/no question, besides "declined".
pub(crate) const YES_NO: [&str; 3] = ["yes", "no", "unsure"];

pub(crate) fn check(form: &Form, strings: &Strings) -> Result<(), Fault> {
    if !is_slug(&form.id, '-') {
        return fault("id", "a form id is lowercase letters and digits joined by `-`, e.g. `clinic-screening`");
    }
    if form.version == 0 {
        return fault("version", "versions start at 1");
    }
    if form.sections.is_empty() {
        return fault("sections", "a form needs at least one section");
    }

    // Question id → (position in the form, question), to check references.
    let mut index: HashMap<&str, (usize, &Question)> = HashMap::new();
    let mut section_ids = HashSet::new();
    let mut position = 0;
    for (s, section) in form.sections.iter().enumerate() {
        let at = format!("sections[{s}]");
        if !is_slug(&section.id, '_') {
            return fault(format!("{at}.id"), "a section id is lowercase letters, digits and `_`");
        }
        if !section_ids.insert(section.id.as_str()) {
            return fault(
                format!("{at}.id"),
                format!("section id `{}` is used twice; give each section its own", section.id),
            );
        }
        if section.questions.is_empty() {
            return fault(format!("{at}.questions"), "a section needs at least one question");
        }
        for (q, question) in section.questions.iter().enumerate() {
            let at = format!("{at}.questions[{q}]");
            check_question(question, &at)?;
            if let Some(condition) = &question.show_if {
                check_condition(condition, &index, &format!("{at}.show_if"), true)?;
            }
            if index.insert(&question.id, (position, question)).is_some() {
                return fault(
                    format!("{at}.id"),
                    format!("question id `{}` is used twice; every question needs its own id", question.id),
                );
            }
            position += 1;
        }
    }

    let scoring = &form.scoring;
    let thresholds = scoring.thresholds;
    if thresholds.follow_up == 0 || thresholds.refer_now < thresholds.follow_up {
        return fault(
            "scoring.thresholds",
            "thresholds must satisfy 1 ≤ follow_up ≤ refer_now (a total of 0 always means no indicators)",
        );
    }
    if scoring.rules.is_empty() {
        return fault("scoring.rules", "a form needs at least one scoring rule");
    }
    let mut rule_ids = HashSet::new();
    for (r, rule) in scoring.rules.iter().enumerate() {
        let at = format!("scoring.rules[{r}]");
        if !is_slug(&rule.id, '_') {
            return fault(format!("{at}.id"), "a rule id is lowercase letters, digits and `_`");
        }
        if !rule_ids.insert(rule.id.as_str()) {
            return fault(format!("{at}.id"), format!("rule id `{}` is used twice", rule.id));
        }
        check_condition(&rule.when, &index, &format!("{at}.when"), false)?;
        if rule.weight == 0
            && rule.at_least.is_none_or(|level| level == Level::NoIndicators)
            && rule.services.is_empty()
        {
            return fault(at, "this rule changes nothing; give it a `weight`, an `at_least` level or `services`");
        }
        if !form.strings.contains_key(&rule.reason) && !strings.contains(&rule.reason) {
            return fault(
                format!("{at}.reason"),
                format!(
                    "translation key `{}` is in neither assets/i18n/strings.json nor this form's `strings`; add it with en, es and fr",
                    rule.reason
                ),
            );
        }
    }
    Ok(())
}

/// A stop names answers the question can have: yes/no/unsure for a yes/no question, option
/// values for a single choice (a stop makes no sense on free text or several choices).
fn check_stop(question: &Question, stop: &super::definition::Stop, at: &str) -> Result<(), Fault> {
    let allowed: Vec<&str> = match question.kind {
        QuestionType::YesNoUnsureDeclined => vec!["yes", "no", "unsure", DECLINED],
        QuestionType::SingleChoice => {
            question.options.iter().map(|option| option.value.as_str()).chain([DECLINED]).collect()
        }
        other => {
            return fault(
                format!("{at}.stop"),
                format!(
                    "a {} question cannot stop the interview; put `stop` on a yes/no or single-choice question",
                    other.as_str()
                ),
            );
        }
    };
    if stop.when.is_empty() {
        return fault(format!("{at}.stop.when"), "name at least one answer that stops the interview");
    }
    for (w, value) in stop.when.iter().enumerate() {
        if !allowed.contains(&value.as_str()) {
            return fault(
                format!("{at}.stop.when[{w}]"),
                format!("`{value}` is not an answer of this question; use one of: {}", allowed.join(", ")),
            );
        }
    }
    Ok(())
}

fn check_question(question: &Question, at: &str) -> Result<(), Fault> {
    if !is_slug(&question.id, '_') || !question.id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return fault(
            format!("{at}.id"),
            "a question id starts with a letter and has lowercase letters, digits and `_`, e.g. `q_documents`",
        );
    }
    let kind = question.kind;
    if kind.is_choice() {
        if question.options.len() < 2 {
            return fault(format!("{at}.options"), "a choice question needs at least two options");
        }
        let mut values = HashSet::new();
        for (o, option) in question.options.iter().enumerate() {
            let at = format!("{at}.options[{o}]");
            if !is_slug(&option.value, '_') {
                return fault(format!("{at}.value"), "an option value is lowercase letters, digits and `_`");
            }
            if option.value == DECLINED {
                return fault(
                    format!("{at}.value"),
                    "`declined` is the built-in \"prefers not to answer\" and is always offered; remove this option",
                );
            }
            if !values.insert(option.value.as_str()) {
                return fault(
                    format!("{at}.value"),
                    format!("option value `{}` is used twice in this question", option.value),
                );
            }
            if option.code.is_some_and(|code| code.is_country_role()) {
                return fault(
                    format!("{at}.code"),
                    "`citizenship` and `country_of_exploitation` belong on a country question",
                );
            }
        }
    } else if !question.options.is_empty() {
        return fault(
            format!("{at}.options"),
            format!("a {} question has no options; remove `options`", kind.as_str()),
        );
    }

    match (kind, question.code) {
        (_, None) => {}
        (QuestionType::YesNoUnsureDeclined, Some(code)) if !code.is_country_role() => {}
        (QuestionType::Country, Some(code)) if code.is_country_role() => {}
        (QuestionType::YesNoUnsureDeclined, Some(_)) => {
            return fault(
                format!("{at}.code"),
                "a yes/no question codes a list value (`list.value`), not a country role",
            );
        }
        (QuestionType::Country, Some(_)) => {
            return fault(
                format!("{at}.code"),
                "a country question's code is `citizenship` or `country_of_exploitation`",
            );
        }
        (_, Some(_)) => {
            return fault(
                format!("{at}.code"),
                format!("a {} question cannot carry a code; put codes on options or yes/no questions", kind.as_str()),
            );
        }
    }

    if let Some(stop) = &question.stop {
        check_stop(question, stop, at)?;
    }

    if kind != QuestionType::Number && (question.min.is_some() || question.max.is_some() || question.integer) {
        return fault(at.to_owned(), "`min`, `max` and `integer` belong on number questions only");
    }
    // No let-chain: the workspace promises Rust 1.85.
    if matches!((question.min, question.max), (Some(min), Some(max)) if min > max) {
        return fault(format!("{at}.min"), "`min` is greater than `max`");
    }
    if kind != QuestionType::Country && question.multiple {
        return fault(
            format!("{at}.multiple"),
            "`multiple` belongs on country questions only; use multiple_choice for options",
        );
    }
    Ok(())
}

/// Checks that a condition names known questions and answers they can have. `show_if`
/// conditions (`allow_declined`) may only look at earlier questions, which `index` holds at
/// that point; scoring rules see the whole form and may not match "declined".
fn check_condition(
    condition: &Condition,
    index: &HashMap<&str, (usize, &Question)>,
    at: &str,
    allow_declined: bool,
) -> Result<(), Fault> {
    let find = |question: &str| -> Result<&Question, Fault> {
        match index.get(question) {
            Some((_, found)) => Ok(found),
            None if allow_declined => fault(
                format!("{at}.question"),
                format!(
                    "`{question}` is not a question that comes before this one; show_if can only depend on earlier questions"
                ),
            ),
            None => fault(format!("{at}.question"), format!("`{question}` is not a question in this form")),
        }
    };
    match condition {
        Condition::Is { question, values } => {
            let target = find(question)?;
            let allowed: Vec<&str> = match target.kind {
                QuestionType::YesNoUnsureDeclined => YES_NO.to_vec(),
                QuestionType::SingleChoice | QuestionType::MultipleChoice => {
                    target.options.iter().map(|option| option.value.as_str()).collect()
                }
                other => {
                    return fault(
                        format!("{at}.is"),
                        format!("`is` works on yes/no and choice questions; `{question}` is {}", other.as_str()),
                    );
                }
            };
            for (v, value) in values.iter().enumerate() {
                if value == DECLINED {
                    if allow_declined {
                        continue;
                    }
                    return fault(
                        format!("{at}.is[{v}]"),
                        "a scoring rule cannot match `declined`: not answering is never counted as an indicator",
                    );
                }
                if !allowed.contains(&value.as_str()) {
                    return fault(
                        format!("{at}.is[{v}]"),
                        format!("`{value}` is not an answer to `{question}`; it can be {}", allowed.join(", ")),
                    );
                }
            }
        }
        Condition::AtLeast { question, .. } | Condition::LessThan { question, .. } => {
            let target = find(question)?;
            if target.kind != QuestionType::Number {
                return fault(
                    format!("{at}.question"),
                    format!("`at_least` and `less_than` compare numbers; `{question}` is {}", target.kind.as_str()),
                );
            }
        }
        Condition::All(conditions) | Condition::Any(conditions) => {
            let word = if matches!(condition, Condition::All(_)) { "all" } else { "any" };
            for (c, inner) in conditions.iter().enumerate() {
                check_condition(inner, index, &format!("{at}.{word}[{c}]"), allow_declined)?;
            }
        }
    }
    Ok(())
}

fn fault<T>(at: impl Into<String>, message: impl Into<String>) -> Result<T, Fault> {
    Err((at.into(), message.into()))
}

/// Lowercase ASCII letters and digits, words joined by `joiner`.
fn is_slug(text: &str, joiner: char) -> bool {
    !text.is_empty()
        && text
            .split(joiner)
            .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}
