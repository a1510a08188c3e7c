//! A laptop wiped on its administrator's order whose signed report did not reach the server
//! (the link failed at that moment) keeps only that report in its data folder. The desktop app,
//! started on such a folder, delivers it in the background — as `harbour sync` does from the
//! command line — so that the administrator sees the wipe done without anyone typing a command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harbour_core::Workspace;
use harbour_core::store::wipe::unsent_report;

/// The first wait after a failed delivery; doubled each time up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// Whether `dir` is what a wipe leaves when its report is still to be delivered.
pub fn waiting(dir: &Path) -> bool {
    !Workspace::exists(dir) && unsent_report(dir).is_some()
}

/// Tries to deliver the report until it is delivered, the server refuses it for good, or the
/// file disappears. Logs states only: the report holds ids and counts, no case data.
pub async fn deliver(dir: PathBuf) {
    let mut wait = FIRST_WAIT;
    while waiting(&dir) {
        match harbour_sync::deliver_unsent_wipe_report(&dir).await {
            Ok(_) => {
                tracing::info!("the wipe report reached the server");
                return;
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(retry_in_s = wait.as_secs(), "the wipe report could not be delivered yet");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
            Err(error) => {
                tracing::warn!(%error, "the server refused the wipe report; it stays in the data folder");
                return;
            }
        }
    }
}
