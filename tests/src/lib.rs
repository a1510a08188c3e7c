//! Shared helpers for Harbour's cross-crate tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod desktop;
pub mod devices;
pub mod load;
pub mod proxy;
pub mod server;
pub mod traced;
pub mod webdriver;

/// Test passphrase; workspaces made by tests use cheap Argon2 parameters unless a test says otherwise.
pub const PASSPHRASE: &str = "test passphrase for harbour";

/// A workspace binary (`harbour`, `harbour-server` …) built in this target directory.
/// `tests/run.sh` builds them before the tests run.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/it-… → target/<profile>/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("tests run from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (tests/run.sh does)",
        path.display()
    );
    path
}

/// Runs the `harbour` CLI on a data directory with the test passphrase.
pub fn harbour(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary("harbour"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env_remove("HARBOUR_DATA_DIR")
        .output()
        .expect("harbour runs")
}

/// Runs the CLI and returns its stdout as JSON (the command must succeed).
pub fn harbour_json(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = harbour(data_dir, &all);
    assert!(output.status.success(), "harbour {:?} failed: {}", args.first(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("harbour --json prints JSON")
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("the directory is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files
}

/// Which of `needles` occur in any file below `dir`, in UTF-8 or UTF-16 (either byte order),
/// case-insensitively (fully for UTF-8, ASCII letters for UTF-16). Returns (needle index, file)
/// pairs — never the needle itself, so a failing test does not print sensitive text.
pub fn plaintext_found(dir: &Path, needles: &[&str]) -> Vec<(usize, PathBuf)> {
    let mut found = Vec::new();
    for file in files_below(dir) {
        let raw = std::fs::read(&file).expect("the file is readable");
        let text = String::from_utf8_lossy(&raw).to_lowercase();
        let bytes = raw.to_ascii_lowercase();
        for (index, needle) in needles.iter().enumerate() {
            let lower = needle.to_lowercase();
            let utf16le: Vec<u8> = lower.encode_utf16().flat_map(|unit| unit.to_le_bytes()).collect();
            let utf16be: Vec<u8> = lower.encode_utf16().flat_map(|unit| unit.to_be_bytes()).collect();
            if text.contains(&lower) || [&utf16le, &utf16be].iter().any(|pattern| contains(&bytes, pattern)) {
                found.push((index, file.clone()));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// A small deterministic random source for tests (xorshift64*), seeded and printable.
pub struct TestRng(u64);

impl TestRng {
    pub fn from_time() -> TestRng {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        TestRng::seeded(nanos)
    }

    pub fn seeded(seed: u64) -> TestRng {
        TestRng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low)
    }
}
