//! Figures for docs/PERFORMANCE.md: durable write latency (against the same writes without
//! encryption, and against the bare statements on plain SQLite), search among 100,000 cases,
//! and unlock time.
//!
//!     cargo bench -p harbour-core --features unencrypted-baseline --bench store
//!     HARBOUR_BENCH_CASES=20000 ...    (a quicker run)
//!     HARBOUR_BENCH_DIR=/dev/shm ...   (no disk: CPU cost only)
//!
//! The feature builds `Workspace::create_unencrypted_baseline`, the baseline's workspace.
//!
//! Runs on the disk that holds the target directory, with synchronous=FULL like the app.

use std::path::Path;
use std::time::{Duration, Instant};

use harbour_core::crypto::{self, KdfParams};
use harbour_core::model::{CaseFields, Field, FieldValue};
use harbour_core::{CaseQuery, CreateOptions, Workspace};
use rusqlite::{Connection, params};

const PASSPHRASE: &str = "benchmark passphrase";
const WRITES: usize = 2_000;
const SEARCHES: usize = 1_000;

fn main() {
    // `cargo bench` passes --bench; this is not a criterion harness.
    let cases: usize = std::env::var("HARBOUR_BENCH_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(100_000);
    // HARBOUR_BENCH_DIR=/dev/shm measures without the disk (fsync is free there).
    let parent = std::env::var_os("HARBOUR_BENCH_DIR").map_or_else(target_dir, std::path::PathBuf::from);
    let root = tempfile::Builder::new().prefix("harbour-bench").tempdir_in(parent).unwrap();
    println!("Harbour core benchmark ({cases} cases, {WRITES} writes, {SEARCHES} searches)\n");
    writes(root.path());
    page_costs(root.path());
    search_and_unlock(root.path(), cases);
}

fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// Cases written to round-robin, each seeded with a realistic history first.
const WRITE_CASES: usize = 100;
const HISTORY: usize = 30;

fn writes(root: &Path) {
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let note = "Seen at the clinic; follow-up booked for next week with an interpreter.";
    let mut workspace = Workspace::create(&root.join("writes"), PASSPHRASE, &options).unwrap();
    let mut unencrypted = Workspace::create_unencrypted_baseline(&root.join("unencrypted"), &options).unwrap();
    let cases = seed_history(&mut workspace, note);
    let unencrypted_cases = seed_history(&mut unencrypted, note);
    let events = workspace.case_events(cases[0]).unwrap();
    let sealed_size = events.iter().map(|event| event.ciphertext.len()).sum::<usize>() / events.len();
    let state = workspace.export_case(cases[0]).unwrap();
    let state_size = zstd::bulk::compress(&serde_json::to_vec(&state).unwrap(), 1).unwrap().len();
    let plain = PlainStore::new(&root.join("plain.db"), sealed_size, state_size);
    // Timed: a note or a field edit (the two most common writes) across the cases, each followed
    // by the same write without encryption and by the bare statements on plain SQLite, so that
    // all three see the same disk and the same noise.
    let mut harbour = Vec::with_capacity(WRITES);
    let mut baseline = Vec::with_capacity(WRITES);
    let mut statements = Vec::with_capacity(WRITES);
    for round in 0..WRITES {
        let start = Instant::now();
        write_one(&mut workspace, cases[round % cases.len()], round, note);
        harbour.push(start.elapsed());
        let start = Instant::now();
        write_one(&mut unencrypted, unencrypted_cases[round % cases.len()], round, note);
        baseline.push(start.elapsed());
        let start = Instant::now();
        plain.write(round);
        statements.push(start.elapsed());
    }
    let (h50, h95) = (percentile(&mut harbour, 50), percentile(&mut harbour, 95));
    let (b50, b95) = (percentile(&mut baseline, 50), percentile(&mut baseline, 95));
    let (s50, s95) = (percentile(&mut statements, 50), percentile(&mut statements, 95));
    println!(
        "Durable write of one case event (note or field edit) on cases with ~{} events, synchronous=FULL, WAL:",
        HISTORY + WRITES / WRITE_CASES
    );
    println!("  Harbour (SQLCipher + AES-GCM seal + projection + audit): median {h50:?}  p95 {h95:?}");
    println!(
        "  the same writes without encryption (plain SQLite file, events not sealed): median {b50:?}  p95 {b95:?}"
    );
    println!("  the bare statements on plain SQLite, same row sizes: median {s50:?}  p95 {s95:?}");
    println!("  ratio of medians to the same writes without encryption: {:.2}x", h50.as_secs_f64() / b50.as_secs_f64());
    println!("  ratio of medians to the bare statements: {:.2}x\n", h50.as_secs_f64() / s50.as_secs_f64());
}

/// What one written page adds to a durable commit, with and without SQLCipher: commits that
/// each rewrite `k` rows stored one per page, on the same disk, interleaved.
fn page_costs(root: &Path) {
    const ROWS: i64 = 2_000;
    const COMMITS: usize = 1_000;
    let open = |name: &str, encrypted: bool| {
        let conn = Connection::open(root.join(name)).unwrap();
        if encrypted {
            let key = harbour_core::crypto::Secret::random();
            conn.execute_batch(&format!(
                "PRAGMA key = \"x'{}'\"; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;",
                key.to_hex().as_str()
            ))
            .unwrap();
        }
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0)).unwrap();
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;
             CREATE TABLE pages (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);",
        )
        .unwrap();
        // 3,000-byte rows: one per 4 KiB page.
        conn.execute_batch("BEGIN").unwrap();
        for id in 0..ROWS {
            let mut filler = vec![0u8; 3_000];
            harbour_core::crypto::fill_random(&mut filler);
            conn.execute("INSERT INTO pages VALUES (?1, ?2)", params![id, filler]).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        conn
    };
    let encrypted = open("pages-sqlcipher.db", true);
    let plain = open("pages-plain.db", false);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    // New random bytes on every commit (SQLite skips a write that changes nothing), the same in
    // both files, so that the difference is the encryption's work alone.
    let mut filler = vec![0u8; 3_000];
    let mut commit = |conn: &Connection, rows: &[i64], fresh: bool| {
        if fresh {
            harbour_core::crypto::fill_random(&mut filler);
        }
        let start = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        for id in rows {
            conn.execute("UPDATE pages SET filler = ?2 WHERE id = ?1", params![id, filler]).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        start.elapsed()
    };
    println!(
        "What a written page costs: a durable commit rewriting k rows that sit on k pages (WAL, synchronous=FULL):"
    );
    let mut medians = Vec::new();
    for pages in [1usize, 2, 4, 8] {
        let (mut with, mut without) = (Vec::with_capacity(COMMITS), Vec::with_capacity(COMMITS));
        for _ in 0..COMMITS {
            let rows: Vec<i64> = (0..pages).map(|_| (next(&mut seed) % ROWS as u64) as i64).collect();
            with.push(commit(&encrypted, &rows, true));
            without.push(commit(&plain, &rows, false));
        }
        let (e, p) = (percentile(&mut with, 50), percentile(&mut without, 50));
        medians.push((e, p));
        println!(
            "  {pages} page(s): SQLCipher median {e:?}, plain SQLite median {p:?}, ratio {:.2}x",
            e.as_secs_f64() / p.as_secs_f64()
        );
    }
    let slope = |pick: fn(&(Duration, Duration)) -> Duration| {
        (pick(&medians[3]).as_secs_f64() - pick(&medians[0]).as_secs_f64()) / 7.0 * 1e6
    };
    println!(
        "  each page beyond the first: SQLCipher {:.1} µs, plain SQLite {:.1} µs\n",
        slope(|pair| pair.0),
        slope(|pair| pair.1)
    );
}

/// Cases to write to, each with a realistic history first.
fn seed_history(workspace: &mut Workspace, note: &str) -> Vec<harbour_core::CaseId> {
    let cases: Vec<_> = (0..WRITE_CASES)
        .map(|index| {
            workspace.create_case(CaseFields::named(&format!("Benchmark Person {index}")).unwrap()).unwrap().id
        })
        .collect();
    for round in 0..HISTORY {
        for case in &cases {
            write_one(workspace, *case, round, note);
        }
    }
    cases
}

fn write_one(workspace: &mut Workspace, case: harbour_core::CaseId, round: usize, note: &str) {
    if round.is_multiple_of(2) {
        workspace.add_note(case, note).unwrap();
    } else {
        let risk = if round % 4 == 1 { "high" } else { "low" };
        workspace.update_case(case, vec![FieldValue::parse(Field::RiskLevel, risk).unwrap()], None).unwrap();
    }
}

/// The same statements as one Harbour write, with rows of the same sizes, on plain SQLite.
struct PlainStore {
    conn: Connection,
    ciphertext: Vec<u8>,
}

impl PlainStore {
    fn new(path: &Path, sealed_size: usize, state_size: usize) -> PlainStore {
        let conn = Connection::open(path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0)).unwrap();
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE events (seq INTEGER PRIMARY KEY, device_id TEXT, device_seq INTEGER, id TEXT, case_id TEXT,
                 kind TEXT, hlc TEXT, key_id TEXT, nonce BLOB, ciphertext BLOB, sent INTEGER, UNIQUE (device_id, device_seq));
             CREATE INDEX events_by_case ON events (case_id, hlc);
             CREATE TABLE cases (id TEXT UNIQUE, code TEXT UNIQUE, name TEXT, status TEXT, risk TEXT, team TEXT,
                 created_ms INTEGER, updated_ms INTEGER, needs_review INTEGER, search_text TEXT);
             CREATE TABLE case_states (case_rowid INTEGER PRIMARY KEY, state BLOB NOT NULL);
             CREATE INDEX cases_by_update ON cases (updated_ms);
             CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT, actor TEXT, action TEXT, case_id TEXT, detail TEXT, hash TEXT);
             INSERT INTO meta VALUES ('device_seq', '0'), ('hlc', '0'), ('audit_head', '0');",
        )
        .unwrap();
        let mut state = vec![0u8; state_size];
        harbour_core::crypto::fill_random(&mut state);
        conn.execute(
            "INSERT INTO cases VALUES ('case', 'LC-0000-00', 'name', 'active', NULL, NULL, 0, 0, 0, 'name')",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO case_states VALUES (1, ?1)", [&state]).unwrap();
        PlainStore { conn, ciphertext: vec![7u8; sealed_size] }
    }

    fn write(&self, round: usize) {
        let conn = &self.conn;
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let _: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'device_seq'", [], |row| row.get(0)).unwrap();
        let id = uuid::Uuid::now_v7().to_string();
        conn.execute(
            "INSERT INTO events VALUES (NULL, 'device', ?2, ?1, 'case', 'note.added', ?3, 'key', ?4, ?5, 0)",
            params![id, round as i64, format!("{round:016}"), vec![1u8; 12], self.ciphertext],
        )
        .unwrap();
        let loaded: Vec<u8> = conn
            .query_row(
                "SELECT s.state FROM cases c JOIN case_states s ON s.case_rowid = c.rowid WHERE c.id = 'case'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        conn.execute("UPDATE cases SET updated_ms = ?1 WHERE id = 'case'", params![round as i64]).unwrap();
        conn.execute("UPDATE case_states SET state = ?1 WHERE case_rowid = 1", params![loaded]).unwrap();
        let _: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |row| row.get(0)).unwrap();
        conn.execute(
            "INSERT INTO audit (at, actor, action, case_id, detail, hash) VALUES ('now', 'worker', 'note.add', 'case', '', ?1)",
            [crypto::sha256_hex(&[id.as_bytes()])],
        )
        .unwrap();
        conn.execute("UPDATE meta SET value = ?1 WHERE key = 'audit_head'", [round.to_string()]).unwrap();
        conn.execute("UPDATE meta SET value = ?1 WHERE key = 'device_seq'", [round.to_string()]).unwrap();
        conn.execute("UPDATE meta SET value = ?1 WHERE key = 'hlc'", [round.to_string()]).unwrap();
        conn.execute_batch("COMMIT").unwrap();
    }
}

fn search_and_unlock(root: &Path, cases: usize) {
    let dir = root.join("search");
    let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
    let mut workspace = Workspace::create(&dir, PASSPHRASE, &options).unwrap();
    let start = Instant::now();
    let mut names = Vec::with_capacity(cases);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for chunk in 0..cases.div_ceil(1000) {
        let batch: Vec<CaseFields> = (0..1000.min(cases - chunk * 1000))
            .map(|_| {
                let name = person_name(&mut seed);
                names.push(name.clone());
                CaseFields::named(&name).unwrap()
            })
            .collect();
        workspace.create_cases(batch).unwrap();
    }
    println!("Set-up: {cases} cases recorded in {:?} (batches of 1,000)\n", start.elapsed());

    let mut times = Vec::with_capacity(SEARCHES);
    let mut hits = 0;
    for round in 0..SEARCHES {
        let name = &names[(next(&mut seed) as usize) % names.len()];
        let word = name.split(' ').nth(round % 2).unwrap();
        let fragment: String = deunicode_lower(word).chars().take(3 + round % 3).collect();
        let query = CaseQuery { search: Some(fragment), limit: 50, ..CaseQuery::default() };
        let start = Instant::now();
        let found = workspace.list_cases(&query).unwrap();
        times.push(start.elapsed());
        hits += found.len();
    }
    println!("Search by a name fragment (3–5 letters, accents folded, 50 results max) among {cases} cases:");
    println!(
        "  median {:?}  p95 {:?}  (mean {} results)\n",
        percentile(&mut times, 50),
        percentile(&mut times, 95),
        hits / SEARCHES
    );
    let mut duplicate_times = Vec::new();
    for round in 0..200 {
        let name = &names[(next(&mut seed) as usize) % names.len()];
        let fields = if round % 2 == 0 {
            CaseFields::named(name).unwrap()
        } else {
            CaseFields::named(&person_name(&mut seed)).unwrap()
        };
        let start = Instant::now();
        workspace.likely_duplicates(&fields).unwrap();
        duplicate_times.push(start.elapsed());
    }
    println!(
        "Duplicate check before a new case (200 names) among {cases} cases: median {:?}  p95 {:?}\n",
        percentile(&mut duplicate_times, 50),
        percentile(&mut duplicate_times, 95)
    );
    let start = Instant::now();
    let first_page = workspace.list_cases(&CaseQuery { limit: 200, ..CaseQuery::default() }).unwrap();
    println!("First page of the case list (200 newest): {:?}\n", start.elapsed());
    assert_eq!(first_page.len(), 200.min(cases));
    drop(workspace);

    // The workspace above uses cheap Argon2 parameters, so its unlock time is the store's own;
    // the standard Argon2id derivation is measured on its own and added.
    let mut argon = Vec::new();
    let mut open = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        crypto::derive_kek(PASSPHRASE, &[7u8; 16], KdfParams::STANDARD).unwrap();
        argon.push(start.elapsed());
        let start = Instant::now();
        let workspace = Workspace::unlock(&dir, PASSPHRASE).unwrap();
        open.push(start.elapsed());
        assert_eq!(workspace.case_count().unwrap() as usize, cases);
    }
    let (argon, open) = (percentile(&mut argon, 50), percentile(&mut open, 50));
    let standard = KdfParams::STANDARD;
    println!("Unlock with {cases} cases, median of 7:");
    println!(
        "  Argon2id (m={} MiB, t={}, p={}): {argon:?}; opening the encrypted store and its key file: {open:?}; total {:?}",
        standard.memory_kib / 1024,
        standard.iterations,
        standard.parallelism,
        argon + open
    );
}

fn percentile(times: &mut [Duration], pct: usize) -> Duration {
    times.sort();
    times[((times.len() - 1) * pct) / 100]
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

const GIVEN: &[&str] = &[
    "José",
    "María",
    "Ana",
    "Luz",
    "Marisol",
    "Jean",
    "Chantal",
    "Kervin",
    "Aaliyah",
    "Rosalía",
    "Nadège",
    "Tatiana",
    "Olena",
    "Priya",
    "Keisha",
    "Dwayne",
    "Joël",
    "Inés",
    "Yésica",
    "Darnell",
    "Fatoumata",
    "Mei",
    "Svetlana",
    "Guadalupe",
];
const SYLLABLES: &[&str] = &[
    "mar", "ti", "nez", "jo", "seph", "lu", "ci", "an", "fran", "çois", "pé", "rez", "ca", "lix", "do", "min", "gue",
    "ro",
];

fn person_name(seed: &mut u64) -> String {
    let given = GIVEN[(next(seed) as usize) % GIVEN.len()];
    let parts = 2 + (next(seed) as usize) % 3;
    let family: String = (0..parts).map(|_| SYLLABLES[(next(seed) as usize) % SYLLABLES.len()]).collect();
    let mut letters = family.chars();
    let first = letters.next().expect("a family name has letters").to_uppercase();
    format!("{given} {first}{}", letters.as_str())
}

fn deunicode_lower(text: &str) -> String {
    harbour_core::store::normalize_text(text)
}
