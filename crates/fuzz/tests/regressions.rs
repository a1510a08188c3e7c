//! Every crash the fuzzers found, as a named test, with what it was.

use harbour_core::Error;
use harbour_core::crypto::KdfParams;
use harbour_core::keyfile;
use serde_json::json;

/// A key file with the given Argon2 settings (and nothing that opens).
fn key_file_with(memory_kib: u64, iterations: u64, parallelism: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": 1,
        "kdf": {
            "algorithm": "argon2id",
            "version": 19,
            "memory_kib": memory_kib,
            "iterations": iterations,
            "parallelism": parallelism,
            "salt": "AAAAAAAAAAAAAAAAAAAAAA==",
        },
        "sealed": {"nonce": "AAAAAAAAAAAAAAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA=="},
    }))
    .unwrap()
}

/// Found by `fuzz_key_file` (a JSON mutation set `memory_kib` to 4294967295): Argon2 was run
/// with the file's settings as they were, asked for 4 TiB and aborted the process. A file
/// naming four billion passes would have stalled the unlock instead.
#[test]
fn key_file_asking_for_4_tib_or_4_billion_passes_is_refused_before_argon2_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (memory, iterations, parallelism) in
        [(u64::from(u32::MAX), 1, 1), (256, u64::from(u32::MAX), 1), (256, 1, 255), (1024 * 1024 + 1, 1, 1), (8, 1, 1)]
    {
        std::fs::write(keyfile::path(dir.path()), key_file_with(memory, iterations, parallelism)).unwrap();
        let started = std::time::Instant::now();
        match keyfile::unlock(dir.path(), "any passphrase") {
            Err(Error::KeyFile { why, .. }) => assert!(why.contains("impossible key-derivation settings"), "{why}"),
            other => panic!("{memory} KiB, {iterations} passes, {parallelism} lanes: {:?}", other.map(|_| ())),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "refused at once");
        assert!(keyfile::params(dir.path()).is_err(), "params() refuses the same file");
    }
    // The settings Harbour writes stay accepted.
    for params in [KdfParams::STANDARD, KdfParams::INSECURE_FAST_FOR_TESTS] {
        assert!(params.within_bounds(), "{params:?}");
    }
    // And through the fuzz target, as it was found (mode 0: the file's bytes).
    let mut input = vec![0];
    input.extend(key_file_with(u64::from(u32::MAX), 1, 1));
    (harbour_fuzz::target("key_file").unwrap().run)(&input);
}

/// Found by libFuzzer on its first run (tests/fuzz.sh), in the harness rather than in Harbour:
/// the seeds are written by one process and fuzzed in another, and the fixture's certificate
/// (its worker's name is sealed with a fresh ephemeral key) and grant (fresh ephemeral key,
/// nonce and event id) differ between processes while being genuinely signed by the fixture's
/// keys. The targets took "verified" for "forged" when the bytes differed from this process's
/// own. They now check who signed instead; the inputs, as written by that other run, must be
/// accepted without a panic.
#[test]
fn a_certificate_and_a_grant_signed_in_another_run_are_accepted_not_taken_for_forgeries() {
    for (name, input) in [
        ("device_certificate", &include_bytes!("found/device_certificate-from-another-run")[..]),
        ("sealed_grant", &include_bytes!("found/sealed_grant-from-another-run")[..]),
    ] {
        let target = harbour_fuzz::target(name).unwrap();
        assert!((target.run)(input), "{name}: a genuine input from another run is accepted");
    }
}
