//! A deployment as people use it: a real `harbour-server` process on 127.0.0.1 (SQLite, and
//! PostgreSQL when `HARBOUR_TEST_POSTGRES_URL` is set) and one data directory per laptop, each
//! driven through the real `harbour` binary. The story follows one case from a clinic working
//! offline to the ministry, past a consulate that must not see it, to a shelter it is referred
//! to, through a conflicting edit; then invitations, revocation and a forged directory.
//!
//! Every name, note and birth date here is invented. Failing asserts say which device and
//! which step, never the values.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use harbour_core::Workspace;
use harbour_core::deployment::{self, GRANT_KIND, RootKey};
use harbour_sync::client::Client;
use harbour_sync::client_for;
use harbour_tests::server::{Backend, Server, ServerStore};
use harbour_tests::{PASSPHRASE, harbour, harbour_json};
use harbour_wire::SealedEvent;
use harbour_wire::protocol::TeamDirectory;
use serde_json::Value;

/// Seeded into cases; none may ever reach the server in clear.
const CLINIC_NAME: &str = "Marisol Quetzalcoatl-Ybarra";
const CLINIC_BIRTH_DATE: &str = "1993-07-19";
const CLINIC_NOTE: &str = "Arrived by boat at Vieux Fort, passport kept by the recruiter Zebulon";
const SECOND_NAME: &str = "Oyelaran Wickramasinghe";
const SECOND_BIRTH_DATE: &str = "1988-11-02";
const SECOND_NOTE: &str = "Worked unpaid on the Grandlagoon banana estate";

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `harbour` and expects it to fail; returns its stderr (sentences, no case data).
fn harbour_fails(dir: &Path, args: &[&str]) -> String {
    let output = harbour(dir, args);
    assert!(!output.status.success(), "harbour {:?} should have failed", args.first());
    stderr(&output)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Every event of the feed a client's team may pull, following every page.
async fn pull_all(client: &Client) -> Vec<SealedEvent> {
    let (mut events, mut cursor) = (Vec::new(), 0);
    loop {
        let page = client.pull(cursor, Some(200)).await.expect("pull a page");
        events.extend(page.events);
        cursor = page.next_cursor;
        if !page.more {
            return events;
        }
    }
}

fn case_ids(dir: &Path) -> BTreeSet<String> {
    let listed = harbour_json(dir, &["case", "list", "--limit", "0"]);
    listed.as_array().unwrap().iter().map(|case| case["id"].as_str().unwrap().to_owned()).collect()
}

/// A laptop's data directory.
struct Laptop {
    name: &'static str,
    dir: PathBuf,
}

impl Laptop {
    fn sync(&self) -> Value {
        let output = harbour(&self.dir, &["--json", "sync"]);
        assert!(output.status.success(), "{} could not sync: {}", self.name, stderr(&output));
        serde_json::from_slice(&output.stdout).expect("sync --json prints JSON")
    }

    fn json(&self, args: &[&str]) -> Value {
        harbour_json(&self.dir, args)
    }

    fn unlock(&self) -> Workspace {
        Workspace::unlock(&self.dir, PASSPHRASE).expect("the laptop unlocks")
    }
}

/// An administrator's laptop on a new server, the teams Clinic, Consulate and Shelter, and one
/// enrolled laptop in each.
struct Deployment {
    root: tempfile::TempDir,
    store: ServerStore,
    server: Server,
    admin: Laptop,
    clinic: Laptop,
    consulate: Laptop,
    shelter: Laptop,
}

impl Deployment {
    fn create(backend: &Backend) -> Deployment {
        let root = tempfile::tempdir().unwrap();
        let store = ServerStore::new(backend, &root.path().join("server"));
        let bootstrap = store.init();
        let server = store.start();

        let admin = Laptop { name: "the ministry", dir: root.path().join("ministry") };
        assert!(harbour(&admin.dir, &["init", "--worker", "Administrator"]).status.success());
        let created = admin.json(&["deployment", "create", "--server", &server.url, "--bootstrap-token", &bootstrap]);
        assert_eq!(created["directory_published"], true);
        for team in ["Clinic", "Consulate", "Shelter"] {
            let made = admin.json(&["team", "create", team]);
            assert_eq!(made["directory_published"], true, "team {team} was not published");
        }
        let deployment = Deployment {
            store,
            server,
            clinic: Laptop { name: "the clinic", dir: root.path().join("clinic") },
            consulate: Laptop { name: "the consulate", dir: root.path().join("consulate") },
            shelter: Laptop { name: "the shelter", dir: root.path().join("shelter") },
            admin,
            root,
        };
        for (laptop, team) in
            [(&deployment.clinic, "Clinic"), (&deployment.consulate, "Consulate"), (&deployment.shelter, "Shelter")]
        {
            let (invitation, code) = deployment.invite(team);
            let joined = laptop.json(&["enroll", "--invitation", &invitation, "--code", &code, "--worker", "Worker"]);
            assert_eq!(joined["team"], team);
            assert!(joined["first_sync"].is_object(), "{}'s first sync failed", laptop.name);
            let teams = laptop.json(&["team", "list"]);
            assert_eq!(teams.as_array().unwrap().len(), 4, "{} holds the whole directory", laptop.name);
        }
        deployment
    }

    fn invite(&self, team: &str) -> (String, String) {
        let invited = self.admin.json(&["invite", "create", "--team", team]);
        (invited["invitation"].as_str().unwrap().to_owned(), invited["code"].as_str().unwrap().to_owned())
    }

    fn laptops(&self) -> [&Laptop; 4] {
        [&self.admin, &self.clinic, &self.consulate, &self.shelter]
    }

    /// Every laptop syncs, twice around, so that what one sent in the first round reaches all.
    fn sync_everyone(&self) {
        for _ in 0..2 {
            for laptop in self.laptops() {
                laptop.sync();
            }
        }
    }
}

#[test]
fn a_deployment_on_sqlite() {
    deployment_story(&Backend::Sqlite);
}

#[test]
fn a_deployment_on_postgres() {
    match harbour_tests::server::postgres_url() {
        Some(url) => deployment_story(&Backend::Postgres(url)),
        None => eprintln!("skipped: HARBOUR_TEST_POSTGRES_URL is not set"),
    }
}

fn deployment_story(backend: &Backend) {
    let mut d = Deployment::create(backend);
    let rt = runtime();

    // 1. The clinic records a case while the server is down, then syncs when it is back.
    d.server.kill();
    let created = d.clinic.json(&[
        "case",
        "new",
        "--name",
        CLINIC_NAME,
        "--birth-date",
        CLINIC_BIRTH_DATE,
        "--sex",
        "female",
        "--nationality",
        "GY",
        "--risk-level",
        "medium",
    ]);
    let case_id = created["id"].as_str().unwrap().to_owned();
    let code = created["code"].as_str().unwrap().to_owned();
    d.clinic.json(&["note", "add", &code, "--text", CLINIC_NOTE]);
    let offline = harbour_fails(&d.clinic.dir, &["sync"]);
    assert_eq!(offline.matches("could not be reached").count(), 1, "offline sync: {offline}");
    d.server.restart();
    let sent = d.clinic.sync();
    // The creation, the note, and the grants to the clinic and the ministry.
    assert_eq!(sent["pushed"], 4, "the clinic's first sync");

    // 2. The ministry sees the case and reads it.
    let pulled = d.admin.sync();
    assert!(pulled["pulled"].as_u64().unwrap() >= 4, "the ministry pulled the case");
    let at_ministry = d.admin.json(&["case", "show", &case_id]);
    assert!(at_ministry["fields"]["name"] == CLINIC_NAME, "the ministry reads the name");
    assert!(at_ministry["fields"]["birth_date"] == CLINIC_BIRTH_DATE, "the ministry reads the birth date");
    assert!(at_ministry["notes"][0]["text"] == CLINIC_NOTE, "the ministry reads the note");

    // 3. The consulate neither receives the case nor could open it.
    d.consulate.sync();
    assert!(!case_ids(&d.consulate.dir).contains(&case_id), "the consulate lists the clinic's case");
    let (consulate_client, consulate_teams, consulate_device) = {
        let workspace = d.consulate.unlock();
        let membership = workspace.membership().unwrap();
        (client_for(&workspace).unwrap(), membership.team_secrets.clone(), workspace.device_id())
    };
    let (admin_client, admin_teams) = {
        let workspace = d.admin.unlock();
        (client_for(&workspace).unwrap(), workspace.membership().unwrap().team_secrets.clone())
    };
    rt.block_on(async {
        let feed = pull_all(&consulate_client).await;
        assert!(
            feed.iter().all(|event| event.case_id.to_string() != case_id),
            "the server gave the consulate an event of the clinic's case"
        );
        let events: Vec<SealedEvent> =
            pull_all(&admin_client).await.into_iter().filter(|event| event.case_id.to_string() == case_id).collect();
        assert_eq!(events.len(), 4, "the server holds the case's four events");
        let grants: Vec<&SealedEvent> = events.iter().filter(|event| event.kind == GRANT_KIND).collect();
        assert_eq!(grants.len(), 2, "granted to the clinic and the ministry");
        assert!(
            grants.iter().all(|grant| deployment::open_grant(grant, &consulate_teams).is_none()),
            "the consulate's team key opens a grant of the clinic's case"
        );
        assert!(
            grants.iter().all(|grant| deployment::open_grant(grant, &admin_teams).is_some()),
            "the grants do not open even for the ministry, so the check above proves nothing"
        );
        // Nor may the consulate write into the case or grant it to itself; nothing changes.
        let mut intruding = events[0].clone();
        intruding.id = uuid::Uuid::now_v7();
        intruding.device_id = consulate_device.0;
        intruding.device_seq = 1_000_000;
        let refused = consulate_client.push(&[intruding]).await.unwrap_err();
        assert_eq!(refused.code(), Some("case_not_visible"), "{refused}");
        let consulate_team = consulate_teams[0].team_id;
        let refused = consulate_client.grant(events[0].case_id, consulate_team).await.unwrap_err();
        assert_eq!(refused.code(), Some("case_not_visible"), "{refused}");
        assert!(pull_all(&consulate_client).await.iter().all(|event| event.case_id.to_string() != case_id));
    });

    // 4. A referral to the shelter's team lets the shelter pull and read the case.
    assert!(!case_ids(&d.shelter.dir).contains(&case_id));
    let consent = d.clinic.json(&["consent", "add", &code, "--share", "identity,case_summary", "--with", "Shelter"]);
    let consent_id = consent["id"].as_str().unwrap();
    let referral = [
        "referral",
        "add",
        &code,
        "--service",
        "Safe House",
        "--type",
        "shelter",
        "--consent",
        consent_id,
        "--team",
        "Shelter",
    ];
    d.clinic.json(&referral);
    d.clinic.sync();
    d.shelter.sync();
    let at_shelter = d.shelter.json(&["case", "show", &case_id]);
    assert!(at_shelter["fields"]["name"] == CLINIC_NAME, "the shelter reads the referred case");
    assert!(at_shelter["notes"][0]["text"] == CLINIC_NOTE, "the shelter reads the note");
    d.consulate.sync();
    assert!(!case_ids(&d.consulate.dir).contains(&case_id), "the referral to the shelter reached the consulate");

    // `harbour case share` does the same: the ministry shares another clinic case with the shelter.
    let second = d.clinic.json(&["case", "new", "--name", SECOND_NAME, "--birth-date", SECOND_BIRTH_DATE]);
    let second_id = second["id"].as_str().unwrap().to_owned();
    d.clinic.json(&["note", "add", &second_id, "--text", SECOND_NOTE]);
    d.clinic.sync();
    d.admin.sync();
    let shared = d.admin.json(&["case", "share", &second_id, "--team", "Shelter"]);
    assert_eq!(shared["synced"], true, "case share syncs at once");
    d.shelter.sync();
    let second_at_shelter = d.shelter.json(&["case", "show", &second_id]);
    assert!(second_at_shelter["fields"]["name"] == SECOND_NAME, "the shelter reads the shared case");
    d.consulate.sync();
    assert!(case_ids(&d.consulate.dir).is_empty(), "the consulate received a case it was never given");

    // 5. The ministry and the clinic change the same field without syncing in between: every
    //    laptop that sees the case ends with the same state and the same flagged conflict.
    d.admin.sync();
    d.clinic.sync();
    d.admin.json(&["case", "set", &case_id, "risk_level=high"]);
    d.clinic.json(&["case", "set", &case_id, "risk_level=low"]);
    d.sync_everyone();
    let shown: Vec<(&Laptop, Value)> = [&d.admin, &d.clinic, &d.shelter]
        .into_iter()
        .map(|laptop| (laptop, laptop.json(&["case", "show", &case_id])))
        .collect();
    let (_, reference) = &shown[0];
    assert_eq!(reference["needs_review"], true, "the concurrent edits were not flagged");
    let conflicts = reference["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["field"], "risk_level");
    assert_eq!(conflicts[0]["versions"].as_array().unwrap().len(), 2, "both versions are kept");
    for (laptop, state) in &shown {
        let name = laptop.name;
        assert!(state["conflicts"] == reference["conflicts"], "{name} flags another conflict than the ministry");
        assert_eq!(state["needs_review"], reference["needs_review"], "{name}");
        assert!(state == reference, "{name} shows another state of the case than the ministry");
        let review = laptop.json(&["case", "list", "--needs-review"]);
        assert_eq!(review[0]["id"], case_id.as_str(), "{name} lists the case for review");
    }
    assert!(!case_ids(&d.consulate.dir).contains(&case_id));

    // 6. An invitation works once, and only with its code; a refusal creates nothing.
    let (invitation, code) = d.invite("Clinic");
    let wrong = d.root.path().join("wrong-code");
    let refused = harbour_fails(&wrong, &["enroll", "--invitation", &invitation, "--code", "2222-3333-4444"]);
    assert!(refused.contains("the code does not open this invitation"), "wrong code: {refused}");
    assert!(!Workspace::exists(&wrong), "a refused enrolment left a workspace");
    let second_clinic = Laptop { name: "the second clinic laptop", dir: d.root.path().join("clinic-2") };
    let joined = second_clinic.json(&["enroll", "--invitation", &invitation, "--code", &code]);
    let second_clinic_id = joined["device_id"].as_str().unwrap().to_owned();
    assert!(case_ids(&second_clinic.dir).contains(&case_id), "a new clinic laptop receives the clinic's cases");
    let again = d.root.path().join("used-twice");
    let refused = harbour_fails(&again, &["enroll", "--invitation", &invitation, "--code", &code]);
    assert!(refused.contains("already used"), "invitation used twice: {refused}");
    assert!(!Workspace::exists(&again), "a refused enrolment left a workspace");

    // 7. A revoked laptop is refused at once, with a sentence; the others carry on.
    let revoked = d.admin.json(&["device", "revoke", &second_clinic_id]);
    assert!(revoked.is_object() || revoked.is_string(), "device revoke --json answers");
    let refused = harbour_fails(&second_clinic.dir, &["sync"]);
    assert_eq!(
        refused.lines().last().unwrap_or_default(),
        "harbour: The server refused this laptop: ask your administrator to re-invite it.",
        "a revoked laptop's sync"
    );
    let devices = d.admin.json(&["device", "list"]);
    let listed = devices.as_array().unwrap().iter().find(|device| device["device_id"] == second_clinic_id.as_str());
    assert_eq!(listed.unwrap()["revoked"], true);
    d.clinic.sync();

    // 8. A laptop refuses a team directory that the deployment's root key did not sign.
    {
        let mut workspace = d.clinic.unlock();
        let held = workspace.directory().unwrap().unwrap();
        let mut forged = TeamDirectory { version: held.version + 1, ..held.clone() };
        forged.teams.push(harbour_core::deployment::TeamSecret::generate().team("Recruiters"));
        let by_another_key = RootKey::generate().sign(&forged);
        let refused = workspace.accept_directory(&by_another_key).unwrap_err().to_string();
        assert!(refused.contains("not signed by this deployment's root key"), "{refused}");
        let mut altered = workspace.signed_directory().unwrap();
        altered.document = serde_json::to_string(&forged).unwrap();
        let refused = workspace.accept_directory(&altered).unwrap_err().to_string();
        assert!(refused.contains("not signed by this deployment's root key"), "{refused}");
        assert_eq!(workspace.directory().unwrap().unwrap(), held, "a refused directory replaced the held one");
    }

    // 9. The server never held a name, a note or a birth date in clear: not in its store, not
    //    in its log.
    d.server.kill();
    let needles = [CLINIC_NAME, CLINIC_BIRTH_DATE, CLINIC_NOTE, SECOND_NAME, SECOND_BIRTH_DATE, SECOND_NOTE];
    let found = d.store.plaintext_found(&needles);
    assert!(found.is_empty(), "plaintext on the server (needle index, file): {found:?}");
    assert!(d.store.log().exists(), "the server wrote no log to scan");
    // Nor a team's name ("Consulate" says who helps whom): the directory carries names sealed.
    assert!(d.store.plaintext_found(&["Consulate"]).is_empty(), "a team's name is on the server in clear");
    // The scan does read the store: an event's kind is routing metadata the server holds in clear.
    let control = d.store.plaintext_found(&["case.key_granted"]);
    assert!(!control.is_empty(), "the plaintext scan did not find what the server does hold in clear");
    // But never logs them (docs/SERVER.md), even at debug level.
    let log = std::fs::read_to_string(d.store.log()).unwrap();
    assert!(!log.contains("Consulate"), "the server logged a team's name");
}

#[test]
fn a_lost_laptop_is_revoked_and_wiped_on_sqlite() {
    lost_laptop_story(&Backend::Sqlite);
}

#[test]
fn a_lost_laptop_is_revoked_and_wiped_on_postgres() {
    match harbour_tests::server::postgres_url() {
        Some(url) => lost_laptop_story(&Backend::Postgres(url)),
        None => eprintln!("skipped: HARBOUR_TEST_POSTGRES_URL is not set"),
    }
}

fn device_row(admin: &Laptop, device_id: &str) -> Value {
    let devices = admin.json(&["device", "list"]);
    devices.as_array().unwrap().iter().find(|device| device["device_id"] == device_id).cloned().expect("listed")
}

/// The consulate's laptop is lost with a case nobody has yet. The administrator revokes it and
/// orders it wiped, sending first; at its next contact it sends the case, destroys its files and
/// reports it; a case shared with the consulate afterwards cannot be opened with the lost
/// laptop's copy of the team key. A server that forges or redirects a wipe order wipes nobody.
fn lost_laptop_story(backend: &Backend) {
    let d = Deployment::create(backend);
    let rt = runtime();
    let lost_id = d.consulate.unlock().device_id().0.to_string();
    let lost_secrets = d.consulate.unlock().membership().unwrap().team_secrets.clone();
    let waiting = d.consulate.json(&["case", "new", "--name", SECOND_NAME, "--sex", "male"]);
    let waiting_id = waiting["id"].as_str().unwrap().to_owned();

    // A compromised server cannot wipe anyone: an order it signs itself, and the consulate's
    // genuine order replayed to another laptop, are both refused by the laptop.
    let attacker = rt.block_on(harbour_server::store::open(&d.store.db)).expect("the attacker opens the store");
    let shelter_id = d.shelter.unlock().device_id().0;
    let forged_order = harbour_wire::wipe::WipeOrder {
        order_id: uuid::Uuid::now_v7(),
        deployment_id: d.admin.unlock().membership().unwrap().deployment_id,
        device_id: shelter_id,
        send_first: false,
        issued_ms: 1,
    };
    let document = serde_json::to_string(&forged_order).unwrap();
    let forged = harbour_wire::identity::SignedDocument {
        signature: harbour_core::identity::SigningSecret::generate()
            .sign(harbour_wire::wipe::WIPE_ORDER_CONTEXT, document.as_bytes())
            .to_vec(),
        document,
    };
    let plant = |signed: &harbour_wire::identity::SignedDocument| {
        rt.block_on(attacker.order_wipe(&harbour_server::store::NewWipeOrder {
            device_id: shelter_id,
            order_id: uuid::Uuid::now_v7(),
            send_first: false,
            signed_order: serde_json::to_string(signed).unwrap(),
        }))
        .expect("the attacker writes the store");
    };
    plant(&forged);
    let summary = d.shelter.sync();
    assert!(summary["refused"].as_u64().unwrap() >= 1, "the forged order was not counted as refused");
    assert!(Workspace::exists(&d.shelter.dir), "a forged wipe order wiped the shelter's laptop");

    // The administrator revokes the lost laptop and orders the wipe.
    d.admin.json(&["device", "revoke", &lost_id]);
    let ordered = d.admin.json(&["device", "wipe", &lost_id, "--send-first"]);
    assert_eq!(ordered["wipe"], "issued");
    assert_eq!(device_row(&d.admin, &lost_id)["wipe"]["state"], "issued");

    // The genuine order, replayed by the server to the shelter's laptop, is refused too.
    let genuine: harbour_wire::identity::SignedDocument = {
        let pending = rt.block_on(attacker.pending_wipe(uuid::Uuid::parse_str(&lost_id).unwrap())).unwrap().unwrap();
        serde_json::from_str(&pending.signed_order).unwrap()
    };
    plant(&genuine);
    d.shelter.sync();
    assert!(Workspace::exists(&d.shelter.dir), "an order for another laptop wiped the shelter's laptop");

    // The lost laptop's next contact: it sends what waited, destroys its data, and says so.
    let wiped = harbour_fails(&d.consulate.dir, &["sync"]);
    assert!(wiped.contains("ordered this laptop wiped"), "the wiped laptop's sync: {wiped}");
    let left: Vec<String> = std::fs::read_dir(&d.consulate.dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!Workspace::exists(&d.consulate.dir), "the wiped laptop still has a workspace: {left:?}");
    assert!(
        left.iter().all(|name| !name.starts_with("keyfile") && !name.starts_with("harbour.db")),
        "files left after the wipe: {left:?}"
    );
    let gone = harbour_fails(&d.consulate.dir, &["case", "list"]);
    assert!(gone.contains("There is no Harbour workspace"), "{gone}");
    let row = device_row(&d.admin, &lost_id);
    assert_eq!(row["wipe"]["state"], "done", "the administrator sees the wipe done");
    assert!(row["wipe"]["sent_first"].as_u64().unwrap() >= 1, "the waiting case was sent first");
    assert_eq!(row["wipe"]["destroyed_unsent"], 0);
    assert_eq!(row["revoked"], true);
    // The case that waited on the lost laptop reached the ministry.
    d.admin.sync();
    assert!(case_ids(&d.admin.dir).contains(&waiting_id), "the case sent before the wipe did not arrive");
    // A second order for a wiped laptop is refused with a sentence.
    let again = harbour_fails(&d.admin.dir, &["device", "wipe", &lost_id]);
    assert!(again.contains("already wiped"), "{again}");

    // Shared with the consulate after the revocation: the lost laptop's team key opens nothing.
    let after = d.admin.json(&["case", "new", "--name", CLINIC_NAME, "--sex", "female"]);
    let after_id = after["id"].as_str().unwrap().to_owned();
    d.admin.json(&["case", "share", &after_id, "--team", "Consulate"]);
    d.admin.sync();
    let workspace = d.admin.unlock();
    let case = workspace.resolve(&after_id).unwrap();
    let grants: Vec<SealedEvent> =
        workspace.case_events(case).unwrap().into_iter().filter(|event| event.kind == GRANT_KIND).collect();
    assert!(grants.len() >= 2, "the case was granted to the ministry and the consulate");
    assert!(grants.iter().all(|grant| deployment::open_grant(grant, &lost_secrets).is_none()));
}
