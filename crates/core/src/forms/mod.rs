//! Screening forms as data: versioned JSON definitions (`assets/forms/*.json`), checked on
//! load, that turn a person's answers into a result (`Form::score`) and a CTDC/HTCDS-coded
//! summary. A filled screening keeps its form id and version; [`FormLibrary`] keeps every
//! version, so old answers keep validating, displaying and scoring after a new one ships.
//!
//! Nothing here prints or logs, and no error message repeats an answer: answers are the
//! person's words and stay inside the encrypted store.
//!
//! How to write a form, how scoring works and where each indicator comes from:
//! `docs/FORMS.md`.

mod answers;
mod countries;
mod definition;
mod i18n;
mod render;
mod score;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use countries::{COUNTRY_CODES, is_country_code};
pub use definition::{
    Choice, Code, Condition, Form, Lang, Level, Question, QuestionType, Rule, Scoring, Section, Stop, Text, Thresholds,
};
pub use i18n::Strings;
pub use render::{AnswerLine, ResultText, colon, service_type_key};
pub use score::{CodedSummary, Reason, ScreeningResult};

/// A person's answers: question id → value. A yes/no answer is `"yes"`, `"no"`, `"unsure"`;
/// single choice an option value; multiple choice a list of them; text a string; date
/// `"YYYY-MM-DD"`; number a number; country `"LC"` (or a list). Any question may be answered
/// `"declined"` ("prefers not to answer"); a question not answered is simply absent.
pub type Answers = BTreeMap<String, serde_json::Value>;

/// The answer that means "prefers not to answer", accepted for every question.
pub const DECLINED: &str = "declined";

/// What went wrong with a form definition, a translation table or a set of answers. Every
/// message says where, and what to do; none repeats an answer.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// A file could not be read from disk.
    #[error("could not read {path}: {source}; check that the file exists and that Harbour may read it")]
    Read { path: PathBuf, source: std::io::Error },
    /// A form definition breaks a rule: bad JSON, an unknown key, a missing translation, a
    /// reference to a question, answer, code or translation key that does not exist.
    /// `form` is `id vN` (or the file name when even that could not be read), `at` the path
    /// inside the definition, e.g. `sections[2].questions[0].options[3].code`.
    #[error("{form}: {at}: {message}")]
    Definition { form: String, at: String, message: String },
    /// Two files hold the same form id and version.
    #[error(
        "form {id} v{version} is defined twice; a changed form needs a new file with a higher version, \
         the old version must stay as it was"
    )]
    DuplicateVersion { id: String, version: u32 },
    /// The translation table is malformed.
    #[error("translation table: {at}: {message}")]
    Strings { at: String, message: String },
    /// An answer does not fit its question (named by id). The message never repeats the answer.
    #[error("{question}: {message}")]
    Answer { problem: AnswerProblem, question: String, message: String },
}

/// What is wrong with an answer, for a screen to say it in the worker's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerProblem {
    /// The form has no question with this id.
    UnknownQuestion,
    /// The answer is not one the question accepts.
    DoesNotFit,
    /// A required question that is shown has no answer.
    Missing,
}

impl FormError {
    /// Key of a sentence in `assets/i18n/strings.json` that tells a worker what to do, in
    /// their language; the English message keeps the details (path, question) for the
    /// person who maintains the form.
    pub fn translation_key(&self) -> &'static str {
        match self {
            FormError::Read { .. } => "error.form_unreadable",
            FormError::Definition { .. } | FormError::DuplicateVersion { .. } | FormError::Strings { .. } => {
                "error.form_invalid"
            }
            FormError::Answer { problem: AnswerProblem::Missing, .. } => "error.answer_missing",
            FormError::Answer { problem: AnswerProblem::DoesNotFit, .. } => "error.answer_does_not_fit",
            FormError::Answer { problem: AnswerProblem::UnknownQuestion, .. } => "error.answer_unknown_question",
        }
    }
}

/// Every version of every form Harbour knows.
#[derive(Clone, Debug, Default)]
pub struct FormLibrary {
    forms: BTreeMap<(String, u32), Form>,
}

/// The form definitions shipped inside the program, so the app and the CLI work without an
/// assets folder. Listed here by hand: a new file in `assets/forms/` must be added too (a
/// test checks that the two agree).
pub const BUILTIN_FORMS: &[(&str, &str)] = &[
    ("clinic-screening.v1.json", include_str!("../../../../assets/forms/clinic-screening.v1.json")),
    ("consular-intake.v1.json", include_str!("../../../../assets/forms/consular-intake.v1.json")),
    ("case-assessment.v1.json", include_str!("../../../../assets/forms/case-assessment.v1.json")),
];

impl FormLibrary {
    /// The forms shipped with Harbour.
    /// The shipped forms, read once per process (for callers that ask often, such as the
    /// desktop app's commands).
    pub fn shipped() -> &'static FormLibrary {
        static LIBRARY: std::sync::OnceLock<FormLibrary> = std::sync::OnceLock::new();
        LIBRARY.get_or_init(FormLibrary::builtin)
    }

    pub fn builtin() -> FormLibrary {
        let mut library = FormLibrary::default();
        for (name, json) in BUILTIN_FORMS {
            // The shipped forms are checked by the tests; a failure here is a build mistake.
            library.insert_json(name, json).unwrap_or_else(|error| panic!("shipped form {name} is invalid: {error}"));
        }
        library
    }

    /// Loads every `*.json` file in `dir` except `schema.json`, checking each.
    pub fn load_dir(dir: &Path) -> Result<FormLibrary, FormError> {
        let entries = std::fs::read_dir(dir).map_err(|source| FormError::Read { path: dir.to_owned(), source })?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|source| FormError::Read { path: dir.to_owned(), source })?.path();
            let is_json = path.extension().is_some_and(|ext| ext == "json");
            let is_schema = path.file_name().is_some_and(|name| name == "schema.json");
            if is_json && !is_schema {
                paths.push(path);
            }
        }
        paths.sort();
        let mut library = FormLibrary::default();
        for path in paths {
            let json =
                std::fs::read_to_string(&path).map_err(|source| FormError::Read { path: path.clone(), source })?;
            let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            library.insert_json(&name, &json)?;
        }
        Ok(library)
    }

    /// Checks one definition (`name` is used in messages until the form's own id is known)
    /// and adds it.
    pub fn insert_json(&mut self, name: &str, json: &str) -> Result<&Form, FormError> {
        let form = Form::from_json(name, json)?;
        self.insert(form)
    }

    /// Adds a form that is already checked. Refuses a second copy of an id and version.
    pub fn insert(&mut self, form: Form) -> Result<&Form, FormError> {
        let key = (form.id.clone(), form.version);
        if self.forms.contains_key(&key) {
            return Err(FormError::DuplicateVersion { id: form.id, version: form.version });
        }
        Ok(self.forms.entry(key).or_insert(form))
    }

    /// The highest version of a form.
    pub fn latest(&self, id: &str) -> Option<&Form> {
        self.forms.iter().rev().find(|((form_id, _), _)| form_id == id).map(|(_, form)| form)
    }

    /// One exact version, as a stored screening names it.
    pub fn get(&self, id: &str, version: u32) -> Option<&Form> {
        self.forms.get(&(id.to_owned(), version))
    }

    /// The latest version of each form, by id.
    pub fn latest_forms(&self) -> Vec<&Form> {
        let mut out: Vec<&Form> = Vec::new();
        for ((id, _), form) in &self.forms {
            match out.last_mut() {
                Some(last) if &last.id == id => *last = form,
                _ => out.push(form),
            }
        }
        out
    }

    /// Every form and version, by id then version.
    pub fn all(&self) -> impl Iterator<Item = &Form> {
        self.forms.values()
    }
}

impl Form {
    /// Reads and checks one definition against the built-in translation table.
    pub fn from_json(name: &str, json: &str) -> Result<Form, FormError> {
        Form::from_json_with(name, json, Strings::builtin())
    }

    /// Reads and checks one definition; reason keys must be in `strings` or in the form's own
    /// `strings`.
    pub fn from_json_with(name: &str, json: &str, strings: &Strings) -> Result<Form, FormError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|error| FormError::Definition {
            form: name.to_owned(),
            at: format!("line {}, column {}", error.line(), error.column()),
            message: format!("this is not valid JSON ({error}); check commas, quotes and brackets"),
        })?;
        // Name the form by its id and version as soon as they can be read.
        let label = match (value.get("id").and_then(|v| v.as_str()), value.get("version").and_then(|v| v.as_u64())) {
            (Some(id), Some(version)) => format!("{id} v{version}"),
            _ => name.to_owned(),
        };
        let form: Form = serde_path_to_error::deserialize(value).map_err(|error| {
            let at = error.path().to_string();
            FormError::Definition {
                form: label.clone(),
                at: if at == "." { "(top level)".to_owned() } else { at },
                message: error.into_inner().to_string(),
            }
        })?;
        validate::check(&form, strings).map_err(|(at, message)| FormError::Definition { form: label, at, message })?;
        Ok(form)
    }

    /// `id vN`, as messages and the screen name a form.
    pub fn label(&self) -> String {
        format!("{} v{}", self.id, self.version)
    }

    /// Every question, in the order asked.
    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.sections.iter().flat_map(|section| &section.questions)
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions().find(|question| question.id == id)
    }

    /// The text of a translation key: the form's own `strings` first, then the table.
    pub fn string<'a>(&'a self, strings: &'a Strings, key: &'a str, lang: Lang) -> &'a str {
        match self.strings.get(key) {
            Some(text) => text.get(lang),
            None => strings.text(key, lang),
        }
    }
}
