//! The desktop app end to end: the real `harbour-desktop` binary under Xvfb, driven through
//! tauri-driver and WebKitWebDriver by the element ids of docs/DESKTOP.md. Every name is
//! invented, and none is printed: assertions say what they looked for, not what they found.
//!
//! With `HARBOUR_SCREENSHOTS=1` the main screens are saved to docs/screenshots/.

use std::time::Duration;

use harbour_core::forms::{Answers, FormLibrary, Lang};
use harbour_tests::desktop::{Desktop, Screenshots, group_members, process_tree, processes};
use harbour_tests::server::Organisation;
use harbour_tests::webdriver::{Session, truthy};
use harbour_tests::{binary, harbour_json, plaintext_found};
use serde_json::{Value, json};

/// The harness itself, on the smallest Tauri app: a session starts the app on our display, the
/// page can be read and photographed, and nothing the test started outlives it.
#[test]
fn the_harness_drives_a_tauri_app_and_leaves_nothing_running() {
    let desktop = Desktop::start(&binary("harbour-minimal-app"));
    let driver_pid = desktop.driver_pid();
    let session = desktop.session();
    session.wait_for_script(
        "the page to call its command",
        Duration::from_secs(20),
        "return document.getElementById('status').textContent === 'Ready'",
    );
    assert_eq!(session.find("#title").text(), "Harbour minimal app");
    assert_eq!(session.title(), "Harbour minimal app");
    assert_eq!(session.execute("return arguments[0] + 1", json!([41])), json!(42));
    let slow = session.execute_async("const done = arguments[0]; setTimeout(() => done('later'), 50)", json!([]));
    assert_eq!(slow, json!("later"));
    let png = desktop.screenshot(&session);
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png)).read_info().expect("a screenshot is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG's size")];
    let frame = reader.next_frame(&mut pixels).expect("the screenshot decodes");
    assert_eq!([frame.width, frame.height], [session.window_rect()[2], session.window_rect()[3]], "the window's size");
    let colours: std::collections::BTreeSet<&[u8]> = pixels[..frame.buffer_size()].chunks(3).collect();
    assert!(colours.len() > 8, "the window is drawn on the screen, not blank ({} colours)", colours.len());

    let app = desktop.app_processes();
    assert_eq!(app.len(), 1, "one app process below the driver");
    let below_app: Vec<String> = process_tree(app[0].pid).into_iter().map(|process| process.name).collect();
    assert!(
        below_app.iter().any(|name| name.starts_with("WebKitWebProces")),
        "WebKit's web process runs below the app: {below_app:?}"
    );
    let everything = process_tree(driver_pid);
    drop(session);
    drop(desktop);
    assert!(group_members(driver_pid).is_empty(), "the driver's process group is gone");
    let after = processes();
    let alive: Vec<_> =
        everything.iter().filter(|process| after.iter().any(|now| now.pid == process.pid && !now.zombie)).collect();
    assert!(alive.is_empty(), "processes started by the test outlive it: {alive:?}");
}

const PASSPHRASE: &str = "a long test passphrase for the desktop";
const WORKER: &str = "Test worker";

/// A worker's first day: a new workspace, a case, a clinic screening through the wizard with the
/// result the core computes for the same answers, and a referral with consent. Nothing typed is
/// left in clear in the data directory or the app's log.
#[test]
fn a_worker_records_a_case_a_screening_and_a_referral() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.shot("first-run");
    app.create_workspace();
    let name = "Brannoc Ylvestra Quendel";
    let code = app.create_case(name);
    app.shot("case");
    assert!(app.text("#case-title") == name, "#case-title shows the name typed");
    assert!(app.text("#case-code") == code, "#case-code shows the case code");

    app.click("#start-screening");
    app.wait_screen("wizard");
    let library = FormLibrary::builtin();
    let form = library.latest("clinic-screening").expect("the clinic screening is built in");
    app.choose("#wizard-form", &form.id);
    // The opening page is drawn again for the form chosen.
    let title = form.title.get(Lang::En).to_owned();
    app.session.wait_until("the clinic screening's opening page", Duration::from_secs(10), || {
        (app.text("#wizard h1") == title).then_some(())
    });
    app.click("#wizard-start");
    let plan: &[(&str, &str)] = &[
        ("q_safe_to_talk", "yes"),
        ("q_danger_now", "no"),
        ("q_documents", "yes"),
        ("q_debt", "yes"),
        ("q_deceived", "declined"),
        ("q_wants_help", "yes"),
    ];
    let answers = app.answer_wizard(plan);
    app.shot("screening-result");
    let expected = form.score(&answers);
    let level = app.session.find("#result-level").attribute("data-level");
    assert_eq!(level.as_deref(), Some(expected.level.as_str()), "the result is the core's for the same answers");
    let reasons: Vec<String> =
        app.session.find_all(".result-reason").iter().filter_map(|reason| reason.attribute("data-key")).collect();
    let expected_reasons: Vec<String> = expected.reasons.iter().map(|reason| reason.key.clone()).collect();
    assert_eq!(reasons, expected_reasons, "the result's reasons are the core's");

    app.click("#result-open-case");
    app.wait_screen("case");
    app.click("#add-referral");
    app.session.find("#referral-form");
    let service = app
        .session
        .execute(
            "return [...document.querySelectorAll('#referral-service option')].map(o => o.value).find(v => v) || null",
            json!([]),
        )
        .as_str()
        .expect("the directory offers a service")
        .to_owned();
    app.choose("#referral-service", &service);
    app.click("#referral-consent");
    app.session.execute("document.getElementById('referral-form').scrollIntoView()", json!([]));
    app.shot("referral");
    app.click("#referral-submit");
    let status = app.session.wait_until("a referral on the case page", Duration::from_secs(10), || {
        app.session.try_find(".referral[data-status]").and_then(|referral| referral.attribute("data-status"))
    });
    assert!(!status.is_empty(), "the referral has a status");

    // The audit log, read by the CLI: opening the case from the result screen is a view, while
    // redrawing it after the referral is not a second one.
    let output = std::process::Command::new(binary("harbour"))
        .arg("--data-dir")
        .arg(app.desktop.data_dir())
        .args(["--json", "audit", "show"])
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("harbour runs");
    assert!(output.status.success(), "harbour audit show: {}", String::from_utf8_lossy(&output.stderr));
    let entries: Value = serde_json::from_slice(&output.stdout).expect("harbour --json prints JSON");
    let mut actions: Vec<&str> =
        entries.as_array().expect("a list").iter().filter_map(|entry| entry["action"].as_str()).collect();
    if entries[0]["seq"].as_i64() > entries[actions.len() - 1]["seq"].as_i64() {
        actions.reverse();
    }
    let referral = actions.iter().rposition(|action| *action == "referral.add").expect("the referral is audited");
    assert!(actions[..referral].contains(&"case.view"), "opening the case is a view: {actions:?}");
    assert_ne!(actions.get(referral + 1), Some(&"case.view"), "the redraw is no second view: {actions:?}");

    let secrets = [name, PASSPHRASE];
    assert_eq!(plaintext_found(app.desktop.data_dir(), &secrets), [], "nothing typed is stored in clear");
    assert_eq!(app.log_has(&secrets), [false, false], "nothing typed reaches the app's log");
}

/// The case list finds a person by a fragment typed without accents, and only that person.
#[test]
fn the_case_list_finds_an_accented_name_by_a_plain_fragment() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let wanted = "José Martínez Oquendral";
    let code = app.create_case(wanted);
    app.create_case("Joséphine Okarvelle");
    app.create_case("Mirela Vantroska");
    app.go_to_cases();
    app.session.wait_until("three rows in the case list", Duration::from_secs(10), || {
        (app.session.find_all(".case-row").len() == 3).then_some(())
    });
    app.shot("case-list");
    app.fill("#case-search", "jose mart");
    let rows = app.session.wait_until("the search to leave one row", Duration::from_secs(10), || {
        let rows = app.session.find_all(".case-row");
        (rows.len() == 1).then_some(rows)
    });
    assert_eq!(rows[0].attribute("data-code").as_deref(), Some(code.as_str()), "the row found is the case wanted");
    let shown = app.session.find(".case-row .case-name").text();
    assert!(shown == wanted, ".case-name shows the name with its accents");
    drop(rows);
    app.click(".case-row");
    app.wait_screen("case");
    assert!(app.text("#case-code") == code, "the row opens its case");
}

/// Locking hides everything; a wrong passphrase is refused with a plain message; the right one
/// brings the worker back.
#[test]
fn a_locked_app_refuses_a_wrong_passphrase_and_opens_with_the_right_one() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let name = "Tarvek Osmundine";
    let code = app.create_case(name);
    app.go_to_cases();
    app.session.find(".case-row");
    app.click("#lock-button");
    app.wait_screen("unlock");
    assert!(app.session.try_find(".case-row").is_none(), "no case row is left on the screen");
    let shown = app.session.execute("return document.body.innerText.includes(arguments[0])", json!([name]));
    assert_eq!(shown, json!(false), "the name is gone from the screen");
    app.shot("unlock");

    app.fill("#unlock-passphrase", "not the passphrase at all");
    app.click("#unlock-submit");
    let message = app.session.wait_until("#unlock-error to say what is wrong", Duration::from_secs(20), || {
        app.session.try_find("#unlock-error").map(|error| error.text()).filter(|text| !text.trim().is_empty())
    });
    assert_eq!(message.trim(), translation("error.wrong_passphrase", "en"), "the wrong passphrase is named plainly");
    assert_eq!(app.screen(), "unlock", "a wrong passphrase opens nothing");

    app.fill("#unlock-passphrase", PASSPHRASE);
    app.click("#unlock-submit");
    app.session
        .wait_until("the app to open again", Duration::from_secs(20), || (app.screen() != "unlock").then_some(()));
    app.go_to_cases();
    app.session.wait_until("the case to be listed again", Duration::from_secs(10), || {
        app.session.try_find(&format!(".case-row[data-code=\"{code}\"]"))
    });
}

/// The quick exit (Escape twice) hides everything behind a neutral screen at once and locks:
/// the shell refuses commands until the passphrase is given again, and the title never names anyone.
#[test]
fn escape_twice_hides_everything_and_locks() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let name = "Quillon Averardi";
    app.create_case(name);
    assert_eq!(app.session.title(), "Harbour", "the window title names no one");
    // U+E00C is WebDriver's Escape key.
    app.session.find("main h1").send_keys("\u{E00C}\u{E00C}");
    app.wait_screen("neutral");
    let shown = app.session.execute("return document.body.innerText.includes(arguments[0])", json!([name]));
    assert_eq!(shown, json!(false), "the name is gone from the screen");
    assert!(app.session.try_find("#case-title").is_none(), "no case element is left");
    let locked = app.session.execute_async(
        "const done = arguments[arguments.length - 1];
         window.__TAURI__.core.invoke('list_cases', { query: {} })
           .then(() => done('listed'), (error) => done(error.kind));",
        json!([]),
    );
    assert_eq!(locked, json!("locked"), "the shell is locked, not only the screen");
    let status = app.session.execute_async(
        "const done = arguments[arguments.length - 1];
         window.__TAURI__.core.invoke('app_status').then((status) => done(status.unlocked));",
        json!([]),
    );
    assert_eq!(status, json!(false));
    // The neutral screen has a harmless title of its own.
    let title = app.session.title();
    assert!(!title.contains("Quillon") && !title.contains("Harbour"), "a neutral title, not {title:?}");
    // Someone frightened keeps pressing Esc: the harmless page stays.
    app.session.execute(
        "window.escapes = 0; window.addEventListener('keydown', (e) => { if (e.key === 'Escape') window.escapes += 1; }, true);",
        json!([]),
    );
    app.session.find("#neutral-notes").send_keys("\u{E00C}\u{E00C}\u{E00C}");
    app.session.wait_for_script("the three presses handled", Duration::from_secs(10), "return window.escapes === 3;");
    assert_eq!(app.screen(), "neutral", "pressing Esc again at once does not bring Harbour back");
    // Later, Esc twice leads back to the unlock screen, never straight to a case.
    std::thread::sleep(Duration::from_millis(2100));
    app.session.find("#neutral-notes").send_keys("\u{E00C}\u{E00C}");
    app.wait_screen("unlock");
    let shown = app.session.execute("return document.body.innerText.includes(arguments[0])", json!([name]));
    assert_eq!(shown, json!(false), "the unlock screen names no one");
}

/// A clinic laptop joins its organisation through the first-run screen (invitation and code
/// from the ministry's administrator, a real `harbour-server` on 127.0.0.1); a case made in the
/// app is sent by the background sync, the sync bar says so, and the ministry can read it.
#[test]
fn a_laptop_joins_its_organisation_and_the_sync_bar_shows_its_work_sent() {
    let root = tempfile::tempdir().unwrap();
    let Organisation { store, mut server, ministry, created, team, invited } =
        Organisation::start(root.path(), "Clinic");
    assert_eq!(created["directory_published"], true);
    assert_eq!(team["directory_published"], true);

    let app = Harbour::start();
    app.wait_screen("first-run");
    app.fill("#join-invitation", invited["invitation"].as_str().unwrap());
    app.fill("#join-code", invited["code"].as_str().unwrap());
    app.fill("#join-worker", WORKER);
    app.fill("#join-passphrase", PASSPHRASE);
    app.click("#join-submit");
    app.session.wait_until("the laptop to join and show its cases", Duration::from_secs(60), || {
        (app.screen() == "cases").then_some(())
    });
    let code = app.create_case("Ysolde Branwick");
    app.session.wait_until("the sync bar to say everything was sent", Duration::from_secs(60), || {
        (app.sync_state() == "synced").then_some(())
    });
    assert_eq!(app.text("#sync-state"), app.text("#sync-state").trim(), "a sentence, not markup");

    // The ministry pulls the case the app sent, and can read it.
    assert_eq!(harbour_json(&ministry, &["sync"])["pulled"].as_u64().map(|pulled| pulled > 0), Some(true));
    let cases = harbour_json(&ministry, &["case", "list", "--search", "ysolde"]);
    let codes: Vec<&str> = cases.as_array().unwrap().iter().filter_map(|case| case["code"].as_str()).collect();
    assert_eq!(codes, [code.as_str()], "the ministry finds the clinic's case by name");
    assert!(store.plaintext_found(&["Ysolde", "Branwick"]).is_empty(), "the server holds no name in clear");

    // The link goes: the bar says so calmly, with what is waiting, and the work is kept.
    server.kill();
    app.create_case("Ottilie Farrowgate");
    // "Working offline — 1 change will be sent when you are connected": a new case is one
    // change, though it travels as its creation and its grants.
    let expected = translation("ui.sync.offline_one", "en").replace("{n}", "1");
    app.session.wait_until("the sync bar to say it works offline", Duration::from_secs(60), || {
        (app.sync_state() == "offline" && app.text("#sync-state") == expected).then_some(())
    });
    // The link comes back; "Sync now" sends the waiting change at once.
    server.restart();
    app.click("#sync-now");
    app.session.wait_until("the sync bar to say everything was sent again", Duration::from_secs(60), || {
        (app.sync_state() == "synced").then_some(())
    });
    assert_eq!(harbour_json(&ministry, &["sync"])["pulled"].as_u64().map(|pulled| pulled > 0), Some(true));
    assert_eq!(harbour_json(&ministry, &["case", "list", "--search", "farrowgate"]).as_array().map(Vec::len), Some(1));

    // The administrator revokes the laptop: the bar says what happened and what to do, in a
    // sentence, not an error code.
    let devices = harbour_json(&ministry, &["device", "list"]);
    let laptop =
        devices.as_array().unwrap().iter().find(|device| device["admin"] == false).expect("the laptop is listed");
    harbour_json(&ministry, &["device", "revoke", laptop["device_id"].as_str().unwrap()]);
    app.click("#sync-now");
    // The state and its sentence are read together: a retry may start between two reads.
    let failed = translation("ui.sync.failed", "en");
    let said = app.session.wait_until("the sync bar to say the laptop was refused", Duration::from_secs(60), || {
        let said = app.text("#sync-state");
        (app.sync_state() == "failed" && said.starts_with(&failed)).then_some(said)
    });
    assert!(said.contains("ask your administrator to re-invite it"), "what to do: {said:?}");
}

/// A name that is HTML is shown as text everywhere: no element is made from it and no script
/// in it runs.
#[test]
fn a_name_made_of_html_is_shown_as_text_and_never_runs() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let name = r#"<img src=x onerror="window.__xss=1">"#;
    app.create_case(name);
    assert!(app.text("#case-title") == name, "#case-title shows the name literally");
    assert!(app.session.try_find("#case-title img").is_none(), "no <img> in #case-title");
    app.click("#start-screening");
    app.wait_screen("wizard");
    assert!(app.session.try_find("#wizard img").is_none(), "no <img> in the wizard");
    app.go_to_cases();
    let shown = app.session.find(".case-row .case-name");
    assert!(shown.text() == name, ".case-name shows the name literally");
    assert!(app.session.try_find(".case-name img").is_none(), "no <img> in .case-name");
    // Give an image error handler time to run, had one been made.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        app.session.execute("return window.__xss === undefined", json!([])),
        json!(true),
        "the onerror never ran"
    );
    assert_eq!(app.session.execute("return document.querySelectorAll('img[src=x]').length", json!([])), json!(0));
}

/// The first-run form says everything missing at once, each beside its field (marked), in
/// `language` (the first run is in English until a language is chosen) at `width`×`height`; a
/// weak passphrase gets a second thought before it is kept.
fn the_first_run_form_says_what_is_missing(language: &str, width: u32, height: u32) {
    let app = Harbour::start();
    app.wait_screen("first-run");
    let size = app.session.set_window_size(width, height);
    assert_eq!([size[2], size[3]], [width, height]);
    let invalid = |selector: &str| app.session.find(selector).attribute("aria-invalid").as_deref() == Some("true");
    let beside = |id: &str| app.text(&format!("#{id}-fault"));
    let label = |key: &str| translation(key, language);
    app.fill("#create-passphrase", "too short");
    app.click("#create-submit");
    app.session.wait_for("#create-error:not([hidden])", Duration::from_secs(10));
    assert_eq!(beside("create-worker"), translation("ui.first_run.worker_missing", language));
    assert_eq!(beside("create-passphrase"), translation("ui.passphrase.too_short", language));
    assert_eq!(beside("create-passphrase-confirm"), translation("ui.passphrase.mismatch", language));
    assert!(invalid("#create-worker") && invalid("#create-passphrase") && invalid("#create-passphrase-confirm"));
    let fields = [label("ui.first_run.worker"), label("ui.passphrase.new"), label("ui.passphrase.confirm")];
    let summary =
        translation("ui.form.check_many", language).replace("{n}", "3").replace("{fields}", &fields.join(", "));
    assert_eq!(app.text("#create-error"), summary, "one summary naming every field");
    assert_eq!(app.session.execute("return document.activeElement.id", json!([])), json!("create-worker"));
    assert!(app.in_view("#create-worker"), "the first field at fault is in view");
    app.fill("#create-worker", WORKER);
    app.fill("#create-passphrase", PASSPHRASE);
    app.fill("#create-passphrase-confirm", "not the same passphrase");
    app.click("#create-submit");
    assert_eq!(beside("create-passphrase-confirm"), translation("ui.passphrase.mismatch", language));
    assert!(invalid("#create-passphrase-confirm") && !invalid("#create-worker") && !invalid("#create-passphrase"));
    assert_eq!(app.session.find("#create-worker-fault").property("hidden"), json!(true), "a mended field says nothing");
    // A weak passphrase gets a second thought: a warning first, kept only when sent again.
    app.fill("#create-passphrase", "password1234");
    app.fill("#create-passphrase-confirm", "password1234");
    app.click("#create-submit");
    assert_eq!(beside("create-passphrase"), translation("ui.passphrase.weak_confirm", language));
    assert_eq!(
        app.text("#create-error"),
        translation("ui.form.check_one", language).replace("{field}", &label("ui.passphrase.new"))
    );
    assert!(invalid("#create-passphrase"));
    app.shot(&format!("first-run-weak-{language}-{width}"));
    assert_eq!(app.screen(), "first-run", "nothing is created on the warning");
    app.click("#create-submit");
    app.wait_screen("cases");
}

#[test]
fn the_first_run_form_says_what_is_missing_in_english_at_1366x768() {
    the_first_run_form_says_what_is_missing("en", 1366, 768);
}

/// A weak new passphrase in Settings, in Spanish at 1024×600: a warning beside the field first
/// (with the other faults of the form at once), the passphrase kept only when sent again.
#[test]
fn a_weak_passphrase_gets_a_second_thought_in_spanish_at_1024x600() {
    let language = "es";
    let app = frontline_app(language, 1024, 600);
    let beside = |id: &str| app.text(&format!("#{id}-fault"));
    let invalid = |selector: &str| app.session.find(selector).attribute("aria-invalid").as_deref() == Some("true");
    app.session.find("#passphrase-new").send_keys("password1234");
    app.session.find("#passphrase-confirm").send_keys("password1234");
    app.session.execute("document.getElementById('passphrase-save').scrollIntoView({block: 'nearest'})", json!([]));
    app.click("#passphrase-save");
    app.session.wait_for("#passphrase-error:not([hidden])", Duration::from_secs(10));
    assert_eq!(beside("passphrase-current"), translation("ui.settings.passphrase_current_missing", language));
    assert_eq!(beside("passphrase-new"), translation("ui.passphrase.weak_confirm", language));
    assert!(invalid("#passphrase-current") && invalid("#passphrase-new") && !invalid("#passphrase-confirm"));
    let fields = [translation("ui.settings.passphrase_current", language), translation("ui.passphrase.new", language)];
    let summary =
        translation("ui.form.check_many", language).replace("{n}", "2").replace("{fields}", &fields.join(", "));
    assert_eq!(app.text("#passphrase-error"), summary);
    assert_eq!(app.session.execute("return document.activeElement.id", json!([])), json!("passphrase-current"));
    app.shot("settings-weak-es-1024");
    // Sent again unchanged, with the current passphrase: the weak one is the worker's choice.
    app.session.find("#passphrase-current").send_keys(PASSPHRASE);
    app.session.execute("document.getElementById('passphrase-save').scrollIntoView({block: 'nearest'})", json!([]));
    app.click("#passphrase-save");
    app.session.wait_until("the passphrase to be changed", Duration::from_secs(30), || {
        (app.text("#passphrase-done") == translation("ui.settings.passphrase_changed", language)).then_some(())
    });
    assert_eq!(app.session.find("#passphrase-new-fault").property("hidden"), json!(true));
    app.click("#lock-button");
    app.wait_screen("unlock");
    app.fill("#unlock-passphrase", "password1234");
    app.click("#unlock-submit");
    app.session.wait_until("the app to open with the weak passphrase kept", Duration::from_secs(20), || {
        (app.screen() != "unlock").then_some(())
    });
}

/// The window is painted on the CPU (docs/PERFORMANCE.md): the shell sets WebKit's switch
/// before the webview exists, so its web process has it too.
#[test]
fn the_window_is_painted_on_the_cpu() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    let root = app.desktop.app_processes()[0].pid;
    let web = process_tree(root)
        .into_iter()
        .find(|process| process.name.starts_with("WebKitWebProces"))
        .expect("WebKit's web process runs below the app");
    let environ = std::fs::read(format!("/proc/{}/environ", web.pid)).expect("the web process's environment");
    assert!(
        environ.split(|byte| *byte == 0).any(|entry| entry == b"WEBKIT_DISABLE_COMPOSITING_MODE=1"),
        "the web process paints without GPU compositing"
    );
}

/// Choosing Spanish in the settings changes the interface at once and `<html lang>`.
#[test]
fn the_language_switch_changes_the_interface() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    app.click("#settings-button");
    app.wait_screen("settings");
    app.shot("settings");
    assert_eq!(app.text("#nav-cases"), translation("ui.shell.cases", "en"));
    app.choose("#settings-language", "es");
    app.session.wait_for_script(
        "<html lang> to be es",
        Duration::from_secs(10),
        "return document.documentElement.lang === 'es'",
    );
    let spanish = translation("ui.shell.cases", "es");
    app.session.wait_until("the navigation to be in Spanish", Duration::from_secs(10), || {
        (app.text("#nav-cases") == spanish).then_some(())
    });
    assert_eq!(app.text("#settings-button"), translation("ui.shell.settings", "es"));
    app.go_to_cases();
    assert_eq!(
        app.session.find("main h1").text(),
        translation("ui.cases.title", "es"),
        "the next screen is in Spanish too"
    );
}

/// A case created by mistake, in English at 1366×768: discarded from its page before it ever
/// left the laptop (gone from the list and the store, the audit keeping `case.discard`); another
/// closed as created in error, which the timeline says in words.
#[test]
fn a_case_created_by_mistake_is_discarded_or_closed_in_error() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let size = app.session.set_window_size(1366, 768);
    assert_eq!([size[2], size[3]], [1366, 768], "the window takes a common laptop's size");
    let code = app.create_case("Quillon Mistyped Aberdane");
    app.click("#discard-case");
    app.session.wait_for("#discard-form", Duration::from_secs(10));
    assert_eq!(app.text("#discard-form h2"), translation("ui.case.discard_title", "en").replace("{code}", &code));
    assert!(app.in_view("#discard-confirm"), "the confirmation's button is on screen");
    app.shot("discard-confirm");
    app.click("#discard-confirm");
    app.wait_screen("cases");
    let notice = app.session.wait_until("the list to say the case was discarded", Duration::from_secs(10), || {
        app.session.try_find("#cases-notice").map(|notice| notice.text())
    });
    assert_eq!(notice, translation("ui.cases.discarded", "en").replace("{code}", &code));
    app.fill("#case-search", "aberdane");
    app.session.wait_until("the search to find nothing", Duration::from_secs(10), || {
        (app.text("#case-count") == translation("ui.cases.none_found", "en")).then_some(())
    });
    let audit = harbour_json_unlocked(app.desktop.data_dir(), &["audit", "show", "--limit", "50"]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|entry| entry["action"].as_str()).collect();
    assert!(actions.contains(&"case.discard"), "the audit log records the discard");
    let data = app.desktop.data_dir().to_owned();
    assert!(plaintext_found(&data, &["Quillon", "Aberdane"]).is_empty(), "no trace of the name in clear");

    // A case closed as created in error needs no written reason; the timeline says why in words.
    app.create_case("Perrault Wendeline");
    app.click("#close-case");
    app.click("#close-in-error");
    app.click("#status-save");
    app.session.wait_until("the case to be closed", Duration::from_secs(10), || {
        app.session
            .try_find("#case-status")
            .and_then(|status| status.attribute("data-status"))
            .filter(|s| s == "closed")
    });
    let reason =
        translation("ui.timeline.reason", "en").replace("{reason}", &translation("ui.case.created_in_error", "en"));
    app.session.wait_until("the timeline to say created in error", Duration::from_secs(10), || {
        app.session.find_all(".prewrap").iter().any(|p| p.text() == reason).then_some(())
    });
    assert!(app.session.try_find("#discard-case").is_none(), "a closed case offers no discard");
}

/// The same in Spanish at 1024×600, on a laptop of an organisation: a case whose changes reached
/// the server while its discard was being confirmed is refused in a Spanish sentence that says
/// what to do, offers no discard afterwards, and is closed as created in error instead.
#[test]
fn a_case_that_left_the_laptop_is_refused_in_spanish_and_closed_in_error() {
    let root = tempfile::tempdir().unwrap();
    let Organisation { mut server, ministry, invited, .. } = Organisation::start(root.path(), "Clinic");

    let app = Harbour::start();
    app.wait_screen("first-run");
    app.fill("#join-invitation", invited["invitation"].as_str().unwrap());
    app.fill("#join-code", invited["code"].as_str().unwrap());
    app.fill("#join-worker", WORKER);
    app.fill("#join-passphrase", PASSPHRASE);
    app.click("#join-submit");
    app.session.wait_until("the laptop to join", Duration::from_secs(60), || (app.screen() == "cases").then_some(()));
    app.set_language("es");
    let size = app.session.set_window_size(1024, 600);
    assert_eq!([size[2], size[3]], [1024, 600], "the window takes a small laptop's size");
    // A clinic's laptop does not edit the organisation's service directory, and says who does.
    let panel = app.session.wait_until("the directory panel", Duration::from_secs(10), || {
        app.session.try_find("#directory-panel").map(|panel| panel.text())
    });
    assert!(panel.contains(&translation("ui.directory.admin_only", "es")), "who edits the directory");
    assert!(app.session.try_find(".directory-edit").is_none(), "no edit button on a member's laptop");

    // Offline, the new case is still this laptop's alone: it can be discarded.
    server.kill();
    let code = app.create_case("Ysmay Corrandel");
    app.click("#discard-case");
    app.session.wait_for("#discard-form", Duration::from_secs(10));
    assert!(app.in_view("#discard-confirm"), "the confirmation's button is above the sync bar at 1024×600");
    // The link comes back and the case is sent before the worker confirms.
    server.restart();
    app.click("#sync-now");
    app.session.wait_until("the sync bar to say everything was sent", Duration::from_secs(60), || {
        (app.sync_state() == "synced").then_some(())
    });
    app.click("#discard-confirm");
    let said = app.session.wait_until("the refusal", Duration::from_secs(10), || {
        app.session.try_find("#discard-error").map(|box_| box_.text()).filter(|text| !text.is_empty())
    });
    assert_eq!(said, translation("error.not_discardable", "es"), "the refusal is the Spanish sentence, nothing else");
    app.shot("discard-refused-es");
    app.click("#discard-cancel");
    assert!(app.session.try_find("#discard-case").is_none(), "no discard is offered any more");
    assert_eq!(app.text("#case-code"), code);

    app.click("#close-case");
    app.click("#close-in-error");
    assert!(app.in_view("#status-save"), "Close is above the sync bar at 1024×600");
    app.click("#status-save");
    let reason =
        translation("ui.timeline.reason", "es").replace("{reason}", &translation("ui.case.created_in_error", "es"));
    app.session.wait_until("the timeline to say created in error in Spanish", Duration::from_secs(10), || {
        app.session.find_all(".prewrap").iter().any(|p| p.text() == reason).then_some(())
    });
    // The ministry receives the case closed, with the coded reason.
    app.click("#sync-now");
    app.session
        .wait_until("the close to be sent", Duration::from_secs(60), || (app.sync_state() == "synced").then_some(()));
    harbour_json(&ministry, &["sync"]);
    let shown = harbour_json(&ministry, &["case", "show", &code]);
    assert_eq!(shown["fields"]["status"], "closed");
    assert_eq!(shown["history"].as_array().unwrap().last().unwrap()["reason"], "created_in_error");
}

/// Referrals say what really happened, in `language` at `width`×`height`: on a laptop connected to
/// nothing a referral is "recorded on this laptop only", never "sent" (on the dashboard too:
/// "recorded, no answer yet"); a status change is asked
/// once more and can be cancelled; the same service is not offered again while its referral is
/// open, and the core refuses it in the interface's language; once declined it is offered again.
fn referrals_say_what_happened(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    app.create_case("Orlaith Venmarrow");
    let service = app.refer_to_first_service();
    assert_eq!(app.text(".referral .badge.status"), translation("ui.referrals.status_recorded", language));
    assert_eq!(app.text(".referral-delivery"), translation("ui.referrals.delivery_standalone", language));
    let code = app.text("#case-code");

    // The dashboard says the same: recorded, with no answer yet, never "Sent".
    app.open_dashboard();
    let outcome = app.session.wait_until("the referrals' outcomes", Duration::from_secs(10), || {
        app.session.try_find("#table-referrals_by_outcome tbody th").map(|th| th.text())
    });
    assert_eq!(outcome, translation("ui.dashboard.outcome_recorded", language));
    let table = app.text("#table-referrals_by_outcome");
    assert!(!table.contains(&translation("code.referral_status.sent", language)), "no referral said sent: {table}");
    app.go_to_cases();
    app.fill("#case-search", &code);
    app.click(&format!(".case-row[data-code=\"{code}\"]"));
    app.wait_screen("case");

    // The service is not offered a second time while the referral is open, and the core refuses it.
    app.click("#add-referral");
    app.session.find("#referral-form");
    let offered = app.session.execute(
        "return [...document.querySelectorAll('#referral-service option')].some(o => o.value === arguments[0])",
        json!([service]),
    );
    assert!(!truthy(&offered), "an open referral's service is not offered again");
    let case_id =
        app.invoke("get_case", json!({"id": app.text("#case-code")}))["case"]["id"].as_str().unwrap().to_owned();
    let page = app.invoke("get_case", json!({"id": case_id}));
    let consent = page["case"]["consents"][0]["id"].as_str().unwrap().to_owned();
    let refused = app.session.execute_async(
        "const [id, service, consent, done] = arguments;
         window.__TAURI__.core.invoke('add_referral', {id, input: {service, service_type: 'shelter', reason: 'other', urgency: 'routine', consent_id: consent}})
           .then(() => done(null), (error) => done(error.kind));",
        json!([case_id, service, consent]),
    );
    assert_eq!(refused, json!("already_referred"));
    app.click("#referral-cancel");

    // "The service declined" is asked once more; Cancel leaves the referral as it was.
    app.click(".referral-status-button[data-status=\"declined\"]");
    let asked = app.text(".referral-confirm-text");
    let expected_start = translation("ui.referrals.confirm_declined", language);
    let expected_start = expected_start.split("{service}").next().unwrap();
    assert!(asked.starts_with(expected_start), "the confirmation asks in the interface's language");
    app.shot(&format!("referral-confirm-{language}-{width}"));
    app.click(".referral-status-cancel");
    assert!(app.session.try_find(".referral[data-status=\"sent\"]").is_some(), "cancelling changes nothing");
    app.click(".referral-status-button[data-status=\"declined\"]");
    app.click(".referral-status-confirm");
    app.session.wait_for(".referral[data-status=\"declined\"]", Duration::from_secs(10));
    app.click("#add-referral");
    app.session.find("#referral-form");
    let offered = app.session.execute(
        "return [...document.querySelectorAll('#referral-service option')].some(o => o.value === arguments[0])",
        json!([service]),
    );
    assert!(truthy(&offered), "a declined service can be asked again");
}

#[test]
fn referrals_say_what_happened_in_english_at_1366x768() {
    referrals_say_what_happened("en", 1366, 768);
}

#[test]
fn referrals_say_what_happened_in_spanish_at_1024x600() {
    referrals_say_what_happened("es", 1024, 600);
}

/// A date is picked from a calendar in the worker's language (month names from the locale) and
/// stored as YYYY-MM-DD; the field then shows it the way the locale writes it.
fn a_date_is_picked_from_a_calendar(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    app.create_case("Maelis Trevanion");
    app.click("#edit-case");
    app.fill("#edit-birth-date", "15/03/1990");
    app.click("#edit-birth-date-pick");
    app.session.wait_for("#edit-birth-date-calendar .calendar-day", Duration::from_secs(5));
    let month = if language == "es" { "marzo de 1990" } else { "march 1990" };
    assert_eq!(app.text("#edit-birth-date-calendar .calendar-head strong").to_lowercase(), month);
    app.shot(&format!("date-picker-{language}"));
    app.click("#edit-birth-date-calendar .calendar-prev");
    app.click("#edit-birth-date-calendar .calendar-day[data-day=\"1990-02-14\"]");
    assert_eq!(app.session.find("#edit-birth-date").property("value"), json!("14/02/1990"));
    assert!(app.session.find("#edit-birth-date-calendar").property("hidden") == json!(true), "the calendar closes");
    app.click("#edit-save");
    app.session.wait_until("the summary with the picked date", Duration::from_secs(20), || {
        app.session
            .try_find(".kv[data-field=\"birth_date\"] dd")
            .map(|dd| dd.text())
            .filter(|text| text.contains("1990"))
    });
    let code = app.text("#case-code");
    let stored = app.invoke("get_case", json!({"id": code}));
    assert_eq!(stored["case"]["fields"]["birth_date"], json!("1990-02-14"), "stored as YYYY-MM-DD");
}

#[test]
fn a_date_is_picked_from_a_calendar_in_spanish() {
    a_date_is_picked_from_a_calendar("es", 1024, 600);
}

#[test]
fn a_date_is_picked_from_a_calendar_in_english_at_1366x768() {
    a_date_is_picked_from_a_calendar("en", 1366, 768);
}

/// The service directory is edited in Settings on a standalone laptop, each text in English with
/// its Spanish and French; the referral form then shows the service in the worker's language, and
/// a text still to be filled in reads as such in that language, never in English.
fn the_service_directory_is_edited_and_translated(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    app.click("#settings-button");
    app.wait_screen("settings");
    app.session.wait_for("#directory-panel .directory-edit", Duration::from_secs(10));
    let first = app.session.find("#directory-panel .directory-edit").attribute("data-service").expect("a service id");
    app.click(&format!(".directory-edit[data-service=\"{first}\"]"));
    app.session.wait_for("#directory-form", Duration::from_secs(10));
    assert!(app.session.try_find("#directory-team").is_none(), "a standalone laptop has no team to link a service to");
    app.fill("#directory-contact-en", "Duty desk, ask for the focal point");
    app.fill("#directory-contact-es", "Mostrador de guardia, pregunte por la persona de enlace");
    app.fill("#directory-contact-fr", "Accueil de garde, demandez le point focal");
    app.fill("#directory-phone", "+1 758 452 0000");
    app.session.execute("document.getElementById('directory-save').scrollIntoView({block: 'nearest'})", json!([]));
    assert!(app.in_view("#directory-save"), "Save is on screen");
    app.shot(&format!("directory-edit-{language}"));
    app.click("#directory-save");
    app.session.wait_for("#directory-saved", Duration::from_secs(10));
    let stored = app.invoke("service_directory", json!({}));
    let service = stored["services"].as_array().unwrap().iter().find(|s| s["id"] == json!(first)).unwrap().clone();
    assert_eq!(service["phone"], json!("+17584520000"), "the phone is stored in E.164");
    assert_eq!(
        service["translations"]["es"]["contact"],
        json!("Mostrador de guardia, pregunte por la persona de enlace")
    );

    // The referral form shows the edited service in the worker's language, and another
    // service's text still to be filled in as such in that language.
    app.create_case("Tamsin Orrowhale");
    app.click("#add-referral");
    app.session.find("#referral-form");
    app.choose("#referral-service", &first);
    let card = app.session.wait_until("the service's card", Duration::from_secs(10), || {
        app.session.try_find(&format!(".service-card[data-service=\"{first}\"]")).map(|card| card.text())
    });
    let expected_contact = match language {
        "es" => "Mostrador de guardia, pregunte por la persona de enlace",
        _ => "Duty desk, ask for the focal point",
    };
    assert!(card.contains(expected_contact), "the contact in the interface's language");
    let other = stored["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] != json!(first) && s["contact"] == json!("To be filled in by the administrator"))
        .and_then(|s| s["id"].as_str())
        .expect("a template service still to be filled in")
        .to_owned();
    app.choose("#referral-service", &other);
    let card = app.session.wait_until("the other service's card", Duration::from_secs(10), || {
        app.session.try_find(&format!(".service-card[data-service=\"{other}\"]")).map(|card| card.text())
    });
    assert!(card.contains(&translation("ui.directory.placeholder", language)), "the placeholder is translated");
    if language != "en" {
        assert!(!card.contains("To be filled in"), "no English placeholder in the {language} interface");
    }
}

#[test]
fn the_service_directory_is_edited_in_english_at_1366x768() {
    the_service_directory_is_edited_and_translated("en", 1366, 768);
}

#[test]
fn the_service_directory_is_edited_in_spanish_at_1024x600() {
    the_service_directory_is_edited_and_translated("es", 1024, 600);
}

/// Join later, from Settings, in `language` at `width`×`height`: a laptop started on its own
/// joins its organisation with an invitation and its code, its case moves into the organisation
/// and reaches the ministry, and the join form is gone.
fn a_standalone_laptop_joins_its_organisation_from_settings(language: &str, width: u32, height: u32) {
    let root = tempfile::tempdir().unwrap();
    let Organisation { server: _server, ministry, invited, .. } = Organisation::start(root.path(), "Clinic");

    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    let size = app.session.set_window_size(width, height);
    assert_eq!([size[2], size[3]], [width, height], "the window's size");
    let code = app.create_case("Wrenna Calloway-Stroud");
    if language == "en" {
        app.click("#settings-button");
        app.wait_screen("settings");
    } else {
        app.set_language(language);
    }
    app.session.wait_for("#join-later-invitation", Duration::from_secs(10));
    assert_eq!(app.text("#join-later-title"), translation("ui.join_later.title", language));
    app.session.wait_for_script(
        "a standalone laptop to offer to edit its service directory",
        Duration::from_secs(10),
        "return document.querySelectorAll('#directory-panel .directory-edit').length > 0",
    );
    app.fill("#join-later-invitation", invited["invitation"].as_str().unwrap());
    app.fill("#join-later-code", invited["code"].as_str().unwrap());
    app.session.execute("document.getElementById('join-later-submit').scrollIntoView({block: 'nearest'})", json!([]));
    assert!(app.in_view("#join-later-submit"), "the join button is on screen");
    app.shot(&format!("join-later-{language}"));
    app.click("#join-later-submit");
    let done = app.session.wait_until("the laptop to join", Duration::from_secs(60), || {
        app.session.try_find("#join-later-done").map(|done| done.text())
    });
    let expected = translation("ui.join_later.done_one", language).replace("{team}", "Clinic");
    assert_eq!(done, expected, "the notice says which team and that the case moves");
    // The directory is now the administrator's: the panel stops offering to edit it.
    app.session.wait_for_script(
        "the service directory to be read-only once the laptop joined",
        Duration::from_secs(10),
        "return !!document.getElementById('directory-panel') \
         && document.querySelectorAll('#directory-panel .directory-edit').length === 0",
    );
    app.session.wait_until("the sync bar to say everything was sent", Duration::from_secs(60), || {
        (app.sync_state() == "synced").then_some(())
    });
    harbour_json(&ministry, &["sync"]);
    let found = harbour_json(&ministry, &["case", "list", "--search", "calloway"]);
    let codes: Vec<&str> = found.as_array().unwrap().iter().filter_map(|case| case["code"].as_str()).collect();
    assert_eq!(codes, [code.as_str()], "the ministry finds the case recorded before the laptop joined");
    app.go_to_cases();
    app.click("#settings-button");
    app.wait_screen("settings");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        app.session.try_find("#join-later-invitation").is_none(),
        "a laptop of an organisation is not offered to join"
    );
}

#[test]
fn a_standalone_laptop_joins_later_in_english_at_1366x768() {
    a_standalone_laptop_joins_its_organisation_from_settings("en", 1366, 768);
}

#[test]
fn a_standalone_laptop_joins_later_in_spanish_at_1024x600() {
    a_standalone_laptop_joins_its_organisation_from_settings("es", 1024, 600);
}

/// The administrator changes a service's contact on the ministry's laptop (`harbour directory
/// import`, signed with the root key there) and syncs; a clinic laptop that joined in the app
/// shows, after its sync, the new contact in Spanish in Settings, read-only, at 1024×600.
#[test]
fn a_second_laptop_shows_the_administrators_directory_edit_read_only_in_spanish() {
    let root = tempfile::tempdir().unwrap();
    let Organisation { server: _server, ministry, invited, .. } = Organisation::start(root.path(), "Clinic");
    let file = root.path().join("services.json");
    harbour_json(&ministry, &["directory", "export", file.to_str().unwrap()]);
    let mut directory: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let service = directory["services"][0]["id"].as_str().unwrap().to_owned();
    directory["services"][0]["contact"] = json!("Sergeant Joseph, Castries police station");
    directory["services"][0]["translations"]["es"]["contact"] = json!("Sargento Joseph, comisaría de Castries");
    std::fs::write(&file, serde_json::to_string_pretty(&directory).unwrap()).unwrap();
    let imported = harbour_json(&ministry, &["directory", "import", file.to_str().unwrap()]);
    assert_eq!(imported["signed"], true, "the administrator's laptop signs the directory");
    let synced = harbour_json(&ministry, &["sync"]);
    assert_eq!(synced["service_directory_published"], true, "the administrator's sync publishes it");

    let app = Harbour::start();
    app.wait_screen("first-run");
    app.fill("#join-invitation", invited["invitation"].as_str().unwrap());
    app.fill("#join-code", invited["code"].as_str().unwrap());
    app.fill("#join-worker", WORKER);
    app.fill("#join-passphrase", PASSPHRASE);
    app.click("#join-submit");
    app.session.wait_until("the laptop to join", Duration::from_secs(60), || (app.screen() == "cases").then_some(()));
    // Joining syncs at once (the "Sync now" button is hidden while a sync runs).
    app.session.wait_until("the first sync", Duration::from_secs(60), || (app.sync_state() == "synced").then_some(()));
    let size = app.session.set_window_size(1024, 600);
    assert_eq!([size[2], size[3]], [1024, 600], "the window takes a small laptop's size");
    app.set_language("es");
    let selector = format!("#directory-panel .directory-service[data-service=\"{service}\"] .directory-contact");
    let shown = app.session.wait_until("the received contact in Settings", Duration::from_secs(20), || {
        app.session.try_find(&selector).map(|contact| contact.text()).filter(|text| text.contains("Sargento Joseph"))
    });
    assert_eq!(
        shown,
        format!("{}: Sargento Joseph, comisaría de Castries", translation("directory.contact", "es")),
        "the contact in Spanish, labelled in Spanish"
    );
    let panel = app.text("#directory-panel");
    assert!(panel.contains(&translation("ui.directory.admin_only", "es")), "it says who edits the directory");
    assert!(!panel.contains("Sergeant Joseph"), "the English contact is not shown in the Spanish interface");
    let version = imported["version"].as_u64().unwrap().to_string();
    assert_eq!(
        app.text("#directory-version"),
        translation("ui.directory.version", "es").replace("{version}", &version)
    );
    assert!(app.session.try_find(".directory-edit").is_none(), "no edit button on a clinic's laptop");
    assert!(app.session.try_find("#directory-form").is_none());
    app.session
        .execute(&format!("document.querySelector('{selector}').scrollIntoView({{block: 'center'}})"), json!([]));
    app.shot("directory-received-es");
}

/// `harbour --json ARGS` on the app's data directory, unlocked with the test passphrase.
fn harbour_json_unlocked(data_dir: &std::path::Path, args: &[&str]) -> Value {
    let output = std::process::Command::new(binary("harbour"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--json")
        .args(args)
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("harbour runs");
    assert!(output.status.success(), "harbour {:?}: {}", args.first(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("harbour --json prints JSON")
}

/// One text of the interface's translation table (assets/i18n/strings.json).
fn translation(key: &str, language: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/i18n/strings.json");
    let table: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("strings.json is readable"))
        .expect("strings.json is JSON");
    table[key][language].as_str().unwrap_or_else(|| panic!("strings.json has no {language} text for {key}")).to_owned()
}

/// The desktop app in a session with an empty data directory of its own.
struct Harbour {
    // Dropped first: the session ends before its driver does.
    session: Session,
    desktop: Desktop,
    shots: Screenshots,
}

impl Harbour {
    fn start() -> Harbour {
        let desktop = Desktop::start(&binary("harbour-desktop"));
        let session = desktop.session();
        Harbour { session, desktop, shots: Screenshots::new() }
    }

    /// On the open case page: a referral to the directory's first service with the default
    /// consent, recorded; returns the service's id.
    fn refer_to_first_service(&self) -> String {
        self.click("#add-referral");
        self.session.find("#referral-form");
        let service = self
            .session
            .execute(
                "return [...document.querySelectorAll('#referral-service option')].map(o => o.value).find(v => v) || null",
                json!([]),
            )
            .as_str()
            .expect("the directory offers a service")
            .to_owned();
        self.choose("#referral-service", &service);
        self.click("#referral-consent");
        self.click("#referral-submit");
        self.session.wait_for(".referral[data-status=\"sent\"]", Duration::from_secs(10));
        service
    }

    /// `document.body.dataset.screen`.
    fn screen(&self) -> String {
        self.session
            .execute("return document.body.dataset.screen || ''", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn wait_screen(&self, screen: &str) {
        self.session.wait_until(&format!("the screen `{screen}`"), Duration::from_secs(20), || {
            (self.screen() == screen).then_some(())
        });
    }

    /// Clears the field `selector` and types `text` into it (and checks that it arrived whole).
    fn fill(&self, selector: &str, text: &str) {
        let field = self.session.find(selector);
        field.clear();
        field.send_keys(text);
        assert!(field.property("value") == json!(text), "{selector} holds exactly what was typed");
    }

    fn click(&self, selector: &str) {
        self.session.click(selector);
    }

    /// Picks the option `value` of the `<select>` `selector` (as a click would).
    fn choose(&self, selector: &str, value: &str) {
        self.click(&format!("{selector} option[value=\"{value}\"]"));
        let chosen = self.session.find(selector).property("value");
        assert_eq!(chosen, json!(value), "{selector} has {value} chosen");
    }

    fn text(&self, selector: &str) -> String {
        self.session.text(selector)
    }

    fn shot(&self, name: &str) {
        self.shots.take(&self.desktop, &self.session, name);
    }

    /// Which of `needles` the driver's log (with the app's stderr) holds.
    fn log_has(&self, needles: &[&str]) -> Vec<bool> {
        let log = std::fs::read_to_string(self.desktop.log_path()).unwrap_or_default().to_lowercase();
        needles.iter().map(|needle| log.contains(&needle.to_lowercase())).collect()
    }

    /// First run: a new workspace with the test passphrase; ends on the case list.
    fn create_workspace(&self) {
        self.fill("#create-worker", WORKER);
        self.fill("#create-passphrase", PASSPHRASE);
        self.fill("#create-passphrase-confirm", PASSPHRASE);
        self.click("#create-submit");
        self.wait_screen("cases");
    }

    fn go_to_cases(&self) {
        self.click("#nav-cases");
        self.wait_screen("cases");
    }

    /// A new case named `name` (past the duplicate warning, if any); ends on its page and
    /// returns its code.
    /// The sync bar's `data-state` (offline, syncing, synced, failed …), or "" when not shown.
    fn sync_state(&self) -> String {
        self.session.try_find("#sync-state").and_then(|bar| bar.attribute("data-state")).unwrap_or_default()
    }

    fn create_case(&self, name: &str) -> String {
        self.go_to_cases();
        self.click("#new-case");
        self.wait_screen("new-case");
        self.fill("#case-name", name);
        self.click("#case-save");
        self.session.wait_until("the new case's page or the duplicate warning", Duration::from_secs(20), || {
            if self.screen() == "case" {
                return Some(());
            }
            let warning = self.session.try_find("#duplicates-create-anyway")?;
            let shown = self.session.execute("return !document.getElementById('duplicates').hidden", json!([]));
            truthy(&shown).then(|| warning.click());
            None
        });
        self.session.wait_until("the case code", Duration::from_secs(10), || {
            self.session.try_find("#case-code").map(|code| code.text()).filter(|code| !code.is_empty())
        })
    }

    /// Esc twice from the element `selector` (the neutral screen), then, once it has settled,
    /// Esc twice again: ends on the unlock screen.
    fn quick_exit_and_back(&self, selector: &str) {
        self.session.find(selector).send_keys("\u{E00C}\u{E00C}");
        self.wait_screen("neutral");
        std::thread::sleep(Duration::from_millis(2100));
        self.session.find("#neutral-notes").send_keys("\u{E00C}\u{E00C}");
        self.wait_screen("unlock");
    }

    fn unlock(&self) {
        self.fill("#unlock-passphrase", PASSPHRASE);
        self.click("#unlock-submit");
        self.session
            .wait_until("the app to open again", Duration::from_secs(20), || (self.screen() != "unlock").then_some(()));
    }

    /// Calls a command of the shell as the page does; a refusal panics with its kind.
    fn invoke(&self, command: &str, args: Value) -> Value {
        let answer = self.session.execute_async(
            "const [command, args, done] = arguments;
             window.__TAURI__.core.invoke(command, args).then((value) => done({ ok: value ?? null }), (error) => done({ error }));",
            json!([command, args]),
        );
        assert!(answer.get("error").is_none(), "{command} was refused: {}", answer["error"]["kind"]);
        answer["ok"].clone()
    }

    /// The draft `kind:<id of the case on screen>` (null when there is none).
    fn draft_of(&self, kind: &str) -> Value {
        let code = self.text("#case-code");
        let id = self.invoke("get_case", json!({"id": code}))["case"]["id"].as_str().expect("a case id").to_owned();
        self.invoke("load_draft", json!({"key": format!("{kind}:{id}")}))
    }

    /// Switches the interface's language in Settings; ends on the settings screen.
    fn set_language(&self, language: &str) {
        self.click("#settings-button");
        self.wait_screen("settings");
        self.choose("#settings-language", language);
        self.session.wait_for_script(
            "<html lang> to change",
            Duration::from_secs(10),
            &format!("return document.documentElement.lang === '{language}'"),
        );
    }

    /// Types `typed` into the picker `selector` and chooses the option `value`.
    fn pick(&self, selector: &str, typed: &str, value: &str) {
        self.fill(selector, typed);
        self.click(&format!("{selector}-options .pick-option[data-value=\"{value}\"]"));
        self.session.wait_for(&format!("{selector}-chosen .chip[data-value=\"{value}\"]"), Duration::from_secs(5));
    }

    /// Whether `selector` is wholly on screen, above the sync bar.
    fn in_view(&self, selector: &str) -> bool {
        truthy(&self.session.execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();
             const bar = document.getElementById('sync-bar');
             const bottom = bar ? bar.getBoundingClientRect().top : window.innerHeight;
             const top = document.getElementById('main').getBoundingClientRect().top;
             return r.top >= top && r.bottom <= bottom;",
            json!([selector]),
        ))
    }

    /// "New screening" for someone new called `name`, on the form `form`: ends on the opening
    /// script, the case not recorded yet.
    fn begin_screening(&self, name: &str, form: &str, lang: Lang) {
        self.go_to_cases();
        self.click("#new-screening");
        self.wait_screen("new-case");
        self.fill("#case-name", name);
        self.click("#case-save");
        self.wait_screen("wizard");
        self.session.wait_for("#wizard-start", Duration::from_secs(20));
        self.choose("#wizard-form", form);
        let title = FormLibrary::builtin().latest(form).expect("a built-in form").title.get(lang).to_owned();
        self.session.wait_until("the form's opening page", Duration::from_secs(10), || {
            (self.text("#wizard h1") == title).then_some(())
        });
    }

    /// The id of the question on screen, if one is.
    fn question_shown(&self) -> Option<String> {
        let id = self.session.execute(
            "const q = document.querySelector('form.question'); return q ? q.dataset.question : null",
            json!([]),
        );
        id.as_str().map(str::to_owned)
    }

    /// Answers every question the wizard shows (`plan`, else "no"; "declined" where "no" is
    /// not a choice) and finishes; ends on the result. Returns the answers given.
    fn answer_wizard(&self, plan: &[(&str, &str)]) -> Answers {
        let mut answers = Answers::new();
        let mut previous = String::new();
        for step in 0.. {
            assert!(step < 60, "the wizard asked more than 60 questions");
            let next = self.session.wait_until(
                "the next question or the check of the answers",
                Duration::from_secs(10),
                || {
                    if self.session.try_find("#wizard-review").is_some() {
                        return Some(None);
                    }
                    self.question_shown().filter(|id| *id != previous).map(Some)
                },
            );
            // After the last question, the answers to check: Finish records them.
            let Some(question) = next else {
                self.click("#wizard-finish");
                break;
            };
            if step == 0 {
                self.shot("wizard-question");
            }
            let wanted = plan.iter().find(|(id, _)| *id == question).map_or("no", |(_, answer)| answer);
            let choice = [wanted, "declined"]
                .into_iter()
                .find_map(|value| {
                    Some((value, self.session.try_find(&format!("input[name=\"{question}\"][value=\"{value}\"]"))?))
                })
                .unwrap_or_else(|| panic!("{question} offers neither {wanted} nor declined"));
            // Read before the click: a choice made with the mouse moves on to the next question.
            let checkbox = self.session.find(&format!("input[name=\"{question}\"]")).attribute("type").as_deref()
                == Some("checkbox");
            choice.1.click();
            let value = if checkbox && choice.0 != "declined" { json!([choice.0]) } else { json!(choice.0) };
            answers.insert(question.clone(), value);
            previous = question;
            // A choice made with the mouse goes on by itself (one click per question); ticked
            // boxes and typed answers go on with Next.
            if self.question_shown().as_deref() == Some(previous.as_str()) {
                self.click("#wizard-next");
            }
        }
        self.session.wait_for("#result-level", Duration::from_secs(20));
        answers
    }
}

// ---- Issue 11: the frontline path ------------------------------------------------------------

/// Item 4, the result reaches the case: tests/it/desktop_result.rs.
#[path = "desktop_result.rs"]
mod result_reaches_the_case;

/// Item 7, the smaller points: tests/it/desktop_smaller.rs.
#[path = "desktop_smaller.rs"]
mod smaller_points;

/// Item 2, errors beside their fields on the referral form and the directory editor:
/// tests/it/desktop_errors.rs.
#[path = "desktop_errors.rs"]
mod errors_beside_fields;

/// Item 1, drafts of a new case, a referral and a screening: tests/it/desktop_drafts.rs.
#[path = "desktop_drafts.rs"]
mod drafts_come_back;

/// Item 5, a referral delivered to the receiving team: tests/it/desktop_delivered.rs.
#[path = "desktop_delivered.rs"]
mod delivered;

/// A fresh app with a workspace, in `language` at `width`×`height`; ends on the settings screen
/// (or the case list in English).
fn frontline_app(language: &str, width: u32, height: u32) -> Harbour {
    with_workspace_in(Harbour::start(), language, width, height)
}

/// `app`, just started, with a new workspace, in `language` at `width`×`height`.
fn with_workspace_in(app: Harbour, language: &str, width: u32, height: u32) -> Harbour {
    app.wait_screen("first-run");
    app.create_workspace();
    if language != "en" {
        app.set_language(language);
    }
    let size = app.session.set_window_size(width, height);
    assert_eq!([size[2], size[3]], [width, height], "the window's size");
    app
}

/// Nothing typed is lost, in `language` at `width`×`height`: an edit of a case's details comes
/// back after a quick exit and the unlock (and the unlock screen says the work was saved only
/// because it was), after leaving for the list, and a note being typed comes back after the Lock
/// button; each time with its Save button in view above the sync bar.
fn typed_work_comes_back(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    app.create_case("Ysolde Brannock");

    // Edit details → Esc twice → Esc twice → unlock: the edit is on screen, not lost.
    app.click("#edit-case");
    app.fill("#edit-location", "Vieux Fort");
    app.quick_exit_and_back("#edit-location");
    assert_eq!(app.text("main .lead"), translation("ui.unlock.reason_quick_exit", language));
    assert_eq!(app.text("#unlock-submit"), translation("ui.unlock.submit", language));
    app.shot(&format!("unlock-work-saved-{language}-{width}"));
    app.unlock();
    app.wait_screen("case");
    let location = app.session.wait_until("the edit form to come back", Duration::from_secs(20), || {
        app.session.try_find("#edit-location").map(|field| field.property("value"))
    });
    assert_eq!(location, json!("Vieux Fort"), "the location typed before the quick exit");
    assert_eq!(app.text("#edit-restored"), translation("ui.case.edit_restored", language), "the form says so");
    assert_eq!(app.text("#edit-save"), translation("ui.common.save", language));
    assert!(app.in_view("#edit-save"), "Save is in view above the sync bar");
    app.shot(&format!("edit-restored-{language}-{width}"));
    app.click("#edit-save");
    app.session.wait_until("the summary with the new location", Duration::from_secs(20), || {
        app.session.try_find(".kv[data-field=\"location\"] dd").filter(|dd| dd.text() == "Vieux Fort")
    });
    assert!(app.draft_of("edit").is_null(), "a saved edit leaves no draft");

    // Leaving for the list and coming back: the edit is still there.
    app.click("#edit-case");
    app.fill("#edit-aliases", "Sol");
    app.go_to_cases();
    app.click(".case-row");
    app.wait_screen("case");
    let aliases = app.session.wait_until("the edit form after the list", Duration::from_secs(20), || {
        app.session.try_find("#edit-aliases").map(|field| field.property("value"))
    });
    assert_eq!(aliases, json!("Sol"), "the alias typed before leaving for the list");
    assert_eq!(app.text("#edit-restored"), translation("ui.case.edit_restored", language));
    assert_eq!(app.text("#edit-cancel"), translation("ui.common.cancel", language));
    assert!(app.in_view("#edit-cancel"), "Cancel is in view above the sync bar");
    app.click("#edit-cancel");
    assert!(app.draft_of("edit").is_null(), "cancelling drops the draft");

    // A note being typed, then the Lock button: the note is back after the unlock.
    app.session.find("#note-text").send_keys("Came with a cousin");
    app.click("#lock-button");
    app.wait_screen("unlock");
    app.unlock();
    app.wait_screen("case");
    let note = app.session.wait_until("the note to come back", Duration::from_secs(20), || {
        app.session.try_find("#note-text").map(|text| text.property("value")).filter(|value| value != &json!(""))
    });
    assert_eq!(note, json!("Came with a cousin"));
    assert_eq!(app.text("#note-save"), translation("ui.notes.save", language));
    assert!(app.in_view("#note-save"), "the note's Save is in view above the sync bar");
}

#[test]
fn typed_work_comes_back_in_english_at_1366x768() {
    typed_work_comes_back("en", 1366, 768);
}

#[test]
fn typed_work_comes_back_in_spanish_at_1024x600() {
    typed_work_comes_back("es", 1024, 600);
}

/// Errors people understand, in `language` at `width`×`height`: every refused field of an edit at
/// once, each beside its field in that language and named by its label (never `birth_date`, nor
/// an English word in Spanish), marked aria-invalid, the first in view, and Save reachable. A date
/// written 04/05/1996 is 4 May; languages and countries are chosen by name (Kwéyòl among them).
fn edit_errors_are_sentences_beside_each_field(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    let code = app.create_case("Maialen Etxeberria");

    app.click("#edit-case");
    app.fill("#edit-birth-date", "01/01/2999");
    app.fill("#edit-phone", "llámame");
    app.fill("#edit-estimated-age", "300");
    app.click("#edit-save");
    app.session.wait_for("#edit-error:not([hidden])", Duration::from_secs(20));
    let fault = |fault: &str, label: &str| {
        translation(fault, language).replace("{field}", &translation(&format!("ui.field.{label}"), language))
    };
    let expected = [
        ("#edit-birth-date", fault("error.fault.date_in_future", "birth_date")),
        ("#edit-estimated-age", fault("error.fault.not_an_age", "estimated_age")),
        ("#edit-phone", fault("error.fault.not_a_phone", "phone")),
    ];
    for (field, sentence) in &expected {
        assert_eq!(app.text(&format!("{field}-fault")), *sentence, "{field} says what is wrong, in {language}");
        let marked = app.session.find(field).attribute("aria-invalid");
        assert_eq!(marked.as_deref(), Some("true"), "{field} is marked");
        let styled = app
            .session
            .execute("return getComputedStyle(document.querySelector(arguments[0])).borderTopWidth", json!([field]));
        assert_eq!(styled, json!("2px"), "{field} looks marked");
    }
    let everything = app.session.execute(
        "return [...document.querySelectorAll('#edit-error, .field-fault:not([hidden])')].map(e => e.textContent).join(' ')",
        json!([]),
    );
    let everything = everything.as_str().unwrap_or_default().to_lowercase();
    let mut internal = vec!["birth_date", "estimated_age", "e.164", "iso", "yyyy"];
    if language != "en" {
        internal.extend(["phone", " the ", "future", " use "]);
    }
    for word in internal {
        assert!(!everything.contains(word), "no internal name or English word `{}` in the errors", word.trim());
    }
    assert!(app.in_view("#edit-birth-date"), "the first field at fault is in view");
    assert_eq!(app.session.execute("return document.activeElement.id", json!([])), json!("edit-birth-date"));
    assert!(app.in_view("#edit-save"), "Save is in view above the sync bar");
    app.shot(&format!("edit-errors-{language}-{width}"));

    // The way the locale writes a date, and languages and countries by their names.
    let (spanish, saint_lucia) = if language == "es" { ("españ", "santa lu") } else { ("spani", "saint lu") };
    app.fill("#edit-birth-date", "04/05/1996");
    app.fill("#edit-phone", "+1 758 452 0000");
    app.session.find("#edit-estimated-age").clear();
    app.pick("#edit-languages", "kwéy", "acf");
    app.pick("#edit-languages", spanish, "es");
    app.pick("#edit-nationalities", saint_lucia, "LC");
    assert!(app.in_view("#edit-save"), "Save is in view above the sync bar");
    app.click("#edit-save");
    app.session.wait_until("the summary after the edit", Duration::from_secs(20), || {
        app.session.try_find(".kv[data-field=\"birth_date\"]")
    });
    let case = app.invoke("get_case", json!({"id": code}));
    let fields = &case["case"]["fields"];
    assert_eq!(fields["birth_date"], json!("1996-05-04"), "04/05/1996 is the 4th of May");
    assert_eq!(fields["languages"], json!(["acf", "es"]));
    assert_eq!(fields["nationalities"], json!(["LC"]));
}

#[test]
fn edit_errors_are_sentences_beside_each_field_in_english_at_1366x768() {
    edit_errors_are_sentences_beside_each_field("en", 1366, 768);
}

#[test]
fn edit_errors_are_spanish_sentences_beside_each_field_at_1024x600() {
    edit_errors_are_sentences_beside_each_field("es", 1024, 600);
}

/// The screening respects safety and consent, in `language` at `width`×`height`: a new person's
/// case is recorded only when they agree after the opening script ("Not now" records nothing and
/// forgets the name); "no" to "is it safe to talk here?" ends the interview with what to do now,
/// keeps none of its answers; one click answers a question, and a paused screening shows on the
/// case.
fn an_unsafe_answer_stops_the_screening(language: &str, width: u32, height: u32) {
    let app = frontline_app(language, width, height);
    let lang = Lang::parse(language).expect("a form language");
    let form = FormLibrary::builtin().latest("clinic-screening").expect("the clinic screening").clone();
    let first = &form.sections[0].questions[0];

    // "Not now" after the opening script: nothing recorded, the name forgotten.
    app.begin_screening("Orlaith Venmore", &form.id, lang);
    assert_eq!(app.text("#wizard-start"), translation("ui.wizard.agree_start", language));
    assert_eq!(app.text("#wizard-not-now"), translation("ui.wizard.not_now_discard", language));
    assert!(app.in_view("#wizard-start") && app.in_view("#wizard-not-now"), "both choices above the sync bar");
    assert_eq!(app.invoke("list_cases", json!({"query": {}}))["total"], json!(0), "no case before the person agrees");
    app.click("#wizard-not-now");
    app.wait_screen("cases");
    assert_eq!(app.invoke("list_cases", json!({"query": {}}))["total"], json!(0));
    assert!(app.invoke("load_draft", json!({"key": "new-case"})).is_null(), "the name typed is forgotten");

    // The person agrees: the case is recorded, and "no" to the first question stops at once.
    app.begin_screening("Orlaith Venmore", &form.id, lang);
    app.click("#wizard-start");
    app.session.wait_for(&format!("form.question[data-question=\"{}\"]", first.id), Duration::from_secs(20));
    assert_eq!(app.invoke("list_cases", json!({"query": {}}))["total"], json!(1), "the case exists once they agree");
    assert_eq!(app.text("form.question legend"), first.text.get(lang), "the question in the worker's language");
    let no = format!("input[name=\"{}\"][value=\"no\"]", first.id);
    let no_label = app.session.execute(
        "return document.querySelector(`label[for=\"${document.querySelector(arguments[0]).id}\"]`).textContent",
        json!([no]),
    );
    assert_eq!(no_label, json!(translation("answer.no", language)));
    if language == "en" {
        app.click(&no);
    } else {
        // By its key, shown beside it: a key stops as the click does.
        let key = app.session.find(&no).attribute("aria-keyshortcuts").expect("each answer has its key");
        assert_eq!(key, "2", "\"no\" is the second answer");
        app.session.focused().send_keys(&key);
    }
    app.session.wait_for("#wizard-stop", Duration::from_secs(10));
    let advice = first.stop.as_ref().expect("the question can stop").advice.get(lang);
    assert_eq!(app.text("#wizard-stop h1"), translation("ui.wizard.stop_title", language));
    assert_eq!(app.text("#wizard-stop-advice"), advice, "what to do now, from the form");
    assert_eq!(app.text("#wizard-stop-end"), translation("ui.wizard.stop_end", language));
    assert_eq!(app.text("#wizard-stop-back"), translation("ui.wizard.stop_back", language));
    assert!(app.in_view("#wizard-stop-end") && app.in_view("#wizard-stop-back"), "the stop's buttons in view");
    assert!(app.session.try_find("form.question").is_none(), "no next question");
    app.shot(&format!("screening-stop-{language}-{width}"));
    app.click("#wizard-stop-end");
    app.wait_screen("case");
    let code = app.text("#case-code");
    let case = app.invoke("get_case", json!({"id": code}));
    assert_eq!(case["case"]["screenings"], json!([]), "no screening is recorded");
    assert!(app.session.try_find("#screening-paused").is_none(), "and no answers are kept");

    // One click per question: "yes" goes straight to the next question, which opens at the top.
    app.click("#start-screening");
    app.wait_screen("wizard");
    app.click("#wizard-start");
    app.click(&format!("input[name=\"{}\"][value=\"yes\"]", first.id));
    app.session.wait_until("the second question after one click", Duration::from_secs(10), || {
        app.question_shown().filter(|question| *question != first.id)
    });
    assert_eq!(app.session.execute("return document.getElementById('main').scrollTop", json!([])), json!(0));
    assert!(app.in_view("#wizard-pause"), "Pause is in view above the sync bar");

    // Paused: the case page says so and offers to resume.
    app.click("#wizard-pause");
    app.wait_screen("case");
    let paused = app.session.wait_until("the paused screening on the case", Duration::from_secs(10), || {
        app.session.try_find("#screening-paused").map(|notice| notice.text())
    });
    assert_eq!(paused, translation("ui.case.screening_paused_one", language).replace("{n}", "1"));
    assert_eq!(app.text("#start-screening"), translation("ui.case.resume_screening", language));
}

#[test]
fn an_unsafe_answer_stops_the_screening_in_english_at_1366x768() {
    an_unsafe_answer_stops_the_screening("en", 1366, 768);
}

#[test]
fn an_unsafe_answer_stops_the_screening_in_spanish_at_1024x600() {
    an_unsafe_answer_stops_the_screening("es", 1024, 600);
}

/// A case made through the shell's own command, as the new-case screen sends it; returns its code.
fn case_with(app: &Harbour, name: &str, fields: &[(&str, &str)]) -> String {
    let mut all = serde_json::Map::new();
    all.insert("name".into(), json!(name));
    for (field, value) in fields {
        all.insert((*field).into(), json!(value));
    }
    let state = app.invoke("create_case", json!({ "fields": all }));
    state["code"].as_str().expect("a new case has a code").to_owned()
}

impl Harbour {
    fn open_dashboard(&self) {
        self.click("#nav-dashboard");
        self.wait_screen("dashboard");
        self.dashboard_ready();
    }

    fn dashboard_ready(&self) {
        self.session.wait_until("the dashboard's figures", Duration::from_secs(20), || {
            self.session.try_find("#dashboard[data-state=\"ready\"]").map(|_| ())
        });
    }

    /// Waits for the dashboard, opened again instead of a number's list, to be painted with its
    /// notice; returns the notice's sentence.
    fn refreshed_with_notice(&self) -> String {
        self.wait_screen("dashboard");
        self.dashboard_ready();
        self.session.wait_until("the dashboard's notice", Duration::from_secs(20), || {
            let notice = self.session.try_find("#dashboard-notice")?;
            let shown = self.session.execute("return !document.getElementById('dashboard-notice').hidden", json!([]));
            truthy(&shown).then(|| notice.text().trim().to_owned()).filter(|text| !text.is_empty())
        })
    }

    /// The number the dashboard shows for `key`, read from its link.
    fn figure(&self, key: &str) -> u64 {
        let link = self.session.find(&format!(".figure-link[data-key=\"{key}\"]"));
        let shown: u64 = link.text().trim().parse().expect("a figure is a whole number");
        assert_eq!(link.attribute("data-count"), Some(shown.to_string()), "{key}: the link's count is its text");
        shown
    }

    /// Follows the number `selector` to its list; returns the list's count and the codes listed.
    fn follow(&self, selector: &str) -> (u64, Vec<String>) {
        self.click(selector);
        self.wait_screen("figure");
        let total = self.session.wait_until("the list's count", Duration::from_secs(20), || {
            self.session.try_find("#figure-count").and_then(|count| count.attribute("data-total"))
        });
        let codes = self.session.find_all(".figure-row").iter().filter_map(|row| row.attribute("data-code")).collect();
        (total.parse().expect("a count"), codes)
    }

    /// Every label of the screen: headings, table headers, tile labels, buttons that are not
    /// numbers, options and field labels.
    fn labels(&self) -> Vec<String> {
        let found = self.session.execute(
            "return [...document.querySelectorAll('main h1, main h2, main th, main label, main .dash-tile-label, main button:not(.figure-link), main option, main .lead, header button')]
               .map((element) => element.textContent.trim()).filter(Boolean);",
            json!([]),
        );
        found.as_array().expect("a list").iter().filter_map(|text| text.as_str().map(str::to_owned)).collect()
    }
}

/// Settings → "no activity" days is the number the dashboard's inactive cases count by: three
/// open cases and a closed one last changed 40 days ago (written on a laptop whose clock said
/// so, before the app opens it), one open case changed today. At 30 days the three count; at 60
/// none; at 39 the three again; the tile says the number of days chosen.
#[test]
fn the_settings_no_activity_days_change_the_dashboards_inactive_cases() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("harbour");
    {
        let options = harbour_core::store::CreateOptions {
            kdf: harbour_core::crypto::KdfParams::INSECURE_FAST_FOR_TESTS,
            worker: WORKER.into(),
            ..Default::default()
        };
        let mut workspace = harbour_core::Workspace::create(&dir, PASSPHRASE, &options).unwrap();
        let weeks_ago = chrono::Utc::now() - chrono::Duration::days(40);
        workspace.set_clock_for_tests(Some(weeks_ago));
        for name in ["Ilvane Corrowin", "Jessamy Torlich", "Kestrel Wandamere", "Lorian Pashcombe"] {
            workspace.create_case(harbour_core::model::CaseFields::named(name).unwrap()).unwrap();
        }
        let closed = workspace.list_cases(&Default::default()).unwrap()[0].id;
        workspace.close_case(closed, "Left the country", false).unwrap();
        workspace.set_clock_for_tests(None);
        workspace.create_case(harbour_core::model::CaseFields::named("Mirelle Ostbury").unwrap()).unwrap();
    }
    let desktop = Desktop::start_on(&binary("harbour-desktop"), &dir, &[]);
    let session = desktop.session();
    let app = Harbour { session, desktop, shots: Screenshots::new() };
    app.wait_screen("unlock");
    app.unlock();

    let inactive_after = |days: u32| -> (u64, String) {
        app.click("#settings-button");
        app.wait_screen("settings");
        app.fill("#settings-inactive-days", &days.to_string());
        app.click("#settings-save");
        app.session.wait_until("the settings saved", Duration::from_secs(10), || {
            (!app.text(".saved").trim().is_empty()).then_some(())
        });
        app.open_dashboard();
        (app.figure("inactive"), app.text("#tile-inactive .dash-tile-label"))
    };
    let (count, label) = inactive_after(30);
    assert_eq!(count, 3, "the three open cases left alone for 40 days");
    assert!(label.contains("30"), "{label}");
    let (listed, _) = app.follow(".figure-link[data-key=\"inactive\"]");
    assert_eq!(listed, 3, "its list counts as many");
    let (count, label) = inactive_after(60);
    assert_eq!(count, 0, "no case left alone for 60 days");
    assert!(label.contains("60"), "{label}");
    assert_eq!(inactive_after(39).0, 3, "39 days: the three again");
    assert_eq!(app.figure("total"), 5);
}

/// The dashboard: each number opens the list of what it counts and the list's count is the
/// number; the team filter changes exactly the figures expected; Print asks the window to print
/// (and the print stylesheet leaves out the bars and buttons); the annual figures' cells open
/// their cases; in Spanish and French no label is left in English.
#[test]
fn the_dashboard_opens_the_cases_behind_each_number_filters_and_prints() {
    let app = Harbour::start();
    app.wait_screen("first-run");
    app.create_workspace();
    // Five people: three women, two men; three with the team North, two with South.
    let north = [("assigned_team", "North")];
    let south = [("assigned_team", "South")];
    let identified = case_with(
        &app,
        "Arvessa Quillmont",
        &[
            ("sex", "female"),
            ("nationality", "GY"),
            ("exploitation_type", "sexual_exploitation"),
            ("identification_status", "identified"),
            north[0],
        ],
    );
    let second = case_with(
        &app,
        "Belinde Oskarvik",
        &[
            ("sex", "female"),
            ("nationality", "VE"),
            ("exploitation_type", "forced_labour"),
            ("labour_sector", "agriculture"),
            north[0],
        ],
    );
    let third = case_with(&app, "Corvina Haldemar", &[("sex", "female"), ("nationality", "LC"), south[0]]);
    case_with(
        &app,
        "Dantor Velisk",
        &[
            ("sex", "male"),
            ("nationality", "GY"),
            ("exploitation_type", "forced_labour"),
            ("labour_sector", "construction"),
            south[0],
        ],
    );
    case_with(&app, "Emrik Sallowen", &[("sex", "male"), north[0]]);

    app.open_dashboard();
    app.shot("dashboard");
    app.session.execute(
        "const main = document.getElementById('main');
         main.scrollTop += document.getElementById('group-by_sex').getBoundingClientRect().top - main.getBoundingClientRect().top;",
        json!([]),
    );
    // A chart is drawn when its section comes near the screen.
    app.session.wait_for("#group-by_sex[data-chart=\"drawn\"]", Duration::from_secs(10));
    app.shot("dashboard-people");
    assert_eq!(app.figure("total"), 5);
    assert_eq!(app.figure("by_sex.female"), 3);
    assert_eq!(app.figure("by_sex.male"), 2);
    assert_eq!(app.figure("by_nationality.GY"), 2);
    assert_eq!(app.figure("by_identification.identified"), 1);
    assert_eq!(app.figure("by_exploitation.forced_labour"), 2);
    assert_eq!(app.figure("by_labour_sector.agriculture"), 1);
    assert_eq!(app.figure("by_team.North"), 3);
    assert_eq!(app.figure("by_status.active"), 5);
    // Every figure of the screen is drawn beside its chart and its table's total is its parts'.
    let charts = app.session.execute("return document.querySelectorAll('.dash-chart canvas').length", json!([]));
    assert!(charts.as_u64().is_some_and(|n| n >= 10), "the figures have their charts: {charts}");
    let totals_add_up = app.session.execute(
        "return [...document.querySelectorAll('.dash-table')].every((table) => {
           const parts = [...table.querySelectorAll('tbody .figure-link')].reduce((sum, link) => sum + Number(link.dataset.count), 0);
           const total = table.querySelector('.dash-total');
           if (total) return Number(total.textContent.replace(/\\D/g, '')) === parts;
           // A foot of people each counted once (assisted, by service): at most its rows' sum.
           return Number(table.querySelector('.dash-people .figure-link').dataset.count) <= parts;
         })",
        json!([]),
    );
    assert_eq!(totals_add_up, json!(true), "each table's total is the sum of its rows");
    assert_eq!(app.figure("assisted"), 0, "nobody received a service");

    // A number opens its cases, and the list's count is the number.
    let (count, mut codes) = app.follow(".figure-link[data-key=\"by_sex.female\"]");
    assert_eq!(count, 3, "the list of women counts three");
    codes.sort();
    let mut expected = vec![identified.clone(), second.clone(), third.clone()];
    expected.sort();
    assert_eq!(codes, expected, "the list holds exactly the women's cases");
    app.click(".figure-row");
    app.wait_screen("case");
    app.open_dashboard();

    // The team filter: South has one woman and one man.
    app.choose("#dash-team", "South");
    app.session.wait_until("the figures for South", Duration::from_secs(20), || {
        let ready = app.session.try_find("#dashboard[data-state=\"ready\"]").is_some();
        (ready && app.figure("total") == 2).then_some(())
    });
    assert_eq!(app.figure("by_sex.female"), 1);
    assert_eq!(app.figure("by_sex.male"), 1);
    assert_eq!(app.figure("by_team.South"), 2);
    let (count, codes) = app.follow(".figure-link[data-key=\"by_sex.female\"]");
    assert_eq!((count, codes), (1, vec![third.clone()]), "South's woman, and only her");
    app.click("#figure-back");
    app.wait_screen("dashboard");
    app.dashboard_ready();
    assert_eq!(app.figure("total"), 2, "the filter is kept on the way back");
    app.choose("#dash-team", "");
    app.session.wait_until("the figures for every team", Duration::from_secs(20), || {
        let ready = app.session.try_find("#dashboard[data-state=\"ready\"]").is_some();
        (ready && app.figure("total") == 5).then_some(())
    });

    // The figures change behind the screen: a woman's case is changed to a man's and the
    // figures are worked out again without the screen being painted (as when two computations
    // of the dashboard end out of order). Her number on screen is not followed to a list of
    // another count: the dashboard is refreshed and says why, in a sentence of its own.
    app.invoke("update_case", json!({ "id": third, "values": { "sex": "male" }, "reason": null }));
    app.invoke("dashboard", json!({ "query": {} }));
    assert_eq!(app.figure("by_sex.female"), 3, "the screen still shows the number it painted");
    app.click(".figure-link[data-key=\"by_sex.female\"]");
    let notice = app.refreshed_with_notice();
    assert_eq!(notice, translation("error.figures_changed", "en"), "the refresh says what happened");
    assert_eq!(app.figure("by_sex.female"), 2, "the refreshed dashboard counts the cases as they are now");
    let (count, mut codes) = app.follow(".figure-link[data-key=\"by_sex.female\"]");
    codes.sort();
    let mut women = vec![identified.clone(), second.clone()];
    women.sort();
    assert_eq!((count, codes), (2, women), "the number chosen again lists its cases");
    // Locked on a number's list and opened again: the figures it came from are gone (forgotten
    // with the lock); the dashboard is worked out again and says so.
    app.click("#lock-button");
    app.wait_screen("unlock");
    app.unlock();
    let notice = app.refreshed_with_notice();
    assert_eq!(notice, translation("error.figures_gone", "en"), "the refresh after the lock says what happened");
    assert_eq!(app.figure("by_sex.female"), 2);

    // Print: the button asks the window to print, every chart drawn first (those not scrolled to
    // are drawn when they come near the screen); what prints leaves out the bars and buttons.
    app.session.execute("window.__printed = 0; window.print = () => { window.__printed += 1; };", json!([]));
    app.click("#dashboard-print");
    app.session.wait_for_script("the print to be asked for", Duration::from_secs(5), "return window.__printed === 1");
    let undrawn = app.session.execute(
        "return [...document.querySelectorAll('.dash-group')].filter((section) => section.querySelector('.dash-chart') && section.dataset.chart !== 'drawn').length",
        json!([]),
    );
    assert_eq!(undrawn, json!(0), "every chart is drawn before printing");
    let hidden_in_print = app.session.execute(
        "const rules = [...document.styleSheets].flatMap((sheet) => [...sheet.cssRules]);
         const print = rules.filter((rule) => rule.media && rule.media.mediaText === 'print').flatMap((rule) => [...rule.cssRules]);
         const hides = (selector) => print.some((rule) => rule.selectorText && rule.selectorText.split(',').map((s) => s.trim()).includes(selector) && rule.style.display === 'none');
         return ['.topbar', '#sync-bar', '.filters', '.page-actions'].every(hides);",
        json!([]),
    );
    assert_eq!(hidden_in_print, json!(true), "the print stylesheet leaves out the bars, filters and buttons");

    // The annual figures: this year's UNODC tables count the identified woman, and her cell
    // opens her case.
    app.click("#open-annual");
    app.wait_screen("annual");
    app.choose("#annual-period", "calendar");
    let year =
        app.session.execute("return String(new Date().getUTCFullYear())", json!([])).as_str().unwrap().to_owned();
    app.choose("#annual-year", &year);
    let cell = "[data-table=\"unodc.victims_by_form\"] .figure-link[data-row=\"0\"][data-column=\"0\"]";
    app.session.wait_until("the calendar year's tables", Duration::from_secs(20), || {
        let ready = app.session.try_find("#annual-tables[data-state=\"ready\"]").is_some();
        (ready && app.session.try_find(cell).and_then(|link| link.attribute("data-count")).as_deref() == Some("1"))
            .then_some(())
    });
    app.shot("annual");
    let (count, codes) = app.follow(cell);
    assert_eq!((count, codes), (1, vec![identified.clone()]), "the cell's case is the identified woman's");

    // The audit log: each showing of the figures is one stats.view, never a view per case.
    let output = std::process::Command::new(binary("harbour"))
        .arg("--data-dir")
        .arg(app.desktop.data_dir())
        .args(["--json", "audit", "show"])
        .env("HARBOUR_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("harbour runs");
    assert!(output.status.success(), "harbour audit show: {}", String::from_utf8_lossy(&output.stderr));
    let entries: Value = serde_json::from_slice(&output.stdout).expect("harbour --json prints JSON");
    let actions: Vec<&str> =
        entries.as_array().expect("a list").iter().filter_map(|entry| entry["action"].as_str()).collect();
    let views = actions.iter().filter(|action| **action == "stats.view").count();
    // Five showings on screen, one computed behind it and two refreshes: eight stats.view.
    assert_eq!(views, 8, "eight computations of the figures, eight stats.view: {actions:?}");
    assert_eq!(actions.iter().filter(|action| **action == "report.export").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|action| **action == "case.view").count(), 1, "only the case opened is a view");

    // In Spanish and in French, no label of the dashboard is left in English.
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/i18n/strings.json"))
            .expect("strings.json is readable"),
    )
    .expect("strings.json is JSON");
    for language in ["es", "fr"] {
        let english: std::collections::BTreeSet<&str> = table
            .as_object()
            .unwrap()
            .values()
            .filter(|entry| entry["en"] != entry[language])
            .filter_map(|entry| entry["en"].as_str())
            .collect();
        app.set_language(language);
        app.open_dashboard();
        let labels = app.labels();
        assert!(labels.len() > 40, "the dashboard has its labels ({})", labels.len());
        let left: Vec<&String> = labels.iter().filter(|label| english.contains(label.as_str())).collect();
        assert!(left.is_empty(), "English labels on the {language} dashboard: {left:?}");
        assert!(labels.contains(&translation("ui.dashboard.by_sex", language)), "the {language} title of a figure");
        let woman = translation("code.sex.female", language);
        assert!(labels.contains(&woman), "sex is named in {language}");
        if language == "es" {
            app.shot("dashboard-es");
        }
    }
}

#[path = "desktop_data.rs"]
mod data;

#[path = "desktop_sync_words.rs"]
mod sync_words;

/// Issue 12, item 1: the task force's facts on the case page: tests/it/desktop_desk.rs.
#[path = "desktop_desk.rs"]
mod desk_facts;
