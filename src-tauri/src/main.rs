// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    paint_on_the_cpu();
    harbour_desktop::run();
}

/// Harbour's screens are forms and lists: WebKitGTK's GPU compositing brings them nothing, costs
/// ~110 MB more once a long list is on screen (tiles above and below the view) and ~45 ms of
/// start-up (docs/PERFORMANCE.md), and on old graphics drivers and virtual machines it is the
/// usual cause of blank or flickering windows. WebKitGTK reads this variable when it makes the
/// webview's settings, so it is set before anything else; `HARBOUR_GPU_RENDERING=1` keeps
/// WebKit's default.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn paint_on_the_cpu() {
    const VARIABLE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let gpu = std::env::var_os("HARBOUR_GPU_RENDERING").is_some_and(|value| value == "1");
    if !gpu && std::env::var_os(VARIABLE).is_none() {
        // SAFETY: the first statement of `main`, before any thread is started: nothing else
        // reads or writes the environment at the same time.
        unsafe { std::env::set_var(VARIABLE, "1") };
    }
}
