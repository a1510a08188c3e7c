//! The app's one command (in a module: a `#[tauri::command]` at the crate root clashes with the
//! macro's generated items, E0255).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static PRINTED: AtomicBool = AtomicBool::new(false);

/// The page has rendered. With `HARBOUR_PROBE_READY=1`, prints `harbour-ready <ms since the UNIX
/// epoch> <screen>` once, as harbour-desktop does, for the start-up benchmark.
#[tauri::command]
pub fn ui_ready(screen: String) {
    if std::env::var_os("HARBOUR_PROBE_READY").is_some_and(|value| value == "1")
        && !PRINTED.swap(true, Ordering::SeqCst)
    {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis());
        let screen: String = screen.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(32).collect();
        println!("harbour-ready {ms} {screen}");
    }
}
