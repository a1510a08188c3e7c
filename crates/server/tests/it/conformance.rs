//! One conformance suite for the storage trait, run against every backend: SQLite always,
//! PostgreSQL when `HARBOUR_TEST_POSTGRES_URL` is set (and it must be when `CI=true`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ed25519_dalek::SigningKey;
use harbour_server::store::{
    Credential, Device, Missing, NewDeployment, NewInvitation, NewWipeOrder, Store, StoreError, WipeDone,
};
use harbour_server::token::{Token, TokenHash};
use harbour_wire::SealedEvent;
use harbour_wire::identity::{DeviceCertificate, SignedDocument};
use harbour_wire::protocol::{InvitationStatus, SignedDirectory, Team};
use rand_core::OsRng;
use uuid::Uuid;

use crate::support::{Case, Invitation, certify, fresh_postgres_database, postgres_url, team};

/// Run `check` against each backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let mut specs = vec![(
                    "sqlite",
                    format!("sqlite:{}", dir.path().join("harbour.db").display()),
                )];
                if let Some(url) = postgres_url() {
                    specs.push(("postgres", fresh_postgres_database(&url).await));
                }
                for (backend, spec) in specs {
                    let store = harbour_server::store::open(&spec).await.unwrap();
                    checks::$name(store, &spec).await;
                    eprintln!("{} passed on {backend}", stringify!($name));
                }
            }
        )*
    };
}

conformance!(
    initialization_and_registration,
    directory_versions,
    service_directory_versions,
    invitations_are_redeemed_once,
    invitations_expire_and_can_be_cancelled,
    certificates_are_kept,
    push_is_idempotent_and_all_or_nothing,
    pushes_respect_case_visibility,
    pull_pages_follow_the_team_feed,
    pull_pages_are_bounded_in_bytes,
    grants_backfill_older_events,
    devices_are_listed_and_revoked,
    wipe_orders_wait_until_reported,
    data_survives_reopening,
    concurrent_pushes_and_pulls_skip_nothing,
    a_refused_push_spoils_no_concurrent_push,
    racing_pushes_of_the_same_rows,
    a_push_waits_for_a_feed_writer_in_flight,
);

/// A registered deployment with a ministry, a clinic and a shelter, and one device each.
struct Fixture {
    ministry: Team,
    clinic: Team,
    shelter: Team,
    admin: Device,
    clinic_device: Device,
    shelter_device: Device,
}

async fn registered(store: &Arc<dyn Store>) -> Fixture {
    let bootstrap = Token::generate();
    store.initialize(&bootstrap.hash()).await.unwrap();
    let ministry = team("Ministry");
    let admin_token = Token::generate();
    let admin_id = Uuid::now_v7();
    store
        .register_deployment(
            &bootstrap.hash(),
            &NewDeployment {
                deployment_id: Uuid::now_v7(),
                root_public_key: vec![7; 32],
                ministry_team: ministry.clone(),
                admin_device_id: admin_id,
                admin_token: admin_token.hash(),
            },
        )
        .await
        .unwrap();
    let (clinic, shelter) = (team("Clinic"), team("Shelter"));
    let teams = [ministry.clone(), clinic.clone(), shelter.clone()];
    store.publish_directory(1, &directory(1), &teams).await.unwrap();
    let admin = Device { id: admin_id, team_id: ministry.id, admin: true, revoked: false };
    let clinic_device = enrol(store, &clinic, admin_id).await;
    let shelter_device = enrol(store, &shelter, admin_id).await;
    Fixture { ministry, clinic, shelter, admin, clinic_device, shelter_device }
}

async fn enrol(store: &Arc<dyn Store>, team: &Team, admin: Uuid) -> Device {
    let token = Token::generate();
    let invitation = invitation(team.id, false, admin, &token, in_days(7));
    store.create_invitation(&invitation).await.unwrap();
    let device_id = Uuid::now_v7();
    let device = store
        .redeem_invitation(&token.hash(), device_id, &Token::generate().hash(), &certificate(&invitation, device_id))
        .await
        .unwrap();
    Device { id: device.device_id, team_id: device.team_id, admin: device.admin, revoked: device.revoked }
}

fn invitation(team_id: Uuid, admin: bool, created_by: Uuid, token: &Token, expires_at_ms: u64) -> NewInvitation {
    NewInvitation { id: Uuid::now_v7(), team_id, admin, token: token.hash(), created_by, expires_at_ms }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn in_days(days: u64) -> u64 {
    now_ms() + days * 86_400_000
}

/// A certificate for `device_id` made with `invitation` (the store keeps it; the API verifies).
fn certificate(invitation: &NewInvitation, device_id: Uuid) -> DeviceCertificate {
    let root = SigningKey::generate(&mut OsRng);
    let signed = Invitation {
        deployment_id: Uuid::now_v7(),
        invitation_id: invitation.id,
        team_id: invitation.team_id,
        admin: invitation.admin,
        expires_ms: invitation.expires_at_ms,
    };
    certify(&root, &signed, device_id)
}

fn directory(version: u64) -> SignedDirectory {
    SignedDirectory { document: format!("{{\"version\":{version}}}"), signature: vec![1; 64] }
}

fn event(case: &Case, device: &Device, seq: u64) -> SealedEvent {
    case.seal_with_seq(device.id, seq, "note.added", "sealed text")
}

async fn ids(store: &Arc<dyn Store>, team: Uuid) -> Vec<Uuid> {
    store.pull_events(team, 0, 1000, u64::MAX).await.unwrap().events.iter().map(|e| e.id).collect()
}

/// Another program writing the feed as the server does, holding its transaction open: on
/// SQLite the write lock, on PostgreSQL the feed lock (`harbour_server::postgres::FEED_LOCK`).
enum OutsideWriter {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl OutsideWriter {
    async fn begin(spec: &str, event: &SealedEvent, owner: Uuid, reader: Uuid) -> OutsideWriter {
        let now = now_ms() as i64;
        if let Some(path) = spec.strip_prefix("sqlite:") {
            let connection = rusqlite::Connection::open(path).unwrap();
            connection.execute_batch("BEGIN IMMEDIATE").unwrap();
            connection
                .execute(
                    "INSERT INTO cases (case_id, owner_team_id, created_at_ms) VALUES (?1, ?2, ?3)",
                    rusqlite::params![event.case_id.as_bytes(), owner.as_bytes(), now],
                )
                .unwrap();
            connection
                .execute(
                    "INSERT INTO events (event_id, format, case_id, kind, device_id, device_seq, hlc_wall_ms,
                         hlc_counter, key_id, nonce, ciphertext, received_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    rusqlite::params![
                        event.id.as_bytes(),
                        event.format,
                        event.case_id.as_bytes(),
                        event.kind,
                        event.device_id.as_bytes(),
                        event.device_seq as i64,
                        event.hlc.wall_ms as i64,
                        event.hlc.counter,
                        event.key_id.as_bytes(),
                        event.nonce,
                        event.ciphertext,
                        now
                    ],
                )
                .unwrap();
            connection
                .execute(
                    "INSERT INTO feed (team_id, event_seq) VALUES (?1, last_insert_rowid())",
                    rusqlite::params![reader.as_bytes()],
                )
                .unwrap();
            OutsideWriter::Sqlite(connection)
        } else {
            let (client, connection) = tokio_postgres::connect(spec, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute("BEGIN").await.unwrap();
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&harbour_server::postgres::FEED_LOCK]).await.unwrap();
            client
                .execute(
                    "INSERT INTO cases (case_id, owner_team_id, created_at_ms) VALUES ($1, $2, $3)",
                    &[&event.case_id, &owner, &now],
                )
                .await
                .unwrap();
            let seq: i64 = client
                .query_one(
                    "INSERT INTO events (event_id, format, case_id, kind, device_id, device_seq, hlc_wall_ms,
                         hlc_counter, key_id, nonce, ciphertext, received_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq",
                    &[
                        &event.id,
                        &(event.format as i16),
                        &event.case_id,
                        &event.kind,
                        &event.device_id,
                        &(event.device_seq as i64),
                        &(event.hlc.wall_ms as i64),
                        &(event.hlc.counter as i64),
                        &event.key_id,
                        &event.nonce,
                        &event.ciphertext,
                        &now,
                    ],
                )
                .await
                .unwrap()
                .get(0);
            client.execute("INSERT INTO feed (team_id, event_seq) VALUES ($1, $2)", &[&reader, &seq]).await.unwrap();
            OutsideWriter::Postgres(client)
        }
    }

    async fn commit(self) {
        match self {
            OutsideWriter::Sqlite(connection) => connection.execute_batch("COMMIT").unwrap(),
            OutsideWriter::Postgres(client) => client.batch_execute("COMMIT").await.unwrap(),
        }
    }
}

mod checks {
    use super::*;

    pub async fn initialization_and_registration(store: Arc<dyn Store>, _spec: &str) {
        assert!(matches!(store.deployment().await, Err(StoreError::NotFound(Missing::Deployment))));
        let bootstrap = Token::generate();
        store.initialize(&bootstrap.hash()).await.unwrap();
        assert!(matches!(store.initialize(&Token::generate().hash()).await, Err(StoreError::AlreadyInitialized)));
        let admin_token = Token::generate();
        let deployment = NewDeployment {
            deployment_id: Uuid::now_v7(),
            root_public_key: vec![9; 32],
            ministry_team: team("Ministry"),
            admin_device_id: Uuid::now_v7(),
            admin_token: admin_token.hash(),
        };
        assert!(matches!(
            store.register_deployment(&Token::generate().hash(), &deployment).await,
            Err(StoreError::BootstrapRefused)
        ));
        store.register_deployment(&bootstrap.hash(), &deployment).await.unwrap();
        assert!(matches!(
            store.register_deployment(&bootstrap.hash(), &deployment).await,
            Err(StoreError::BootstrapRefused)
        ));
        assert!(matches!(store.initialize(&Token::generate().hash()).await, Err(StoreError::AlreadyInitialized)));
        let stored = store.deployment().await.unwrap();
        assert_eq!(stored.deployment_id, deployment.deployment_id);
        assert_eq!(stored.root_public_key, vec![9; 32]);
        assert_eq!(stored.ministry_team_id, deployment.ministry_team.id);
        match store.authenticate(&admin_token.hash()).await.unwrap() {
            Credential::Device(device) => {
                assert_eq!(device.id, deployment.admin_device_id);
                assert!(device.admin && !device.revoked);
                assert_eq!(device.team_id, deployment.ministry_team.id);
            }
            other => panic!("expected the admin device, got {other:?}"),
        }
        assert!(matches!(
            store.authenticate(&TokenHash::of("unknown")).await,
            Err(StoreError::NotFound(Missing::Token))
        ));
        store.ping().await.unwrap();
    }

    pub async fn directory_versions(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        assert_eq!(store.directory().await.unwrap(), directory(1));
        let teams = [fixture.ministry.clone()];
        assert!(matches!(
            store.publish_directory(1, &directory(1), &teams).await,
            Err(StoreError::StaleDirectory { offered: 1, current: 1 })
        ));
        let mut renamed = fixture.clinic.clone();
        renamed.name = "Clinic North".into();
        let newcomer = team("Embassy");
        store.publish_directory(2, &directory(2), &[renamed, newcomer.clone()]).await.unwrap();
        assert_eq!(store.directory().await.unwrap(), directory(2));
        // The new team can receive invitations at once.
        enrol(&store, &newcomer, fixture.admin.id).await;
    }

    pub async fn service_directory_versions(store: Arc<dyn Store>, _spec: &str) {
        registered(&store).await;
        assert_eq!(store.service_directory().await.unwrap(), None, "none before the first publication");
        let signed = |version: u64| SignedDocument {
            document: format!("{{\"version\":{version}}}"),
            signature: vec![version as u8; 64],
        };
        store.publish_service_directory(3, &signed(3)).await.unwrap();
        assert_eq!(store.service_directory().await.unwrap(), Some(signed(3)));
        for older in [3, 2] {
            assert!(matches!(
                store.publish_service_directory(older, &signed(older)).await,
                Err(StoreError::StaleServiceDirectory { offered, current: 3 }) if offered == older
            ));
        }
        assert_eq!(store.service_directory().await.unwrap(), Some(signed(3)), "a refusal changed nothing");
        store.publish_service_directory(4, &signed(4)).await.unwrap();
        assert_eq!(store.service_directory().await.unwrap(), Some(signed(4)));
        // The team directory is another document: its versions are its own.
        assert_eq!(store.directory().await.unwrap(), directory(1));
    }

    pub async fn invitations_are_redeemed_once(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let token = Token::generate();
        let expires_at_ms = in_days(3);
        let unknown_team = invitation(Uuid::now_v7(), false, fixture.admin.id, &token, expires_at_ms);
        assert!(matches!(store.create_invitation(&unknown_team).await, Err(StoreError::NotFound(Missing::Team))));
        let invitation = NewInvitation { team_id: fixture.ministry.id, admin: true, ..unknown_team };
        store.create_invitation(&invitation).await.unwrap();
        assert!(matches!(
            store.authenticate(&token.hash()).await.unwrap(),
            Credential::Invitation(pending)
                if pending.id == invitation.id && pending.admin && pending.expires_at_ms == expires_at_ms
        ));
        let found = store.invitation_by_token(&token.hash()).await.unwrap();
        assert_eq!(
            (found.invitation_id, found.status, found.expires_at_ms),
            (invitation.id, InvitationStatus::Pending, expires_at_ms)
        );
        assert_eq!(found.device_id, None);
        // A device id already enrolled is refused, and the invitation stays usable.
        let device_token = Token::generate();
        let taken = fixture.clinic_device.id;
        assert!(matches!(
            store.redeem_invitation(&token.hash(), taken, &device_token.hash(), &certificate(&invitation, taken)).await,
            Err(StoreError::DeviceAlreadyEnrolled(id)) if id == taken
        ));
        let device_id = Uuid::now_v7();
        let own = certificate(&invitation, device_id);
        let device = store.redeem_invitation(&token.hash(), device_id, &device_token.hash(), &own).await.unwrap();
        assert_eq!(
            (device.device_id, device.team_id, device.admin, device.revoked),
            (device_id, fixture.ministry.id, true, false)
        );
        assert_eq!(device.certificate.as_ref(), Some(&own));
        let again = Uuid::now_v7();
        assert!(matches!(
            store
                .redeem_invitation(&token.hash(), again, &Token::generate().hash(), &certificate(&invitation, again))
                .await,
            Err(StoreError::InvitationUsed)
        ));
        // The device has its own token; the invitation's authenticates nothing any more.
        assert_eq!(
            store.authenticate(&device_token.hash()).await.unwrap(),
            Credential::Device(Device { id: device_id, team_id: fixture.ministry.id, admin: true, revoked: false })
        );
        assert!(matches!(store.authenticate(&token.hash()).await, Err(StoreError::NotFound(Missing::Token))));
        let used = store.invitation_by_token(&token.hash()).await.unwrap();
        assert_eq!((used.status, used.device_id), (InvitationStatus::Redeemed, Some(device_id)));
        let nobody = Uuid::now_v7();
        assert!(matches!(
            store
                .redeem_invitation(
                    &TokenHash::of("nobody"),
                    nobody,
                    &Token::generate().hash(),
                    &certificate(&invitation, nobody)
                )
                .await,
            Err(StoreError::NotFound(Missing::Token))
        ));
        assert!(matches!(
            store.invitation_by_token(&TokenHash::of("nobody")).await,
            Err(StoreError::NotFound(Missing::Token))
        ));
    }

    pub async fn invitations_expire_and_can_be_cancelled(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let devices_before = store.list_devices().await.unwrap().len();
        let (late_token, cancelled_token, used_token) = (Token::generate(), Token::generate(), Token::generate());
        // Expired a second ago, by the server's clock.
        let late = invitation(fixture.clinic.id, false, fixture.admin.id, &late_token, now_ms() - 1000);
        let cancelled = invitation(fixture.clinic.id, false, fixture.admin.id, &cancelled_token, in_days(7));
        let used = invitation(fixture.shelter.id, false, fixture.admin.id, &used_token, in_days(1));
        for made in [&late, &cancelled, &used] {
            store.create_invitation(made).await.unwrap();
        }
        let redeem = async |token: &Token, made: &NewInvitation| {
            let device_id = Uuid::now_v7();
            store
                .redeem_invitation(&token.hash(), device_id, &Token::generate().hash(), &certificate(made, device_id))
                .await
        };
        assert!(matches!(store.authenticate(&late_token.hash()).await, Err(StoreError::NotFound(Missing::Token))));
        assert!(matches!(redeem(&late_token, &late).await, Err(StoreError::InvitationExpired)));

        store.cancel_invitation(cancelled.id).await.unwrap();
        store.cancel_invitation(cancelled.id).await.unwrap();
        assert!(matches!(store.authenticate(&cancelled_token.hash()).await, Err(StoreError::NotFound(Missing::Token))));
        assert!(matches!(redeem(&cancelled_token, &cancelled).await, Err(StoreError::InvitationCancelled)));
        // An expired invitation can be cancelled too (it stays refused).
        store.cancel_invitation(late.id).await.unwrap();

        let device = redeem(&used_token, &used).await.unwrap();
        assert!(matches!(store.cancel_invitation(used.id).await, Err(StoreError::InvitationUsed)));
        assert!(matches!(
            store.cancel_invitation(Uuid::now_v7()).await,
            Err(StoreError::NotFound(Missing::Invitation))
        ));
        assert_eq!(store.list_devices().await.unwrap().len(), devices_before + 1, "refusals made no device");

        let listed = store.list_invitations().await.unwrap();
        let status = |id: Uuid| listed.iter().find(|i| i.invitation_id == id).map(|i| (i.status, i.device_id));
        assert_eq!(status(late.id), Some((InvitationStatus::Cancelled, None)));
        assert_eq!(status(cancelled.id), Some((InvitationStatus::Cancelled, None)));
        assert_eq!(status(used.id), Some((InvitationStatus::Redeemed, Some(device.device_id))));
        let shown = listed.iter().find(|i| i.invitation_id == used.id).unwrap();
        assert_eq!((shown.team_id, shown.admin, shown.expires_at_ms), (fixture.shelter.id, false, used.expires_at_ms));
        assert!(shown.created_at_ms <= now_ms());
        // The fixture's two enrolments are there too, redeemed.
        assert_eq!(listed.len(), 5);
        assert_eq!(listed.iter().filter(|i| i.status == InvitationStatus::Redeemed).count(), 3);
        // Expired but never cancelled shows as expired.
        let stale_token = Token::generate();
        let stale = invitation(fixture.clinic.id, false, fixture.admin.id, &stale_token, now_ms() - 1);
        store.create_invitation(&stale).await.unwrap();
        assert_eq!(store.invitation_by_token(&stale_token.hash()).await.unwrap().status, InvitationStatus::Expired);
    }

    pub async fn certificates_are_kept(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let devices = store.list_devices().await.unwrap();
        let admin = devices.iter().find(|d| d.device_id == fixture.admin.id).unwrap();
        assert_eq!(admin.certificate, None, "the first administrator's laptop has no certificate at first");
        assert!(devices.iter().filter(|d| d.device_id != fixture.admin.id).all(|d| d.certificate.is_some()));
        let made = invitation(fixture.ministry.id, true, fixture.admin.id, &Token::generate(), in_days(1));
        let own = certificate(&made, fixture.admin.id);
        store.set_device_certificate(fixture.admin.id, &own).await.unwrap();
        store.set_device_certificate(fixture.admin.id, &own).await.unwrap();
        let other = certificate(&made, fixture.admin.id);
        assert!(matches!(
            store.set_device_certificate(fixture.admin.id, &other).await,
            Err(StoreError::CertificateAlreadyStored(id)) if id == fixture.admin.id
        ));
        assert!(matches!(
            store.set_device_certificate(Uuid::now_v7(), &own).await,
            Err(StoreError::NotFound(Missing::Device))
        ));
        let devices = store.list_devices().await.unwrap();
        let admin = devices.iter().find(|d| d.device_id == fixture.admin.id).unwrap();
        assert_eq!(admin.certificate.as_ref(), Some(&own));
    }

    pub async fn push_is_idempotent_and_all_or_nothing(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let device = &fixture.clinic_device;
        let case = Case::new();
        let batch: Vec<_> = (1..=3).map(|seq| event(&case, device, seq)).collect();
        let first = store.push_events(device, &batch).await.unwrap();
        assert!(first.iter().all(|pushed| !pushed.already_stored));
        assert!(first.windows(2).all(|pair| pair[0].seq < pair[1].seq), "sequence numbers rise");
        let replay = store.push_events(device, &batch).await.unwrap();
        assert!(replay.iter().all(|pushed| pushed.already_stored));
        assert_eq!(replay.iter().map(|p| p.seq).collect::<Vec<_>>(), first.iter().map(|p| p.seq).collect::<Vec<_>>());
        assert_eq!(store.event_count().await.unwrap(), 3);

        // A different event reusing (device, seq 2) spoils the whole batch.
        let fresh = event(&case, device, 4);
        let clash = event(&case, device, 2);
        assert!(matches!(store.push_events(device, &[fresh.clone(), clash]).await, Err(StoreError::Conflict(_))));
        // The same id with other content is refused too.
        let mut altered = batch[0].clone();
        altered.ciphertext[0] ^= 1;
        assert!(matches!(store.push_events(device, &[altered]).await, Err(StoreError::Conflict(_))));
        assert_eq!(store.event_count().await.unwrap(), 3, "nothing of a refused batch is stored");
        store.push_events(device, &[fresh]).await.unwrap();
        assert_eq!(store.event_count().await.unwrap(), 4);
    }

    pub async fn pushes_respect_case_visibility(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        store.push_events(&fixture.clinic_device, &[event(&case, &fixture.clinic_device, 1)]).await.unwrap();
        // The shelter cannot write to the clinic's case, and its batch leaves no trace.
        let own_case = Case::new();
        let refused = [event(&own_case, &fixture.shelter_device, 1), event(&case, &fixture.shelter_device, 2)];
        assert!(matches!(
            store.push_events(&fixture.shelter_device, &refused).await,
            Err(StoreError::CaseNotVisible(id)) if id == case.id
        ));
        assert!(ids(&store, fixture.shelter.id).await.is_empty());
        // The ministry can write to every case.
        store.push_events(&fixture.admin, &[event(&case, &fixture.admin, 1)]).await.unwrap();
        assert_eq!(ids(&store, fixture.clinic.id).await.len(), 2);
        assert_eq!(ids(&store, fixture.ministry.id).await.len(), 2);
    }

    pub async fn pull_pages_follow_the_team_feed(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let (clinic_case, shelter_case) = (Case::new(), Case::new());
        let clinic_events: Vec<_> = (1..=7).map(|seq| event(&clinic_case, &fixture.clinic_device, seq)).collect();
        let shelter_events: Vec<_> = (1..=2).map(|seq| event(&shelter_case, &fixture.shelter_device, seq)).collect();
        store.push_events(&fixture.clinic_device, &clinic_events[..4]).await.unwrap();
        store.push_events(&fixture.shelter_device, &shelter_events).await.unwrap();
        store.push_events(&fixture.clinic_device, &clinic_events[4..]).await.unwrap();

        let mut pulled = Vec::new();
        let mut cursor = 0;
        let mut pages = 0;
        loop {
            let page = store.pull_events(fixture.clinic.id, cursor, 3, u64::MAX).await.unwrap();
            assert!(page.events.len() <= 3);
            pages += 1;
            pulled.extend(page.events);
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(pulled, clinic_events, "the clinic gets its events, in order, and no others");
        let empty = store.pull_events(fixture.clinic.id, cursor, 3, u64::MAX).await.unwrap();
        assert!(empty.events.is_empty() && !empty.more && empty.next_cursor == cursor);
        assert_eq!(store.pull_events(fixture.shelter.id, 0, 100, u64::MAX).await.unwrap().events, shelter_events);
        assert_eq!(ids(&store, fixture.ministry.id).await.len(), 9, "the ministry sees every case");
    }

    /// A page stops before its ciphertext passes the byte budget, `more` stays true, and an
    /// event larger than the whole budget is still served, alone.
    pub async fn pull_pages_are_bounded_in_bytes(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        let sized = |seq: u64, plain: usize| {
            case.seal_with_seq(fixture.clinic_device.id, seq, "note.added", &"x".repeat(plain))
        };
        // Ciphertext is the plaintext plus a 16-byte tag: 1000, 1000, 5000, 1000 bytes.
        let events = vec![sized(1, 984), sized(2, 984), sized(3, 4984), sized(4, 984)];
        store.push_events(&fixture.clinic_device, &events).await.unwrap();
        let mut pages = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store.pull_events(fixture.clinic.id, cursor, 100, 2500).await.unwrap();
            pages.push(page.events.iter().map(|e| e.device_seq).collect::<Vec<_>>());
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        assert_eq!(pages, vec![vec![1, 2], vec![3], vec![4]]);
    }

    pub async fn grants_backfill_older_events(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        let older: Vec<_> = (1..=3).map(|seq| event(&case, &fixture.clinic_device, seq)).collect();
        store.push_events(&fixture.clinic_device, &older).await.unwrap();
        // The shelter has read part of its feed already: the grant must still reach it.
        let shelter_case = Case::new();
        store.push_events(&fixture.shelter_device, &[event(&shelter_case, &fixture.shelter_device, 1)]).await.unwrap();
        let cursor = store.pull_events(fixture.shelter.id, 0, 100, u64::MAX).await.unwrap().next_cursor;

        assert!(matches!(
            store.grant_case(fixture.shelter.id, case.id, fixture.shelter.id).await,
            Err(StoreError::CaseNotVisible(_))
        ));
        assert!(matches!(
            store.grant_case(fixture.clinic.id, Uuid::now_v7(), fixture.shelter.id).await,
            Err(StoreError::NotFound(Missing::Case))
        ));
        assert!(matches!(
            store.grant_case(fixture.clinic.id, case.id, Uuid::now_v7()).await,
            Err(StoreError::NotFound(Missing::Team))
        ));
        assert_eq!(store.grant_case(fixture.clinic.id, case.id, fixture.shelter.id).await.unwrap(), 3);
        assert_eq!(store.grant_case(fixture.clinic.id, case.id, fixture.shelter.id).await.unwrap(), 0);
        let newer = event(&case, &fixture.clinic_device, 4);
        store.push_events(&fixture.clinic_device, std::slice::from_ref(&newer)).await.unwrap();
        let page = store.pull_events(fixture.shelter.id, cursor, 100, u64::MAX).await.unwrap();
        let mut expected = older.clone();
        expected.push(newer);
        assert_eq!(page.events, expected);
        // Now the shelter may write to the case too; the ministry may grant any case.
        store.push_events(&fixture.shelter_device, &[event(&case, &fixture.shelter_device, 2)]).await.unwrap();
        let other = Case::new();
        store.push_events(&fixture.clinic_device, &[event(&other, &fixture.clinic_device, 5)]).await.unwrap();
        assert_eq!(store.grant_case(fixture.ministry.id, other.id, fixture.shelter.id).await.unwrap(), 1);
    }

    pub async fn devices_are_listed_and_revoked(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let devices = store.list_devices().await.unwrap();
        assert_eq!(devices.len(), 3);
        assert!(devices.iter().any(|d| d.device_id == fixture.admin.id && d.admin));
        store.revoke_device(fixture.clinic_device.id).await.unwrap();
        store.revoke_device(fixture.clinic_device.id).await.unwrap();
        assert!(matches!(store.revoke_device(Uuid::now_v7()).await, Err(StoreError::NotFound(Missing::Device))));
        let devices = store.list_devices().await.unwrap();
        let clinic = devices.iter().find(|d| d.device_id == fixture.clinic_device.id).unwrap();
        assert!(clinic.revoked);
        assert_eq!(devices.iter().filter(|d| d.revoked).count(), 1);
    }

    pub async fn wipe_orders_wait_until_reported(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let laptop = fixture.clinic_device.id;
        assert_eq!(store.pending_wipe(laptop).await.unwrap(), None);
        let order = |order_id: Uuid, send_first: bool| NewWipeOrder {
            device_id: laptop,
            order_id,
            send_first,
            signed_order: format!("{{\"order\":\"{order_id}\"}}"),
        };
        let unknown = NewWipeOrder { device_id: Uuid::now_v7(), ..order(Uuid::now_v7(), false) };
        assert!(matches!(store.order_wipe(&unknown).await, Err(StoreError::NotFound(Missing::Device))));
        // A newer order replaces one not carried out.
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        store.order_wipe(&order(first, false)).await.unwrap();
        store.order_wipe(&order(second, true)).await.unwrap();
        let pending = store.pending_wipe(laptop).await.unwrap().unwrap();
        assert_eq!((pending.order_id, pending.send_first), (second, true));
        assert_eq!(pending.signed_order, order(second, true).signed_order);
        let listed = store.list_devices().await.unwrap();
        let status = listed.iter().find(|d| d.device_id == laptop).unwrap().wipe.clone().unwrap();
        assert_eq!((status.order_id, status.done_at_ms), (second, None));
        assert!(listed.iter().filter(|d| d.device_id != laptop).all(|d| d.wipe.is_none()));
        // The report of a replaced order is not this one's.
        let done = |order_id| WipeDone {
            device_id: laptop,
            order_id,
            sent_first: 4,
            destroyed_unsent: 1,
            report: "{}".into(),
        };
        assert!(matches!(store.wipe_done(&done(first)).await, Err(StoreError::NotFound(Missing::WipeOrder))));
        store.wipe_done(&done(second)).await.unwrap();
        store.wipe_done(&done(second)).await.unwrap();
        assert_eq!(store.pending_wipe(laptop).await.unwrap(), None);
        let listed = store.list_devices().await.unwrap();
        let device = listed.iter().find(|d| d.device_id == laptop).unwrap();
        assert!(device.revoked, "a wiped laptop is revoked");
        let status = device.wipe.clone().unwrap();
        assert!(status.done_at_ms.is_some());
        assert_eq!((status.sent_first, status.destroyed_unsent), (Some(4), Some(1)));
        // A wiped laptop cannot be ordered wiped again.
        assert!(matches!(store.order_wipe(&order(Uuid::now_v7(), false)).await, Err(StoreError::Conflict(_))));
    }

    pub async fn data_survives_reopening(store: Arc<dyn Store>, spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        let events: Vec<_> = (1..=2).map(|seq| event(&case, &fixture.clinic_device, seq)).collect();
        store.push_events(&fixture.clinic_device, &events).await.unwrap();
        drop(store);
        // Reopening runs the migrations again: they must be no-ops.
        let reopened = harbour_server::store::open(spec).await.unwrap();
        assert_eq!(reopened.pull_events(fixture.clinic.id, 0, 10, u64::MAX).await.unwrap().events, events);
        assert_eq!(reopened.event_count().await.unwrap(), 2);
        assert_eq!(reopened.directory().await.unwrap(), directory(1));
    }
    /// Laptops push at once while others pull as they go: every pull sequence, read page by
    /// page during the pushes, is the team's whole feed in order, nothing skipped or repeated
    /// (a position that commits after a later one was read would be skipped for ever).
    pub async fn concurrent_pushes_and_pulls_skip_nothing(store: Arc<dyn Store>, _spec: &str) {
        const LAPTOPS: usize = 6;
        const BATCHES: u64 = 12;
        let fixture = registered(&store).await;
        let mut laptops = vec![fixture.clinic_device.clone(), fixture.shelter_device.clone()];
        for index in 2..LAPTOPS {
            let team = if index % 2 == 0 { &fixture.clinic } else { &fixture.shelter };
            laptops.push(enrol(&store, team, fixture.admin.id).await);
        }
        let pushing = Arc::new(AtomicUsize::new(LAPTOPS));
        let pushers: Vec<_> = laptops
            .into_iter()
            .map(|device| {
                let (store, pushing) = (store.clone(), pushing.clone());
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    for batch in 0..BATCHES {
                        let case = Case::new();
                        let events: Vec<_> = (1..=3).map(|n| event(&case, &device, batch * 3 + n)).collect();
                        let pushed = store.push_events(&device, &events).await.unwrap();
                        acknowledged.extend(pushed.iter().map(|pushed| pushed.id));
                    }
                    pushing.fetch_sub(1, Ordering::SeqCst);
                    (device.team_id, acknowledged)
                })
            })
            .collect();
        let pullers: Vec<_> = [fixture.clinic.id, fixture.clinic.id, fixture.shelter.id, fixture.ministry.id]
            .into_iter()
            .map(|team| {
                let (store, pushing) = (store.clone(), pushing.clone());
                tokio::spawn(async move {
                    let (mut seen, mut cursor) = (Vec::new(), 0);
                    loop {
                        // Read before the pull: a pull that starts after the last push sees all.
                        let finished = pushing.load(Ordering::SeqCst) == 0;
                        let page = store.pull_events(team, cursor, 5, u64::MAX).await.unwrap();
                        seen.extend(page.events.iter().map(|event| event.id));
                        cursor = page.next_cursor;
                        if finished && !page.more {
                            return (team, seen);
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let mut acknowledged: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
        for pusher in pushers {
            let (team, ids) = pusher.await.unwrap();
            acknowledged.entry(team).or_default().extend(ids);
        }
        for puller in pullers {
            let (team, seen) = puller.await.unwrap();
            let whole = ids(&store, team).await;
            assert_eq!(seen, whole, "pulled during the pushes, a page skipped or repeated an event");
            let expected: HashSet<Uuid> = if team == fixture.ministry.id {
                acknowledged.values().flatten().copied().collect()
            } else {
                acknowledged[&team].clone()
            };
            assert_eq!(whole.iter().copied().collect::<HashSet<_>>(), expected, "the feed holds what was acknowledged");
            assert_eq!(whole.len(), expected.len());
        }
    }

    /// Pushes at once, some of them refused: each is answered on its own, and a refused one
    /// leaves no trace and spoils none of the others (pushes may share one transaction).
    pub async fn a_refused_push_spoils_no_concurrent_push(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let (clinic, shelter) = (&fixture.clinic_device, &fixture.shelter_device);
        let clinic_case = Case::new();
        let first = event(&clinic_case, clinic, 1);
        store.push_events(clinic, std::slice::from_ref(&first)).await.unwrap();
        let mut altered = first.clone();
        altered.ciphertext[0] ^= 1;
        let shelter_case = Case::new();
        let batches: Vec<(&Device, Vec<SealedEvent>, &str)> = (0..4u64)
            .flat_map(|round| {
                let own = Case::new();
                [
                    (clinic, vec![event(&own, clinic, 10 + round * 2), event(&own, clinic, 11 + round * 2)], "stored"),
                    (shelter, vec![event(&clinic_case, shelter, 100 + round)], "not visible"),
                    (clinic, vec![event(&own, clinic, 1)], "sequence used"),
                    (shelter, vec![event(&shelter_case, shelter, 1 + round)], "stored"),
                    (clinic, vec![altered.clone()], "altered"),
                ]
            })
            .collect();
        let answers =
            futures_util::future::join_all(batches.iter().map(|(device, events, _)| store.push_events(device, events)))
                .await;
        let mut stored = 1;
        for ((_, events, expected), answer) in batches.iter().zip(answers) {
            match (*expected, answer) {
                ("stored", Ok(pushed)) => {
                    assert!(pushed.iter().all(|pushed| !pushed.already_stored));
                    stored += events.len() as u64;
                }
                ("not visible", Err(StoreError::CaseNotVisible(id))) => assert_eq!(id, clinic_case.id),
                ("sequence used" | "altered", Err(StoreError::Conflict(_))) => {}
                (expected, answer) => panic!("expected {expected}, got {answer:?}"),
            }
        }
        assert_eq!(store.event_count().await.unwrap(), stored, "refused pushes left nothing");
        assert_eq!(ids(&store, fixture.shelter.id).await.len(), 4, "the shelter's own events only");
    }

    /// The same push sent several times at once (a laptop retrying while its first try is still
    /// in flight) is stored once; two teams creating the same case at once: one owns it.
    pub async fn racing_pushes_of_the_same_rows(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let (clinic, shelter) = (&fixture.clinic_device, &fixture.shelter_device);
        for round in 0..5u64 {
            let case = Case::new();
            let batch: Vec<_> = (1..=3).map(|n| event(&case, clinic, round * 3 + n)).collect();
            let answers = futures_util::future::join_all((0..4).map(|_| store.push_events(clinic, &batch))).await;
            let answers: Vec<_> = answers.into_iter().map(|answer| answer.unwrap()).collect();
            for (index, event) in batch.iter().enumerate() {
                let fresh = answers.iter().filter(|pushed| !pushed[index].already_stored).count();
                assert_eq!(fresh, 1, "exactly one try stored event {}", event.id);
                assert!(
                    answers
                        .iter()
                        .all(|pushed| pushed[index].id == event.id && pushed[index].seq == answers[0][index].seq)
                );
            }

            let contested = Case::new();
            let (by_clinic, by_shelter) = futures_util::future::join(
                store.push_events(clinic, &[event(&contested, clinic, 100 + round)]),
                store.push_events(shelter, &[event(&contested, shelter, 100 + round)]),
            )
            .await;
            match (by_clinic, by_shelter) {
                (Ok(_), Err(StoreError::CaseNotVisible(id))) | (Err(StoreError::CaseNotVisible(id)), Ok(_)) => {
                    assert_eq!(id, contested.id)
                }
                other => panic!("one team must own the contested case: {other:?}"),
            }
        }
        assert_eq!(store.event_count().await.unwrap(), 5 * 3 + 5);
    }

    /// The attack on the feed's order: another writer has taken a feed position and not
    /// committed yet. A push meanwhile must wait for it (on PostgreSQL for the feed lock, on
    /// SQLite for the write lock), so that no later position can be read before the writer's
    /// commits; a pull meanwhile sees neither, and afterwards both, the writer's first.
    pub async fn a_push_waits_for_a_feed_writer_in_flight(store: Arc<dyn Store>, spec: &str) {
        let fixture = registered(&store).await;
        let before = event(&Case::new(), &fixture.clinic_device, 1);
        store.push_events(&fixture.clinic_device, &[before]).await.unwrap();
        let cursor = store.pull_events(fixture.ministry.id, 0, 100, u64::MAX).await.unwrap().next_cursor;

        let outside = Case::new();
        let written = event(&outside, &fixture.shelter_device, 1);
        let writer = OutsideWriter::begin(spec, &written, fixture.shelter.id, fixture.ministry.id).await;
        let push = {
            let (store, device) = (store.clone(), fixture.clinic_device.clone());
            let pushed = event(&Case::new(), &device, 2);
            tokio::spawn(async move { store.push_events(&device, std::slice::from_ref(&pushed)).await.map(|_| pushed) })
        };
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert!(!push.is_finished(), "a push committed while another feed writer was in flight");
        let page = store.pull_events(fixture.ministry.id, cursor, 100, u64::MAX).await.unwrap();
        assert!(page.events.is_empty(), "a pull saw a position of a writer in flight");

        writer.commit().await;
        let pushed = tokio::time::timeout(std::time::Duration::from_secs(10), push).await.unwrap().unwrap().unwrap();
        let page = store.pull_events(fixture.ministry.id, cursor, 100, u64::MAX).await.unwrap();
        assert_eq!(page.events, vec![written, pushed], "the writer's position first, then the push's");
    }
}
