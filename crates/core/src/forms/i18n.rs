//! The one translation table, `assets/i18n/strings.json`: `{"key": {"en", "es", "fr"}}`, for
//! every user-facing string that is not inside a form (levels, reasons, answer words, service
//! types, directory labels…). The desktop UI adds its keys to the same file.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::FormError;
use super::definition::{Lang, Text};

/// The translation table.
/// Serialized, it is the file's own shape (the desktop interface receives it whole).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Strings {
    table: BTreeMap<String, Text>,
}

const BUILTIN: &str = include_str!("../../../../assets/i18n/strings.json");

impl Strings {
    /// The table shipped inside the program.
    pub fn builtin() -> &'static Strings {
        static TABLE: OnceLock<Strings> = OnceLock::new();
        TABLE.get_or_init(|| {
            // Checked by the tests; a failure here is a build mistake.
            Strings::from_json(BUILTIN).unwrap_or_else(|error| panic!("shipped strings.json is invalid: {error}"))
        })
    }

    /// Reads a table, refusing a key without all three languages.
    pub fn from_json(json: &str) -> Result<Strings, FormError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|error| FormError::Strings {
            at: format!("line {}, column {}", error.line(), error.column()),
            message: format!("this is not valid JSON ({error}); check commas, quotes and brackets"),
        })?;
        let table: BTreeMap<String, Text> = serde_path_to_error::deserialize(value).map_err(|error| {
            FormError::Strings { at: error.path().to_string(), message: error.into_inner().to_string() }
        })?;
        Ok(Strings { table })
    }

    pub fn get(&self, key: &str, lang: Lang) -> Option<&str> {
        self.table.get(key).map(|text| text.get(lang))
    }

    /// The text, or the key itself when missing (a screen never breaks on a missing string;
    /// the tests make sure none is).
    pub fn text<'a>(&'a self, key: &'a str, lang: Lang) -> &'a str {
        self.get(key, lang).unwrap_or(key)
    }

    /// Like [`Strings::text`] for a key built at run time: the key itself is not kept, so a
    /// missing key shows as `?`.
    pub fn text_owned_key(&self, key: &str, lang: Lang) -> &str {
        self.get(key, lang).unwrap_or("?")
    }

    pub fn contains(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.table.keys().map(String::as_str)
    }
}
