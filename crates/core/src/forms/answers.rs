//! Answers against their form: what each question accepts, which questions are shown, which
//! answers count. Messages name the question and never repeat the answer.

use serde_json::Value;

use super::countries::is_country_code;
use super::definition::{Condition, Form, Question, QuestionType};
use super::validate::YES_NO;
use super::{AnswerProblem, Answers, DECLINED, FormError};

impl Form {
    /// Checks every answer against its question, and that every required question that is
    /// shown has an answer ("declined" is one). Answers to questions hidden by `show_if` are
    /// allowed (the worker may have changed an earlier answer) but must still fit their
    /// question; they are ignored by [`Form::score`].
    pub fn validate_answers(&self, answers: &Answers) -> Result<(), FormError> {
        if let Some(unknown) = answers.keys().find(|id| self.question(id).is_none()) {
            return Err(FormError::Answer {
                problem: AnswerProblem::UnknownQuestion,
                question: unknown.clone(),
                message: format!("{} has no such question; remove this answer", self.label()),
            });
        }
        for question in self.questions() {
            if let Some(value) = answers.get(&question.id) {
                check_answer(question, value).map_err(|message| FormError::Answer {
                    problem: AnswerProblem::DoesNotFit,
                    question: question.id.clone(),
                    message,
                })?;
            }
        }
        let shown = self.shown_answers(answers);
        for question in self.visible_questions(answers) {
            if question.required && !shown.contains_key(&question.id) {
                return Err(FormError::Answer {
                    problem: AnswerProblem::Missing,
                    question: question.id.clone(),
                    message: "this question needs an answer; \"prefers not to answer\" (declined) is one".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The questions shown for these answers, in order: a question whose `show_if` does not
    /// hold, or depends on a hidden question, is left out.
    pub fn visible_questions(&self, answers: &Answers) -> Vec<&Question> {
        let shown = self.shown_answers(answers);
        self.questions()
            .filter(|question| question.show_if.as_ref().is_none_or(|condition| condition.holds(&shown)))
            .collect()
    }

    /// The answers that count: those of shown questions, in form order. A `show_if` only
    /// looks at earlier questions, so one pass settles it.
    pub(crate) fn shown_answers(&self, answers: &Answers) -> Answers {
        let mut shown = Answers::new();
        for question in self.questions() {
            let visible = question.show_if.as_ref().is_none_or(|condition| condition.holds(&shown));
            if let (true, Some(value)) = (visible, answers.get(&question.id)) {
                shown.insert(question.id.clone(), value.clone());
            }
        }
        shown
    }
}

/// True when the answer is "prefers not to answer".
pub(crate) fn is_declined(value: &Value) -> bool {
    value.as_str() == Some(DECLINED)
}

impl Condition {
    /// Whether the condition holds for these answers. A declined or missing answer matches
    /// no value and no number (only an explicit `is: ["declined"]` in a show_if).
    pub(crate) fn holds(&self, answers: &Answers) -> bool {
        match self {
            Condition::Is { question, values } => match answers.get(question) {
                Some(Value::String(answer)) => values.contains(answer),
                Some(Value::Array(chosen)) => {
                    chosen.iter().any(|item| item.as_str().is_some_and(|s| values.iter().any(|v| v == s)))
                }
                _ => false,
            },
            Condition::AtLeast { question, value } => {
                answers.get(question).and_then(Value::as_f64).is_some_and(|answer| answer >= *value)
            }
            Condition::LessThan { question, value } => {
                answers.get(question).and_then(Value::as_f64).is_some_and(|answer| answer < *value)
            }
            Condition::All(all) => all.iter().all(|c| c.holds(answers)),
            Condition::Any(any) => any.iter().any(|c| c.holds(answers)),
        }
    }
}

fn check_answer(question: &Question, value: &Value) -> Result<(), String> {
    if is_declined(value) {
        return Ok(());
    }
    let options = || question.options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>();
    match question.kind {
        QuestionType::YesNoUnsureDeclined => match value.as_str() {
            Some(answer) if YES_NO.contains(&answer) => Ok(()),
            _ => Err("answer must be one of yes, no, unsure, declined".to_owned()),
        },
        QuestionType::SingleChoice => match value.as_str() {
            Some(answer) if options().contains(&answer) => Ok(()),
            _ => Err(format!("answer must be one of {}, declined", options().join(", "))),
        },
        QuestionType::MultipleChoice => {
            let allowed = options();
            let Some(chosen) = value.as_array() else {
                return Err(format!("answer must be a list of options among {}, or declined", allowed.join(", ")));
            };
            let mut seen = Vec::new();
            for item in chosen {
                match item.as_str() {
                    Some(answer) if allowed.contains(&answer) && !seen.contains(&answer) => seen.push(answer),
                    Some(answer) if seen.contains(&answer) => {
                        return Err("an option is chosen twice; keep it once".to_owned());
                    }
                    _ => {
                        return Err(format!("every option chosen must be one of {}", allowed.join(", ")));
                    }
                }
            }
            Ok(())
        }
        QuestionType::ShortText | QuestionType::LongText => match value.as_str() {
            Some(text) if question.kind == QuestionType::ShortText && text.chars().count() > 500 => {
                Err("a short answer is at most 500 characters; use a note for more".to_owned())
            }
            Some(_) => Ok(()),
            None => Err("answer must be text".to_owned()),
        },
        QuestionType::Date => match value.as_str().map(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")) {
            Some(Ok(_)) => Ok(()),
            _ => Err("answer must be a date written YYYY-MM-DD, or declined".to_owned()),
        },
        QuestionType::Number => {
            let Some(number) = value.as_f64() else {
                return Err("answer must be a number, or declined".to_owned());
            };
            if question.integer && number.fract() != 0.0 {
                return Err("answer must be a whole number".to_owned());
            }
            if question.min.is_some_and(|min| number < min) || question.max.is_some_and(|max| number > max) {
                let range = match (question.min, question.max) {
                    (Some(min), Some(max)) => format!("between {min} and {max}"),
                    (Some(min), None) => format!("at least {min}"),
                    (None, Some(max)) => format!("at most {max}"),
                    (None, None) => unreachable!("a bound was crossed"),
                };
                return Err(format!("answer must be {range}"));
            }
            Ok(())
        }
        QuestionType::Country => {
            let single = |item: &Value| item.as_str().is_some_and(is_country_code);
            let fits = match value {
                Value::Array(items) if question.multiple => !items.is_empty() && items.iter().all(single),
                other => single(other),
            };
            if fits {
                Ok(())
            } else if question.multiple {
                Err("answer must be a list of ISO 3166-1 two-letter country codes in capitals (e.g. [\"LC\", \"VE\"]), or declined".to_owned())
            } else {
                Err("answer must be an ISO 3166-1 two-letter country code in capitals (e.g. \"LC\"), or declined"
                    .to_owned())
            }
        }
    }
}
