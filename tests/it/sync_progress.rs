//! What the sync tells the sync bar while it pushes a backlog: how many events still wait,
//! counted once and then counted down by each delivered batch (counting them all again after
//! every batch cost batches × backlog), and counted again when a change made during the sync
//! joins the backlog.

use std::sync::Mutex;

use harbour_core::model::CaseFields;
use harbour_sync::engine::Phase;
use harbour_sync::{Progress, sync_once};
use harbour_tests::devices;
use harbour_tests::server::{Backend, ServerStore};

#[tokio::test]
async fn the_push_counts_down_what_waits_and_counts_again_when_a_change_joins_it() {
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(&Backend::Sqlite, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let clinic_team = devices::create_team(&admin, "Clinic").await;
    let clinic = devices::enrol(&admin, &clinic_team, &root.path().join("clinic"), "clinic").await;
    clinic.sync().await;

    // 400 cases: a creation and two grants each, several batches.
    let fields: Vec<CaseFields> =
        (0..400).map(|index| CaseFields::named(&format!("Invented Person {index}")).unwrap()).collect();
    clinic.lock().create_cases(fields).unwrap();

    // Each report during the push, beside what really waited then; one case is added after
    // the second batch, while the sync runs.
    let reports: Mutex<Vec<(u64, u64, u64)>> = Mutex::new(Vec::new());
    let mut on_progress = |progress: &Progress| {
        if progress.phase != Phase::Pushing {
            return;
        }
        let mut workspace = clinic.lock();
        let actual = workspace.pending_count().unwrap();
        let mut reports = reports.lock().unwrap();
        reports.push((progress.pushed, progress.waiting, actual));
        if reports.len() == 2 {
            workspace.create_case(CaseFields::named("Invented Latecomer").unwrap()).unwrap();
        }
    };
    let summary = sync_once(&clinic.workspace, &clinic.client, &mut on_progress).await.expect("the sync");
    let reports = reports.into_inner().unwrap();

    assert!(reports.len() >= 4, "the backlog took {} batches; the test needs several", reports.len());
    // Before the change: exactly what waits, going down by each batch.
    assert_eq!(reports[0].1, reports[0].2, "the first batch's count is not what waits");
    assert_eq!(reports[1].1, reports[1].2, "the second batch's count is not what waits");
    assert!(reports[1].1 < reports[0].1);
    // After it: never more than what waits, and the last batch leaves nothing waiting.
    for pair in reports.windows(2) {
        assert!(pair[1].1 <= pair[1].2, "the count says more waits than does");
    }
    let last = reports.last().unwrap();
    assert_eq!((last.1, last.2), (0, 0), "the push ended with events said to wait, or waiting");
    assert_eq!(summary.pushed, last.0);
    assert_eq!(clinic.lock().pending_count().unwrap(), 0, "the latecomer was not sent");
}
