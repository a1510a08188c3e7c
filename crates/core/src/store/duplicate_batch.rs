//! The duplicate check for many people at once (an import of past cases): the same check as
//! [`Workspace::likely_duplicates`] for each person, without a full-text query per person.
//!
//! `likely_duplicates` asks the full-text index for the cases sharing a name word's beginning,
//! ranked by FTS5's bm25, and hands the best [`DUPLICATE_PREFILTER_LIMIT`] to the matcher. Run
//! once per row of a file, that query ranks every case sharing a common beginning ("mar") for
//! every row: ~30 ms a row with 100,000 cases. Here the index's words are read once into
//! memory (the `search_text` each case's full-text entry is made of), and each person's
//! prefixes are ranked with the same terms and the same bm25 (FTS5's `fts5Bm25Function`:
//! k1 = 1.2, b = 0.75, the same IDF floor, the same order of sums, so the same scores to the
//! last bit); the cases the matcher reads are read, and their names folded
//! ([`PreparedCandidate`]), once for the whole file. Among cases of exactly equal rank, FTS5's
//! order is its sorter's; here it is the order the cases were stored (the two differ only when
//! more than the limit tie at the limit).

use std::collections::HashMap;

use super::Workspace;
use super::screening::{
    DUPLICATE_PREFILTER_LIMIT, DuplicateCandidate, StoredPerson, duplicate_terms, person_details, stored_details,
};
use crate::error::{Error, Result};
use crate::ids::{CaseCode, CaseId};
use crate::matching::{self, Candidate, PreparedCandidate};
use crate::model::CaseFields;

/// FTS5's bm25 constants.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The full-text entries of every case, as FTS5 counts them: each word once, sorted, with the
/// cases holding it (by position in `rowids`) and how many times.
struct WordIndex<'t> {
    rowids: Vec<i64>,
    /// Tokens in each case's entry (FTS5's column size).
    lengths: Vec<u32>,
    words: Vec<(&'t str, Vec<(u32, u32)>)>,
    average_length: f64,
}

impl<'t> WordIndex<'t> {
    fn new(entries: &'t [(i64, String)]) -> WordIndex<'t> {
        // Every (word, case, count) of every entry, sorted by word then case: one sort of plain
        // integers mostly (`sort_key`), instead of a hash map of the ~8 distinct words a case's
        // entry holds (most of them its code's parts) and then a sort of the words by `memcmp`.
        let mut pairs: Vec<(u64, &'t str, u32, u32)> = Vec::with_capacity(entries.len() * 12);
        let mut lengths = Vec::with_capacity(entries.len());
        let mut total: u64 = 0;
        let mut tokens: Vec<&'t str> = Vec::new();
        for (position, (_, text)) in entries.iter().enumerate() {
            // The entry is already folded to lower-case ASCII words (`normalize_text`), which
            // FTS5's unicode61 tokenizer splits at the spaces.
            tokens.clear();
            tokens.extend(text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|token| !token.is_empty()));
            lengths.push(tokens.len() as u32);
            total += tokens.len() as u64;
            tokens.sort_unstable();
            let mut start = 0;
            while start < tokens.len() {
                let end = start + tokens[start..].iter().take_while(|token| **token == tokens[start]).count();
                pairs.push((sort_key(tokens[start]), tokens[start], position as u32, (end - start) as u32));
                start = end;
            }
        }
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)).then(a.2.cmp(&b.2)));
        let mut words: Vec<(&'t str, Vec<(u32, u32)>)> = Vec::new();
        for (_, word, case, count) in pairs {
            match words.last_mut() {
                Some((last, postings)) if *last == word => postings.push((case, count)),
                _ => words.push((word, vec![(case, count)])),
            }
        }
        let average_length = if entries.is_empty() { 0.0 } else { total as f64 / entries.len() as f64 };
        WordIndex { rowids: entries.iter().map(|(rowid, _)| *rowid).collect(), lengths, words, average_length }
    }

    /// The words beginning with `prefix` (what `"prefix"*` matches).
    fn beginning_with(&self, prefix: &str) -> &[(&'t str, Vec<(u32, u32)>)] {
        let start = self.words.partition_point(|(word, _)| *word < prefix);
        let count = self.words[start..].iter().take_while(|(word, _)| word.starts_with(prefix)).count();
        &self.words[start..start + count]
    }
}

/// A word's first eight bytes as a big-endian number (zero-padded): its order is the words'
/// byte order wherever the first eight bytes differ, so most comparisons of the sort are one
/// integer comparison. Words hold no NUL, so a shorter word sorts first as it should.
fn sort_key(word: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let head = &word.as_bytes()[..word.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// What ranking one person's prefixes needs, kept between people so nothing is allocated per case.
struct Ranking {
    frequency: Vec<u32>,
    score: Vec<f64>,
    term_cases: Vec<u32>,
    matched: Vec<u32>,
}

impl Ranking {
    fn new(cases: usize) -> Ranking {
        Ranking { frequency: vec![0; cases], score: vec![0.0; cases], term_cases: Vec::new(), matched: Vec::new() }
    }

    /// The cases the full-text query of `terms` OR-ed would return, best first, at most `limit`.
    fn best(&mut self, index: &WordIndex<'_>, terms: &[String], limit: usize) -> Vec<u32> {
        self.ranked(index, terms, limit).into_iter().map(|(_, case)| case).collect()
    }

    /// [`Ranking::best`] with each case's bm25 score, as FTS5's `fts5Bm25Function` computes it
    /// (its `rank` is the score negated).
    fn ranked(&mut self, index: &WordIndex<'_>, terms: &[String], limit: usize) -> Vec<(f64, u32)> {
        let rows = index.rowids.len() as i64;
        for term in terms {
            self.term_cases.clear();
            for (_, postings) in index.beginning_with(term) {
                for &(case, count) in postings {
                    if self.frequency[case as usize] == 0 {
                        self.term_cases.push(case);
                    }
                    self.frequency[case as usize] += count;
                }
            }
            let hits = self.term_cases.len() as i64;
            if hits == 0 {
                continue;
            }
            let mut idf = (((rows - hits) as f64 + 0.5) / (hits as f64 + 0.5)).ln();
            if idf <= 0.0 {
                idf = 1e-6;
            }
            for &case in &self.term_cases {
                let frequency = f64::from(std::mem::take(&mut self.frequency[case as usize]));
                let length = f64::from(index.lengths[case as usize]);
                let slot = &mut self.score[case as usize];
                if *slot == 0.0 {
                    self.matched.push(case);
                }
                *slot +=
                    idf * ((frequency * (K1 + 1.0)) / (frequency + K1 * (1.0 - B + B * length / index.average_length)));
            }
        }
        let mut ranked: Vec<(f64, u32)> =
            self.matched.drain(..).map(|case| (std::mem::take(&mut self.score[case as usize]), case)).collect();
        let order = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, order);
            ranked.truncate(limit);
        }
        ranked.sort_unstable_by(order);
        ranked
    }
}

impl Workspace {
    /// [`Workspace::likely_duplicates`] of each of `people`, in their order: for a file of
    /// past cases, in one pass over the full-text index instead of one query per person.
    pub fn likely_duplicates_of_many(&self, people: &[CaseFields]) -> Result<Vec<Vec<DuplicateCandidate>>> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let entries: Vec<(i64, String)> = {
            let mut statement = self.conn.prepare("SELECT rowid, search_text FROM cases ORDER BY rowid")?;
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<rusqlite::Result<_>>()?
        };
        let index = WordIndex::new(&entries);
        let mut ranking = Ranking::new(entries.len());
        let mut known: HashMap<u32, Option<PreparedCandidate<(CaseId, CaseCode)>>> = HashMap::new();
        let mut statement = self.conn.prepare(
            "SELECT c.id, c.code, s.state FROM cases c JOIN case_states s ON s.case_rowid = c.rowid WHERE c.rowid = ?1",
        )?;
        let mut found_for_all = Vec::with_capacity(people.len());
        for fields in people {
            let person = person_details(fields);
            let terms = duplicate_terms(&person);
            if terms.is_empty() {
                found_for_all.push(Vec::new());
                continue;
            }
            let best = ranking.best(&index, &terms, DUPLICATE_PREFILTER_LIMIT);
            for case in &best {
                if known.contains_key(case) {
                    continue;
                }
                let row = statement
                    .query_row([index.rowids[*case as usize]], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, Vec<u8>>(2)?))
                    })
                    .map(Some)
                    .or_else(|error| match error {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        other => Err(other),
                    })?;
                let candidate = match row {
                    None => None,
                    Some((id, code, state)) => {
                        let json = super::unpack_projection(&state)?;
                        let stored: StoredPerson =
                            serde_json::from_slice(&json).map_err(|_| Error::Corrupt("case state".into()))?;
                        let code = CaseCode::parse(&code).ok_or_else(|| Error::Corrupt("case code".into()))?;
                        Some(PreparedCandidate::new(Candidate {
                            id: (id.parse::<CaseId>()?, code),
                            person: stored_details(stored.fields),
                        }))
                    }
                };
                known.insert(*case, candidate);
            }
            let candidates = best.iter().filter_map(|case| known[case].as_ref());
            found_for_all.push(
                matching::find_matches_prepared(&person, candidates)
                    .into_iter()
                    .map(|found| DuplicateCandidate {
                        case_id: found.candidate.id.0,
                        code: found.candidate.id.1.clone(),
                        score: found.score,
                        reasons: found.reasons,
                    })
                    .collect(),
            );
        }
        Ok(found_for_all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::model::Country;
    use crate::store::CreateOptions;

    fn workspace(dir: &std::path::Path) -> Workspace {
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
        Workspace::create(&dir.join("ws"), "correct horse battery staple", &options).unwrap()
    }

    /// Names like the import benchmark's: a common given name and a family name of syllables.
    fn generated(seed: &mut u64) -> CaseFields {
        const GIVEN: &[&str] = &["José", "María", "Ana", "Luz", "Jean", "Chantal", "Kervin", "Nadège", "Olena", "Hà"];
        const SYLLABLES: &[&str] = &["mar", "ti", "nez", "jo", "seph", "lu", "ci", "an", "fran", "pé", "rez", "ca"];
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as usize
        };
        let given = GIVEN[next() % GIVEN.len()];
        let family: String = (0..2 + next() % 3).map(|_| SYLLABLES[next() % SYLLABLES.len()]).collect();
        let mut fields = CaseFields::named(&format!("{given} {family}")).unwrap();
        if next() % 4 == 0 {
            fields.aliases = vec![format!("{} {family}", GIVEN[next() % GIVEN.len()])];
        }
        fields.birth_date = chrono::NaiveDate::from_ymd_opt(1960 + (next() % 40) as i32, 1, 1);
        fields.nationalities = vec![Country::parse(["LC", "VE", "HT"][next() % 3]).unwrap()];
        fields
    }

    fn people(seed: &mut u64, count: usize) -> Vec<CaseFields> {
        (0..count).map(|_| generated(seed)).collect()
    }

    #[test]
    fn words_sorted_by_their_key_are_in_byte_order() {
        let mut words = vec![
            "b776g6",
            "lc",
            "lcb776g6",
            "ab",
            "abc",
            "abcdefgh",
            "abcdefghi",
            "abcdefgg",
            "a",
            "zz",
            "7",
            "76g6",
            "abcdefgh",
        ];
        let mut by_key = words.clone();
        by_key.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)).then_with(|| a.cmp(b)));
        words.sort();
        assert_eq!(by_key, words);
    }

    #[test]
    fn the_ranking_is_fts5s_bm25_to_the_last_bit() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        workspace.create_cases(people(&mut seed, 400)).unwrap();
        let entries: Vec<(i64, String)> = {
            let mut statement = workspace.conn.prepare("SELECT rowid, search_text FROM cases ORDER BY rowid").unwrap();
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
        };
        let index = WordIndex::new(&entries);
        let mut ranking = Ranking::new(entries.len());
        let mut compared = 0;
        for probe in people(&mut seed, 40) {
            let terms = duplicate_terms(&person_details(&probe));
            let query = terms.iter().map(|term| format!("\"{term}\"*")).collect::<Vec<_>>().join(" OR ");
            let mut statement =
                workspace.conn.prepare("SELECT rowid, rank FROM case_search WHERE case_search MATCH ?1").unwrap();
            let mut fts: Vec<(i64, f64)> = statement
                .query_map([&query], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            fts.sort_by_key(|(rowid, _)| *rowid);
            let mut ours: Vec<(i64, f64)> = ranking
                .ranked(&index, &terms, usize::MAX)
                .into_iter()
                .map(|(score, case)| (index.rowids[case as usize], -score))
                .collect();
            ours.sort_by_key(|(rowid, _)| *rowid);
            assert!(!fts.is_empty());
            assert_eq!(ours.len(), fts.len(), "the same cases match");
            for ((rowid, rank), (fts_rowid, fts_rank)) in ours.iter().zip(&fts) {
                assert_eq!(rowid, fts_rowid);
                assert_eq!(rank.to_bits(), fts_rank.to_bits(), "the same score, bit for bit");
            }
            compared += fts.len();
        }
        assert!(compared > 1000, "the probes shared prefixes with many cases ({compared})");
    }

    /// The import's check of many rows gives each row what `harbour case new` would give it.
    #[test]
    fn many_at_once_finds_what_one_at_a_time_finds() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let existing = people(&mut seed, 180);
        workspace.create_cases(existing.clone()).unwrap();
        // Rows that are people already here (spelled otherwise, or exactly), and new people.
        let mut rows: Vec<CaseFields> = existing.iter().step_by(9).cloned().collect();
        for row in rows.iter_mut().step_by(2) {
            row.name = row.name.to_uppercase();
        }
        rows.extend(people(&mut seed, 30));
        rows.push(CaseFields::named("Jo").unwrap());
        let many = workspace.likely_duplicates_of_many(&rows).unwrap();
        assert_eq!(many.len(), rows.len());
        let sorted = |mut found: Vec<DuplicateCandidate>| {
            found.sort_by(|a, b| b.score.cmp(&a.score).then(a.case_id.cmp(&b.case_id)));
            found
        };
        let mut found = 0;
        for (row, from_many) in rows.iter().zip(many) {
            let one = workspace.likely_duplicates(row).unwrap();
            found += one.len();
            assert_eq!(sorted(from_many), sorted(one));
        }
        assert!(found >= 20, "the rows of people already here were found ({found})");
    }

    /// With more cases sharing a name's beginning than the prefilter hands on, the person is
    /// still found first.
    #[test]
    fn many_at_once_finds_the_person_among_many_sharing_a_beginning() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = workspace(dir.path());
        let mut target = CaseFields::named("Wendeline Ostrakova").unwrap();
        target.birth_date = chrono::NaiveDate::from_ymd_opt(1985, 1, 1);
        let target = workspace.create_case(target).unwrap();
        let mut seed = 0x1234_5678_9ABC_DEF0_u64;
        let crowd: Vec<CaseFields> = (0..600)
            .map(|index| {
                let mut fields = generated(&mut seed);
                fields.name = format!("Wendy {}", fields.name);
                if index % 2 == 0 {
                    fields.name.push_str(" Ostra");
                }
                fields
            })
            .collect();
        workspace.create_cases(crowd).unwrap();
        let mut probe = CaseFields::named("ostrakova wendeline").unwrap();
        // The crowd's "Wendy … Ostra" of the same birth year are likely duplicates too (~77),
        // below the same name and year (85).
        probe.birth_date = chrono::NaiveDate::from_ymd_opt(1985, 6, 1);
        let found = workspace.likely_duplicates_of_many(&[probe.clone(), generated(&mut seed)]).unwrap();
        assert_eq!(found[0].first().map(|candidate| (candidate.case_id, candidate.score)), Some((target.id, 85)));
        assert!(found[0].len() > 1, "the crowd's likely duplicates come after");
        assert!(found[1].iter().all(|candidate| candidate.case_id != target.id));
        assert_eq!(found[0].first(), workspace.likely_duplicates(&probe).unwrap().first());
    }
}
