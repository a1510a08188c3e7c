//! The sync bar: where the background sync stands, and "Sync now".

use harbour_sync::SyncStatus;
use serde::Serialize;
use tauri::State;

use crate::error::CommandResult;
use crate::state::{Session, SyncRunner};

#[derive(Serialize)]
pub struct SyncOverview {
    pub enrolled: bool,
    /// The background loop's latest report (`null` before its first).
    pub status: Option<SyncStatus>,
    /// Changes made here and not yet acknowledged by the server, as a person counts them.
    pub waiting: u64,
    pub last_sync_ms: Option<u64>,
}

#[tauri::command(async)]
pub fn sync_status(session: State<'_, Session>, sync: State<'_, SyncRunner>) -> CommandResult<SyncOverview> {
    session.with(|workspace| {
        Ok(SyncOverview {
            enrolled: workspace.membership().is_some(),
            status: sync.last(),
            waiting: workspace.pending_changes()?,
            last_sync_ms: workspace.last_sync_ms()?,
        })
    })
}

#[tauri::command(async)]
pub fn sync_now(sync: State<'_, SyncRunner>) {
    sync.wake();
}
