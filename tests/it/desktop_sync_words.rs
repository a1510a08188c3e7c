//! The sync bar speaks the worker's language when a sync fails: the sentence is the translation
//! of the failure's reason, never the server's or core's English. A submodule of `desktop`.

use super::*;

#[test]
fn a_refused_laptop_is_told_so_in_spanish_at_1024x600() {
    let root = tempfile::tempdir().unwrap();
    let Organisation { server: _server, ministry, invited, .. } = Organisation::start(root.path(), "Clinic");

    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    app.set_language("es");
    let size = app.session.set_window_size(1024, 600);
    assert_eq!([size[2], size[3]], [1024, 600], "the window's size");
    app.session.wait_for("#join-later-invitation", Duration::from_secs(10));
    app.fill("#join-later-invitation", invited["invitation"].as_str().unwrap());
    app.fill("#join-later-code", invited["code"].as_str().unwrap());
    app.click("#join-later-submit");
    app.session.wait_for("#join-later-done", Duration::from_secs(60));
    let device = app.invoke("app_status", json!({}))["device_id"].as_str().expect("the laptop's id").to_owned();
    app.session.wait_until("the first sync", Duration::from_secs(60), || (app.sync_state() == "synced").then_some(()));

    harbour_json(&ministry, &["device", "revoke", &device]);
    app.click("#sync-now");
    app.session.wait_until("the sync bar to say the laptop was refused", Duration::from_secs(60), || {
        (app.sync_state() == "failed").then_some(())
    });
    let said = app.text("#sync-state");
    let expected = format!("{} {}", translation("ui.sync.failed", "es"), translation("sync.failure.refused", "es"));
    assert!(said.starts_with(&expected), "the reason's Spanish sentence: {said:?}");
    for english in ["server", "laptop", "refused", "device", "HTTP", "re-invite"] {
        assert!(!said.contains(english), "no English from the server or core ({english:?}): {said:?}");
    }
    app.shot("sync-refused-es");
}
