//! A case created by mistake, on a laptop of a deployment with a real `harbour-server`: discarded
//! before its first sync (the server never receives it), refused once sent, then closed as
//! created in error.

use harbour_core::Workspace;
use harbour_sync::client_for;
use harbour_tests::server::{Backend, ServerStore};
use harbour_tests::{PASSPHRASE, harbour, harbour_json};

#[test]
fn a_mistaken_case_is_discarded_before_it_syncs_and_closed_in_error_after() {
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(&Backend::Sqlite, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let laptop = root.path().join("ministry");
    assert!(harbour(&laptop, &["init", "--worker", "Administrator"]).status.success());
    let created =
        harbour_json(&laptop, &["deployment", "create", "--server", &server.url, "--bootstrap-token", &bootstrap]);
    assert_eq!(created["directory_published"], true);

    let mistaken = harbour_json(&laptop, &["case", "new", "--name", "Invented Mistake"]);
    let kept = harbour_json(&laptop, &["case", "new", "--name", "Invented Kept"]);
    let discarded = harbour(&laptop, &["case", "discard", mistaken["code"].as_str().unwrap()]);
    assert!(discarded.status.success(), "{}", String::from_utf8_lossy(&discarded.stderr));
    assert!(harbour(&laptop, &["sync"]).status.success());

    // The server holds the kept case's events and none of the discarded one's.
    let workspace = Workspace::unlock(&laptop, PASSPHRASE).unwrap();
    let client = client_for(&workspace).unwrap();
    drop(workspace);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let page = runtime.block_on(client.pull(0, Some(500))).unwrap();
    let cases: Vec<String> = page.events.iter().map(|event| event.case_id.to_string()).collect();
    assert!(cases.iter().any(|case| *case == kept["id"]), "the kept case reached the server");
    assert!(!cases.iter().any(|case| *case == mistaken["id"]), "the discarded case never reached the server");

    // Once sent, discarding is refused with a sentence that says what to do instead.
    let code = kept["code"].as_str().unwrap();
    let refused = harbour(&laptop, &["case", "discard", code]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("already sent to the server") && said.contains("--in-error"), "{said}");
    assert_eq!(harbour_json(&laptop, &["case", "show", code])["fields"]["status"], "active");
    assert!(harbour(&laptop, &["case", "close", code, "--in-error"]).status.success());
    assert!(harbour(&laptop, &["sync"]).status.success());
    let shown = harbour_json(&laptop, &["case", "show", code]);
    assert_eq!(shown["history"].as_array().unwrap().last().unwrap()["reason"], "created_in_error");
}
