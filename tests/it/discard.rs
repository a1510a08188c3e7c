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

/// The race the desktop's old "a sync is running" check could lose: a sync has read a case's
/// events and pushed them, and the server stored them, but its answer never came back. The
/// discard is refused all the same (the check runs in the deletion's transaction, against what
/// sync handed out), so the server never holds a case its laptop deleted.
#[tokio::test]
async fn a_case_whose_events_a_sync_took_is_never_discarded_even_if_the_answer_is_lost() {
    use harbour_core::Error;
    use harbour_core::model::CaseFields;
    use harbour_core::store::Held;
    use harbour_tests::devices;

    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(&Backend::Sqlite, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let clinic = devices::create_team(&admin, "Clinic").await;
    let nurse = devices::enrol(&admin, &clinic, &root.path().join("nurse"), "Nurse").await;
    nurse.sync().await;

    let case = nurse.lock().create_case(CaseFields::named("Invented Orsolya Quint").unwrap()).unwrap().id;
    // A push takes the waiting events, and the server stores them; the acknowledgement is lost.
    let batch = nurse.lock().pending_events(500).unwrap();
    assert!(batch.iter().any(|event| event.case_id == case.0));
    let stored = nurse.client.push(&batch).await.unwrap();
    assert_eq!(stored.events.len(), batch.len());

    let refused = nurse.lock().discard_case(case).unwrap_err();
    assert!(matches!(refused, Error::NotDiscardable { why: Held::Sending }), "{refused}");
    // The case is still whole here, and closing it in error is what is left to do.
    nurse.lock().close_in_error(case).unwrap();
    nurse.sync().await;
    let on_server = admin.client.pull(0, Some(1000)).await.unwrap();
    assert!(on_server.events.iter().any(|event| event.case_id == case.0), "the server holds the case");
    admin.sync().await;
    assert!(admin.lock().view_case(case).is_ok(), "the ministry has the case, closed in error, not a ghost");
}
