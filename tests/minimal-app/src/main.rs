//! The smallest Tauri 2 app: one page that invokes one command. `tests/benches/desktop.rs`
//! measures its start-up time and memory next to Harbour's, in the same run, the same way.

mod commands;

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![commands::ui_ready])
        .run(tauri::generate_context!())
        .expect("the minimal app runs");
}
