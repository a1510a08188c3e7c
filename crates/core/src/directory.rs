//! The referral-service directory of a deployment: who can help (shelters, medical,
//! psychosocial, legal aid, police, labour inspection, immigration, consulates, IOM and NGOs),
//! in which languages, when, and whom they accept. Shipped as a template for Saint Lucia
//! (`assets/directory/saint-lucia.json`) with placeholder contacts that the administrator
//! fills in; a screening result suggests services from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::forms::{Lang, ScreeningResult, Strings, colon, service_type_key};
use crate::model::codes::ServiceType;

/// A deployment's list of services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Lets an editor find a JSON schema; ignored by Harbour.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Which deployment this directory belongs to, e.g. `saint-lucia`.
    pub deployment: String,
    /// Raised by the administrator at each published change.
    pub version: u32,
    pub services: Vec<Service>,
}

/// One service a person can be referred to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Lowercase letters, digits and `-`; stays the same when the entry is edited, since
    /// referrals name it.
    pub id: String,
    pub name: String,
    pub types: Vec<ServiceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// What the service does, in the words of the deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO 639 codes: `en`, `es`, `fr`, `acf` (Saint Lucian Kwéyòl)…
    pub languages: Vec<String>,
    pub hours: String,
    /// How to reach the service (a person, a desk, a procedure).
    pub contact: String,
    /// E.164 (`+1758…`). Never invented: the template leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<Accepts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The Harbour team (its id in the team directory) whose laptops receive this service's
    /// referrals: a referral to the service shares the case with that team, and the referral
    /// shows when the team's laptop received it. Set by the administrator; none for a service
    /// outside Harbour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<uuid::Uuid>,
    /// The service's texts in the interface's other languages (`es`, `fr`); a text left out is
    /// shown as written above (English).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, ServiceTexts>,
}

/// A service's texts in one language.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTexts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// The languages a service's texts may be translated into (English is the directory's own).
pub const TRANSLATED_LANGUAGES: [&str; 2] = ["es", "fr"];

/// Whom a service accepts, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accepts {
    Women,
    Men,
    Children,
    Families,
    NonNationals,
    WalkIn,
    ReferralOnly,
    /// Takes emergencies at any hour.
    Emergency,
}

impl Accepts {
    pub const ALL: [Accepts; 8] = [
        Accepts::Women,
        Accepts::Men,
        Accepts::Children,
        Accepts::Families,
        Accepts::NonNationals,
        Accepts::WalkIn,
        Accepts::ReferralOnly,
        Accepts::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Accepts::Women => "women",
            Accepts::Men => "men",
            Accepts::Children => "children",
            Accepts::Families => "families",
            Accepts::NonNationals => "non_nationals",
            Accepts::WalkIn => "walk_in",
            Accepts::ReferralOnly => "referral_only",
            Accepts::Emergency => "emergency",
        }
    }

    /// Key of the label in `assets/i18n/strings.json`.
    pub fn translation_key(self) -> String {
        format!("accepts.{}", self.as_str())
    }
}

/// What went wrong with a directory file.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The file could not be read.
    #[error("could not read the service directory {path}: {source}; check the file exists and Harbour may read it")]
    Read { path: PathBuf, source: std::io::Error },
    /// The file could not be written.
    #[error(
        "could not write the service directory to {path}: {source}; check the folder exists and there is free space"
    )]
    Write { path: PathBuf, source: std::io::Error },
    /// The file a directory would be exported to already exists; it is never replaced.
    #[error("{0} already exists. Nothing was written: choose another file name, or move that file away first.")]
    Exists(PathBuf),
    /// The directory breaks a rule; `at` is the path inside it, e.g. `services[3].phone`.
    #[error("service directory: {at}: {message}")]
    Invalid { at: String, message: String },
}

const SAINT_LUCIA: &str = include_str!("../../../assets/directory/saint-lucia.json");

impl Directory {
    /// The Saint Lucia template shipped inside the program.
    pub fn saint_lucia_template() -> &'static Directory {
        static TEMPLATE: OnceLock<Directory> = OnceLock::new();
        TEMPLATE.get_or_init(|| {
            // Checked by the tests; a failure here is a build mistake.
            Directory::from_json(SAINT_LUCIA)
                .unwrap_or_else(|error| panic!("shipped directory template is invalid: {error}"))
        })
    }

    /// Reads and checks a directory.
    pub fn from_json(json: &str) -> Result<Directory, DirectoryError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|error| DirectoryError::Invalid {
            at: format!("line {}, column {}", error.line(), error.column()),
            message: format!("this is not valid JSON ({error}); check commas, quotes and brackets"),
        })?;
        let directory: Directory = serde_path_to_error::deserialize(value).map_err(|error| {
            let at = error.path().to_string();
            DirectoryError::Invalid {
                at: if at == "." { "(top level)".to_owned() } else { at },
                message: error.into_inner().to_string(),
            }
        })?;
        directory.validate().map_err(|(at, message)| DirectoryError::Invalid { at, message })?;
        Ok(directory)
    }

    /// The directory as pretty JSON, as `export` writes it.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| unreachable!("a directory always serialises: {error}"));
        json.push('\n');
        json
    }

    /// Reads and checks a directory file.
    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let json =
            std::fs::read_to_string(path).map_err(|source| DirectoryError::Read { path: path.to_owned(), source })?;
        Directory::from_json(&json)
    }

    /// Imports a directory edited outside Harbour; the same checks as `load`.
    pub fn import(path: &Path) -> Result<Directory, DirectoryError> {
        Directory::load(path)
    }

    /// Writes the directory as JSON, for editing or for another deployment.
    /// An existing file is refused, never replaced.
    pub fn export(&self, path: &Path) -> Result<(), DirectoryError> {
        crate::export::write_new(path, self.to_json().as_bytes()).map_err(|error| match error {
            crate::Error::FileExists(path) => DirectoryError::Exists(path),
            crate::Error::Io { path, source } => DirectoryError::Write { path, source },
            other => DirectoryError::Write { path: path.to_owned(), source: std::io::Error::other(other.to_string()) },
        })
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.id == id)
    }

    /// The services for a screening result: those of each suggested type, in the order the
    /// result ranks the types, each service once, in directory order within a type.
    pub fn suggest(&self, result: &ScreeningResult) -> Vec<&Service> {
        let mut out: Vec<&Service> = Vec::new();
        for kind in &result.suggested_services {
            for service in self.services.iter().filter(|service| service.types.contains(kind)) {
                if !out.iter().any(|kept| kept.id == service.id) {
                    out.push(service);
                }
            }
        }
        out
    }

    /// The directory as plain text for a terminal, in a language: each service with its
    /// types, languages, hours, contact, area and whom it accepts.
    pub fn report(&self, lang: Lang, strings: &Strings) -> String {
        let mut out = format!("{} ({} v{})\n", strings.text("directory.title", lang), self.deployment, self.version);
        for service in &self.services {
            out.push_str(&format!("\n{} [{}]\n", service.name, service.id));
            let types: Vec<&str> =
                service.types.iter().map(|kind| strings.text_owned_key(&service_type_key(*kind), lang)).collect();
            let accepts: Vec<&str> =
                service.accepts.iter().map(|a| strings.text_owned_key(&a.translation_key(), lang)).collect();
            let mut field = |key: &str, value: &str| {
                if !value.is_empty() {
                    out.push_str(&format!("  {}{}{value}\n", strings.text(key, lang), colon(lang)));
                }
            };
            field("directory.types", &types.join(", "));
            field("directory.languages", &service.languages.join(", "));
            field("directory.hours", &service.hours);
            field("directory.contact", &service.contact);
            field("directory.area", service.area.as_deref().unwrap_or(""));
            field("directory.accepts", &accepts.join(", "));
        }
        out
    }

    /// The suggestions for a result as plain text, or a sentence saying there are none.
    pub fn suggest_report(&self, result: &ScreeningResult, lang: Lang, strings: &Strings) -> String {
        let suggested = self.suggest(result);
        if suggested.is_empty() && !result.suggested_services.is_empty() {
            return strings.text("directory.none_suggested", lang).to_owned();
        }
        suggested.iter().map(|service| format!("{} [{}]: {}\n", service.name, service.id, service.contact)).collect()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        if self.deployment.trim().is_empty() {
            return Err(("deployment".to_owned(), "name the deployment, e.g. `saint-lucia`".to_owned()));
        }
        let mut ids: Vec<&str> = Vec::new();
        for (s, service) in self.services.iter().enumerate() {
            let at = |field: &str| format!("services[{s}].{field}");
            let slug = !service.id.is_empty()
                && service
                    .id
                    .split('-')
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
            if !slug {
                return Err((at("id"), "a service id is lowercase letters and digits joined by `-`".to_owned()));
            }
            if ids.contains(&service.id.as_str()) {
                return Err((
                    at("id"),
                    format!("service id `{}` is used twice; give each service its own id", service.id),
                ));
            }
            ids.push(&service.id);
            for (field, value) in [("name", &service.name), ("hours", &service.hours), ("contact", &service.contact)] {
                if value.trim().is_empty() {
                    return Err((
                        at(field),
                        format!("`{field}` is empty; write it, or \"To be filled in by the administrator\""),
                    ));
                }
            }
            if service.types.is_empty() {
                return Err((at("types"), "a service needs at least one type".to_owned()));
            }
            if service.languages.is_empty() {
                return Err((at("languages"), "list at least one language the service works in".to_owned()));
            }
            for (l, language) in service.languages.iter().enumerate() {
                let code = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
                if !code {
                    return Err((
                        format!("services[{s}].languages[{l}]"),
                        format!(
                            "`{language}` is not a language code; use ISO 639 codes such as en, es, fr or acf (Kwéyòl)"
                        ),
                    ));
                }
            }
            for language in service.translations.keys() {
                if !TRANSLATED_LANGUAGES.contains(&language.as_str()) {
                    return Err((
                        format!("services[{s}].translations.{language}"),
                        "translations are given for es and fr (the texts above are English)".to_owned(),
                    ));
                }
            }
            if let Some(phone) = &service.phone {
                let digits = phone.strip_prefix('+').unwrap_or("");
                let e164 = (2..=15).contains(&digits.len())
                    && digits.chars().all(|c| c.is_ascii_digit())
                    && !digits.starts_with('0');
                if !e164 {
                    return Err((
                        at("phone"),
                        "a phone number is written in E.164 form: + then country code and number, up to 15 digits (e.g. +1758…)"
                            .to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }
}
