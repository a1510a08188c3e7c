//! The OpenAPI document is the contract: Schemathesis (property-based, from the document)
//! drives the real server with valid and invalid requests and fails on any 5xx, any
//! undocumented status, content type or header, any answer that breaks its schema, and any
//! invalid request the server accepts.
//!
//! Schemathesis is a Python tool: `HARBOUR_SCHEMATHESIS` names its command (tests/run.sh
//! installs it), or the test makes a virtual environment with the pinned version in the
//! target directory. Without Python and PyPI the test says so loudly and is skipped, and fails
//! instead under `CI=true`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use crate::support::{Deployment, Server};

/// The pinned version; tests/run.sh installs the same.
const VERSION: &str = "4.32.5";

/// Test cases per operation and phase: 25 keeps the run well under two minutes;
/// `HARBOUR_SCHEMATHESIS_EXAMPLES` asks for more (tests/long.sh: 1,000).
fn examples() -> String {
    std::env::var("HARBOUR_SCHEMATHESIS_EXAMPLES")
        .ok()
        .filter(|text| text.parse::<u32>().is_ok())
        .unwrap_or("25".into())
}

fn schemathesis() -> Option<PathBuf> {
    if let Ok(command) = std::env::var("HARBOUR_SCHEMATHESIS")
        && !command.is_empty()
    {
        return Some(PathBuf::from(command));
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{VERSION}"));
    let command = venv.join("bin").join("schemathesis");
    if command.exists() {
        return Some(command);
    }
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success())
        && Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", &format!("schemathesis=={VERSION}")])
            .status()
            .is_ok_and(|s| s.success());
    if made && command.exists() {
        return Some(command);
    }
    let _ = std::fs::remove_dir_all(&venv);
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Schemathesis {VERSION} could not be installed (python3 -m venv, pip), but CI=true: CI must run it");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** Schemathesis could not be installed (needs python3-venv and PyPI): the OpenAPI contract is NOT \
         fuzzed in this run. Set HARBOUR_SCHEMATHESIS to its command to run it.\n"
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_its_openapi_contract_under_schemathesis() {
    let Some(command) = schemathesis() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let bootstrap = Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), &[]);
    let d = Deployment::register(&server, &bootstrap).await;
    // A valid administrator's token, so every operation gets past authentication.
    let token = d.tokens[0].clone();
    let url = server.url.clone();
    let report = dir.path().join("report");
    let workdir = dir.path().to_path_buf();
    let examples = examples();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(command)
            .arg("run")
            .arg(format!("{url}/v1/openapi.json"))
            .args(["--url", &url])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance,negative_data_rejection",
            ])
            .args(["--phases", "examples,coverage,fuzzing"])
            // One worker: with several, Python 3.11's `ast.parse` (used by Hypothesis to describe
            // its filters) can fail across threads ("AST constructor recursion depth mismatch").
            .args(["--max-examples", &examples, "--seed", "14", "--workers", "1"])
            .args(["--request-timeout", "10", "--generation-database", "none", "--no-color"])
            .arg("--report-dir")
            .arg(&report)
            .env("SCHEMATHESIS_TELEMETRY", "false")
            // Its cache (.schemathesis/) goes to the temporary directory, not the source tree.
            .current_dir(workdir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Schemathesis found the server breaking its document:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{stdout}");
    // It really ran cases against the server (not an empty run).
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let requests = log.lines().filter(|line| line.contains("request") && line.contains("status=")).count();
    assert!(requests > 500, "only {requests} requests reached the server:\n{stdout}");
    assert!(!log.contains("status=5"), "a 5xx was answered:\n{log}");
}
