//! What the case list's search matches: every word of a name or alias from its beginning
//! ("etxe" finds Etxeberria; "berria" does not), and any part of a case code, with or without
//! its prefix and hyphens ("B776G6", "776-G6", "lc-b776" all find LC-B776-G6), accents and case
//! ignored. Code parts are indexed as the suffixes of the code's characters, so a fragment from
//! the middle of a code is the beginning of one of them.

use rusqlite::{Connection, OptionalExtension, params};

use super::normalize_text;
use crate::error::Result;
use crate::fold::CaseState;

/// `meta` key set once every case's search entry holds its code parts.
const CODE_PARTS_KEY: &str = "search_code_parts";

/// The text the full-text index holds for a case: its names, then its code's words and parts.
pub(super) fn search_text(state: &CaseState) -> String {
    let mut text = normalize_text(&state.fields.name);
    for alias in &state.fields.aliases {
        text.push(' ');
        text.push_str(&normalize_text(alias));
    }
    text.push(' ');
    text.push_str(&code_words(state.code.as_str()));
    text
}

/// A case code as search words: as written ("lc b776 g6"), whole ("lcb776g6"), and every
/// suffix of the part after the prefix ("b776g6 776g6 76g6 6g6 g6").
fn code_words(code: &str) -> String {
    let mut words = normalize_text(code);
    let compact = code.replace('-', "").to_lowercase();
    words.push(' ');
    words.push_str(&compact);
    let body = code.split_once('-').map_or(compact.clone(), |(_, body)| body.replace('-', "").to_lowercase());
    for start in 0..body.len() {
        if body.is_char_boundary(start) && body.len() - start >= 2 {
            words.push(' ');
            words.push_str(&body[start..]);
        }
    }
    words
}

/// A full-text query matching every word of `text` as a prefix; a fragment typed with hyphens
/// ("776-G6") also matches as one piece of a code.
pub(super) fn fts_query(text: &str) -> String {
    let words: Vec<String> =
        normalize_text(text).split(' ').filter(|word| !word.is_empty()).map(str::to_owned).collect();
    let all = words.iter().map(|word| format!("\"{word}\"*")).collect::<Vec<_>>().join(" ");
    let one_piece = !text.trim().contains(char::is_whitespace) && words.len() > 1;
    if one_piece { format!("({all}) OR \"{}\"*", words.concat()) } else { all }
}

/// Gives the search entries written before code parts were indexed their code parts, once.
pub(super) fn index_code_parts(conn: &Connection) -> Result<()> {
    let done: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [CODE_PARTS_KEY], |row| row.get(0)).optional()?;
    if done.is_some() {
        return Ok(());
    }
    let transaction = conn.unchecked_transaction()?;
    let rows: Vec<(i64, String, String)> = {
        let mut statement = transaction.prepare("SELECT rowid, code, search_text FROM cases")?;
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect::<Result<_, _>>()?
    };
    for (rowid, code, old) in rows {
        let words = code_words(&code);
        // The names come first; the code's words were at the end and are written again whole.
        let names = old.strip_suffix(&old_code_words(&code)).unwrap_or(&old).trim_end();
        let text = if names.is_empty() { words } else { format!("{names} {words}") };
        if text == old {
            continue;
        }
        transaction.execute("UPDATE cases SET search_text = ?2 WHERE rowid = ?1", params![rowid, text])?;
        transaction.execute("DELETE FROM case_search WHERE rowid = ?1", [rowid])?;
        transaction.execute("INSERT INTO case_search (rowid, text) VALUES (?1, ?2)", params![rowid, text])?;
    }
    transaction.execute(
        "INSERT INTO meta (key, value) VALUES (?1, '1') ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [CODE_PARTS_KEY],
    )?;
    transaction.commit()?;
    Ok(())
}

/// How a code was indexed before its parts were: "lc b776 g6 lcb776g6".
fn old_code_words(code: &str) -> String {
    format!("{} {}", normalize_text(code), code.replace('-', "").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_indexed_whole_in_words_and_in_parts() {
        assert_eq!(code_words("LC-B776-G6"), "lc b776 g6 lcb776g6 b776g6 776g6 76g6 6g6 g6");
        assert_eq!(fts_query("776-G6"), "(\"776\"* \"g6\"*) OR \"776g6\"*");
        assert_eq!(fts_query("Maria José"), "\"maria\"* \"jose\"*");
        assert_eq!(old_code_words("LC-B776-G6"), "lc b776 g6 lcb776g6");
    }
}
