//! Harbour's desktop shell: holds the state, exposes thin commands over `harbour_core` and
//! `harbour_sync` (in `commands`), runs the background sync loop and the auto-lock, and
//! nothing else. The interface is `ui/`, served from inside the binary.

pub mod commands;
pub mod error;
pub mod memory;
pub mod state;
pub mod wipe_report;

use std::path::PathBuf;
use std::time::Duration;

use tauri::{Emitter, Manager};

use crate::state::{Activity, Session, Settings, SyncRunner, should_auto_lock};

/// Sent to the interface when the app locked itself.
pub const LOCKED_EVENT: &str = "locked";

/// `HARBOUR_DATA_DIR`, else the operating system's data directory (as the `harbour` CLI).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HARBOUR_DATA_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().map(|dir| dir.join("harbour")).unwrap_or_else(|| PathBuf::from("harbour-data"))
}

pub fn run() {
    // Logs carry states and counts only, never case data; quiet unless RUST_LOG asks.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let dir = data_dir();
    let settings = Settings::load(&dir);
    tauri::Builder::default()
        .manage(Session::new(dir))
        .manage(settings)
        .manage(Activity::default())
        .manage(SyncRunner::default())
        .manage(commands::stats::Desk::default())
        .setup(|app| {
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(auto_lock(handle));
            let session = app.state::<Session>();
            if session.wiped_at_start {
                tauri::async_runtime::spawn(wipe_report::deliver(session.dir.clone()));
            }
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .unwrap_or_else(|error| {
            eprintln!("Harbour could not start: {error}");
            std::process::exit(1);
        });
}

/// Locks the workspace after the chosen minutes without activity, and tells the interface.
async fn auto_lock(app: tauri::AppHandle) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let session = app.state::<Session>();
        let minutes = app.state::<Settings>().get().auto_lock_minutes;
        if session.is_open() && should_auto_lock(app.state::<Activity>().idle(), minutes) {
            commands::session::close(&app);
            let _ = app.emit(LOCKED_EVENT, serde_json::json!({ "reason": "inactivity" }));
        }
    }
}
