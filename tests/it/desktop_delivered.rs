//! Item 5, "delivered to the receiving team": a referral to a service the directory links to a
//! Harbour team reads "sent to the server, delivered when the team's laptop syncs", then, once a
//! laptop of that team synced, "delivered to <team>", in the interface's language, on the case
//! and in its timeline. A submodule of `desktop`.

use super::*;

/// The ministry's laptop (the CLI) links the shelter's service to the "Women's Shelter" team and
/// enrols a laptop of that team; the app joins the clinic. Returns the app and the shelter's
/// data directory.
fn clinic_and_shelter(
    root: &std::path::Path,
    organisation: &Organisation,
    language: &str,
    width: u32,
    height: u32,
) -> (Harbour, std::path::PathBuf, String) {
    let ministry = &organisation.ministry;
    let shelter = harbour_json(ministry, &["team", "create", "Women's Shelter"]);
    let shelter_id = shelter["id"].as_str().expect("the team's id").to_owned();
    // The link is part of the root-signed service directory: exported, edited, imported, synced.
    let file = root.join("directory.json");
    harbour_json(ministry, &["directory", "export", file.to_str().unwrap()]);
    let mut directory: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let entry = directory["services"].as_array_mut().unwrap().iter_mut().find(|s| s["id"] == "shelter-women").unwrap();
    entry["team"] = json!(shelter_id);
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, serde_json::to_string_pretty(&directory).unwrap()).unwrap();
    harbour_json(ministry, &["directory", "import", file.to_str().unwrap()]);
    harbour_json(ministry, &["sync"]);

    let invited = harbour_json(ministry, &["invite", "create", "--team", "Women's Shelter"]);
    let keeper = root.join("shelter");
    let joined = harbour_json(
        &keeper,
        &[
            "enroll",
            "--invitation",
            invited["invitation"].as_str().unwrap(),
            "--code",
            invited["code"].as_str().unwrap(),
            "--worker",
            "Keeper",
        ],
    );
    assert_eq!(joined["team"], "Women's Shelter");

    let app = Harbour::start();
    app.wait_screen("first-run");
    app.fill("#join-invitation", organisation.invitation());
    app.fill("#join-code", organisation.code());
    app.fill("#join-worker", WORKER);
    app.fill("#join-passphrase", PASSPHRASE);
    app.click("#join-submit");
    app.session.wait_until("the laptop to join", Duration::from_secs(60), || (app.screen() == "cases").then_some(()));
    app.set_language(language);
    let size = app.session.set_window_size(width, height);
    assert_eq!([size[2], size[3]], [width, height], "the window's size");
    (app, keeper, shelter_id)
}

fn delivered_to_the_shelter(language: &str, width: u32, height: u32) {
    let root = tempfile::tempdir().unwrap();
    let organisation = Organisation::start(root.path(), "Clinic");
    let (app, keeper, shelter_id) = clinic_and_shelter(root.path(), &organisation, language, width, height);
    app.session.wait_until("the first sync", Duration::from_secs(60), || (app.sync_state() == "synced").then_some(()));

    let code = app.create_case("Maelis Vantorre");
    app.click("#add-referral");
    app.session.find("#referral-form");
    app.choose("#referral-service", "shelter-women");
    // The service card says the service is a team in Harbour, by the team's name.
    let card = app.text("#referral-form .service-card");
    assert!(card.contains(&translation("directory.team", language)) && card.contains("Women's Shelter"), "{card}");
    app.click("#referral-consent");
    app.click("#referral-submit");
    app.session.wait_for(".referral[data-status=\"sent\"]", Duration::from_secs(10));
    // Waiting for the sync, or already sent by the sync a change starts.
    let sent = translation("ui.referrals.delivery_sent_to_team", language).replace("{team}", "Women's Shelter");
    let first = app.text(".referral-delivery");
    assert!(first == translation("ui.referrals.delivery_waiting", language) || first == sent, "{first}");

    app.click("#sync-now");
    app.session.wait_until("the referral to be sent", Duration::from_secs(60), || {
        (app.sync_state() == "synced").then_some(())
    });
    assert_eq!(app.delivery_after(&sent), sent, "the case shows the referral sent, waiting for the team's laptop");

    // A laptop of the shelter syncs: it has the case (shared with its team by the referral) and
    // says it has the referral.
    let pulled = harbour_json(&keeper, &["sync"]);
    assert_eq!(pulled["referrals_received"], 1, "{pulled}");
    let seen = harbour_json(&keeper, &["case", "show", &code]);
    assert_eq!(seen["referrals"][0]["delivered"]["team_id"], shelter_id.as_str());
    let said = harbour_tests::harbour(&keeper, &["case", "show", &code]);
    assert!(
        String::from_utf8_lossy(&said.stdout).contains("delivered to the receiving team on "),
        "the CLI says it too"
    );

    app.click("#sync-now");
    app.session.wait_until("the sync", Duration::from_secs(60), || (app.sync_state() == "synced").then_some(()));
    let delivered = translation("ui.referrals.delivery_delivered", language).replace("{team}", "Women's Shelter");
    assert_eq!(app.delivery_after(&delivered), delivered, "the case shows the referral delivered to the team");
    assert_eq!(app.session.find(".referral-delivery").attribute("data-delivery").as_deref(), Some("delivered"));
    assert_eq!(app.text(".referral .badge.status"), translation("ui.referrals.status_delivered", language));
    assert_ne!(app.text(".referral .referral-head strong"), "shelter-women", "the service by its name, not its id");
    let line = translation("ui.timeline.referral_delivered", language)
        .replace("{service}", &app.text(".referral .referral-head strong"))
        .replace("{team}", "Women's Shelter");
    let timeline = app.text("#case-timeline");
    assert!(timeline.contains(&line), "the timeline says when it was delivered: {timeline}");
    assert!(timeline.contains(&translation("ui.timeline.kind_referral_delivered", language)), "{timeline}");
    app.session.execute("document.querySelector('.referral-delivery').scrollIntoView({block: 'center'})", json!([]));
    app.shot(&format!("referral-delivered-{language}"));
    assert!(
        organisation.store.plaintext_found(&["Maelis", "Vantorre"]).is_empty(),
        "the server holds no name in clear"
    );
}

#[test]
fn a_referral_to_a_harbour_team_reads_delivered_in_english_at_1366x768() {
    delivered_to_the_shelter("en", 1366, 768);
}

#[test]
fn a_referral_to_a_harbour_team_reads_delivered_in_spanish_at_1024x600() {
    delivered_to_the_shelter("es", 1024, 600);
}

impl Harbour {
    /// The referral's delivery line once it reads `expected`, or what it reads after 10 s.
    fn delivery_after(&self, expected: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let text = self.session.try_find(".referral-delivery").map(|p| p.text()).unwrap_or_default();
            if text == expected || started.elapsed() > Duration::from_secs(10) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The administrator links a service to a team in the app: Settings → Service directory offers
/// the organisation's teams by name (and "none"), the choice is kept in the signed directory,
/// and "none" takes it away again. A standalone laptop has no teams and no such list
/// (`the_service_directory_is_edited_and_translated`).
fn the_administrator_links_a_service_to_a_team(language: &str, width: u32, height: u32) {
    let root = tempfile::tempdir().unwrap();
    let organisation = Organisation::start(root.path(), "Clinic");
    let shelter = harbour_json(&organisation.ministry, &["team", "create", "Women's Shelter"]);
    let shelter_id = shelter["id"].as_str().unwrap().to_owned();

    // The administrator's own laptop, the one `deployment create` made, opened in the app.
    let desktop = Desktop::start_on(&binary("harbour-desktop"), &organisation.ministry, &[]);
    let session = desktop.session();
    let app = Harbour { session, desktop, shots: Screenshots::new() };
    app.wait_screen("unlock");
    // The CLI's passphrase, not the app tests' own.
    app.fill("#unlock-passphrase", harbour_tests::PASSPHRASE);
    app.click("#unlock-submit");
    app.session.wait_until("the app to open", Duration::from_secs(30), || (app.screen() != "unlock").then_some(()));
    app.set_language(language);
    let size = app.session.set_window_size(width, height);
    assert_eq!([size[2], size[3]], [width, height], "the window's size");
    app.session.wait_for("#directory-panel .directory-edit", Duration::from_secs(10));
    app.click(".directory-edit[data-service=\"shelter-women\"]");
    app.session.wait_for("#directory-form", Duration::from_secs(10));
    let offered: Vec<String> =
        app.session.find_all("#directory-team option").iter().map(|option| option.text()).collect();
    assert_eq!(offered[0], translation("ui.directory.team_none", language), "{offered:?}");
    assert!(offered.contains(&"Clinic".to_owned()) && offered.contains(&"Women's Shelter".to_owned()), "{offered:?}");
    let label = app.session.find("label[for=\"directory-team\"]").text();
    assert_eq!(label, translation("ui.directory.team", language));
    app.choose("#directory-team", &shelter_id);
    app.session.execute("document.getElementById('directory-team').scrollIntoView({block: 'center'})", json!([]));
    app.shot(&format!("directory-team-{language}"));
    app.session.execute("document.getElementById('directory-save').scrollIntoView({block: 'nearest'})", json!([]));
    assert!(app.in_view("#directory-save"), "Save is on screen");
    app.click("#directory-save");
    app.session.wait_for("#directory-saved", Duration::from_secs(10));
    let team_of = |app: &Harbour| {
        let stored = app.invoke("service_directory", json!({}));
        stored["services"].as_array().unwrap().iter().find(|s| s["id"] == "shelter-women").unwrap()["team"].clone()
    };
    assert_eq!(team_of(&app), json!(shelter_id), "the link is in the directory");

    // "None" takes the link away.
    app.click(".directory-edit[data-service=\"shelter-women\"]");
    app.session.wait_for("#directory-form", Duration::from_secs(10));
    assert_eq!(app.session.find("#directory-team").property("value"), json!(shelter_id), "the form shows the link");
    app.choose("#directory-team", "");
    app.session.execute("document.getElementById('directory-save').scrollIntoView({block: 'nearest'})", json!([]));
    app.click("#directory-save");
    app.session.wait_for("#directory-saved", Duration::from_secs(10));
    assert_eq!(team_of(&app), Value::Null, "no link any more");
}

#[test]
fn the_administrator_links_a_service_to_a_team_in_english_at_1366x768() {
    the_administrator_links_a_service_to_a_team("en", 1366, 768);
}

#[test]
fn the_administrator_links_a_service_to_a_team_in_spanish_at_1024x600() {
    the_administrator_links_a_service_to_a_team("es", 1024, 600);
}
