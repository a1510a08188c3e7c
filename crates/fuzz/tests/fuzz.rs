//! Every fuzz target, under proptest, for a few hundred cases each in the normal test run:
//! arbitrary bytes, byte-level mutations of valid inputs, and JSON-aware mutations of them.
//! `HARBOUR_FUZZ_CASES` sets the cases per target (tests/long.sh runs the coverage-guided
//! fuzzer for minutes instead). A failure prints the smallest input found, in hex: make it a
//! named test in `tests/regressions.rs` with the fix.

use harbour_fuzz::mutate::{self, ByteEdit};
use harbour_fuzz::{TARGETS, Target, target};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn cases() -> u32 {
    std::env::var("HARBOUR_FUZZ_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(300)
}

/// Inputs for a target: a third arbitrary bytes, a third byte-mutated seeds, a third
/// JSON-mutated seeds.
fn inputs(target: &Target) -> BoxedStrategy<Vec<u8>> {
    let seeds = (target.seeds)();
    assert!(!seeds.is_empty(), "{} has seeds", target.name);
    let edits = prop::collection::vec(
        (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(kind, at, arg)| ByteEdit { kind, at, arg }),
        1..6,
    );
    let for_bytes = seeds.clone();
    let for_json = seeds.clone();
    let count = seeds.len();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (0..count, 0..count, edits)
            .prop_map(move |(pick, donor, edits)| { mutate::bytes(&for_bytes[pick], &edits, &for_bytes[donor]) }),
        (0..count, prop::collection::vec(any::<u32>(), 1..4))
            .prop_map(move |(pick, choices)| mutate::json(&for_json[pick], &choices)),
    ]
    .boxed()
}

fn fuzz(name: &str) {
    let target = target(name).expect("a known target");
    // Seeds first: every valid input is accepted all the way, so every mode reaches its parser.
    for (index, seed) in (target.seeds)().iter().enumerate() {
        assert!((target.run)(seed), "{name}: seed {index} (mode {}) was refused", seed[0]);
    }
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let result = runner.run(&inputs(target), |input| {
        let outcome = std::panic::catch_unwind(|| {
            (target.run)(&input);
        });
        outcome.map_err(|_| TestCaseError::fail(format!("{} panicked on {}", target.name, hex(&input))))
    });
    if let Err(error) = result {
        panic!("fuzz target {name} failed: {error}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn every_target_has_a_test_here() {
    let names: Vec<&str> = TARGETS.iter().map(|target| target.name).collect();
    assert_eq!(
        names,
        [
            "form_definition",
            "answers",
            "service_directory",
            "signed_directory",
            "signed_service_directory",
            "invitation",
            "key_file",
            "device_certificate",
            "wire_bodies",
            "sealed_grant",
            "event_payload"
        ]
    );
}

#[test]
fn fuzz_form_definition() {
    fuzz("form_definition");
}

#[test]
fn fuzz_answers() {
    fuzz("answers");
}

#[test]
fn fuzz_service_directory() {
    fuzz("service_directory");
}

#[test]
fn fuzz_signed_directory() {
    fuzz("signed_directory");
}

#[test]
fn fuzz_signed_service_directory() {
    fuzz("signed_service_directory");
}

#[test]
fn fuzz_invitation() {
    fuzz("invitation");
}

#[test]
fn fuzz_key_file() {
    fuzz("key_file");
}

#[test]
fn fuzz_device_certificate() {
    fuzz("device_certificate");
}

#[test]
fn fuzz_wire_bodies() {
    fuzz("wire_bodies");
}

#[test]
fn fuzz_sealed_grant() {
    fuzz("sealed_grant");
}

#[test]
fn fuzz_event_payload() {
    fuzz("event_payload");
}
