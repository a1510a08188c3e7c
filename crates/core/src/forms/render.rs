//! Words for a screen or a terminal: answers and results in a language. What these return is
//! the person's information; show it to the worker, never log it.

use serde::Serialize;
use serde_json::Value;

use super::answers::is_declined;
use super::definition::{Form, Lang, Question, QuestionType};
use super::score::ScreeningResult;
use super::{Answers, Strings};
use crate::model::codes::ServiceType;

/// One answered question, ready to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnswerLine {
    pub section: String,
    pub question_id: String,
    pub question: String,
    pub answer: String,
    pub declined: bool,
}

/// A result in words: what was found and what to do now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResultText {
    pub level: String,
    pub next_step: String,
    pub reasons: Vec<String>,
    /// The questions the person preferred not to answer.
    pub declined: Vec<String>,
    pub services: Vec<String>,
}

/// The separator between a label and its value: French puts a space before the colon.
pub fn colon(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => " : ",
        Lang::En | Lang::Es => ": ",
    }
}

/// The translation key of a kind of service.
pub fn service_type_key(service: ServiceType) -> String {
    format!("service_type.{}", service.as_str())
}

impl Form {
    /// The answers of the shown questions, in the form's order, in a language.
    pub fn display_answers(&self, answers: &Answers, lang: Lang, strings: &Strings) -> Vec<AnswerLine> {
        let shown = self.shown_answers(answers);
        let mut lines = Vec::new();
        for section in &self.sections {
            for question in &section.questions {
                let Some(value) = shown.get(&question.id) else {
                    continue;
                };
                lines.push(AnswerLine {
                    section: section.title.get(lang).to_owned(),
                    question_id: question.id.clone(),
                    question: question.text.get(lang).to_owned(),
                    answer: self.answer_text(question, value, lang, strings),
                    declined: is_declined(value),
                });
            }
        }
        lines
    }

    /// One answer in words: "Yes", an option's label, "Prefers not to answer", the text as
    /// typed, a country code.
    pub fn answer_text(&self, question: &Question, value: &Value, lang: Lang, strings: &Strings) -> String {
        if is_declined(value) {
            return strings.text("answer.declined", lang).to_owned();
        }
        let label = |chosen: &str| {
            question
                .options
                .iter()
                .find(|option| option.value == chosen)
                .map_or_else(|| chosen.to_owned(), |option| option.label.get(lang).to_owned())
        };
        match (question.kind, value) {
            (QuestionType::YesNoUnsureDeclined, Value::String(answer)) => match answer.as_str() {
                "yes" => strings.text("answer.yes", lang).to_owned(),
                "no" => strings.text("answer.no", lang).to_owned(),
                "unsure" => strings.text("answer.unsure", lang).to_owned(),
                other => other.to_owned(),
            },
            (QuestionType::SingleChoice, Value::String(answer)) => label(answer),
            (_, Value::Array(items)) => {
                let words: Vec<String> =
                    items.iter().map(|item| item.as_str().map_or_else(|| item.to_string(), label)).collect();
                words.join(", ")
            }
            (_, Value::String(text)) => text.clone(),
            (_, other) => other.to_string(),
        }
    }

    /// A result in words, with the question texts of declined answers.
    pub fn describe_result(&self, result: &ScreeningResult, lang: Lang, strings: &Strings) -> ResultText {
        ResultText {
            level: strings.text(&result.level.translation_key(), lang).to_owned(),
            next_step: strings.text(&result.level.next_step_key(), lang).to_owned(),
            reasons: result.reasons.iter().map(|reason| self.string(strings, &reason.key, lang).to_owned()).collect(),
            declined: result
                .declined
                .iter()
                .map(|id| self.question(id).map_or_else(|| id.clone(), |q| q.text.get(lang).to_owned()))
                .collect(),
            services: result
                .suggested_services
                .iter()
                .map(|service| strings.text(&service_type_key(*service), lang).to_owned())
                .collect(),
        }
    }
}

impl Form {
    /// A question as plain text for a terminal: the question, the answers it accepts, then
    /// how to ask and why we ask.
    pub fn question_text(&self, question: &Question, lang: Lang, strings: &Strings) -> String {
        let mut out = question.text.get(lang).to_owned();
        let choices: Vec<String> = match question.kind {
            QuestionType::YesNoUnsureDeclined => ["answer.yes", "answer.no", "answer.unsure"]
                .iter()
                .map(|key| strings.text(key, lang).to_owned())
                .collect(),
            _ => {
                question.options.iter().map(|option| format!("{} ({})", option.label.get(lang), option.value)).collect()
            }
        };
        if !choices.is_empty() {
            out.push_str(&format!("\n  {} · {}", choices.join(" · "), strings.text("answer.declined", lang)));
        }
        if let Some(help) = &question.help {
            out.push_str(&format!(
                "\n  {}{}{}",
                strings.text("screening.how_to_ask", lang),
                colon(lang),
                help.get(lang)
            ));
        }
        out.push_str(&format!(
            "\n  {}{}{}",
            strings.text("screening.why_we_ask", lang),
            colon(lang),
            question.why.get(lang)
        ));
        out
    }

    /// The opening script under its heading, for a terminal.
    pub fn opening_text(&self, lang: Lang, strings: &Strings) -> String {
        format!("{}\n{}", strings.text("screening.opening_script", lang), self.opening_script.get(lang))
    }

    /// A result as plain text for a terminal: level, what to do, reasons, declined questions,
    /// services, and the coded summary.
    pub fn result_report(&self, result: &ScreeningResult, lang: Lang, strings: &Strings) -> String {
        let text = self.describe_result(result, lang, strings);
        let mut out =
            format!("{}{}{}\n{}\n", strings.text("screening.result", lang), colon(lang), text.level, text.next_step);
        let mut list = |heading: &str, items: &[String]| {
            if !items.is_empty() {
                out.push_str(&format!("\n{}{}\n", strings.text(heading, lang), colon(lang).trim_end()));
                items.iter().for_each(|item| out.push_str(&format!("  - {item}\n")));
            }
        };
        list("screening.reasons", &text.reasons);
        list("screening.declined", &text.declined);
        list("screening.suggested_services", &text.services);
        let flags: Vec<String> = result.codes.flags().iter().map(|flag| (*flag).to_owned()).collect();
        list("screening.coded_summary", &flags);
        out
    }
}
