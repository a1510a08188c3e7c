//! Identifiers: UUIDv7 ids for records and events, and the short human case code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> $name {
                $name(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(text: &str) -> Result<$name> {
                Uuid::parse_str(text.trim())
                    .map($name)
                    .map_err(|_| Error::invalid(stringify!($name), format!("\"{text}\" is not a valid id")))
            }
        }
    };
}

uuid_id!(
    /// One case: one person of concern.
    CaseId
);
uuid_id!(
    /// One sealed event.
    EventId
);
uuid_id!(
    /// One laptop (a workspace on it).
    DeviceId
);
uuid_id!(
    /// One append-only entry of a case: a note, consent, referral or screening.
    EntryId
);

/// Letters and digits that cannot be mistaken for one another when read aloud or handwritten
/// (no 0/O, 1/I/L, and no U, which avoids accidental words).
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A case code such as `LC-7K3P-Q9`: a prefix (the deployment's, two to four letters), then
/// six random characters from [`CODE_ALPHABET`]; safe to say aloud or write on paper.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseCode(String);

impl CaseCode {
    pub fn generate(prefix: &CodePrefix) -> CaseCode {
        let mut random = [0u8; 6];
        crate::crypto::fill_random(&mut random);
        // 256 is not a multiple of 30: reject the top of the range to keep every character
        // equally likely.
        let mut chars = Vec::with_capacity(6);
        let mut pool = random.to_vec();
        while chars.len() < 6 {
            if pool.is_empty() {
                let mut more = [0u8; 8];
                crate::crypto::fill_random(&mut more);
                pool.extend_from_slice(&more);
            }
            let byte = pool.remove(0);
            if (byte as usize) < 240 {
                chars.push(CODE_ALPHABET[byte as usize % CODE_ALPHABET.len()] as char);
            }
        }
        let body: String = chars.into_iter().collect();
        CaseCode(format!("{}-{}-{}", prefix.0, &body[..4], &body[4..]))
    }

    /// Reads a code typed by a person: case and the dashes are forgiven.
    pub fn parse(text: &str) -> Option<CaseCode> {
        let compact: String =
            text.trim().chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_uppercase();
        if compact.len() < 8 || compact.len() > 10 {
            return None;
        }
        let (prefix, body) = compact.split_at(compact.len() - 6);
        if !prefix.chars().all(|c| c.is_ascii_uppercase()) || !body.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            return None;
        }
        Some(CaseCode(format!("{prefix}-{}-{}", &body[..4], &body[4..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The letters that start every case code of a deployment (`LC` for Saint Lucia).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodePrefix(String);

impl CodePrefix {
    pub fn parse(text: &str) -> Result<CodePrefix> {
        let upper = text.trim().to_ascii_uppercase();
        if (2..=4).contains(&upper.len()) && upper.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(CodePrefix(upper))
        } else {
            Err(Error::invalid("code_prefix", "use two to four letters, such as LC"))
        }
    }
}

impl Default for CodePrefix {
    fn default() -> CodePrefix {
        CodePrefix("LC".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse_back_and_use_the_safe_alphabet() {
        let prefix = CodePrefix::default();
        for _ in 0..200 {
            let code = CaseCode::generate(&prefix);
            assert_eq!(code.as_str().len(), 10);
            assert_eq!(CaseCode::parse(code.as_str()), Some(code.clone()));
            let lower = code.as_str().to_lowercase().replace('-', "");
            assert_eq!(CaseCode::parse(&lower), Some(code));
        }
    }

    #[test]
    fn ambiguous_characters_are_refused() {
        assert_eq!(CaseCode::parse("LC-7K3P-Q9"), Some(CaseCode("LC-7K3P-Q9".into())));
        assert_eq!(CaseCode::parse("LC-0K3P-Q9"), None);
        assert_eq!(CaseCode::parse("LC-7K3P"), None);
        assert!(CodePrefix::parse("L1").is_err());
    }
}
