//! The organisation's service directory (where a referral goes) travels from the administrator's
//! laptop to every other laptop through a real `harbour-server` on 127.0.0.1, signed by the
//! deployment's root key: an edit of a contact reaches a nurse's laptop, translated; a server
//! taken over (its SQLite store rewritten behind its back) can serve neither a forged directory,
//! nor one re-signed by another key, nor an older one; a nurse's laptop cannot publish one; and
//! of two administrators' laptops that edited it offline, the second to publish loses nothing.

use std::sync::Mutex;

use harbour_core::Workspace;
use harbour_core::deployment::RootKey;
use harbour_core::directory::{Directory, ServiceTexts};
use harbour_core::store::{Refusal, ServiceDirectoryReceived};
use harbour_sync::client::ClientError;
use harbour_sync::failure::Notice;
use harbour_tests::PASSPHRASE;
use harbour_tests::devices::{self, Device};
use harbour_tests::server::{Backend, Server, ServerStore};
use harbour_wire::identity::SignedDocument;
use harbour_wire::root::ServiceDirectoryDocument;

struct Deployment {
    _root: tempfile::TempDir,
    store: ServerStore,
    _server: Server,
    admin: Device,
    nurse: Device,
}

async fn deployment(backend: &Backend) -> Deployment {
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(backend, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let clinic = devices::create_team(&admin, "Clinic").await;
    let nurse = devices::enrol(&admin, &clinic, &root.path().join("nurse"), "Nurse").await;
    Deployment { _root: root, store, _server: server, admin, nurse }
}

/// The administrator changes the contact of the directory's first service, in English and
/// Spanish; returns the service's id.
fn edit_contact(admin: &Device, english: &str, spanish: &str) -> String {
    let mut workspace = admin.lock();
    let mut service = workspace.service_directory().unwrap().services[0].clone();
    service.contact = english.to_owned();
    service
        .translations
        .insert("es".into(), ServiceTexts { contact: Some(spanish.to_owned()), ..ServiceTexts::default() });
    workspace.save_service(service.clone()).unwrap();
    service.id
}

fn contact(device: &Device, id: &str, lang: Option<&str>) -> String {
    let directory = device.lock().service_directory().unwrap();
    let service = directory.service(id).unwrap().clone();
    match lang {
        None => service.contact,
        Some(lang) => service.translations[lang].contact.clone().unwrap(),
    }
}

fn audited(device: &Device, action: &str) -> usize {
    device.lock().audit_log(1000).unwrap().iter().filter(|entry| entry.action == action).count()
}

#[tokio::test]
async fn the_administrators_edit_of_a_contact_reaches_a_nurses_laptop() {
    for backend in Backend::all() {
        let d = deployment(&backend).await;
        let template = d.nurse.lock().service_directory().unwrap();
        let id = edit_contact(&d.admin, "Sergeant Joseph, Castries station", "Sargento Joseph, comisaría de Castries");
        let version = d.admin.lock().service_directory().unwrap().version;
        assert!(version > template.version);

        let published = d.admin.sync().await;
        assert!(published.service_directory_published, "{}: the administrator did not publish", backend.name());
        assert!(!d.admin.sync().await.service_directory_published, "published again though the server has it");
        assert_eq!(d.nurse.lock().service_directory().unwrap(), template, "the nurse has it before syncing");

        let received = d.nurse.sync().await;
        assert!(received.service_directory_updated, "{}: the nurse did not take it", backend.name());
        assert!(!received.service_directory_refused);
        assert_eq!(Notice::of(&received), []);
        assert_eq!(contact(&d.nurse, &id, None), "Sergeant Joseph, Castries station");
        assert_eq!(contact(&d.nurse, &id, Some("es")), "Sargento Joseph, comisaría de Castries");
        assert_eq!(d.nurse.lock().service_directory().unwrap(), d.admin.lock().service_directory().unwrap());
        assert_eq!(d.nurse.lock().service_directory_signed().unwrap(), Some(true));
        assert_eq!(audited(&d.nurse, "directory.receive"), 1);
        assert!(!d.nurse.sync().await.service_directory_updated, "the same version was taken twice");
        assert_eq!(audited(&d.nurse, "directory.receive"), 1);

        // The nurse's laptop cannot change it, nor import one.
        assert!(!d.nurse.lock().may_edit_directory());
        let mut service = d.nurse.lock().service_directory().unwrap().services[0].clone();
        service.contact = "Someone else".into();
        let refused = d.nurse.lock().save_service(service).unwrap_err();
        assert!(matches!(refused, harbour_core::Error::DirectoryNotEditable), "{refused}");
        let refused = d.nurse.lock().set_service_directory(Directory::saint_lucia_template().clone()).unwrap_err();
        assert!(matches!(refused, harbour_core::Error::DirectoryNotEditable), "{refused}");

        // A second edit travels too.
        edit_contact(&d.admin, "Inspector Marie, Vieux Fort", "Inspectora Marie, Vieux Fort");
        d.admin.sync().await;
        assert!(d.nurse.sync().await.service_directory_updated);
        assert_eq!(contact(&d.nurse, &id, Some("es")), "Inspectora Marie, Vieux Fort");
    }
}

/// The attacker's hold on the server: its SQLite store, written behind the server's back.
fn serve(store: &ServerStore, signed: &SignedDocument, version: u64) {
    let db = rusqlite::Connection::open(store.dir.join("server.db")).expect("the server's store opens");
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "INSERT INTO service_directory (singleton, version, document, signature) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, document = excluded.document,
             signature = excluded.signature",
        rusqlite::params![version as i64, signed.document, signed.signature],
    )
    .unwrap();
}

/// `signed`'s document, its version raised, carrying `held` (a laptop's directory) with the first
/// service's contact replaced, in clear: what an attacker without the directory key can write.
fn altered(signed: &SignedDocument, held: &Directory, contact: &str, version: u64) -> ServiceDirectoryDocument {
    let mut document: ServiceDirectoryDocument = serde_json::from_str(&signed.document).unwrap();
    let mut directory = held.clone();
    directory.version = version as u32;
    directory.services[0].contact = contact.to_owned();
    document.version = version;
    document.directory = serde_json::to_value(&directory).unwrap();
    document
}

#[tokio::test]
async fn a_compromised_server_can_serve_neither_a_forged_nor_an_older_directory() {
    let d = deployment(&Backend::Sqlite).await;
    let id = edit_contact(&d.admin, "Sergeant Joseph", "Sargento Joseph");
    d.admin.sync().await;
    d.nurse.sync().await;
    let first = d.nurse.client.service_directory().await.unwrap().expect("the server relays the directory");
    // Sealed for the organisation's laptops: the server holds no contact in clear.
    assert!(
        d.store.plaintext_found(&["Sergeant Joseph", "Sargento Joseph"]).is_empty(),
        "a contact is on the server in clear"
    );
    edit_contact(&d.admin, "Inspector Marie", "Inspectora Marie");
    d.admin.sync().await;
    assert!(d.nurse.sync().await.service_directory_updated);
    let held = d.nurse.lock().service_directory().unwrap();
    let refusals = |device: &Device| audited(device, "directory.refuse");

    // 1. Forged: a directory signed by a root key of the attacker's own, a high version.
    let lure = "Call +1 758 555 0100 at once";
    let forged = RootKey::generate().sign_document(&altered(&first, &held, lure, 99));
    serve(&d.store, &forged, 99);
    // 2. Tampered: the real signature kept over a changed text.
    let mut tampered = first.clone();
    tampered.document = serde_json::to_string(&altered(&first, &held, lure, 99)).unwrap();
    // 3. Replayed: the administrator's own earlier version, genuinely signed.
    let replayed = first.clone();
    let older = serde_json::from_str::<ServiceDirectoryDocument>(&first.document).unwrap().version;

    for (what, signed, version) in
        [("forged", &forged, 99), ("tampered", &tampered, 99), ("replayed", &replayed, older)]
    {
        serve(&d.store, signed, version);
        let before = refusals(&d.nurse);
        let summary = d.nurse.sync().await;
        assert!(summary.service_directory_refused, "the {what} directory was not refused");
        assert!(!summary.service_directory_updated, "the {what} directory was taken");
        assert_eq!(Notice::of(&summary), [Notice::ServiceDirectoryRefused], "no notice for the {what} directory");
        assert_eq!(d.nurse.lock().service_directory().unwrap(), held, "the {what} directory replaced the nurse's");
        assert_eq!(contact(&d.nurse, &id, Some("es")), "Inspectora Marie");
        assert_eq!(refusals(&d.nurse), before + 1, "the refusal of the {what} directory was not audited");
        // Served again at the next sync: refused again, audited once.
        assert!(d.nurse.sync().await.service_directory_refused);
        assert_eq!(refusals(&d.nurse), before + 1, "the same {what} directory was audited twice");
    }
    let why = d.nurse.lock().accept_service_directory(&replayed).unwrap();
    assert!(matches!(why, ServiceDirectoryReceived::Refused { why: Refusal::Older { .. } }), "{why:?}");
    let why = d.nurse.lock().accept_service_directory(&forged).unwrap();
    assert_eq!(why, ServiceDirectoryReceived::Refused { why: Refusal::NotSignedByRoot });

    // The administrator's laptop is not fooled either, and its next edit reaches the nurse
    // once the server is honest again (here: its true latest version put back).
    serve(&d.store, &forged, 99);
    assert!(d.admin.sync().await.service_directory_refused);
    assert!(d.admin.lock().service_directory_signed().unwrap() == Some(true));
    let genuine = d.admin.lock().service_directory_to_publish(0).unwrap().unwrap();
    let latest = serde_json::from_str::<ServiceDirectoryDocument>(&genuine.document).unwrap().version;
    serve(&d.store, &genuine, latest);
    edit_contact(&d.admin, "Inspector Marie, Vieux Fort", "Inspectora Marie, Vieux Fort");
    assert!(d.admin.sync().await.service_directory_published);
    let summary = d.nurse.sync().await;
    assert!(summary.service_directory_updated && !summary.service_directory_refused);
    assert_eq!(contact(&d.nurse, &id, Some("es")), "Inspectora Marie, Vieux Fort");
}

#[tokio::test]
async fn a_nurses_laptop_cannot_publish_a_service_directory() {
    let d = deployment(&Backend::Sqlite).await;
    edit_contact(&d.admin, "Sergeant Joseph", "Sargento Joseph");
    let genuine = d.admin.lock().service_directory_to_publish(0).unwrap().expect("the administrator signs");
    // Even the administrator's genuine document is refused from a nurse's laptop.
    let refused = d.nurse.client.publish_service_directory(&genuine).await.unwrap_err();
    assert!(matches!(&refused, ClientError::Forbidden { code, .. } if code == "admin_only"), "{refused:?}");
    assert_eq!(d.nurse.client.service_directory().await.unwrap(), None, "the refused one was stored");
    // And a nurse's laptop never tries: it has nothing to publish.
    assert_eq!(d.nurse.lock().service_directory_to_publish(0).unwrap(), None);
    let summary = d.nurse.sync().await;
    assert!(!summary.service_directory_published);
    assert!(d.admin.sync().await.service_directory_published);
}

/// The administrator changes the contact of the directory's `index`th service (English only).
fn edit_nth(admin: &Device, index: usize, contact: &str) -> String {
    let mut workspace = admin.lock();
    let mut service = workspace.service_directory().unwrap().services[index].clone();
    service.contact = contact.to_owned();
    workspace.save_service(service.clone()).unwrap();
    service.id
}

/// Two administrators' laptops (the second holds the root key because it was restored from the
/// first one's backup) both edit the directory offline and so sign the same next version. The
/// first to sync publishes it; the second gets 409 for its own, then takes the server's verified
/// directory and re-applies its edits on top, service by service, as the next version, which
/// it publishes: nothing is lost, and no sync retries the refused version. A service both
/// changed keeps the version published first and is listed to check (a sync notice, Settings)
/// until the administrator saves it again.
#[tokio::test]
async fn the_second_administrator_to_publish_keeps_their_edits_and_is_told_what_to_check() {
    for backend in Backend::all() {
        let root = tempfile::tempdir().unwrap();
        let store = ServerStore::new(&backend, &root.path().join("server"));
        let bootstrap = store.init();
        let server = store.start();
        let first = devices::create_deployment(&server.url, &bootstrap, &root.path().join("first")).await;
        let clinic = devices::create_team(&first, "Clinic").await;
        let nurse = devices::enrol(&first, &clinic, &root.path().join("nurse"), "Nurse").await;
        assert!(first.sync().await.service_directory_published, "{}: the first version", backend.name());
        let backup = root.path().join("admin.hbk");
        first.lock().backup(&backup).unwrap();
        Workspace::restore(&backup, PASSPHRASE, &root.path().join("second"), false).unwrap();
        let workspace = Workspace::unlock(&root.path().join("second"), PASSPHRASE).unwrap();
        let client = harbour_sync::client_for(&workspace).unwrap();
        let second =
            Device { label: "second admin".into(), team: first.team.clone(), workspace: Mutex::new(workspace), client };
        assert!(second.lock().may_edit_directory());
        let published = first.lock().service_directory().unwrap().version;

        // Offline, both edit: the first laptop services 0 and 2, the second services 1 and 2.
        let only_first = edit_nth(&first, 0, "Desk sergeant, Castries");
        let both = edit_nth(&first, 2, "Shelter line, first administrator");
        let only_second = edit_nth(&second, 1, "Night nurse, Victoria Hospital");
        assert_eq!(edit_nth(&second, 2, "Shelter line, second administrator"), both);
        assert_eq!(first.lock().service_directory().unwrap().version, published + 2);
        assert_eq!(second.lock().service_directory().unwrap().version, published + 2, "the same version");

        let sent = first.sync().await;
        assert!(sent.service_directory_published, "{}", backend.name());
        // The second laptop's own version is refused by the server (409) ...
        let mine = second.lock().service_directory_to_publish(u64::from(published)).unwrap().unwrap();
        let refused = second.client.publish_service_directory(&mine).await.unwrap_err();
        assert!(matches!(refused, ClientError::Rejected { status: 409, .. }), "{}: {refused:?}", backend.name());
        // ... so its sync takes the server's and re-applies its own edits as the next version.
        let rebased = second.sync().await;
        assert!(rebased.service_directory_rebased && rebased.service_directory_published, "{}", backend.name());
        assert_eq!(rebased.service_directory_to_check, 1);
        assert_eq!(Notice::of(&rebased), [Notice::ServiceDirectoryToCheck]);
        let merged = second.lock().service_directory().unwrap();
        assert_eq!(merged.version, published + 3);
        assert_eq!(contact(&second, &only_first, None), "Desk sergeant, Castries", "the other's edit is taken");
        assert_eq!(contact(&second, &only_second, None), "Night nurse, Victoria Hospital", "its own is kept");
        assert_eq!(contact(&second, &both, None), "Shelter line, first administrator", "the published one stays");
        assert_eq!(second.lock().service_directory_to_check().unwrap(), std::slice::from_ref(&both));
        assert_eq!(audited(&second, "directory.rebase"), 1);
        assert_eq!(second.lock().service_directory_signed().unwrap(), Some(true));

        // Nothing is retried: the next syncs of both laptops are quiet, and everyone converges.
        let again = second.sync().await;
        assert!(!again.service_directory_published && !again.service_directory_rebased, "{}", backend.name());
        let taken = first.sync().await;
        assert!(taken.service_directory_updated && !taken.service_directory_rebased, "{}", backend.name());
        assert!(!taken.service_directory_published);
        assert!(nurse.sync().await.service_directory_updated);
        assert_eq!(first.lock().service_directory().unwrap(), merged);
        assert_eq!(nurse.lock().service_directory().unwrap(), merged);
        assert_eq!(first.lock().service_directory_to_check().unwrap(), Vec::<String>::new());

        // The second administrator checks the shelter and saves their own text again: it is
        // no longer listed, and it reaches every laptop.
        edit_nth(&second, 2, "Shelter line, second administrator");
        assert_eq!(second.lock().service_directory_to_check().unwrap(), Vec::<String>::new());
        assert!(second.sync().await.service_directory_published);
        assert!(first.sync().await.service_directory_updated);
        assert_eq!(contact(&first, &both, None), "Shelter line, second administrator");
    }
}
