//! The server never holds plaintext: its database files and its log contain none of the
//! names, notes and birth dates sealed into events, nor any token.

use crate::support::{Case, Deployment, Invitation, Server, certify, pull_all};

const SECRETS: &[&str] = &[
    "Zorvanka Pellinore-Quist",
    "1987-03-14",
    "scar on left wrist, speaks Vyxeltrin",
    "recruited through Qelmarsh Agency",
];

#[tokio::test]
async fn database_files_and_logs_hold_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = format!("sqlite:{}", data.join("harbour.db").display());
    let log = dir.path().join("server.log");
    let bootstrap = Server::init(&db);
    let mut server = Server::start(&db, &log, &["--log-format", "json"]);
    let d = Deployment::register(&server, &bootstrap).await;

    let case = Case::new();
    let events: Vec<_> = SECRETS
        .iter()
        .map(|secret| case.seal(&d.clinic_device, "note.added", &format!("{{\"note\":\"{secret}\"}}")))
        .collect();
    d.clinic_device.client.push(&events).await.unwrap();
    d.clinic_device.client.push(&events).await.unwrap();
    d.clinic_device.client.grant(case.id, d.shelter.id).await.unwrap();
    let pulled = pull_all(&d.shelter_device.client, None).await;
    assert!(case.open(&pulled[0]).contains(SECRETS[0]), "the shelter can read what the server cannot");
    d.admin.client.devices().await.unwrap();
    // Refusals are logged too: make some.
    let _ = d.consulate_device.client.push(&events).await;
    let stranger = uuid::Uuid::now_v7();
    let created = d.admin.client.create_invitation(d.clinic.id, false, Some(2)).await.unwrap();
    let certificate = certify(&d.root, &Invitation::of(d.deployment_id, &created), stranger);
    let _ = d.anonymous.with_token(&d.tokens[2]).redeem_invitation(stranger, &certificate).await;
    // An invitation redeemed: neither its token nor the device's new one is written anywhere.
    let redeemer = d.anonymous.with_token(&created.invitation_token);
    let redeemed = redeemer.redeem_invitation(stranger, &certificate).await.unwrap();
    let _ = redeemer.redeem_invitation(stranger, &certificate).await;
    assert!(server.terminate());

    let mut files = vec![log.clone()];
    for entry in std::fs::read_dir(&data).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert!(files.len() >= 2, "expected the database and the log: {files:?}");
    let mut forbidden: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    forbidden.extend(d.tokens.iter().cloned());
    forbidden.extend([created.invitation_token.clone(), redeemed.device_token.clone()]);
    forbidden.push(d.bootstrap_token.clone());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &forbidden {
            assert!(
                !bytes.windows(needle.len()).any(|window| window == needle.as_bytes()),
                "{} contains a secret",
                file.display()
            );
        }
    }
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("events pushed"), "the log records the work: {log_text}");
}
