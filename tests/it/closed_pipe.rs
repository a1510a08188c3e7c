//! `harbour … | head` and `harbour-server … | head`: a reader that goes away early ends the
//! command quietly with status 0 (as ripgrep does), never with a panic or a backtrace.

use std::process::{Command, Stdio};

use harbour_tests::{PASSPHRASE, binary};

/// Run `program args` with stdout a pipe whose reading end is already closed, so the first
/// write fails with EPIPE; returns (success, stderr).
fn into_closed_pipe(program: &str, args: &[&str]) -> (bool, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(binary(program))
        .args(args)
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .env("RUST_BACKTRACE", "1")
        .env_remove("HARBOUR_DATA_DIR")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn the_cli_and_the_server_end_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ws");
    let data = data.to_str().unwrap();
    let (ok, stderr) = into_closed_pipe("harbour", &["--data-dir", data, "init", "--worker", "Nurse Joseph"]);
    assert!(ok && stderr.is_empty(), "init: {stderr}");
    for i in 0..5 {
        let name = format!("Person {i}");
        let created = harbour_tests::harbour(std::path::Path::new(data), &["case", "new", "--name", &name]);
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    }
    for args in [&["case", "list"][..], &["--json", "case", "list"][..]] {
        let mut all = vec!["--data-dir", data];
        all.extend_from_slice(args);
        let (ok, stderr) = into_closed_pipe("harbour", &all);
        assert!(ok, "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} wrote to stderr: {stderr}");
    }

    let db = format!("sqlite:{}", dir.path().join("server.db").display());
    let (ok, stderr) = into_closed_pipe("harbour-server", &["init", "--db", &db]);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}
