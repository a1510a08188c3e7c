//! The server killed or stopped in the middle of work: nothing acknowledged is lost, and
//! sending again is harmless.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use harbour_sync::client::Client;
use harbour_wire::SealedEvent;

use crate::support::{Case, Deployment, Server, pull_all};

#[tokio::test]
async fn sigkill_mid_push_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let log = dir.path().join("server.log");
    let bootstrap = Server::init(&db);
    let mut server = Server::start(&db, &log, &[]);
    let d = Deployment::register(&server, &bootstrap).await;

    let case = Case::new();
    let batches: Vec<Vec<SealedEvent>> = (0..60)
        .map(|b| (0..200).map(|i| case.seal(&d.clinic_device, "note.added", &format!("note {b}/{i}"))).collect())
        .collect();
    let batches = Arc::new(batches);
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let pusher = {
        let (client, batches, acknowledged) =
            (d.clinic_device.client.clone(), Arc::clone(&batches), Arc::clone(&acknowledged));
        tokio::spawn(async move {
            for batch in batches.iter() {
                if client.push(batch).await.is_err() {
                    return; // the server died under us
                }
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while acknowledged.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    pusher.await.unwrap();
    let acked = acknowledged.load(Ordering::SeqCst);
    assert!(acked < batches.len(), "the kill came too late to interrupt a push");

    let server = Server::start(&db, &log, &[]);
    let admin = d.admin.client.with_base_url(&server.url).unwrap();
    let stored: HashSet<_> = pull_all(&admin, None).await.iter().map(|e| e.id).collect();
    for batch in &batches[..acked] {
        assert!(batch.iter().all(|e| stored.contains(&e.id)), "an acknowledged event was lost");
    }
    // The interrupted batch was committed whole or not at all.
    let partial = &batches[acked];
    let present = partial.iter().filter(|e| stored.contains(&e.id)).count();
    assert!(present == 0 || present == partial.len(), "half a batch was stored: {present}");

    // Re-sending everything (as a resuming client would) is harmless and completes the job.
    let clinic = d.clinic_device.client.with_base_url(&server.url).unwrap();
    for batch in batches.iter() {
        clinic.push(batch).await.unwrap();
    }
    let all = pull_all(&admin, Some(1000)).await;
    assert_eq!(all.len(), 60 * 200, "every event once, no duplicate");
    let unique: HashSet<_> = all.iter().map(|e| e.id).collect();
    assert_eq!(unique.len(), all.len());
}

/// Four laptops push at once, so pushes share commits (group commit on SQLite); the server is
/// killed mid-way: every push any of them had acknowledged is there after the restart.
#[tokio::test]
async fn sigkill_among_concurrent_pushes_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let log = dir.path().join("server.log");
    let bootstrap = Server::init(&db);
    let mut server = Server::start(&db, &log, &[]);
    let d = Deployment::register(&server, &bootstrap).await;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let pushers: Vec<_> = [&d.admin, &d.clinic_device, &d.consulate_device, &d.shelter_device]
        .into_iter()
        .map(|device| {
            let case = Case::new();
            let batches: Vec<Vec<SealedEvent>> = (0..200)
                .map(|b| (0..20).map(|i| case.seal(device, "note.added", &format!("note {b}/{i}"))).collect())
                .collect();
            let (client, acknowledged) = (device.client.clone(), Arc::clone(&acknowledged));
            tokio::spawn(async move {
                let mut stored = Vec::new();
                for batch in batches {
                    if client.push(&batch).await.is_err() {
                        break; // the server died under us
                    }
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                    stored.extend(batch.iter().map(|event| event.id));
                }
                stored
            })
        })
        .collect();
    while acknowledged.load(Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let mut acked = Vec::new();
    for pusher in pushers {
        acked.extend(pusher.await.unwrap());
    }
    assert!(acked.len() < 4 * 200 * 20, "the kill came too late to interrupt the pushes");

    let server = Server::start(&db, &log, &[]);
    let admin = d.admin.client.with_base_url(&server.url).unwrap();
    let stored: HashSet<_> = pull_all(&admin, Some(1000)).await.iter().map(|e| e.id).collect();
    let lost = acked.iter().filter(|id| !stored.contains(id)).count();
    assert_eq!(lost, 0, "{lost} acknowledged events of {} were lost", acked.len());
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_restarts_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let log = dir.path().join("server.log");
    let bootstrap = Server::init(&db);
    let mut server = Server::start(&db, &log, &[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    let batch: Vec<_> = (0..50).map(|i| case.seal(&d.clinic_device, "note.added", &format!("{i}"))).collect();
    d.clinic_device.client.push(&batch).await.unwrap();
    assert!(server.terminate(), "the server did not exit cleanly on SIGTERM");
    let error = d.clinic_device.client.health().await.unwrap_err();
    assert!(error.to_string().contains("could not be reached"), "{error}");

    let server = Server::start(&db, &log, &[]);
    let clinic: Client = d.clinic_device.client.with_base_url(&server.url).unwrap();
    assert_eq!(pull_all(&clinic, None).await, batch);
    // The backup command copies the live store.
    let copy = dir.path().join("backup.db");
    let output = std::process::Command::new(crate::support::BIN)
        .args(["backup", "--db", &db, "--to", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    drop(server);
    let restored = Server::start(&format!("sqlite:{}", copy.display()), &log, &[]);
    let clinic = d.clinic_device.client.with_base_url(&restored.url).unwrap();
    assert_eq!(pull_all(&clinic, None).await, batch);
}
