//! A lost laptop wiped while the network fails under it: the wipe still happens, the signed
//! report the server did not receive waits in the data folder (ids and a signature, nothing
//! else), the administrator keeps seeing the wipe as issued, and the next `harbour sync` on that
//! laptop delivers the report — after which the administrator sees it done and the file is gone;
//! the desktop app, started on that folder, says the laptop was wiped and delivers it by itself.
//! Real `harbour` and `harbour-server` processes, with a proxy between them that refuses the
//! report on purpose.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harbour_core::Workspace;
use harbour_core::store::wipe::UNSENT_REPORT_FILE;
use harbour_tests::desktop::Desktop;
use harbour_tests::proxy::FailingProxy;
use harbour_tests::server::{Organisation, Server};
use harbour_tests::{binary, harbour, harbour_json};
use serde_json::Value;

/// Runs `harbour` and expects it to fail; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let output = harbour(dir, args);
    assert!(!output.status.success(), "harbour {:?} should have failed", args.first());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn wipe_state(admin: &Path, device_id: &str) -> Value {
    let devices = harbour_json(admin, &["device", "list"]);
    let row = devices.as_array().unwrap().iter().find(|device| device["device_id"] == device_id).cloned();
    row.expect("the laptop is listed")["wipe"].clone()
}

/// A deployment whose consulate laptop was wiped while a proxy refused its report: the files
/// are gone, only the report waits in its data folder, and the server still shows the wipe as
/// issued. The proxy still refuses the report when this returns.
struct WipedUnreported {
    admin: PathBuf,
    lost: PathBuf,
    lost_id: String,
    proxy: FailingProxy,
    _server: Server,
    _root: tempfile::TempDir,
}

fn wiped_with_its_report_refused() -> WipedUnreported {
    let root = tempfile::tempdir().unwrap();
    // The ministry reaches the server through a proxy that can refuse chosen requests.
    let serving = Organisation::serve(root.path());
    let proxy = FailingProxy::start(&serving.server.url);
    let organisation = serving.deploy(&proxy.url, "Consulate");
    let admin = organisation.ministry.clone();
    let lost = root.path().join("consulate");
    let (invitation, code) = (organisation.invitation(), organisation.code());
    harbour_json(&lost, &["enroll", "--invitation", invitation, "--code", code, "--worker", "Worker"]);
    let lost_id = Workspace::unlock(&lost, harbour_tests::PASSPHRASE).unwrap().device_id().0.to_string();

    harbour_json(&admin, &["device", "revoke", &lost_id]);
    harbour_json(&admin, &["device", "wipe", &lost_id]);

    // The report cannot get through: the laptop wipes itself all the same and keeps the report.
    proxy.refuse("POST", "/v1/wipe/report");
    let wiped = fails(&lost, &["sync"]);
    assert!(wiped.contains("ordered this laptop wiped"), "the wiped laptop's sync: {wiped}");
    assert!(proxy.refusals() >= 1, "the report was tried");
    assert!(!Workspace::exists(&lost), "the laptop was not wiped when its report could not be sent");
    let kept = std::fs::read_to_string(lost.join(UNSENT_REPORT_FILE)).expect("the unsent report waits in the folder");
    let kept: Value = serde_json::from_str(&kept).expect("the unsent report is JSON");
    assert_eq!(kept["server_url"], proxy.url.as_str(), "the report remembers where to go");
    let left: Vec<String> = std::fs::read_dir(&lost)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec![UNSENT_REPORT_FILE.to_owned()], "only the report is left in the data folder");
    assert_eq!(wipe_state(&admin, &lost_id)["state"], "issued", "the server has not heard of the wipe yet");
    WipedUnreported { admin, lost, lost_id, proxy, _server: organisation.server, _root: root }
}

#[test]
fn a_wipe_report_the_server_missed_is_delivered_by_the_next_sync() {
    // Bound whole: the server and the folders live until the end of the test.
    let wiped = wiped_with_its_report_refused();
    let WipedUnreported { admin, lost, lost_id, proxy, .. } = &wiped;

    // Still refused: the next sync says it could not deliver, and the report stays.
    let refused = proxy.refusals();
    let again = fails(lost, &["sync"]);
    assert!(proxy.refusals() > refused, "the next sync tried the report again: {again}");
    assert!(lost.join(UNSENT_REPORT_FILE).exists(), "a report that was not delivered was dropped");

    // The network is back: the next sync delivers it, and nothing is left.
    proxy.refuse_nothing();
    let delivered = harbour(lost, &["sync"]);
    assert!(delivered.status.success(), "delivering the report: {}", String::from_utf8_lossy(&delivered.stderr));
    assert!(String::from_utf8_lossy(&delivered.stdout).contains("the server now knows it was done"));
    assert!(!lost.join(UNSENT_REPORT_FILE).exists(), "the delivered report was not removed");
    let state = wipe_state(admin, lost_id);
    assert_eq!(state["state"], "done", "the administrator sees the wipe done");
    assert_eq!(state["destroyed_unsent"], 0);
    let gone = fails(lost, &["sync"]);
    assert!(gone.contains("There is no Harbour workspace"), "{gone}");
}

/// The same laptop opened in the desktop app once the network is back: its first screen says it
/// was wiped, and the app delivers the report by itself.
#[test]
fn the_desktop_app_says_the_laptop_was_wiped_and_delivers_the_report() {
    // Bound whole: the server and the folders live until the end of the test.
    let wiped = wiped_with_its_report_refused();
    let WipedUnreported { admin, lost, lost_id, proxy, .. } = &wiped;
    proxy.refuse_nothing();
    let desktop = Desktop::start_on(&binary("harbour-desktop"), lost, &[]);
    let session = desktop.session();
    session.wait_for_script(
        "the first screen to say the laptop was wiped",
        Duration::from_secs(30),
        "return document.body.dataset.screen === 'first-run' && !!document.getElementById('wiped-notice')",
    );
    let started = Instant::now();
    while wipe_state(admin, lost_id)["state"] != "done" {
        assert!(started.elapsed() < Duration::from_secs(60), "the app did not deliver the wipe report within 60 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!lost.join(UNSENT_REPORT_FILE).exists(), "the delivered report was not removed");
}
