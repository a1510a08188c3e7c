//! What was wrong with a value a person typed, as data. Core's English sentence (`Error::Invalid`'s
//! `problem`) is for the command line; an interface reads the `Fault` and says it in the worker's
//! language, naming the field by its label (the desktop's `error.fault.<code>` strings).

use serde::Serialize;

/// One kind of refusal of a typed value. `code()` is the stable name an interface translates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Fault {
    /// Nothing was given where something is needed.
    Empty,
    /// Longer than `max` characters.
    TooLong { max: usize },
    /// Holds control characters (pasted from somewhere odd).
    ControlCharacters,
    /// Not a calendar date.
    NotADate,
    /// A date after today where only past dates make sense.
    DateInFuture,
    /// A birth date before 1900.
    DateTooEarly,
    /// Not a whole number of years from 0 to 120.
    NotAnAge,
    /// Not a country of ISO 3166-1.
    NotACountry,
    /// Not a language of ISO 639.
    NotALanguage,
    /// Not a phone number in the international form.
    NotAPhone,
    /// Not one of the values of a list.
    NotAllowed,
    /// Not a date known to the day, the month or the year (`ApproxDate`).
    NotAPartialDate,
    /// An end before its start.
    EndBeforeStart,
    /// A sentence given with a justice step other than a conviction.
    OnlyWithConviction,
    /// Not a whole number (months of a sentence).
    NotANumber,
}

impl Fault {
    /// Every code, for the check that each has a translation.
    pub const CODES: &'static [&'static str] = &[
        "empty",
        "too_long",
        "control_characters",
        "not_a_date",
        "date_in_future",
        "date_too_early",
        "not_an_age",
        "not_a_country",
        "not_a_language",
        "not_a_phone",
        "not_allowed",
        "not_a_partial_date",
        "end_before_start",
        "only_with_conviction",
        "not_a_number",
    ];

    pub fn code(self) -> &'static str {
        match self {
            Fault::Empty => "empty",
            Fault::TooLong { .. } => "too_long",
            Fault::ControlCharacters => "control_characters",
            Fault::NotADate => "not_a_date",
            Fault::DateInFuture => "date_in_future",
            Fault::DateTooEarly => "date_too_early",
            Fault::NotAnAge => "not_an_age",
            Fault::NotACountry => "not_a_country",
            Fault::NotALanguage => "not_a_language",
            Fault::NotAPhone => "not_a_phone",
            Fault::NotAllowed => "not_allowed",
            Fault::NotAPartialDate => "not_a_partial_date",
            Fault::EndBeforeStart => "end_before_start",
            Fault::OnlyWithConviction => "only_with_conviction",
            Fault::NotANumber => "not_a_number",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_its_code_listed() {
        let all = [
            Fault::Empty,
            Fault::TooLong { max: 1 },
            Fault::ControlCharacters,
            Fault::NotADate,
            Fault::DateInFuture,
            Fault::DateTooEarly,
            Fault::NotAnAge,
            Fault::NotACountry,
            Fault::NotALanguage,
            Fault::NotAPhone,
            Fault::NotAllowed,
            Fault::NotAPartialDate,
            Fault::EndBeforeStart,
            Fault::OnlyWithConviction,
            Fault::NotANumber,
        ];
        let codes: Vec<&str> = all.iter().map(|fault| fault.code()).collect();
        assert_eq!(codes, Fault::CODES);
        let json = serde_json::to_value(Fault::TooLong { max: 200 }).unwrap();
        assert_eq!(json, serde_json::json!({"code": "too_long", "max": 200}));
    }
}
