//! Figures for docs/PERFORMANCE.md: the desktop app's start-up time and memory against the
//! smallest Tauri 2 app (`tests/minimal-app`), measured the same way in the same run, and
//! Harbour's unlock with 100,000 cases through the real interface.
//!
//!     cargo build --release -p harbour-desktop -p harbour-minimal-app && cargo bench -p harbour-tests --bench desktop
//!     HARBOUR_BENCH_RUNS=3 HARBOUR_BENCH_DESKTOP_CASES=20000 cargo bench -p harbour-tests --bench desktop   (quicker)
//!     HARBOUR_BENCH_BIN_DIR=target/debug …   (measure other builds of the two apps)
//!
//! - Start-up: each app is spawned directly under an Xvfb of the benchmark's own (no WebDriver)
//!   with `HARBOUR_PROBE_READY=1` and an empty data directory; the time is from just before the
//!   spawn to the moment its page called `ui_ready` (the `harbour-ready <ms>` line). The disk
//!   cache is warm: this is a new process, not a freshly booted machine.
//! - Memory: 2 s after ready, the PSS of the app and every process below it (WebKit's web and
//!   network processes) from /proc/<pid>/smaps_rollup.
//! - Unlock with 100,000 cases (Harbour only): a workspace made once with the standard Argon2
//!   parameters and cached in the target directory, copied afresh for each run; the app is
//!   started through tauri-driver, the passphrase typed into #unlock-passphrase, and one script
//!   clicks #unlock-submit and times until the first `.case-row` is in the page. Then the PSS of
//!   the app's processes with that list on screen. Each case has the coded facts the task
//!   force's figures count (sex, status, team, nationality, form of exploitation, labour sector,
//!   identification status, intake date).
//! - The dashboard with those 100,000 cases (Harbour only), in the same session after the
//!   unlock: one script clicks #nav-dashboard and times until the screen says it is painted
//!   (`#dashboard[data-state="ready"]`, set in the frame after every figure and table, and every
//!   chart near the screen, went in: the others are drawn when scrolled to). Then the PSS and RSS of the app's processes with the dashboard on screen (each
//!   process's in the log), against the minimal app started through WebDriver in the same run;
//!   again after scrolling the dashboard to its end (every chart drawn); and the time of a
//!   second click on the dashboard after going back to the case list (the figures' rows in
//!   memory). `HARBOUR_BENCH_SKIP_STARTUP=1` leaves out the start-up runs above.
//!
//! The two apps run alternately (ABAB…, the order flipping every run) so that both meet the
//! same noise, and every process an app started is killed (its process group) after each run.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harbour_core::crypto::KdfParams;
use harbour_core::model::{CaseFields, CaseStatus, Country, ExploitationType, IdentificationStatus, LabourSector, Sex};
use harbour_core::{CreateOptions, Workspace};
use harbour_tests::desktop::{Desktop, Display, ProcessGroup, app_env, tree_memory, tree_pss_kib};
use serde_json::json;

const PASSPHRASE: &str = "benchmark passphrase for the desktop";
const SETTLE: Duration = Duration::from_secs(2);

fn main() {
    let runs: usize = env_number("HARBOUR_BENCH_RUNS", 7);
    let cases: usize = env_number("HARBOUR_BENCH_DESKTOP_CASES", 100_000);
    let bin_dir = std::env::var_os("HARBOUR_BENCH_BIN_DIR").map_or_else(profile_dir, PathBuf::from);
    // Harbour starts on a laptop that already has a workspace, so its first screen is the
    // unlock screen (the figure the issue names); the minimal app has one page.
    let seed = tempfile::Builder::new().prefix("harbour-bench-seed").tempdir().unwrap();
    let options = CreateOptions { kdf: KdfParams::STANDARD, ..CreateOptions::default() };
    drop(Workspace::create(&seed.path().join("workspace"), PASSPHRASE, &options).unwrap());
    let minimal =
        App { label: "minimal Tauri 2 app", binary: built(&bin_dir, "harbour-minimal-app"), seed: None, screen: None };
    let harbour = App {
        label: "Harbour",
        binary: built(&bin_dir, "harbour-desktop"),
        seed: Some(seed.path().join("workspace")),
        screen: Some("unlock"),
    };
    println!("Harbour desktop benchmark: {runs} runs of each app, alternating; binaries from {}\n", bin_dir.display());

    // HARBOUR_BENCH_SKIP_STARTUP=1: only the unlock and the dashboard (the start-up runs take
    // a few minutes of their own).
    let startup_runs = if std::env::var_os("HARBOUR_BENCH_SKIP_STARTUP").is_some() { 0 } else { runs };
    let display = Display::start();
    // One start of each that is not counted: the first start after a build pays for reading
    // the binaries and WebKit's libraries from disk.
    for app in [&minimal, &harbour].into_iter().take(if startup_runs > 0 { 2 } else { 0 }) {
        start_and_measure(app, &display);
    }
    let mut starts: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut memory: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for run in 0..startup_runs {
        let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            let app = [&minimal, &harbour][index];
            let (ready_ms, pss_mib) = start_and_measure(app, &display);
            starts[index].push(ready_ms);
            memory[index].push(pss_mib);
        }
        eprintln!("  run {}/{runs}: start-up {:.0} / {:.0} ms", run + 1, starts[0][run], starts[1][run]);
    }
    drop(display);

    let workspace = cached_workspace(cases);
    let mut unlocks = Vec::new();
    let mut unlocked_memory = Vec::new();
    let mut dashboards = Vec::new();
    let mut dashboards_again = Vec::new();
    let mut dashboard_memory = Vec::new();
    let mut dashboard_rss = Vec::new();
    let mut scrolled_memory = Vec::new();
    // Driven through WebDriver (the only way to type the passphrase): an automation session
    // costs the web process memory of its own, so the minimal app is read the same way.
    let mut driven: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut minimal_rss = Vec::new();
    for run in 0..runs {
        let minimal_reading = driven_memory(&minimal);
        let measured = unlock_with_cases(&harbour, &workspace);
        eprintln!(
            "  run {}/{runs}: unlock {:.0} ms; dashboard {:.0} ms, again {:.0} ms; load average {}",
            run + 1,
            measured.unlock_ms,
            measured.dashboard_ms,
            measured.dashboard_again_ms,
            load_average()
        );
        eprintln!("    minimal app, driven: {}", minimal_reading.parts);
        eprintln!("    Harbour, unlock screen: {}", measured.locked.parts);
        eprintln!("    Harbour, case list: {}", measured.list.parts);
        eprintln!("    Harbour, dashboard: {}", measured.dashboard.parts);
        eprintln!("    Harbour, dashboard scrolled to its end: {}", measured.scrolled.parts);
        driven[0].push(minimal_reading.pss_mib);
        minimal_rss.push(minimal_reading.rss_mib);
        driven[1].push(measured.locked.pss_mib);
        unlocks.push(measured.unlock_ms);
        unlocked_memory.push(measured.list.pss_mib);
        dashboards.push(measured.dashboard_ms);
        dashboards_again.push(measured.dashboard_again_ms);
        dashboard_memory.push(measured.dashboard.pss_mib);
        dashboard_rss.push(measured.dashboard.rss_mib);
        scrolled_memory.push(measured.scrolled.pss_mib);
    }

    if startup_runs > 0 {
        println!("| what (median of {runs}; range) | {} | {} | ratio |", minimal.label, harbour.label);
        println!("| --- | --- | --- | --- |");
        row("spawn to first screen drawn (ms; Harbour: the unlock screen)", &mut starts, 0);
        row("PSS of all its processes 2 s after (MiB)", &mut memory, 0);
        COUNTED
            .with(|names| println!("(PSS counts the app's process and those below it: {})", names.borrow().join(", ")));
    }
    println!();
    println!("Harbour with {cases} cases (standard Argon2id), through the interface:");
    println!(
        "  unlock (click on #unlock-submit → first .case-row): median {:.0} ms ({})",
        median(&mut unlocks),
        range(&unlocks, 0)
    );
    println!(
        "  PSS of all its processes with the case list on screen: median {:.0} MiB ({})",
        median(&mut unlocked_memory),
        range(&unlocked_memory, 0)
    );
    println!(
        "  dashboard (click on #nav-dashboard → painted): median {:.0} ms ({})",
        median(&mut dashboards),
        range(&dashboards, 0)
    );
    println!(
        "  dashboard again (back from the case list, the figures' rows in memory): median {:.0} ms ({})",
        median(&mut dashboards_again),
        range(&dashboards_again, 0)
    );
    println!(
        "  PSS of all its processes with the dashboard on screen: median {:.0} MiB ({})",
        median(&mut dashboard_memory),
        range(&dashboard_memory, 0)
    );
    println!("\nUnder a WebDriver session (as the unlock above), 2 s after the first screen:");
    println!("| what (median of {runs}; range) | {} | {} | ratio |", minimal.label, harbour.label);
    println!("| --- | --- | --- | --- |");
    row("PSS of all its processes, driven (MiB; Harbour: the unlock screen)", &mut driven, 0);
    let minimal_driven = median(&mut driven[0]);
    println!(
        "  Harbour with the {cases}-case list, driven: {:.0} MiB = {:.2}x the minimal app driven",
        median(&mut unlocked_memory),
        median(&mut unlocked_memory) / minimal_driven
    );
    println!(
        "  Harbour with the dashboard of {cases} cases, driven: {:.0} MiB = {:.2}x the minimal app driven",
        median(&mut dashboard_memory),
        median(&mut dashboard_memory) / minimal_driven
    );
    println!(
        "  Harbour with the dashboard scrolled to its end (every chart drawn), driven: {:.0} MiB ({}) = {:.2}x",
        median(&mut scrolled_memory),
        range(&scrolled_memory, 0),
        median(&mut scrolled_memory) / minimal_driven
    );
    let minimal_rss_median = median(&mut minimal_rss);
    println!(
        "  RSS (every shared page counted in full): minimal app driven {:.0} MiB ({}); Harbour with the dashboard {:.0} MiB ({}) = {:.2}x",
        minimal_rss_median,
        range(&minimal_rss, 0),
        median(&mut dashboard_rss),
        range(&dashboard_rss, 0),
        median(&mut dashboard_rss) / minimal_rss_median
    );
    println!(
        "\nCommand: cargo build --release -p harbour-desktop -p harbour-minimal-app && cargo bench -p harbour-tests --bench desktop"
    );
}

std::thread_local! {
    /// The processes counted in the last memory reading, to say what the figure covers.
    static COUNTED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct App {
    label: &'static str,
    binary: PathBuf,
    /// A workspace copied into the fresh data directory before each start.
    seed: Option<PathBuf>,
    /// The first screen the app must report drawing.
    screen: Option<&'static str>,
}

/// Starts `app` with a fresh data directory (holding a copy of its seed workspace); returns (ms from spawn to ready, PSS in MiB after
/// ready + 2 s).
fn start_and_measure(app: &App, display: &Display) -> (f64, f64) {
    let data = tempfile::Builder::new().prefix("harbour-bench-desktop").tempdir().unwrap();
    let log = data.path().join("stderr.log");
    if let Some(seed) = &app.seed {
        copy_dir(seed, &data.path().join("harbour"));
    }
    let mut command = Command::new(&app.binary);
    command
        .env("HARBOUR_PROBE_READY", "1")
        .env("HARBOUR_DATA_DIR", data.path().join("harbour"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    app_env(&mut command, display);
    let spawned_at = epoch_ms();
    let mut group =
        ProcessGroup::spawn(&mut command).unwrap_or_else(|error| panic!("{} does not start: {error}", app.label));
    let ready = ready_line(&mut group);
    let ready_ms = match ready.recv_timeout(Duration::from_secs(60)) {
        Ok((at, screen)) => {
            if let Some(expected) = app.screen {
                assert_eq!(screen, expected, "{} drew another first screen than expected", app.label);
            }
            at - spawned_at
        }
        Err(_) => panic!(
            "{} did not report `harbour-ready` within 60 s (is HARBOUR_PROBE_READY handled?); its stderr ends: {}",
            app.label,
            tail(&log)
        ),
    };
    std::thread::sleep(SETTLE);
    let (pss_kib, counted) = tree_pss_kib(group.pid());
    assert!(counted.len() >= 2, "{}: expected the app and its WebKit processes, found {}", app.label, counted.len());
    COUNTED.with(|names| *names.borrow_mut() = counted.iter().map(|(name, _)| name.clone()).collect());
    group.terminate(Duration::from_secs(3));
    (ready_ms, pss_kib as f64 / 1024.0)
}

/// Reads the app's stdout on a thread; sends the time and screen of its `harbour-ready <ms> <screen>` line.
fn ready_line(group: &mut ProcessGroup) -> mpsc::Receiver<(f64, String)> {
    let stdout = group.child().stdout.take().expect("stdout is piped");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end, so that the app never blocks on a full pipe.
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(rest) = line.strip_prefix("harbour-ready ") else { continue };
            let mut words = rest.split_whitespace();
            if let Some(at) = words.next().and_then(|word| word.parse::<f64>().ok()) {
                let _ = send.send((at, words.next().unwrap_or_default().to_owned()));
            }
        }
    });
    receive
}

/// The 100,000-case workspace, made once and kept in the target directory (checked by opening
/// it with this build's core, and made again when that fails).
fn cached_workspace(cases: usize) -> PathBuf {
    let dir = target_dir().join(format!("harbour-bench-desktop-facts-{cases}"));
    let complete = dir.join("bench-complete");
    if complete.exists() {
        match Workspace::unlock(&dir.join("workspace"), PASSPHRASE) {
            Ok(workspace) if workspace.case_count().is_ok_and(|count| count as usize == cases) => {
                return dir.join("workspace");
            }
            _ => eprintln!("The cached {cases}-case workspace does not open with this build: making it again"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let options = CreateOptions { kdf: KdfParams::STANDARD, ..CreateOptions::default() };
    let mut workspace = Workspace::create(&dir.join("workspace"), PASSPHRASE, &options).unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for chunk in 0..cases.div_ceil(1000) {
        let batch: Vec<CaseFields> =
            (0..1000.min(cases - chunk * 1000)).map(|index| with_facts(chunk * 1000 + index, &mut seed)).collect();
        workspace.create_cases(batch).unwrap();
    }
    drop(workspace);
    std::fs::write(&complete, "").unwrap();
    eprintln!("Made a workspace of {cases} cases in {:.0?} (kept in {})", started.elapsed(), dir.display());
    dir.join("workspace")
}

/// A case with the coded facts the figures count, spread over every value (as the core's stats
/// bench draws them).
fn with_facts(index: usize, seed: &mut u64) -> CaseFields {
    let teams = ["Clinic North", "Clinic South", "Embassy", "Ministry", "Shelter"];
    let nations = ["LC", "GY", "VE", "DO", "JM", "HT", "CU", "TT"];
    let mut fields = CaseFields::named(&person_name(seed)).unwrap();
    fields.sex = Some(Sex::ALL[index % Sex::ALL.len()]);
    fields.status = CaseStatus::ALL[index % CaseStatus::ALL.len()];
    fields.assigned_team = Some(teams[index % teams.len()].to_owned());
    fields.nationalities = vec![Country::parse(nations[index % nations.len()]).unwrap()];
    fields.exploitation_types = vec![ExploitationType::ALL[index % 3]];
    fields.labour_sectors = vec![LabourSector::ALL[index % LabourSector::ALL.len()]];
    fields.identification_status = Some(IdentificationStatus::ALL[index % 4]);
    fields.intake_date =
        chrono::NaiveDate::from_ymd_opt(2022, 1, 1).map(|day| day + chrono::Duration::days((index % 1000) as i64));
    fields
}

/// The memory of `app`'s processes, started through WebDriver, 2 s after its page is shown.
fn driven_memory(app: &App) -> Reading {
    let data = tempfile::Builder::new().prefix("harbour-bench-driven").tempdir().unwrap();
    let desktop = Desktop::start_on(&app.binary, &data.path().join("harbour"), &[]);
    let session = desktop.session();
    session.wait_for("body", Duration::from_secs(30));
    std::thread::sleep(SETTLE);
    let reading = app_memory(&desktop);
    session.delete();
    reading
}

/// The memory of an app's processes (the app and every process below it: WebKit's web and
/// network processes), summed, and each process's PSS/RSS for the log.
struct Reading {
    pss_mib: f64,
    rss_mib: f64,
    parts: String,
}

fn app_memory(desktop: &Desktop) -> Reading {
    let roots = desktop.app_processes();
    let app_root =
        roots.first().unwrap_or_else(|| panic!("the app's process is not below tauri-driver: {}", desktop.log_tail()));
    let processes = tree_memory(app_root.pid);
    let mib = |kib: u64| kib as f64 / 1024.0;
    Reading {
        pss_mib: mib(processes.iter().map(|process| process.pss_kib).sum()),
        rss_mib: mib(processes.iter().map(|process| process.rss_kib).sum()),
        parts: processes
            .iter()
            .map(|process| {
                format!("{} PSS {:.0} / RSS {:.0} MiB", process.name, mib(process.pss_kib), mib(process.rss_kib))
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The machine's load average over the last minute (for the record: the machine is shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

struct Unlocked {
    /// The app's processes on the unlock screen.
    locked: Reading,
    /// From the click to the first case row.
    unlock_ms: f64,
    /// 2 s after that.
    list: Reading,
    /// From the click on the dashboard to its painting.
    dashboard_ms: f64,
    /// 2 s after that.
    dashboard: Reading,
    /// 2 s after scrolling the dashboard to its end (every chart drawn).
    scrolled: Reading,
    /// From a second click on the dashboard (after going back to the case list) to its painting.
    dashboard_again_ms: f64,
}

/// Unlocks a fresh copy of `workspace` in the app through the interface, then opens the
/// dashboard.
fn unlock_with_cases(app: &App, workspace: &Path) -> Unlocked {
    let copy = tempfile::Builder::new().prefix("harbour-bench-unlock").tempdir().unwrap();
    let data = copy.path().join("harbour");
    copy_dir(workspace, &data);
    let desktop = Desktop::start_on(&app.binary, &data, &[]);
    let session = desktop.session();
    session.set_script_timeout(Duration::from_secs(180));
    let passphrase = session.wait_for("#unlock-passphrase", Duration::from_secs(30));
    std::thread::sleep(SETTLE);
    let locked = app_memory(&desktop);
    passphrase.send_keys(PASSPHRASE);
    let elapsed = session.execute_async(
        r"const done = arguments[arguments.length - 1];
          const started = performance.now();
          document.querySelector('#unlock-submit').click();
          (function poll() {
              if (document.querySelector('.case-row')) return done(performance.now() - started);
              const error = document.querySelector('#unlock-error');
              if (error && error.textContent.trim()) return done('unlock failed: ' + error.textContent.trim());
              setTimeout(poll, 5);
          })();",
        json!([]),
    );
    let Some(unlock_ms) = elapsed.as_f64() else { panic!("the unlock did not show the case list: {elapsed}") };
    std::thread::sleep(SETTLE);
    let list = app_memory(&desktop);
    let dashboard_ms = open_dashboard(&session);
    let totals = session.execute("return document.querySelector('#tile-total .figure-link').dataset.count", json!([]));
    assert_eq!(
        totals.as_str().and_then(|n| n.parse::<usize>().ok()),
        Some(workspace_cases(workspace)),
        "every case counted"
    );
    std::thread::sleep(SETTLE);
    let dashboard = app_memory(&desktop);
    // Then scrolled through to its end, so that every chart has been drawn.
    session.execute_async(
        r"const done = arguments[arguments.length - 1];
          const main = document.getElementById('main');
          (function step() {
              const before = main.scrollTop;
              main.scrollTop += main.clientHeight / 2;
              if (main.scrollTop === before) return done(true);
              setTimeout(step, 100);
          })();",
        json!([]),
    );
    std::thread::sleep(SETTLE);
    let scrolled = app_memory(&desktop);
    // Back to the case list, then the dashboard again: the figures' rows are in memory now.
    session.execute("document.querySelector('#nav-cases').click()", json!([]));
    session.wait_for(".case-row", Duration::from_secs(60));
    let dashboard_again_ms = open_dashboard(&session);
    session.delete();
    drop(desktop);
    Unlocked { locked, unlock_ms, list, dashboard_ms, dashboard, scrolled, dashboard_again_ms }
}

/// Clicks #nav-dashboard and returns the ms until the dashboard says it is painted
/// (`#dashboard[data-state="ready"]`, set in the frame after every figure, table and chart).
fn open_dashboard(session: &harbour_tests::webdriver::Session) -> f64 {
    let painted = session.execute_async(
        r#"const done = arguments[arguments.length - 1];
          const started = performance.now();
          document.querySelector('#nav-dashboard').click();
          (function poll() {
              if (document.querySelector('#dashboard[data-state="ready"]')) return done(performance.now() - started);
              const error = document.querySelector('#dashboard-error');
              if (error && error.textContent.trim()) return done('the dashboard failed: ' + error.textContent.trim());
              setTimeout(poll, 2);
          })();"#,
        json!([]),
    );
    painted.as_f64().unwrap_or_else(|| panic!("the dashboard was not painted: {painted}"))
}

/// How many cases the cached workspace holds (from its directory's name).
fn workspace_cases(workspace: &Path) -> usize {
    let name = workspace.parent().and_then(Path::file_name).and_then(|name| name.to_str()).unwrap_or_default();
    name.rsplit('-').next().and_then(|n| n.parse().ok()).expect("the cached workspace's directory names its cases")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn row(what: &str, values: &mut [Vec<f64>; 2], decimals: usize) {
    let (minimal, harbour) = (median(&mut values[0]), median(&mut values[1]));
    println!(
        "| {what} | {minimal:.decimals$} ({}) | {harbour:.decimals$} ({}) | {:.2}× |",
        range(&values[0], decimals),
        range(&values[1], decimals),
        harbour / minimal
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 }
}

fn range(values: &[f64], decimals: usize) -> String {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{low:.decimals$}–{high:.decimals$}")
}

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|text| text.parse().ok()).unwrap_or(default)
}

/// target/<profile>, where `cargo bench` put this benchmark (target/<profile>/deps/desktop-…).
fn profile_dir() -> PathBuf {
    std::env::current_exe().unwrap().ancestors().nth(2).unwrap().to_owned()
}

fn target_dir() -> PathBuf {
    std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_owned()
}

fn built(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: cargo build --release -p harbour-desktop -p harbour-minimal-app (or set HARBOUR_BENCH_BIN_DIR)",
        path.display()
    );
    path
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

const GIVEN: &[&str] =
    &["José", "María", "Ana", "Luz", "Jean", "Chantal", "Kervin", "Aaliyah", "Nadège", "Olena", "Priya", "Inés", "Mei"];
const SYLLABLES: &[&str] =
    &["mar", "ti", "nez", "jo", "seph", "lu", "ci", "an", "fran", "çois", "pé", "rez", "ca", "do", "min", "ro"];

/// An invented name (never printed).
fn person_name(seed: &mut u64) -> String {
    let given = GIVEN[(next(seed) as usize) % GIVEN.len()];
    let parts = 2 + (next(seed) as usize) % 3;
    let family: String = (0..parts).map(|_| SYLLABLES[(next(seed) as usize) % SYLLABLES.len()]).collect();
    let mut letters = family.chars();
    let first = letters.next().expect("a family name has letters").to_uppercase();
    format!("{given} {first}{}", letters.as_str())
}
