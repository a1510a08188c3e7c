//! Settings → Back up: the whole workspace to one file the worker names (a USB stick), still
//! encrypted under its keys (`harbour_core`'s `Workspace::backup`). Restoring is the command
//! line's `harbour restore`, on the new laptop.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::Session;

#[derive(Deserialize)]
pub struct BackupInput {
    /// The backup file to write; it must not exist yet.
    pub path: String,
}

#[derive(Serialize)]
pub struct BackupDone {
    pub path: PathBuf,
    pub bytes: u64,
    pub cases: i64,
}

#[tauri::command(async)]
pub fn backup_workspace(session: State<'_, Session>, input: BackupInput) -> CommandResult<BackupDone> {
    let path = PathBuf::from(input.path.trim());
    if input.path.trim().is_empty() || !path.is_absolute() {
        return Err(CommandError::invalid(
            "path",
            "give the whole path of the backup file, such as /media/usb/harbour.hbk",
        ));
    }
    let summary = session.with(|workspace| workspace.backup(&path))?;
    Ok(BackupDone { path: summary.path, bytes: summary.bytes, cases: summary.cases })
}
