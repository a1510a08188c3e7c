//! Every endpoint of the real `harbour-server` process, through the `harbour-sync` client,
//! and every kind of bad input, each answered with a JSON 4xx that changes nothing.

use ed25519_dalek::{Signer, SigningKey};
use harbour_sync::client::{Client, ClientError};
use harbour_wire::identity::SignedDocument;
use harbour_wire::protocol::{
    CreateInvitationResponse, DEFAULT_INVITATION_DAYS, ErrorBody, InvitationStatus, MAX_INVITATION_DAYS,
    RegisterDeploymentRequest,
};
use rand_core::OsRng;
use uuid::Uuid;

use crate::support::{
    Case, Deployment, Invitation, METRICS_TOKEN, Server, certify, enrol, fresh_postgres_database, postgres_url,
    pull_all, signed_directory, team,
};

/// A server on a fresh SQLite file; the temp dir holds the database and the log.
fn sqlite_server(extra: &[&str]) -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let bootstrap = Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), extra);
    (server, bootstrap, dir)
}

fn code(error: &ClientError) -> &str {
    error.code().unwrap_or("none")
}

async fn stored_events(client: &Client) -> u64 {
    let text = client.metrics(Some(METRICS_TOKEN)).await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("harbour_events "))
        .expect("the metrics report the stored events")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn full_flow_on_sqlite() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    full_flow(&server, &bootstrap).await;
}

#[tokio::test]
async fn full_flow_on_postgres() {
    let Some(url) = postgres_url() else { return };
    let db = fresh_postgres_database(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), &[]);
    full_flow(&server, &bootstrap).await;
}

/// Registration, directory, invitations, push, pull, grant, revoke: the life of a deployment.
async fn full_flow(server: &Server, bootstrap: &str) {
    let d = Deployment::register(server, bootstrap).await;
    let health = d.anonymous.health().await.unwrap();
    assert_eq!(health.status, "ok");

    // The deployment and the directory, verified as a device would.
    let info = d.clinic_device.client.deployment().await.unwrap();
    assert_eq!(info.deployment_id, d.deployment_id);
    assert_eq!(info.ministry_team_id, d.ministry.id);
    let signed = d.clinic_device.client.directory().await.unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&info.root_public_key.try_into().unwrap()).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&signed.signature).unwrap();
    key.verify_strict(&harbour_wire::protocol::directory_signing_message(&signed.document), &signature).unwrap();
    assert_eq!(signed.unverified_directory().unwrap().teams.len(), 4);

    // A clinic records a case; the ministry sees it, the consulate does not.
    let case = Case::new();
    let batch: Vec<_> = ["case.created", "note.added", "screening.added"]
        .iter()
        .map(|kind| case.seal(&d.clinic_device, kind, &format!("{kind} body")))
        .collect();
    let pushed = d.clinic_device.client.push(&batch).await.unwrap();
    assert_eq!(pushed.events.len(), 3);
    assert!(pushed.events.iter().all(|e| !e.already_stored));
    let ministry_view = pull_all(&d.admin.client, None).await;
    assert_eq!(ministry_view, batch);
    assert_eq!(case.open(&ministry_view[1]), "note.added body");
    assert!(pull_all(&d.consulate_device.client, None).await.is_empty());

    // Replaying the batch is harmless.
    let replay = d.clinic_device.client.push(&batch).await.unwrap();
    assert!(replay.events.iter().all(|e| e.already_stored));
    assert_eq!(
        replay.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        pushed.events.iter().map(|e| e.seq).collect::<Vec<_>>()
    );

    // The consulate may not write to the clinic's case, nor grant it.
    let intrusion = case.seal(&d.consulate_device, "note.added", "intrusion");
    let error = d.consulate_device.client.push(&[intrusion]).await.unwrap_err();
    assert!(matches!(error, ClientError::Forbidden { .. }), "{error:?}");
    assert_eq!(code(&error), "case_not_visible");
    let error = d.consulate_device.client.grant(case.id, d.consulate.id).await.unwrap_err();
    assert_eq!(code(&error), "case_not_visible");

    // A referral grants the shelter, which then pulls the older events too.
    let shelter_cursor = d.shelter_device.client.pull(0, None).await.unwrap().next_cursor;
    let granted = d.clinic_device.client.grant(case.id, d.shelter.id).await.unwrap();
    assert_eq!(granted.backfilled, 3);
    let shelter_page = d.shelter_device.client.pull(shelter_cursor, None).await.unwrap();
    assert_eq!(shelter_page.events, batch);
    assert!(!shelter_page.more);
    let error = d.clinic_device.client.grant(case.id, Uuid::now_v7()).await.unwrap_err();
    assert_eq!(code(&error), "unknown_team");
    let error = d.clinic_device.client.grant(Uuid::now_v7(), d.shelter.id).await.unwrap_err();
    assert_eq!(code(&error), "unknown_case");

    // Pages: 25 more events, pulled 10 at a time.
    let many: Vec<_> = (0..25).map(|i| case.seal(&d.clinic_device, "note.added", &format!("note {i}"))).collect();
    d.clinic_device.client.push(&many).await.unwrap();
    let mut cursor = 0;
    let mut sizes = Vec::new();
    loop {
        let page = d.clinic_device.client.pull(cursor, Some(10)).await.unwrap();
        sizes.push(page.events.len());
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(sizes, [10, 10, 8]);

    // Devices: listed by an administrator, revoked at once.
    let devices = d.admin.client.devices().await.unwrap();
    assert_eq!(devices.len(), 4);
    let error = d.clinic_device.client.devices().await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
    let error = d.clinic_device.client.revoke_device(d.consulate_device.id).await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
    d.admin.client.revoke_device(d.consulate_device.id).await.unwrap();
    let error = d.consulate_device.client.pull(0, None).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }), "{error:?}");
    assert_eq!(error.to_string(), "The server refused this laptop: ask your administrator to re-invite it.");
    let devices = d.admin.client.devices().await.unwrap();
    assert!(devices.iter().any(|dev| dev.device_id == d.consulate_device.id && dev.revoked));
    let error = d.admin.client.revoke_device(d.admin.id).await.unwrap_err();
    assert_eq!(code(&error), "cannot_revoke_self");
    let error = d.admin.client.revoke_device(Uuid::now_v7()).await.unwrap_err();
    assert_eq!(code(&error), "unknown_device");

    // Metrics and the API description.
    let metrics = d.anonymous.metrics(Some(METRICS_TOKEN)).await.unwrap();
    assert!(metrics.contains("harbour_pushes_total "), "{metrics}");
    assert!(metrics.contains("harbour_pulls_total "), "{metrics}");
    assert!(metrics.contains("harbour_events_stored_total 28"), "{metrics}");
    assert!(metrics.contains("harbour_http_requests_total{status=\"2xx\"}"), "{metrics}");
    assert_eq!(stored_events(&d.anonymous).await, 28);
    let openapi = d.anonymous.openapi().await.unwrap();
    for (method, path) in harbour_server::api::ROUTES {
        assert!(openapi["paths"][path][method].is_object(), "{method} {path} is not described");
    }
}

#[tokio::test]
async fn registration_needs_the_bootstrap_token_once() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let client = Client::new(&server.url).unwrap();
    let root = SigningKey::generate(&mut OsRng);
    let mut request = RegisterDeploymentRequest {
        bootstrap_token: "not-the-token".into(),
        deployment_id: Uuid::now_v7(),
        root_public_key: root.verifying_key().to_bytes().to_vec(),
        ministry_team: team("Ministry"),
        admin_device_id: Uuid::now_v7(),
    };
    let error = client.register_deployment(&request).await.unwrap_err();
    assert_eq!(code(&error), "bootstrap_refused");
    request.root_public_key = vec![1, 2, 3];
    request.bootstrap_token = bootstrap.clone();
    let error = client.register_deployment(&request).await.unwrap_err();
    assert_eq!(code(&error), "invalid_key");
    request.root_public_key = root.verifying_key().to_bytes().to_vec();
    client.register_deployment(&request).await.unwrap();
    let error = client.register_deployment(&request).await.unwrap_err();
    assert_eq!(code(&error), "bootstrap_refused");
    // `init` refuses to mint a second bootstrap token.
    let output =
        std::process::Command::new(crate::support::BIN).args(["init", "--db", &server.db, "--json"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already initialized"));
}

#[tokio::test]
async fn directories_must_be_signed_by_the_root_key_and_newer() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let teams = [d.ministry.clone(), d.clinic.clone(), team("Embassy")];

    let mut unsigned = signed_directory(&d.root, d.deployment_id, 2, &teams);
    unsigned.signature = vec![0; 64];
    let error = d.admin.client.publish_directory(&unsigned).await.unwrap_err();
    assert_eq!(code(&error), "bad_signature");
    let impostor = SigningKey::generate(&mut OsRng);
    let forged = signed_directory(&impostor, d.deployment_id, 2, &teams);
    let error = d.admin.client.publish_directory(&forged).await.unwrap_err();
    assert_eq!(code(&error), "bad_signature");
    let mut tampered = signed_directory(&d.root, d.deployment_id, 2, &teams);
    tampered.document = tampered.document.replace("Embassy", "Impostor");
    let error = d.admin.client.publish_directory(&tampered).await.unwrap_err();
    assert_eq!(code(&error), "bad_signature");
    let stale = signed_directory(&d.root, d.deployment_id, 1, &teams);
    let error = d.admin.client.publish_directory(&stale).await.unwrap_err();
    assert_eq!(code(&error), "stale_directory");
    let elsewhere = signed_directory(&d.root, Uuid::now_v7(), 2, &teams);
    let error = d.admin.client.publish_directory(&elsewhere).await.unwrap_err();
    assert_eq!(code(&error), "wrong_deployment");
    let good = signed_directory(&d.root, d.deployment_id, 2, &teams);
    let error = d.clinic_device.client.publish_directory(&good).await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
    // None of that changed anything.
    assert_eq!(d.clinic_device.client.directory().await.unwrap().unverified_directory().unwrap().version, 1);

    assert_eq!(d.admin.client.publish_directory(&good).await.unwrap().version, 2);
    assert_eq!(d.clinic_device.client.directory().await.unwrap(), good);
}

/// A service directory as an administrator's laptop signs it.
fn signed_services(key: &SigningKey, deployment_id: Uuid, version: u64, contact: &str) -> SignedDocument {
    let document = harbour_wire::root::ServiceDirectoryDocument {
        deployment_id,
        version,
        directory: serde_json::json!({ "deployment": "test", "version": version, "services": [{ "contact": contact }] }),
    };
    let document = serde_json::to_string(&document).unwrap();
    let message =
        harbour_wire::identity::signing_message(harbour_wire::root::SERVICE_DIRECTORY_CONTEXT, document.as_bytes());
    SignedDocument { document, signature: key.sign(&message).to_bytes().to_vec() }
}

#[tokio::test]
async fn service_directories_are_published_by_administrators_signed_newer_and_small() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    assert_eq!(d.clinic_device.client.service_directory().await.unwrap(), None, "204 before the first");

    let good = signed_services(&d.root, d.deployment_id, 2, "Desk sergeant");
    // A laptop that is not an administrator's is refused, even with a correctly signed document.
    let error = d.clinic_device.client.publish_service_directory(&good).await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
    assert!(matches!(error, ClientError::Forbidden { .. }), "{error:?}");
    let impostor = SigningKey::generate(&mut OsRng);
    let forged = signed_services(&impostor, d.deployment_id, 2, "Call this number");
    assert_eq!(code(&d.admin.client.publish_service_directory(&forged).await.unwrap_err()), "bad_signature");
    let mut tampered = good.clone();
    tampered.document = tampered.document.replace("Desk sergeant", "Call this number");
    assert_eq!(code(&d.admin.client.publish_service_directory(&tampered).await.unwrap_err()), "bad_signature");
    // A team directory's signature never passes for a service directory's.
    let team_context = {
        let message = harbour_wire::protocol::directory_signing_message(&good.document);
        SignedDocument { document: good.document.clone(), signature: d.root.sign(&message).to_bytes().to_vec() }
    };
    assert_eq!(code(&d.admin.client.publish_service_directory(&team_context).await.unwrap_err()), "bad_signature");
    let elsewhere = signed_services(&d.root, Uuid::now_v7(), 2, "Desk sergeant");
    assert_eq!(code(&d.admin.client.publish_service_directory(&elsewhere).await.unwrap_err()), "wrong_deployment");
    let zero = signed_services(&d.root, d.deployment_id, 0, "Desk sergeant");
    assert_eq!(code(&d.admin.client.publish_service_directory(&zero).await.unwrap_err()), "invalid_service_directory");
    let huge =
        signed_services(&d.root, d.deployment_id, 2, &"x".repeat(harbour_wire::root::MAX_SERVICE_DIRECTORY_BYTES));
    assert_eq!(
        code(&d.admin.client.publish_service_directory(&huge).await.unwrap_err()),
        "service_directory_too_large"
    );
    assert_eq!(d.clinic_device.client.service_directory().await.unwrap(), None, "no refusal stored anything");

    assert_eq!(d.admin.client.publish_service_directory(&good).await.unwrap().version, 2);
    assert_eq!(d.clinic_device.client.service_directory().await.unwrap(), Some(good.clone()));
    let older = signed_services(&d.root, d.deployment_id, 1, "Old contact");
    assert_eq!(code(&d.admin.client.publish_service_directory(&older).await.unwrap_err()), "stale_service_directory");
    assert_eq!(code(&d.admin.client.publish_service_directory(&good).await.unwrap_err()), "stale_service_directory");
    assert_eq!(d.clinic_device.client.service_directory().await.unwrap(), Some(good));
    assert_eq!(code(&d.anonymous.service_directory().await.unwrap_err()), "unauthorized");
}

#[tokio::test]
async fn invitations_are_for_administrators_and_used_once() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let error = d.clinic_device.client.create_invitation(d.clinic.id, false, None).await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
    let error = d.admin.client.create_invitation(d.clinic.id, true, None).await.unwrap_err();
    assert_eq!(code(&error), "admin_outside_ministry");
    let error = d.admin.client.create_invitation(Uuid::now_v7(), false, None).await.unwrap_err();
    assert_eq!(code(&error), "unknown_team");
    for days in [0, MAX_INVITATION_DAYS + 1] {
        let error = d.admin.client.create_invitation(d.clinic.id, false, Some(days)).await.unwrap_err();
        assert_eq!(code(&error), "invalid_expiry");
        assert!(matches!(error, ClientError::Rejected { status: 400, .. }));
        assert!(error.to_string().contains("expires_in_days"), "{error}");
    }

    // The default validity is 7 days; another may be chosen.
    let before = now_ms();
    let invitation = d.admin.client.create_invitation(d.ministry.id, true, None).await.unwrap();
    let after = now_ms();
    let week = u64::from(DEFAULT_INVITATION_DAYS) * DAY_MS;
    assert!((before + week..=after + week).contains(&invitation.expires_at_ms), "{}", invitation.expires_at_ms);
    let longer = d.admin.client.create_invitation(d.clinic.id, false, Some(MAX_INVITATION_DAYS)).await.unwrap();
    assert!(longer.expires_at_ms >= before + u64::from(MAX_INVITATION_DAYS) * DAY_MS);

    let newcomer = d.anonymous.with_token(&invitation.invitation_token);
    // A pending invitation is not yet a device.
    let error = newcomer.pull(0, None).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }));
    let device_id = Uuid::now_v7();
    let certificate = certify(&d.root, &Invitation::of(d.deployment_id, &invitation), device_id);
    let redeemed = newcomer.redeem_invitation(device_id, &certificate).await.unwrap();
    let device = &redeemed.device;
    assert!(device.admin && device.team_id == d.ministry.id && device.device_id == device_id && !device.revoked);
    assert_eq!(device.certificate.as_ref(), Some(&certificate));
    assert_ne!(redeemed.device_token, invitation.invitation_token);
    // The invitation's token is spent: it redeems nothing and authenticates nothing.
    let error = newcomer.redeem_invitation(Uuid::now_v7(), &certificate).await.unwrap_err();
    assert_eq!(code(&error), "invitation_used");
    assert!(matches!(error, ClientError::Rejected { status: 409, .. }));
    let error = newcomer.devices().await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }), "{error:?}");
    let error = newcomer.pull(0, None).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }), "{error:?}");
    // The device's own token works.
    let admin2 = d.anonymous.with_token(&redeemed.device_token);
    let devices = admin2.devices().await.unwrap();
    assert_eq!(devices.len(), 5, "the new administrator works");
    let listed = devices.iter().find(|listed| listed.device_id == device_id).unwrap();
    assert_eq!(listed.certificate.as_ref(), Some(&certificate));
    let error = d.anonymous.with_token("made-up").redeem_invitation(Uuid::now_v7(), &certificate).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }));
    let (second, _) = enrol(&d.root, d.deployment_id, &d.admin, &d.shelter).await;
    assert_eq!(second.client.deployment().await.unwrap().deployment_id, d.deployment_id);

    // The administrator sees every invitation and where it stands.
    let invitations = d.admin.client.invitations().await.unwrap();
    let status = |id: Uuid| invitations.iter().find(|i| i.invitation_id == id).map(|i| (i.status, i.device_id));
    assert_eq!(status(invitation.invitation_id), Some((InvitationStatus::Redeemed, Some(device_id))));
    assert_eq!(status(longer.invitation_id), Some((InvitationStatus::Pending, None)));
    assert_eq!(invitations.len(), 6, "three from the deployment's setup, three here");
    let error = d.clinic_device.client.invitations().await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
}

#[tokio::test]
async fn expired_and_cancelled_invitations_are_refused() {
    let (server, bootstrap, dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let devices = d.admin.client.devices().await.unwrap().len();
    let redeem = async |created: &CreateInvitationResponse| {
        let device_id = Uuid::now_v7();
        let certificate = certify(&d.root, &Invitation::of(d.deployment_id, created), device_id);
        d.anonymous.with_token(&created.invitation_token).redeem_invitation(device_id, &certificate).await
    };

    // An invitation whose expiry passed (set a second in the past in the database itself, as
    // if the week had gone by) is gone.
    let late = d.admin.client.create_invitation(d.clinic.id, false, Some(1)).await.unwrap();
    let database = rusqlite::Connection::open(dir.path().join("harbour.db")).unwrap();
    database.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let changed = database
        .execute(
            "UPDATE invitations SET expires_at_ms = ?1 WHERE invitation_id = ?2",
            rusqlite::params![now_ms() as i64 - 1000, late.invitation_id.as_bytes()],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let error = redeem(&late).await.unwrap_err();
    assert_eq!(code(&error), "invitation_expired");
    assert!(matches!(error, ClientError::Rejected { status: 410, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "The server refused the request: This invitation has expired; ask your administrator for a new one."
    );

    // A cancelled one too; cancelling twice is harmless.
    let cancelled = d.admin.client.create_invitation(d.clinic.id, false, None).await.unwrap();
    let error = d.clinic_device.client.cancel_invitation(cancelled.invitation_id).await.unwrap_err();
    assert_eq!(code(&error), "admin_only");
    d.admin.client.cancel_invitation(cancelled.invitation_id).await.unwrap();
    d.admin.client.cancel_invitation(cancelled.invitation_id).await.unwrap();
    let error = redeem(&cancelled).await.unwrap_err();
    assert_eq!(code(&error), "invitation_cancelled");
    assert!(matches!(error, ClientError::Rejected { status: 410, .. }), "{error:?}");

    // A used one cannot be cancelled; an unknown one is not found.
    let used = d.admin.client.create_invitation(d.shelter.id, false, None).await.unwrap();
    redeem(&used).await.unwrap();
    let error = d.admin.client.cancel_invitation(used.invitation_id).await.unwrap_err();
    assert_eq!(code(&error), "invitation_used");
    assert!(matches!(error, ClientError::Rejected { status: 409, .. }));
    let error = d.admin.client.cancel_invitation(Uuid::now_v7()).await.unwrap_err();
    assert_eq!(code(&error), "unknown_invitation");
    assert!(matches!(error, ClientError::Rejected { status: 404, .. }));

    let listed = d.admin.client.invitations().await.unwrap();
    let status = |id: Uuid| listed.iter().find(|i| i.invitation_id == id).unwrap().status;
    assert_eq!(status(late.invitation_id), InvitationStatus::Expired);
    assert_eq!(status(cancelled.invitation_id), InvitationStatus::Cancelled);
    assert_eq!(status(used.invitation_id), InvitationStatus::Redeemed);
    assert_eq!(d.admin.client.devices().await.unwrap().len(), devices + 1, "only the used invitation made a device");
}

#[tokio::test]
async fn a_certificate_that_does_not_match_the_invitation_is_refused() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let devices = d.admin.client.devices().await.unwrap().len();
    let created = d.admin.client.create_invitation(d.clinic.id, false, None).await.unwrap();
    let newcomer = d.anonymous.with_token(&created.invitation_token);
    let invitation = Invitation::of(d.deployment_id, &created);
    let device_id = Uuid::now_v7();

    let impostor = SigningKey::generate(&mut OsRng);
    let other = d.admin.client.create_invitation(d.clinic.id, false, None).await.unwrap();
    let refused = [
        // For another device id than the one enrolled.
        certify(&d.root, &invitation, Uuid::now_v7()),
        // Made with another invitation's credential.
        certify(&d.root, &Invitation::of(d.deployment_id, &other), device_id),
        // Claiming another team, or to be an administrator.
        certify(&d.root, &Invitation { team_id: d.shelter.id, ..Invitation::of(d.deployment_id, &created) }, device_id),
        certify(&d.root, &Invitation { admin: true, ..Invitation::of(d.deployment_id, &created) }, device_id),
        // Signed by another root key, or for another deployment.
        certify(&impostor, &invitation, device_id),
        certify(
            &d.root,
            &Invitation { deployment_id: Uuid::now_v7(), ..Invitation::of(d.deployment_id, &created) },
            device_id,
        ),
    ];
    for certificate in &refused {
        let error = newcomer.redeem_invitation(device_id, certificate).await.unwrap_err();
        assert_eq!(code(&error), "certificate_mismatch");
        assert!(matches!(error, ClientError::Forbidden { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "The server does not allow this: This invitation's certificate does not match it; ask your \
             administrator for a new invitation."
        );
    }
    // A tampered document no longer matches its signature.
    let mut tampered = certify(&d.root, &invitation, device_id);
    tampered.device.document = tampered.device.document.replace(&device_id.to_string(), &Uuid::now_v7().to_string());
    let error = newcomer.redeem_invitation(device_id, &tampered).await.unwrap_err();
    assert_eq!(code(&error), "certificate_mismatch");

    // Nothing was stored: no device, the invitation still pending and redeemable.
    assert_eq!(d.admin.client.devices().await.unwrap().len(), devices);
    let listed = d.admin.client.invitations().await.unwrap();
    assert!(listed.iter().any(|i| i.invitation_id == created.invitation_id && i.status == InvitationStatus::Pending));
    let good = certify(&d.root, &invitation, device_id);
    let redeemed = newcomer.redeem_invitation(device_id, &good).await.unwrap();
    assert_eq!(redeemed.device.device_id, device_id);
    // A device id already enrolled is refused even with a matching certificate.
    let taken = d.clinic_device.id;
    let certificate = certify(&d.root, &Invitation::of(d.deployment_id, &other), taken);
    let error =
        d.anonymous.with_token(&other.invitation_token).redeem_invitation(taken, &certificate).await.unwrap_err();
    assert_eq!(code(&error), "device_enrolled");
}

#[tokio::test]
async fn failed_redemptions_are_rate_limited() {
    let (server, bootstrap, dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let created = d.admin.client.create_invitation(d.clinic.id, false, None).await.unwrap();
    let device_id = Uuid::now_v7();
    let certificate = certify(&d.root, &Invitation::of(d.deployment_id, &created), device_id);
    let wrong = certify(&d.root, &Invitation::of(d.deployment_id, &created), Uuid::now_v7());
    let newcomer = d.anonymous.with_token(&created.invitation_token);

    // Ten failures within the minute: guessed tokens and a certificate that does not match.
    for attempt in 0..10 {
        let error = if attempt % 2 == 0 {
            let guess = format!("{attempt:064}");
            d.anonymous.with_token(&guess).redeem_invitation(device_id, &certificate).await.unwrap_err()
        } else {
            newcomer.redeem_invitation(device_id, &wrong).await.unwrap_err()
        };
        assert_ne!(code(&error), "too_many_attempts", "attempt {attempt} was limited too early");
    }
    // The eleventh is refused before anything is looked at, even with the right invitation.
    let http = reqwest::Client::new();
    let request = harbour_wire::protocol::RedeemInvitationRequest { device_id, certificate: certificate.clone() };
    let response = http
        .post(format!("{}/v1/invitations/redeem", server.url))
        .bearer_auth(&created.invitation_token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error, "too_many_attempts");
    assert!(body.message.contains(&format!("wait {retry_after} seconds")), "{}", body.message);
    let error = newcomer.redeem_invitation(device_id, &certificate).await.unwrap_err();
    assert!(matches!(error, ClientError::TooManyRequests { .. }), "{error:?}");
    assert!(error.is_transient());
    // Nothing was redeemed; the limit is logged without any token.
    let listed = d.admin.client.invitations().await.unwrap();
    assert!(listed.iter().any(|i| i.invitation_id == created.invitation_id && i.status == InvitationStatus::Pending));
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("invitation redemptions limited"), "{log}");
    assert!(!log.contains(&created.invitation_token));
    // Other requests are not limited.
    d.clinic_device.client.pull(0, None).await.unwrap();
}

#[tokio::test]
async fn laptops_made_before_certificates_upload_theirs() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let listed = |devices: Vec<harbour_wire::protocol::DeviceInfo>, id: Uuid| {
        devices.into_iter().find(|device| device.device_id == id).unwrap().certificate
    };
    assert_eq!(listed(d.admin.client.devices().await.unwrap(), d.admin.id), None);
    // The administrator's laptop certifies itself with the root key (as core does for it).
    let own = Invitation {
        deployment_id: d.deployment_id,
        invitation_id: Uuid::now_v7(),
        team_id: d.ministry.id,
        admin: true,
        expires_ms: now_ms() + DAY_MS,
    };
    let impostor = SigningKey::generate(&mut OsRng);
    for wrong in [
        certify(&d.root, &own, Uuid::now_v7()),
        certify(&d.root, &Invitation { team_id: d.clinic.id, ..own }, d.admin.id),
        certify(&d.root, &Invitation { admin: false, ..own }, d.admin.id),
        certify(&impostor, &own, d.admin.id),
    ] {
        let error = d.admin.client.upload_certificate(&wrong).await.unwrap_err();
        assert_eq!(code(&error), "certificate_mismatch");
    }
    assert_eq!(listed(d.admin.client.devices().await.unwrap(), d.admin.id), None, "nothing was stored");
    let certificate = certify(&d.root, &own, d.admin.id);
    d.admin.client.upload_certificate(&certificate).await.unwrap();
    d.admin.client.upload_certificate(&certificate).await.unwrap();
    assert_eq!(listed(d.admin.client.devices().await.unwrap(), d.admin.id), Some(certificate.clone()));
    let error = d.admin.client.upload_certificate(&certify(&d.root, &own, d.admin.id)).await.unwrap_err();
    assert_eq!(code(&error), "certificate_exists");
    // A laptop enrolled with a certificate cannot replace it; a stranger cannot upload at all.
    let clinic = Invitation { team_id: d.clinic.id, admin: false, ..own };
    let error =
        d.clinic_device.client.upload_certificate(&certify(&d.root, &clinic, d.clinic_device.id)).await.unwrap_err();
    assert_eq!(code(&error), "certificate_exists");
    let error = d.anonymous.upload_certificate(&certificate).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }));
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

const DAY_MS: u64 = 86_400_000;

#[tokio::test]
async fn pushes_are_checked_and_all_or_nothing() {
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    d.clinic_device.client.push(&[case.seal(&d.clinic_device, "case.created", "x")]).await.unwrap();
    let before = stored_events(&d.anonymous).await;

    // The clinic's token pushing an event of another device.
    let other_case = Case::new();
    let impersonation = other_case.seal(&d.shelter_device, "case.created", "y");
    let error = d.clinic_device.client.push(&[impersonation]).await.unwrap_err();
    assert_eq!(code(&error), "wrong_device");
    // A different event reusing a used (device, seq), behind a good one.
    let good = other_case.seal(&d.clinic_device, "case.created", "z");
    let clash = other_case.seal_with_seq(d.clinic_device.id, 1, "note.added", "w");
    let error = d.clinic_device.client.push(&[good.clone(), clash]).await.unwrap_err();
    assert_eq!(code(&error), "conflict");
    assert!(matches!(error, ClientError::Rejected { status: 409, .. }));
    // Malformed events.
    let mut bad_nonce = other_case.seal(&d.clinic_device, "note.added", "v");
    bad_nonce.nonce = vec![1];
    let error = d.clinic_device.client.push(&[bad_nonce]).await.unwrap_err();
    assert_eq!(code(&error), "invalid_event");
    let too_many: Vec<_> = (0..1001).map(|_| good.clone()).collect();
    let error = d.clinic_device.client.push(&too_many).await.unwrap_err();
    assert_eq!(code(&error), "batch_too_large");
    assert_eq!(stored_events(&d.anonymous).await, before, "no refused push stored anything");
    d.clinic_device.client.push(&[good]).await.unwrap();
    assert_eq!(stored_events(&d.anonymous).await, before + 1);
}

#[tokio::test]
async fn bad_http_input_gets_json_errors() {
    let (server, bootstrap, _dir) = sqlite_server(&["--max-body-bytes", "65536"]);
    let d = Deployment::register(&server, &bootstrap).await;
    let token = &d.tokens[1];
    let http = reqwest::Client::new();
    let url = format!("{}/v1/events", server.url);
    let before = stored_events(&d.anonymous).await;

    let check = async |request: reqwest::RequestBuilder, status: u16, code: &str| {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: ErrorBody = response.json().await.unwrap();
        assert_eq!(body.error, code);
        assert!(body.message.ends_with('.') || body.message.ends_with(')'), "{}", body.message);
    };
    let authed = |builder: reqwest::RequestBuilder| builder.bearer_auth(token);

    check(authed(http.post(&url)).header("content-type", "application/json").body("{not json"), 400, "malformed_json")
        .await;
    check(authed(http.post(&url)).header("content-type", "text/plain").body("{}"), 415, "unsupported_media_type").await;
    check(
        authed(http.post(&url)).header("content-type", "application/json").body("{\"events\": 3}"),
        422,
        "invalid_request",
    )
    .await;
    let huge = format!("{{\"events\": [], \"pad\": \"{}\"}}", "a".repeat(100_000));
    check(authed(http.post(&url)).header("content-type", "application/json").body(huge.clone()), 413, "body_too_large")
        .await;
    // A small zstd body that inflates past the limit is caught after decompression.
    let bomb = zstd::bulk::compress(huge.as_bytes(), 3).unwrap();
    check(
        authed(http.post(&url))
            .header("content-type", "application/json")
            .header("content-encoding", "zstd")
            .body(bomb),
        413,
        "body_too_large",
    )
    .await;
    check(
        authed(http.post(&url)).header("content-type", "application/json").header("content-encoding", "br").body("{}"),
        415,
        "unsupported_media_type",
    )
    .await;
    check(http.get(&url), 401, "unauthorized").await;
    check(http.get(&url).bearer_auth("0".repeat(64)), 401, "unauthorized").await;
    check(authed(http.get(format!("{url}?after=minus-one"))), 400, "invalid_query").await;
    check(http.get(format!("{}/v1/nothing-here", server.url)), 404, "not_found").await;
    check(http.delete(&url), 405, "method_not_allowed").await;

    // gzip bodies are understood, and responses come compressed when asked.
    let gz = {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"{\"events\": []}").unwrap();
        encoder.finish().unwrap()
    };
    let response = authed(http.post(&url))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A raw client (no transparent decompression) sees the compressed answer as it travels.
    let raw = reqwest::Client::builder().no_gzip().no_zstd().build().unwrap();
    for encoding in ["zstd", "gzip"] {
        let response = raw
            .get(format!("{}/v1/openapi.json", server.url))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-encoding"], encoding);
    }
    assert_eq!(stored_events(&d.anonymous).await, before, "no bad request changed anything");
}

fn signed(key: &SigningKey, context: &[u8], document: String) -> harbour_wire::identity::SignedDocument {
    use ed25519_dalek::Signer;
    let signature = key.sign(&harbour_wire::identity::signing_message(context, document.as_bytes()));
    harbour_wire::identity::SignedDocument { document, signature: signature.to_bytes().to_vec() }
}

/// A wipe order the root key did not sign, or that names another laptop, is refused; a
/// genuine one is handed to its laptop only (even revoked), which may push first only when the
/// order says so; a report not signed by the laptop's certified key changes nothing.
#[tokio::test]
async fn wipe_orders_and_reports_are_checked_before_they_are_stored() {
    use harbour_wire::wipe::{WIPE_ORDER_CONTEXT, WIPE_REPORT_CONTEXT, WipeOrder, WipeReport};
    let (server, bootstrap, _dir) = sqlite_server(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let lost = &d.clinic_device;
    let order = |device_id: Uuid, send_first: bool| WipeOrder {
        order_id: Uuid::now_v7(),
        deployment_id: d.deployment_id,
        device_id,
        send_first,
        issued_ms: 1,
    };
    let by_root = |order: &WipeOrder| signed(&d.root, WIPE_ORDER_CONTEXT, serde_json::to_string(order).unwrap());

    // Forged: another key; for another laptop than the address; the root's credential context.
    let forged = signed(
        &SigningKey::generate(&mut OsRng),
        WIPE_ORDER_CONTEXT,
        serde_json::to_string(&order(lost.id, true)).unwrap(),
    );
    let error = d.admin.client.order_wipe(lost.id, &forged).await.unwrap_err();
    assert_eq!(code(&error), "wipe_refused", "{error:?}");
    let elsewhere = by_root(&order(d.shelter_device.id, true));
    let error = d.admin.client.order_wipe(lost.id, &elsewhere).await.unwrap_err();
    assert_eq!(code(&error), "wipe_refused", "{error:?}");
    let wrong_context = signed(
        &d.root,
        harbour_wire::identity::CREDENTIAL_CONTEXT,
        serde_json::to_string(&order(lost.id, true)).unwrap(),
    );
    assert_eq!(code(&d.admin.client.order_wipe(lost.id, &wrong_context).await.unwrap_err()), "wipe_refused");
    // Only an administrator hands one over.
    let genuine = order(lost.id, false);
    let error = d.shelter_device.client.order_wipe(lost.id, &by_root(&genuine)).await.unwrap_err();
    assert_eq!(code(&error), "admin_only", "{error:?}");
    assert_eq!(lost.client.wipe_order().await.unwrap(), None, "a refused order was stored");

    // A genuine order reaches its laptop, revoked or not, and no other.
    d.admin.client.order_wipe(lost.id, &by_root(&genuine)).await.unwrap();
    d.admin.client.revoke_device(lost.id).await.unwrap();
    assert_eq!(lost.client.wipe_order().await.unwrap(), Some(by_root(&genuine)));
    assert_eq!(d.shelter_device.client.wipe_order().await.unwrap(), None);
    let case = Case::new();
    // Not "send first": the revoked laptop may not push.
    let error = lost.client.push(&[case.seal(lost, "case.created", "x")]).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }), "{error:?}");
    // "Send first": it may, until it reports.
    d.admin.client.order_wipe(lost.id, &by_root(&order(lost.id, true))).await.unwrap();
    lost.client.push(&[case.seal(lost, "case.created", "x")]).await.unwrap();

    // A report signed by any key but the laptop's certified one is refused and changes nothing.
    let pending: harbour_wire::identity::SignedDocument = lost.client.wipe_order().await.unwrap().unwrap();
    let pending: WipeOrder = serde_json::from_str(&pending.document).unwrap();
    let report =
        WipeReport { order_id: pending.order_id, device_id: lost.id, sent_first: 1, destroyed_unsent: 0, wiped_ms: 2 };
    let forged =
        signed(&SigningKey::generate(&mut OsRng), WIPE_REPORT_CONTEXT, serde_json::to_string(&report).unwrap());
    let error = d.anonymous.report_wipe(&forged).await.unwrap_err();
    assert_eq!(code(&error), "wipe_refused", "{error:?}");
    let by_root_report = signed(&d.root, WIPE_REPORT_CONTEXT, serde_json::to_string(&report).unwrap());
    assert_eq!(code(&d.anonymous.report_wipe(&by_root_report).await.unwrap_err()), "wipe_refused");
    let unknown = WipeReport { device_id: Uuid::now_v7(), ..report.clone() };
    let unknown = signed(&d.root, WIPE_REPORT_CONTEXT, serde_json::to_string(&unknown).unwrap());
    assert_eq!(code(&d.anonymous.report_wipe(&unknown).await.unwrap_err()), "unknown_wipe");
    let listed = d.admin.client.devices().await.unwrap();
    let status = listed.iter().find(|device| device.device_id == lost.id).unwrap().wipe.clone().unwrap();
    assert_eq!((status.order_id, status.done_at_ms), (pending.order_id, None), "a refused report marked the wipe done");
}
