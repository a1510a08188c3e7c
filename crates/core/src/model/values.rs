//! Validated values. Each constructor checks what a person typed and, when it refuses, names
//! the field and says what is allowed; inside core the types are then trusted.

use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::fault::Fault;
use crate::error::{Error, Result};

/// Every officially assigned ISO 3166-1 alpha-2 code, sorted.
pub const COUNTRY_CODES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA",
    "ZM", "ZW",
];

/// ISO 639-1 two-letter language codes.
const LANGUAGES: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy \
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is \
it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd \
ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv \
sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// Longest free text accepted in a short field (names, places); long text (notes) has its own limit.
pub const SHORT_TEXT_MAX: usize = 200;
pub const LONG_TEXT_MAX: usize = 20_000;

/// A country as ISO 3166-1 alpha-2 (`LC`, `GY`, `VE`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl Country {
    pub fn parse(text: &str) -> Result<Country> {
        Country::parse_for("nationality", text)
    }

    /// [`Country::parse`] for another field than the nationality (a refusal names `field`).
    pub fn parse_for(field: &str, text: &str) -> Result<Country> {
        let code = text.trim().to_ascii_uppercase();
        if COUNTRY_CODES.binary_search(&code.as_str()).is_ok() {
            Ok(Country(code))
        } else {
            Err(Error::refused(
                field,
                Fault::NotACountry,
                format!("\"{}\" is not an ISO 3166-1 country code; use two letters such as LC, GY or VE", text.trim()),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn all() -> impl Iterator<Item = &'static str> {
        COUNTRY_CODES.iter().copied()
    }
}

impl TryFrom<String> for Country {
    type Error = Error;
    fn try_from(text: String) -> Result<Country> {
        Country::parse(&text)
    }
}

impl From<Country> for String {
    fn from(country: Country) -> String {
        country.0
    }
}

/// A language as ISO 639-1 (`en`, `es`, `fr`), or ISO 639-3 for languages without a
/// two-letter code (`acf` is Saint Lucian Kwéyòl).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    pub fn parse(text: &str) -> Result<Language> {
        let code = text.trim().to_ascii_lowercase();
        let two_letter = code.len() == 2 && LANGUAGES.split(' ').any(|known| known == code);
        let three_letter = code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase());
        if two_letter || three_letter {
            Ok(Language(code))
        } else {
            Err(Error::refused(
                "languages",
                Fault::NotALanguage,
                format!(
                    "\"{}\" is not a language code; use ISO 639-1 such as en, es, fr, or ISO 639-3 such as acf (Kwéyòl)",
                    text.trim()
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The languages a form offers to choose from: every ISO 639-1 code, and Saint Lucian
    /// Kwéyòl (`acf`, ISO 639-3), which has no two-letter code.
    pub fn all() -> impl Iterator<Item = &'static str> {
        LANGUAGES.split(' ').chain(std::iter::once("acf"))
    }
}

impl TryFrom<String> for Language {
    type Error = Error;
    fn try_from(text: String) -> Result<Language> {
        Language::parse(&text)
    }
}

impl From<Language> for String {
    fn from(language: Language) -> String {
        language.0
    }
}

/// A phone number in E.164 form (`+17584520000`); spaces, dashes and brackets are forgiven.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(text: &str) -> Result<Phone> {
        let compact: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        let ok = digits.len() >= 7
            && digits.len() <= 15
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Phone(compact))
        } else {
            Err(Error::refused(
                "phone",
                Fault::NotAPhone,
                "use the international E.164 form: + then country code and number, 7 to 15 digits (such as +1 758 452 0000)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = Error;
    fn try_from(text: String) -> Result<Phone> {
        Phone::parse(&text)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
    }
}

/// A calendar day.
pub type Date = NaiveDate;

/// Today, in UTC.
pub fn today() -> Date {
    Utc::now().date_naive()
}

/// A birth date: a real calendar date, not in the future, not before 1900.
pub fn parse_birth_date(text: &str) -> Result<NaiveDate> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Error::refused("birth_date", Fault::NotADate, format!("\"{}\" is not a date; use YYYY-MM-DD", text.trim()))
    })?;
    let today = Utc::now().date_naive();
    if date > today {
        return Err(Error::refused("birth_date", Fault::DateInFuture, "the date is in the future"));
    }
    if date.year() < 1900 {
        return Err(Error::refused("birth_date", Fault::DateTooEarly, "the date is before 1900"));
    }
    Ok(date)
}

/// A date such as a consent date: YYYY-MM-DD, not in the future.
pub fn parse_past_date(field: &str, text: &str) -> Result<NaiveDate> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Error::refused(field, Fault::NotADate, format!("\"{}\" is not a date; use YYYY-MM-DD", text.trim()))
    })?;
    if date > Utc::now().date_naive() {
        return Err(Error::refused(field, Fault::DateInFuture, "the date is in the future"));
    }
    Ok(date)
}

/// An age estimated by the worker when the birth date is unknown, and the day it was estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeEstimate {
    pub years: u8,
    pub as_of: NaiveDate,
}

impl AgeEstimate {
    pub fn parse(text: &str) -> Result<AgeEstimate> {
        let years: u8 = text.trim().parse().ok().filter(|years| *years <= 120).ok_or_else(|| {
            Error::refused(
                "age",
                Fault::NotAnAge,
                format!("\"{}\" is not an age; use whole years from 0 to 120", text.trim()),
            )
        })?;
        Ok(AgeEstimate { years, as_of: Utc::now().date_naive() })
    }
}

/// A short free-text value (a name, an alias, a place): trimmed, not empty, at most
/// [`SHORT_TEXT_MAX`] characters, no control characters.
pub fn short_text(field: &str, text: &str) -> Result<String> {
    checked_text(field, text, SHORT_TEXT_MAX)
}

/// A long free-text value (a note, a reason): at most [`LONG_TEXT_MAX`] characters.
pub fn long_text(field: &str, text: &str) -> Result<String> {
    checked_text(field, text, LONG_TEXT_MAX)
}

fn checked_text(field: &str, text: &str, max: usize) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::refused(field, Fault::Empty, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(Error::refused(field, Fault::TooLong { max }, format!("is too long; at most {max} characters")));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::refused(field, Fault::ControlCharacters, "contains control characters"));
    }
    Ok(trimmed.to_owned())
}

/// A date that may be known only to the month or the year, and may be approximate: what a
/// person remembers of when they were recruited or moved. Written `2023`, `2023-05` or
/// `2023-05-14`, with a leading `~` when approximate (`~2023-05`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApproxDate {
    pub year: i32,
    pub month: Option<u32>,
    pub day: Option<u32>,
    pub approximate: bool,
}

impl ApproxDate {
    pub fn parse(field: &str, text: &str) -> Result<ApproxDate> {
        let trimmed = text.trim();
        let refuse = || {
            Error::refused(
                field,
                Fault::NotAPartialDate,
                format!(
                    "\"{trimmed}\" is not a date; use YYYY, YYYY-MM or YYYY-MM-DD, with ~ in front when it is approximate (~2023-05)"
                ),
            )
        };
        let (approximate, body) = match trimmed.strip_prefix('~') {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        let parts: Vec<&str> = body.split('-').collect();
        let number = |part: &str| part.parse::<u32>().ok();
        let date = match parts.as_slice() {
            [year] if year.len() == 4 => {
                ApproxDate { year: number(year).ok_or_else(refuse)? as i32, month: None, day: None, approximate }
            }
            [year, month] if year.len() == 4 && month.len() == 2 => {
                let month = number(month).filter(|m| (1..=12).contains(m)).ok_or_else(refuse)?;
                ApproxDate { year: number(year).ok_or_else(refuse)? as i32, month: Some(month), day: None, approximate }
            }
            [_, _, _] => {
                let date = NaiveDate::parse_from_str(body, "%Y-%m-%d").map_err(|_| refuse())?;
                ApproxDate { year: date.year(), month: Some(date.month()), day: Some(date.day()), approximate }
            }
            _ => return Err(refuse()),
        };
        if date.year < 1900 {
            return Err(Error::refused(field, Fault::DateTooEarly, "the date is before 1900"));
        }
        if date.earliest() > Utc::now().date_naive() {
            return Err(Error::refused(field, Fault::DateInFuture, "the date is in the future"));
        }
        Ok(date)
    }

    /// The first day the date can mean (`2023-05` → 1 May 2023).
    pub fn earliest(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month.unwrap_or(1), self.day.unwrap_or(1)).expect("checked when parsed")
    }
}

impl std::fmt::Display for ApproxDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.approximate {
            f.write_str("~")?;
        }
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
        }
        if let Some(day) = self.day {
            write!(f, "-{day:02}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for ApproxDate {
    type Error = Error;
    fn try_from(text: String) -> Result<ApproxDate> {
        ApproxDate::parse("date", &text)
    }
}

impl From<ApproxDate> for String {
    fn from(date: ApproxDate) -> String {
        date.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_iso_alpha_2() {
        assert_eq!(Country::all().count(), 249);
        assert_eq!(Country::parse(" lc ").unwrap().as_str(), "LC");
        for bad in ["XX", "LCA", "", "U5"] {
            let error = Country::parse(bad).unwrap_err().to_string();
            assert!(error.starts_with("nationality:"), "{error}");
        }
    }

    #[test]
    fn languages_take_639_1_or_three_letters() {
        assert_eq!(Language::parse("ES").unwrap().as_str(), "es");
        assert_eq!(Language::parse("acf").unwrap().as_str(), "acf");
        assert!(Language::parse("qq").is_err());
        assert!(Language::parse("english").is_err());
        assert!(Language::all().all(|code| Language::parse(code).is_ok()));
        assert!(Language::all().any(|code| code == "acf"));
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(Phone::parse("+1 (758) 452-0000").unwrap().as_str(), "+17584520000");
        for bad in ["4520000", "+0123456789", "+12", "+1758abc0000", "+1234567890123456"] {
            assert!(Phone::parse(bad).unwrap_err().to_string().starts_with("phone:"), "{bad}");
        }
    }

    #[test]
    fn dates_and_ages() {
        assert!(parse_birth_date("1990-02-28").is_ok());
        assert!(parse_birth_date("1990-02-30").is_err());
        assert!(parse_birth_date("1899-12-31").is_err());
        assert!(parse_birth_date("2999-01-01").unwrap_err().to_string().contains("future"));
        assert!(parse_birth_date("28/02/1990").unwrap_err().to_string().contains("YYYY-MM-DD"));
        assert_eq!(AgeEstimate::parse("34").unwrap().years, 34);
        assert!(AgeEstimate::parse("121").is_err());
        assert!(AgeEstimate::parse("-1").is_err());
    }

    #[test]
    fn approximate_dates_keep_their_precision() {
        for text in ["2023", "2023-05", "2023-05-14", "~2019-11", "~2020"] {
            assert_eq!(ApproxDate::parse("from", text).unwrap().to_string(), text);
        }
        assert_eq!(
            ApproxDate::parse("from", "~2023-05").unwrap().earliest(),
            NaiveDate::from_ymd_opt(2023, 5, 1).unwrap()
        );
        for bad in ["2023-13", "23-05", "May 2023", "2023-02-30", "1850", "2999"] {
            assert!(ApproxDate::parse("from", bad).unwrap_err().to_string().starts_with("from:"), "{bad}");
        }
    }

    #[test]
    fn refusals_carry_what_was_wrong_as_data() {
        let fault = |error: Error| match error {
            Error::Invalid { fault, .. } => fault,
            _ => None,
        };
        assert_eq!(fault(parse_birth_date("2999-01-01").unwrap_err()), Some(Fault::DateInFuture));
        assert_eq!(fault(parse_birth_date("1899-12-31").unwrap_err()), Some(Fault::DateTooEarly));
        assert_eq!(fault(parse_birth_date("04/05/1996").unwrap_err()), Some(Fault::NotADate));
        assert_eq!(fault(Country::parse("XX").unwrap_err()), Some(Fault::NotACountry));
        assert_eq!(fault(Language::parse("español").unwrap_err()), Some(Fault::NotALanguage));
        assert_eq!(fault(Phone::parse("call me").unwrap_err()), Some(Fault::NotAPhone));
        assert_eq!(fault(AgeEstimate::parse("300").unwrap_err()), Some(Fault::NotAnAge));
        assert_eq!(fault(short_text("name", " ").unwrap_err()), Some(Fault::Empty));
        assert_eq!(fault(short_text("name", &"a".repeat(201)).unwrap_err()), Some(Fault::TooLong { max: 200 }));
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(short_text("name", "  Ana  ").unwrap(), "Ana");
        assert!(short_text("name", "   ").unwrap_err().to_string().contains("empty"));
        assert!(short_text("name", &"a".repeat(201)).is_err());
        assert!(short_text("name", "a\u{0007}b").is_err());
        assert!(long_text("text", "line one\nline two").is_ok());
    }
}
