//! The duplicate check: before a new case is made, the people already known who may be the
//! same person. A pure function over summaries the caller has already decrypted; it keeps
//! nothing, logs nothing and never puts a name in an error.
//!
//! Names are compared after [`normalize_name`] (accents and scripts folded to ASCII with
//! `deunicode`, case folded, punctuation dropped), token by token regardless of order, with a
//! small transliteration skeleton so that "José Pérez", "perez jose" and "Хосе Перес"
//! (which folds to "khose peres") meet. Birth years within one year and a shared nationality
//! add weight; a birth year further apart takes weight away.

use serde::{Deserialize, Serialize};

/// A person about to be recorded as a new case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDetails {
    pub name: String,
    pub aliases: Vec<String>,
    pub birth_year: Option<i32>,
    /// ISO 3166-1 alpha-2 codes.
    pub nationalities: Vec<String>,
}

/// An existing case as the duplicate check sees it; `id` is whatever the caller uses to find
/// the case again (a case id or code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate<Id> {
    pub id: Id,
    pub person: PersonDetails,
}

/// A likely match, with a score from 0 to 100 and the reasons behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match<'a, Id> {
    pub candidate: &'a Candidate<Id>,
    pub score: u8,
    pub reasons: Vec<MatchReason>,
}

/// Why two records look alike. Each has a translation key for the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// Every part of the shorter name matches, spelled the same once folded.
    SameName,
    /// The names match allowing for transliteration or a small spelling difference.
    SimilarName,
    /// The match is through an alias on one side or the other.
    Alias,
    SameBirthYear,
    BirthYearWithinOne,
    SharedNationality,
}

impl MatchReason {
    /// The key of this reason in `assets/i18n/strings.json`.
    pub fn translation_key(self) -> &'static str {
        match self {
            MatchReason::SameName => "match.same_name",
            MatchReason::SimilarName => "match.similar_name",
            MatchReason::Alias => "match.alias",
            MatchReason::SameBirthYear => "match.same_birth_year",
            MatchReason::BirthYearWithinOne => "match.birth_year_within_one",
            MatchReason::SharedNationality => "match.shared_nationality",
        }
    }
}

/// The lowest score offered to the worker as a possible duplicate.
pub const MATCH_THRESHOLD: u8 = 50;

/// Folds a name for search and comparison: accents and other scripts to ASCII (`deunicode`),
/// lower case, apostrophes removed, any other punctuation turned into a space, spaces
/// collapsed. Word order is kept (search wants it); use [`name_key`] to ignore order.
///
/// `normalize_name("  José-María  O'Brien ")` is `"jose maria obrien"`.
pub fn normalize_name(text: &str) -> String {
    let folded = deunicode::deunicode(text).to_lowercase();
    let mut out = String::with_capacity(folded.len());
    for ch in folded.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if ch == '\'' || ch == '`' {
            // O'Brien and OBrien are the same name.
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// [`normalize_name`] with the words sorted, so that two names with the same words in any
/// order have the same key.
pub fn name_key(text: &str) -> String {
    let mut tokens: Vec<String> = tokens(text);
    tokens.sort();
    tokens.join(" ")
}

/// Returns the candidates that may be the same person, best first, each scoring at least
/// [`MATCH_THRESHOLD`].
pub fn find_matches<'a, Id>(person: &PersonDetails, candidates: &'a [Candidate<Id>]) -> Vec<Match<'a, Id>> {
    let names = all_names(person);
    let mut matches: Vec<Match<'a, Id>> = candidates
        .iter()
        .filter_map(|candidate| compare(person, &names, candidate, &all_names(&candidate.person)))
        .filter(|found| found.score >= MATCH_THRESHOLD)
        .collect();
    // Stable sort keeps the caller's order among equal scores.
    matches.sort_by_key(|found| std::cmp::Reverse(found.score));
    matches
}

/// A candidate with its names folded once, for checking many people against the same cases
/// (an import): [`find_matches_prepared`] gives what [`find_matches`] gives.
#[derive(Clone, Debug)]
pub struct PreparedCandidate<Id> {
    pub candidate: Candidate<Id>,
    names: Vec<Name>,
}

impl<Id> PreparedCandidate<Id> {
    pub fn new(candidate: Candidate<Id>) -> PreparedCandidate<Id> {
        let names = all_names(&candidate.person);
        PreparedCandidate { candidate, names }
    }
}

/// [`find_matches`] over prepared candidates, in the order given.
pub fn find_matches_prepared<'a, Id: 'a>(
    person: &PersonDetails,
    candidates: impl IntoIterator<Item = &'a PreparedCandidate<Id>>,
) -> Vec<Match<'a, Id>> {
    let names = all_names(person);
    let mut matches: Vec<Match<'a, Id>> = candidates
        .into_iter()
        .filter_map(|prepared| compare(person, &names, &prepared.candidate, &prepared.names))
        .filter(|found| found.score >= MATCH_THRESHOLD)
        .collect();
    matches.sort_by_key(|found| std::cmp::Reverse(found.score));
    matches
}

/// A name's word, folded, with what the comparisons read of it.
#[derive(Clone, Debug)]
struct Word {
    text: String,
    skeleton: String,
    consonants: String,
}

/// A name as its words, and as the consonants of its sorted skeletons run together.
#[derive(Clone, Debug)]
struct Name {
    words: Vec<Word>,
    run: String,
}

/// Name tokens: the words of [`normalize_name`].
fn tokens(text: &str) -> Vec<String> {
    normalize_name(text).split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// Each name of a person (the name first, then aliases) as words.
fn all_names(person: &PersonDetails) -> Vec<Name> {
    std::iter::once(&person.name)
        .chain(&person.aliases)
        .map(|name| tokens(name))
        .filter(|tokens| !tokens.is_empty())
        .map(|tokens| {
            let words: Vec<Word> = tokens
                .into_iter()
                .map(|text| {
                    let skeleton = skeleton(&text);
                    let consonants = consonants(&skeleton);
                    Word { text, skeleton, consonants }
                })
                .collect();
            let mut sorted: Vec<&str> = words.iter().map(|word| word.skeleton.as_str()).collect();
            sorted.sort();
            let run = consonants(&sorted.concat());
            Name { words, run }
        })
        .collect()
}

fn compare<'a, Id>(
    person: &PersonDetails,
    names: &[Name],
    candidate: &'a Candidate<Id>,
    theirs: &[Name],
) -> Option<Match<'a, Id>> {
    // The best pairing of any name of one with any name of the other.
    let mut best: Option<(f64, bool)> = None;
    for (i, mine) in names.iter().enumerate() {
        for (j, other) in theirs.iter().enumerate() {
            let similarity = name_similarity(mine, other);
            let through_alias = i > 0 || j > 0;
            let better = match best {
                None => true,
                Some((score, alias)) => similarity > score || (similarity == score && alias && !through_alias),
            };
            if better {
                best = Some((similarity, through_alias));
            }
        }
    }
    let (similarity, through_alias) = best?;
    if similarity < 0.8 {
        return None;
    }

    let mut reasons = Vec::new();
    let mut score = similarity * 60.0;
    reasons.push(if similarity >= 0.999 { MatchReason::SameName } else { MatchReason::SimilarName });
    if through_alias {
        reasons.push(MatchReason::Alias);
    }

    if let (Some(mine), Some(theirs)) = (person.birth_year, candidate.person.birth_year) {
        match (mine - theirs).abs() {
            0 => {
                score += 25.0;
                reasons.push(MatchReason::SameBirthYear);
            }
            1 => {
                score += 15.0;
                reasons.push(MatchReason::BirthYearWithinOne);
            }
            // Birth years are often estimated: a gap lowers the score but does not hide a name.
            _ => score -= 15.0,
        }
    }

    let known = !person.nationalities.is_empty() && !candidate.person.nationalities.is_empty();
    let shared = person.nationalities.iter().any(|mine| {
        candidate.person.nationalities.iter().any(|theirs| mine.trim().eq_ignore_ascii_case(theirs.trim()))
    });
    if shared {
        score += 15.0;
        reasons.push(MatchReason::SharedNationality);
    } else if known {
        score -= 10.0;
    }

    let score = score.clamp(0.0, 100.0).round() as u8;
    Some(Match { candidate, score, reasons })
}

/// How alike two names are, from 0 to 1, ignoring word order: every word of the shorter name
/// is paired with its best match in the longer one. A one-word name against a longer one
/// counts for less, since a given name alone says little.
fn name_similarity(a: &Name, b: &Name) -> f64 {
    by_words(&a.words, &b.words).max(joined(a, b))
}

/// Names whose words are split differently (Al-Hassan, Alhassan): the words run together in
/// sorted order, compared by their consonants.
fn joined(a: &Name, b: &Name) -> f64 {
    if a.run.len() < 6 || b.run.len() < 6 {
        return 0.0;
    }
    if a.run == b.run { 0.9 } else { 0.0 }
}

fn by_words(a: &[Word], b: &[Word]) -> f64 {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return 0.0;
    }
    let mut used = vec![false; long.len()];
    let mut total = 0.0;
    for word in short {
        let mut best = (0.0, None);
        for (k, other) in long.iter().enumerate() {
            if used[k] {
                continue;
            }
            let similarity = word_similarity(word, other);
            if similarity > best.0 {
                best = (similarity, Some(k));
            }
        }
        if let Some(k) = best.1 {
            used[k] = true;
        }
        total += best.0;
    }
    let mut similarity = total / short.len() as f64;
    if short.len() == 1 && long.len() > 1 {
        similarity *= 0.75;
    }
    similarity
}

/// 1 for the same folded word, 0.97 for the same transliteration skeleton, 0.9 for an initial
/// or the same consonants (Mohammed, Muhammad), Jaro-Winkler on the skeletons when close,
/// else 0.
fn word_similarity(a: &Word, b: &Word) -> f64 {
    if a.text == b.text {
        return 1.0;
    }
    let (sa, sb) = (&a.skeleton, &b.skeleton);
    if sa == sb {
        return 0.97;
    }
    let initial = |short: &str, long: &str| short.len() == 1 && long.len() > 1 && long.starts_with(short);
    if initial(&a.text, &b.text) || initial(&b.text, &a.text) {
        return 0.9;
    }
    let (ca, cb) = (&a.consonants, &b.consonants);
    if ca == cb && ca.len() >= 3 {
        return 0.9;
    }
    let similarity = strsim::jaro_winkler(sa, sb);
    if similarity >= 0.9 && sa.len() >= 4 && sb.len() >= 4 { similarity * 0.95 } else { 0.0 }
}

/// The skeleton without vowels, for names whose vowels vary between transliterations.
fn consonants(skeleton: &str) -> String {
    skeleton.chars().filter(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')).collect()
}

/// A rough key that merges the spellings a name takes when it passes between Latin and other
/// scripts: j/kh/h, z/s, ph/f, w/v, y/i, c/k/q, doubled letters.
fn skeleton(word: &str) -> String {
    let mut text = word.replace("kh", "h").replace("ph", "f").replace("ck", "k").replace("ou", "u");
    text = text
        .chars()
        .map(|ch| match ch {
            'j' => 'h',
            'z' => 's',
            'w' => 'v',
            'y' => 'i',
            'c' | 'q' => 'k',
            other => other,
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if !out.ends_with(ch) {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_accents_case_and_punctuation() {
        assert_eq!(normalize_name("  José-María  O'Brien "), "jose maria obrien");
        assert_eq!(normalize_name("ÉLODIE d’Arc"), "elodie darc");
        assert_eq!(name_key("Pérez, José María"), "jose maria perez");
        assert_eq!(name_key("jose maria perez"), "jose maria perez");
    }

    fn person(name: &str, aliases: &[&str], birth_year: Option<i32>, nationalities: &[&str]) -> PersonDetails {
        PersonDetails {
            name: name.to_owned(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            birth_year,
            nationalities: nationalities.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    /// The new person against one candidate: `score reasons`, or `no match`.
    fn check(new: PersonDetails, known: PersonDetails, expect: expect_test::Expect) {
        let candidates = [Candidate { id: "LC-7K3P-Q9", person: known }];
        let found = find_matches(&new, &candidates);
        let outcome = match found.first() {
            Some(m) => format!("{} {:?}", m.score, m.reasons),
            None => "no match".to_owned(),
        };
        expect.assert_eq(&outcome);
    }

    #[test]
    fn duplicate_check_folds_accents_order_and_transliteration() {
        use expect_test::expect;
        let known = || person("José María Pérez", &[], Some(1990), &["VE"]);
        check(
            person("perez jose maria", &[], Some(1990), &["VE"]),
            known(),
            expect!["100 [SameName, SameBirthYear, SharedNationality]"],
        );
        check(person("PÉREZ, José", &[], Some(1991), &[]), known(), expect!["75 [SameName, BirthYearWithinOne]"]);
        check(
            person("Хосе Перес", &[], Some(1990), &["VE"]),
            known(),
            expect!["98 [SimilarName, SameBirthYear, SharedNationality]"],
        );
        check(person("Jose Peres", &[], None, &[]), known(), expect!["59 [SimilarName]"]);
        check(
            person("Jose Maria Perez", &[], Some(1975), &["VE"]),
            known(),
            expect!["60 [SameName, SharedNationality]"],
        );
        check(person("Ana Lucía Gómez", &[], Some(1990), &["VE"]), known(), expect!["no match"]);
        check(person("Maria", &[], Some(1990), &["CO"]), known(), expect!["no match"]);
        check(
            person("Mariana Lopez", &["Pepe Pérez", "José M. Pérez"], Some(1989), &["VE"]),
            known(),
            expect!["88 [SimilarName, Alias, BirthYearWithinOne, SharedNationality]"],
        );
        check(
            person("Мария Иванова", &[], Some(2001), &["UA"]),
            person("Mariya Ivanova", &[], Some(2001), &["UA", "RU"]),
            expect!["99 [SimilarName, SameBirthYear, SharedNationality]"],
        );
        check(
            person("Mohammed Al-Hassan", &[], Some(1985), &[]),
            person("Muhammad Alhassan", &[], Some(1985), &[]),
            expect!["79 [SimilarName, SameBirthYear]"],
        );
    }

    #[test]
    fn matches_come_best_first() {
        let new = person("Jean-Baptiste Joseph", &[], Some(1988), &["HT"]);
        let candidates = [
            Candidate { id: 1, person: person("Jean Joseph", &[], Some(1970), &["HT"]) },
            Candidate { id: 2, person: person("Joseph Jean-Baptiste", &[], Some(1988), &["HT"]) },
            Candidate { id: 3, person: person("Jean Baptiste Josef", &[], Some(1989), &["HT"]) },
        ];
        let ids: Vec<i32> = find_matches(&new, &candidates).iter().map(|m| m.candidate.id).collect();
        assert_eq!(ids, [2, 3, 1]);
    }

    #[test]
    fn skeleton_merges_transliterations() {
        assert_eq!(skeleton(&normalize_name("Хосе")), skeleton("jose"));
        assert_eq!(skeleton(&normalize_name("Перес")), skeleton("perez"));
    }
}
