//! ISO 3166-1 alpha-2 country codes (the 249 officially assigned), for country answers: the
//! model's list, so that a case's nationality and a form's country answer accept the same codes.

pub use crate::model::values::COUNTRY_CODES;

/// True for an officially assigned ISO 3166-1 alpha-2 code, in capitals (`LC`).
pub fn is_country_code(code: &str) -> bool {
    COUNTRY_CODES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_complete_and_sorted() {
        assert_eq!(COUNTRY_CODES.len(), 249);
        assert!(COUNTRY_CODES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(is_country_code("LC") && is_country_code("VE") && !is_country_code("lc") && !is_country_code("XX"));
    }
}
