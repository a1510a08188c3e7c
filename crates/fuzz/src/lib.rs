//! Fuzz targets for every parser of Harbour that reads outside input: form definitions and the
//! translation table, answers files, service-directory files, signed team directories,
//! invitations, key files, device certificates, the wire protocol's bodies, sealed grants, and
//! event payloads once a case key has opened them.
//!
//! A target is a function over bytes that must never panic, hang or allocate without bound,
//! whatever the bytes. Its first byte chooses a *mode*: mode 0 hands the rest to the parser as
//! it comes from outside (a file, a pasted text, a request body); the other modes are
//! structure-aware, wrapping the rest in what a real attacker cannot forge but a real author
//! could write — a document signed by the deployment's root key, an invitation sealed under its
//! code, a key file sealed under its passphrase, a payload sealed under the case key — so the
//! fuzzer reaches the parsers that sit behind a signature or a seal.
//!
//! The same targets run in two ways:
//! - `tests/fuzz.rs`: proptest over arbitrary bytes and over mutated valid inputs ([`mutate`]),
//!   a few hundred cases per target in the normal test run (`HARBOUR_FUZZ_CASES` for more);
//! - `libfuzzer/`: libFuzzer, coverage-guided, built on the stable toolchain with LLVM's
//!   SanitizerCoverage, for minutes per target in `tests/long.sh`.
//!
//! Every crash found is a named test in `tests/regressions.rs`.

mod fixture;
pub mod mutate;
mod targets;

/// One fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    /// Its name, as `tests/long.sh` and the libFuzzer runner take it.
    pub name: &'static str,
    /// What it reads, in a few words.
    pub what: &'static str,
    /// Feeds bytes to the parser; panics only on a bug. True when the input was accepted all
    /// the way (every seed is: the structure-aware modes do reach the parsers behind a seal).
    pub run: fn(&[u8]) -> bool,
    /// Valid inputs (with their mode byte) to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "form_definition",
        what: "form definitions and the translation table",
        run: targets::forms::form_definition,
        seeds: targets::forms::form_definition_seeds,
    },
    Target {
        name: "answers",
        what: "answers files against every shipped form",
        run: targets::forms::answers,
        seeds: targets::forms::answers_seeds,
    },
    Target {
        name: "service_directory",
        what: "service-directory files",
        run: targets::directory::service_directory,
        seeds: targets::directory::service_directory_seeds,
    },
    Target {
        name: "signed_directory",
        what: "signed team directories and their sealed team names",
        run: targets::directory::signed_directory,
        seeds: targets::directory::signed_directory_seeds,
    },
    Target {
        name: "signed_service_directory",
        what: "signed service directories relayed by the server",
        run: targets::directory::signed_service_directory,
        seeds: targets::directory::signed_service_directory_seeds,
    },
    Target {
        name: "invitation",
        what: "invitations pasted by a new laptop",
        run: targets::invitation::invitation,
        seeds: targets::invitation::invitation_seeds,
    },
    Target {
        name: "key_file",
        what: "keyfile.json",
        run: targets::keyfile::key_file,
        seeds: targets::keyfile::key_file_seeds,
    },
    Target {
        name: "device_certificate",
        what: "device certificates, credentials and device documents",
        run: targets::identity::device_certificate,
        seeds: targets::identity::device_certificate_seeds,
    },
    Target {
        name: "wire_bodies",
        what: "every request and response body of the sync protocol",
        run: targets::wire::wire_bodies,
        seeds: targets::wire::wire_bodies_seeds,
    },
    Target {
        name: "sealed_grant",
        what: "sealed grants: who made them, and opening them",
        run: targets::grants::sealed_grant,
        seeds: targets::grants::sealed_grant_seeds,
    },
    Target {
        name: "event_payload",
        what: "event payloads after the case key opened them, and their decompression",
        run: targets::payload::event_payload,
        seeds: targets::payload::event_payload_seeds,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|target| target.name == name)
}

/// Splits an input into its mode (the first byte, modulo `modes`) and the rest.
pub(crate) fn split_mode(data: &[u8], modes: u8) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (first % modes, rest),
        None => (0, data),
    }
}

/// A seed: a mode byte, then the bytes.
pub(crate) fn seed(mode: u8, bytes: impl AsRef<[u8]>) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(bytes.as_ref());
    out
}

/// Text as a parser that reads a file would see it: the bytes as they are when they are UTF-8,
/// otherwise with every bad sequence replaced (what a lenient reader would pass on).
pub(crate) fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}
